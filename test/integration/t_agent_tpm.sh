#!/usr/bin/env bash
# The agent's TPM side on swtpm, checked against tpm2-tools and openssl.
# Setup: swtpms from lib.sh's harness (RSA-2048 EK at 0x81010001 and NIST P-384 EK at
# 0x81010016 from the high range, certificates from a local CA: root -> intermediate -> EK).
# Actions: build/tools/tpm_probe (agent/tpm.c) reads EKs, certificates, makes and reloads
# AKs, activates tpm2_makecredential blobs and quotes; vigil-agent derives its hash_ek UUID.
# Expected: every value equals what tpm2-tools computes independently.
. "$(dirname "$0")/lib.sh"

PROBE=$TOP/build/tools/tpm_probe
for tool in swtpm swtpm_setup tpm2_readpublic tpm2_makecredential tpm2_createek openssl; do
	if ! command -v $tool >/dev/null; then
		echo "skip agent_tpm: $tool not installed"
		exit 0
	fi
done
[ -x "$PROBE" ] || { echo "not ok agent_tpm: $PROBE not built"; exit 1; }

# use_tpm NAME: start (provision on first use) swtpm NAME from lib.sh; TCTI points at it.
use_tpm() {
	swtpm_start "$1" || return 1
	local v=TCTI_$1
	TCTI=${!v}
	export TPM2TOOLS_TCTI=$TCTI
}

# kv KEY FILE: the value of key=value line KEY.
kv() { sed -n "s/^$1=//p" "$2"; }

use_tpm A
check swtpm_started $?

# --- EKs: the persistent RSA-2048 and P-384 EKs swtpm made, read through the templates;
# their certificates as tpm2_nvread and openssl see them.
for spec in rsa2048:0x81010001:0x01c00002 ecc384:0x81010016:0x01c00016; do
	IFS=: read -r alg handle nv <<<"$spec"
	d=$T/out-$alg && mkdir -p "$d"
	"$PROBE" -T "$TCTI" -e "$alg" -o "$d" >"$d/probe.txt" 2>"$d/probe.err"
	tpm2_readpublic -c "$handle" -f tss -o "$d/ref.pub" >/dev/null 2>&1
	[ "$(kv ek_persistent "$d/probe.txt")" = 1 ] && cmp -s "$d/ek.pub" "$d/ref.pub"
	check "ek_${alg}_persistent_matches_tpm2_readpublic" $?
	tpm2_nvread -C o "$nv" -o "$d/ref.der" >/dev/null 2>&1 &&
		openssl x509 -inform der -in "$d/ref.der" -outform pem -out "$d/ref.pem" &&
		[ "$(kv ek_certs "$d/probe.txt")" = 1 ] && cmp -s "$d/ek_chain.pem" "$d/ref.pem"
	check "ek_${alg}_cert_from_nv" $?
done

# --- ECC P-256 EK: not provisioned by swtpm, so created from template L-2; tpm2-tools
# creates the same key from its own copy of the template.
d=$T/out-ecc256 && mkdir -p "$d"
"$PROBE" -T "$TCTI" -e ecc256 -o "$d" >"$d/probe.txt" 2>"$d/probe.err"
tpm2_createek -G ecc -c "$d/ref.ctx" -u "$d/ref.pub" >/dev/null 2>&1
tpm2_flushcontext -t >/dev/null 2>&1
[ "$(kv ek_persistent "$d/probe.txt")" = 0 ] && [ "$(kv ek_certs "$d/probe.txt")" = 0 ] &&
	cmp -s "$d/ek.pub" "$d/ref.pub"
check ek_ecc256_created_equals_tpm2_createek $?

# --- The templates are exact: with the persistent EKs evicted, CreatePrimary from our
# templates gives the very keys swtpm_setup made (same unique, policy, symmetric...).
tpm2_evictcontrol -C o -c 0x81010001 >/dev/null 2>&1 &&
	tpm2_evictcontrol -C o -c 0x81010016 >/dev/null 2>&1
