#!/usr/bin/env bash
# Measures what one flooding device does to the others: NORMAL devices send
# NORMAL_RATE messages a second in all while one device sends messages of
# FLOOD_METRICS samples as fast as FLOOD_INFLIGHT unacknowledged messages
# allow, for DURATION; once with Hearth's per-device telemetry rate (the
# default) and once without (--telemetry-rate 0), each on a fresh data
# directory. Prints, for each, the normal devices' acknowledged msg/s and
# PUBACK p50/p99, and the samples the flooding device got stored.
#
# Settings come from the environment:
#   NORMAL=200 NORMAL_RATE=2000 FLOOD_METRICS=400 FLOOD_INFLIGHT=64 DURATION=20s
#   HEARTH_HTTP_PORT=18443 HEARTH_MQTT_PORT=18887
#   HEARTH_BIN=f  use this hearth binary instead of building one
#
# Needs Go (unless HEARTH_BIN), curl and jq.
set -euo pipefail

NORMAL=${NORMAL:-200}
NORMAL_RATE=${NORMAL_RATE:-2000}
FLOOD_METRICS=${FLOOD_METRICS:-400}
FLOOD_INFLIGHT=${FLOOD_INFLIGHT:-64}
DURATION=${DURATION:-20s}
HEARTH_HTTP_PORT=${HEARTH_HTTP_PORT:-18443}
HEARTH_MQTT_PORT=${HEARTH_MQTT_PORT:-18887}

bench=flood
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
for v in NORMAL NORMAL_RATE FLOOD_METRICS FLOOD_INFLIGHT HEARTH_HTTP_PORT HEARTH_MQTT_PORT; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v=${!v} must be a whole number"
done
for c in curl jq; do command -v "$c" >/dev/null || die "$c not found"; done
echo "== machine: $cores cores, $(uptime | sed 's/.*load average/load average/')"
get_hearth

# measure LIMIT: one run; prints normal msg/s, p50 ms, p99 ms, flood samples stored.
measure() {
	local limit=$1 data=$work/data-$1
	HEARTH_SERVE_FLAGS="--telemetry-rate $limit --telemetry-max-batch 1000" start_hearth "$data" "$work/serve-$limit.log" >&2
	timeout 600 "$work/hearth" simulate load provision -api "$api" -api-ca "$data/tls/ca.pem" -creds "$work/normal-$limit" \
		-devices "$NORMAL" -customer normal -prefix normal >/dev/null
	timeout 600 "$work/hearth" simulate load provision -api "$api" -api-ca "$data/tls/ca.pem" -creds "$work/flood-$limit" \
		-devices 1 -customer flood -prefix flood >/dev/null
	run() { # CREDS RATE METRICS INFLIGHT OUT
		timeout -k 10 600 "$work/hearth" simulate load run -broker "127.0.0.1:$HEARTH_MQTT_PORT" -ca "$data/tls/ca.pem" \
			-creds "$1" -auth cert -rate "$2" -metrics "$3" -inflight "$4" -duration "$DURATION" -qos 1 -progress 0 -json >"$5" 2>"$5.log"
	}
	run "$work/flood-$limit" 0 "$FLOOD_METRICS" "$FLOOD_INFLIGHT" "$work/flood-$limit.json" &
	local flood=$!
	run "$work/normal-$limit" "$NORMAL_RATE" 20 10 "$work/normal-$limit.json"
	wait "$flood" || true
	local stored
	stored=$(curl -sf --cacert "$data/tls/ca.pem" "$api/metrics" | awk '$1 == "hearth_telemetry_samples_stored_total" { printf "%d", $2 }')
	stop "$hearth_pid"
	jq -r --arg s "$stored" --arg n "$NORMAL_RATE" --arg fm "$FLOOD_METRICS" --slurpfile f "$work/flood-$limit.json" \
		'"\(.MsgsPerSec | floor) \(.LatencyP50 / 1e6 * 10 | floor / 10) \(.LatencyP99 / 1e6 * 10 | floor / 10) \($f[0].Acked * ($fm | tonumber)) \($s)"' "$work/normal-$limit.json"
}
echo "== with the per-device rate (1,000 samples/s, 500,000 at once)"
with=$(measure 1000)
echo "== without it"
without=$(measure 0)
echo "== result: $NORMAL devices at $NORMAL_RATE msg/s in all, one flooding with $FLOOD_METRICS samples a message, inflight $FLOOD_INFLIGHT, $DURATION"
row() {
	read -r mps p50 p99 flood stored <<<"$2"
	printf '%-22s normal: %6s msg/s  p50 %7s ms  p99 %7s ms   flood: %10s samples acknowledged   stored in all: %s\n' "$1" "$mps" "$p50" "$p99" "$flood" "$stored"
}
row "with the rate" "$with"
row "without" "$without"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
