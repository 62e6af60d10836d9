#!/usr/bin/env bash
# verifier.progress_interval: a node whose rounds change only its counters and times (the
# common round) is written to the store at most that often; any other change at the next
# flush; everything at a clean stop.
# Setup: one verifier (SQLite; PostgreSQL with VIGIL_TEST_DB=pg), flush_interval 200 ms,
#   quote_interval 0.5 s, progress_interval 120 s; the loadgen with N ECC nodes (PCR
#   policy), all added.
# Actions and expected outcome:
#   - each node's first round is stored at once (its attested event: count 1);
#   - while every node passes several more rounds (the verifier's own count, GetNode), the
#     stored counts stay at 1: no row per round;
#   - one node stopped (vigilctl stop): its state is stored at once, with its count;
#   - SIGTERM: the counts as counted reach the store before it closes.
. "$(dirname "$0")/lib.sh"

N=4
VERIFIER_PROGRESS_INTERVAL=120 verifier_start v -o verifier.flush_interval=200 || exit 1
lg_start $N
check "loadgen serves $N nodes" $? || exit 1
lg_add
check "all $N nodes added" $? || exit 1

q() { vdb_query v "$1"; }
UUIDS=$(/usr/bin/python3 -c 'import json, sys
for l in open(sys.argv[1]): print(json.loads(l)["uuid"])' "$T/nodes.jsonl")
U0=$(echo "$UUIDS" | head -1)
# count UUID: the verifier's own attestation count of the node (GetNode).
count() {
	vctl status "$1" --json | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["attestation_count"])'
}

first_stored() { [ "$(q "SELECT count(*) FROM nodes WHERE operational_state = 3 AND attestation_count = 1")" = $N ]; }
until_true 30 first_stored
check "each node's first round is stored at once (count 1, attested)" $? || exit 1

# Five more rounds of every node, as the verifier counts them (0.5 s interval).
five_more() {
	local u
	for u in $UUIDS; do [ "$(count "$u")" -ge 6 ] || return 1; done
}
until_true 30 five_more
rc=$?
stored=$(q "SELECT max(attestation_count) FROM nodes")
[ $rc -eq 0 ] && [ "$stored" = 1 ]
check "while each node passes 5 more rounds ($U0: $(count "$U0")), the stored counts stay at 1 (max $stored): no row per round" $?

vctl stop "$U0" >/dev/null
c=$(count "$U0")
[ "$(q "SELECT operational_state, attestation_count FROM nodes WHERE uuid = '$U0'")" = "10|$c" ]
check "a stopped node's state is stored at once, with its count ($c)" $?

mem=0
for u in $UUIDS; do mem=$((mem + $(count "$u"))); done
stop_pid "$VERIFIER_PID"
stored=$(q "SELECT sum(attestation_count) FROM nodes")
[ "$stored" -ge "$mem" ]
check "at a clean stop the counts as counted are stored ($stored stored, $mem counted before the stop)" $?
