#!/usr/bin/env bash
# Measures backups: how fast `hearth backup` writes the archive of a data
# directory holding SAMPLES samples, through the admin socket of a running
# Hearth and from the directory of a stopped one, how fast `hearth backup
# verify` and `hearth restore` read it, and what backups cost telemetry
# ingest: the same MQTT load twice, once alone and once while backups are
# taken one after the other, with acknowledged messages per second and
# PUBACK latency for each. A Hearth started on the restored directory must
# count the same samples as the original.
#
# The samples are filled with the time-series store's own fill
# (TestOpenTime in store/tsdb: sensor-like values, one a minute per series,
# SERIES series) into a data directory a first start created. The load is
# `hearth simulate load`: DEVICES TLS devices, METRICS numbers per message,
# RATE messages per second, QoS 1. Everything listens on 127.0.0.1, lives
# in a temporary directory and is stopped on exit.
#
# Settings come from the environment:
#   SAMPLES=20000000 SERIES=(SAMPLES/44000, so every series spans 30 days)
#   DEVICES=500 METRICS=20 RATE=2000 DURATION=20s
#   HEARTH_HTTP_PORT=18443 HEARTH_MQTT_PORT=18886
#   HEARTH_BIN=f  use this hearth binary instead of building one
#
# Needs Go, curl and jq.
set -euo pipefail

SAMPLES=${SAMPLES:-20000000}
SERIES=${SERIES:-$(((SAMPLES + 43999) / 44000))}
DEVICES=${DEVICES:-500}
METRICS=${METRICS:-20}
RATE=${RATE:-2000}
DURATION=${DURATION:-20s}
HEARTH_HTTP_PORT=${HEARTH_HTTP_PORT:-18443}
HEARTH_MQTT_PORT=${HEARTH_MQTT_PORT:-18886}

bench=backup
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

for v in SAMPLES SERIES DEVICES METRICS RATE HEARTH_HTTP_PORT HEARTH_MQTT_PORT; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v=${!v} must be a whole number"
done
for c in go curl jq; do command -v "$c" >/dev/null || die "$c not found"; done
for p in "$HEARTH_HTTP_PORT" "$HEARTH_MQTT_PORT"; do
	if listening "$p"; then die "port $p on 127.0.0.1 is in use; set HEARTH_HTTP_PORT or HEARTH_MQTT_PORT"; fi
done

echo "== machine: $cores cores, $(uptime | sed 's/.*load average/load average/')"
get_hearth
data=$work/data

# A first start makes the installation (store, CA); the fill adds samples.
start_hearth "$data" "$work/serve0.log"
stop "$hearth_pid"
echo "== filling the time-series store: $SAMPLES samples over $SERIES series"
(cd "$root" && go test -count=1 -run '^TestOpenTime$' ./store/tsdb/ -args -samples="$SAMPLES" -series="$SERIES" \
	-opendir="$data/tsdb" >"$work/fill.log" 2>&1) || die "fill failed: $(tail -5 "$work/fill.log")"

# now: seconds since the epoch with fractions.
now() { date +%s.%N; }
# mibs BYTES SECONDS: MiB/s with one decimal.
mibs() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.1f", b / 1048576 / s }'; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# count: the samples of the fill a server on $1 holds.
count() {
	curl -sf --cacert "$1/tls/ca.pem" -H "Authorization: Bearer $token" \
		--data-urlencode 'query=sum(count_over_time(power_kw[60d]))' "$api/prometheus/api/v1/query" |
		jq -r '.data.result[0].value[1] // "0"'
}

start_hearth "$data" "$work/serve.log"
before=$(count "$data")
data_bytes=$(du -sb "$data/hearth.db" "$data/tsdb" "$data/tls" | awk '{ s += $1 } END { print s }')
echo "== $before samples stored, $(mib "$data_bytes") MiB in the data directory"

# backup_once FILE: one backup through the admin socket; prints seconds.
backup_once() {
	local t0 t1
	t0=$(now)
	"$work/hearth" backup --data "$data" --to "$1" --json >"$1.json" 2>"$1.log" || die "backup failed: $(cat "$1.log")"
	t1=$(now)
	secs "$t0" "$t1"
}

