package io.fastpath.stack.tcp;

import io.fastpath.libc.NativeMemory;
import java.nio.ByteBuffer;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The bytes a connection has accepted from the application and not yet had acknowledged: a ring over
 * off-heap memory, addressed by sequence number. {@code head} is the sequence number of the oldest byte
 * (SND.UNA once the SYN is acknowledged); {@code tail} is one past the newest.
 *
 * <p>Segmentation copies from here into a fresh mbuf at send time and again at retransmission time, so any
 * segment boundary and any retransmission is possible; acknowledged bytes are dropped from the head.
 *
 * <p>A write into an empty buffer starts again at the ring's first byte ({@code origin}: the sequence number
 * stored there). A request/response connection, whose buffer empties with every response's ACK, so writes the
 * same few cache lines every time instead of walking the whole ring (512 KiB by default: one cold line or more
 * per message, and every write missing the cache once the ring is larger than it).
 * Thread: the poll thread.
 */
final class SendBuffer {
    private final UnsafeBuffer ring;
    private final int mask;
    private int head;
    private int length;
    /** The sequence number stored at the ring's first byte (index = (seq - origin) & mask). */
    private int origin;

    SendBuffer(int capacity) {
        if (Integer.bitCount(capacity) != 1) {
            throw new IllegalArgumentException("send buffer capacity must be a power of two: " + capacity);
        }
        this.ring = new UnsafeBuffer(ByteBuffer.allocateDirect(capacity));
        this.mask = capacity - 1;
    }

    void reset(int headSeq) {
        head = headSeq;
        origin = headSeq;
        length = 0;
    }

    int capacity() {
        return mask + 1;
    }

    int length() {
        return length;
    }

    int free() {
        return mask + 1 - length;
    }

    int head() {
        return head;
    }

    int tail() {
        return head + length;
    }

    /** Appends up to {@code len} bytes; returns how many fitted. */
    int write(DirectBuffer src, int offset, int len) {
        if (length == 0) {
            origin = head; // nothing stored: start again at the first byte, whose lines are likely still cached
        }
        int n = Math.min(len, free());
        int at = (head + length - origin) & mask;
        int first = Math.min(n, mask + 1 - at);
        put(ring, at, src, offset, first);
        if (n > first) {
            put(ring, 0, src, offset + first, n - first);
        }
        length += n;
        return n;
    }

    /** Where in the ring the byte of sequence number {@code seq} is (or would be) stored (tests). */
    int slot(int seq) {
        return (seq - origin) & mask;
    }

    /** Copies {@code len} bytes starting at sequence number {@code seq} into {@code dst}. */
    void copy(int seq, int len, MutableDirectBuffer dst, int dstOffset) {
        int at = slot(seq);
        int first = Math.min(len, mask + 1 - at);
        put(dst, dstOffset, ring, at, first);
        if (len > first) {
            put(dst, dstOffset + first, ring, 0, len - first);
        }
    }

    /** {@code dst.putBytes(dstOffset, src, srcOffset, len)}, through memcpy when both are native and it is long. */
    private static void put(MutableDirectBuffer dst, int dstOffset, DirectBuffer src, int srcOffset, int len) {
        if (len >= NativeMemory.MIN_COPY && dst.byteArray() == null && src.byteArray() == null) {
            dst.boundsCheck(dstOffset, len); // as putBytes would (an application's source range included)
            src.boundsCheck(srcOffset, len);
            NativeMemory.copy(dst.addressOffset() + dstOffset, src.addressOffset() + srcOffset, len);
        } else {
            dst.putBytes(dstOffset, src, srcOffset, len);
        }
    }

    /** Drops the bytes before {@code seq} (they were acknowledged). */
    void acknowledge(int seq) {
        int n = seq - head;
        if (n > 0) {
            n = Math.min(n, length);
            head += n;
            length -= n;
        }
    }
}
