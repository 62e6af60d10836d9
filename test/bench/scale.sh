#!/usr/bin/env bash
# The scale rows of make bench: vigil-verifier attesting vigil-loadgen's simulated agents
# (docs/loadgen.md) on this machine, both processes on the same cores, loopback only.
#
# One run: BENCH_SCALE_NODES nodes (default 1000) at verifier.quote_interval 2 s, ECC P-256
# AKs (BENCH_SCALE_RSA=1: RSA-2048, ~50 ms of key generation per node), SQLite
# (BENCH_SCALE_DB=pg: a throwaway PostgreSQL, test/integration/pg_server.sh), the loadgen's
# PCR policy (PCRs 0-7), no IMA growth. Once every node has attested twice, a window of
# BENCH_SCALE_SECONDS (default 20) is measured: the verifier's /metrics (rounds, failures,
# the round-duration histogram) and /proc/PID/stat of both processes at its two ends.
# Reference rows: `openssl speed -seconds 1` verifies per second for ecdsap256 and rsa2048,
# and the ratio of the verifier's CPU per attestation to one verify of the AK's kind.
# BENCH_SCALE_PERF=DIR: after the window, `perf record -g` of the verifier for 10 s into
# DIR, its top symbols in DIR/verifier-top.txt.
#
# Run by test/bench/run.sh with BENCH_ROWS=FILE (rows appended there); alone, it prints
# its own table. Every process it starts is stopped by PID at exit (lib.sh's cleanup).
. "$(dirname "$0")/../integration/lib.sh"
. "$TOP/test/bench/table.sh"
if [ -n "${BENCH_ROWS:-}" ]; then
	ROWS=$BENCH_ROWS
else
	ROWS=$T/rows
	: >"$ROWS"
	trap 'print_table; cleanup' EXIT
fi
export VIGIL_PB_DIR=$T/pb

NODES=${BENCH_SCALE_NODES:-1000}
WINDOW=${BENCH_SCALE_SECONDS:-20}
INTERVAL=2
KEY=ecc KEYLABEL=ecc_p256
[ "${BENCH_SCALE_RSA:-0}" = 1 ] && KEY=rsa KEYLABEL=rsa2048
DB=sqlite
[ "${BENCH_SCALE_DB:-sqlite}" = pg ] && DB=pg
export VIGIL_TEST_DB=$DB
# The verifier's own default (test/integration/lib.sh makes it 0 for tests).
export VERIFIER_PROGRESS_INTERVAL=30
P=scale_${NODES}_${KEY}_$([ $DB = pg ] && echo pg || echo sqlite)
LG=$BIN/vigil-loadgen
LN="$TOP/test/integration/loadgen_nodes.py"
HZ=$(getconf CLK_TCK)

# ---- reference: one signature verify, from openssl speed on this machine ----
# speed_verify ALG LABEL PATTERN: a row of verify/s, the last field of openssl speed's
# result line (the one matching PATTERN); remembered in VERIFY_PER_S[LABEL].
declare -A VERIFY_PER_S
speed_verify() {
	local v
	if v=$(timeout 60 openssl speed -seconds 1 "$1" 2>/dev/null |
		awk -v p="$3" '$0 ~ p { v = $NF } END { if (v == "") exit 1; print v }'); then
		VERIFY_PER_S[$2]=$v
		row "openssl_${1}_verify_per_s" "$v" "1/s" \
			"openssl speed -seconds 1 $1 ($(openssl version | awk '{ print $1, $2 }')): one core, verify/s (reference for the ratio row)"
	else
		na "openssl_${1}_verify_per_s" "1/s" "openssl speed $1 failed"
	fi
}
speed_verify ecdsap256 ecc_p256 'ecdsa [(]nistp256[)]'
speed_verify rsa2048 rsa2048 '^rsa 2048 bits'

# ---- the knobs not taken ----
[ "$NODES" = 10000 ] ||
	row scale_10000_nodes "n/a" "-" "not run by default (set BENCH_SCALE_NODES=10000; a few minutes, ECC only is practical)"
