#!/usr/bin/env bash
# No channel can slow verdicts: a hung webhook receiver and a hung agent while 20 other
# nodes attest.
# Setup: a fleet on loopback (quote_interval 2 s) with 21 simulated nodes under a runtime
# policy made from their IMA list, a RevocationNotifier key, and two blackhole.py
# listeners that accept connections and never answer: one is the only webhook receiver
# (webhook_timeout 60 s), the other the contact address of a 22nd node, h, which thus
# never answers its rounds nor the revocation notices sent to it (notice_timeout 30 s).
# Action: node t is tampered with (an unknown file runs): its revocation event goes to
# the hung receiver and its notice to every agent, h included.
# Expected: t fails with its event recorded; the receiver and h are contacted and hang;
# meanwhile, sampled every second for 10 s, each of the 20 other nodes' last verdict is
# never older than two intervals plus 1 s for the whole-second clock (5 s: a round's own
# time on a busy machine adds to the interval, while a stall behind a hung channel would
# last its timeout, 30 s or 60 s), and none of them fails. (Keylime's verifier, measured for the issue, holds every verdict back while
# one agent hangs.)
. "$(dirname "$0")/lib.sh"
BH=$TOP/test/integration/blackhole.py
INTERVAL=2
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/notifier.key" -out "$T/notifier.crt" \
	-days 2 -subj /CN=RevocationNotifier >/dev/null 2>&1
echo "whsec_$(head -c 32 /dev/urandom | base64)" >"$T/webhook.secret"
HOOK_PORT=$(free_port)
spawn "$T/bh-hook.out" "$BH" "$HOOK_PORT" "$T/bh-hook.log" hold
fleet_start -o verifier.quote_interval=$INTERVAL -o verifier.revocation_key="$T/notifier.key" \
	-o verifier.notice_timeout=30 -o verifier.webhook_url="http://127.0.0.1:$HOOK_PORT/hook" \
	-o verifier.webhook_secret_file="$T/webhook.secret" -o verifier.webhook_timeout=60 ||
	exit 1
"$BIN/vigilctl" policy create runtime --ima-log "$NODE_IMA_LIST" --output "$T/rt.json" >/dev/null &&
	fctl policy put rt --kind runtime "$T/rt.json" >/dev/null
check "a runtime policy from the golden IMA list" $?

GOOD=$(seq -f 'g%g' 1 20)
FLEET_AGENT_ARGS="-o agent.revocation_cert=$T/notifier.crt"
for n in t $GOOD; do fleet_node "$n" >/dev/null || exit 1; done
unset FLEET_AGENT_ARGS
for n in t $GOOD; do
	uuid=NODE_UUID_$n
	fctl add "${!uuid}" --runtime-policy rt >/dev/null || break
done
for n in t $GOOD; do
	uuid=NODE_UUID_$n
	wait_node_state "${!uuid}" GET_QUOTE 60 >/dev/null || break
done
check "21 nodes attest" $?

H_PORT=$(free_port)
spawn "$T/bh-h.out" "$BH" "$H_PORT" "$T/bh-h.log" hold
for _ in $(seq 50); do grep -q ready "$T/bh-h.out" && grep -q ready "$T/bh-hook.out" && break; sleep 0.1; done
vgrpc AddNode "$(/usr/bin/python3 -c 'import json,sys; print(json.dumps({"node": {"uuid": "h", "ip": "127.0.0.1", "port": int(sys.argv[1]), "ak_tpm": sys.argv[2], "mtls_cert": sys.argv[3]}}))' "$H_PORT" "$(base64 -w0 "$TOP/test/unit/data/tpm2/ak_rsa.pub")" "$(cat "$T/ca/verifier.crt")")" >/dev/null &&
	for _ in $(seq 100); do [ -s "$T/bh-h.log" ] && break; sleep 0.1; done && [ -s "$T/bh-h.log" ]
check "node h's agent is a blackhole: its first round hangs" $?

h0=$(wc -l <"$T/bh-h.log")
"$NODESIM" "$TCTI_t" ima-append "$NODE_IMA_t" /usr/bin/evil \
	"$(printf evil | sha256sum | cut -d' ' -f1)" >/dev/null &&
	wait_node_state "$NODE_UUID_t" INVALID_QUOTE 10 >/dev/null
check "node t fails" $?
for _ in $(seq 100); do
	[ -s "$T/bh-hook.log" ] && [ "$(wc -l <"$T/bh-h.log")" -gt "$h0" ] && break
	sleep 0.1
done
[ -s "$T/bh-hook.log" ] && [ "$(wc -l <"$T/bh-h.log")" -gt "$h0" ]
check "the webhook receiver and h's agent were contacted (the delivery and the notice hang)" $?

# stale: the nodes whose last verdict is older than two intervals (+1 s for whole
# seconds): the next round starts an interval after the last ended, and its own time
# (a TPM quote, on a busy machine) comes on top; a stall behind a hung channel would be
# its timeout (30 s, 60 s).
stale() {
	fctl list --json | /usr/bin/python3 -c '
import json, sys, time
now, lim, good = time.time(), float(sys.argv[1]), set(sys.argv[2:])
nodes = json.load(sys.stdin)
nodes = nodes["nodes"] if isinstance(nodes, dict) else nodes
bad = ["%s %.1fs %s" % (n["uuid"], now - n["last_successful_attestation"], n["operational_state_name"])
       for n in nodes if n["uuid"] in good and
       (now - n["last_successful_attestation"] > lim or n["operational_state_name"] != "GET_QUOTE")]
seen = good & set(n["uuid"] for n in nodes)
if seen != good:
    bad.append("%d of the %d nodes missing from the list" % (len(good - seen), len(good)))
print(" ".join(bad))' "$((2 * INTERVAL + 1))" $(for n in $GOOD; do u=NODE_UUID_$n; echo "${!u}"; done)
}
worst=""
for _ in $(seq 10); do
	s=$(stale) || s="the node list could not be read"
	[ -n "$s" ] && worst="$worst [$s]"
	sleep 1
done
[ -z "$worst" ]
check "every one of the 20 other nodes had a verdict within two intervals, all along${worst:+:$worst}" $?
[ "$(vdb_query fleet-verifier "SELECT COUNT(*) FROM events WHERE type = 'revocation' AND node_uuid = '$NODE_UUID_t'")" = 1 ]
check "t's revocation event is recorded while its delivery hangs" $?
