# shellcheck shell=bash disable=SC2034
# pool_lib.sh: what the verifier pool tests share (t_pool_pg.sh, t_pool_stuck_pg.sh);
# sourced after lib.sh. Every verifier of the pool uses one PostgreSQL database of the
# test's own ("pool"), lease_time $LEASE, short agent timeouts; the load generator plays
# $N ECC nodes with a PCR policy, all added through v1 and left to the pool.
#
#   pool_init             the server and the database; sets DB
#   q SQL                 the rows SQL yields from it
#   start_v NAME [ARGS]   a verifier of the pool with id NAME; PID[NAME], ADDR[NAME]. Every
#                         instance after the first gets the first one's audit key, as
#                         docs/verifier.md asks of a pool: they seal one chain together.
#   until_sql SQL EXPECTED SECONDS   until the query yields EXPECTED, or fail after SECONDS
#   now_ms                wall clock, unix milliseconds
#   pool_loadgen [ARGS]   the load generator serving $N nodes ($T/nodes.jsonl), ARGS added
#   pool_add_nodes        the policy put and every node added through v1
VIGIL_TEST_DB=pg
declare -A PID ADDR

# Node states (store.h): 3 attested; 7, 9 failed; a revocation is an event of that type.
BAD="SELECT count(*) FROM nodes WHERE operational_state IN (7, 9)"
REVOKED="SELECT count(*) FROM events WHERE type = 'revocation'"

pool_init() {
	_verifier_db_ready pool || return 1
	DB=$(verifier_db pool)
}
q() { vdb_query pool "$1"; }
start_v() {
	local name=$1
	shift
	if [ -n "${POOL_FIRST:-}" ] && [ ! -f "$T/$name/audit.key" ]; then
		mkdir -p "$T/$name" && cp -p "$T/$POOL_FIRST/audit.key" "$T/$name/audit.key" || return 1
	fi
	VERIFIER_PORT=
	verifier_start "$name" -o verifier.database="$DB" -o verifier.verifier_id="$name" \
		-o verifier.lease_time="$LEASE" -o verifier.answer_timeout=1 \
		-o verifier.connect_timeout=1 "$@" || return 1
	PID[$name]=$VERIFIER_PID
	ADDR[$name]=$VERIFIER_ADDR
	POOL_FIRST=${POOL_FIRST:-$name}
}
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

pool_loadgen() { lg_start "$N" "$@"; }
pool_add_nodes() {
	VERIFIER_ADDR=${ADDR[v1]}
	lg_add
}
# log_wait FILE REGEX SECONDS: until FILE has a line matching REGEX.
log_wait() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		grep -qE "$2" "$1" && return 0
		sleep 0.1
	done
	grep -qE "$2" "$1"
}
