#!/usr/bin/env bash
# make bench: measure vigil on this machine and print one table (metric, value, unit, how
# measured). Everything runs on 127.0.0.1 with the project's own programs: swtpm nodes made
# by the integration harness (test/integration/lib.sh: real IMA list in PCR 10), vigil-agent
# on them, vigil-verifier, and the tools in test/bench/ (see docs/bench.md). A measurement
# that cannot be made is printed as "n/a" with the reason. About two to three minutes on 2
# cores; every process started here is stopped at exit, and every tool has a time limit.
#
# Knobs (environment): BENCH_N (timed rounds per latency figure, default 200),
# BENCH_NODES (nodes for the memory figure, default 500), BENCH_CPU_SECONDS (length of the
# verifier process run, default 10); the scale rows' knobs are test/bench/scale.sh's, the
# takeover row's (BENCH_TAKEOVER=1 runs it) test/bench/takeover.sh's.
. "$(dirname "$0")/../integration/lib.sh"

N=${BENCH_N:-200}
NODES=${BENCH_NODES:-500}
CPU_SECONDS=${BENCH_CPU_SECONDS:-10}
BB=$TOP/build/bench
ROWS=$T/rows
export VIGIL_PB_DIR=$T/pb
: >"$ROWS"

. "$TOP/test/bench/table.sh"

# attested UUID: the node's attestation count (vigilctl status), empty when unknown.
attested() {
	vctl status "$1" 2>/dev/null | sed -n 's/^attestations: *\([0-9]*\),.*/\1/p'
}
trap 'print_table; cleanup' EXIT

echo "bench: measuring (about 2-3 minutes); the table follows" >&2

# ---- quote verification alone, on the recorded swtpm quotes of the unit tests ----
if [ -x "$BB/quote_bench" ] && (cd "$TOP" && "$BB/quote_bench" -n 2000) >"$T/qb.out" 2>"$T/qb.err"; then
	for alg in rsa2048 ecc_p256; do
		row "quote_verify_$alg" "$(kv "$T/qb.out" quote_verify_${alg}_us)" "us CPU" \
			"quote_bench: decode + signature + nonce + PCR digest + PCR16 + clock of a recorded swtpm quote, 2000x"
		row "quote_decode_$alg" "$(kv "$T/qb.out" quote_decode_${alg}_us)" "us CPU" \
			"quote_bench: quote string decode alone (base64, TPMS_ATTEST, signature, PCR blob)"
	done
else
	na quote_verify "us CPU" "quote_bench failed: $(head -c 200 "$T/qb.err" 2>/dev/null)"
fi

# ---- a verdict's event with its webhook outbox rows, in one transaction ----
if [ -x "$BB/outbox_bench" ] && "$BB/outbox_bench" -n 500 -u 2 -d "$T" >"$T/ob.out" 2>"$T/ob.err"; then
	row event_commit_2_webhooks "$(kv "$T/ob.out" event_commit_us)" "us wall" \
		"outbox_bench: node record + hash-chained event + 2 outbox rows in one SQLite transaction (WAL, synchronous=FULL: one fsync each), 500x"
else
	na event_commit_2_webhooks "us wall" "outbox_bench failed: $(head -c 200 "$T/ob.err" 2>/dev/null)"
fi

# ---- webhooks: the verifier's delivery thread to a receiver of ours on 127.0.0.1 ----
if [ -x "$BB/webhook_bench" ] && timeout 100 "$BB/webhook_bench" -d "$T" -N 1000 -k 2000 -v 1000 -r 200 -t 40 \
	>"$T/wb.out" 2>"$T/wb.err"; then
	row webhook_deliveries_per_s "$(kv "$T/wb.out" deliveries_per_s)" "1/s" \
		"webhook_bench: $(kv "$T/wb.out" throughput_events) events over 1000 node UUIDs committed back to back (store_event_commit, as a verdict) while verifier/outbox.c delivers them to an http_server receiver on loopback that checks every Standard Webhooks signature; first commit to last valid arrival ($(kv "$T/wb.out" throughput_seconds) s; commits alone $(kv "$T/wb.out" commits_per_s)/s); SQLite WAL synchronous=FULL"
	how_l="webhook_bench: 1000 simulated nodes' failure verdicts (no TPM rounds), one per node UUID, committed at $(kv "$T/wb.out" latency_rate_per_s)/s from 2 threads with their own store connections; from just before the commit to the valid signed delivery's arrival at a loopback receiver; SQLite WAL synchronous=FULL (the commit itself: p50 $(kv "$T/wb.out" latency_commit_p50_ms), p99 $(kv "$T/wb.out" latency_commit_p99_ms) ms); max $(kv "$T/wb.out" latency_max_ms) ms, $(kv "$T/wb.out" latency_duplicates) duplicates"
	row verdict_to_webhook_p50_ms "$(kv "$T/wb.out" latency_p50_ms)" ms "$how_l"
	row verdict_to_webhook_p99_ms "$(kv "$T/wb.out" latency_p99_ms)" ms "$how_l"
