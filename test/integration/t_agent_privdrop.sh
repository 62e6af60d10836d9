#!/usr/bin/env bash
# vigil-agent started as root with agent.user = nobody, and how it writes its state.
# Setup: a simulated node from lib.sh (swtpm with the real IMA list in PCR 10 and a real
# UEFI log), both logs in this run's temp dir (mode 0700, root's: nobody cannot open
# them by path), a client certificate from `vigilctl ca`. Needs root (skipped otherwise);
# uses the existing user nobody, creates no user.
# Actions: start the agent as root with -o agent.user=nobody; read /proc/PID/status; ask
# for an integrity quote with PCR 0 and the IMA list; look at the state files; start it
# with a user that does not exist; start it on a fresh state dir where a symbolic link
# waits at the payload key's temp path.
# Expected: the agent's real, effective, saved and file-system uids and gids are nobody's,
# it has no capabilities and no root group, and it still serves a quote carrying both
# logs (read through the descriptors it opened as root); ak.priv, payload-private.pem and
# server-private.pem are 0600 and no temp file is left; an unknown user is refused with a
# clear error at -n and at start; the planted link is refused by name, and the file it
# points to is untouched.
. "$(dirname "$0")/lib.sh"

for tool in swtpm swtpm_setup curl; do
	command -v $tool >/dev/null || { echo "skip agent_privdrop: $tool not installed"; exit 0; }
done
[ "$(id -u)" = 0 ] || { echo "skip agent_privdrop: needs root"; exit 0; }
id nobody >/dev/null 2>&1 || { echo "skip agent_privdrop: no user nobody"; exit 0; }
for f in "$BIN/vigil-agent" "$BIN/vigilctl"; do
	[ -x "$f" ] || { echo "not ok agent_privdrop: $f not built"; exit 1; }
done
NOBODY_UID=$(id -u nobody)
NOBODY_GID=$(id -g nobody)

node_tpm_start D && node_logs D
check node_tpm_with_logs $?
"$BIN/vigilctl" ca init "$T/ca" >/dev/null && "$BIN/vigilctl" ca issue "$T/ca" verifier --both >/dev/null
check client_cert $?
chmod 700 "$T"

PORT=$(free_port)
STATE=$T/state
NONCE=privDropNonce0123456789

