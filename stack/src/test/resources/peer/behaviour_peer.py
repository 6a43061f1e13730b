# Linux TCP peer for LinuxTcpBehaviourTest: one scenario per mode, reports on stdout (one line per event).
# Data is io.fastpath.stack.app.TestStream: byte p of stream `seed` is byte (p & 7) (little-endian) of a
# splitmix64-style hash of (p >> 3, seed), so both sides generate and check it independently.
#
# usage: behaviour_peer.py MODE ARGS...
#   read_then_close PORT SEED N          accept; read to EOF, check N bytes of SEED; close
#   send_then_close PORT SEED N          accept; send N bytes of SEED; close (Linux closes first)
#   half_close_server PORT RSEED RN TSEED TN   accept; read to EOF (RN of RSEED); then send TN of TSEED; close
#   half_close_client HOST PORT TSEED TN RSEED RN   connect; send; SHUT_WR; read to EOF (RN of RSEED)
#   linger_reset PORT N                  accept; read N bytes; SO_LINGER {1, 0}; close: RST
#   expect_reset PORT                    accept; read until the connection is reset (or EOF)
#   send_close_twice PORT SEED N         twice: accept, send N bytes of SEED + k, close (TIME-WAIT here)
#   client_twice HOST PORT LPORT SEED N  twice from local port LPORT: connect, read to EOF (N of SEED + k),
#                                        close; waits for a line on stdin before the second connect
#   echo PORT                            threaded echo server (a thread per connection, backlog 128); each
#                                        connection is echoed until EOF, then shut down
import socket, socketserver, struct, sys

MASK = (1 << 64) - 1


def stream(seed, start, n):
    out = bytearray()
    for i in range(start >> 3, (start + n + 7) >> 3):
        z = (i * 0x9E3779B97F4A7C15 + seed) & MASK
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        z ^= z >> 31
        out += z.to_bytes(8, "little")
    off = start & 7
    return bytes(out[off:off + n])


def say(*words):
    print(*words, flush=True)


def listener(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(16)
    say("listening")
    return s


def read_to_eof(c, seed, n):
    data = bytearray()
    while True:
        chunk = c.recv(1 << 20)
        if not chunk:
            break
        data += chunk
    ok = len(data) == n and bytes(data) == stream(seed, 0, n)
    return ok, len(data)


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "read_then_close":
        port, seed, n = int(args[0]), int(args[1]), int(args[2])
        c, _ = listener(port).accept()
        ok, got = read_to_eof(c, seed, n)
        say("eof", "ok" if ok else "bad", got)
        c.close()
        say("closed")
    elif mode == "send_then_close":
        port, seed, n = int(args[0]), int(args[1]), int(args[2])
        c, _ = listener(port).accept()
        c.sendall(stream(seed, 0, n))
        c.close()
        say("closed")
    elif mode == "half_close_server":
        port, rseed, rn, tseed, tn = (int(x) for x in args[:5])
        c, _ = listener(port).accept()
        ok, got = read_to_eof(c, rseed, rn)
        say("eof", "ok" if ok else "bad", got)
        c.sendall(stream(tseed, 0, tn))  # our receive side is shut; sending goes on
        c.shutdown(socket.SHUT_WR)
        c.recv(1)
        c.close()
        say("sent", tn)
    elif mode == "half_close_client":
        host, port, tseed, tn, rseed, rn = args[0], int(args[1]), int(args[2]), int(args[3]), int(args[4]), int(args[5])
        c = socket.create_connection((host, port), timeout=30)
        c.sendall(stream(tseed, 0, tn))
        c.shutdown(socket.SHUT_WR)
        say("shut")
        ok, got = read_to_eof(c, rseed, rn)
        c.close()
        say("eof", "ok" if ok else "bad", got)
    elif mode == "linger_reset":
        port, n = int(args[0]), int(args[1])
        c, _ = listener(port).accept()
        got = 0
        while got < n:
            chunk = c.recv(n - got)
            if not chunk:
                break
            got += len(chunk)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()
        say("reset sent after", got)
    elif mode == "expect_reset":
        port = int(args[0])
        c, _ = listener(port).accept()
        say("accepted")
        got = 0
        try:
            while True:
                chunk = c.recv(1 << 16)
                if not chunk:
                    say("eof after", got)
                    break
                got += len(chunk)
                say("got", got)
        except ConnectionResetError:
            say("reset after", got)
    elif mode == "send_close_twice":
        port, seed, n = int(args[0]), int(args[1]), int(args[2])
        s = listener(port)
        for k in range(2):
            c, peer = s.accept()
            say("accepted", k, peer[1])
            c.sendall(stream(seed + k, 0, n))
            c.close()
            say("closed", k)
    elif mode == "client_twice":
        host, port, lport, seed, n = args[0], int(args[1]), int(args[2]), int(args[3]), int(args[4])
        for k in range(2):
            if k == 1:
                sys.stdin.readline()
            c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            c.bind(("0.0.0.0", lport))
            c.settimeout(30)
            c.connect((host, port))
            ok, got = read_to_eof(c, seed + k, n)
            c.close()
            say("conn", k, "ok" if ok else "bad", got)
    elif mode == "echo":
        class Echo(socketserver.BaseRequestHandler):
            def handle(self):
                while True:
                    data = self.request.recv(1 << 20)
                    if not data:
                        break
                    self.request.sendall(data)
                self.request.shutdown(socket.SHUT_WR)

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True
            request_queue_size = 128

        with Server(("0.0.0.0", int(args[0])), Echo) as server:
            say("listening")
            server.serve_forever()
    else:
        raise SystemExit("unknown mode " + mode)


main()
