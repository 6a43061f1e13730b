#!/usr/bin/python3
"""Linux as the device under test for the attack reproductions: a plain TCP echo server (selectors,
non-blocking, one thread) on PORT with the same listen backlog as fastpath's default (128). Prints
"listening" once ready."""
import selectors
import socket
import sys

port = int(sys.argv[1])
backlog = int(sys.argv[2]) if len(sys.argv) > 2 else 128
sel = selectors.DefaultSelector()
ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("0.0.0.0", port))
ls.listen(backlog)
ls.setblocking(False)
sel.register(ls, selectors.EVENT_READ)
print("listening", flush=True)
while True:
    for key, _ in sel.select():
        s = key.fileobj
        if s is ls:
            try:
                c, _ = ls.accept()
            except OSError:
                continue
            c.setblocking(False)
            sel.register(c, selectors.EVENT_READ)
            continue
        try:
            data = s.recv(65536)
        except OSError:
            data = b""
        if not data:
            sel.unregister(s)
            s.close()
            continue
        try:
            s.sendall(data)
        except OSError:
            sel.unregister(s)
            s.close()
