#!/usr/bin/env bash
# Measures what reading stored telemetry costs against a running Hearth:
#
#   freshness   how long after its PUBACK a sample shows in the range API
#               (GET /api/v1/devices/{name}/telemetry) and in PromQL
#               (/prometheus/api/v1/query and query_range), p50/p99/max, for
#               a new sample of a series that exists and for the first
#               sample of a new series, while DEVICES devices publish at the
#               target RATE (`hearth simulate load fresh` next to
#               `hearth simulate load run`);
#   year chart  the device page's chart data for one chiller over a year
#               (8 metrics, 1,000 points each, one request), p50/p95 over
#               CHART_REQUESTS requests, after the chiller back-filled a
#               year of one-minute samples over MQTT (`hearth simulate
#               --backfill`).
#
# The load generator and the probes share the machine with Hearth: the
# summary says how busy the machine was and how much of that was others'
# work. A run with much of it was disturbed and should be repeated.
#
# Settings come from the environment:
#   DEVICES=1000 METRICS=20 RATE=10000 DURATION=60s PROBES=15
#   CHART_REQUESTS=100 BACKFILL=8760h
#   HEARTH_HTTP_PORT=18443 HEARTH_MQTT_PORT=18884
#   HEARTH_BIN=f  serve with this hearth binary instead of one built here;
#                 the load generator and probes are always built here
#
# CPU profile of the chart path, next to it:
#   go test -run '^$' -bench DownsampleYear -benchtime 40x -cpuprofile cpu.out ./store/tsdb/
#   go tool pprof -top -cum store/tsdb.test cpu.out
#
# Needs Go and curl.
set -euo pipefail

DEVICES=${DEVICES:-1000}
METRICS=${METRICS:-20}
RATE=${RATE:-10000}
DURATION=${DURATION:-60s}
PROBES=${PROBES:-15}
CHART_REQUESTS=${CHART_REQUESTS:-100}
BACKFILL=${BACKFILL:-8760h}
HEARTH_HTTP_PORT=${HEARTH_HTTP_PORT:-18443}
HEARTH_MQTT_PORT=${HEARTH_MQTT_PORT:-18884}
HEARTH_BIN=${HEARTH_BIN:-}

bench=query
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
customer=bench

