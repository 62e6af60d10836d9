#!/usr/bin/env bash
# Failure records whose reason carries text from the node (file paths in any script).
# Setup: a fleet on loopback with one simulated node under a runtime policy made from
# its own IMA list.
# Action: a file whose path is 299 ASCII characters then "é" runs on the node (appended
# to its IMA list and extended into PCR 10). The failure reason quotes at most 300 bytes
# of a path, which cuts the "é" in half.
# Expected: the node is INVALID_QUOTE with the event id and reason; the verifier keeps
# running; the revocation event is in the hash-chained events table; the reason reads
# back through gRPC (Python's protobuf refuses strings that are not UTF-8).
. "$(dirname "$0")/lib.sh"
fleet_start || exit 1
"$BIN/vigilctl" policy create runtime --ima-log "$NODE_IMA_LIST" --output "$T/rt.json" >/dev/null &&
	fctl policy put rt --kind runtime "$T/rt.json" >/dev/null
check "a runtime policy from the golden IMA list" $?

fleet_node u || exit 1
fctl add "$NODE_UUID_u" --runtime-policy rt >/dev/null &&
	wait_node_state "$NODE_UUID_u" GET_QUOTE 20 >/dev/null
check "the node attests" $?

long=/$(printf 'a%.0s' $(seq 298))é
"$NODESIM" "$TCTI_u" ima-append "$NODE_IMA_u" "$long" \
	"$(printf evil | sha256sum | cut -d' ' -f1)" >/dev/null &&
	wait_node_state "$NODE_UUID_u" INVALID_QUOTE 5 >/dev/null &&
	fctl status "$NODE_UUID_u" | grep -q "^last failure:  ima.validation.ima-ng.not_in_allowlist: .*/aaaa"
check "a path cut inside a UTF-8 character: INVALID_QUOTE with the reason" $?
kill -0 "$VERIFIER_PID" && vgrpc GetNode "{\"uuid\": \"$NODE_UUID_u\"}" | grep -q '"failure_reason": "ima-ng entry 826: /aaa'
check "the verifier is still running and GetNode reads the reason back" $?
vdb_query fleet-verifier "SELECT body FROM events WHERE node_uuid = '$NODE_UUID_u' AND type = 'revocation'" |
	/usr/bin/python3 -c '
import json, sys
rows = [l for l in sys.stdin.read().splitlines() if l]
ok = len(rows) == 1 and json.loads(rows[0])["event_id"] == "ima.validation.ima-ng.not_in_allowlist"
sys.exit(0 if ok else 1)'
check "one revocation event recorded for the failure" $?
