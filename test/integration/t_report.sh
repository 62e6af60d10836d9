#!/usr/bin/env bash
# On-demand attestation and trust reports (AttestNow, GetReport, GetReportKey; docs/ear.md,
# docs/api.md) end to end on swtpm.
# Setup: a fleet on loopback whose verifier polls only every 60 s (so a round in this test
# is the one AttestNow started, not a regular one), a runtime policy from the golden IMA
# list, a measured-boot policy from the golden UEFI log and a PCR policy for PCR 15.
# Actions and expected outcomes:
#   - AttestNow on a good node: a new round at once, PASS, exit 0, EAR status affirming,
#     PCRs 0-15 listed with their values, 15 under the policy and ok, measured boot and
#     IMA pass; the node's schedule goes on (no second round right after);
#   - GetReport as JWT and CWT: checked by PyJWT and cbor2+cryptography (ear_check.py)
#     and by vigilctl report verify with the key from vigilctl report key (GetReportKey);
#     the node's last events, newest last, at most --events;
#   - an IMA tamper (a file not in the runtime policy): AttestNow says FAIL (exit 1) with
#     that file's entry, path and digest in ima_failures, EAR status contraindicated, and
#     GetReport says the same afterwards;
#   - errors: NOT_FOUND naming the uuid; INVALID_ARGUMENT naming events; FAILED_PRECONDITION
#     for a stopped node ("stopped; ReactivateNode first"); UNAVAILABLE with the reason for a
#     killed agent; several calls at once on one node share rounds; of 17 calls at once on
#     one node, the one that arrives last: RESOURCE_EXHAUSTED;
#   - a call whose client goes away while its round hangs (an agent address that never
#     answers), a node removed while 16 calls wait (each answered NOT_FOUND at once), and
#     a call waiting at shutdown (answered UNAVAILABLE, the verifier stops).
. "$(dirname "$0")/lib.sh"
export VIGIL_PB_DIR=$T/pb
PY=$TOP/test/integration/ear_check.py
BLACKHOLE=$TOP/test/integration/blackhole.py

# connect_timeout 0, answer_timeout 0 and request_timeout 120: a request to an address
# that never answers stays in flight for the whole test; 64 calls per client address, so
# that the per-node bound of AttestNow (16) is what refuses the 17th call, not the gRPC
# server's own.
fleet_start -o verifier.quote_interval=60 -o verifier.connect_timeout=0 \
	-o verifier.answer_timeout=0 -o verifier.request_timeout=120 \
	-o verifier.grpc_max_calls_per_peer=64 || exit 1
Z64=0000000000000000000000000000000000000000000000000000000000000000
printf '{"15": ["%s"]}' $Z64 >"$T/pcr15.json"
"$BIN/vigilctl" policy create runtime --ima-log "$NODE_IMA_LIST" --output "$T/rt.json" >/dev/null &&
	"$BIN/vigilctl" policy create mb --event-log "$NODE_UEFI_LOG" --output "$T/mb.json" >/dev/null &&
	fctl policy put rt --kind runtime "$T/rt.json" >/dev/null &&
	fctl policy put mb --kind mb "$T/mb.json" >/dev/null &&
	fctl policy put pcr15 --kind pcr "$T/pcr15.json" >/dev/null
check "policies stored" $?

add_node() { # add_node NAME [vigilctl add options]: under the three policies
	local uuid=NODE_UUID_$1
	fctl add "${!uuid}" --runtime-policy rt --mb-policy mb --pcr-policy pcr15 "${@:2}" \
		>"$T/add-$1.out" 2>&1
}
count() { # count UUID: its attestation count
	fctl status "$1" --json | /usr/bin/python3 -c \
		'import json,sys; print(json.load(sys.stdin)["attestation_count"])'
}
# jq-like checks on a JSON file with Python: jcheck FILE EXPR (r is the object)
jcheck() {
	/usr/bin/python3 - "$1" "$2" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
ok = eval(sys.argv[2], {"r": r})
if not ok:
    print("# failed:", sys.argv[2], "on", json.dumps(r)[:1500])
sys.exit(0 if ok else 1)
PY
}

# ---- a good node ----
fleet_node g || exit 1
add_node g && wait_node_state "$NODE_UUID_g" GET_QUOTE 30 >/dev/null
check "a good node is attested once (its first round)" $?
c0=$(count "$NODE_UUID_g")
fctl attest "$NODE_UUID_g" --json >"$T/g.attest.json" 2>"$T/g.attest.err"
rc=$?
[ $rc -eq 0 ] && jcheck "$T/g.attest.json" \
	'r["attestation_status"] == "PASS" and r["ear_status"] == "affirming" and r["mb_result"] == "pass" and r["ima_result"] == "pass" and r["quote_time_ms"] > 0 and r["ima_failures"] == [] and r["events"] == []'
