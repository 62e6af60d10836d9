#!/usr/bin/env bash
# Paging of the verifier's list calls, by the one rule (common/net/paging.h).
# Setup: a registrar and a verifier on loopback; vigil-loadgen --register-only enrolls 250
#   nodes (ECC EKs certified by a test EK CA) and exits, so nothing listens at their
#   contact ports; `vigilctl add --file` adds the 250 (one AddNodes call) and the verifier,
#   with a long retry interval, leaves them quietly unattested; five policies.
# Actions and expected outcome:
#   - ListNodes in pages of 100: 100, 100, 50; every uuid once, in byte order; the last
#     page has no next_page_token; page_size 0 means 100; vigilctl list (pages of 7)
#     shows all 250 in order;
#   - ListPolicies in pages of 2: 2, 2, 1 by name, the kind filter still applied; vigilctl
#     policy list --page-size 2 shows all five;
#   - ListEvents of type node_added in pages of 100: 100, 100, 50 in seq order, since
#     after_seq still honoured;
#   - ListOutbox (every event's webhook delivery pending, its receiver down) in pages of
#     100 by id, each once; after_id (older clients) still pages, next_after_id still
#     filled, and page_token wins over after_id; ListPool: one page, no token;
#   - every list call refuses page_size 1001 (INVALID_ARGUMENT naming page_size) and a
#     garbage page_token (INVALID_ARGUMENT naming page_token).
. "$(dirname "$0")/lib.sh"
LG=$BIN/vigil-loadgen
"$BIN/vigilctl" ca init "$T/ca" >/dev/null &&
	"$BIN/vigilctl" ca issue "$T/ca" verifier --both >/dev/null &&
	"$BIN/vigilctl" ca issue "$T/ca" registrar --server >/dev/null &&
	"$BIN/vigilctl" ca issue "$T/ca" admin --client >/dev/null &&
	"$BIN/vigilctl" ca issue "$T/ca" loadgen --server --san 127.0.0.1 >/dev/null &&
	mkdir -p "$T/ekca" "$T/ek-ca-dir" &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=paging ekca" -keyout "$T/ekca/ca.key" -out "$T/ekca/ca.crt" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
		2>/dev/null && cp "$T/ekca/ca.crt" "$T/ek-ca-dir/" || exit 1
REGISTRAR_ADDR=127.0.0.1:$(free_port)
REGISTRAR_TLS_ADDR=127.0.0.1:$(free_port)
spawn "$T/registrar.log" "$BIN/vigil-registrar" -d -o registrar.listen="$REGISTRAR_ADDR" \
	-o registrar.tls_listen="$REGISTRAR_TLS_ADDR" -o registrar.tls_cert="$T/ca/registrar.crt" \
	-o registrar.tls_key="$T/ca/registrar.key" -o registrar.trusted_client_ca="$T/ca/ca.crt" \
	-o registrar.ek_ca_dir="$T/ek-ca-dir" -o registrar.state_dir="$T" \
	-o registrar.database="sqlite:$T/registrar.db" -o registrar.metrics_listen= -o registrar.grpc_listen=
for _ in $(seq 100); do
	curl -sf "http://$REGISTRAR_ADDR/version" >/dev/null && break
	sleep 0.1
done
"$LG" -n 250 --port "$(free_port)" --register-only --cert "$T/ca/loadgen.crt" \
	--key "$T/ca/loadgen.key" --client-ca "$T/ca/ca.crt" --nodes-out "$T/nodes.jsonl" \
	--registrar "$REGISTRAR_ADDR" --ek-ca-cert "$T/ekca/ca.crt" --ek-ca-key "$T/ekca/ca.key" \
	>"$T/loadgen.log" 2>&1 &&
	sed -n 's/.*"uuid": "\([^"]*\)".*/\1/p' "$T/nodes.jsonl" >"$T/uuids" &&
	[ "$(sort -u "$T/uuids" | wc -l)" = 250 ]
