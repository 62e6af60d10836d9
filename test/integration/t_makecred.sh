#!/usr/bin/env bash
# Setup: one swtpm from the shared harness (swtpm_setup --create-ek-cert with a local EK
# CA); endorsement keys from the TCG templates via tpm2_createek: RSA-2048 (L-1) and ECC
# P-384 (H-3), both certified in NV, ECC P-256 (L-2) and RSA-3072 (H-2); an RSA and an
# ECC AK via tpm2_createak.
# Actions: what the registrar does at enrollment, with vigil's code (build/tools/
# makecred_tool on common/tpm2, makecred, ekcert): EK certificate chain and key match,
# AK rules, AK Name, then TPM2_MakeCredential binding a Keylime-style 32-character secret
# to the AK's Name. tpm2_activatecredential then runs it inside the TPM, as the agent
# would, with an endorsement policy session (PolicySecret, plus PolicyOR for the
# high-range SHA-384 templates).
# Expected: EK certificates verify and match; AKs pass, an EK fails the AK rules; Names
# equal the TPM's; the TPM hands back exactly our secret for every EK/AK pairing; a blob
# bound to another AK, or with one byte flipped, is refused by the TPM.
. "$(dirname "$0")/lib.sh"

TOOL=$TOP/build/tools/makecred_tool
for c in swtpm swtpm_setup tpm2_createek tpm2_createak tpm2_activatecredential \
	tpm2_startauthsession tpm2_policysecret tpm2_policyor tpm2_nvread /usr/bin/python3; do
	if ! command -v "$c" >/dev/null; then
		echo "skip makecred: $c is not installed"
		exit 0
	fi
done
[ -x "$TOOL" ] || { echo "not ok makecred_tool is built ($TOOL)"; exit 1; }

LOG=$T/tools.log
run() { # run CMD...: one tpm2-tools step, output to the log
	echo "+ $*" >>"$LOG"
	"$@" >>"$LOG" 2>&1
}
flush() { # free the swtpm's three transient object slots and its sessions
	tpm2_flushcontext -t >/dev/null 2>&1
	tpm2_flushcontext -s >/dev/null 2>&1
	tpm2_flushcontext -l >/dev/null 2>&1
	return 0
}

swtpm_start A
rc=$?
check "swtpm starts with EK certificates (harness)" $rc
[ $rc -eq 0 ] || exit 1
export TPM2TOOLS_TCTI=$TCTI_A
cd "$T" || exit 1

flush
ok=0
for ek in "rsa ek_rsa" "ecc ek_ecc" "ecc384 ek_ecc384" "rsa3072 ek_rsa3072"; do
	set -- $ek
	run tpm2_createek -G "$1" -c "$2.ctx" -u "$2.pub" && flush || ok=1
done
check "EKs created (RSA-2048, ECC P-256, ECC P-384/SHA-384, RSA-3072/SHA-384)" $ok
run tpm2_createak -C ek_rsa.ctx -G rsa -g sha256 -s rsassa -c ak_rsa.ctx -u ak_rsa.pub \
	-n ak_rsa.name && flush &&
	run tpm2_createak -C ek_ecc.ctx -G ecc -g sha256 -s ecdsa -c ak_ecc.ctx -u ak_ecc.pub \
		-n ak_ecc.name && flush
check "AKs created (RSA rsassa, ECC ecdsa)" $?

# Enrollment checks on the registrar's side.
run tpm2_nvread 0x01c00002 -o ekcert_rsa.der && run tpm2_nvread 0x01c00016 -o ekcert_ecc384.der
check "EK certificates read from NV" $?
out=$("$TOOL" --check-ek ek_rsa.pub ekcert_rsa.der "$EK_CA_DIR")
[ "$out" = ok ]
check "RSA EK certificate chains to the swtpm local CA and certifies ek_rsa ($out)" $?
out=$("$TOOL" --check-ek ek_ecc384.pub ekcert_ecc384.der "$EK_CA_DIR")
[ "$out" = ok ]
check "P-384 EK certificate chains to the swtpm local CA and certifies ek_ecc384 ($out)" $?
out=$("$TOOL" --check-ek ek_ecc.pub ekcert_ecc384.der "$EK_CA_DIR")
[ "$out" = "EK certificate is for another key than ek_ecc.pub" ]
check "a certificate for another EK is refused ($out)" $?
mkdir -p emptyca
out=$("$TOOL" --check-ek ek_rsa.pub ekcert_rsa.der emptyca)
grep -q "unable to get local issuer certificate" <<<"$out"
check "an EK certificate without its CA is refused ($out)" $?
for ak in ak_rsa ak_ecc; do
	out=$("$TOOL" --check-ak $ak.pub)
	[ "$out" = ok ]
	check "$ak passes the AK rules ($out)" $?
	[ "$("$TOOL" --name $ak.pub)" = "$(xxd -p -c 256 $ak.name)" ]
	check "$ak Name computed by vigil equals the TPM's" $?
