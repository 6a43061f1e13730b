package io.fastpath.stack.tcp;

/**
 * Received data held in the mbufs it arrived in: an in-order FIFO of (mbuf, address, length) views ready for
 * the application, and a bounded out-of-order store (sorted by sequence number) that becomes in-order as
 * the holes fill. Nothing is copied. Overlaps are trimmed on arrival, so every byte is held once.
 *
 * <p>An mbuf may back one view only; freeing is the caller's job (via the {@link Releaser}).
 * Thread: the poll thread.
 */
final class ReceiveQueue {
    /** Frees mbufs the queue lets go of. */
    interface Releaser {
        void release(long mbuf);
    }

    private final int capacity;
    // In-order ring.
    private final long[] mbuf;
    private final long[] address;
    private final int[] len;
    private int first;
    private int count;
    private int bytes;
    // Out-of-order, sorted by seq, no overlaps.
    private final int oooCapacity;
    private final int[] oSeq;
    private final long[] oMbuf;
    private final long[] oAddress;
    private final int[] oLen;
    private int oCount;
    private int oBytes;

    ReceiveQueue(int capacity, int oooCapacity) {
        this.capacity = capacity;
        this.mbuf = new long[capacity];
        this.address = new long[capacity];
        this.len = new int[capacity];
        this.oooCapacity = oooCapacity;
        this.oSeq = new int[oooCapacity];
        this.oMbuf = new long[oooCapacity];
        this.oAddress = new long[oooCapacity];
        this.oLen = new int[oooCapacity];
    }

    /**
     * The slot after {@code slot}: a compare, not a division (the capacity is no power of two; an {@code idiv} on
     * every segment received and every one consumed costs more than the rest of the bookkeeping).
     */
    private int next(int slot) {
        int n = slot + 1;
        return n == capacity ? 0 : n;
    }

    /** {@code first + n} for {@code n <= capacity}, taken round the ring (below twice the capacity: one compare). */
    private int wrap(int slot) {
        return slot >= capacity ? slot - capacity : slot;
    }

    /** Bytes waiting for the application. */
    int bytes() {
        return bytes;
    }

    /** Bytes held out of order. */
    int outOfOrderBytes() {
        return oBytes;
    }

    int outOfOrderCount() {
        return oCount;
    }

    boolean isEmpty() {
        return count == 0;
    }

    /** In-order views held (each pins an mbuf, or a share of one). */
    int count() {
        return count;
    }

    boolean full() {
        return count == capacity;
    }

    long headMbuf() {
        return mbuf[first];
    }

    long headAddress() {
        return address[first];
    }

    int headLength() {
        return len[first];
    }

    /** The application took {@code n} bytes of the head view; frees its mbuf when all are taken. */
    void consumeHead(int n, Releaser releaser) {
        bytes -= n;
        if (n >= len[first]) {
            releaser.release(mbuf[first]);
            mbuf[first] = 0;
            first = next(first);
            count--;
        } else {
            address[first] += n;
            len[first] -= n;
        }
    }

    /** Removes the head view without freeing its mbuf: its new owner frees it. */
    void takeHead() {
        bytes -= len[first];
        mbuf[first] = 0;
        first = next(first);
        count--;
    }

    /** Appends in-order data; false when the ring is full (the caller drops the segment). */
    boolean append(long m, long addr, int length) {
        if (count == capacity) {
            return false;
        }
        int at = wrap(first + count);
        mbuf[at] = m;
        address[at] = addr;
        len[at] = length;
        count++;
        bytes += length;
        return true;
    }

