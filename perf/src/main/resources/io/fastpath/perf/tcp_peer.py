# Linux peer of the fastpath TCP harness, run in a network namespace: usage tcp_peer.py echo|sink PORT
# echo: every byte back (TCP_NODELAY), one connection at a time; sink: read and discard (1 MiB recv_into).
# After each connection it prints "<mode> <bytes>"; it runs until killed.
import socket, sys

mode, port = sys.argv[1], int(sys.argv[2])
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", port))
srv.listen(16)
print("listening", flush=True)
buf = bytearray(1 << 20)
view = memoryview(buf)
while True:
    conn, _ = srv.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    total = 0
    try:
        if mode == "echo":
            while True:
                n = conn.recv_into(view, 65536)
                if n == 0:
                    break
                conn.sendall(view[:n])
                total += n
        else:
            while True:
                n = conn.recv_into(view)
                if n == 0:
                    break
                total += n
        conn.shutdown(socket.SHUT_WR)
    except OSError as e:
        print("error", e, flush=True)
    conn.close()
    print(mode, total, flush=True)
