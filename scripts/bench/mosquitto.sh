#!/usr/bin/env bash
# Runs Hearth's MQTT load generator against mosquitto, as a yardstick for
# Hearth's own broker: mosquitto listens with TLS on 127.0.0.1 and requires
# client certificates, every device connects with its own certificate and
# publishes telemetry with QoS 1, and one subscriber on
# hearth/things/+/telemetry counts what mosquitto delivers.
#
# Settings come from the environment:
#   DEVICES=1000 METRICS=20 RATE=10000 DURATION=30s INFLIGHT=10 PORT=18883
#
# It prints the generator's report (msgs/s acknowledged, latency p50/p99,
# its own CPU), the subscriber's delivered msgs/s and mosquitto's CPU.
# Needs Go and mosquitto (Debian: apt-get install -y mosquitto).
set -euo pipefail

DEVICES=${DEVICES:-1000}
METRICS=${METRICS:-20}
RATE=${RATE:-10000}
DURATION=${DURATION:-30s}
INFLIGHT=${INFLIGHT:-10}
PORT=${PORT:-18883}

root=$(cd "$(dirname "$0")/../.." && pwd)
mosquitto_bin=$(command -v mosquitto || true)
if [[ -z $mosquitto_bin ]]; then
	echo "mosquitto not found; on Debian: apt-get install -y mosquitto" >&2
	exit 1
fi
# listening tells whether something listens on 127.0.0.1:$PORT, without
# connecting: a probe connection would show up as a TLS error in mosquitto's log.
listening() {
	local hex
	hex=$(printf '%04X' "$PORT")
	grep -Eqi "^ *[0-9]+: (0100007F|00000000):$hex [0-9A-F]+:[0-9A-F]+ 0A " /proc/net/tcp
}
if listening; then
	echo "port $PORT on 127.0.0.1 is in use; set PORT" >&2
	exit 1
fi
# Each device is one socket in the generator and one in mosquitto.
if (($(ulimit -n) < DEVICES + 512)); then
	ulimit -n $((DEVICES + 512))
fi

work=$(mktemp -d)
mosquitto_pid=""
counter_pid=""
cleanup() {
	if [[ -n $counter_pid ]]; then kill "$counter_pid" 2>/dev/null || true; fi
	if [[ -n $mosquitto_pid ]]; then kill "$mosquitto_pid" 2>/dev/null || true; fi
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

echo "== building hearth"
(cd "$root" && go build -o "$work/hearth" .)
loadgen="$work/hearth loadgen"

echo "== issuing a CA, the broker certificate and $DEVICES device certificates"
$loadgen certs -dir "$work/pki" -devices "$DEVICES" -hosts 127.0.0.1

{
	echo "listener $PORT 127.0.0.1"
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

"$mosquitto_bin" -c "$work/mosquitto.conf" 2>"$work/mosquitto.log" &
mosquitto_pid=$!
for _ in $(seq 50); do
	if listening; then break; fi
	sleep 0.1
done
if ! kill -0 "$mosquitto_pid" 2>/dev/null || ! listening; then
	echo "mosquitto did not start:" >&2
	cat "$work/mosquitto.log" >&2
	exit 1
fi
echo "== mosquitto $("$mosquitto_bin" -h | head -1 | awk '{print $3}') listening on 127.0.0.1:$PORT (pid $mosquitto_pid)"

$loadgen count -broker "127.0.0.1:$PORT" -ca "$work/pki/ca.pem" -creds "$work/pki/subscriber" \
	-filter 'hearth/things/+/telemetry' -idle 3s -duration 30m -ready-file "$work/ready" >"$work/count.out" &
counter_pid=$!
for _ in $(seq 100); do
	if [[ -e $work/ready ]]; then break; fi
	sleep 0.1
done
if [[ ! -e $work/ready ]]; then
	echo "subscriber did not connect" >&2
	exit 1
fi

# utime + stime of a process, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
ticks_before=$(cpu_ticks "$mosquitto_pid")
began=$(date +%s.%N)

echo "== load: $DEVICES devices, $METRICS metrics, target $RATE msgs/s for $DURATION, QoS 1, inflight $INFLIGHT"
$loadgen run -broker "127.0.0.1:$PORT" -ca "$work/pki/ca.pem" -creds "$work/pki/devices" \
	-metrics "$METRICS" -rate "$RATE" -duration "$DURATION" -qos 1 -inflight "$INFLIGHT" -progress 10s

ticks_after=$(cpu_ticks "$mosquitto_pid")
ended=$(date +%s.%N)
wait "$counter_pid"
counter_pid=""
cat "$work/count.out"
awk -v t=$((ticks_after - ticks_before)) -v hz="$(getconf CLK_TCK)" -v b="$began" -v e="$ended" \
	'BEGIN { printf "mosquitto    cpu %.2fs (%.0f%% of one core over connect and run)\n", t / hz, 100 * t / hz / (e - b) }'
# The warning about running as root is expected when the script runs as root.
if grep -qv 'should not be run as root' "$work/mosquitto.log"; then
	echo "== mosquitto log"
	grep -v 'should not be run as root' "$work/mosquitto.log"
fi
