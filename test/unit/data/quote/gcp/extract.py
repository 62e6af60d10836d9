#!/usr/bin/python3
"""extract.py: turn the real GCP shielded-VM (vTPM) attestation in
test/data/eventlog/windows_gcp_shielded_vm.json (go-attestation's test data,
Apache-2.0) into the files test_quote.c reads: attest (TPMS_ATTEST), sig (TPMT_SIGNATURE),
ak.pem (the AK, from its TPMT_PUBLIC), pcr_values (the 24 SHA-1 PCR values, PCR 0 first,
concatenated). The quote is RSASSA-SHA1 over all 24 SHA-1 PCRs with an empty nonce; a
vTPM, not swtpm, made it. There is no PCR blob: the test builds one with our encoder.
Run with Debian's /usr/bin/python3 (python3-cryptography)."""
import base64, json, os, struct, sys
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives import serialization

out = os.path.dirname(os.path.abspath(__file__))
src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    out, "..", "..", "..", "..", "data", "eventlog", "windows_gcp_shielded_vm.json")
d = json.load(open(src))
open(os.path.join(out, "attest"), "wb").write(base64.b64decode(d["Quote"]["Quote"]))
open(os.path.join(out, "sig"), "wb").write(base64.b64decode(d["Quote"]["Signature"]))

# TPMT_PUBLIC (no size prefix): type, nameAlg, objectAttributes, authPolicy, RSA parms, unique.
pub = base64.b64decode(d["AK"]["Public"])
typ, name_alg, attrs = struct.unpack_from(">HHI", pub, 0)
assert typ == 0x0001, "not an RSA key"
o = 8
(n,) = struct.unpack_from(">H", pub, o)
o += 2 + n                                   # authPolicy
(sym,) = struct.unpack_from(">H", pub, o)
o += 2 if sym == 0x0010 else 6               # symmetric: TPM_ALG_NULL, or alg+bits+mode
(scheme,) = struct.unpack_from(">H", pub, o)
o += 2 if scheme == 0x0010 else 4            # scheme, with its hash unless NULL
bits, exponent = struct.unpack_from(">HI", pub, o)
o += 6
(n,) = struct.unpack_from(">H", pub, o)
modulus = int.from_bytes(pub[o + 2:o + 2 + n], "big")
key = rsa.RSAPublicNumbers(exponent or 65537, modulus).public_key()
open(os.path.join(out, "ak.pem"), "wb").write(key.public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))

pcrs = {p["Index"]: base64.b64decode(p["Digest"]) for p in d["Log"]["PCRs"] if p["DigestAlg"] == 3}
assert sorted(pcrs) == list(range(24))
open(os.path.join(out, "pcr_values"), "wb").write(b"".join(pcrs[i] for i in range(24)))
print("written to", out)
