#!/usr/bin/env bash
# The fleet API from a stock grpcio client: every RPC of vigil.v1.Verifier and
# vigil.v1.Registrar, each with its success and every error code docs/api.md lists for it
# (api_client.py: one line per check, a summary, and a failure when an RPC of either
# service's descriptor has no successful check).
# Setup: a fleet CA (mutual TLS on both gRPC APIs) and a second CA with its own client
#   certificate; a registrar with registrar.grpc_listen; a verifier with
#   verifier.max_watchers = 3 and webhooks to a closed port (webhook_max_age 1 s, so
#   deliveries are dead-lettered); one swtpm node with a real agent, enrolled; a copy of
#   its enrollment under another id (to delete).
# Actions and expected outcome (api_client.py, in this order):
#   - Registrar: GetEnrollment, ListEnrollments (pages of 1), DeleteEnrollment, and their
#     NOT_FOUND / INVALID_ARGUMENT;
#   - Verifier policies: PutPolicy (new, replace), GetPolicy, ListPolicies (pages of 2),
#     and ALREADY_EXISTS / FAILED_PRECONDITION / NOT_FOUND / INVALID_ARGUMENT;
#   - nodes: AddNode of the swtpm node from its enrollment (it attests), AddNodes of 250
#     nodes whose agents do not answer, a mixed batch answered node by node, ListNodes
#     through 252 nodes in pages of 100 (100, 100, 52, each once, in uuid order),
#     GetNode, StopNode, AttestNow (JWT and CWT; a stopped node FAILED_PRECONDITION, a
#     silent agent UNAVAILABLE), GetReport, GetReportKey (the public half of report.key),
#     ReactivateNode, UpdateNode, RemoveNode, DeletePolicy, with their error codes;
#   - events: ListEvents (the whole log in pages), GetEvent, GetAuditKey, ExportEvents,
#     WatchEvents (a verdict event carries its EAR JWT, checked with PyJWT; NOT_FOUND,
#     INVALID_ARGUMENT, RESOURCE_EXHAUSTED beyond max_watchers);
#   - ListOutbox (dead deliveries in pages), RetryOutbox, ListPool;
#   - a client certificate from another CA, or none, is UNAVAILABLE on both services;
#   - the vigilctl example of each call in docs/api.md works against the same daemons
#     (vigilctl list follows the pages: every node once);
#   - then, the verifier restarted with one node's AK made unreadable in its database:
#     GetNode shows it FAIL / not_loaded, StopNode, ReactivateNode and UpdateNode are
#     FAILED_PRECONDITION.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
$PY -c 'import grpc, grpc_tools, cryptography, jwt, cbor2' 2>/dev/null || {
	echo "skip api_grpc: python3-grpcio, -grpc-tools, -cryptography, -jwt or -cbor2 missing"
	exit 0
}

export VERIFIER_MTLS=1
REGISTRAR_GRPC=127.0.0.1:$(free_port)
CLOSED=$(free_port) # nothing listens there: the 250 nodes' agents and the webhook receiver
echo "whsec_$(head -c 32 /dev/urandom | base64 -w0)" >"$T/webhook.secret"
VOPTS=(-o verifier.max_watchers=3 -o verifier.webhook_url="http://127.0.0.1:$CLOSED/hook"
	-o verifier.webhook_secret_file="$T/webhook.secret" -o verifier.webhook_max_age=1
	-o verifier.webhook_backoff_max=1)
fleet_start "${VOPTS[@]}"
check "a registrar and a verifier, both with gRPC over mutual TLS" $? || exit 1
for _ in $(seq 100); do
	grep -q "registrar ready: .*gRPC on $REGISTRAR_GRPC" "$T/registrar.log" && break
	sleep 0.1
done
"$BIN/vigilctl" ca init "$T/other" >/dev/null &&
	"$BIN/vigilctl" ca issue "$T/other" admin --client >/dev/null
check "a second CA with its own client certificate" $? || exit 1

fleet_node u
check "a swtpm node with a real agent, enrolled" $? || exit 1
SPARE=api-spare-enrollment
$PY - "$T/registrar.db" "$NODE_UUID_u" "$SPARE" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=10)
db.execute("INSERT INTO registrar_agents (agent_id, ek_tpm, ekcert, aik_tpm, mtls_cert, ip,"
           " port, regcount, active, pending_key, created, updated, ek_key)"
           " SELECT ?, ek_tpm, ekcert, aik_tpm, mtls_cert, ip, port, 1, active, pending_key,"
           " created, updated, ek_key FROM registrar_agents WHERE agent_id = ?",
           (sys.argv[3], sys.argv[2]))
db.commit()
EOF
check "a copy of its enrollment under another id, to delete" $?

"$BIN/vigilctl" policy create runtime --ima-log "$NODE_IMA_LIST" --output "$T/rt.json" >/dev/null
check "a runtime policy made from the IMA list" $?

