package io.fastpath.stack.tcp;

import io.fastpath.stack.tcp.protocol.ReleaseRequestFlyweight;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicLong;
import org.agrona.BitUtil;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * One client's release ring: many producers (any thread returning a descriptor), one consumer (the stack's poll
 * thread), fixed {@link ReleaseRequestFlyweight#RECORD_LENGTH}-byte records, and the release credit folded into
 * the claim, so a release costs one locked instruction (a CAS of the tail), not two (a credit CAS, then the ring's
 * tail CAS, as with an Agrona ring behind a credit counter).
 *
 * <p>The tail counts the records claimed so far, so it is also the count of releases admitted; the credit is how
 * many may be (the poll thread adds one per descriptor it hands the client, and one back per refused release it
 * has read). A producer claims the next record only while the tail is below the credit: admission and claim are
 * one CAS. Records on the ring never outnumber the descriptors the client holds, and the ring has a record for each
 * of them, so an admitted release finds its record free; the producer checks that against the consumer's position
 * all the same, before its CAS ({@link IllegalStateException} if not, as the Agrona ring's full claim did).
 *
 * <p>A record: an 8-byte header, the record's sequence (its position + 1) written last with release semantics,
 * which publishes it, then the {@link ReleaseRequestFlyweight} body (handle, descriptor, length). The consumer
 * reads a record once its header holds the expected sequence; a stale header (the record a lap before) never does,
 * so nothing is zeroed after reading.
 */
final class ReleaseRing {
    /** What the consumer does with a release; false: refused (its credit goes back). */
    @FunctionalInterface
    interface Consumer {
        boolean onRelease(long handle, long descriptor, int length);
    }

    private static final int HEADER = 8;
    private static final int SHIFT = Integer.numberOfTrailingZeros(ReleaseRequestFlyweight.RECORD_LENGTH);

    private final UnsafeBuffer buffer;
    private final long mask;
    private final long capacity;
    /** Producers: records claimed (= releases admitted). */
    private final AtomicLong tail = new AtomicLong();
    /** Releases that may be admitted (written by the consumer, read by producers). */
    private final AtomicLong credit = new AtomicLong();
    /** Records the consumer has read (written by the consumer, read by producers). */
    private final AtomicLong head = new AtomicLong();
    /** Consumer only: its own copies of credit and head. */
    private long creditGiven;
    private long read;
    /** Poll thread: descriptors released by direct calls whose credit is still given out ({@link #grant}). */
    private long owed;

    /** A ring with a record for each of {@code records} descriptors (rounded up to a power of two, at least 64). */
    ReleaseRing(int records) {
        int n = BitUtil.findNextPositivePowerOfTwo(Math.max(64, records));
        this.buffer = new UnsafeBuffer(ByteBuffer.allocateDirect(n * ReleaseRequestFlyweight.RECORD_LENGTH));
        this.mask = n - 1;
        this.capacity = n;
    }

    /**
     * Any thread: admits and writes a release. False when no credit is left (more releases in flight than
     * descriptors handed over: at least one is bogus); nothing is written then.
     */
    boolean offer(long handle, long descriptor, int length) {
        long t;
        do {
            t = tail.get();
            if (t >= credit.getAcquire()) {
                return false;
            }
            if (t - head.getAcquire() >= capacity) {
                // Cannot happen: admitted releases never outnumber the descriptors held, and the ring holds them all.
                throw new IllegalStateException("release ring full");
            }
        } while (!tail.compareAndSet(t, t + 1));
        int at = (int) ((t & mask) << SHIFT);
        int body = at + HEADER;
        buffer.putLong(body + ReleaseRequestFlyweight.HANDLE_OFFSET, handle);
        buffer.putLong(body + ReleaseRequestFlyweight.MBUF_OFFSET, descriptor);
        buffer.putInt(body + ReleaseRequestFlyweight.LENGTH_OFFSET, length);
        buffer.putLongRelease(at, t + 1);
        return true;
    }

    /**
     * Poll thread: hands up to {@code limit} published releases, in order, to {@code consumer}; returns how many.
     * Refused ones give their credit back once read.
     */
    int drain(Consumer consumer, int limit) {
        long h = read;
        int n = 0;
        int refused = 0;
        while (n < limit) {
            int at = (int) ((h & mask) << SHIFT);
            if (buffer.getLongAcquire(at) != h + 1) {
                break;
            }
            int body = at + HEADER;
            long handle = buffer.getLong(body + ReleaseRequestFlyweight.HANDLE_OFFSET);
            long descriptor = buffer.getLong(body + ReleaseRequestFlyweight.MBUF_OFFSET);
            int length = buffer.getInt(body + ReleaseRequestFlyweight.LENGTH_OFFSET);
            h++;
            n++;
            read = h;
            head.setRelease(h); // the record is free again: the consumer may hand over (and credit) more below
            if (!consumer.onRelease(handle, descriptor, length)) {
                refused++;
            }
        }
        if (refused > 0) {
            grant(refused); // a refused release gives its credit back, now that its record is read
        }
        return n;
    }

    /**
     * Poll thread: {@code n} more releases may be admitted (published before the descriptors are handed over).
     * Credit owed for releases made by direct calls is kept back first.
     */
    void grant(int n) {
        if (owed > 0) {
            int k = (int) Math.min(owed, n);
            owed -= k;
            n -= k;
            if (n == 0) {
                return;
            }
        }
        creditGiven += n;
        credit.setRelease(creditGiven);
    }

    /**
     * Poll thread: a descriptor was released by a direct call, past the ring: the credit granted for it was not
     * used, so the next one due is kept back ({@link #grant}). Credit given out and not used then never exceeds
     * the descriptors held plus those owed, and their sum never exceeds the descriptors the client may hold (a
     * direct release moves one from held to owed, a handover while any are owed moves one back): so the ring's
     * room for every descriptor still holds every admitted release.
     */
    void releasedDirectly() {
        owed++;
    }

    /** Poll thread: no release admitted and not yet read (none claimed, published or not). */
    boolean isEmpty() {
        return tail.get() == read;
    }
}
