#!/usr/bin/env bash
# An independent client enrolls at vigil-registrar: EK and AK made with tpm2_createek and
# tpm2_createak on their own swtpm (EK certificates from swtpm_setup's local CA, read back
# with tpm2_nvread), registered with curl; the returned blob is opened by
# tpm2_activatecredential under an endorsement policy session; the HMAC over the agent id,
# keyed with base64 of the recovered secret (computed by openssl), activates the agent.
# Then the admin GET shows the record, and it survives a registrar restart.
# Done for an RSA-2048 EK (certificate from NV) and an ECC P-256 EK (its certificate
# issued by the same local CA for this test, since swtpm certifies only its own ECC EK).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registrar_lib.sh"

for tool in swtpm swtpm_setup tpm2_createek tpm2_createak tpm2_activatecredential \
	tpm2_startauthsession tpm2_policysecret sqlite3 curl openssl; do
	command -v $tool >/dev/null || { echo "skip registrar_tpm2tools: $tool not installed"; exit 0; }
done
[ -x "$BIN/vigil-registrar" ] || { echo "not ok registrar_tpm2tools: vigil-registrar not built"; exit 1; }

reg_swtpm "$T/tpm" || exit 1
reg_tls "$T/tls" || { echo "not ok registrar_tpm2tools: TLS setup"; exit 1; }
mkdir -p "$T/ekca" "$T/state"
cp "$REG_LOCALCA/swtpm-localca-rootca-cert.pem" "$T/ekca/swtpm-root.pem"

HP=$(reg_free_port)
SP=$(reg_free_port)
CONF=$T/registrar.conf
cat >"$CONF" <<EOF
[registrar]
listen = 127.0.0.1:$HP
tls_listen = 127.0.0.1:$SP
tls_cert = $T/tls/server.crt
tls_key = $T/tls/server.key
trusted_client_ca = $T/tls/ca-ca.crt
ek_ca_dir = $T/ekca
database = sqlite:$T/state/enroll.db
EOF
reg_start "$T/registrar.log" "$CONF" || exit 1
H=http://127.0.0.1:$HP
S=https://127.0.0.1:$SP
ADMIN=(--cacert "$T/tls/ca-ca.crt" --cert "$T/tls/ca-client.crt" --key "$T/tls/ca-client.key")
R=$T/resp.json

# enroll NAME ALG: the whole agent side of an enrollment with tpm2-tools, curl and openssl.
enroll() {
	local name=$1 alg=$2 d=$T/$1 id=agent-$1 got tag key
	mkdir -p "$d"
	(
		cd "$d" || exit 1
		tpm2_createek -c ek.ctx -G "$alg" -u ek.pub -f tss && tpm2_flushcontext -t &&
			tpm2_createak -C ek.ctx -c ak.ctx -G "$alg" -g sha256 \
				-s "$([ "$alg" = rsa ] && echo rsassa || echo ecdsa)" -u ak.pub -f tss -n ak.name && tpm2_flushcontext -t &&
			if [ "$alg" = rsa ]; then
				tpm2_nvread 0x01c00002 -C o -o ekcert.der
			else
				# swtpm's ECC certificate is for its P-384 EK; certify this P-256 EK with
				# the same local CA intermediate, as a vendor would.
				tpm2_readpublic -c ek.ctx -f pem -o ek.pem &&
					$PY - ek.pem "$REG_LOCALCA" ekcert.der <<'EOF'
import datetime, sys
from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives import hashes, serialization
pub = serialization.load_pem_public_key(open(sys.argv[1], 'rb').read())
inter = open(sys.argv[2] + '/issuercert.pem', 'rb').read()
ic = x509.load_pem_x509_certificate(inter[inter.index(b'-----BEGIN'):])
ik = serialization.load_pem_private_key(open(sys.argv[2] + '/signkey.pem', 'rb').read(), None)
now = datetime.datetime.utcnow()
c = (x509.CertificateBuilder().subject_name(x509.Name([]))
     .issuer_name(ic.subject).public_key(pub).serial_number(x509.random_serial_number())
     .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=365))
     .add_extension(x509.SubjectAlternativeName([x509.DirectoryName(x509.Name([
         x509.NameAttribute(x509.ObjectIdentifier('2.23.133.2.1'), 'id:00001014'),
         x509.NameAttribute(x509.ObjectIdentifier('2.23.133.2.2'), 'swtpm'),
         x509.NameAttribute(x509.ObjectIdentifier('2.23.133.2.3'), 'id:20191023')]))]), critical=True)
     .add_extension(x509.KeyUsage(False, False, False, False, True, False, False, False, False), critical=True)
     .sign(ik, hashes.SHA256()))
