#!/usr/bin/env bash
# The takeover row of make bench: how long a verifier pool needs to attest again every node
# of an instance that died. Not run by default (minutes): test/bench/run.sh prints n/a
# unless BENCH_TAKEOVER=1.
#
# Two verifiers, va and vb, share a throwaway PostgreSQL (test/integration/pg_server.sh),
# verifier.lease_time BENCH_TAKEOVER_LEASE (default 15 s, the default), quote_interval 2 s;
# vigil-loadgen plays 2 x BENCH_TAKEOVER_NODES ECC nodes (default 5,000 each, so 10,000),
# added through va and spread by the pool, one half each. Once every node has attested,
# vb is SIGKILLed; measured from the kill: the time until every node vb held has a
# successful attestation by va later than the kill (nodes.last_successful_attestation,
# whole seconds, as va's once-a-second flush writes a taken-over node's first round: the
# figure is up to about 2 s late) and va holds all nodes attested, against the
# target of two lease periods; and va's round p99 over the takeover (its /metrics round
# histogram from the kill to the end: the rounds of the nodes it already held must not
# stall while the taken-over nodes' first rounds are admitted at first_rounds_per_s).
#
# Run by test/bench/run.sh with BENCH_ROWS=FILE; alone, it prints its own table.
. "$(dirname "$0")/../integration/lib.sh"
. "$TOP/test/bench/table.sh"
if [ -n "${BENCH_ROWS:-}" ]; then
	ROWS=$BENCH_ROWS
else
	ROWS=$T/rows
	: >"$ROWS"
	trap 'print_table; cleanup' EXIT
fi
export VIGIL_TEST_DB=pg
# The verifier's own default (test/integration/lib.sh makes it 0 for tests).
export VERIFIER_PROGRESS_INTERVAL=30
HALF=${BENCH_TAKEOVER_NODES:-5000}
NODES=$((2 * HALF))
LEASE=${BENCH_TAKEOVER_LEASE:-15}
P=takeover_${HALF}
LN="$TOP/test/integration/loadgen_nodes.py"

