package sink

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// relpTransport sends RFC5424 messages over RELP, rsyslog's Reliable Event
// Logging Protocol (librelp's doc/relp.html): each message is a "syslog"
// command with a transaction number, and the receiver answers each one with
// "rsp 200 OK" once it has taken it. A receiver that stops loses only what
// it had not answered for, and that is sent again: every record arrives at
// least once.
//
// A frame is "TXNR SP COMMAND SP DATALEN [SP DATA] LF". The session starts
// with "open" (the offers relp_version=0 and commands=syslog) and ends with
// "close"; the receiver may end it with "serverclose".
//
// Why not a library: the Go module proxy serves no maintained RELP client
// (the few on GitHub are abandoned ports of librelp), and the client side
// is small: the frames above, and matching answers to transaction numbers.
type relpTransport struct {
	msg  *syslogTransport // makes the messages, and holds the options
	conn net.Conn
	rd   *bufio.Reader
	txnr int // of the last command sent
	buf  []byte
}

// Bounds of RELP answers and transaction numbers.
const (
	relpMaxData = 64 << 10
	relpMaxTxnr = 999_999_999
	relpOffers  = "relp_version=0\nrelp_software=vigil\ncommands=syslog"
)

var errServerClose = errors.New("RELP receiver closed the session (serverclose)")

func (t *relpTransport) String() string { return "syslog+relp://" + t.msg.o.Addr }

// Send sends every record as a "syslog" command, while reading the answers
// as they come: a record is taken when its answer is "200". Each answer
// moves the deadline.
func (t *relpTransport) Send(ctx context.Context, recs []Record) (int, error) {
	if err := t.connect(ctx); err != nil {
		return 0, err
	}
	first := t.next(t.txnr)
	t.buf = t.buf[:0]
	var hdr [400]byte
	for _, r := range recs {
		t.buf = t.command(t.buf, "syslog", t.msg.header(hdr[:0], r), r.JSON)
	}
	written := make(chan error, 1)
	go func(conn net.Conn, b []byte) {
		_, err := conn.Write(b)
		written <- err
		close(written)
	}(t.conn, t.buf)
	stop := context.AfterFunc(ctx, func() { t.conn.SetReadDeadline(time.Now()) })
	n, err := t.answers(first, len(recs))
	stop()
	if err != nil {
		t.disconnect()
		if ctx.Err() != nil {
			err = ctx.Err()
		}
	}
	for range written { // the write ends with the connection
	}
	return n, err
}

// answers reads the answers to n commands from txnr first on, and returns
// how many were "200" before the first other answer or error.
func (t *relpTransport) answers(first, n int) (int, error) {
	want := first
	for i := 0; i < n; i++ {
		t.conn.SetReadDeadline(time.Now().Add(t.msg.o.Timeout))
		if err := t.answer(want); err != nil {
			return i, err
		}
		want = t.next(want)
	}
	return n, nil
}

// answer reads the answer to transaction txnr.
func (t *relpTransport) answer(txnr int) error {
	got, cmd, data, err := t.readFrame()
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("%w for %v: no RELP answer to transaction %d", ErrStalled, t.msg.o.Timeout, txnr)
	case err != nil:
		return err
	case cmd == "serverclose":
		return errServerClose
	case cmd != "rsp" || got != txnr:
		return fmt.Errorf("RELP: got %q for transaction %d, want rsp for %d", cmd, got, txnr)
	case !bytes.HasPrefix(data, []byte("200")):
		return fmt.Errorf("RELP receiver refused transaction %d: %q", txnr, firstLine(data))
	}
	return nil
}

// connect reuses the session, or opens one.
func (t *relpTransport) connect(ctx context.Context) error {
	if t.conn != nil {
		return nil
	}
	d := net.Dialer{Timeout: t.msg.o.Timeout, KeepAlive: 30 * time.Second}
	c, err := d.DialContext(ctx, "tcp", t.msg.o.Addr)
	if err != nil {
		return err
	}
	t.conn, t.rd, t.txnr = c, bufio.NewReader(c), 0
	c.SetDeadline(time.Now().Add(t.msg.o.Timeout))
	open := t.command(nil, "open", []byte(relpOffers))
	if _, err = c.Write(open); err == nil {
		err = t.answer(t.txnr)
	}
	if err != nil {
		t.disconnect()
		return fmt.Errorf("RELP open: %w", err)
	}
	c.SetDeadline(time.Time{})
	return nil
}

