package io.fastpath.tdi;

/**
 * Received data a connection holds: zero-copy descriptors (mbuf, address, length) from TcpService in arrival
 * order, with the bytes already taken from the first one. Dispatch thread only; grows, never shrinks.
 */
final class DescriptorQueue {
    private long[] mbuf = new long[16];
    private long[] address = new long[16];
    private int[] length = new int[16];
    private int first;
    private int count;
    /** Bytes already taken from the first descriptor. */
    int headOffset;
    /** Bytes not yet taken, over all descriptors. */
    long bytes;

    void add(long m, long a, int n) {
        if (count == mbuf.length) {
            grow();
        }
        int at = (first + count) & (mbuf.length - 1);
        mbuf[at] = m;
        address[at] = a;
        length[at] = n;
        count++;
        bytes += n;
    }

    private void grow() {
        int n = mbuf.length;
        long[] m2 = new long[n * 2];
        long[] a2 = new long[n * 2];
        int[] l2 = new int[n * 2];
        for (int i = 0; i < count; i++) {
            int at = (first + i) & (n - 1);
            m2[i] = mbuf[at];
            a2[i] = address[at];
            l2[i] = length[at];
        }
        mbuf = m2;
        address = a2;
        length = l2;
        first = 0;
    }

    int count() {
        return count;
    }

    long mbuf(int i) {
        return mbuf[(first + i) & (mbuf.length - 1)];
    }

    long address(int i) {
        return address[(first + i) & (mbuf.length - 1)];
    }

    int length(int i) {
        return length[(first + i) & (mbuf.length - 1)];
    }

    /** Bytes contiguous at the head (what a ClientEventReceive can indicate). */
    int headAvailable() {
        return count == 0 ? 0 : length(0) - headOffset;
    }

    long headAddress() {
        return address(0) + headOffset;
    }

    /** Drops the first descriptor (its data was taken or handed over); returns nothing. */
    void removeFirst() {
        bytes -= length[first] - headOffset;
        first = (first + 1) & (mbuf.length - 1);
        count--;
        headOffset = 0;
    }

    /** Copies up to {@code max} bytes to native memory; consumes them unless {@code peek}; returns bytes copied. */
    int copyTo(TdiProvider provider, long handle, long target, int max, boolean peek) {
        int copied = 0;
        int i = 0;
        int offset = headOffset;
        while (copied < max && i < count) {
            int take = Math.min(max - copied, length(i) - offset);
            provider.copy(address(i) + offset, target + copied, take);
            copied += take;
            offset += take;
            if (offset == length(i)) {
                i++;
                offset = 0;
            }
        }
        if (!peek) {
            consume(provider, handle, copied);
        }
        return copied;
    }

    /** Takes {@code n} bytes from the head, returning emptied descriptors to the stack. */
    void consume(TdiProvider provider, long handle, int n) {
        while (n > 0 && count > 0) {
            int left = length(0) - headOffset;
            if (n >= left) {
                n -= left;
                long m = mbuf(0);
                int len = length(0);
                removeFirst();
                provider.releaseDescriptor(handle, m, len);
            } else {
                headOffset += n;
                bytes -= n;
                n = 0;
            }
        }
    }

    /** Returns every descriptor to the stack. */
    void releaseAll(TdiProvider provider, long handle) {
        while (count > 0) {
            long m = mbuf(0);
            int len = length(0);
            removeFirst();
            provider.releaseDescriptor(handle, m, len);
        }
        headOffset = 0;
        bytes = 0;
    }
}
