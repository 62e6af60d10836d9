#!/usr/bin/env bash
# The secure payload end to end: vigilctl plays Keylime's tenant, vigil's verifier sends V
# (docs/payload.md).
# Setup: a fleet on loopback (lib.sh fleet_start: registrar, verifier, CA), two simulated
# nodes on swtpm with real agents (each agent's secure dir under $T/agent-NAME/secure).
# Actions and expected outcomes:
#   - `vigilctl add A --payload a.zip --payload-verify` (a ZIP made by Python's zipfile
#     holding autorun.sh that writes a marker): the agent keeps U before the verifier
#     attests it; after the node's first good quote the verifier posts V, the agent derives
#     K and runs autorun.sh (the marker appears); /keys/verify matches K (vigilctl exits 0);
#     one payload_delivered event; the verifier's store holds V no longer;
#   - a node whose first quote fails (a PCR 15 policy it cannot meet) added with a payload:
#     INVALID_QUOTE, its agent never gets V (no "V share" in its log, no marker), and the
#     store forgets V;
#   - node A removed and added again with `--cert-package DIR` (a `vigilctl ca` directory
#     with the node's and the RevocationNotifier's certificates): the four files of
#     Keylime's package appear in the agent's unzipped/, equal to their sources, and
#     Python's zipfile reads the archive vigilctl wrote (decrypted_payload) as stored
#     entries;
#   - through a proxy (evil_agent.py) answering the first two V POSTs with 503: the
#     verifier retries with backoff (PROVIDE_V_RETRY) and delivers on the third; one
#     answering 400: the node fails with event id payload_v and V is forgotten; V not
#     yet taken when the verifier stops stays in the store and the restarted verifier
#     delivers it after its first good round;
#   - usage errors, and a payload over 1 MiB refused before anything is sent.
. "$(dirname "$0")/lib.sh"
VERIFIER_MTLS=1

for tool in swtpm swtpm_setup; do
	if ! command -v $tool >/dev/null; then
		echo "skip payload_fleet: $tool not installed"
		exit 0
	fi
done

fleet_start || exit 1
# wait_for SECONDS CMD...: poll CMD every 0.1 s until it succeeds (1 after SECONDS).
wait_for() {
	local n=$(($1 * 10)) i
	shift
	for i in $(seq "$n"); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}
# mkzip OUT MARKER: a ZIP (Python's zipfile, deflated) with autorun.sh writing MARKER.
mkzip() {
	/usr/bin/python3 - "$1" "$2" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("autorun.sh", "#!/bin/sh\necho \"$PWD\" > %s\n" % sys.argv[2])
    z.writestr("data.txt", "hello from the tenant\n")
PY
}
vq() { vdb_query fleet-verifier "$1"; }
# vq_is SQL WANT: the query's answer is WANT (for wait_for, which runs it again each time).
vq_is() { [ "$(vq "$1")" = "$2" ]; }
# v_shares NAME: V shares agent NAME has kept so far.
v_shares() { grep -c "V share (32 bytes) from" "$T/agent-$1.log"; }
v_shares_above() { [ "$(v_shares "$1")" -gt "$2" ]; }

fleet_node a || exit 1
fleet_node b || exit 1
UA=$NODE_UUID_a
UB=$NODE_UUID_b
SA=$T/agent-a/secure/unzipped
SB=$T/agent-b/secure/unzipped

mkzip "$T/a.zip" "$T/marker-a" && mkzip "$T/b.zip" "$T/marker-b"
check "payload archives made" $?

# ---- a node that passes gets its payload after its first good quote ----
fctl add "$UA" --payload "$T/a.zip" --payload-verify=60 >"$T/add-a.out" 2>&1
rc=$?
[ $rc -eq 0 ] && grep -q "^payload: *delivered" "$T/add-a.out" &&
	wait_for 20 test -s "$T/marker-a" && [ "$(cat "$T/marker-a")" = "$SA" ] &&
	[ "$(cat "$SA/data.txt")" = "hello from the tenant" ]
check "add --payload: autorun.sh ran in unzipped/ after the first good quote; --payload-verify matched K" $?

grep -q "U share (32 bytes" "$T/agent-a.log" && grep -q "V share (32 bytes) from" "$T/agent-a.log" &&
	grep -q "node $UA: payload key share V delivered to the agent and forgotten" "$T/fleet-verifier.log"
check "the agent kept U from vigilctl and V from the verifier" $?

