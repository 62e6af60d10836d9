#!/usr/bin/env bash
# vigil-loadgen, the load generator, against the real verifier.
# Setup: a verifier (quote_interval 0.5 s, answer_timeout 1 s, 3 retries); the loadgen
#   with 50 ECC nodes on consecutive free ports of 127.0.0.1, IMA growing at 2 entries/s,
#   node 7 turning bad at 15 s (an IMA entry no policy allows), node 21 turning bad at
#   15 s (PCR 7 changes), node 13 going silent at 15 s; every node added over gRPC with
#   the runtime policy the loadgen wrote, and the loadgen's PCR policy (PCRs 0-7).
# Actions and expected outcome:
#   - a quote the loadgen dumps passes tpm2_checkquote (the independent second opinion,
#     ECC and RSA AKs) and vigil's quote_check (PCR 16 binds the payload key, the blob and
#     the string re-encode byte for byte);
#   - all 50 nodes reach GET_QUOTE with at least 2 attestations and their IMA position
#     grows;
#   - node 7 goes to INVALID_QUOTE with ima.validation.ima-ng.not_in_allowlist, node 21 with
#     pcr_validation.invalid_pcr_7, node 13 to FAILED with comm_error;
#   - the 47 others stay in GET_QUOTE and each attests at least twice more afterwards;
#   - the loadgen reports its rounds and CPU time on SIGUSR1 and at exit.
. "$(dirname "$0")/lib.sh"

LG=$BIN/vigil-loadgen
QC=$TOP/build/tools/quote_check
LN="/usr/bin/python3 $TOP/test/integration/loadgen_nodes.py"
N=50
[ -x "$LG" ] || { echo "not ok vigil-loadgen built"; exit 1; }

# --- a dumped quote, judged by tpm2_checkquote and by quote_check ---
NONCE=lgNonce0123456789xyz
NONCE_HEX=$(printf %s "$NONCE" | od -An -tx1 | tr -d ' \n')
for k in ecc rsa; do
	a=
	[ $k = rsa ] && a=--rsa
	"$LG" --dump-quote "$T/q-$k" --nonce "$NONCE" --mask 0x4004ff $a >"$T/dump-$k.log" 2>&1
	check "$k: --dump-quote writes a quote" $?
	if command -v tpm2_checkquote >/dev/null; then
		tpm2_checkquote -u "$T/q-$k/ak.pem" -m "$T/q-$k/attest" -s "$T/q-$k/sig" \
			-f "$T/q-$k/pcrs" -g sha256 -q "$NONCE_HEX" >"$T/checkquote-$k.log" 2>&1
		check "$k: tpm2_checkquote accepts the loadgen's quote" $?
		! tpm2_checkquote -u "$T/q-$k/ak.pem" -m "$T/q-$k/attest" -s "$T/q-$k/sig" \
			-f "$T/q-$k/pcrs" -g sha256 -q "${NONCE_HEX}00" >>"$T/checkquote-$k.log" 2>&1
		check "$k: tpm2_checkquote rejects it with another nonce" $?
	else
		echo "skip loadgen_checkquote_$k: tpm2_checkquote not installed"
	fi
	out=$("$QC" -k "$T/q-$k/ak.pem" -n "$NONCE" -p "$T/q-$k/payload.pem" -R -q "$T/q-$k/quote.txt")
	[ "$out" = OK ]
	check "$k: quote_check accepts it, PCR 16 binds the payload key ($out)" $?
done

# --- the fleet ---
verifier_start v -o verifier.answer_timeout=1 -o verifier.connect_timeout=1 || exit 1
"$BIN/vigilctl" ca issue "$T/ca" loadgen --server --san 127.0.0.1 >/dev/null
BASE=$(free_port_range $N) || exit 1
spawn "$T/loadgen.log" "$LG" -n $N --port "$BASE" --threads 2 --ima-rate 2 \
	--bad 7@15 --bad 21@15:pcr --silent 13@15 \
	--cert "$T/ca/loadgen.crt" --key "$T/ca/loadgen.key" --client-ca "$T/ca/ca.crt" \
	--nodes-out "$T/nodes.jsonl" --runtime-policy-out "$T/rt.json" \
	--pcr-policy-out "$T/pcr.json"
