#!/usr/bin/env bash
# Continuous attestation end to end (issue: the verifier checks quotes, the IMA runtime log
# and the UEFI measured-boot log, node by node, round after round).
# Setup: a fleet on loopback (fleet CA, registrar, verifier with quote_interval 0.5 s); each
# node is a swtpm holding the real 826-entry IMA list in PCR 10 and a real UEFI log in PCRs
# 0-9/14, with a vigil-agent enrolled at the registrar and added with vigilctl add (EK
# certificate checked) under a runtime policy and a measured-boot policy made from those
# logs, and a PCR policy for PCR 15.
# Actions and expected outcomes: good nodes (RSA and ECC AKs) attest round after round;
# each tamper puts its node in INVALID_QUOTE within a few intervals with the right event
# id and reason; an agent stopped for a while is retried and recovers without a policy
# failure; a restarted verifier resumes from the stored IMA position.
. "$(dirname "$0")/lib.sh"
VERIFIER_MTLS=1 # gRPC with mutual TLS, as deployed
EVIL=$TOP/test/integration/evil_agent.py

fleet_start || exit 1
Z64=0000000000000000000000000000000000000000000000000000000000000000
printf '{"15": ["%s"]}' $Z64 >"$T/pcr15.json"
"$BIN/vigilctl" policy create runtime --ima-log "$NODE_IMA_LIST" --output "$T/rt.json" >/dev/null &&
	"$BIN/vigilctl" policy create mb --event-log "$NODE_UEFI_LOG" --output "$T/mb.json" >/dev/null &&
	fctl policy put rt --kind runtime "$T/rt.json" >/dev/null &&
	fctl policy put mb --kind mb "$T/mb.json" >/dev/null &&
	fctl policy put pcr15 --kind pcr "$T/pcr15.json" >/dev/null
check "policies built from the golden logs and stored" $?

