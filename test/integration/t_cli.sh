#!/usr/bin/env bash
# Setup: the built binaries. Actions: the shared daemon command line (-h, -n, -p, -o, bad
# keys). Expected: help exits 0, "configuration OK" for a good config, a clear error and
# exit 1 for a bad key or value.
. "$(dirname "$0")/lib.sh"

for d in agent registrar verifier; do
	bin=$BIN/vigil-$d
	out=$("$bin" -h) && grep -q "Usage: vigil-$d" <<<"$out"
	check "$d -h prints usage" $?
	out=$("$bin" -n -c "$TOP/deploy/config/$d.conf" 2>&1) && grep -qx "configuration OK" <<<"$out"
	check "$d -n accepts the sample config" $?
	out=$("$bin" -n -o "$d.no_such_key=1" 2>&1); rc=$?
	[ $rc -eq 1 ] && grep -q "unknown key $d.no_such_key" <<<"$out"
	check "$d -n rejects an unknown key with a clear error" $?
done
out=$("$BIN/vigilctl" help) && grep -q "Usage: vigilctl" <<<"$out"
check "vigilctl help" $?
