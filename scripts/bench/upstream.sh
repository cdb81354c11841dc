#!/usr/bin/env bash
# Measures telemetry ingest of devices connected to Hearth directly against
# the same devices connected to an upstream broker (mosquitto) that Hearth
# takes their telemetry from (--mqtt-upstream, one box in the shared group),
# one after the other on the same machine, and prints the ratio.
#
# Both runs store into a fresh data directory with the same devices
# registered, and both are measured the same way: Hearth's own count of
# stored samples (hearth_telemetry_samples_stored_total), read every 0.5 s,
# from the first sample to the last; and Hearth's CPU time per 1,000
# messages. Through the upstream broker the devices are acknowledged by
# mosquitto, not by Hearth, so the load generator's own rate says nothing
# about Hearth there; the run also checks that every message mosquitto
# acknowledged is stored.
#
# Devices connect over TLS with client certificates (to Hearth: issued by
# its CA through the API; to mosquitto: by the load generator's CA, and
# Hearth connects to mosquitto with a client certificate of that CA too)
# and publish a flat JSON object of METRICS numbers with QoS 1.
#
# Settings come from the environment:
#   DEVICES=500 METRICS=20 RATE=5000 DURATION=20s INFLIGHT=10
#   HEARTH_HTTP_PORT=18443 HEARTH_MQTT_PORT=18884 MOSQUITTO_PORT=18883
#   HEARTH_BIN=f  use this hearth binary instead of building one
#
# Needs Go (unless HEARTH_BIN), curl, python3 and mosquitto (Debian:
# apt-get install -y mosquitto).
set -euo pipefail

DEVICES=${DEVICES:-500}
METRICS=${METRICS:-20}
RATE=${RATE:-5000}
DURATION=${DURATION:-20s}
INFLIGHT=${INFLIGHT:-10}
HEARTH_HTTP_PORT=${HEARTH_HTTP_PORT:-18443}
HEARTH_MQTT_PORT=${HEARTH_MQTT_PORT:-18884}
MOSQUITTO_PORT=${MOSQUITTO_PORT:-18883}
HEARTH_BIN=${HEARTH_BIN:-}

bench=upstream
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
customer=bench

