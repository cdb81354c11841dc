#!/usr/bin/env bash
# Measures a job rolled out to a whole fleet and prints a summary:
#
#   rollout   time from the job's creation until every execution ended,
#             and executions ended per second, with the counts by status
#             (from `hearth simulate load jobs`, whose full report follows);
#   hearth    CPU (percent of one core) and resident memory over the
#             rollout;
#   downloads with ARTIFACT_MIB, the bytes every device downloaded of an
#             artifact of that size through Hearth's signed links;
#   telemetry with TELEMETRY_DEVICES, what other devices sending
#             TELEMETRY_RATE msg/s in all got acknowledged meanwhile.
#
# Devices are provisioned once through the API, then connect over TLS with
# their client certificates as simulated devices that take jobs (telemetry
# once an hour only): each reports IN_PROGRESS, works for JOB_DURATION, and
# ends SUCCEEDED or FAILED (FAILURE_RATE of them, drawn in advance). The job
# is created for every device at once, or RATE a minute. Everything listens
# on 127.0.0.1, lives in a temporary directory and is stopped on exit.
#
# Settings come from the environment:
#   DEVICES=10000 FAILURE_RATE=0.02 JOB_DURATION=2s RATE=0
#   ARTIFACT_MIB=0 TELEMETRY_DEVICES=0 TELEMETRY_RATE=2000 TELEMETRY_DURATION=60s
#   HEARTH_HTTP_PORT=18443 HEARTH_MQTT_PORT=18886
#   HEARTH_BIN=f  use this hearth binary instead of building one
#
# Needs Go (unless HEARTH_BIN), curl, and jq with TELEMETRY_DEVICES.
set -euo pipefail

DEVICES=${DEVICES:-10000}
FAILURE_RATE=${FAILURE_RATE:-0.02}
JOB_DURATION=${JOB_DURATION:-2s}
RATE=${RATE:-0}
ARTIFACT_MIB=${ARTIFACT_MIB:-0}
TELEMETRY_DEVICES=${TELEMETRY_DEVICES:-0}
TELEMETRY_RATE=${TELEMETRY_RATE:-2000}
HEARTH_HTTP_PORT=${HEARTH_HTTP_PORT:-18443}
HEARTH_MQTT_PORT=${HEARTH_MQTT_PORT:-18886}

bench=jobs
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

for v in DEVICES RATE ARTIFACT_MIB TELEMETRY_DEVICES TELEMETRY_RATE HEARTH_HTTP_PORT HEARTH_MQTT_PORT; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v=${!v} must be a whole number"
done
command -v curl >/dev/null || die "curl not found"
for p in "$HEARTH_HTTP_PORT" "$HEARTH_MQTT_PORT"; do
	if listening "$p"; then die "port $p on 127.0.0.1 is in use; set HEARTH_HTTP_PORT or HEARTH_MQTT_PORT"; fi
done
# Each device is one open connection in the load generator and one in Hearth.
want=$((DEVICES + TELEMETRY_DEVICES + 512)) hard=$(ulimit -Hn)
[[ $hard == unlimited ]] || ((want <= hard)) || die "DEVICES=$DEVICES needs $want open files; this shell allows $hard (ulimit -Hn)"
(($(ulimit -n) >= want)) || ulimit -n "$want"

echo "== machine: $cores cores, $(uptime | sed 's/.*load average/load average/')"
get_hearth
data=$work/data
export HEARTH_SERVE_FLAGS="--mqtt-max-clients $((DEVICES + TELEMETRY_DEVICES + 100))"
start_hearth "$data" "$work/serve.log"

echo "== provisioning $DEVICES devices"
p0=$(date +%s)
timeout 1800 "$work/hearth" simulate load provision -api "$api" -api-ca "$data/tls/ca.pem" -creds "$work/creds" \
	-devices "$DEVICES" -customer bench
p1=$(date +%s)

artifact_flags=()
if ((ARTIFACT_MIB > 0)); then
	echo "== uploading a $ARTIFACT_MIB MiB artifact"
	head -c $((ARTIFACT_MIB << 20)) /dev/urandom >"$work/bench.bin"
	curl -sf --cacert "$data/tls/ca.pem" -H "Authorization: Bearer $token" -H 'Content-Type: application/octet-stream' \
		-X PUT --data-binary "@$work/bench.bin" "$api/api/v1/artifacts/bench.bin" >/dev/null || die "artifact upload failed"
	# Hearth replaces the placeholders with a signed link and the digest for each device.
	# shellcheck disable=SC2016 # the placeholders are Hearth's, not the shell's
	artifact_flags=(-url '${hearth:artifact-url:bench.bin}' -sha256 '${hearth:artifact-sha256:bench.bin}' -download-max $(((ARTIFACT_MIB + 1) << 20)))
