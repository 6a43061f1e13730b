# Linux TCP client: sends N random bytes to HOST:PORT, reads the echo, compares SHA-256 of both directions.
# usage: echo_client.py HOST PORT BYTES [half-close]
import hashlib, os, socket, sys, threading

host, port, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.create_connection((host, port), timeout=300)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
sent_hash = hashlib.sha256()
error = []

def writer():
    try:
        left = total
        seed = b"fastpath"
        while left > 0:
            chunk = hashlib.sha256(seed).digest() * 2048  # 64 KiB, deterministic, cheap
            seed = chunk[:32]
            chunk = chunk[:min(left, len(chunk))]
            sent_hash.update(chunk)
            s.sendall(chunk)
            left -= len(chunk)
        s.shutdown(socket.SHUT_WR)  # half-close: the echo keeps coming
    except Exception as e:
        error.append(repr(e))

t = threading.Thread(target=writer)
t.start()
got = hashlib.sha256()
received = 0
while True:
    data = s.recv(1 << 20)
    if not data:
        break
    got.update(data)
    received += len(data)
t.join()
s.close()
ok = not error and received == total and got.digest() == sent_hash.digest()
print(("OK " if ok else "FAIL ") + got.hexdigest() + " received=%d sent=%d %s" % (received, total, error))
