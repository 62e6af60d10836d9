#!/usr/bin/env bash
# Keylime's secure payload on the agent (docs/payload.md; docs/wire.md §2.5, §7).
# Setup: a swtpm, vigil-agent on it (no registrar) serving mTLS, a client certificate from
# `vigilctl ca`; test/integration/payload_client.py plays Keylime's tenant (K, V, U = K xor
# V, auth_tag, the AES-GCM payload: a ZIP made by Python's zipfile) and verifier (V), with
# Python's `cryptography` for RSA-OAEP and HMAC.
# Actions and expected outcomes:
#   - /keys/pubkey equals the identity quote's pubkey; /keys/verify before any key: 400
#     "Bootstrap key not yet available."; the secure dir is a tmpfs (the agent runs as
#     root here) or a 0700 directory;
#   - a stored ZIP, U then V: autorun.sh runs once, from unzipped/, with the archive's
#     files, decrypted_payload and derived_tci_key (= K) beside it, its output logged;
#     /keys/verify matches K; a deflated ZIP, V then U: the same, with the first
#     payload's files gone;
#   - a wrong U and a wrong V among right shares: no key from them, nothing run; the
#     right pair found later among them;
#   - a flipped ciphertext byte, an entry "../escape.txt", a symlink entry: refused and
#     logged, nothing run, unzipped/ unchanged;
#   - bad bodies (base64, auth_tag size, a share that is not OAEP under the key, not
#     JSON): 400 with the reason, nothing kept; no client certificate: no answer;
#   - after an agent restart: nothing reruns, the unzipped files are still there,
#     /keys/verify says no key.
. "$(dirname "$0")/lib.sh"

for tool in swtpm swtpm_setup curl; do
	if ! command -v $tool >/dev/null; then
		echo "skip payload: $tool not installed"
		exit 0
	fi
done
/usr/bin/python3 -c 'import cryptography' 2>/dev/null || {
	echo "skip payload: python3-cryptography not installed"
	exit 0
}
for f in "$BIN/vigil-agent" "$BIN/vigilctl"; do
	[ -x "$f" ] || { echo "not ok payload: $f not built"; exit 1; }
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

swtpm_start P
check swtpm $?
"$BIN/vigilctl" ca init "$T/ca" >/dev/null && "$BIN/vigilctl" ca issue "$T/ca" verifier --both >/dev/null
check client_cert $?

PORT=$(free_port)
STATE=$T/state
SECURE=$STATE/secure
UNZ=$SECURE/unzipped
UUID=5b3e2b0e-1c2d-4e5f-8a9b-0c1d2e3f4a5b
mkdir -p "$STATE"
agent_start() {
	spawn "$T/agent.log" "$BIN/vigil-agent" -d -o agent.tcti="$TCTI_P" -o agent.state_dir="$STATE" \
		-o agent.registrar= -o agent.trusted_client_ca="$T/ca/ca.crt" -o agent.uuid=$UUID \
		-o agent.listen=127.0.0.1:$PORT -o agent.ima_log= -o agent.event_log= \
		-o agent.payload_script_timeout=20
	AGENT_PID=$!
	wait_for 30 log_has "serving the agent API"
}
agent_start
check agent_start $?

export PC_URL=https://127.0.0.1:$PORT/v2.1 PC_CA=$STATE/server-cert.pem PC_CERT=$T/ca/verifier.crt \
	PC_KEY=$T/ca/verifier.key PC_UUID=$UUID PC_DIR=$T/cases
mkdir -p "$PC_DIR"
pc() { /usr/bin/python3 "$TOP/test/integration/payload_client.py" "$@"; }
M=$PC_DIR/markers

[ "$(pc pubkey)" = same ]
check pubkey_is_the_quotes $?
pc make first stored && [ "$(pc verify first)" = "400 Bootstrap key not yet available." ]
check verify_before_key_400 $?

if findmnt -rn -o FSTYPE --target "$SECURE" | grep -qx tmpfs; then
	log_has "agent.secure_dir $SECURE: mounted a tmpfs (size=1m,mode=0700)"
else
	log_has "agent.secure_dir $SECURE" && [ "$(stat -c %a "$SECURE")" = 700 ]
fi
check secure_dir_tmpfs_or_0700 $?

# -- A: stored ZIP, U then V -------------------------------------------------------------
pc make A stored
[ "$(pc post A u)" = "200 Success" ] && [ "$(pc verify A)" = "400 Bootstrap key not yet available." ] &&
	[ ! -e "$M/A" ]
check u_alone_kept_no_key $?
[ "$(pc post A v)" = "200 Success" ]
check v_accepted $?
wait_for 20 log_has "payload script $UNZ/autorun.sh succeeded"
check a_script_ran $?
[ "$(cat "$M/A")" = ran ] && [ "$(cat "$M/A.cwd")" = "$UNZ" ] && [ "$(cat "$M/A.files")" = both ] &&
	[ "$(head -1 "$M/A.data")" = "data of A" ] && cmp -s "$UNZ/derived_tci_key" "$PC_DIR/A.k" &&
	log_has "payload script $UNZ/autorun.sh stdout: payload A says hello"
check a_script_ran_in_unzipped_with_files $?
[ "$(pc verify A)" = "200 match" ]
check a_verify_matches $?
[ "$(stat -c %a "$UNZ/derived_tci_key")" = 600 ] && [ "$(stat -c %a "$UNZ/autorun.sh")" = 700 ]
check a_file_modes $?

