#!/usr/bin/env bash
# A stuck verifier of a pool: its process lives and its lease thread runs, but a worker
# has stopped making rounds (a wedged event loop). SIGSTOP cannot make one: it stops the
# whole process. Here one worker thread ("vigil-worker0", named by the verifier) is stopped
# from outside with ptrace (thread_stop.py), every other thread running on.
# Setup: PostgreSQL of the test's own, verifiers v1..v3 with 2 workers each, lease_time
#   3 s; the loadgen with N ECC nodes (PCR policy), added through v1, attested by the pool.
# Actions and expected outcome:
#   - stop v3's worker0: v3's lease thread notices (its log) and gives its nodes up; v1 and
#     v2 hold and attest every node again within the documented time (the stall limit,
#     max(lease/2, 3 flushes), plus two lease periods); vigilctl pool shows v3 stalled,
#     asked of v1 and of v3 itself (its API thread answers); no node failed, no
#     revocation, no event lost, the audit chain verifies;
#   - resume the worker: its late writes are refused by the fence (its log), v3 rejoins
#     and holds a fair share again, every node attested, still no failure.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pool_lib.sh"

N=${POOL_N:-90}
LEASE=3
FLUSH=1
if ! pg_server_bindir >/dev/null; then
	echo "skip t_pool_stuck_pg: no PostgreSQL server binaries"
	exit 0
fi
pool_init || exit 1
declare -A MPORT
for v in v1 v2 v3; do
	MPORT[$v]=$(free_port)
	start_v $v -o verifier.workers=2 -o verifier.flush_interval=$((FLUSH * 1000)) \
		-o verifier.metrics_listen="127.0.0.1:${MPORT[$v]}" || exit 1
done
# metric V NAME: the value of NAME on instance V's /metrics (its metrics thread answers
# while a worker is stopped).
metric() {
	curl -sf "http://127.0.0.1:${MPORT[$1]}/metrics" | awk -v n="$2" '$1 == n { print $2 }'
}
pool_loadgen
check "loadgen serves $N nodes" $? || exit 1
pool_add_nodes
check "all $N nodes added through v1" $? || exit 1

ATTESTED="SELECT count(*) FROM nodes WHERE lease_owner IN (%s) AND operational_state = 3 AND last_successful_attestation * 1000 > %s"
# shellcheck disable=SC2059
until_sql "$(printf "$ATTESTED" "'v1','v2','v3'" 0)" $N 40 &&
	until_sql "SELECT count(*) = 3 AND min(c) >= $((N / 3 - 2)) FROM (SELECT count(*) c FROM nodes GROUP BY lease_owner) x" t 30 &&
	until_sql "$(printf "$ATTESTED" "'v1','v2','v3'" 0)" $N 20
check "every node held by one of v1..v3 (about a fair share each) and attested" $?
q "SELECT lease_owner, count(*) FROM nodes GROUP BY lease_owner ORDER BY 1" | sed 's/^/#   /'

# --- stop v3's worker0 alone ---
q "SELECT seq, id, hash FROM events ORDER BY seq" >"$T/events.before"
CLAIMED1=$(metric v1 vigil_verifier_lease_claimed_total)
V3_NODES=$(q "SELECT count(*) FROM nodes WHERE lease_owner = 'v3'")
spawn "$T/thread_stop.log" /usr/bin/python3 "$TOP/test/integration/thread_stop.py" "${PID[v3]}" vigil-worker0
TS_PID=$!
log_wait "$T/thread_stop.log" "^stopped|thread_stop:" 10
if grep -q "Operation not permitted" "$T/thread_stop.log"; then
	echo "skip t_pool_stuck_pg: ptrace is not permitted here ($(cat "$T/thread_stop.log"))"
	exit 0
