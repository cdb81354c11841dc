#!/usr/bin/env bash
# Measures remote write: what mirroring every stored sample to a real
# single-node VictoriaMetrics costs Hearth at the ingest target, and how
# fast a receiver that was away is caught up.
#
# 1. The same MQTT load against Hearth without remote write and with it
#    (--remote-write-url to VictoriaMetrics), each on a fresh data
#    directory: acknowledged messages/s, samples sent/s, the lag at the
#    end, and Hearth's CPU per stored sample in each run (the ratio is the
#    extra CPU remote write costs; VictoriaMetrics' own CPU is given apart).
# 2. An outage: Hearth with remote write to a VictoriaMetrics that is not
#    running, under the same load for OUTAGE; then VictoriaMetrics is
#    started and the time until Hearth's lag is back to 0 gives the
#    catch-up speed (samples/s), with Hearth's CPU meanwhile. Every sample
#    stored is then counted in VictoriaMetrics.
#
# The load is `hearth simulate load`: DEVICES devices on their own TLS
# connections with client certificates, METRICS numbers per message, QoS 1,
# at most INFLIGHT unacknowledged per device. Everything listens on
# 127.0.0.1, lives in a temporary directory and is stopped on exit.
#
# Settings come from the environment:
#   DEVICES=1000 METRICS=20 RATE=10000 DURATION=30s OUTAGE=60s INFLIGHT=10
#   HEARTH_HTTP_PORT=18443 HEARTH_MQTT_PORT=18887 VM_PORT=18428
#   HEARTH_BIN=f  use this hearth binary instead of building one
#   VM_BIN=f      use this victoria-metrics binary instead of `go tool -n victoria-metrics`
#
# Needs Go (unless HEARTH_BIN and VM_BIN), curl and jq.
set -euo pipefail

DEVICES=${DEVICES:-1000}
METRICS=${METRICS:-20}
RATE=${RATE:-10000}
DURATION=${DURATION:-30s}
OUTAGE=${OUTAGE:-60s}
INFLIGHT=${INFLIGHT:-10}
HEARTH_HTTP_PORT=${HEARTH_HTTP_PORT:-18443}
HEARTH_MQTT_PORT=${HEARTH_MQTT_PORT:-18887}
VM_PORT=${VM_PORT:-18428}

bench=remotewrite
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
for v in DEVICES METRICS RATE HEARTH_HTTP_PORT HEARTH_MQTT_PORT VM_PORT; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v=${!v} must be a whole number"
done
for c in curl jq; do command -v "$c" >/dev/null || die "$c not found"; done
echo "== machine: $cores cores, $(uptime | sed 's/.*load average/load average/')"
get_hearth
if [[ -n ${VM_BIN:-} ]]; then
	cp "$VM_BIN" "$work/victoria-metrics"
else
	echo "== building victoria-metrics (go tool -n victoria-metrics)"
	cp "$(cd "$root" && go tool -n victoria-metrics)" "$work/victoria-metrics"
fi
vm=http://127.0.0.1:$VM_PORT
write_url=$vm/api/v1/write

# start_vm starts VictoriaMetrics on $work/vmdata and waits until it answers.
start_vm() {
	"$work/victoria-metrics" -storageDataPath "$work/vmdata" -httpListenAddr "127.0.0.1:$VM_PORT" -retentionPeriod 100y \
		-dedup.minScrapeInterval 1ms -loggerLevel ERROR >>"$work/vm.log" 2>&1 &
	vm_pid=$!
	pids+=("$vm_pid")
	for _ in $(seq 300); do
		curl -sf "$vm/health" >/dev/null 2>&1 && return
		sleep 0.1
	done
	cat "$work/vm.log" >&2
	die "victoria-metrics did not answer"
}

# metric DATA NAME: the first sample of NAME in Hearth's /metrics (read
# whole: an early exit would break curl's pipe).
metric() { curl -sf --cacert "$1/tls/ca.pem" "$api/metrics" | awk -v n="$2" '!done && ($1 == n || index($1, n "{") == 1) { printf "%d\n", $2; done = 1 }'; }

# provision NAME DATA: the devices and their credentials.
provision() {
	timeout 600 "$work/hearth" simulate load provision -api "$api" -api-ca "$2/tls/ca.pem" -creds "$work/$1.creds" \
		-devices "$DEVICES" -customer bench >/dev/null
}

# load NAME DATA RATE DURATION: runs the load; the load generator's JSON is
# $work/NAME.json.
load() {
	local name=$1 data=$2 rate=$3 duration=$4
	timeout -k 10 900 "$work/hearth" simulate load run -broker "127.0.0.1:$HEARTH_MQTT_PORT" -ca "$data/tls/ca.pem" \
		-creds "$work/$name.creds" -auth cert -metrics "$METRICS" -rate "$rate" -duration "$duration" -qos 1 \
		-inflight "$INFLIGHT" -progress 0 -json >"$work/$name.json" 2>"$work/$name.log" || die "load failed: $(tail -3 "$work/$name.log")"
}

