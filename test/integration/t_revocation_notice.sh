#!/usr/bin/env bash
# Keylime revocation notices, both ends (docs/wire.md §6; docs/agent.md "Revocation notices").
# Setup: a swtpm, vigil-agent on it (no registrar) with agent.revocation_cert = a fresh
# RevocationNotifier certificate, agent.revocation_action_timeout = 3 and an actions dir
# holding: 10-record (copies its argument's file to $T/record.json, writes to stdout and
# stderr), 20-not-exec (mode 0644), 30-link-out (a link to /bin/true, outside the dir).
# Actions:
#   - a notice signed by Python's `cryptography` (as Keylime's verifier signs) POSTed with
#     curl over the agent's mTLS -> 200, the action ran with the inner msg (fields compared),
#     its output is logged, 20 and 30 are skipped with a log line;
#   - signed by another key, unsigned, truncated JSON, a valid signature spliced onto another
#     msg, a GET -> 4xx with a clear status, and no action ran;
#   - a notice signed by verifier/notices.c (test/tools/notice_send) verifies with openssl
#     and with `cryptography` (a second opinion), and notices_send delivers it: accepted;
#   - with 40-sleep (sleeps 600 s) added: it is killed at its 3 s timeout and logged, while
#     the agent answers /version meanwhile.
# Expected: as each action says.
. "$(dirname "$0")/lib.sh"

for tool in swtpm swtpm_setup curl openssl; do
	if ! command -v $tool >/dev/null; then
		echo "skip revocation_notice: $tool not installed"
		exit 0
	fi
done
/usr/bin/python3 -c 'import cryptography' 2>/dev/null || {
	echo "skip revocation_notice: python3-cryptography not installed"
	exit 0
}
SEND=$TOP/build/tools/notice_send
for f in "$BIN/vigil-agent" "$BIN/vigilctl" "$SEND"; do
	[ -x "$f" ] || { echo "not ok revocation_notice: $f not built"; exit 1; }
done

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
log_has() { grep -q -- "$1" "$T/agent.log"; }
log_count() { grep -c -- "$1" "$T/agent.log"; }

swtpm_start R
check swtpm $?
"$BIN/vigilctl" ca init "$T/ca" >/dev/null && "$BIN/vigilctl" ca issue "$T/ca" verifier --both >/dev/null
check client_cert $?
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/notifier.key" -out "$T/notifier.crt" \
	-days 2 -subj /CN=RevocationNotifier 2>/dev/null &&
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/other.key" 2>/dev/null
check notifier_keys $?

ACT=$T/actions
mkdir -p "$ACT"
cat >"$ACT/10-record" <<EOF
#!/bin/sh
cp "\$1" "$T/record.tmp" && mv "$T/record.tmp" "$T/record.json"
echo "recorded \$1"
echo "a line on stderr" >&2
EOF
chmod 755 "$ACT/10-record"
printf '#!/bin/sh\ntouch %s/not-exec-ran\n' "$T" >"$ACT/20-not-exec"
chmod 644 "$ACT/20-not-exec"
ln -s /bin/true "$ACT/30-link-out"

PORT=$(free_port)
STATE=$T/state
mkdir -p "$STATE"
URL=https://127.0.0.1:$PORT
spawn "$T/agent.log" "$BIN/vigil-agent" -d -o agent.tcti="$TCTI_R" -o agent.state_dir="$STATE" \
	-o agent.registrar= -o agent.trusted_client_ca="$T/ca/ca.crt" -o agent.listen=127.0.0.1:$PORT \
	-o agent.ima_log= -o agent.event_log= -o agent.revocation_cert="$T/notifier.crt" \
	-o agent.revocation_actions_dir="$ACT" -o agent.revocation_action_timeout=3
AGENT_PID=$!
wait_for 30 log_has "serving the agent API"
check agent_start $?

# post NAME FILE [VERSION]: POST FILE to the route over mTLS; the answer in $T/NAME.json,
# the HTTP code printed.
post() {
	curl -s --max-time 30 --cacert "$STATE/server-cert.pem" --cert "$T/ca/verifier.crt" \
		--key "$T/ca/verifier.key" -H 'Content-Type: application/json' --data-binary "@$2" \
		-o "$T/$1.json" -w '%{http_code}' "$URL/v${3:-2.2}/notifications/revocation"
}
# envelope_is NAME CODE TEXT: the envelope has code CODE and a status containing TEXT.
envelope_is() {
	/usr/bin/python3 - "$T/$1.json" "$2" "$3" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["code"] == int(sys.argv[2]) and sys.argv[3] in d["status"], d
PY
}

