#!/usr/bin/env bash
# vigil-registrar against curl: the Keylime registrar routes and envelopes, and every
# rejection. Setup: a swtpm with EK certificates from its local CA (root -> intermediate ->
# EK), EK and AKs made with tpm2-tools, an openssl CA for the admin port, the registrar on
# loopback with a fresh SQLite database. Each refusal must give its 4xx reason in the
# Keylime envelope AND leave the database byte-for-byte unchanged (sha256 of .dump).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registrar_lib.sh"

for tool in swtpm swtpm_setup tpm2_createek tpm2_createak tpm2_activatecredential \
	tpm2_startauthsession tpm2_policysecret sqlite3 curl openssl; do
	command -v $tool >/dev/null || { echo "skip registrar: $tool not installed"; exit 0; }
done
[ -x "$BIN/vigil-registrar" ] || { echo "not ok registrar: $BIN/vigil-registrar not built"; exit 1; }

# ---- setup ----
reg_swtpm "$T/tpm" || exit 1
M=$T/m
mkdir -p "$M" "$T/ekca" "$T/state"
(
	cd "$M" || exit 1
	tpm2_createek -c ek.ctx -G rsa -u ek.pub -f tss && tpm2_flushcontext -t &&
		tpm2_readpublic -c ek.ctx -f pem -o ek.pem &&
		tpm2_createak -C ek.ctx -c ak.ctx -G rsa -g sha256 -s rsassa -u ak.pub -f tss -n ak.name && tpm2_flushcontext -t &&
		tpm2_createak -C ek.ctx -c ak2.ctx -G rsa -g sha256 -s rsassa -u ak2.pub -f tss && tpm2_flushcontext -t &&
		tpm2_nvread 0x01c00002 -C o -o ekcert.der &&
		ecc=$(tpm2_getcap handles-nv-index | sed -n 's/^- //p' | grep -iE '^0x1c0000a$|^0x1c00016$' | head -1) &&
		tpm2_nvread "$ecc" -C o -o ecc-ekcert.der
) >"$T/tpm2tools.log" 2>&1 || { echo "not ok registrar: TPM setup"; cat "$T/tpm2tools.log"; exit 1; }
cp "$REG_LOCALCA/swtpm-localca-rootca-cert.pem" "$T/ekca/swtpm-root.pem"
reg_tls "$T/tls" || { echo "not ok registrar: TLS setup"; exit 1; }

# Request bodies: a good registration and one variant per rejection.
B=$T/bodies
mkdir -p "$B"
$PY - "$M" "$REG_LOCALCA" "$B" <<'EOF' || { echo "not ok registrar: bodies"; exit 1; }
import base64, datetime, json, sys
from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
m, ca, out = sys.argv[1:4]
rd = lambda p: open(p, 'rb').read()
b64 = lambda x: base64.b64encode(x).decode()
ek, ak, ak2 = rd(m + '/ek.pub'), rd(m + '/ak.pub'), rd(m + '/ak2.pub')
der = x509.load_der_x509_certificate(rd(m + '/ekcert.der'))
pem = der.public_bytes(serialization.Encoding.PEM).decode()
inter = rd(ca + '/issuercert.pem').decode()
inter = inter[inter.index('-----BEGIN'):]
ekpub = serialization.load_pem_public_key(rd(m + '/ek.pem'))

