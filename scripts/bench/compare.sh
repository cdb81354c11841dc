#!/usr/bin/env bash
# Measures Hearth and then mosquitto under the same MQTT load, one after the
# other on the same machine, and prints a summary:
#
#   targets    the three figures the broker is held to, each against mosquitto
#              in the same run: broker CPU time per acknowledged message
#              while the load runs (connecting excluded), publish→PUBACK p99,
#              and resident memory per idle TLS connection with IDLE_DEVICES
#              connected (with what 100,000 would take at the measured slope);
#   Hearth     msgs/s acknowledged, samples/s, publish→PUBACK p50/p99, the Go
#              scheduler's latency p99 while the load connected and ran (what a runnable
#              goroutine waited for a processor), whether
#              every acknowledged sample is stored and queryable (counted
#              through the Prometheus query API), resident memory of the
#              hearth process before devices connect, with all connected but
#              idle (a separate short run at one message per second) and at
#              its peak under load, and its CPU time;
#   mosquitto  msgs/s acknowledged and delivered to one subscriber (which
#              runs on the same machine, as the load generator does);
#   the ratio  Hearth msgs/s ÷ mosquitto msgs/s (both acknowledged).
#
# The load generator shares the machine with the broker, so the summary also
# says how busy the whole machine was and how much of that was neither the
# broker nor the load generator ("others' work"): a run with much of it was
# disturbed and should be repeated.
#
# Every device connects over TLS with its own client certificate and
# publishes a flat JSON object of METRICS numbers with QoS 1. Everything
# listens on 127.0.0.1, lives in a temporary directory and is stopped on exit.
#
# Settings come from the environment:
#   DEVICES=1000 METRICS=20 RATE=10000 DURATION=30s INFLIGHT=10
#   IDLE_DEVICES=DEVICES  devices connected, nearly silent, to measure memory
#                 per connection (each broker and the load generator need
#                 that many open files: 19000 fits an open-file limit of
#                 20000)
#   HEARTH_HTTP_PORT=18443 HEARTH_MQTT_PORT=18884 MOSQUITTO_PORT=18883
#   OUT=file      also write the summary as a markdown table fragment there
#   HEARTH_BIN=f  use this hearth binary instead of building one
#   PERF=1        record hearth with perf during the load and print its
#                 hottest functions and packages (needs perf)
#
# Needs Go (unless HEARTH_BIN), curl and mosquitto (Debian: apt-get install -y
# mosquitto).
set -euo pipefail

DEVICES=${DEVICES:-1000}
METRICS=${METRICS:-20}
RATE=${RATE:-10000}
DURATION=${DURATION:-30s}
INFLIGHT=${INFLIGHT:-10}
IDLE_DEVICES=${IDLE_DEVICES:-$DEVICES}
HEARTH_HTTP_PORT=${HEARTH_HTTP_PORT:-18443}
HEARTH_MQTT_PORT=${HEARTH_MQTT_PORT:-18884}
MOSQUITTO_PORT=${MOSQUITTO_PORT:-18883}
OUT=${OUT:-}
HEARTH_BIN=${HEARTH_BIN:-}
PERF=${PERF:-0}

bench=compare
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
customer=bench

