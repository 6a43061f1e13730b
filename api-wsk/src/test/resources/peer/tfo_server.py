# Echo server with TCP Fast Open enabled (TCP_FASTOPEN queue 16); echoes each connection once and closes.
import socket, sys
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, 16)
l.bind(("0.0.0.0", int(sys.argv[1]))); l.listen(16)
print("listening", flush=True)
while True:
    c, _ = l.accept()
    data = c.recv(100)
    c.sendall(data)
    c.close()
