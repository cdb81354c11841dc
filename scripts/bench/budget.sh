#!/usr/bin/env bash
# Measures the memory budget (--memory) and the start time of Hearth:
#
#   overload   for each budget in BUDGETS, a fresh copy of one data
#              directory with DEVICES provisioned devices, DEVICES TLS
#              connections publishing METRICS values per message with QoS 1
#              as fast as their inflight windows allow (unpaced) for
#              DURATION: resident memory at its peak (sampled every 0.2 s)
#              against the budget, messages and samples acknowledged a
#              second, and what was refused for want of memory (from
#              /metrics);
#   back-fill  BACKFILL_DEVICES simulated chillers (11 metrics each),
#              provisioned through the admin socket, then connecting at once, each sending BACKFILL of one-minute
#              history in batches (100 × 456h = 30 M samples by default),
#              under the first budget: the peak resident memory, the time
#              until every sample is stored and the samples a second;
#   start      time from process start to ready (the server's own "ready"
#              log line, every start step included) on an empty data
#              directory and on one with START_DEVICES registered devices
#              (created START_DEVICES/5000 bulk requests at a time), the
#              median of START_RUNS starts each, after one untimed start.
#              With BASE_BIN, the base binary makes both directories
#              (a newer binary migrates an older file; an older one
#              refuses a newer), and each binary starts on its own copy.
#
# BASE_BIN=f also measures another hearth binary (the one before a change)
# for the overload (without --memory, which it may not know: its own
# defaults) and the start, interleaved with this one, so that the two are
# compared in one run on one machine. The load generator and the simulator
# share the machine with the server; the summary says how busy the machine
# was. Everything listens on 127.0.0.1, lives in a temporary directory and
# is stopped on exit.
#
# Settings come from the environment:
#   BUDGETS="512MiB 2GiB" DEVICES=1000 METRICS=20 DURATION=20s INFLIGHT=10
#   BACKFILL_DEVICES=100 BACKFILL=456h BACKFILL_LIMIT=600 (seconds)
#   START_DEVICES=50000 START_RUNS=5
#   SKIP="" (any of: overload backfill start)
#   HEARTH_HTTP_PORT=18443 HEARTH_MQTT_PORT=18887
#   HEARTH_BIN=f  use this hearth binary instead of building one
#   BASE_BIN=f    also measure this binary, for a before/after ratio
#
# Needs Go (unless HEARTH_BIN) and curl.
set -euo pipefail

BUDGETS=${BUDGETS:-512MiB 2GiB}
DEVICES=${DEVICES:-1000}
METRICS=${METRICS:-20}
DURATION=${DURATION:-20s}
INFLIGHT=${INFLIGHT:-10}
BACKFILL_DEVICES=${BACKFILL_DEVICES:-100}
BACKFILL=${BACKFILL:-456h}
BACKFILL_LIMIT=${BACKFILL_LIMIT:-600}
START_DEVICES=${START_DEVICES:-50000}
START_RUNS=${START_RUNS:-5}
SKIP=${SKIP:-}
HEARTH_HTTP_PORT=${HEARTH_HTTP_PORT:-18443}
HEARTH_MQTT_PORT=${HEARTH_MQTT_PORT:-18887}
BASE_BIN=${BASE_BIN:-}

bench=budget
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

for v in DEVICES METRICS INFLIGHT BACKFILL_DEVICES BACKFILL_LIMIT START_DEVICES START_RUNS HEARTH_HTTP_PORT HEARTH_MQTT_PORT; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v=${!v} must be a whole number"
done
[[ $DURATION =~ ^[0-9]+s$ ]] || die "DURATION=$DURATION: give whole seconds, e.g. 20s"
[[ $BACKFILL =~ ^[0-9]+h$ ]] || die "BACKFILL=$BACKFILL: give whole hours, e.g. 456h"
((START_RUNS > 0)) || die "START_RUNS must be positive"
command -v curl >/dev/null || die "curl not found"
for p in "$HEARTH_HTTP_PORT" "$HEARTH_MQTT_PORT"; do
	if listening "$p"; then die "port $p on 127.0.0.1 is in use; set HEARTH_HTTP_PORT or HEARTH_MQTT_PORT"; fi
