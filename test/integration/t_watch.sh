#!/usr/bin/env bash
# WatchEvents from a real gRPC client (python3-grpcio).
# Setup: a fleet on loopback with two simulated nodes under a runtime policy made from
# their IMA list; watch_max_stall 1 s.
# Actions and expected outcomes:
#   - a watcher from the start sees every event of a tamper scenario, in the log's order;
#   - a watcher that disconnected after two events and resumes with since_id = the last
#     one it got sees exactly the events it missed, none twice;
#   - node and type filters;
#   - a watcher that never reads while 1,000 events are appended is cut off (the log
#     names it, with the id to resume after), while the other node's rounds go on;
#   - a since_id that does not exist is NOT_FOUND; a malformed one INVALID_ARGUMENT;
#   - the attested and revocation events carry the EAR JWT of their verdict in Event.ear
#     (checked with PyJWT against the public half of the verifier's report.key), others none.
. "$(dirname "$0")/lib.sh"
WATCH=$TOP/test/integration/watch_client.py
fleet_start -o verifier.watch_max_stall=1 || exit 1
export VIGIL_PB_DIR=$T/pb

wait_lines() { # wait_lines FILE N [SECONDS]: until FILE has N lines
	for _ in $(seq $((${3:-20} * 10))); do
		[ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
store_events() { # store_events [AFTER_SEQ]: "<seq> <id> <type> <node>" by ListEvents
	/usr/bin/python3 - "$VERIFIER_ADDR" "${1:-0}" "$TOP" <<'PY'
import os, sys
sys.path.insert(0, os.path.join(sys.argv[3], "test/integration"))
from grpc_client import load_pb
import grpc
pb = load_pb()
ls = grpc.insecure_channel(sys.argv[1]).unary_unary(
    "/vigil.v1.Verifier/ListEvents", request_serializer=pb.ListEventsRequest.SerializeToString,
    response_deserializer=pb.ListEventsResponse.FromString)
tok = ""
while True:
    r = ls(pb.ListEventsRequest(after_seq=int(sys.argv[2]), page_size=1000, page_token=tok))
    for ev in r.events:
        print(ev.seq, ev.id, ev.type, ev.node_uuid or "-")
    tok = r.next_page_token
    if not tok or not r.events:
        break
PY
}

spawn "$T/wa.log" /usr/bin/python3 "$WATCH" "$VERIFIER_ADDR" "$T/wa.out" --from-start
"$BIN/vigilctl" policy create runtime --ima-log "$NODE_IMA_LIST" --output "$T/rt.json" >/dev/null &&
	fctl policy put rt --kind runtime "$T/rt.json" >/dev/null
fleet_node u || exit 1
fctl add "$NODE_UUID_u" --runtime-policy rt >/dev/null &&
	wait_node_state "$NODE_UUID_u" GET_QUOTE 20 >/dev/null &&
	"$NODESIM" "$TCTI_u" ima-append "$NODE_IMA_u" /usr/bin/evil \
		"$(printf evil | sha256sum | cut -d' ' -f1)" >/dev/null &&
	wait_node_state "$NODE_UUID_u" INVALID_QUOTE 10 >/dev/null
check "a node added, attested and tampered with" $?
n=$(store_events | wc -l)
wait_lines "$T/wa.out" "$n" && diff <(store_events) "$T/wa.out" &&
	grep -q " revocation $NODE_UUID_u\$" "$T/wa.out"
check "a watcher from the start gets every event ($n), in order, the revocation included" $?

# ---- the EAR JWT of verdict events ----
openssl pkey -in "$T/fleet-verifier/report.key" -pubout -out "$T/report.pub" &&
	/usr/bin/python3 "$WATCH" "$VERIFIER_ADDR" "$T/wear.out" --from-start --node "$NODE_UUID_u" \
		--ear-pub "$T/report.pub" --count "$(store_events | grep -c " $NODE_UUID_u\$")" &&
	grep -q "^[0-9]* [0-9a-f-]* attested $NODE_UUID_u ear=affirming\$" "$T/wear.out" &&
	grep -q "^[0-9]* [0-9a-f-]* revocation $NODE_UUID_u ear=contraindicated\$" "$T/wear.out" &&
	grep -q "^[0-9]* [0-9a-f-]* node_added $NODE_UUID_u ear=-\$" "$T/wear.out" &&
	! grep -q "ear=INVALID" "$T/wear.out"
check "Event.ear: the attested and revocation events carry their EAR JWT (PyJWT, report.key's public half), node_added none" $? ||
	cat "$T/wear.out"

# ---- resume ----
/usr/bin/python3 "$WATCH" "$VERIFIER_ADDR" "$T/wb1.out" --from-start --count 2 &&
	[ "$(wc -l <"$T/wb1.out")" = 2 ]
check "a watcher takes two events and disconnects" $?
last=$(tail -1 "$T/wb1.out" | cut -d' ' -f2)
printf '{"15": ["%064d"]}\n' 0 >"$T/pcr.json"
fleet_node v || exit 1
for i in 1 2 3; do fctl policy put "p$i" --kind pcr "$T/pcr.json" >/dev/null || break; done &&
	fctl add "$NODE_UUID_v" --runtime-policy rt >/dev/null &&
	wait_node_state "$NODE_UUID_v" GET_QUOTE 20 >/dev/null
check "more events while it is away (3 policies, a second node added and attested)" $?
seq2=$(tail -1 "$T/wb1.out" | cut -d' ' -f1)
want=$(store_events "$seq2" | wc -l)
/usr/bin/python3 "$WATCH" "$VERIFIER_ADDR" "$T/wb2.out" --since "$last" --count "$want" &&
	diff <(store_events "$seq2") "$T/wb2.out"
check "resumed with since_id=$last, it gets exactly the $want events it missed" $?

# ---- filters ----
/usr/bin/python3 "$WATCH" "$VERIFIER_ADDR" "$T/wc.out" --from-start --node "$NODE_UUID_u" \
	--type revocation --count 1 && grep -q "^[0-9]* [0-9a-f-]* revocation $NODE_UUID_u\$" "$T/wc.out"
check "node and type filters: the node's revocation only" $?

# ---- errors ----
/usr/bin/python3 "$WATCH" "$VERIFIER_ADDR" "$T/wd.out" --since 999999-0123456789abcdef &&
	grep -q "^END NOT_FOUND no event 999999-0123456789abcdef" "$T/wd.out"
check "an unknown since_id is NOT_FOUND, named" $?
/usr/bin/python3 "$WATCH" "$VERIFIER_ADDR" "$T/we.out" --since "x'; DROP" &&
	grep -q "^END INVALID_ARGUMENT" "$T/we.out"
check "a malformed since_id is INVALID_ARGUMENT" $?

# ---- a watcher that never reads ----
spawn "$T/ws.log" /usr/bin/python3 "$WATCH" "$VERIFIER_ADDR" "$T/ws.out" --stall
WS_PID=$!
for _ in $(seq 100); do [ "$(grep -c 'WatchEvents from' "$T/fleet-verifier.log")" -ge 7 ] && break; sleep 0.1; done
c0=$(fctl status "$NODE_UUID_v" --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["attestation_count"])')
/usr/bin/python3 - "$VERIFIER_ADDR" "$T/pcr.json" "$TOP" <<'PY'
import os, sys
sys.path.insert(0, os.path.join(sys.argv[3], "test/integration"))
from grpc_client import load_pb
import grpc
pb = load_pb()
ch = grpc.insecure_channel(sys.argv[1])
put = ch.unary_unary("/vigil.v1.Verifier/PutPolicy", request_serializer=pb.PutPolicyRequest.SerializeToString,
                     response_deserializer=pb.PutPolicyResponse.FromString)
dele = ch.unary_unary("/vigil.v1.Verifier/DeletePolicy", request_serializer=pb.PolicyRequest.SerializeToString,
                      response_deserializer=pb.DeletePolicyResponse.FromString)
body = open(sys.argv[2], "rb").read()
for i in range(500):
    put(pb.PutPolicyRequest(policy=pb.Policy(name="flood%d" % i, kind=pb.POLICY_KIND_PCR, body=body)))
    dele(pb.PolicyRequest(name="flood%d" % i))
PY
check "1,000 events appended while one watcher never reads" $?
for _ in $(seq 100); do grep -q "WatchEvents from 127.0.0.1 cut off: this watcher read too slowly" "$T/fleet-verifier.log" && break; sleep 0.1; done
grep -q "WatchEvents from 127.0.0.1 cut off: this watcher read too slowly: .*resume with since_id=[0-9]*-[0-9a-f]\{16\}" "$T/fleet-verifier.log"
check "the watcher that never reads is cut off, with the id to resume after" $?
c1=$(fctl status "$NODE_UUID_v" --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["attestation_count"])')
[ "$c1" -gt "$c0" ] && ! grep -q "$NODE_UUID_v: attestation FAILED" "$T/fleet-verifier.log"
check "the second node's rounds went on meanwhile ($c0 -> $c1), no failure" $?
n=$(store_events | wc -l)
wait_lines "$T/wa.out" "$n" 30 && diff <(store_events) "$T/wa.out"
check "the first watcher, reading, got all $n events in order" $?
stop_pid "$WS_PID"
