#!/usr/bin/python3
"""A plain-HTTP proxy in front of a registrar's agent port that refuses the first N
activations (PUT) with 400, as the registrar does when the challenge the agent answers was
replaced by another registration of the same UUID; every other request is forwarded.

Usage: flaky_registrar.py PORT UPSTREAM_HOST:PORT N
Prints "ready" once listening; runs until killed."""
import http.client
import http.server
import json
import sys
import threading

port, upstream, refuse = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send(self, status, body, ctype="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def forward(self, method):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        global refuse
        if method == "PUT":
            with lock:
                if refuse > 0:
                    refuse -= 1
                    return self.send(400, json.dumps({"code": 400, "status": "auth_tag invalid: the staged attempt was replaced", "results": {}}).encode())
        host, p = upstream.rsplit(":", 1)
        c = http.client.HTTPConnection(host, int(p), timeout=30)
        hdrs = {"Content-Type": self.headers.get("Content-Type", "application/json")}
        c.request(method, self.path, body=body, headers=hdrs)
        r = c.getresponse()
        data = r.read()
        c.close()
        self.send(r.status, data, r.getheader("Content-Type", "application/json"))

    def do_GET(self):
        self.forward("GET")

    def do_POST(self):
        self.forward("POST")

    def do_PUT(self):
        self.forward("PUT")


srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
print("ready", flush=True)
srv.serve_forever()
