package io.fastpath.ndk;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.fastpath.provider.NtStatus;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import org.agrona.concurrent.UnsafeBuffer;

/** A QP with {@code slots} receive buffers of {@code size} bytes and a log of what completed. */
final class TestQp implements NdkQpHandler {
    final NdkQp qp;
    final int size;
    final UnsafeBuffer receive;
    final UnsafeBuffer send;
    /** Receive completions: slot, status, bytes. */
    final ArrayDeque<int[]> received = new ArrayDeque<>();
    int sendsCompleted;
    int sendFailures;
    NtStatus lastSendStatus;
    /** Posts the slot again from each receive completion (as a consumer's steady-state loop does). */
    boolean repost;

    TestQp(NdkAdapter adapter, int slots, int size) {
        this.qp = adapter.createQp(this);
        this.size = size;
        this.receive = new UnsafeBuffer(ByteBuffer.allocateDirect(slots * size));
        this.send = new UnsafeBuffer(ByteBuffer.allocateDirect(Math.max(size, 1)));
    }

    void postAll(int slots) {
        for (int i = 0; i < slots; i++) {
            post(i);
        }
    }

    void post(int slot) {
        assertEquals(NtStatus.STATUS_SUCCESS, qp.postReceive(receive.addressOffset() + (long) slot * size, size, slot));
    }

    /** Sends {@code length} bytes, each {@code (seed + i)}. */
    NtStatus send(int length, int seed) {
        for (int i = 0; i < length; i++) {
            send.putByte(i, (byte) (seed + i));
        }
        return qp.send(send.addressOffset(), length, seed);
    }

    /** Checks a received message against the pattern {@link #send} wrote. */
    void assertMessage(int slot, int length, int seed) {
        for (int i = 0; i < length; i++) {
            assertEquals((byte) (seed + i), receive.getByte(slot * size + i), "byte " + i + " of a message");
        }
    }

    @Override
    public void onSendComplete(Object requestContext, NtStatus status, int bytes) {
        lastSendStatus = status;
        if (status == NtStatus.STATUS_SUCCESS) {
            sendsCompleted++;
        } else {
            sendFailures++;
        }
    }

    @Override
    public void onReceiveComplete(Object requestContext, NtStatus status, int bytes) {
        received.add(new int[] {(Integer) requestContext, status.code(), bytes});
        if (repost) {
            post((Integer) requestContext);
        }
    }
}
