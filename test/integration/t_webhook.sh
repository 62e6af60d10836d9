#!/usr/bin/env bash
# Webhooks: every event reaches a receiver, signed, in order, at least once, across a
# receiver outage, a verifier killed with SIGKILL, and a dead letter retried by hand.
# Setup: a fleet on loopback, a receiver (webhook_receiver.py: checks each signature with
# Python's standard library, records each delivery, counts duplicates) on a free port,
# the verifier with verifier.webhook_url pointing at it and a fast backoff cap (1 s).
# Actions and expected outcomes, one check each:
#  1. a node attests, its IMA list is tampered with (revocation), it is reactivated and
#     fails again (revocation): both events arrive in order with valid signatures and
#     Keylime's revocation fields; the attested and revocation deliveries carry their
#     verdict's EAR JWT as "ear" (checked with PyJWT against the public half of the
#     verifier's report.key: attested affirming, revocation contraindicated),
#     the others none;
#  2. the receiver is stopped (not listening) for 30 s and the node fails again: the verifier
#     retries all along (at least ten failed attempts recorded), and after the receiver is back
#     the event arrives;
#  3. with the receiver down, another failure is stored and the verifier is killed with
#     SIGKILL before it can deliver; after restart every event id arrives (duplicates
#     are reported);
#  4. with webhook_max_age = 1 and a receiver answering 503, the delivery is dead-
#     lettered, shown by `vigilctl outbox list --dead`, and delivered after
#     `vigilctl outbox retry ID`.
. "$(dirname "$0")/lib.sh"

RPORT=$(free_port)
HOOK_LOG=$T/hooks.jsonl
MODE=$T/receiver.mode
echo "whsec_$(head -c 32 /dev/urandom | base64 -w0)" >"$T/webhook.secret"
HOOK_OPTS=(-o verifier.webhook_url="http://127.0.0.1:$RPORT/hook"
	-o verifier.webhook_secret_file="$T/webhook.secret" -o verifier.webhook_backoff_max=1
	-o verifier.webhook_timeout=5)