# The V POST follows the first good round: the attested event comes before payload_delivered.
wait_for 10 vq_is "SELECT COUNT(*) FROM events WHERE node_uuid = '$UA' AND type = 'payload_delivered'" 1 &&
	[ "$(vq "SELECT CASE WHEN (SELECT MIN(seq) FROM events WHERE node_uuid = '$UA' AND type = 'attested') < (SELECT MIN(seq) FROM events WHERE node_uuid = '$UA' AND type = 'payload_delivered') THEN 1 ELSE 0 END")" = 1 ] &&
	wait_for 10 vq_is "SELECT COUNT(*) FROM nodes WHERE uuid = '$UA' AND payload_v IS NULL" 1
check "one payload_delivered event after attested; V deleted from the store" $?

wait_node_state "$UA" GET_QUOTE 10 >/dev/null
check "the node goes on with normal rounds" $?

# ---- a node whose first quote fails never gets V ----
printf '{"15": ["%s"]}' 1111111111111111111111111111111111111111111111111111111111111111 >"$T/bad15.json"
fctl policy put bad15 --kind pcr "$T/bad15.json" >/dev/null &&
	fctl add "$UB" --pcr-policy bad15 --payload "$T/b.zip" >"$T/add-b.out" 2>&1 &&
	wait_node_state "$UB" INVALID_QUOTE 20 >/dev/null &&
	grep -q "U share (32 bytes" "$T/agent-b.log"
check "a node failing its first quote: INVALID_QUOTE (U reached its agent)" $?

wait_for 10 vq_is "SELECT COUNT(*) FROM nodes WHERE uuid = '$UB' AND payload_v IS NULL" 1 &&
	! grep -q "V share" "$T/agent-b.log" && ! grep -q "bootstrap key" "$T/agent-b.log" &&
	[ ! -e "$T/marker-b" ] && [ ! -e "$SB/autorun.sh" ] &&
	[ "$(vq "SELECT COUNT(*) FROM events WHERE node_uuid = '$UB' AND type = 'payload_delivered'")" = 0 ] &&
	grep -q "node $UB: its payload key share V is forgotten undelivered" "$T/fleet-verifier.log"
check "...and never gets V: nothing derived or run, V forgotten by the store" $?

# ---- Keylime's certificate package ----
"$BIN/vigilctl" ca issue "$T/ca" "$UA" --client >/dev/null &&
	"$BIN/vigilctl" ca issue "$T/ca" RevocationNotifier --client >/dev/null
check "certificates for the package issued" $?
before=$(v_shares a)
fctl remove "$UA" >/dev/null &&
	fctl add "$UA" --cert-package "$T/ca" --payload-verify=60 >"$T/add-c.out" 2>&1 &&
	wait_for 10 v_shares_above a "$before" &&
	wait_for 10 test -s "$SA/RevocationNotifier-cert.crt" &&
	cmp -s "$SA/$UA-cert.crt" "$T/ca/$UA.crt" && cmp -s "$SA/$UA-private.pem" "$T/ca/$UA.key" &&
	cmp -s "$SA/cacert.crt" "$T/ca/ca.crt" && cmp -s "$SA/RevocationNotifier-cert.crt" "$T/ca/RevocationNotifier.crt" &&
	[ ! -e "$SA/autorun.sh" ]
check "add --cert-package: the four files of Keylime's package in the agent's unzipped/" $?

/usr/bin/python3 - "$SA/decrypted_payload" "$UA" <<'PY'
import sys, zipfile
uuid = sys.argv[2]
with zipfile.ZipFile(sys.argv[1]) as z:
    assert z.testzip() is None
    infos = z.infolist()
    names = [i.filename for i in infos]
    assert names == [uuid + "-cert.crt", uuid + "-private.pem", "cacert.crt", "RevocationNotifier-cert.crt"], names
    assert all(i.compress_type == zipfile.ZIP_STORED for i in infos)
    assert all((i.external_attr >> 16) & 0o777 == 0o600 for i in infos)
PY
check "Python's zipfile reads vigilctl's archive: stored entries, mode 0600, CRCs good" $?

