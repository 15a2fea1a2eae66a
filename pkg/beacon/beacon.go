// Package beacon makes the requests of the GetUrl and DnsLookup actions: an
// HTTP GET of a URL, or a lookup of a name's IPv4 addresses, as Tetragon
// makes them (for canary tokens and alerting endpoints: whether they
// succeed does not matter). Unlike Tetragon's, which run in its event
// loop with no time limit, they run on a few workers, each bounded in
// time, and a request that finds the queue full is dropped and counted:
// a slow or hostile endpoint never stalls the agent.
package beacon

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Actions, as policies name them.
const (
	GetURL    = "GetUrl"
	DNSLookup = "DnsLookup"
)

// Results of a request.
const (
	Done    = "done"    // the server answered
	Failed  = "failed"  // no answer in time, or an error
	Dropped = "dropped" // the queue was full: not made
)

// Config bounds the requests.
type Config struct {
	// DNSServer answers DnsLookup (host:port); Tetragon's is 1.1.1.1:53.
	DNSServer string
	Timeout   time.Duration // each request's
	Workers   int
	Queue     int // requests waiting at most
}

// DefaultConfig is Tetragon's server, with Vigil's bounds.
var DefaultConfig = Config{DNSServer: "1.1.1.1:53", Timeout: 5 * time.Second, Workers: 4, Queue: 256}

// Request is one action's request: Target is the URL or the name.
type Request struct{ Action, Target string }

// Count is how many requests of an action had a result.
type Count struct {
	Action, Result string
	N              uint64
}

// Beacon makes requests until Close.
type Beacon struct {
	cfg      Config
	queue    chan Request
	client   *http.Client
	resolver *net.Resolver
	counts   sync.Map // [2]string{action, result} -> *atomic.Uint64
	wg       sync.WaitGroup
	stop     context.CancelFunc
	ctx      context.Context
}

// New starts the workers.
func New(cfg Config) *Beacon {
	ctx, stop := context.WithCancel(context.Background())
	b := &Beacon{cfg: cfg, queue: make(chan Request, cfg.Queue), ctx: ctx, stop: stop,
		client: &http.Client{Timeout: cfg.Timeout}}
	b.resolver = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", cfg.DNSServer)
	}}
	for range cfg.Workers {
		b.wg.Add(1)
		go b.work()
	}
	return b
}

// Send queues r, or drops and counts it when the queue is full.
func (b *Beacon) Send(r Request) {
	select {
	case b.queue <- r:
	default:
		b.count(r.Action, Dropped)
	}
}

// Counts lists the requests made so far by action and result.
func (b *Beacon) Counts() []Count {
	var out []Count
	b.counts.Range(func(k, v any) bool {
		key := k.([2]string)
		out = append(out, Count{Action: key[0], Result: key[1], N: v.(*atomic.Uint64).Load()})
		return true
	})
	return out
}

// Close stops the workers; requests under way are cancelled.
func (b *Beacon) Close() {
	b.stop()
	b.wg.Wait()
}

func (b *Beacon) work() {
	defer b.wg.Done()
	for {
		select {
		case <-b.ctx.Done():
			return
		case r := <-b.queue:
			result := Done
			if err := b.do(r); err != nil {
				result = Failed
			}
			b.count(r.Action, result)
		}
	}
}

func (b *Beacon) do(r Request) error {
	ctx, cancel := context.WithTimeout(b.ctx, b.cfg.Timeout)
	defer cancel()
	if r.Action == DNSLookup {
		_, err := b.resolver.LookupIP(ctx, "ip4", r.Target)
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
			return nil // the server answered: the name has no address
		}
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.Target, nil)
	if err != nil {
		return err
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.Body.Close()
}

func (b *Beacon) count(action, result string) {
	v, _ := b.counts.LoadOrStore([2]string{action, result}, new(atomic.Uint64))
	v.(*atomic.Uint64).Add(1)
}
