package io.fastpath.tdi;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.util.Arrays;
import org.agrona.BufferUtil;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * A received TSDU as a chained receive indicates it: a read-only chain of segments (the MDL chain) lying in
 * place over the mbufs the data arrived in, and at the same time the TsduDescriptor a client hands back to
 * {@link TdiProvider#returnChainedReceives} when its handler returned STATUS_PENDING.
 *
 * <p>Segment {@code i} is {@link #segment(int)}: a read-only {@link MemorySegment} of
 * {@link #segmentLength(int)} bytes, bounds-checked and closed when the chain goes back (when
 * {@link TdiProvider#returnChainedReceives} takes it, or when the handler returns without keeping it), so a read
 * after that throws {@link IllegalStateException} instead of reading an mbuf the stack has reused. The zero-copy
 * hot path may ask for the raw {@link #segmentAddress(int)} (inside mbuf {@link #segmentMbuf(int)}) instead:
 * unchecked, the caller's own promise not to touch it after the return. The indication's data starts
 * {@code startingOffset} bytes into the chain (bytes a client already took) and runs for {@code receiveLength}
 * bytes. Expedited data (TCP urgent bytes) is the one
 * exception to zero copy: it is served from a small native buffer this object owns ({@link #segmentMbuf} 0).
 *
 * <p>Ownership: lent for the handler's call; kept (STATUS_PENDING) until returned exactly once, from any thread
 * (a second return, or a return of a descriptor that was not kept, is refused). A return may come before the
 * handler has returned STATUS_PENDING (from another thread, or from the handler itself): the chain then goes
 * back as soon as the handler returns. Pooled by the provider: do not
 * touch it after returning it.
 */
public final class Tsdu {
    static final int FREE = 0;
    static final int INDICATED = 1;
    static final int HELD = 2;
    static final int RETURNING = 3;
    static final int EXPEDITED_CAPACITY = 64;

    private static final VarHandle STATE;
    private static final VarHandle ARENA;

    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(Tsdu.class, "state", int.class);
            ARENA = MethodHandles.lookup().findVarHandle(Tsdu.class, "arena", Arena.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    long handle;
    long[] mbuf = new long[8];
    long[] address = new long[8];
    int[] length = new int[8];
    int count;
    int startingOffset;
    boolean expedited;
    TdiConnection connection;
    /** The next chain returned from another thread (TdiProvider's return stack; owned by it while RETURNING). */
    Tsdu returnNext;
    private final ByteBuffer expeditedMemory = ByteBuffer.allocateDirect(EXPEDITED_CAPACITY);
    final long expeditedAddress = BufferUtil.address(expeditedMemory);
    private final UnsafeBuffer view = new UnsafeBuffer(0, 0);
    @SuppressWarnings("unused") // through STATE
    private volatile int state;
    /**
     * The scope of the segments {@link #segment(int)} handed out for the current lending, made on the first call
     * (a chain read only through raw addresses never makes one) and closed when the chain goes back.
     */
    @SuppressWarnings("unused") // through ARENA
    private volatile Arena arena;
    private MemorySegment[] segments = new MemorySegment[8];
    /**
     * One past the highest segment index {@link #segment(int)} made this lending: {@link #clear()} forgets
     * exactly those, whichever they were (a handler may ask only for segment 1 when startingOffset lies past
     * segment 0), so the next lending never finds one of this lending's closed segments.
     */
    private int segmentsMade;

    Tsdu() {
    }

    public int segmentCount() {
        return count;
    }

    /**
     * Segment {@code i} as a read-only {@link MemorySegment} of {@link #segmentLength(int) its length}: reads are
     * bounds-checked, and once the chain has gone back (returned with TdiReturnChainedReceives, or the handler
     * returned without STATUS_PENDING) any read throws {@link IllegalStateException}. The first call of a lending
     * opens a shared {@link Arena} for its segments (a few objects; the raw {@link #segmentAddress(int)} path
     * allocates nothing). Call it from one thread at a time, and not while returning the chain on another.
     *
     * @throws IllegalStateException if the chain is no longer lent or kept
     */
    @SuppressWarnings("restricted") // the address is a live mbuf's, the length the segment's own
    public MemorySegment segment(int i) {
        check(i);
        if (segments.length < count) {
            segments = Arrays.copyOf(segments, mbuf.length);
        }
        MemorySegment s = segments[i];
        if (s != null) {
            return s;
        }
        Arena a = (Arena) ARENA.getVolatile(this);
        if (a == null) {
            Arena made = Arena.ofShared();
            a = (Arena) ARENA.compareAndExchange(this, null, made);
            if (a == null) {
                a = made;
            } else {
                made.close();
            }
        }
        s = MemorySegment.ofAddress(address[i]).reinterpret(length[i], a, null).asReadOnly();
        int now = state();
        if (now != INDICATED && now != HELD) {
            closeSegments(); // returned while we were making it: do not leave an open scope behind
            throw misuse(i);
        }
        segments[i] = s;
        if (i >= segmentsMade) {
            segmentsMade = i + 1;
        }
        return s;
    }

    /**
     * The raw address of segment {@code i}, for the zero-copy hot path (for instance a TDI_SEND straight from
     * the mbuf): no bounds or lifetime check beyond this call's; prefer {@link #segment(int)}.
     */
    public long segmentAddress(int i) {
        check(i);
        return address[i];
    }

    public int segmentLength(int i) {
        check(i);
        return length[i];
    }

    /** The mbuf segment {@code i} lies in, or 0 for expedited data (a provider buffer). */
    public long segmentMbuf(int i) {
        check(i);
        return io.fastpath.stack.tcp.TcpServiceClient.mbufAddress(mbuf[i]); // without the handover token
    }

    /** The bytes in the chain from {@code startingOffset} on (= the indication's ReceiveLength). */
    public int receiveLength() {
        long total = 0;
        for (int i = 0; i < count; i++) {
            total += length[i];
        }
        return (int) (total - startingOffset);
    }

    public int startingOffset() {
        return startingOffset;
    }

    /** Copies {@code n} bytes from {@code offset} (relative to the chain's start, as StartingOffset is). */
    public void getBytes(int offset, byte[] dst, int dstOffset, int n) {
        int s = state();
        if (s != INDICATED && s != HELD) {
            throw new IllegalStateException("TSDU already returned");
        }
        int seg = 0;
        int at = offset;
        while (seg < count && at >= length[seg]) {
            at -= length[seg++];
        }
        while (n > 0) {
            if (seg >= count) {
                throw new IndexOutOfBoundsException("beyond the TSDU");
            }
            int take = Math.min(n, length[seg] - at);
            view.wrap(address[seg] + at, take);
            view.getBytes(0, dst, dstOffset, take);
            dstOffset += take;
            n -= take;
            at = 0;
            seg++;
        }
    }

    /** The indicated data (ReceiveLength bytes from StartingOffset) as a new array: for tests and samples. */
    public byte[] toByteArray() {
        byte[] out = new byte[receiveLength()];
        getBytes(startingOffset, out, 0, out.length);
        return out;
    }

    private void check(int i) {
        int s = state();
        if (s != INDICATED && s != HELD) {
            throw misuse(i);
        }
        if (i < 0 || i >= count) {
            throw new IndexOutOfBoundsException("segment " + i + " of " + count);
        }
    }

    private IllegalStateException misuse(int i) {
        return new IllegalStateException("TSDU already returned (segment " + i + ")");
    }

    // ------------------------------------------------------------------------ provider side

    void add(long m, long a, int n) {
        if (count == mbuf.length) {
            mbuf = Arrays.copyOf(mbuf, count * 2);
            address = Arrays.copyOf(address, count * 2);
            length = Arrays.copyOf(length, count * 2);
        }
        mbuf[count] = m;
        address[count] = a;
        length[count] = n;
        count++;
    }

    int state() {
        return (int) STATE.getVolatile(this);
    }

    /**
     * A release write: it publishes the chain's fields to the thread whose CAS ({@link #claimForReturn},
     * {@link #hold}) or volatile read sees it. The segments' Dekker ({@link #segment} against
     * {@link #claimForReturn}) runs on the CASes, not on this write, so a volatile write's full fence (a locked
     * instruction per chain indicated and per chain freed) bought nothing.
     */
    void state(int s) {
        STATE.setRelease(this, s);
    }

    /**
     * TdiReturnChainedReceives claims the descriptor: HELD (kept) or INDICATED (its handler still runs; the
     * provider finishes the return when the handler returns) move to RETURNING. Returns the state it was in, or
     * FREE if it could not be claimed (not kept, or already returned).
     */
    int claimForReturn() {
        if (STATE.compareAndSet(this, HELD, RETURNING)) {
            closeSegments(); // on the returning thread: from here on a read through a segment throws
            return HELD;
        }
        if (STATE.compareAndSet(this, INDICATED, RETURNING)) {
            closeSegments();
            return INDICATED;
        }
        return FREE;
    }

    /**
     * Closes the scope of the segments {@link #segment(int)} handed out, if any: every later read through them
     * throws. Called by the returning thread (TdiReturnChainedReceives) and by the provider before the chain's
     * mbufs go back; idempotent, any thread.
     */
    void closeSegments() {
        if (ARENA.getVolatile(this) == null) {
            return; // the usual case: the chain was read through raw addresses, or not at all
        }
        Arena a = (Arena) ARENA.getAndSet(this, (Arena) null);
        if (a == null) {
            return;
        }
        while (true) {
            try {
                a.close();
                return;
            } catch (IllegalStateException inUse) {
                // A downcall on another thread holds one of the segments right now (a client using the chain
                // while returning it): the mbufs must not go back while it can still read them.
                Thread.onSpinWait();
            }
        }
    }

    /** The handler returned STATUS_PENDING: INDICATED → HELD; false if it was returned meanwhile (RETURNING). */
    boolean hold() {
        return STATE.compareAndSet(this, INDICATED, HELD);
    }

    void clear() {
        closeSegments();
        if (segmentsMade > 0) { // none on the raw-address path
            Arrays.fill(segments, 0, segmentsMade, null);
            segmentsMade = 0;
        }
        count = 0;
        startingOffset = 0;
        expedited = false;
        handle = 0;
        connection = null;
        state(FREE);
    }
}