def cert_for(pub, issuer_name, issuer_key, nb, na):
    b = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'ek')]))
         .issuer_name(issuer_name).public_key(pub).serial_number(x509.random_serial_number())
         .not_valid_before(nb).not_valid_after(na))
    return b.sign(issuer_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()

now = datetime.datetime.utcnow()
day = datetime.timedelta(days=1)
# An EK certificate for the right key from a CA nobody trusts.
rogue_key = ec.generate_private_key(ec.SECP256R1())
rogue_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'rogue TPM vendor')])
rogue = cert_for(ekpub, rogue_name, rogue_key, now - day, now + day)
# An EK certificate for the right key from the real intermediate, expired yesterday.
inter_cert = x509.load_pem_x509_certificate(inter.encode())
inter_key = serialization.load_pem_private_key(rd(ca + '/signkey.pem'), None)
expired = cert_for(ekpub, inter_cert.subject, inter_key, now - 30 * day, now - day)
# EK certificates for the right key from the real intermediate that break the TCG EK
# Credential Profile, one rule each.
def cert_ext(exts):
    b = (x509.CertificateBuilder().subject_name(x509.Name([]))
         .issuer_name(inter_cert.subject).public_key(ekpub).serial_number(x509.random_serial_number())
         .not_valid_before(now - day).not_valid_after(now + day))
    for ext, crit in exts:
        b = b.add_extension(ext, critical=crit)
    return b.sign(inter_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode() + inter
from cryptography.x509.oid import ExtendedKeyUsageOID
ek_is_ca = cert_ext([(x509.BasicConstraints(ca=True, path_length=None), True)])
ek_bad_ku = cert_ext([(x509.KeyUsage(True, False, False, False, False, False, False, False, False), True)])
ek_bad_eku = cert_ext([(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)])
ecc = x509.load_der_x509_certificate(rd(m + '/ecc-ekcert.der')).public_bytes(serialization.Encoding.PEM).decode()

good = {"ek_tpm": b64(ek), "aik_tpm": b64(ak), "ekcert": pem + inter, "mtls_cert": "disabled",
        "ip": "127.0.0.1", "port": 9002}
def w(name, d=None, raw=None):
    open(out + '/' + name, 'wb').write(raw if raw is not None else json.dumps(d).encode())
def var(name, **kw):
    d = dict(good)
    for k, v in kw.items():
        if v is None:
            d.pop(k, None)
        else:
            d[k] = v
    w(name, d)
def flip(pub, off, val, size):
    a = bytearray(pub)
    a[off:off + size] = val.to_bytes(size, 'big')
    return bytes(a)
attrs = int.from_bytes(ak[6:10], 'big')
w('good', good)
var('good_b64der', ekcert=b64(rd(m + '/ekcert.der')))
var('good_body_id', agent_id='agent-body')
var('other_ak', aik_tpm=b64(ak2))
var('no_ekcert', ekcert=None)
var('empty_ekcert', ekcert='')
var('other_key_cert', ekcert=ecc)
var('rogue_ca', ekcert=rogue)
var('expired', ekcert=expired + inter)
var('no_chain', ekcert=pem)
var('ek_is_ca', ekcert=ek_is_ca)
var('ek_bad_ku', ekcert=ek_bad_ku)
var('ek_bad_eku', ekcert=ek_bad_eku)
var('ak_decrypt', aik_tpm=b64(flip(ak, 6, attrs | 0x20000, 4)))
var('ak_unrestricted', aik_tpm=b64(flip(ak, 6, attrs & ~0x10000, 4)))
var('ak_sha1', aik_tpm=b64(flip(ak, 4, 0x0004, 2)))
# The same EK with its RSA exponent spelled out (65537) instead of the template's 0 (which
# means 65537): other bytes, the same key, the same TPM.
assert ek[54:58] == b'\0\0\0\0'
var('ek_respelled', ek_tpm=b64(flip(ek, 54, 65537, 4)))
var('bad_b64', ek_tpm=b64(ek)[:20] + '!' + b64(ek)[21:])
var('trunc_tpm2b', ek_tpm=b64(ek[:-7]))
var('no_aik', aik_tpm=None)
var('bad_port', port=70000)
var('bad_ip', ip='1.2.3.4; rm')
var('bad_mtls', mtls_cert='-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n')
var('long_ek', ek_tpm='A' * 5000)
var('id_mismatch', agent_id='someone-else')
w('trunc_json', raw=json.dumps(good).encode()[:200])
w('not_object', raw=b'["ek_tpm"]')
w('huge', raw=b'{"pad": "' + b'A' * 200000 + b'"}')
w('tag_wrong', {"auth_tag": "0" * 96})
w('tag_upper', {"auth_tag": "A" * 96})
w('tag_short', {"auth_tag": "abcd"})
w('tag_missing', {"tag": "x"})
EOF

HP=$(reg_free_port)
SP=$(reg_free_port)
DB=$T/state/registrar.db
CONF=$T/registrar.conf
cat >"$CONF" <<EOF
[registrar]
listen = 127.0.0.1:$HP
tls_listen = 127.0.0.1:$SP
tls_cert = $T/tls/server.crt
tls_key = $T/tls/server.key
trusted_client_ca = $T/tls/ca-ca.crt
ek_ca_dir = $T/ekca
state_dir = $T/state
max_body = 65536
request_timeout = 5
EOF
reg_start "$T/registrar.log" "$CONF" || exit 1
H=http://127.0.0.1:$HP
S=https://127.0.0.1:$SP
ADMIN=(--cacert "$T/tls/ca-ca.crt" --cert "$T/tls/ca-client.crt" --key "$T/tls/ca-client.key")
NOCERT=(--cacert "$T/tls/ca-ca.crt")
OTHER=(--cacert "$T/tls/ca-ca.crt" --cert "$T/tls/other-client.crt" --key "$T/tls/other-client.key")
ID=d432fbb3-d2f1-4a97-9ef7-75bd81c00000
R=$T/resp.json

# expect NAME CODE 'STATUS-SUBSTRING' METHOD URL [BODY] [curl args]: the HTTP code, the
# envelope (code equal, results an object), the status text, and an unchanged database.
expect() {
	local name=$1 code=$2 text=$3 before after got ok=0
	shift 3
	before=$(reg_dbsum "$DB")
	got=$(reg_req "$R" "$@")
	after=$(reg_dbsum "$DB")
	if [ "$got" != "$code" ]; then
		echo "# $name: HTTP $got, expected $code: $(head -c 300 "$R")"; ok=1
	elif ! reg_json "$R" "j['code'] == $code and isinstance(j['results'], dict) and \
		'''$text'''.lower() in j['status'].lower()" | grep -qx True; then
		echo "# $name: envelope: $(head -c 300 "$R")"; ok=1
	elif [ "$before" != "$after" ]; then
		echo "# $name: the database changed"; ok=1
	fi
	check "$name" $ok
}

# ---- routes that work ----
got=$(reg_req "$R" GET "$H/version")
[ "$got" = 200 ] && reg_json "$R" "j['code'] == 200 and j['status'] == 'Success' and \
	j['results']['current_version'] == '2.6' and '2.1' in j['results']['supported_versions']" |
	grep -qx True
check version $?

got=$(reg_req "$R" GET "$S/version" - "${NOCERT[@]}")
[ "$got" = 200 ]
check version_https_without_client_cert $?

before=$(reg_dbsum "$DB")
got=$(reg_req "$R" POST "$H/v2.6/agents/$ID" "$B/good")
after=$(reg_dbsum "$DB")
[ "$got" = 200 ] && [ "$before" != "$after" ] &&
	reg_json "$R" "__import__('base64').b64decode(j['results']['blob'])[:8].hex()" |
	grep -qx badcc0de00000001
check register_returns_blob $?
[ "$(sqlite3 "$DB" "SELECT active, regcount, pending_key IS NOT NULL FROM registrar_agents WHERE agent_id='$ID'")" = "0|1|1" ]
check register_stored_pending $?
grep -q "agent $ID registered from" "$T/registrar.log"
check register_logged $?

expect get_before_activation_404 404 "not activated" GET "$S/v2.6/agents/$ID" - "${ADMIN[@]}"

got=$(reg_req "$R" GET "$S/v2.6/agents" - "${ADMIN[@]}")
[ "$got" = 200 ] && reg_json "$R" "j['results']['uuids'] == ['$ID']" | grep -qx True
check list_uuids $?

# Re-registration with the same identity: new challenge, regcount 2, still inactive.
cp "$R" "$T/blob1.json"
got=$(reg_req "$R" POST "$H/v2.6/agents/$ID" "$B/good")
[ "$got" = 200 ] && ! cmp -s "$R" "$T/blob1.json" &&
	[ "$(sqlite3 "$DB" "SELECT active, regcount FROM registrar_agents WHERE agent_id='$ID'")" = "0|2" ]
check reregister_same_identity $?

# Collection form with agent_id in the body, and base64 DER ekcert.
got=$(reg_req "$R" POST "$H/v2.1/agents" "$B/good_body_id")
[ "$got" = 200 ] && sqlite3 "$DB" "SELECT agent_id FROM registrar_agents" | grep -qx agent-body
check register_collection_route $?
# base64 DER carries one certificate, no chain: with only the root in ek_ca_dir the
# EK certificate's issuer is unknown (the same certificate passes below, once the vendor
# intermediate is in ek_ca_dir).
expect reject_b64der_without_intermediate 403 "unable to get local issuer" \
	POST "$H/v2.6/agents/der-agent" "$B/good_b64der"

# ---- rejections: each with its reason, nothing stored changes ----
expect reject_missing_ekcert 400 "ekcert is missing" POST "$H/v2.6/agents/new1" "$B/no_ekcert"
expect reject_empty_ekcert 400 "ekcert is missing" POST "$H/v2.6/agents/new1" "$B/empty_ekcert"
expect reject_ekcert_other_key 400 "different public key" POST "$H/v2.6/agents/new1" "$B/other_key_cert"
expect reject_ekcert_unknown_ca 403 "not trusted" POST "$H/v2.6/agents/new1" "$B/rogue_ca"
expect reject_ekcert_expired 403 "expired" POST "$H/v2.6/agents/new1" "$B/expired"
expect reject_ekcert_no_chain 403 "not trusted" POST "$H/v2.6/agents/new1" "$B/no_chain"
expect reject_ekcert_is_ca 403 "it is a CA certificate (basicConstraints CA:TRUE)" \
	POST "$H/v2.6/agents/new1" "$B/ek_is_ca"
expect reject_ekcert_key_usage 403 "keyUsage does not allow keyEncipherment" \
	POST "$H/v2.6/agents/new1" "$B/ek_bad_ku"
expect reject_ekcert_eku 403 "does not contain tcg-kp-EKCertificate (2.23.133.8.1)" \
	POST "$H/v2.6/agents/new1" "$B/ek_bad_eku"
expect reject_ak_decrypt 400 "decrypt" POST "$H/v2.6/agents/new1" "$B/ak_decrypt"
expect reject_ak_unrestricted 400 "restricted" POST "$H/v2.6/agents/new1" "$B/ak_unrestricted"
expect reject_ak_sha1 400 "aik_tpm" POST "$H/v2.6/agents/new1" "$B/ak_sha1"
expect reject_same_uuid_other_ak 403 "different AK" POST "$H/v2.6/agents/$ID" "$B/other_ak"
expect reject_bad_base64 400 "not valid base64" POST "$H/v2.6/agents/new1" "$B/bad_b64"
expect reject_truncated_tpm2b 400 "not a valid TPM2B_PUBLIC" POST "$H/v2.6/agents/new1" "$B/trunc_tpm2b"
expect reject_missing_aik 400 "aik_tpm is missing" POST "$H/v2.6/agents/new1" "$B/no_aik"
expect reject_truncated_json 400 "not valid JSON" POST "$H/v2.6/agents/new1" "$B/trunc_json"
expect reject_not_object 400 "JSON object" POST "$H/v2.6/agents/new1" "$B/not_object"
expect reject_bad_port 400 "port" POST "$H/v2.6/agents/new1" "$B/bad_port"
expect reject_bad_ip 400 "ip is" POST "$H/v2.6/agents/new1" "$B/bad_ip"
expect reject_bad_mtls_cert 400 "mtls_cert" POST "$H/v2.6/agents/new1" "$B/bad_mtls"
expect reject_field_too_long 400 "too long" POST "$H/v2.6/agents/new1" "$B/long_ek"
expect reject_id_mismatch 400 "differs" POST "$H/v2.6/agents/new1" "$B/id_mismatch"
expect reject_bad_agent_id 400 "invalid agent id" POST "$H/v2.6/agents/bad%20id" "$B/good"
expect reject_long_agent_id 400 "invalid agent id" POST "$H/v2.6/agents/$(printf 'x%.0s' $(seq 90))" "$B/good"
expect reject_body_id_missing 400 "agent_id is missing" POST "$H/v2.6/agents" "$B/good"
# Over registrar.max_body: 413 from the HTTP layer (libevent writes its own body there).
before=$(reg_dbsum "$DB")
got=$(reg_req "$R" POST "$H/v2.6/agents/new1" "$B/huge" -H "Expect: 100-continue")
[ "$got" = 413 ] && [ "$before" = "$(reg_dbsum "$DB")" ]
check reject_oversized_body $?
expect reject_api_version 400 "API version not supported: v3.0" POST "$H/v3.0/agents/new1" "$B/good"
expect reject_unknown_route 404 "not found" GET "$H/v2.6/nothing"
expect activate_unknown_agent 404 "not registered" PUT "$H/v2.6/agents/nobody" "$B/tag_wrong"
expect activate_tag_uppercase 400 "lowercase hex" PUT "$H/v2.6/agents/$ID" "$B/tag_upper"
expect activate_tag_short 400 "lowercase hex" PUT "$H/v2.6/agents/$ID" "$B/tag_short"
expect activate_tag_missing 400 "auth_tag is missing" PUT "$H/v2.6/agents/$ID" "$B/tag_missing"
expect activate_tag_truncated_json 400 "JSON object" PUT "$H/v2.6/agents/$ID" "$B/trunc_json"

# Admin routes: not on the HTTP port; over HTTPS only with a client cert from our CA.
expect admin_list_on_http 400 "only served over HTTPS" GET "$H/v2.6/agents"
expect admin_get_on_http 400 "only served over HTTPS" GET "$H/v2.6/agents/$ID"
expect admin_delete_on_http 400 "only served over HTTPS" DELETE "$H/v2.6/agents/$ID"
# Without a client certificate the handshake succeeds (the certificate is optional, so
# /version stays public) and the admin route answers 403 in the envelope.
expect admin_list_without_cert 403 "client certificate" GET "$S/v2.6/agents" - "${NOCERT[@]}"
expect admin_delete_without_cert 403 "client certificate" DELETE "$S/v2.6/agents/$ID" - "${NOCERT[@]}"
# A client certificate from another CA fails the TLS handshake: no HTTP answer at all.
before=$(reg_dbsum "$DB")
got=$(reg_req "$R" DELETE "$S/v2.6/agents/$ID" - "${OTHER[@]}")
[ "$got" = 000 ] && [ "$before" = "$(reg_dbsum "$DB")" ]
check admin_other_ca_handshake_fails $?

# A client that stops in the middle of its request is cut off after request_timeout (5 s).
before=$(reg_dbsum "$DB")
$PY - "$HP" <<'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"POST /v2.6/agents/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
s.settimeout(20)
t = time.time()
try:
    while s.recv(4096):
        pass
except socket.timeout:
    sys.exit("still open after 20 s")
except ConnectionResetError:
    pass
sys.exit(0 if time.time() - t < 12 else "closed only after %.1f s" % (time.time() - t))
EOF
[ $? -eq 0 ] && [ "$before" = "$(reg_dbsum "$DB")" ]
check slow_request_times_out $?

# ---- wrong auth_tag: the pending registration is removed ----
before=$(reg_dbsum "$DB")
got=$(reg_req "$R" PUT "$H/v2.6/agents/$ID" "$B/tag_wrong")
[ "$got" = 400 ] && reg_json "$R" "'does not match' in j['status']" | grep -qx True &&
	[ -z "$(sqlite3 "$DB" "SELECT agent_id FROM registrar_agents WHERE agent_id='$ID'")" ]
check activate_wrong_tag_removes_record $?
grep -q "activation of agent $ID .* auth_tag does not match" "$T/registrar.log"
check activate_wrong_tag_logged $?

# ---- delete ----
got=$(reg_req "$R" DELETE "$S/v2.6/agents/agent-body" - "${ADMIN[@]}")
[ "$got" = 200 ] && reg_json "$R" "j['results'] == {}" | grep -qx True &&
	[ -z "$(sqlite3 "$DB" "SELECT agent_id FROM registrar_agents WHERE agent_id='agent-body'")" ]
check admin_delete $?
expect admin_delete_again_404 404 "not found" DELETE "$S/v2.6/agents/agent-body" - "${ADMIN[@]}"
grep -q "agent agent-body deleted by an administrator" "$T/registrar.log"
check delete_logged $?

# ---- the re-registration attack: an enrollment changes only with proof of the TPM ----
# Everything in a registration (EK, EK certificate, AK) is public, so anyone can replay
# it. Setup: NODE enrolled for real (tpm2_activatecredential on the swtpm). The attacker
# registers NODE again with its public data and their own mtls_cert, ip and port, then
# answers the challenge with a wrong auth_tag. Expected: the re-registration is only
# staged; the enrollment (database row, admin GET) stays as it was before and after the
# wrong tag, which discards only the staged attempt.
NODE=d432fbb3-d2f1-4a97-9ef7-75bd81c0aaaa
TWIN=d432fbb3-d2f1-4a97-9ef7-75bd81c0bbbb
$PY - "$B" "$T/tls/other-client.crt" <<'EOF2' || { echo "not ok registrar: attack bodies"; exit 1; }
import json, sys
good = json.load(open(sys.argv[1] + '/good'))
evil = dict(good, mtls_cert=open(sys.argv[2]).read(), ip='10.6.6.6', port=6666)
json.dump(evil, open(sys.argv[1] + '/evil', 'w'))
json.dump(dict(good, port=9003), open(sys.argv[1] + '/moved', 'w'))
EOF2

# tpm_tag RESPONSE ID OUT: open the response's blob with the swtpm's EK and AK (as the
# agent does) and write the activation body {"auth_tag": ...} for ID to OUT.
tpm_tag() {
	local key tag
	reg_json "$1" "j['results']['blob']" | base64 -d >"$T/cred.blob" || return 1
	(
		cd "$M" || exit 1
		rm -f session.ctx secret.bin
		# No resource manager in front of the swtpm: free the objects the last
		# command loaded, or the TPM runs out of object slots.
		tpm2_flushcontext -t
		tpm2_startauthsession --policy-session -S session.ctx &&
			tpm2_policysecret -S session.ctx -c e &&
			tpm2_activatecredential -c ak.ctx -C ek.ctx -i "$T/cred.blob" -o secret.bin \
				-P session:session.ctx &&
			tpm2_flushcontext session.ctx && tpm2_flushcontext -t
	) >>"$T/tpm2tools.log" 2>&1 || return 1
	key=$(base64 -w0 "$M/secret.bin")
	tag=$(printf %s "$2" | openssl dgst -sha384 -mac HMAC -macopt "key:$key" | sed 's/.*= //')
	printf '{"auth_tag": "%s"}' "$tag" >"$3"
}
# node_row: NODE's enrollment as stored; node_get: what the admin API shows of it.
node_row() {
	sqlite3 "$DB" "SELECT ek_tpm, ekcert, aik_tpm, mtls_cert, ip, port, regcount, active,
		pending_key IS NULL FROM registrar_agents WHERE agent_id = '$NODE'" | sha256sum
}
node_get() {
	[ "$(reg_req "$T/get.json" GET "$S/v2.6/agents/$NODE" - "${ADMIN[@]}")" = 200 ] &&
		reg_json "$T/get.json" "json.dumps(j['results'], sort_keys=True)" 2>/dev/null ||
		$PY -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["results"], sort_keys=True))' "$T/get.json"
}