check evict_persistent_eks $?
for alg in rsa2048 ecc384; do
	d=$T/out-$alg-created && mkdir -p "$d"
	"$PROBE" -T "$TCTI" -e "$alg" -o "$d" >"$d/probe.txt" 2>"$d/probe.err"
	[ "$(kv ek_persistent "$d/probe.txt")" = 0 ] && cmp -s "$d/ek.pub" "$T/out-$alg/ek.pub"
	check "ek_${alg}_template_recreates_swtpm_ek" $?
done
use_tpm B # a fresh TPM, persistent EKs in place

# --- agent.ek_handle: a named persistent key is used as it is.
d=$T/out-handle && mkdir -p "$d"
"$PROBE" -T "$TCTI" -e ecc256 -H 0x81010016 -o "$d" >"$d/probe.txt" 2>"$d/probe.err"
tpm2_readpublic -c 0x81010016 -f tss -o "$d/ref.pub" >/dev/null 2>&1
[ "$(kv ek_persistent "$d/probe.txt")" = 1 ] && cmp -s "$d/ek.pub" "$d/ref.pub" &&
	[ "$(kv ek_certs "$d/probe.txt")" = 1 ]
check ek_handle_used_as_is $?

# --- EK certificate chain from NV 0x01c00100..: EK cert first, then the chain.
openssl x509 -in "$EK_CA_DIR/intermediate.pem" -outform der -out "$T/inter.der"
d=$T/out-chain && mkdir -p "$d"
tpm2_nvdefine 0x01c00100 -C o -s "$(stat -c %s "$T/inter.der")" \
	-a "ownerread|ownerwrite|authread|authwrite|no_da" >/dev/null 2>&1 &&
	tpm2_nvwrite 0x01c00100 -C o -i "$T/inter.der" >/dev/null 2>&1 &&
	"$PROBE" -T "$TCTI" -o "$d" >"$d/probe.txt" 2>"$d/probe.err"
tpm2_nvread -C o 0x01c00002 -o "$d/ek.der" >/dev/null 2>&1
openssl x509 -inform der -in "$d/ek.der" >"$d/ek.pem" 2>/dev/null
cat "$d/ek.pem" "$EK_CA_DIR/intermediate.pem" >"$d/ref.pem"
[ "$(kv ek_certs "$d/probe.txt")" = 2 ] &&
	diff <(openssl crl2pkcs7 -nocrl -certfile "$d/ek_chain.pem" | openssl pkcs7 -print_certs -noout) \
		<(openssl crl2pkcs7 -nocrl -certfile "$d/ref.pem" | openssl pkcs7 -print_certs -noout) \
		>/dev/null &&
	cmp -s <(head -c "$(stat -c %s "$d/ek.pem")" "$d/ek_chain.pem") "$d/ek.pem"
check ek_cert_chain_ek_first $?
tpm2_nvundefine 0x01c00100 -C o >/dev/null 2>&1

# --- AKs under each EK: created once, reloaded (same key) after a restart; restricted
# signing attributes; ActivateCredential of a tpm2_makecredential blob; a quote that
# tpm2_checkquote accepts.
printf 'abcdefghijklmnopqrstuvwxyz012345' >"$T/secret"
for ek in rsa2048 ecc256 ecc384; do
	for ak in rsa ecc; do
		n=${ek}_ak_$ak
		s=$T/state-$n && d=$T/out-$n && mkdir -p "$s" "$d"
		"$PROBE" -T "$TCTI" -e $ek -a $ak -s "$s" -o "$d" >"$d/1.txt" 2>"$d/1.err"
		cp "$d/ak.pub" "$d/ak1.pub"
		"$PROBE" -T "$TCTI" -e $ek -a $ak -s "$s" -o "$d" >"$d/2.txt" 2>"$d/2.err"
		[ "$(kv ak_created "$d/1.txt")" = 1 ] && [ "$(kv ak_created "$d/2.txt")" = 0 ] &&
			cmp -s "$d/ak1.pub" "$d/ak.pub" && cmp -s "$d/ak.pub" "$s/ak.pub" &&
			[ "$(kv ak_name "$d/1.txt")" = "$(kv ak_name "$d/2.txt")" ]
		check "${n}_reused_after_restart" $?

		tpm2_print -t TPM2B_PUBLIC "$d/ak.pub" >"$d/ak.txt" 2>&1
		grep -q 'value: fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign$' "$d/ak.txt" &&
			if [ $ak = rsa ]; then grep -q 'value: rsassa' "$d/ak.txt"; else grep -q 'value: ecdsa' "$d/ak.txt"; fi
		check "${n}_restricted_signing_key" $?

		tpm2_makecredential -T none -u "$d/ek.pub" -s "$T/secret" -n "$(kv ak_name "$d/1.txt")" \
			-o "$d/blob" >/dev/null 2>&1 &&
			"$PROBE" -T "$TCTI" -e $ek -a $ak -s "$s" -b "$d/blob" >"$d/3.txt" 2>"$d/3.err" &&
			[ "$(kv credential "$d/3.txt")" = abcdefghijklmnopqrstuvwxyz012345 ]
		check "${n}_activate_credential" $?

		"$PROBE" -T "$TCTI" -e $ek -a $ak -s "$s" -q Nonce20charsAbCdEfGh -o "$d" >"$d/4.txt" 2>"$d/4.err" &&
			tpm2_checkquote -u "$d/ak.pub" -m "$d/quote.attest" -s "$d/quote.sig" -g sha256 \
				-q "$(printf Nonce20charsAbCdEfGh | od -An -tx1 | tr -d ' \n')" >"$d/checkquote.txt" 2>&1
		check "${n}_quote_verifies" $?
	done
