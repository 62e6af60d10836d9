#!/usr/bin/env bash
# The enrollment-storm and AddNode rows of make bench, on this machine, loopback only.
#
# Storm: BENCH_STORM_NODES (default 10000) vigil-loadgen nodes, each with its own ECC
# P-256 EK (certificate from a test EK CA in the registrar's ek_ca_dir) and AK, register
# and activate at one vigil-registrar (SQLite), BENCH_STORM_CONNS (default 32) at a time:
# total time, per-node p50/p99 (register + activate, the loadgen's own clock) and the
# registrar's CPU (/proc/PID/stat around the storm). Target: 10,000 in < 30 s.
#
# Adds: a verifier (SQLite) takes BENCH_ADD_NODES (default 10000) nodes through AddNodes in
# batches of 1000 (the rate over the first 1000 and over all of them), then 200 more one
# AddNode call at a time (the old path, measured with the fleet already there). The nodes
# point at a closed loopback port with verifier.retry_interval 60 s: each costs one
# refused connect, so the rows measure the API and store path, not attestation.
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
N=${BENCH_STORM_NODES:-10000}
CONNS=${BENCH_STORM_CONNS:-32}
NA=${BENCH_ADD_NODES:-10000}
LG=$BIN/vigil-loadgen
HZ=$(getconf CLK_TCK)
S=storm_$N

# ---- the storm ----
storm() {
	local m
	"$BIN/vigilctl" ca init "$T/ca" >/dev/null &&
		"$BIN/vigilctl" ca issue "$T/ca" registrar --server >/dev/null &&
		"$BIN/vigilctl" ca issue "$T/ca" loadgen --server --san 127.0.0.1 >/dev/null &&
		mkdir -p "$T/ekca" &&
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
			-subj "/CN=bench EK CA" -keyout "$T/ekca.key" -out "$T/ekca/ca.crt" \
			-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
			2>/dev/null || { echo "CA setup failed"; return 1; }
	local addr=127.0.0.1:$(free_port) tls=127.0.0.1:$(free_port)
	spawn "$T/registrar.log" "$BIN/vigil-registrar" -d -o registrar.listen="$addr" \
		-o registrar.tls_listen="$tls" -o registrar.tls_cert="$T/ca/registrar.crt" \
		-o registrar.tls_key="$T/ca/registrar.key" -o registrar.trusted_client_ca="$T/ca/ca.crt" \
		-o registrar.ek_ca_dir="$T/ekca" -o registrar.state_dir="$T" \
		-o registrar.database="sqlite:$T/registrar.db" -o registrar.metrics_listen= -o registrar.grpc_listen= \
		-o registrar.max_conns_per_peer=512
	local rpid=$!
	for _ in $(seq 100); do
		curl -sf "http://$addr/version" >/dev/null && break
		sleep 0.1
	done
	# The loadgen makes its keys first; the registrar's CPU is read when it says it is
	# enrolling (the "registered:" line comes after): its ticks before the first request
	# are idle ones, so reading at start is the same up to a tick.
	local r0 r1 line
	r0=$(cpu_ticks $rpid)
	timeout 600 "$LG" -n "$N" --register-only --registrar "$addr" --register-conns "$CONNS" \
		--cert "$T/ca/loadgen.crt" --key "$T/ca/loadgen.key" --client-ca "$T/ca/ca.crt" \
		--ek-ca-cert "$T/ekca/ca.crt" --ek-ca-key "$T/ekca.key" >"$T/storm.log" 2>&1 ||
		{ echo "loadgen: $(tail -c 300 "$T/storm.log")"; return 1; }
	r1=$(cpu_ticks $rpid)
	line=$(grep "^registered:" "$T/storm.log")
	echo "enroll: $line" >&2
	local secs p50 p99 act
	secs=$(sed 's/.* in \([0-9.]*\) s .*/\1/' <<<"$line")
	p50=$(sed 's/.* p50 \([0-9.]*\) ms.*/\1/' <<<"$line")
	p99=$(sed 's/.* p99 \([0-9.]*\) ms.*/\1/' <<<"$line")
	act=$(sqlite3 "$T/registrar.db" "SELECT count(*) FROM registrar_agents WHERE active = 1" 2>/dev/null)
	local cfg="$N vigil-loadgen nodes (ECC P-256 EK + EK cert, ECC P-256 AK), $CONNS at a time, one vigil-registrar (SQLite), both on these $(nproc) cores"
	row "${S}_total_s" "$secs" s "$cfg: first POST to last activation (the loadgen's registered: line); $act active in the registrar's store; target < 30 s"
	row "${S}_per_s" "$(awk -v n="$N" -v s="$secs" 'BEGIN { printf "%.1f", n / s }')" 1/s "enrollments (register + activate) per second"
	row "${S}_p50_ms" "$p50" ms "per node: POST register + ActivateCredential + PUT activate, at $CONNS in flight"
	row "${S}_p99_ms" "$p99" ms "the same, 99th percentile"
	row "${S}_registrar_cpu_s" "$(awk -v t=$((r1 - r0)) -v hz="$HZ" 'BEGIN { printf "%.2f", t / hz }')" "s CPU" \
		"registrar utime+stime over the loadgen's run ($(awk -v t=$((r1 - r0)) -v hz="$HZ" -v n="$N" 'BEGIN { printf "%.0f", t / hz * 1e6 / n }') us per enrollment)"
	stop_pid $rpid
}
# Each part runs in this shell, not in $(...): what it spawns must reach SPAWNED, or
# lib.sh's cleanup would leave it running (a subshell's SPAWNED is lost with it).
storm >"$T/storm.out" 2>&1
rc=$?
out=$(cat "$T/storm.out")
if [ $rc -ne 0 ]; then
	for m in total_s:s per_s:1/s p50_ms:ms p99_ms:ms registrar_cpu_s:"s CPU"; do
		na "${S}_${m%%:*}" "${m#*:}" "$(tail -c 200 <<<"$out")"
	done
