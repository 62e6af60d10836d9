#!/usr/bin/env bash
# vigil stands on its own: a clone of this repository alone builds and passes its tests.
# Setup: a fresh `git clone` of HEAD into an empty temporary directory (nothing beside it).
# Actions and expected outcomes: the clone builds with `make all` and its unit tier passes
# (the real logs come from test/data, not from anything outside the repository); no tracked
# file names ../shared or an absolute home or work path of some machine.
. "$(dirname "$0")/lib.sh"

# ---- no reference outside the repository ----
# Test data (logs of real machines, fuzz inputs) may hold any path those machines had.
cd "$TOP" || exit 1
git ls-files -z -- . ':!test/data' ':!test/fuzz/corpus' |
	xargs -0 grep -InE '\.\./shared|/work/|/home/[a-z]|/root/' -- >"$T/refs.txt"
# The grep itself, above, names what it looks for; nothing else may.
grep -v '^test/integration/t_standalone.sh:' "$T/refs.txt" >"$T/bad.txt"
[ ! -s "$T/bad.txt" ]
check "no tracked file names ../shared or a machine's absolute home or work path" $? ||
	sed 's/^/#   /' "$T/bad.txt"

# ---- a clone with nothing beside it ----
if ! git rev-parse --verify -q HEAD >/dev/null; then
	echo "skip a fresh clone builds and passes the unit tier: no commit to clone"
	exit 0
fi
mkdir -p "$T/alone" && git clone -q "$TOP" "$T/alone/vigil" || exit 1
[ -z "$(ls -A "$T/alone" | grep -v '^vigil$')" ] || exit 1
(cd "$T/alone/vigil" && make -s -j"$(nproc)" all) >"$T/build.log" 2>&1
rc=$?
check "a fresh clone with nothing beside it builds" $rc || tail -20 "$T/build.log" | sed 's/^/#   /'
[ $rc -eq 0 ] || exit 0

(cd "$T/alone/vigil" && ./test/run.sh unit) >"$T/unit.log" 2>&1
rc=$?
summary=$(tail -1 "$T/unit.log")
echo "# the clone's unit tier: $summary"
[ $rc -eq 0 ] && [[ $summary =~ ^[1-9][0-9]*\ passed,\ 0\ failed(,\ [0-9]+\ skipped)?$ ]]
check "the fresh clone passes its unit tier" $? || grep -E '^not ok' "$T/unit.log" | head -20 | sed 's/^/#   /'
