#!/usr/bin/python3
"""Writes the synthetic and hostile parts of the fuzz corpora for fuzz_eventlog and
fuzz_mb_policy, and the C array of the small log fuzz_mb_policy judges policies against.
Run from the repository root: test/fuzz/corpus_gen_eventlog.py (the real logs are copied
from test/data/eventlog by hand)."""
import hashlib
import struct
import uuid

ALGS = [(0x0004, 20, hashlib.sha1), (0x000B, 32, hashlib.sha256)]


def guid(s):
    return uuid.UUID(s).bytes_le


EFI_GLOBAL = guid("8be4df61-93ca-11d2-aa0d-00e098032b8c")
IMAGE_SECURITY = guid("d719b2cb-3d3a-4596-a3bc-dad00e67656f")
SHIM_LOCK = guid("605dab50-e046-4300-abb6-3dd810dd8b23")
CERT_X509 = guid("a5c059a1-94e4-4aa7-87b5-ab155c2bf072")
CERT_SHA256 = guid("c1c41626-504c-4092-aca9-41f936934328")
OWNER = guid("77fa9abd-0359-4d32-bd60-28f4e78f784b")


def spec_id():
    data = b"Spec ID Event03\0" + struct.pack("<IBBBBI", 0, 0, 2, 0, 2, len(ALGS))
    for alg, size, _ in ALGS:
        data += struct.pack("<HH", alg, size)
    data += b"\0"
    return struct.pack("<II", 0, 3) + b"\0" * 20 + struct.pack("<I", len(data)) + data


def event(pcr, typ, data, measured=None):
    m = data if measured is None else measured
    out = struct.pack("<III", pcr, typ, len(ALGS))
    for alg, _, h in ALGS:
        out += struct.pack("<H", alg) + h(m).digest()
    return out + struct.pack("<I", len(data)) + data


def ucs2(s):
    return s.encode("utf-16-le")


def var(g, name, data):
    return g + struct.pack("<QQ", len(name), len(data)) + ucs2(name) + data


def siglist(typ, sigs):
    size = 16 + len(sigs[0])
    body = b"".join(OWNER + s for s in sigs)
    return typ + struct.pack("<III", 28 + len(body), 0, size) + body


def devpath(*nodes):
    return b"".join(struct.pack("<BBH", t, s, 4 + len(d)) + d for t, s, d in nodes) + b"\x7f\xff\x04\x00"


def image(dp):
    return struct.pack("<QQQQ", 0x7D225018, 0xEA568, 0, len(dp)) + dp


def filepath(p):
    return (4, 4, ucs2(p) + b"\0\0")


PCIROOT = (2, 1, struct.pack("<II", 0x0A0341D0, 0))
PCI = (1, 1, bytes([3, 2]))
HD = (4, 1, struct.pack("<IQQ", 1, 0x800, 0x12C000) + guid("a88ed452-9a52-45c4-91ce-3da7707caaab") + bytes([2, 2]))

CERT = lambda n: bytes([0x30, 0x82, 0x00, 0x20]) + bytes([n]) * 32  # noqa: E731
EV = {
    "EV_NO_ACTION": 3, "EV_SEPARATOR": 4, "EV_S_CRTM_VERSION": 8, "EV_PLATFORM_CONFIG_FLAGS": 0xA,
    "EV_IPL": 0xD, "DRIVER_CONFIG": 0x80000001, "VARIABLE_BOOT": 0x80000002, "BSA": 0x80000003,
    "BSD": 0x80000004, "GPT": 0x80000006, "EFI_ACTION": 0x80000007, "BLOB": 0x80000008,
    "AUTHORITY": 0x800000E0,
}


def ipl(pcr, s, measured=None):
    return event(pcr, EV["EV_IPL"], s.encode() + b"\0", measured)