else
	reason="webhook_bench failed: $(grep -v 'schema migrated' "$T/wb.err" 2>/dev/null | tail -c 200)"
	na webhook_deliveries_per_s "1/s" "$reason"
	na verdict_to_webhook_p50_ms ms "$reason"
	na verdict_to_webhook_p99_ms ms "$reason"
fi

# ---- scale: vigil-verifier against vigil-loadgen's simulated agents (test/bench/scale.sh) ----
# BENCH_SCALE_NODES (1000), BENCH_SCALE_RSA=1, BENCH_SCALE_DB=pg, BENCH_SCALE_SECONDS (20).
scale_limit=$((240 + ${BENCH_SCALE_NODES:-1000} / 15))
[ "${BENCH_SCALE_RSA:-0}" != 1 ] || scale_limit=$((scale_limit + ${BENCH_SCALE_NODES:-1000} / 2))
BENCH_ROWS=$ROWS timeout "$scale_limit" "$TOP/test/bench/scale.sh" >/dev/null ||
	na scale "-" "test/bench/scale.sh exited with $? (124: over its $scale_limit s limit)"

# ---- the enrollment storm and AddNodes (test/bench/enroll.sh) ----
# BENCH_STORM_NODES (10000), BENCH_STORM_CONNS (32), BENCH_ADD_NODES (10000).
BENCH_ROWS=$ROWS timeout 900 "$TOP/test/bench/enroll.sh" >/dev/null ||
	na enroll "-" "test/bench/enroll.sh exited with $? (124: over its 900 s limit)"

# ---- takeover: a pool of two verifiers on PostgreSQL loses one (test/bench/takeover.sh) ----
# BENCH_TAKEOVER=1 runs it (minutes: 10,000 loadgen nodes); BENCH_TAKEOVER_NODES (5000 a
# verifier), BENCH_TAKEOVER_LEASE (15 s).
if [ "${BENCH_TAKEOVER:-0}" = 1 ]; then
	to_limit=$((300 + ${BENCH_TAKEOVER_NODES:-5000} / 10))
	BENCH_ROWS=$ROWS timeout "$to_limit" "$TOP/test/bench/takeover.sh" >/dev/null ||
		na takeover "-" "test/bench/takeover.sh exited with $? (124: over its $to_limit s limit)"
else
	row takeover_5000_nodes_s "n/a" s "not run by default (set BENCH_TAKEOVER=1: two verifiers on a throwaway PostgreSQL, 10,000 loadgen nodes, a few minutes; test/bench/takeover.sh)"
fi

# ---- prerequisites of everything that runs a TPM ----
missing=
for tool in swtpm swtpm_setup swtpm_localca tpm2_getcap; do
	command -v $tool >/dev/null || missing="$missing $tool"
done
for f in "$BIN/vigil-agent" "$BIN/vigil-verifier" "$BIN/vigilctl" "$NODESIM" "$BB/tpm_quote_bench" \
	"$BB/round_bench" "$BB/verify_bench"; do
	[ -x "$f" ] || missing="$missing $f"
done
[ -r "$NODE_IMA_LIST" ] || missing="$missing $NODE_IMA_LIST"
if [ -n "$missing" ]; then
	for m in tpm2_quote agent_round verify_round verifier_process verifier_rss; do
		na "$m" "-" "missing:$missing"
	done
	exit 0
fi

"$BIN/vigilctl" ca init "$T/ca" >/dev/null && "$BIN/vigilctl" ca issue "$T/ca" verifier --both >/dev/null ||
	{ na all "-" "vigilctl ca failed"; exit 0; }