# NODE and TWIN register the same TPM before either is active (a registration only sees
# active enrollments); NODE activates first, so TWIN's activation must be refused.
got=$(reg_req "$T/node-reg.json" POST "$H/v2.6/agents/$NODE" "$B/good")
[ "$got" = 200 ] && tpm_tag "$T/node-reg.json" "$NODE" "$T/node-tag.json"
check attack_setup_register $?
got=$(reg_req "$T/twin-reg.json" POST "$H/v2.6/agents/$TWIN" "$B/good")
[ "$got" = 200 ] && tpm_tag "$T/twin-reg.json" "$TWIN" "$T/twin-tag.json"
check ek_reuse_pending_twin_registers $?
got=$(reg_req "$R" PUT "$H/v2.6/agents/$NODE" "$T/node-tag.json")
[ "$got" = 200 ] && [ "$(sqlite3 "$DB" "SELECT active FROM registrar_agents WHERE agent_id='$NODE'")" = 1 ]
check attack_setup_activate $?
expect ek_reuse_refused_at_activation 403 "already enrolled under another agent id" \
	PUT "$H/v2.6/agents/$TWIN" "$T/twin-tag.json"
! grep -q "$NODE" "$R" && grep -q "activation of agent $TWIN .* already enrolled as agent $NODE" "$T/registrar.log"
check ek_reuse_other_id_in_log_not_reply $?
expect ek_reuse_refused_at_registration 403 "already enrolled under another agent id" \
	POST "$H/v2.6/agents/ek-thief" "$B/good"
