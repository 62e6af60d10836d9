#!/usr/bin/env bash
# Paging of the verifier's list calls, by the one rule (common/net/paging.h).
# Setup: one verifier on loopback, no agents; 250 nodes added in one AddNodes call (the call
#   `vigilctl add --file` makes; stock grpcio here, as no registrar holds them), all pointed
#   at a closed loopback port with a long retry interval (they stay unattested, quietly);
#   five policies.
# Actions and expected outcome:
#   - ListNodes in pages of 100: 100, 100, 50; every uuid once, in byte order; the last
#     page has no next_page_token; page_size 0 means 100; vigilctl list (pages of 7)
#     shows all 250 in order;
#   - ListPolicies in pages of 2: 2, 2, 1 by name, the kind filter still applied; vigilctl
#     policy list --page-size 2 shows all five;
#   - ListEvents of type node_added in pages of 100: 100, 100, 50 in seq order, since
#     after_seq still honoured;
#   - ListOutbox and ListPool: one page, no token;
#   - every list call refuses page_size 1001 (INVALID_ARGUMENT naming page_size) and a
#     garbage page_token (INVALID_ARGUMENT naming page_token).
. "$(dirname "$0")/lib.sh"
verifier_start v -o verifier.retry_interval=60 -o verifier.quote_interval=60 || exit 1
DATA=$TOP/test/unit/data/tpm2
closed=$(free_port)

TOP=$TOP VIGIL_PB_DIR=$T/pb /usr/bin/python3 - "$VERIFIER_ADDR" "$(base64 -w0 "$DATA/ak_rsa.pub")" \
	"$T/ca/verifier.crt" "$closed" <<'PY'
import os, random, sys
sys.path.insert(0, os.path.join(os.environ["TOP"], "test/integration"))
from grpc_client import load_pb
import base64, grpc
pb = load_pb()
ch = grpc.insecure_channel(sys.argv[1])
ak = base64.b64decode(sys.argv[2])
cert = open(sys.argv[3]).read()
uuids = ["node-%03d-%s" % (i, random.choice("abcXYZ")) for i in range(250)]
random.shuffle(uuids)
call = ch.unary_unary("/vigil.v1.Verifier/AddNodes",
                      request_serializer=pb.AddNodesRequest.SerializeToString,
                      response_deserializer=pb.AddNodesResponse.FromString)
r = call(pb.AddNodesRequest(requests=[pb.AddNodeRequest(node=pb.Node(
    uuid=u, ip="127.0.0.1", port=int(sys.argv[4]), ak_tpm=ak, mtls_cert=cert)) for u in uuids]))
bad = [x for x in r.results if x.code != 0]
print("# added", len(r.results) - len(bad), "of", len(uuids))
sys.exit(1 if bad else 0)
PY
check "250 nodes added in one AddNodes call" $?

Z=0000000000000000000000000000000000000000000000000000000000000000
printf '{"0": ["%s"]}' $Z >"$T/pcr.json"
"$BIN/vigilctl" policy create runtime --ima-log "$NODE_TESTDATA/ima/keylime-ima-log-sha256" \
	--output "$T/rt.json" >/dev/null
for p in pB pa Pc pd; do vctl policy put "$p" --kind pcr "$T/pcr.json" >/dev/null || exit 1; done
vctl policy put rt1 --kind runtime "$T/rt.json" >/dev/null
check "five policies stored" $?

TOP=$TOP VIGIL_PB_DIR=$T/pb /usr/bin/python3 - "$VERIFIER_ADDR" <<'PY'
import os, sys
sys.path.insert(0, os.path.join(os.environ["TOP"], "test/integration"))
from grpc_client import load_pb
import grpc
pb = load_pb()
ch = grpc.insecure_channel(sys.argv[1])
fails = []
def rpc(name, req, resp):
    return ch.unary_unary("/vigil.v1.Verifier/" + name, request_serializer=req.SerializeToString,
                          response_deserializer=resp.FromString)
def check(what, ok):
    print("#   " + ("ok" if ok else "NOT OK") + " - " + what)
    if not ok:
        fails.append(what)

def pages(name, req_cls, resp_cls, field, key, size, **kw):
    call = rpc(name, req_cls, resp_cls)
    got, sizes, token = [], [], ""
    while True:
        r = call(req_cls(page_size=size, page_token=token, **kw))
        items = getattr(r, field)
        sizes.append(len(items))
        got += [key(x) for x in items]
        token = r.next_page_token
        if not token:
            return got, sizes
        if len(sizes) > 50:
            return got, sizes + ["loop"]

# ListNodes
got, sizes = pages("ListNodes", pb.ListNodesRequest, pb.ListNodesResponse, "nodes",
                   lambda n: n.uuid, 100)