else
	[ -n "$out" ] && echo "$out" >&2
fi

# ---- AddNodes and AddNode ----
adds() {
	[ -f "$T/ca/verifier.crt" ] || "$BIN/vigilctl" ca issue "$T/ca" verifier --both >/dev/null
	verifier_start add -o verifier.retry_interval=60 -o verifier.max_retries=1 \
		-o verifier.quote_interval=60 2>"$T/add-v.err" || { echo "verifier did not start"; return 1; }
	local port
	port=$(free_port)
	# nodes file: NA + 200 lines, every node at the closed port, the test AK.
	/usr/bin/python3 - "$T/nodes.jsonl" $((NA + 200)) "$port" "$TOP/test/unit/data/tpm2/ak_rsa.pub" \
		"$T/ca/verifier.crt" <<'PY'
import base64, json, sys
out, n, port, ak, cert = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
ak = base64.b64encode(open(ak, "rb").read()).decode()
cert = open(cert).read()
with open(out, "w") as f:
    for i in range(n):
        f.write(json.dumps({"uuid": "add-%06d" % i, "ip": "127.0.0.1", "port": port,
                            "ak_tpm": ak, "mtls_cert": cert}) + "\n")
PY
	head -n 1000 "$T/nodes.jsonl" >"$T/n1.jsonl"
	sed -n "1001,${NA}p" "$T/nodes.jsonl" >"$T/n2.jsonl"
	sed -n "$((NA + 1)),$((NA + 200))p" "$T/nodes.jsonl" >"$T/n3.jsonl"
	local LN="/usr/bin/python3 $TOP/test/integration/loadgen_nodes.py $VERIFIER_ADDR"
	local t0 t1 t2 t3 t4
	t0=$(now_s)
	$LN add "$T/n1.jsonl" >/dev/null || { echo "AddNodes of the first 1000 failed"; return 1; }
	t1=$(now_s)
	$LN add "$T/n2.jsonl" >/dev/null || { echo "AddNodes up to $NA failed"; return 1; }
	t2=$(now_s)
	$LN add-single "$T/n3.jsonl" >/dev/null || { echo "AddNode of 200 more failed"; return 1; }
	t3=$(now_s)
	row add_batch_1000_per_s "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", 1000 / (b - a) }')" 1/s \
		"AddNodes, batches of 1000, nodes 1-1000 into an empty verifier (SQLite): one store transaction per batch (client wall clock)"
	row "add_batch_${NA}_per_s" "$(awk -v a="$t0" -v b="$t2" -v n="$NA" 'BEGIN { printf "%.0f", n / (b - a) }')" 1/s \
		"AddNodes, batches of 1000, nodes 1-$NA ($(awk -v a="$t0" -v b="$t2" 'BEGIN { printf "%.1f", b - a }') s in all)"
	row "add_single_at_${NA}_per_s" "$(awk -v a="$t2" -v b="$t3" 'BEGIN { printf "%.0f", 200 / (b - a) }')" 1/s \
		"AddNode one call at a time (one transaction, one round trip each), 200 nodes after the first $NA"
}
adds >"$T/adds.out" 2>&1
rc=$?
out=$(cat "$T/adds.out")
if [ $rc -ne 0 ]; then
	na add_batch_1000_per_s 1/s "$(tail -c 200 <<<"$out")"
	na "add_batch_${NA}_per_s" 1/s "$(tail -c 200 <<<"$out")"
	na "add_single_at_${NA}_per_s" 1/s "$(tail -c 200 <<<"$out")"
fi
exit 0
