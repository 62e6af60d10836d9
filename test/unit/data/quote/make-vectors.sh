#!/usr/bin/env bash
# make-vectors.sh: record the quote test vectors in this folder from a real software TPM
# (swtpm) with tpm2-tools, exactly the way a Keylime agent's TPM answers. Run it by hand
# when the vectors must change; the files it writes are committed and read by
# test/unit/test_quote.c. Every run makes new keys, so all vectors change together.
#
# Per vector folder (rsa, ecc, rsa_all24, rsa_multibank, rsapss):
#   ak.pub    TPM2B_PUBLIC of the AK (tpm2_readpublic -f tss)
#   ak.pem    the same key as SubjectPublicKeyInfo PEM (tpm2_readpublic -f pem)
#   attest    TPMS_ATTEST as signed (tpm2_quote -m)
#   sig       TPMT_SIGNATURE, TPM-marshalled (tpm2_quote -s, default tss format)
#   pcrs      PCR blob, tpm2-tools little-endian struct dump (tpm2_quote -o, -F serialized)
#   quote.txt Keylime quote string: 'r' b64(attest) ':' b64(sig) ':' b64(pcrs), no newline
#   cmd       the tpm2_quote command that made it
# Top level: nonce (ASCII, no newline), payload.pem (the key whose PEM is bound into PCR 16
# as the Keylime agent does: PCR_Reset(16), PCR_Extend(16, H(pem)) in every bank).
# gcp/ is not made here: gcp/extract.py takes it from a real vTPM attestation in
# test/data/eventlog.
set -euo pipefail
OUT=$(cd "$(dirname "$0")" && pwd)
W=$(mktemp -d /tmp/quote-vectors.XXXXXX)
SWTPM_PID=
cleanup() {
	[ -n "$SWTPM_PID" ] && kill "$SWTPM_PID" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT

# Two free consecutive loopback ports (server, control).
port_free() { ! ss -Hltn "sport = :$1" | grep -q .; }
for _ in $(seq 100); do
	P=$((20000 + RANDOM % 20000))
	port_free "$P" && port_free $((P + 1)) && break
done
mkdir -p "$W/state"
swtpm socket --tpm2 --tpmstate dir="$W/state" --server type=tcp,port="$P",bindaddr=127.0.0.1 \
	--ctrl type=tcp,port=$((P + 1)),bindaddr=127.0.0.1 --flags not-need-init,startup-clear \
	>"$W/swtpm.log" 2>&1 &
SWTPM_PID=$!
export TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$P"
for _ in $(seq 50); do tpm2_getrandom 1 >/dev/null 2>&1 && break; sleep 0.1; done

NONCE=kl1Rq8vigilNonce2024
printf %s "$NONCE" >"$OUT/nonce"
NONCE_HEX=$(printf %s "$NONCE" | od -An -tx1 | tr -d ' \n')

# The payload key whose PEM the agent binds into PCR 16.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$W/payload.key" 2>/dev/null
openssl pkey -in "$W/payload.key" -pubout -out "$OUT/payload.pem"
tpm2_pcrreset 16
tpm2_pcrextend "16:sha1=$(sha1sum <"$OUT/payload.pem" | cut -d' ' -f1),sha256=$(sha256sum <"$OUT/payload.pem" | cut -d' ' -f1)"
# Some measurements, so the quoted PCRs are not all zero.
tpm2_pcrextend "0:sha1=$(printf boot | sha1sum | cut -d' ' -f1),sha256=$(printf boot | sha256sum | cut -d' ' -f1)"
tpm2_pcrextend "10:sha256=$(printf ima | sha256sum | cut -d' ' -f1)"
tpm2_pcrextend "7:sha256=$(printf sb | sha256sum | cut -d' ' -f1)"

# No resource manager on this TCTI: flush transient objects after every step, or the
# TPM runs out of object slots.
tpm2_createek -c "$W/ek.ctx" -G rsa -u "$W/ek.pub" >/dev/null
tpm2_flushcontext -t
mkak() { # mkak NAME KEYALG SIGALG
	tpm2_createak -C "$W/ek.ctx" -c "$W/$1.ctx" -G "$2" -g sha256 -s "$3" -u "$W/$1.akpub" \
		-n "$W/$1.name" -r "$W/$1.priv" >/dev/null
	tpm2_flushcontext -t
	tpm2_flushcontext -s
}
mkak akrsa rsa rsassa
mkak akecc ecc ecdsa
mkak akpss rsa rsapss

quote() { # quote NAME AKNAME PCRLIST [EXTRA tpm2_quote ARGS]
	local d="$OUT/$1"
	local extra=("${@:4}")
	mkdir -p "$d"
	tpm2_readpublic -c "$W/$2.ctx" -f tss -o "$d/ak.pub" >/dev/null
	tpm2_readpublic -c "$W/$2.ctx" -f pem -o "$d/ak.pem" >/dev/null
	local cmd="tpm2_quote -c ak.ctx -l $3 -q $NONCE_HEX -m attest -s sig -o pcrs -g sha256${extra[*]:+ ${extra[*]}}"
	tpm2_quote -c "$W/$2.ctx" -l "$3" -q "$NONCE_HEX" -m "$d/attest" -s "$d/sig" -o "$d/pcrs" \
		-g sha256 "${extra[@]}" >/dev/null
	tpm2_flushcontext -t
	echo "$cmd" >"$d/cmd"
	printf 'r%s:%s:%s' "$(base64 -w0 <"$d/attest")" "$(base64 -w0 <"$d/sig")" \
		"$(base64 -w0 <"$d/pcrs")" >"$d/quote.txt"
	# A second opinion right away: tpm2-tools must accept what it just made. Not for
	# RSAPSS: tpm2_checkquote 5.4 checks RSA with PKCS#1 v1.5 only, and vigil, like
	# Keylime, refuses RSAPSS quotes anyway.
	[ "$1" = rsapss ] || tpm2_checkquote -u "$d/ak.pem" -m "$d/attest" -s "$d/sig" -f "$d/pcrs" -g sha256 \
		-q "$NONCE_HEX" >/dev/null
}
quote rsa akrsa sha256:0,1,10,16
quote ecc akecc sha256:0,1,10,16
quote rsa_all24 akrsa sha256:all
quote rsa_multibank akrsa sha1:0,16+sha256:0,7,10,16
quote rsapss akpss sha256:0,1,10,16 --scheme rsapss
echo "vectors written to $OUT"
