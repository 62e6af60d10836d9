#!/usr/bin/python3
"""Drive a verifier with vigil-loadgen's nodes over gRPC (Debian's python3-grpcio), in one
process (one AddNode per node on one channel: a process per node would take longer than
the test).

Usage:
  loadgen_nodes.py ADDR add NODES_FILE [--runtime-policy NAME] [--pcr-policy NAME]
      every line of the loadgen's --nodes-out file, in AddNodes calls of 1000; prints
      "added N", or exits 1 with the first node's refusal.
  loadgen_nodes.py ADDR add-single NODES_FILE [...]
      the same with one AddNode call per node.
  loadgen_nodes.py ADDR states NODES_FILE
      one line per node: "INDEX UUID STATE COUNT EVENT_ID IMA_NEXT", from one ListNodes.
Plaintext gRPC (the integration verifier's grpc_insecure)."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grpc_client  # noqa: E402


def main():
    addr, cmd, nodes_file = sys.argv[1:4]
    opts = dict(zip(sys.argv[4::2], sys.argv[5::2]))
    import grpc
    pb = grpc_client.load_pb()
    ch = grpc.insecure_channel(addr)

    def rpc(method, req, resp):
        return ch.unary_unary("/vigil.v1.Verifier/" + method,
                              request_serializer=req.__class__.SerializeToString,
                              response_deserializer=resp.FromString)(req, timeout=30)

    nodes = [json.loads(line) for line in open(nodes_file) if line.strip()]
    def req(n):
        return pb.AddNodeRequest(node=pb.Node(
            uuid=n["uuid"], ip=n["ip"], port=n["port"],
            ak_tpm=__import__("base64").b64decode(n["ak_tpm"]), mtls_cert=n["mtls_cert"],
            runtime_policy=opts.get("--runtime-policy", ""),
            pcr_policy=opts.get("--pcr-policy", "")))

    if cmd == "add":
        for k in range(0, len(nodes), 1000):
            r = rpc("AddNodes", pb.AddNodesRequest(requests=[req(n) for n in nodes[k:k + 1000]]),
                    pb.AddNodesResponse)
            for x in r.results:
                if x.code != 0:
                    sys.exit("AddNodes: %s: code %d: %s" % (x.uuid, x.code, x.message))
        print("added %d" % len(nodes))
    elif cmd == "add-single":
        for n in nodes:
            rpc("AddNode", req(n), pb.AddNodeResponse)
        print("added %d" % len(nodes))
    elif cmd == "states":
        got = {n.uuid: n for n in rpc("ListNodes", pb.ListNodesRequest(),
                                      pb.ListNodesResponse).nodes}
        for i, n in enumerate(nodes):
            g = got.get(n["uuid"])
            if g is None:
                print("%d %s MISSING 0 - 0" % (i, n["uuid"]))
                continue
            print("%d %s %s %d %s %d" % (i, n["uuid"],
                                         pb.OperationalState.Name(g.operational_state)[len("STATE_"):],
                                         g.attestation_count, g.last_event_id or "-",
                                         g.ima_next_entry))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
