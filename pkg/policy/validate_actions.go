package policy

import (
	"net/url"
	"regexp"
	"strconv"
)

func (v *validator) actionList(h *hook, list []ActionSelector, p path) {
	v.limit(p, len(list), MaxActionsPerSelector, "actions", "selector")
	for i := range list {
		v.action(h, &list[i], p.at(i))
	}
}

func (v *validator) returnActions(h *hook, list []ActionSelector, p path) {
	if len(list) > 0 && v.needsReturn(h, p, "matchReturnActions") {
		v.actionList(h, list, p)
	}
}

// actionChecks holds the checks specific to each action.
var actionChecks = map[string]func(*validator, *hook, *ActionSelector, path){
	"Signal":                      (*validator).signal,
	"Override":                    (*validator).override,
	"GetUrl":                      (*validator).getURL,
	"DnsLookup":                   (*validator).dnsLookup,
	"TrackSock":                   (*validator).sockArg,
	"UntrackSock":                 (*validator).sockArg,
	"NotifyEnforcer":              (*validator).notifyEnforcer,
	"CleanupEnforcerNotification": (*validator).needEnforcers,
	"Set":                         (*validator).set,
}

func (v *validator) action(h *hook, a *ActionSelector, p path) {
	if !v.enum(p.child("action"), "action", a.Action, actions) {
		return
	}
	if a.Action == "Post" {
		v.post(h, a, p)
	} else {
		v.postOnly(a, p)
	}
	if a.ArgSig > MaxSignal {
		v.errorf(p.child("argSig"), "%d is not a signal number (1-%d)", a.ArgSig, MaxSignal)
	}
	if check := actionChecks[a.Action]; check != nil {
		check(v, h, a, p)
	}
}

// postOnly reports the fields that only action Post takes.
func (v *validator) postOnly(a *ActionSelector, p path) {
	set := map[string]bool{
		"rateLimit":        a.RateLimit != "",
		"rateLimitScope":   a.RateLimitScope != "",
		"kernelStackTrace": a.KernelStackTrace,
		"userStackTrace":   a.UserStackTrace,
		"imaHash":          a.ImaHash,
	}
	for _, field := range postOnlyFields {
		if set[field] {
			v.errorf(p.child(field), "%s applies only to action Post, not %s", field, a.Action)
		}
	}
}

var rateLimitFormat = regexp.MustCompile(`^([0-9]+)([smh]?)$`)

func (v *validator) post(h *hook, a *ActionSelector, p path) {
	if a.RateLimit != "" {
		m := rateLimitFormat.FindStringSubmatch(a.RateLimit)
		if n, err := strconv.ParseUint(firstGroup(m), 10, 32); err != nil || n == 0 {
			v.errorf(p.child("rateLimit"), "%q is not a rate limit (want a positive number of seconds, optionally with suffix s, m or h, e.g. \"10s\" or \"1m\")", a.RateLimit)
		}
	}
	if a.RateLimitScope != "" && v.enum(p.child("rateLimitScope"), "rateLimitScope", a.RateLimitScope, rateLimitScopes) && a.RateLimit == "" {
		v.errorf(p.child("rateLimitScope"), "rateLimitScope needs rateLimit")
	}
	if a.ImaHash && !h.generic && h.kind != "LSM hook" {
		v.errorf(p.child("imaHash"), "imaHash is only available on lsmhooks")
	}
}

func firstGroup(m []string) string {
	if len(m) < 2 {
		return ""
	}
	return m[1]
}

func (v *validator) signal(_ *hook, a *ActionSelector, p path) {
	if a.ArgSig == 0 {
		v.errorf(p, "action Signal needs argSig (a signal number, 1-%d)", MaxSignal)
	}
}

func (v *validator) override(h *hook, a *ActionSelector, p path) {
	if !h.generic && (h.kind == "tracepoint" || h.kind == "usdt") {
		v.errorf(p.child("action"), "Override is not possible on %s: it cannot change a return value", h.phrase())
	}
	if a.ArgError == 0 {
		v.errorf(p, "action Override needs argError (the error to return, e.g. -1 for -EPERM)")
	}
}

// sockArg checks TrackSock's and UntrackSock's argSock: as in Tetragon, a
// position in args (counted from 0), not an argument's index.
func (v *validator) sockArg(h *hook, a *ActionSelector, p path) {
	if h.generic {
		return
	}
	if int(a.ArgSock) >= len(h.args) {
		v.errorf(p.child("argSock"), "%d is past the hook's args (%d of them): argSock is a position in args, counted from 0", a.ArgSock, len(h.args))
		return
	}
	if t := h.args[a.ArgSock].Type; t != "sock" && t != "socket" {
		v.errorf(p.child("argSock"), "args[%d] has type %s, not sock or socket", a.ArgSock, t)
	}
}

func (v *validator) set(h *hook, a *ActionSelector, p path) {
	if !h.generic && h.kind != "usdt" {
		v.errorf(p.child("action"), "Set is only available on usdts, not on %s", h.phrase())
		return
	}
	v.declared(h, a.ArgIndex, p.child("argIndex"))
}

// declared returns the argument an action names, reporting it when there
// is none.
func (v *validator) declared(h *hook, idx uint32, p path) *KProbeArg {
	if h.generic {
		return nil
	}
	a := h.lookup(idx)
	if a == nil {
		v.errorf(p, "%s", h.undeclared(idx))
	}
	return a
}

func (v *validator) getURL(_ *hook, a *ActionSelector, p path) {
	u, err := url.Parse(a.ArgURL)
	if a.ArgURL == "" {
		v.errorf(p, "action GetUrl needs argUrl")
	} else if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.errorf(p.child("argUrl"), "%q is not an http or https URL", a.ArgURL)
	}
}

var hostname = regexp.MustCompile(`^([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.?$`)

func (v *validator) dnsLookup(_ *hook, a *ActionSelector, p path) {
	switch {
	case a.ArgFqdn == "":
		v.errorf(p, "action DnsLookup needs argFqdn")
	case len(a.ArgFqdn) > 253 || !hostname.MatchString(a.ArgFqdn):
		v.errorf(p.child("argFqdn"), "%q is not a DNS name", a.ArgFqdn)
	}
}

func (v *validator) notifyEnforcer(h *hook, a *ActionSelector, p path) {
	v.needEnforcers(h, a, p)
	if a.ArgError == 0 && a.ArgSig == 0 {
		v.errorf(p, "action NotifyEnforcer needs argError or argSig (what the enforcer does)")
	}
}

func (v *validator) needEnforcers(_ *hook, a *ActionSelector, p path) {
	if len(v.spec.Enforcers) == 0 {
		v.errorf(p.child("action"), "action %s needs spec.enforcers", a.Action)
	}
}
