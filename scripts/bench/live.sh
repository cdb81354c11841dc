#!/usr/bin/env bash
# Measures what keeping pages live costs Hearth, by the two ways a page can
# stay current: server-sent events (each page holds one stream, updated at
# most every 5 s when its devices change) and polling (each page asks for
# its fragment every INTERVAL with If-None-Match, and gets 304 when nothing
# changed).
#
# For each way, a fresh Hearth on the same data directory serves DEVICES
# simulated devices (one telemetry message per DEVICE_INTERVAL each); its
# CPU (clock ticks from /proc) and peak RSS are read for BASELINE with no
# page open, then for STEADY with VIEWERS pages open: a third each the
# overview, a site's page and a device's page, every page on its own TLS
# connection, signed in as a customer's viewer (8 pages a session, as
# Hearth allows 10). `hearth simulate load viewers` plays the browsers.
#
# With INGEST_RATE, INGEST_DEVICES more devices (of another customer, so
# the pages do not show them) send INGEST_RATE messages a second in all,
# 20 values each, QoS 1, through both windows: what the pages cost on top
# of ingest at that rate.
#
# Settings come from the environment:
#   VIEWERS=1000 DEVICES=200 DEVICE_INTERVAL=1m INTERVAL=5s
#   INGEST_RATE=0 INGEST_DEVICES=1000
#   BASELINE=20s STEADY=60s MODES="poll sse"
#   HEARTH_HTTP_PORT=18443 HEARTH_MQTT_PORT=18885
#   HEARTH_BIN=f  use this hearth binary instead of building one
#
# Needs Go (unless HEARTH_BIN) and curl. Everything listens on 127.0.0.1
# (sign-ins come from 127.0.1.x, which Linux routes to loopback), lives in a
# temporary directory and is stopped on exit.
set -euo pipefail

VIEWERS=${VIEWERS:-1000}
DEVICES=${DEVICES:-200}
DEVICE_INTERVAL=${DEVICE_INTERVAL:-1m}
INTERVAL=${INTERVAL:-5s}
BASELINE=${BASELINE:-20s}
STEADY=${STEADY:-60s}
MODES=${MODES:-poll sse}
INGEST_RATE=${INGEST_RATE:-0}
INGEST_DEVICES=${INGEST_DEVICES:-1000}
HEARTH_HTTP_PORT=${HEARTH_HTTP_PORT:-18443}
HEARTH_MQTT_PORT=${HEARTH_MQTT_PORT:-18885}

bench=live
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

for v in BASELINE STEADY; do
	[[ ${!v} =~ ^[0-9]+s$ ]] || die "$v=${!v}: give whole seconds, e.g. 60s"
done
for v in VIEWERS DEVICES INGEST_RATE INGEST_DEVICES HEARTH_HTTP_PORT HEARTH_MQTT_PORT; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v=${!v} must be a whole number"
done
for m in $MODES; do [[ $m == poll || $m == sse ]] || die "MODES=$MODES: each is poll or sse"; done
command -v curl >/dev/null || die "curl not found"
for p in "$HEARTH_HTTP_PORT" "$HEARTH_MQTT_PORT"; do
	if listening "$p"; then die "port $p on 127.0.0.1 is in use; set HEARTH_HTTP_PORT or HEARTH_MQTT_PORT"; fi
done
want=$((VIEWERS + DEVICES + INGEST_DEVICES + 512)) hard=$(ulimit -Hn)
[[ $hard == unlimited ]] || ((want <= hard)) || die "VIEWERS=$VIEWERS needs $want open files; this shell allows $hard (ulimit -Hn)"
(($(ulimit -n) >= want)) || ulimit -n "$want"

echo "== machine: $cores cores, $(uptime | sed 's/.*load average/load average/')"
get_hearth
data=$work/data
email=viewer@demo.example
password=live-bench-$(date +%s%N)
sim=("$work/hearth" simulate --data "$data" --server "localhost:$HEARTH_MQTT_PORT" --devices "$DEVICES" --kind mixed
	--creds "$work/creds" --interval "$DEVICE_INTERVAL")

# window SECONDS: sleeps that long, reading Hearth's RSS every second; sets
# cpu (ticks), peak (KiB) and secs.
window() {
	local t0 t1 c0 c1 r
	t0=$(date +%s.%N) c0=$(cpu_ticks "$hearth_pid") peak=0
	for _ in $(seq "$1"); do
		sleep 1
		r=$(rss_kib "$hearth_pid")
		((r > peak)) && peak=$r
	done
	t1=$(date +%s.%N) c1=$(cpu_ticks "$hearth_pid")
	cpu=$((c1 - c0))
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
}
# messages is how many telemetry messages Hearth has handled.
messages() { curl -sf --cacert "$data/tls/ca.pem" "$api/metrics" | awk '$1 == "hearth_telemetry_messages_total" { printf "%d", $2 }'; }
pct() { awk -v t="$1" -v hz="$hz" -v w="$2" 'BEGIN { printf "%.1f", 100 * t / hz / w }'; }

