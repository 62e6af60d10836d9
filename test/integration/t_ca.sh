#!/usr/bin/env bash
# Setup: vigilctl, openssl, an empty directory.
# Actions: vigilctl ca init, ca issue for a server, a client and a dual-use certificate;
# openssl verify them for each purpose; a real mutual-TLS handshake between openssl
# s_server and s_client with the issued files; a second init, an overwriting issue and
# bad arguments; every configuration key and option the printed next steps name is tried
# on the tool it belongs to, and the printed commands are run.
# Expected: the certificates chain to the CA, serve only their purpose, carry the default
# or given SANs, complete a handshake in which the server checks the client certificate;
# an existing CA or certificate is never overwritten (exit 1) and bad arguments exit 2
# with a message; every printed key and option exists (daemon -n, vigilctl.conf, vigilctl).
. "$(dirname "$0")/lib.sh"

V=$BIN/vigilctl
CA=$T/fleet/ca

out=$("$V" ca init "$CA" --cn "t_ca fleet CA" 2>&1)
check "ca init" $?
[ -f "$CA/ca.crt" ] && [ "$(stat -c %a "$CA/ca.key")" = 600 ] &&
	[ "$(stat -c %a "$CA/ca.crt")" = 644 ] && [ "$(stat -c %a "$CA")" = 700 ]
check "ca init writes ca.crt 0644 and ca.key 0600 in a 0700 directory" $?
grep -q "registrar.trusted_client_ca" <<<"$out" && grep -q "agent.trusted_client_ca" <<<"$out" &&
	grep -q "vigilctl ca issue $CA registrar --server" <<<"$out"
check "ca init prints the next steps with the config keys" $?
openssl x509 -in "$CA/ca.crt" -noout -subject | grep -q "t_ca fleet CA" &&
	openssl x509 -in "$CA/ca.crt" -noout -ext basicConstraints | grep -q "CA:TRUE, pathlen:0"
check "the CA certificate has the given CN and is a CA" $?

sum=$(sha256sum "$CA/ca.crt" "$CA/ca.key")
out=$("$V" ca init "$CA" 2>&1)
rc=$?
[ $rc -eq 1 ] && grep -q "refusing to overwrite" <<<"$out" &&
	[ "$(sha256sum "$CA/ca.crt" "$CA/ca.key")" = "$sum" ]
check "ca init refuses to overwrite an existing CA (exit 1, files unchanged)" $?

"$V" ca issue "$CA" srv --server >"$T/issue-srv.out" 2>&1 &&
	"$V" ca issue "$CA" cli --client >/dev/null 2>&1 &&
	"$V" ca issue "$CA" ver --both --san verifier.example.com --san 192.0.2.10 --days 30 \
		>/dev/null 2>&1
check "ca issue --server, --client, --both" $?
[ "$(stat -c %a "$CA/srv.key")" = 600 ] && [ "$(stat -c %a "$CA/cli.key")" = 600 ] &&
	[ "$(stat -c %a "$CA/srv.crt")" = 644 ]
check "issued keys are mode 0600" $?
grep -q "registrar.tls_cert *= $CA/srv.crt" "$T/issue-srv.out" &&
	grep -q "registrar.tls_key *= $CA/srv.key" "$T/issue-srv.out"
check "ca issue --server prints which config keys take the files" $?

out=$(openssl verify -CAfile "$CA/ca.crt" "$CA/srv.crt" "$CA/cli.crt" "$CA/ver.crt" 2>&1)
[ "$(grep -c ": OK$" <<<"$out")" = 3 ]
check "openssl verify -CAfile: all three chain to the CA" $?
openssl verify -CAfile "$CA/ca.crt" -purpose sslserver "$CA/srv.crt" >/dev/null 2>&1 &&
	openssl verify -CAfile "$CA/ca.crt" -purpose sslclient "$CA/cli.crt" >/dev/null 2>&1 &&
	openssl verify -CAfile "$CA/ca.crt" -purpose sslserver "$CA/ver.crt" >/dev/null 2>&1 &&
	openssl verify -CAfile "$CA/ca.crt" -purpose sslclient "$CA/ver.crt" >/dev/null 2>&1
check "each certificate verifies for its purpose" $?
out1=$(openssl verify -CAfile "$CA/ca.crt" -purpose sslclient "$CA/srv.crt" 2>&1)
rc1=$?
out2=$(openssl verify -CAfile "$CA/ca.crt" -purpose sslserver "$CA/cli.crt" 2>&1)
rc2=$?
[ $rc1 -ne 0 ] && [ $rc2 -ne 0 ] && grep -q "unsuitable certificate purpose" <<<"$out1$out2"
check "a server certificate is no client certificate and vice versa" $?

sans=$(openssl x509 -in "$CA/srv.crt" -noout -ext subjectAltName)
grep -q "IP Address:127.0.0.1" <<<"$sans" && grep -q "IP Address:0:0:0:0:0:0:0:1" <<<"$sans" &&
	grep -q "DNS:localhost" <<<"$sans"
