#!/usr/bin/python3
"""A webhook receiver for the integration tests, standard library only.

Usage: webhook_receiver.py PORT SECRET_FILE LOG [MODE_FILE]

Listens on 127.0.0.1:PORT. Each POST is checked the Standard Webhooks way: the secret
file holds whsec_<base64>; webhook-signature must carry "v1,<base64 HMAC-SHA256(key,
id.timestamp.body)>" for the webhook-id and webhook-timestamp headers. Each delivery is
appended to LOG as one JSON line: {"id", "valid", "dup", "seq", "node", "type", "status",
"arrived" (unix ms), "event_time" (the event's own time, unix ms)}
("dup": the id was seen before). The answer is 204, or what MODE_FILE says when it exists
and holds a number (e.g. 503: the delivery is refused and recorded with that status). To
be "down", the test stops this process; a restart on the same port appends to LOG and
still counts duplicates (it reads LOG back). With WEBHOOK_BODIES set to a directory, each
delivery's body is also written there as <webhook-id>.json; with WEBHOOK_TLS_CERT and
WEBHOOK_TLS_KEY (PEM files) it serves HTTPS. With WEBHOOK_EAR_PUB set to a PEM public key
file (read at each delivery: it may appear after the start), the "ear" of a body (the EAR
JWT of the verdict the event announces) is checked with PyJWT (python3-jwt, the one
module beyond the standard library, imported only then) and recorded as "ear": null (no
token), or {"valid": bool, "status": the node's ear.status, "error": why not valid}.
Prints "listening" once it accepts."""
import base64
import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

PORT, SECRET_FILE, LOG = int(sys.argv[1]), sys.argv[2], sys.argv[3]
MODE_FILE = sys.argv[4] if len(sys.argv) > 4 else None
secret = open(SECRET_FILE).read().strip()
assert secret.startswith("whsec_")
KEY = base64.b64decode(secret[len("whsec_"):])
seen = set()
if os.path.exists(LOG):
    for line in open(LOG):
        d = json.loads(line)
        if d["status"] < 300:
            seen.add(d["id"])


def verify(headers, body):
    wid = headers.get("webhook-id")
    ts = headers.get("webhook-timestamp")
    sig = headers.get("webhook-signature")
    if not wid or not ts or not sig:
        return False
    mac = hmac.new(KEY, wid.encode() + b"." + ts.encode() + b"." + body, hashlib.sha256)
    want = base64.b64encode(mac.digest()).decode()
    return any(p.startswith("v1,") and hmac.compare_digest(p[3:], want) for p in sig.split(" "))


def check_ear(tok, node):
    """The EAR JWT of a delivery, checked with the verifier's public key."""
    try:
        import jwt
        pub = open(os.environ["WEBHOOK_EAR_PUB"]).read()
        claims = jwt.decode(tok, pub, algorithms=["ES256"], options={"require": ["iat"]})
        if claims.get("eat_profile") != "tag:github.com,2023:veraison/ear":
            raise ValueError("eat_profile %r" % claims.get("eat_profile"))
        if abs(claims["iat"] - time.time()) > 300:
            raise ValueError("iat %s is not now" % claims["iat"])
        return {"valid": True, "status": claims["submods"][node]["ear.status"], "error": None}
    except Exception as e:  # recorded: the test says which delivery was wrong
        return {"valid": False, "status": None, "error": "%s: %s" % (type(e).__name__, e)}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        status = 204
        if MODE_FILE and os.path.exists(MODE_FILE):
            text = open(MODE_FILE).read().strip()
            if text.isdigit():
                status = int(text)
        wid = self.headers.get("webhook-id", "")
        rec = {"id": wid, "valid": verify(self.headers, body), "dup": wid in seen,
               "status": status, "seq": None, "node": None, "type": None,
               "arrived": int(time.time() * 1000), "event_time": None}
        try:
            d = json.loads(body)
            ev = d["event"]
            rec.update(seq=ev["seq"], node=ev["node"], type=ev["type"], event_time=ev["time"],
                       keylime=all(k in d for k in ("type", "agent_id", "event_id",
                                                    "severity", "context", "ip", "port",
                                                    "msg", "signature"))
                       and json.loads(d["msg"])["agent_id"] == (ev["node"] or "")
                       and ev["id"] == wid)
            if os.environ.get("WEBHOOK_EAR_PUB"):
                rec["ear"] = check_ear(d["ear"], ev["node"]) if "ear" in d else None
        except (ValueError, KeyError, TypeError):
            rec["keylime"] = False
        if status < 300:
            seen.add(wid)
        if os.environ.get("WEBHOOK_BODIES") and wid.replace("-", "").isalnum():
            with open(os.path.join(os.environ["WEBHOOK_BODIES"], wid + ".json"), "wb") as f:
                f.write(body)
        with open(LOG, "a") as f:
            f.write(json.dumps(rec) + "\n")
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, fmt, *args):
        pass


srv = HTTPServer(("127.0.0.1", PORT), Handler)
if os.environ.get("WEBHOOK_TLS_CERT"):
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.environ["WEBHOOK_TLS_CERT"], os.environ["WEBHOOK_TLS_KEY"])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print("listening", flush=True)
srv.serve_forever()