echo "== backup through the admin socket, server idle"
idle_s=$(backup_once "$work/idle.tar.zst")
archive_bytes=$(stat -c %s "$work/idle.tar.zst")
idle_data=$(jq .bytes "$work/idle.tar.zst.json")

echo "== provisioning $DEVICES devices"
timeout 600 "$work/hearth" simulate load provision -api "$api" -api-ca "$data/tls/ca.pem" -creds "$work/creds" \
	-devices "$DEVICES" -customer bench >/dev/null

# load NAME: one load run; prints msg/s, p50 and p99 latency in ms.
load() {
	timeout -k 10 600 "$work/hearth" simulate load run -broker "127.0.0.1:$HEARTH_MQTT_PORT" -ca "$data/tls/ca.pem" \
		-creds "$work/creds" -auth cert -metrics "$METRICS" -rate "$RATE" -duration "$DURATION" -qos 1 \
		-progress 0 -json >"$work/$1.json" 2>"$work/$1.log" || die "the $1 load failed: $(tail -3 "$work/$1.log")"
	jq -r '"\(.MsgsPerSec | floor) \(.LatencyP50 / 1e5 | round / 10) \(.LatencyP99 / 1e5 | round / 10) \(.Failed)"' "$work/$1.json"
}

echo "== load alone: $RATE msg/s, $METRICS metrics, $DURATION"
read -r alone_rate alone_p50 alone_p99 alone_failed < <(load alone)

echo "== load while backups run one after the other"
load during >"$work/during.out" &
load_pid=$!
sleep 2
n=0 busy_s=0
while kill -0 "$load_pid" 2>/dev/null; do
	s=$(backup_once "$work/during-$n.tar.zst")
	busy_s=$(awk -v a="$busy_s" -v b="$s" 'BEGIN { print a + b }')
	last_data=$(jq .bytes "$work/during-$n.tar.zst.json")
	rm -f "$work/during-$n.tar.zst"
	n=$((n + 1))
done
wait "$load_pid"
read -r during_rate during_p50 during_p99 during_failed <"$work/during.out"
((n > 0)) || die "no backup ran during the load; make DURATION longer"

stop "$hearth_pid"
echo "== backup of the stopped server's directory"
t0=$(now)
"$work/hearth" backup --data "$data" --to "$work/stopped.tar.zst" >/dev/null
stopped_s=$(secs "$t0" "$(now)")
stopped_data=$(jq .bytes <("$work/hearth" backup verify "$work/stopped.tar.zst" --json))

echo "== verify and restore"
t0=$(now)
"$work/hearth" backup verify "$work/idle.tar.zst" >/dev/null
verify_s=$(secs "$t0" "$(now)")
t0=$(now)
"$work/hearth" restore --from "$work/idle.tar.zst" --data "$work/restored" >/dev/null
restore_s=$(secs "$t0" "$(now)")

start_hearth "$work/restored" "$work/serve-restored.log"
after=$(count "$work/restored")
[[ $after == "$before" ]] || die "the restored server counts $after samples, the original $before"

cat <<SUMMARY
== result
data             $before samples over $SERIES series; $(mib "$idle_data") MiB archived ($(mib "$archive_bytes") MiB compressed)
backup, idle     $idle_s s through the admin socket: $(mibs "$idle_data" "$idle_s") MiB/s of data
backup, stopped  $stopped_s s from the directory: $(mibs "$stopped_data" "$stopped_s") MiB/s
backup, loaded   $n backups in a row during the load, $(awk -v s="$busy_s" -v n="$n" 'BEGIN { printf "%.2f", s / n }') s each: $(mibs "$((last_data * n))" "$busy_s") MiB/s
verify           $verify_s s: $(mibs "$idle_data" "$verify_s") MiB/s
restore          $restore_s s: $(mibs "$idle_data" "$restore_s") MiB/s; the restored server counts all $after samples
ingest alone     $alone_rate msg/s acknowledged, PUBACK p50 $alone_p50 ms, p99 $alone_p99 ms, $alone_failed failed
ingest + backups $during_rate msg/s acknowledged, PUBACK p50 $during_p50 ms, p99 $during_p99 ms, $during_failed failed
load average     $(cut -d' ' -f1-3 /proc/loadavg)
SUMMARY
