package io.fastpath.stack.tcp;

import org.agrona.collections.Long2LongHashMap;

/**
 * The descriptors one {@link TcpServiceClient} holds: every mbuf handed over to it, with the connection, the
 * length and a handover token, so that a release is honoured only for a descriptor this client holds, exactly
 * once per handover, with the recorded length (issue 10 item 6). Each client has its own table and its own
 * budget (at most {@link #capacity}, the pool's size; {@code TcpService.clientBudget} says how much of it a
 * client may use): a client that stops returning descriptors fills only its own.
 *
 * <p>A descriptor, as a RECEIVE event carries it in its {@code mbuf} field, is the mbuf's address in the low
 * {@value #TOKEN_SHIFT} bits and a 16-bit handover token above them. The token counts this client's handovers,
 * so a release of an earlier handover of the same mbuf (the pool gave the mbuf back out, to the same connection)
 * names an old token and is refused, unless exactly a multiple of 65,535 handovers lie between. Tokens run
 * 1 to 65,535 and skip 0, so a descriptor never equals the bare mbuf address. Applications
 * treat descriptors as opaque values; {@link TcpServiceClient#mbufAddress} reads the address out.
 *
 * <p>One mbuf can be handed over twice at once (urgent data splits a segment around its urgent byte, the
 * mbuf's reference count raised): its entries are chained, and the caller's length picks between them.
 *
 * <p>Thread: the stack's poll thread. No allocation: a primitive map sized for the budget at start.
 */
final class HeldDescriptors {
    static final int TOKEN_SHIFT = 48;
    static final long ADDRESS_MASK = (1L << TOKEN_SHIFT) - 1;
    private static final long NONE = -1;

    /** Frees one mbuf a descriptor named (the stack's release: window and memory accounting). */
    @FunctionalInterface
    interface Releaser {
        void release(long handle, long mbuf, int length);
    }

    /** mbuf address to the first of its entries. */
    private final Long2LongHashMap byMbuf;
    private final long[] mbuf;
    /** The next entry for the same mbuf, or -1. */
    private final int[] next;
    private final long[] handle;
    private final int[] length;
    private final char[] token;
    private final int[] free;
    private int freeCount;
    private char nextToken = 1;

    HeldDescriptors(int capacity) {
        int n = Math.max(1, capacity);
        this.byMbuf = new Long2LongHashMap(Math.max(16, n * 2), 0.6f, NONE);
        this.mbuf = new long[n];
        this.next = new int[n];
        this.handle = new long[n];
        this.length = new int[n];
        this.token = new char[n];
        this.free = new int[n];
        for (int e = 0; e < n; e++) {
            free[e] = n - 1 - e;
        }
        this.freeCount = n;
    }

    /** The most descriptors this client may hold at once. */
    int capacity() {
        return mbuf.length;
    }

    /** Descriptors held now. */
    int count() {
        return mbuf.length - freeCount;
    }

    boolean canHold() {
        return freeCount > 0;
    }

    /** Records a handover; returns the descriptor to hand over (token and address). Needs {@link #canHold}. */
    long hold(long connection, long mbufAddress, int bytes) {
        int e = free[--freeCount];
        char t = nextToken++;
        if (nextToken == 0) {
            nextToken = 1; // token 0 would make the descriptor the bare mbuf address
        }
        mbuf[e] = mbufAddress;
        handle[e] = connection;
        length[e] = bytes;
        token[e] = t;
        long first = byMbuf.put(mbufAddress, e);
        next[e] = first == NONE ? -1 : (int) first;
        return ((long) t << TOKEN_SHIFT) | mbufAddress;
    }

    /**
     * Takes the entry a release names (same connection, same handover token; the length only picks between two
     * descriptors of one mbuf) and frees the mbuf through {@code releaser} with the recorded length. Returns
     * false, and frees nothing, for any other release.
     */
    boolean release(long connection, long descriptor, int lengthHint, Releaser releaser) {
        long address = descriptor & ADDRESS_MASK;
        char t = (char) (descriptor >>> TOKEN_SHIFT);
        long first = byMbuf.get(address);
        int e = -1;
        int previous = -1;
        if (first != NONE) {
            int p = -1;
            for (int at = (int) first; at >= 0; p = at, at = next[at]) {
                if (handle[at] == connection && token[at] == t && (e < 0 || length[at] == lengthHint)) {
                    e = at;
                    previous = p;
                }
            }
        }
        if (e < 0) {
            return false;
        }
        if (previous >= 0) {
            next[previous] = next[e];
        } else if (next[e] >= 0) {
            byMbuf.put(address, next[e]);
        } else {
            byMbuf.remove(address);
        }
        int bytes = length[e];
        mbuf[e] = 0;
        free[freeCount++] = e;
        releaser.release(connection, address, bytes);
        return true;
    }

    /** Sets the next handover token (tests: to drive the counter past its wrap); 0 is skipped. */
    void nextToken(char t) {
        nextToken = t == 0 ? 1 : t;
    }

    /** Frees every mbuf still held (the client closed, or the stack did); later releases of them are refused. */
    int releaseAll(Releaser releaser) {
        int n = 0;
        for (int e = 0; e < mbuf.length; e++) {
            if (mbuf[e] != 0) {
                long address = mbuf[e];
                mbuf[e] = 0;
                free[freeCount++] = e;
                releaser.release(handle[e], address, length[e]);
                n++;
            }
        }
        byMbuf.clear();
        return n;
    }
}