check "--server without --san gets 127.0.0.1, ::1 and localhost" $?
sans=$(openssl x509 -in "$CA/ver.crt" -noout -ext subjectAltName)
grep -q "DNS:verifier.example.com" <<<"$sans" && grep -q "IP Address:192.0.2.10" <<<"$sans" &&
	! grep -q localhost <<<"$sans"
check "--san entries replace the defaults" $?
end=$(openssl x509 -in "$CA/ver.crt" -noout -enddate | cut -d= -f2)
days=$((($(date -d "$end" +%s) - $(date +%s) + 43200) / 86400))
[ "$days" = 30 ]
check "--days 30 gives 30 days" $?

# A real handshake: the server demands a client certificate from our CA.
port=$(free_port)
spawn "$T/s_server.log" openssl s_server -accept "127.0.0.1:$port" -cert "$CA/srv.crt" \
	-key "$CA/srv.key" -CAfile "$CA/ca.crt" -Verify 1 -verify_return_error -www
srv_pid=$!
for _ in $(seq 50); do
	grep -q ACCEPT "$T/s_server.log" 2>/dev/null && break
	sleep 0.1
done
# s_client: $1.. extra options; sends one request and prints what came back.
tls_get() {
	printf 'GET / HTTP/1.0\r\n\r\n' | timeout 10 openssl s_client -connect "127.0.0.1:$port" \
		-CAfile "$CA/ca.crt" -verify_return_error -brief -ign_eof "$@" 2>&1
}
out=$(tls_get -cert "$CA/cli.crt" -key "$CA/cli.key" -verify_hostname localhost)
grep -q "Verification: OK" <<<"$out" && grep -q "Peer certificate: CN = srv" <<<"$out" &&
	grep -q "Subject: CN=cli" <<<"$out"
check "mutual TLS handshake: client checks the server, server checks the client" $?
out=$(tls_get -cert "$CA/cli.crt" -key "$CA/cli.key" -verify_ip 127.0.0.1)
grep -q "Verification: OK" <<<"$out"
check "the server certificate matches IP 127.0.0.1" $?
out=$(tls_get)
! grep -q "Subject: CN=cli" <<<"$out" && grep -qi "certificate required" <<<"$out"
check "no client certificate: the server refuses" $?
out=$(tls_get -cert "$CA/cli.crt" -key "$CA/cli.key" -verify_hostname registrar.example.com)
! grep -q "Verification: OK" <<<"$out" && ! grep -q "Subject: CN=cli" <<<"$out"
check "wrong host name: the client refuses" $?
# A client certificate from another CA is refused.
"$V" ca init "$T/other" >/dev/null 2>&1 && "$V" ca issue "$T/other" intruder --client >/dev/null 2>&1
out=$(tls_get -cert "$T/other/intruder.crt" -key "$T/other/intruder.key")
! grep -q "Subject: CN=intruder" <<<"$out"
check "a client certificate from another CA is refused" $?
# A server certificate used as a client certificate is refused (wrong purpose).
out=$(tls_get -cert "$CA/srv.crt" -key "$CA/srv.key")
! grep -q "Subject: CN=srv" <<<"$out"
check "a server-only certificate cannot log in as a client" $?
kill "$srv_pid" 2>/dev/null
wait "$srv_pid" 2>/dev/null
! kill -0 "$srv_pid" 2>/dev/null
check "s_server stopped" $?

# Never overwrite an issued certificate unless asked to.
sum=$(sha256sum "$CA/srv.crt" "$CA/srv.key")
out=$("$V" ca issue "$CA" srv --server 2>&1)
rc=$?
[ $rc -eq 1 ] && grep -q -- "--force" <<<"$out" && [ "$(sha256sum "$CA/srv.crt" "$CA/srv.key")" = "$sum" ]
check "ca issue refuses to overwrite NAME.crt (exit 1, says --force)" $?
"$V" ca issue "$CA" srv --server --san 127.0.0.1 --force >/dev/null 2>&1 &&
	[ "$(sha256sum "$CA/srv.crt" "$CA/srv.key")" != "$sum" ] &&
	openssl verify -CAfile "$CA/ca.crt" -purpose sslserver "$CA/srv.crt" >/dev/null 2>&1
check "ca issue --force renews" $?
out=$("$V" ca issue "$T/nowhere" x --client 2>&1)
[ $? -eq 1 ] && grep -q "vigilctl ca init" <<<"$out"
check "ca issue without a CA says to run ca init (exit 1)" $?

