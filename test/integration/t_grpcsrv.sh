#!/usr/bin/env bash
# common/grpcsrv against a real gRPC client (python3-grpcio).
# Setup: test/tools/grpc_smoke serving two methods, plaintext and then mutual TLS with
# certificates made by openssl for this run. Expected: replies decode; NOT_FOUND,
# UNIMPLEMENTED and INVALID_ARGUMENT come back with their messages; without a client
# certificate, or with one from another CA, the call fails.
. "$(dirname "$0")/lib.sh"
SMOKE=$TOP/build/tools/grpc_smoke
CLIENT=$TOP/test/integration/grpc_client.py
export VIGIL_PB_DIR=$T/pb

port=$((20000 + RANDOM % 20000))
spawn "$T/smoke.log" "$SMOKE" "127.0.0.1:$port"
for _ in $(seq 50); do grep -q ready "$T/smoke.log" && break; sleep 0.1; done
out=$("$CLIENT" "127.0.0.1:$port" ListPolicies '{"kind":"POLICY_KIND_MB"}')
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
tport=$((port + 1))
spawn "$T/smoke-tls.log" "$SMOKE" "127.0.0.1:$tport" "$T/server.crt" "$T/server.key" "$T/ca.crt"
for _ in $(seq 50); do grep -q ready "$T/smoke-tls.log" && break; sleep 0.1; done
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
