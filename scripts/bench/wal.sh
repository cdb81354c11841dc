#!/usr/bin/env bash
# Measures what the telemetry write-ahead log costs ingest: the same MQTT
# load against Hearth with the log (the default) and without it
# (--telemetry-log=false), one after the other, each on a fresh data
# directory, at a paced rate and unpaced, and prints for each run the
# acknowledged messages per second, publish→PUBACK p50 and p99, and with
# the log its fsyncs per second and bytes written per sample.
#
# The load is `hearth simulate load`: DEVICES devices on their own TLS
# connections with client certificates, METRICS numbers per message, QoS 1,
# at most INFLIGHT unacknowledged per device. Everything listens on
# 127.0.0.1, lives in a temporary directory and is stopped on exit.
#
# Settings come from the environment:
#   DEVICES=1000 METRICS=20 RATE=10000 DURATION=20s INFLIGHT=10
#   HEARTH_HTTP_PORT=18443 HEARTH_MQTT_PORT=18887
#   HEARTH_BIN=f  use this hearth binary instead of building one
#
# Needs Go (unless HEARTH_BIN), curl and jq.
set -euo pipefail

DEVICES=${DEVICES:-1000}
METRICS=${METRICS:-20}
RATE=${RATE:-10000}
DURATION=${DURATION:-20s}
INFLIGHT=${INFLIGHT:-10}
HEARTH_HTTP_PORT=${HEARTH_HTTP_PORT:-18443}
HEARTH_MQTT_PORT=${HEARTH_MQTT_PORT:-18887}

bench=wal
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
for v in DEVICES METRICS RATE HEARTH_HTTP_PORT HEARTH_MQTT_PORT; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v=${!v} must be a whole number"
done
for c in curl jq; do command -v "$c" >/dev/null || die "$c not found"; done
echo "== machine: $cores cores, $(uptime | sed 's/.*load average/load average/')"
get_hearth
metric() { curl -sf --cacert "$1/tls/ca.pem" "$api/metrics" | awk -v n="$2" '$1 == n { printf "%d\n", $2 }'; }

# measure LOG RATE: one run on a fresh Hearth; prints msg/s, p50 ms, p99 ms,
# fsyncs/s, bytes/sample.
measure() {
	local log=$1 rate=$2 data name s0 b0 s1 b1
	name=log-$log-rate-$rate
	data=$work/$name
	HEARTH_SERVE_FLAGS="--telemetry-log=$log" start_hearth "$data" "$work/$name.serve.log" >&2
	timeout 600 "$work/hearth" simulate load provision -api "$api" -api-ca "$data/tls/ca.pem" -creds "$work/$name.creds" \
		-devices "$DEVICES" -customer bench >/dev/null
	s0=$(metric "$data" hearth_telemetry_log_syncs_total) b0=$(metric "$data" hearth_telemetry_log_bytes_total)
	timeout -k 10 600 "$work/hearth" simulate load run -broker "127.0.0.1:$HEARTH_MQTT_PORT" -ca "$data/tls/ca.pem" \
		-creds "$work/$name.creds" -auth cert -metrics "$METRICS" -rate "$rate" -duration "$DURATION" -qos 1 \
		-inflight "$INFLIGHT" -progress 0 -json >"$work/$name.json" 2>"$work/$name.log" || die "load failed: $(tail -3 "$work/$name.log")"
	s1=$(metric "$data" hearth_telemetry_log_syncs_total) b1=$(metric "$data" hearth_telemetry_log_bytes_total)
	stop "$hearth_pid"
	jq -r --arg s $((${s1:-0} - ${s0:-0})) --arg b $((${b1:-0} - ${b0:-0})) --arg m "$METRICS" \
		'"\(.MsgsPerSec | floor) \(.LatencyP50 / 1e6 * 10 | floor / 10) \(.LatencyP99 / 1e6 * 10 | floor / 10) \(($s | tonumber) / (.Elapsed / 1e9) | floor) \(if .Acked > 0 then (($b | tonumber) / .Acked / ($m | tonumber) * 10 | floor / 10) else 0 end)"' "$work/$name.json"
}

declare -A res
for rate in "$RATE" 0; do
	for log in true false; do
		echo "== load at $( ((rate == 0)) && echo unpaced || echo "$rate msg/s"), telemetry log $log"
		measure "$log" "$rate" >"$work/result-$log-$rate" # in this shell, so cleanup knows its processes
		res[$log,$rate]=$(cat "$work/result-$log-$rate")
	done
done
row() { # LOG RATE
	read -r mps p50 p99 fs bps <<<"${res[$1,$2]}"
	if [[ $1 == true ]]; then
		printf '%-26s %8s msg/s  p50 %6s ms  p99 %6s ms  %6s fsyncs/s  %5s bytes/sample\n' "$3" "$mps" "$p50" "$p99" "$fs" "$bps"
	else
		printf '%-26s %8s msg/s  p50 %6s ms  p99 %6s ms\n' "$3" "$mps" "$p50" "$p99"
	fi
}
ratio() { awk -v a="${res[true,$1]%% *}" -v b="${res[false,$1]%% *}" 'BEGIN { printf "%.3f", a / b }'; }
echo "== result: $DEVICES TLS devices, $METRICS metrics per message, QoS 1, inflight $INFLIGHT, $DURATION a run"
row true "$RATE" "at $RATE msg/s, log"
row false "$RATE" "at $RATE msg/s, no log"
echo "ratio at $RATE msg/s: $(ratio "$RATE")"
row true 0 "unpaced, log"
row false 0 "unpaced, no log"
echo "ratio unpaced: $(ratio 0)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
