#!/usr/bin/env bash
# A failure reaches the other agents of the fleet as a signed Keylime revocation notice.
# Setup: a fleet on loopback whose verifier signs notices with a RevocationNotifier key;
# two simulated nodes, each agent holding the notifier's certificate and an actions dir
# whose one action copies the notice it is given.
# Action: an unknown file runs on node u.
# Also: a webhook receiver (webhook_receiver.py) over HTTPS, its certificate from its own
# CA (verifier.webhook_ca).
# Expected: u fails (revocation); v's agent verifies the notice and runs its action with
# Keylime's message (type revocation, u's agent_id, the failed check's event_id); the
# verifier logs the notices sent; the webhook body carries the same msg, its signature
# verifying with the notifier's certificate (python3-cryptography). (Forged and unsigned notices: t_revocation_notice.)
. "$(dirname "$0")/lib.sh"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/notifier.key" -out "$T/notifier.crt" \
	-days 2 -subj /CN=RevocationNotifier >/dev/null 2>&1
check "a RevocationNotifier key and certificate" $?
echo "whsec_$(head -c 32 /dev/urandom | base64 -w0)" >"$T/webhook.secret"
RPORT=$(free_port)
mkdir -p "$T/bodies" "$T/hookca"
"$BIN/vigilctl" ca init "$T/hookca" >/dev/null &&
	"$BIN/vigilctl" ca issue "$T/hookca" receiver --server --san 127.0.0.1 >/dev/null
WEBHOOK_BODIES=$T/bodies WEBHOOK_TLS_CERT=$T/hookca/receiver.crt WEBHOOK_TLS_KEY=$T/hookca/receiver.key \
	spawn "$T/receiver.log" /usr/bin/python3 \
	"$TOP/test/integration/webhook_receiver.py" "$RPORT" "$T/webhook.secret" "$T/hooks.jsonl"
for _ in $(seq 100); do grep -q listening "$T/receiver.log" && break; sleep 0.1; done
fleet_start -o verifier.revocation_key="$T/notifier.key" \
	-o verifier.webhook_url="https://127.0.0.1:$RPORT/hook" -o verifier.webhook_ca="$T/hookca/ca.crt" \
	-o verifier.webhook_secret_file="$T/webhook.secret" || exit 1
"$BIN/vigilctl" policy create runtime --ima-log "$NODE_IMA_LIST" --output "$T/rt.json" >/dev/null &&
	fctl policy put rt --kind runtime "$T/rt.json" >/dev/null
check "a runtime policy from the golden IMA list" $?

for n in u v; do
	mkdir -p "$T/act-$n" &&
		printf '#!/bin/sh\ncp "$1" "%s/notice-%s.json"\n' "$T" "$n" >"$T/act-$n/10-copy" &&
		chmod 755 "$T/act-$n/10-copy"
	FLEET_AGENT_ARGS="-o agent.revocation_cert=$T/notifier.crt -o agent.revocation_actions_dir=$T/act-$n"
	fleet_node "$n" || exit 1
done
unset FLEET_AGENT_ARGS
fctl add "$NODE_UUID_u" --runtime-policy rt >/dev/null && fctl add "$NODE_UUID_v" --runtime-policy rt >/dev/null &&
	wait_node_state "$NODE_UUID_u" GET_QUOTE 20 >/dev/null && wait_node_state "$NODE_UUID_v" GET_QUOTE 20 >/dev/null
check "two nodes attest" $?

"$NODESIM" "$TCTI_u" ima-append "$NODE_IMA_u" /usr/bin/evil \
	"$(printf evil | sha256sum | cut -d' ' -f1)" >/dev/null &&
	wait_node_state "$NODE_UUID_u" INVALID_QUOTE 10 >/dev/null
check "node u fails" $?
for _ in $(seq 100); do [ -s "$T/notice-v.json" ] && break; sleep 0.1; done
/usr/bin/python3 - "$T/notice-v.json" "$NODE_UUID_u" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
ok = (m["type"] == "revocation" and m["agent_id"] == sys.argv[2]
      and m["event_id"] == "ima.validation.ima-ng.not_in_allowlist" and m["severity_label"] == "emergency")
if not ok:
    print("#", m)
sys.exit(0 if ok else 1)
PY
check "v's agent verified the notice and its action got Keylime's message about u" $?
wait_node_state "$NODE_UUID_v" GET_QUOTE 5 >/dev/null
check "v keeps attesting" $?

for _ in $(seq 100); do grep -q '"type": "revocation"' "$T/hooks.jsonl" 2>/dev/null && break; sleep 0.1; done
/usr/bin/python3 - "$T/bodies" "$T/notifier.crt" "$NODE_UUID_u" <<'PY'
import base64, glob, json, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
key = x509.load_pem_x509_certificate(open(sys.argv[2], "rb").read()).public_key()
for f in glob.glob(sys.argv[1] + "/*.json"):
    d = json.load(open(f))
    if d["type"] != "revocation":
        continue
    key.verify(base64.b64decode(d["signature"]), d["msg"].encode(),
               padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH),
               hashes.SHA256())
    m = json.loads(d["msg"])
    sys.exit(0 if m["agent_id"] == sys.argv[3] and m["event_id"] == d["event_id"] else 1)
sys.exit("no revocation webhook body")
PY
check "the webhook carries the same notice, its msg signed by the RevocationNotifier key" $?
