#!/usr/bin/env bash
# What the verifier says when it cannot reach an agent, and how soon.
# Setup: one verifier (plaintext gRPC) with request_timeout 30 s but connect_timeout 3 s and
# answer_timeout 0.5 s, retry_interval 0.2 s, max_retries 1 (FAILED after two missed
# contacts); three agent addresses: a free port nothing listens on, a blackhole.py
# listener that accepts TCP and never speaks TLS, and fake_agent.py in "slow" mode (TLS,
# /version answered, quote requests never answered).
# Actions and expected outcomes: each node reaches FAILED within a few seconds, long before
# request_timeout, and its status names the real cause: "connection refused", "cannot
# connect: timed out after 3000 ms" (in the TLS handshake), "slow answer". (3 s to connect
# leaves a loaded machine's TLS handshake with the slow agent room to finish.) A verifier
# started with a low soft open-file limit raises it to the hard limit and logs the room.
. "$(dirname "$0")/lib.sh"
verifier_start v1 -o verifier.request_timeout=30 -o verifier.connect_timeout=3 \
	-o verifier.answer_timeout=0.5 -o verifier.max_retries=1 || exit 1
akb64=$(base64 -w0 "$TOP/test/unit/data/tpm2/ak_rsa.pub")
"$BIN/vigilctl" ca issue "$T/ca" fake --server >/dev/null || exit 1
mtls=$(cat "$T/ca/fake.crt")

add() { # add UUID PORT
	vgrpc AddNode "$(/usr/bin/python3 -c 'import json,sys; print(json.dumps({"node": {"uuid": sys.argv[1], "ip": "127.0.0.1", "port": int(sys.argv[2]), "ak_tpm": sys.argv[3], "mtls_cert": sys.argv[4]}}))' "$1" "$2" "$akb64" "$mtls")" >/dev/null
}
ready() { # ready OUTFILE: until the helper printed "ready"
	for _ in $(seq 50); do grep -q ready "$1" && return 0; sleep 0.1; done
	return 1
}
# failed_with UUID REGEX: FAILED within 20 s, and the status' last failure matches REGEX.
failed_with() {
	wait_node_state "$1" FAILED 20 >/dev/null || return 1
	vctl status "$1" | grep -E "^last failure: +comm_error: .*$2" >/dev/null ||
		{ vctl status "$1" | sed 's/^/#   /'; return 1; }
}

add refused "$(free_port)" && failed_with refused "cannot connect: connection refused"
check "nothing listening: FAILED, reported as connection refused" $?

port=$(free_port)
spawn "$T/bh.out" "$TOP/test/integration/blackhole.py" "$port" "$T/bh.log" hold
ready "$T/bh.out" && add silent "$port" &&
	failed_with silent "cannot connect: timed out after 3000 ms"
check "TCP accepted but no TLS: FAILED after connect_timeout, not request_timeout" $?

port=$(free_port)
spawn "$T/slow.out" "$TOP/test/integration/fake_agent.py" "$port" "$T/ca/fake.crt" \
	"$T/ca/fake.key" "$T/slow.log" slow
ready "$T/slow.out" && add slow "$port" && failed_with slow "slow answer: nothing within 500 ms"
check "an agent that does not answer its quote request: FAILED as a slow answer" $?
grep -q "node slow: no answer (.*slow answer" "$T/v1.log"
check "each slow answer is logged as such" $?

# The open-file limit: one descriptor per node's agent connection. Started with a soft limit
# of 512, the verifier raises it to the hard limit and says how many nodes that allows.
hard=$(ulimit -Hn)
vport=$(free_port)
spawn "$T/v2.log" bash -c 'ulimit -Sn 512 && exec "$@"' sh "$BIN/vigil-verifier" -d \
	-o verifier.grpc_insecure=yes -o verifier.grpc_listen="127.0.0.1:$vport" \
	-o verifier.state_dir="$T/v2" -o verifier.tls_cert="$T/ca/verifier.crt" \
	-o verifier.tls_key="$T/ca/verifier.key" -o verifier.trusted_client_ca="$T/ca/ca.crt" \
	-o verifier.metrics_listen=
for _ in $(seq 100); do grep -q "gRPC on" "$T/v2.log" && break; sleep 0.1; done
if [ "$hard" = unlimited ]; then
	grep -q "gRPC on" "$T/v2.log"
else
	grep -q "open-file limit $hard: room for about $((hard - 128)) nodes" "$T/v2.log"
fi
check "the verifier raises its open-file limit to the hard limit ($hard) and logs the room" $?

# The memory of answers arriving at once is bounded per worker: three agents each sending a
# 600 KB answer slowly, with a budget of 1 MiB on the verifier's one worker: the answer
# that would take the total over it is dropped (a comm error naming the budget), and the
# verifier goes on serving the API.
vport=$(free_port)
spawn "$T/v3.log" "$BIN/vigil-verifier" -d -o verifier.grpc_insecure=yes \
	-o verifier.grpc_listen="127.0.0.1:$vport" -o verifier.state_dir="$T/v3" \
	-o verifier.tls_cert="$T/ca/verifier.crt" -o verifier.tls_key="$T/ca/verifier.key" \
	-o verifier.trusted_client_ca="$T/ca/ca.crt" -o verifier.workers=1 \
	-o verifier.max_response=1048576 -o verifier.max_round_response=65536 \
	-o verifier.answer_budget=1 -o verifier.retry_interval=0.2 -o verifier.max_retries=1000 \
	-o verifier.exponential_backoff=no -o verifier.metrics_listen=
for _ in $(seq 100); do grep -q "gRPC on" "$T/v3.log" && break; sleep 0.1; done
VERIFIER_ADDR=127.0.0.1:$vport
for i in 1 2 3; do
	port=$(free_port)
	spawn "$T/trickle$i.out" "$TOP/test/integration/fake_agent.py" "$port" "$T/ca/fake.crt" \
		"$T/ca/fake.key" "$T/trickle$i.log" trickle
	ready "$T/trickle$i.out" && add "big$i" "$port"
done
for _ in $(seq 150); do grep -q "reached their memory budget (1048576 bytes)" "$T/v3.log" && break; sleep 0.1; done
grep -q "no answer (127.0.0.1:[0-9]*: answer dropped after [0-9]* bytes: the answers in flight on this thread reached their memory budget (1048576 bytes))" "$T/v3.log" &&
	vctl list >/dev/null
check "answers over the worker's memory budget are dropped as comm errors; the API still answers" $?
