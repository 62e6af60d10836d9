#!/usr/bin/env bash
# The verifier's node lifecycle against agents that never answer.
# Setup: one verifier (plaintext gRPC, request_timeout 3 s, retry_interval 0.2 s,
# max_retries 3); blackhole.py listeners as agent addresses: "hold" keeps every
# connection open without a byte (a request stays in flight until the timeout), "close"
# drops it at once (a quick comm error); both log every contact.
# Actions and expected outcomes:
#   - remove and re-add a node while its request is in flight: the new node is attested
#     (listed and polled), not swallowed by the one being removed;
#   - stop a node while its request is in flight: it stays TENANT_FAILED when the request
#     ends;
#   - an unreachable node reaches FAILED and is then probed at the longest retry delay
#     (0.8 s here), not at ever longer delays;
#   - a restarted verifier keeps a FAILED node FAILED, with no second comm_error event.
. "$(dirname "$0")/lib.sh"
BH=$TOP/test/integration/blackhole.py
verifier_start v1 -o verifier.request_timeout=3 || exit 1
akb64=$(base64 -w0 "$TOP/test/unit/data/tpm2/ak_rsa.pub")
mtls=$(cat "$T/ca/verifier.crt")

add() { # add UUID PORT
	vgrpc AddNode "$(/usr/bin/python3 -c 'import json,sys; print(json.dumps({"node": {"uuid": sys.argv[1], "ip": "127.0.0.1", "port": int(sys.argv[2]), "ak_tpm": sys.argv[3], "mtls_cert": sys.argv[4]}}))' "$1" "$2" "$akb64" "$mtls")" >/dev/null
}
blackhole() { # blackhole NAME MODE: a listener on a free port; sets BH_PORT
	BH_PORT=$(free_port)
	spawn "$T/bh-$1.out" "$BH" "$BH_PORT" "$T/bh-$1.log" "$2"
	for _ in $(seq 50); do grep -q ready "$T/bh-$1.out" && return 0; sleep 0.1; done
	return 1
}
contacts() { # contacts NAME: how many connections the listener has seen
	[ -f "$T/bh-$1.log" ] && wc -l <"$T/bh-$1.log" || echo 0
}
wait_contacts() { # wait_contacts NAME N [SECONDS]
	for _ in $(seq $((${3:-10} * 10))); do
		[ "$(contacts "$1")" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# ---- in flight: remove + re-add, stop ----
blackhole hold hold || exit 1
hold_port=$BH_PORT
add n1 "$hold_port" && wait_contacts hold 1
check "a node's first request is in flight at a silent agent" $?
vctl remove n1 >/dev/null && add n1 "$hold_port" && vctl list | grep -q "^n1 "
check "remove and re-add during a request in flight: the new node is attested" $?
# The re-added node's own request goes out once the old one's connection is gone.
wait_contacts hold 2 10 && vctl stop n1 | grep -q "^state: *TENANT_FAILED"
check "stop during a request in flight" $?
sleep 4 # past request_timeout: the request in flight ends
vctl status n1 | grep -q "^state: *TENANT_FAILED" && c=$(contacts hold) && sleep 1 &&
	[ "$(contacts hold)" = "$c" ]
check "a node stopped during a request stays stopped when the request ends" $?

# ---- FAILED: probed at the longest retry delay ----
blackhole close close || exit 1
add n2 "$BH_PORT" && wait_node_state n2 FAILED 10 >/dev/null
check "an agent that drops every connection: FAILED after max_retries" $?
grep -q "node n2: unreachable after 3 retries (.*); still probing every 800 ms" "$T/v1.log"
check "FAILED probes at the longest retry delay (0.8 s)" $?
c=$(contacts close)
sleep 4
probes=$(($(contacts close) - c))
[ "$probes" -ge 3 ]
check "FAILED keeps probing every 0.8 s, not at ever longer delays ($probes probes in 4 s)" $?

# ---- restart: FAILED stays FAILED, one comm_error event ----
stop_pid "$VERIFIER_PID"
verifier_start v1 -o verifier.request_timeout=3 || exit 1
c=$(contacts close)
wait_contacts close $((c + 3)) 10
vctl status n2 | grep -q "^state: *FAILED" && ! grep -q "node n2: unreachable" "$T/v1.log"
check "a restarted verifier keeps probing a FAILED node without flipping it to retry" $?
events=$(vdb_query v1 "SELECT COUNT(*) FROM events WHERE node_uuid = 'n2' AND type = 'comm_error'")
[ "$events" = 1 ]
check "one comm_error event for one outage, across a restart (got $events)" $?

# ---- an agent that refuses the API version it offers: no endless renegotiation ----
"$BIN/vigilctl" ca issue "$T/ca" fake --server >/dev/null
fport=$(free_port)
spawn "$T/fake.out" "$TOP/test/integration/fake_agent.py" "$fport" "$T/ca/fake.crt" \
	"$T/ca/fake.key" "$T/fake.log" badversion
for _ in $(seq 50); do grep -q ready "$T/fake.out" && break; sleep 0.1; done
mtls=$(cat "$T/ca/fake.crt")
add n3 "$fport" && wait_node_state n3 INVALID_QUOTE 5 >/dev/null &&
	vctl status n3 | grep -q "^last failure:  quote_request: .*HTTP 400"
check "an agent refusing the API version it offered fails the node (quote_request)" $?
sleep 1
q=$(grep -c /quotes/integrity "$T/fake.log")
[ "$q" -le 2 ]
check "the verifier renegotiated once, not in a loop ($q quote requests)" $?

# ---- a payload public key over the limit ----
fport=$(free_port)
spawn "$T/fake2.out" "$TOP/test/integration/fake_agent.py" "$fport" "$T/ca/fake.crt" \
	"$T/ca/fake.key" "$T/fake2.log" bigpubkey
for _ in $(seq 50); do grep -q ready "$T/fake2.out" && break; sleep 0.1; done
add n4 "$fport" && wait_node_state n4 INVALID_QUOTE 5 >/dev/null &&
	vctl status n4 | grep -q "^last failure:  quote_validation.response: the payload public key is 1048576 bytes"
check "a 1 MiB payload public key is refused before anything else" $?
