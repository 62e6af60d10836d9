#!/usr/bin/python3
"""receiver_check.py MANIFEST WORKDIR: the remediation receiver of deploy/k8s/receiver.yaml,
taken from its ConfigMap as it is and run here (plain HTTP on 127.0.0.1, TLS_DIR empty),
against a fake Kubernetes API on 127.0.0.1 that records every request.

Checks: a signed revocation for a mapped node gives one PATCH of exactly that node
(unschedulable, with the bearer token, strategic merge patch) and a 204; the same
delivery again patches nothing more; an unsigned, a forged and a stale delivery get 401
and patch nothing; an event of another type, or of an unmapped node, patches nothing and
gets 204; while the API fails the receiver answers 503 (so the verifier retries).
Prints "ok NAME" / "not ok NAME" lines."""
import base64, hashlib, hmac, json, os, socket, subprocess, sys, threading, time
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer

import yaml

manifest, work = sys.argv[1:3]
script = next(d for d in yaml.safe_load_all(open(manifest))
              if d and d["kind"] == "ConfigMap" and d["metadata"]["name"] == "vigil-receiver-script")
open(os.path.join(work, "receiver.py"), "w").write(script["data"]["receiver.py"])
key = os.urandom(32)
open(os.path.join(work, "webhook.secret"), "w").write("whsec_" + base64.b64encode(key).decode() + "\n")
open(os.path.join(work, "nodes.json"), "w").write(json.dumps({"u-1": "worker-1"}))
open(os.path.join(work, "token"), "w").write("tok123\n")

calls, api_fail = [], [False]


class Api(BaseHTTPRequestHandler):
    def do_PATCH(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        calls.append((self.path, self.headers.get("Authorization"),
                      self.headers.get("Content-Type"), json.loads(body)))
        self.send_response(500 if api_fail[0] else 200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *a):
        pass


api = HTTPServer(("127.0.0.1", 0), Api)
threading.Thread(target=api.serve_forever, daemon=True).start()
s = socket.socket()
s.bind(("127.0.0.1", 0))
port = s.getsockname()[1]
s.close()
env = dict(os.environ, K8S_API=f"http://127.0.0.1:{api.server_port}",
           K8S_TOKEN_FILE=os.path.join(work, "token"),
           WEBHOOK_SECRET_FILE=os.path.join(work, "webhook.secret"),
           NODE_NAMES_FILE=os.path.join(work, "nodes.json"), TLS_DIR="", LISTEN="127.0.0.1", PORT=str(port))
log = open(os.path.join(work, "receiver.log"), "w")
proc = subprocess.Popen(["/usr/bin/python3", os.path.join(work, "receiver.py")], env=env,
                        stdout=log, stderr=subprocess.STDOUT)
fails = 0


def check(name, ok):
    global fails
    print(("ok " if ok else "not ok ") + name, flush=True)
    fails += 0 if ok else 1


def post(wid, typ, node, sign_key=key, ts=None):
    body = json.dumps({"type": typ, "agent_id": node,
                       "event": {"id": wid, "type": typ, "node": node}}).encode()
    ts = str(int(time.time()) if ts is None else ts)
    mac = base64.b64encode(hmac.new(sign_key, f"{wid}.{ts}.".encode() + body, hashlib.sha256).digest()).decode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/", data=body, method="POST", headers={
        "Content-Type": "application/json", "webhook-id": wid, "webhook-timestamp": ts,
        "webhook-signature": f"v1,{mac}"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


try:
    for _ in range(100):  # until it listens (exact condition: its log line)
        if "listening" in open(os.path.join(work, "receiver.log")).read():
            break
        time.sleep(0.05)
    code = post("1-aa", "revocation", "u-1")
    check("a signed revocation of a mapped node: 204", code == 204)
    check("... and one PATCH of that node only, unschedulable, with the token",
          len(calls) == 1 and calls[0][0] == "/api/v1/nodes/worker-1"
          and calls[0][1] == "Bearer tok123"
          and calls[0][2] == "application/strategic-merge-patch+json"
          and calls[0][3]["spec"] == {"unschedulable": True})
    check("the same delivery again: 204, no second PATCH", post("1-aa", "revocation", "u-1") == 204 and len(calls) == 1)
    check("unsigned, forged and stale deliveries: 401, no PATCH",
          post("2-bb", "revocation", "u-1", sign_key=b"x" * 32) == 401
          and post("3-cc", "revocation", "u-1", ts=int(time.time()) - 3600) == 401
          and len(calls) == 1)
    check("an attested event and an unmapped node: 204, no PATCH",
          post("4-dd", "attested", "u-1") == 204 and post("5-ee", "revocation", "u-9") == 204
          and len(calls) == 1)
    api_fail[0] = True
    code = post("6-ff", "comm_error", "u-1")
    api_fail[0] = False
    check("the API fails: 503 (the verifier retries), then the retry cordons",
          code == 503 and post("6-ff", "comm_error", "u-1") == 204 and len(calls) == 3)
finally:
    proc.terminate()
    proc.wait(timeout=10)
    api.shutdown()
sys.exit(1 if fails else 0)