check "AttestNow on a good node: PASS (exit 0), EAR affirming, measured boot and IMA pass" $?
[ "$(count "$NODE_UUID_g")" -eq $((c0 + 1)) ]
check "AttestNow ran one new round at once (the interval is 60 s)" $?
jcheck "$T/g.attest.json" \
	'[p["index"] for p in r["pcrs"]] == list(range(17)) and all(p["bank"] == "sha256" and len(p["value"]) == 64 for p in r["pcrs"]) and [p["index"] for p in r["pcrs"] if p["in_policy"]] == [15] and all(p["ok"] for p in r["pcrs"]) and r["pcrs"][15]["value"] == "0" * 64'
check "the quoted PCRs 0-16 are listed with their values, PCR 15 under the policy and ok" $?
jcheck "$T/g.attest.json" \
	'sorted((p["kind"], p["name"]) for p in r["policies"]) == [("mb", "mb"), ("pcr", "pcr15"), ("runtime", "rt")] and all(len(p["sha256"]) == 64 for p in r["policies"]) and r["reset_count"] >= 1 and r["tpm_clock"] > 0 and r["clock_safe"]'
check "the report names its policies with their SHA-256, and the TPM clock" $?
sha_rt=$(sha256sum "$T/rt.json" | cut -d' ' -f1)
jcheck "$T/g.attest.json" "[p['sha256'] for p in r['policies'] if p['kind'] == 'runtime'] == ['$sha_rt']"
check "the runtime policy's digest is that of its document" $?
fctl attest "$NODE_UUID_g" >"$T/g.attest.txt" 2>&1 &&
	grep -q "^verdict: *PASS (EAR affirming)" "$T/g.attest.txt" &&
	grep -Eq "^  15  0{64}  ok$" "$T/g.attest.txt" && grep -q "^IMA: *pass" "$T/g.attest.txt"
check "vigilctl attest prints the verdict and the PCR table" $?
sleep 1
[ "$(count "$NODE_UUID_g")" -eq $((c0 + 2)) ]
check "the schedule goes on as before: no extra round after an AttestNow" $?

# ---- several calls at once share the round ----
for i in 1 2 3 4 5; do
	fctl attest "$NODE_UUID_g" --json >"$T/g.multi.$i" 2>&1 &
	echo $! >"$T/g.multi.$i.pid"
done
ok=0
for i in 1 2 3 4 5; do
	pid=$(cat "$T/g.multi.$i.pid")
	for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	jcheck "$T/g.multi.$i" 'r["attestation_status"] == "PASS"' && ok=$((ok + 1))
done
c1=$(count "$NODE_UUID_g")
[ $ok -eq 5 ] && [ "$c1" -gt $((c0 + 2)) ] && [ "$c1" -le $((c0 + 7)) ]
check "five AttestNow calls at once on one node: all PASS ($((c1 - c0 - 2)) rounds for them)" $?

# ---- GetReport, the tokens and the key ----
fctl report key --out "$T/report.pub.pem" 2>"$T/key.err" &&
	grep -q "BEGIN PUBLIC KEY" "$T/report.pub.pem" && grep -Eq "^key id [0-9a-f]{64}$" "$T/key.err"
check "vigilctl report key: the attestation-result public key (PEM) and its key id" $?
kid=$(openssl pkey -pubin -in "$T/report.pub.pem" -outform DER 2>/dev/null | sha256sum | cut -d' ' -f1)
grep -q "^key id $kid$" "$T/key.err"
check "the key id is the SHA-256 of the key's DER SubjectPublicKeyInfo" $?
fctl report "$NODE_UUID_g" --ear jwt --out "$T/g.jwt" >"$T/g.report.txt" 2>&1 &&
	fctl report "$NODE_UUID_g" --ear cwt --out "$T/g.cwt" >/dev/null 2>&1 &&
	grep -q "^verdict: *PASS (EAR affirming)" "$T/g.report.txt"
check "GetReport with an EAR JWT and an EAR CWT" $?
NOW=$(date +%s)
for fmt in jwt cwt; do
	out=$(/usr/bin/python3 "$PY" $fmt "$T/g.$fmt" "$T/report.pub.pem" "$NOW" "$NODE_UUID_g" affirming 2>&1)
	lib="cbor2 and cryptography"
	[ $fmt = cwt ] || lib=PyJWT
	[ "$out" = good ] || echo "# $out"
	[ "$out" = good ]
	check "the $fmt token checked by $lib: affirming, this node" $?
	"$BIN/vigilctl" report verify "$T/g.$fmt" --key "$T/report.pub.pem" >"$T/g.$fmt.json" 2>"$T/g.$fmt.err" &&
		grep -q "^signature good" "$T/g.$fmt.err" &&
		jcheck "$T/g.$fmt.json" "r['submods']['$NODE_UUID_g']['ear.status'] == 'affirming'"
	check "vigilctl report verify accepts the $fmt token with the key from report key" $?