! grep -q "$NODE" "$R" && grep -q "registration of agent ek-thief .* already enrolled as agent $NODE" "$T/registrar.log"
check ek_reuse_registration_other_id_in_log_not_reply $?
expect ek_reuse_refused_for_respelled_ek 403 "already enrolled under another agent id" \
	POST "$H/v2.6/agents/ek-respelled" "$B/ek_respelled"

row0=$(node_row)
get0=$(node_get)
reg_json "$T/get.json" "j['results']['ip'] == '127.0.0.1' and j['results']['port'] == 9002 and \
	j['results']['mtls_cert'] == 'disabled' and j['results']['regcount'] == 1" | grep -qx True
check attack_enrolled_record $?

got=$(reg_req "$T/evil-reg.json" POST "$H/v2.6/agents/$NODE" "$B/evil")
[ "$got" = 200 ] && [ "$(node_row)" = "$row0" ] && [ "$(node_get)" = "$get0" ] &&
	[ "$(sqlite3 "$DB" "SELECT ip, port FROM registrar_staged WHERE agent_id='$NODE'")" = "10.6.6.6|6666" ]
check attack_reregistration_only_staged $?
grep -q "agent $NODE re-registered from .* staged beside the active enrollment" "$T/registrar.log"
check attack_reregistration_logged $?

