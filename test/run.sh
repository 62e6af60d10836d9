#!/usr/bin/env bash
# test/run.sh: every test tier, in order, then one summary line "N passed, N failed".
# Each tier reports TAP-like lines: "ok NAME", "not ok NAME", "skip NAME: reason".
# Usage: test/run.sh [TIER...]   tiers: static unit fuzz integration (default: all)
set -u
cd "$(dirname "$0")/.."
TOP=$(pwd)
BUILD=${BUILD:-build}
SANBUILD=${SANBUILD:-build/san}
LOGDIR=${LOGDIR:-$BUILD/test-logs}
mkdir -p "$LOGDIR"
pass=0 fail=0 skip=0
failed=()

report() { # report STATUS NAME [REASON]
	case $1 in
	ok) pass=$((pass + 1)); echo "ok $2" ;;
	skip) skip=$((skip + 1)); echo "skip $2: $3" ;;
	*) fail=$((fail + 1)); failed+=("$2"); echo "not ok $2${3:+: $3}" ;;
	esac
}

tier_static() {
	if ./test/layering.sh >"$LOGDIR/layering.log" 2>&1; then report ok static/layering
	else report fail static/layering "see $LOGDIR/layering.log"; cat "$LOGDIR/layering.log"; fi
	if make -s format-check >"$LOGDIR/format.log" 2>&1; then report ok static/format
	else report fail static/format "run 'make format'"; head -20 "$LOGDIR/format.log"; fi
	if [ -x "$BUILD/bin/vigilctl" ]; then
		if "$BUILD/bin/vigilctl" config | diff -u deploy/config/vigilctl.conf - >"$LOGDIR/conf-ctl.log" 2>&1
		then report ok static/sample-config-vigilctl
		else report fail static/sample-config-vigilctl "deploy/config/vigilctl.conf differs from 'vigilctl config'"
			head -20 "$LOGDIR/conf-ctl.log"; fi
	fi
	for d in agent registrar verifier; do
		[ -x "$BUILD/bin/vigil-$d" ] || continue
		if "$BUILD/bin/vigil-$d" -p | diff -u "deploy/config/$d.conf" - >"$LOGDIR/conf-$d.log" 2>&1
		then report ok "static/sample-config-$d"
		else report fail "static/sample-config-$d" "deploy/config/$d.conf differs from 'vigil-$d -p'"
			head -20 "$LOGDIR/conf-$d.log"; fi
	done
}

tier_unit() {
	local t name out
	for t in "$BUILD"/test/test_*; do
		[ -x "$t" ] || continue
		name=unit/$(basename "$t")
		out="$LOGDIR/$(basename "$t").log"
		if CMOCKA_MESSAGE_OUTPUT=stdout "$t" >"$out" 2>&1; then :; fi
		# One line per cmocka test: "[       OK ] name" / "[  FAILED  ] name"
		# A test that skips prints "skip: REASON" first (test/unit/README or the test).
		local n=0 why="the test gave no reason"
		while read -r line; do
			case $line in
			"skip: "*) why=${line#skip: } ;;
			"[       OK ] "*) report ok "$name/${line#\[       OK \] }"; n=$((n+1)) ;;
			"[  FAILED  ] "*" test(s), listed below:"*) ;;
			"[  FAILED  ] "*[0-9]" test(s)"*) ;;
			"[  FAILED  ] "*) report fail "$name/${line#\[  FAILED  \] }" "see $out"; n=$((n+1)) ;;
			"[  SKIPPED ] "*[0-9]" test(s)"*) ;;
			"[  SKIPPED ] "*) report skip "$name/${line#\[  SKIPPED \] }" "$why"; n=$((n+1)); why="the test gave no reason" ;;
			esac
		done < <(grep -E '^(\[ +(OK|FAILED|SKIPPED) +\] |skip: )' "$out" | awk '!seen[$0]++')
		[ $n -gt 0 ] || { report fail "$name" "ran no test (crashed?), see $out"; tail -5 "$out"; }
	done
}

tier_fuzz() {
	local t name dir
	for t in "$SANBUILD"/fuzz-replay/fuzz_*; do
		[ -x "$t" ] || continue
		name=$(basename "$t"); name=${name#fuzz_}
		dir=test/fuzz/corpus/$name
		if [ ! -d "$dir" ] || [ -z "$(ls -A "$dir")" ]; then
			report fail "fuzz/$name" "no corpus in $dir"; continue
		fi
		if ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
			"$t" "$dir"/* >"$LOGDIR/fuzz-$name.log" 2>&1; then
			report ok "fuzz/$name ($(ls "$dir" | wc -l) inputs, ASan+UBSan)"
		else
			report fail "fuzz/$name" "see $LOGDIR/fuzz-$name.log"; tail -20 "$LOGDIR/fuzz-$name.log"
		fi
	done
}

tier_integration() {
	local t name out rc line
	for t in test/integration/t_*.sh; do
		[ -f "$t" ] || continue
		name=$(basename "$t" .sh); name=${name#t_}
		out="$LOGDIR/it-$name.log"
		echo "# integration/$name ..."
		local t0=$SECONDS
		bash "$t" >"$out" 2>&1; rc=$?
		echo "# integration/$name took $((SECONDS - t0)) s"
		local n=0 why=0
		# A failed check is followed by "#   " lines: the end of each daemon's log
		# (lib.sh check_logs), printed here so the reason is in this output.
		while IFS= read -r line; do
			case $line in
			"ok "*) why=0; report ok "integration/$name/${line#ok }"; n=$((n+1)) ;;
			"not ok "*) why=1; report fail "integration/$name/${line#not ok }" "see $out"; n=$((n+1)) ;;
			"skip "*) why=0; line=${line#skip }; report skip "integration/$name/${line%%:*}" "${line#*: }"; n=$((n+1)) ;;
			"#   "*) [ $why -eq 0 ] || echo "$line" ;;
			"# a check failed: "*) echo "$line" ;;
			esac
		done < <(grep -E '^(ok|not ok|skip) |^#   |^# a check failed: ' "$out")
		if [ $rc -ne 0 ]; then
			report fail "integration/$name" "exit $rc, see $out"; tail -30 "$out"
		elif [ $n -eq 0 ]; then
			report fail "integration/$name" "ran no test, see $out"
		fi
	done
}

tiers=("$@")
[ ${#tiers[@]} -gt 0 ] || tiers=(static unit fuzz integration)
for tier in "${tiers[@]}"; do
	echo "# tier: $tier"
	"tier_$tier"
done

echo
if [ $fail -gt 0 ]; then
	echo "# failed:"; printf '#   %s\n' "${failed[@]}"
fi
if [ $skip -gt 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ $fail -eq 0 ]
