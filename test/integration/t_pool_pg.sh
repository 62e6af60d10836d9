#!/usr/bin/env bash
# A pool of verifiers sharing one PostgreSQL database (started by this test), nodes owned
# by lease.
# Setup: the loadgen with N ECC nodes (PCR policy); verifiers v1, v2, v3 on one database,
#   lease_time 3 s, ids v1..v3; the nodes added through v1 (left to the pool).
# Actions and expected outcome:
#   - every node is held by exactly one of the three (nodes.lease_owner) and attested;
#   - SIGKILL v3: its nodes are held and attested again by the others within two lease
#     periods (plus one flush), no revocation event, no node failed;
#   - SIGSTOP v2 until the others took its nodes over, then SIGCONT: its late writes are
#     refused by the fence (its log says so), no stale verdict is recorded;
#   - v4 joins: it gets nodes, the counts move toward a fair share.
. "$(dirname "$0")/lib.sh"

VIGIL_TEST_DB=pg
LG=$BIN/vigil-loadgen
LN="/usr/bin/python3 $TOP/test/integration/loadgen_nodes.py"
N=${POOL_N:-120}
LEASE=3
if ! pg_server_bindir >/dev/null; then
	echo "skip t_pool_pg: no PostgreSQL server binaries"
	exit 0
fi
_verifier_db_ready pool || exit 1
DB=$(verifier_db pool)
q() { vdb_query pool "$1"; }

declare -A PID ADDR
start_v() {
	VERIFIER_PORT=
	verifier_start "$1" -o verifier.database="$DB" -o verifier.verifier_id="$1" \
		-o verifier.lease_time=$LEASE -o verifier.answer_timeout=1 \
		-o verifier.connect_timeout=1 || return 1
	PID[$1]=$VERIFIER_PID
	ADDR[$1]=$VERIFIER_ADDR
}
# until_sql SQL EXPECTED SECONDS: until the query yields EXPECTED (exactly), or SECONDS.
until_sql() {
	local end=$(($(date +%s%N) / 1000000 + $3 * 1000)) got
	while :; do
		got=$(q "$1" 2>/dev/null)
		[ "$got" = "$2" ] && return 0
		[ $(($(date +%s%N) / 1000000)) -lt $end ] || break
		sleep 0.1
	done
	echo "# after $3 s: $1 -> '$got' (expected '$2')"
	return 1
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }

for v in v1 v2 v3; do start_v $v || exit 1; done

"$BIN/vigilctl" ca issue "$T/ca" loadgen --server --san 127.0.0.1 >/dev/null
BASE=$(free_port_range $N) || exit 1
spawn "$T/loadgen.log" "$LG" -n $N --port "$BASE" --threads 1 \
	--cert "$T/ca/loadgen.crt" --key "$T/ca/loadgen.key" --client-ca "$T/ca/ca.crt" \
	--nodes-out "$T/nodes.jsonl" --pcr-policy-out "$T/pcr.json"
LG_PID=$!
for _ in $(seq 300); do
	grep -q "^ready:" "$T/loadgen.log" && break
	kill -0 $LG_PID 2>/dev/null || break
	sleep 0.1
done
grep -q "^ready: $N nodes" "$T/loadgen.log"
check "loadgen serves $N nodes" $? || exit 1
VERIFIER_ADDR=${ADDR[v1]}
vctl policy put lg-pcr --kind pcr "$T/pcr.json" >/dev/null &&
	$LN "${ADDR[v1]}" add "$T/nodes.jsonl" --pcr-policy lg-pcr >"$T/add.log" 2>&1 &&
	grep -q "^added $N" "$T/add.log"
check "all $N nodes added through v1" $? || exit 1

HELD="SELECT count(*) FROM nodes WHERE lease_owner IN (%s) AND operational_state = 3 AND attestation_count >= %d"
BAD="SELECT count(*) FROM nodes WHERE operational_state IN (7, 9)"
REVOKED="SELECT count(*) FROM events WHERE type = 'revocation'"
# shellcheck disable=SC2059
until_sql "$(printf "$HELD" "'v1','v2','v3'" 1)" $N 40 &&
	until_sql "SELECT count(DISTINCT lease_owner) FROM nodes" 3 20