LG_PID=$!
for _ in $(seq 300); do
	grep -q "^ready:" "$T/loadgen.log" && break
	kill -0 $LG_PID 2>/dev/null || break
	sleep 0.1
done
grep -q "^ready: $N nodes" "$T/loadgen.log" && [ "$(wc -l <"$T/nodes.jsonl")" -eq $N ]
check "loadgen serves $N nodes and writes the node file" $? || exit 1

vctl policy put lg-rt --kind runtime "$T/rt.json" >/dev/null &&
	vctl policy put lg-pcr --kind pcr "$T/pcr.json" >/dev/null &&
	$LN "$VERIFIER_ADDR" add "$T/nodes.jsonl" --runtime-policy lg-rt --pcr-policy lg-pcr \
		>"$T/add.log" 2>&1 && grep -q "^added $N" "$T/add.log"
check "all $N nodes added over gRPC (AddNode with ak_tpm)" $? || exit 1

states() { $LN "$VERIFIER_ADDR" states "$T/nodes.jsonl" >"$T/states" 2>>"$T/states.err"; }
# until_states CONDITION SECONDS [REF]: until CONDITION (an awk program over REF, when
# given, then $T/states, that exits 0 when met) holds, or SECONDS pass.
until_states() {
	local i
	for i in $(seq $(($2 * 5))); do
		states && awk "$1" ${3:-} "$T/states" && return 0
		sleep 0.2
	done
	echo "# states after $2 s:"; sed 's/^/#   /' "$T/states"
	return 1
}

# All attested twice, IMA position past entry 1, before the faults (at 15 s) can strike.
until_states '$3 != "GET_QUOTE" || $4 < 2 || $6 < 2 { bad = 1 } END { exit bad }' 14
check "all $N nodes attested (GET_QUOTE, >= 2 rounds, IMA list growing)" $?
cp "$T/states" "$T/states.before"

until_states '$1 == 7 && $3 == "INVALID_QUOTE" && $5 == "ima.validation.ima-ng.not_in_allowlist" { ok = 1 } END { exit !ok }' 30
check "node 7 (--bad 7@15) fails with ima.validation.ima-ng.not_in_allowlist" $?
until_states '$1 == 21 && $3 == "INVALID_QUOTE" && $5 == "pcr_validation.invalid_pcr_7" { ok = 1 } END { exit !ok }' 30
check "node 21 (--bad 21@15:pcr) fails with pcr_validation.invalid_pcr_7" $?
until_states '$1 == 13 && $3 == "FAILED" && $5 == "comm_error" { ok = 1 } END { exit !ok }' 30
check "node 13 (--silent 13@15) goes to FAILED with comm_error" $?

# The others go on: each two more rounds than before the faults, none failed.
cp "$T/states" "$T/states.after"
until_states 'NR == FNR { c[$1] = $4; next } $1 != 7 && $1 != 13 && $1 != 21 && ($3 != "GET_QUOTE" || $4 < c[$1] + 2) { bad = 1 } END { exit bad }' 15 "$T/states.after"
check "the other $((N - 3)) nodes stay attested and keep attesting" $?

kill -USR1 $LG_PID
for _ in $(seq 50); do grep -q "^loadgen stats: nodes=$N rounds=[1-9]" "$T/loadgen.log" && break; sleep 0.1; done
grep -q "^loadgen stats: nodes=$N rounds=[1-9][0-9]* errors=0 notices=[0-9]* cpu_user=" "$T/loadgen.log"
check "SIGUSR1 prints the loadgen's rounds and CPU time" $?
stop_pid $LG_PID
grep -q "^loadgen exit: nodes=$N rounds=[1-9]" "$T/loadgen.log"
check "the loadgen prints its rounds and CPU time at exit" $?
