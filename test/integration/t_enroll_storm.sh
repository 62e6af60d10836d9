#!/usr/bin/env bash
# The enrollment storm at small N: vigil-loadgen's nodes enroll at a real vigil-registrar
# as Keylime agents do, and the fleet's vigilctl adds them to a verifier in one batch.
# Setup: a registrar whose ek_ca_dir holds a test EK CA (ECC P-256, made here with
#   openssl); a verifier; the loadgen with 50 ECC nodes, each with an ECC P-256 EK whose
#   certificate that CA issued.
# Actions and expected outcome:
#   - the loadgen registers and activates all 50 (POST with EK, EK certificate and AK, a
#     software ActivateCredential of the registrar's blob, PUT the auth_tag) and says so;
#   - the registrar lists the 50 and serves each one's record (it answers only for
#     activated enrollments);
#   - a node whose EK certificate another CA issued is refused (403), and the loadgen
#     exits 1 saying why;
#   - vigilctl add --file reads the 50 from the registrar, checks their EK certificates and
#     adds them in one AddNodes call; every node then attests.
. "$(dirname "$0")/lib.sh"

LG=$BIN/vigil-loadgen
N=50
[ -x "$LG" ] || { echo "not ok vigil-loadgen built"; exit 1; }

# The fleet CA (TLS) and a test EK CA, and a second EK CA the registrar does not trust.
"$BIN/vigilctl" ca init "$T/ca" >/dev/null &&
	"$BIN/vigilctl" ca issue "$T/ca" verifier --both >/dev/null &&
	"$BIN/vigilctl" ca issue "$T/ca" registrar --server >/dev/null &&
	"$BIN/vigilctl" ca issue "$T/ca" admin --client >/dev/null &&
	"$BIN/vigilctl" ca issue "$T/ca" loadgen --server --san 127.0.0.1 >/dev/null || exit 1
for d in ekca rogue; do
	mkdir -p "$T/$d"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=loadgen $d" -keyout "$T/$d/ca.key" -out "$T/$d/ca.crt" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
		2>/dev/null || exit 1
done
mkdir -p "$T/ek-ca-dir"
cp "$T/ekca/ca.crt" "$T/ek-ca-dir/"
EK_CA_DIR=$T/ek-ca-dir

REGISTRAR_ADDR=127.0.0.1:$(free_port)
REGISTRAR_TLS_ADDR=127.0.0.1:$(free_port)
spawn "$T/registrar.log" "$BIN/vigil-registrar" -d -o registrar.listen="$REGISTRAR_ADDR" \
	-o registrar.tls_listen="$REGISTRAR_TLS_ADDR" -o registrar.tls_cert="$T/ca/registrar.crt" \
	-o registrar.tls_key="$T/ca/registrar.key" -o registrar.trusted_client_ca="$T/ca/ca.crt" \
	-o registrar.ek_ca_dir="$EK_CA_DIR" -o registrar.state_dir="$T" \
	-o registrar.database="sqlite:$T/registrar.db" -o registrar.metrics_listen= -o registrar.grpc_listen=
REGISTRAR_PID=$!
for _ in $(seq 100); do
	curl -sf "http://$REGISTRAR_ADDR/version" >/dev/null && break
	sleep 0.1
done

# wait_line FILE PATTERN PID: until FILE has a line matching PATTERN (or PID exits).
wait_line() {
	for _ in $(seq 600); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		kill -0 "$3" 2>/dev/null || break
		sleep 0.1
	done
	grep -q "$2" "$1"
}

base=$(free_port_range $N) || { echo "not ok $N free ports"; exit 1; }
spawn "$T/loadgen.log" "$LG" -n $N --port "$base" --cert "$T/ca/loadgen.crt" \
	--key "$T/ca/loadgen.key" --client-ca "$T/ca/ca.crt" --pcr-policy-out "$T/pcr.json" \
	--nodes-out "$T/nodes.jsonl" --registrar "$REGISTRAR_ADDR" \
	--ek-ca-cert "$T/ekca/ca.crt" --ek-ca-key "$T/ekca/ca.key" --register-conns 8
LPID=$!
wait_line "$T/loadgen.log" "^ready: $N nodes" $LPID
check "the loadgen comes up after enrolling its nodes" $?
grep -q "^registered: $N of $N nodes at $REGISTRAR_ADDR in .* p99 " "$T/loadgen.log"
check "every node registered and activated at the registrar (POST, ActivateCredential, PUT auth_tag)" $?
grep "^registered:" "$T/loadgen.log"

admin=(--cacert "$T/ca/ca.crt" --cert "$T/ca/admin.crt" --key "$T/ca/admin.key")
sed -n 's/.*"uuid": "\([^"]*\)".*/\1/p' "$T/nodes.jsonl" >"$T/uuids"
curl -sf "${admin[@]}" "https://$REGISTRAR_TLS_ADDR/v2.6/agents" >"$T/list.json" &&
	/usr/bin/python3 -c '
import json, sys
got = set(json.load(open(sys.argv[1]))["results"]["uuids"])
want = set(open(sys.argv[2]).read().split())
sys.exit(0 if len(want) == int(sys.argv[3]) and got == want else 1)' "$T/list.json" "$T/uuids" $N
check "the registrar lists the $N enrolled nodes" $?
ok=0
while read -r u; do
	curl -sf "${admin[@]}" "https://$REGISTRAR_TLS_ADDR/v2.6/agents/$u" -o "$T/rec.json" &&
		/usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"]; sys.exit(0 if r["ekcert"] and r["aik_tpm"] else 1)' "$T/rec.json" &&
		ok=$((ok + 1))
done <"$T/uuids"
[ $ok = $N ]
check "the registrar serves each node's record: every enrollment is activated ($ok of $N)" $?

rbase=$(free_port_range 1) || exit 1
"$LG" -n 1 --port "$rbase" --cert "$T/ca/loadgen.crt" --key "$T/ca/loadgen.key" \
	--client-ca "$T/ca/ca.crt" --registrar "$REGISTRAR_ADDR" \
	--ek-ca-cert "$T/rogue/ca.crt" --ek-ca-key "$T/rogue/ca.key" >"$T/rogue.log" 2>&1
[ $? = 1 ] && grep -q "1 of 1 nodes could not enroll.*HTTP 403" "$T/rogue.log"
check "a node whose EK certificate an unknown CA issued is refused (403)" $?

# The operator's path: vigilctl add --file, one AddNodes call for all of them.
verifier_start v -o verifier.quote_interval=1 || exit 1
vctl policy put lg-pcr --kind pcr "$T/pcr.json" >/dev/null &&
	"$BIN/vigilctl" add --file "$T/uuids" --pcr-policy lg-pcr --verifier "$VERIFIER_ADDR" \
		--insecure --registrar "$REGISTRAR_TLS_ADDR" --tls-ca "$T/ca/ca.crt" \
		--tls-cert "$T/ca/admin.crt" --tls-key "$T/ca/admin.key" --ek-ca-dir "$EK_CA_DIR" \
		>"$T/add.out" 2>"$T/add.err"
[ $? = 0 ] && [ "$(grep -c ' added$' "$T/add.out")" = $N ] &&
	grep -q "AddNodes: $N of $N nodes added" "$T/v.log"
check "vigilctl add --file checks each node at the registrar and adds all $N in one AddNodes call" $?
n=0
for _ in $(seq 300); do
	n=$(vctl list 2>/dev/null | grep -c " GET_QUOTE ")
	[ "$n" = $N ] && break
	sleep 0.1
done
[ "$n" = $N ]
check "every enrolled node is attested (GET_QUOTE: $n of $N)" $?
