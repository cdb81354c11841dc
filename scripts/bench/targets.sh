#!/usr/bin/env bash
# Measures memory, freshness, the year chart and start time in one command:
# budget.sh (the memory budget under overload and back-fill, and the start
# time with many devices registered) and then query.sh (how soon a sample is
# searchable under load, and the year chart), both with one hearth binary
# built here. The broker against mosquitto is compare.sh's.
#
# Settings are those of the two scripts (see their headers) and pass through
# the environment; both use HEARTH_HTTP_PORT and HEARTH_MQTT_PORT, one after
# the other.
#
# Needs Go and curl.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${HEARTH_BIN:-}
if [ -z "$bin" ]; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	bin=$tmp/hearth
	(cd "$here/../.." && go build -o "$bin" .)
fi
echo "=== memory budget and start time (budget.sh)"
HEARTH_BIN=$bin bash "$here/budget.sh"
echo
echo "=== freshness and the year chart (query.sh)"
HEARTH_BIN=$bin bash "$here/query.sh"
