#!/usr/bin/env bash
# make-chain.sh: the recorded audit chain of test/unit/test_audit.c. A second, independent
# implementation of the formats in common/store/audit.h: Python writes the records (their
# canonical bytes and hashes), openssl signs the seals, so the C code is checked against
# what the documentation says rather than against itself. Run from this directory; it
# rewrites key.pem (a test-only key), key.pub.pem, other.pub.pem and chain.jsonl.
set -eu
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out key.pem 2>/dev/null
openssl pkey -in key.pem -pubout -out key.pub.pem
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null |
	openssl pkey -pubout -out other.pub.pem
python3 - <<'PY'
import base64, hashlib, json, subprocess
def keyid(pem):
    der = subprocess.run(["openssl", "pkey", "-pubin", "-in", pem, "-outform", "DER"],
                         check=True, capture_output=True).stdout
    return hashlib.sha256(der).hexdigest()
def canon(prev, seq, t, node, typ, sev, body):
    out = f"{prev}\n{seq}\n{t}\n".encode()
    for f in (node or "", typ, sev or "", body):
        b = f.encode()
        out += str(len(b)).encode() + b":" + b
    return out
def sign(msg):
    return base64.b64encode(subprocess.run(["openssl", "dgst", "-sha256", "-sign", "key.pem"],
                            input=msg, check=True, capture_output=True).stdout).decode()
kid = keyid("key.pub.pem")
pem = open("key.pub.pem").read()
lines = [json.dumps({"kind": "header", "format": "vigil-audit-export", "version": 1,
                     "key": pem, "key_id": kid, "exported": 1767225600000},
                    separators=(",", ":"))]
node = "a0a0a0a0-0000-4000-8000-000000000001"
prev = "0" * 64
for seq in range(1, 13):
    t = 1767225000000 + seq * 1000
    typ = ["revocation", "comm_error", "agent_cert_repinned"][seq % 3]
    body = json.dumps({"agent_id": node, "context": f"reason {seq} \u00e9", "event_id":
                       f"check.{seq}", "ip": "127.0.0.1", "port": 9002, "severity_label":
                       "emergency", "type": typ}, separators=(",", ":"), sort_keys=True,
                      ensure_ascii=False)
    n = None if seq == 7 else node
    sev = None if seq == 8 else "emergency"
    h = hashlib.sha256(canon(prev, seq, t, n, typ, sev, body)).hexdigest()
    lines.append(json.dumps({"kind": "record", "seq": seq, "id": f"{seq}-{h[:16]}", "time": t,
                             "node_uuid": n, "type": typ, "severity": sev, "body": body,
                             "prev_hash": prev, "hash": h}, separators=(",", ":"),
                            ensure_ascii=False))
    if seq in (5, 10):
        st = t + 500
        msg = f"vigil-audit-seal-v1\n{seq}\n{h}\n{st}\n{kid}\n".encode()
        lines.append(json.dumps({"kind": "seal", "seq": seq, "hash": h, "time": st,
                                 "key_id": kid, "sig": sign(msg)}, separators=(",", ":")))
    prev = h
open("chain.jsonl", "w").write("\n".join(lines) + "\n")
PY
# The private key signed the seals above and is not needed again: test_audit.c makes its
# own keys for what it signs.
rm -f key.pem
