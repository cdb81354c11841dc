#!/usr/bin/env bash
# Measures how large a simulated fleet one `hearth simulate` process drives
# against a Hearth on the same machine, and what each device costs it:
#
#   connect      time from starting the simulator until every device is
#                connected (provisioning, done before, is not counted);
#   simulator    resident memory once every device is connected and has
#                sent, per device, and CPU (percent of one core) over a
#                steady window;
#   hearth       the same for the server, with the messages it acknowledged.
#
# Devices are provisioned once through the server's admin socket (as
# `hearth simulate` does without a token), each with its own secret, then
# run for STEADY at one telemetry message per INTERVAL, spread evenly.
# Everything listens on 127.0.0.1, lives in a temporary directory and is
# stopped on exit.
#
# Settings come from the environment:
#   DEVICES=5000 KIND=mixed INTERVAL=1m STEADY=120s
#   HEARTH_HTTP_PORT=18443 HEARTH_MQTT_PORT=18885
#   HEARTH_BIN=f  use this hearth binary instead of building one
#
# Needs Go (unless HEARTH_BIN) and curl.
set -euo pipefail

DEVICES=${DEVICES:-5000}
KIND=${KIND:-mixed}
INTERVAL=${INTERVAL:-1m}
STEADY=${STEADY:-120s}
HEARTH_HTTP_PORT=${HEARTH_HTTP_PORT:-18443}
HEARTH_MQTT_PORT=${HEARTH_MQTT_PORT:-18885}

bench=simulate
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

[[ $STEADY =~ ^[0-9]+s$ ]] || die "STEADY=$STEADY: give whole seconds, e.g. 120s"
steady_s=${STEADY%s}
for v in DEVICES HEARTH_HTTP_PORT HEARTH_MQTT_PORT; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v=${!v} must be a whole number"
done
command -v curl >/dev/null || die "curl not found"
for p in "$HEARTH_HTTP_PORT" "$HEARTH_MQTT_PORT"; do
	if listening "$p"; then die "port $p on 127.0.0.1 is in use; set HEARTH_HTTP_PORT or HEARTH_MQTT_PORT"; fi
done
# Each device is one open connection in the simulator and one in Hearth.
want=$((DEVICES + 512)) hard=$(ulimit -Hn)
[[ $hard == unlimited ]] || ((want <= hard)) || die "DEVICES=$DEVICES needs $want open files; this shell allows $hard (ulimit -Hn)"
(($(ulimit -n) >= want)) || ulimit -n "$want"

echo "== machine: $cores cores, $(uptime | sed 's/.*load average/load average/')"
get_hearth
data=$work/data
export HEARTH_SERVE_FLAGS="--mqtt-max-clients $((DEVICES + 100))"
start_hearth "$data" "$work/serve.log"
sim=("$work/hearth" simulate --data "$data" --server "localhost:$HEARTH_MQTT_PORT" --devices "$DEVICES" --kind "$KIND"
	--creds "$work/creds" --interval "$INTERVAL" --progress 5s)

echo "== provisioning $DEVICES devices"
p0=$(date +%s.%N)
timeout 1200 "${sim[@]}" --provision --log-level warn >"$work/provision.log" 2>&1 || die "provisioning failed: $(tail -5 "$work/provision.log")"
p1=$(date +%s.%N)

echo "== running $DEVICES devices ($KIND), one message every $INTERVAL each, steady for $STEADY"
"${sim[@]}" >"$work/sim.out" 2>"$work/sim.log" &
sim_pid=$!
pids+=("$sim_pid")
c0=$(date +%s.%N)
for _ in $(seq 1800); do
	if grep -q "stats=\"$DEVICES/$DEVICES connected" "$work/sim.log" 2>/dev/null; then break; fi
	kill -0 "$sim_pid" 2>/dev/null || die "the simulator ended: $(tail -5 "$work/sim.log")"
	sleep 1
done
grep -q "stats=\"$DEVICES/$DEVICES connected" "$work/sim.log" || die "not every device connected in 30 min: $(tail -3 "$work/sim.log")"
c1=$(date +%s.%N)

# Every device has sent by one interval after connecting.
interval_s=$(awk -v i="$INTERVAL" 'BEGIN {
	n = i + 0; u = substr(i, length(n "") + 1); print (u == "m" ? n * 60 : u == "h" ? n * 3600 : n) }')
sleep "$interval_s"
t0=$(date +%s.%N) sc0=$(cpu_ticks "$sim_pid") hc0=$(cpu_ticks "$hearth_pid")
sim_peak=0 hearth_peak=0
for _ in $(seq "$steady_s"); do
	sleep 1
	r=$(rss_kib "$sim_pid")
	((r > sim_peak)) && sim_peak=$r
	r=$(rss_kib "$hearth_pid")
	((r > hearth_peak)) && hearth_peak=$r
done
t1=$(date +%s.%N) sc1=$(cpu_ticks "$sim_pid") hc1=$(cpu_ticks "$hearth_pid")
grep 'stats=' "$work/sim.log" | tail -1 | sed 's/.*stats=//'
stop "$sim_pid"
summary=$(tail -1 "$work/sim.out")
if grep -Eq 'level=(WARN|ERROR)' "$work/serve.log"; then
	echo "== hearth warnings and errors (first 10)"
	grep -E 'level=(WARN|ERROR)' "$work/serve.log" | head -10 || true
fi

window=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
pct() { awk -v t="$1" -v hz="$hz" -v w="$window" 'BEGIN { printf "%.1f", 100 * t / hz / w }'; }
cat <<SUMMARY
== result
devices          $DEVICES ($KIND), one message per $INTERVAL each
provisioning     $(awk -v a="$p0" -v b="$p1" 'BEGIN { printf "%.1f", b - a }') s (through the admin socket)
connect          $(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.1f", b - a }') s until all $DEVICES were connected (reported every 5 s)
simulator        RSS $((sim_peak / 1024)) MiB peak, $(awk -v r="$sim_peak" -v n="$DEVICES" 'BEGIN { printf "%.1f", r / n }') KiB per device; CPU $(pct $((sc1 - sc0))) % of one core
hearth           RSS $((hearth_peak / 1024)) MiB peak; CPU $(pct $((hc1 - hc0))) % of one core
fleet            $summary
window           ${window} s, load average $(cut -d' ' -f1-3 /proc/loadavg)
SUMMARY
