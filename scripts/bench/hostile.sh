#!/usr/bin/env bash
# Reproduces what one abusive device and one anonymous client did to a
# Hearth, and prints what it cost: one device writes UPDATES shadow updates
# of SIZE bytes to SHADOWS named shadows as fast as INFLIGHT publishers
# allow (answers by code, growth of the store file); then, within the
# shadow limits, SUSTAINED updates of SIZE bytes at PACE a second to 40
# named shadows (growth of the store file, history entries deleted for
# the device's budget, BUDGET when set); then SLOW sign-ins
# whose body stalls until the server's read timeout, and WRONG sign-ins
# with wrong passwords from ADDRS loopback addresses (answers by status,
# and the log lines each wrote, per 1,000 requests). Hearth logs at its
# default level, info.
#
# Run it against an older binary (HEARTH_BIN) for the figures before a
# change. Settings come from the environment:
#   UPDATES=3000 SHADOWS=1000 SIZE=7500 INFLIGHT=16 SUSTAINED=1800 PACE=19
#   BUDGET=  --history-device-budget (e.g. 8MiB); unset: the binary's default
#   SLOW=1000 WRONG=1200 ADDRS=20
#   HEARTH_HTTP_PORT=18443 HEARTH_MQTT_PORT=18887
#   HEARTH_BIN=f  use this hearth binary instead of building one
#
# Needs Go, curl and jq; the sign-ins come from 127.0.0.2 on, which Linux
# routes to loopback.
set -euo pipefail

UPDATES=${UPDATES:-3000}
SHADOWS=${SHADOWS:-1000}
SIZE=${SIZE:-7500}
INFLIGHT=${INFLIGHT:-16}
SUSTAINED=${SUSTAINED:-1800}
PACE=${PACE:-19}
BUDGET=${BUDGET:-}
SLOW=${SLOW:-1000}
WRONG=${WRONG:-1200}
ADDRS=${ADDRS:-20}
HEARTH_HTTP_PORT=${HEARTH_HTTP_PORT:-18443}
HEARTH_MQTT_PORT=${HEARTH_MQTT_PORT:-18887}

bench=hostile
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
for v in UPDATES SHADOWS SIZE INFLIGHT SUSTAINED PACE SLOW WRONG ADDRS HEARTH_HTTP_PORT HEARTH_MQTT_PORT; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v=${!v} must be a whole number"
done
for c in curl jq go; do command -v "$c" >/dev/null || die "$c not found"; done
echo "== machine: $cores cores, $(uptime | sed 's/.*load average/load average/')"
get_hearth
(cd "$root" && go build -o "$work/hostile" ./scripts/bench/hostile)
# Open files: every stalled sign-in holds a connection.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

data=$work/data
log=$work/serve.log
HEARTH_SERVE_FLAGS="--log-level info${BUDGET:+ --history-device-budget $BUDGET}" start_hearth "$data" "$log"
timeout 120 "$work/hearth" simulate load provision -api "$api" -api-ca "$data/tls/ca.pem" -creds "$work/flood" \
	-devices 1 -customer flood -prefix flood >/dev/null

lines() { wc -l <"$log"; }
# levels FROM: the log lines after line FROM, counted by level.
levels() { tail -n +"$(($1 + 1))" "$log" | { grep -o 'level=[A-Z]*' || true; } | sort | uniq -c | awk '{ printf "%s%s %d", sep, substr($2, 7), $1; sep = ", " }'; }

size_before=$(stat -c %s "$data/hearth.db")
echo "== one device: $UPDATES shadow updates of $SIZE bytes to $SHADOWS named shadows, $INFLIGHT at once"
from=$(lines)
shadows=$(timeout 600 "$work/hostile" shadows -broker "127.0.0.1:$HEARTH_MQTT_PORT" -creds "$work/flood" \
	-shadows "$SHADOWS" -updates "$UPDATES" -size "$SIZE" -inflight "$INFLIGHT")
size_after=$(stat -c %s "$data/hearth.db")
shadow_logs=$(levels "$from")

echo "== the same device: $SUSTAINED updates of $SIZE bytes at $PACE a second to 40 named shadows${BUDGET:+, history budget $BUDGET}"
timeout 600 "$work/hostile" shadows -broker "127.0.0.1:$HEARTH_MQTT_PORT" -creds "$work/flood" \
	-shadows 40 -updates "$SUSTAINED" -size "$SIZE" -inflight 4 -rate "$PACE" -timeout 10m >"$work/sustained.json"
size_sustained=$(stat -c %s "$data/hearth.db")
trimmed=$(curl -sf --cacert "$data/tls/ca.pem" "$api/metrics" | awk '$1 == "hearth_history_trimmed_total" { printf "%d", $2 }')

echo "== $SLOW stalled sign-ins, then $WRONG wrong passwords from $ADDRS addresses"
from=$(lines)
signin=$(timeout 600 "$work/hostile" signin -api "$api" -ca "$data/tls/ca.pem" -slow "$SLOW" -wrong "$WRONG" -addrs "$ADDRS")
sleep 1
signin_lines=$(($(lines) - from))
signin_logs=$(levels "$from")
stop "$hearth_pid"

echo "== result"
jq -r --arg grow "$((size_after - size_before))" '"shadow updates: \(.updates) in \(.seconds * 10 | floor / 10) s: accepted \(.accepted), rejected \(.rejected | to_entries | map("\(.key) × \(.value)") | join(", ")), unanswered \(.missing); store file grew \($grow | tonumber / 1048576 * 10 | floor / 10) MiB"' <<<"$shadows"
echo "  log lines meanwhile: ${shadow_logs:-none}"
jq -r --arg grow "$((size_sustained - size_after))" --arg trimmed "${trimmed:-not counted}" '"sustained: \(.updates) in \(.seconds * 10 | floor / 10) s: accepted \(.accepted), rejected \(.rejected | to_entries | map("\(.key) × \(.value)") | join(", ")); store file grew \($grow | tonumber / 1048576 * 10 | floor / 10) MiB more; history entries deleted for the budget: \($trimmed)"' "$work/sustained.json"
jq -r '"stalled sign-ins: \(.slow | to_entries | map("\(.key) × \(.value)") | join(", ")); wrong passwords: \(.wrong | to_entries | map("\(.key) × \(.value)") | join(", "))"' <<<"$signin"
echo "  log lines: $signin_lines (${signin_logs:-none}), $(awk -v n="$signin_lines" -v r="$((SLOW + WRONG))" 'BEGIN { printf "%.1f", n * 1000 / r }') per 1,000 requests"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