[ $KEY = rsa ] ||
	row scale_rsa2048_keys "n/a" "-" "not run by default (set BENCH_SCALE_RSA=1; the loadgen's RSA keys take ~50 ms each to make)"
[ $DB = pg ] ||
	row scale_postgresql "n/a" "-" "not run by default (set BENCH_SCALE_DB=pg; a throwaway PostgreSQL server)"

# fail REASON: every scale row of this run as n/a, then stop.
fail() {
	local m
	for m in attest_per_s:1/s round_p50_ms:ms round_p99_ms:ms verifier_cpu_per_attest:"us CPU" \
		loadgen_cpu_per_round:"us CPU" verifier_rss_per_node:KiB cpu_per_attest_vs_verify:x; do
		na "${P}_${m%%:*}" "${m#*:}" "$*"
	done
	exit 0
}

for f in "$LG" "$BIN/vigil-verifier" "$BIN/vigilctl"; do
	[ -x "$f" ] || fail "$f not built"
done
/usr/bin/python3 -c 'import grpc' 2>/dev/null || fail "python3-grpcio missing"
command -v curl >/dev/null || fail "curl missing"

# Each node is a listening socket and a kept-alive connection in the loadgen, and a
# connection in the verifier: both raise their soft limit to the hard one. When one
# loadgen cannot hold 2 descriptors per node under the hard limit (and it cannot be
# raised), or past 2,000 nodes, the nodes are split over several loadgen processes; their
# node UUIDs (made from the node's index) are then renamed per process in the node files:
# 10ad6e0K-... for process K.
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] && hard=1048576
if [ "$hard" -lt $((2 * NODES + 512)) ]; then
	ulimit -Hn $((2 * NODES + 512)) 2>/dev/null && hard=$((2 * NODES + 512))
fi
[ "$hard" -ge $((NODES + 512)) ] || fail "open-file hard limit $hard < $((NODES + 512)) (the verifier's connections): raise it"
# At most 2,000 nodes a process, too: each process's nodes take consecutive ports below the
# ephemeral range, where other listeners and TIME_WAIT leave few long free runs.
per_lg=$(((hard - 512) / 2))
[ "$per_lg" -le 2000 ] || per_lg=2000
NLG=$(((NODES + per_lg - 1) / per_lg))
[ "$NLG" -le 9 ] || fail "open-file hard limit $hard: $NLG loadgen processes needed"
per_lg=$(((NODES + NLG - 1) / NLG)) # the same share for each

# ---- the verifier, then the loadgen ----
VERIFIER_METRICS=127.0.0.1:$(free_port) || fail "no free port"
verifier_start scale -o verifier.quote_interval=$INTERVAL -o verifier.answer_timeout=5 \
	2>"$T/scale-v.err" || fail "verifier did not start: $(tail -c 200 "$T/scale-v.err")"
VPID=$VERIFIER_PID
sleep 1
RSS0=$(rss_kib $VPID)
"$BIN/vigilctl" ca issue "$T/ca" loadgen --server --san 127.0.0.1 >/dev/null || fail "vigilctl ca issue failed"
rsa=
[ $KEY = rsa ] && rsa=--rsa
t_start=$(now_s)
LPIDS=()
base=
for k in $(seq 0 $((NLG - 1))); do
	n=$(((NODES - k * per_lg) < per_lg ? NODES - k * per_lg : per_lg))
	base=$(free_port_range_wait "$n") ||
		fail "no $n consecutive free ports below the ephemeral range"
	spawn "$T/loadgen$k.log" "$LG" -n "$n" --port "$base" $rsa \
		--cert "$T/ca/loadgen.crt" --key "$T/ca/loadgen.key" --client-ca "$T/ca/ca.crt" \
		--nodes-out "$T/nodes$k.jsonl" --pcr-policy-out "$T/pcr.json"
	LPIDS+=($!)
	LN_N[$k]=$n
