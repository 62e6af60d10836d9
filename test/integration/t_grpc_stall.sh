#!/usr/bin/env bash
# No gRPC client can stall another. Setup: one verifier on loopback with a 2 s receive
# deadline (verifier.grpc_recv_timeout) and the default cap of 16 calls per client address.
# Actions (test/integration/grpc_stall.py, all at once for 8 s): python3-grpcio clients
# call ListNodes, AddNode and RemoveNode in a loop from 127.0.0.1; beside them, 4 grpcio
# calls at a time open and never send their request, a raw HTTP/2 client sends its request
# one byte a second (127.0.0.3), another opens 20 calls that never send (127.0.0.2), and
# a TCP connection never sends the HTTP/2 preface (127.0.0.4).
# Expected: every normal call answers within its 2 s deadline (the stall lasts four times
# longer; before, one silent call froze the whole API); the stalled calls end with the
# server's DEADLINE_EXCEEDED; of the 20 calls from one address, 16 are served until their
# deadline and the 4 over the cap are answered RESOURCE_EXHAUSTED, while 127.0.0.1 is
# still served; the silent connection is closed (gRPC's own default waits 120 s).
. "$(dirname "$0")/lib.sh"
verifier_start v1 -o verifier.grpc_recv_timeout=2 || exit 1
out=$(VIGIL_PB_DIR=$T/pb /usr/bin/python3 "$TOP/test/integration/grpc_stall.py" \
	"$VERIFIER_ADDR" --duration 8 --ak "$TOP/test/unit/data/tpm2/ak_rsa.pub" \
	--cert "$T/ca/verifier.crt" --peer-calls 20 2>&1)
echo "$out" | sed 's/^/# /'
val() { awk -v k="$1" '$1 == k { $1 = ""; sub(/^ /, ""); print }' <<<"$out"; }

[ "$(val normal_calls)" -ge 9 ] 2>/dev/null && [ "$(val normal_failed)" = 0 ] &&
	[ "$(val normal_max_ms)" -lt 2000 ]
check "every ListNodes/AddNode/RemoveNode answers within 2 s while other calls stall" $?
[ "$(val stall_calls)" -ge 4 ] 2>/dev/null &&
	[ "$(val stall_ended)" = "{\"DEADLINE_EXCEEDED\": $(val stall_calls)}" ]
check "calls that never send their request end with the server's DEADLINE_EXCEEDED" $?
[ "$(val drip_calls)" -ge 1 ] 2>/dev/null &&
	grep -Eq '^\{("(DEADLINE_EXCEEDED|CANCELLED|RST)": [0-9]+(, )?)+\}$' <<<"$(val drip_ended)"
check "a request sent one byte a second ends with DEADLINE_EXCEEDED or CANCELLED" $?
flood=$(val flood)
[ "$(tr ' ' '\n' <<<"$flood" | grep -c '^RESOURCE_EXHAUSTED$')" = 4 ] &&
	[ "$(tr ' ' '\n' <<<"$flood" | grep -Ec '^(DEADLINE_EXCEEDED|CANCELLED|RST)$')" = 16 ]
check "20 silent calls from one address: 16 served until their deadline, 4 RESOURCE_EXHAUSTED" $?
grep -q "refusing calls from 127.0.0.2: too many calls from this address" "$T/v1.log"
check "the refusal is logged with the client's address" $?
grep -q "^silent_connection closed" <<<"$out"
check "a connection that never sends the HTTP/2 preface is closed (handshake deadline)" $?
vctl list >/dev/null
check "the API still answers after the stalls" $?
