package io.fastpath.provider;

/**
 * Received data a connection holds and has not handed to the application yet: a ring of the stack's zero-copy
 * receive descriptors {mbuf, address, length} in arrival order, the first possibly part-consumed
 * ({@link #headOffset()}).
 *
 * <p>Ownership: each descriptor is the provider's from {@link #add} until it is returned to the stack exactly
 * once - when consumed ({@link #consume}, {@link #copyTo}), dropped with everything ({@link #releaseAll}), or
 * taken off the ring with {@link #dropHead()} by a caller that lends it to the application (an event callback)
 * or hands it over (a held chain) and returns it later itself.
 *
 * <p>Dispatch thread only. Grows (rarely, when a peer sends many small segments); never shrinks.
 */
public final class DescriptorQueue {
    private long[] mbuf;
    private long[] address;
    private int[] length;
    private int mask;
    private int head;
    private int count;
    private int headOffset;
    private long bytes;

    public DescriptorQueue(int initialCapacity) {
        allocate(Integer.highestOneBit(Math.max(initialCapacity, 4) - 1) << 1);
    }

    private void allocate(int capacity) {
        mbuf = new long[capacity];
        address = new long[capacity];
        length = new int[capacity];
        mask = capacity - 1;
    }

    /** Takes ownership of a descriptor the stack delivered. */
    public void add(long m, long a, int l) {
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

    public int count() {
        return count;
    }

    /** Bytes not yet consumed, over all descriptors. */
    public long bytes() {
        return bytes;
    }

    public boolean isEmpty() {
        return count == 0;
    }

    public long mbuf(int i) {
        return mbuf[(head + i) & mask];
    }

    public long address(int i) {
        return address[(head + i) & mask];
    }

    /** The descriptor's full length (what the stack is told when it goes back). */
    public int length(int i) {
        return length[(head + i) & mask];
    }

    /** Bytes already consumed from the head descriptor. */
    public int headOffset() {
        return headOffset;
    }

    /** Bytes of the head not consumed yet (contiguous memory at {@link #headAddress()}); 0 when empty. */
    public int headRemaining() {
        return count == 0 ? 0 : length[head] - headOffset;
    }

    /** Where the head's unconsumed bytes start. */
    public long headAddress() {
        return address[head] + headOffset;
    }

    /** Consumes {@code n} bytes of the head (n ≤ headRemaining); returns true when the head is used up. */
    public boolean consumeHead(int n) {
        headOffset += n;
        bytes -= n;
        return headOffset == length[head];
    }

    /** Takes the head descriptor off the ring without returning it: the caller now owns it. */
    public void dropHead() {
        bytes -= length[head] - headOffset;
        head = (head + 1) & mask;
        count--;
        headOffset = 0;
        if (count == 0) {
            head = 0;
            bytes = 0;
        }
    }

    /** Consumes {@code n} bytes from the front, returning each descriptor used up to the stack. */
    public void consume(long handle, int n, DescriptorReleaser releaser) {
        while (n > 0 && count > 0) {
            int take = Math.min(n, length[head] - headOffset);
            n -= take;
            if (consumeHead(take)) {
                returnHead(handle, releaser);
            }
        }
    }

    /**
     * Copies up to {@code max} bytes from the front to native memory at {@code target}; consumes them (returning
     * used-up descriptors) unless {@code peek}. Returns the bytes copied.
     */
    public int copyTo(NativeCopier copier, long target, int max, boolean peek, long handle,
                      DescriptorReleaser releaser) {
        int copied = 0;
        int i = 0;
        int offset = headOffset;
        while (copied < max && i < count) {
            int take = Math.min(max - copied, length(i) - offset);
            copier.copy(address(i) + offset, target + copied, take);
            copied += take;
            offset += take;
            if (offset == length(i)) {
                i++;
                offset = 0;
            }
        }
        if (!peek) {
            consume(handle, copied, releaser);
        }
        return copied;
    }

    /** Returns every descriptor to the stack. */
    public void releaseAll(long handle, DescriptorReleaser releaser) {
        while (count > 0) {
            returnHead(handle, releaser);
        }
    }

    private void returnHead(long handle, DescriptorReleaser releaser) {
        long m = mbuf[head];
        int l = length[head];
        if (Verifier.ENABLED) {
            Verifier.poison(address[head], l); // before the release is published: then the stack may reuse it
        }
        dropHead();
        releaser.release(handle, m, l);
    }
}
