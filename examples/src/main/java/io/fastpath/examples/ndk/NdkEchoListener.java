package io.fastpath.examples.ndk;

import io.fastpath.ndk.NdkAdapter;
import io.fastpath.ndk.NdkConnectionData;
import io.fastpath.ndk.NdkConnector;
import io.fastpath.ndk.NdkListener;
import io.fastpath.ndk.NdkQp;
import io.fastpath.ndk.NdkQpHandler;
import io.fastpath.provider.NtStatus;
import io.fastpath.ndk.SockAddrIn;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * An NDK echo listener: NdkListen on a port; each connect event reads the initiator's private data
 * (NdkGetConnectionData) and accepts with {@code "welcome, <their private data>"} and this side's read limits
 * (2 in, 2 out); each message received on the connection's QP is sent back; the peer's disconnect event is
 * answered with NdkDisconnect and NdkCloseConnector. Everything runs on the adapter's dispatch thread: call
 * {@link #start} there (or through {@code adapter.execute}).
 */
public final class NdkEchoListener {
    private static final int MESSAGE = 64 * 1024 - 1;
    private static final int RECEIVES = 4;

    private final NdkAdapter adapter;
    public final AtomicInteger accepted = new AtomicInteger();
    public final AtomicInteger disconnected = new AtomicInteger();
    public final AtomicInteger echoed = new AtomicInteger();
    public final AtomicInteger failures = new AtomicInteger();
    public volatile NtStatus listenStatus;
    public volatile SockAddrIn address;
    private NdkListener listener;

    public NdkEchoListener(NdkAdapter adapter) {
        this.adapter = adapter;
    }

    /** Listens on {@code port} (0: one from 49152–65535); {@link #address} is set once listening. */
    public void start(int port) {
        listener = adapter.createListener((ctx, connector) -> onConnectEvent(connector), null);
        NtStatus r = listener.listen(new SockAddrIn(0, port), (ctx, status) -> {
            address = listener.getListenerLocalAddress();
            listenStatus = status;
        }, null);
        if (r != NtStatus.STATUS_PENDING) {
            listenStatus = r;
        }
    }

    public void stop() {
        listener.close();
    }

    private void onConnectEvent(NdkConnector connector) {
        NdkConnectionData data = new NdkConnectionData();
        connector.getConnectionData(data, null, 0);
        byte[] theirs = new byte[data.privateDataLength];
        connector.getConnectionData(data, MemorySegment.ofArray(theirs), theirs.length);
        byte[] reply = ("welcome, " + new String(theirs, StandardCharsets.UTF_8))
            .getBytes(StandardCharsets.UTF_8);
        Connection c = new Connection(connector);
        NtStatus r = connector.accept(c.qp, 2, 2, MemorySegment.ofArray(reply), reply.length, ctx -> c.onPeerDisconnect(), null,
            (ctx, status) -> {
                if (status == NtStatus.STATUS_SUCCESS) {
                    accepted.incrementAndGet();
                } else {
                    failures.incrementAndGet();
                    connector.close();
                }
            }, null);
        if (r != NtStatus.STATUS_PENDING) {
            failures.incrementAndGet();
            connector.close();
        }
    }

    /** One accepted connection: its QP posts {@value #RECEIVES} receives and echoes what they bring. */
    private final class Connection implements NdkQpHandler {
        final NdkConnector connector;
        final NdkQp qp;
        final UnsafeBuffer buffers = new UnsafeBuffer(ByteBuffer.allocateDirect(RECEIVES * MESSAGE));

        Connection(NdkConnector connector) {
            this.connector = connector;
            this.qp = adapter.createQp(this);
            for (int i = 0; i < RECEIVES; i++) {
                qp.postReceive(buffers.addressOffset() + (long) i * MESSAGE, MESSAGE, i);
            }
        }

        @Override
        public void onReceiveComplete(Object requestContext, NtStatus status, int bytes) {
            if (status != NtStatus.STATUS_SUCCESS) {
                return; // flushed at the end of the connection
            }
            int slot = (Integer) requestContext;
            long at = buffers.addressOffset() + (long) slot * MESSAGE;
            // NdkSend copies the message, so the buffer can take the next receive at once.
            if (qp.send(at, bytes, null) != NtStatus.STATUS_SUCCESS) {
                failures.incrementAndGet();
            }
            qp.postReceive(at, MESSAGE, slot);
        }

        @Override
        public void onSendComplete(Object requestContext, NtStatus status, int bytes) {
            if (status == NtStatus.STATUS_SUCCESS) {
                echoed.incrementAndGet();
            }
        }

        void onPeerDisconnect() {
            NtStatus r = connector.disconnect((ctx, status) -> {
                disconnected.incrementAndGet();
                connector.close();
                qp.close();
            }, null);
            if (r != NtStatus.STATUS_PENDING) {
                disconnected.incrementAndGet();
                connector.close();
                qp.close();
            }
        }
    }
}
