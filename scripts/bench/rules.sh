#!/usr/bin/env bash
# Measures what a message rule costs ingest: the same MQTT load at the same
# rate, once on Hearth's own telemetry topic and once on a device type's
# own topic (dt/{name}/data) through one rule with a mapping
# (SELECT *, chw_supply_c * 1.8 + 32 AS chw_supply_f FROM 'dt/+/data',
# stored as telemetry), one Hearth, one data directory, one run each, and
# prints acknowledged msg/s, PUBACK p50 and p99, and the ratio.
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

bench=rules
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
for v in DEVICES METRICS RATE HEARTH_HTTP_PORT HEARTH_MQTT_PORT; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v=${!v} must be a whole number"
done
for c in curl jq; do command -v "$c" >/dev/null || die "$c not found"; done
echo "== machine: $cores cores, $(uptime | sed 's/.*load average/load average/')"
get_hearth
data=$work/data
start_hearth "$data" "$work/serve.log"
call() { # METHOD PATH BODY
	curl -sf --cacert "$data/tls/ca.pem" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
		-X "$1" "$api$2" ${3:+--data "$3"} >/dev/null || die "$1 $2 failed"
}
call PUT /api/v1/device-types/legacy '{"settings": [], "topics": ["dt/{name}/data"]}'
call POST /api/v1/rules '{"name": "legacy", "sql": "SELECT *, chw_supply_c * 1.8 + 32 AS chw_supply_f FROM '"'"'dt/+/data'"'"'", "actions": [{"kind": "telemetry"}]}'
timeout 600 "$work/hearth" simulate load provision -api "$api" -api-ca "$data/tls/ca.pem" -creds "$work/creds" \
	-devices "$DEVICES" -customer bench -type legacy >/dev/null

# measure TOPIC: one run; prints msg/s, p50 ms, p99 ms.
measure() {
	timeout -k 10 600 "$work/hearth" simulate load run -broker "127.0.0.1:$HEARTH_MQTT_PORT" -ca "$data/tls/ca.pem" \
		-creds "$work/creds" -auth cert -metrics "$METRICS" -rate "$RATE" -duration "$DURATION" -qos 1 \
		-inflight "$INFLIGHT" -topic "$1" -progress 0 -json >"$work/run.json" 2>"$work/run.log" || die "load failed: $(tail -3 "$work/run.log")"
	jq -r '"\(.MsgsPerSec | floor) \(.LatencyP50 / 1e6 * 10 | floor / 10) \(.LatencyP99 / 1e6 * 10 | floor / 10)"' "$work/run.json"
}
echo "== load on hearth/things/{name}/telemetry"
native=$(measure 'hearth/things/{name}/telemetry')
echo "== load on dt/{name}/data through the rule"
rule=$(measure 'dt/{name}/data')
stored=$(curl -sf --cacert "$data/tls/ca.pem" -H "Authorization: Bearer $token" "$api/api/v1/rules" | jq '.rules[0].stats')
echo "== result: $DEVICES TLS devices, $METRICS metrics per message, QoS 1, inflight $INFLIGHT, $RATE msg/s, $DURATION a run"
read -r n50 n99 <<<"$(cut -d' ' -f2- <<<"$native")"
read -r r50 r99 <<<"$(cut -d' ' -f2- <<<"$rule")"
printf '%-28s %8s msg/s  p50 %6s ms  p99 %6s ms\n' "native telemetry topic" "${native%% *}" "$n50" "$n99"
printf '%-28s %8s msg/s  p50 %6s ms  p99 %6s ms\n' "own topic through a rule" "${rule%% *}" "$r50" "$r99"
echo "ratio: $(awk -v a="${rule%% *}" -v b="${native%% *}" 'BEGIN { printf "%.3f", a / b }')"
echo "rule counters: $(jq -c . <<<"$stored")"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
