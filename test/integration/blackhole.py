#!/usr/bin/python3
"""An agent address that never answers, for the verifier's lifecycle tests: it accepts TCP
connections and then either holds them open without a byte (so the verifier's request
stays in flight until its request_timeout) or closes them at once. Each accepted
connection appends one line (seconds since the epoch, as a float) to LOG_FILE, so a test
can count the verifier's contacts and their spacing. Prints "ready" once listening.

Usage: blackhole.py PORT LOG_FILE hold|close
Runs until killed."""
import socket
import sys
import time

port, log_file, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(64)
print("ready", flush=True)
held = []
while True:
    c, _ = s.accept()
    with open(log_file, "a") as f:
        f.write("%.3f\n" % time.time())
    if mode == "hold":
        held.append(c)
    else:
        c.close()
