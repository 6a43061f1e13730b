#!/usr/bin/python3
"""Linux as the device under test (packetimpact's "posix server"): the socket API driven over stdin/stdout
JSON lines, one reply per command, so that the adversarial tests run unchanged against Linux's TCP.

  {"op":"listen","port":8080,"rcvbuf":4096,"fastopen":16}  -> {"ok":true}
  {"op":"get","rport":30001}      -> {"found":true,"data":"<hex>","peer_closed":false,"error":null,
                                      "state":"ESTABLISHED","inq":0}
  {"op":"send","rport":..,"data":"<hex>"}  {"op":"shutdown","rport":..}  {"op":"consume","on":false}
  {"op":"timewait","port":8080,"rport":..} -> {"n":1}     {"op":"count"} -> {"n":3}
  {"op":"reset"}  (aborts every connection and the listener)   {"op":"sysctl","name":..,"value":..}
"""
import binascii
import json
import socket
import struct
import subprocess
import sys
import threading
import time

STATES = {1: "ESTABLISHED", 2: "SYN-SENT", 3: "SYN-RECEIVED", 4: "FIN-WAIT-1", 5: "FIN-WAIT-2", 6: "TIME-WAIT",
          7: "CLOSED", 8: "CLOSE-WAIT", 9: "LAST-ACK", 10: "LISTEN", 11: "CLOSING"}
TCP_FASTOPEN = 23
SIOCINQ = 0x541B
conns = {}   # remote port -> dict
lock = threading.Lock()
consume = threading.Event()
consume.set()
listener = None


def reader(c):
    s = c["sock"]
    while True:
        if not consume.is_set():
            time.sleep(0.005)
            continue
        try:
            s.settimeout(0.05)
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        except OSError as e:
            c["error"] = errno_name(e)
            return
        if not chunk:
            c["peer_closed"] = True
            return
        with lock:
            c["data"] += chunk


def errno_name(e):
    import errno
    return errno.errorcode.get(e.errno, str(e))


def accept_loop(ls):
    while True:
        try:
            s, addr = ls.accept()
        except OSError:
            return
        c = {"sock": s, "data": bytearray(), "peer_closed": False, "error": None}
        with lock:
            conns[addr[1]] = c
        threading.Thread(target=reader, args=(c,), daemon=True).start()


def state(s):
    try:
        return STATES.get(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)[0], "?")
    except OSError:
        return "CLOSED"


def inq(s):
    import fcntl
    try:
        return struct.unpack("i", fcntl.ioctl(s.fileno(), SIOCINQ, b"\0\0\0\0"))[0]
    except OSError:
        return 0


def ss(*filt):
    out = subprocess.run(["ss", "-Htan"] + list(filt), capture_output=True, text=True).stdout
    return [l for l in out.splitlines() if l.strip() and not l.startswith("LISTEN")]


def handle(cmd):
    global listener
    op = cmd["op"]
    if op == "listen":
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if cmd.get("rcvbuf"):
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, cmd["rcvbuf"])
        if cmd.get("fastopen"):
            ls.setsockopt(socket.IPPROTO_TCP, TCP_FASTOPEN, cmd["fastopen"])
        ls.bind(("0.0.0.0", cmd["port"]))
        ls.listen(cmd.get("backlog", 128))
        listener = ls
        threading.Thread(target=accept_loop, args=(ls,), daemon=True).start()
        return {"ok": True}
    if op == "get":
        with lock:
            c = conns.get(cmd["rport"])
            if c is None:
                return {"found": False}
            return {"found": True, "data": binascii.hexlify(bytes(c["data"])).decode(), "peer_closed": c["peer_closed"],
                    "error": c["error"], "state": state(c["sock"]), "inq": inq(c["sock"])}
    if op == "send":
        c = conns[cmd["rport"]]
        data = binascii.unhexlify(cmd["data"])

        def push():
            try:
                c["sock"].settimeout(None)
                c["sock"].sendall(data)
            except OSError as e:
                c["error"] = errno_name(e)
        threading.Thread(target=push, daemon=True).start()
        return {"queued": len(data)}
    if op == "shutdown":
        conns[cmd["rport"]]["sock"].shutdown(socket.SHUT_WR)
        return {"ok": True}
    if op == "consume":
        (consume.set if cmd["on"] else consume.clear)()
        return {"ok": True}
    if op == "timewait":
        return {"n": len(ss("state", "time-wait", "( sport = :%d and dport = :%d )" % (cmd["port"], cmd["rport"])))}
    if op == "count":
        return {"n": len(ss())}
    if op == "describe":
        return {"text": "\n".join(ss())}
    if op == "sysctl":
        subprocess.run(["sysctl", "-qw", "%s=%s" % (cmd["name"], cmd["value"])], check=True)
        return {"ok": True}
    if op == "reset":
        consume.set()
        with lock:
            for c in conns.values():
                try:
                    c["sock"].setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    c["sock"].close()
                except OSError:
                    pass
            conns.clear()
        if listener is not None:
            try:
                listener.shutdown(socket.SHUT_RDWR)  # wakes the accept thread, frees the port
            except OSError:
                pass
            listener.close()
            listener = None
        return {"ok": True}
    raise ValueError("unknown op " + op)


print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    if not line.strip():
        continue
    try:
        reply = handle(json.loads(line))
    except Exception as e:
        reply = {"error_reply": repr(e)}
    print(json.dumps(reply), flush=True)
