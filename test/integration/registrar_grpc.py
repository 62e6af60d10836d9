#!/usr/bin/python3
"""Checks of vigil.v1.Registrar with a stock grpcio client (Debian's python3-grpcio), for
t_registrar_grpc.sh. The stubs (RegistrarStub) are generated from proto/ at test time with
python3-grpc-tools into $VIGIL_PB_DIR (default: a temp dir).

Usage: registrar_grpc.py CHECK ADDR --ca F --cert F --key F [ARGS...]
Each CHECK prints what it saw and exits 0 when the registrar behaved as docs/api.md says,
1 otherwise:
  pages UUIDS-FILE            250 enrollments in pages of 100: 100, 100, 50, then no token;
                              every uuid of the file exactly once, in byte order; pages of
                              125: 125 and 125 without a token; page_size 0 gives 100
  delete-between UUIDS-FILE   page 1; then delete one uuid of page 1 and one of page 2; the
                              rest of the listing has every other uuid once, nothing twice
  get UUID REST-JSON          GetEnrollment against the REST GET of the same agent
  summary                     a list page without full carries no key material; with it does
  errors UUID                 NOT_FOUND names the uuid; INVALID_ARGUMENT names page_size,
                              page_token, uuid
  pending UUID                a registration that was never activated: active = false
  no-cert                     a client without a certificate (or one from another CA, with
                              --cert/--key of that CA) is refused
"""
import base64
import hashlib
import os
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_stubs():
    out = os.environ.get("VIGIL_PB_DIR") or tempfile.mkdtemp(prefix="vigil-pb-")
    if not os.path.exists(os.path.join(out, "vigil", "v1", "registrar_pb2_grpc.py")):
        os.makedirs(out, exist_ok=True)
        subprocess.run([sys.executable, "-m", "grpc_tools.protoc",
                        "--proto_path=" + os.path.join(TOP, "proto"), "--python_out=" + out,
                        "--grpc_python_out=" + out, "vigil/v1/registrar.proto"], check=True)
    sys.path.insert(0, out)
    from vigil.v1 import registrar_pb2, registrar_pb2_grpc
    return registrar_pb2, registrar_pb2_grpc


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def main():
    import grpc

    check, addr = sys.argv[1], sys.argv[2]
    args = sys.argv[3:]
    opts = {}
    rest = []
    i = 0
    while i < len(args):
        if args[i] in ("--ca", "--cert", "--key"):
            opts[args[i][2:]] = args[i + 1]
            i += 2
        else:
            rest.append(args[i])
            i += 1
    pb, pbg = load_stubs()
    read = lambda p: open(p, "rb").read() if p else None
    creds = grpc.ssl_channel_credentials(read(opts.get("ca")), read(opts.get("key")),
                                         read(opts.get("cert")))
    ch = grpc.secure_channel(addr, creds)
    stub = pbg.RegistrarStub(ch)

    def listing(size, token="", full=False):
        return stub.ListEnrollments(pb.ListEnrollmentsRequest(page_size=size, page_token=token,
                                                              full=full), timeout=10)

    def code_of(fn):
        try:
            fn()
        except grpc.RpcError as e:
            return e.code(), e.details()
        return grpc.StatusCode.OK, ""

    if check == "pages":
        want = sorted(open(rest[0]).read().split())
        got, sizes, tokens, token = [], [], [], ""
        while True:
            r = listing(100, token)
            sizes.append(len(r.enrollments))
            tokens.append(r.next_page_token)
            got += [e.uuid for e in r.enrollments]
            token = r.next_page_token
            if not token or len(sizes) > 10:
                break
        print("page sizes", sizes, "tokens", [bool(t) for t in tokens])
        if sizes != [100, 100, 50] or [bool(t) for t in tokens] != [True, True, False]:
            fail("pages of 100 over 250 must be 100, 100, 50 with tokens on the first two")
        if got != want:
            fail("the pages do not hold every uuid once in byte order (%d got, %d want)" %
                 (len(got), len(want)))
        # A page that ends exactly at the last enrollment is the last one: no token.
        r1 = listing(125)
        r2 = listing(125, r1.next_page_token)
        print("pages of 125:", len(r1.enrollments), bool(r1.next_page_token),
              len(r2.enrollments), bool(r2.next_page_token))
        if not r1.next_page_token or len(r2.enrollments) != 125 or r2.next_page_token:
            fail("a last page that is full still carries a token")
        if len(listing(0).enrollments) != 100:
            fail("page_size 0 does not mean 100")
        if len(listing(1000).enrollments) != 250 or listing(1000).next_page_token:
            fail("a page of 1000 does not hold all 250 without a token")
        return 0

    if check == "delete-between":
        before = sorted(open(rest[0]).read().split())
        r1 = listing(100)
        page1 = [e.uuid for e in r1.enrollments]
        gone = [page1[4], before[149]]  # one already listed, one not yet
        for u in gone:
            stub.DeleteEnrollment(pb.DeleteEnrollmentRequest(uuid=u), timeout=10)
        got, token = list(page1), r1.next_page_token
        while token:
            r = listing(100, token)
            got += [e.uuid for e in r.enrollments]
            token = r.next_page_token
        dup = len(got) - len(set(got))
        missing = [u for u in before if u not in gone and u not in got]
        print("deleted", gone, "listed", len(got), "duplicates", dup, "missing", len(missing))
        if dup or missing or gone[1] in got or got != sorted(got):
            fail("a deletion between pages made others repeat or go missing")
        c, d = code_of(lambda: stub.GetEnrollment(pb.GetEnrollmentRequest(uuid=gone[1]),
                                                  timeout=10))
        if c != grpc.StatusCode.NOT_FOUND or gone[1] not in d:
            fail("GetEnrollment of a deleted uuid: %s %s" % (c, d))
        c, d = code_of(lambda: stub.DeleteEnrollment(pb.DeleteEnrollmentRequest(uuid=gone[1]),
                                                     timeout=10))
        if c != grpc.StatusCode.NOT_FOUND or gone[1] not in d:
            fail("deleting twice: %s %s" % (c, d))
        print("deleted:", " ".join(gone))
        return 0

    if check == "get":
        import json
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
        uuid, rest_json = rest[0], json.load(open(rest[1]))["results"]
        e = stub.GetEnrollment(pb.GetEnrollmentRequest(uuid=uuid), timeout=10).enrollment
        cert = x509.load_der_x509_certificate(e.ekcert)
        spki = cert.public_key().public_bytes(serialization.Encoding.DER,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
        checks = {
            "uuid": e.uuid == uuid,
            "active": e.active,
            "ek_tpm": e.ek_tpm == base64.b64decode(rest_json["ek_tpm"]),
            "aik_tpm": e.aik_tpm == base64.b64decode(rest_json["aik_tpm"]),
            "ekcert": e.ekcert == base64.b64decode(rest_json["ekcert"]) and e.has_ekcert,
            "ek_key": e.ek_key == hashlib.sha256(spki).hexdigest(),
            "mtls_cert": e.mtls_cert == rest_json["mtls_cert"],
            "contact": e.ip == rest_json["ip"] and e.port == rest_json["port"],
            "regcount": e.regcount == rest_json["regcount"],
            "times": 0 < e.created <= e.updated,
            # the first two bytes of a TPM2B_PUBLIC are its size
            "ek_tpm is a TPM2B": int.from_bytes(e.ek_tpm[:2], "big") == len(e.ek_tpm) - 2,
        }
        print(checks)
        return 0 if all(checks.values()) else 1

    if check == "summary":
        s = listing(5).enrollments[0]
        f = listing(5, full=True).enrollments[0]
        print("summary:", len(s.ek_tpm), len(s.aik_tpm), len(s.ekcert), len(s.mtls_cert),
              s.has_ekcert, "full:", len(f.ek_tpm), len(f.aik_tpm), len(f.ekcert),
              len(f.mtls_cert))
        ok = (not s.ek_tpm and not s.aik_tpm and not s.ekcert and not s.mtls_cert and
              s.has_ekcert and s.ek_key and s.ip and s.port and s.active and
              f.ek_tpm and f.aik_tpm and f.ekcert and f.mtls_cert and f.uuid == s.uuid)
        return 0 if ok else 1

    if check == "errors":
        uuid = rest[0]
        cases = [
            ("NOT_FOUND names the uuid", grpc.StatusCode.NOT_FOUND, uuid,
             lambda: stub.GetEnrollment(pb.GetEnrollmentRequest(uuid=uuid), timeout=10)),
            ("DeleteEnrollment NOT_FOUND names the uuid", grpc.StatusCode.NOT_FOUND, uuid,
             lambda: stub.DeleteEnrollment(pb.DeleteEnrollmentRequest(uuid=uuid), timeout=10)),
            ("page_size 5000", grpc.StatusCode.INVALID_ARGUMENT, "page_size",
             lambda: listing(5000)),
            ("page_size 1001", grpc.StatusCode.INVALID_ARGUMENT, "page_size",
             lambda: listing(1001)),
            ("garbage page_token", grpc.StatusCode.INVALID_ARGUMENT, "page_token",
             lambda: listing(10, "garbage!")),
            ("base64url that is no token", grpc.StatusCode.INVALID_ARGUMENT, "page_token",
             lambda: listing(10, base64.urlsafe_b64encode(b"hello").decode().rstrip("="))),
            ("a token with a path in it", grpc.StatusCode.INVALID_ARGUMENT, "page_token",
             lambda: listing(10, base64.urlsafe_b64encode(b"p1:../x").decode().rstrip("="))),
            ("empty uuid", grpc.StatusCode.INVALID_ARGUMENT, "uuid",
             lambda: stub.GetEnrollment(pb.GetEnrollmentRequest(uuid=""), timeout=10)),
            ("a uuid with a slash", grpc.StatusCode.INVALID_ARGUMENT, "uuid",
             lambda: stub.DeleteEnrollment(pb.DeleteEnrollmentRequest(uuid="a/b"), timeout=10)),
        ]
        bad = 0
        for name, want, word, fn in cases:
            c, d = code_of(fn)
            good = c == want and word in d
            print("%s %s: %s %s" % ("ok" if good else "WRONG", name, c.name, d))
            bad += not good
        # Undecodable bytes: INVALID_ARGUMENT too.
        raw = ch.unary_unary("/vigil.v1.Registrar/GetEnrollment")
        c, d = code_of(lambda: raw(b"\xff\xff\xff", timeout=10))
        print("undecodable request:", c.name, d)
        bad += c != grpc.StatusCode.INVALID_ARGUMENT
        return 1 if bad else 0

    if check == "pending":
        uuid = rest[0]
        e = stub.GetEnrollment(pb.GetEnrollmentRequest(uuid=uuid), timeout=10).enrollment
        listed = [x for x in listing(1000).enrollments if x.uuid == uuid]
        print("pending:", e.uuid, "active", e.active, "listed", [x.active for x in listed])
        return 0 if e.uuid == uuid and not e.active and len(listed) == 1 and \
            not listed[0].active else 1

    if check == "no-cert":
        c, d = code_of(lambda: listing(1))
        print("refused:", c.name, d)
        return 0 if c == grpc.StatusCode.UNAVAILABLE else 1

    fail("unknown check " + check)


if __name__ == "__main__":
    sys.exit(main())
