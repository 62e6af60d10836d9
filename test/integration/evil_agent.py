#!/usr/bin/python3
"""A man in the middle for the attestation tests: it serves HTTPS with a real agent's
own certificate and key (so the verifier, which pins that certificate, talks to it) and
forwards requests to an agent, misbehaving as the mode file says (read on every request):

  pass                       forward unchanged
  replay                     answer every quote request with the first quote it relayed
                             (an old quote: the nonce no longer matches)
  upstream HOST:PORT CERT    forward to another agent (a quote signed by another TPM's AK)
  truncate-ima N             drop the last N lines of ima_measurement_list
  drop-pcr N                 ask the agent for a quote without PCR N (clears bit N of the
                             request's mask): a validly signed quote that covers less
  from-zero                  ask the agent for its IMA list from entry 0 whatever entry
                             the verifier asked for (an agent restarting its list unasked)
  vkey-status CODE N         answer the first N POSTs to /keys/vkey with HTTP CODE
                             (counted from when this mode was first seen), forward the
                             rest; every other POST is forwarded unchanged

Usage: evil_agent.py LISTEN_PORT AGENT_CERT AGENT_KEY CLIENT_CA UPSTREAM_HOST:PORT
                     UPSTREAM_CERT CLIENT_CERT CLIENT_KEY MODE_FILE
Runs until killed."""
import http.client
import http.server
import json
import re
import ssl
import sys
import threading

(port, cert, key, client_ca, upstream, upstream_cert, ccert, ckey,
 mode_file) = sys.argv[1:10]
recorded = {}
lock = threading.Lock()


def mode():
    try:
        return open(mode_file).read().split()
    except OSError:
        return ["pass"]


def fetch(target, pinned, path, method="GET", body=None):
    host, p = target.rsplit(":", 1)
    ctx = ssl.create_default_context(cafile=pinned)
    ctx.check_hostname = False
    ctx.load_cert_chain(ccert, ckey)
    c = http.client.HTTPSConnection(host, int(p), context=ctx, timeout=30)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    c.request(method, path, body=body, headers=headers)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        m = mode()
        is_quote = "/quotes/integrity" in self.path
        target, pinned = upstream, upstream_cert
        if m[0] == "upstream":
            target, pinned = m[1], m[2]
        if m[0] == "drop-pcr" and is_quote:
            def clear(match):
                return "mask=0x%x" % (int(match.group(1), 16) & ~(1 << int(m[1])))
            self.path = re.sub(r"mask=0x([0-9a-fA-F]+)", clear, self.path)
        if m[0] == "from-zero" and is_quote:
            self.path = re.sub(r"ima_ml_entry=[0-9]+", "ima_ml_entry=0", self.path)
        if m[0] == "replay" and is_quote:
            with lock:
                if "quote" in recorded:
                    return self.reply(200, recorded["quote"])
        status, body = fetch(target, pinned, self.path)
        if is_quote and status == 200:
            with lock:
                recorded.setdefault("quote", body)
            if m[0] == "truncate-ima":
                doc = json.loads(body)
                lines = doc["results"].get("ima_measurement_list", "").splitlines(True)
                doc["results"]["ima_measurement_list"] = "".join(lines[:-int(m[1])])
                body = json.dumps(doc).encode()
        self.reply(status, body)


    def do_POST(self):
        m = mode()
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if m[0] == "vkey-status" and "/keys/vkey" in self.path:
            with lock:
                key = " ".join(m)
                n = recorded.get(key, 0)
                recorded[key] = n + 1
            if n < int(m[2]):
                return self.reply(int(m[1]), b'{"code": %d, "status": "refused by the test", "results": {}}' % int(m[1]))
        status, answer = fetch(upstream, upstream_cert, self.path, "POST", body)
        self.reply(status, answer)


srv = http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
ctx.load_verify_locations(client_ca)
ctx.verify_mode = ssl.CERT_REQUIRED
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print("ready", flush=True)
srv.serve_forever()