# Notices made the way Keylime's verifier makes them (cloud_verifier_common.py,
# crypto.py rsa_sign), by Python's `cryptography`.
/usr/bin/python3 - "$T" <<'PY'
import base64, json, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
T = sys.argv[1]
def key(p):
    return serialization.load_pem_private_key(open(p, "rb").read(), password=None)
def sign(k, msg):
    return base64.b64encode(k.sign(msg.encode(), padding.PSS(mgf=padding.MGF1(hashes.SHA256()),
        salt_length=padding.PSS.MAX_LENGTH), hashes.SHA256())).decode()
good, other = key(T + "/notifier.key"), key(T + "/other.key")
msg = json.dumps({"type": "revocation", "ip": "10.1.2.3", "agent_id": "bad-node-1", "port": 9002,
                  "tpm_policy": json.dumps({"mask": "0x400"}), "meta_data": "{}",
                  "event_time": "Mon Aug  3 07:14:14 2026", "event_id": "pcr_policy.pcr10",
                  "severity_label": "emergency", "context": json.dumps({"pcr": 10})})
msg2 = msg.replace("bad-node-1", "bad-node-2")
notices = {
    "good": {"msg": msg, "signature": sign(good, msg)},
    "other_key": {"msg": msg, "signature": sign(other, msg)},
    "unsigned": {"msg": msg, "signature": ""},
    "spliced": {"msg": msg2, "signature": sign(good, msg)},
}
for name, n in notices.items():
    json.dump(n, open("%s/%s.notice" % (T, name), "w"))
open(T + "/good.msg", "w").write(msg)
open(T + "/truncated.notice", "w").write(json.dumps(notices["good"])[:150])
PY
check python_notices $?

# 1. A good notice: 200, the action ran with the message.
code=$(post good "$T/good.notice")
[ "$code" = 200 ] && envelope_is good 200 Success
check good_notice_200 $?
wait_for 20 test -f "$T/record.json"
check action_ran $?
/usr/bin/python3 - "$T/record.json" "$T/good.msg" <<'PY'
import json, sys
got, want = json.load(open(sys.argv[1])), json.loads(open(sys.argv[2]).read())
assert got == want, (got, want)
assert got["agent_id"] == "bad-node-1" and got["event_id"] == "pcr_policy.pcr10", got
PY
check action_got_msg $?
wait_for 20 log_has "revocation notice (revocation for agent bad-node-1, event pcr_policy.pcr10) handled"
check notice_handled $?
log_has "10-record stdout: recorded $STATE/revocation-" && log_has "10-record stderr: a line on stderr" &&
	log_has "10-record succeeded"
check action_output_logged $?
log_has "20-not-exec skipped: not an executable regular file" && log_has "30-link-out skipped: a link to" &&
	[ ! -e "$T/not-exec-ran" ]
check others_skipped $?
ls "$STATE"/revocation-* >/dev/null 2>&1
check tempfile_removed $((!$?))

# 2. Refused notices: 4xx, a clear status, a log line, nothing run.
rm -f "$T/record.json"
started=$(log_count "revocation action .* started")
refusals=0
bad_ok=0
for c in "other_key 403 does not verify" "unsigned 403 unsigned" "truncated 400 not a JSON object" \
	"spliced 403 does not verify"; do
	read -r name want text <<<"$c"
	code=$(post "$name" "$T/$name.notice")
	refusals=$((refusals + 1))
	if [ "$code" != "$want" ] || ! envelope_is "$name" "$want" "$text"; then
		echo "# $name: HTTP $code $(cat "$T/$name.json")"
		bad_ok=1
	fi
done
check refused_4xx $bad_ok
[ "$(log_count "revocation notice from .* refused")" = "$refusals" ]
check refusals_logged $?
[ "$(log_count "revocation action .* started")" = "$started" ] && [ ! -e "$T/record.json" ]
check refused_ran_nothing $?
code=$(curl -s --max-time 30 --cacert "$STATE/server-cert.pem" --cert "$T/ca/verifier.crt" \
	--key "$T/ca/verifier.key" -o /dev/null -w '%{http_code}' "$URL/v2.2/notifications/revocation")