for v in DEVICES METRICS INFLIGHT HEARTH_HTTP_PORT HEARTH_MQTT_PORT MOSQUITTO_PORT; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v=${!v} must be a whole number"
done
[[ $RATE =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "RATE=$RATE must be a number"
[[ $DURATION =~ ^[0-9]+s$ ]] || die "DURATION=$DURATION: whole seconds, e.g. 20s"
duration_s=${DURATION%s}
for p in "$HEARTH_HTTP_PORT" "$HEARTH_MQTT_PORT" "$MOSQUITTO_PORT"; do
	if listening "$p"; then die "port $p on 127.0.0.1 is in use; set HEARTH_HTTP_PORT, HEARTH_MQTT_PORT or MOSQUITTO_PORT"; fi
done
mosquitto_bin=$(command -v mosquitto || true)
[[ -n $mosquitto_bin ]] || die "mosquitto not found; on Debian: apt-get install -y mosquitto"
command -v curl >/dev/null || die "curl not found"
command -v python3 >/dev/null || die "python3 not found"
if (($(ulimit -n) < DEVICES + 512)); then ulimit -n $((DEVICES + 512)); fi

jnum() { awk -v k="\"$1\":" '$1 == k { v = $2; sub(/,$/, "", v); print v; exit }' "$2"; }
metric() {
	curl -sf --max-time 10 --cacert "$data/tls/ca.pem" -H "Authorization: Bearer $token" "$api/metrics" |
		awk -v m="$1" '$1 == m { printf "%.0f", $2 }'
}

# watch_stored writes "seconds samples" every 0.5 s to file $1 until the
# count has not moved for 5 s after the process $2 ended.
watch_stored() {
	local file=$1 until=$2 last=-1 still=0 n
	while :; do
		n=$(metric hearth_telemetry_samples_stored_total || echo 0)
		echo "$(date +%s.%N) ${n:-0}" >>"$file"
		if ! kill -0 "$until" 2>/dev/null; then
			if [[ $n == "$last" ]]; then still=$((still + 1)); else still=0; fi
			((still < 10)) || break
		fi
		last=$n
		sleep 0.5
	done
}

# rate_of prints samples/s from the first to the last change in file $1, and
# the samples stored over it.
rate_of() {
	awk 'NR == 1 { base = $2 } { if ($2 != prev) { if (!t0 && $2 > base) t0 = tp; t1 = $1; last = $2 } tp = $1; prev = $2 }
		END { d = t1 - t0; r = 0; if (d > 0) r = (last - base) / d; printf "%.0f %d %.1f\n", r, last - base, d }' "$1"
}

# run measures one phase: the load generator with flags "$@" against the
# broker the devices use, while Hearth (hearth_pid) stores.
run() {
	local name=$1
	shift
	: >"$work/$name.stored"
	local cpu0 cpu1 busy0 busy1 total0 total1
	cpu0=$(cpu_ticks "$hearth_pid")
	read -r busy0 total0 < <(machine_ticks)
	timeout -k 10 $((duration_s + 240)) "$work/hearth" simulate load run -metrics "$METRICS" -rate "$RATE" -duration "$DURATION" \
		-qos 1 -inflight "$INFLIGHT" -progress 0 -json "$@" >"$work/$name.json" 2>"$work/$name.log" &
	local lg=$!
	pids+=("$lg")
	watch_stored "$work/$name.stored" "$lg"
	wait "$lg" || die "the load against $name failed: $(tail -5 "$work/$name.log")"
	forget "$lg"
	cpu1=$(cpu_ticks "$hearth_pid")
	read -r busy1 total1 < <(machine_ticks)
	read -r r_rate r_samples r_secs < <(rate_of "$work/$name.stored")
	r_acked=$(jnum Acked "$work/$name.json")
	r_cpu=$(awk -v t=$((cpu1 - cpu0)) -v hz="$hz" 'BEGIN { printf "%.1f", t / hz }')
	r_cpu_per_k=$(awk -v c="$r_cpu" -v s="$r_samples" -v m="$METRICS" 'BEGIN { printf "%.3f", s ? c * 1000 * m / s : 0 }')
	r_machine=$(awk -v b=$((busy1 - busy0)) -v t=$((total1 - total0)) -v c="$cores" 'BEGIN { printf "%.0f", t ? 100 * c * b / t : 0 }')
	if [[ $r_samples == $((r_acked * METRICS)) ]]; then r_verdict=OK; else r_verdict=MISMATCH; fi
	echo "== $name: $r_samples samples stored in ${r_secs} s = $r_rate samples/s = $(awk -v r="$r_rate" -v m="$METRICS" 'BEGIN { printf "%.0f", r / m }') msgs/s;" \
		"acked to devices $r_acked msgs ($r_verdict); hearth CPU ${r_cpu} s = ${r_cpu_per_k} s per 1000 msgs; machine busy ${r_machine}% of one core"
}

echo "== machine: $cores cores, $(uptime | sed 's/.*load average/load average/')"
get_hearth
load_desc="$DEVICES TLS devices, $METRICS metrics per message, target $RATE msgs/s for $DURATION, QoS 1, inflight $INFLIGHT"

################################################################ direct
echo "================ devices connected to Hearth"
data=$work/direct
start_hearth "$data" "$work/direct-serve.log"
timeout 600 "$work/hearth" simulate load provision -api "$api" -api-ca "$data/tls/ca.pem" -creds "$work/creds" \
	-devices "$DEVICES" -customer "$customer" -prefix dev >/dev/null
run direct -broker "127.0.0.1:$HEARTH_MQTT_PORT" -ca "$data/tls/ca.pem" -creds "$work/creds" -auth cert
d_rate=$r_rate d_samples=$r_samples d_acked=$r_acked d_verdict=$r_verdict d_cpu_per_k=$r_cpu_per_k d_machine=$r_machine
stop "$hearth_pid"

################################################################ upstream
echo "================ devices connected to mosquitto, Hearth ingesting through --mqtt-upstream"
"$work/hearth" simulate load certs -dir "$work/pki" -devices "$DEVICES" -prefix dev -hosts 127.0.0.1 >/dev/null
python3 - "$work/pki/subscriber/credentials.json" "$work/pki" <<'EOF'
import json, sys, os
d = json.load(open(sys.argv[1]))["devices"][0]
for name, key in (("hearth.pem", "certificate_pem"), ("hearth-key.pem", "private_key_pem")):
    with open(os.path.join(sys.argv[2], name), "w") as f:
        f.write(d[key])
EOF
{
	echo "listener $MOSQUITTO_PORT 127.0.0.1"
	echo "cafile $work/pki/ca.pem"
	echo "certfile $work/pki/server.pem"
	echo "keyfile $work/pki/server-key.pem"
	echo "require_certificate true"
	echo "use_identity_as_username true"
	echo "persistence false"
	echo "max_connections -1"
	echo "max_queued_messages 1000000"
	echo "log_dest stderr"
	echo "log_type error"
	echo "log_type warning"
	if [[ $(id -u) == 0 ]]; then echo "user root"; fi
} >"$work/mosquitto.conf"
"$mosquitto_bin" -c "$work/mosquitto.conf" 2>"$work/mosquitto.err" &
mosquitto_pid=$!
pids+=("$mosquitto_pid")
for _ in $(seq 50); do
	if listening "$MOSQUITTO_PORT"; then break; fi
	sleep 0.1
done
listening "$MOSQUITTO_PORT" || die "mosquitto did not start: $(cat "$work/mosquitto.err")"

data=$work/upstream
HEARTH_SERVE_FLAGS="--mqtt-upstream mqtts://127.0.0.1:$MOSQUITTO_PORT --mqtt-upstream-ca $work/pki/ca.pem --mqtt-upstream-cert $work/pki/hearth.pem --mqtt-upstream-key $work/pki/hearth-key.pem --mqtt-upstream-client-id loadgen-subscriber" \
	start_hearth "$data" "$work/upstream-serve.log"
timeout 600 "$work/hearth" simulate load provision -api "$api" -api-ca "$data/tls/ca.pem" -creds "$work/creds-upstream" \
	-devices "$DEVICES" -customer "$customer" -prefix dev >/dev/null
for _ in $(seq 100); do
	[[ $(metric hearth_mqtt_upstream_connected) == 1 ]] && break
	sleep 0.2
done
[[ $(metric hearth_mqtt_upstream_connected) == 1 ]] || die "hearth did not connect to mosquitto: $(tail -5 "$work/upstream-serve.log")"
mosq_cpu0=$(cpu_ticks "$mosquitto_pid")
run upstream -broker "127.0.0.1:$MOSQUITTO_PORT" -ca "$work/pki/ca.pem" -creds "$work/pki/devices"
u_rate=$r_rate u_samples=$r_samples u_acked=$r_acked u_verdict=$r_verdict u_cpu_per_k=$r_cpu_per_k u_machine=$r_machine
mosq_cpu=$(awk -v t=$(($(cpu_ticks "$mosquitto_pid") - mosq_cpu0)) -v hz="$hz" 'BEGIN { printf "%.1f", t / hz }')
u_unknown=$(metric hearth_mqtt_upstream_unknown_device_total)
u_refused=$(metric hearth_mqtt_upstream_telemetry_refused_total)
stop "$hearth_pid"
stop "$mosquitto_pid"

ratio=$(awk -v u="$u_rate" -v d="$d_rate" 'BEGIN { if (d > 0) printf "%.2f", u / d; else print "n/a" }')
cpu_ratio=$(awk -v u="$u_cpu_per_k" -v d="$d_cpu_per_k" 'BEGIN { if (d > 0) printf "%.2f", u / d; else print "n/a" }')
cat <<EOF
================ summary
load       $load_desc
direct     $d_rate samples/s stored ($d_samples of $d_acked acked msgs × $METRICS: $d_verdict); hearth ${d_cpu_per_k} CPU-s per 1000 msgs; machine busy ${d_machine}%
upstream   $u_rate samples/s stored ($u_samples of $u_acked msgs mosquitto acked × $METRICS: $u_verdict; unknown ${u_unknown:-?}, refused ${u_refused:-?}); hearth ${u_cpu_per_k} CPU-s per 1000 msgs, mosquitto ${mosq_cpu} CPU-s; machine busy ${u_machine}%
ratio      upstream ÷ direct samples/s = $ratio; hearth CPU per message upstream ÷ direct = $cpu_ratio
EOF
