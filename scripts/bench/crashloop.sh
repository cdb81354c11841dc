#!/usr/bin/env bash
# Kills the real binary with SIGKILL ROUNDS times at random moments while
# devices publish telemetry with QoS 1, restarting it each time on the same
# data directory, and checks that no acknowledged sample is lost and the
# latest value is never ahead of the stored series: TestCrashLoop in
# server/cli, with more rounds than the test suite runs.
#
# Settings come from the environment: ROUNDS=30.
set -euo pipefail
ROUNDS=${ROUNDS:-30}
[[ $ROUNDS =~ ^[0-9]+$ ]] || { echo "crashloop: ROUNDS=$ROUNDS must be a whole number" >&2; exit 1; }
cd "$(dirname "$0")/../.."
HEARTH_CRASH_ROUNDS=$ROUNDS go test ./server/cli -run '^TestCrashLoop$' -count=1 -v -timeout 60m 2>&1 | grep -E 'crash_test|^(--- |ok|FAIL|PASS)'