# seconds turns a Go duration of hours, minutes and seconds (30s, 1m30s) or
# a plain number of seconds into whole seconds, rounded up.
seconds() {
	local d=$1 total=0 n unit
	if [[ $d =~ ^[0-9]+$ ]]; then
		echo "$d"
		return
	fi
	while [[ $d =~ ^([0-9]+(\.[0-9]+)?)(h|m|s)(.*)$ ]]; do
		n=${BASH_REMATCH[1]}
		unit=${BASH_REMATCH[3]}
		d=${BASH_REMATCH[4]}
		case $unit in
		h) total=$(awk -v t="$total" -v n="$n" 'BEGIN { print t + n * 3600 }') ;;
		m) total=$(awk -v t="$total" -v n="$n" 'BEGIN { print t + n * 60 }') ;;
		s) total=$(awk -v t="$total" -v n="$n" 'BEGIN { print t + n }') ;;
		esac
	done
	[[ -z $d ]] || die "DURATION=$DURATION: want e.g. 30s, 2m or 1m30s"
	awk -v t="$total" 'BEGIN { s = int(t); if (s < t) s++; print s }'
}
duration_s=$(seconds "$DURATION")
((duration_s > 0)) || die "DURATION=$DURATION must be positive"
for v in DEVICES IDLE_DEVICES METRICS INFLIGHT HEARTH_HTTP_PORT HEARTH_MQTT_PORT MOSQUITTO_PORT; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v=${!v} must be a whole number"
done
[[ $RATE =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "RATE=$RATE must be a number"
# Connecting, draining and counting come on top of the load itself.
run_limit=$((duration_s + 180))

for p in "$HEARTH_HTTP_PORT" "$HEARTH_MQTT_PORT" "$MOSQUITTO_PORT"; do
	if listening "$p"; then die "port $p on 127.0.0.1 is in use; set HEARTH_HTTP_PORT, HEARTH_MQTT_PORT or MOSQUITTO_PORT"; fi
done
mosquitto_bin=$(command -v mosquitto || true)
[[ -n $mosquitto_bin ]] || die "mosquitto not found; on Debian: apt-get install -y mosquitto"
command -v curl >/dev/null || die "curl not found"
if [[ $PERF == 1 ]] && ! command -v perf >/dev/null; then die "PERF=1 but perf is not installed"; fi
# Every device is provisioned once and used by both runs; the load uses
# the first DEVICES of them.
fleet=$((DEVICES > IDLE_DEVICES ? DEVICES : IDLE_DEVICES))
# Each device is one socket in the load generator and one in the broker.
if (($(ulimit -n) < fleet + 512)); then
	(($(ulimit -Hn) >= fleet + 512)) || die "$fleet devices need an open-file limit of $((fleet + 512)); the hard limit is $(ulimit -Hn)"
	ulimit -n $((fleet + 512))
fi

# jnum prints the number of key "$1" in the flat JSON file $2.
jnum() {
	awk -v k="\"$1\":" '$1 == k { v = $2; sub(/,$/, "", v); print v; exit }' "$2"
}

# sample writes "seconds rss_kib" of process $1 to file $2 every 0.2 s
# until the process $3 ends, so that the peak resident memory and the moment
# all devices were connected can be read from it.
sample() {
	local target=$1 file=$2 until=$3
	while kill -0 "$until" 2>/dev/null && kill -0 "$target" 2>/dev/null; do
		echo "$(date +%s.%N) $(rss_kib "$target")" >>"$file"
		sleep 0.2
	done
}

# usage_begin and usage_end measure CPU over a phase: the broker's, the load
# generator's, and the whole machine's (which shows other work sharing it).
usage_begin() {
	u_broker0=$(cpu_ticks "$1")
	read -r u_busy0 u_total0 < <(machine_ticks)
	u_t0=$(date +%s.%N)
}
usage_end() {
	local broker=$1 loadgen_cpu=$2
	u_broker1=$(cpu_ticks "$broker")
	read -r u_busy1 u_total1 < <(machine_ticks)
	u_t1=$(date +%s.%N)
	u_wall=$(awk -v a="$u_t0" -v b="$u_t1" 'BEGIN { printf "%.1f", b - a }')
	u_broker_s=$(awk -v t=$((u_broker1 - u_broker0)) -v hz="$hz" 'BEGIN { printf "%.1f", t / hz }')
	u_broker_pct=$(awk -v s="$u_broker_s" -v w="$u_wall" 'BEGIN { printf "%.0f", 100 * s / w }')
	u_loadgen_pct=$(awk -v s="$loadgen_cpu" -v w="$u_wall" 'BEGIN { printf "%.0f", 100 * s / w }')
	# Percent of one core, summed over all cores, like top.
	u_machine_pct=$(awk -v b=$((u_busy1 - u_busy0)) -v t=$((u_total1 - u_total0)) -v c="$cores" \
		'BEGIN { printf "%.0f", t ? 100 * c * b / t : 0 }')
	u_other_pct=$(awk -v m="$u_machine_pct" -v a="$u_broker_pct" -v l="$u_loadgen_pct" \
		'BEGIN { o = m - a - l; if (o < 0) o = 0; printf "%.0f", o }')
}

# loadgen_cpu_s prints the load generator's own CPU seconds from its JSON
# report (nanoseconds there).
loadgen_cpu_s() { awk -v n="$(jnum CPU "$1")" 'BEGIN { printf "%.1f", n / 1e9 }'; }
round() { awk -v n="$1" 'BEGIN { printf "%.0f", n }'; }

# run_load starts the load generator in the background with the given
# broker-specific flags, shows its progress, samples the broker's memory and
# takes a look at top halfway. It sets lg_pid; finish_load waits for it.
run_load() {
	local broker_pid=$1 name=$2
	shift 2
	: >"$work/$name.rss"
	timeout -k 10 "$run_limit" "$work/hearth" simulate load run -devices "$DEVICES" -metrics "$METRICS" -rate "$RATE" -duration "$DURATION" \
		-qos 1 -inflight "$INFLIGHT" -progress 10s -json "$@" >"$work/$name.json" 2>"$work/$name.log" &
	lg_pid=$!
	pids+=("$lg_pid")
	tail -n +1 -f --pid="$lg_pid" "$work/$name.log" &
	pids+=("$!")
	sample "$broker_pid" "$work/$name.rss" "$lg_pid" &
	pids+=("$!")
	# The broker's CPU ticks once every device is connected: the CPU per
	# message is counted from there, so the TLS handshakes are left out.
	rm -f "$work/$name.cpu0"
	(
		while :; do
			if grep -q 'devices connected' "$work/$name.log" 2>/dev/null; then
				cpu_ticks "$broker_pid" >"$work/$name.cpu0"
				exit 0
			fi
			kill -0 "$lg_pid" 2>/dev/null || exit 0
			sleep 0.02
		done
	) &
	pids+=("$!")
	(
		# Halfway through the load, after connecting.
		for _ in $(seq 600); do
			if grep -q 'devices connected' "$work/$name.log" 2>/dev/null; then break; fi
			kill -0 "$lg_pid" 2>/dev/null || exit 0
			sleep 0.1
		done
		sleep "$(awk -v d="$duration_s" 'BEGIN { print d / 2 }')"
		top -b -n1 -w 200 2>/dev/null | head -16 >"$work/$name.top" || true
	) &
	pids+=("$!")
}

finish_load() {
	local name=$1 broker_pid=$2 rc=0
	wait "$lg_pid" || rc=$?
	forget "$lg_pid"
	load_cpu_ticks=0
	if [[ -s $work/$name.cpu0 ]]; then
		load_cpu_ticks=$(($(cpu_ticks "$broker_pid") - $(cat "$work/$name.cpu0")))
	fi
	if [[ ! -s $work/$name.json ]]; then
		die "the load against $name failed (exit $rc)"
	fi
	if ((rc != 0)); then echo "== the load generator exited with $rc; its report follows" >&2; fi
	cat "$work/$name.json"
}

# idle_rss connects IDLE_DEVICES devices to broker $1 with almost no
# traffic (one message per second across all of them), reads the broker's
# resident memory once they are all connected and settled, and lets them
# disconnect. It sets idle_connected, idle_acked and idle_rss (KiB); the
# rest of its arguments are the load generator's broker flags.
idle_rss() {
	local broker_pid=$1 name=$2 rc=0
	shift 2
	# TLS handshakes cost both sides a few milliseconds of CPU each: on a
	# busy machine 19,000 of them take minutes.
	timeout -k 10 "$((run_limit + IDLE_DEVICES / 10))" "$work/hearth" simulate load run "$@" -devices "$IDLE_DEVICES" \
		-connect-timeout 60s -metrics "$METRICS" -rate 1 -duration 8s -qos 1 -progress 0 -json \
		>"$work/$name-idle.json" 2>"$work/$name-idle.log" &
	local idle_pid=$!
	pids+=("$idle_pid")
	while :; do
		if grep -q 'devices connected' "$work/$name-idle.log" 2>/dev/null; then break; fi
		kill -0 "$idle_pid" 2>/dev/null || break
		sleep 0.1
	done
	sleep 4
	idle_rss=$(rss_kib "$broker_pid")
	wait "$idle_pid" || rc=$?
	forget "$idle_pid"
	((rc == 0)) || die "connecting $IDLE_DEVICES devices to $name failed (exit $rc): $(tail -5 "$work/$name-idle.log")"
	idle_connected=$(jnum Connected "$work/$name-idle.json")
	idle_acked=$(jnum Acked "$work/$name-idle.json")
}
peak_rss() { awk 'BEGIN { m = 0 } $2 > m { m = $2 } END { print m }' "$1"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }

echo "== machine: $cores cores, $(uptime | sed 's/.*load average/load average/')"
get_hearth
load_desc="$DEVICES TLS devices (client certificates), $METRICS metrics per message, target $RATE msgs/s for $DURATION, QoS 1, inflight $INFLIGHT"

################################################################ Hearth
echo
echo "================ Hearth"
data=$work/hearth-data
# Hearth refuses connections past --mqtt-max-clients (10,000 by default).
HEARTH_SERVE_FLAGS="--mqtt-max-clients $((fleet + 100)) ${HEARTH_SERVE_FLAGS:-}"
start_hearth "$data" "$work/hearth-serve.log"

echo "== provisioning $fleet devices for customer $customer"
timeout 1800 "$work/hearth" simulate load provision -api "$api" -api-ca "$data/tls/ca.pem" -creds "$work/creds" \
	-devices "$fleet" -customer "$customer"

# Let the provisioning garbage settle before the baseline.
sleep 2
hearth_rss_idle=$(rss_kib "$hearth_pid")
echo "== hearth resident memory before devices connect: $(mib "$hearth_rss_idle") MiB"

# Memory per connection is measured apart from the load: IDLE_DEVICES
# devices connect and send almost nothing while the RSS is read, then
# disconnect.
echo "== connecting $IDLE_DEVICES devices with almost no traffic, to measure memory per connection"
idle_rss "$hearth_pid" hearth -broker "127.0.0.1:$HEARTH_MQTT_PORT" -ca "$data/tls/ca.pem" -creds "$work/creds" -auth cert
hearth_rss_connected=$idle_rss h_idle_connected=$idle_connected h_idle_acked=$idle_acked
echo "== $h_idle_connected devices connected: $(mib "$hearth_rss_connected") MiB ($h_idle_acked messages acknowledged meanwhile)"
sleep 1

# The Go scheduler's latency histogram, before and after the load: how long
# Hearth's goroutines waited, runnable, for a processor. A PUBACK waits in
# that queue at least twice (the reading goroutine, then the acknowledging
# one), so its tail shows there.
sched_hist() {
	curl -sf --max-time 10 --cacert "$data/tls/ca.pem" -H "Authorization: Bearer $token" "$api/metrics" |
		sed -n 's/^go_sched_latencies_seconds_bucket{le="\([^"]*\)"} \([0-9]*\)$/\1 \2/p'
}
# sched_p99 BEFORE AFTER is the p99 of the waits between the two cumulative
# histograms, in ms (the upper bound of its bucket).
sched_p99() {
	awk 'NR == FNR { before[$1] = $2; next }
		{ le[n] = $1; d[n++] = $2 - before[$1] }
		END {
			if (n == 0 || d[n - 1] <= 0) { print "n/a"; exit }
			for (i = 0; i < n; i++) if (d[i] >= 0.99 * d[n - 1]) break
			if (le[i] == "+Inf") print "> 1000"; else printf "%.2f", le[i] * 1000
		}' <(echo "$1") <(echo "$2")
}
sched_before=$(sched_hist || true)

echo "== load: $load_desc"
usage_begin "$hearth_pid"
run_load "$hearth_pid" hearth -broker "127.0.0.1:$HEARTH_MQTT_PORT" -ca "$data/tls/ca.pem" -creds "$work/creds" -auth cert
if [[ $PERF == 1 ]]; then
	(
		for _ in $(seq 600); do
			if grep -q 'devices connected' "$work/hearth.log" 2>/dev/null; then break; fi
			sleep 0.1
		done
		exec perf record -q -F 499 -g -p "$hearth_pid" -o "$work/perf.data" -- sleep "$((duration_s * 2 / 3 > 0 ? duration_s * 2 / 3 : 1))" 2>/dev/null
	) &
	perf_pid=$!
	pids+=("$perf_pid")
fi
finish_load hearth "$hearth_pid"
h_load_ticks=$load_cpu_ticks
h_sched_p99=$(sched_p99 "$sched_before" "$(sched_hist || true)")
usage_end "$hearth_pid" "$(loadgen_cpu_s "$work/hearth.json")"
h_wall=$u_wall h_cpu_s=$u_broker_s h_cpu_pct=$u_broker_pct h_lg_pct=$u_loadgen_pct h_machine_pct=$u_machine_pct h_other_pct=$u_other_pct
hearth_rss_peak=$(peak_rss "$work/hearth.rss")
hearth_cpu_total=$(awk -v t="$(cpu_ticks "$hearth_pid")" -v hz="$hz" 'BEGIN { printf "%.1f", t / hz }')

h_acked=$(jnum Acked "$work/hearth.json")
h_failed=$(jnum Failed "$work/hearth.json")
h_connected=$(jnum Connected "$work/hearth.json")
h_dropped=$(jnum Dropped "$work/hearth.json")
h_msgs=$(round "$(jnum MsgsPerSec "$work/hearth.json")")
h_samples=$(round "$(jnum SamplesPerSec "$work/hearth.json")")
h_p50=$(ms "$(jnum LatencyP50 "$work/hearth.json")")
h_p99=$(ms "$(jnum LatencyP99 "$work/hearth.json")")
# The data directory is new: what it holds came from the two runs.
h_expected=$(((h_acked + h_idle_acked) * METRICS))

# Count what is stored through the Prometheus query API. nocache=1 matters:
# without it VictoriaMetrics' engine evaluates an instant query near "now"
# at now - search.latencyOffset (30 s by default), so the last 30 s of
# samples would not be counted. Samples become searchable within a few seconds:
# ask until the count stops changing.
query_count() {
	local window=$(($(date +%s) - hearth_started + 60))
	curl -sf --max-time 30 --cacert "$data/tls/ca.pem" -H "Authorization: Bearer $token" -G "$api/prometheus/api/v1/query" \
		--data-urlencode "query=sum(count_over_time({customer=\"$customer\"}[${window}s]))" --data-urlencode nocache=1 |
		sed -n 's/.*"value":\[[0-9.]*,"\([0-9.e+]*\)"\].*/\1/p'
}
echo "== counting stored samples through $api/prometheus/api/v1/query"
h_stored="" prev=""
for _ in $(seq 12); do
	sleep 2.5
	h_stored=$(query_count || true)
	h_stored=$(round "${h_stored:-0}")
	if [[ $h_stored == "$h_expected" ]]; then break; fi
	if [[ $h_stored == "$prev" && $h_stored != 0 ]]; then break; fi
	prev=$h_stored
done
if [[ $h_stored == "$h_expected" && $h_expected != 0 ]]; then h_verdict=OK; else h_verdict=MISMATCH; fi
# Hearth's own counters tell whether a difference is in ingestion or storage.
metrics_text=$(curl -sf --max-time 10 --cacert "$data/tls/ca.pem" -H "Authorization: Bearer $token" "$api/metrics" || true)
h_appended=$(awk '$1 == "hearth_telemetry_samples_stored_total" { printf "%.0f", $2 }' <<<"$metrics_text")
h_rows=$(awk '$1 == "hearth_tsdb_rows" { printf "%.0f", $2 }' <<<"$metrics_text")

if [[ $PERF == 1 ]]; then
	wait "$perf_pid" 2>/dev/null || true
	forget "$perf_pid"
fi
stop "$hearth_pid"
if grep -Eq 'level=(WARN|ERROR)' "$work/hearth-serve.log"; then
	echo "== hearth warnings and errors (first 20)"
	grep -E 'level=(WARN|ERROR)' "$work/hearth-serve.log" | head -20 || true
fi

################################################################ mosquitto
echo
echo "================ mosquitto"
echo "== issuing a CA, the broker certificate and $fleet device certificates"
"$work/hearth" simulate load certs -dir "$work/pki" -devices "$fleet" -hosts 127.0.0.1
{
	echo "listener $MOSQUITTO_PORT 127.0.0.1"
	echo "cafile $work/pki/ca.pem"
	echo "certfile $work/pki/server.pem"
	echo "keyfile $work/pki/server-key.pem"
	echo "require_certificate true"
	echo "use_identity_as_username true"
	echo "persistence false"
	echo "max_connections -1"
	echo "max_queued_messages 100000"
	echo "log_dest stderr"
	echo "log_type error"
	echo "log_type warning"
	# Started as root, mosquitto would switch to user mosquitto, which
	# cannot read the private temp dir.
	if [[ $(id -u) == 0 ]]; then echo "user root"; fi
} >"$work/mosquitto.conf"
"$mosquitto_bin" -c "$work/mosquitto.conf" 2>"$work/mosquitto.err" &
mosquitto_pid=$!
pids+=("$mosquitto_pid")
for _ in $(seq 50); do
	if listening "$MOSQUITTO_PORT"; then break; fi
	sleep 0.1
done
if ! kill -0 "$mosquitto_pid" 2>/dev/null || ! listening "$MOSQUITTO_PORT"; then
	cat "$work/mosquitto.err" >&2
	die "mosquitto did not start"
fi
mosquitto_version=$("$mosquitto_bin" -h 2>/dev/null | awk 'NR == 1 { print $3 }' || true)
echo "== mosquitto $mosquitto_version listening on 127.0.0.1:$MOSQUITTO_PORT (pid $mosquitto_pid)"
sleep 1
mosquitto_rss_idle=$(rss_kib "$mosquitto_pid")
echo "== connecting $IDLE_DEVICES devices with almost no traffic, to measure memory per connection"
idle_rss "$mosquitto_pid" mosquitto -broker "127.0.0.1:$MOSQUITTO_PORT" -ca "$work/pki/ca.pem" -creds "$work/pki/devices"
mosquitto_rss_connected=$idle_rss m_idle_connected=$idle_connected m_idle_acked=$idle_acked
echo "== $m_idle_connected devices connected: $(mib "$mosquitto_rss_connected") MiB ($m_idle_acked messages acknowledged meanwhile)"
sleep 1

"$work/hearth" simulate load count -broker "127.0.0.1:$MOSQUITTO_PORT" -ca "$work/pki/ca.pem" -creds "$work/pki/subscriber" \
	-filter 'hearth/things/+/telemetry' -idle 3s -duration "$((run_limit + 30))s" -ready-file "$work/ready" -json \
	>"$work/count.json" 2>"$work/count.log" &
counter_pid=$!
pids+=("$counter_pid")
for _ in $(seq 100); do
	if [[ -e $work/ready ]]; then break; fi
	sleep 0.1
done
[[ -e $work/ready ]] || die "subscriber did not connect: $(cat "$work/count.log")"

echo "== load: $load_desc"
usage_begin "$mosquitto_pid"
run_load "$mosquitto_pid" mosquitto -broker "127.0.0.1:$MOSQUITTO_PORT" -ca "$work/pki/ca.pem" -creds "$work/pki/devices"
finish_load mosquitto "$mosquitto_pid"
m_load_ticks=$load_cpu_ticks
usage_end "$mosquitto_pid" "$(loadgen_cpu_s "$work/mosquitto.json")"
m_wall=$u_wall m_cpu_s=$u_broker_s m_cpu_pct=$u_broker_pct m_lg_pct=$u_loadgen_pct m_machine_pct=$u_machine_pct m_other_pct=$u_other_pct
mosquitto_rss_peak=$(peak_rss "$work/mosquitto.rss")
# The subscriber stops 3 s after the last delivery.
count_rc=0
timeout 60 tail -f --pid="$counter_pid" /dev/null || true
wait "$counter_pid" || count_rc=$?
forget "$counter_pid"
((count_rc == 0)) || echo "== subscriber exited with $count_rc: $(cat "$work/count.log")" >&2
cat "$work/count.json"
m_acked=$(jnum Acked "$work/mosquitto.json")
m_failed=$(jnum Failed "$work/mosquitto.json")
m_connected=$(jnum Connected "$work/mosquitto.json")
m_dropped=$(jnum Dropped "$work/mosquitto.json")
m_msgs=$(round "$(jnum MsgsPerSec "$work/mosquitto.json")")
m_p50=$(ms "$(jnum LatencyP50 "$work/mosquitto.json")")
m_p99=$(ms "$(jnum LatencyP99 "$work/mosquitto.json")")
m_delivered=$(jnum Received "$work/count.json")
m_delivered_rate=$(round "$(jnum PerSecond "$work/count.json")")
stop "$mosquitto_pid"
if grep -qv 'should not be run as root' "$work/mosquitto.err"; then
	echo "== mosquitto log"
	grep -v 'should not be run as root' "$work/mosquitto.err" | head -20 || true
fi

################################################################ summary
ratio=$(awk -v h="$h_msgs" -v m="$m_msgs" 'BEGIN { if (m > 0) printf "%.2f", h / m; else print "n/a" }')
# Memory per idle connection: the growth over the broker's resident memory
# before the devices connected, divided by those that connected.
per_conn() { awk -v c="$1" -v i="$2" -v n="$3" 'BEGIN { if (n > 0) printf "%.1f", (c - i) / n; else print "n/a" }'; }
per_device_kib=$(per_conn "$hearth_rss_connected" "$hearth_rss_idle" "$h_idle_connected")
mosq_per_device_kib=$(per_conn "$mosquitto_rss_connected" "$mosquitto_rss_idle" "$m_idle_connected")
# What 100,000 idle connections would take at that slope, on top of the
# broker's memory without any.
at100k() { awk -v k="$1" -v i="$2" 'BEGIN { if (k == "n/a") print "n/a"; else printf "%.1f", (i + 100000 * k) / 1048576 }'; }
h_100k_gib=$(at100k "$per_device_kib" "$hearth_rss_idle")
m_100k_gib=$(at100k "$mosq_per_device_kib" "$mosquitto_rss_idle")
# CPU per acknowledged message: the broker's CPU time from the moment every
# device was connected until the load generator ended (sending, draining,
# disconnecting) over the messages acknowledged.
us_per_msg() { awk -v t="$1" -v hz="$hz" -v n="$2" 'BEGIN { if (n > 0 && t > 0) printf "%.1f", 1e6 * t / hz / n; else print "n/a" }'; }
h_us_msg=$(us_per_msg "$h_load_ticks" "$h_acked")
m_us_msg=$(us_per_msg "$m_load_ticks" "$m_acked")
ratio_of() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "n/a" && b != "n/a" && b > 0) printf "%.2f", a / b; else print "n/a" }'; }
cpu_ratio=$(ratio_of "$h_us_msg" "$m_us_msg")
p99_ratio=$(ratio_of "$h_p99" "$m_p99")
mem_ratio=$(ratio_of "$per_device_kib" "$mosq_per_device_kib")
if [[ ${HEARTH_SERVE_FLAGS:-} == *--telemetry-log=false* ]]; then wal_state="telemetry log off"; else wal_state="telemetry log on, fsync per group commit"; fi

