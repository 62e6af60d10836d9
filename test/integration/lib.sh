#!/usr/bin/env bash
# Shared helpers for integration tests. Source it first; it sets TOP, BIN, a temp dir
# T that is removed at exit, and kills every process started with `spawn` at exit, also
# on failure.
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${BIN:-$TOP/build/bin}
T=$(mktemp -d /tmp/vigil-it.XXXXXX)
SPAWNED=()

cleanup() {
	local p
	for p in "${SPAWNED[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${SPAWNED[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
	done
	[ -n "${KEEP_TMP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

# check NAME STATUS: report one test result in the runner's format.
check() {
	if [ "$2" -eq 0 ]; then echo "ok $1"; else echo "not ok $1"; fi
}

# spawn LOGFILE CMD...: start CMD in the background, remember its PID in SPAWNED and $!.
spawn() {
	local log=$1
	shift
	"$@" >"$log" 2>&1 &
	SPAWNED+=($!)
}
