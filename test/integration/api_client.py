#!/usr/bin/python3
"""Every RPC of vigil.v1.Verifier and vigil.v1.Registrar from stock grpcio, for t_api_grpc.sh.

Usage: api_client.py --verifier ADDR --registrar ADDR --ca F --cert F --key F
                     --other-cert F --other-key F --node UUID --node-port P
                     --closed-port P --report-pub F --spare UUID --runtime-policy F
                     --pb DIR [--unloaded UUID]

The stubs are generated at start with python3-grpc-tools (grpc_tools.protoc) into --pb.
Each check is one RPC and one outcome (OK or a gRPC status code), printed as one line
"ok N - Service.Rpc CODE: what" or "not ok N - ...: why"; then a summary. Before anything
else it lists the methods of both services from their descriptors, and at the end it fails
when one of them was never called, or never called successfully: a new RPC without a
check fails this test.

What the shell set up: a registrar (gRPC, mutual TLS) where the swtpm agent --node is
enrolled (contact port --node-port) and where --spare is a copy of its enrollment; a
verifier (mutual TLS, max_watchers = 3, webhooks to a closed port with webhook_max_age 1)
with no node and no policy yet; --closed-port has no listener (the 250 nodes' agents);
--report-pub is the public half of the verifier's STATE_DIR/report.key; --runtime-policy
a valid runtime policy (JSON)."""
import argparse
import base64
import hashlib
import os
import subprocess
import sys
import time
import traceback

import grpc

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ap = argparse.ArgumentParser()
for opt in ("verifier", "registrar", "ca", "cert", "key", "other-cert", "other-key", "node",
            "node-port", "closed-port", "report-pub", "spare", "runtime-policy", "pb"):
    ap.add_argument("--" + opt, required=True)
ap.add_argument("--unloaded", help="second phase: only the checks of node UUID, stored but "
                "not loaded at the verifier's start (its AK made unreadable in the database)")
A = ap.parse_args()

os.makedirs(A.pb, exist_ok=True)
subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "--proto_path=" + os.path.join(TOP, "proto"),
                "--python_out=" + A.pb, "--grpc_python_out=" + A.pb,
                "vigil/v1/verifier.proto", "vigil/v1/registrar.proto"], check=True)
sys.path.insert(0, A.pb)
from vigil.v1 import registrar_pb2 as rpb, registrar_pb2_grpc as rpbg  # noqa: E402
from vigil.v1 import verifier_pb2 as vpb, verifier_pb2_grpc as vpbg  # noqa: E402

SC = grpc.StatusCode
read = lambda p: open(p, "rb").read() if p else None  # noqa: E731


def channel(addr, cert=A.cert, key=A.key):
    creds = grpc.ssl_channel_credentials(read(A.ca), read(key), read(cert))
    return grpc.secure_channel(addr, creds)


V = vpbg.VerifierStub(channel(A.verifier))
R = rpbg.RegistrarStub(channel(A.registrar))
SERVICES = {"Verifier": vpb.DESCRIPTOR.services_by_name["Verifier"],
            "Registrar": rpb.DESCRIPTOR.services_by_name["Registrar"]}
RPCS = {"%s.%s" % (s, m.name) for s, d in SERVICES.items() for m in d.methods}
called, succeeded = set(), set()
results = []
GHOST = "00000000-dead-beef-0000-00000000000f"
FAKE = ["f0000000-0000-4000-8000-%012d" % i for i in range(250)]


class Fail(Exception):
    pass


def need(cond, why):
    if not cond:
        raise Fail(why)


def check(rpc, code, what, fn):
    """One check: fn() raises Fail (or anything) when it does not hold."""
    called.add(rpc)
    n = len(results) + 1
    try:
        fn()
    except Fail as e:
        results.append(False)
        print("not ok %d - %s %s: %s: %s" % (n, rpc, code, what, e), flush=True)
        return False
    except Exception as e:  # an unexpected error is a failed check, not a crash
        results.append(False)
        print("not ok %d - %s %s: %s: %s" % (n, rpc, code, what, repr(e)[:300]), flush=True)
        traceback.print_exc(limit=2, file=sys.stdout)
        return False
    results.append(True)
    if code == "OK":
        succeeded.add(rpc)
    print("ok %d - %s %s: %s" % (n, rpc, code, what), flush=True)
    return True


def call(rpc, req, timeout=20):
    svc, name = rpc.split(".")
    return getattr(V if svc == "Verifier" else R, name)(req, timeout=timeout)


def ok(rpc, req, timeout=20):
    try:
        return call(rpc, req, timeout)
    except grpc.RpcError as e:
        raise Fail("%s: %s" % (e.code().name, e.details()))


def err(rpc, req, code, *words):
    """The call fails with code, its message naming each of words; returns the message."""
    try:
        call(rpc, req)
    except grpc.RpcError as e:
        need(e.code() == code, "got %s (%s), want %s" % (e.code().name, e.details(), code.name))
        d = e.details() or ""
        for w in words:
            need(w in d, "the message %r does not name %r" % (d, w))
        return d
    raise Fail("it succeeded, want %s" % code.name)


def expect(rpc, code, what, req, *words):
    msg = []
    if check(rpc, code.name, what, lambda: msg.append(err(rpc, req, code, *words))):
        print("# message: %s" % msg[0], flush=True)


def wait(fn, seconds, what):
    end = time.time() + seconds
    while True:
        v = fn()
        if v:
            return v
        if time.time() > end:
            raise Fail("not within %d s: %s" % (seconds, what))
        time.sleep(0.2)