receiver_start() {
	WEBHOOK_EAR_PUB=$T/report.pub spawn "$T/receiver.log" /usr/bin/python3 "$TOP/test/integration/webhook_receiver.py" \
		"$RPORT" "$T/webhook.secret" "$HOOK_LOG" "$MODE"
	RECEIVER_PID=$!
	for _ in $(seq 100); do
		grep -q listening "$T/receiver.log" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# sql QUERY: one value from the verifier's database (SQLite or, with VIGIL_TEST_DB=pg,
# PostgreSQL: lib.sh's vdb_query).
sql() {
	vdb_query fleet-verifier "$1" | head -1
}

# wait_for SECONDS CMD...: until CMD succeeds (polled every 0.1 s).
wait_for() {
	local n=$(($1 * 10))
	shift
	for _ in $(seq "$n"); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# all_arrived: every event of the database was delivered (a 2xx) at least once, and every
# delivery recorded had a valid signature and Keylime's fields; the first arrivals of each
# node are in seq order. Prints the duplicates when asked (DUPS=1).
all_arrived() {
	vdb_query fleet-verifier "SELECT id FROM events ORDER BY seq" >"$T/event-ids" || return 1
	/usr/bin/python3 - "$T/event-ids" "$HOOK_LOG" "${DUPS:-0}" <<'PY'
import json, sys
idfile, log, show = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
ids = [l.strip() for l in open(idfile) if l.strip()]
try:
    recs = [json.loads(l) for l in open(log)]
except OSError:
    recs = []
ok = [r for r in recs if r["status"] < 300]
if any(not r["valid"] or not r["keylime"] for r in recs):
    print("# a delivery with a bad signature or body", file=sys.stderr)
    sys.exit(2)
got = {r["id"] for r in ok}
if not ids or any(i not in got for i in ids):
    sys.exit(1)
first, last = set(), {}
for r in ok:
    if r["id"] in first:
        continue
    first.add(r["id"])
    if r["seq"] <= last.get(r["node"], 0):
        print("# out of order: seq %d after %d" % (r["seq"], last[r["node"]]), file=sys.stderr)
        sys.exit(3)
    last[r["node"]] = r["seq"]
if show:
    print("%d events, %d deliveries, %d duplicates" % (len(ids), len(ok), len(ok) - len(got)))
PY
}

# event_count: events recorded so far; events_over N: more than N.
event_count() { sql "SELECT COUNT(*) FROM events"; }
events_over() { [ "$(event_count)" -gt "$1" ]; }
# retried N: a pending delivery has failed at least N times.
retried() { [ "$(sql "SELECT COALESCE(MAX(attempts), 0) FROM webhook_outbox WHERE delivered IS NULL")" -ge "$1" ]; }

receiver_start || { check "the receiver starts" 1; exit 1; }
fleet_start "${HOOK_OPTS[@]}" || exit 1
# The verifier's attestation-result key, as an operator takes it (docs/ear.md).
openssl pkey -in "$T/fleet-verifier/report.key" -pubout -out "$T/report.pub"
check "the public half of the verifier's report.key" $?
"$BIN/vigilctl" policy create runtime --ima-log "$NODE_IMA_LIST" --output "$T/rt.json" >/dev/null &&
	fctl policy put rt --kind runtime "$T/rt.json" >/dev/null
fleet_node u || exit 1
fctl add "$NODE_UUID_u" --runtime-policy rt >/dev/null &&
	wait_node_state "$NODE_UUID_u" GET_QUOTE 20 >/dev/null
check "the node attests" $?

# 1. Tamper, fail, reactivate, fail again.
"$NODESIM" "$TCTI_u" ima-append "$NODE_IMA_u" /usr/bin/evil \
	"$(printf evil | sha256sum | cut -d' ' -f1)" >/dev/null &&
	wait_node_state "$NODE_UUID_u" INVALID_QUOTE 10 >/dev/null &&
	fctl reactivate "$NODE_UUID_u" >/dev/null &&
	wait_for 10 events_over 1 &&
	wait_for 10 all_arrived
check "tamper scenario: every event arrives in order, signed, with Keylime's fields" $?
/usr/bin/python3 - "$HOOK_LOG" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
bad = [r for r in recs if (r["type"] in ("attested", "revocation")) != (r.get("ear") is not None)
       or (r.get("ear") and not r["ear"]["valid"])]
att = [r["ear"]["status"] for r in recs if r["type"] == "attested"]
rev = [r["ear"]["status"] for r in recs if r["type"] == "revocation"]
print("# ear: attested %s, revocation %s" % (att, rev))
for r in bad:
    print("# bad delivery:", r)
sys.exit(0 if not bad and att and att[0] == "affirming" and rev
         and all(s == "contraindicated" for s in rev) else 1)
PY
check "verdict events carry their EAR JWT (PyJWT, report.key's public half): attested affirming, revocation contraindicated; other events none" $?

# 2. The receiver is down for 30 s (the outage is the scenario, not a wait for a
# condition): retried all along, then delivered when it is back.
stop_pid "$RECEIVER_PID"
down_since=$(date +%s)
before=$(event_count)
fctl reactivate "$NODE_UUID_u" >/dev/null &&
	wait_for 10 events_over "$before" &&
	wait_for 30 retried 3 &&
	while [ $(($(date +%s) - down_since)) -lt 30 ]; do sleep 1; done &&
	retried 10 && receiver_start && wait_for 10 all_arrived
check "receiver down for 30 s: retried with backoff, everything arrives once it is back" $?

# 3. SIGKILL between the stored verdict and its delivery.
stop_pid "$RECEIVER_PID"
before=$(event_count)
fctl reactivate "$NODE_UUID_u" >/dev/null &&
	wait_for 10 events_over "$before" &&
	test "$(sql "SELECT COUNT(*) FROM webhook_outbox WHERE delivered IS NULL")" -ge 1
stored=$?
kill -9 "$VERIFIER_PID"
wait "$VERIFIER_PID" 2>/dev/null
cp "$T/fleet-verifier.log" "$T/fleet-verifier-before-kill.log" # the restart overwrites it
receiver_start && verifier_start fleet-verifier -o verifier.registrar="$REGISTRAR_TLS_ADDR" \
	-o verifier.registrar_ca="$T/ca/ca.crt" "${HOOK_OPTS[@]}" &&
	wait_for 15 all_arrived
rc=$?
[ $stored -eq 0 ] && [ $rc -eq 0 ]
check "SIGKILL before delivery: after restart every event id arrives ($(DUPS=1 all_arrived))" $?

# 4. A dead letter (webhook_max_age = 1 s, the receiver answers 503), listed and retried.
dead_id() {
	vctl outbox list --dead --json 2>/dev/null | /usr/bin/python3 -c '
import json, sys
rows = json.load(sys.stdin)
sys.exit(1) if not rows else print(rows[0]["id"], rows[0]["last_error"])'
}
echo 503 >"$MODE"
stop_pid "$VERIFIER_PID"
verifier_start fleet-verifier -o verifier.registrar="$REGISTRAR_TLS_ADDR" \
	-o verifier.registrar_ca="$T/ca/ca.crt" "${HOOK_OPTS[@]}" -o verifier.webhook_max_age=1 ||
	exit 1
before=$(event_count)
fctl reactivate "$NODE_UUID_u" >/dev/null &&
	wait_for 10 events_over "$before" &&
	wait_for 15 dead_id >/dev/null &&
	read -r id why < <(dead_id) &&
	[ "$why" = "HTTP 503" ] &&
	vctl outbox list --dead | grep -q "^$id .*http://127.0.0.1:$RPORT/hook" &&
	! all_arrived
check "a delivery refused past webhook_max_age is dead-lettered and listed (outbox list --dead)" $?

rm -f "$MODE"
! vctl outbox retry 999999 >/dev/null 2>&1 &&
	vctl outbox retry "$id" | grep -q "^1 delivery queued again" &&
	vctl outbox retry --all | grep -q "queued again" &&
	wait_for 10 all_arrived &&
	! dead_id >/dev/null &&
	! vctl outbox list | grep -q "^$id "
check "outbox retry ID (and --all for the reactivation's other event) sends them again: every event has arrived ($(DUPS=1 all_arrived))" $?
