#!/usr/bin/env bash
# vigilctl ca writes the CA key and issued keys the way the agent writes its state
# (common/statefile): never through a temp file or link someone else made.
# Setup: a CA directory in this run's temp dir, a "victim" file elsewhere.
# Actions: `vigilctl ca init` with a symbolic link planted at ca.key.tmp; again once it is
# removed; `vigilctl ca issue` with a plain file planted at NAME.key.tmp.
# Expected: the planted link and file are refused by name, nothing is written through
# them (the victim and the planted file keep their content), no key appears; without them
# both commands work and the keys are 0600.
. "$(dirname "$0")/lib.sh"

[ -x "$BIN/vigilctl" ] || { echo "not ok ca_statefile: vigilctl not built"; exit 1; }
CA=$T/ca
mkdir -m 700 "$CA" && echo "victim's data" >"$T/victim" && ln -s "$T/victim" "$CA/ca.key.tmp"
out=$("$BIN/vigilctl" ca init "$CA" 2>&1)
[ $? -ne 0 ] && grep -q "ca.key.tmp is a symbolic link" <<<"$out" &&
	[ "$(cat "$T/victim")" = "victim's data" ] && [ ! -e "$CA/ca.key" ]
check ca_init_refuses_planted_link $?
rm "$CA/ca.key.tmp"
"$BIN/vigilctl" ca init "$CA" >/dev/null && [ "$(stat -c %a "$CA/ca.key")" = 600 ]
check ca_init_after_removal_key_0600 $?

echo planted >"$CA/node1.key.tmp"
out=$("$BIN/vigilctl" ca issue "$CA" node1 --server 2>&1)
[ $? -ne 0 ] && grep -q "node1.key.tmp already exists" <<<"$out" &&
	[ "$(cat "$CA/node1.key.tmp")" = planted ] && [ ! -e "$CA/node1.key" ]
check ca_issue_refuses_precreated_temp $?
rm "$CA/node1.key.tmp"
"$BIN/vigilctl" ca issue "$CA" node1 --server >/dev/null && [ "$(stat -c %a "$CA/node1.key")" = 600 ]
check ca_issue_after_removal_key_0600 $?
