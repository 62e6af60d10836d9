#!/usr/bin/env bash
# The verifier's gRPC API without agents, through a real gRPC client (python3-grpcio) and
# vigilctl. Setup: one verifier on loopback. Actions: policy put/get/list/replace/delete,
# AddNode with good and bad inputs, status/list/stop/reactivate/remove, an unreachable
# node, a restart. Expected: each bad input its own status and message, nothing stored for
# it; an unreachable agent ends in FAILED (comm_error), never INVALID_QUOTE; state survives
# a restart.
. "$(dirname "$0")/lib.sh"
out=$("$BIN/vigil-verifier" -n -o verifier.quote_interval=nan 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q 'verifier.quote_interval = "nan": not a number of seconds' <<<"$out"
check "the verifier's configuration check refuses an interval of NaN seconds" $?
verifier_start v1 || exit 1
DATA=$TOP/test/unit/data/tpm2
Z=0000000000000000000000000000000000000000000000000000000000000000
printf '{"0": ["%s"]}' $Z >"$T/pcr.json"
printf '{"0": ["%s"], "1": ["%s"]}' $Z $Z >"$T/pcr2.json"

vctl policy put pcr1 --kind pcr "$T/pcr.json" >/dev/null
check "policy put stores a PCR policy" $?
out=$(vctl policy put pcr1 --kind pcr "$T/pcr2.json" 2>&1)
[ $? -eq 1 ] && grep -q "ALREADY_EXISTS" <<<"$out"
check "policy put refuses an existing name without --replace" $?
vctl policy put pcr1 --kind pcr "$T/pcr2.json" --replace >/dev/null &&
	vctl policy get pcr1 --output "$T/got.json" && cmp -s "$T/got.json" "$T/pcr2.json"
check "policy put --replace moves the name to the new content" $?
"$BIN/vigilctl" policy create runtime --ima-log "$NODE_TESTDATA/ima/keylime-ima-log-sha256" \
	--output "$T/rt.json" >/dev/null
out=$(vctl policy put pcr1 --kind runtime "$T/rt.json" --replace 2>&1)
[ $? -eq 1 ] && grep -q "policy pcr1 is of kind tpm_pcr, not runtime (FAILED_PRECONDITION)" <<<"$out"
check "policy put --replace refuses to change a policy's kind (FAILED_PRECONDITION)" $?
# A runtime policy over gRPC's default 4 MiB message size: 70000 files, about 6 MiB.
/usr/bin/python3 - "$T/rt.json" "$T/big.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
p["digests"].update({"/usr/lib/f%06d" % i: ["%064x" % i] for i in range(70000)})
json.dump(p, open(sys.argv[2], "w"))
PY
vctl policy put big --kind runtime "$T/big.json" >/dev/null &&
	vctl policy get big --output "$T/big-got.json" && cmp -s "$T/big.json" "$T/big-got.json" &&
	vctl policy delete big >/dev/null
check "a 6 MiB runtime policy is stored and read back whole" $?
out=$(vctl policy put bad --kind runtime "$T/pcr.json" 2>&1)
grep -q "INVALID_ARGUMENT" <<<"$out" && ! vctl policy list | grep -q "^bad "
check "a runtime policy that does not parse is refused and not stored" $?
vctl policy put pcr2 --kind pcr "$T/pcr2.json" >/dev/null
[ "$(vctl policy list | grep -c '^pcr')" = 2 ] &&
	[ "$(vctl policy list | awk '/^pcr/ {print $4}' | sort -u | wc -l)" = 1 ]
check "two names for one content share one content hash" $?

mtls=$(cat "$T/ca/verifier.crt")
akb64=$(base64 -w0 "$DATA/ak_rsa.pub")
add() { # add UUID AKB64 CERT POLICY
	vgrpc AddNode "$(/usr/bin/python3 -c 'import json,sys; print(json.dumps({"node": {"uuid": sys.argv[1], "ip": "127.0.0.1", "port": int(sys.argv[5]), "ak_tpm": sys.argv[2], "mtls_cert": sys.argv[3], "pcr_policy": sys.argv[4]}}))' "$1" "$2" "$3" "$4" "${5:-1}")"
}
out=$(add "bad uuid!" "$akb64" "$mtls" "")
grep -q "^ERROR INVALID_ARGUMENT node uuid" <<<"$out"
check "AddNode refuses a malformed uuid" $?
out=$(add n1 "$(base64 -w0 "$DATA/ek_rsa.pub")" "$mtls" "")
grep -q "^ERROR INVALID_ARGUMENT.*decrypt" <<<"$out"
check "AddNode refuses an EK offered as AK (decrypt attribute)" $?
out=$(add n1 "$(head -c 40 "$DATA/ak_rsa.pub" | base64 -w0)" "$mtls" "")
grep -q "^ERROR INVALID_ARGUMENT" <<<"$out"
check "AddNode refuses a truncated AK" $?
out=$(add n1 "$akb64" "not a cert" "")
grep -q "^ERROR INVALID_ARGUMENT.*mtls_cert" <<<"$out"
check "AddNode refuses a missing agent certificate" $?
out=$(add n1 "$akb64" "$mtls" "nosuch")
grep -q "^ERROR FAILED_PRECONDITION no policy named nosuch" <<<"$out"
check "AddNode refuses an unknown policy" $?
out=$(vgrpc AddNode "$(/usr/bin/python3 -c 'import json,sys; print(json.dumps({"node": {"uuid": "n1", "ip": "127.0.0.1\r\nX-Injected: 1", "port": 1, "ak_tpm": sys.argv[1], "mtls_cert": sys.argv[2]}}))' "$akb64" "$mtls")")
grep -q "^ERROR INVALID_ARGUMENT node n1 needs a contact ip" <<<"$out"
check "AddNode refuses a contact address that is not a host (CR LF: header injection)" $?
out=$(vgrpc AddNode "$(/usr/bin/python3 -c 'import json,sys; print(json.dumps({"node": {"uuid": "n1", "ip": "agent1.example", "port": 1, "ak_tpm": sys.argv[1], "mtls_cert": sys.argv[2]}}))' "$akb64" "$mtls")")
grep -q "^ERROR INVALID_ARGUMENT node n1 needs a contact ip (an IPv4 or IPv6 address; host names are not resolved" <<<"$out"
check "AddNode refuses a host name: the verifier never blocks a worker on the resolver" $?
[ "$(vgrpc ListNodes '{}')" = "{}" ]
check "nothing was stored by the refused AddNode calls" $?

# A node whose agent does not exist: retried, then FAILED, never INVALID_QUOTE.
port=$(free_port)
out=$(add n1 "$akb64" "$mtls" "pcr1" "$port")
grep -q '"uuid": "n1"' <<<"$out"
check "AddNode adds a node" $?
out=$(add n1 "$akb64" "$mtls" "pcr1" "$port")
grep -q "^ERROR ALREADY_EXISTS" <<<"$out"
check "AddNode refuses a duplicate uuid" $?
# AddNodes: one call, each node answered on its own; a refused node leaves nothing stored.
out=$(vgrpc AddNodes "$(/usr/bin/python3 -c '
import json, sys
ak, cert, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
def n(u, pol=""):
    return {"node": {"uuid": u, "ip": "127.0.0.1", "port": port, "ak_tpm": ak, "mtls_cert": cert, "pcr_policy": pol}}
print(json.dumps({"requests": [n("n2", "pcr1"), n("n1"), n("bad uuid!"), n("n3", "nosuch"), n("n2")]}))' "$akb64" "$mtls" "$port")")
/usr/bin/python3 -c '
import json, sys
r = json.loads(sys.argv[1])["results"]
got = [(x.get("uuid", ""), x.get("code", 0), x.get("node", {}).get("uuid", "")) for x in r]
want = [("n2", 0, "n2"), ("n1", 6, ""), ("bad uuid!", 3, ""), ("n3", 9, ""), ("n2", 6, "")]
sys.exit(0 if got == want and "no policy named nosuch" in r[3]["message"] else 1)' "$out"
check "AddNodes answers each node: added, ALREADY_EXISTS, INVALID_ARGUMENT, FAILED_PRECONDITION" $?
! vctl status n3 >/dev/null 2>&1 && vctl status n2 | grep -q "^policies: *pcr=pcr1" &&
	[ "$(vctl events list --node n3 2>/dev/null | grep -c node_added)" = 0 ] &&
	[ "$(vctl events list --node n2 | grep -c node_added)" = 1 ] && vctl remove n2 >/dev/null
check "AddNodes stores the nodes it added with their event, and nothing of the refused ones" $?
out=$(vgrpc AddNodes '{"requests": []}')
grep -q "^ERROR INVALID_ARGUMENT AddNodes takes 1-1000 nodes" <<<"$out"
check "AddNodes refuses an empty list" $?
wait_node_state n1 FAILED 20 && vctl status n1 | grep -q "last failure:  comm_error"
check "an unreachable agent is retried, then FAILED with comm_error" $?
grep -q "retry 1 of 3" "$T/v1.log" && ! grep -q "INVALID_QUOTE\|attestation FAILED" "$T/v1.log"
check "retries are logged and no policy failure is raised" $?
out=$(vctl policy delete pcr1 2>&1)
grep -q "policy pcr1 is in use by node n1 (FAILED_PRECONDITION)" <<<"$out"
check "a policy in use cannot be deleted" $?
vctl stop n1 | grep -q "^state: *TENANT_FAILED"
check "stop pauses the node" $?
vctl reactivate n1 | grep -q "^state: *START"
check "reactivate restarts it" $?
vctl list | grep -q "^n1 "
check "list shows the node" $?
printf '[vigilctl]\nverifier = 127.0.0.1:1\n' >"$T/other.conf"
"$BIN/vigilctl" list --insecure --verifier "$VERIFIER_ADDR" -c "$T/other.conf" | grep -q "^n1 "
check "vigilctl: --verifier given before -c FILE still wins over the file" $?

# n5's stored AK is damaged while the verifier is down: it cannot be loaded at start.
add n5 "$akb64" "$mtls" "" "$port" >/dev/null
stop_pid "$VERIFIER_PID"
vdb_exec v1 "UPDATE nodes SET ak_tpm = '!' WHERE uuid = 'n5'"
verifier_start v1 || exit 1
vctl status n1 >/dev/null && vctl policy list | grep -q "^pcr1 "
check "nodes and policies survive a verifier restart" $?
out=$(vctl stop n5 2>&1)
[ $? -eq 1 ] && grep -q "node n5 is stored but not attested.*(FAILED_PRECONDITION)" <<<"$out" &&
	grep -q "node n5: cannot be attested: stored AK is not base64" "$T/v1.log"
check "stop of a node that could not be loaded is FAILED_PRECONDITION, not a silent OK" $?
out=$(vctl status n5)
grep -q "^state: .*(FAIL)" <<<"$out" && grep -q "^last failure:  not_loaded: " <<<"$out"
check "status of a node that could not be loaded reads FAIL (not_loaded), not its stored state" $?
vctl remove n5 >/dev/null
check "such a node can be removed" $?
vctl remove n1 >/dev/null && ! vctl status n1 2>/dev/null && vctl policy delete pcr1 >/dev/null
check "remove forgets the node, and then its policy can be deleted" $?
out=$(vgrpc GetNode --raw-hex ffff)
grep -q "^ERROR INVALID_ARGUMENT" <<<"$out"
check "an undecodable request is INVALID_ARGUMENT" $?
out=$(vctl add 'a/../admin' 2>&1)
[ $? -eq 2 ] && grep -q 'node UUID "a/../admin" must be' <<<"$out"
check "vigilctl add refuses a UUID that would change the registrar path (exit 2)" $?
out=$(vctl add n7 --port 80x 2>&1)
[ $? -eq 2 ] && grep -q -- "--port 80x: expected a port 1-65535" <<<"$out"
check "vigilctl add refuses a malformed --port (exit 2)" $?
out=$(vctl list extra 2>&1)
[ $? -eq 2 ] && grep -q "^Usage: vigilctl list" <<<"$out"
check "vigilctl list with an operand prints its usage (exit 2)" $?

# The verifier reads its client certificate for agents once, at start, and checks it: a key
# that does not match the certificate stops it there with the reason, instead of failing
# every node's connection later. (Removing the files after start no longer matters.)
stop_pid "$VERIFIER_PID"
"$BIN/vigilctl" ca issue "$T/ca" other --client >/dev/null
VERIFIER_PORT=
out=$(timeout 20 "$BIN/vigil-verifier" -d -o verifier.grpc_insecure=yes -o verifier.state_dir="$T/v2" \
	-o verifier.grpc_listen="127.0.0.1:$(free_port)" -o verifier.tls_cert="$T/ca/verifier.crt" \
	-o verifier.tls_key="$T/ca/other.key" -o verifier.trusted_client_ca="$T/ca/ca.crt" \
	-o verifier.metrics_listen= 2>&1)
[ $? -ne 0 ] && grep -q "verifier.tls_cert .* and tls_key .*other.key: .*does not match" <<<"$out"
check "a verifier whose agent-client key does not match its certificate refuses to start, saying so" $?
