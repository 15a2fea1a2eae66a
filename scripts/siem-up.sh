#!/usr/bin/env bash
# siem-up.sh - run REAL SIEM receivers on loopback for the sink tests (pkg/sink):
#   rsyslog     RFC5424 over TLS (RFC5425 octet counting) and plain TCP; mmjsonparse
#               parses the message as JSON; one line per event in $DIR/rsyslog/events.jsonl
#   otelcol     OpenTelemetry Collector with the Splunk HEC receiver (HTTPS) and the OTLP
#               receiver (gRPC, HTTP); its file exporter writes one OTLP-JSON logs request per
#               line to $DIR/otelcol/received.jsonl
#
#   eval "$(scripts/siem-up.sh)"        # or: siem-up.sh rsyslog | otelcol | all
#   scripts/siem-down.sh                # stops them; siem-down.sh rsyslog stops one
#
# Installs rsyslog, rsyslog-gnutls and openssl with apt-get when missing. The collector
# is built once with the OpenTelemetry builder through the Go module proxy (a few
# minutes on 2 cores) and cached in $VIGIL_SIEM_CACHE; later runs start in about 1 s.
# A throwaway CA and a server certificate for 127.0.0.1/localhost are made in $DIR/tls.
# Idempotent: a receiver already running from $DIR is left alone.
#
# Env: VIGIL_SIEM_DIR (/tmp/vigil-siem)  VIGIL_SIEM_CACHE (~/.cache/vigil-siem)
#      VIGIL_SIEM_SYSLOG_TLS_PORT (16514)  VIGIL_SIEM_SYSLOG_TCP_PORT (15514)  VIGIL_SIEM_HEC_PORT (18088)
#      VIGIL_SIEM_OTLP_GRPC_PORT (14317)  VIGIL_SIEM_OTLP_HTTP_PORT (14318)
set -euo pipefail

WHAT=${1:-all}
DIR=${VIGIL_SIEM_DIR:-/tmp/vigil-siem}
CACHE=${VIGIL_SIEM_CACHE:-$HOME/.cache/vigil-siem}
TLS_PORT=${VIGIL_SIEM_SYSLOG_TLS_PORT:-16514}
TCP_PORT=${VIGIL_SIEM_SYSLOG_TCP_PORT:-15514}
HEC_PORT=${VIGIL_SIEM_HEC_PORT:-18088}
OTLP_GRPC_PORT=${VIGIL_SIEM_OTLP_GRPC_PORT:-14317}
OTLP_HTTP_PORT=${VIGIL_SIEM_OTLP_HTTP_PORT:-14318}
OTEL=v0.136.0 OTEL_PROVIDERS=v1.42.0
OTELCOL=$CACHE/otelcol-siem-otlp-$OTEL
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
log() { echo "siem-up: $*" >&2; }
case $WHAT in rsyslog | otelcol | all) ;; *) log "usage: siem-up.sh [rsyslog|otelcol|all]"; exit 2 ;; esac
want() { [[ $WHAT == all || $WHAT == "$1" ]]; }

# --- packages (idempotent) --------------------------------------------------------
install_pkgs() {
  local need=""
  command -v openssl >/dev/null || need="$need openssl"
  command -v rsyslogd >/dev/null || need="$need rsyslog"
  dpkg -s rsyslog-gnutls >/dev/null 2>&1 || need="$need rsyslog-gnutls"
  [[ -z $need ]] && return
  log "installing:$need"
  export DEBIAN_FRONTEND=noninteractive
  # shellcheck disable=SC2086
  apt-get install -y -qq $need >&2 || { apt-get update -qq >&2 && apt-get install -y -qq $need >&2; }
}

