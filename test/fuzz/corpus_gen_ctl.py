#!/usr/bin/python3
"""Writes the fuzz corpora of vigilctl's decoders and of the runtime-policy generator:
test/fuzz/corpus/ctl_eventlog (whole logs for 'eventlog show'), ctl_event_decoders (one
event's data behind fuzz_ctl_event_decoders.c's selector byte) and runtime_policy_gen (an
options byte, then an IMA list). Seeds come from the real logs and lists in test/data, cut
into single events where the target takes single events; hostile cases are made here.
Run from the repository root after 'make': it reads the logs through build/bin/vigilctl
eventlog show --json, so the seeds are exactly the events vigil parses."""
import base64
import hashlib
import json
import os
import struct
import subprocess
import uuid

DATA = "test/data"
OUT = "test/fuzz/corpus"
VC = "build/bin/vigilctl"

# Selector bytes of fuzz_ctl_event_decoders.c's kinds[] (keep in step with it).
SEL = {"PK": 0, "KEK": 1, "db": 2, "dbx": 3, "SecureBoot": 4, "Boot####": 5, "Boot2": 6,
       "BootOrder": 7, "auth db": 8, "SbatLevel": 9, "raw var": 10, "gpt": 11,
       "image devpath": 12, "raw image": 13, "blob2": 14, "tag": 15, "no action": 16,
       "crtm": 17, "post code": 18, "ipl": 19, "separator": 20}


def guid(s):
    return uuid.UUID(s).bytes_le


CERT_X509 = guid("a5c059a1-94e4-4aa7-87b5-ab155c2bf072")
CERT_SHA256 = guid("c1c41626-504c-4092-aca9-41f936934328")
OWNER = guid("77fa9abd-0359-4d32-bd60-28f4e78f784b")


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def log_bytes(name):
    raw = open(os.path.join(DATA, "eventlog", name), "rb").read()
    if name.endswith(".b64"):
        return base64.b64decode(raw)
    return raw


def events(name):
    path = "/tmp/corpus_gen_ctl.bin"
    open(path, "wb").write(log_bytes(name))
    doc = json.loads(subprocess.run([VC, "eventlog", "show", "--json", path],
                                    capture_output=True, check=True).stdout)
    return doc["events"]


def siglist(typ, sigs, sig_size=None, header=b"", lsize=None):
    size = sig_size if sig_size is not None else 16 + (len(sigs[0]) if sigs else 0)
    body = b"".join(OWNER + s for s in sigs)
    ls = lsize if lsize is not None else 28 + len(header) + len(body)
    return typ + struct.pack("<III", ls, len(header), size) + header + body


def devnode(t, st, body):
    return struct.pack("<BBH", t, st, 4 + len(body)) + body


END = devnode(0x7F, 0xFF, b"")


def load_option(desc, fp, attrs=1, fplen=None, extra=b""):
    d = desc.encode("utf-16-le") + b"\0\0"
    n = len(fp) if fplen is None else fplen
    return struct.pack("<IH", attrs, n) + d + fp + extra


def gpt(entries, esize=128, count=None):
    hdr = bytearray(92)
    hdr[0:8] = b"EFI PART"
    struct.pack_into("<I", hdr, 84, esize)
    body = b"".join(e.ljust(min(esize, 256), b"\0") for e in entries)
    n = len(entries) if count is None else count
    return bytes(hdr) + struct.pack("<Q", n) + body


def ctl_eventlog():
    # Real logs that between them hold every decoder's input (signature lists of one and of
    # five lists, load options, GPT, device paths, H-CRTM, SHA-1 only), and hostile variants.
    for name in ("kl_binary_bios_measurements-secureboot", "rk_uefi_log.bin",
                 "tss_binary_measurements_hcrtm.b64", "sb_cert_eventlog",
                 "ebs_event_missing_eventlog"):
        write("ctl_eventlog", "real_" + name.replace(".b64", ""), log_bytes(name))
    d = bytearray(log_bytes("kl_binary_bios_measurements-secureboot"))
    i = d.index("SecureBoot".encode("utf-16-le"))
    d[i] = 0x1B
    write("ctl_eventlog", "esc_in_variable_name", bytes(d))
    d = bytearray(log_bytes("kl_binary_bios_measurements-secureboot"))
    i = d.index(b"kernel_cmdline: ") + 16
    d[i:i + 8] = b"\x1b]0;x\x07\x9b2"
    write("ctl_eventlog", "esc_in_command_line", bytes(d))