done

# A blob made for one EK does not activate with another.
"$PROBE" -T "$TCTI" -e ecc256 -a rsa -s "$T/state-ecc256_ak_rsa" \
	-b "$T/out-rsa2048_ak_rsa/blob" >/dev/null 2>&1
[ $? -ne 0 ]
check activate_wrong_ek_refused $?

# An AK whose kind no longer matches agent.ak_alg is replaced, not misused.
"$PROBE" -T "$TCTI" -e rsa2048 -a ecc -s "$T/state-rsa2048_ak_rsa" >"$T/swap.txt" 2>"$T/swap.err"
[ "$(kv ak_created "$T/swap.txt")" = 1 ] && grep -q ecdsa "$T/swap.txt"
check ak_kind_change_makes_new_ak $?

# An AK from another EK does not load and is replaced.
cp "$T/state-ecc384_ak_rsa/ak.pub" "$T/state-ecc384_ak_rsa/ak.priv" "$T/state-rsa2048_ak_ecc/" 2>/dev/null
"$PROBE" -T "$TCTI" -e rsa2048 -a rsa -s "$T/state-rsa2048_ak_ecc" >"$T/foreign.txt" 2>"$T/foreign.err"
[ "$(kv ak_created "$T/foreign.txt")" = 1 ]
check ak_from_other_ek_replaced $?

# --- vigil-agent's hash_ek UUID = hex SHA-256 of the EK public key PEM, computed here
# independently with tpm2_readpublic -f pem and sha256sum. Registration is off and the
# listen address is impossible, so the agent stops right after printing its UUID.
AGENT=$BIN/vigil-agent
for spec in rsa2048:0x81010001 ecc384:0x81010016; do
	IFS=: read -r alg handle <<<"$spec"
	tpm2_readpublic -c "$handle" -f pem -o "$T/ek-$alg.pem" >/dev/null 2>&1
	want=$(sha256sum "$T/ek-$alg.pem" | cut -d' ' -f1)
	mkdir -p "$T/agent-$alg"
	"$AGENT" -d -o agent.tcti="$TCTI" -o agent.ek_alg=$alg -o agent.uuid=hash_ek \
		-o agent.state_dir="$T/agent-$alg" -o agent.registrar= \
		-o agent.trusted_client_ca=/dev/null -o agent.listen=256.0.0.1:1 \
		>"$T/agent-$alg.log" 2>&1
	got=$(sed -n 's/.*agent UUID \([0-9a-f]*\).*/\1/p' "$T/agent-$alg.log" | head -1)
	[ -n "$want" ] && [ "$got" = "$want" ]
	check "hash_ek_uuid_$alg" $?
done

# An EK without a certificate in NV (swtpm has no P-256 one): the agent says so and
# which setting to change.
mkdir -p "$T/agent-ecc256"
"$AGENT" -d -o agent.tcti="$TCTI" -o agent.ek_alg=ecc256 -o agent.state_dir="$T/agent-ecc256" \
	-o agent.registrar= -o agent.trusted_client_ca=/dev/null -o agent.listen=256.0.0.1:1 \
	>"$T/agent-ecc256.log" 2>&1