done
out=$("$TOOL" --check-ak ek_rsa.pub)
[ "$out" = "AK is a decryption key (decrypt attribute set)" ]
check "an EK offered as AK is refused ($out)" $?

# The high-range (SHA-384) EK templates' authPolicy is PolicyOR of two branches (TCG EK
# Credential Profile): PolicyA, PolicySecret(endorsement), computed here with a trial
# session, and PolicyB, a constant digest from the profile. Their PolicyOR must be the
# EKs' authPolicy, which is checked before relying on it.
POLB_SHA384=d6032ce61f2fb3c240eb3cf6a33237ef2b6a16f4293c22b455e261cffd217ad5b4947c2d73e63005eed2dc2b3593d165
run tpm2_startauthsession -S trial.ctx -g sha384 && run tpm2_policysecret -S trial.ctx -c e -L polA384 &&
	run tpm2_flushcontext trial.ctx && xxd -r -p <<<"$POLB_SHA384" >polB384 &&
	run tpm2_startauthsession -S trial.ctx -g sha384 &&
	run tpm2_policyor -S trial.ctx -l sha384:polA384,polB384 -L polOR384 &&
	run tpm2_flushcontext trial.ctx &&
	tpm2_readpublic -c ek_ecc384.ctx 2>/dev/null | grep -q "authorization policy: $(xxd -p -c 256 polOR384)"
check "PolicyOR(PolicyA, PolicyB) is the SHA-384 EKs' authPolicy" $?
flush

# Keylime's credential: 32 random characters from [A-Za-z0-9].
/usr/bin/python3 -c 'import secrets,string;a=string.ascii_letters+string.digits;print("".join(secrets.choice(a) for _ in range(32)),end="")' >secret

# activate EK AK BLOB OUT: TPM2_ActivateCredential under an endorsement policy session.
activate() {
	local rc hash=sha256
	case $1 in *384 | *3072) hash=sha384 ;; esac
	flush
	run tpm2_startauthsession --policy-session -g $hash -S sess.ctx || return 1
	run tpm2_policysecret -S sess.ctx -c e &&
		if [ $hash = sha384 ]; then
			run tpm2_policyor -S sess.ctx -l sha384:polA384,polB384
		fi &&
		run tpm2_activatecredential -c "$2".ctx -C "$1".ctx -i "$3" -o "$4" \
			-P session:sess.ctx
	rc=$?
	run tpm2_flushcontext sess.ctx
	flush
	return $rc
}

for ek in ek_rsa ek_ecc ek_ecc384 ek_rsa3072; do
	for ak in ak_rsa ak_ecc; do
		rm -f out
		"$TOOL" $ek.pub $ak.pub secret blob.$ek.$ak 2>>"$LOG" &&
			activate $ek $ak blob.$ek.$ak out && cmp -s out secret
		check "$ek + $ak: TPM2_ActivateCredential recovers vigil's credential" $?
	done
done

# The same blob, offered for the other AK: the integrity HMAC covers the Name.
! activate ek_rsa ak_ecc blob.ek_rsa.ak_rsa out
check "ek_rsa: a blob bound to ak_rsa is refused for ak_ecc" $?
! activate ek_ecc384 ak_rsa blob.ek_ecc384.ak_ecc out
check "ek_ecc384: a blob bound to ak_ecc is refused for ak_rsa" $?
# One flipped bit in the encrypted identity.
/usr/bin/python3 -c 'import sys;b=bytearray(open(sys.argv[1],"rb").read());b[50]^=1;open(sys.argv[2],"wb").write(b)' blob.ek_rsa.ak_rsa tampered &&
	! activate ek_rsa ak_rsa tampered out
check "ek_rsa: a tampered blob is refused" $?
grep -c "integrity check failed" "$LOG" | grep -qx 3
check "the TPM refused those three for their integrity HMAC" $?
echo "# tpm2-tools log: $LOG (KEEP_TMP=1 keeps it)"