# measure RW: one run on a fresh Hearth, with remote write (RW=true) or
# not; prints msg/s, samples stored, Hearth CPU µs per sample, samples
# sent/s, lag at the end, VictoriaMetrics CPU µs per sample.
measure() {
	local rw=$1 data name flags="" c0 c1 v0=0 v1=0 s0=0 s1=0 t0 t1 lag=0 stored
	name=rw-$rw
	data=$work/$name
	if [[ $rw == true ]]; then
		flags="--remote-write-url $write_url --remote-write-label hearth_box=bench"
	fi
	HEARTH_SERVE_FLAGS="$flags" start_hearth "$data" "$work/$name.serve.log" >&2
	provision "$name" "$data"
	c0=$(cpu_ticks "$hearth_pid")
	[[ $rw == true ]] && v0=$(cpu_ticks "$vm_pid") && s0=$(metric "$data" hearth_remote_write_samples_sent_total)
	t0=$(date +%s.%N)
	load "$name" "$data" "$RATE" "$DURATION"
	t1=$(date +%s.%N)
	c1=$(cpu_ticks "$hearth_pid")
	if [[ $rw == true ]]; then
		v1=$(cpu_ticks "$vm_pid")
		s1=$(metric "$data" hearth_remote_write_samples_sent_total)
		lag=$(metric "$data" hearth_remote_write_lag_samples)
	fi
	stored=$(metric "$data" hearth_telemetry_samples_stored_total)
	stop "$hearth_pid"
	jq -r --arg c $((c1 - c0)) --arg v $((v1 - v0)) --arg s $((s1 - s0)) --arg lag "$lag" --arg stored "$stored" \
		--arg hz "$hz" --arg el "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" \
		'"\(.MsgsPerSec | floor) \($stored) \(($c | tonumber) / ($hz | tonumber) * 1e6 / ($stored | tonumber) * 100 | floor / 100) \(($s | tonumber) / (.Elapsed / 1e9) | floor) \($lag) \(if ($s | tonumber) > 0 then (($v | tonumber) / ($hz | tonumber) * 1e6 / ($s | tonumber) * 100 | floor / 100) else 0 end)"' "$work/$name.json"
}

start_vm
echo "== load at $RATE msg/s for $DURATION, without remote write"
measure false >"$work/result-false"
echo "== load at $RATE msg/s for $DURATION, with remote write to VictoriaMetrics"
measure true >"$work/result-true"
read -r mps0 st0 cpu0 _ _ _ <"$work/result-false"
read -r mps1 st1 cpu1 sent1 lag1 vcpu1 <"$work/result-true"

echo "== outage: $OUTAGE of load at $RATE msg/s while VictoriaMetrics is away, then catch-up"
stop "$vm_pid"
rm -rf "$work/vmdata"
data=$work/outage
HEARTH_SERVE_FLAGS="--remote-write-url $write_url --remote-write-max-backlog 16GiB" start_hearth "$data" "$work/outage.serve.log"
provision outage "$data"
load outage "$data" "$RATE" "$OUTAGE"
backlog=$(metric "$data" hearth_remote_write_lag_samples)
backlog_bytes=$(metric "$data" hearth_remote_write_backlog_bytes)
stored=$(metric "$data" hearth_telemetry_samples_stored_total)
sent0=$(metric "$data" hearth_remote_write_samples_sent_total)
tv=$(date +%s.%N)
start_vm
# The sender retries on its backoff (at most a minute): the catch-up is
# timed from its first batch accepted.
while [[ $(metric "$data" hearth_remote_write_samples_sent_total) == "$sent0" ]]; do sleep 0.05; done
c0=$(cpu_ticks "$hearth_pid")
t0=$(date +%s.%N)
first=$(metric "$data" hearth_remote_write_samples_sent_total)
while :; do
	lag=$(metric "$data" hearth_remote_write_lag_samples)
	[[ $lag == 0 ]] && break
	awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { exit !(b - a > 1800) }' && die "not caught up within 30 min (lag $lag)"
	sleep 0.2
done
t1=$(date +%s.%N)
c1=$(cpu_ticks "$hearth_pid")
caught=$(($(metric "$data" hearth_remote_write_samples_sent_total) - first))
wait_s=$(awk -v a="$tv" -v b="$t0" 'BEGIN { printf "%.1f", b - a }')
catchup_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
sent=$(metric "$data" hearth_remote_write_samples_sent_total)
curl -sf "$vm/internal/force_flush" >/dev/null
in_vm=$(curl -sf "$vm/api/v1/query" --data-urlencode 'query=sum(count_over_time({__name__!=""}[1d]))' --data-urlencode nocache=1 | jq -r '.data.result[0].value[1] // 0')
stop "$hearth_pid"

echo "== result: $DEVICES TLS devices, $METRICS metrics per message, QoS 1, inflight $INFLIGHT"
printf '%-28s %8s msg/s  %10s samples stored  %6s µs Hearth CPU/sample\n' "without remote write" "$mps0" "$st0" "$cpu0"
printf '%-28s %8s msg/s  %10s samples stored  %6s µs Hearth CPU/sample  %8s samples sent/s  lag at end %s  VictoriaMetrics %s µs CPU/sample\n' \
	"with remote write" "$mps1" "$st1" "$cpu1" "$sent1" "$lag1" "$vcpu1"
echo "Hearth CPU per sample, with ÷ without: $(awk -v a="$cpu1" -v b="$cpu0" 'BEGIN { printf "%.3f", a / b }')"
echo "outage $OUTAGE: $stored samples stored, backlog $backlog samples ($backlog_bytes bytes of log)"
echo "receiver back → first batch accepted: $wait_s s (the retry backoff)"
echo "catch-up after the first batch: $caught samples in $catchup_s s, $(awk -v n="$caught" -v s="$catchup_s" 'BEGIN { printf "%d", n / s }') samples/s, Hearth CPU $(awk -v c=$((c1 - c0)) -v hz="$hz" -v s="$catchup_s" 'BEGIN { printf "%.0f", c / hz / s * 100 }') % of one core"
echo "samples sent $sent, in VictoriaMetrics $in_vm, stored by Hearth $stored"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
