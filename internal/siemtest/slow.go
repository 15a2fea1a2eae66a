package siemtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Slow is a syslog receiver (RFC5424, octet-counted, plain TCP) on loopback
// that reads at most Chunk bytes per Tick, with a small receive buffer, so
// that TCP acknowledges only as fast as it reads; Pause stops its reading.
type Slow struct {
	Addr  string
	Chunk int
	Tick  time.Duration

	mu     sync.Mutex
	events []Received
	read   int64
	paused bool
	l      net.Listener
}

// The receive buffer (the kernel doubles it) and MSS of Slow's connections.
const (
	rcvBuf = 4096
	mss    = 1400
)

// StartSlow starts a Slow receiver, stopped when the test ends.
func StartSlow(t testing.TB, chunk int, tick time.Duration) *Slow {
	t.Helper()
	l := SmallWindowListener(t)
	s := &Slow{Addr: l.Addr().String(), Chunk: chunk, Tick: tick, l: l}
	go s.accept()
	return s
}

// SmallWindowListener listens on loopback with a small receive buffer, so
// that TCP acknowledges a connection's bytes only about as fast as they are
// read, and an Ethernet-sized MSS: with loopback's 64 KB MSS, a receive
// window smaller than one segment is not announced as it opens, and the
// sender finds out with zero-window probes backing off to seconds. It is
// closed when the test ends.
func SmallWindowListener(t testing.TB) net.Listener {
	t.Helper()
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvBuf)
			if serr == nil {
				serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_MAXSEG, mss)
			}
		})
		if err == nil {
			err = serr
		}
		return err
	}}
	l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// SlowReader reads r at most chunk bytes per tick.
func SlowReader(r io.Reader, chunk int, tick time.Duration) io.Reader {
	return &slowReader{r: r, chunk: chunk, tick: tick}
}

type slowReader struct {
	r     io.Reader
	chunk int
	tick  time.Duration
}

func (s *slowReader) Read(p []byte) (int, error) {
	time.Sleep(s.tick)
	return s.r.Read(p[:min(len(p), s.chunk)])
}

func (s *Slow) accept() {
	for {
		c, err := s.l.Accept()
		if err != nil {
			return
		}
		go s.serve(c)
	}
}

// Pause stops reading (true) or resumes it.
func (s *Slow) Pause(p bool) {
	s.mu.Lock()
	s.paused = p
	s.mu.Unlock()
}

// Read is the number of bytes read so far, on all connections.
func (s *Slow) Read() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.read
}

// Events returns the events received so far.
func (s *Slow) Events(testing.TB) []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.events...)
}

// serve reads one connection slowly; a frame cut by the end of the
// connection is not an event.
func (s *Slow) serve(c net.Conn) {
	defer c.Close()
	pr, pw := io.Pipe()
	go s.parse(pr)
	buf := make([]byte, s.Chunk)
	for {
		s.mu.Lock()
		paused := s.paused
		s.mu.Unlock()
		if paused {
			time.Sleep(s.Tick)
			continue
		}
		n, err := c.Read(buf)
		s.mu.Lock()
		s.read += int64(n)
		s.mu.Unlock()
		pw.Write(buf[:n])
		if err != nil {
			pw.CloseWithError(err)
			return
		}
		time.Sleep(s.Tick)
	}
}

// parse reads "LEN SP MSG" frames; MSG is an RFC5424 header and the
// event's JSON.
func (s *Slow) parse(r io.Reader) {
	br := bufio.NewReader(r)
	for {
		ls, err := br.ReadString(' ')
		if err != nil {
			return
		}
		n, err := strconv.Atoi(ls[:len(ls)-1])
		if err != nil || n <= 0 || n > 1<<20 {
			return
		}
		msg := make([]byte, n)
		if _, err := io.ReadFull(br, msg); err != nil {
			return
		}
		if rec, ok := parseRFC5424(msg); ok {
			s.mu.Lock()
			s.events = append(s.events, rec)
			s.mu.Unlock()
		}
	}
}

// parseRFC5424 reads "<PRI>1 TS HOST APP PROCID MSGID SD MSG" with SD "-".
func parseRFC5424(msg []byte) (Received, bool) {
	f := bytes.SplitN(msg, []byte(" "), 8)
	if len(f) != 8 || len(f[0]) < 4 || f[0][0] != '<' {
		return Received{}, false
	}
	r := Received{Host: string(f[2]), App: string(f[3]), JSON: json.RawMessage(f[7])}
	r.Pri, _ = strconv.Atoi(string(bytes.TrimSuffix(f[0][1:], []byte(">1"))))
	r.Time, _ = time.Parse(time.RFC3339Nano, string(f[1]))
	if json.Unmarshal(f[7], &r.Event) != nil {
		return Received{}, false
	}
	return r, true
}
