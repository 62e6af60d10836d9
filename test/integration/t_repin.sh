#!/usr/bin/env bash
# An agent that renews its TLS certificate stays attested; one that shows a certificate the
# registrar does not hold does not.
# Setup: a fleet on loopback (lib.sh fleet_start: registrar, verifier with
# verifier.registrar pointing at the registrar's HTTPS admin API), one simulated node
# attested under no policy.
# Actions and expected outcomes:
#   - the agent restarts with a new self-signed certificate (its old one removed, as on a
#     renewal) and re-registers: the verifier's pin no longer matches; it asks the
#     registrar, finds the new certificate under the same AK, re-pins, stores it, records an
#     agent_cert_repinned event, and the node keeps passing rounds, also after a verifier
#     restart;
#   - a man in the middle with a certificate of its own (not at the registrar) in front of
#     the agent: the verifier asks the registrar, does not re-pin, and the node never
#     passes a round through it.
. "$(dirname "$0")/lib.sh"
VERIFIER_MTLS=1
fleet_start -o verifier.max_retries=2 || exit 1
count() { # count NAME: the node's successful attestations
	local uuid=NODE_UUID_$1
	fctl status "${!uuid}" --json 2>/dev/null | /usr/bin/python3 -c \
		'import json,sys; print(json.load(sys.stdin)["attestation_count"])' 2>/dev/null || echo 0
}
wait_count() { # wait_count NAME N: at least N attestations (20 s)
	for _ in $(seq 200); do [ "$(count "$1")" -ge "$2" ] && return 0; sleep 0.1; done
	return 1
}

fleet_node a || exit 1
fctl add "$NODE_UUID_a" >/dev/null && wait_count a 2
check "the node is attested" $?

old_fp=$(openssl x509 -in "$T/agent-a/server-cert.pem" -noout -fingerprint -sha256)
stop_pid "$AGENT_PID_a" && rm -f "$T/agent-a/server-cert.pem" "$T/agent-a/server-private.pem" &&
	c=$(count a) && fleet_agent_start a && wait_count a $((c + 2))
rc=$?
new_fp=$(openssl x509 -in "$T/agent-a/server-cert.pem" -noout -fingerprint -sha256)
[ $rc -eq 0 ] && [ "$old_fp" != "$new_fp" ] &&
	grep -q "node $NODE_UUID_a: the agent shows a new TLS certificate and the registrar holds it for the same AK: re-pinned" \
		"$T/fleet-verifier.log"
check "a renewed agent certificate is re-pinned from the registrar and the node keeps passing" $?

[ "$(vdb_query fleet-verifier "SELECT mtls_cert FROM nodes WHERE uuid = '$NODE_UUID_a'")" = \
	"$(cat "$T/agent-a/server-cert.pem")" ] &&
	[ "$(vdb_query fleet-verifier "SELECT COUNT(*) FROM events WHERE node_uuid = '$NODE_UUID_a' AND type = 'agent_cert_repinned'")" = 1 ]
check "the new pin is stored and one agent_cert_repinned event recorded" $?

stop_pid "$VERIFIER_PID"
c=$(count a)
verifier_start fleet-verifier -o verifier.registrar="$REGISTRAR_TLS_ADDR" \
	-o verifier.registrar_ca="$T/ca/ca.crt" || exit 1
wait_count a $((c + 2)) && [ "$(grep -c "re-pinned" "$T/fleet-verifier.log")" = 0 ]
check "a restarted verifier uses the stored new pin" $?

# A man in the middle with its own certificate, on the agent's contact port's behalf: the
# node is added again pointing at the proxy.
"$BIN/vigilctl" ca issue "$T/ca" mitm --server >/dev/null
mport=$(free_port)
echo pass >"$T/mitm.mode"
spawn "$T/mitm.log" "$TOP/test/integration/evil_agent.py" "$mport" "$T/ca/mitm.crt" \
	"$T/ca/mitm.key" "$T/ca/ca.crt" "127.0.0.1:$AGENT_PORT_a" "$T/agent-a/server-cert.pem" \
	"$T/ca/verifier.crt" "$T/ca/verifier.key" "$T/mitm.mode"
for _ in $(seq 50); do grep -q ready "$T/mitm.log" && break; sleep 0.1; done
fctl remove "$NODE_UUID_a" >/dev/null && fctl add "$NODE_UUID_a" --ip 127.0.0.1 --port "$mport" >/dev/null &&
	wait_node_state "$NODE_UUID_a" FAILED 20 >/dev/null &&
	[ "$(count a)" = 0 ] &&
	grep -q "node $NODE_UUID_a: the agent's TLS certificate is not the pinned one, and it was not re-pinned: the registrar holds the pinned certificate" \
		"$T/fleet-verifier.log"
check "a certificate the registrar does not hold is not re-pinned: the node never passes" $?
