package io.fastpath.wsk;

import static io.fastpath.wsk.Wsk.AF_INET;
import static io.fastpath.wsk.Wsk.IPPROTO_TCP;
import static io.fastpath.wsk.Wsk.SOCK_STREAM;
import static io.fastpath.wsk.Wsk.WSK_FLAG_CONNECTION_SOCKET;

import io.fastpath.stack.NtStatus;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * A WSK client: creates a connection socket, binds it to the wildcard, connects, sends {@code total} bytes of a
 * deterministic pattern in {@code sendChunk}-byte IRPs (all outstanding at once), keeps receive IRPs
 * outstanding and checks every echoed byte, then disconnects gracefully, receives the 0 that ends the
 * echo, and closes. Driven entirely by completion routines.
 */
final class WskEchoClient {
    final WskProvider provider;
    final SocketAddressV4 server;
    final int total;
    final int sendChunk;
    private final ByteBuffer data;
    private final Irp createIrp = new Irp();
    private final Irp bindIrp = new Irp();
    private final Irp connectIrp = new Irp();
    private final Irp disconnectIrp = new Irp();
    private final Irp closeIrp = new Irp();
    private final List<Irp> sendIrps = new ArrayList<>();
    private final List<Receiver> receivers = new ArrayList<>();
    WskSocket socket;
    volatile long received;
    volatile long sent;
    volatile long mismatchAt = -1;
    volatile int failure = NtStatus.STATUS_SUCCESS;
    volatile boolean sawEnd;
    volatile boolean disconnected;
    volatile boolean closed;
    int sendCompletions;

    WskEchoClient(WskProvider provider, SocketAddressV4 server, int total, int sendChunk, int receivers, int receiveSize) {
        this.provider = provider;
        this.server = server;
        this.total = total;
        this.sendChunk = sendChunk;
        this.data = ByteBuffer.allocateDirect(total);
        for (int i = 0; i < total; i++) {
            data.put(i, pattern(i));
        }
        for (int i = 0; i < receivers; i++) {
            this.receivers.add(new Receiver(receiveSize));
        }
    }

    static byte pattern(long i) {
        return (byte) (i * 31 + (i >>> 8) * 7 + (i >>> 16));
    }

    void start() {
        createIrp.setCompletionRoutine((irp, c) -> {
            if (!ok(irp)) {
                return;
            }
            socket = (WskSocket) irp.ioStatus().informationObject();
            socket.bind(SocketAddressV4.ANY, bindIrp);
        }, null);
        bindIrp.setCompletionRoutine((irp, c) -> {
            if (ok(irp)) {
                socket.connect(server, connectIrp);
            }
        }, null);
        connectIrp.setCompletionRoutine((irp, c) -> {
            if (ok(irp)) {
                onConnected();
            }
        }, null);
        disconnectIrp.setCompletionRoutine((irp, c) -> {
            disconnected = ok(irp);
            socket.closeSocket(closeIrp);
        }, null);
        closeIrp.setCompletionRoutine((irp, c) -> closed = ok(irp), null);
        provider.socket(AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, this, null, createIrp);
    }

    private boolean ok(Irp irp) {
        int status = irp.ioStatus().status();
        if (status != NtStatus.STATUS_SUCCESS && failure == NtStatus.STATUS_SUCCESS) {
            failure = status;
        }
        return status == NtStatus.STATUS_SUCCESS;
    }

    private void onConnected() {
        for (Receiver r : receivers) {
            r.receive();
        }
        WskBuf buffer = new WskBuf();
        for (int offset = 0; offset < total; offset += sendChunk) {
            int length = Math.min(sendChunk, total - offset);
            Irp irp = new Irp().setCompletionRoutine((i, c) -> {
                if (ok(i)) {
                    sent += i.ioStatus().information();
                    sendCompletions++;
                }
            }, null);
            sendIrps.add(irp);
            // The WskBuf may be reused at once: the call copies address, offset and length.
            socket.send(buffer.set(data, offset, length), 0, irp);
        }
    }

    boolean done() {
        return closed || failure != NtStatus.STATUS_SUCCESS;
    }

    private final class Receiver {
        final ByteBuffer memory;
        final WskBuf buffer = new WskBuf();
        final Irp irp = new Irp().setCompletionRoutine((i, c) -> onReceived(i), null);

        Receiver(int size) {
            memory = ByteBuffer.allocateDirect(size);
        }

        void receive() {
            socket.receive(buffer.set(memory, 0, memory.capacity()), 0, irp.reuse());
        }

        void onReceived(Irp i) {
            if (!ok(i)) {
                return;
            }
            int n = (int) i.ioStatus().information();
            if (n == 0) {
                sawEnd = true;
                return;
            }
            long base = received;
            for (int k = 0; k < n; k++) {
                if (memory.get(k) != pattern(base + k) && mismatchAt < 0) {
                    mismatchAt = base + k;
                }
            }
            received = base + n;
            if (received == total) {
                socket.disconnect(null, 0, disconnectIrp);
            }
            receive();
        }
    }
}