// command appends the next command, with data.
func (t *relpTransport) command(b []byte, cmd string, data ...[]byte) []byte {
	t.txnr = t.next(t.txnr)
	n := 0
	for _, d := range data {
		n += len(d)
	}
	b = strconv.AppendInt(b, int64(t.txnr), 10)
	b = append(b, ' ')
	b = append(b, cmd...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(n), 10)
	if n > 0 {
		b = append(b, ' ')
	}
	for _, d := range data {
		b = append(b, d...)
	}
	return append(b, '\n')
}

// next is the transaction number after txnr: 1 to 999999999, then 1 again.
func (t *relpTransport) next(txnr int) int {
	if txnr >= relpMaxTxnr {
		return 1
	}
	return txnr + 1
}

// readFrame reads one frame from the receiver.
func (t *relpTransport) readFrame() (txnr int, cmd string, data []byte, err error) {
	txnr, err = t.readNumber(' ')
	if err != nil {
		return 0, "", nil, err
	}
	c, err := t.readToken(' ', 32)
	if err != nil {
		return 0, "", nil, err
	}
	n, err := t.readDataLen()
	if err != nil || n == 0 {
		return txnr, c, nil, err
	}
	data = make([]byte, n+1) // DATA LF
	if _, err := io.ReadFull(t.rd, data); err != nil {
		return 0, "", nil, err
	}
	if data[n] != '\n' {
		return 0, "", nil, errors.New("RELP: frame without its trailing LF")
	}
	return txnr, c, data[:n], nil
}

// readDataLen reads DATALEN and what ends it: SP before DATA, or the LF of
// a frame without data.
func (t *relpTransport) readDataLen() (int, error) {
	tok, err := t.readToken(0, 10)
	if err != nil {
		return 0, err
	}
	end := tok[len(tok)-1]
	n, err := strconv.Atoi(tok[:len(tok)-1])
	switch {
	case err != nil || n < 0 || n > relpMaxData:
		return 0, fmt.Errorf("RELP: DATALEN %q: want 0 to %d", tok[:len(tok)-1], relpMaxData)
	case end == '\n' && n == 0, end == ' ' && n > 0:
		return n, nil
	}
	return 0, fmt.Errorf("RELP: DATALEN %d ends with %q", n, end)
}

func (t *relpTransport) readNumber(sep byte) (int, error) {
	tok, err := t.readToken(sep, 10)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(tok)
	if err != nil || n < 0 || n > relpMaxTxnr {
		return 0, fmt.Errorf("RELP: transaction number %q: want 0 to %d", tok, relpMaxTxnr)
	}
	return n, nil
}

// readToken reads up to sep (not returned) and at most max bytes; with sep
// 0, up to SP or LF, returned.
func (t *relpTransport) readToken(sep byte, max int) (string, error) {
	var b []byte
	for len(b) <= max {
		c, err := t.rd.ReadByte()
		if err != nil {
			return "", err
		}
		switch {
		case sep != 0 && c == sep:
			return string(b), nil
		case sep == 0 && (c == ' ' || c == '\n'):
			return string(append(b, c)), nil
		}
		b = append(b, c)
	}
	return "", fmt.Errorf("RELP: frame field %q... longer than %d bytes", b, max)
}

func firstLine(b []byte) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i]
	}
	return b
}

func (t *relpTransport) disconnect() {
	if t.conn != nil {
		t.conn.Close()
		t.conn, t.rd = nil, nil
	}
}

// Close ends the session with "close" (its answer is not waited for).
func (t *relpTransport) Close() error {
	if t.conn != nil {
		t.conn.SetWriteDeadline(time.Now().Add(time.Second))
		t.conn.Write(t.command(nil, "close"))
	}
	t.disconnect()
	return nil
}
