#!/usr/bin/env bash
# common/http against curl, the way operators and other implementations will talk to it.
# Setup: test/tools/http_echo (plain, then TLS with client certificates required, then
# optional), certificates made by openssl for this run: a CA with a server certificate for
# 127.0.0.1 and a client certificate, and an unrelated CA with its own client certificate.
# Expected: round trips carry the Keylime envelope; a body over the limit gets 413 and a
# log line; an idle half-sent request is closed after the timeout; required mode refuses
# clients without a certificate from the CA and logs why; optional mode lets them in and
# the handler can answer 403 itself; keep-alive reuses the connection.
. "$(dirname "$0")/lib.sh"
ECHO=${HTTP_ECHO:-$TOP/build/tools/http_echo}
TIMEOUT=2

command -v curl >/dev/null || { echo "skip curl: curl not installed"; exit 0; }

# start NAME ARGS...: run http_echo, wait for its port, set $port.
start() {
	local name=$1
	shift
	spawn "$T/$name.log" "$ECHO" -v "127.0.0.1:0" "$@"
	port=
	for _ in $(seq 50); do
		port=$(sed -n 's/^port \([0-9]*\)$/\1/p' "$T/$name.log")
		[ -n "$port" ] && break
		sleep 0.1
	done
	[ -n "$port" ] || { echo "not ok $name server did not start"; cat "$T/$name.log"; exit 1; }
}

# idle_closed PORT [TEXT]: open a TCP connection, send TEXT (half a request), then nothing.
# 0 when the server closes it within TIMEOUT+3 seconds.
idle_closed() {
	local start=$SECONDS rc
	exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
	[ -z "${2:-}" ] || printf '%b' "$2" >&3
	timeout $((TIMEOUT + 6)) cat <&3 >/dev/null
	rc=$?
	exec 3>&-
	[ $rc -eq 0 ] && [ $((SECONDS - start)) -le $((TIMEOUT + 3)) ]
}

# ---- plain HTTP ----
start plain 4096 $TIMEOUT
out=$(curl -sS "http://127.0.0.1:$port/v2.1/agents/x?nonce=abc&mask=0x1")
grep -q '"code":200' <<<"$out" && grep -q '"status":"Success"' <<<"$out" &&
	grep -q '"path":"/v2.1/agents/x"' <<<"$out" && grep -q '"query":"nonce=abc&mask=0x1"' <<<"$out"
check "plain GET round trip with the Keylime envelope" $?

out=$(curl -sS -H 'Content-Type: application/json' --data-binary '{"a":1}' \
	"http://127.0.0.1:$port/post")
grep -q '"method":"POST"' <<<"$out" && grep -q '"body_len":7' <<<"$out"
check "plain POST body arrives" $?

head -c 65536 /dev/zero >"$T/big"
# Expect: 100-continue makes curl wait for the server's verdict before sending the body,
# so the 413 is read rather than lost to a reset while curl is still writing (a race that
# loses under load).
code=$(curl -sS -o /dev/null -w '%{http_code}' -H 'Expect: 100-continue' \
	--data-binary @"$T/big" "http://127.0.0.1:$port/post")
[ "$code" = 413 ]
check "body over max_body gets 413" $?
grep -q 'rejected a request from 127.0.0.1:[0-9]*: 413' "$T/plain.log"
check "the 413 is logged with the peer" $?

head -c 4096 /dev/zero >"$T/limit"
out=$(curl -sS --data-binary @"$T/limit" "http://127.0.0.1:$port/post")
grep -q '"body_len":4096' <<<"$out"
check "body of exactly max_body is accepted" $?

out=$(curl -sS -v "http://127.0.0.1:$port/one" "http://127.0.0.1:$port/two" 2>&1)
grep -q '"path":"/two"' <<<"$out" && grep -qi 're-using existing connection' <<<"$out"
check "keep-alive: curl reuses the connection" $?

out=$(curl -sS -o /dev/null -w '%{http_code}' -H "X-Big: $(head -c 20000 /dev/zero | tr '\0' a)" \
	"http://127.0.0.1:$port/")