# -- B: deflated ZIP, V then U -----------------------------------------------------------
pc make B deflated
ran=$(log_count "payload script .* succeeded")
[ "$(pc post B v)" = "200 Success" ] && [ "$(pc verify A)" = "200 match" ] && [ ! -e "$M/B" ]
check b_v_alone_keeps_old_key $?
[ "$(pc post B u)" = "200 Success" ] && wait_for 20 test -e "$M/B"
check b_script_ran $?
wait_for 20 test "$(log_count "payload script .* succeeded")" -gt "$ran" &&
	[ "$(pc verify B)" = "200 match" ] && [ "$(head -1 "$UNZ/sub/data.txt")" = "data of B" ] &&
	[ "$(cat "$M/A")" = ran ]
check b_replaces_a $?

# -- wrong shares among right ones -------------------------------------------------------
started=$(log_count "payload script .* started")
pc make C stored wrong-u && pc make D deflated wrong-v
[ "$(pc post C u)" = "200 Success" ] && [ "$(pc post C v)" = "200 Success" ] &&
	[ "$(pc post D u)" = "200 Success" ] && [ "$(pc post D v)" = "200 Success" ]
check wrong_shares_kept $?
[ "$(pc verify B)" = "200 match" ] && [ ! -e "$M/C" ] && [ ! -e "$M/D" ] &&
	[ "$(log_count "payload script .* started")" = "$started" ] &&
	log_has "no pair of the 2 U and 2 V shares received matches an auth_tag"
check wrong_u_or_v_no_key_nothing_run $?
# E's shares join the four that match nothing: E's pair is found among them.
pc make E stored
[ "$(pc post E v)" = "200 Success" ] && [ "$(pc post E u)" = "200 Success" ] &&
	wait_for 20 test -e "$M/E" && [ "$(pc verify E)" = "200 match" ] && [ ! -e "$M/C" ] && [ ! -e "$M/D" ]
check right_pair_found_among_wrong $?

# -- hostile payloads --------------------------------------------------------------------
started=$(log_count "payload script .* started")
refused=$(log_count "payload refused")
pc make F stored flip && pc make G dotdot && pc make H symlink
ok=0
for c in F G H; do
	[ "$(pc post $c u)" = "200 Success" ] && [ "$(pc post $c v)" = "200 Success" ] || ok=1
done
[ $ok = 0 ] && [ "$(log_count "payload refused")" = $((refused + 3)) ] &&
	log_has "payload refused: AES-GCM tag mismatch" &&
	log_has 'payload refused: entry "../escape.txt": an empty, "." or ".." path component' &&
	log_has 'payload refused: entry "link" is a symbolic link'
check hostile_payloads_refused_logged $?
[ "$(log_count "payload script .* started")" = "$started" ] && [ ! -e "$M/F" ] && [ ! -e "$M/G" ] &&
	[ ! -e "$M/H" ] && [ ! -e "$SECURE/escape.txt" ] && [ ! -e "$UNZ/link" ] &&
	[ "$(head -1 "$UNZ/sub/data.txt")" = "data of E" ]
check hostile_payloads_ran_nothing_changed_nothing $?

# -- bad bodies --------------------------------------------------------------------------
/usr/bin/python3 - "$PC_DIR" <<'PY'
import base64, json, os, sys
d = sys.argv[1]
u = json.load(open(d + "/E.u.json"))
def w(name, doc):
    open(d + "/" + name, "w").write(doc if isinstance(doc, str) else json.dumps(doc))
w("b64.json", dict(u, encrypted_key="not base64!"))
w("tag.json", dict(u, auth_tag=u["auth_tag"][:90]))
w("oaep.json", {"encrypted_key": base64.b64encode(os.urandom(256)).decode()})
w("notjson.json", "{\"encrypted_key\": ")
w("paybad.json", dict(u, payload="@@@@"))
PY
kept=$(log_count "share .* kept")
r1=$(pc body u "$PC_DIR/b64.json") r2=$(pc body u "$PC_DIR/tag.json") r3=$(pc body v "$PC_DIR/oaep.json")
r4=$(pc body v "$PC_DIR/notjson.json") r5=$(pc body u "$PC_DIR/paybad.json")
case "$r1|$r2|$r3|$r4|$r5" in
"400 Bad Request: invalid base64 in encrypted_key|400 Bad Request: auth_tag is 90 characters"*"|400 Bad Request: RSA-OAEP (SHA-1) decryption failed"*"|400 Bad Request: the body is not JSON"*"|400 Bad Request: invalid base64 in payload") rc=0 ;;
*) echo "# $r1 | $r2 | $r3 | $r4 | $r5"; rc=1 ;;
esac
[ $rc = 0 ] && [ "$(log_count "share .* kept")" = "$kept" ] && [ "$(log_count "share from .* refused")" -ge 5 ]
check bad_bodies_400_nothing_kept $?
code=$(curl -s --max-time 10 --cacert "$STATE/server-cert.pem" -o /dev/null -w '%{http_code}' \
	"https://127.0.0.1:$PORT/v2.1/keys/verify?challenge=abc")
[ "$code" = 000 ]
check no_client_cert_no_answer $?

# -- restart -----------------------------------------------------------------------------
runs_e=$(wc -l <"$M/E")
kill "$AGENT_PID" && wait_for 20 eval '! kill -0 $AGENT_PID 2>/dev/null'
check agent_stopped $?
mv "$T/agent.log" "$T/agent-1.log"
agent_start
check agent_restarted $?
[ "$(pc verify E)" = "400 Bootstrap key not yet available." ] && [ -e "$UNZ/autorun.sh" ] &&
	[ "$(wc -l <"$M/E")" = "$runs_e" ] && ! log_has "payload script"
check restart_no_key_nothing_reran $?
if findmnt -rn -o FSTYPE --target "$SECURE" | grep -qx tmpfs; then
	log_has "agent.secure_dir $SECURE is a tmpfs already"
	check restart_kept_tmpfs $?
fi