echo
if [[ $PERF == 1 && -s $work/perf.data ]]; then
	echo "================ where hearth spent its CPU (perf, self time)"
	perf report -i "$work/perf.data" --stdio --no-children --sort sym 2>/dev/null | grep -E '^ +[0-9.]+%' >"$work/perf-self.txt" || true
	perf report -i "$work/perf.data" --stdio --children --sort sym 2>/dev/null | grep -E '^ +[0-9.]+% +[0-9.]+%' >"$work/perf-children.txt" || true
	head -25 "$work/perf-self.txt"
	echo "-- self time by Go package ([kernel] is system calls, network and scheduling)"
	awk '{ p = $1; sub(/%/, "", p); kind = $2; s = $0; sub(/^ +[0-9.]+% +\[[^]]*\] +/, "", s)
		gsub(/\[[^]]*\]/, "", s)
		if (kind == "[k]") pkg = "[kernel]"
		else if (s ~ /\./) {
			# A Go symbol: the package path ends at the first dot after the last slash.
			i = match(s, /\/[^\/]*$/); dir = i ? substr(s, 1, i) : ""; rest = i ? substr(s, i + 1) : s
			pkg = dir substr(rest, 1, index(rest, ".") - 1)
		} else pkg = "[assembly or C]"
		sum[pkg] += p }
		END { for (k in sum) printf "%7.2f%%  %s\n", sum[k], k }' "$work/perf-self.txt" | sort -rn | head -20 || true
	echo "-- inclusive time (children) of Hearth's, mochi's, TLS, JSON and VictoriaMetrics functions"
	grep -E 'hearthiot|mochi-mqtt|crypto/tls|fastjson|encoding/json|VictoriaMetrics|runtime\.gcBgMarkWorker|runtime\.mallocgc$' "$work/perf-children.txt" |
		awk '{ printf "%8s %8s  %s\n", $1, $2, $4 }' | head -40 || true
	echo
