#!/usr/bin/env bash
# siem-down.sh [rsyslog|otelcol|all] - stop what siem-up.sh started from $VIGIL_SIEM_DIR
# (by recorded PID). Received events, logs and certificates stay; VIGIL_SIEM_CLEAN=1
# deletes $VIGIL_SIEM_DIR once everything is stopped.
set -euo pipefail
WHAT=${1:-all}
DIR=${VIGIL_SIEM_DIR:-/tmp/vigil-siem}
case $WHAT in rsyslog | otelcol | all) ;; *) echo "usage: siem-down.sh [rsyslog|otelcol|all]" >&2; exit 2 ;; esac

running() { local s; s=$(ps -o stat= -p "$1") && [[ $s != Z* ]]; }   # zombies do not count
stop() {  # $1 pidfile, $2 name its command line must hold (PIDs get reused)
  local pid
  [[ -f $1 ]] || return 0
  pid=$(cat "$1")
  if [[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "$2"; then
    kill -TERM "$pid"
    for _ in $(seq 100); do running "$pid" || break; sleep 0.1; done
    if running "$pid"; then kill -KILL "$pid"; fi
  fi
  rm -f "$1"
}
[[ $WHAT == otelcol ]] || stop "$DIR/rsyslog/rsyslogd.pid" rsyslogd
[[ $WHAT == rsyslog ]] || stop "$DIR/otelcol/otelcol.pid" otelcol-siem
if [[ $WHAT == all && ${VIGIL_SIEM_CLEAN:-0} == 1 ]]; then rm -rf "$DIR"; fi
echo "siem-down: stopped $WHAT" >&2
