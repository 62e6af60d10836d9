#!/usr/bin/python3
"""Stalling gRPC clients against the verifier, while normal clients keep calling it.

Usage: grpc_stall.py ADDR --duration S --ak FILE --cert FILE [--peer-calls N]

Runs at once, for --duration seconds:
  normal   python3-grpcio from 127.0.0.1: ListNodes, AddNode, RemoveNode in a loop, each
           with a 2 s client deadline; every call's time is measured
  stall    python3-grpcio from 127.0.0.1: 4 calls at a time that open and never send a
           message (a request iterator that never yields); reopened when they end
  drip     raw HTTP/2 from 127.0.0.3: a call whose request arrives one byte a second;
           reopened when it ends
  flood    raw HTTP/2 from 127.0.0.2, at the start: --peer-calls calls on one connection
           that open and never send (HEADERS only)
  silent   a TCP connection from 127.0.0.4 that never sends the HTTP/2 preface
Then prints "key value" lines: how many calls of each kind, how they ended (gRPC status
names; "RST" for a stream reset), the slowest normal call in ms, and the statuses of the
flood calls in the order they were opened. Exits 0; the test judges the numbers.

The raw clients speak just enough HTTP/2 (RFC 9113) and HPACK (RFC 7541) for this: the
preface, SETTINGS and their ACKs, PING ACKs, HEADERS without END_STREAM, DATA, and a
decoder for the server's headers (Huffman-coded strings are skipped: a status sent that
way would read as "?")."""
import argparse
import base64
import collections
import json
import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grpc_client  # noqa: E402  (load_pb: the generated message classes)

STATUS = {0: "OK", 1: "CANCELLED", 2: "UNKNOWN", 3: "INVALID_ARGUMENT",
          4: "DEADLINE_EXCEEDED", 5: "NOT_FOUND", 8: "RESOURCE_EXHAUSTED", 13: "INTERNAL",
          14: "UNAVAILABLE"}

HPACK_STATIC = [None, ":authority", ":method", ":method", ":path", ":path", ":scheme",
                ":scheme", ":status", ":status", ":status", ":status", ":status",
                ":status", ":status", "accept-charset", "accept-encoding",
                "accept-language", "accept-ranges", "accept",
                "access-control-allow-origin", "age", "allow", "authorization",
                "cache-control", "content-disposition", "content-encoding",
                "content-language", "content-length", "content-location", "content-range",
                "content-type", "cookie", "date", "etag", "expect", "expires", "from",
                "host", "if-match", "if-modified-since", "if-none-match", "if-range",
                "if-unmodified-since", "last-modified", "link", "location", "max-forwards",
                "proxy-authenticate", "proxy-authorization", "range", "referer", "refresh",
                "retry-after", "server", "set-cookie", "strict-transport-security",
                "transfer-encoding", "user-agent", "vary", "via", "www-authenticate"]


class Hpack:
    """Decoder state of one connection: the dynamic table (RFC 7541 section 2.3.2)."""

    def __init__(self):
        self.dyn = []

    @staticmethod
    def _int(b, i, bits):
        mask = (1 << bits) - 1
        v = b[i] & mask
        i += 1
        if v < mask:
            return v, i
        m = 0
        while True:
            v += (b[i] & 0x7f) << m
            m += 7
            i += 1
            if not b[i - 1] & 0x80:
                return v, i

    def _str(self, b, i):
        huff = b[i] & 0x80
        n, i = self._int(b, i, 7)
        s = b[i:i + n]
        return ("?" if huff else s.decode("latin-1")), i + n

    def _entry(self, idx):
        if idx < len(HPACK_STATIC):
            return HPACK_STATIC[idx], ""
        return self.dyn[idx - len(HPACK_STATIC)]

    def decode(self, b):
        out, i = [], 0
        while i < len(b):
            c = b[i]
            if c & 0x80:
                idx, i = self._int(b, i, 7)
                out.append(self._entry(idx))
                continue
            if c & 0xe0 == 0x20:
                _, i = self._int(b, i, 5)
                continue
            bits, add = (6, True) if c & 0xc0 == 0x40 else (4, False)
            idx, i = self._int(b, i, bits)
            if idx:
                name = self._entry(idx)[0]
            else:
                name, i = self._str(b, i)
            value, i = self._str(b, i)
            if add:
                self.dyn.insert(0, (name, value))
            out.append((name, value))
        return out