got=$(reg_req "$R" PUT "$H/v2.6/agents/$NODE" "$B/tag_wrong")
[ "$got" = 400 ] && reg_json "$R" "'enrollment is unchanged' in j['status']" | grep -qx True &&
	[ "$(node_row)" = "$row0" ] && [ "$(node_get)" = "$get0" ] &&
	[ -z "$(sqlite3 "$DB" "SELECT agent_id FROM registrar_staged")" ]
check attack_wrong_tag_keeps_enrollment $?
grep -q "activation of agent $NODE .* auth_tag does not match; the staged re-registration was discarded" "$T/registrar.log"
check attack_wrong_tag_logged $?
# Nothing staged now: a tag alone changes nothing either.
expect attack_tag_without_staged_attempt 400 "already active" PUT "$H/v2.6/agents/$NODE" "$B/tag_wrong"

# The real node re-registers (an agent restart with a new port) and proves its TPM: only
# now does the enrollment change.
got=$(reg_req "$T/moved-reg.json" POST "$H/v2.6/agents/$NODE" "$B/moved")
[ "$got" = 200 ] && [ "$(node_get)" = "$get0" ] && tpm_tag "$T/moved-reg.json" "$NODE" "$T/moved-tag.json" &&
	[ "$(reg_req "$R" PUT "$H/v2.6/agents/$NODE" "$T/moved-tag.json")" = 200 ] && node_get >/dev/null &&
	reg_json "$T/get.json" "j['results']['port'] == 9003 and j['results']['regcount'] == 2 and \
		j['results']['ip'] == '127.0.0.1' and j['results']['mtls_cert'] == 'disabled'" | grep -qx True &&
	[ -z "$(sqlite3 "$DB" "SELECT agent_id FROM registrar_staged")" ]
