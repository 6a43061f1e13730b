package io.fastpath.examples.wsk;

import static io.fastpath.wsk.Wsk.AF_INET;
import static io.fastpath.wsk.Wsk.IPPROTO_TCP;
import static io.fastpath.wsk.Wsk.SOCK_STREAM;
import static io.fastpath.wsk.Wsk.SOL_SOCKET;
import static io.fastpath.wsk.Wsk.SO_WSK_EVENT_CALLBACK;
import static io.fastpath.wsk.Wsk.WSK_EVENT_ACCEPT;
import static io.fastpath.wsk.Wsk.WSK_FLAG_LISTEN_SOCKET;
import static io.fastpath.wsk.Wsk.WskSetOption;

import io.fastpath.provider.NtStatus;
import io.fastpath.wsk.Irp;
import io.fastpath.wsk.SocketAddressV4;
import io.fastpath.wsk.WskBuf;
import io.fastpath.wsk.WskClientListenDispatch;
import io.fastpath.wsk.WskProvider;
import io.fastpath.wsk.WskSocket;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Microsoft's WSK echo server sample, in Java: a listening socket bound to the wildcard address with the
 * accept event enabled; the accept event takes every connection; each connection keeps two WskReceive IRPs
 * outstanding, sends back what each one brings and then receives into that buffer again; on 0 bytes (the
 * client closed its side) it disconnects gracefully and then closes the socket. Everything happens in
 * completion routines and callbacks, on the provider's dispatch thread.
 */
public final class WskEchoServer implements WskClientListenDispatch {
    private static final int BUFFER = 64 * 1024;

    public final WskProvider provider;
    public final AtomicInteger accepted = new AtomicInteger();
    public final AtomicInteger closed = new AtomicInteger();
    public final AtomicLong echoed = new AtomicLong();
    public final AtomicInteger failures = new AtomicInteger();
    public volatile NtStatus listenStatus;
    public volatile WskSocket listenSocket;
    private final Irp createIrp = new Irp();
    private final Irp bindIrp = new Irp();
    private int port;

    public WskEchoServer(WskProvider provider) {
        this.provider = provider;
    }

    /** Creates the listening socket and binds it to 0.0.0.0:{@code listenPort} (any thread). */
    public void start(int listenPort) {
        this.port = listenPort;
        createIrp.setCompletionRoutine((irp, context) -> onCreated(irp), null);
        provider.socket(AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, this, this, createIrp);
    }

    private void onCreated(Irp irp) {
        if (irp.ioStatus().status() != NtStatus.STATUS_SUCCESS) {
            listenStatus = irp.ioStatus().status();
            return;
        }
        WskSocket s = (WskSocket) irp.ioStatus().informationObject();
        listenSocket = s;
        NtStatus status = s.controlSocket(WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, WSK_EVENT_ACCEPT, null);
        if (status != NtStatus.STATUS_SUCCESS) {
            listenStatus = status;
            return;
        }
        bindIrp.setCompletionRoutine((i, context) -> listenStatus = i.ioStatus().status(), null);
        s.bind(new SocketAddressV4(0, port), bindIrp);
    }

    public boolean listening() {
        return listenStatus == NtStatus.STATUS_SUCCESS;
    }

    @Override
    public NtStatus wskAcceptEvent(Object socketContext, int flags, SocketAddressV4 localAddress,
                              SocketAddressV4 remoteAddress, WskSocket acceptSocket) {
        accepted.incrementAndGet();
        Connection c = new Connection(acceptSocket);
        acceptSocket.setContext(c);
        c.start();
        return NtStatus.STATUS_SUCCESS;
    }

    /** One accepted connection: two buffers, each cycling receive → send → receive. */
    private final class Connection {
        final WskSocket socket;
        final Slot[] slots = {new Slot(), new Slot()};
        final Irp disconnectIrp = new Irp();
        final Irp closeIrp = new Irp();
        boolean disconnecting;
        boolean closing;

        Connection(WskSocket socket) {
            this.socket = socket;
            disconnectIrp.setCompletionRoutine((irp, context) -> close(), null);
            closeIrp.setCompletionRoutine((irp, context) -> closed.incrementAndGet(), null);
        }

        void start() {
            for (Slot slot : slots) {
                slot.receive();
            }
        }

        void disconnect() {
            if (!disconnecting && !closing) {
                disconnecting = true;
                socket.disconnect(null, 0, disconnectIrp);
            }
        }

        void close() {
            if (!closing) {
                closing = true;
                socket.closeSocket(closeIrp);
            }
        }

        final class Slot {
            final ByteBuffer memory = ByteBuffer.allocateDirect(BUFFER);
            final WskBuf buffer = new WskBuf();
            final Irp receiveIrp = new Irp().setCompletionRoutine((irp, context) -> onReceived(irp), null);
            final Irp sendIrp = new Irp().setCompletionRoutine((irp, context) -> onSent(irp), null);

            void receive() {
                if (disconnecting || closing) {
                    return;
                }
                socket.receive(buffer.set(memory, 0, BUFFER), 0, receiveIrp.reuse());
            }

            private void onReceived(Irp irp) {
                NtStatus status = irp.ioStatus().status();
                long bytes = irp.ioStatus().information();
                if (status != NtStatus.STATUS_SUCCESS) {
                    if (status != NtStatus.STATUS_CANCELLED) {
                        failures.incrementAndGet();
                    }
                    close();
                } else if (bytes == 0) {
                    disconnect(); // the client closed its side: we are done too
                } else {
                    socket.send(buffer.set(memory, 0, (int) bytes), 0, sendIrp.reuse());
                }
            }

            private void onSent(Irp irp) {
                if (irp.ioStatus().status() != NtStatus.STATUS_SUCCESS) {
                    failures.incrementAndGet();
                    close();
                    return;
                }
                echoed.addAndGet(irp.ioStatus().information());
                receive();
            }
        }
    }
}
