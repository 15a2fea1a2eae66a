// Package compact renders an event as one line for a terminal: what
// happened, the process with its pod, and for a policy event the function,
// its key arguments, the action and the policy.
package compact

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/fatih/color"

	"github.com/vigil-sec/vigil/pkg/event"
)

// Printer formats events, in color or not.
type Printer struct {
	kind, proc, detail, alert *color.Color
}

// New returns a printer; colors are ANSI escapes when on is set.
func New(on bool) *Printer {
	p := &Printer{kind: color.New(color.FgCyan), proc: color.New(color.FgWhite, color.Bold),
		detail: color.New(color.FgYellow), alert: color.New(color.FgRed, color.Bold)}
	for _, c := range []*color.Color{p.kind, p.proc, p.detail, p.alert} {
		if on {
			c.EnableColor()
		} else {
			c.DisableColor()
		}
	}
	return p
}

// Line renders ev, without a newline.
func (p *Printer) Line(ev *event.Event) string {
	switch {
	case ev.ProcessExec != nil:
		return p.join("🚀", "exec", p.process(ev.ProcessExec.Process))
	case ev.ProcessExit != nil:
		return p.join("💥", "exit", p.process(ev.ProcessExit.Process), p.detail.Sprint(exitOf(ev.ProcessExit)))
	case ev.ProcessKprobe != nil:
		k := ev.ProcessKprobe
		return p.policy("kprobe", k.Process, k.FunctionName, k.Args, k.Action, k.Mode, k.PolicyName)
	case ev.ProcessLsm != nil:
		k := ev.ProcessLsm
		return p.policy("lsm", k.Process, k.FunctionName, k.Args, k.Action, k.Mode, k.PolicyName)
	case ev.ProcessTracepoint != nil:
		t := ev.ProcessTracepoint
		return p.policy("tracepoint", t.Process, t.Subsys+"/"+t.Event, t.Args, t.Action, t.Mode, t.PolicyName)
	case ev.ProcessUprobe != nil:
		u := ev.ProcessUprobe
		return p.policy("uprobe", u.Process, u.Path+":"+u.Symbol, u.Args, u.Action, u.Mode, u.PolicyName)
	case ev.ProcessUsdt != nil:
		u := ev.ProcessUsdt
		return p.policy("usdt", u.Process, u.Path+":"+u.Provider+":"+u.Name, u.Args, u.Action, u.Mode, u.PolicyName)
	case ev.ProcessLoader != nil:
		return p.join("📚", "loader", p.process(ev.ProcessLoader.Process), p.detail.Sprint(ev.ProcessLoader.Path))
	case ev.LostEvents != nil:
		l := ev.LostEvents
		return p.join("❗", "lost", p.alert.Sprintf("%d events: %s", l.Count, l.Reason))
	case ev.RateLimitInfo != nil:
		return p.join("❗", "ratelimit", p.alert.Sprintf("%d events dropped", ev.RateLimitInfo.NumberOfDroppedProcessEvents))
	}
	return p.join("❔", "unknown", "")
}

func (p *Printer) join(icon, kind string, rest ...string) string {
	return strings.TrimRight(icon+" "+p.kind.Sprintf("%-10s", kind)+" "+strings.Join(rest, " "), " ")
}

// process is "namespace/pod binary arguments", or the binary alone on the
// host.
func (p *Printer) process(proc *event.Process) string {
	if proc == nil {
		return "?"
	}
	where := ""
	if proc.Pod != nil {
		where = proc.Pod.Namespace + "/" + proc.Pod.Name + " "
	}
	return strings.TrimRight(where+p.proc.Sprint(proc.Binary)+" "+proc.Arguments, " ")
}

func (p *Printer) policy(kind string, proc *event.Process, fn string, args []*event.Argument, action, mode, policy string) string {
	icon, act := "🔎", ""
	if action != "" && action != event.ActionPost {
		icon, act = "⛔", p.alert.Sprint(strings.TrimPrefix(action, "KPROBE_ACTION_"))
		if mode == "monitor" {
			icon, act = "👀", act+" (monitor)"
		}
	}
	call := p.detail.Sprint(fn + "(" + Args(args) + ")")
	out := p.join(icon, kind, p.process(proc), call, act)
	if policy != "" {
		out += " [" + policy + "]"
	}
	return out
}

// Args renders the arguments that say most, comma-separated.
func Args(args []*event.Argument) string {
	var out []string
	for _, a := range args {
		if s := arg(a); s != "" {
			out = append(out, s)
		}
	}
	return strings.Join(out, ", ")
}

func arg(a *event.Argument) string {
	switch {
	case a.StringArg != nil:
		return strconv.Quote(*a.StringArg)
	case a.FileArg != nil:
		return a.FileArg.Path
	case a.PathArg != nil:
		return a.PathArg.Path
	case a.LinuxBinprmArg != nil:
		return a.LinuxBinprmArg.Path
	case a.SockaddrArg != nil:
		return hostPort(a.SockaddrArg.Addr, a.SockaddrArg.Port)
	case a.SockArg != nil:
		return a.SockArg.Protocol + " " + hostPort(a.SockArg.Daddr, a.SockArg.Dport)
	case a.SkbArg != nil:
		return hostPort(a.SkbArg.Saddr, 0) + "->" + hostPort(a.SkbArg.Daddr, 0)
	case a.CapabilityArg != nil:
		return a.CapabilityArg.Name
	case a.IntArg != nil:
		return strconv.Itoa(int(*a.IntArg))
	case a.UintArg != nil:
		return strconv.FormatUint(uint64(*a.UintArg), 10)
	case a.LongArg != nil:
		return strconv.FormatInt(*a.LongArg, 10)
	case a.SizeArg != nil:
		return strconv.FormatUint(*a.SizeArg, 10)
	case a.BytesArg != nil:
		return fmt.Sprintf("%d bytes", len(a.BytesArg))
	case a.TruncatedBytesArg != nil:
		return fmt.Sprintf("%d of %d bytes", len(a.TruncatedBytesArg.BytesArg), a.TruncatedBytesArg.OrigSize)
	}
	return ""
}

func hostPort(addr string, port uint32) string {
	if port == 0 {
		return addr
	}
	if strings.Contains(addr, ":") {
		addr = "[" + addr + "]"
	}
	return addr + ":" + strconv.FormatUint(uint64(port), 10)
}

func exitOf(x *event.ProcessExit) string {
	if x.Signal != "" {
		return x.Signal
	}
	return strconv.FormatUint(uint64(x.Status), 10)
}