done
# Ready: ECC keys take well under a millisecond each, RSA keys 50-150 ms (one core, more
# when the box is busy): 0.5 s a node allowed.
deadline=$((30 + NODES / ($([ $KEY = rsa ] && echo 2 || echo 1000))))
for k in $(seq 0 $((NLG - 1))); do
	for _ in $(seq $((deadline * 10))); do
		grep -q "^ready:" "$T/loadgen$k.log" && break
		kill -0 "${LPIDS[$k]}" 2>/dev/null || break
		sleep 0.1
	done
	grep -q "^ready: ${LN_N[$k]} nodes" "$T/loadgen$k.log" ||
		fail "loadgen $k not ready within $deadline s: $(tail -c 200 "$T/loadgen$k.log")"
	[ "$k" = 0 ] || sed -i "s/\"uuid\": \"10ad6e00-/\"uuid\": \"10ad6e0$k-/" "$T/nodes$k.jsonl"
done
t_ready=$(now_s)

vctl policy put lg-pcr --kind pcr "$T/pcr.json" >/dev/null 2>"$T/add.err" &&
	cat "$T"/nodes[0-9].jsonl >"$T/nodes.jsonl" &&
	timeout $((60 + NODES / 20)) /usr/bin/python3 $LN "$VERIFIER_ADDR" add "$T/nodes.jsonl" \
		--pcr-policy lg-pcr >"$T/add.log" 2>>"$T/add.err" && grep -q "^added $NODES" "$T/add.log" ||
	fail "adding the nodes failed: $(tail -c 200 "$T/add.err")"
t_added=$(now_s)

# Every node attested twice (state GET_QUOTE, attestation_count >= 2, as the verifier's
# store has it after its once-a-second flush). First rounds are admitted at
# verifier.first_rounds_per_s (default 100/s), so this takes at least NODES/100 s.
twice() {
	vdb_query scale "SELECT count(*) FROM nodes WHERE operational_state = 3 AND attestation_count >= 2" 2>/dev/null
}
deadline=$((60 + NODES * 3 / 200))
k=0
for _ in $(seq "$deadline"); do
	k=$(twice)
	[ "${k:-0}" -ge "$NODES" ] && break
	kill -0 $VPID 2>/dev/null && kill -0 "${LPIDS[@]}" 2>/dev/null || break
	sleep 1
done
[ "${k:-0}" -ge "$NODES" ] || fail "only ${k:-0} of $NODES nodes attested twice within $deadline s"
t_twice=$(now_s)

