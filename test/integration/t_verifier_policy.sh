#!/usr/bin/env bash
# A policy replaced while nodes use it (vigilctl policy put NAME --replace).
# Setup: a fleet on loopback with one simulated node (swtpm with the real IMA list and
# UEFI log, vigil-agent enrolled), added under a runtime and a measured-boot policy made
# from its own logs.
# Actions and expected outcome: the node attests; its measured-boot policy is replaced by
# one for another machine (another kernel); the node's unchanged log is judged again by
# the new policy at once (INVALID_QUOTE, measured_boot.policy), not waved through by the
# verdict cached for the old policy.
. "$(dirname "$0")/lib.sh"
fleet_start || exit 1
"$BIN/vigilctl" policy create runtime --ima-log "$NODE_IMA_LIST" --output "$T/rt.json" >/dev/null &&
	"$BIN/vigilctl" policy create mb --event-log "$NODE_UEFI_LOG" --output "$T/mb.json" >/dev/null &&
	/usr/bin/python3 -c '
import json, sys
# Another machine: the same boot chain with another kernel. (No other real log in
# test/data gets a policy: policy create refuses the logs the refstate cannot describe.)
p = json.load(open(sys.argv[1]))
k = p["kernels"][0]
k["kernel_authcode_sha256"] = "0x" + "ab" * 32
json.dump(p, open(sys.argv[2], "w"), indent=2)
' "$T/mb.json" "$T/mb-other.json" &&
	! cmp -s "$T/mb.json" "$T/mb-other.json" &&
	fctl policy put rt --kind runtime "$T/rt.json" >/dev/null &&
	fctl policy put mb --kind mb "$T/mb.json" >/dev/null
check "policies from the golden logs, and a measured-boot policy of another machine" $?

fleet_node p || exit 1
count() {
	fctl status "$NODE_UUID_p" --json 2>/dev/null | /usr/bin/python3 -c \
		'import json,sys; print(json.load(sys.stdin)["attestation_count"])' 2>/dev/null
}
fctl add "$NODE_UUID_p" --runtime-policy rt --mb-policy mb >/dev/null &&
	wait_node_state "$NODE_UUID_p" GET_QUOTE 20 >/dev/null &&
	for _ in $(seq 100); do [ "$(count)" -ge 3 ] && break; sleep 0.1; done && [ "$(count)" -ge 3 ]
check "the node attests under its own policies" $?

fctl policy put mb --kind mb "$T/mb-other.json" --replace >/dev/null &&
	wait_node_state "$NODE_UUID_p" INVALID_QUOTE 5 >/dev/null &&
	fctl status "$NODE_UUID_p" | grep -q "^last failure:  measured_boot.policy"
check "a replaced measured-boot policy judges the unchanged UEFI log again" $?
