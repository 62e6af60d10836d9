#!/usr/bin/env bash
# The re-registration attack against a node under attestation. Everything in a
# registration (EK, EK certificate, AK) is public; the admin API hands it out.
# Setup: a fleet on loopback (fleet CA, registrar, verifier), one simulated node whose
# vigil-agent enrolled at the registrar, added with vigilctl add and attesting.
# Actions: an attacker re-registers the node's UUID with its public data and their own
# mtls_cert, ip and port (plain HTTP, no credentials), then answers the challenge with a
# wrong auth_tag; then the real agent restarts.
# Expected: the enrollment the admin API shows is the same before and after both
# requests, the node keeps attesting round after round, and the agent's own restart
# (same TPM, same AK) re-registers and activates without a 403.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3

fleet_start || exit 1
fleet_node n1 || { echo "not ok node n1 did not enroll"; exit 1; }
UUID=$NODE_UUID_n1
fctl add "$UUID" >"$T/add.out" 2>&1
check "vigilctl add reads the enrollment from the registrar" $?

count() {
	fctl status "$UUID" --json 2>/dev/null |
		$PY -c 'import json,sys; print(json.load(sys.stdin)["attestation_count"])' 2>/dev/null
}
# wait_count N: until the node has at least N successful attestations (30 s).
wait_count() {
	local c
	for _ in $(seq 300); do
		c=$(count)
		[ "${c:-0}" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
admin_get() { # the enrollment's results, canonical JSON, on stdout
	curl -s -m 10 --cacert "$T/ca/ca.crt" --cert "$T/ca/admin.crt" --key "$T/ca/admin.key" \
		"https://$REGISTRAR_TLS_ADDR/v2.6/agents/$UUID" |
		$PY -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["results"], sort_keys=True))'
}

wait_count 2
check "node attests before the attack" $?
before=$(admin_get)

# The attacker's registration: the node's public data, their own contact and certificate.
# The ekcert text must be the one the agent sent (the EK certificate and its chain as PEM,
# over plain HTTP, so anyone on the path sees it); here it is read from the database.
printf '%s' "$before" | $PY -c '
import json, sqlite3, sys
r = json.load(sys.stdin)
db = sqlite3.connect("file:" + sys.argv[3] + "?mode=ro", uri=True)
ekcert = db.execute("SELECT ekcert FROM registrar_agents WHERE agent_id = ?", (r["agent_id"],)).fetchone()[0]
body = {"ek_tpm": r["ek_tpm"], "aik_tpm": r["aik_tpm"], "ekcert": ekcert,
        "mtls_cert": open(sys.argv[1]).read(), "ip": "127.0.0.2", "port": 1}
json.dump(body, open(sys.argv[2], "w"))' "$T/ca/admin.crt" "$T/evil.json" "$T/registrar.db"
code=$(curl -s -m 10 -o "$T/evil-resp.json" -w '%{http_code}' -X POST \
	-H 'Content-Type: application/json' --data-binary "@$T/evil.json" \
	"http://$REGISTRAR_ADDR/v2.6/agents/$UUID")
[ "$code" = 200 ] && [ "$(admin_get)" = "$before" ]
check "attacker's re-registration is only staged: the enrollment is unchanged" $?
printf '{"auth_tag": "%096d"}' 0 >"$T/wrong.json"
code=$(curl -s -m 10 -o "$T/wrong-resp.json" -w '%{http_code}' -X PUT \
	-H 'Content-Type: application/json' --data-binary "@$T/wrong.json" \
	"http://$REGISTRAR_ADDR/v2.6/agents/$UUID")
[ "$code" = 400 ] && [ "$(admin_get)" = "$before" ] &&
	grep -q "enrollment is unchanged" "$T/wrong-resp.json"
check "wrong auth_tag discards the attempt only: the enrollment is unchanged" $?

c=$(count)
wait_count $((${c:-0} + 3)) && fctl status "$UUID" | grep -q "^state: *GET_QUOTE"
check "node keeps attesting after the attack" $?

# The real agent restarts: same TPM, same AK; its staged re-registration is activated.
stop_pid "$AGENT_PID_n1"
: >"$T/agent-n1.log"
fleet_agent_start n1 && ! grep -q " 403" "$T/agent-n1.log" &&
	admin_get | $PY -c 'import json,sys; r = json.load(sys.stdin); assert r["regcount"] == 2, r' &&
	[ "$(admin_get | $PY -c 'import json,sys; print(json.load(sys.stdin)["aik_tpm"])')" = \
		"$(printf '%s' "$before" | $PY -c 'import json,sys; print(json.load(sys.stdin)["aik_tpm"])')" ]
check "agent restart re-registers and activates (regcount 2, same AK, no 403)" $?
c=$(count)
wait_count $((${c:-0} + 2))
check "node attests after the agent restart" $?

# The agent restarts again, and its first activation is refused (400) as when another
# registration of its UUID replaced its challenge: it registers again, with backoff, and
# activates (it used to give up).
stop_pid "$AGENT_PID_n1"
: >"$T/agent-n1.log"
pport=$(free_port)
spawn "$T/flaky.out" "$PY" "$TOP/test/integration/flaky_registrar.py" "$pport" "$REGISTRAR_ADDR" 1
for _ in $(seq 50); do grep -q ready "$T/flaky.out" && break; sleep 0.1; done
real_registrar=$REGISTRAR_ADDR
REGISTRAR_ADDR=127.0.0.1:$pport
fleet_agent_start n1 && grep -q "another registration of this UUID may have replaced our challenge; registering again" "$T/agent-n1.log" &&
	admin_get | $PY -c 'import json,sys; r = json.load(sys.stdin); assert r["regcount"] == 3, r'
check "an activation refused as replaced: the agent registers again and activates" $?
REGISTRAR_ADDR=$real_registrar