grep -q "EK: ecc256 created from the template, 0 certificate(s)" "$T/agent-ecc256.log" &&
	grep -q "holds no certificate for this EK (ecc256).*try another agent.ek_alg" "$T/agent-ecc256.log"
check agent_says_ek_cert_missing $?

# Unusable NV contents are reported and left out, never fatal: garbage in a chain index,
# garbage where the P-256 EK certificate goes. A certificate for another key (the RSA EK's
# certificate put at the P-256 index) is sent as it is, with a warning naming the setting.
printf 'not a certificate at all' >"$T/garbage"
tpm2_nvdefine 0x01c00101 -C o -s 24 -a "ownerread|ownerwrite|authread|authwrite|no_da" >/dev/null 2>&1 &&
	tpm2_nvwrite 0x01c00101 -C o -i "$T/garbage" >/dev/null 2>&1 &&
	"$PROBE" -T "$TCTI" -o "$T/out-chain" >"$T/garbage-chain.txt" 2>"$T/garbage-chain.err" &&
	[ "$(kv ek_certs "$T/garbage-chain.txt")" = 1 ] && grep -q "skipping EK chain index 0x01c00101" "$T/garbage-chain.err"
check ek_chain_garbage_skipped $?
tpm2_nvundefine 0x01c00101 -C o >/dev/null 2>&1
tpm2_nvdefine 0x01c0000a -C o -s 24 -a "ownerread|ownerwrite|authread|authwrite|no_da" >/dev/null 2>&1 &&
	tpm2_nvwrite 0x01c0000a -C o -i "$T/garbage" >/dev/null 2>&1 &&
	"$PROBE" -T "$TCTI" -e ecc256 >"$T/garbage-ek.txt" 2>"$T/garbage-ek.err" &&
	[ "$(kv ek_certs "$T/garbage-ek.txt")" = 0 ] && grep -q "EK certificate in NV 0x01c0000a is unusable" "$T/garbage-ek.err"
check ek_cert_garbage_left_out $?
tpm2_nvundefine 0x01c0000a -C o >/dev/null 2>&1
tpm2_nvread -C o 0x01c00002 -o "$T/rsa-ek.der" >/dev/null 2>&1 &&
	tpm2_nvdefine 0x01c0000a -C o -s "$(stat -c %s "$T/rsa-ek.der")" \
		-a "ownerread|ownerwrite|authread|authwrite|no_da" >/dev/null 2>&1 &&
	tpm2_nvwrite 0x01c0000a -C o -i "$T/rsa-ek.der" >/dev/null 2>&1 &&
	"$AGENT" -d -o agent.tcti="$TCTI" -o agent.ek_alg=ecc256 -o agent.state_dir="$T/agent-ecc256" \
		-o agent.registrar= -o agent.trusted_client_ca=/dev/null -o agent.listen=256.0.0.1:1 \
		>"$T/agent-mismatch.log" 2>&1
grep -q "EK certificate in the TPM's NV is for another key than the EK in use" "$T/agent-mismatch.log"
check agent_warns_ek_cert_for_other_key $?
tpm2_nvundefine 0x01c0000a -C o >/dev/null 2>&1

# --- vigil-agent as a daemon on the swtpm: HTTPS with client certificates, and (when
# vigil-registrar is built) registration + activation, AK reuse across restarts and the
# 403 explanation when the AK changes.
mkdir -p "$T/tls" && (
	cd "$T/tls" || exit 1
	for n in ca other; do
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
			-subj "/CN=test $n CA" -keyout $n-ca.key -out $n-ca.crt \
			-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign &&
			openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$n client" \
				-keyout $n-client.key -out $n-client.csr &&
			printf 'extendedKeyUsage=clientAuth\n' >client.ext &&
			openssl x509 -req -in $n-client.csr -CA $n-ca.crt -CAkey $n-ca.key -CAcreateserial \
				-days 2 -extfile client.ext -out $n-client.crt || exit 1
	done
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=registrar" \
		-keyout server.key -out server.csr &&
		printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >server.ext &&
		openssl x509 -req -in server.csr -CA ca-ca.crt -CAkey ca-ca.key -CAcreateserial -days 2 \
			-extfile server.ext -out server.crt
) >"$T/tls.log" 2>&1
check tls_fixture $?

