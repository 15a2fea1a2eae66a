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
	AppName  string      // APP-NAME, at most 48 printable characters ("vigil" when empty)
	Hostname string      // HOSTNAME, at most 255 printable characters ("-" when empty)
	Facility int         // 0-23
	Severity int         // 0-7
	Timeout  time.Duration
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
	return &syslogTransport{
		o:    o,
		pri:  fmt.Sprintf("<%d>1 ", o.Facility*8+o.Severity),
		rest: fmt.Sprintf(" %s %s %d - - ", o.Hostname, o.AppName, os.Getpid()),
	}, nil
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

// Send writes the batch, then waits until the receiver's TCP stack has
// acknowledged all of it on a connection it has not reset: only then are the
// records taken. Syslog has no acknowledgement of its own.
func (t *syslogTransport) Send(ctx context.Context, recs []Record) (int, error) {
	if err := t.connect(ctx); err != nil {
		return 0, err
	}
	t.buf = t.buf[:0]
	for _, r := range recs {
		t.buf = t.frame(t.buf, r)
	}
	t.conn.SetWriteDeadline(time.Now().Add(t.o.Timeout))
	if _, err := t.conn.Write(t.buf); err != nil {
		t.disconnect()
		return 0, err
	}
	if err := t.confirm(ctx); err != nil {
		t.disconnect()
		return 0, err
	}
	return len(recs), nil
}

// frame appends "LEN SP MSG" to b.
func (t *syslogTransport) frame(b []byte, r Record) []byte {
	const stamp = "2006-01-02T15:04:05.000000Z07:00" // at most 6 fractional digits (RFC5424)
	var msg [400]byte
	m := append(msg[:0], t.pri...)
	m = r.Time.UTC().AppendFormat(m, stamp)
	m = append(m, t.rest...)
	b = strconv.AppendInt(b, int64(len(m)+len(r.JSON)), 10)
	b = append(b, ' ')
	b = append(b, m...)
	return append(b, r.JSON...)
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

// confirm waits until the receiver's TCP stack has acknowledged every byte.
// The connection must still be open, or closed by the receiver with a FIN
// (it had read everything, or it would have reset the connection).
func (t *syslogTransport) confirm(ctx context.Context) error {
	end := time.Now().Add(t.o.Timeout)
	wait := 50 * time.Microsecond
	for {
		st, err := tcpState(t.raw)
		switch {
		case err != nil:
			return err
		case st.State != unix.BPF_TCP_ESTABLISHED && st.State != unix.BPF_TCP_CLOSE_WAIT:
			return errReset
		case st.Unacked == 0 && st.Notsent_bytes == 0:
			return nil
		case time.Now().After(end):
			return fmt.Errorf("receiver did not acknowledge the data in %v", t.o.Timeout)
		case ctx.Err() != nil:
			return ctx.Err()
		}
		time.Sleep(wait)
		wait = min(2*wait, 5*time.Millisecond)
	}
}

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