check "250 nodes enrolled at the registrar; nothing listens at their contact ports" $? ||
	tail -3 "$T/loadgen.log"

# Webhooks to a closed port: every event's delivery stays pending in the outbox, to page.
echo "whsec_$(head -c 32 /dev/urandom | base64)" >"$T/webhook.secret"
verifier_start v -o verifier.retry_interval=60 -o verifier.quote_interval=60 \
	-o verifier.webhook_url="http://127.0.0.1:$(free_port)/hook" \
	-o verifier.webhook_secret_file="$T/webhook.secret" || exit 1
"$BIN/vigilctl" add --file "$T/uuids" --verifier "$VERIFIER_ADDR" --insecure \
	--registrar "$REGISTRAR_TLS_ADDR" --tls-ca "$T/ca/ca.crt" --tls-cert "$T/ca/admin.crt" \
	--tls-key "$T/ca/admin.key" --ek-ca-dir "$T/ek-ca-dir" >"$T/add.out" 2>"$T/add.err"
[ $? = 0 ] && [ "$(grep -c ' added$' "$T/add.out")" = 250 ] &&
	grep -q "AddNodes: 250 of 250 nodes added" "$T/v.log"
check "vigilctl add --file adds the 250 in one AddNodes call" $? || tail -3 "$T/add.err"

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

# ListOutbox: the pending deliveries (at least the 250 node_added events')
got, sizes = pages("ListOutbox", pb.ListOutboxRequest, pb.ListOutboxResponse, "entries",
                   lambda o: o.id, 100)
check("ListOutbox: pages of 100 by id, each delivery once, the last without a token "
      "(got %d in %s)" % (len(got), sizes),
      len(got) >= 250 and sizes[:2] == [100, 100] and len(got) == len(set(got))
      and got == sorted(got) and all(s == 100 for s in sizes[:-1]))
ob = rpc("ListOutbox", pb.ListOutboxRequest, pb.ListOutboxResponse)
old, after = [], 0
while True:
    r = ob(pb.ListOutboxRequest(page_size=100, after_id=after))
    old += [o.id for o in r.entries]
    if r.next_after_id == 0:
        break
    check("ListOutbox: next_after_id is the page's last id", r.next_after_id == r.entries[-1].id)
    after = r.next_after_id
check("ListOutbox: paging by after_id (older clients) gives the same list", old == got)
r1 = ob(pb.ListOutboxRequest(page_size=100))
r2 = ob(pb.ListOutboxRequest(page_size=100, page_token=r1.next_page_token, after_id=got[200]))
check("ListOutbox: page_token wins over after_id", [o.id for o in r2.entries] == got[100:200])
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
[ $? = 0 ] && [ "$(tail -n +2 "$T/list.txt" | wc -l)" = 250 ] &&
	tail -n +2 "$T/list.txt" | awk '{print $1}' | LC_ALL=C sort -c &&
	[ "$(tail -n +2 "$T/list.txt" | awk '{print $1}' | LC_ALL=C sort -u)" = "$(LC_ALL=C sort -u "$T/uuids")" ]
check "vigilctl list --page-size 7 follows the tokens: all 250 nodes, in order" $?
[ "$(vctl list | tail -n +2 | wc -l)" = 250 ]
check "vigilctl list (pages of 100) shows all 250" $?
out=$(vctl list --page-size 1001 2>&1)
[ $? = 2 ] && grep -q "page-size 1001: expected 1 to 1000" <<<"$out"
check "vigilctl list --page-size 1001 is a usage error" $?
[ "$(vctl policy list --page-size 2 | grep -c ' pcr \| runtime ')" = 5 ]
check "vigilctl policy list --page-size 2 shows all five" $?
n=$(vctl outbox list --page-size 7 --json | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))') &&
	[ "$n" -ge 250 ] && vctl pool >/dev/null
check "vigilctl outbox list --page-size 7 follows the tokens ($n deliveries), and pool" $?