done
if [[ -n $BASE_BIN ]]; then
	[[ -x $BASE_BIN ]] || die "BASE_BIN=$BASE_BIN is not an executable"
	cp "$BASE_BIN" "$work/base"
fi
if (($(ulimit -n) < DEVICES + 512)); then ulimit -n $((DEVICES + 512)); fi
skip() { [[ " $SKIP " == *" $1 "* ]]; }

mib() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }
# metric prints one value of Hearth's /metrics, 0 when it is missing.
metric() {
	{ curl -sf --max-time 10 --cacert "$data/tls/ca.pem" -H "Authorization: Bearer $token" "$api/metrics" || true; } |
		awk -v n="$1" '$1 == n { printf "%.0f", $2; found = 1; exit } END { if (!found) print 0 }'
}
jnum() { awk -v k="\"$1\":" '$1 == k { v = $2; sub(/,$/, "", v); print v; exit }' "$2"; }
# sample_rss writes "rss_kib" of process $1 to file $2 every 0.2 s while
# it and process $3 run.
sample_rss() {
	while kill -0 "$3" 2>/dev/null && kill -0 "$1" 2>/dev/null; do
		rss_kib "$1" >>"$2"
		sleep 0.2
	done
}
peak() { sort -n "$1" | tail -n 1; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
busy_begin() { read -r b_busy0 b_total0 < <(machine_ticks); }
# busy_end prints how busy the machine was since busy_begin, in percent of
# one core summed over all cores, like top.
busy_end() {
	local b1 t1
	read -r b1 t1 < <(machine_ticks)
	awk -v b=$((b1 - b_busy0)) -v t=$((t1 - b_total0)) -v c="$cores" 'BEGIN { printf "%.0f", t ? 100 * c * b / t : 0 }'
}

echo "== machine: $cores cores, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), $(uptime | sed 's/.*load average/load average/')"
get_hearth
summary=()

################################################################ overload
if ! skip overload; then
	echo
	echo "================ unpaced overload: $DEVICES TLS devices, $METRICS metrics, QoS 1, inflight $INFLIGHT, $DURATION"
	seed=$work/seed
	data=$seed
	HEARTH_SERVE_FLAGS="--mqtt-max-clients $((DEVICES + 100))" start_hearth "$seed" "$work/seed.log"
	echo "== provisioning $DEVICES devices"
	timeout 900 "$work/hearth" simulate load provision -api "$api" -api-ca "$seed/tls/ca.pem" -creds "$work/creds" \
		-devices "$DEVICES" -customer bench >"$work/provision.log" 2>&1 || die "provisioning failed: $(tail -n 5 "$work/provision.log")"
	stop "$hearth_pid"

	runs=()
	for b in $BUDGETS; do runs+=("hearth:$b"); done
	if [[ -n $BASE_BIN ]]; then runs+=("base:default"); fi
	for run in "${runs[@]}"; do
		bin=${run%%:*} budget=${run#*:}
		data=$work/overload-$bin-$budget
		cp -a "$seed" "$data"
		rm -f "$data/hearth.sock"
		flags="--mqtt-max-clients $((DEVICES + 100))"
		if [[ $budget != default ]]; then flags="$flags --memory $budget"; fi
		cp "$work/$bin" "$work/run-bin"
		(
			cd "$work"
			mv hearth hearth.keep
			cp run-bin hearth
		)
		HEARTH_SERVE_FLAGS=$flags start_hearth "$data" "$work/overload-$bin-$budget.log"
		(cd "$work" && mv hearth.keep hearth)
		: >"$work/rss-$bin-$budget"
		busy_begin
		timeout -k 10 $((${DURATION%s} + 300)) "$work/hearth" simulate load run -broker "127.0.0.1:$HEARTH_MQTT_PORT" -ca "$data/tls/ca.pem" \
			-creds "$work/creds" -auth cert -metrics "$METRICS" -rate 0 -duration "$DURATION" -qos 1 -inflight "$INFLIGHT" \
			-progress 0 -json >"$work/load.json" 2>"$work/load.log" &
		lg=$!
		pids+=("$lg")
		sample_rss "$hearth_pid" "$work/rss-$bin-$budget" "$lg" &
		pids+=("$!")
		rc=0
		wait "$lg" || rc=$?
		forget "$lg"
		busy=$(busy_end)
		[[ -s $work/load.json ]] || die "the load generator failed (exit $rc): $(tail -n 5 "$work/load.log")"
		shed_c=$(metric hearth_mqtt_shed_connects_total)
		shed_p=$(metric hearth_mqtt_shed_publishes_total)
		limit=$(metric go_memlimit_bytes)
		if [[ $limit == 0 || ${#limit} -gt 15 ]]; then limit=none; else limit="$((limit >> 20)) MiB"; fi
		stop "$hearth_pid"
		rss_peak=$(peak "$work/rss-$bin-$budget")
		msgs=$(awk -v n="$(jnum MsgsPerSec "$work/load.json")" 'BEGIN { printf "%.0f", n }')
		samples=$(awk -v n="$(jnum SamplesPerSec "$work/load.json")" 'BEGIN { printf "%.0f", n }')
		within="-"
		if [[ $budget != default ]]; then
			within=$(awk -v r="$rss_peak" -v b="$(numfmt --from=iec-i "${budget%B}")" 'BEGIN { printf "%.0f%%", 100 * r * 1024 / b }')
		fi
		line="overload  $bin --memory $budget: peak RSS $(mib "$rss_peak") MiB ($within of the budget), Go limit $limit, $msgs msgs/s, $samples samples/s acknowledged, connected $(jnum Connected "$work/load.json"), dropped $(jnum Dropped "$work/load.json"), unacknowledged $(jnum Failed "$work/load.json"), shed: $shed_c connects, $shed_p publishes; machine $busy% busy"
		echo "== $line"
		summary+=("$line")
	done
fi

################################################################ back-fill
if ! skip backfill; then
	budget=${BUDGETS%% *}
	echo
	echo "================ back-fill: $BACKFILL_DEVICES chillers, $BACKFILL of one-minute history each, --memory $budget"
	data=$work/backfill
	HEARTH_SERVE_FLAGS="--memory $budget --mqtt-max-clients $((BACKFILL_DEVICES + 100))" start_hearth "$data" "$work/backfill.log"
	curl -sf --cacert "$data/tls/ca.pem" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
		-d '{"name":"bench"}' "$api/api/v1/customers" >/dev/null || die "cannot create the customer"
	want=$((BACKFILL_DEVICES * ${BACKFILL%h} * 60 * 11))
	: >"$work/rss-backfill"
	busy_begin
	t0=$(date +%s.%N)
	"$work/hearth" simulate --data "$data" --server "127.0.0.1:$HEARTH_MQTT_PORT" --devices "$BACKFILL_DEVICES" --kind chiller --customer bench \
		--creds "$work/bf-creds" --backfill "$BACKFILL" --interval 1m --duration "${BACKFILL_LIMIT}s" --progress 0 --log-level warn \
		>"$work/bf-sim.log" 2>&1 &
	sim=$!
	pids+=("$sim")
	sample_rss "$hearth_pid" "$work/rss-backfill" "$sim" &
	pids+=("$!")
	stored=0
	for _ in $(seq "$BACKFILL_LIMIT"); do
		stored=$(metric hearth_telemetry_samples_stored_total)
		((stored >= want)) && break
		kill -0 "$sim" 2>/dev/null || break
		sleep 1
	done
	took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	busy=$(busy_end)
	shed_c=$(metric hearth_mqtt_shed_connects_total)
	shed_p=$(metric hearth_mqtt_shed_publishes_total)
	stop "$sim"
	stop "$hearth_pid"
	rss_peak=$(peak "$work/rss-backfill")
	within=$(awk -v r="$rss_peak" -v b="$(numfmt --from=iec-i "${budget%B}")" 'BEGIN { printf "%.0f%%", 100 * r * 1024 / b }')
	rate=$(awk -v s="$stored" -v t="$took" 'BEGIN { printf "%.0f", s / t }')
	line="back-fill --memory $budget: $stored of $want samples stored in $took s ($rate samples/s, provisioning and connecting included), peak RSS $(mib "$rss_peak") MiB ($within of the budget), shed: $shed_c connects, $shed_p publishes; machine $busy% busy"
	echo "== $line"
	summary+=("$line")
fi

################################################################ start
if ! skip start; then
	echo
	echo "================ start: empty, and $START_DEVICES registered devices; median of $START_RUNS"
	empty=$work/start-empty
	full=$work/start-full
	data=$full
	# With BASE_BIN, the directories are made by the base binary: a newer
	# schema is refused by an older binary, while a newer one migrates an
	# older file at its first start.
	if [[ -n $BASE_BIN ]]; then (cd "$work" && mv hearth hearth.keep && cp base hearth); fi
	start_hearth "$full" "$work/start-seed.log"
	curl -sf --cacert "$full/tls/ca.pem" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
		-d '{"name":"bench"}' "$api/api/v1/customers" >/dev/null || die "cannot create the customer"
	echo "== registering $START_DEVICES devices"
	t0=$(date +%s)
	for ((from = 0; from < START_DEVICES; from += 5000)); do
		{
			echo "name,customer"
			for ((i = from; i < from + 5000 && i < START_DEVICES; i++)); do printf 'start-%06d,bench\n' "$i"; done
		} >"$work/bulk.csv"
		code=$(curl -s -o "$work/bulk.out" -w '%{http_code}' --max-time 600 --cacert "$full/tls/ca.pem" -H "Authorization: Bearer $token" \
			-H 'Content-Type: text/csv' --data-binary @"$work/bulk.csv" "$api/api/v1/devices/bulk")
		[[ $code == 201 ]] || die "bulk registration answered $code: $(head -c 300 "$work/bulk.out")"
	done
	echo "== registered in $(($(date +%s) - t0)) s"
	stop "$hearth_pid"
	data=$empty
	start_hearth "$empty" "$work/start-seed-empty.log"
	stop "$hearth_pid"
	if [[ -n $BASE_BIN ]]; then (cd "$work" && mv hearth.keep hearth); fi

	# ready_ms starts binary $1 on directory $2 and prints the duration of
	# its start as it logs it.
	ready_ms() {
		local log=$work/start-run.log pid d
		"$1" serve --data "$2" --http "127.0.0.1:$HEARTH_HTTP_PORT" --mqtt "127.0.0.1:$HEARTH_MQTT_PORT" --log-level info >"$log" 2>&1 &
		pid=$!
		pids+=("$pid")
		for _ in $(seq 1200); do
			grep -q 'msg=ready' "$log" && break
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
		d=$(sed -n 's/.*msg=ready duration=\([^ ]*\).*/\1/p' "$log" | head -n 1)
		stop "$pid"
		[[ -n $d ]] || die "no ready line from $1 on $2: $(tail -n 5 "$log")"
		case $d in
		*ms) echo "${d%ms}" ;;
		*s) awk -v s="${d%s}" 'BEGIN { print s * 1000 }' ;;
		*) die "cannot read the duration $d" ;;
		esac
	}
	bins=(hearth)
	if [[ -n $BASE_BIN ]]; then bins+=(base); fi
	for dir in empty full; do
		# Each binary starts on its own copy, once untimed first, so that
		# a migration of the copy is not counted as a start.
		for bin in "${bins[@]}"; do
			: >"$work/start-$bin-$dir"
			cp -a "$work/start-$dir" "$work/start-$dir-$bin"
			rm -f "$work/start-$dir-$bin/hearth.sock"
			ready_ms "$work/$bin" "$work/start-$dir-$bin" >/dev/null
		done
		for _ in $(seq "$START_RUNS"); do
			for bin in "${bins[@]}"; do ready_ms "$work/$bin" "$work/start-$dir-$bin" >>"$work/start-$bin-$dir"; done
		done
		for bin in "${bins[@]}"; do
			what=empty
			if [[ $dir == full ]]; then what="$START_DEVICES devices"; fi
			line="start     $bin, $what: median $(median <"$work/start-$bin-$dir") ms (min $(sort -n "$work/start-$bin-$dir" | head -n 1), max $(sort -n "$work/start-$bin-$dir" | tail -n 1))"
			echo "== $line"
			summary+=("$line")
		done
	done
fi

echo
echo "================ summary ($(date -u +%Y-%m-%dT%H:%MZ), $cores cores, $(uptime | sed 's/.*load average/load average/'))"
printf '%s\n' "${summary[@]}"