def golden():
    log = spec_id()
    log += event(0, EV["EV_S_CRTM_VERSION"], ucs2("vigil-fw 1.0") + b"\0\0")
    log += event(0, EV["BLOB"], struct.pack("<QQ", 0x820000, 0xE0000))
    log += event(7, EV["DRIVER_CONFIG"], var(EFI_GLOBAL, "SecureBoot", b"\x01"))
    log += event(7, EV["DRIVER_CONFIG"], var(EFI_GLOBAL, "PK", siglist(CERT_X509, [CERT(1)])))
    log += event(7, EV["DRIVER_CONFIG"], var(EFI_GLOBAL, "KEK", siglist(CERT_X509, [CERT(2)])))
    log += event(7, EV["DRIVER_CONFIG"], var(IMAGE_SECURITY, "db", siglist(CERT_X509, [CERT(3)]) + siglist(CERT_SHA256, [b"\x44" * 32])))
    log += event(7, EV["DRIVER_CONFIG"], var(IMAGE_SECURITY, "dbx", siglist(CERT_SHA256, [b"\x55" * 32, b"\x66" * 32])))
    log += event(7, EV["EV_SEPARATOR"], b"\0\0\0\0")
    log += event(1, EV["VARIABLE_BOOT"], var(EFI_GLOBAL, "BootOrder", b"\x01\x00"))
    log += event(1, EV["VARIABLE_BOOT"], var(EFI_GLOBAL, "Boot0001", struct.pack("<IH", 1, 0x2C) + ucs2("vigil") + b"\0\0" + devpath(PCIROOT, PCI, HD)[:-4] + b"\x7f\xff\x04\x00"))
    log += event(1, EV["EV_PLATFORM_CONFIG_FLAGS"], b"ACPI DATA")
    log += event(4, EV["EFI_ACTION"], b"Calling EFI Application from Boot Option")
    for pcr in range(7):
        log += event(pcr, EV["EV_SEPARATOR"], b"\0\0\0\0")
    log += event(2, EV["BSD"], image(devpath(PCIROOT, PCI, (4, 8, struct.pack("<IQQ", 0, 0x16000, 0x353FF)))))
    log += event(4, EV["BSA"], image(devpath(PCIROOT, PCI, HD, filepath("\\EFI\\vigil\\shimx64.efi"))), b"shim")
    log += ipl(14, "MokList", b"moklist")
    log += ipl(14, "MokListX", b"moklistx")
    log += event(7, EV["AUTHORITY"], var(IMAGE_SECURITY, "db", OWNER + CERT(3)))
    log += event(7, EV["AUTHORITY"], var(SHIM_LOCK, "SbatLevel", b"sbat,1,2021030218\n"))
    log += event(4, EV["BSA"], image(devpath(filepath("\\EFI\\vigil\\grubx64.efi"))), b"grub")
    log += ipl(9, "(hd0,gpt2)/grub2/grub.cfg", b"grub.cfg")
    log += ipl(8, "grub_cmd: set root=hd0", b"set root=hd0")
    log += ipl(9, "(hd0,gpt2)/vmlinuz-6.1", b"vmlinuz")
    log += ipl(8, "kernel_cmdline: (hd0,gpt2)/vmlinuz-6.1 root=/dev/sda1 ro quiet", b"(hd0,gpt2)/vmlinuz-6.1 root=/dev/sda1 ro quiet")
    log += ipl(9, "(hd0,gpt2)/initramfs-6.1.img", b"initramfs")
    log += event(4, EV["BSA"], image(b""), b"kernel")
    log += event(5, EV["GPT"], b"EFI PART" + b"\0" * 76 + struct.pack("<I", 128) + b"\0" * 4 + struct.pack("<Q", 0))
    log += event(5, EV["EFI_ACTION"], b"Exit Boot Services Invocation")
    log += event(5, EV["EFI_ACTION"], b"Exit Boot Services Returned with Success")
    return log


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def main():
    g = golden()
    d = "test/fuzz/corpus/eventlog/"
    write(d + "synthetic_golden", g)
    hdr = len(spec_id())
    write(d + "trunc_in_header", g[:40])
    write(d + "trunc_in_digest", g[: hdr + 20])
    write(d + "trunc_in_data", g[: hdr + 12 + 22 + 32 + 4 + 3])
    write(d + "empty", b"")
    # Digest count, data size, PCR index, algorithm count: all out of range.
    e1 = bytearray(g); struct.pack_into("<I", e1, hdr + 8, 0xFFFFFFFF); write(d + "digest_count_huge", e1)
    e2 = bytearray(g); struct.pack_into("<I", e2, hdr + 12 + 22 + 34, 0xFFFFFFFF); write(d + "data_size_huge", e2)
    e3 = bytearray(g); struct.pack_into("<I", e3, hdr, 0x7FFFFFFF); write(d + "pcr_huge", e3)
    e4 = bytearray(g); struct.pack_into("<I", e4, 32 + 24, 0xFFFFFFFF); write(d + "nalgs_huge", e4)
    e5 = bytearray(g); struct.pack_into("<H", e5, 32 + 28 + 2, 0xFFFF); write(d + "alg_size_huge", e5)
    e6 = bytearray(g); struct.pack_into("<H", e6, 32 + 28, 0x1234); write(d + "alg_unknown", e6)
    loc = event(0, 3, b"StartupLocality\0\x03")
    write(d + "locality_twice", spec_id() + loc + loc + g[hdr:])
    write(d + "locality_3", spec_id() + loc + g[hdr:])
    # Hostile event data inside a well-formed log.
    bad = spec_id()
    bad += event(7, EV["DRIVER_CONFIG"], EFI_GLOBAL + struct.pack("<QQ", 0xFFFFFFFFFFFFFFFF, 4) + b"x" * 8)
    bad += event(7, EV["DRIVER_CONFIG"], var(EFI_GLOBAL, "db", CERT_X509 + struct.pack("<III", 0xFFFFFFF0, 0, 0)))
    bad += event(7, EV["DRIVER_CONFIG"], var(EFI_GLOBAL, "PK", CERT_X509 + struct.pack("<III", 44, 0xFFFFFFFF, 16) + b"\0" * 16))
    bad += event(4, EV["BSA"], struct.pack("<QQQQ", 0, 0, 0, 0xFFFFFFFFFFFFFFFF))
    bad += event(4, EV["BSA"], image(b"\x04\x04\x00\x00" + b"\x7f\xff\x04\x00"))
    bad += event(4, EV["BSA"], image(b"\x04\x04\xff\xff"))
    bad += event(4, EV["BSA"], image(b"\x01\x01\x06\x00\x00" * 600))
    bad += event(0, EV["BLOB"], b"\x01")
    bad += event(5, EV["GPT"], b"EFI PART" + b"\0" * 76 + struct.pack("<I", 128) + b"\0" * 4 + struct.pack("<Q", 2**60))
    bad += event(6, 6, struct.pack("<II", 1, 0xFFFFFFF0))
    bad += event(1, EV["VARIABLE_BOOT"], var(EFI_GLOBAL, "Boot0001", struct.pack("<IH", 1, 0xFFFF) + ucs2("x")))
    bad += event(8, EV["EV_IPL"], b"kernel_cmdline: a\0b\0")
    write(d + "hostile_event_data", bad)
    # The C array fuzz_mb_policy judges policies against.
    with open("test/fuzz/mb_policy_log.h", "w") as f:
        f.write("/* Generated by test/fuzz/corpus_gen_eventlog.py: a small crypto-agile log (sha1,\n"
                " * sha256) of a Secure Boot machine that exercises every rule of the measured-boot\n"
                " * policy. corpus/mb_policy/synthetic_pass is the policy it passes. */\n")
        f.write("/* clang-format off */\n")
        f.write("static const unsigned char mb_policy_log[] = {\n")
        for i in range(0, len(g), 12):
            f.write("    " + " ".join("0x%02x," % b for b in g[i:i + 12]) + "\n")
        f.write("};\n/* clang-format on */\n")


if __name__ == "__main__":
    main()