"$BIN/vigilctl" policy create runtime --ima-log "$NODE_IMA_LIST" --output "$T/runtime.json" 2>"$T/policy.err" ||
	{ na all "-" "vigilctl policy create runtime failed: $(head -c 200 "$T/policy.err")"; exit 0; }
LINES=$(awk 'END { print NR }' "$NODE_IMA_LIST")
NEW=50

# agent_start NAME AKALG: vigil-agent (no registrar) on node TPM NAME, its state in
# $T/state-NAME, on a free port (AGENT_PORT_NAME); waits until it serves.
agent_start() {
	local name=$1 ak=$2 tcti=TCTI_$1 port i
	port=$(free_port) || return 1
	printf -v "AGENT_PORT_$name" '%s' "$port"
	spawn "$T/agent-$name.log" "$BIN/vigil-agent" -d -o agent.tcti="${!tcti}" \
		-o agent.state_dir="$T/state-$name" -o agent.registrar= -o agent.ak_alg="$ak" \
		-o agent.trusted_client_ca="$T/ca/ca.crt" -o agent.listen=127.0.0.1:$port \
		-o agent.ima_log="$T/$name.ima" -o agent.event_log="$T/$name.eventlog"
	printf -v "AGENT_PID_$name" '%s' "$!"
	for i in $(seq 150); do
		grep -q "serving the agent API" "$T/agent-$name.log" && return 0
		kill -0 "$!" 2>/dev/null || break
		sleep 0.1
	done
	echo "bench: agent $name did not start: $(tail -3 "$T/agent-$name.log")" >&2
	return 1
}
# rounds NAME ARGS...: round_bench against agent NAME with the verifier's client cert.
rounds() {
	local name=$1 portvar=AGENT_PORT_$1
	shift
	timeout 120 "$BB/round_bench" -p "${!portvar}" -c "$T/state-$name/server-cert.pem" \
		-C "$T/ca/verifier.crt" -k "$T/ca/verifier.key" "$@"
}

