#!/usr/bin/python3
"""The legitimate client of the attack reproductions (Linux's own TCP, from the tester's kernel address):
connect within TIMEOUT seconds, echo 1000 bytes, close. Prints "ok <connect ms> <total ms>" or "fail <why>".
Usage: legit_client.py HOST PORT TIMEOUT [SOURCE_ADDRESS]"""
import os
import socket
import sys
import time

host, port, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
source = (sys.argv[4], 0) if len(sys.argv) > 4 else None
start = time.time()
try:
    s = socket.create_connection((host, port), timeout=timeout, source_address=source)
    connected = time.time()
    s.settimeout(max(0.1, timeout - (connected - start)))
    payload = os.urandom(1000)
    s.sendall(payload)
    got = b""
    while len(got) < len(payload):
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    s.close()
    if got != payload:
        print("fail echo %d of %d bytes" % (len(got), len(payload)))
        sys.exit(1)
    print("ok %d %d" % ((connected - start) * 1000, (time.time() - start) * 1000))
except Exception as e:
    print("fail %s after %d ms" % (e.__class__.__name__ + ": " + str(e), (time.time() - start) * 1000))
    sys.exit(1)