fi
if ((TELEMETRY_DEVICES > 0)); then
	echo "== provisioning $TELEMETRY_DEVICES devices that send telemetry meanwhile, $TELEMETRY_RATE msg/s in all"
	timeout 1800 "$work/hearth" simulate load provision -api "$api" -api-ca "$data/tls/ca.pem" -creds "$work/tcreds" \
		-devices "$TELEMETRY_DEVICES" -customer telemetry -prefix tel >/dev/null
fi

echo "== rollout: one job to $DEVICES devices, rate ${RATE}/min (0: all at once), $JOB_DURATION a job, $FAILURE_RATE failing"
"$work/hearth" simulate load jobs -broker "127.0.0.1:$HEARTH_MQTT_PORT" -creds "$work/creds" -auth cert \
	-api "$api" -api-ca "$data/tls/ca.pem" -customer bench -job-id bench-rollout -failure-rate "$FAILURE_RATE" \
	-job-duration "$JOB_DURATION" -rate "$RATE" -timeout 30m -progress 5s -json "${artifact_flags[@]}" \
	>"$work/jobs.json" 2>"$work/jobs.log" &
lg_pid=$!
pids+=("$lg_pid")
tail -n +1 -f --pid="$lg_pid" "$work/jobs.log" &
pids+=("$!")
for _ in $(seq 18000); do
	if grep -q 'devices connected' "$work/jobs.log" 2>/dev/null; then break; fi
	kill -0 "$lg_pid" 2>/dev/null || break
	sleep 0.1
done
grep -q 'devices connected' "$work/jobs.log" || die "the devices did not connect: $(tail -5 "$work/jobs.log")"
if ((TELEMETRY_DEVICES > 0)); then
	# Telemetry from the job's creation, for TELEMETRY_DURATION.
	timeout -k 10 1800 "$work/hearth" simulate load run -broker "127.0.0.1:$HEARTH_MQTT_PORT" -ca "$data/tls/ca.pem" \
		-creds "$work/tcreds" -auth cert -rate "$TELEMETRY_RATE" -duration "${TELEMETRY_DURATION:-60s}" -qos 1 -progress 0 -json \
		>"$work/telemetry.json" 2>"$work/telemetry.log" &
	tl_pid=$!
	pids+=("$tl_pid")
fi
t0=$(date +%s.%N) cpu0=$(cpu_ticks "$hearth_pid")
rss_peak=0
while kill -0 "$lg_pid" 2>/dev/null; do
	r=$(rss_kib "$hearth_pid")
	((r > rss_peak)) && rss_peak=$r
	sleep 0.5
done
t1=$(date +%s.%N) cpu1=$(cpu_ticks "$hearth_pid")
rc=0
wait "$lg_pid" || rc=$?
[[ -s $work/jobs.json ]] || die "the load generator failed (exit $rc)"
cat "$work/jobs.json"
if grep -Eq 'level=(WARN|ERROR)' "$work/serve.log"; then
	echo "== hearth warnings and errors (first 20)"
	grep -E 'level=(WARN|ERROR)' "$work/serve.log" | head -20 || true
fi
window=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
cpu_pct=$(awk -v t=$((cpu1 - cpu0)) -v hz="$hz" -v w="$window" 'BEGIN { printf "%.0f", 100 * t / hz / w }')
val() { grep -m1 "\"$1\":" "$work/jobs.json" | sed 's/.*: *//; s/,$//'; }

cat <<EOF

================ summary
fleet           $DEVICES devices over TLS, provisioned in $((p1 - p0)) s, connected in $(ms "$(val ConnectTime)") ms
rollout         every execution ended $(ms "$(val Elapsed)") ms after the job was created: $(awk -v p="$(val PerSec)" 'BEGIN { printf "%.0f", p }') executions/s
                SUCCEEDED $(val SUCCEEDED), FAILED $(val FAILED) ($(val ExpectedFailed) expected)
hearth          ${cpu_pct}% of one core from the job's creation to the end (${window} s, the load generator's wait included); resident memory peak $((rss_peak / 1024)) MiB
EOF
if ((ARTIFACT_MIB > 0)); then
	dl=$(val DownloadBytes)
	echo "downloads       ${dl:-0} bytes of the $ARTIFACT_MIB MiB artifact over Hearth's signed links: $(awk -v b="${dl:-0}" -v w="$window" 'BEGIN { printf "%.0f", b / 1048576 / w }') MiB/s over the rollout"
fi
if ((TELEMETRY_DEVICES > 0)); then
	wait "$tl_pid" || true
	jq -r --arg r "$TELEMETRY_RATE" '"telemetry       \(.MsgsPerSec | floor) msg/s acknowledged of \($r) sent, p50 \(.LatencyP50 / 1e6 * 10 | floor / 10) ms, p99 \(.LatencyP99 / 1e6 * 10 | floor / 10) ms"' "$work/telemetry.json"
fi
((rc == 0)) || die "the load generator exited with $rc"
