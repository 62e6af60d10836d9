#!/usr/bin/env bash
# The rounds never wait on the store: while another session holds the nodes table, the
# verifier's rounds go on, and once it lets go every node's progress reaches the table.
# Setup: one verifier (SQLite; PostgreSQL with VIGIL_TEST_DB=pg, see t_store_stall_pg.sh),
#   metrics on, flush_interval 200 ms, quote_interval 0.5 s; the loadgen with N ECC nodes
#   (PCR policy), all added and attested.
# Actions and expected outcome:
#   - another session takes the nodes table (SQLite: BEGIN IMMEDIATE, a write transaction
#     of its own; PostgreSQL: LOCK TABLE nodes IN EXCLUSIVE MODE inside a transaction): no
#     progress reaches the table, yet the rounds counter in /metrics rises by two rounds
#     per node, and the store thread's queue holds at most one write per node;
#   - the session lets go: every node's progress reaches the table (the sum of the
#     stored attestation counts catches up with the rounds passed), no round failed, no
#     write failed;
#   - SIGTERM: the verifier writes what is queued before it closes the store, so the
#     stored counts hold every round it counted.
. "$(dirname "$0")/lib.sh"

N=${STALL_N:-40}
HOLD=${STALL_HOLD:-4} # seconds at most the lock is held (it is let go sooner when done)

VERIFIER_METRICS=127.0.0.1:$(free_port)
VM=http://$VERIFIER_METRICS
verifier_start v -o verifier.flush_interval=200 -o verifier.workers=2 || exit 1
DB=$(verifier_db v)

lg_start $N
check "loadgen serves $N nodes" $? || exit 1
lg_add
check "all $N nodes added" $? || exit 1

q() { vdb_query v "$1"; }
# metric NAME: its value in a fresh scrape (empty when absent).
metric() {
	curl -s "$VM/metrics" | awk -v n="$1" '$1 == n { print $2; exit }'
}
all_attested() { [ "$(q "SELECT count(*) FROM nodes WHERE operational_state = 3 AND attestation_count >= 1")" = "$N" ]; }
until_true 40 all_attested
check "every node attested, its progress stored" $? || exit 1

# --- another session holds the nodes table ---
mkfifo "$T/lock.in"
if [ "${VIGIL_TEST_DB:-sqlite}" = pg ]; then
	spawn "$T/lock.log" "$PG_BIN/psql" -qAtX -v ON_ERROR_STOP=1 "$DB" -f "$T/lock.in"
else
	spawn "$T/lock.log" /usr/bin/python3 -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
c.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
open(sys.argv[2]).readline()
c.execute("COMMIT")
print("released", flush=True)' "${DB#sqlite:}" "$T/lock.in"
fi
exec 7>"$T/lock.in"
[ "${VIGIL_TEST_DB:-sqlite}" = pg ] &&
	printf 'BEGIN;\nLOCK TABLE nodes IN EXCLUSIVE MODE;\nSELECT %s;\n' "'locked'" >&7
until_true 10 grep -q "^locked" "$T/lock.log"
check "another session holds the nodes table" $? || exit 1
t_lock=$(date +%s%N)
stored0=$(q "SELECT sum(attestation_count) FROM nodes")
r0=$(metric vigil_verifier_rounds_total)
# Two more rounds per node while the table is held (0.5 s interval: about one second).
more_rounds() {
	local r
	r=$(metric vigil_verifier_rounds_total)
	[ -n "$r" ] && [ "$r" -ge $((r0 + 2 * N)) ]
}
until_true "$HOLD" more_rounds
rc=$?
check "the rounds go on while the store is held ($r0 -> $(metric vigil_verifier_rounds_total) rounds, $N nodes)" $rc
depth=$(metric vigil_verifier_store_queue_depth)
stored1=$(q "SELECT sum(attestation_count) FROM nodes")
[ "$stored1" = "$stored0" ] && [ -n "$depth" ] && [ "$depth" -ge 1 ] && [ "$depth" -le "$N" ]
check "meanwhile nothing reached the table ($stored0 -> $stored1) and the store thread's queue holds $depth writes (at most one per node: $N)" $?
# Let go, at least a second after taking it (two flushes of the workers coalesced).
while [ $(($(date +%s%N) - t_lock)) -lt 1000000000 ]; do sleep 0.1; done
if [ "${VIGIL_TEST_DB:-sqlite}" = pg ]; then
	printf 'COMMIT;\n' >&7
else
	echo >&7
fi
exec 7>&-

# --- once it is let go, everything reaches the table ---
r1=$(metric vigil_verifier_rounds_total)
caught_up() { [ "$(q "SELECT sum(attestation_count) >= $r1 FROM nodes" | tr 'ft' '01')" = 1 ]; }
until_true 10 caught_up
check "after the lock every node's progress reaches the table (stored counts >= $r1 rounds)" $?
[ -z "$(curl -s "$VM/metrics" | awk '$1 ~ /^vigil_verifier_round_failures_total/ { print }')" ] &&
	[ "$(metric vigil_verifier_store_batch_failures_total)" = 0 ] &&
	[ "$(q "SELECT count(*) FROM nodes WHERE operational_state != 3")" = 0 ]
check "no round failed and no write failed" $?

# --- a clean stop writes what is queued ---
r2=$(metric vigil_verifier_rounds_total)
stop_pid "$VERIFIER_PID"
grep -q "shutting down" "$T/v.log"
check "the verifier stops on SIGTERM" $?
stored=$(q "SELECT sum(attestation_count) FROM nodes")
[ "$stored" -ge "$r2" ]
check "at exit every counted round is stored ($stored stored, $r2 counted before the stop)" $?
