#!/usr/bin/env bash
# The trust events a node's life leaves in the verifier's event log.
# Setup: a fleet on loopback with one simulated node under a runtime policy made from its
# own IMA list; a spare PCR policy.
# Action: add the node, stop it, reactivate it, stop its agent until the node is FAILED
# and start it again, tamper with it (an unknown file runs),
# put, replace and delete a policy, remove the node.
# Expected: the events table holds, in this order: policy_put (rt), node_added, attested,
# node_stopped, node_reactivated, attested, comm_error, recovered, revocation (with the check's event id),
# policy_put, policy_replaced, policy_deleted, node_removed; each with its severity; and
# the chain verifies.
. "$(dirname "$0")/lib.sh"
fleet_start || exit 1
"$BIN/vigilctl" policy create runtime --ima-log "$NODE_IMA_LIST" --output "$T/rt.json" >/dev/null &&
	fctl policy put rt --kind runtime "$T/rt.json" >/dev/null
check "a runtime policy from the golden IMA list" $?

fleet_node u || exit 1
fctl add "$NODE_UUID_u" --runtime-policy rt >/dev/null &&
	wait_node_state "$NODE_UUID_u" GET_QUOTE 20 >/dev/null
check "the node attests" $?

fctl stop "$NODE_UUID_u" >/dev/null && wait_node_state "$NODE_UUID_u" TENANT_FAILED 10 >/dev/null
check "stopped" $?
fctl reactivate "$NODE_UUID_u" >/dev/null && wait_node_state "$NODE_UUID_u" GET_QUOTE 20 >/dev/null
check "reactivated and attested again" $?

stop_pid "$AGENT_PID_u" && wait_node_state "$NODE_UUID_u" FAILED 20 >/dev/null
check "its agent stopped: FAILED past max_retries" $?
fleet_agent_start u && wait_node_state "$NODE_UUID_u" GET_QUOTE 20 >/dev/null
check "its agent back: attested again" $?

"$NODESIM" "$TCTI_u" ima-append "$NODE_IMA_u" /usr/bin/evil \
	"$(printf evil | sha256sum | cut -d' ' -f1)" >/dev/null &&
	wait_node_state "$NODE_UUID_u" INVALID_QUOTE 10 >/dev/null
check "a tamper fails the node" $?

printf '{"15": ["%064d"]}\n' 0 >"$T/pcr.json"
fctl policy put spare --kind pcr "$T/pcr.json" >/dev/null &&
	printf '{"15": ["%064d"]}\n' 1 >"$T/pcr.json" &&
	fctl policy put spare --kind pcr --replace "$T/pcr.json" >/dev/null &&
	fctl policy delete spare >/dev/null
check "a policy put, replaced and deleted" $?
fctl remove "$NODE_UUID_u" >/dev/null
check "the node removed" $?

# One event a line: type|severity|node_uuid|body (the body, compact JSON, last: a "|" in it
# stays in it).
vdb_query fleet-verifier "SELECT type, severity, node_uuid, body FROM events ORDER BY seq" >"$T/events.rows"
/usr/bin/python3 - "$T/events.rows" "$NODE_UUID_u" <<'PY'
import json, sys
rows = [l.rstrip("\n").split("|", 3) for l in open(sys.argv[1]) if l.strip()]
got = [r[0] for r in rows]
want = ["policy_put", "node_added", "attested", "node_stopped", "node_reactivated", "attested",
        "comm_error", "recovered", "revocation", "policy_put", "policy_replaced", "policy_deleted", "node_removed"]
if got != want:
    print("# events:", got)
    sys.exit(1)
sev = dict((r[0], r[1]) for r in rows)
body = dict((r[0], json.loads(r[3])) for r in rows)
ok = (sev["revocation"] == "emergency" and sev["node_added"] == "info"
      and body["revocation"]["event_id"] == "ima.validation.ima-ng.not_in_allowlist"
      and body["revocation"]["agent_id"] == sys.argv[2]
      and body["policy_replaced"]["policy"] == "spare"
      and all(r[2] == sys.argv[2] for r in rows if not r[0].startswith("policy_")))
if not ok:
    print("# severities:", sev)
sys.exit(0 if ok else 1)
PY
check "the event log holds the catalogue in order, with severities and bodies" $?

if [ "${VIGIL_TEST_DB:-sqlite}" = pg ]; then
	# On PostgreSQL a lone verifier is a pool of one (its node removed above: it holds none).
	fctl pool >"$T/pool.txt"
	grep -q "^pool of 1 instance" "$T/pool.txt" && grep -qE "^[^ ]+ +yes +0 " "$T/pool.txt"
	check "vigilctl pool on a PostgreSQL verifier shows a pool of one live instance" $? ||
		sed "s/^/#   /" "$T/pool.txt"
else
	fctl pool | grep -q "is a single verifier (SQLite store): it holds every node itself"
	check "vigilctl pool on a SQLite verifier says it is a single verifier" $?
fi