for v in DEVICES METRICS PROBES CHART_REQUESTS HEARTH_HTTP_PORT HEARTH_MQTT_PORT; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v=${!v} must be a whole number"
done
[[ $RATE =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "RATE=$RATE must be a number"
((CHART_REQUESTS > 0 && PROBES > 0)) || die "PROBES and CHART_REQUESTS must be positive"
for p in "$HEARTH_HTTP_PORT" "$HEARTH_MQTT_PORT"; do
	if listening "$p"; then die "port $p on 127.0.0.1 is in use; set HEARTH_HTTP_PORT or HEARTH_MQTT_PORT"; fi
done
command -v curl >/dev/null || die "curl not found"
if (($(ulimit -n) < DEVICES + 512)); then
	ulimit -n $((DEVICES + 512))
fi

echo "== machine: $cores cores, $(uptime | sed 's/.*load average/load average/')"
get_hearth
echo "== building the load generator"
(cd "$root" && go build -o "$work/tools" .)

data=$work/data
start_hearth "$data" "$work/serve.log"
ca=$data/tls/ca.pem
apicurl() { curl -sf --max-time 30 --cacert "$ca" -H "Authorization: Bearer $token" "$@"; }

################################################################ freshness
# One more device than the load runs as: the probe's own.
echo "== provisioning $((DEVICES + 1)) devices for customer $customer"
timeout 600 "$work/tools" simulate load provision -api "$api" -api-ca "$ca" -creds "$work/creds" \
	-devices $((DEVICES + 1)) -customer "$customer" >/dev/null

echo "== load: $DEVICES TLS devices, $METRICS metrics per message, $RATE msgs/s for $DURATION, QoS 1"
u_cpu0=$(cpu_ticks "$hearth_pid")
read -r u_busy0 u_total0 < <(machine_ticks)
timeout -k 10 900 "$work/tools" simulate load run -broker "127.0.0.1:$HEARTH_MQTT_PORT" -ca "$ca" -creds "$work/creds" \
	-devices "$DEVICES" -auth cert -metrics "$METRICS" -rate "$RATE" -duration "$DURATION" -qos 1 -progress 0 -json \
	>"$work/load.json" 2>"$work/load.log" &
load_pid=$!
pids+=("$load_pid")
for _ in $(seq 1200); do
	if grep -q 'devices connected' "$work/load.log" 2>/dev/null; then break; fi
	kill -0 "$load_pid" 2>/dev/null || die "the load ended before its devices connected: $(cat "$work/load.log")"
	sleep 0.1
done
sleep 3 # let the rate settle
echo "== probing: $PROBES samples of an existing series and $PROBES new series, one a second"
t_probe0=$(date +%s.%N)
"$work/tools" simulate load fresh -broker "127.0.0.1:$HEARTH_MQTT_PORT" -ca "$ca" -creds "$work/creds" \
	-api "$api" -api-ca "$ca" -token "$token" -probes "$PROBES" -interval 1s >"$work/fresh.txt" 2>"$work/fresh.log" ||
	die "the probe failed: $(cat "$work/fresh.log")"
t_probe1=$(date +%s.%N)
if kill -0 "$load_pid" 2>/dev/null; then load_during=yes; else load_during=no; fi
load_rc=0
wait "$load_pid" || load_rc=$?
forget "$load_pid"
((load_rc == 0)) || echo "== the load generator exited with $load_rc: $(tail -3 "$work/load.log")" >&2
u_cpu1=$(cpu_ticks "$hearth_pid")
read -r u_busy1 u_total1 < <(machine_ticks)
jnum() { awk -v k="\"$1\":" '$1 == k { v = $2; sub(/,$/, "", v); print v; exit }' "$2"; }
l_msgs=$(awk -v n="$(jnum MsgsPerSec "$work/load.json")" 'BEGIN { printf "%.0f", n }')
l_wall=$(awk -v a="$(jnum Elapsed "$work/load.json")" 'BEGIN { printf "%.0f", a / 1e9 }')
machine_pct=$(awk -v b=$((u_busy1 - u_busy0)) -v t=$((u_total1 - u_total0)) -v c="$cores" 'BEGIN { printf "%.0f", t ? 100 * c * b / t : 0 }')
hearth_cpu_s=$(awk -v t=$((u_cpu1 - u_cpu0)) -v hz="$hz" 'BEGIN { printf "%.1f", t / hz }')
probe_s=$(awk -v a="$t_probe0" -v b="$t_probe1" 'BEGIN { printf "%.0f", b - a }')

################################################################ year chart
# A year of one chiller is 5.8 million samples, far past the default
# per-device rate (--telemetry-rate 1000/s, burst 500,000): Hearth is
# restarted on the same data without that limit for the back-fill.
stop "$hearth_pid"
HEARTH_SERVE_FLAGS="${HEARTH_SERVE_FLAGS:-} --telemetry-rate 0" start_hearth "$data" "$work/serve2.log"
echo "== back-filling $BACKFILL of one-minute samples of one chiller"
t_fill0=$(date +%s.%N)
timeout -k 10 3600 "$work/tools" simulate --data "$data" --server "127.0.0.1:$HEARTH_MQTT_PORT" --devices 1 --kind chiller \
	--customer "$customer" --prefix year --creds "$work/year-creds" --interval 1m --backfill "$BACKFILL" \
	--progress 0 --log-level warn >"$work/fill.log" 2>&1 &
fill_pid=$!
pids+=("$fill_pid")
chiller=year-chiller-00000
want_points=$(awk -v b="$BACKFILL" 'BEGIN { n = b; sub(/h$/, "", n); printf "%d", n * 60 }')
count=0 prev=-1 still=0
for _ in $(seq 1800); do
	sleep 2
	kill -0 "$fill_pid" 2>/dev/null || die "the back-fill ended: $(tail -5 "$work/fill.log")"
	count=$(apicurl -G "$api/prometheus/api/v1/query" --data-urlencode "query=count_over_time(chw_supply_c{device=\"$chiller\"}[400d])" |
		sed -n 's/.*"value":\[[0-9.]*,"\([0-9.e+]*\)"\].*/\1/p' || true)
	count=${count:-0}
	if ((count >= want_points)); then break; fi
	if [[ $count == "$prev" && $count != 0 ]]; then
		still=$((still + 1))
		((still < 15)) || break
	else
		still=0
	fi
	prev=$count
done
t_fill1=$(date +%s.%N)
stop "$fill_pid"
fill_s=$(awk -v a="$t_fill0" -v b="$t_fill1" 'BEGIN { printf "%.0f", b - a }')
echo "== $count one-minute samples of chw_supply_c stored in ${fill_s} s (wanted $want_points)"

# The chart is a page's request: a customer's user signs in.
email=chart@bench.example password="correct horse battery staple"
apicurl -X POST -H 'Content-Type: application/json' "$api/api/v1/users" \
	-d "{\"email\":\"$email\",\"role\":\"customer\",\"customer\":\"$customer\",\"password\":\"$password\"}" >/dev/null ||
	die "create the chart's user"
jar=$work/cookies
status=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$ca" -c "$jar" -H "Origin: $api" \
	--data-urlencode "email=$email" --data-urlencode "password=$password" --data-urlencode "next=/" "$api/login")
[[ $status == 303 ]] || die "sign in: status $status"
metrics=chw_supply_c,chw_return_c,hw_supply_c,hw_return_c,load_pct,gas_m3h,outside_temp_c,chw_setpoint_c
to=$(($(date +%s) * 1000))
from=$((to - 365 * 24 * 3600 * 1000))
url="$api/devices/$chiller/series?metrics=$metrics&from=$from&to=$to&points=1000"
points=$(curl -sf --cacert "$ca" -b "$jar" "$url" | awk 'match($0, /"t":\[[^]]*\]/) { s = substr($0, RSTART, RLENGTH); print gsub(/,/, "", s) + 1 }')
echo "== year chart: 8 series, the first of ${points:-0} points; $CHART_REQUESTS requests on one connection"
# One curl, one connection: the times are the server's and the loopback's.
args=()
for _ in $(seq "$CHART_REQUESTS"); do args+=(-o /dev/null "$url"); done
curl -sf --cacert "$ca" -b "$jar" -w '%{http_code} %{time_starttransfer} %{time_total}\n' "${args[@]}" >"$work/chart.txt"
bad=$(awk '$1 != 200' "$work/chart.txt" | wc -l)
((bad == 0)) || die "$bad chart requests failed"
# The first request also pays the TLS handshake: time from the first byte
# sent is total - connect for it; later ones reuse the connection.
read -r chart_p50 chart_p95 chart_max < <(awk '{ print $3 * 1000 }' "$work/chart.txt" | tail -n +2 | sort -n |
	awk '{ v[NR] = $1 } END { p50 = v[int(NR * 0.50 + 0.999999)]; p95 = v[int(NR * 0.95 + 0.999999)]; printf "%.1f %.1f %.1f\n", p50, p95, v[NR] }')

stop "$hearth_pid"
if grep -Eq 'level=(WARN|ERROR)' "$work/serve.log" "$work/serve2.log"; then
	echo "== hearth warnings and errors (first 10)"
	grep -hE 'level=(WARN|ERROR)' "$work/serve.log" "$work/serve2.log" | head -10 || true
fi

echo
echo "================ summary"
echo "machine     $cores cores; busy ${machine_pct}% of one core during the load (Hearth ${hearth_cpu_s} s of CPU over ${l_wall} s)"
echo "load        $DEVICES devices, $METRICS metrics, asked $RATE msgs/s, acknowledged $l_msgs msgs/s; probes took ${probe_s} s (load still running at their end: $load_during)"
echo "freshness   from PUBACK to the first answer holding the sample (polled every 10 ms):"
sed 's/^/              /' "$work/fresh.txt"
echo "year chart  $count samples a metric back-filled in ${fill_s} s; $((CHART_REQUESTS - 1)) requests: p50 ${chart_p50} ms, p95 ${chart_p95} ms, max ${chart_max} ms"