check reregistration_activated_with_tpm_changes_enrollment $?

# Failed activations are rate-limited per id: 5 wrong tags within a minute (the one
# above counts), then 429, which changes nothing stored, while the enrollment stays as it
# is. Each try stages a new attempt first, as an attacker would.
row1=$(node_row)
get1=$(node_get)
codes=
for i in 1 2 3 4 5 6; do
	[ "$(reg_req "$R" POST "$H/v2.6/agents/$NODE" "$B/evil")" = 200 ] || { codes+=" post-failed"; break; }
	before=$(reg_dbsum "$DB")
	got=$(reg_req "$R" PUT "$H/v2.6/agents/$NODE" "$B/tag_wrong")
	codes+=" $got"
	[ "$got" = 429 ] && break
done
# At most 5 failures in a window: 400s, then 429 (more 400s only if a slow machine let the
# first window end in between, never more than 5 in a row).
[[ $codes =~ ^(\ 400){1,5}\ 429$ ]] && [ "$before" = "$(reg_dbsum "$DB")" ] &&
	reg_json "$R" "'too many failed activations' in j['status']" | grep -qx True
check rate_limit_429_after_five_failures $?
[ $? -eq 0 ] || echo "# answers: $codes"
grep -q "activation of agent $NODE .* already 5 wrong auth_tags within 60 s" "$T/registrar.log"
check rate_limit_logged $?
[ "$(node_row)" = "$row1" ] && [ "$(node_get)" = "$get1" ]
check rate_limit_enrollment_unchanged $?
expect rate_limit_other_id_unaffected 404 "not registered" PUT "$H/v2.6/agents/nobody2" "$B/tag_wrong"

