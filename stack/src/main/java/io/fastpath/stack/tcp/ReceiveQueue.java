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
            first = (first + 1) % capacity;
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
        first = (first + 1) % capacity;
        count--;
    }

    /** Appends in-order data; false when the ring is full (the caller drops the segment). */
    boolean append(long m, long addr, int length) {
        if (count == capacity) {
            return false;
        }
        int at = (first + count) % capacity;
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