def pub_key_id(pem):
    from cryptography.hazmat.primitives import serialization
    k = serialization.load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    der = k.public_bytes(serialization.Encoding.DER,
                         serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


REPORT_PUB = read(A.report_pub).decode()


def check_jwt(tok, uuid, status=None):
    import jwt
    if isinstance(tok, bytes):
        tok = tok.decode()
    claims = jwt.decode(tok, REPORT_PUB, algorithms=["ES256"], options={"require": ["iat"]})
    need(claims["eat_profile"] == "tag:github.com,2023:veraison/ear", "wrong eat_profile")
    need(abs(claims["iat"] - time.time()) < 120, "iat %s is not now" % claims["iat"])
    need(uuid in claims["submods"], "no submodule for %s: %s" % (uuid, list(claims["submods"])))
    a = claims["submods"][uuid]
    if status:
        need(a["ear.status"] == status, "ear.status %s, want %s" % (a["ear.status"], status))
    return claims


# ================================ phase 2: a node that was not loaded ================================
if A.unloaded:
    u = A.unloaded

    def not_loaded():
        n = ok("Verifier.GetNode", vpb.NodeRequest(uuid=u)).node
        need(n.attestation_status == "FAIL" and n.last_event_id == "not_loaded",
             "status %s, last_event_id %s" % (n.attestation_status, n.last_event_id))

    check("Verifier.GetNode", "OK", "a stored node not loaded at start: FAIL, not_loaded",
          not_loaded)
    expect("Verifier.StopNode", SC.FAILED_PRECONDITION, "a node not loaded at start",
           vpb.NodeRequest(uuid=u), u, "not attested")
    expect("Verifier.ReactivateNode", SC.FAILED_PRECONDITION, "a node not loaded at start",
           vpb.NodeRequest(uuid=u), u, "not attested")
    expect("Verifier.UpdateNode", SC.FAILED_PRECONDITION, "a node not loaded at start",
           vpb.UpdateNodeRequest(uuid=u, node=vpb.Node(port=1), update_mask=["port"]), u,
           "not attested")
    bad = results.count(False)
    print("# %d checks, %d passed, %d failed" % (len(results), len(results) - bad, bad))
    sys.exit(1 if bad else 0)

# ================================ Registrar ================================
enr = {}


def get_enrollment():
    e = ok("Registrar.GetEnrollment", rpb.GetEnrollmentRequest(uuid=A.node)).enrollment
    need(e.uuid == A.node and e.active, "not the active enrollment of %s" % A.node)
    need(len(e.aik_tpm) > 0 and len(e.ek_tpm) > 0 and e.mtls_cert.startswith("-----BEGIN"),
         "key material missing")
    enr["e"] = e


check("Registrar.GetEnrollment", "OK", "the swtpm agent's enrollment, every field filled",
      get_enrollment)
expect("Registrar.GetEnrollment", SC.NOT_FOUND, "an unknown uuid, named",
       rpb.GetEnrollmentRequest(uuid=GHOST), GHOST)
expect("Registrar.GetEnrollment", SC.INVALID_ARGUMENT, "a uuid that is no agent id",
       rpb.GetEnrollmentRequest(uuid="no such/id"), "uuid")
expect("Registrar.GetEnrollment", SC.INVALID_ARGUMENT, "an empty uuid",
       rpb.GetEnrollmentRequest(uuid=""), "uuid")


def list_enrollments():
    token, seen, pages = "", [], 0
    while True:
        p = ok("Registrar.ListEnrollments", rpb.ListEnrollmentsRequest(page_size=1, page_token=token))
        need(len(p.enrollments) <= 1, "page of %d for page_size 1" % len(p.enrollments))
        need(all(len(e.aik_tpm) == 0 for e in p.enrollments), "key material without full")
        seen += [e.uuid for e in p.enrollments]
        token, pages = p.next_page_token, pages + 1
        if not token or pages > 10:
            break
    need(seen == sorted(set(seen)), "not sorted or repeated: %s" % seen)
    need(A.node in seen and A.spare in seen, "missing enrollments: %s" % seen)
    full = ok("Registrar.ListEnrollments", rpb.ListEnrollmentsRequest(full=True))
    need(all(len(e.aik_tpm) > 0 for e in full.enrollments), "full = true without key material")


check("Registrar.ListEnrollments", "OK", "pages of 1, in uuid order; key material only with full",
      list_enrollments)
expect("Registrar.ListEnrollments", SC.INVALID_ARGUMENT, "page_size 5000",
       rpb.ListEnrollmentsRequest(page_size=5000), "page_size")
expect("Registrar.ListEnrollments", SC.INVALID_ARGUMENT, "a page_token it did not issue",
       rpb.ListEnrollmentsRequest(page_token="garbage!"), "page_token")


def delete_enrollment():
    ok("Registrar.DeleteEnrollment", rpb.DeleteEnrollmentRequest(uuid=A.spare))
    err("Registrar.GetEnrollment", rpb.GetEnrollmentRequest(uuid=A.spare), SC.NOT_FOUND, A.spare)


check("Registrar.DeleteEnrollment", "OK", "the spare enrollment is gone", delete_enrollment)
expect("Registrar.DeleteEnrollment", SC.NOT_FOUND, "deleted already, named",
       rpb.DeleteEnrollmentRequest(uuid=A.spare), A.spare)
expect("Registrar.DeleteEnrollment", SC.INVALID_ARGUMENT, "an empty uuid",
       rpb.DeleteEnrollmentRequest(uuid=""), "uuid")

# ================================ Verifier: policies ================================
PCR_BODY = b'{"15": ["' + b"0" * 64 + b'"]}'
RT_BODY = read(A.runtime_policy)


def put_policy():
    p = ok("Verifier.PutPolicy", vpb.PutPolicyRequest(policy=vpb.Policy(
        name="api-pcr", kind=vpb.POLICY_KIND_PCR, body=PCR_BODY))).policy
    need(p.name == "api-pcr" and p.sha256 == hashlib.sha256(PCR_BODY).hexdigest()
         and p.size == len(PCR_BODY) and not p.body, "stored as %s" % p)
    ok("Verifier.PutPolicy", vpb.PutPolicyRequest(policy=vpb.Policy(
        name="api-pcr2", kind=vpb.POLICY_KIND_PCR, body=PCR_BODY)))


check("Verifier.PutPolicy", "OK", "a PCR policy stored, its SHA-256 and size", put_policy)


def put_runtime():
    try:
        ok("Verifier.PutPolicy", vpb.PutPolicyRequest(policy=vpb.Policy(
            name="api-rt", kind=vpb.POLICY_KIND_RUNTIME, body=RT_BODY)))
    except Fail as e:
        raise Fail("runtime policy refused: %s" % e)


check("Verifier.PutPolicy", "OK", "a runtime policy stored", put_runtime)
check("Verifier.PutPolicy", "OK", "replace = true moves a name to new content",
      lambda: need(ok("Verifier.PutPolicy", vpb.PutPolicyRequest(replace=True, policy=vpb.Policy(
          name="api-pcr2", kind=vpb.POLICY_KIND_PCR, body=PCR_BODY + b" "))).policy.size
          == len(PCR_BODY) + 1, "not replaced"))
expect("Verifier.PutPolicy", SC.ALREADY_EXISTS, "the name exists, no replace",
       vpb.PutPolicyRequest(policy=vpb.Policy(name="api-pcr", kind=vpb.POLICY_KIND_PCR,
                                              body=PCR_BODY)))
expect("Verifier.PutPolicy", SC.FAILED_PRECONDITION, "replace with another kind",
       vpb.PutPolicyRequest(replace=True, policy=vpb.Policy(name="api-pcr",
                                                            kind=vpb.POLICY_KIND_RUNTIME,
                                                            body=RT_BODY)))
expect("Verifier.PutPolicy", SC.INVALID_ARGUMENT, "a name outside [A-Za-z0-9._-]",
       vpb.PutPolicyRequest(policy=vpb.Policy(name="bad name", kind=vpb.POLICY_KIND_PCR,
                                              body=PCR_BODY)), "name")
expect("Verifier.PutPolicy", SC.INVALID_ARGUMENT, "kind unspecified",
       vpb.PutPolicyRequest(policy=vpb.Policy(name="api-x", body=PCR_BODY)), "kind")
expect("Verifier.PutPolicy", SC.INVALID_ARGUMENT, "a body that is no PCR policy",
       vpb.PutPolicyRequest(policy=vpb.Policy(name="api-x", kind=vpb.POLICY_KIND_PCR,
                                              body=b"not json")))

check("Verifier.GetPolicy", "OK", "the body as stored",
      lambda: need(ok("Verifier.GetPolicy", vpb.PolicyRequest(name="api-pcr")).policy.body
                   == PCR_BODY, "another body"))
expect("Verifier.GetPolicy", SC.NOT_FOUND, "an unknown name",
       vpb.PolicyRequest(name="no-such-policy"), "no-such-policy")
expect("Verifier.GetPolicy", SC.INVALID_ARGUMENT, "an empty name", vpb.PolicyRequest(name=""))


def list_policies():
    token, names, pages = "", [], 0
    while True:
        p = ok("Verifier.ListPolicies", vpb.ListPoliciesRequest(page_size=2, page_token=token))
        need(len(p.policies) <= 2, "a page of %d for page_size 2" % len(p.policies))
        need(all(not x.body for x in p.policies), "a body in a list")
        names += [x.name for x in p.policies]
        token, pages = p.next_page_token, pages + 1
        if not token or pages > 10:
            break
    need(names == ["api-pcr", "api-pcr2", "api-rt"], "listed %s in %d pages" % (names, pages))
    need(pages == 2, "%d pages of 2 for 3 policies" % pages)
    k = ok("Verifier.ListPolicies", vpb.ListPoliciesRequest(kind=vpb.POLICY_KIND_RUNTIME))
    need([x.name for x in k.policies] == ["api-rt"], "kind filter gave %s" % k.policies)


check("Verifier.ListPolicies", "OK", "pages of 2 in name order; the kind filter", list_policies)
expect("Verifier.ListPolicies", SC.INVALID_ARGUMENT, "page_size 5000",
       vpb.ListPoliciesRequest(page_size=5000), "page_size")
expect("Verifier.ListPolicies", SC.INVALID_ARGUMENT, "a page_token it did not issue",
       vpb.ListPoliciesRequest(page_token="garbage!"), "page_token")

# ================================ Verifier: nodes ================================


def node_msg(uuid, port, **kw):
    e = enr["e"]
    return vpb.Node(uuid=uuid, ip="127.0.0.1", port=port, ak_tpm=e.aik_tpm,
                    mtls_cert=e.mtls_cert, **kw)


def add_real():
    n = ok("Verifier.AddNode", vpb.AddNodeRequest(node=node_msg(A.node, int(A.node_port)))).node
    need(n.uuid == A.node, "answered %s" % n.uuid)
    wait(lambda: ok("Verifier.GetNode", vpb.NodeRequest(uuid=A.node)).node.operational_state
         == vpb.STATE_GET_QUOTE, 30, "the node attested (GET_QUOTE)")


check("Verifier.AddNode", "OK", "the swtpm agent, from its enrollment; it attests", add_real)
expect("Verifier.AddNode", SC.ALREADY_EXISTS, "the same uuid again",
       vpb.AddNodeRequest(node=node_msg(A.node, int(A.node_port))))
expect("Verifier.AddNode", SC.INVALID_ARGUMENT, "no node", vpb.AddNodeRequest(), "node")
expect("Verifier.AddNode", SC.INVALID_ARGUMENT, "a uuid outside [A-Za-z0-9._-]",
       vpb.AddNodeRequest(node=vpb.Node(uuid="bad uuid")), "uuid")
expect("Verifier.AddNode", SC.INVALID_ARGUMENT, "a host name for ip",
       vpb.AddNodeRequest(node=vpb.Node(uuid="api-x", ip="localhost", port=1)), "ip")
expect("Verifier.AddNode", SC.INVALID_ARGUMENT, "no ak_tpm",
       vpb.AddNodeRequest(node=vpb.Node(uuid="api-x", ip="127.0.0.1", port=1)), "ak_tpm")
check("Verifier.AddNode", "INVALID_ARGUMENT", "no mtls_cert",
      lambda: err("Verifier.AddNode", vpb.AddNodeRequest(node=vpb.Node(
          uuid="api-x", ip="127.0.0.1", port=1, ak_tpm=enr["e"].aik_tpm)),
          SC.INVALID_ARGUMENT, "mtls_cert"))
check("Verifier.AddNode", "INVALID_ARGUMENT", "payload_v of 5 bytes",
      lambda: err("Verifier.AddNode", vpb.AddNodeRequest(node=node_msg("api-x", 1),
                                                         payload_v=b"12345"),
                  SC.INVALID_ARGUMENT, "payload_v"))
check("Verifier.AddNode", "INVALID_ARGUMENT", "a runtime policy named as pcr_policy",
      lambda: err("Verifier.AddNode", vpb.AddNodeRequest(node=node_msg("api-x", 1,
                                                                      pcr_policy="api-rt")),
                  SC.INVALID_ARGUMENT, "api-rt"))
check("Verifier.AddNode", "FAILED_PRECONDITION", "a policy that does not exist",
      lambda: err("Verifier.AddNode", vpb.AddNodeRequest(node=node_msg(
          "api-x", 1, pcr_policy="no-such-policy")), SC.FAILED_PRECONDITION, "no-such-policy"))


def add_many():
    reqs = [vpb.AddNodeRequest(node=node_msg(u, int(A.closed_port),
                                             pcr_policy="api-pcr" if i == 0 else ""))
            for i, u in enumerate(FAKE)]
    r = ok("Verifier.AddNodes", vpb.AddNodesRequest(requests=reqs), timeout=60)
    need(len(r.results) == 250, "%d results" % len(r.results))
    bad = [(x.uuid, x.code, x.message) for x in r.results if x.code != 0]
    need(not bad, "refused: %s" % bad[:3])
    need([x.uuid for x in r.results] == FAKE, "results not in the order asked")


check("Verifier.AddNodes", "OK", "250 nodes (agents on a closed port) in one call", add_many)


def add_mixed():
    reqs = [vpb.AddNodeRequest(node=node_msg(FAKE[0], 1)),
            vpb.AddNodeRequest(node=vpb.Node(uuid="api-bad")),
            vpb.AddNodeRequest(node=node_msg("api-nopol", 1, runtime_policy="no-such-policy")),
            vpb.AddNodeRequest(node=node_msg("api-extra", int(A.closed_port)))]
    r = ok("Verifier.AddNodes", vpb.AddNodesRequest(requests=reqs))
    codes = [x.code for x in r.results]
    need(codes == [6, 3, 9, 0], "codes %s, want [6, 3, 9, 0]" % codes)
    need(all(x.message for x in r.results[:3]) and not r.results[3].message,
         "messages %s" % [x.message for x in r.results])
    need(r.results[3].node.uuid == "api-extra", "no node in the OK result")


check("Verifier.AddNodes", "OK", "each node answered on its own: 6, 3, 9, 0", add_mixed)
expect("Verifier.AddNodes", SC.INVALID_ARGUMENT, "no node", vpb.AddNodesRequest(), "1-1000")
expect("Verifier.AddNodes", SC.INVALID_ARGUMENT, "1001 nodes",
       vpb.AddNodesRequest(requests=[vpb.AddNodeRequest()] * 1001), "1001")
ALL = sorted(FAKE + [A.node, "api-extra"])

check("Verifier.GetNode", "OK", "the swtpm node, attested",
      lambda: need(ok("Verifier.GetNode", vpb.NodeRequest(uuid=A.node)).node.attestation_count
                   > 0, "attestation_count 0"))
expect("Verifier.GetNode", SC.NOT_FOUND, "an unknown uuid, named", vpb.NodeRequest(uuid=GHOST),
       GHOST)
expect("Verifier.GetNode", SC.INVALID_ARGUMENT, "an empty uuid", vpb.NodeRequest(uuid=""),
       "uuid")


def list_nodes():
    token, seen, sizes = "", [], []
    while True:
        p = ok("Verifier.ListNodes", vpb.ListNodesRequest(page_size=100, page_token=token))
        seen += [n.uuid for n in p.nodes]
        sizes.append(len(p.nodes))
        token = p.next_page_token
        if not token or len(sizes) > 10:
            break
    need(sizes == [100, 100, len(ALL) - 200], "pages of %s" % sizes)
    need(seen == ALL, "not every node once in uuid order (%d listed, %d distinct)"
         % (len(seen), len(set(seen))))
    p = ok("Verifier.ListNodes", vpb.ListNodesRequest())
    need(len(p.nodes) == 100 and p.next_page_token, "page_size 0: %d nodes" % len(p.nodes))


check("Verifier.ListNodes", "OK", "%d nodes in pages of 100: 100, 100, 52, in uuid order" % 252,
      list_nodes)
expect("Verifier.ListNodes", SC.INVALID_ARGUMENT, "page_size 5000",
       vpb.ListNodesRequest(page_size=5000), "page_size")
expect("Verifier.ListNodes", SC.INVALID_ARGUMENT, "a page_token it did not issue",
       vpb.ListNodesRequest(page_token="garbage!"), "page_token")


def stop_node():
    n = ok("Verifier.StopNode", vpb.NodeRequest(uuid=FAKE[2])).node
    need(n.operational_state == vpb.STATE_TENANT_FAILED, "state %s" % n.operational_state)


check("Verifier.StopNode", "OK", "TENANT_FAILED", stop_node)
expect("Verifier.StopNode", SC.NOT_FOUND, "an unknown uuid", vpb.NodeRequest(uuid=GHOST), GHOST)
expect("Verifier.StopNode", SC.INVALID_ARGUMENT, "an empty uuid", vpb.NodeRequest(uuid=""),
       "uuid")

# ---- AttestNow and GetReport ----
ear = {}


def attest_now():
    r = ok("Verifier.AttestNow", vpb.AttestNowRequest(uuid=A.node, ear=vpb.EAR_JWT), timeout=30)
    rep = r.report
    need(rep.node.uuid == A.node and rep.node.attestation_status == "PASS",
         "status %s" % rep.node.attestation_status)
    need(rep.ear_status == "affirming", "ear_status %r" % rep.ear_status)
    need(rep.quote_time_ms > 0 and len(rep.pcrs) > 0, "no quote time or PCRs")
    check_jwt(r.ear, A.node, "affirming")
    ear["jwt"] = r.ear


check("Verifier.AttestNow", "OK", "a round now: PASS, affirming, its JWT verifies (PyJWT)",
      attest_now)


def attest_now_cwt():
    import cbor2
    r = ok("Verifier.AttestNow", vpb.AttestNowRequest(uuid=A.node, ear=vpb.EAR_CWT), timeout=30)
    t = cbor2.loads(r.ear)
    need(getattr(t, "tag", None) == 18, "not a COSE_Sign1")
    claims = cbor2.loads(t.value[2])
    need(A.node in claims[266], "no submodule for the node")


check("Verifier.AttestNow", "OK", "ear = EAR_CWT: a COSE_Sign1 naming the node", attest_now_cwt)
expect("Verifier.AttestNow", SC.NOT_FOUND, "an unknown uuid", vpb.AttestNowRequest(uuid=GHOST),
       GHOST)
expect("Verifier.AttestNow", SC.INVALID_ARGUMENT, "an empty uuid",
       vpb.AttestNowRequest(uuid=""), "uuid")
expect("Verifier.AttestNow", SC.INVALID_ARGUMENT, "an ear format that does not exist",
       vpb.AttestNowRequest(uuid=A.node, ear=7), "ear")
expect("Verifier.AttestNow", SC.FAILED_PRECONDITION, "a stopped node",
       vpb.AttestNowRequest(uuid=FAKE[2]), FAKE[2])
expect("Verifier.AttestNow", SC.UNAVAILABLE, "an agent that does not answer",
       vpb.AttestNowRequest(uuid=FAKE[5]), FAKE[5])


def get_report():
    r = ok("Verifier.GetReport", vpb.GetReportRequest(uuid=A.node, ear=vpb.EAR_JWT, events=3))
    rep = r.report
    need(rep.node.uuid == A.node and rep.ear_status == "affirming", "ear_status %r" % rep.ear_status)
    need(rep.quote_time_ms > 0 and rep.reset_count >= 0 and rep.tpm_clock > 0, "no TPM clock")
    need(0 < len(rep.events) <= 3, "%d events for events = 3" % len(rep.events))
    need(all(e.node_uuid == A.node for e in rep.events), "another node's events")
    need(rep.mb_result == "none" and rep.ima_result == "none", "results %s %s"
         % (rep.mb_result, rep.ima_result))
    check_jwt(r.ear, A.node, "affirming")
    plain = ok("Verifier.GetReport", vpb.GetReportRequest(uuid=A.node))
    need(not plain.ear, "a token without asking")


check("Verifier.GetReport", "OK", "the verdict, its evidence, 3 events, a JWT that verifies",
      get_report)
expect("Verifier.GetReport", SC.NOT_FOUND, "an unknown uuid", vpb.GetReportRequest(uuid=GHOST),
       GHOST)
expect("Verifier.GetReport", SC.INVALID_ARGUMENT, "an empty uuid",
       vpb.GetReportRequest(uuid=""), "uuid")
expect("Verifier.GetReport", SC.INVALID_ARGUMENT, "events over 100",
       vpb.GetReportRequest(uuid=A.node, events=101), "events")
expect("Verifier.GetReport", SC.INVALID_ARGUMENT, "an ear format that does not exist",
       vpb.GetReportRequest(uuid=A.node, ear=7), "ear")


def get_report_key():
    k = ok("Verifier.GetReportKey", vpb.GetReportKeyRequest())
    need(pub_key_id(k.pem) == pub_key_id(REPORT_PUB), "not the key of STATE_DIR/report.key")
    need(k.key_id == pub_key_id(REPORT_PUB), "key_id %s is not the SHA-256 of its DER" % k.key_id)


check("Verifier.GetReportKey", "OK", "the public half of report.key and its id", get_report_key)

# ---- ReactivateNode, UpdateNode, RemoveNode ----


def reactivate():
    n = ok("Verifier.ReactivateNode", vpb.NodeRequest(uuid=FAKE[2])).node
    need(n.operational_state != vpb.STATE_TENANT_FAILED, "still TENANT_FAILED")


check("Verifier.ReactivateNode", "OK", "polling starts over", reactivate)
expect("Verifier.ReactivateNode", SC.NOT_FOUND, "an unknown uuid", vpb.NodeRequest(uuid=GHOST),
       GHOST)
expect("Verifier.ReactivateNode", SC.INVALID_ARGUMENT, "an empty uuid",
       vpb.NodeRequest(uuid=""), "uuid")


def update_node():
    n = ok("Verifier.UpdateNode", vpb.UpdateNodeRequest(
        uuid=FAKE[3], node=vpb.Node(port=int(A.closed_port) + 0, pcr_policy="api-pcr2",
                                    ip="127.0.0.2"),
        update_mask=["pcr_policy", "ip"])).node
    need(n.pcr_policy == "api-pcr2" and n.ip == "127.0.0.2", "answered %s %s"
         % (n.pcr_policy, n.ip))
    g = ok("Verifier.GetNode", vpb.NodeRequest(uuid=FAKE[3])).node
    need(g.pcr_policy == "api-pcr2" and g.ip == "127.0.0.2" and g.port == int(A.closed_port),
         "GetNode shows %s %s:%d" % (g.pcr_policy, g.ip, g.port))


check("Verifier.UpdateNode", "OK", "pcr_policy and ip changed, port kept (not in the mask)",
      update_node)
expect("Verifier.UpdateNode", SC.INVALID_ARGUMENT, "an empty update_mask",
       vpb.UpdateNodeRequest(uuid=FAKE[3], node=vpb.Node(port=1)), "update_mask")
expect("Verifier.UpdateNode", SC.INVALID_ARGUMENT, "an unknown field in update_mask, named",
       vpb.UpdateNodeRequest(uuid=FAKE[3], node=vpb.Node(), update_mask=["ak_tpm"]), "ak_tpm")
expect("Verifier.UpdateNode", SC.INVALID_ARGUMENT, "an empty uuid",
       vpb.UpdateNodeRequest(node=vpb.Node(port=1), update_mask=["port"]), "uuid")
expect("Verifier.UpdateNode", SC.INVALID_ARGUMENT, "port 0",
       vpb.UpdateNodeRequest(uuid=FAKE[3], node=vpb.Node(port=0), update_mask=["port"]), "port")
expect("Verifier.UpdateNode", SC.INVALID_ARGUMENT, "a runtime policy named as pcr_policy",
       vpb.UpdateNodeRequest(uuid=FAKE[3], node=vpb.Node(pcr_policy="api-rt"),
                             update_mask=["pcr_policy"]), "api-rt")
expect("Verifier.UpdateNode", SC.NOT_FOUND, "an unknown uuid",
       vpb.UpdateNodeRequest(uuid=GHOST, node=vpb.Node(port=1), update_mask=["port"]), GHOST)
expect("Verifier.UpdateNode", SC.FAILED_PRECONDITION, "a policy that does not exist",
       vpb.UpdateNodeRequest(uuid=FAKE[3], node=vpb.Node(pcr_policy="no-such-policy"),
                             update_mask=["pcr_policy"]), "no-such-policy")

expect("Verifier.DeletePolicy", SC.FAILED_PRECONDITION, "a policy a node uses",
       vpb.PolicyRequest(name="api-pcr"), "api-pcr")


def remove_node():
    ok("Verifier.RemoveNode", vpb.NodeRequest(uuid=FAKE[4]))
    err("Verifier.GetNode", vpb.NodeRequest(uuid=FAKE[4]), SC.NOT_FOUND, FAKE[4])


check("Verifier.RemoveNode", "OK", "removed, then NOT_FOUND", remove_node)
expect("Verifier.RemoveNode", SC.NOT_FOUND, "removed already", vpb.NodeRequest(uuid=FAKE[4]),
       FAKE[4])
expect("Verifier.RemoveNode", SC.INVALID_ARGUMENT, "an empty uuid", vpb.NodeRequest(uuid=""),
       "uuid")


def delete_policy():
    ok("Verifier.DeletePolicy", vpb.PolicyRequest(name="api-rt"))
    err("Verifier.GetPolicy", vpb.PolicyRequest(name="api-rt"), SC.NOT_FOUND)


check("Verifier.DeletePolicy", "OK", "an unused policy deleted", delete_policy)
expect("Verifier.DeletePolicy", SC.NOT_FOUND, "deleted already", vpb.PolicyRequest(name="api-rt"))
expect("Verifier.DeletePolicy", SC.INVALID_ARGUMENT, "an empty name", vpb.PolicyRequest(name=""))

# ================================ Verifier: events ================================
evs = {}


def list_events():
    token, got, pages = "", [], 0
    while True:
        p = ok("Verifier.ListEvents", vpb.ListEventsRequest(page_size=100, page_token=token))
        need(len(p.events) <= 100, "a page of %d" % len(p.events))
        need(all(not e.ear for e in p.events), "ear set outside WatchEvents")
        got += list(p.events)
        token, pages = p.next_page_token, pages + 1
        if not token or pages > 100:
            break
    seqs = [e.seq for e in got]
    need(seqs == list(range(1, len(seqs) + 1)), "seqs are not 1..%d" % len(seqs))
    added = [e for e in got if e.type == "node_added"]
    need(len(added) >= 252, "%d node_added events" % len(added))
    mine = ok("Verifier.ListEvents", vpb.ListEventsRequest(node_uuid=A.node, type="attested"))
    need(len(mine.events) == 1, "%d attested events of the node" % len(mine.events))
    evs["all"], evs["attested"] = got, mine.events[0]


check("Verifier.ListEvents", "OK", "the whole log in pages of 100, seq 1..n; node/type filter",
      list_events)
expect("Verifier.ListEvents", SC.INVALID_ARGUMENT, "a node_uuid outside [A-Za-z0-9._-]",
       vpb.ListEventsRequest(node_uuid="bad uuid"), "node_uuid")
expect("Verifier.ListEvents", SC.INVALID_ARGUMENT, "a since_id that is no event id",
       vpb.ListEventsRequest(since_id="nope"), "since_id")
expect("Verifier.ListEvents", SC.INVALID_ARGUMENT, "page_size 5000",
       vpb.ListEventsRequest(page_size=5000), "page_size")
expect("Verifier.ListEvents", SC.INVALID_ARGUMENT, "a page_token it did not issue",
       vpb.ListEventsRequest(page_token="garbage!"), "page_token")
expect("Verifier.ListEvents", SC.NOT_FOUND, "a since_id that does not exist",
       vpb.ListEventsRequest(since_id="999999-0123456789abcdef"), "999999-0123456789abcdef")


def get_event():
    want = evs["attested"]
    e = ok("Verifier.GetEvent", vpb.EventRequest(id=want.id)).event
    need(e == want, "not the event ListEvents gave")


check("Verifier.GetEvent", "OK", "the event ListEvents gave", get_event)
expect("Verifier.GetEvent", SC.NOT_FOUND, "an unknown id",
       vpb.EventRequest(id="999999-0123456789abcdef"), "999999-0123456789abcdef")
expect("Verifier.GetEvent", SC.INVALID_ARGUMENT, "an id that is no event id",
       vpb.EventRequest(id="x"), "id")


def audit_key():
    k = ok("Verifier.GetAuditKey", vpb.GetAuditKeyRequest())
    need(k.key_id == pub_key_id(k.pem), "key_id is not the SHA-256 of its DER")
    need(not REPORT_PUB or pub_key_id(k.pem) != pub_key_id(REPORT_PUB),
         "the audit key is the report key")


check("Verifier.GetAuditKey", "OK", "a P-256 public key and its id", audit_key)


def export_events():
    r = ok("Verifier.ExportEvents", vpb.ExportEventsRequest(max_records=10))
    lines = r.lines.decode().splitlines()
    need(len(lines) >= 11 and r.last_seq == 10 and not r.done, "%d lines, last_seq %d, done %s"
         % (len(lines), r.last_seq, r.done))
    r2 = ok("Verifier.ExportEvents", vpb.ExportEventsRequest(after_seq=10, max_records=5))
    need(r2.last_seq == 15, "the next page ends at %d" % r2.last_seq)


check("Verifier.ExportEvents", "OK", "the header and 10 records, then the next 5", export_events)
expect("Verifier.ExportEvents", SC.INVALID_ARGUMENT, "after_seq out of range",
       vpb.ExportEventsRequest(after_seq=2 ** 63), "after_seq")


def watch_first(req, n=1, timeout=10):
    it = V.WatchEvents(req, timeout=timeout)
    out = []
    for e in it:
        out.append(e)
        if len(out) >= n:
            break
    it.cancel()
    return out


def watch_verdict():
    got = watch_first(vpb.WatchEventsRequest(from_start=True, node_uuid=A.node, type="attested"))
    e = got[0]
    need(e.id == evs["attested"].id, "another event")
    need(e.ear, "no ear on the attested event")
    check_jwt(e.ear, A.node, "affirming")
    ce = watch_first(vpb.WatchEventsRequest(from_start=True, node_uuid=FAKE[10],
                                            type="comm_error"))[0]
    check_jwt(ce.ear, FAKE[10], "none")  # an agent that does not answer: no appraisal
    plain = watch_first(vpb.WatchEventsRequest(from_start=True, type="policy_put"))[0]
    need(not plain.ear, "ear on a policy event")
    # The record is the one hashed: ear is not part of it.
    e.ear = ""
    need(e == evs["attested"], "the record differs from ListEvents' beyond ear")


check("Verifier.WatchEvents", "OK", "verdict events carry their EAR JWT (PyJWT): attested "
      "affirming, comm_error none; others none",
      watch_verdict)


def watch_err(req, code, *words):
    try:
        watch_first(req)
    except grpc.RpcError as e:
        need(e.code() == code, "got %s (%s)" % (e.code().name, e.details()))
        for w in words:
            need(w in (e.details() or ""), "the message %r does not name %r" % (e.details(), w))
        return
    raise Fail("it succeeded")


check("Verifier.WatchEvents", "NOT_FOUND", "a since_id that does not exist",
      lambda: watch_err(vpb.WatchEventsRequest(since_id="999999-0123456789abcdef"),
                        SC.NOT_FOUND, "999999-0123456789abcdef"))
check("Verifier.WatchEvents", "INVALID_ARGUMENT", "a since_id that is no event id",
      lambda: watch_err(vpb.WatchEventsRequest(since_id="nope"), SC.INVALID_ARGUMENT, "since_id"))
check("Verifier.WatchEvents", "INVALID_ARGUMENT", "a node_uuid outside [A-Za-z0-9._-]",
      lambda: watch_err(vpb.WatchEventsRequest(node_uuid="bad uuid"), SC.INVALID_ARGUMENT,
                        "node_uuid"))


def watch_exhausted():
    held = []

    def open_one():
        it = V.WatchEvents(vpb.WatchEventsRequest(from_start=True), timeout=20)
        try:
            next(it)  # registered: it got an event
        except grpc.RpcError as e:
            # The watchers of the checks above, cancelled, leave the hub's count at its
            # next pass (200 ms at most): until then a new one may still be refused.
            if e.code() != SC.RESOURCE_EXHAUSTED:
                raise
            return None
        held.append(it)
        return it

    try:
        for _ in range(3):  # verifier.max_watchers = 3
            wait(open_one, 10, "a watcher accepted")
        watch_err(vpb.WatchEventsRequest(from_start=True), SC.RESOURCE_EXHAUSTED, "max_watchers")
    finally:
        for it in held:
            it.cancel()


check("Verifier.WatchEvents", "RESOURCE_EXHAUSTED", "one watcher beyond verifier.max_watchers",
      watch_exhausted)

# ================================ Verifier: outbox, pool ================================
dead = {}


def list_outbox():
    def some_dead():
        p = ok("Verifier.ListOutbox", vpb.ListOutboxRequest(dead=True, page_size=10))
        return p if len(p.entries) == 10 else None
    p = wait(some_dead, 30, "10 dead-lettered deliveries")
    need(all(e.dead > 0 and e.last_error for e in p.entries), "not dead, or no last_error")
    ids = [e.id for e in p.entries]
    dead["id"] = ids[0]
    need(ids == sorted(ids) and p.next_page_token, "not ordered by id, or no next page")
    p2 = ok("Verifier.ListOutbox", vpb.ListOutboxRequest(dead=True, page_size=10,
                                                         page_token=p.next_page_token))
    need(p2.entries and p2.entries[0].id > ids[-1], "the next page does not follow")


check("Verifier.ListOutbox", "OK", "dead-lettered deliveries by id, in pages", list_outbox)
expect("Verifier.ListOutbox", SC.INVALID_ARGUMENT, "page_size 5000",
       vpb.ListOutboxRequest(page_size=5000), "page_size")
expect("Verifier.ListOutbox", SC.INVALID_ARGUMENT, "a negative after_id",
       vpb.ListOutboxRequest(after_id=-1), "after_id")
expect("Verifier.ListOutbox", SC.INVALID_ARGUMENT, "a page_token it did not issue",
       vpb.ListOutboxRequest(page_token="garbage!"), "page_token")

check("Verifier.RetryOutbox", "OK", "one dead delivery queued again",
      lambda: need(ok("Verifier.RetryOutbox", vpb.RetryOutboxRequest(id=dead["id"])).count == 1,
                   "count is not 1"))
expect("Verifier.RetryOutbox", SC.NOT_FOUND, "an id that is no dead delivery",
       vpb.RetryOutboxRequest(id=999999999))
expect("Verifier.RetryOutbox", SC.INVALID_ARGUMENT, "neither id nor all_dead",
       vpb.RetryOutboxRequest(), "all_dead")
expect("Verifier.RetryOutbox", SC.INVALID_ARGUMENT, "both id and all_dead",
       vpb.RetryOutboxRequest(id=1, all_dead=True), "all_dead")


def list_pool():
    p = ok("Verifier.ListPool", vpb.ListPoolRequest())
    need(not p.pool and p.self_id and p.now_ms > 0, "pool %s, self_id %r" % (p.pool, p.self_id))
    need(not p.next_page_token, "a next page for a single verifier")


check("Verifier.ListPool", "OK", "a single verifier (SQLite): pool false, its own id", list_pool)
expect("Verifier.ListPool", SC.INVALID_ARGUMENT, "page_size 5000",
       vpb.ListPoolRequest(page_size=5000), "page_size")
expect("Verifier.ListPool", SC.INVALID_ARGUMENT, "a page_token it did not issue",
       vpb.ListPoolRequest(page_token="garbage!"), "page_token")

# ================================ TLS ================================


def refused(addr, cert, key, rpc, req):
    svc, name = rpc.split(".")
    ch = channel(addr, cert, key)
    stub = (vpbg.VerifierStub if svc == "Verifier" else rpbg.RegistrarStub)(ch)
    try:
        getattr(stub, name)(req, timeout=10)
    except grpc.RpcError as e:
        need(e.code() == SC.UNAVAILABLE, "got %s" % e.code().name)
        return
    finally:
        ch.close()
    raise Fail("it succeeded")


for svc, addr, rpc, req in (("verifier", A.verifier, "Verifier.GetAuditKey", vpb.GetAuditKeyRequest()),
                            ("registrar", A.registrar, "Registrar.ListEnrollments",
                             rpb.ListEnrollmentsRequest())):
    check(rpc, "UNAVAILABLE", "a client certificate from another CA (%s)" % svc,
          lambda: refused(addr, A.other_cert, A.other_key, rpc, req))
    check(rpc, "UNAVAILABLE", "no client certificate (%s)" % svc,
          lambda: refused(addr, None, None, rpc, req))

# ================================ coverage and summary ================================
print("# RPCs in the services: %d; called: %d; called successfully: %d"
      % (len(RPCS), len(RPCS & called), len(RPCS & succeeded)))
for rpc in sorted(RPCS):
    check(rpc, "-", "has a check that succeeded",
          lambda: need(rpc in succeeded, "never called" if rpc not in called else
                       "never called successfully"))
bad = results.count(False)
print("# %d checks, %d passed, %d failed" % (len(results), len(results) - bad, bad))
sys.exit(1 if bad else 0)
