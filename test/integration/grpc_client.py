#!/usr/bin/python3
"""A real gRPC client (Debian's python3-grpcio) for the integration tests.

Usage: grpc_client.py ADDR METHOD [JSON] [--ca F --cert F --key F] [--server-name N]

Calls vigil.v1.Verifier/METHOD on ADDR with the request given as JSON (protobuf JSON
mapping), prints the reply as JSON and exits 0; on an RPC error prints
"ERROR <STATUS_CODE_NAME> <details>" and exits 1. The Python message classes are generated
from proto/ with Debian's protoc into $VIGIL_PB_DIR (default: a temp dir)."""
import argparse
import importlib
import os
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_pb():
    out = os.environ.get("VIGIL_PB_DIR") or tempfile.mkdtemp(prefix="vigil-pb-")
    mod = os.path.join(out, "vigil", "v1", "verifier_pb2.py")
    if not os.path.exists(mod):
        os.makedirs(out, exist_ok=True)
        subprocess.run(["protoc", "--proto_path=" + os.path.join(TOP, "proto"),
                        "--python_out=" + out, "vigil/v1/verifier.proto"], check=True)
    sys.path.insert(0, out)
    return importlib.import_module("vigil.v1.verifier_pb2")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("addr")
    ap.add_argument("method")
    ap.add_argument("request", nargs="?", default="{}")
    ap.add_argument("--ca")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--server-name")
    ap.add_argument("--raw-hex", help="send these raw bytes instead of a message")
    ap.add_argument("--timeout", type=float, default=10)
    a = ap.parse_args()

    import grpc
    from google.protobuf import json_format

    pb = load_pb()
    svc = pb.DESCRIPTOR.services_by_name["Verifier"]
    m = svc.methods_by_name.get(a.method)
    path = "/vigil.v1.Verifier/" + a.method
    if m is not None:
        req_cls = getattr(pb, m.input_type.name)
        resp_cls = getattr(pb, m.output_type.name)
    if a.ca:
        read = lambda p: open(p, "rb").read() if p else None
        creds = grpc.ssl_channel_credentials(read(a.ca), read(a.key), read(a.cert))
        opts = [("grpc.ssl_target_name_override", a.server_name)] if a.server_name else []
        ch = grpc.secure_channel(a.addr, creds, options=opts)
    else:
        ch = grpc.insecure_channel(a.addr)
    if a.raw_hex is not None or m is None:
        payload = bytes.fromhex(a.raw_hex or "")
        call = ch.unary_unary(path, request_serializer=None, response_deserializer=None)
    else:
        payload = json_format.Parse(a.request, req_cls())
        call = ch.unary_unary(path, request_serializer=req_cls.SerializeToString,
                              response_deserializer=resp_cls.FromString)
    try:
        resp = call(payload, timeout=a.timeout)
    except grpc.RpcError as e:
        print("ERROR %s %s" % (e.code().name, e.details()))
        return 1
    if isinstance(resp, bytes):
        print(resp.hex())
    else:
        print(json_format.MessageToJson(resp, preserving_proto_field_name=True,
                                        including_default_value_fields=False, indent=None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
