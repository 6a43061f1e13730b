# Sends "abc", one urgent byte "!" (MSG_OOB), "def"; expects the echo "abcdef" in band and "!" out of band.
import select, socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
s.sendall(b"abc"); time.sleep(0.05)
s.send(b"!", socket.MSG_OOB); time.sleep(0.05)
s.sendall(b"def")
_, _, x = select.select([], [], [s], 5)
oob = s.recv(1, socket.MSG_OOB) if x else b""
s.shutdown(socket.SHUT_WR)
data = b""
while True:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
print(("OK" if data == b"abcdef" and oob == b"!" else "FAIL") + " inband=%r oob=%r" % (data, oob), flush=True)