# ---- V through a path that fails: retried, or refused ----
mport=$(free_port)
echo "vkey-status 503 2" >"$T/mitm.mode"
spawn "$T/mitm.log" "$TOP/test/integration/evil_agent.py" "$mport" "$T/agent-a/server-cert.pem" \
	"$T/agent-a/server-private.pem" "$T/ca/ca.crt" "127.0.0.1:$AGENT_PORT_a" \
	"$T/agent-a/server-cert.pem" "$T/ca/verifier.crt" "$T/ca/verifier.key" "$T/mitm.mode"
wait_for 10 grep -q ready "$T/mitm.log"
check "a proxy in front of agent a that fails the first V POSTs" $?
mkzip "$T/a2.zip" "$T/marker-a2" && mkzip "$T/a3.zip" "$T/marker-a3"
fctl remove "$UA" >/dev/null &&
	fctl add "$UA" --ip 127.0.0.1 --port "$mport" --payload "$T/a2.zip" --payload-verify=60 \
		>"$T/add-d.out" 2>&1 &&
	wait_for 20 test -s "$T/marker-a2" &&
	grep -q "node $UA: POST /keys/vkey: agent answered HTTP 503; V retry 1 of 3" "$T/fleet-verifier.log" &&
	grep -q "node $UA: POST /keys/vkey: agent answered HTTP 503; V retry 2 of 3" "$T/fleet-verifier.log" &&
	! grep -q "V retry 3 of 3" "$T/fleet-verifier.log" &&
	wait_node_state "$UA" GET_QUOTE 10 >/dev/null
check "V unanswered twice (PROVIDE_V_RETRY): retried with backoff, then delivered; normal rounds follow" $?

echo "vkey-status 400 1" >"$T/mitm.mode"
fctl remove "$UA" >/dev/null &&
	fctl add "$UA" --ip 127.0.0.1 --port "$mport" --payload "$T/a3.zip" >/dev/null 2>&1 &&
	wait_node_state "$UA" INVALID_QUOTE 20 >/dev/null &&
	fctl status "$UA" | grep -q "^last failure: *payload_v: the agent refused the payload key share V with HTTP 400" &&
	wait_for 10 vq_is "SELECT COUNT(*) FROM nodes WHERE uuid = '$UA' AND payload_v IS NULL" 1 &&
	[ ! -e "$T/marker-a3" ]
check "V refused by the agent (HTTP 400): the node fails (payload_v) and V is forgotten" $?

# V not yet taken when the verifier stops: kept in the store, delivered by the restarted
# verifier after its first good round.
n503() { grep -c "node $UA: POST /keys/vkey: agent answered HTTP 503" "$T/fleet-verifier.log"; }
n503_above() { [ "$(n503)" -gt "$1" ]; }
echo "vkey-status 503 100000" >"$T/mitm.mode"
mkzip "$T/a4.zip" "$T/marker-a4"
before=$(n503)
fctl remove "$UA" >/dev/null &&
	fctl add "$UA" --ip 127.0.0.1 --port "$mport" --payload "$T/a4.zip" >/dev/null 2>&1 &&
	wait_for 20 n503_above "$before" && stop_pid "$VERIFIER_PID" &&
	vq_is "SELECT COUNT(*) FROM nodes WHERE uuid = '$UA' AND payload_v IS NOT NULL" 1 &&
	[ ! -e "$T/marker-a4" ]
check "V not yet taken when the verifier stops: still in the store" $?
echo pass >"$T/mitm.mode"
verifier_start fleet-verifier -o verifier.registrar="$REGISTRAR_TLS_ADDR" \
	-o verifier.registrar_ca="$T/ca/ca.crt" &&
	wait_for 20 test -s "$T/marker-a4" &&
	wait_for 10 vq_is "SELECT COUNT(*) FROM nodes WHERE uuid = '$UA' AND payload_v IS NULL" 1 &&
	wait_node_state "$UA" GET_QUOTE 10 >/dev/null
check "...and delivered by the restarted verifier after its first good round" $?

fctl add "$UA" --payload "$T/a.zip" --cert-package "$T/ca" >/dev/null 2>&1
[ $? -eq 2 ]
check "--payload and --cert-package together: usage error" $?

head -c $((1024 * 1024 + 1)) /dev/zero >"$T/big.bin"
fctl remove "$UA" >/dev/null
fctl add "$UA" --payload "$T/big.bin" 2>"$T/add-big.err"
[ $? -eq 1 ] && grep -q "at most 1 MiB" "$T/add-big.err" &&
	! fctl status "$UA" >/dev/null 2>&1
check "a payload over 1 MiB is refused and the node not added" $?

