package io.fastpath.wsk;

/**
 * Received data a socket holds and has not handed to the application yet: a ring of TcpService receive
 * descriptors {mbuf, address, length}, the first possibly part-consumed ({@link #headOffset()}). Grows (rarely)
 * when a peer sends many small segments; never shrinks. Dispatch thread only.
 */
final class DescriptorQueue {
    private long[] mbuf;
    private long[] address;
    private int[] length;
    private int mask;
    private int head;
    private int count;
    private int headOffset;
    private long bytes;

    DescriptorQueue(int initialCapacity) {
        int capacity = Integer.highestOneBit(Math.max(initialCapacity, 4) - 1) << 1;
        allocate(capacity);
    }

    private void allocate(int capacity) {
        mbuf = new long[capacity];
        address = new long[capacity];
        length = new int[capacity];
        mask = capacity - 1;
    }

    void add(long m, long a, int l) {
        if (count == mbuf.length) {
            grow();
        }
        int at = (head + count) & mask;
        mbuf[at] = m;
        address[at] = a;
        length[at] = l;
        count++;
        bytes += l;
    }

    private void grow() {
        long[] oldMbuf = mbuf;
        long[] oldAddress = address;
        int[] oldLength = length;
        int oldMask = mask;
        allocate(oldMbuf.length * 2);
        for (int i = 0; i < count; i++) {
            int from = (head + i) & oldMask;
            mbuf[i] = oldMbuf[from];
            address[i] = oldAddress[from];
            length[i] = oldLength[from];
        }
        head = 0;
    }

    int count() {
        return count;
    }

    /** Bytes not yet consumed. */
    long bytes() {
        return bytes;
    }

    boolean isEmpty() {
        return count == 0;
    }

    long mbuf(int i) {
        return mbuf[(head + i) & mask];
    }

    long address(int i) {
        return address[(head + i) & mask];
    }

    /** The descriptor's full length (what TcpService.release is told). */
    int length(int i) {
        return length[(head + i) & mask];
    }

    int headOffset() {
        return headOffset;
    }

    /** Bytes of the head not consumed yet. */
    int headRemaining() {
        return length[head] - headOffset;
    }

    /** Consumes {@code n} bytes of the head (n ≤ headRemaining); returns true when the head is used up. */
    boolean consumeHead(int n) {
        headOffset += n;
        bytes -= n;
        return headOffset == length[head];
    }

    /** Removes the head descriptor (after the caller released or kept it). */
    void dropHead() {
        bytes -= length[head] - headOffset;
        head = (head + 1) & mask;
        count--;
        headOffset = 0;
        if (count == 0) {
            head = 0;
            bytes = 0;
        }
    }
}
