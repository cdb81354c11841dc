#!/usr/bin/env bash
# Measures what alarm rules cost telemetry ingest: the same MQTT load twice
# against one Hearth, first with no alarm rule, then with RULES rules that
# every message evaluates, and prints for each run the acknowledged
# messages per second, Hearth's CPU per message, and the events the alarm
# engine lost (it must lose none), with the ratio of the two rates.
#
# The load is `hearth simulate load`: DEVICES devices, each on its own TLS
# connection with its own client certificate, publishing a flat JSON object
# of METRICS numbers with QoS 1 at RATE messages per second in all. The
# rules watch the devices' site; each compares one or two of the metrics
# every message carries (so every message evaluates every rule), a fifth of
# them with a duration, and none fires. Everything listens on 127.0.0.1,
# lives in a temporary directory and is stopped on exit.
#
# Settings come from the environment:
#   DEVICES=1000 METRICS=20 RATE=10000 DURATION=20s RULES=50 INFLIGHT=10
#   HEARTH_HTTP_PORT=18443 HEARTH_MQTT_PORT=18886
#   HEARTH_BIN=f  use this hearth binary instead of building one
#
# Needs Go (unless HEARTH_BIN), curl and jq.
set -euo pipefail

DEVICES=${DEVICES:-1000}
METRICS=${METRICS:-20}
RATE=${RATE:-10000}
DURATION=${DURATION:-20s}
RULES=${RULES:-50}
INFLIGHT=${INFLIGHT:-10}
HEARTH_HTTP_PORT=${HEARTH_HTTP_PORT:-18443}
HEARTH_MQTT_PORT=${HEARTH_MQTT_PORT:-18886}

bench=alarms
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

for v in DEVICES METRICS RATE RULES HEARTH_HTTP_PORT HEARTH_MQTT_PORT; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v=${!v} must be a whole number"
done
for c in curl jq; do command -v "$c" >/dev/null || die "$c not found"; done
((METRICS >= 10)) || die "METRICS=$METRICS: the rules read ten metrics; give at least 10"
for p in "$HEARTH_HTTP_PORT" "$HEARTH_MQTT_PORT"; do
	if listening "$p"; then die "port $p on 127.0.0.1 is in use; set HEARTH_HTTP_PORT or HEARTH_MQTT_PORT"; fi
done

echo "== machine: $cores cores, $(uptime | sed 's/.*load average/load average/')"
get_hearth
data=$work/data
start_hearth "$data" "$work/serve.log"
call() {
	curl -sf --cacert "$data/tls/ca.pem" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
		-X "$1" "$api$2" ${3:+--data "$3"}
}
metric() { curl -sf --cacert "$data/tls/ca.pem" "$api/metrics" | awk -v n="$1" '$1 == n { printf "%d\n", $2 }'; }

echo "== provisioning $DEVICES devices"
timeout 600 "$work/hearth" simulate load provision -api "$api" -api-ca "$data/tls/ca.pem" -creds "$work/creds" \
	-devices "$DEVICES" -customer bench >/dev/null

# run NAME: one load run; prints acknowledged msg/s and Hearth's CPU µs per
# acknowledged message.
run() {
	local name=$1 c0 c1
	c0=$(cpu_ticks "$hearth_pid")
	timeout -k 10 600 "$work/hearth" simulate load run -broker "127.0.0.1:$HEARTH_MQTT_PORT" -ca "$data/tls/ca.pem" \
		-creds "$work/creds" -auth cert -metrics "$METRICS" -rate "$RATE" -duration "$DURATION" -qos 1 \
		-inflight "$INFLIGHT" -progress 0 -json >"$work/$name.json" 2>"$work/$name.log" ||
		die "the $name load failed: $(tail -3 "$work/$name.log")"
	c1=$(cpu_ticks "$hearth_pid")
	jq -r --arg t $((c1 - c0)) --arg hz "$hz" \
		'"\(.MsgsPerSec | floor) \(($t | tonumber) / ($hz | tonumber) * 1e6 / (if .Acked > 0 then .Acked else 1 end) | floor)"' "$work/$name.json"
}

echo "== load without rules: $RATE msg/s, $METRICS metrics, $DURATION"
read -r off_rate off_cpu < <(run off)
dropped0=$(metric hearth_alarm_events_dropped_total)

# The first ten metrics the load generator sends (sim.MetricNames).
names=(outdoor_temp_c room_temp_c rh_pct co2_ppm power_kw energy_kwh flow_m3h pressure_kpa fan_speed_pct valve_pos_pct)
echo "== creating $RULES rules over ${#names[@]} metrics"
for i in $(seq 0 $((RULES - 1))); do
	a=${names[$((i % ${#names[@]}))]} b=${names[$(((i + 3) % ${#names[@]}))]}
	cond="$a > 1e9 || ($b < -1e9 && $a > 0)"
	for_=0s
	((i % 5 == 0)) && for_=5m
	call POST /api/v1/alarm-rules "$(jq -n --arg c "$cond" --arg f "$for_" --arg n "bench rule $i" \
		'{name: $n, customer: "bench", site: "default", severity: "minor", condition: $c, for: $f}')" >/dev/null ||
		die "creating rule $i ($cond) failed"
done

echo "== load with $RULES rules"
read -r on_rate on_cpu < <(run on)
dropped1=$(metric hearth_alarm_events_dropped_total)
alarms=$(call GET "/api/v1/alarms?customer=bench&limit=1000" | jq '.alarms | length')

cat <<SUMMARY
== result
load             $DEVICES TLS devices, $METRICS metrics per message, $RATE msg/s target, $DURATION each run, QoS 1
without rules    $off_rate msg/s acknowledged, $off_cpu µs of Hearth CPU per message
with $RULES rules    $on_rate msg/s acknowledged, $on_cpu µs of Hearth CPU per message
ratio            $(awk -v a="$on_rate" -v b="$off_rate" 'BEGIN { printf "%.3f", a / b }') (rate with rules ÷ without); CPU per message $(awk -v a="$on_cpu" -v b="$off_cpu" 'BEGIN { printf "%.2f", a / b }')×
engine           $((dropped1 - dropped0)) events lost during the run with rules ($dropped0 before); $alarms alarms raised (none expected)
load average     $(cut -d' ' -f1-3 /proc/loadavg)
SUMMARY