def ctl_event_decoders():
    t = "ctl_event_decoders"
    # Seeds: real events of each kind, from two logs.
    seen = set()
    for name in ("kl_binary_bios_measurements-secureboot", "rk_uefi_log.bin",
                 "coreos_36_shielded_vm_no_secure_boot_eventlog"):
        short = name.split("_")[0]
        for e in events(name):
            dec = e.get("decoded", {})
            data = bytes.fromhex(e["data"])
            vname = dec.get("name")
            tn = e["type_name"]
            kind, payload = None, data
            if tn in ("EV_EFI_VARIABLE_DRIVER_CONFIG", "EV_EFI_VARIABLE_BOOT",
                      "EV_EFI_VARIABLE_AUTHORITY") and vname is not None:
                nlen = struct.unpack_from("<Q", data, 16)[0]
                payload = data[32 + 2 * nlen:]
                if tn == "EV_EFI_VARIABLE_AUTHORITY":
                    kind = {"db": "auth db", "SbatLevel": "SbatLevel"}.get(vname)
                elif vname.startswith("Boot") and len(vname) == 8:
                    kind = "Boot####"
                else:
                    kind = vname if vname in SEL else None
            elif tn == "EV_EFI_GPT_EVENT":
                kind = "gpt"
            elif tn in ("EV_EFI_BOOT_SERVICES_APPLICATION", "EV_EFI_BOOT_SERVICES_DRIVER"):
                kind, payload = "image devpath", data[32:]
            elif tn == "EV_EVENT_TAG":
                kind = "tag"
            elif tn == "EV_NO_ACTION":
                kind = "no action"
            if kind is None or (short, kind) in seen:
                continue
            seen.add((short, kind))
            write(t, "real_%s_%s" % (short, kind.replace(" ", "_").replace("#", "n")),
                  bytes([SEL[kind]]) + payload)
    # Hostile signature lists.
    cert = b"\x30\x82" + b"c" * 40
    write(t, "siglist_two_lists", bytes([SEL["dbx"]]) +
          siglist(CERT_X509, [cert]) + siglist(CERT_SHA256, [b"h" * 32, b"i" * 32]))
    write(t, "siglist_size_below_header", bytes([SEL["db"]]) + siglist(CERT_X509, [cert], lsize=27))
    write(t, "siglist_size_past_end", bytes([SEL["db"]]) + siglist(CERT_X509, [cert], lsize=0xFFFFFFFF))
    write(t, "siglist_sig_size_zero", bytes([SEL["PK"]]) + siglist(CERT_SHA256, [b"h" * 32], sig_size=0))
    write(t, "siglist_sig_size_15", bytes([SEL["KEK"]]) + siglist(CERT_SHA256, [b"h" * 32], sig_size=15))
    write(t, "siglist_not_multiple", bytes([SEL["db"]]) + siglist(CERT_SHA256, [b"h" * 32], sig_size=33))
    write(t, "siglist_header_huge", bytes([SEL["db"]]) + CERT_X509 + struct.pack("<III", 28, 0xFFFFFFF0, 16))
    write(t, "siglist_truncated_header", bytes([SEL["dbx"]]) + CERT_SHA256 + b"\x01\x02")
    # Hostile load options and device paths.
    hd = devnode(4, 1, struct.pack("<IQQ", 1, 0x800, 0x100000) + b"g" * 16 + b"\x02\x02")
    path = devnode(4, 4, "\\EFI\\\x1b[2Jboot.efi\0".encode("utf-16-le"))
    fp = devnode(2, 1, struct.pack("<II", 0x0A0341D0, 0)) + devnode(1, 1, b"\x03\x02") + hd + path + END
    write(t, "loadopt_good", bytes([SEL["Boot####"]]) + load_option("Fedora", fp))
    write(t, "loadopt_esc_description", bytes([SEL["Boot####"]]) + load_option("\x1b]0;owned\x07", fp))
    write(t, "loadopt_unterminated", bytes([SEL["Boot####"]]) + struct.pack("<IH", 1, 4) + "abc".encode("utf-16-le"))
    write(t, "loadopt_fplen_past_end", bytes([SEL["Boot2"]]) + load_option("x", fp, fplen=0xFFFF))
    write(t, "loadopt_short", bytes([SEL["Boot####"]]) + b"\x01\x00\x00")
    write(t, "loadopt_odd_description", bytes([SEL["Boot####"]]) + struct.pack("<IH", 1, 0) + b"a\0b")
    write(t, "devpath_node_len_0", bytes([SEL["image devpath"]]) + b"\x04\x04\x00\x00" + b"z" * 8)
    write(t, "devpath_node_len_3", bytes([SEL["image devpath"]]) + b"\x04\x04\x03\x00")
    write(t, "devpath_node_past_end", bytes([SEL["image devpath"]]) + b"\x01\x01\xff\x00\x00")
    write(t, "devpath_many_nodes", bytes([SEL["image devpath"]]) + devnode(1, 1, b"\x00\x00") * 600 + END)
    write(t, "devpath_short_typed_nodes", bytes([SEL["image devpath"]]) +
          b"".join(devnode(ty, st, b"") for ty, st in ((1, 1), (1, 4), (2, 1), (3, 2), (3, 5),
                                                        (3, 0x12), (3, 0x17), (3, 10), (4, 1),
                                                        (4, 2), (4, 3), (4, 6), (4, 7), (4, 8))) + END)
    write(t, "devpath_instance_separators", bytes([SEL["image devpath"]]) + hd + devnode(0x7F, 1, b"") + path + END)
    write(t, "devpath_odd_file_path", bytes([SEL["image devpath"]]) + devnode(4, 4, b"abc") + END)
    write(t, "image_devpath_len_huge", bytes([SEL["raw image"]]) + struct.pack("<QQQQ", 0, 0, 0, 1 << 63) + b"x")
    # Hostile GPT events.
    part = guid("c12a7328-f81f-11d2-ba4b-00a0c93ec93b") + b"u" * 16 + struct.pack("<QQQ", 34, 2047, 0) + "EFI\x1b[2J".encode("utf-16-le")
    write(t, "gpt_good", bytes([SEL["gpt"]]) + gpt([part, part]))
    write(t, "gpt_count_huge", bytes([SEL["gpt"]]) + gpt([part], count=1 << 62))
    write(t, "gpt_entry_size_zero", bytes([SEL["gpt"]]) + gpt([part], esize=0, count=3))
    write(t, "gpt_entry_size_127", bytes([SEL["gpt"]]) + gpt([part], esize=127))
    write(t, "gpt_entry_size_huge", bytes([SEL["gpt"]]) + gpt([part], esize=0xFFFFFFFF))
    write(t, "gpt_no_signature", bytes([SEL["gpt"]]) + b"EFI PARX" + b"\0" * 100)
    write(t, "gpt_short", bytes([SEL["gpt"]]) + b"EFI PART" + b"\0" * 50)
    # Variables, blobs, tags.
    write(t, "raw_var_name_huge", bytes([SEL["raw var"]]) + b"g" * 16 + struct.pack("<QQ", 1 << 40, 0))
    write(t, "raw_var_data_huge", bytes([SEL["raw var"]]) + b"g" * 16 + struct.pack("<QQ", 1, 1 << 63) + b"a\0")
    write(t, "raw_var_nul_in_name", bytes([SEL["raw var"]]) + b"g" * 16 + struct.pack("<QQ", 2, 0) + b"a\0\0\0")
    write(t, "raw_var_surrogates", bytes([SEL["raw var"]]) + b"g" * 16 + struct.pack("<QQ", 3, 0) + b"\x00\xd8\x00\xdc\x00\xdc")
    write(t, "bootorder_odd", bytes([SEL["BootOrder"]]) + b"\x01\x00\x02")
    write(t, "secureboot_two_bytes", bytes([SEL["SecureBoot"]]) + b"\x01\x01")
    write(t, "blob2_desc_past_end", bytes([SEL["blob2"]]) + b"\xff" + b"d" * 10)
    write(t, "blob2_esc_desc", bytes([SEL["blob2"]]) + b"\x05\x1b[2J\x07" + b"\0" * 16)
    write(t, "tag_size_past_end", bytes([SEL["tag"]]) + struct.pack("<II", 1, 0xFFFFFFFF))
    write(t, "tag_two", bytes([SEL["tag"]]) + struct.pack("<II", 1, 2) + b"ab" + struct.pack("<II", 2, 0))
    write(t, "no_action_locality", bytes([SEL["no action"]]) + b"StartupLocality\0\x03")
    write(t, "no_action_esc_signature", bytes([SEL["no action"]]) + b"\x1b[2JSP800-155\0" + b"\0" * 8)
    write(t, "crtm_ucs2", bytes([SEL["crtm"]]) + "1.0\x1b".encode("utf-16-le") + b"\0\0")
    write(t, "post_code_blob", bytes([SEL["post code"]]) + struct.pack("<QQ", 0xFFF00000, 0x100000))
    write(t, "ipl_esc", bytes([SEL["ipl"]]) + b"grub_cmd: \x1b]0;owned\x07\0")
    write(t, "ipl_ucs2", bytes([SEL["ipl"]]) + "MokList\x1b".encode("utf-16-le"))
    write(t, "separator_error", bytes([SEL["separator"]]) + b"\xff\xff\xff\xff")
    write(t, "empty", b"")
    write(t, "selector_only", bytes([SEL["dbx"]]))