# wait_log FILE TEXT [PID]: wait up to 15 s for TEXT in FILE (early out when PID died).
wait_log() {
	for _ in $(seq 150); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		[ -n "${3:-}" ] && ! kill -0 "$3" 2>/dev/null && return 1
		sleep 0.1
	done
	return 1
}

REG=
# Until the registrar is merged its binary is a skeleton without an EK CA setting.
if [ -x "$BIN/vigil-registrar" ] && "$BIN/vigil-registrar" -p | grep -q '^ek_ca_dir'; then
	REG_PORT=$(free_port)
	REG_TLS_PORT=$(free_port)
	mkdir -p "$T/regstate"
	printf '[registrar]\nlisten = 127.0.0.1:%s\ntls_listen = 127.0.0.1:%s\n' \
		"$REG_PORT" "$REG_TLS_PORT" >"$T/registrar.conf"
	printf 'tls_cert = %s\ntls_key = %s\ntrusted_client_ca = %s\nek_ca_dir = %s\nstate_dir = %s\n' \
		"$T/tls/server.crt" "$T/tls/server.key" "$T/tls/ca-ca.crt" "$EK_CA_DIR" "$T/regstate" \
		>>"$T/registrar.conf"
	spawn "$T/registrar.log" "$BIN/vigil-registrar" -d -c "$T/registrar.conf" \
		-o registrar.metrics_listen= -o registrar.grpc_listen=
	wait_log "$T/registrar.log" "registrar ready" $! && REG=127.0.0.1:$REG_PORT
	check registrar_started $?
else
	echo "skip agent_registers: vigil-registrar not built (or not yet the real one)"
fi

AG_PORT=$(free_port)
mkdir -p "$T/agentd"
{
	echo "[agent]"
	echo "uuid = hash_ek"
	echo "tcti = $TCTI"
	echo "ek_alg = rsa2048"
	echo "ak_alg = rsa"
	echo "state_dir = $T/agentd"
	echo "registrar = $REG"
	echo "registrar_retries = 2"
	echo "contact_port = $AG_PORT"
	echo "listen = 127.0.0.1:$AG_PORT"
	echo "trusted_client_ca = $T/tls/ca-ca.crt"
} >"$T/agent.conf"
"$AGENT" -n -c "$T/agent.conf" >/dev/null 2>&1
check agent_config_ok $?
UUID=$(sha256sum "$T/ek-rsa2048.pem" | cut -d' ' -f1)
URL=https://127.0.0.1:$AG_PORT
# Verifiers trust the agent's self-signed certificate as an anchor (from the registrar).
CURL=(curl -s --max-time 10 --cacert "$T/agentd/server-cert.pem" --cert "$T/tls/ca-client.crt"
	--key "$T/tls/ca-client.key")

spawn "$T/agentd1.log" "$AGENT" -d -c "$T/agent.conf"
AG_PID=$!
wait_log "$T/agentd1.log" "serving the agent API" $AG_PID
check agent_serves $?
grep -q "AK: rsa2048 created" "$T/agentd1.log"
check agent_ak_created_first_start $?
if [ -n "$REG" ]; then
	grep -q "agent $UUID registered and activated" "$T/agentd1.log"
	check agent_registers_and_activates $?
	# The registrar holds exactly our AK, our TLS certificate and our contact port.
	code=$(curl -s -o "$T/regrec.json" -w '%{http_code}' --cacert "$T/tls/ca-ca.crt" \
		--cert "$T/tls/ca-client.crt" --key "$T/tls/ca-client.key" \
		"https://127.0.0.1:$REG_TLS_PORT/v2.6/agents/$UUID")
	[ "$code" = 200 ] && /usr/bin/python3 -c '
import base64, json, sys
r = json.load(open(sys.argv[1]))["results"]
assert base64.b64decode(r["aik_tpm"]) == open(sys.argv[2], "rb").read()
assert r["mtls_cert"] == open(sys.argv[3]).read()
assert r["port"] == int(sys.argv[4]) and r["ip"] == "127.0.0.1"' \
		"$T/regrec.json" "$T/agentd/ak.pub" "$T/agentd/server-cert.pem" "$AG_PORT"
	check registrar_record_has_our_ak_cert_and_port $?
