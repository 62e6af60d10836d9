#!/usr/bin/python3
# Regenerates test/fuzz/corpus/ear/: EAR tokens signed with test/unit/data/ear/key.pem by
# libraries no one here wrote (PyJWT; cbor2 + cryptography for the COSE_Sign1), unsigned
# claims sets (which the target also reads as such), and hostile envelopes and claims.
# vigil_*.jwt / vigil_*.cwt are vigil's own: build/tools/ear_sign test/unit/data/ear/key.pem
# jwt|cwt 1700000000 FILE. Run from the repository's top:
#   /usr/bin/python3 test/fuzz/corpus_gen_ear.py
import base64, json, os, subprocess
import cbor2, jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

D = "test/fuzz/corpus/ear"
K = "test/unit/data/ear/"
PEM = open(K + "key.pem", "rb").read()
key = serialization.load_pem_private_key(PEM, password=None)
other = serialization.load_pem_private_key(open(K + "other.pem", "rb").read(), password=None)
PROFILE = "tag:github.com,2023:veraison/ear"
os.makedirs(D, exist_ok=True)

def put(name, data):
    with open(os.path.join(D, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())

claims = {
    "eat_profile": PROFILE, "iat": 1700000000,
    "ear.verifier-id": {"developer": "https://example.org", "build": "py 1"},
    "ear.raw-evidence": "cgD_cQ",
    "submods": {"n1": {"ear.status": "warning",
                       "ear.trustworthiness-vector": {"instance-identity": 2, "executables": 33},
                       "ear.appraisal-policy-id": "p",
                       "ear.vigil.node": {"node-uuid": "n1", "quote-time": 1699999990,
                                          "tpm-reset-count": 1,
                                          "policies": [{"kind": "pcr", "name": "a", "digest": "00"}]}}}}
cwt_claims = {265: PROFILE, 6: 1700000000, 1004: {0: "https://example.org", 1: "py 1"},
              1002: b"r\x00\xffq",
              266: {"n1": {1000: 32, 1001: {0: 2, 2: 33}, 1003: "p",
                           -70400: {"node-uuid": "n1", "quote-time": 1699999990,
                                    "tpm-reset-count": 1,
                                    "policies": [{"kind": "pcr", "name": "a", "digest": "00"}]}}}}

put("jwt_pyjwt.txt", jwt.encode(claims, PEM, algorithm="ES256"))
put("jwt_other_key.txt", jwt.encode(claims, open(K + "other.pem", "rb").read(), algorithm="ES256"))
put("jwt_hs256.txt", jwt.encode(claims, "secret", algorithm="HS256"))
put("jwt_none.txt", jwt.encode(claims, None, algorithm="none"))
put("jwt_four_parts.txt", jwt.encode(claims, PEM, algorithm="ES256") + ".x")
put("jwt_bad_b64.txt", "eyJhbGciOiJFUzI1NiJ9.e*J9.AA")

def cose(payload, prot=b"\xa1\x01\x26", unprot=None, k=key, tag=18, siglen=64):
    tbs = cbor2.dumps(["Signature1", prot, b"", payload])
    r, s = decode_dss_signature(k.sign(tbs, ec.ECDSA(hashes.SHA256())))
    sig = (r.to_bytes(32, "big") + s.to_bytes(32, "big"))[:siglen]
    arr = [prot, unprot or {}, payload, sig]
    return cbor2.dumps(cbor2.CBORTag(tag, arr) if tag is not None else arr)

payload = cbor2.dumps(cwt_claims, canonical=True)
put("cwt_cbor2.cbor", cose(payload))
put("cwt_untagged.cbor", cose(payload, tag=None))
put("cwt_tag61.cbor", cose(payload, tag=61))
put("cwt_other_key.cbor", cose(payload, k=other))
put("cwt_es384_header.cbor", cose(payload, prot=b"\xa1\x01\x38\x22"))
put("cwt_crit.cbor", cose(payload, prot=b"\xa2\x01\x26\x02\x81\x01"))
put("cwt_alg_unprotected.cbor", cose(payload, unprot={1: -7}))
put("cwt_short_sig.cbor", cose(payload, siglen=63))
put("cwt_trailing.cbor", cose(payload) + b"\x00")
put("cwt_profile_other.cbor", cose(cbor2.dumps({**cwt_claims, 265: "tag:x"})))
# Veraison's rust encoder writes indefinite-length maps: read them as well.
indef = b"\xbf" + cbor2.dumps(265) + cbor2.dumps(PROFILE) + b"\x06" + cbor2.dumps(1700000000) + \
    cbor2.dumps(1004) + cbor2.dumps({0: "d", 1: "b"}) + cbor2.dumps(266) + \
    b"\xa1\x61n\xbf\x19\x03\xe8\x00\xff\xff"
put("cwt_indefinite.cbor", cose(indef))
put("claims_indefinite.cbor", indef)
put("claims.cbor", payload)
put("claims.json", json.dumps(claims))
put("claims_float_iat.cbor", cbor2.dumps({**cwt_claims, 6: 1700000000.5}))
put("claims_tagged_iat.cbor", cbor2.dumps({**cwt_claims, 6: cbor2.CBORTag(1, 1700000000)}))
put("claims_int_label.cbor", cbor2.dumps({**cwt_claims, 266: {7: {1000: 2}}}))
put("claims_bad_status.cbor", cbor2.dumps({**cwt_claims, 266: {"n": {1000: 5}}}))
put("claims_better_than_worst.json", json.dumps(dict(claims, submods={"n": {
    "ear.status": "affirming", "ear.trustworthiness-vector": {"executables": 96}}})))
put("claims_dup_key.cbor", b"\xa2\x06\x01\x06\x02")
put("claims_not_utf8.cbor", b"\xa1\x62\xff\xfe\x01")
put("claims_deep.cbor", b"\x81" * 200 + b"\x00")
put("claims_deep_map.cbor", b"\xa1\x00" * 100 + b"\x00")
put("claims_huge_count.cbor", b"\x9b\x7f\xff\xff\xff\xff\xff\xff\xff\x00")
put("claims_huge_bstr.cbor", b"\xa1\x00\x5b\xff\xff\xff\xff\xff\xff\xff\xf0\x00")
put("claims_huge_int.cbor", b"\xa1\x06\x1b\xff\xff\xff\xff\xff\xff\xff\xff")
put("claims_stray_break.cbor", b"\xa1\x06\xff")
put("claims_deep.json", "[" * 5000)
put("envelope_huge_bstr.cbor", b"\xd2\x84\x5b\xff\xff\xff\xff\xff\xff\xff\xf0")
put("envelope_tag_20.cbor", b"\xd4\x84\x40\xa0\x40\x40")
put("empty", b"")
for fmt in ("jwt", "cwt"):
    subprocess.run(["build/tools/ear_sign", K + "key.pem", fmt, "1700000000",
                    os.path.join(D, "vigil_signed." + fmt)], check=True)
