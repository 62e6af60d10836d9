#!/usr/bin/env bash
# UpdateNode (vigilctl update): a node's policies and contact changed in place.
# Setup: a fleet on loopback with one simulated node (swtpm with the real 826-entry IMA
#   list, vigil-agent enrolled); two runtime policies made from its list: rt-good, which
#   also allows /usr/bin/newtool, and rt-strict, which does not; a PCR policy.
# Actions and expected outcome:
#   - the node attests under rt-good; `vigilctl update --runtime-policy rt-strict` answers
#     with the node under rt-strict, its count, last times and IMA position (826) kept:
#     entries already judged stay judged, so it still passes;
#   - /usr/bin/newtool then runs (appended and extended): the next round fails
#     (INVALID_QUOTE, ima.validation naming it) with the count kept and ima_next_entry
#     not reset to 0;
#   - back to rt-good and ReactivateNode: it passes again, its count going on;
#   - its contact moved to a closed port: comm errors (retries, then FAILED); moved back:
#     it recovers; each change is one node_updated event naming field: old -> new;
#   - errors: INVALID_ARGUMENT naming update_mask (empty, unknown name), node.ip,
#     node.port, node.mtls_cert, node.runtime_policy (malformed, wrong kind) and uuid;
#     NOT_FOUND naming the uuid; FAILED_PRECONDITION naming a missing policy and its kind,
#     and for a node stored but not loaded; a refused update changes nothing.
. "$(dirname "$0")/lib.sh"
fleet_start || exit 1
"$BIN/vigilctl" policy create runtime --ima-log "$NODE_IMA_LIST" --output "$T/rt.json" >/dev/null &&
	NEWTOOL=$(printf newtool | sha256sum | cut -d' ' -f1) &&
	/usr/bin/python3 -c '
import json, sys
p = json.load(open(sys.argv[1]))
p["digests"]["/usr/bin/newtool"] = [sys.argv[3]]
json.dump(p, open(sys.argv[2], "w"))' "$T/rt.json" "$T/rt-good.json" "$NEWTOOL" &&
	fctl policy put rt-good --kind runtime "$T/rt-good.json" >/dev/null &&
	fctl policy put rt-strict --kind runtime "$T/rt.json" >/dev/null &&
	printf '{"15": ["%064d"]}\n' 0 >"$T/pcr.json" &&
	fctl policy put pcr15 --kind pcr "$T/pcr.json" >/dev/null
check "runtime policies rt-good (allows /usr/bin/newtool) and rt-strict (does not)" $?

