#!/usr/bin/python3
# Regenerates test/fuzz/corpus/agent_keys/ (bodies of /keys/ukey and /keys/vkey, as Keylime's
# tenant and verifier send them, and hostile ones) and test/fuzz/corpus/agent_unzip/ (ZIP
# archives made by Python's zipfile, the way a tenant makes a payload, and hostile ones).
# Run from the repository's top:  /usr/bin/python3 test/fuzz/corpus_gen_payload.py
import base64, hashlib, hmac, io, json, os, zipfile

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

K_DIR = "test/fuzz/corpus/agent_keys"
Z_DIR = "test/fuzz/corpus/agent_unzip"


def put(d, name, data):
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# -- keys --------------------------------------------------------------------------------
pub = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
oaep = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
k, v = os.urandom(32), os.urandom(32)
u = bytes(a ^ b for a, b in zip(k, v))
tag = hmac.new(k, b"d432fbb3-d2f1-4a97-9ef7-75bd81c00000", hashlib.sha384).hexdigest()
enc_u = base64.b64encode(pub.encrypt(u, oaep)).decode()
enc_v = base64.b64encode(pub.encrypt(v, oaep)).decode()
pay = base64.b64encode(os.urandom(16) + b"ciphertext" + os.urandom(16)).decode()
put(K_DIR, "ukey_with_payload.json", json.dumps({"auth_tag": tag, "encrypted_key": enc_u, "payload": pay}))
put(K_DIR, "ukey_no_payload.json", json.dumps({"auth_tag": tag, "encrypted_key": enc_u}))
put(K_DIR, "ukey_null_payload.json", json.dumps({"auth_tag": tag, "encrypted_key": enc_u, "payload": None}))
put(K_DIR, "ukey_extra_member.json", json.dumps({"auth_tag": tag, "encrypted_key": enc_u, "x": [1, {}]}))
put(K_DIR, "ukey_tag_upper.json", json.dumps({"auth_tag": tag.upper(), "encrypted_key": enc_u}))
put(K_DIR, "ukey_tag_short.json", json.dumps({"auth_tag": tag[:94], "encrypted_key": enc_u}))
put(K_DIR, "ukey_tag_nonhex.json", json.dumps({"auth_tag": "zz" + tag[2:], "encrypted_key": enc_u}))
put(K_DIR, "ukey_payload_number.json", json.dumps({"auth_tag": tag, "encrypted_key": enc_u, "payload": 7}))
put(K_DIR, "vkey.json", json.dumps({"encrypted_key": enc_v}))
put(K_DIR, "vkey_dup.json", '{"encrypted_key": "%s", "encrypted_key": "%s"}' % (enc_v, enc_v))
put(K_DIR, "vkey_long.json", json.dumps({"encrypted_key": "A" * 4096}))
put(K_DIR, "vkey_badpad.json", json.dumps({"encrypted_key": enc_v[:-1]}))
put(K_DIR, "vkey_array.json", "[{\"encrypted_key\": \"AAAA\"}]")
put(K_DIR, "truncated.json", json.dumps({"auth_tag": tag, "encrypted_key": enc_u})[:60])
put(K_DIR, "challenge.txt", "Q2VjNzhhZWItYzBmMS00")
put(K_DIR, "empty", b"")


# -- zip ---------------------------------------------------------------------------------
def archive(entries, method=zipfile.ZIP_STORED, comment=b""):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", method) as z:
        z.comment = comment
        for e in entries:
            if isinstance(e, zipfile.ZipInfo):
                z.writestr(e, b"/etc/passwd")
            else:
                z.writestr(e[0], e[1])
    return b.getvalue()


script = ("autorun.sh", b"#!/bin/sh\necho hello\n")
data = ("sub/data.txt", b"some data\n" * 100)
put(Z_DIR, "stored.zip", archive([script, data]))
put(Z_DIR, "deflated.zip", archive([script, data, ("sub/deeper/", b"")], zipfile.ZIP_DEFLATED))
put(Z_DIR, "comment.zip", archive([script], comment=b"a comment"))
put(Z_DIR, "empty.zip", archive([]))
put(Z_DIR, "dotdot.zip", archive([("../escape.txt", b"x")]))
put(Z_DIR, "absolute.zip", archive([("/etc/cron.d/x", b"x")]))
link = zipfile.ZipInfo("link")
link.create_system = 3
link.external_attr = 0o120777 << 16
put(Z_DIR, "symlink.zip", archive([link]))
put(Z_DIR, "duplicate.zip", archive([("a", b"1"), ("a", b"2")]))
put(Z_DIR, "file_and_dir.zip", archive([("a", b"1"), ("a/b", b"2")]))
put(Z_DIR, "bomb.zip", archive([("zeros", bytes(10 << 20))], zipfile.ZIP_DEFLATED))
put(Z_DIR, "bzip2.zip", archive([data], zipfile.ZIP_BZIP2))
put(Z_DIR, "many.zip", archive([("f%d" % i, b"") for i in range(300)]))
# A data descriptor (what a writer on a pipe makes) and ZIP64 extras.
b = io.BytesIO()
with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z:
    with z.open("streamed.txt", "w", force_zip64=True) as f:
        f.write(b"streamed\n" * 50)
put(Z_DIR, "zip64_extra.zip", b.getvalue())


class Pipe(io.RawIOBase):
    def __init__(self):
        self.b = bytearray()

    def writable(self):
        return True

    def write(self, d):
        self.b += d
        return len(d)


p = Pipe()
with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("piped.txt", b"through a pipe\n" * 20)
put(Z_DIR, "data_descriptor.zip", bytes(p.b))
good = archive([script, data], zipfile.ZIP_DEFLATED)
put(Z_DIR, "truncated.zip", good[: len(good) // 2])
bad = bytearray(good)
bad[40] ^= 0xFF
put(Z_DIR, "corrupt_deflate.zip", bytes(bad))
put(Z_DIR, "not_a_zip.bin", b"PK\x03\x04 but nothing more")
