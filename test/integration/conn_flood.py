#!/usr/bin/python3
"""Connection flood against an HTTPS server with client certificates (vigil-agent), all
from 127.0.0.1, as one attacker sharing the verifier's address would do it.

Usage: conn_flood.py PORT COUNT SERVER_CERT CLIENT_CERT CLIENT_KEY PATH WAIT_SECS

  1. "early": a mutual-TLS connection that makes a request (PATH) and stays open
  2. COUNT plain TCP connections that never complete a request: the even ones send
     nothing, the odd ones the first bytes of a TLS record and then nothing (a handshake
     that never finishes)
  3. "fresh": a new mutual-TLS connection makes the request
  4. "early" makes the request again on its first connection
  5. counts the flood sockets the server has closed by then
  6. waits (at most WAIT_SECS) until the server closed every flood socket, and notes how
     long after its opening each one was closed

Prints key=value lines: early_first, fresh, early_again (an HTTP status, or "error:..."),
early_same_socket (1/0), flood_opened, closed_after_fresh, open_after_fresh, and
idle_closed, still_open, idle_min, idle_max (seconds from a socket's opening to its
closing, over the sockets closed in step 6)."""
import http.client
import select
import socket
import ssl
import sys
import time

port, count = int(sys.argv[1]), int(sys.argv[2])
server_cert, cert, key, path = sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
wait_secs = float(sys.argv[7])

ctx = ssl.create_default_context(cafile=server_cert)
ctx.load_cert_chain(cert, key)


def get(conn):
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        r.read()
        return str(r.status)
    except Exception as e:  # the status line says what went wrong
        return "error:%s" % type(e).__name__


def closed(s):
    """1 when the server closed s (EOF or reset), 0 while it is open."""
    while True:
        try:
            d = s.recv(4096, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return 0
        except OSError:
            return 1
        if not d:
            return 1


early = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=20)
print("early_first=%s" % get(early), flush=True)
early_sock = early.sock

flood = []
for i in range(count):
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    s.settimeout(None)  # blocking: recv(MSG_DONTWAIT) then reports EAGAIN at once
    if i % 2:
        s.sendall(b"\x16\x03\x01\x00")
    flood.append((s, time.monotonic()))
print("flood_opened=%d" % len(flood), flush=True)

fresh = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=20)
print("fresh=%s" % get(fresh), flush=True)
fresh.close()
print("early_again=%s" % get(early), flush=True)
print("early_same_socket=%d" % (early.sock is not None and early.sock is early_sock))
early.close()

open_ones = [(s, t) for s, t in flood if not closed(s)]
print("closed_after_fresh=%d" % (len(flood) - len(open_ones)))
print("open_after_fresh=%d" % len(open_ones), flush=True)

ages = []
deadline = time.monotonic() + wait_secs
while open_ones and time.monotonic() < deadline:
    ready, _, _ = select.select([s for s, _ in open_ones], [], [], deadline - time.monotonic())
    now = time.monotonic()
    left = []
    for s, t in open_ones:
        if s in ready and closed(s):
            ages.append(now - t)
        else:
            left.append((s, t))
    open_ones = left
print("idle_closed=%d" % len(ages))
print("still_open=%d" % len(open_ones))
if ages:
    print("idle_min=%.2f" % min(ages))
    print("idle_max=%.2f" % max(ages))
