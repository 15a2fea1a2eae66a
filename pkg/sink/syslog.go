package sink

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// SyslogOptions configure a syslog transport.
type SyslogOptions struct {
	Addr     string      // host:port
	TLS      *tls.Config // RFC5425 when set, plain TCP otherwise
	RELP     bool        // RELP (plain TCP): the receiver acknowledges each message
	AppName  string      // APP-NAME, at most 48 printable characters ("vigil" when empty)
	Hostname string      // HOSTNAME, at most 255 printable characters ("-" when empty)
	Facility int         // 0-23
	Severity int         // 0-7
	// Timeout bounds a connection attempt, and a delivery during which
	// the receiver acknowledges nothing more (10 s when 0).
	Timeout time.Duration
}

// syslogTransport writes RFC5424 messages with octet-counted framing
// (RFC5425 over TLS, RFC6587 over TCP): "LEN SP MSG".
type syslogTransport struct {
	o    SyslogOptions
	pri  string // "<PRI>1 ", then the time, then rest
	rest string // " HOSTNAME APP-NAME PROCID - - ", then MSG
	raw  *net.TCPConn
	conn net.Conn // raw, or TLS over it
	buf  []byte
	ends []int // where each record of buf ends
}

// NewSyslog returns a syslog transport.
func NewSyslog(o SyslogOptions) (Transport, error) {
	if o.AppName == "" {
		o.AppName = "vigil"
	}
	if o.Hostname == "" {
		o.Hostname = "-"
	}
	if err := checkHeaderField("app", o.AppName, 48); err != nil {
		return nil, err
	}
	if err := checkHeaderField("hostname", o.Hostname, 255); err != nil {
		return nil, err
	}
	if o.Facility < 0 || o.Facility > 23 || o.Severity < 0 || o.Severity > 7 {
		return nil, fmt.Errorf("sink: syslog facility %d or severity %d out of range", o.Facility, o.Severity)
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	// PRI VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD SP MSG
	t := &syslogTransport{
		o:    o,
		pri:  fmt.Sprintf("<%d>1 ", o.Facility*8+o.Severity),
		rest: fmt.Sprintf(" %s %s %d - - ", o.Hostname, o.AppName, os.Getpid()),
	}
	if o.RELP {
		return &relpTransport{msg: t}, nil
	}
	return t, nil
}

// checkHeaderField: RFC5424 header fields are printable US-ASCII.
func checkHeaderField(name, v string, maxLen int) error {
	if len(v) > maxLen {
		return fmt.Errorf("sink: syslog %s %q longer than %d characters", name, v, maxLen)
	}
	for _, c := range []byte(v) {
		if c < 33 || c > 126 {
			return fmt.Errorf("sink: syslog %s %q: only printable ASCII without spaces", name, v)
		}
	}
	return nil
}

func (t *syslogTransport) String() string {
	if t.o.TLS != nil {
		return "syslog+tls://" + t.o.Addr
	}
	return "syslog+tcp://" + t.o.Addr
}

// Send writes the batch and waits until the receiver's TCP stack has
// acknowledged it on a connection it has not reset. Syslog has no
// acknowledgement of its own: the TCP acknowledgements are the progress,
// and each one moves the deadline. When the receiver stalls, or closes the
// connection, the records whose bytes it acknowledged are taken, and the
// others are sent again on a new connection (the record it was in the
// middle of may arrive twice).
func (t *syslogTransport) Send(ctx context.Context, recs []Record) (int, error) {
	if err := t.connect(ctx); err != nil {
		return 0, err
	}
	t.buf, t.ends = t.buf[:0], t.ends[:0]
	for _, r := range recs {
		t.buf = t.frame(t.buf, r)
		t.ends = append(t.ends, len(t.buf))
	}
	st, err := tcpState(t.raw)
	if err != nil {
		t.disconnect()
		return 0, err
	}
	base := st.Bytes_acked
	written := make(chan error, 1)
	t.conn.SetWriteDeadline(time.Time{}) // the watch below is the deadline
	go func(conn net.Conn, b []byte) {
		_, err := conn.Write(b)
		written <- err
		close(written)
	}(t.conn, t.buf)
	acked, err := t.watch(ctx, base, written)
	if err == nil {
		return len(recs), nil
	}
	t.disconnect()
	for range written { // the write ends with the connection
	}
	return t.taken(acked), err
}

// taken is the number of records whose bytes are all within the first
// acked bytes on the wire. Over TLS, the wire also carries record headers
// and tags: at most tlsOverhead bytes per TLS record, and Go's TLS puts at
// least tlsMinRecord bytes of data in each record of a Write but the last;
// and the last TLS record may be cut, so not readable: up to tlsMaxRecord
// bytes less.
func (t *syslogTransport) taken(acked uint64) int {
	data := int64(acked)
	if t.o.TLS != nil {
		data -= tlsOverhead*(data/tlsMinRecord+1) + tlsMaxRecord
	}
	n := 0
	for n < len(t.ends) && int64(t.ends[n]) <= data {
		n++
	}
	return n
}

// frame appends "LEN SP MSG" to b.
func (t *syslogTransport) frame(b []byte, r Record) []byte {
	var msg [400]byte
	m := t.header(msg[:0], r)
	b = strconv.AppendInt(b, int64(len(m)+len(r.JSON)), 10)
	b = append(b, ' ')
	b = append(b, m...)
	return append(b, r.JSON...)
}

// header appends the RFC5424 header of r to b: all of its message but the
// JSON.
func (t *syslogTransport) header(b []byte, r Record) []byte {
	const stamp = "2006-01-02T15:04:05.000000Z07:00" // at most 6 fractional digits (RFC5424)
	b = append(b, t.pri...)
	b = r.Time.UTC().AppendFormat(b, stamp)
	return append(b, t.rest...)
}

// Bounds of TLS framing for taken: the overhead is 29 bytes in TLS 1.2
// with AES-GCM, 22 in TLS 1.3; Go's smallest full record holds about 1.2
// KB, its largest 16 KB.
const (
	tlsOverhead  = 64
	tlsMinRecord = 1024
	tlsMaxRecord = 16<<10 + tlsOverhead
)

// watch waits until the write is done and the receiver's TCP stack has
// acknowledged every byte, and returns the bytes acknowledged since base.
// The deadline is Timeout after the last byte acknowledged, or after the
// last moment the connection had nothing to send. The connection
// must stay open, or be closed by the receiver with a FIN (it had read
// everything, or it would have reset the connection).
func (t *syslogTransport) watch(ctx context.Context, base uint64, written <-chan error) (uint64, error) {
	var acked uint64
	end := time.Now().Add(t.o.Timeout)
	wait := 50 * time.Microsecond
	done := false
	for {
		st, err := tcpState(t.raw)
		if err != nil {
			return acked, err
		}
		if a := st.Bytes_acked - base; a > acked {
			acked, end, wait = a, time.Now().Add(t.o.Timeout), 50*time.Microsecond
		} else if !done && st.Unacked == 0 && st.Notsent_bytes == 0 {
			end = time.Now().Add(t.o.Timeout) // the write is late, not the receiver
		}
		select {
		case err, ok := <-written:
			if ok && err != nil {
				return acked, err
			}
			done = true
		default:
		}
		switch {
		case st.State != unix.BPF_TCP_ESTABLISHED && st.State != unix.BPF_TCP_CLOSE_WAIT:
			return acked, errReset
		case done && st.Unacked == 0 && st.Notsent_bytes == 0:
			return acked, nil
		case time.Now().After(end):
			return acked, fmt.Errorf("%w for %v (%d bytes of %d acknowledged)", ErrStalled, t.o.Timeout, acked, len(t.buf))
		case ctx.Err() != nil:
			return acked, ctx.Err()
		}
		time.Sleep(wait)
		wait = min(2*wait, 5*time.Millisecond)
	}
}

// connect reuses the connection while the receiver keeps it open, or dials.
func (t *syslogTransport) connect(ctx context.Context) error {
	if t.conn != nil {
		if st, err := tcpState(t.raw); err == nil && st.State == unix.BPF_TCP_ESTABLISHED {
			return nil
		}
		t.disconnect()
	}
	d := net.Dialer{Timeout: t.o.Timeout, KeepAlive: 30 * time.Second}
	c, err := d.DialContext(ctx, "tcp", t.o.Addr)
	if err != nil {
		return err
	}
	t.raw = c.(*net.TCPConn)
	t.conn = c
	if t.o.TLS != nil {
		tc := tls.Client(c, t.o.TLS)
		hctx, cancel := context.WithTimeout(ctx, t.o.Timeout)
		defer cancel()
		if err := tc.HandshakeContext(hctx); err != nil {
			c.Close()
			t.conn = nil
			return err
		}
		t.conn = tc
	}
	// The receiver sends nothing but TLS session tickets and alerts: read
	// them, so that closing never finds unread data (which would reset the
	// connection instead of closing it).
	go io.Copy(io.Discard, t.conn)
	return nil
}

func (t *syslogTransport) disconnect() {
	if t.conn != nil {
		t.conn.Close()
		t.conn, t.raw = nil, nil
	}
}

// errReset is a connection the receiver closed or reset before it took all
// that was written.
var errReset = errors.New("connection closed by the receiver before it acknowledged the data")

// tcpState reads the kernel's TCP_INFO of a connection.
func tcpState(c *net.TCPConn) (*unix.TCPInfo, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	var info *unix.TCPInfo
	var ierr error
	err = rc.Control(func(fd uintptr) {
		info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	})
	if err == nil {
		err = ierr
	}
	return info, err
}

func (t *syslogTransport) Close() error {
	t.disconnect()
	return nil
}
