# SYN flood from spoofed sources, then a legitimate connect (issue 10, reproduction 2), from a Linux namespace.
# usage: synflood_client.py HOST PORT COUNT INTERVAL_MS
# Crafts COUNT SYNs with scapy from random 198.18.0.0/15 addresses and ports (their SYN-ACKs go nowhere), one
# every INTERVAL_MS, then connects with the kernel's TCP and echoes 64 KiB; prints "connect ok <ms>" and
# "echo ok" (or "... fail <why>").
import os, random, socket, sys, time
from scapy.all import IP, TCP, conf, send

host, port, count, interval = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]) / 1000.0
conf.verb = 0
rng = random.Random(4987)
print("ready", flush=True)
sock = conf.L3socket()
for i in range(count):
    src = "198.%d.%d.%d" % (18 + rng.randrange(2), rng.randrange(256), 1 + rng.randrange(254))
    syn = IP(src=src, dst=host) / TCP(sport=rng.randrange(1024, 65535), dport=port, flags="S",
                                      seq=rng.randrange(1 << 32), window=64240,
                                      options=[("MSS", 1460), ("SAckOK", b""), ("Timestamp", (rng.randrange(1 << 32), 0)),
                                               ("NOP", None), ("WScale", 7)])
    sock.send(syn)
    time.sleep(interval)
sock.close()
print("flooded %d" % count, flush=True)
start = time.monotonic()
try:
    # Linux's first SYN retransmission comes after 1 s: connecting within 0.9 s means the first SYN was served.
    s = socket.create_connection((host, port), timeout=0.9)
except Exception as e:
    print("connect fail %r" % (e,), flush=True)
    sys.exit(1)
print("connect ok %d" % int((time.monotonic() - start) * 1000), flush=True)
s.settimeout(10)
data = os.urandom(65536)
s.sendall(data)
got = b""
while len(got) < len(data):
    chunk = s.recv(65536)
    if not chunk:
        break
    got += chunk
s.close()
print("echo ok" if got == data else "echo fail %d" % len(got), flush=True)