done
fctl report "$NODE_UUID_g" --ear jwt | "$BIN/vigilctl" report verify - --key "$T/report.pub.pem" >/dev/null 2>&1
check "report UUID --ear jwt without --out pipes the token into report verify" $?
fctl report "$NODE_UUID_g" --json --events 2 >"$T/g.ev2.json" &&
	jcheck "$T/g.ev2.json" 'len(r["events"]) == 2 and int(r["events"][0]["id"].split("-")[0]) < int(r["events"][1]["id"].split("-")[0])' &&
	fctl report "$NODE_UUID_g" --json >"$T/g.ev.json" &&
	jcheck "$T/g.ev.json" '[e["type"] for e in r["events"]][:1] == ["node_added"] and r["events"][-1]["id"] != ""'
check "GetReport lists the node's last events, newest last, at most --events" $?
out=$(vgrpc GetReport "{\"uuid\": \"$NODE_UUID_g\", \"events\": 101}" 2>&1)
case $out in "ERROR INVALID_ARGUMENT"*events*) true ;; *) echo "# $out"; false ;; esac
check "GetReport with events 101: INVALID_ARGUMENT naming events" $?

# ---- an IMA tamper judged by AttestNow ----
fleet_node t1 || exit 1
add_node t1 && wait_node_state "$NODE_UUID_t1" GET_QUOTE 30 >/dev/null
check "a second node is attested" $?
evil=$(printf evil | sha256sum | cut -d' ' -f1)
"$NODESIM" "$TCTI_t1" ima-append "$NODE_IMA_t1" /usr/bin/evil-miner "$evil" >/dev/null
fctl attest "$NODE_UUID_t1" --json >"$T/t1.attest.json" 2>"$T/t1.attest.err"
rc=$?
[ $rc -eq 1 ] && jcheck "$T/t1.attest.json" \
	"r['attestation_status'] == 'FAIL' and r['ear_status'] == 'contraindicated' and r['ima_result'] == 'fail' and r['last_event_id'].startswith('ima.') and len(r['ima_failures']) == 1 and r['ima_failures'][0]['path'] == '/usr/bin/evil-miner' and r['ima_failures'][0]['digest'] == 'sha256:$evil' and r['ima_failures'][0]['entry'] == 826 and r['mb_result'] == 'pass'"
check "an IMA tamper: AttestNow says FAIL (exit 1) with the file, its digest and entry, contraindicated" $?
fctl report "$NODE_UUID_t1" --json --ear cwt --out "$T/t1.cwt" >"$T/t1.report.json" 2>/dev/null &&
	jcheck "$T/t1.report.json" "r['ima_failures'][0]['path'] == '/usr/bin/evil-miner' and r['ear_status'] == 'contraindicated' and 'revocation' in [e['type'] for e in r['events']]" &&
	[ "$(/usr/bin/python3 "$PY" cwt "$T/t1.cwt" "$T/report.pub.pem" "$(date +%s)" "$NODE_UUID_t1" contraindicated)" = good ]
check "GetReport of the failed node: the same failure, its revocation event, a contraindicated CWT" $?
fctl report "$NODE_UUID_t1" | grep -q "FAIL  entry 826  /usr/bin/evil-miner  sha256:$evil"
check "vigilctl report prints the failed IMA entry" $?
out=$(fctl attest "$NODE_UUID_t1" 2>&1)
rc=$?
[ $rc -eq 2 ] && case $out in *"ReactivateNode first (FAILED_PRECONDITION)"*) true ;; *) echo "# $out"; false ;; esac
check "AttestNow on a failed node: FAILED_PRECONDITION, exit 2" $?

# ---- errors ----
nobody=00000000-0000-4000-8000-00000000dead
out=$(fctl attest "$nobody" 2>&1)
rc=$?
[ $rc -eq 2 ] && case $out in *"node $nobody not found"*"(NOT_FOUND)"*) true ;; *) echo "# $out"; false ;; esac
check "AttestNow on an unknown node: NOT_FOUND naming it, exit 2" $?
out=$(fctl report "$nobody" 2>&1)
rc=$?
[ $rc -eq 1 ] && case $out in *"node $nobody not found"*"(NOT_FOUND)"*) true ;; *) echo "# $out"; false ;; esac
check "GetReport of an unknown node: NOT_FOUND naming it" $?
fctl stop "$NODE_UUID_g" >/dev/null
out=$(fctl attest "$NODE_UUID_g" 2>&1)
rc=$?
[ $rc -eq 2 ] && case $out in *"is stopped; ReactivateNode first (FAILED_PRECONDITION)"*) true ;; *) echo "# $out"; false ;; esac
check "AttestNow on a stopped node: FAILED_PRECONDITION, stopped; ReactivateNode first" $?
fctl reactivate "$NODE_UUID_g" >/dev/null && wait_node_state "$NODE_UUID_g" GET_QUOTE 30 >/dev/null &&
	fctl attest "$NODE_UUID_g" >/dev/null 2>&1