fi
grep -q "^stopped" "$T/thread_stop.log"
check "v3's worker0 stopped from outside (ptrace), the process and its other threads running" $? || exit 1
t0=$(now_ms)
# The documented bound: the stall is noticed after max(lease/2, 3 flushes), then the
# leases run out and are claimed within two lease periods.
STALL_MS=$((LEASE * 500 > 3 * FLUSH * 1000 ? LEASE * 500 : 3 * FLUSH * 1000))
BOUND_MS=$((STALL_MS + 2 * LEASE * 1000 + FLUSH * 1000))
# shellcheck disable=SC2059
until_sql "$(printf "$ATTESTED" "'v1','v2'" "$t0")" $N $((BOUND_MS / 1000 + 10))
rc=$?
el=$(($(now_ms) - t0))
[ $rc -eq 0 ] && [ $el -le $BOUND_MS ]
check "v3 stuck: its $V3_NODES nodes attested again by v1, v2 in $el ms (bound: $BOUND_MS ms)" $?
grep -q "a worker of v3 has stopped ticking" "$T/v3.log"
check "v3's lease thread noticed its worker stalled (log)" $?
kill -0 "${PID[v3]}"
check "v3's process is still alive" $?
# pool_shows FROM: vigilctl pool asked of instance FROM lists v3 as stalled, v1 and v2 live.
pool_shows() {
	VERIFIER_ADDR=${ADDR[$1]} vctl pool --json >"$T/pool-$1.json" &&
		/usr/bin/python3 - "$T/pool-$1.json" <<'PY'
import json, sys
m = {x["id"]: x for x in json.load(open(sys.argv[1]))["members"]}
sys.exit(0 if m["v3"].get("stalled") and not m["v3"]["live"] and m["v1"]["live"]
         and m["v2"]["live"] and m["v3"]["nodes"] == 0 else 1)
PY
}
pool_shows v1 && pool_shows v3
check "vigilctl pool (asked of v1, and of the stuck v3 itself) shows v3 stalled, holding nothing" $?
[ "$(metric v3 vigil_verifier_pool_stalled)" = 1 ] &&
	[ "$(metric v1 vigil_verifier_lease_claimed_total)" -gt "${CLAIMED1:-999999}" ]
check "metrics: v3's vigil_verifier_pool_stalled is 1, v1's lease_claimed_total grew (${CLAIMED1:-?} -> $(metric v1 vigil_verifier_lease_claimed_total))" $?
VERIFIER_ADDR=${ADDR[v1]} vctl pool | sed 's/^/#   /'
[ "$(q "$BAD")" = 0 ] && [ "$(q "$REVOKED")" = 0 ]
check "no node failed, no revocation event" $?
q "SELECT seq, id, hash FROM events ORDER BY seq" | head -n "$(wc -l <"$T/events.before")" |
	cmp -s - "$T/events.before" && VERIFIER_ADDR=${ADDR[v1]} vctl events verify >"$T/verify.log" 2>&1
check "no event lost ($(wc -l <"$T/events.before") before the stall, all still there), the audit chain verifies" $?

# --- resume it ---
kill "$TS_PID"
log_wait "$T/thread_stop.log" "^resumed" 10
check "v3's worker0 resumed (PTRACE_DETACH)" $?
log_wait "$T/v3.log" "refused by the lease fence" 10
check "v3's late writes are refused by the fence (log)" $?
log_wait "$T/v3.log" "workers of v3 tick again" 10
check "v3's lease thread sees its workers tick again" $?
until_sql "SELECT count(*) >= $((N / 3 - 5)) FROM nodes WHERE lease_owner = 'v3' AND operational_state = 3" t 30 &&
	until_sql "SELECT max(c) <= $(((N + 2) / 3 + 5)) FROM (SELECT count(*) c FROM nodes GROUP BY lease_owner) x" t 30
check "v3 rejoined with about a fair share ($((N / 3)))" $?
[ "$(metric v3 vigil_verifier_pool_stalled)" = 0 ] &&
	[ "$(metric v3 vigil_verifier_lease_lost_total)" -gt 0 ] &&
	[ "$(metric v3 vigil_verifier_leases_held)" -gt 0 ]
check "metrics: v3 no longer stalled, its lost leases counted ($(metric v3 vigil_verifier_lease_lost_total)), holding $(metric v3 vigil_verifier_leases_held)" $?
q "SELECT lease_owner, count(*) FROM nodes GROUP BY lease_owner ORDER BY 1" | sed 's/^/#   /'
t1=$(now_ms)
# shellcheck disable=SC2059
until_sql "$(printf "$ATTESTED" "'v1','v2','v3'" "$t1")" $N 20 && [ "$(q "$BAD")" = 0 ] &&
	[ "$(q "$REVOKED")" = 0 ]
check "all $N nodes attested again, none failed, no revocation" $?
