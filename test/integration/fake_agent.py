#!/usr/bin/python3
"""A stand-in agent for the verifier's protocol tests, no TPM behind it: HTTPS with the
given certificate (the verifier pins it as the node's), any client accepted. Every
request's path is appended to LOG_FILE. Modes:

  badversion   GET /version offers 2.6; every quote request is refused with Keylime's
               400 "API version not supported" (an agent that contradicts itself)
  bigpubkey    quote requests get a 200 answer whose payload public key is 1 MiB
  slow         quote requests get no answer for 60 s (an agent whose TPM hangs)
  trickle      quote requests get a 600000-byte HTTP 500 answer: 400000 bytes at once,
               the rest 3 s later (many such answers at once test the verifier's budget)

Usage: fake_agent.py PORT CERT KEY LOG_FILE MODE
Prints "ready" once listening; runs until killed."""
import http.server
import json
import ssl
import sys
import time

port, cert, key, log_file, mode = sys.argv[1:6]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, code, status, results):
        body = json.dumps({"code": code, "status": status, "results": results}).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with open(log_file, "a") as f:
            f.write(self.path + "\n")
        if self.path == "/version":
            return self.reply(200, "Success", {"supported_version": "2.6",
                                               "supported_versions": ["2.6"]})
        if mode == "badversion" and "/quotes/integrity" in self.path:
            return self.reply(400, "API version not supported", {})
        if mode == "bigpubkey" and "/quotes/integrity" in self.path:
            return self.reply(200, "Success", {"quote": "r", "hash_alg": "sha256",
                                               "sign_alg": "rsassa",
                                               "pubkey": "A" * (1 << 20)})
        if mode == "trickle" and "/quotes/integrity" in self.path:
            self.send_response(500)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "600000")
            self.end_headers()
            self.wfile.write(b" " * 400000)
            self.wfile.flush()
            time.sleep(3)
            self.wfile.write(b" " * 200000)
            return
        if mode == "slow" and "/quotes/integrity" in self.path:
            time.sleep(60)
            return
        return self.reply(404, "Not Found", {})


srv = http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print("ready", flush=True)
srv.serve_forever()
