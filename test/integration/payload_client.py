#!/usr/bin/python3
"""The tenant's and the verifier's halves of Keylime's secure payload, as Keylime does
them (keylime/crypto.py, tenant.py, cmd/user_data_encrypt.py), written here with Python's
`cryptography` and `zipfile` so that nothing of vigil's own code makes the shares.

Environment: PC_URL (https://127.0.0.1:PORT/v2.N), PC_CA (the agent's certificate),
PC_CERT and PC_KEY (a client certificate the agent trusts), PC_UUID (the agent's UUID),
PC_DIR (where the cases are kept).

  pubkey                  GET /keys/pubkey and an identity quote; prints "same" when the
                          two PEMs are identical, and saves it as PC_DIR/pubkey.pem
  make NAME KIND [OPT]    K, V, U = K xor V, auth_tag, and a payload of KIND: stored or
                          deflated (a ZIP with autorun.sh, sub/data.txt), dotdot (an entry
                          "../escape.txt"), symlink (an entry that is a link), raw (not a
                          ZIP), none (no payload); OPT: flip (one ciphertext byte
                          flipped), wrong-u or wrong-v (that share is random, not K's)
  post NAME u|v           POST the share; prints "CODE STATUS"
  body u|v FILE           POST FILE as it is; prints "CODE STATUS"
  verify NAME             GET /keys/verify with a fresh challenge; prints "200 match",
                          "200 mismatch" or "CODE STATUS"
"""
import base64
import hashlib
import hmac
import http.client
import io
import json
import os
import secrets
import ssl
import sys
import urllib.parse
import zipfile

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

URL = urllib.parse.urlsplit(os.environ["PC_URL"])
DIR = os.environ["PC_DIR"]
UUID = os.environ["PC_UUID"]


def request(method, path, body=None):
    ctx = ssl.create_default_context(cafile=os.environ["PC_CA"])
    ctx.check_hostname = False  # Keylime trusts the agent's certificate as an anchor
    ctx.load_cert_chain(os.environ["PC_CERT"], os.environ["PC_KEY"])
    c = http.client.HTTPSConnection(URL.hostname, URL.port, context=ctx, timeout=30)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    c.request(method, URL.path + path, body=body, headers=headers)
    r = c.getresponse()
    data = r.read()
    c.close()
    try:
        doc = json.loads(data)
    except ValueError:
        doc = {"status": data.decode("latin-1")}
    return r.status, doc


def hmac_hex(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha384).hexdigest()


def autorun(name):
    marker = os.path.join(DIR, "markers", name)
    return ("#!/bin/sh\n"
            f"echo ran >>'{marker}'\n"
            f"pwd >'{marker}.cwd'\n"
            f"cat sub/data.txt >'{marker}.data'\n"
            f"test -s derived_tci_key && test -s decrypted_payload && echo both >'{marker}.files'\n"
            f"echo 'payload {name} says hello'\n").encode()


def payload_plain(name, kind):
    buf = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if kind == "deflated" else zipfile.ZIP_STORED
    with zipfile.ZipFile(buf, "w", method) as z:
        if kind == "raw":
            return b"not a zip, just bytes for " + name.encode()
        z.writestr("autorun.sh", autorun(name))
        z.writestr("sub/data.txt", f"data of {name}\n" * 50)
        if kind == "dotdot":
            z.writestr("../escape.txt", b"out of the box\n")
        if kind == "symlink":
            info = zipfile.ZipInfo("link")
            info.create_system = 3
            info.external_attr = (0o120777 << 16)
            z.writestr(info, "/etc/passwd")
    return buf.getvalue()


def cmd_make(name, kind, opt):
    pem = open(os.path.join(DIR, "pubkey.pem"), "rb").read()
    pub = serialization.load_pem_public_key(pem)
    k, v = os.urandom(32), os.urandom(32)
    u = bytes(a ^ b for a, b in zip(k, v))
    tag = hmac_hex(k, UUID)
    if opt == "wrong-u":
        u = os.urandom(32)
    if opt == "wrong-v":
        v = os.urandom(32)
    oaep = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA1(),
                        label=None)
    ubody = {"auth_tag": tag, "encrypted_key": base64.b64encode(pub.encrypt(u, oaep)).decode()}
    if kind != "none":
        iv = os.urandom(16)
        sealed = bytearray(iv + AESGCM(k).encrypt(iv, payload_plain(name, kind), None))
        if opt == "flip":
            sealed[20] ^= 0x01
        ubody["payload"] = base64.b64encode(bytes(sealed)).decode()
    vbody = {"encrypted_key": base64.b64encode(pub.encrypt(v, oaep)).decode()}
    json.dump(ubody, open(os.path.join(DIR, name + ".u.json"), "w"))
    json.dump(vbody, open(os.path.join(DIR, name + ".v.json"), "w"))
    open(os.path.join(DIR, name + ".k"), "wb").write(k)


def post(which, data):
    code, doc = request("POST", f"/keys/{which}key", data)
    print(code, doc.get("status"))


def cmd_verify(name):
    k = open(os.path.join(DIR, name + ".k"), "rb").read()
    challenge = secrets.token_hex(10)
    code, doc = request("GET", "/keys/verify?challenge=" + challenge)
    if code != 200:
        print(code, doc.get("status"))
        return
    got = doc["results"]["hmac"]
    print(200, "match" if hmac.compare_digest(got, hmac_hex(k, challenge)) else "mismatch")


def cmd_pubkey():
    code, doc = request("GET", "/keys/pubkey")
    assert code == 200, doc
    pem = doc["results"]["pubkey"]
    code, q = request("GET", "/quotes/identity?nonce=" + secrets.token_hex(10))
    assert code == 200, q
    open(os.path.join(DIR, "pubkey.pem"), "w").write(pem)
    print("same" if q["results"]["pubkey"] == pem else "different")


def main():
    cmd = sys.argv[1]
    os.makedirs(os.path.join(DIR, "markers"), exist_ok=True)
    if cmd == "pubkey":
        cmd_pubkey()
    elif cmd == "make":
        cmd_make(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else "")
    elif cmd == "post":
        post(sys.argv[3], open(os.path.join(DIR, f"{sys.argv[2]}.{sys.argv[3]}.json"), "rb").read())
    elif cmd == "body":
        post(sys.argv[2], open(sys.argv[3], "rb").read())
    elif cmd == "verify":
        cmd_verify(sys.argv[2])
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
