#!/usr/bin/env bash
# The agent's TPM side on swtpm, checked against tpm2-tools and openssl.
# Setup: a swtpm provisioned by swtpm_setup (RSA-2048 EK at 0x81010001 and NIST P-384 EK
# at 0x81010016 from the high range, both with certificates from a local CA in $T).
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

free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# tpm_new NAME: provision a swtpm state in $T/NAME (once per test file, then copied).
tpm_provision() {
	mkdir -p "$T/ca" "$T/tpm0"
	cat >"$T/localca.conf" <<-EOF
	statedir = $T/ca
	signingkey = $T/ca/signkey.pem
	issuercert = $T/ca/issuercert.pem
	certserial = $T/ca/certserial
	EOF
	cat >"$T/setup.conf" <<-EOF
	create_certs_tool = /usr/bin/swtpm_localca
	create_certs_tool_config = $T/localca.conf
	create_certs_tool_options = /etc/swtpm-localca.options
	active_pcr_banks = sha256
	EOF
	swtpm_setup --tpm2 --tpm-state "$T/tpm0" --create-ek-cert --config "$T/setup.conf" \
		--write-ek-cert-files "$T" >"$T/swtpm_setup.log" 2>&1
}

# tpm_start NAME: start a swtpm on a copy of the provisioned state; sets TCTI.
tpm_start() {
	local port
	rm -rf "$T/$1"
	cp -a "$T/tpm0" "$T/$1"
	for _ in 1 2 3 4 5; do
		port=$(free_port)
		spawn "$T/$1.log" swtpm socket --tpm2 --tpmstate dir="$T/$1" \
			--server type=tcp,port=$port,bindaddr=127.0.0.1 \
			--ctrl type=tcp,port=$((port + 1)),bindaddr=127.0.0.1 \
			--flags not-need-init,startup-clear
		TCTI=swtpm:host=127.0.0.1,port=$port
		export TPM2TOOLS_TCTI=$TCTI
		for _ in $(seq 50); do
			tpm2_getcap handles-persistent >/dev/null 2>&1 && return 0
			sleep 0.1
		done
	done
	return 1
}

# kv KEY FILE: the value of key=value line KEY.
kv() { sed -n "s/^$1=//p" "$2"; }

tpm_provision
check swtpm_provisioned $?
tpm_start tpmA
check swtpm_started $?

# --- EKs: the persistent RSA-2048 and P-384 EKs swtpm made, read through the templates.
for spec in rsa2048:0x81010001:ek-rsa2048.crt ecc384:0x81010016:ek-secp384r1.crt; do
	IFS=: read -r alg handle crt <<<"$spec"
	d=$T/out-$alg && mkdir -p "$d"
	"$PROBE" -T "$TCTI" -e "$alg" -o "$d" >"$d/probe.txt" 2>"$d/probe.err"
	tpm2_readpublic -c "$handle" -f tss -o "$d/ref.pub" >/dev/null 2>&1
	[ "$(kv ek_persistent "$d/probe.txt")" = 1 ] && cmp -s "$d/ek.pub" "$d/ref.pub"
	check "ek_${alg}_persistent_matches_tpm2_readpublic" $?
	openssl x509 -inform der -in "$T/$crt" -outform pem -out "$d/ref.pem" &&
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
tpm_start tpmB # fresh copy with the persistent EKs back

# --- agent.ek_handle: a named persistent key is used as it is.
d=$T/out-handle && mkdir -p "$d"
"$PROBE" -T "$TCTI" -e ecc256 -H 0x81010016 -o "$d" >"$d/probe.txt" 2>"$d/probe.err"
[ "$(kv ek_persistent "$d/probe.txt")" = 1 ] && cmp -s "$d/ek.pub" "$T/out-ecc384/ek.pub" &&
	[ "$(kv ek_certs "$d/probe.txt")" = 1 ]
check ek_handle_used_as_is $?

# --- EK certificate chain from NV 0x01c00100..: EK cert first, then the chain.
openssl x509 -in "$T/ca/issuercert.pem" -outform der -out "$T/inter.der"
d=$T/out-chain && mkdir -p "$d"
tpm2_nvdefine 0x01c00100 -C o -s "$(stat -c %s "$T/inter.der")" \
	-a "ownerread|ownerwrite|authread|authwrite|no_da" >/dev/null 2>&1 &&
	tpm2_nvwrite 0x01c00100 -C o -i "$T/inter.der" >/dev/null 2>&1 &&
	"$PROBE" -T "$TCTI" -o "$d" >"$d/probe.txt" 2>"$d/probe.err"
cat "$T/out-rsa2048/ref.pem" "$T/ca/issuercert.pem" >"$d/ref.pem"
[ "$(kv ek_certs "$d/probe.txt")" = 2 ] &&
	diff <(openssl crl2pkcs7 -nocrl -certfile "$d/ek_chain.pem" | openssl pkcs7 -print_certs -noout) \
		<(openssl crl2pkcs7 -nocrl -certfile "$d/ref.pem" | openssl pkcs7 -print_certs -noout) \
		>/dev/null &&
	cmp -s <(head -c "$(stat -c %s "$T/out-rsa2048/ref.pem")" "$d/ek_chain.pem") "$T/out-rsa2048/ref.pem"
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
# listen port is taken, so the agent stops right after printing its UUID.
AGENT=$BIN/vigil-agent
for spec in rsa2048:0x81010001 ecc384:0x81010016; do
	IFS=: read -r alg handle <<<"$spec"
	tpm2_readpublic -c "$handle" -f pem -o "$T/ek-$alg.pem" >/dev/null 2>&1
	want=$(sha256sum "$T/ek-$alg.pem" | cut -d' ' -f1)
	mkdir -p "$T/agent-$alg"
	"$AGENT" -d -o agent.tcti="$TCTI" -o agent.ek_alg=$alg -o agent.uuid=hash_ek \
		-o agent.state_dir="$T/agent-$alg" -o agent.registrar= \
		-o agent.trusted_client_ca=/nonexistent -o agent.listen=256.0.0.1:1 \
		>"$T/agent-$alg.log" 2>&1
	got=$(sed -n 's/.*agent UUID \([0-9a-f]*\).*/\1/p' "$T/agent-$alg.log" | head -1)
	[ -n "$want" ] && [ "$got" = "$want" ]
	check "hash_ek_uuid_$alg" $?
done
exit 0
