package io.fastpath.examples.wsk;

import static io.fastpath.wsk.Wsk.AF_INET;
import static io.fastpath.wsk.Wsk.IPPROTO_TCP;
import static io.fastpath.wsk.Wsk.SOCK_STREAM;
import static io.fastpath.wsk.Wsk.WSK_FLAG_CONNECTION_SOCKET;

import io.fastpath.provider.NtStatus;
import io.fastpath.wsk.Irp;
import io.fastpath.wsk.SocketAddressV4;
import io.fastpath.wsk.WskBuf;
import io.fastpath.wsk.WskClientListenDispatch;
import io.fastpath.wsk.WskProvider;
import io.fastpath.wsk.WskSocket;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * A WSK client: creates a connection socket, binds it to the wildcard, connects, sends {@code total} bytes of a
 * deterministic pattern in {@code sendChunk}-byte IRPs (all outstanding at once), keeps receive IRPs
 * outstanding and checks every echoed byte, then disconnects gracefully, receives the 0 that ends the
 * echo, and closes. Driven entirely by completion routines.
 */
public final class WskEchoClient {
    public final WskProvider provider;
    public final SocketAddressV4 server;
    public final int total;
    public final int sendChunk;
    private final ByteBuffer data;
    private final Irp createIrp = new Irp();
    private final Irp bindIrp = new Irp();
    private final Irp connectIrp = new Irp();
    private final Irp disconnectIrp = new Irp();
    private final Irp closeIrp = new Irp();
    private final List<Irp> sendIrps = new ArrayList<>();
    private final List<Receiver> receivers = new ArrayList<>();
    public WskSocket socket;
    public volatile long received;
    public volatile long sent;
    public volatile long mismatchAt = -1;
    public volatile NtStatus failure = NtStatus.STATUS_SUCCESS;
    public volatile boolean sawEnd;
    public volatile boolean disconnected;
    public volatile boolean closed;
    public int sendCompletions;
    private boolean closing;

    public WskEchoClient(WskProvider provider, SocketAddressV4 server, int total, int sendChunk, int receivers, int receiveSize) {
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

    /** The byte at position {@code i} of the stream the client sends. */
    public static byte pattern(long i) {
        return (byte) (i * 31 + (i >>> 8) * 7 + (i >>> 16));
    }

    public void start() {
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
            disconnected = ok(irp); // the server acknowledged our FIN; its own 0-byte end may still be coming
            maybeClose();
        }, null);
        closeIrp.setCompletionRoutine((irp, c) -> closed = ok(irp), null);
        provider.socket(AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, this, null, createIrp);
    }

    private boolean ok(Irp irp) {
        NtStatus status = irp.ioStatus().status();
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

    /** WskCloseSocket once both directions are done: our disconnect completed and the server's end arrived. */
    private void maybeClose() {
        if (disconnected && sawEnd && !closing) {
            closing = true;
            socket.closeSocket(closeIrp); // cancels the other receive IRP, still pending
        }
    }

    public boolean done() {
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
            if (closing && i.ioStatus().status() == NtStatus.STATUS_CANCELLED) {
                return; // our own WskCloseSocket
            }
            if (!ok(i)) {
                return;
            }
            int n = (int) i.ioStatus().information();
            if (n == 0) {
                sawEnd = true;
                maybeClose();
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