fi

out=$("${CURL[@]}" "$URL/version")
[ "$out" = '{"code":200,"status":"Success","results":{"supported_version":"2.6","supported_versions":["2.1","2.2","2.3","2.4","2.5","2.6"]}}' ]
check agent_version_over_mtls $?
out=$("${CURL[@]}" "$URL/v2.6/agent/info")
/usr/bin/python3 -c '
import json, sys
r = json.loads(sys.argv[1])["results"]
assert r["agent_uuid"] == sys.argv[2] and r["tpm_hash_alg"] == "sha256"
assert r["tpm_enc_alg"] == "rsa2048" and r["tpm_sign_alg"] == "rsassa"
assert isinstance(r["ak_handle"], int) and r["ak_handle"] >> 24 == 0x80' "$out" "$UUID"
check agent_info $?
out=$("${CURL[@]}" "$URL/v2.4/agent/info")
[[ $out == *'"tpm_enc_alg":"rsa"'* ]]
check agent_info_legacy_alg_names_before_2_5 $?
out=$("${CURL[@]}" -w ' %{http_code}' "$URL/v2.7/agent/info")
[ "$out" = '{"code":400,"status":"API version not supported: v2.7","results":{}} 400' ]
check agent_unknown_version_400 $?
out=$("${CURL[@]}" -o /dev/null -w '%{http_code}' -X POST "$URL/v2.6/agent/info")
[ "$out" = 405 ]
check agent_wrong_method_405 $?
out=$("${CURL[@]}" -o /dev/null -w '%{http_code}' "$URL/v2.6/no/such/thing")
[ "$out" = 400 ]
check agent_unknown_path_400 $?
curl -s --max-time 10 --cacert "$T/agentd/server-cert.pem" "$URL/version" >/dev/null 2>&1
[ $? -ne 0 ]
check agent_refuses_without_client_cert $?
curl -s --max-time 10 --cacert "$T/agentd/server-cert.pem" --cert "$T/tls/other-client.crt" \
	--key "$T/tls/other-client.key" "$URL/version" >/dev/null 2>&1
[ $? -ne 0 ]
check agent_refuses_client_cert_of_other_ca $?
openssl x509 -in "$T/agentd/server-cert.pem" -noout -subject -ext subjectAltName 2>/dev/null |
	tr -d ' \n' | grep -q "CN=$UUID.*IPAddress:127.0.0.1"
check agent_cert_cn_uuid_san_contact_ip $?

kill "$AG_PID"
wait_log "$T/agentd1.log" "shutting down"
sleep 0.5
[ -z "$(tpm2_getcap handles-transient 2>/dev/null)" ]
check agent_flushes_tpm_objects_on_exit $?

cp "$T/agentd/ak.pub" "$T/agentd-ak1.pub"
spawn "$T/agentd2.log" "$AGENT" -d -c "$T/agent.conf"
AG_PID=$!
wait_log "$T/agentd2.log" "serving the agent API" $AG_PID &&
	grep -q "AK: rsa2048 reloaded" "$T/agentd2.log" && cmp -s "$T/agentd/ak.pub" "$T/agentd-ak1.pub"
check agent_reuses_ak_after_restart $?
if [ -n "$REG" ]; then
	grep -q "agent $UUID registered and activated" "$T/agentd2.log"
	check agent_reregisters_same_identity $?
fi
kill "$AG_PID"
wait_log "$T/agentd2.log" "shutting down"

if [ -n "$REG" ]; then
	# A new AK for a registered UUID: the registrar refuses, the agent says what to do.
	mkdir -p "$T/agentd/old" && mv "$T/agentd/ak.pub" "$T/agentd/ak.priv" "$T/agentd/old/"
	"$AGENT" -d -c "$T/agent.conf" >"$T/agentd3.log" 2>&1
	rc=$?
	[ $rc -ne 0 ] && grep -q "403 Forbidden.*an admin must delete the old record" "$T/agentd3.log"
	check agent_403_says_admin_must_delete $?
fi
exit 0