[ "$out" = 413 ] || [ "$out" = 400 ]
check "headers over the limit are rejected" $?

idle_closed "$port" 'GET / HTTP/1.1\r\nHost: x\r\n'
check "idle half-sent request is closed after the timeout" $?
idle_closed "$port"
check "idle connection without a request is closed after the timeout" $?

# ---- TLS, client certificate required ----
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
TLS=("$T/server.crt" "$T/server.key" "$T/ca.crt")
C=(curl -sS --cacert "$T/ca.crt")

start required 4096 $TIMEOUT "${TLS[@]}" required
out=$("${C[@]}" --cert "$T/client.crt" --key "$T/client.key" "https://127.0.0.1:$port/x")
grep -q '"has_cert":true' <<<"$out"
check "required: good client certificate is served" $?

"${C[@]}" "https://127.0.0.1:$port/x" >/dev/null 2>&1
[ $? -ne 0 ]
check "required: no client certificate fails" $?
"${C[@]}" --cert "$T/stranger.crt" --key "$T/stranger.key" "https://127.0.0.1:$port/x" \
	>/dev/null 2>&1
[ $? -ne 0 ]
check "required: certificate from another CA fails" $?
sleep 0.2
grep -q 'TLS handshake with 127.0.0.1:[0-9]* failed: .*peer did not return a certificate' \
	"$T/required.log"
check "required: missing certificate is logged" $?
grep -q 'TLS handshake with 127.0.0.1:[0-9]* failed: client certificate rejected' \
	"$T/required.log"
check "required: rejected certificate is logged with the reason" $?

curl -sS --cacert "$T/other.crt" "https://127.0.0.1:$port/x" >/dev/null 2>&1
[ $? -ne 0 ]
check "client not trusting the server certificate fails" $?

code=$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/x" 2>/dev/null)
[ "$code" != 200 ]
check "plain HTTP on the TLS port is not served" $?

code=$("${C[@]}" --cert "$T/client.crt" --key "$T/client.key" -o /dev/null -w '%{http_code}' \
	-H 'Expect: 100-continue' --data-binary @"$T/big" "https://127.0.0.1:$port/post")
[ "$code" = 413 ]
check "TLS: body over max_body gets 413" $?

idle_closed "$port"
check "TLS: idle connection without a handshake is closed after the timeout" $?

# ---- TLS, client certificate optional ----
start optional 4096 $TIMEOUT "${TLS[@]}" optional
out=$("${C[@]}" "https://127.0.0.1:$port/x")
grep -q '"has_cert":false' <<<"$out"
check "optional: no certificate is served, handler sees has_cert false" $?
code=$("${C[@]}" -o "$T/out" -w '%{http_code}' "https://127.0.0.1:$port/secure")
[ "$code" = 403 ] && grep -q '"code":403' "$T/out"
check "optional: the handler answers 403 itself" $?
out=$("${C[@]}" --cert "$T/client.crt" --key "$T/client.key" "https://127.0.0.1:$port/secure")
grep -q '"has_cert":true' <<<"$out"
check "optional: good certificate reaches the protected route" $?
"${C[@]}" --cert "$T/stranger.crt" --key "$T/stranger.key" "https://127.0.0.1:$port/x" \
	>/dev/null 2>&1
[ $? -ne 0 ]
check "optional: a presented certificate from another CA fails" $?
out=$("${C[@]}" --tlsv1.2 --tls-max 1.2 --cert "$T/client.crt" --key "$T/client.key" \
	"https://127.0.0.1:$port/x")
grep -q '"has_cert":true' <<<"$out"
check "TLS 1.2 with a client certificate works" $?
# SECLEVEL=0 lets this client offer TLS 1.1; the refusal must come from the server.
out=$(openssl s_client -connect "127.0.0.1:$port" -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' \
	</dev/null 2>&1)
grep -q 'alert protocol version' <<<"$out"
check "TLS 1.1 is refused by the server" $?
