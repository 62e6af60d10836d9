#!/usr/bin/env bash
# EAR attestation results checked by libraries no one here wrote (docs/ear.md).
# Setup: an attestation-result key made the way the verifier makes STATE_DIR/report.key
# (test/tools/ear_sign, common/crypto/ear), and its public half (openssl pkey -pubout).
# Actions:
#   - the key file is made once with mode 0600 and reused (same public key);
#   - a JWT and a CWT of a node's verdict, signed by vigil's code, issued now:
#     PyJWT verifies the JWT (header, signature, iat, claims); cbor2 + cryptography take
#     the COSE_Sign1 apart, rebuild the Sig_structure, verify the signature, read the
#     integer claim keys and find the claims in canonical CBOR (test/integration/ear_check.py);
#   - vigilctl report verify accepts both and prints the same claims for both;
#   - it refuses a flipped byte, another key, an expired iat (--max-age), a future iat,
#     and a token of another profile made by PyJWT, each with exit 1 and its reason.
# Expected: as each action says.
. "$(dirname "$0")/lib.sh"

/usr/bin/python3 -c 'import jwt, cbor2, cryptography' 2>/dev/null || {
	echo "skip ear: python3-jwt, python3-cbor2 or python3-cryptography not installed"
	exit 0
}
SIGN=$TOP/build/tools/ear_sign
KEY=$T/report.key
PY=$TOP/test/integration/ear_check.py
verify() { "$BIN/vigilctl" report verify "$@"; }

"$SIGN" "$KEY" jwt now "$T/a.jwt" && [ "$(stat -c %a "$KEY")" = 600 ]
check key_made_0600 $?
openssl pkey -in "$KEY" -pubout -out "$T/pub.pem" 2>/dev/null
"$SIGN" "$KEY" cwt now "$T/a.cwt" &&
	openssl pkey -in "$KEY" -pubout 2>/dev/null | cmp -s - "$T/pub.pem"
check key_reused $?

NOW=$(date +%s)
out=$(/usr/bin/python3 "$PY" jwt "$T/a.jwt" "$T/pub.pem" "$NOW" 2>&1)
[ "$out" = good ] || echo "# $out"
[ "$out" = good ]
check pyjwt_verifies_jwt $?
out=$(/usr/bin/python3 "$PY" cwt "$T/a.cwt" "$T/pub.pem" "$NOW" 2>&1)
[ "$out" = good ] || echo "# $out"
[ "$out" = good ]
check cbor2_verifies_cwt $?

verify "$T/a.jwt" --key "$T/pub.pem" >"$T/a.jwt.json" 2>"$T/a.jwt.err" &&
	grep -q '^signature good' "$T/a.jwt.err" && grep -q '"ear.status": "affirming"' "$T/a.jwt.json"
check vigilctl_verifies_jwt $?
verify "$T/a.cwt" --key "$T/pub.pem" >"$T/a.cwt.json" 2>"$T/a.cwt.err" &&
	grep -q '^signature good' "$T/a.cwt.err"
check vigilctl_verifies_cwt $?
# The two encodings carry the same claims (the quote time and iat are the same second or
# the next: compare without them).
strip() { grep -v -e '"iat"' -e '"quote-time"' "$1"; }
cmp -s <(strip "$T/a.jwt.json") <(strip "$T/a.cwt.json")
check same_claims_both_encodings $?

# refused: exit 1 with the reason
refused() { # FILE REASON [OPTIONS...]
	local f=$1 why=$2 rc
	shift 2
	verify "$f" "$@" >/dev/null 2>"$T/err"; rc=$?
	[ $rc -eq 1 ] && grep -q "refused ($why)" "$T/err" || { echo "# rc $rc: $(cat "$T/err")"; return 1; }
}
for fmt in jwt cwt; do
	cp "$T/a.$fmt" "$T/flip.$fmt"
	# one byte in the middle, changed to another base64url character for the JWT
	/usr/bin/python3 - "$T/flip.$fmt" "$fmt" <<'PYEOF'
import sys
p, fmt = sys.argv[1], sys.argv[2]
b = bytearray(open(p, "rb").read())
i = len(b) // 2
b[i] = (ord("A") if b[i] != ord("A") else ord("B")) if fmt == "jwt" else b[i] ^ 1
open(p, "wb").write(b)
PYEOF
	refused "$T/flip.$fmt" "bad signature" --key "$T/pub.pem"
	check "${fmt}_flipped_byte_refused" $?
	"$SIGN" "$T/other.key" "$fmt" now "$T/other.$fmt" >/dev/null
	refused "$T/other.$fmt" "bad signature" --key "$T/pub.pem"
	check "${fmt}_other_key_refused" $?
	"$SIGN" "$KEY" "$fmt" $((NOW - 7200)) "$T/old.$fmt"
	refused "$T/old.$fmt" "expired" --key "$T/pub.pem" --max-age 3600
	check "${fmt}_expired_refused" $?
	verify "$T/old.$fmt" --key "$T/pub.pem" --max-age 0 >/dev/null 2>&1
	check "${fmt}_old_accepted_without_max_age" $?
	"$SIGN" "$KEY" "$fmt" $((NOW + 3600)) "$T/future.$fmt"
	refused "$T/future.$fmt" "issued in the future" --key "$T/pub.pem"
	check "${fmt}_future_refused" $?
done
/usr/bin/python3 - "$KEY" "$NOW" >"$T/profile.jwt" <<'PYEOF'
import sys, jwt
c = {"eat_profile": "tag:example.org,2024:other", "iat": int(sys.argv[2]),
     "ear.verifier-id": {"developer": "d", "build": "b"}, "submods": {"n": {"ear.status": "none"}}}
print(jwt.encode(c, open(sys.argv[1], "rb").read(), algorithm="ES256"))
PYEOF
refused "$T/profile.jwt" "wrong profile" --key "$T/pub.pem"
check other_profile_refused $?
echo "garbage" >"$T/garbage"
refused "$T/garbage" "malformed token" --key "$T/pub.pem"
check malformed_refused $?