check "reactivated, AttestNow passes again" $?
fleet_node d || exit 1
add_node d && wait_node_state "$NODE_UUID_d" GET_QUOTE 30 >/dev/null && stop_pid "$AGENT_PID_d"
out=$(fctl attest "$NODE_UUID_d" 2>&1)
rc=$?
# (vigilctl prints the server's own UNAVAILABLE as "METHOD: <details> (UNAVAILABLE)", without
# the hint about reaching the verifier that a transport failure gets)
[ $rc -eq 2 ] && case $out in *"AttestNow: node $NODE_UUID_d: its agent did not answer ("*"connection refused"*"(UNAVAILABLE)"*) true ;; *) echo "# $out"; false ;; esac &&
	! grep -q "is it running" <<<"$out"
check "AttestNow with the agent killed: UNAVAILABLE with the reason, exit 2" $?
wait_node_state "$NODE_UUID_d" GET_QUOTE_RETRY 10 >/dev/null
check "the usual retries go on after it" $?

# ---- a round that hangs: the client going away, a removal, a shutdown ----
# Node d again (its enrollment stays at the registrar), now at an address that never
# answers.
fctl remove "$NODE_UUID_d" >/dev/null
NODE_UUID_h=$NODE_UUID_d
hp=$(free_port)
spawn "$T/blackhole.log" /usr/bin/python3 "$BLACKHOLE" "$hp" "$T/blackhole.contacts" hold
for _ in $(seq 50); do grep -q ready "$T/blackhole.log" && break; sleep 0.1; done
add_node h --ip 127.0.0.1 --port "$hp"
check "a node whose address never answers is added" $?
# 17 calls at once on it: whichever arrives last is refused at once, the 16 others wait
# (each waits up to vigilctl's 30 s deadline). The refusal is the exact condition the
# removal below needs: at that moment all 16 others are waiting.
pids=()
for i in $(seq 17); do
	fctl attest "$NODE_UUID_h" >"$T/h.w.$i" 2>&1 &
	pids+=($!)
done
refused=0
for _ in $(seq 200); do
	for i in $(seq 17); do
		grep -q "16 AttestNow calls waiting already.*RESOURCE_EXHAUSTED" "$T/h.w.$i" && refused=$i
	done
	[ $refused -eq 0 ] || break
	sleep 0.1
done
[ $refused -ne 0 ]
check "17 calls on one node: 16 wait, the 17th is refused at once (RESOURCE_EXHAUSTED)" $?
# The node removed while they wait: each is answered NOT_FOUND at once.
fctl remove "$NODE_UUID_h" >/dev/null
gone=0
for i in $(seq 17); do
	[ "$i" -eq "$refused" ] && continue
	for _ in $(seq 50); do kill -0 "${pids[$((i - 1))]}" 2>/dev/null || break; sleep 0.1; done
	grep -q "removed before its round was judged (NOT_FOUND)" "$T/h.w.$i" && gone=$((gone + 1))
done
[ $gone -eq 16 ] || echo "# $gone of 16 answered: $(cat "$T/h.w.1")"
[ $gone -eq 16 ]
check "a node removed while calls wait: all 16 answered NOT_FOUND at once" $?
add_node h --ip 127.0.0.1 --port "$hp"
# A client killed while it waits: its call ends, the wait is dropped, nothing else moves.
# (After the 17 calls above, so that its wait, dropped when the server notices, cannot
# take one of their places.)
timeout -s KILL 1 "$BIN/vigilctl" attest "$NODE_UUID_h" --verifier "$VERIFIER_ADDR" $(_vctl_tls) >/dev/null 2>&1
fctl attest "$NODE_UUID_g" >/dev/null 2>&1 && kill -0 "$VERIFIER_PID"
check "a client going away while its round hangs: the verifier goes on" $?
{ fctl attest "$NODE_UUID_h" >"$T/h.stop.out" 2>&1 & }
sd_pid=$!
sleep 0.5
stop_pid "$VERIFIER_PID"
for _ in $(seq 50); do kill -0 $sd_pid 2>/dev/null || break; sleep 0.1; done
! kill -0 $sd_pid 2>/dev/null && grep -qi "unavailable" "$T/h.stop.out" &&
	grep -q "shutting down" "$T/fleet-verifier.log" && ! grep -q "AddressSanitizer\|runtime error" "$T/fleet-verifier.log"
check "a call waiting at shutdown: answered UNAVAILABLE, the verifier stops" $?
