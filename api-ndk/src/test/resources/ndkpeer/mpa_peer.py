# An independent MPA v2 peer (RFC 5044 section 7.1, RFC 6581) over Linux TCP, for NdkLinuxTest.
#   mpa_peer.py client HOST PORT PRIVATE_DATA [crc] - initiator: request, reply, RTR, one message echoed, close;
#                                                 with crc: C flag set, FPDUs carry and check CRC32c (RFC 5044 4.1)
#   mpa_peer.py reject PORT PRIVATE_DATA        - responder: reads one request, rejects it with PRIVATE_DATA
import socket, struct, sys

REQ = b"MPA ID Req Frame"
REP = b"MPA ID Rep Frame"

def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise SystemExit("EOF after %d of %d bytes" % (len(b), n))
        b += c
    return b

def frame(key, flags, ird, ord_, pd):
    return key + struct.pack(">BBH", flags, 2, 4 + len(pd)) + struct.pack(">HH", ird, ord_) + pd

def read_frame(s, key):
    h = recv_exact(s, 20)
    if h[:16] != key:
        raise SystemExit("bad key %r" % h[:16])
    flags, rev, pdlen = struct.unpack(">BBH", h[16:])
    pd = recv_exact(s, pdlen)
    ird, ord_ = struct.unpack(">HH", pd[:4])
    return flags, rev, ird, ord_, pd[4:]

CRC = False

def crc32c(b):
    c = 0xFFFFFFFF
    for x in b:
        c ^= x
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    return c ^ 0xFFFFFFFF

def fpdu(data):
    body = struct.pack(">H", len(data)) + data
    body += b"\0" * ((4 - len(body) % 4) % 4)
    # CRC field: CRC32c of length, ULPDU and pad, least significant byte first (as iSCSI, RFC 3720 B.4)
    return body + (struct.pack("<I", crc32c(body)) if CRC else b"\0\0\0\0")

def read_fpdu(s):
    h = recv_exact(s, 2)
    (n,) = struct.unpack(">H", h)
    data = recv_exact(s, n)
    pad = recv_exact(s, (4 - (2 + n) % 4) % 4)
    (crc,) = struct.unpack("<I", recv_exact(s, 4))
    if CRC and crc != crc32c(h + data + pad):
        raise SystemExit("bad CRC 0x%08x, expected 0x%08x" % (crc, crc32c(h + data + pad)))
    return data

mode = sys.argv[1]
if mode == "client":
    CRC = len(sys.argv) > 5 and sys.argv[5] == "crc"
    s = socket.create_connection((sys.argv[2], int(sys.argv[3])))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    # IRD 7 with P2P (A) + zero-length send RTR (B); ORD 9
    s.sendall(frame(REQ, 0x50 if CRC else 0x10, 0xC000 | 7, 9, sys.argv[4].encode()))
    flags, rev, ird, ord_, pd = read_frame(s, REP)
    print("reply flags=0x%02x rev=%d ird=0x%04x ord=0x%04x pd=%s" % (flags, rev, ird, ord_, pd.decode()), flush=True)
    s.sendall(fpdu(b""))  # RTR: zero-length FPDU
    s.sendall(fpdu(b"ping from linux"))
    print("echo=%s" % read_fpdu(s).decode(), flush=True)
    s.shutdown(socket.SHUT_WR)
    rest = s.recv(100)
    print("eof=%d" % len(rest), flush=True)
elif mode == "reject":
    l = socket.socket()
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("0.0.0.0", int(sys.argv[2])))
    l.listen(1)
    print("listening", flush=True)
    c, _ = l.accept()
    flags, rev, ird, ord_, pd = read_frame(c, REQ)
    print("request flags=0x%02x rev=%d ird=0x%04x ord=0x%04x pd=%s" % (flags, rev, ird, ord_, pd.decode()), flush=True)
    c.sendall(frame(REP, 0x30, 0, 0, sys.argv[3].encode()))
    c.shutdown(socket.SHUT_WR)
    c.recv(100)
    c.close()
