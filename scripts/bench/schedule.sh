#!/usr/bin/env bash
# Measures the scheduler's daily push and its verification over a simulated
# fleet, on one machine:
#
#   push         time from assigning a calendar to every device (the
#                scheduler then pushes today's program at once, as at the
#                daily push time) until every device has a push record:
#                its desired program written;
#   verified     time from the push's start until every device reported the
#                program back and the scheduler counted it verified;
#   commits      bbolt write transactions (each an fsync) over that time,
#                per device;
#   cpu          Hearth's CPU over that time;
#   ingest       telemetry messages Hearth stored per second in the window
#                before the push and during it, from /metrics.
#
# The simulated chillers (`hearth simulate --kind chiller`, each on its own
# TLS connection) send telemetry every INTERVAL and take a desired program
# as firmware does: they report it back and follow it. Everything listens on
# 127.0.0.1, lives in a temporary directory and is stopped on exit.
#
# Settings come from the environment:
#   DEVICES=10000 INTERVAL=10s BASELINE=20
#   HEARTH_HTTP_PORT=18443 HEARTH_MQTT_PORT=18885
#   HEARTH_BIN=f  use this hearth binary instead of building one
#
# Needs Go (unless HEARTH_BIN), curl and jq.
set -euo pipefail

DEVICES=${DEVICES:-10000}
INTERVAL=${INTERVAL:-10s}
BASELINE=${BASELINE:-20}
HEARTH_HTTP_PORT=${HEARTH_HTTP_PORT:-18443}
HEARTH_MQTT_PORT=${HEARTH_MQTT_PORT:-18885}

bench=schedule
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

for v in DEVICES BASELINE HEARTH_HTTP_PORT HEARTH_MQTT_PORT; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v=${!v} must be a whole number"
done
for c in curl jq; do command -v "$c" >/dev/null || die "$c not found"; done
for p in "$HEARTH_HTTP_PORT" "$HEARTH_MQTT_PORT"; do
	if listening "$p"; then die "port $p on 127.0.0.1 is in use; set HEARTH_HTTP_PORT or HEARTH_MQTT_PORT"; fi
done
want=$((DEVICES + 512)) hard=$(ulimit -Hn)
[[ $hard == unlimited ]] || ((want <= hard)) || die "DEVICES=$DEVICES needs $want open files; this shell allows $hard (ulimit -Hn)"
(($(ulimit -n) >= want)) || ulimit -n "$want"

echo "== machine: $cores cores, $(uptime | sed 's/.*load average/load average/')"
get_hearth
data=$work/data
export HEARTH_SERVE_FLAGS="--mqtt-max-clients $((DEVICES + 100))"
start_hearth "$data" "$work/serve.log"

call() { # METHOD PATH [BODY]: the API as the bench operator; fails on an error status
	curl -sf --cacert "$data/tls/ca.pem" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
		-X "$1" "$api$2" ${3:+--data "$3"}
}
metric() { # NAME: its value in /metrics
	curl -sf --cacert "$data/tls/ca.pem" "$api/metrics" | awk -v n="$1" '$1 == n { printf "%d\n", $2 }'
}

call POST /api/v1/customers '{"name": "bench", "display_name": "Scheduler benchmark"}' >/dev/null
sim=("$work/hearth" simulate --data "$data" --server "localhost:$HEARTH_MQTT_PORT" --devices "$DEVICES" --kind chiller
	--customer bench --creds "$work/creds" --interval "$INTERVAL" --progress 5s)
echo "== provisioning $DEVICES chillers"
timeout 1200 "${sim[@]}" --provision --log-level warn >"$work/provision.log" 2>&1 || die "provisioning failed: $(tail -5 "$work/provision.log")"

echo "== running them, one message every $INTERVAL each"
"${sim[@]}" >"$work/sim.out" 2>"$work/sim.log" &
sim_pid=$!
pids+=("$sim_pid")
for _ in $(seq 1800); do
	if grep -q "stats=\"$DEVICES/$DEVICES connected" "$work/sim.log" 2>/dev/null; then break; fi
	kill -0 "$sim_pid" 2>/dev/null || die "the simulator ended: $(tail -5 "$work/sim.log")"
	sleep 1