# Every refusal was logged with its reason at INFO.
grep -q "registration of agent new1 .* rejected: EK certificate not trusted" "$T/registrar.log"
check rejections_logged $?

# require_ek_cert = no: an agent without an EK certificate enrolls on its EK alone, but a
# certificate that is sent is still checked. The vendor intermediate joins ek_ca_dir.
reg_stop
# As a database from before schema 4 has them: no EK identities. The restart fills them in.
sqlite3 "$DB" "UPDATE registrar_agents SET ek_key = NULL"
sed -n '/-----BEGIN/,$p' "$REG_LOCALCA/issuercert.pem" >"$T/ekca/swtpm-intermediate.crt"
cat >>"$CONF" <<EOF
require_ek_cert = no
allow_ek_reuse = yes
EOF
reg_start "$T/registrar2.log" "$CONF" || exit 1
got=$(reg_req "$R" POST "$H/v2.6/agents/no-cert-agent" "$B/no_ekcert")
[ "$got" = 200 ]
check require_ek_cert_no_accepts_missing $?
expect require_ek_cert_no_still_checks 403 "not trusted" POST "$H/v2.6/agents/new2" "$B/rogue_ca"
got=$(reg_req "$R" POST "$H/v2.6/agents/der-agent" "$B/good_b64der")
[ "$got" = 200 ]
check register_b64der_with_intermediate_in_ca_dir $?
grep -q "2 EK CA certificate(s) loaded" "$T/registrar2.log"
check ek_ca_dir_loaded_logged $?
[ "$(sqlite3 "$DB" "SELECT COUNT(*) FROM registrar_agents WHERE ek_key IS NULL")" = 0 ] &&
	[ "$(sqlite3 "$DB" "SELECT COUNT(DISTINCT ek_key) FROM registrar_agents")" = 1 ] &&
	grep -q "EK key identities recorded for [1-9][0-9]* enrollment(s) from before" "$T/registrar2.log"
check ek_keys_filled_in_at_start $?

# allow_ek_reuse = yes: NODE's TPM enrolls under a second id too (the registrations
# above, of the same EK, were accepted for the same reason).
got=$(reg_req "$T/twin2-reg.json" POST "$H/v2.6/agents/twin-allowed" "$B/good")
[ "$got" = 200 ] && tpm_tag "$T/twin2-reg.json" twin-allowed "$T/twin2-tag.json" &&
	[ "$(reg_req "$R" PUT "$H/v2.6/agents/twin-allowed" "$T/twin2-tag.json")" = 200 ] &&
	[ "$(sqlite3 "$DB" "SELECT COUNT(*) FROM registrar_agents WHERE active = 1 AND ek_tpm =
		(SELECT ek_tpm FROM registrar_agents WHERE agent_id = '$NODE')")" = 2 ]
check ek_reuse_allowed_with_allow_ek_reuse $?
