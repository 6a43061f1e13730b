package io.fastpath.stack;

import io.fastpath.dpdk.Mbuf;
import io.fastpath.dpdk.MbufArray;
import io.fastpath.dpdk.Port;
import io.fastpath.stack.counters.Budget;
import io.fastpath.stack.counters.DropReason;
import io.fastpath.stack.counters.StackCounters;

/**
 * {@link Stack}'s transmit and free batches and its buffer allocation: frames sent and mbufs freed in a duty
 * cycle go to the port and the pool in bulk, buffers come from the poll thread's lcore cache of the pool.
 * Poll thread only.
 */
final class TxBatch {
    static final int TX_BATCH = 64;

    private final Port port;
    private final StackCounters counters;
    /** Diagnostic stage timestamps ({@link Budget}); null unless {@code -Dfastpath.budget=true}. */
    private final Budget budget;
    private final MbufArray tx = new MbufArray(TX_BATCH);
    private final MbufArray toFree = new MbufArray(TX_BATCH);
    private final MbufArray alloc = new MbufArray(1);
    /** The thread {@link #allocCache} belongs to, and its lcore's cache of the pool (0: none). */
    private Thread cacheThread;
    private long allocCache;
    private int txCount;
    /** Bytes of the frames in {@link #tx}: summed as each frame is queued, while its mbuf header is in cache. */
    private long txBytes;
    private boolean draining;
    private int freeCount;

    TxBatch(Port port, StackCounters counters, Budget budget) {
        this.port = port;
        this.counters = counters;
        this.budget = budget;
    }

    /** The stack is closing: frames the port does not take are dropped, not kept for a next duty cycle. */
    void drain() {
        draining = true;
    }

    /** The poll thread's lcore changed ({@link Stack#lcoreChanged}): look its cache up again. */
    void lcoreChanged() {
        cacheThread = null;
        allocCache = 0;
    }

    /** The pool cache allocations take from (0: none, the pool's rings); for tests. */
    long allocCache() {
        return allocCache;
    }

    long allocate() {
        Thread thread = Thread.currentThread();
        if (thread != cacheThread) {
            // The first allocation on a (new) poll thread: find its lcore's cache of the pool, once (see
            // lcoreChanged for a thread whose lcore changes). A virtual thread moves between carriers (each with
            // its own lcore id, if any): no cache for it.
            cacheThread = thread;
            allocCache = thread.isVirtual() ? 0 : port.pool().localCache();
        }
        long m = port.pool().allocOne(allocCache, alloc);
        if (m == 0) {
            counters.drop(DropReason.TX_NO_MBUF).incrementRelease();
        }
        return m;
    }

    /**
     * Whether one more frame fits in this duty cycle's transmit batch (flushing to the port first when it is
     * full). TCP asks before it builds a segment, so a port that cannot keep up holds TCP back instead of
     * dropping segments TCP counted as sent.
     */
    boolean canTransmit() {
        if (txCount < TX_BATCH) {
            return true;
        }
        flushTx();
        if (txCount < TX_BATCH) {
            return true;
        }
        counters.txBackPressure.incrementRelease();
        return false;
    }

    void transmit(long m) {
        if (txCount == TX_BATCH) {
            flushTx();
            if (txCount == TX_BATCH) {
                // Still full after a retry: the port cannot keep up; this frame is lost (TCP resends).
                counters.drop(DropReason.TX_RING_FULL).incrementRelease();
                free(m);
                return;
            }
        }
        tx.set(txCount++, m);
        txBytes += Mbuf.pktLen(m);
    }

    void free(long m) {
        if (freeCount == TX_BATCH) {
            flushFree();
        }
        toFree.set(freeCount++, m);
    }

    void drop(long m, DropReason reason) {
        counters.drop(reason).incrementRelease();
        free(m);
    }

    void flush() {
        flushTx();
        flushFree();
    }

    private void flushTx() {
        if (txCount == 0) {
            return;
        }
        int sent = port.transmit(tx, 0, txCount);
        if (Budget.ENABLED) {
            budget.mark(Budget.TX);
        }
        int left = txCount - sent;
        long keptBytes = 0;
        for (int i = sent; i < txCount; i++) {
            keptBytes += Mbuf.pktLen(tx.get(i)); // not sent (the port's queue is full): rare
        }
        counters.txFrames.getAndAddRelease(sent);
        counters.txBytes.getAndAddRelease(txBytes - keptBytes);
        txBytes = keptBytes;
        if (left > 0 && !draining) {
            // The port's queue is full: keep the rest for the next duty cycle (back-pressure, not loss).
            for (int i = 0; i < left; i++) {
                tx.set(i, tx.get(sent + i));
            }
            txCount = left;
            return;
        }
        if (left > 0) {
            counters.drop(DropReason.TX_RING_FULL).getAndAddRelease(left);
            tx.freeRange(sent, left);
        }
        txCount = 0; // txBytes is keptBytes, 0 here: the frames the port did not take were freed
    }

    void flushFree() {
        if (freeCount > 0) {
            toFree.freeAll(freeCount);
            freeCount = 0;
        }
    }
}