fleet_node u || exit 1
U=$NODE_UUID_u
field() { # field NAME: a field of the node's status (JSON)
	fctl status "$U" --json 2>/dev/null | /usr/bin/python3 -c \
		'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1" 2>/dev/null
}
wait_count() { # wait_count N: until attestation_count >= N (20 s)
	local c
	for _ in $(seq 200); do
		c=$(field attestation_count)
		[ "${c:-0}" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
fctl add "$U" --runtime-policy rt-good >/dev/null && wait_node_state "$U" GET_QUOTE 20 >/dev/null &&
	wait_count 3 && [ "$(field ima_next_entry)" = 826 ]
check "the node attests under rt-good, at IMA entry 826" $?

c1=$(field attestation_count)
last1=$(field last_successful_attestation)
out=$(fctl update "$U" --runtime-policy rt-strict)
[ $? = 0 ] && grep -q "^policies: *pcr=- runtime=rt-strict mb=-" <<<"$out" &&
	grep -q "^IMA position:  entry 826" <<<"$out" &&
	c=$(sed -n 's/^attestations:  \([0-9]*\),.*/\1/p' <<<"$out") && [ "$c" -ge "$c1" ]
check "update --runtime-policy answers with the node under rt-strict, count and IMA position kept" $?
wait_count $((c1 + 2)) && [ "$(field ima_next_entry)" = 826 ] &&
	[ "$(field last_successful_attestation)" -ge "$last1" ] &&
	[ "$(field operational_state_name)" = GET_QUOTE ]
check "entries already judged stay judged: it goes on passing under rt-strict, at entry 826" $?

c2=$(field attestation_count)
"$NODESIM" "$TCTI_u" ima-append "$NODE_IMA_u" /usr/bin/newtool "$NEWTOOL" >/dev/null &&
	wait_node_state "$U" INVALID_QUOTE 10 >/dev/null &&
	fctl status "$U" | grep -q "^last failure:  ima.validation.*/usr/bin/newtool"
check "a file rt-strict does not allow fails the next round (INVALID_QUOTE, ima.validation)" $?
c3=$(field attestation_count)
n3=$(field ima_next_entry)
[ "$c3" -ge "$c2" ] && [ "$n3" -ge 826 ]
check "the failure keeps the count ($c3 >= $c2) and the IMA position ($n3, not 0)" $?

fctl update "$U" --runtime-policy rt-good >/dev/null && fctl reactivate "$U" >/dev/null &&
	wait_node_state "$U" GET_QUOTE 20 >/dev/null && wait_count $((c3 + 2)) &&
	[ "$(field ima_next_entry)" = 827 ]
check "back to rt-good and reactivated: it passes again (count $(field attestation_count) after $c3, entry 827)" $?

# The contact: a closed port, then the right one again.
good_port=$AGENT_PORT_u
bad_port=$(free_port)
c4=$(field attestation_count)
fctl update "$U" --port "$bad_port" | grep -q "^contact: *127.0.0.1:$bad_port" &&
	wait_node_state "$U" FAILED 20 >/dev/null &&
	fctl status "$U" | grep -q "^last failure:  comm_error" &&
	[ "$(field attestation_count)" -ge "$c4" ]
check "contact moved to a closed port: retries, then FAILED (comm_error), count kept" $?
c5=$(field attestation_count)
fctl update "$U" --port "$good_port" >/dev/null &&
	wait_node_state "$U" GET_QUOTE 20 >/dev/null && wait_count $((c5 + 1))
check "contact moved back: it recovers and attests again" $?
vdb_query fleet-verifier "SELECT mtls_cert FROM nodes WHERE uuid = '$U'" | sed '/^$/d' >"$T/agent.pem"
n_upd=$(fctl events list --node "$U" --type node_updated | grep -c node_updated)
fctl update "$U" --ip 127.0.0.1 --port "$good_port" --cert "$T/agent.pem" >/dev/null &&
	[ "$(fctl events list --node "$U" --type node_updated | grep -c node_updated)" = "$n_upd" ]
check "an update to the values it has (ip, port, the pinned certificate) records nothing" $?
c6=$(field attestation_count)
fctl update "$U" --pcr-policy pcr15 >/dev/null &&
	wait_count $((c6 + 2)) && [ "$(field pcr_policy)" = pcr15 ] &&
	fctl update "$U" --pcr-policy '' | grep -q "^policies: *pcr=- runtime=rt-good"
check "a PCR policy added (the node keeps passing), then taken away with ''" $?
n_upd=$(fctl events list --node "$U" --type node_updated | grep -c node_updated)

fctl events list --node "$U" --type node_updated --json >"$T/upd-events.txt"
grep -q "runtime_policy: rt-good -> rt-strict" "$T/upd-events.txt" &&
	grep -q "runtime_policy: rt-strict -> rt-good" "$T/upd-events.txt" &&
	grep -q "port: $good_port -> $bad_port" "$T/upd-events.txt" &&
	grep -q "port: $bad_port -> $good_port" "$T/upd-events.txt" &&
	grep -q "pcr_policy: pcr15 -> (none)" "$T/upd-events.txt"
check "each change is a node_updated event naming field: old -> new" $? || cat "$T/upd-events.txt" >&2

# ---- errors ----
up() { # up JSON: UpdateNode over gRPC, printing the reply or "ERROR CODE details"
	vgrpc UpdateNode "$1" $(_vgrpc_tls)
}
_vgrpc_tls() { :; }
expect() { # expect JSON CODE REGEX
	local out
	out=$(up "$1")
	grep -q "^ERROR $2 " <<<"$out" && grep -qE "$3" <<<"$out" || { echo "# got: $out" >&2; return 1; }
}
expect "{\"uuid\": \"$U\", \"node\": {}}" INVALID_ARGUMENT "update_mask is empty"
check "an empty update_mask: INVALID_ARGUMENT naming update_mask" $?
expect "{\"uuid\": \"$U\", \"node\": {}, \"update_mask\": [\"ak_tpm\"]}" INVALID_ARGUMENT 'update_mask: "ak_tpm" is not'
check "an unknown field name: INVALID_ARGUMENT naming it" $?
expect "{\"uuid\": \"$U\", \"node\": {\"ip\": \"agent.example\"}, \"update_mask\": [\"ip\"]}" INVALID_ARGUMENT "node\.ip"
check "a host name as ip: INVALID_ARGUMENT naming node.ip" $?
expect "{\"uuid\": \"$U\", \"node\": {\"port\": 70000}, \"update_mask\": [\"port\"]}" INVALID_ARGUMENT "node\.port"
check "port 70000: INVALID_ARGUMENT naming node.port" $?
expect "{\"uuid\": \"$U\", \"node\": {\"mtls_cert\": \"junk\"}, \"update_mask\": [\"mtls_cert\"]}" INVALID_ARGUMENT "node\.mtls_cert"
check "a certificate that is not PEM: INVALID_ARGUMENT naming node.mtls_cert" $?
expect "{\"uuid\": \"$U\", \"node\": {\"runtime_policy\": \"a b\"}, \"update_mask\": [\"runtime_policy\"]}" INVALID_ARGUMENT "node\.runtime_policy"
check "a malformed policy name: INVALID_ARGUMENT naming node.runtime_policy" $?
expect "{\"uuid\": \"$U\", \"node\": {\"runtime_policy\": \"pcr15\"}, \"update_mask\": [\"runtime_policy\"]}" INVALID_ARGUMENT "node\.runtime_policy: policy pcr15 is a tpm_pcr policy, not runtime"
check "a policy of another kind: INVALID_ARGUMENT naming the field and both kinds" $?
expect '{"uuid": "bad uuid!", "node": {}, "update_mask": ["port"]}' INVALID_ARGUMENT "uuid"
check "a malformed uuid: INVALID_ARGUMENT naming uuid" $?
expect '{"uuid": "no-such-node", "node": {"port": 1}, "update_mask": ["port"]}' NOT_FOUND "node no-such-node not found"
check "an unknown node: NOT_FOUND naming the uuid" $?
expect "{\"uuid\": \"$U\", \"node\": {\"runtime_policy\": \"nope\"}, \"update_mask\": [\"runtime_policy\"]}" FAILED_PRECONDITION "no runtime policy nope"
check "a policy that does not exist: FAILED_PRECONDITION naming it and its kind" $?
[ "$(field runtime_policy)" = rt-good ] && [ "$(field port)" = "$good_port" ] &&
	[ "$(fctl events list --node "$U" --type node_updated | grep -c node_updated)" = "$n_upd" ]
check "refused updates change nothing and record nothing" $?
out=$(fctl update "$U" 2>&1)
[ $? = 2 ] && grep -q "nothing to change" <<<"$out"
check "vigilctl update without an option is a usage error" $?
out=$(fctl update no-such-node --port 1 2>&1)
[ $? = 1 ] && grep -q "node no-such-node not found (NOT_FOUND)" <<<"$out"
check "vigilctl update of an unknown node: NOT_FOUND, exit 1" $?

# A node stored but not loaded: its stored AK damaged while the verifier is down.
stop_pid "$VERIFIER_PID"
vdb_exec fleet-verifier "UPDATE nodes SET ak_tpm = '!' WHERE uuid = '$U'"
verifier_start fleet-verifier -o verifier.registrar="$REGISTRAR_TLS_ADDR" \
	-o verifier.registrar_ca="$T/ca/ca.crt" || exit 1
expect "{\"uuid\": \"$U\", \"node\": {\"port\": 1}, \"update_mask\": [\"port\"]}" FAILED_PRECONDITION "stored but not attested"
check "a node stored but not loaded: FAILED_PRECONDITION" $?
