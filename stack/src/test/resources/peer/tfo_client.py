# Two TCP Fast Open connections (sendto MSG_FASTOPEN): the first fetches a cookie, the second sends its data
# in the SYN. Prints the echoes. usage: HOST PORT
import socket, sys, time
host, port = sys.argv[1], int(sys.argv[2])
out = []
for i in range(2):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.sendto(b"fast open %d" % i, socket.MSG_FASTOPEN, (host, port))  # blocking: connects, data in the SYN
    s.settimeout(5)
    out.append(s.recv(100).decode())
    s.close()
    time.sleep(0.2)
print("|".join(out), flush=True)