# --- collector build (once per version, cached) -----------------------------------
build_otelcol() {
  [[ -x $OTELCOL ]] && return
  mkdir -p "$CACHE"
  # another run may be building it right now: take turns (in a subshell, so
  # that the receivers started later do not inherit the lock)
  (
    flock 9
    [[ -x $OTELCOL ]] && exit 0
    w=$CACHE/build-$OTEL t0=$SECONDS
    log "building the OpenTelemetry Collector $OTEL once (about 2 min; log in $CACHE/build.log)"
    rm -rf "$w" && mkdir -p "$w"
    cat >"$w/builder.yaml" <<EOF
dist:
  name: otelcol-siem
  description: Collector with the Splunk HEC and OTLP receivers for Vigil's sink tests
  output_path: $w/dist
receivers:
  - gomod: github.com/open-telemetry/opentelemetry-collector-contrib/receiver/splunkhecreceiver $OTEL
  - gomod: go.opentelemetry.io/collector/receiver/otlpreceiver $OTEL
exporters:
  - gomod: github.com/open-telemetry/opentelemetry-collector-contrib/exporter/fileexporter $OTEL
providers:
  - gomod: go.opentelemetry.io/collector/confmap/provider/envprovider $OTEL_PROVIDERS
  - gomod: go.opentelemetry.io/collector/confmap/provider/fileprovider $OTEL_PROVIDERS
EOF
    # tidy -e: some test-only dependencies of the receivers are not served; the build needs none
    if ! (export GOWORK=off GOBIN=$CACHE/bin CGO_ENABLED=0
      "$GO" install "go.opentelemetry.io/collector/cmd/builder@$OTEL" &&
        cd "$w" && "$CACHE/bin/builder" --config builder.yaml --skip-get-modules --skip-compilation &&
        cd dist && "$GO" mod tidy -e && "$GO" build -trimpath -o "$OTELCOL.tmp" .) >"$CACHE/build.log" 2>&1; then
      tail -20 "$CACHE/build.log" >&2
      log "building the collector failed, see $CACHE/build.log"
      exit 1
    fi
    mv "$OTELCOL.tmp" "$OTELCOL"
    rm -rf "$w"
    log "built $OTELCOL in $((SECONDS - t0)) s"
  ) 9>"$CACHE/build.lock"
}

