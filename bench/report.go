package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"time"

	"golang.org/x/sys/unix"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// report collects what the measurements find: markdown (report.md, and
// stdout as it comes) and the figures of the plots.
type report struct {
	dir      string
	md       *os.File
	w        io.Writer
	overhead []overhead
	trials   []trial
}

// overhead is Vigil's and auditd's overhead on one workload, in percent of
// the run without an agent.
type overhead struct {
	workload      string
	vigil, auditd float64
}

func newReport(dir string) (*report, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	md, err := os.Create(filepath.Join(dir, "report.md"))
	if err != nil {
		return nil, err
	}
	r := &report{dir: dir, md: md, w: io.MultiWriter(os.Stdout, md)}
	host, _ := os.Hostname()
	r.printf("# Vigil benchmarks\n\n%s, %s: %d CPUs, kernel %s\n\n", time.Now().UTC().Format(time.RFC3339), host, runtime.NumCPU(), kernelRelease())
	return r, nil
}

func (r *report) printf(format string, args ...any) { fmt.Fprintf(r.w, format, args...) }

func (r *report) close() { r.md.Close() }

// table prints each configuration's median and spread against its
// baseline (the index in base), as a markdown table.
func (r *report) table(configs []config, times [][]float64, base []int) {
	r.printf("| configuration | median (s) | overhead | rounds |\n|---|---|---|---|\n")
	for i, c := range configs {
		b := median(times[base[i]])
		lo, hi := spread(times[i])
		r.printf("| %s | %.3f | %+.1f%% | %.3f to %.3f |\n", c.name, median(times[i]), 100*(median(times[i])/b-1), lo, hi)
	}
}

// versus compares Vigil's overhead with auditd's over the same baseline,
// and keeps both for the overhead plot.
func (r *report) versus(workload string, none, vigil, auditd []float64) string {
	v, a := median(vigil)-median(none), median(auditd)-median(none)
	r.overhead = append(r.overhead, overhead{workload, 100 * v / median(none), 100 * a / median(none)})
	switch {
	case v <= 0:
		return fmt.Sprintf("Vigil's overhead is within noise; auditd's %+.1f%%", 100*a/median(none))
	case a <= 0:
		return fmt.Sprintf("auditd's overhead is within noise; Vigil's %+.1f%%", 100*v/median(none))
	}
	return fmt.Sprintf("auditd costs %.1fx Vigil's overhead", a/v)
}

// plot draws the figures the measurements left, and links them from the
// markdown.
func (r *report) plot() error {
	if len(r.overhead) > 0 {
		if err := r.save("overhead.png", overheadPlot(r.overhead)); err != nil {
			return err
		}
	}
	if len(r.trials) > 0 {
		p, err := throughputPlot(r.trials)
		if err != nil {
			return err
		}
		return r.save("throughput.png", p)
	}
	return nil
}

func (r *report) save(name string, p *plot.Plot) error {
	if err := p.Save(7*vg.Inch, 4*vg.Inch, filepath.Join(r.dir, name)); err != nil {
		return err
	}
	r.printf("![%s](%s)\n\n", p.Title.Text, name)
	return nil
}

// overheadPlot draws Vigil's and auditd's overhead side by side, per
// workload.
func overheadPlot(ovs []overhead) *plot.Plot {
	p := plot.New()
	p.Title.Text = "Overhead over no agent (median)"
	p.Y.Label.Text = "% slower"
	var names []string
	var vigil, auditd plotter.Values
	for _, o := range ovs {
		names = append(names, o.workload)
		vigil, auditd = append(vigil, o.vigil), append(auditd, o.auditd)
	}
	w := vg.Points(30)
	for i, b := range []struct {
		name string
		v    plotter.Values
	}{{"Vigil", vigil}, {"auditd", auditd}} {
		bars, err := plotter.NewBarChart(b.v, w)
		if err != nil { // only for values that are not numbers
			continue
		}
		bars.Color = plotutil.Color(i)
		bars.LineStyle.Width = 0
		bars.Offset = w * vg.Length(2*i-1) / 2
		p.Add(bars)
		p.Legend.Add(b.name, bars)
	}
	p.Legend.Top, p.Legend.Left = true, true
	p.NominalX(names...)
	p.X.Min, p.X.Max = -0.75, float64(len(names))-0.25
	p.Y.Max *= 1.3 // room for the legend
	return p
}

// throughputPlot draws the events delivered and lost per second against
// the rate offered, one point per trial.
func throughputPlot(ts []trial) (*plot.Plot, error) {
	ts = append([]trial(nil), ts...)
	sort.Slice(ts, func(i, j int) bool { return ts[i].offered() < ts[j].offered() })
	var delivered, lost plotter.XYs
	for _, t := range ts {
		delivered = append(delivered, plotter.XY{X: t.offered(), Y: t.rate(t.delivered)})
		lost = append(lost, plotter.XY{X: t.offered(), Y: t.rate(t.lost)})
	}
	p := plot.New()
	p.Title.Text = "Policy events per second, delivered and lost"
	p.X.Label.Text = "offered (matching opens/s)"
	p.Y.Label.Text = "events/s"
	p.Legend.Top, p.Legend.Left = true, true
	err := plotutil.AddLinePoints(p, "delivered", delivered, "lost (counted in-band)", lost)
	return p, err
}

func kernelRelease() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
}
