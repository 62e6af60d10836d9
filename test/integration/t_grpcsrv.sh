#!/usr/bin/env bash
# common/grpcsrv against a real gRPC client (python3-grpcio).
# Setup: test/tools/grpc_smoke serving two unary methods and a streaming one, plaintext and then mutual TLS with
# certificates made by openssl for this run. Expected: replies decode; NOT_FOUND,
# UNIMPLEMENTED and INVALID_ARGUMENT come back with their messages; a server stream sent
# from another thread arrives whole and in order, and a client's cancel reaches its
# producer; without a client certificate, or with one from another CA, the call fails.
. "$(dirname "$0")/lib.sh"
SMOKE=$TOP/build/tools/grpc_smoke
CLIENT=$TOP/test/integration/grpc_client.py
export VIGIL_PB_DIR=$T/pb

wait_ready() { # wait_ready LOG: until the smoke server says ready (5 s)
	for _ in $(seq 50); do grep -q ready "$1" && return 0; sleep 0.1; done
	echo "grpc_smoke did not start:" >&2
	cat "$1" >&2
	return 1
}
port=$(free_port)
spawn "$T/smoke.log" "$SMOKE" "127.0.0.1:$port"
wait_ready "$T/smoke.log" || exit 1
out=$("$CLIENT" "127.0.0.1:$port" ListPolicies '{"kind":"POLICY_KIND_MB"}' 2>&1)
echo "$out"
grep -q '"name": "smoke", "kind": "POLICY_KIND_MB", "size": 42' <<<"$out"
check "plaintext unary call round-trips" $?
out=$("$CLIENT" "127.0.0.1:$port" GetNode '{"uuid":"n1"}')
[ "$out" = "ERROR NOT_FOUND node n1 not found" ]
check "handler status and details reach the client" $?
out=$("$CLIENT" "127.0.0.1:$port" NoSuchMethod)
[ "$out" = "ERROR UNIMPLEMENTED unknown method /vigil.v1.Verifier/NoSuchMethod" ]
check "unknown method is UNIMPLEMENTED" $?
out=$("$CLIENT" "127.0.0.1:$port" GetNode --raw-hex ffffff)
[ "$out" = "ERROR INVALID_ARGUMENT cannot decode NodeRequest" ]
check "undecodable request is INVALID_ARGUMENT" $?
out=$(/usr/bin/python3 - "127.0.0.1:$port" <<'PY'
import grpc, sys
ch = grpc.insecure_channel(sys.argv[1])
call = ch.unary_stream("/vigil.v1.Verifier/SmokeStream", request_serializer=None,
                       response_deserializer=None)
msgs = [m.decode() for m in call(bytes([200]), timeout=10)]
print("all" if msgs == ["message %d" % i for i in range(200)] else "bad %r" % msgs[:3])
it = call(bytes([0]), timeout=10)  # no end until we cancel
next(it), next(it)
it.cancel()
msgs = [m.decode() for m in call(bytes([3]), timeout=10)]
print("after" if msgs == ["message 0", "message 1", "message 2"] else "bad %r" % msgs)
PY
)
[ "$out" = "$(printf 'all\nafter')" ]
check "server streaming: 200 messages in order through a 64-message send queue" $?
for _ in $(seq 50); do grep -q "stream producer stopped after" "$T/smoke.log" && break; sleep 0.1; done
grep -q "stream closed before it finished" "$T/smoke.log" &&
	grep -q "stream producer stopped after" "$T/smoke.log"
check "a client that cancels a stream stops its producer (close callback)" $?

# Mutual TLS: a CA, a server cert for 127.0.0.1, a client cert; and a stranger CA.
mkcert() { # mkcert NAME CA SAN
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
		-keyout "$T/$1.key" -out "$T/$1.csr" 2>/dev/null
	printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$3" >"$T/$1.ext"
	openssl x509 -req -in "$T/$1.csr" -CA "$T/$2.crt" -CAkey "$T/$2.key" -CAcreateserial \
		-days 2 -extfile "$T/$1.ext" -out "$T/$1.crt" 2>/dev/null
}
for ca in ca other; do
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$ca" \
		-days 2 -keyout "$T/$ca.key" -out "$T/$ca.crt" 2>/dev/null
done
mkcert server ca IP:127.0.0.1
mkcert client ca DNS:client
mkcert stranger other DNS:stranger
tport=$(free_port)
spawn "$T/smoke-tls.log" "$SMOKE" "127.0.0.1:$tport" "$T/server.crt" "$T/server.key" "$T/ca.crt"
wait_ready "$T/smoke-tls.log" || exit 1
out=$("$CLIENT" "127.0.0.1:$tport" ListPolicies '{}' --ca "$T/ca.crt" --cert "$T/client.crt" \
	--key "$T/client.key")
grep -q '"name": "smoke"' <<<"$out"
check "mutual TLS call with a good client certificate" $?
out=$(GRPC_VERBOSITY=NONE "$CLIENT" "127.0.0.1:$tport" ListPolicies '{}' --ca "$T/ca.crt" --timeout 3)
grep -q '^ERROR UNAVAILABLE' <<<"$out"
check "mutual TLS refuses a client without a certificate" $?
out=$(GRPC_VERBOSITY=NONE "$CLIENT" "127.0.0.1:$tport" ListPolicies '{}' --ca "$T/ca.crt" \
	--cert "$T/stranger.crt" --key "$T/stranger.key" --timeout 3)
grep -q '^ERROR UNAVAILABLE' <<<"$out"
check "mutual TLS refuses a certificate from another CA" $?