    /**
     * Stores a segment that starts after RCV.NXT. Parts already held are trimmed away; a segment that adds
     * nothing, or for which there is no room, is refused (false: the caller frees it).
     */
    boolean insertOutOfOrder(int seq, long m, long addr, int length) {
        int end = seq + length;
        // Find insertion point: first stored segment with oSeq >= seq.
        int i = 0;
        while (i < oCount && Seq.lt(oSeq[i], seq)) {
            i++;
        }
        // Trim against the previous segment.
        if (i > 0) {
            int prevEnd = oSeq[i - 1] + oLen[i - 1];
            if (Seq.ge(prevEnd, end)) {
                return false;
            }
            if (Seq.gt(prevEnd, seq)) {
                int cut = prevEnd - seq;
                seq += cut;
                addr += cut;
                length -= cut;
            }
        }
        // Trim against the next segment: keep only the part before it (the rest is already held).
        if (i < oCount && Seq.gt(end, oSeq[i])) {
            length = oSeq[i] - seq; // anything beyond the next block comes again later
            if (length <= 0) {
                return false;
            }
        }
        if (oCount == oooCapacity) {
            return false;
        }
        System.arraycopy(oSeq, i, oSeq, i + 1, oCount - i);
        System.arraycopy(oMbuf, i, oMbuf, i + 1, oCount - i);
        System.arraycopy(oAddress, i, oAddress, i + 1, oCount - i);
        System.arraycopy(oLen, i, oLen, i + 1, oCount - i);
        oSeq[i] = seq;
        oMbuf[i] = m;
        oAddress[i] = addr;
        oLen[i] = length;
        oCount++;
        oBytes += length;
        return true;
    }

    /**
     * Moves out-of-order segments that now start at or before {@code rcvNxt} to the in-order queue, trimming
     * what is already received; frees those wholly duplicate. Returns the new RCV.NXT.
     */
    int drainInOrder(int rcvNxt, Releaser releaser) {
        while (oCount > 0 && Seq.le(oSeq[0], rcvNxt) && count < capacity) {
            int seq = oSeq[0];
            long m = oMbuf[0];
            long addr = oAddress[0];
            int length = oLen[0];
            removeOutOfOrder(0);
            int skip = rcvNxt - seq;
            if (skip >= length) {
                releaser.release(m);
                continue;
            }
            append(m, addr + skip, length - skip);
            rcvNxt += length - skip;
        }
        return rcvNxt;
    }

    private void removeOutOfOrder(int i) {
        oBytes -= oLen[i];
        System.arraycopy(oSeq, i + 1, oSeq, i, oCount - i - 1);
        System.arraycopy(oMbuf, i + 1, oMbuf, i, oCount - i - 1);
        System.arraycopy(oAddress, i + 1, oAddress, i, oCount - i - 1);
        System.arraycopy(oLen, i + 1, oLen, i, oCount - i - 1);
        oCount--;
    }

    /**
     * Writes up to {@code max} SACK blocks (RFC 2018 §4: the block holding the most recent segment first,
     * then the others) as contiguous ranges of the out-of-order store. Returns the number written.
     */
    int sackBlocks(int[] left, int[] right, int max, int recentSeq) {
        int n = 0;
        // Coalesce adjacent stored segments into ranges.
        int recentIndex = -1;
        int i = 0;
        int ranges = 0;
        while (i < oCount) {
            int l = oSeq[i];
            int r = l + oLen[i];
            int j = i + 1;
            while (j < oCount && oSeq[j] == r) {
                r += oLen[j];
                j++;
            }
            if (Seq.inRange(recentSeq, l, r)) {
                recentIndex = ranges;
                if (n < max) {
                    // Put the recent block first.
                    System.arraycopy(left, 0, left, 1, Math.min(n, max - 1));
                    System.arraycopy(right, 0, right, 1, Math.min(n, max - 1));
                    left[0] = l;
                    right[0] = r;
                    n = Math.min(n + 1, max);
                }
            } else if (n < max) {
                left[n] = l;
                right[n] = r;
                n++;
            }
            ranges++;
            i = j;
        }
        return recentIndex >= 0 || n > 0 ? n : 0;
    }