results=()
first=1
for mode in $MODES; do
	start_hearth "$data" "$work/serve-$mode.log"
	if ((first)); then
		echo "== provisioning $DEVICES devices and a viewer"
		timeout 600 "${sim[@]}" --provision --log-level warn >"$work/provision.log" 2>&1 || die "provisioning failed: $(tail -5 "$work/provision.log")"
		if ((INGEST_RATE > 0)); then
			timeout 600 "$work/hearth" simulate load provision -api "$api" -api-ca "$data/tls/ca.pem" -creds "$work/ingest" \
				-devices "$INGEST_DEVICES" -customer load -prefix load >/dev/null || die "cannot provision the ingest devices"
		fi
		echo "$password" | "$work/hearth" user add "$email" --role customer --customer demo --access viewer --password-stdin --data "$data" >/dev/null ||
			die "cannot add the viewer"
		first=0
	fi
	"${sim[@]}" >"$work/sim-$mode.out" 2>"$work/sim-$mode.log" &
	sim_pid=$!
	pids+=("$sim_pid")
	ingest_pid=
	if ((INGEST_RATE > 0)); then
		"$work/hearth" simulate load run -broker "127.0.0.1:$HEARTH_MQTT_PORT" -ca "$data/tls/ca.pem" -creds "$work/ingest" -auth cert \
			-rate "$INGEST_RATE" -metrics 20 -inflight 10 -qos 1 -progress 0 -json \
			-duration "$((${BASELINE%s} + ${STEADY%s} + 600))s" >"$work/ingest-$mode.json" 2>"$work/ingest-$mode.log" &
		ingest_pid=$!
		pids+=("$ingest_pid")
	fi
	# Every device has connected and sent within one of its intervals.
	sleep "$(awk -v i="$DEVICE_INTERVAL" 'BEGIN { n = i + 0; u = substr(i, length(n "") + 1); print 5 + (u == "m" ? n * 60 : n) }')"
	echo "== $mode: $DEVICES devices, no page open, $BASELINE"
	window "${BASELINE%s}"
	base_cpu=$cpu base_secs=$secs base_peak=$peak

	echo "== $mode: opening $VIEWERS pages"
	rm -f "$work/ready"
	HEARTH_LOADGEN_PASSWORD=$password "$work/hearth" simulate load viewers --api "$api" --ca "$data/tls/ca.pem" --email "$email" \
		--viewers "$VIEWERS" --mode "$mode" --interval "$INTERVAL" --duration "$((${STEADY%s} + 240))s" \
		--ready-file "$work/ready" >"$work/viewers-$mode.out" 2>"$work/viewers-$mode.log" &
	viewers_pid=$!
	pids+=("$viewers_pid")
	for _ in $(seq 1800); do
		[[ -e $work/ready ]] && break
		kill -0 "$viewers_pid" 2>/dev/null || die "the viewers ended: $(cat "$work/viewers-$mode.log" "$work/viewers-$mode.out")"
		sleep 0.1
	done
	[[ -e $work/ready ]] || die "the pages did not open in 3 min"
	# Let the first round of updates or requests pass.
	sleep 10
	echo "== $mode: $VIEWERS pages open, $STEADY"
	m0=$(messages)
	window "${STEADY%s}"
	m1=$(messages)
	kill -INT "$viewers_pid" 2>/dev/null || true
	wait "$viewers_pid" 2>/dev/null || true
	forget "$viewers_pid"
	stop "$sim_pid"
	[[ -z $ingest_pid ]] || stop "$ingest_pid"
	stop "$hearth_pid"
	if grep -Eq 'level=(WARN|ERROR)' "$work/serve-$mode.log"; then
		echo "== hearth warnings and errors (first 5)"
		grep -E 'level=(WARN|ERROR)' "$work/serve-$mode.log" | head -5 || true
	fi
	results+=("$(printf '%-5s  baseline CPU %5s %% RSS %4d MiB | %d pages: CPU %5s %% (+%s %% over baseline), RSS %4d MiB peak (+%d MiB) | %s' \
		"$mode" "$(pct "$base_cpu" "$base_secs")" $((base_peak / 1024)) "$VIEWERS" "$(pct "$cpu" "$secs")" \
		"$(awk -v a="$(pct "$cpu" "$secs")" -v b="$(pct "$base_cpu" "$base_secs")" 'BEGIN { printf "%.1f", a - b }')" \
		$((peak / 1024)) $(((peak - base_peak) / 1024)) "$(tail -2 "$work/viewers-$mode.out" | tr '\n' ' ')")")
	results+=("       telemetry while the pages were open: $(awk -v a="$m0" -v b="$m1" -v s="$secs" 'BEGIN { printf "%.0f", (b - a) / s }') messages a second handled")
done

ingest_text=
((INGEST_RATE == 0)) || ingest_text=", and $INGEST_DEVICES at $INGEST_RATE msg/s in all"
echo "== result (CPU in % of one core, Hearth alone; $DEVICES devices at one message per $DEVICE_INTERVAL$ingest_text; polling every $INTERVAL)"
printf '%s\n' "${results[@]}"
