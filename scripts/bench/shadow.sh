#!/usr/bin/env bash
# Measures device shadow round trips on Hearth under a sustained load and
# prints a summary:
#
#   round trips  device update → its update/accepted, and API PATCH of a
#                desired value → the device receiving its update/delta,
#                p50/p90/p99/max, with counts, errors and missing replies
#                (from `hearth simulate load shadow`, whose full report follows);
#   hearth       CPU (percent of one core) and resident memory over the load;
#   store        write transactions committed per second against shadow
#                writes per second: how many writes one commit, and its
#                fsyncs, carried.
#
# Commits are counted in the store file itself: each of bbolt's two meta
# pages holds the id of the transaction that wrote it (8 bytes at offset 64,
# in the machine's byte order), and every commit raises the id by one.
# Reading them takes no lock and changes nothing.
#
# Every device connects over TLS with its own client certificate, subscribes
# to its shadow's update/accepted, update/rejected and update/delta, and
# publishes a reported update every UPDATE_INTERVAL; an API client PATCHes
# each device's desired value every DESIRED_INTERVAL. Everything listens on
# 127.0.0.1, lives in a temporary directory and is stopped on exit.
#
# Settings come from the environment:
#   DEVICES=1000 DURATION=60s UPDATE_INTERVAL=1s DESIRED_INTERVAL=10s
#   HEARTH_HTTP_PORT=18443 HEARTH_MQTT_PORT=18884
#   HEARTH_BIN=f  use this hearth binary instead of building one
#
# Needs Go (unless HEARTH_BIN), curl and od.
set -euo pipefail

DEVICES=${DEVICES:-1000}
DURATION=${DURATION:-60s}
UPDATE_INTERVAL=${UPDATE_INTERVAL:-1s}
DESIRED_INTERVAL=${DESIRED_INTERVAL:-10s}
HEARTH_HTTP_PORT=${HEARTH_HTTP_PORT:-18443}
HEARTH_MQTT_PORT=${HEARTH_MQTT_PORT:-18884}

bench=shadow
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

[[ $DURATION =~ ^[0-9]+s$ ]] || die "DURATION=$DURATION: give whole seconds, e.g. 60s"
duration_s=${DURATION%s}
((duration_s >= 10)) || die "DURATION=$DURATION: at least 10s, so that a steady window remains"
for v in DEVICES HEARTH_HTTP_PORT HEARTH_MQTT_PORT; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v=${!v} must be a whole number"
done
command -v curl >/dev/null || die "curl not found"
command -v od >/dev/null || die "od not found"
for p in "$HEARTH_HTTP_PORT" "$HEARTH_MQTT_PORT"; do
	if listening "$p"; then die "port $p on 127.0.0.1 is in use; set HEARTH_HTTP_PORT or HEARTH_MQTT_PORT"; fi
done
if (($(ulimit -n) < DEVICES + 512)); then
	ulimit -n $((DEVICES + 512))
fi

# bolt_txid prints the id of the last transaction committed to the bbolt
# file $1: the larger of the ids in its two meta pages.
bolt_txid() {
	local page a b
	page=$(od -An -t u4 -j 24 -N 4 "$1" | tr -d ' ')
	a=$(od -An -t u8 -j 64 -N 8 "$1" | tr -d ' ')
	b=$(od -An -t u8 -j $((page + 64)) -N 8 "$1" | tr -d ' ')
	echo $((a > b ? a : b))
}

