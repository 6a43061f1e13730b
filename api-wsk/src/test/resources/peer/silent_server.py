# Accepts one connection and then says nothing (a peer for keepalive tests). usage: PORT
import socket, sys, time
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("0.0.0.0", int(sys.argv[1]))); l.listen(4)
print("listening", flush=True)
c, _ = l.accept()
print("accepted", flush=True)
time.sleep(120)