    /**
     * Drops out-of-order segments from the highest sequence number down (RFC 2018 §8 lets a receiver renege
     * on SACKed data; Linux's tcp_prune_ofo_queue does the same under memory pressure), keeping those that
     * start below {@code keepBelow} (pass RCV.NXT + window to drop everything), until {@code max} are gone.
     *
     * @return segments dropped
     */
    int pruneOutOfOrder(int keepBelow, int max, Releaser releaser) {
        int dropped = 0;
        while (oCount > 0 && dropped < max && Seq.ge(oSeq[oCount - 1], keepBelow)) {
            oCount--;
            oBytes -= oLen[oCount];
            releaser.release(oMbuf[oCount]);
            oMbuf[oCount] = 0;
            dropped++;
        }
        return dropped;
    }

    /** Whether the out-of-order store holds a segment starting at or above {@code seq}. */
    boolean holdsOutOfOrderFrom(int seq) {
        return oCount > 0 && Seq.ge(oSeq[oCount - 1], seq);
    }

    /** Allocates fresh mbufs for {@link #collapse}. */
    interface Allocator {
        /** A fresh mbuf (its data room empty), or 0 when none is free. */
        long allocate();

        /** Where a fresh mbuf's data starts. */
        long dataAddress(long mbuf);
    }

    /**
     * Copies runs of small in-order views into as few fresh mbufs as hold them (Linux's tcp_collapse), so that
     * a peer sending tiny segments cannot pin an mbuf per byte. Views of {@code keepFrom} bytes or more stay
     * where they are. Stops early, leaving the rest untouched, when no mbuf can be allocated. Order and bytes
     * are preserved; the old mbufs go to {@code releaser}.
     *
     * @param room bytes of data room in a fresh mbuf
     * @return in-order views saved (views before minus after)
     */
    int collapse(int room, int keepFrom, Allocator allocator, Releaser releaser,
                 org.agrona.concurrent.UnsafeBuffer src, org.agrona.concurrent.UnsafeBuffer dst) {
        if (count < 2) {
            return 0;
        }
        int before = count;
        int write = 0;
        long target = 0;
        long targetAddress = 0;
        int used = 0;
        for (int read = 0; read < before; read++) {
            int at = (first + read) % capacity;
            long m = mbuf[at];
            long addr = address[at];
            int length = len[at];
            if (length >= keepFrom || length > room) {
                target = 0; // a large view stays; the next small ones start a fresh mbuf after it
                int to = (first + write++) % capacity;
                mbuf[to] = m;
                address[to] = addr;
                len[to] = length;
                continue;
            }
            if (target == 0 || used + length > room) {
                long fresh = allocator.allocate();
                if (fresh == 0) {
                    // Out of mbufs: keep this and every later view as they are.
                    for (; read < before; read++) {
                        int from = (first + read) % capacity;
                        int to = (first + write++) % capacity;
                        mbuf[to] = mbuf[from];
                        address[to] = address[from];
                        len[to] = len[from];
                    }
                    break;
                }
                target = fresh;
                targetAddress = allocator.dataAddress(fresh);
                used = 0;
                int to = (first + write++) % capacity;
                mbuf[to] = fresh;
                address[to] = targetAddress;
                len[to] = 0;
            }
            src.wrap(addr, length);
            dst.wrap(targetAddress + used, length);
            dst.putBytes(0, src, 0, length);
            used += length;
            len[(first + write - 1) % capacity] += length;
            releaser.release(m);
        }
        for (int i = write; i < before; i++) {
            mbuf[(first + i) % capacity] = 0;
        }
        count = write;
        return before - write;
    }

    /** Frees everything held. */
    void clear(Releaser releaser) {
        while (count > 0) {
            releaser.release(mbuf[first]);
            first = (first + 1) % capacity;
            count--;
        }
        first = 0;
        bytes = 0;
        for (int i = 0; i < oCount; i++) {
            releaser.release(oMbuf[i]);
        }
        oCount = 0;
        oBytes = 0;
    }
}
