#!/usr/bin/python3
"""WatchEvents from a real gRPC client (Debian's python3-grpcio), for the tests.

Usage: watch_client.py ADDR OUT [--since ID] [--from-start] [--node U] [--type T]
                       [--count N] [--stall] [--ca F --cert F --key F]

Prints "ready" once the call is open, then writes one line per event to OUT:
"<seq> <id> <type> <node>". Stops after --count events (exit 0), or when the stream ends:
then writes "END <STATUS_CODE_NAME> <details>" and exits 0. With --stall it opens the
stream and never reads, until it gets SIGTERM. With --ear-pub PEM each line ends with
" ear=STATUS": Event.ear (the EAR JWT of the verdict the event announces) checked with PyJWT
against that public key, STATUS the node's ear.status, "-" when the event has none, or
"INVALID:<why>"."""
import argparse
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from grpc_client import load_pb  # noqa: E402


def ear_status(ev, pub_file):
    if not ev.ear:
        return "-"
    try:
        import jwt
        claims = jwt.decode(ev.ear, open(pub_file).read(), algorithms=["ES256"],
                            options={"require": ["iat"]})
        assert claims["eat_profile"] == "tag:github.com,2023:veraison/ear"
        return claims["submods"][ev.node_uuid]["ear.status"]
    except Exception as e:
        return "INVALID:%s" % type(e).__name__


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("addr")
    ap.add_argument("out")
    ap.add_argument("--since", default="")
    ap.add_argument("--from-start", action="store_true")
    ap.add_argument("--node", default="")
    ap.add_argument("--type", default="")
    ap.add_argument("--count", type=int, default=0)
    ap.add_argument("--stall", action="store_true")
    ap.add_argument("--ca")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--ear-pub")
    a = ap.parse_args()

    import grpc

    pb = load_pb()
    # A staller keeps the HTTP/2 window at its initial 64 KiB (no BDP probing), so that
    # what it does not read backs up into the verifier's send queue soon.
    opts = [("grpc.http2.bdp_probe", 0)] if a.stall else []
    if a.ca:
        read = lambda p: open(p, "rb").read()
        creds = grpc.ssl_channel_credentials(read(a.ca), read(a.key), read(a.cert))
        ch = grpc.secure_channel(a.addr, creds, options=opts)
    else:
        ch = grpc.insecure_channel(a.addr, options=opts)
    call = ch.unary_stream("/vigil.v1.Verifier/WatchEvents",
                           request_serializer=pb.WatchEventsRequest.SerializeToString,
                           response_deserializer=pb.Event.FromString)
    req = pb.WatchEventsRequest(node_uuid=a.node, type=a.type, since_id=a.since,
                                from_start=a.from_start)
    it = call(req)
    out = open(a.out, "a", buffering=1)
    if a.stall:
        print("ready", flush=True)
        signal.sigwait([signal.SIGTERM])
        return 0
    n = 0
    try:
        for ev in it:
            line = "%d %s %s %s" % (ev.seq, ev.id, ev.type, ev.node_uuid or "-")
            if a.ear_pub:
                line += " ear=" + ear_status(ev, a.ear_pub)
            out.write(line + "\n")
            n += 1
            if a.count and n >= a.count:
                it.cancel()
                return 0
    except grpc.RpcError as e:
        if e.code() == grpc.StatusCode.CANCELLED and a.count and n >= a.count:
            return 0
        out.write("END %s %s\n" % (e.code().name, e.details()))
        return 0
    out.write("END OK\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