fi
if [[ -s $work/hearth.top ]]; then
	echo "================ top halfway through the Hearth load"
	cat "$work/hearth.top"
	echo
fi
if [[ -s $work/mosquitto.top ]]; then
	echo "================ top halfway through the mosquitto load"
	cat "$work/mosquitto.top"
	echo
fi

summary=$(
	cat <<EOF
================ summary
load       $load_desc
targets    1. CPU per acked message     Hearth ${h_us_msg} µs, mosquitto ${m_us_msg} µs: ${cpu_ratio}× (target ≤ 1.5×)
           2. publish→PUBACK p99        Hearth ${h_p99} ms, mosquitto ${m_p99} ms: ${p99_ratio}× (target ≤ 10 ms, ≤ 20 ms with the telemetry log; $wal_state)
           3. RSS per idle TLS conn     Hearth ${per_device_kib} KiB, mosquitto ${mosq_per_device_kib} KiB at $IDLE_DEVICES: ${mem_ratio}× (target ≤ 24 KiB); 100,000 at this slope: Hearth ${h_100k_gib} GiB, mosquitto ${m_100k_gib} GiB
machine    $cores cores; CPU busy during Hearth's load ${h_machine_pct}%, during mosquitto's ${m_machine_pct}% (of one core; others' work ${h_other_pct}% / ${m_other_pct}%)
Hearth     $h_msgs msgs/s acked, $h_samples samples/s, publish→PUBACK p50 ${h_p50} ms p99 ${h_p99} ms
           goroutines waited for a processor up to ${h_sched_p99} ms at p99 while the load connected and ran (Go scheduler latency)
           $h_connected connected, $h_dropped dropped, $h_acked acked, $h_failed failed
           stored     $h_stored samples queryable, acked × metrics = $h_expected: $h_verdict (hearth appended ${h_appended:-?}, tsdb rows ${h_rows:-?}; includes the $h_idle_acked messages of the connect-only run)
           memory     $(mib "$hearth_rss_idle") MiB before connect, $(mib "$hearth_rss_connected") MiB with $h_idle_connected connected and idle (${per_device_kib} KiB/device), peak under load $(mib "$hearth_rss_peak") MiB
           cpu        ${h_cpu_s} s over ${h_wall} s of connect+load+drain = ${h_cpu_pct}% of one core (load generator ${h_lg_pct}%); ${hearth_cpu_total} s since start
mosquitto  $m_msgs msgs/s acked, p50 ${m_p50} ms p99 ${m_p99} ms; delivered $m_delivered to one subscriber = $m_delivered_rate msgs/s
           $m_connected connected, $m_dropped dropped, $m_acked acked, $m_failed failed
           memory     $(mib "$mosquitto_rss_idle") MiB idle, $(mib "$mosquitto_rss_connected") MiB with $m_idle_connected connected and idle (${mosq_per_device_kib} KiB/device), peak $(mib "$mosquitto_rss_peak") MiB
           cpu        ${m_cpu_s} s over ${m_wall} s = ${m_cpu_pct}% of one core (load generator ${m_lg_pct}%)
ratio      Hearth ÷ mosquitto acked msgs/s = $ratio
EOF
)
echo "$summary"

if [[ -n $OUT ]]; then
	cat >"$OUT" <<EOF
| $load_desc | Hearth | mosquitto $mosquitto_version |
|---|---|---|
| messages acknowledged per second | $h_msgs | $m_msgs |
| samples per second | $h_samples | — |
| publish→PUBACK latency p50 / p99 | ${h_p50} ms / ${h_p99} ms | ${m_p50} ms / ${m_p99} ms |
| delivered to one subscriber per second | — | $m_delivered_rate |
| samples stored and queryable | $h_stored of $h_expected ($h_verdict) | — |
| CPU per acknowledged message while loaded | ${h_us_msg} µs | ${m_us_msg} µs |
| resident memory: no devices / $IDLE_DEVICES connected, idle / peak under load | $(mib "$hearth_rss_idle") / $(mib "$hearth_rss_connected") / $(mib "$hearth_rss_peak") MiB | $(mib "$mosquitto_rss_idle") / $(mib "$mosquitto_rss_connected") / $(mib "$mosquitto_rss_peak") MiB |
| memory per connected device | ${per_device_kib} KiB | ${mosq_per_device_kib} KiB |
| broker CPU over connect, load and drain | ${h_cpu_s} s (${h_cpu_pct}% of one core) | ${m_cpu_s} s (${m_cpu_pct}% of one core) |
| load generator CPU (same machine, $cores cores) | ${h_lg_pct}% of one core | ${m_lg_pct}% of one core |
| Hearth ÷ mosquitto, msgs/s | $ratio | |
| Hearth ÷ mosquitto: CPU per message / PUBACK p99 / memory per connection | $cpu_ratio / $p99_ratio / $mem_ratio | |
| others' work on the machine during the load | ${h_other_pct}% of one core | ${m_other_pct}% of one core |
EOF
	echo "(markdown table written to $OUT)"
fi