# ---- per AK kind: raw quote, agent round, verifier check on this agent's answers ----
for ak in rsa ecc; do
	name=node_$ak
	label=$([ $ak = rsa ] && echo rsa2048 || echo ecc_p256)
	how_q="tpm_quote_bench: TPM2_Quote via ESAPI (agent/tpm.c), sha256 PCRs 10+16, fresh nonce, swtpm, ${N}x"
	if ! { node_tpm_start $name && node_logs $name; } 2>"$T/$name.err"; then
		for m in tpm2_quote agent_round verify_round; do
			na "${m}_$label" "-" "swtpm node failed: $(tail -c 200 "$T/$name.err")"
		done
		continue
	fi
	tcti=TCTI_$name
	mkdir -p "$T/state-$name"
	# Same AK as the agent: made here in the agent's state dir, reloaded by the agent.
	if timeout 120 "$BB/tpm_quote_bench" -T "${!tcti}" -a $ak -s "$T/state-$name" -n "$N" \
		>"$T/$name.tq" 2>"$T/$name.tq.err"; then
		row "tpm2_quote_${label}_median" "$(kv "$T/$name.tq" quote_median_ms)" ms "$how_q"
		row "tpm2_quote_${label}_p95" "$(kv "$T/$name.tq" quote_p95_ms)" ms "$how_q"
		row "tpm_round_cmds_${label}_median" "$(kv "$T/$name.tq" sequence_median_ms)" ms \
			"tpm_quote_bench: PCR_Reset(16) + PCR_Extend(16) + Quote + PCR_Read, the agent's TPM commands per round"
	else
		na "tpm2_quote_$label" ms "tpm_quote_bench failed: $(head -c 200 "$T/$name.tq.err")"
	fi
	if ! agent_start $name $ak; then
		na "agent_round_$label" ms "vigil-agent did not start ($(tail -c 150 "$T/agent-$name.log"))"
		na "verify_round_$label" "us CPU" "vigil-agent did not start"
		continue
	fi
	how_r="round_bench: GET /v2.6/quotes/integrity?nonce=<20>&mask=0x400&partial=1&ima_ml_entry=$LINES (0 new entries), one kept-alive mTLS connection, ${N}x"
	if rounds $name -n "$N" -q "mask=0x400&partial=1&ima_ml_entry=$LINES" >"$T/$name.rb" 2>"$T/$name.rb.err"; then
		row "agent_round_${label}_median" "$(kv "$T/$name.rb" median_ms)" ms "$how_r"
		row "agent_round_${label}_p95" "$(kv "$T/$name.rb" p95_ms)" ms "$how_r"
		if [ -s "$T/$name.tq" ]; then
			row "agent_overhead_${label}_median" \
				"$(sub "$(kv "$T/$name.rb" median_ms)" "$(kv "$T/$name.tq" quote_median_ms)")" ms \
				"agent round median minus raw TPM2_Quote median: TLS, HTTP, PCR16 reset/extend, PCR read, IMA list read, JSON"
			row "agent_overhead_${label}_p95" \
				"$(sub "$(kv "$T/$name.rb" p95_ms)" "$(kv "$T/$name.tq" quote_p95_ms)")" ms \
				"agent round p95 minus raw TPM2_Quote p95"
		fi
	else
		na "agent_round_$label" ms "round_bench failed: $(head -c 200 "$T/$name.rb.err")"
	fi
	# Three real answers with known nonces, then the verifier's own check on them.
	ans=$T/answers-$name
	mkdir -p "$ans"
	if rounds $name -o "$ans/first.json" -q "mask=0x400&partial=0&ima_ml_entry=0" 2>"$T/$name.rec.err" &&
		rounds $name -o "$ans/new.json" -q "mask=0x400&partial=1&ima_ml_entry=$((LINES - NEW))" 2>>"$T/$name.rec.err" &&
		rounds $name -o "$ans/none.json" -q "mask=0x400&partial=1&ima_ml_entry=$LINES" 2>>"$T/$name.rec.err"; then
		if timeout 120 "$BB/verify_bench" -a "$T/state-$name/ak.pub" -p "$T/runtime.json" -l "$T/$name.ima" \
			-d "$ans" -n 300 >"$T/$name.vb" 2>"$T/$name.vb.err"; then
			how_v="verify_bench: attest_check() (verifier/attest.c) on a recorded answer of this agent: JSON, quote decode, signature, nonce, PCR digest, PCR16, clock, IMA replay + runtime policy made from the list; 300x"
			row "verify_round_${label}_0new" "$(kv "$T/$name.vb" round_none_us)" "us CPU" "$how_v"
			row "verify_round_${label}_${NEW}new" "$(kv "$T/$name.vb" round_new_us)" "us CPU" \
				"verify_bench: the same with the last $(kv "$T/$name.vb" new_entries) entries of the list new this round"
			row "verify_round_${label}_first" "$(kv "$T/$name.vb" round_first_us)" "us CPU" \
				"verify_bench: a node's first round: all $(kv "$T/$name.vb" list_entries) entries replayed and judged"
		else
			na "verify_round_$label" "us CPU" "verify_bench failed: $(head -c 300 "$T/$name.vb.err")"
		fi
	else
		na "verify_round_$label" "us CPU" "recording answers failed: $(head -c 200 "$T/$name.rec.err")"
	fi
	if [ $ak = ecc ]; then
		pidvar=AGENT_PID_$name
		stop_pid "${!pidvar}"
	fi
done

# ---- the whole verifier process against one real agent (RSA AK) ----
VAGENT=node_rsa
pidvar=AGENT_PID_$VAGENT
portvar=AGENT_PORT_$VAGENT
if [ -z "${!pidvar:-}" ] || ! kill -0 "${!pidvar}" 2>/dev/null; then
	na verifier_process_cpu_per_round "us CPU" "no RSA agent running"
	na verifier_rss_per_node KiB "no RSA agent running"
	exit 0
