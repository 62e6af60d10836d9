#!/usr/bin/env bash
# Costly first rounds are admitted at a bounded rate, and nodes loaded at start are
# spread over the interval.
# Setup: a fleet on loopback, one worker, verifier.first_rounds_per_s = 1; four simulated
# nodes under a runtime policy made from their IMA list (a first round replays all 826
# entries).
# Actions and expected outcomes:
#   - the four nodes are added at once: at least one first round waits its turn (the log
#     says so), and all four are attested;
#   - the verifier restarts: its nodes, loaded from the store, resume where they stood
#     (no full replay: no node waits for admission again) and are all attested. (Their
#     first rounds are spread at random over one quote interval: not asserted, random.)
. "$(dirname "$0")/lib.sh"
fleet_start -o verifier.first_rounds_per_s=1 -o verifier.workers=1 || exit 1
VLOG=$T/fleet-verifier.log
"$BIN/vigilctl" policy create runtime --ima-log "$NODE_IMA_LIST" --output "$T/rt.json" >/dev/null &&
	fctl policy put rt --kind runtime "$T/rt.json" >/dev/null
check "a runtime policy from the golden IMA list" $?
for n in a b c d; do fleet_node "$n" >/dev/null || exit 1; done
adds=()
for n in a b c d; do
	u=NODE_UUID_$n
	fctl add "${!u}" --runtime-policy rt >/dev/null &
	adds+=($!)
done
wait "${adds[@]}"
for n in a b c d; do
	u=NODE_UUID_$n
	wait_node_state "${!u}" GET_QUOTE 30 >/dev/null || break
done
check "four nodes added at once are all attested" $?
grep -q "its first round waits its turn (verifier.first_rounds_per_s = 1)" "$VLOG"
check "with one first round per second, at least one waited its turn" $?

stop_pid "$VERIFIER_PID"
verifier_start fleet-verifier -o verifier.registrar="$REGISTRAR_TLS_ADDR" \
	-o verifier.registrar_ca="$T/ca/ca.crt" -o verifier.first_rounds_per_s=1 \
	-o verifier.workers=1 || exit 1
for n in a b c d; do
	u=NODE_UUID_$n
	wait_node_state "${!u}" GET_QUOTE 30 >/dev/null || break
done
check "after a restart all four attest again" $?
grep -q "vigil-verifier .*: 1 workers, 4 nodes" "$VLOG" &&
	! grep -q "its first round waits its turn" "$VLOG"
check "nodes resuming from their stored IMA position are not held back" $?
