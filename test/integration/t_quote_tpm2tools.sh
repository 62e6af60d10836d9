#!/usr/bin/env bash
# Second opinion on common/quote. Setup: a fresh swtpm on free loopback ports, an EK, an RSA
# and an ECC AK, some PCR extends and the Keylime PCR 16 binding of a payload key.
# Actions: fresh tpm2_quote outputs, checked by tpm2_checkquote and by our quote_check
# tool (raw files and the Keylime quote string), then tampered copies.
# Expected: both accept the real quotes; both reject a wrong nonce, a flipped signature
# byte, a changed attest byte and a changed PCR value; we additionally reject a PCR blob
# that relabels the quoted PCRs, which tpm2_checkquote does not look at.
. "$(dirname "$0")/lib.sh"

QC=$TOP/build/tools/quote_check
for t in swtpm tpm2_quote tpm2_checkquote tpm2_createak; do
	if ! command -v $t >/dev/null; then
		echo "skip quote_tpm2tools: $t not installed"
		exit 0
	fi
done
[ -x "$QC" ] || { echo "not ok quote_check built"; exit 1; }

# The shared harness picks free ports and waits for the TPM (it also provisions EK
# certificates, which this test does not need).
swtpm_start Q
up=$?
P=$SWTPM_PORT_Q
export TPM2TOOLS_TCTI=$TCTI_Q
check "swtpm up on port $P" $up
[ $up -eq 0 ] || exit 1

NONCE=$(head -c 30 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 20)
NONCE_HEX=$(printf %s "$NONCE" | od -An -tx1 | tr -d ' \n')
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 2>/dev/null |
	openssl pkey -pubout -out "$T/payload.pem"
{
	tpm2_pcrreset 16 &&
	tpm2_pcrextend "16:sha256=$(sha256sum <"$T/payload.pem" | cut -d' ' -f1)" &&
	tpm2_pcrextend "10:sha256=$(printf ima | sha256sum | cut -d' ' -f1)" &&
	tpm2_createek -c "$T/ek.ctx" -G rsa -u "$T/ek.pub" && tpm2_flushcontext -t &&
	for k in rsa ecc; do
		s=rsassa; [ $k = ecc ] && s=ecdsa
		tpm2_createak -C "$T/ek.ctx" -c "$T/$k.ctx" -G $k -g sha256 -s $s -u "$T/$k.akpub" \
			-r "$T/$k.priv" -n "$T/$k.name" && tpm2_flushcontext -t && tpm2_flushcontext -s &&
			tpm2_readpublic -c "$T/$k.ctx" -f pem -o "$T/$k.pem" && tpm2_flushcontext -t ||
			exit 1
	done
} >"$T/setup.log" 2>&1
check "EK, RSA and ECC AKs created" $?

