#!/usr/bin/python3
"""Writes test/fuzz/corpus/registrar_grpc/: vigil.v1.Registrar requests for
fuzz_registrar_grpc (first byte: 0 ListEnrollmentsRequest, 1 GetEnrollmentRequest,
2 DeleteEnrollmentRequest; then the message). Real requests and hostile ones, encoded by
hand (protobuf wire format) so the generator needs nothing installed. Run from the top of
the tree; the output is checked in."""
import base64
import os

OUT = "test/fuzz/corpus/registrar_grpc"


def varint(v):
    b = bytearray()
    while True:
        x = v & 0x7F
        v >>= 7
        if v:
            b.append(x | 0x80)
        else:
            b.append(x)
            return bytes(b)


def field_varint(n, v):
    return varint(n << 3) + varint(v)


def field_bytes(n, s):
    if isinstance(s, str):
        s = s.encode()
    return varint(n << 3 | 2) + varint(len(s)) + s


def token(raw):
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


UUID = "d432fbb3-d2f1-4a97-9ef7-75bd81c00000"
cases = {
    "list_empty": b"\x00",
    "list_page_100": b"\x00" + field_varint(1, 100),
    "list_page_1000_full": b"\x00" + field_varint(1, 1000) + field_varint(3, 1),
    "list_page_1001": b"\x00" + field_varint(1, 1001),
    "list_page_5000": b"\x00" + field_varint(1, 5000),
    "list_page_max_u32": b"\x00" + field_varint(1, 0xFFFFFFFF),
    "list_token_valid": b"\x00" + field_varint(1, 100) + field_bytes(2, token(b"p1:" + UUID.encode())),
    "list_token_garbage": b"\x00" + field_bytes(2, "garbage!"),
    "list_token_padded": b"\x00" + field_bytes(2, base64.urlsafe_b64encode(b"p1:" + UUID.encode())),
    "list_token_std_alphabet": b"\x00" + field_bytes(2, base64.b64encode(b"p1:a?>~").decode()),
    "list_token_other_version": b"\x00" + field_bytes(2, token(b"p2:" + UUID.encode())),
    "list_token_no_key": b"\x00" + field_bytes(2, token(b"p1:")),
    "list_token_dotdot": b"\x00" + field_bytes(2, token(b"p1:..")),
    "list_token_slash": b"\x00" + field_bytes(2, token(b"p1:a/b")),
    "list_token_nul": b"\x00" + field_bytes(2, token(b"p1:a\x00b")),
    "list_token_key_81": b"\x00" + field_bytes(2, token(b"p1:" + b"k" * 81)),
    "list_token_key_255": b"\x00" + field_bytes(2, token(b"p1:" + b"k" * 255)),
    "list_token_key_256": b"\x00" + field_bytes(2, token(b"p1:" + b"k" * 256)),
    "list_token_huge": b"\x00" + field_bytes(2, "A" * 5000),
    "list_token_not_utf8": b"\x00" + field_bytes(2, b"\xff\xfe"),
    "list_truncated": b"\x00" + field_bytes(2, token(b"p1:abc"))[:-2],
    "list_wrong_wire_type": b"\x00" + field_bytes(1, "100"),
    "get_uuid": b"\x01" + field_bytes(1, UUID),
    "get_name": b"\x01" + field_bytes(1, "node-01.example_x"),
    "get_empty": b"\x01",
    "get_dot": b"\x01" + field_bytes(1, "."),
    "get_dotdot": b"\x01" + field_bytes(1, ".."),
    "get_slash": b"\x01" + field_bytes(1, "../etc/passwd"),
    "get_too_long": b"\x01" + field_bytes(1, "a" * 81),
    "get_crlf": b"\x01" + field_bytes(1, "a\r\nb"),
    "get_not_utf8": b"\x01" + field_bytes(1, b"\xc3"),
    "get_unknown_field": b"\x01" + field_bytes(1, UUID) + field_varint(99, 7),
    "delete_uuid": b"\x02" + field_bytes(1, UUID),
    "delete_empty": b"\x02",
    "delete_space": b"\x02" + field_bytes(1, "a b"),
    "delete_length_overflow": b"\x02" + varint(1 << 3 | 2) + varint(1 << 40) + b"x",
}

os.makedirs(OUT, exist_ok=True)
for name, data in cases.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
print("%d inputs in %s" % (len(cases), OUT))
