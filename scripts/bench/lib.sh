# Shared by the benchmark scripts, which source it after `set -euo pipefail`
# and after setting `bench` (their name, for messages): process bookkeeping,
# readings from /proc, and getting and starting a Hearth.
#
# It creates `work`, a temporary directory removed on exit, and `pids`, the
# processes started in the background, which are ended on exit.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

die() {
	echo "$bench: $*" >&2
	exit 1
}

work=$(mktemp -d)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for _ in $(seq 50); do
		local alive=0
		for p in "${pids[@]}"; do if kill -0 "$p" 2>/dev/null; then alive=1; fi; done
		((alive)) || break
		sleep 0.1
	done
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# forget removes a stopped process from the ones cleanup ends.
forget() {
	local p keep=()
	for p in "${pids[@]}"; do if [[ $p != "$1" ]]; then keep+=("$p"); fi; done
	pids=("${keep[@]}")
}

# stop ends one process started here and waits for it, at most 30 s.
stop() {
	kill "$1" 2>/dev/null || true
	for _ in $(seq 300); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	forget "$1"
}

# listening tells whether something listens on 127.0.0.1:$1, without
# connecting: a probe connection would show up as a TLS error in a log.
listening() {
	local hex
	hex=$(printf '%04X' "$1")
	grep -Eqi "^ *[0-9]+: (0100007F|00000000):$hex [0-9A-F]+:[0-9A-F]+ 0A " /proc/net/tcp
}

# utime + stime of a process, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# Busy and total clock ticks of the whole machine.
machine_ticks() { awk '/^cpu / { t = 0; for (i = 2; i <= 9; i++) t += $i; print t - $5 - $6, t; exit }' /proc/stat; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
hz=$(getconf CLK_TCK)
cores=$(nproc)
# ms turns nanoseconds into milliseconds with one decimal.
ms() { awk -v n="$1" 'BEGIN { printf "%.1f", n / 1e6 }'; }

# get_hearth puts a hearth binary at $work/hearth: a copy of $HEARTH_BIN
# when set, else one built from this checkout.
get_hearth() {
	if [[ -n ${HEARTH_BIN:-} ]]; then
		cp "$HEARTH_BIN" "$work/hearth"
	else
		echo "== building hearth"
		(cd "$root" && go build -o "$work/hearth" .)
	fi
}

# start_hearth starts $work/hearth serving data directory $1 on 127.0.0.1,
# HTTPS on $HEARTH_HTTP_PORT and MQTT/TLS on $HEARTH_MQTT_PORT, with its log
# in file $2; waits until /readyz answers; and creates an operator API
# token. It sets hearth_pid, hearth_started, api and token, and exports the
# token as HEARTH_LOADGEN_TOKEN for the load generator. HEARTH_SERVE_FLAGS
# adds flags to serve.
start_hearth() {
	local data=$1 log=$2
	api=https://127.0.0.1:$HEARTH_HTTP_PORT
	# shellcheck disable=SC2086 # HEARTH_SERVE_FLAGS is a list of flags
	"$work/hearth" serve --data "$data" --http "127.0.0.1:$HEARTH_HTTP_PORT" --mqtt "127.0.0.1:$HEARTH_MQTT_PORT" \
		--log-level warn ${HEARTH_SERVE_FLAGS:-} >"$log" 2>&1 &
	hearth_pid=$!
	pids+=("$hearth_pid")
	hearth_started=$(date +%s)
	for _ in $(seq 300); do
		if [[ -e $data/tls/ca.pem ]] && curl -sf --cacert "$data/tls/ca.pem" "$api/readyz" >/dev/null 2>&1; then break; fi
		kill -0 "$hearth_pid" 2>/dev/null || break
		sleep 0.1
	done
	if ! curl -sf --cacert "$data/tls/ca.pem" "$api/readyz" >/dev/null 2>&1; then
		cat "$log" >&2
		die "hearth did not become ready"
	fi
	echo "== $("$work/hearth" version 2>/dev/null | head -1 || echo hearth) ready: https 127.0.0.1:$HEARTH_HTTP_PORT, mqtts 127.0.0.1:$HEARTH_MQTT_PORT (pid $hearth_pid)"
	# Token names are unique: a directory started twice gets a second one.
	token=$(timeout 30 "$work/hearth" token create --data "$data" --role operator --name "bench-$(date +%s%N)" 2>/dev/null | tail -n 1)
	[[ -n $token ]] || die "hearth token create printed no token"
	export HEARTH_LOADGEN_TOKEN=$token
}
