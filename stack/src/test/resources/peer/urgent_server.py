# Accepts one connection; prints the out-of-band byte and the in-band data it received. usage: PORT
import select, socket, sys
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("0.0.0.0", int(sys.argv[1]))); l.listen(1)
print("listening", flush=True)
c, _ = l.accept()
_, _, x = select.select([], [], [c], 5)
oob = c.recv(1, socket.MSG_OOB) if x else b""
data = b""
while True:
    chunk = c.recv(4096)
    if not chunk:
        break
    data += chunk
print("inband=%r oob=%r" % (data, oob), flush=True)
c.close()
