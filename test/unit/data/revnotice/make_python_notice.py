#!/usr/bin/python3
# Writes python_notice.json: a revocation notice as Keylime's verifier makes it
# (keylime/cloud_verifier_common.py prepare_error, keylime/crypto.py rsa_sign), signed with
# notifier.key by Python's `cryptography` (Debian's python3-cryptography). Run from this
# directory: /usr/bin/python3 make_python_notice.py
import base64, json
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

revocation = {
    "type": "revocation",
    "ip": "127.0.0.1",
    "agent_id": "d432fbb3-d2f1-4a97-9ef7-75bd81c00000",
    "port": 9002,
    "tpm_policy": json.dumps({"mask": "0x408000", "15": ["0" * 64]}),
    "meta_data": json.dumps({"cert_serial": 1}),
    "event_time": "Mon Aug  3 07:14:14 2026",
    "event_id": "ima.validation.ima-ng.not_in_allowlist",
    "severity_label": "emergency",
    "context": json.dumps({"message": "File not found in allowlist: /usr/bin/evil \u00e9"}),
}
msg = json.dumps(revocation)
key = serialization.load_pem_private_key(open("notifier.key", "rb").read(), password=None)
sig = key.sign(msg.encode("utf-8"),
               padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH),
               hashes.SHA256())
with open("python_notice.json", "w") as f:
    json.dump({"msg": msg, "signature": base64.b64encode(sig).decode()}, f)
