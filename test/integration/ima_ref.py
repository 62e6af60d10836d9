#!/usr/bin/python3
"""Independent reference for IMA template data, written from the kernel's rules (not from
vigil's C): prints, per entry, the SHA-1, SHA-256 and SHA-384 PCR 10 extend values
("sha1hex sha256hex sha384hex"), after checking each SHA-1 template hash; with --final,
prints only the replayed PCR 10 of the three banks. Used by t_ima_swtpm.sh as a second opinion."""
import hashlib
import struct
import sys


def tdata(line):
    pcr, thash, tmpl, rest = line.split(" ", 3)
    if tmpl == "ima":
        dig, name = rest.split(" ", 1)
        nb = name.encode()
        return thash, bytes.fromhex(dig) + nb + b"\0" * (256 - len(nb))
    if tmpl == "ima-ng":
        dig, name = rest.split(" ", 1)
        extra = b""
    else:
        dig, name, hx = rest.split(" ", 2)
        extra = bytes.fromhex(hx)
    alg, hexd = dig.split(":")
    d = alg.encode() + b":\0" + bytes.fromhex(hexd)
    nb = name.encode() + b"\0"
    out = struct.pack("<I", len(d)) + d + struct.pack("<I", len(nb)) + nb
    if tmpl in ("ima-sig", "ima-buf"):
        out += struct.pack("<I", len(extra)) + extra
    return thash, out


def main():
    final = "--final" in sys.argv
    path = [a for a in sys.argv[1:] if not a.startswith("--")][0]
    p1, p256, p384 = b"\0" * 20, b"\0" * 32, b"\0" * 48
    for line in open(path, encoding="utf-8").read().splitlines():
        thash, data = tdata(line)
        if set(thash) == {"0"}:
            e1, e256, e384 = b"\xff" * 20, b"\xff" * 32, b"\xff" * 48
        else:
            e1 = hashlib.sha1(data).digest()
            e256, e384 = hashlib.sha256(data).digest(), hashlib.sha384(data).digest()
            if e1.hex() != thash:
                sys.exit("template hash mismatch: " + line)
        p1 = hashlib.sha1(p1 + e1).digest()
        p256 = hashlib.sha256(p256 + e256).digest()
        p384 = hashlib.sha384(p384 + e384).digest()
        if not final:
            print(e1.hex(), e256.hex(), e384.hex())
    if final:
        print(p1.hex(), p256.hex(), p384.hex())


main()