# --- throwaway CA, server and client certificates ----------------------------------
make_tls() {
  local t=$DIR/tls
  [[ -f $t/client.crt ]] && return
  mkdir -p "$t" && chmod 700 "$t"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=vigil-siem-test-ca \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -keyout "$t/ca.key" -out "$t/ca.crt" 2>/dev/null
  for n in server client; do
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=vigil-siem-$n" \
      -keyout "$t/$n.key" -out "$t/$n.csr" 2>/dev/null
    openssl x509 -req -in "$t/$n.csr" -CA "$t/ca.crt" -CAkey "$t/ca.key" -CAcreateserial -days 30 -out "$t/$n.crt" \
      -extfile <(printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=%sAuth\n' "$n") 2>/dev/null
  done
  rm -f "$t"/*.csr
}

alive() { local s; [[ -f $1 ]] && s=$(ps -o stat= -p "$(cat "$1")") && [[ $s != Z* ]]; }
listening() { ss -Hltn "sport = :$1" | grep -q LISTEN; }
wait_port() {  # $1 port, $2 pidfile, $3 log: up to 30 s
  for _ in $(seq 300); do
    listening "$1" && return 0
    [[ -f $2 ]] && ! alive "$2" && break
    sleep 0.1
  done
  log "nothing listens on 127.0.0.1:$1, see $3"
  exit 1
}

# --- rsyslog ------------------------------------------------------------------------
start_rsyslog() {
  local d=$DIR/rsyslog
  alive "$d/rsyslogd.pid" && return
  mkdir -p "$d/work"
  sed -e "s#@DIR@#$d#g" -e "s#@TLS@#$DIR/tls#g" -e "s#@TLS_PORT@#$TLS_PORT#g" -e "s#@TCP_PORT@#$TCP_PORT#g" \
    >"$d/rsyslog.conf" <<'EOF'
# Standalone rsyslog for Vigil's sink tests: no system inputs, loopback only.
global(workDirectory="@DIR@/work" maxMessageSize="1m"
       defaultNetstreamDriver="gtls"
       defaultNetstreamDriverCAFile="@TLS@/ca.crt"
       defaultNetstreamDriverCertFile="@TLS@/server.crt"
       defaultNetstreamDriverKeyFile="@TLS@/server.key")
module(load="imptcp")
module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
module(load="mmjsonparse")
input(type="imptcp" port="@TCP_PORT@" address="127.0.0.1" ruleset="siem" supportOctetCountedFraming="on")
input(type="imtcp" port="@TLS_PORT@" address="127.0.0.1" ruleset="siem")

# one line per event: header fields, then the message parsed as JSON
template(name="jsonl" type="list") {
  constant(value="{\"ts\":\"")       property(name="timereported" dateFormat="rfc3339")
  constant(value="\",\"host\":\"")   property(name="hostname")
  constant(value="\",\"app\":\"")    property(name="app-name")
  constant(value="\",\"pri\":\"")    property(name="pri")
  constant(value="\",\"event\":")    property(name="$!")
  constant(value="}\n")
}
ruleset(name="siem") {
  action(type="mmjsonparse" cookie="")
  if $parsesuccess == "OK" then {
    action(type="omfile" file="@DIR@/events.jsonl" template="jsonl")
  } else {
    action(type="omfile" file="@DIR@/unparsed.log")
  }
}
EOF
  rm -f "$d/rsyslogd.pid"
  rsyslogd -f "$d/rsyslog.conf" -i "$d/rsyslogd.pid" </dev/null >>"$d/rsyslogd.log" 2>&1
  wait_port "$TLS_PORT" "$d/rsyslogd.pid" "$d/rsyslogd.log"
  wait_port "$TCP_PORT" "$d/rsyslogd.pid" "$d/rsyslogd.log"
}

# --- collector ------------------------------------------------------------------------
start_otelcol() {
  local d=$DIR/otelcol
  alive "$d/otelcol.pid" && return
  mkdir -p "$d"
  cat >"$d/config.yaml" <<EOF
receivers:
  splunk_hec:                        # POST /services/collector/event
    endpoint: 127.0.0.1:$HEC_PORT
    tls:
      cert_file: $DIR/tls/server.crt
      key_file: $DIR/tls/server.key
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:$OTLP_GRPC_PORT
      http:
        endpoint: 127.0.0.1:$OTLP_HTTP_PORT
exporters:
  file:
    path: $d/received.jsonl          # one OTLP-JSON logs request per line
    append: true                     # keep what came before a restart
    flush_interval: 100ms
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    logs:
      receivers: [splunk_hec, otlp]
      exporters: [file]
EOF
  setsid "$OTELCOL" --config "$d/config.yaml" </dev/null >>"$d/otelcol.log" 2>&1 &
  echo $! >"$d/otelcol.pid"
  wait_port "$HEC_PORT" "$d/otelcol.pid" "$d/otelcol.log"
  wait_port "$OTLP_GRPC_PORT" "$d/otelcol.pid" "$d/otelcol.log"
  wait_port "$OTLP_HTTP_PORT" "$d/otelcol.pid" "$d/otelcol.log"
}

t0=$SECONDS
want rsyslog && install_pkgs
want otelcol && { command -v openssl >/dev/null || install_pkgs; build_otelcol; }
mkdir -p "$DIR" && chmod 700 "$DIR"
make_tls
want rsyslog && start_rsyslog
want otelcol && start_otelcol
log "ready in $((SECONDS - t0)) s; logs and received events under $DIR"
cat <<EOF
export VIGIL_SIEM_DIR=$DIR
export VIGIL_SIEM_CA=$DIR/tls/ca.crt
export VIGIL_SIEM_CLIENT_CERT=$DIR/tls/client.crt
export VIGIL_SIEM_CLIENT_KEY=$DIR/tls/client.key
export VIGIL_SIEM_SYSLOG_TLS=127.0.0.1:$TLS_PORT
export VIGIL_SIEM_SYSLOG_TCP=127.0.0.1:$TCP_PORT
export VIGIL_SIEM_RSYSLOG_OUT=$DIR/rsyslog/events.jsonl
export VIGIL_SIEM_HEC=https://127.0.0.1:$HEC_PORT
export VIGIL_SIEM_OTELCOL_OUT=$DIR/otelcol/received.jsonl
export VIGIL_SIEM_OTLP_GRPC=127.0.0.1:$OTLP_GRPC_PORT
export VIGIL_SIEM_OTLP_HTTP=127.0.0.1:$OTLP_HTTP_PORT
EOF
