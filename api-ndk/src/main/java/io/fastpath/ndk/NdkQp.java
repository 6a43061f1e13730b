package io.fastpath.ndk;

import io.fastpath.provider.NtStatus;
import java.nio.ByteBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * A minimal NDK queue pair (NdkCreateQp): posted receives and sends of whole messages over the connection it
 * is bound to by Connect/Accept. Each message travels as one MPA FPDU (RFC 5044 §4: 16-bit length, pad,
 * CRC field: the FPDU's CRC32c when either side asked for CRC, else zero); there are no DDP/RDMAP headers, no memory registration and no
 * RDMA read/write. Completions go to the {@link NdkQpHandler} (the role of NDK's completion queues).
 *
 * <p>Buffers: {@link #send} copies the message into one of the QP's preallocated native send slots
 * (MaxInitiatorQueueDepth of them), so the caller's memory may be reused when send returns; a posted
 * receive's memory must stay valid until its completion. Messages that arrive while no receive is posted
 * stay in the stack's mbufs and hold back the TCP window (the peer slows down; nothing is dropped).
 * Dispatch thread; {@link #send} and {@link #postReceive} also from any thread (queued, see {@link NdkAdapter}).
 */
public final class NdkQp {
    private final NdkAdapter adapter;
    private final NdkQpHandler handler;
    final int slotBytes;
    final UnsafeBuffer sendSlots;
    private final boolean[] slotBusy;
    private final Object[] slotContext;
    private final int[] slotLength;
    /** The connection each busy slot was sent on (a QP may be reused for a later connection). */
    private final NdkConnector[] slotOwner;
    /** Each busy slot's TcpService request id: (sequence << 4) | slot, unique per send. */
    private final long[] slotRequest;
    private long sendSequence;
    private int sendsOutstanding;
    // posted receives: a ring
    private final long[] rqAddress;
    private final int[] rqCapacity;
    private final Object[] rqContext;
    private int rqHead;
    private int rqCount;
    NdkConnector connector;
    private boolean closed;
    private final UnsafeBuffer userView = new UnsafeBuffer(0, 0);
    /** CRC32c of outgoing FPDUs (over the direct send slots, in place) when the connection uses CRC. */
    private final java.util.zip.CRC32C txCrc = new java.util.zip.CRC32C();

    NdkQp(NdkAdapter adapter, NdkQpHandler handler) {
        this.adapter = adapter;
        this.handler = handler;
        NdkAdapterInfo info = adapter.info();
        int depth = info.maxInitiatorQueueDepth();
        this.slotBytes = MpaFrame.fpduLength(info.maxTransferLength());
        this.sendSlots = new UnsafeBuffer(ByteBuffer.allocateDirect(depth * slotBytes));
        this.slotBusy = new boolean[depth];
        this.slotContext = new Object[depth];
        this.slotLength = new int[depth];
        this.slotOwner = new NdkConnector[depth];
        this.slotRequest = new long[depth];
        int rq = info.maxReceiveQueueDepth();
        this.rqAddress = new long[rq];
        this.rqCapacity = new int[rq];
        this.rqContext = new Object[rq];
    }

    /**
     * NdkReceive: posts {@code capacity} bytes of native memory at {@code address} for the next message; the QP
     * writes into it until the completion, so the memory must stay valid and its owner (a direct ByteBuffer, an
     * arena) reachable until then. STATUS_SUCCESS (the result comes through
     * {@link NdkQpHandler#onReceiveComplete}, from {@code dispatch()}, never inside this call);
     * STATUS_INSUFFICIENT_RESOURCES (MaxReceiveQueueDepth posted); STATUS_INVALID_DEVICE_STATE (closed).
     */
    public NtStatus postReceive(long address, int capacity, Object requestContext) {
        if (!adapter.onDispatchThread()) {
            // queued: a failure there completes the receive with that status (CANCELLED: the adapter closed)
            return adapter.queue(new NdkAdapter.QueuedCall() {
                @Override
                public void run() {
                    NtStatus r = postReceive(address, capacity, requestContext);
                    if (r != NtStatus.STATUS_SUCCESS) {
                        receiveFailed(requestContext, r.code());
                    }
                }

                @Override
                void cancel() {
                    receiveFailed(requestContext, NtStatus.STATUS_CANCELLED.code());
                }
            }) ? NtStatus.STATUS_SUCCESS : NtStatus.STATUS_INSUFFICIENT_RESOURCES;
        }
        if (closed) {
            return NtStatus.STATUS_INVALID_DEVICE_STATE;
        }
        if (capacity < 0 || (address == 0 && capacity > 0)) {
            return NtStatus.STATUS_INVALID_PARAMETER;
        }
        if (rqCount == rqAddress.length) {
            return NtStatus.STATUS_INSUFFICIENT_RESOURCES;
        }
        int at = (rqHead + rqCount) % rqAddress.length;
        rqAddress[at] = address;
        rqCapacity[at] = capacity;
        rqContext[at] = requestContext;
        rqCount++;
        if (connector != null) {
            connector.schedulePump();
        }
        return NtStatus.STATUS_SUCCESS;
    }

    /**
     * NdkSend: sends {@code length} bytes of native memory at {@code address} as one message (copied when the
     * dispatch thread runs the send: from another thread, keep the memory valid and its owner reachable until
     * the completion). STATUS_SUCCESS
     * (queued; {@link NdkQpHandler#onSendComplete} follows exactly once: STATUS_SUCCESS, or STATUS_CANCELLED
     * when the connection ended first, e.g. reset by the peer before the send reached the stack);
     * STATUS_INVALID_DEVICE_STATE (not connected:
     * before CompleteConnect/Accept completed, or after Disconnect); STATUS_INVALID_BUFFER_SIZE (longer than
     * MaxTransferLength); STATUS_INSUFFICIENT_RESOURCES (MaxInitiatorQueueDepth sends outstanding).
     */
    public NtStatus send(long address, int length, Object requestContext) {
        if (!adapter.onDispatchThread()) {
            // queued (the memory must stay valid until the completion): a failure there completes the send
            return adapter.queue(new NdkAdapter.QueuedCall() {
                @Override
                public void run() {
                    NtStatus r = send(address, length, requestContext);
                    if (r != NtStatus.STATUS_SUCCESS) {
                        sendFailed(requestContext, r.code());
                    }
                }

                @Override
                void cancel() {
                    sendFailed(requestContext, NtStatus.STATUS_CANCELLED.code());
                }
            }) ? NtStatus.STATUS_SUCCESS : NtStatus.STATUS_INSUFFICIENT_RESOURCES;
        }
        if (closed || connector == null || !connector.established()) {
            return NtStatus.STATUS_INVALID_DEVICE_STATE;
        }
        if (length < 0 || length > adapter.info().maxTransferLength() || (address == 0 && length > 0)) {
            return NtStatus.STATUS_INVALID_BUFFER_SIZE;
        }
        if (sendsOutstanding == slotBusy.length) {
            return NtStatus.STATUS_INSUFFICIENT_RESOURCES;
        }
        int slot = 0;
        while (slotBusy[slot]) {
            slot++;
        }
        int base = slot * slotBytes;
        if (length > 0) {
            userView.wrap(address, length);
            sendSlots.putBytes(base + MpaFrame.FPDU_HEADER_LENGTH, userView, 0, length);
        }
        int fpdu = MpaFrame.emitFpdu(sendSlots, base, length, connector.crcInUse() ? txCrc : null);
        long requestId = (sendSequence << 4) | slot; // slot < 16: MaxInitiatorQueueDepth is at most 15
        if (!adapter.tcp.send(connector.handle(), requestId, sendSlots.addressOffset() + base, fpdu)) {
            return NtStatus.STATUS_INSUFFICIENT_RESOURCES;
        }
        sendSequence++;
        slotRequest[slot] = requestId;
        slotBusy[slot] = true;
        slotContext[slot] = requestContext;
        slotLength[slot] = length;
        slotOwner[slot] = connector;
        sendsOutstanding++;
        return NtStatus.STATUS_SUCCESS;
    }

    void onSendComplete(NdkConnector from, long requestId, int status) {
        int slot = (int) (requestId & 0xF);
        if (slot >= slotBusy.length || !slotBusy[slot] || slotOwner[slot] != from || slotRequest[slot] != requestId) {
            return; // already flushed (the connection closed first), or not ours
        }
        completeSend(slot, status);
    }

    /**
     * The connection {@code from} closed: its sends still outstanding complete with STATUS_CANCELLED (the
     * stack no longer reads their slots; what it reports for them later is ignored).
     */
    void flushSends(NdkConnector from) {
        for (int slot = 0; slot < slotBusy.length && sendsOutstanding > 0; slot++) {
            if (slotBusy[slot] && slotOwner[slot] == from) {
                completeSend(slot, NtStatus.STATUS_CANCELLED.code());
            }
        }
    }

    private void completeSend(int slot, int status) {
        slotOwner[slot] = null;
        Object ctx = slotContext[slot];
        int bytes = slotLength[slot];
        slotBusy[slot] = false;
        slotContext[slot] = null;
        sendsOutstanding--;
        try {
            handler.onSendComplete(ctx, status == NtStatus.STATUS_CONNECTION_ABORTED.code() ? NtStatus.STATUS_CANCELLED
                : NtStatus.of(status), status == NtStatus.STATUS_SUCCESS.code() ? bytes : 0);
        } catch (Throwable t) {
            adapter.onCallbackError(t);
        }
    }

    boolean receivePosted() {
        return rqCount > 0;
    }

    long receiveAddress() {
        return rqAddress[rqHead];
    }

    int receiveCapacity() {
        return rqCapacity[rqHead];
    }

    /** Completes the receive at the head of the queue. */
    void completeReceive(int status, int bytes) {
        Object ctx = rqContext[rqHead];
        rqContext[rqHead] = null;
        rqHead = (rqHead + 1) % rqAddress.length;
        rqCount--;
        try {
            handler.onReceiveComplete(ctx, NtStatus.of(status), bytes);
        } catch (Throwable t) {
            adapter.onCallbackError(t);
        }
    }

    private void sendFailed(Object requestContext, int status) {
        try {
            handler.onSendComplete(requestContext, NtStatus.of(status), 0);
        } catch (Throwable t) {
            adapter.onCallbackError(t);
        }
    }

    private void receiveFailed(Object requestContext, int status) {
        try {
            handler.onReceiveComplete(requestContext, NtStatus.of(status), 0);
        } catch (Throwable t) {
            adapter.onCallbackError(t);
        }
    }

    /** The connection ended: posted receives complete with STATUS_CANCELLED (sends: {@link #flushSends}). */
    void flushReceives() {
        // Only those posted now: a handler that posts again from its completion must not keep this loop going.
        for (int n = rqCount; n > 0 && rqCount > 0; n--) {
            completeReceive(NtStatus.STATUS_CANCELLED.code(), 0);
        }
    }

    /** Receives posted, sends outstanding. */
    public int receivesPosted() {
        return rqCount;
    }

    public int sendsOutstanding() {
        return sendsOutstanding;
    }

    /**
     * NdkCloseQp: flushes posted receives (STATUS_CANCELLED). STATUS_INVALID_DEVICE_STATE while the QP is
     * bound to a connector (connecting, accepting, connected or disconnecting): close the connector or let
     * the disconnect complete first.
     */
    public NtStatus close() {
        adapter.checkThread();
        if (connector != null) {
            return NtStatus.STATUS_INVALID_DEVICE_STATE;
        }
        closed = true;
        flushReceives();
        return NtStatus.STATUS_SUCCESS;
    }
}
