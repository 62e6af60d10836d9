#!/usr/bin/python3
"""add_nodes.py: add COUNT nodes to a verifier in one gRPC session (python3-grpcio), all
pointing at the same agent (an agent answers quotes for any requester), so make bench can
measure the verifier's memory per node without starting COUNT processes of vigilctl.

Usage: add_nodes.py ADDR COUNT PREFIX AK_PUB MTLS_CERT PORT [RUNTIME_POLICY]

AK_PUB: the agent's ak.pub (marshalled TPM2B_PUBLIC); MTLS_CERT: its server-cert.pem.
Node i gets the UUID PREFIX-<i, 6 digits>. Plaintext gRPC (verifier.grpc_insecure).
Exit 0 when every AddNode succeeded, else 1 with the first error on stderr."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import grpc_client  # noqa: E402  (the integration tests' loader of the generated messages)


def main():
    if len(sys.argv) not in (7, 8):
        sys.stderr.write(__doc__)
        return 2
    addr, count, prefix, ak_path, cert_path, port = sys.argv[1:7]
    policy = sys.argv[7] if len(sys.argv) == 8 else ""
    import grpc

    pb = grpc_client.load_pb()
    ak = open(ak_path, "rb").read()
    cert = open(cert_path).read()
    ch = grpc.insecure_channel(addr)
    add = ch.unary_unary("/vigil.v1.Verifier/AddNode",
                         request_serializer=pb.AddNodeRequest.SerializeToString,
                         response_deserializer=pb.AddNodeResponse.FromString)
    for i in range(int(count)):
        node = pb.Node(uuid="%s-%06d" % (prefix, i), ip="127.0.0.1", port=int(port),
                       ak_tpm=ak, mtls_cert=cert, runtime_policy=policy)
        try:
            add(pb.AddNodeRequest(node=node), timeout=30)
        except grpc.RpcError as e:
            sys.stderr.write("add_nodes: node %d: %s %s\n" % (i, e.code().name, e.details()))
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
