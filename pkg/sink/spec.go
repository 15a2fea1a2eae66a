package sink

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// Bounds of a spec and of the files it names.
const (
	maxSpecLen  = 4096
	maxFileSize = 1 << 20 // a CA bundle, a certificate or a key
)

// defaultPorts are the receivers' ports when a spec names none.
var defaultPorts = map[string]string{"syslog+tcp": "514", "syslog+tls": "6514", "syslog+relp": "2514",
	"splunk-hec+https": "8088", "splunk-hec+http": "8088", "webhook+https": "443", "webhook+http": "80",
	"otlp+grpc": "4317", "otlp+grpcs": "4317", "otlp+http": "4318", "otlp+https": "4318"}

// splitSpec checks a spec's length, kind, URL and host.
func splitSpec(spec string) (kind string, u *url.URL, err error) {
	if len(spec) > maxSpecLen {
		return "", nil, fmt.Errorf("sink spec: %d bytes, longer than %d", len(spec), maxSpecLen)
	}
	kind, rest, ok := strings.Cut(spec, "+")
	if !ok {
		return "", nil, fmt.Errorf("sink spec: %q has no kind: want syslog+tcp://, syslog+tls://, syslog+relp://, "+
			"splunk-hec+https://, splunk-hec+http://, webhook+https://, webhook+http://, otlp+grpc://, otlp+grpcs://, "+
			"otlp+http:// or otlp+https://", redact(spec))
	}
	if u, err = url.Parse(rest); err != nil {
		return "", nil, fmt.Errorf("sink spec %q: %v", redact(spec), redactErr(err))
	}
	if u.Host == "" || u.Hostname() == "" {
		return "", nil, fmt.Errorf("sink spec %q: no host", redact(spec))
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", nil, fmt.Errorf("sink spec: port %q: want 1 to 65535", p)
		}
	}
	if _, ok := defaultPorts[kind+"+"+u.Scheme]; !ok {
		return "", nil, fmt.Errorf("sink spec: unknown scheme %q: want syslog+tcp, syslog+tls, syslog+relp, "+
			"splunk-hec+https, splunk-hec+http, webhook+https, webhook+http, otlp+grpc, otlp+grpcs, otlp+http "+
			"or otlp+https", kind+"+"+u.Scheme)
	}
	return kind, u, nil
}

// SpoolName names the spool directory of the sink a spec names: its kind
// and receiver, readable, then the first 16 hex digits of the SHA-256 of
// the whole spec normalized (kind, scheme and host in lower case, the port
// explicit, the options sorted). Two sinks that differ only in an option
// (the query string: another index, token or app name) spool apart, and the
// name shows no option, so no token.
func SpoolName(spec string) (string, error) {
	kind, u, err := splitSpec(spec)
	if err != nil {
		return "", err
	}
	scheme := kind + "+" + u.Scheme
	host := strings.ToLower(hostPort(u, defaultPorts[scheme]))
	path := u.EscapedPath()
	if path == "/" {
		path = ""
	}
	norm := scheme + "://" + host + path + "?" + u.Query().Encode()
	sum := sha256.Sum256([]byte(norm))
	name := unsafeChars.ReplaceAllString(scheme+"_"+host, "_")
	if len(name) > maxReadableName {
		name = name[:maxReadableName]
	}
	return name + "-" + hex.EncodeToString(sum[:8]), nil
}