# ---- the window ----
scrape() {
	curl -sf -m 10 "http://$VERIFIER_METRICS/metrics" >"$1"
}
# lg_stats: the loadgens' rounds and errors so far (summed), from a fresh SIGUSR1 line of
# each.
lg_stats() {
	local k n i r=0 e=0 rr ee
	for k in "${!LPIDS[@]}"; do
		n=$(grep -c "^loadgen stats:" "$T/loadgen$k.log")
		kill -USR1 "${LPIDS[$k]}"
		for i in $(seq 50); do
			[ "$(grep -c "^loadgen stats:" "$T/loadgen$k.log")" -gt "$n" ] && break
			sleep 0.1
		done
		read -r rr ee < <(grep "^loadgen stats:" "$T/loadgen$k.log" | tail -1 |
			sed 's/.* rounds=\([0-9]*\) errors=\([0-9]*\) .*/\1 \2/')
		r=$((r + rr)) e=$((e + ee))
	done
	echo "$r $e"
}
# rq_wait_ns PID...: nanoseconds the processes' threads have waited runnable for a CPU
# (the second field of /proc/PID/task/TID/schedstat), summed.
rq_wait_ns() {
	local p
	for p in "$@"; do cat /proc/"$p"/task/*/schedstat 2>/dev/null; done |
		awk '{ s += $2 } END { printf "%.0f", s }'
}
# lg_ticks, lg_rss: CPU ticks and VmRSS (KiB) of all the loadgens together.
lg_ticks() {
	local p t=0
	for p in "${LPIDS[@]}"; do t=$((t + $(cpu_ticks "$p"))); done
	echo $t
}
lg_rss() {
	local p t=0
	for p in "${LPIDS[@]}"; do t=$((t + $(rss_kib "$p"))); done
	echo $t
}
LOAD=$(cut -d' ' -f1 /proc/loadavg)
scrape "$T/m0" || fail "no /metrics on $VERIFIER_METRICS"
q0=$(rq_wait_ns $VPID) ql0=$(rq_wait_ns "${LPIDS[@]}")
v0=$(cpu_ticks $VPID) l0=$(lg_ticks) w0=$(now_s)
read -r lr0 le0 < <(lg_stats)
sleep "$WINDOW"
scrape "$T/m1" || fail "no /metrics on $VERIFIER_METRICS"
v1=$(cpu_ticks $VPID) l1=$(lg_ticks) w1=$(now_s)
q1=$(rq_wait_ns $VPID) ql1=$(rq_wait_ns "${LPIDS[@]}")
read -r lr1 le1 < <(lg_stats)
RSS1=$(rss_kib $VPID) LRSS=$(lg_rss)

# metric FILE NAME: the value of an unlabelled sample.
metric() {
	awk -v n="$2" '$1 == n { print $2; exit }' "$1"
}
failures() {
	awk '/^vigil_verifier_round_failures_total\{/ { s += $2 } END { print s + 0 }' "$1"
}
rounds=$(($(metric "$T/m1" vigil_verifier_rounds_total) - $(metric "$T/m0" vigil_verifier_rounds_total)))
fails=$(($(failures "$T/m1") - $(failures "$T/m0")))
[ "$rounds" -gt 0 ] || fail "no rounds in the window"
secs=$(awk -v a="$w0" -v b="$w1" 'BEGIN { printf "%.2f", b - a }')
done_s=$(awk -v r=$rounds -v s="$secs" 'BEGIN { printf "%.1f", r / s }')
due_s=$(awk -v n="$NODES" -v i=$INTERVAL 'BEGIN { printf "%.1f", n / i }')
cfg="$NODES $KEYLABEL nodes ($NLG vigil-loadgen process(es), $(nproc) cores shared with the verifier), quote_interval $INTERVAL s, PCR policy 0-7, no IMA growth, $([ $DB = pg ] && echo PostgreSQL || echo SQLite); ${secs} s window after all attested twice, load average $LOAD at its start"
row "${P}_attest_per_s" "$done_s" 1/s \
	"$cfg: delta of vigil_verifier_rounds_total ($rounds rounds, $fails failed) / window; due $due_s/s ($NODES / $INTERVAL s) = $(awk -v a="$done_s" -v b="$due_s" 'BEGIN { printf "%.1f", 100 * a / b }') %"
row "${P}_attest_due_per_s" "$due_s" 1/s "nodes / quote_interval"

# Quantiles of the window's histogram (bucket deltas; table.sh).
round_hist "$T/m0" "$T/m1" >"$T/hist"
quantile() { hist_quantile "$1" "$T/hist"; }
over100=$(awk '$1 == "0.1" { le = $2 } $1 == "+Inf" { t = $2 } END { print t - le }' "$T/hist")
how_l="window's vigil_verifier_round_duration_seconds histogram (verifier /metrics: first request to verdict), interpolated in its bucket (buckets 1, 2.5, 5, 10, 25, 50, 100 ms ...)"
row "${P}_round_p50_ms" "$(quantile 0.5)" ms "$how_l"
row "${P}_round_p99_ms" "$(quantile 0.99)" ms "$how_l; $over100 of $rounds rounds over 100 ms (exact: the 100 ms bucket edge)"

vcpu=$(awk -v t=$((v1 - v0)) -v hz="$HZ" -v r=$rounds 'BEGIN { printf "%.1f", t / hz * 1e6 / r }')
row "${P}_verifier_cpu_per_attest" "$vcpu" "us CPU" \
	"/proc/$VPID/stat utime+stime delta / rounds in the window ($(awk -v t=$((v1 - v0)) -v hz="$HZ" -v s="$secs" 'BEGIN { printf "%.1f", 100 * t / hz / s }') % of one core); TLS, HTTP, JSON, checks, store flush"
lrounds=$((lr1 - lr0))
if [ "$lrounds" -gt 0 ]; then
	row "${P}_loadgen_cpu_per_round" \
		"$(awk -v t=$((l1 - l0)) -v hz="$HZ" -v r=$lrounds 'BEGIN { printf "%.1f", t / hz * 1e6 / r }')" "us CPU" \
		"/proc/PID/stat utime+stime delta of the $NLG loadgen process(es) / their own round count (SIGUSR1 lines: $lrounds rounds, $((le1 - le0)) errors) in the window ($(awk -v t=$((l1 - l0)) -v hz="$HZ" -v s="$secs" 'BEGIN { printf "%.1f", 100 * t / hz / s }') % of one core)"
else
	na "${P}_loadgen_cpu_per_round" "us CPU" "the loadgen counted no rounds ($lr0 -> $lr1)"
fi
row "${P}_verifier_runqueue_wait" \
	"$(awk -v a="$q0" -v b="$q1" -v s="$secs" 'BEGIN { printf "%.1f", 100 * (b - a) / 1e9 / s }')" "% of window" \
	"time the verifier's threads waited runnable for a CPU (/proc/PID/task/*/schedstat), summed over threads, / window: CPU contention, not the verifier's own work (loadgens: $(awk -v a="$ql0" -v b="$ql1" -v s="$secs" 'BEGIN { printf "%.1f", 100 * (b - a) / 1e9 / s }') %)"