def ima_line(path, digest_alg="sha256", data=b"", pcr=10, template="ima-ng", extra=b"",
             violation=False):
    d = hashlib.new(digest_alg, data).digest()
    field = digest_alg.encode() + b":\0" + d
    name = path.encode() + b"\0"
    tdata = struct.pack("<I", len(field)) + field + struct.pack("<I", len(name)) + name
    if template in ("ima-sig", "ima-buf"):
        tdata += struct.pack("<I", len(extra)) + extra
    th = b"\0" * 20 if violation else hashlib.sha1(tdata).digest()
    line = b"%d %s %s %s:%s %s" % (pcr, th.hex().encode(), template.encode(),
                                   digest_alg.encode(), d.hex().encode(), path.encode())
    if template in ("ima-sig", "ima-buf"):
        line += b" " + extra.hex().encode()
    return line + b"\n"


def runtime_policy_gen():
    t = "runtime_policy_gen"
    for name in ("keylime-ima-log-sha1", "keylime-ima-log-sha256"):
        write(t, "real_" + name, b"\x03" + open(os.path.join(DATA, "ima", name), "rb").read())
    lines = open(os.path.join(DATA, "ima", "ascii_runtime_measurements-826"), "rb").read().split(b"\n")
    write(t, "real_826_first_40", b"\x03" + b"\n".join(lines[:40]) + b"\n")
    write(t, "real_826_first_40_excl", b"\x07" + b"\n".join(lines[:40]) + b"\n")
    write(t, "pcr_11_entry", b"\x03" + ima_line("/usr/bin/a") + ima_line("/usr/bin/b", pcr=11))
    write(t, "esc_in_path", b"\x03" + ima_line("/tmp/\x1b]0;owned\x07x") + ima_line("/usr/bin/\x1b[2J", pcr=11))
    write(t, "bad_template_hash", b"\x03" + ima_line("/a").replace(b"10 ", b"10 0", 1)[:-1][:3] + b"f" * 40 + ima_line("/a")[43:])
    write(t, "violation", b"\x03" + ima_line("/var/log/x", violation=True) + ima_line("/usr/bin/a"))
    write(t, "ima_buf_not_a_key", b"\x03" + ima_line("kexec-cmdline", template="ima-buf", extra=b"root=/dev/sda1"))
    write(t, "ima_buf_bad_der", b"\x01" + ima_line(".ima", template="ima-buf", extra=b"\x30\x82\x01\x0a\x02"))
    write(t, "ima_buf_ignored_keyring", b"\x0b" + ima_line(".ima", template="ima-buf", extra=b"\x30\x03\x02\x01\x01"))
    write(t, "ima_sig_garbage_sig", b"\x03" + ima_line("/usr/bin/s", template="ima-sig", extra=b"\x03\x02\x04\x00"))
    write(t, "sha256_log_alg", b"\x13" + open(os.path.join(DATA, "ima", "keylime-ima-log-sha256"), "rb").read())
    write(t, "no_final_newline", b"\x03" + ima_line("/usr/bin/a")[:-1])
    write(t, "long_path", b"\x03" + ima_line("/" + "p" * 4200))
    write(t, "empty_list", b"\x03")
    write(t, "crlf", b"\x03" + ima_line("/usr/bin/a").replace(b"\n", b"\r\n"))


if __name__ == "__main__":
    ctl_eventlog()
    ctl_event_decoders()
    runtime_policy_gen()
