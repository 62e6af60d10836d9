#!/usr/bin/python3
# Regenerates test/fuzz/corpus/revnotice/ (besides python_signed.json, a copy of
# test/unit/data/revnotice/python_notice.json): notices signed with notifier.key the way
# Keylime's verifier signs them, and hostile ones. Run from the repository's top:
#   /usr/bin/python3 test/fuzz/corpus_gen_revnotice.py
import base64, json, os
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

D = "test/fuzz/corpus/revnotice"
K = "test/unit/data/revnotice/"
key = serialization.load_pem_private_key(open(K + "notifier.key", "rb").read(), password=None)
other = serialization.load_pem_private_key(open(K + "other.key", "rb").read(), password=None)

def sign(k, msg, salt=None):
    s = padding.PSS(mgf=padding.MGF1(hashes.SHA256()),
                    salt_length=padding.PSS.MAX_LENGTH if salt is None else salt)
    return base64.b64encode(k.sign(msg.encode("utf-8"), s, hashes.SHA256())).decode()

def put(name, data):
    with open(os.path.join(D, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())

inner = json.dumps({"type": "comm_error", "ip": "10.0.0.7", "agent_id": "node-7", "port": 9002,
                    "tpm_policy": "{}", "meta_data": "{}", "event_time": "Tue Dec  1 10:00:00 2026"})
good = {"msg": inner, "signature": sign(key, inner)}
put("signed_comm_error.json", json.dumps(good))
put("signed_by_other.json", json.dumps({"msg": inner, "signature": sign(other, inner)}))
put("salt_32.json", json.dumps({"msg": inner, "signature": sign(key, inner, 32)}))
put("unsigned_empty.json", json.dumps({"msg": inner, "signature": ""}))
put("unsigned_none.json", json.dumps({"msg": inner, "signature": "none"}))
put("unsigned_absent.json", json.dumps({"msg": inner}))
put("truncated.json", json.dumps(good)[:200])
put("bad_base64.json", json.dumps({"msg": inner, "signature": "!!" + good["signature"][2:]}))
put("long_signature.json", json.dumps({"msg": inner, "signature": "A" * 8192}))
put("short_signature.json", json.dumps({"msg": inner, "signature": "AAAA"}))
put("spliced.json", json.dumps({"msg": inner.replace("node-7", "node-8"), "signature": good["signature"]}))
put("msg_array.json", json.dumps({"msg": "[1, 2]", "signature": sign(key, "[1, 2]")}))
put("msg_truncated.json", json.dumps({"msg": inner[:40], "signature": sign(key, inner[:40])}))
put("msg_not_string.json", json.dumps({"msg": json.loads(inner), "signature": good["signature"]}))
put("dup_msg.json", '{"msg": "{}", "msg": %s, "signature": "%s"}' % (json.dumps(inner), good["signature"]))
put("nul_in_msg.json", '{"msg": "{\\u0000}", "signature": "AAAA"}')
put("deep.json", "[" * 5000 + "]" * 5000)
put("deep_msg.json", json.dumps({"msg": "[" * 3000 + "]" * 3000, "signature": sign(key, "[" * 3000 + "]" * 3000)}))
put("not_utf8.json", b'{"msg": "\xff\xfe", "signature": "AAAA"}')
put("empty", b"")
put("signature_null.json", json.dumps({"msg": inner, "signature": None}))