open(sys.argv[3], 'wb').write(c.public_bytes(serialization.Encoding.DER))
EOF
			fi &&
			openssl x509 -inform der -in ekcert.der -out ekcert.pem &&
			sed -n '/-----BEGIN/,$p' "$REG_LOCALCA/issuercert.pem" >>ekcert.pem &&
			$PY -c '
import base64, json, sys
b = lambda p: base64.b64encode(open(p, "rb").read()).decode()
json.dump({"ek_tpm": b("ek.pub"), "aik_tpm": b("ak.pub"), "ekcert": open("ekcert.pem").read(),
           "mtls_cert": "disabled", "ip": "127.0.0.1", "port": 9002}, open("reg.json", "w"))'
	) >"$d/tools.log" 2>&1 || { echo "# $name: key setup failed"; cat "$d/tools.log"; return 1; }

	got=$(reg_req "$R" POST "$H/v2.6/agents/$id" "$d/reg.json")
	[ "$got" = 200 ] || { echo "# $name: register: HTTP $got $(cat "$R")"; return 1; }
	reg_json "$R" "j['results']['blob']" | base64 -d >"$d/cred.blob"
	check "${name}_register" 0

	# The agent side of the challenge, with tpm2-tools only.
	(
		cd "$d" || exit 1
		tpm2_startauthsession --policy-session -S session.ctx &&
			tpm2_policysecret -S session.ctx -c e &&
			tpm2_activatecredential -c ak.ctx -C ek.ctx -i cred.blob -o secret.bin \
				-P "session:session.ctx" &&
			tpm2_flushcontext session.ctx
	) >>"$d/tools.log" 2>&1
	check "${name}_tpm2_activatecredential" $?
	[ "$(wc -c <"$d/secret.bin")" -eq 32 ] && grep -qE '^[A-Za-z0-9]{32}$' <(cat "$d/secret.bin"; echo)
	check "${name}_secret_is_32_alnum" $?

	key=$(base64 -w0 "$d/secret.bin")
	tag=$(printf %s "$id" | openssl dgst -sha384 -mac HMAC -macopt "key:$key" | sed 's/.*= //')
	printf '{"auth_tag": "%s"}' "$tag" >"$d/act.json"
	got=$(reg_req "$R" PUT "$H/v2.6/agents/$id" "$d/act.json")
	[ "$got" = 200 ] && reg_json "$R" "j == {'code': 200, 'status': 'Success', 'results': {}}" |
		grep -qx True
	check "${name}_activate" $?

	got=$(reg_req "$R" GET "$S/v2.6/agents/$id" - "${ADMIN[@]}")
	[ "$got" = 200 ] && reg_json "$R" "j['results']['aik_tpm'] == '$(base64 -w0 "$d/ak.pub")' and \
		j['results']['ek_tpm'] == '$(base64 -w0 "$d/ek.pub")' and \
		j['results']['ekcert'] == '$(base64 -w0 "$d/ekcert.der")' and \
		j['results']['regcount'] == 1 and j['results']['port'] == 9002 and \
		j['results']['ip'] == '127.0.0.1' and j['results']['mtls_cert'] == 'disabled' and \
		j['results']['agent_id'] == '$id'" | grep -qx True
	check "${name}_admin_get" $?
}

enroll rsa rsa
enroll ecc ecc
grep -q "agent agent-rsa activated" "$T/registrar.log"
check activation_logged $?

# A restart keeps every enrollment (the database is the only state).
reg_stop
reg_start "$T/registrar2.log" "$CONF" || exit 1
got=$(reg_req "$R" GET "$S/v2.6/agents/agent-rsa" - "${ADMIN[@]}")
[ "$got" = 200 ] && reg_json "$R" "j['results']['agent_id']" | grep -qx agent-rsa
check record_survives_restart $?
got=$(reg_req "$R" GET "$S/v2.6/agents" - "${ADMIN[@]}")
[ "$got" = 200 ] && reg_json "$R" "sorted(j['results']['uuids'])" | grep -qx "\['agent-ecc', 'agent-rsa'\]"
check list_after_restart $?
