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
		WroteRequest:         func(httptrace.WroteRequestInfo) { p.touch() },
		GotFirstResponseByte: p.touch,
	}
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
func (p *progress) stalled() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn != nil {
		if st, err := tcpState(p.conn); err == nil && st.Bytes_acked != p.acked {
			p.acked, p.last = st.Bytes_acked, time.Now()
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
