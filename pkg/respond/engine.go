package respond

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"github.com/sirupsen/logrus"

	"github.com/vigil-sec/vigil/pkg/event"
)

// Engine is an output.Exporter that responds to alerts: Export prefilters
// and queues, never blocking; a worker goroutine evaluates the rules and
// carries out the responses.
type Engine struct {
	rules   atomic.Pointer[ruleset]
	setMu   sync.Mutex
	opts    Options
	queue   chan job
	stop    chan struct{}
	done    chan struct{}
	stats   counters
	budget  *budget
	guard   *guard
	closing sync.Once
}

// job is one alert waiting for evaluation, with the rules that let it in.
type job struct {
	ev    *event.Event
	line  []byte
	rules *ruleset
}

// Load compiles the .rego files and directories in paths. With no paths
// the Engine has no rules (and responds to nothing) until Set.
func Load(paths ...string) (*Engine, error) {
	mods, err := readModules(paths)
	if err != nil {
		return nil, err
	}
	e := &Engine{}
	if err := e.Set(mods); err != nil {
		return nil, err
	}
	return e, nil
}

// Set replaces the rules with modules, by name (a ConfigMap's data): they
// are compiled and prepared once, unless they are the ones in use. On
// error the rules in use stay.
func (e *Engine) Set(modules map[string]string) error {
	e.setMu.Lock()
	defer e.setMu.Unlock()
	if cur := e.rules.Load(); cur != nil && cur.digest == digest(modules) {
		return nil
	}
	rs, err := compile(modules)
	if err != nil {
		return err
	}
	e.rules.Store(rs)
	logrus.WithField("modules", rs.modules).Info("response rules loaded")
	return nil
}

// Start starts the worker with opts. Call it once, before the Engine is
// handed to the output; until then alerts are dropped and counted.
func (e *Engine) Start(opts Options) error {
	e.opts = opts.withDefaults()
	g, err := newGuard(e.opts.NeverTouch)
	if err != nil {
		return err
	}
	if err := makeEvidenceDir(e.opts.EvidenceDir); err != nil {
		return fmt.Errorf("evidence directory: %w", err)
	}
	e.guard, e.budget = g, newBudget(e.opts.Budget, e.opts.BudgetWindow)
	e.queue, e.stop, e.done = make(chan job, e.opts.QueueSize), make(chan struct{}), make(chan struct{})
	go e.work()
	return nil
}

func makeEvidenceDir(dir string) error {
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.Chmod(dir, 0o700)
}

// Export queues ev for the rules when some rule wants its type and
// policy. It never blocks and never evaluates: a full queue drops the
// alert and counts it. ev must not change after Export.
func (e *Engine) Export(ev *event.Event, line []byte) error {
	rs := e.rules.Load()
	if rs == nil || !rs.wants.wants(ev) {
		e.stats.prefiltered.Add(1)
		return nil
	}
	select {
	case e.queue <- job{ev: ev, line: append([]byte(nil), line...), rules: rs}:
		e.stats.queued.Add(1)
	default:
		e.stats.queueDrops.Add(1)
	}
	return nil
}

// Flush returns at once: responses are carried out by the worker.
func (e *Engine) Flush() error { return nil }

// Close stops the worker once the response in progress is done; queued
// alerts are dropped.
func (e *Engine) Close() error {
	e.closing.Do(func() {
		if e.stop != nil {
			close(e.stop)
			<-e.done
		}
	})
	return nil
}

func (e *Engine) work() {
	defer close(e.done)
	for {
		select {
		case <-e.stop:
			return
		case j := <-e.queue:
			e.handle(j)
		}
	}
}

// handle evaluates one alert and carries out its responses.
func (e *Engine) handle(j job) {
	resps, err := e.evaluate(j)
	if err != nil {
		e.stats.evalErrors.Add(1)
		logrus.WithError(err).Warn("response rules failed on an alert")
	}
	if len(resps) > 0 {
		e.act(newAlert(j), resps)
	}
}
