package io.fastpath.examples.ndk;

import io.fastpath.ndk.NdkAdapter;
import io.fastpath.ndk.NdkConnectionData;
import io.fastpath.ndk.NdkConnector;
import io.fastpath.ndk.NdkQp;
import io.fastpath.ndk.NdkQpHandler;
import io.fastpath.ndk.SockAddrIn;
import io.fastpath.provider.NtStatus;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * An NDK connector that talks to {@link NdkEchoListener}: NdkConnect with private data and read limits (8 in,
 * 8 out), reads the listener's private data and the effective limits, NdkCompleteConnect, then sends
 * {@code count} messages of {@code size} bytes one at a time, checks each echo byte for byte, and disconnects.
 * Runs on the adapter's dispatch thread; {@link #done()} and the fields can be read from any thread.
 */
public final class NdkEchoConnector implements NdkQpHandler {
    private final NdkAdapter adapter;
    private final SockAddrIn listener;
    private final int count;
    private final int size;
    private final String privateData;
    private NdkConnector connector;
    private NdkQp qp;
    private UnsafeBuffer sendBuffer;
    private UnsafeBuffer receiveBuffer;
    private int sent;
    public volatile int verified;
    public volatile int inboundReadLimit;
    public volatile int outboundReadLimit;
    public volatile String peerPrivateData;
    /** STATUS_SUCCESS once everything worked, else the first failure (Integer.MIN_VALUE while running). */
    public volatile NtStatus status;
    public volatile String failure;

    public NdkEchoConnector(NdkAdapter adapter, SockAddrIn listener, int count, int size, String privateData) {
        this.adapter = adapter;
        this.listener = listener;
        this.count = count;
        this.size = size;
        this.privateData = privateData;
    }

    public boolean done() {
        return status != null;
    }

    /** Starts the sequence (dispatch thread). */
    public void start() {
        sendBuffer = new UnsafeBuffer(ByteBuffer.allocateDirect(Math.max(size, 1)));
        receiveBuffer = new UnsafeBuffer(ByteBuffer.allocateDirect(Math.max(size, 1)));
        qp = adapter.createQp(this);
        connector = adapter.createConnector();
        byte[] pd = privateData.getBytes(StandardCharsets.UTF_8);
        NtStatus r = connector.connect(qp, null, listener, 8, 8, MemorySegment.ofArray(pd), pd.length,
            (ctx, s) -> onConnected(s), null);
        if (r != NtStatus.STATUS_PENDING) {
            fail("NdkConnect", r);
        }
    }

    private void onConnected(NtStatus s) {
        if (s != NtStatus.STATUS_SUCCESS) {
            fail("NdkConnect", s);
            return;
        }
        NdkConnectionData data = new NdkConnectionData();
        connector.getConnectionData(data, null, 0);
        byte[] theirs = new byte[data.privateDataLength];
        connector.getConnectionData(data, MemorySegment.ofArray(theirs), theirs.length);
        inboundReadLimit = data.inboundReadLimit;
        outboundReadLimit = data.outboundReadLimit;
        peerPrivateData = new String(theirs, StandardCharsets.UTF_8);
        NtStatus r = connector.completeConnect(ctx -> fail("peer disconnected", NtStatus.STATUS_CONNECTION_RESET), null,
            (ctx, c) -> onCompleted(c), null);
        if (r != NtStatus.STATUS_PENDING) {
            fail("NdkCompleteConnect", r);
        }
    }

    private void onCompleted(NtStatus s) {
        if (s != NtStatus.STATUS_SUCCESS) {
            fail("NdkCompleteConnect", s);
            return;
        }
        next();
    }

    private void next() {
        if (sent == count) {
            NtStatus r = connector.disconnect((ctx, d) -> {
                connector.close();
                qp.close();
                status = d;
            }, null);
            if (r != NtStatus.STATUS_PENDING) {
                fail("NdkDisconnect", r);
            }
            return;
        }
        for (int i = 0; i < size; i++) {
            sendBuffer.putByte(i, (byte) (sent * 7 + i));
        }
        qp.postReceive(receiveBuffer.addressOffset(), receiveBuffer.capacity(), null);
        NtStatus r = qp.send(sendBuffer.addressOffset(), size, null);
        if (r != NtStatus.STATUS_SUCCESS) {
            fail("NdkSend", r);
        }
    }

    @Override
    public void onReceiveComplete(Object requestContext, NtStatus s, int bytes) {
        if (done()) {
            return;
        }
        if (s != NtStatus.STATUS_SUCCESS || bytes != size) {
            fail("NdkReceive (" + bytes + " bytes)", s);
            return;
        }
        for (int i = 0; i < size; i++) {
            if (receiveBuffer.getByte(i) != (byte) (sent * 7 + i)) {
                fail("echo differs at byte " + i + " of message " + sent, NtStatus.STATUS_INVALID_PARAMETER);
                return;
            }
        }
        verified++;
        sent++;
        next();
    }

    @Override
    public void onSendComplete(Object requestContext, NtStatus s, int bytes) {
        if (s != NtStatus.STATUS_SUCCESS) {
            fail("NdkSend completion", s);
        }
    }

    private void fail(String what, NtStatus s) {
        if (!done()) {
            failure = what + ": " + s;
            status = s == NtStatus.STATUS_SUCCESS ? NtStatus.STATUS_INVALID_PARAMETER : s;
        }
    }
}