row "${P}_verifier_rss_per_node" \
	"$(awk -v a="$RSS1" -v b="$RSS0" -v n="$NODES" 'BEGIN { printf "%.1f", (a - b) / n }')" KiB \
	"(VmRSS after the window $RSS1 - before any node $RSS0) / $NODES; loadgen VmRSS $LRSS KiB"
ver=${VERIFY_PER_S[$KEYLABEL]:-}
if [ -n "$ver" ]; then
	row "${P}_cpu_per_attest_vs_verify" \
		"$(awk -v c="$vcpu" -v v="$ver" 'BEGIN { printf "%.2f", c / (1e6 / v) }')" x \
		"verifier CPU per attestation / one $KEYLABEL verify ($(awk -v v="$ver" 'BEGIN { printf "%.1f", 1e6 / v }') us, openssl speed); target <= 2.5"
else
	na "${P}_cpu_per_attest_vs_verify" x "no openssl speed figure for $KEYLABEL"
fi
echo "scale: loadgen ready $(awk -v a="$t_start" -v b="$t_ready" 'BEGIN { printf "%.1f", b - a }') s," \
	"nodes added $(awk -v a="$t_ready" -v b="$t_added" 'BEGIN { printf "%.1f", b - a }') s," \
	"all attested twice $(awk -v a="$t_added" -v b="$t_twice" 'BEGIN { printf "%.1f", b - a }') s later" >&2

# perf_top PREFIX: PREFIX-top.txt, the 40 top symbols (self time) of PREFIX.perf, and
# PREFIX-dso.txt, the time by library.
perf_top() {
	local f
	for f in dso,symbol:top dso:dso; do
		perf report -i "$1.perf" --no-children --sort "${f%%:*}" -g none --stdio 2>/dev/null |
			grep -E '^ +[0-9]' | sed -E 's/[[:space:]]+-[[:space:]]+-[[:space:]]*$//; s/ {3,}/  /g' | head -40 >"$1-${f#*:}.txt"
	done
}
if [ -n "${BENCH_SCALE_PERF:-}" ] && command -v perf >/dev/null; then
	mkdir -p "$BENCH_SCALE_PERF"
	timeout 60 perf record -q -g -p $VPID -o "$BENCH_SCALE_PERF/verifier.perf" -- sleep 10 \
		>/dev/null 2>&1 &&
		perf_top "$BENCH_SCALE_PERF/verifier"
	timeout 60 perf record -q -g -p "${LPIDS[0]}" -o "$BENCH_SCALE_PERF/loadgen.perf" -- sleep 10 \
		>/dev/null 2>&1 &&
		perf_top "$BENCH_SCALE_PERF/loadgen"
	echo "scale: perf profiles in $BENCH_SCALE_PERF" >&2
fi
for p in "${LPIDS[@]}"; do stop_pid "$p"; done
stop_pid $VPID
exit 0