check("ListNodes: pages of 100, 100 and 50, the last without a token (got %s)" % sizes,
      sizes == [100, 100, 50])
check("ListNodes: every node once, in byte order of uuid",
      len(set(got)) == 250 and got == sorted(got, key=lambda s: s.encode()))
r = rpc("ListNodes", pb.ListNodesRequest, pb.ListNodesResponse)(pb.ListNodesRequest())
check("ListNodes: page_size 0 means 100", len(r.nodes) == 100 and r.next_page_token != "")
g1, s1 = pages("ListNodes", pb.ListNodesRequest, pb.ListNodesResponse, "nodes",
               lambda n: n.uuid, 1000)
check("ListNodes: one page of 1000 holds all 250, no token", s1 == [250] and g1 == got)

# ListPolicies
got, sizes = pages("ListPolicies", pb.ListPoliciesRequest, pb.ListPoliciesResponse, "policies",
                   lambda p: p.name, 2)
check("ListPolicies: pages of 2, 2, 1 by name in byte order (got %s %s)" % (sizes, got),
      sizes == [2, 2, 1] and got == ["Pc", "pB", "pa", "pd", "rt1"])
got, sizes = pages("ListPolicies", pb.ListPoliciesRequest, pb.ListPoliciesResponse, "policies",
                   lambda p: p.name, 3, kind=pb.POLICY_KIND_PCR)
check("ListPolicies: the kind filter applies to every page (got %s %s)" % (sizes, got),
      sizes == [3, 1] and got == ["Pc", "pB", "pa", "pd"])

# ListEvents
got, sizes = pages("ListEvents", pb.ListEventsRequest, pb.ListEventsResponse, "events",
                   lambda e: e.seq, 100, type="node_added")
check("ListEvents: node_added in pages of 100, 100, 50 (got %s)" % sizes,
      sizes == [100, 100, 50] and got == sorted(set(got)))
later, _ = pages("ListEvents", pb.ListEventsRequest, pb.ListEventsResponse, "events",
                 lambda e: e.seq, 100, type="node_added", after_seq=got[149])
check("ListEvents: after_seq still starts after that seq", later == got[150:])

# ListOutbox, ListPool: one page
r = rpc("ListOutbox", pb.ListOutboxRequest, pb.ListOutboxResponse)(pb.ListOutboxRequest())
check("ListOutbox: one empty page, no token", len(r.entries) == 0 and r.next_page_token == ""
      and r.next_after_id == 0)
r = rpc("ListPool", pb.ListPoolRequest, pb.ListPoolResponse)(pb.ListPoolRequest())
check("ListPool: one page, no token", r.next_page_token == "")

# Refusals, the same on every list call.
calls = [("ListNodes", pb.ListNodesRequest, pb.ListNodesResponse),
         ("ListPolicies", pb.ListPoliciesRequest, pb.ListPoliciesResponse),
         ("ListEvents", pb.ListEventsRequest, pb.ListEventsResponse),
         ("ListOutbox", pb.ListOutboxRequest, pb.ListOutboxResponse),
         ("ListPool", pb.ListPoolRequest, pb.ListPoolResponse)]
for name, rq, rs in calls:
    for what, req, field in (("page_size 1001", rq(page_size=1001), "page_size"),
                             ("a garbage page_token", rq(page_token="garbage!"), "page_token"),
                             ("a token of another format", rq(page_token="cDE6"), "page_token")):
        try:
            rpc(name, rq, rs)(req)
            check("%s refuses %s" % (name, what), False)
        except grpc.RpcError as e:
            check("%s refuses %s: INVALID_ARGUMENT naming %s (%s)" % (name, what, field,
                  e.details()),
                  e.code() == grpc.StatusCode.INVALID_ARGUMENT and field in e.details())
sys.exit(1 if fails else 0)
PY
check "the paging rule holds on every list call (lines above)" $?

vctl list --page-size 7 >"$T/list.txt"
[ $? = 0 ] && [ "$(grep -c '^node-' "$T/list.txt")" = 250 ] &&
	grep '^node-' "$T/list.txt" | awk '{print $1}' | LC_ALL=C sort -c
check "vigilctl list --page-size 7 follows the tokens: all 250 nodes, in order" $?
[ "$(vctl list | grep -c '^node-')" = 250 ]
check "vigilctl list (pages of 100) shows all 250" $?
out=$(vctl list --page-size 1001 2>&1)
[ $? = 2 ] && grep -q "page-size 1001: expected 1 to 1000" <<<"$out"
check "vigilctl list --page-size 1001 is a usage error" $?
[ "$(vctl policy list --page-size 2 | grep -c ' pcr \| runtime ')" = 5 ]
check "vigilctl policy list --page-size 2 shows all five" $?
vctl outbox list >/dev/null && vctl pool >/dev/null
check "vigilctl outbox list and pool follow the tokens" $?