[ "$code" = 405 ]
check get_405 $?
# Without a client certificate the TLS handshake fails: no answer at all.
code=$(curl -s --max-time 30 --cacert "$STATE/server-cert.pem" --data-binary "@$T/good.notice" \
	-o /dev/null -w '%{http_code}' "$URL/v2.2/notifications/revocation")
[ "$code" = 000 ] && [ "$(log_count "revocation action .* started")" = "$started" ]
check no_client_cert_refused $?

# 3. Our signer: a second opinion from openssl and `cryptography`, then our sender.
"$SEND" sign "$T/notifier.key" node-from-c "$T/ours.notice"
check c_signed $?
/usr/bin/python3 - "$T/ours.notice" "$T/ours.msg" "$T/ours.sig" <<'PY'
import base64, json, sys
n = json.load(open(sys.argv[1]))
open(sys.argv[2], "wb").write(n["msg"].encode())
open(sys.argv[3], "wb").write(base64.b64decode(n["signature"], validate=True))
PY
openssl x509 -in "$T/notifier.crt" -pubkey -noout >"$T/notifier.pub" &&
	openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:max \
		-sigopt rsa_mgf1_md:sha256 -verify "$T/notifier.pub" -signature "$T/ours.sig" \
		"$T/ours.msg" | grep -q "Verified OK"
check openssl_verifies_ours $?
/usr/bin/python3 - "$T/notifier.crt" "$T/ours.msg" "$T/ours.sig" <<'PY'
import sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
pub = x509.load_pem_x509_certificate(open(sys.argv[1], "rb").read()).public_key()
pub.verify(open(sys.argv[3], "rb").read(), open(sys.argv[2], "rb").read(),
           padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH),
           hashes.SHA256())
PY
check cryptography_verifies_ours $?
"$SEND" send "$T/ours.notice" "$T/ca/verifier.crt" "$T/ca/verifier.key" "$STATE/server-cert.pem" \
	127.0.0.1 "$PORT" >"$T/send.out" 2>&1 && grep -q "ok 1 failed 0" "$T/send.out"
check c_sender_delivered $?
wait_for 20 grep -q node-from-c "$T/record.json" 2>/dev/null
check c_notice_ran_action $?
"$SEND" sign "$T/other.key" node-forged "$T/forged.notice" &&
	! "$SEND" send "$T/forged.notice" "$T/ca/verifier.crt" "$T/ca/verifier.key" \
		"$STATE/server-cert.pem" 127.0.0.1 "$PORT" >"$T/send2.out" 2>&1 &&
	grep -q "ok 0 failed 1" "$T/send2.out" && grep -q "HTTP 403" "$T/send2.out"
check c_sender_counts_refusal $?

# 4. An action past its timeout is killed (with its children) while the agent answers.
cat >"$ACT/40-sleep" <<EOF
#!/bin/sh
echo sleeping
sleep 600
EOF
chmod 755 "$ACT/40-sleep"
wait_for 20 log_has "revocation notice (revocation for agent node-from-c, event pcr_policy.pcr10) handled"
check previous_done $?
code=$(post good2 "$T/good.notice")
[ "$code" = 200 ]
check sleep_notice_200 $?
wait_for 20 log_has "40-sleep started (pid"
check sleep_started $?
SLEEP_PID=$(sed -n 's/.*40-sleep started (pid \([0-9]*\)).*/\1/p' "$T/agent.log" | tail -1)
code=$(curl -s --max-time 5 --cacert "$STATE/server-cert.pem" --cert "$T/ca/verifier.crt" \
	--key "$T/ca/verifier.key" -o "$T/version.json" -w '%{http_code}' "$URL/version")
[ "$code" = 200 ] && kill -0 "$SLEEP_PID" 2>/dev/null && ! log_has "40-sleep timed out"
check answers_while_action_runs $?
wait_for 20 log_has "revocation action $ACT/40-sleep timed out after 3 s: killed"
check sleep_killed_logged $?
group_gone() { ! pgrep -g "$SLEEP_PID" >/dev/null; }
wait_for 20 group_gone
check sleep_group_gone $?
wait_for 20 log_has "40-sleep stdout: sleeping"
check sleep_output_logged $?
kill -0 "$AGENT_PID"
check agent_alive $?