fail() {
	na "${P}_nodes_s" s "$*"
	na "${P}_survivor_round_p99_ms" ms "$*"
	exit 0
}
pg_server_bindir >/dev/null || fail "no PostgreSQL server binaries"
/usr/bin/python3 -c 'import grpc' 2>/dev/null || fail "python3-grpcio missing"
_verifier_db_ready pool || fail "PostgreSQL did not start"
DB=$(verifier_db pool)
q() { vdb_query pool "$1"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

hard=$(ulimit -Hn)
[ "$hard" = unlimited ] && hard=1048576
[ "$hard" -ge $((2 * NODES + 512)) ] || ulimit -Hn $((2 * NODES + 512)) 2>/dev/null ||
	[ "$hard" -ge $((NODES + 512)) ] || fail "open-file hard limit $hard too low"

declare -A MET PIDV ADDRV
for v in va vb; do
	MET[$v]=127.0.0.1:$(free_port) || fail "no free port"
	[ $v = va ] || { mkdir -p "$T/$v" && cp -p "$T/va/audit.key" "$T/$v/"; }
	VERIFIER_PORT='' VERIFIER_METRICS=${MET[$v]} verifier_start $v -o verifier.database="$DB" \
		-o verifier.verifier_id=$v -o verifier.lease_time="$LEASE" \
		-o verifier.quote_interval=2 -o verifier.answer_timeout=5 2>"$T/$v.err" ||
		fail "verifier $v did not start"
	PIDV[$v]=$VERIFIER_PID
	ADDRV[$v]=$VERIFIER_ADDR
done

"$BIN/vigilctl" ca issue "$T/ca" loadgen --server --san 127.0.0.1 >/dev/null || fail "ca issue"
per=2000
NLG=$(((NODES + per - 1) / per))
for k in $(seq 0 $((NLG - 1))); do
	n=$(((NODES - k * per) < per ? NODES - k * per : per))
	base=$(free_port_range_wait "$n") ||
		fail "no $n consecutive free ports below the ephemeral range"
	spawn "$T/loadgen$k.log" "$BIN/vigil-loadgen" -n "$n" --port "$base" \
		--cert "$T/ca/loadgen.crt" --key "$T/ca/loadgen.key" --client-ca "$T/ca/ca.crt" \
		--nodes-out "$T/nodes$k.jsonl" --pcr-policy-out "$T/pcr.json"
	LPID[$k]=$!
	LNN[$k]=$n
done
for k in $(seq 0 $((NLG - 1))); do
	for _ in $(seq 600); do
		grep -q "^ready:" "$T/loadgen$k.log" && break
		kill -0 "${LPID[$k]}" 2>/dev/null || break
		sleep 0.1
	done
	grep -q "^ready: ${LNN[$k]} nodes" "$T/loadgen$k.log" || fail "loadgen $k not ready"
	[ "$k" = 0 ] || sed -i "s/\"uuid\": \"10ad6e00-/\"uuid\": \"10ad6e0$k-/" "$T/nodes$k.jsonl"
done
VERIFIER_ADDR=${ADDRV[va]}
vctl policy put lg-pcr --kind pcr "$T/pcr.json" >/dev/null &&
	cat "$T"/nodes[0-9].jsonl >"$T/nodes.jsonl" &&
	timeout $((120 + NODES / 10)) /usr/bin/python3 $LN "${ADDRV[va]}" add "$T/nodes.jsonl" \
		--pcr-policy lg-pcr >"$T/add.log" 2>&1 && grep -q "^added $NODES" "$T/add.log" ||
	fail "adding the nodes failed: $(tail -c 200 "$T/add.log")"

# Settled: each holds half, every node attested.
settled=0
for _ in $(seq $((120 + NODES / 50))); do
	[ "$(q "SELECT count(*) FROM nodes WHERE lease_owner = 'va' AND operational_state = 3")" = "$HALF" ] &&
		[ "$(q "SELECT count(*) FROM nodes WHERE lease_owner = 'vb' AND operational_state = 3")" = "$HALF" ] &&
		{ settled=1; break; }
	sleep 1
done
[ $settled = 1 ] || fail "the pool did not settle at $HALF nodes each: $(q "SELECT lease_owner, count(*) FROM nodes GROUP BY 1" | tr '\n' ' ')"

curl -sf -m 10 "http://${MET[va]}/metrics" >"$T/m0" || fail "no /metrics from va"
# vb's nodes, as the store has them now: the ones to be taken over. (va's own go on
# attesting; with the default progress_interval their times reach the store only every
# 30 s, so they are not what is timed.)
q "CREATE TABLE bench_vb_nodes AS SELECT uuid FROM nodes WHERE lease_owner = 'vb'" >/dev/null ||
	fail "cannot note vb's nodes"
t0=$(now_ms)
kill -KILL "${PIDV[vb]}"
limit=$((t0 + 6 * LEASE * 1000))
got=0 held=0 last=0
c0=$(cpu_ticks "${PIDV[va]}")
while [ "$(now_ms)" -lt $limit ]; do
	read -r held got < <(q "SELECT count(*), count(*) FILTER (WHERE operational_state = 3 AND last_successful_attestation * 1000 > $t0) FROM nodes JOIN bench_vb_nodes USING (uuid) WHERE lease_owner = 'va'" | tr '|' ' ')
	[ "$got" = "$HALF" ] && break
	# How it goes, every 2 s: vb's nodes claimed by va, and attested by it.
	if [ $(($(now_ms) - last)) -ge 2000 ]; then
		last=$(now_ms)
		echo "takeover: +$(((last - t0) / 1000)) s: $held of $HALF claimed by va, $got attested; va CPU $(($(cpu_ticks "${PIDV[va]}") - c0)) ticks" >&2
	fi
	sleep 0.5
done
t1=$(now_ms)
curl -sf -m 10 "http://${MET[va]}/metrics" >"$T/m1" || fail "no /metrics from va after"
if [ "$got" = "$HALF" ] && [ "$(q "SELECT count(*) FROM nodes WHERE lease_owner = 'va' AND operational_state = 3")" = "$NODES" ]; then
	el=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1000 }')
	verdict=$(awk -v e="$el" -v l="$LEASE" 'BEGIN { print (e < 2 * l) ? "met" : "MISSED" }')
	row "${P}_nodes_s" "$el" s \
		"SIGKILL of the instance holding $HALF of $NODES nodes (2 verifiers, one PostgreSQL, lease_time $LEASE s, interval 2 s) until each of its $HALF nodes is attested by the survivor after the kill (store, 1 s flush, whole seconds) and all $NODES are held by the survivor attested; target < 2 lease periods = $((2 * LEASE)) s: $verdict"
else
	row "${P}_nodes_s" "n/a" s "not measured: only $got of the killed instance's $HALF nodes attested by the survivor within $((6 * LEASE)) s of the kill"
fi
round_hist "$T/m0" "$T/m1" >"$T/hist"
p99=$(hist_quantile 0.99 "$T/hist")
rounds=$(awk '$1 == "+Inf" { print $2 }' "$T/hist")
row "${P}_survivor_round_p99_ms" "$p99" ms \
	"the survivor's vigil_verifier_round_duration_seconds histogram from the kill to the end ($rounds rounds, its own nodes' and the taken-over ones'), interpolated in its bucket"