# agent_start LOG [-o ...]: the agent as root; waits until it serves, or until it exits.
agent_start() {
	local log=$1
	shift
	spawn "$log" "$BIN/vigil-agent" -d -o agent.tcti="$TCTI_D" -o agent.state_dir="$STATE" \
		-o agent.registrar= -o agent.trusted_client_ca="$T/ca/ca.crt" \
		-o agent.listen=127.0.0.1:$PORT -o agent.ima_log="$NODE_IMA_D" \
		-o agent.event_log="$NODE_EVENTLOG_D" "$@"
	AGENT_PID=$!
	for _ in $(seq 150); do
		grep -q "serving the agent API" "$log" && return 0
		kill -0 "$AGENT_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

agent_start "$T/agent.log" -o agent.user=nobody
check agent_serves_as_nobody $?
grep -q "running as user nobody (uid $NOBODY_UID, gid $NOBODY_GID)" "$T/agent.log"
check drop_logged $?
st=/proc/$AGENT_PID/status
sed -n 's/^\(Uid\|Gid\|Groups\|CapEff\|CapPrm\):/# &/p' "$st"
[ "$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "$st")" = "$NOBODY_UID $NOBODY_UID $NOBODY_UID $NOBODY_UID" ] &&
	[ "$(awk '/^Gid:/ { print $2, $3, $4, $5 }' "$st")" = "$NOBODY_GID $NOBODY_GID $NOBODY_GID $NOBODY_GID" ]
check proc_status_uid_gid_are_nobody $?
! awk '/^Groups:/ { for (i = 2; i <= NF; i++) if ($i == 0) exit 0; exit 1 }' "$st" &&
	[ "$(awk '/^CapEff:/ { print $2 }' "$st")" = 0000000000000000 ] &&
	[ "$(awk '/^CapPrm:/ { print $2 }' "$st")" = 0000000000000000 ]
check no_root_group_no_capabilities $?
# nobody cannot open the logs by path (the temp dir is root's, 0700): what comes back was
# read through the descriptors opened before the drop.
! su -s /bin/sh nobody -c "cat '$NODE_IMA_D'" >/dev/null 2>&1
check logs_not_readable_by_nobody_by_path $?
curl -s --max-time 30 --cacert "$STATE/server-cert.pem" --cert "$T/ca/verifier.crt" \
	--key "$T/ca/verifier.key" -o "$T/q.json" -w '%{http_code}' \
	"https://127.0.0.1:$PORT/v2.6/quotes/integrity?nonce=$NONCE&mask=0x401&partial=0&ima_ml_entry=0" >"$T/q.code"
[ "$(cat "$T/q.code")" = 200 ] && /usr/bin/python3 - "$T/q.json" "$NODE_IMA_D" "$NODE_EVENTLOG_D" <<'PY'
import base64, json, sys
r = json.load(open(sys.argv[1]))["results"]
assert r["quote"].startswith("r"), r["quote"][:8]
assert r["ima_measurement_list"] == open(sys.argv[2]).read()
assert r["ima_measurement_list_entry"] == 0
assert base64.b64decode(r["mb_measurement_list"]) == open(sys.argv[3], "rb").read()
PY
check quote_with_both_logs_served_as_nobody $?
# A second answer reads the kept descriptors again (from the position it remembered).
curl -s --max-time 30 --cacert "$STATE/server-cert.pem" --cert "$T/ca/verifier.crt" \
	--key "$T/ca/verifier.key" -o "$T/q2.json" -w '%{http_code}' \
	"https://127.0.0.1:$PORT/v2.6/quotes/integrity?nonce=$NONCE&mask=0x400&partial=1&ima_ml_entry=800" >"$T/q2.code"
[ "$(cat "$T/q2.code")" = 200 ] && /usr/bin/python3 - "$T/q2.json" "$NODE_IMA_D" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
lines = open(sys.argv[2]).read().splitlines(True)
assert r["ima_measurement_list"] == "".join(lines[800:]) and r["ima_measurement_list_entry"] == 800
PY
check second_quote_reads_kept_descriptor_again $?
stop_pid "$AGENT_PID"

# --- state files: private ones 0600, no temp file left behind.
[ "$(stat -c %a "$STATE/ak.priv" "$STATE/payload-private.pem" "$STATE/server-private.pem" | tr '\n' ' ')" = "600 600 600 " ] &&
	! ls "$STATE" | grep -q '\.tmp'
check private_state_files_0600 $?

# --- a user that does not exist.
out=$("$BIN/vigil-agent" -n -o agent.user=no-such-user-vigil 2>&1)
[ $? -ne 0 ] && grep -q 'user.*no such user' <<<"$out"
check unknown_user_refused_at_check $?
out=$("$BIN/vigil-agent" -d -o agent.tcti="$TCTI_D" -o agent.state_dir="$STATE" -o agent.registrar= \
	-o agent.user=no-such-user-vigil 2>&1)
[ $? -ne 0 ] && grep -q 'user.*no such user' <<<"$out" && ! grep -q "EK:" <<<"$out"
check unknown_user_refused_at_start $?

# --- a symbolic link planted at a state file's temp path.
STATE=$T/state2
mkdir -m 700 "$STATE" && echo "not yours" >"$T/victim" &&
	ln -s "$T/victim" "$STATE/payload-private.pem.tmp"
! agent_start "$T/agent2.log"
check agent_refuses_planted_link $?
grep -q "payload-private.pem.tmp is a symbolic link" "$T/agent2.log" &&
	[ "$(cat "$T/victim")" = "not yours" ] && [ ! -e "$STATE/payload-private.pem" ]
check planted_link_named_and_target_untouched $?