# The verifier's attestation-result key, as an operator takes it (docs/ear.md).
openssl pkey -in "$T/fleet-verifier/report.key" -pubout -out "$T/report.pub" 2>/dev/null ||
	: >"$T/report.pub"

API_ARGS=(--verifier "$VERIFIER_ADDR" \
	--registrar "$REGISTRAR_GRPC" --ca "$T/ca/ca.crt" --cert "$T/ca/admin.crt" \
	--key "$T/ca/admin.key" --other-cert "$T/other/admin.crt" --other-key "$T/other/admin.key" \
	--node "$NODE_UUID_u" --node-port "$AGENT_PORT_u" --closed-port "$CLOSED" \
	--report-pub "$T/report.pub" --spare "$SPARE" \
	--runtime-policy "$T/rt.json" --pb "$T/pb")
$PY "$TOP/test/integration/api_client.py" "${API_ARGS[@]}" >"$T/api.out" 2>&1
rc=$?
cat "$T/api.out"
[ $rc = 0 ]
check "every RPC of both services, with every error code docs/api.md lists" $?

# The vigilctl example of each call in docs/api.md, against the same verifier.
ctl_check() { # ctl_check WHAT PATTERN vigilctl-args...: exits 0 and prints PATTERN
	local what=$1 pat=$2
	shift 2
	vctl "$@" >"$T/ctl.out" 2>&1 && grep -Eq "$pat" "$T/ctl.out"
	check "docs/api.md's vigilctl example: $what" $? || head -5 "$T/ctl.out"
}
ctl_check "status (GetNode)" "^state: *GET_QUOTE" status "$NODE_UUID_u"
ctl_check "list (ListNodes) follows the pages: all 251 nodes" "^f0000000-0000-4000-8000-000000000249 " list
[ "$(grep -c '^f0000000-0000-4000-8000-' "$T/ctl.out")" = 249 ]
check "vigilctl list shows each of the 249 nodes left of the 250 once" $?
ctl_check "policy get (GetPolicy)" '"15"' policy get api-pcr
ctl_check "policy list (ListPolicies)" "api-pcr2" policy list --kind pcr
ctl_check "events list (ListEvents)" "attested" events list --node "$NODE_UUID_u" --type attested
ctl_check "events key (GetAuditKey)" "BEGIN PUBLIC KEY" events key
ctl_check "outbox list --dead (ListOutbox)" "http://127.0.0.1:$CLOSED/hook" outbox list --dead
ctl_check "pool (ListPool)" "." pool
ctl_check "report key (GetReportKey)" "BEGIN PUBLIC KEY" report key
ctl_check "report UUID (GetReport)" "$NODE_UUID_u" report "$NODE_UUID_u"
vctl report "$NODE_UUID_u" --ear jwt --out "$T/node.jwt" >"$T/ctl.out" 2>&1 && [ -s "$T/node.jwt" ]
check "docs/api.md's vigilctl example: report UUID --ear jwt --out FILE" $? || cat "$T/ctl.out"
"$BIN/vigilctl" report verify "$T/node.jwt" --key "$T/report.pub" >"$T/verify.out" 2>&1 &&
	grep -q "signature good" "$T/verify.out"
check "docs/api.md's vigilctl example: report verify of GetReport's token" $? || cat "$T/verify.out"
ctl_check "attest UUID (AttestNow)" "$NODE_UUID_u" attest "$NODE_UUID_u"
ctl_check "update UUID (UpdateNode)" "api-pcr" update f0000000-0000-4000-8000-000000000007 \
	--pcr-policy api-pcr

# A node stored but not loaded at start: the verifier stopped, one of the 250 nodes' AK made
# unreadable in its database, the verifier started again.
UNLOADED=f0000000-0000-4000-8000-000000000006
stop_pid "$VERIFIER_PID"
vdb_exec fleet-verifier "UPDATE nodes SET ak_tpm = '!not base64!' WHERE uuid = '$UNLOADED'" &&
	verifier_start fleet-verifier -o verifier.registrar="$REGISTRAR_TLS_ADDR" \
		-o verifier.registrar_ca="$T/ca/ca.crt" "${VOPTS[@]}" &&
	grep -q "node $UNLOADED: cannot be attested: stored AK is not base64" "$T/fleet-verifier.log"
check "the verifier restarted, one node stored but not loaded (its AK unreadable)" $? || exit 1
$PY "$TOP/test/integration/api_client.py" "${API_ARGS[@]}" --unloaded "$UNLOADED" \
	>"$T/api2.out" 2>&1
rc=$?
cat "$T/api2.out"
[ $rc = 0 ]
check "StopNode, ReactivateNode and UpdateNode of a node not loaded: FAILED_PRECONDITION" $?