# jget prints key $2 of the object $1 ("" for the top level) of the
# indented JSON report in file $3.
jget() {
	awk -v sec="$1" -v k="\"$2\":" '
		/^  "[A-Za-z]+": \{/ { cur = $1; gsub(/[":]/, "", cur); next }
		/^  \}/ { cur = ""; next }
		cur == sec && $1 == k { v = $2; sub(/,$/, "", v); print v; exit }' "$3"
}

echo "== machine: $cores cores, $(uptime | sed 's/.*load average/load average/')"
get_hearth
data=$work/data
start_hearth "$data" "$work/serve.log"

echo "== provisioning $DEVICES devices"
timeout 600 "$work/hearth" simulate load provision -api "$api" -api-ca "$data/tls/ca.pem" -creds "$work/creds" \
	-devices "$DEVICES" -customer bench
sleep 2

echo "== load: $DEVICES TLS devices, a reported update every $UPDATE_INTERVAL each, a desired PATCH every $DESIRED_INTERVAL each, for $DURATION"
timeout -k 10 $((duration_s + 300)) "$work/hearth" simulate load shadow -broker "127.0.0.1:$HEARTH_MQTT_PORT" \
	-creds "$work/creds" -auth cert -api "$api" -api-ca "$data/tls/ca.pem" -duration "$DURATION" \
	-update-interval "$UPDATE_INTERVAL" -desired-interval "$DESIRED_INTERVAL" -progress 10s -json \
	>"$work/shadow.json" 2>"$work/shadow.log" &
lg_pid=$!
pids+=("$lg_pid")
tail -n +1 -f --pid="$lg_pid" "$work/shadow.log" &
pids+=("$!")
for _ in $(seq 1200); do
	if grep -q 'devices connected' "$work/shadow.log" 2>/dev/null; then break; fi
	kill -0 "$lg_pid" 2>/dev/null || break
	sleep 0.1
done
grep -q 'devices connected' "$work/shadow.log" || die "the devices did not connect: $(cat "$work/shadow.log")"

# The steady window leaves out the first 5 s after connecting and the last
# 2 s of sending; the store is sampled at its ends, RSS every second.
sleep 5
t0=$(date +%s.%N) tx0=$(bolt_txid "$data/hearth.db") cpu0=$(cpu_ticks "$hearth_pid")
read -r busy0 total0 < <(machine_ticks)
rss_peak=0
for _ in $(seq $((duration_s - 7))); do
	sleep 1
	r=$(rss_kib "$hearth_pid")
	((r > rss_peak)) && rss_peak=$r
done
t1=$(date +%s.%N) tx1=$(bolt_txid "$data/hearth.db") cpu1=$(cpu_ticks "$hearth_pid")
read -r busy1 total1 < <(machine_ticks)
rss_end=$(rss_kib "$hearth_pid")

rc=0
wait "$lg_pid" || rc=$?
[[ -s $work/shadow.json ]] || die "the load generator failed (exit $rc)"
((rc == 0)) || echo "== the load generator exited with $rc; its report follows" >&2
cat "$work/shadow.json"
if grep -Eq 'level=(WARN|ERROR)' "$work/serve.log"; then
	echo "== hearth warnings and errors (first 20)"
	grep -E 'level=(WARN|ERROR)' "$work/serve.log" | head -20 || true
fi

window=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
commits=$((tx1 - tx0))
commits_s=$(awk -v c="$commits" -v w="$window" 'BEGIN { printf "%.0f", c / w }')
cpu_pct=$(awk -v t=$((cpu1 - cpu0)) -v hz="$hz" -v w="$window" 'BEGIN { printf "%.0f", 100 * t / hz / w }')
machine_pct=$(awk -v b=$((busy1 - busy0)) -v t=$((total1 - total0)) -v c="$cores" 'BEGIN { printf "%.0f", t ? 100 * c * b / t : 0 }')
u_sent=$(jget Updates Sent "$work/shadow.json")
d_sent=$(jget Desired Sent "$work/shadow.json")
writes_s=$(awk -v u="$u_sent" -v d="$d_sent" -v s="$duration_s" 'BEGIN { printf "%.0f", (u + d) / s }')
per_commit=$(awk -v w="$writes_s" -v c="$commits_s" 'BEGIN { if (c > 0) printf "%.1f", w / c; else print "n/a" }')

cat <<EOF

================ summary
load            $DEVICES devices over TLS: a reported update every $UPDATE_INTERVAL each, a desired PATCH every $DESIRED_INTERVAL each, $DURATION
update→accepted p50 $(ms "$(jget Updates P50 "$work/shadow.json")") ms  p90 $(ms "$(jget Updates P90 "$work/shadow.json")") ms  p99 $(ms "$(jget Updates P99 "$work/shadow.json")") ms  max $(ms "$(jget Updates Max "$work/shadow.json")") ms
                $u_sent sent, $(jget Updates Answered "$work/shadow.json") accepted, $(jget Updates Failed "$work/shadow.json") rejected, $(jget Updates Missing "$work/shadow.json") missing
PATCH→delta     p50 $(ms "$(jget Desired P50 "$work/shadow.json")") ms  p90 $(ms "$(jget Desired P90 "$work/shadow.json")") ms  p99 $(ms "$(jget Desired P99 "$work/shadow.json")") ms  max $(ms "$(jget Desired Max "$work/shadow.json")") ms
                $d_sent sent, $(jget Desired Answered "$work/shadow.json") deltas, $(jget Desired Failed "$work/shadow.json") failed, $(jget Desired Missing "$work/shadow.json") missing
hearth          ${cpu_pct}% of one core over the steady ${window} s; resident memory peak $((rss_peak / 1024)) MiB, $((rss_end / 1024)) MiB at the end
store           $commits commits in ${window} s = $commits_s commits/s for about $writes_s shadow writes/s = $per_commit writes per commit
machine         $cores cores, ${machine_pct}% busy (of one core) over the window; load generator $(awk -v p="$(jget "" CPUPercent "$work/shadow.json")" 'BEGIN { printf "%.0f", p }')% of one core over connect and run
EOF
