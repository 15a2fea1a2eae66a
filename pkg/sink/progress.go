package sink

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http/httptrace"
	"sync"
	"time"
)

// progress follows an HTTP request: the bytes of it the receiver's TCP
// stack acknowledged (TCP_INFO of its connection), and the steps of the
// exchange (connected, request written, first byte of the answer). Each
// one moves its deadline.
type progress struct {
	timeout time.Duration

	mu    sync.Mutex
	conn  *net.TCPConn
	acked uint64 // bytes_acked of conn when last seen
	wrote bool   // the whole request is written
	last  time.Time
}

func newProgress(timeout time.Duration) *progress {
	return &progress{timeout: timeout, last: time.Now()}
}

func (p *progress) touch() {
	p.mu.Lock()
	p.last = time.Now()
	p.mu.Unlock()
}

func (p *progress) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GotConn:              func(i httptrace.GotConnInfo) { p.setConn(i.Conn) },
		ConnectDone:          func(string, string, error) { p.touch() },
		TLSHandshakeDone:     func(tls.ConnectionState, error) { p.touch() },
		WroteRequest:         p.wroteRequest,
		GotFirstResponseByte: p.touch,
	}
}

func (p *progress) wroteRequest(httptrace.WroteRequestInfo) {
	p.mu.Lock()
	p.wrote, p.last = true, time.Now()
	p.mu.Unlock()
}

// setConn finds the TCP connection under c (TLS or not).
func (p *progress) setConn(c net.Conn) {
	for {
		u, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		c = u.NetConn()
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return
	}
	var acked uint64
	if st, err := tcpState(tc); err == nil {
		acked = st.Bytes_acked
	}
	p.mu.Lock()
	p.conn, p.acked, p.last = tc, acked, time.Now()
	p.mu.Unlock()
}

// stalled polls the connection and tells whether the deadline passed.
// While the request is being written, a connection with nothing sent and
// not acknowledged waits for this side, not for the receiver: no stall.
func (p *progress) stalled() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn != nil {
		st, err := tcpState(p.conn)
		switch {
		case err != nil:
		case st.Bytes_acked != p.acked:
			p.acked, p.last = st.Bytes_acked, time.Now()
		case !p.wrote && st.Unacked == 0 && st.Notsent_bytes == 0:
			p.last = time.Now()
		}
	}
	return time.Since(p.last) > p.timeout
}

// watch cancels the request with ErrStalled when it stalls, until stop.
func (p *progress) watch(cancel context.CancelCauseFunc) (stop func()) {
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		tick := time.NewTicker(min(p.timeout/10, 100*time.Millisecond))
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if p.stalled() {
					cancel(fmt.Errorf("%w for %v", ErrStalled, p.timeout))
					return
				}
			}
		}
	}()
	return func() {
		close(done)
		<-exited
	}
}

// stallCause is err, or the stall that cancelled ctx.
func stallCause(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); errors.Is(cause, ErrStalled) {
		return cause
	}
	return err
}