// unsafeChars are replaced in spool names; a file name has at most 255
// bytes.
var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9.+-]+`)

const maxReadableName = 200

// ParseSpec returns the transport a spec names (see the package doc);
// nodeName is the default syslog hostname and HEC host. Errors name the
// part of the spec that is wrong, and never show a token.
func ParseSpec(spec, nodeName string) (Transport, error) {
	kind, u, err := splitSpec(spec)
	if err != nil {
		return nil, err
	}
	q := u.Query()
	if nodeName == "" {
		nodeName, _ = os.Hostname()
	}
	switch {
	case kind == "syslog":
		return parseSyslog(u, q, nodeName)
	case kind == "splunk-hec":
		return parseHEC(u, q, nodeName)
	case kind == "otlp":
		return parseOTLP(u, q, nodeName)
	default:
		return parseWebhook(u, q)
	}
}

func parseSyslog(u *url.URL, q url.Values, nodeName string) (Transport, error) {
	o := SyslogOptions{
		Addr:     hostPort(u, defaultPorts["syslog+"+u.Scheme]),
		RELP:     u.Scheme == "relp",
		AppName:  take(q, "app"),
		Hostname: take(q, "hostname"),
		Facility: 16, // local0
		Severity: 6,  // info
	}
	if o.Hostname == "" {
		o.Hostname = nodeName
	}
	var err error
	if v := take(q, "facility"); v != "" {
		if o.Facility, err = lookup("facility", v, facilities, 23); err != nil {
			return nil, err
		}
	}
	if v := take(q, "severity"); v != "" {
		if o.Severity, err = lookup("severity", v, severities, 7); err != nil {
			return nil, err
		}
	}
	if o.TLS, err = parseTLS(u, q); err != nil {
		return nil, err
	}
	if err := noneLeft(q); err != nil {
		return nil, err
	}
	if u.Path != "" {
		return nil, fmt.Errorf("sink spec: syslog takes no path, got %q", u.Path)
	}
	return NewSyslog(o)
}

func parseHEC(u *url.URL, q url.Values, nodeName string) (Transport, error) {
	o := HECOptions{
		Token:      take(q, "token"),
		Host:       take(q, "host"),
		Source:     take(q, "source"),
		SourceType: take(q, "sourcetype"),
		Index:      take(q, "index"),
	}
	if o.Host == "" {
		o.Host = nodeName
	}
	var err error
	if o.TLS, err = parseTLS(u, q); err != nil {
		return nil, err
	}
	if err := noneLeft(q); err != nil {
		return nil, err
	}
	path := u.Path
	if path == "" || path == "/" {
		path = "/services/collector/event"
	}
	o.URL = u.Scheme + "://" + hostPort(u, "8088") + path
	return NewHEC(o)
}

func parseOTLP(u *url.URL, q url.Values, nodeName string) (Transport, error) {
	o := OTLPOptions{Addr: hostPort(u, defaultPorts["otlp+"+u.Scheme]), NodeName: nodeName,
		HTTP: u.Scheme == "http" || u.Scheme == "https", Path: u.Path}
	var err error
	if o.Header, err = takeHeaders(q); err != nil {
		return nil, err
	}
	if o.TLS, err = parseTLS(u, q); err != nil {
		return nil, err
	}
	if err := noneLeft(q); err != nil {
		return nil, err
	}
	if !o.HTTP && u.Path != "" && u.Path != "/" {
		return nil, fmt.Errorf("sink spec: otlp+%s takes no path, got %q", u.Scheme, u.Path)
	}
	return NewOTLP(o)
}

// takeHeaders takes the header=NAME:VALUE options.
func takeHeaders(q url.Values) (http.Header, error) {
	h := http.Header{}
	for _, v := range q["header"] {
		name, value, ok := strings.Cut(v, ":")
		if !ok || strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("sink spec: option header=%q: want NAME:VALUE", v)
		}
		h.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	q.Del("header")
	return h, nil
}

func parseWebhook(u *url.URL, q url.Values) (Transport, error) {
	o := WebhookOptions{}
	var err error
	if o.Header, err = takeHeaders(q); err != nil {
		return nil, err
	}
	if o.TLS, err = parseTLS(u, q); err != nil {
		return nil, err
	}
	// the parameters left are the webhook's own
	v := *u
	v.RawQuery = q.Encode()
	o.URL = v.String()
	return NewWebhook(o)
}

// parseTLS takes the TLS options: a TLS configuration for syslog+tls and
// https, an error naming the option for plain schemes.
func parseTLS(u *url.URL, q url.Values) (*tls.Config, error) {
	ca, cert, key, name := take(q, "ca"), take(q, "cert"), take(q, "key"), take(q, "server_name")
	insecure := take(q, "insecure_skip_verify")
	if u.Scheme != "tls" && u.Scheme != "https" && u.Scheme != "grpcs" {
		for opt, v := range map[string]string{"ca": ca, "cert": cert, "key": key, "server_name": name,
			"insecure_skip_verify": insecure} {
			if v != "" {
				return nil, fmt.Errorf("sink spec: option %s needs TLS (syslog+tls, https or otlp+grpcs)", opt)
			}
		}
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: name}
	if c.ServerName == "" {
		c.ServerName = u.Hostname()
	}
	if insecure != "" {
		b, err := strconv.ParseBool(insecure)
		if err != nil {
			return nil, fmt.Errorf("sink spec: option insecure_skip_verify=%q: want true or false", insecure)
		}
		c.InsecureSkipVerify = b
	}
	if ca != "" {
		pem, err := readSmall(ca)
		if err != nil {
			return nil, fmt.Errorf("sink spec: option ca: %w", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("sink spec: option ca: no PEM certificate in %s", ca)
		}
	}
	if (cert == "") != (key == "") {
		return nil, fmt.Errorf("sink spec: options cert and key go together")
	}
	if cert != "" {
		kp, err := loadKeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("sink spec: options cert and key: %w", err)
		}
		c.Certificates = []tls.Certificate{kp}
	}
	return c, nil
}

// readSmall reads a regular file of at most maxFileSize bytes: a spec
// naming a device or a FIFO would block or never end.
func readSmall(path string) ([]byte, error) {
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path) // before opening: a FIFO blocks in open
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err == nil && len(b) > maxFileSize {
		err = fmt.Errorf("%s: larger than %d bytes", path, maxFileSize)
	}
	return b, err
}

func loadKeyPair(cert, key string) (tls.Certificate, error) {
	c, err := readSmall(cert)
	if err != nil {
		return tls.Certificate{}, err
	}
	k, err := readSmall(key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(c, k)
}

// take removes an option and returns its value.
func take(q url.Values, name string) string {
	v := q.Get(name)
	q.Del(name)
	return v
}

func noneLeft(q url.Values) error {
	for name := range q {
		return fmt.Errorf("sink spec: unknown option %q", name)
	}
	return nil
}

func hostPort(u *url.URL, port string) string {
	if p := u.Port(); p != "" {
		port = p
	}
	return net.JoinHostPort(u.Hostname(), port)
}

var facilities = map[string]int{"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5,
	"lpr": 6, "news": 7, "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11, "ntp": 12, "security": 13,
	"console": 14, "local0": 16, "local1": 17, "local2": 18, "local3": 19, "local4": 20, "local5": 21,
	"local6": 22, "local7": 23}

var severities = map[string]int{"emerg": 0, "alert": 1, "crit": 2, "err": 3, "error": 3, "warning": 4,
	"warn": 4, "notice": 5, "info": 6, "debug": 7}

// lookup reads a facility or severity: a name or a number up to top.
func lookup(opt, v string, names map[string]int, top int) (int, error) {
	if n, ok := names[strings.ToLower(v)]; ok {
		return n, nil
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 && n <= top {
		return n, nil
	}
	return 0, fmt.Errorf("sink spec: option %s=%q: want a name such as %s, or 0 to %d", opt, v,
		map[string]string{"facility": "local0 or auth", "severity": "info or warning"}[opt], top)
}

// tokenValue is a token option's value, up to the next option.
var tokenValue = regexp.MustCompile(`token=[^&]*`)

// redact hides the value of every token in a spec.
func redact(spec string) string {
	return tokenValue.ReplaceAllLiteralString(spec, "token=REDACTED")
}

// redactErr hides tokens in a url.Parse error, which quotes the URL.
func redactErr(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return fmt.Errorf("%s", redact(ue.Err.Error()))
	}
	return err
}