# checkquote DIR: tpm2_checkquote's verdict (0 = accepted).
tcq() {
	tpm2_checkquote -u "$T/$2.pem" -m "$1/attest" -s "$1/sig" -f "$1/pcrs" -g sha256 \
		-q "${3:-$NONCE_HEX}" >>"$T/checkquote.log" 2>&1
}
# ours DIR KEY [NONCE]: our verdict on the raw files (0 = accepted).
ours() {
	"$QC" -k "$T/$2.pem" -n "${3:-$NONCE}" -m "$1/attest" -s "$1/sig" -f "$1/pcrs" \
		>>"$T/ours.log" 2>&1
}
# flip FILE OFFSET: xor one byte with 0x01.
flip() {
	local b
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	printf "$(printf '\\%03o' $((b ^ 1)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
copy() { rm -rf "$2"; cp -r "$1" "$2"; }

for k in rsa ecc; do
	d=$T/q$k
	mkdir -p "$d"
	tpm2_quote -c "$T/$k.ctx" -l sha256:0,1,7,10,16 -q "$NONCE_HEX" -m "$d/attest" -s "$d/sig" \
		-o "$d/pcrs" -g sha256 >>"$T/setup.log" 2>&1 && tpm2_flushcontext -t >/dev/null 2>&1
	check "$k: tpm2_quote" $?
	printf 'r%s:%s:%s' "$(base64 -w0 <"$d/attest")" "$(base64 -w0 <"$d/sig")" \
		"$(base64 -w0 <"$d/pcrs")" >"$d/quote.txt"

	tcq "$d" $k
	check "$k: tpm2_checkquote accepts the quote" $?
	ours "$d" $k
	check "$k: quote_check accepts the raw files" $?
	out=$("$QC" -k "$T/$k.pem" -n "$NONCE" -p "$T/payload.pem" -R -q "$d/quote.txt")
	[ "$out" = OK ]
	check "$k: quote_check accepts the Keylime string, PCR 16 binds, re-encodes exactly" $?

	# Wrong nonce.
	! tcq "$d" $k "$(printf %s "x${NONCE:1}" | od -An -tx1 | tr -d ' \n')"
	check "$k: tpm2_checkquote rejects a wrong nonce" $?
	out=$("$QC" -k "$T/$k.pem" -n "x${NONCE:1}" -q "$d/quote.txt")
	[[ $out == "FAIL quote_validation.nonce:"* ]]
	check "$k: quote_check rejects a wrong nonce" $?

	# A flipped signature byte (the last one: inside RSA's signature or ECDSA's s).
	copy "$d" "$d.sig"
	: >"$T/ours.log"
	flip "$d.sig/sig" $(($(stat -c %s "$d/sig") - 1))
	! tcq "$d.sig" $k
	check "$k: tpm2_checkquote rejects a flipped signature byte" $?
	! ours "$d.sig" $k && grep -q "FAIL quote_validation.signature:" "$T/ours.log"
	check "$k: quote_check rejects a flipped signature byte" $?

	# A changed attest byte (low byte of clockInfo.clock: still well-formed).
	copy "$d" "$d.att"
	flip "$d.att/attest" $((4 + 2 + 2 + 34 + 2 + ${#NONCE} + 7))
	! tcq "$d.att" $k
	check "$k: tpm2_checkquote rejects a changed attest byte" $?
	: >"$T/ours.log"
	! ours "$d.att" $k && grep -q "FAIL quote_validation.signature:" "$T/ours.log"
	check "$k: quote_check rejects a changed attest byte" $?

	# A changed PCR value (PCR 7, the third value).
	copy "$d" "$d.pcr"
	flip "$d.pcr/pcrs" $((136 + 4 + 2 * 66 + 2 + 3))
	! tcq "$d.pcr" $k
	check "$k: tpm2_checkquote rejects a changed PCR value" $?
	: >"$T/ours.log"
	! ours "$d.pcr" $k && grep -q "FAIL quote_validation.pcr_digest:" "$T/ours.log"
	check "$k: quote_check rejects a changed PCR value" $?

	# The blob relabels PCR 10 as PCR 11: same values, so pcrDigest still matches.
	copy "$d" "$d.sel"
	# pcrSelect[1] at offset 8: 0x04 (PCR 10) becomes 0x08 (PCR 11).
	printf '\010' | dd of="$d.sel/pcrs" bs=1 seek=8 conv=notrunc status=none
	: >"$T/ours.log"
	! ours "$d.sel" $k && grep -q "FAIL quote_validation.pcr_selection:" "$T/ours.log"
	check "$k: quote_check rejects a PCR blob that relabels quoted PCRs" $?
	if tcq "$d.sel" $k; then tcqsel=accepts; else tcqsel=rejects; fi
	echo "# $k: tpm2_checkquote $tcqsel the relabelled PCR blob"
done

# The RSA AK's key does not verify the ECC quote, and the other way round.
! ours "$T/qecc" rsa && ! ours "$T/qrsa" ecc
check "quote_check rejects a quote under the other AK" $?
exit 0