# add_node NAME [--ip A --port P]: vigilctl add under the three policies.
add_node() {
	local uuid=NODE_UUID_$1
	shift_args=("${@:2}")
	fctl add "${!uuid}" --runtime-policy rt --mb-policy mb --pcr-policy pcr15 "${shift_args[@]}" \
		>"$T/add-$1.out" 2>&1
}
# wait_count NAME N: until the node has at least N successful attestations (20 s).
wait_count() {
	local uuid=NODE_UUID_$1 c
	for _ in $(seq 200); do
		c=$(fctl status "${!uuid}" --json 2>/dev/null | /usr/bin/python3 -c \
			'import json,sys; print(json.load(sys.stdin)["attestation_count"])' 2>/dev/null)
		[ "${c:-0}" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
# first_moved NAME N: poll the status (up to 400 reads) and print the first JSON whose attestation
# count is above N.
first_moved() {
	local uuid=NODE_UUID_$1 j c
	for _ in $(seq 400); do
		j=$(fctl status "${!uuid}" --json 2>/dev/null) || continue
		c=$(printf '%s' "$j" | /usr/bin/python3 -c \
			'import json,sys; print(json.load(sys.stdin)["attestation_count"])' 2>/dev/null)
		[ "${c:-0}" -gt "$2" ] && { printf '%s\n' "$j"; return 0; }
	done
	return 1
}
# expect_failure NAME EVENT_PREFIX REASON_REGEX: INVALID_QUOTE within 5 s with that event.
expect_failure() {
	local uuid=NODE_UUID_$1 j
	wait_node_state "${!uuid}" INVALID_QUOTE 5 >/dev/null 2>&1 || { fctl status "${!uuid}" >&2; return 1; }
	j=$(fctl status "${!uuid}" --json)
	/usr/bin/python3 - "$j" "$2" "$3" <<'PY'
import json, re, sys
n = json.loads(sys.argv[1])
ok = n["last_event_id"].startswith(sys.argv[2]) and re.search(sys.argv[3], n["failure_reason"])
if not ok:
    print("got:", n["last_event_id"], "|", n["failure_reason"], file=sys.stderr)
sys.exit(0 if ok else 1)
PY
}
good() { # good NAME: the node is attested and has passed a few rounds
	local uuid=NODE_UUID_$1
	wait_node_state "${!uuid}" GET_QUOTE 20 >/dev/null && wait_count "$1" 3
}

# ---- good nodes ----
fleet_node g rsa2048 rsa || exit 1
add_node g
check "vigilctl add looks the node up at the registrar and checks its EK certificate" $?
good g
check "RSA AK node: attested round after round (IMA 826 entries, UEFI log, PCR 15)" $?
fctl status "$NODE_UUID_g" | grep -q "IMA position:  entry 826"
check "the IMA position is at the end of the 826-entry list" $?
fctl status "$NODE_UUID_g" --json | /usr/bin/python3 -c \
	'import json,sys; n=json.load(sys.stdin); sys.exit(n["hash_alg"] != "sha256")'
check "GetNode shows the last quote's hash algorithm" $?
fleet_node e ecc384 ecc || exit 1
add_node e && good e
check "ECC AK node (P-384 EK): attested round after round" $?

# ---- tampers, one node each ----
fleet_node t1 && add_node t1 && good t1 &&
	"$NODESIM" "$TCTI_t1" ima-append "$NODE_IMA_t1" /usr/bin/evil-miner \
		"$(printf evil | sha256sum | cut -d' ' -f1)" >/dev/null
expect_failure t1 "ima.validation" "/usr/bin/evil-miner"
check "an unknown file appended to the IMA list (and extended) is caught" $?

fleet_node t2 && add_node t2 && good t2 &&
	known=$(awk 'NR==20 {print $5}' "$NODE_IMA_t2") &&
	"$NODESIM" "$TCTI_t2" ima-append "$NODE_IMA_t2" "$known" \
		"$(printf changed | sha256sum | cut -d' ' -f1)" >/dev/null
expect_failure t2 "ima.validation" "$known"
check "a known file with a new digest is caught, naming the file" $?

fleet_node t3 && add_node t3 && good t3 &&
	"$NODESIM" "$TCTI_t3" pcr-extend 15 sha256 "$Z64" >/dev/null
expect_failure t3 "pcr_validation.invalid_pcr_15" "PCR 15"
check "a PCR outside IMA changed (PCR 15) is caught" $?

fleet_node t4 && add_node t4 && good t4 &&
	sz=$(stat -c %s "$NODE_EVENTLOG_t4") &&
	printf '\xff\xff\xff\xff' | dd of="$NODE_EVENTLOG_t4" bs=1 seek=$((sz - 40)) conv=notrunc 2>/dev/null
expect_failure t4 "measured_boot." "."
check "an edited UEFI event log is caught" $?

fleet_node t5 && add_node t5 && good t5 && sed -i '100d' "$NODE_IMA_t5"
expect_failure t5 "ima." "."
check "a rewritten IMA history (an old entry removed) is caught" $?

# The man in the middle: a proxy with node t6's own certificate in front of its agent.
evil_node() { # evil_node NAME [MODE]: fleet node behind the proxy (mode: pass), added
	local name=$1 port
	fleet_node "$name" || return 1
	port=$(free_port)
	printf -v "EVIL_PORT_$name" '%s' "$port"
	echo "${2:-pass}" >"$T/evil-$name.mode"
	local ap=AGENT_PORT_$name
	spawn "$T/evil-$name.log" "$EVIL" "$port" "$T/agent-$name/server-cert.pem" \
		"$T/agent-$name/server-private.pem" "$T/ca/ca.crt" "127.0.0.1:${!ap}" \
		"$T/agent-$name/server-cert.pem" "$T/ca/verifier.crt" "$T/ca/verifier.key" \
		"$T/evil-$name.mode"
	for _ in $(seq 50); do grep -q ready "$T/evil-$name.log" && break; sleep 0.1; done
	add_node "$name" --ip 127.0.0.1 --port "$port"
}
evil_node t6 && good t6 && echo replay >"$T/evil-t6.mode"
expect_failure t6 "quote_validation.nonce" "."
check "an agent answering with an old quote (wrong nonce) is caught" $?

evil_node t7 && good t7 &&
	echo "upstream 127.0.0.1:$AGENT_PORT_g $T/agent-g/server-cert.pem" >"$T/evil-t7.mode"
expect_failure t7 "quote_validation.signature" "."
check "a quote signed by another TPM's AK is caught" $?

# The list the agent sends loses its last entry on the way; PCR 10 still covers it.
evil_node t8 "truncate-ima 1"
expect_failure t8 "ima.pcr_mismatch" "."
check "a truncated IMA list is caught" $?

# The agent quotes without PCR 4 (the boot loader) from the first round on: the UEFI
# log's PCR 4 events are then bound to nothing, so the quote must not pass.
evil_node t9 "drop-pcr 4"
expect_failure t9 "measured_boot.invalid_pcr" "PCR 4"
check "a quote leaving out a PCR the measured-boot check needs is caught" $?

# The agent answers from IMA entry 0 when a later entry was asked, without a reboot: once
# per boot is Keylime's "list restarted" (replayed, no failure); every round would make the
# verifier replay the whole list each time, so the second time fails the node.
evil_node t10 && good t10 && echo from-zero >"$T/evil-t10.mode"
expect_failure t10 "ima.list_restarted" "a second time in this boot" &&
	[ "$(grep -c "node $NODE_UUID_t10: IMA list restarted at entry 0 without a reboot" "$T/fleet-verifier.log")" = 1 ]
check "an agent restarting its IMA list unasked: accepted once per boot, then caught" $?

# ---- a reboot ----
# Before: the first 700 entries of the list. After the reboot: a different boot whose list
# lacks entry 100 and is longer than 700 entries, so entries asked for by position in the
# old list mean something else in the new one; the verifier must notice the reboot (TPM
# reset count) and read the new list from the start, with no failure.
node_tpm_start r && head -700 "$NODE_IMA_LIST" >"$T/r.ima" && cp "$NODE_UEFI_LOG" "$T/r.eventlog" &&
	"$NODESIM" "$TCTI_r" ima-extend "$T/r.ima" >/dev/null &&
	"$NODESIM" "$TCTI_r" eventlog-extend "$T/r.eventlog" >/dev/null &&
	NODE_IMA_r=$T/r.ima NODE_EVENTLOG_r=$T/r.eventlog NODE_UUID_r=a0a0a0a0-0000-4000-8000-00000000beef \
	AGENT_PORT_r=$(free_port) NODE_EK_r=rsa2048 NODE_AK_r=rsa && fleet_agent_start r &&
	add_node r && good r && fctl status "$NODE_UUID_r" | grep -q "IMA position:  entry 700"
check "a node with a 700-entry IMA list is attested" $?
# The count is read once the old boot can pass no more rounds: the agent is gone and a
# round has failed on it (read before, a round of the old boot answered just then could
# still move the count, with the old boot's position).
stop_pid "$AGENT_PID_r" && wait_node_state "$NODE_UUID_r" GET_QUOTE_RETRY 10 >/dev/null &&
	c_r=$(fctl status "$NODE_UUID_r" --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["attestation_count"])') &&
	TPM2TOOLS_TCTI=$TCTI_r tpm2_shutdown -c && swtpm_restart r &&
	sed '100d' "$NODE_IMA_LIST" >"$NODE_IMA_r" &&
	"$NODESIM" "$TCTI_r" ima-extend "$NODE_IMA_r" >/dev/null &&
	"$NODESIM" "$TCTI_r" eventlog-extend "$NODE_EVENTLOG_r" >/dev/null && fleet_agent_start r &&
	first_moved r "$c_r" >"$T/r-moved.json" &&
	wait_count r $((c_r + 2)) && fctl status "$NODE_UUID_r" | grep -q "^state: *GET_QUOTE " &&
	fctl status "$NODE_UUID_r" | grep -q "IMA position:  entry 825" &&
	grep -q "node $NODE_UUID_r: rebooted" "$T/fleet-verifier.log"
check "after a reboot with a new, different IMA list the node is attested again, no failure" $?
# The first status read after the count moved past the reboot is one round's state: the
# new boot's position (826 entries replayed, entry 825 next), never the old boot's 700
# beside the new count (a status used to mix a live count with a position up to a
# flush interval old).
/usr/bin/python3 -c 'import json,sys; n=json.load(open(sys.argv[1])); sys.exit(0 if n["ima_next_entry"] == 825 else "count %d beside IMA entry %d" % (n["attestation_count"], n["ima_next_entry"]))' "$T/r-moved.json"
check "the first status after the count moves shows that round's IMA position" $?

vdb_query fleet-verifier "SELECT body FROM events WHERE node_uuid = '$NODE_UUID_r' AND type = 'reboot'" |
	/usr/bin/python3 -c '
import json, sys
rows = [l for l in sys.stdin.read().splitlines() if l]
sys.exit(0 if len(rows) == 1 and json.loads(rows[0])["context"].startswith("TPM reset count ") else rows)'
check "one reboot event recorded, with the TPM reset counts" $?

# ---- faults ----
c0=$(fctl status "$NODE_UUID_g" --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["attestation_count"])')
stop_pid "$AGENT_PID_g"
wait_node_state "$NODE_UUID_g" GET_QUOTE_RETRY 10 >/dev/null
check "an agent stopped: the verifier retries" $?
sleep 1
fleet_agent_start g && wait_node_state "$NODE_UUID_g" GET_QUOTE 20 >/dev/null &&
	wait_count g $((c0 + 2))
check "the agent back: the node recovers" $?
! grep -q "node $NODE_UUID_g: attestation FAILED" "$T/fleet-verifier.log"
check "no policy failure was raised for the unreachable agent" $?

stop_pid "$VERIFIER_PID"
verifier_start fleet-verifier || exit 1
wait_node_state "$NODE_UUID_g" GET_QUOTE 20 >/dev/null && wait_count g $((c0 + 4)) &&
	grep -q "node $NODE_UUID_g: resuming at IMA entry 826" "$T/fleet-verifier.log" &&
	! grep -q "node $NODE_UUID_g: IMA list restarted" "$T/fleet-verifier.log"
check "a restarted verifier resumes from the stored IMA position (entry 826)" $?
fctl status "$NODE_UUID_t1" | grep -q "^state: *INVALID_QUOTE"
check "a failed node stays failed across a verifier restart" $?
