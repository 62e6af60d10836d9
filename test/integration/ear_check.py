#!/usr/bin/python3
# ear_check.py jwt|cwt TOKEN PUB.pem NOW: check an EAR token made by vigil with libraries
# no one here wrote: PyJWT for a JWT (signature, iat, claims); cbor2 + cryptography for a
# CWT (the COSE_Sign1 taken apart by hand, the Sig_structure rebuilt, the ES256 signature
# checked, the integer claim keys of draft-fv-rats-ear-05 read, and the claims re-encoded
# canonically to the very same bytes). Prints "good" and exits 0, or says what is wrong.
# With UUID STATUS after NOW: a token the verifier signed for node UUID (GetReport,
# AttestNow), whose appraisal must have that ear.status.
import sys
import cbor2, jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

PROFILE = "tag:github.com,2023:veraison/ear"
fmt, tok, pem, now = sys.argv[1], open(sys.argv[2], "rb").read(), open(sys.argv[3], "rb").read(), int(sys.argv[4])
pub = serialization.load_pem_public_key(pem)
TV = ["instance-identity", "configuration", "executables", "file-system", "hardware",
      "runtime-opaque", "storage-opaque", "sourced-data"]

def fail(why):
    print("bad:", why)
    sys.exit(1)

# ear_check.py jwt|cwt TOKEN PUB.pem NOW UUID STATUS: a verifier's token of one node
# (GetReport, AttestNow): signature, profile, iat, the node's submodule and its status.
if len(sys.argv) > 6:
    uuid, status = sys.argv[5], sys.argv[6]
    tiers = {"affirming": 2, "warning": 32, "contraindicated": 96, "none": 0}
    if fmt == "jwt":
        if jwt.get_unverified_header(tok) != {"alg": "ES256", "typ": "JWT"}:
            fail("header")
        c = jwt.decode(tok, pub, algorithms=["ES256"], options={"require": ["iat"]})
        if c["eat_profile"] != PROFILE or abs(c["iat"] - now) > 120:
            fail("profile or iat: %r %r" % (c["eat_profile"], c["iat"]))
        if list(c["submods"]) != [uuid]:
            fail("submods %r" % list(c["submods"]))
        a = c["submods"][uuid]
        if a["ear.status"] != status or a["ear.vigil.node"]["node-uuid"] != uuid:
            fail("appraisal %r" % a)
    else:
        t = cbor2.loads(tok)
        if not isinstance(t, cbor2.CBORTag) or t.tag != 18 or len(t.value) != 4:
            fail("not a tagged COSE_Sign1")
        prot, unprot, payload, sig = t.value
        if cbor2.loads(prot) != {1: -7} or len(sig) != 64:
            fail("headers or signature length")
        tbs = cbor2.dumps(["Signature1", prot, b"", payload])
        der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
        try:
            pub.verify(der, tbs, ec.ECDSA(hashes.SHA256()))
        except Exception:
            fail("signature does not verify")
        c = cbor2.loads(payload)
        if cbor2.dumps(c, canonical=True) != payload:
            fail("the claims are not in canonical CBOR")
        if c[265] != PROFILE or abs(c[6] - now) > 120:
            fail("profile or iat")
        if list(c[266]) != [uuid]:
            fail("submods %r" % list(c[266]))
        a = c[266][uuid]
        if a[1000] != tiers[status] or a[-70400]["node-uuid"] != uuid:
            fail("appraisal %r" % a)
    print("good")
    sys.exit(0)

if fmt == "jwt":
    hdr = jwt.get_unverified_header(tok)
    if hdr != {"alg": "ES256", "typ": "JWT"}:
        fail("header %r" % hdr)
    c = jwt.decode(tok, pub, algorithms=["ES256"], options={"require": ["iat"]})
    if c["eat_profile"] != PROFILE or abs(c["iat"] - now) > 120:
        fail("profile or iat: %r %r" % (c["eat_profile"], c["iat"]))
    (label, a), = c["submods"].items()
    tv = a["ear.trustworthiness-vector"]
    if a["ear.status"] != "affirming" or tv["instance-identity"] != 2 or tv["hardware"] != 2:
        fail("appraisal %r" % a)
    if a["ear.vigil.node"]["node-uuid"] != label or c["ear.verifier-id"]["build"] == "":
        fail("vigil claims %r" % a)
    if set(tv) - set(TV):
        fail("unknown trustworthiness claims %r" % tv)
else:
    t = cbor2.loads(tok)
    if not isinstance(t, cbor2.CBORTag) or t.tag != 18 or len(t.value) != 4:
        fail("not a tagged COSE_Sign1")
    prot, unprot, payload, sig = t.value
    if cbor2.loads(prot) != {1: -7} or unprot != {} or len(sig) != 64:
        fail("headers %r %r or signature length %d" % (prot, unprot, len(sig)))
    tbs = cbor2.dumps(["Signature1", prot, b"", payload])
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    try:
        pub.verify(der, tbs, ec.ECDSA(hashes.SHA256()))
    except Exception:
        fail("signature does not verify")
    c = cbor2.loads(payload)
    if cbor2.dumps(c, canonical=True) != payload:
        fail("the claims are not in canonical CBOR")
    if set(c) != {265, 6, 1004, 1002, 266}:
        fail("top-level keys %r" % sorted(c))
    if c[265] != PROFILE or abs(c[6] - now) > 120 or not isinstance(c[1002], bytes):
        fail("profile, iat or raw evidence")
    if set(c[1004]) != {0, 1}:
        fail("verifier-id keys %r" % c[1004])
    (label, a), = c[266].items()
    if a[1000] != 2 or a[1001][0] != 2 or a[1001][4] != 2 or not isinstance(a[1003], str):
        fail("appraisal %r" % a)
    if a[-70400]["node-uuid"] != label or a[-70400]["tpm-reset-count"] != 3:
        fail("vigil claims %r" % a[-70400])
print("good")