# Bad arguments: exit 2 and a message on stderr naming the problem.
bad() { # bad NAME PATTERN ARGS...
	local name=$1 pat=$2 err rc
	shift 2
	err=$("$V" ca "$@" 2>&1 >/dev/null)
	rc=$?
	[ $rc -eq 2 ] && grep -q -- "$pat" <<<"$err"
	check "bad args exit 2: $name" $?
}
bad "no subcommand" "missing the subcommand"
bad "unknown subcommand" "unknown subcommand" frobnicate
bad "init without DIR" "missing the directory" init
bad "init --days 0" "--days" init "$T/x" --days 0
bad "init --days abc" "--days" init "$T/x" --days abc
bad "init --cn too long" "--cn" init "$T/x" --cn "$(printf 'a%.0s' $(seq 65))"
bad "issue without purpose" "--server, --client or --both" issue "$CA" n
bad "issue with two purposes" "only one" issue "$CA" n --server --client
bad "issue without NAME" "missing" issue "$CA"
bad "issue with a path as NAME" "not usable" issue "$CA" ../evil --client
bad "issue NAME ca" "not usable" issue "$CA" ca --client
bad "issue bad --san" "bad_host" issue "$CA" n --server --san bad_host
bad "issue --san without value" "needs a value" issue "$CA" n --server --san
bad "issue unknown option" "unknown option" issue "$CA" n --server --bogus
bad "issue extra argument" "too many" issue "$CA" n --server extra
[ ! -e "$T/x" ] && [ ! -e "$CA/n.crt" ] && [ ! -e "$CA/evil.crt" ] && [ ! -e "$T/fleet/evil.crt" ]
check "bad arguments create nothing" $?

for h in "--help" "init --help" "issue --help" "help issue"; do
	# shellcheck disable=SC2086
	out=$("$V" ca $h 2>&1) && grep -q "^SYNOPSIS" <<<"$out" && grep -q "^DESCRIPTION" <<<"$out"
	check "vigilctl ca $h" $?
done

# Every configuration key and vigilctl option that 'ca init' and 'ca issue' print exists:
# each daemon key passes that daemon's -n, each vigilctl key loads from a vigilctl.conf,
# each printed vigilctl option is accepted (the command gets as far as connecting: exit 1,
# never a usage error), and the 'ca issue' command lines of step 1 run as printed.
NS=$T/nextsteps
"$V" ca init "$NS" >"$T/ns-init.out" 2>&1 &&
	"$V" ca issue "$NS" srv --server >"$T/ns-srv.out" 2>&1 &&
	"$V" ca issue "$NS" cli --client >"$T/ns-cli.out" 2>&1 &&
	"$V" ca issue "$NS" ver --both >"$T/ns-ver.out" 2>&1
check "next steps: ca init and ca issue --server/--client/--both" $?
keys=$(cat "$T"/ns-*.out | grep -oE '(^|[[:space:],])(registrar|verifier|agent|vigilctl)\.[a-z_]+' |
	sed 's/^[[:space:],]*//' | sort -u)
[ "$(wc -w <<<"$keys")" -ge 8 ]
check "next steps name configuration keys ($(echo $keys))" $?
for k in $keys; do
	sec=${k%%.*}
	if [ "$sec" = vigilctl ]; then
		printf '[vigilctl]\n%s = %s\n' "${k#*.}" "$NS/ca.crt" >"$T/ns.conf"
		out=$("$V" list -c "$T/ns.conf" --verifier 127.0.0.1:1 --insecure 2>&1); rc=$?
		[ $rc -eq 1 ] && grep -q "unavailable" <<<"$out"
	else
		out=$("$BIN/vigil-$sec" -n -o "$k=$NS/ca.crt" 2>&1) && grep -qx "configuration OK" <<<"$out"
	fi
	check "next steps: $k is a key $sec knows" $?
done
opts=$(sed -s -n '/^Next steps/,$p' "$T"/ns-*.out | grep -v "vigilctl ca issue" |
	grep -oE -- '--[a-z][a-z-]*' | sort -u)
[ -n "$opts" ]
check "next steps name vigilctl options ($(echo $opts))" $?
for o in $opts; do
	out=$("$V" list "$o" "$NS/cli.crt" --verifier 127.0.0.1:1 --insecure 2>&1); rc=$?
	[ $rc -eq 1 ] && grep -q "unavailable" <<<"$out"
	check "next steps: vigilctl takes $o" $?
done
# The note of an issue without --san tells how to reissue: those are 'ca issue' options.
"$V" ca issue "$NS" local --server >"$T/ns-local.out" 2>&1
notes=$(grep -A3 "note:" "$T/ns-local.out" | grep -oE -- '--[a-z][a-z-]*' | sort -u)
[ -n "$notes" ]
check "ca issue without --san prints a note naming options ($(echo $notes))" $?
for o in $notes; do
	"$V" ca issue --help | grep -q -- "^ *$o"
	check "the note's $o is a 'ca issue' option" $?
done
line=$(grep -o "vigilctl COMMAND .*" "$T/ns-cli.out")
read -r -a w <<<"${line#vigilctl COMMAND }"
out=$("$V" list "${w[@]}" --verifier 127.0.0.1:1 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "unavailable" <<<"$out"
check "next steps: the printed vigilctl command line loads its TLS files and connects" $?
n=0
while read -r cmd; do
	read -r -a w <<<"${cmd//-HOST/}"
	[ "${w[0]}" = vigilctl ] && "$V" "${w[@]:1}" >/dev/null 2>&1 && n=$((n + 1))
done < <(grep -E '^ +vigilctl ca issue ' "$T/ns-init.out" | sed 's/^ *//; s/[A-Z]*-HOST/localhost/')
[ $n -eq 3 ]
check "next steps: the three 'vigilctl ca issue' lines of ca init run as printed ($n of 3)" $?