check "every node held by exactly one of v1..v3 (lease_owner) and attested" $?
q "SELECT lease_owner, count(*) FROM nodes GROUP BY lease_owner ORDER BY 1" | sed 's/^/#   /'
# pool_ok: vigilctl pool shows v1..v3 live, holding the N nodes between them (a node
# being handed over is briefly nobody's: asked again until it settles).
pool_ok() {
	vctl pool --json >"$T/pool.json" && /usr/bin/python3 - "$T/pool.json" "$N" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
m = {x["id"]: x for x in p["members"]}
ok = (p["pool"] and sorted(m) == ["v1", "v2", "v3"] and all(x["live"] for x in m.values())
      and sum(x["nodes"] for x in m.values()) == int(sys.argv[2]))
sys.exit(0 if ok else 1)
PY
}
for _ in $(seq 100); do pool_ok && break; sleep 0.1; done
vctl pool | sed 's/^/#   /'
pool_ok
check "vigilctl pool: three live instances holding the $N nodes between them" $?

# --- SIGKILL v3 ---
V3_NODES=$(q "SELECT count(*) FROM nodes WHERE lease_owner = 'v3'")
t0=$(now_ms)
kill -KILL "${PID[v3]}"
# shellcheck disable=SC2059
until_sql "SELECT count(*) FROM nodes WHERE lease_owner IN ('v1','v2') AND operational_state = 3 AND last_successful_attestation * 1000 > $t0" $N $((2 * LEASE + 4))
rc=$?
el=$(($(now_ms) - t0))
[ $rc -eq 0 ] && [ $el -le $((2 * LEASE * 1000 + 1500)) ]
check "v3 killed: its $V3_NODES nodes attested again by v1, v2 in ${el} ms (2 lease periods: $((2 * LEASE * 1000)) ms, + a flush)" $?
[ "$(q "$BAD")" = 0 ] && [ "$(q "$REVOKED")" = 0 ]
check "no node failed, no revocation event" $?

# --- SIGSTOP v2, takeover, SIGCONT ---
kill -STOP "${PID[v2]}"
until_sql "SELECT count(*) FROM nodes WHERE lease_owner = 'v1' AND operational_state = 3" $N $((3 * LEASE + 4))
check "v2 stopped (SIGSTOP): v1 takes all $N nodes over" $?
EV0=$(q "SELECT count(*) FROM events")
kill -CONT "${PID[v2]}"
for _ in $(seq 100); do
	grep -q "refused by the lease fence" "$T/v2.log" && break
	sleep 0.1
done
grep -q "refused by the lease fence" "$T/v2.log"
check "v2 resumed: its late writes are refused by the fence (log)" $?
for _ in $(seq 100); do
	grep -q "leases of v2 lost" "$T/v2.log" && break
	sleep 0.1
done
grep -q "leases of v2 lost" "$T/v2.log"
check "v2 gives the nodes up (its renewal finds them held by v1)" $?
! grep -q "attestation FAILED" "$T/v2.log" && [ "$(q "$REVOKED")" = 0 ] && [ "$(q "$BAD")" = 0 ]
check "no stale verdict (no failure, no revocation)" $?

# --- v4 joins ---
start_v v4 || exit 1
until_sql "SELECT count(*) >= $((N / 3 - 5)) FROM nodes WHERE lease_owner = 'v4' AND operational_state = 3" t 30
check "v4 joined: it holds and attests about a fair share ($((N / 3)))" $?
until_sql "SELECT max(c) <= $(((N + 2) / 3 + 5)) FROM (SELECT count(*) c FROM nodes GROUP BY lease_owner) x" t 30
check "no instance holds much more than the fair share" $?
q "SELECT lease_owner, count(*) FROM nodes GROUP BY lease_owner ORDER BY 1" | sed 's/^/#   /'
# shellcheck disable=SC2059
until_sql "$(printf "$HELD" "'v1','v2','v4'" 1)" $N 20 && [ "$(q "$REVOKED")" = 0 ] &&
	[ "$(q "$BAD")" = 0 ]
check "all $N nodes attested, none failed, no revocation" $?