class H2Conn:
    """One plaintext HTTP/2 connection from a chosen source address."""

    def __init__(self, addr, source):
        host, port = addr.rsplit(":", 1)
        self.authority = addr
        self.sock = socket.create_connection((host, int(port)), timeout=30,
                                             source_address=(source, 0))
        self.sock.settimeout(None)
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.hpack = Hpack()
        self.next_id = 1
        self.headers = {}   # stream id -> response headers seen (initial metadata)
        self.ended = {}     # stream id -> how it ended: a status name or "RST"
        self.hbuf = {}      # stream id -> header block being assembled
        self.dead = False
        self.send(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        self.frame(4, 0, 0, b"")
        threading.Thread(target=self.reader, daemon=True).start()

    def send(self, data):
        with self.lock:
            self.sock.sendall(data)

    def frame(self, ftype, flags, sid, payload):
        self.send(struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) +
                  struct.pack(">I", sid) + payload)

    def open(self, path):
        """A call: HEADERS with END_HEADERS and without END_STREAM. Returns its id."""
        block = b""
        for name, value in ((":method", "POST"), (":scheme", "http"), (":path", path),
                            (":authority", self.authority),
                            ("content-type", "application/grpc"), ("te", "trailers")):
            n, v = name.encode(), value.encode()
            block += b"\x00" + bytes([len(n)]) + n + bytes([len(v)]) + v
        with self.lock:
            sid = self.next_id
            self.next_id += 2
        self.frame(1, 0x4, sid, block)
        return sid

    def data(self, sid, payload):
        self.frame(0, 0, sid, payload)

    def _recv(self, n):
        b = b""
        while len(b) < n:
            chunk = self.sock.recv(n - len(b))
            if not chunk:
                raise EOFError
            b += chunk
        return b

    def _end(self, sid, how):
        with self.cond:
            self.ended.setdefault(sid, how)
            self.cond.notify_all()

    def reader(self):
        try:
            while True:
                h = self._recv(9)
                n = int.from_bytes(h[0:3], "big")
                ftype, flags, sid = h[3], h[4], int.from_bytes(h[5:9], "big") & 0x7fffffff
                p = self._recv(n)
                if ftype == 4 and not flags & 1:
                    self.frame(4, 1, 0, b"")
                elif ftype == 6 and not flags & 1:
                    self.frame(6, 1, 0, p)
                elif ftype in (1, 9):
                    if ftype == 1:
                        if flags & 0x8:
                            p = p[1:len(p) - p[0]]
                        if flags & 0x20:
                            p = p[5:]
                        self.hbuf[sid] = (b"", flags & 1)
                    blk, es = self.hbuf[sid]
                    self.hbuf[sid] = (blk + p, es)
                    if flags & 0x4:
                        blk, es = self.hbuf.pop(sid)
                        hdrs = dict(self.hpack.decode(blk))
                        with self.cond:
                            self.headers.setdefault(sid, hdrs)
                            self.cond.notify_all()
                        if es:
                            code = hdrs.get("grpc-status")
                            self._end(sid, STATUS.get(int(code), code)
                                      if code and code.isdigit() else "?")
                elif ftype == 3:
                    self._end(sid, "RST")
                elif ftype == 0 and flags & 1:
                    self._end(sid, "?")
        except (EOFError, OSError):
            pass
        with self.cond:
            self.dead = True
            self.cond.notify_all()

    def wait(self, pred, timeout):
        """Until pred() holds (under the lock) or timeout s passed. Returns pred()."""
        end = time.monotonic() + timeout
        with self.cond:
            while not pred() and not self.dead:
                left = end - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(left)
            return pred()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("addr")
    ap.add_argument("--duration", type=float, required=True)
    ap.add_argument("--ak", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--peer-calls", type=int, default=20)
    a = ap.parse_args()

    import grpc

    pb = grpc_client.load_pb()
    stop = threading.Event()
    res = collections.defaultdict(collections.Counter)
    lat = []
    reslock = threading.Lock()
    open_futs = set()

    def note(kind, how):
        with reslock:
            res[kind][how] += 1

    # A connection that never sends its HTTP/2 preface: closed by the server or not.
    host, port = a.addr.rsplit(":", 1)
    silent = socket.create_connection((host, int(port)), source_address=("127.0.0.4", 0))
    silent.settimeout(a.duration + 10)
    silent_t0 = time.monotonic()

    # The flood: --peer-calls calls from one other address, never sending a byte of data.
    flood = H2Conn(a.addr, "127.0.0.2")
    fids = [flood.open("/vigil.v1.Verifier/ListNodes") for _ in range(a.peer_calls)]
    # Each is either admitted (initial metadata comes) or refused (it ends) at once.
    flood.wait(lambda: all(s in flood.headers or s in flood.ended for s in fids), 10)

    def stall_loop():
        ch = grpc.insecure_channel(a.addr)
        call = ch.stream_unary("/vigil.v1.Verifier/ListNodes", request_serializer=None,
                               response_deserializer=None)

        def never():
            stop.wait()
            return
            yield b""  # a generator that yields nothing until the test ends

        while not stop.is_set():
            fut = call.future(never())
            with reslock:
                open_futs.add(fut)
            try:
                fut.result()
                how = "OK"
            except grpc.FutureCancelledError:
                how = "CANCELLED"  # by us, when the test ends
            except grpc.RpcError as e:
                how = e.code().name
                if how == "DEADLINE_EXCEEDED" and "no complete request" not in (e.details() or ""):
                    how += "(not the server's)"
            with reslock:
                open_futs.discard(fut)
            if not stop.is_set():  # the last one ends because the test does
                note("stall", how)
        ch.close()

    def drip_loop():
        conn = H2Conn(a.addr, "127.0.0.3")
        while not stop.is_set() and not conn.dead:
            sid = conn.open("/vigil.v1.Verifier/ListNodes")
            conn.data(sid, b"\x00" + struct.pack(">I", 100))  # a 100-byte message follows
            while not stop.is_set() and not conn.wait(lambda: sid in conn.ended, 1.0):
                try:
                    conn.data(sid, b"\x00")
                except OSError:
                    break
            with conn.lock:
                how = conn.ended.get(sid)
            if how and not stop.is_set():
                note("drip", how)

    threads = [threading.Thread(target=stall_loop) for _ in range(4)]
    threads.append(threading.Thread(target=drip_loop))
    for t in threads:
        t.start()

    ch = grpc.insecure_channel(a.addr)
    stub = {m: ch.unary_unary("/vigil.v1.Verifier/" + m,
                              request_serializer=getattr(pb, req).SerializeToString,
                              response_deserializer=getattr(pb, resp).FromString)
            for m, req, resp in (("ListNodes", "ListNodesRequest", "ListNodesResponse"),
                                 ("AddNode", "AddNodeRequest", "NodeResponse"),
                                 ("RemoveNode", "NodeRequest", "RemoveNodeResponse"))}
    ak = open(a.ak, "rb").read()
    cert = open(a.cert).read()
    end = time.monotonic() + a.duration
    i = 0
    while time.monotonic() < end:
        i += 1
        uuid = "stall-%d" % i
        for m, req in (("ListNodes", pb.ListNodesRequest()),
                       ("AddNode", pb.AddNodeRequest(node=pb.Node(
                           uuid=uuid, ip="127.0.0.1", port=9, ak_tpm=ak, mtls_cert=cert))),
                       ("RemoveNode", pb.NodeRequest(uuid=uuid))):
            t0 = time.monotonic()
            try:
                stub[m](req, timeout=2)
                note("normal", "OK")
            except grpc.RpcError as e:
                note("normal", e.code().name)
                print("# normal %s failed: %s %s" % (m, e.code().name, e.details()))
            lat.append(time.monotonic() - t0)
    stop.set()
    with reslock:
        for fut in open_futs:  # still open: they end because the test does
            fut.cancel()
    for t in threads:
        t.join()
    ch.close()
    # The admitted flood calls end by the server's receive deadline.
    flood.wait(lambda: all(s in flood.ended for s in fids), 15)
    with flood.lock:
        fl = [flood.ended.get(s, "OPEN") for s in fids]

    try:
        while silent.recv(4096):  # the server's SETTINGS, then EOF when it gives up
            pass
        silent_end = "closed"
    except socket.timeout:
        silent_end = "open"
    except OSError:
        silent_end = "closed"
    print("silent_connection %s after %d s" % (silent_end, time.monotonic() - silent_t0))
    print("normal_calls %d" % sum(res["normal"].values()))
    print("normal_failed %d" % (sum(res["normal"].values()) - res["normal"]["OK"]))
    print("normal_max_ms %d" % (max(lat) * 1000 if lat else -1))
    for kind in ("stall", "drip"):
        print("%s_calls %d" % (kind, sum(res[kind].values())))
        print("%s_ended %s" % (kind, json.dumps(dict(res[kind]), sort_keys=True)))
    print("flood %s" % " ".join(fl))
    return 0


if __name__ == "__main__":
    sys.exit(main())