done
grep -q "stats=\"$DEVICES/$DEVICES connected" "$work/sim.log" || die "not every device connected in 30 min"

# A calendar whose every day runs the same program, in UTC so that the day
# and the push time (passed at 00:00) do not depend on when this runs.
call PUT /api/v1/calendars/bench "$(jq -n '{
	customer: "bench", name: "Benchmark", device_type: "chiller", time_zone: "UTC", push_at: "00:00",
	day_types: [{name: "open", steps: [
		{at: "00:00", set: {mode: "cooling", chw_setpoint_c: 8}},
		{at: "07:00", set: {chw_setpoint_c: 7}},
		{at: "20:00", set: {chw_setpoint_c: 9}}]}],
	weekly: {monday: "open", tuesday: "open", wednesday: "open", thursday: "open", friday: "open", saturday: "open", sunday: "open"}
}')" >/dev/null

echo "== ingest before the push, ${BASELINE} s"
sleep "$(awk -v i="$INTERVAL" 'BEGIN { print i + 0 }')"
m0=$(metric hearth_telemetry_messages_total) b0=$(date +%s.%N)
sleep "$BASELINE"
m1=$(metric hearth_telemetry_messages_total) b1=$(date +%s.%N)

echo "== push: assigning the calendar to every chiller of the customer"
commits0=$(metric hearth_store_commits_total) cpu0=$(cpu_ticks "$hearth_pid") t0=$(date +%s.%N)
call POST /api/v1/calendars/bench/assignments '{"device_types": ["chiller"]}' >/dev/null
t_pushed=
verified=0 status=
for _ in $(seq 1200); do
	status=$(call GET /api/v1/schedule/status | jq -c '.customers.bench // {}')
	verified=$(jq -r '.verified // 0' <<<"$status")
	if [[ -z $t_pushed ]] && (($(jq -r '[.[]] | add // 0' <<<"$status") >= DEVICES)); then t_pushed=$(date +%s.%N); fi
	((verified >= DEVICES)) && break
	sleep 0.25
done
t_pushed=${t_pushed:-$(date +%s.%N)}
t1=$(date +%s.%N) cpu1=$(cpu_ticks "$hearth_pid") commits1=$(metric hearth_store_commits_total)
m2=$(metric hearth_telemetry_messages_total)
((verified >= DEVICES)) || echo "== not every device verified in 5 min: $status"
grep 'stats=' "$work/sim.log" | tail -1 | sed 's/.*stats=//'
stop "$sim_pid"
if grep -Eq 'level=(WARN|ERROR)' "$work/serve.log"; then
	echo "== hearth warnings and errors (first 10)"
	grep -E 'level=(WARN|ERROR)' "$work/serve.log" | head -10 || true
fi

secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
rate() { awk -v m="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f", m / (b - a) }'; }
cat <<SUMMARY
== result
devices          $DEVICES chillers, one telemetry message per $INTERVAL each
push             $(secs "$t0" "$t_pushed") s until every device's program was written (status polled every 0.25 s, at most 1 s stale)
verified         $verified of $DEVICES after $(secs "$t0" "$t1") s ($status)
commits          $((commits1 - commits0)) bbolt commits, $(awk -v c=$((commits1 - commits0)) -v n="$DEVICES" 'BEGIN { printf "%.2f", c / n }') per device
hearth cpu       $(awk -v t=$((cpu1 - cpu0)) -v hz="$hz" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", 100 * t / hz / (b - a) }') % of one core over the push
ingest           $(rate $((m1 - m0)) "$b0" "$b1") msg/s before, $(rate $((m2 - m1)) "$t0" "$t1") msg/s during the push
load average     $(cut -d' ' -f1-3 /proc/loadavg)
SUMMARY
