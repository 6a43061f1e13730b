# Linux TCP echo server: echoes every byte back, closes after the peer closes. usage: echo_server.py PORT
import socket, socketserver, sys

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
    # socketserver's default backlog (5) overflows under connection churn: Linux then drops the handshake's
    # last ACK and, once its SYN-ACK retries run out, resets the client's data (Linux clients see the same).
    request_queue_size = 256

with Server(("0.0.0.0", int(sys.argv[1])), Echo) as server:
    print("listening", flush=True)
    server.serve_forever()