fi
add_nodes() { # add_nodes COUNT PREFIX
	timeout 120 /usr/bin/python3 "$TOP/test/bench/add_nodes.py" "$VERIFIER_ADDR" "$1" "$2" \
		"$T/state-$VAGENT/ak.pub" "$T/state-$VAGENT/server-cert.pem" "${!portvar}" rt
}
tick=$(getconf CLK_TCK)
if verifier_start vcpu -o verifier.quote_interval=0 2>"$T/vcpu.err" &&
	vctl policy put rt --kind runtime "$T/runtime.json" >/dev/null 2>>"$T/vcpu.err" &&
	add_nodes 1 cpu 2>>"$T/vcpu.err" && wait_node_state cpu-000000 GET_QUOTE 30 2>>"$T/vcpu.err"; then
	sleep 1
	c0=$(attested cpu-000000) s0=$(cpu_ticks "$VERIFIER_PID") t0=$(now_s)
	sleep "$CPU_SECONDS"
	c1=$(attested cpu-000000) s1=$(cpu_ticks "$VERIFIER_PID") t1=$(now_s)
	if [ -n "$c0" ] && [ -n "$c1" ] && [ "$c1" -gt "$c0" ]; then
		row verifier_process_cpu_per_round \
			"$(awk -v s=$((s1 - s0)) -v c=$((c1 - c0)) -v hz="$tick" 'BEGIN { printf "%.0f", s / hz * 1e6 / c }')" "us CPU" \
			"vigil-verifier (quote_interval 0) vs one agent (RSA AK) for ${CPU_SECONDS} s: /proc utime+stime / attestations counted ($((c1 - c0))); TLS, HTTP, JSON, store flush included"
		row verifier_rounds_per_s_one_agent \
			"$(awk -v c=$((c1 - c0)) -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", c / (b - a) }')" "1/s" \
			"same run: attestations per second of one node, bounded by the agent and swtpm (all on 2 shared cores)"
	else
		na verifier_process_cpu_per_round "us CPU" "attestation count did not advance ($c0 -> $c1)"
	fi
else
	na verifier_process_cpu_per_round "us CPU" "verifier or node setup failed: $(tail -c 200 "$T/vcpu.err")"
fi
[ -n "${VERIFIER_PID:-}" ] && stop_pid "$VERIFIER_PID"

# ---- verifier memory per node: N nodes, one agent, one shared runtime policy ----
# all_attested COUNT SECONDS: until vigilctl list shows COUNT nodes attested at least once.
all_attested() {
	local i k
	for i in $(seq "$2"); do
		k=$(vctl list 2>/dev/null | awk 'NR > 1 && $4 + 0 >= 1' | wc -l)
		[ "$k" -ge "$1" ] && return 0
		sleep 1
	done
	echo "only $k of $1 nodes attested after $2 s" >&2
	return 1
}
if verifier_start vmem -o verifier.quote_interval=3600 2>"$T/vmem.err" &&
	vctl policy put rt --kind runtime "$T/runtime.json" >/dev/null 2>>"$T/vmem.err"; then
	sleep 1
	r0=$(rss_kib "$VERIFIER_PID")
	if add_nodes 1 one 2>>"$T/vmem.err" && all_attested 1 30 2>>"$T/vmem.err"; then
		sleep 1
		r1=$(rss_kib "$VERIFIER_PID")
		if add_nodes $((NODES - 1)) mem 2>>"$T/vmem.err" && all_attested "$NODES" 120 2>>"$T/vmem.err"; then
			sleep 2
			rn=$(rss_kib "$VERIFIER_PID")
			how_m="vigil-verifier VmRSS; nodes added by gRPC AddNode, all on one agent, one shared runtime policy, each attested once (quote_interval 3600), connections kept alive"
			row verifier_rss_0_nodes "$r0" KiB "$how_m"
			row verifier_rss_${NODES}_nodes "$rn" KiB "$how_m"
			row verifier_rss_per_node "$(awk -v a="$rn" -v b="$r0" -v n="$NODES" 'BEGIN { printf "%.1f", (a - b) / n }')" KiB \
				"(RSS_${NODES} - RSS_0) / ${NODES}"
			row verifier_rss_per_node_after_first "$(awk -v a="$rn" -v b="$r1" -v n="$NODES" 'BEGIN { printf "%.1f", (a - b) / (n - 1) }')" KiB \
				"(RSS_${NODES} - RSS_1) / $((NODES - 1)): without the shared parsed policy and first-use allocations"
		else
			na verifier_rss_per_node KiB "$(tail -c 200 "$T/vmem.err")"
		fi
	else
		na verifier_rss_per_node KiB "first node: $(tail -c 200 "$T/vmem.err")"
	fi
else
	na verifier_rss_per_node KiB "verifier setup failed: $(tail -c 200 "$T/vmem.err")"
fi
exit 0
