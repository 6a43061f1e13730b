package io.fastpath.tdi;

import io.fastpath.provider.NtStatus;
import io.fastpath.provider.ObjectPool;
import io.fastpath.provider.Verifier;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A {@link TdiProvider}'s TSDU descriptors: their pool, the chains chained receive handlers keep
 * (STATUS_PENDING), and TdiReturnChainedReceives from any thread. Returns from other threads go on a stack
 * linked through the chains themselves, which the dispatch thread takes each round; after the provider closed,
 * a return goes straight to the stack (releases cannot fail). Pool: dispatch thread only.
 */
final class TdiChains {
    private final TdiProvider p;
    /**
     * Chains returned from other threads, linked through {@link Tsdu#returnNext} (a Treiber stack: producers push,
     * the dispatch thread takes all with one swap). A chain is pushed at most once per hold (HELD to RETURNING is
     * a compare-and-set), so this cannot fill: TdiReturnChainedReceives returns VOID on Windows and never fails here.
     */
    private final AtomicReference<Tsdu> returned = new AtomicReference<>();
    private final ObjectPool<Tsdu> tsdus = new ObjectPool<>(Tsdu::new, 64, 64);
    /** Chains kept by clients; changed on the dispatch thread, and by late returns after close. */
    private final AtomicInteger heldTsdus = new AtomicInteger();

    TdiChains(TdiProvider provider) {
        this.p = provider;
    }

    /**
     * TdiReturnChainedReceives: gives back {@code count} TSDU descriptors a chained receive handler kept
     * (returned STATUS_PENDING for). Any thread. STATUS_INVALID_PARAMETER if any of them was not kept or was
     * already returned (those are skipped; the others are returned).
     */
    NtStatus returnChainedReceives(Tsdu[] descriptors, int count) {
        NtStatus status = NtStatus.STATUS_SUCCESS;
        for (int i = 0; i < count; i++) {
            Tsdu t = descriptors[i];
            int was = t == null ? Tsdu.FREE : t.claimForReturn();
            if (was == Tsdu.INDICATED) {
                continue; // returned while its handler still runs: finished when the handler returns
            }
            if (was != Tsdu.HELD) {
                status = NtStatus.STATUS_INVALID_PARAMETER;
                continue;
            }
            if (p.isClosed()) {
                returnDirect(t); // nobody dispatches any more
            } else if (p.onDispatchThread()) {
                returnHeld(t);
            } else {
                Tsdu head;
                do {
                    head = returned.get();
                    t.returnNext = head;
                } while (!returned.compareAndSet(head, t));
                if (p.isClosed()) {
                    drainAfterClose(); // close() may have drained the returns for the last time before the push
                }
            }
        }
        return status;
    }

    /** Chained receives clients keep right now (STATUS_PENDING, not yet returned). */
    int held() {
        return heldTsdus.get();
    }

    /** Returns every chain other threads pushed; {@code direct} once closing (the pool is not used any more). */
    int takeReturns(boolean direct) {
        // A plain read first: called every dispatch round, mostly with nothing returned (no locked exchange then).
        Tsdu t = returned.get() == null ? null : returned.getAndSet(null);
        int n = 0;
        while (t != null) {
            Tsdu next = t.returnNext;
            t.returnNext = null;
            if (direct) {
                returnDirect(t);
            } else {
                returnHeld(t);
            }
            t = next;
            n++;
        }
        return n;
    }

    Tsdu acquire() {
        return tsdus.acquire();
    }

    void free(Tsdu t) {
        t.clear();
        tsdus.release(t);
    }

    /**
     * A chained receive handler returned STATUS_PENDING: the client keeps the chain. If it already returned it
     * while the handler ran (TdiReturnChainedReceives from another thread, or from the handler), it goes back now.
     */
    void hold(Tsdu t) {
        if (t.hold()) {
            if (Verifier.ENABLED) {
                Verifier.chainHeld(t, "TDI chained receive TSDU");
            }
            heldTsdus.incrementAndGet();
        } else {
            release(t); // RETURNING: the return came before the handler returned
        }
    }

    /** Releases a TSDU's mbufs to the stack and pools it (after SUCCESS, or a return). */
    void release(Tsdu t) {
        t.closeSegments(); // before the mbufs go back: a segment read from now on throws
        if (Verifier.ENABLED) {
            Verifier.chainReturned(t);
        }
        if (!t.expedited) {
            for (int i = 0; i < t.count; i++) {
                if (Verifier.ENABLED) {
                    Verifier.poison(t.address[i], t.length[i]); // before the release is published
                }
                p.releaseDescriptor(t.handle, t.mbuf[i], t.length[i]);
            }
        }
        free(t);
    }

    private void returnHeld(Tsdu t) {
        heldTsdus.decrementAndGet();
        release(t);
    }

    /**
     * A chain returned after close() (any thread, nobody dispatches any more): its mbufs go straight to the
     * stack (releases cannot fail; refused once the provider's stack client has closed, which took every lent
     * mbuf back itself).
     *
     * <p>Never poisoned, even in verifier mode: close() closes the stack client on its own thread, and once that
     * is done the mbufs are back in the pool and may already carry another connection's data. Checking that the
     * client is still open first cannot help (it can close between the check and the poison), and nothing
     * orders this thread before that close; a client that reads a chain after returning it during close is not
     * caught here, only by the closed {@link Tsdu#segment(int) segments}.
     */
    private void returnDirect(Tsdu t) {
        t.closeSegments(); // before the mbufs go back: a segment read from now on throws
        if (Verifier.ENABLED) {
            Verifier.chainReturned(t);
        }
        if (!t.expedited) {
            for (int i = 0; i < t.count; i++) {
                p.tcp.release(t.handle, t.mbuf[i], t.length[i]);
            }
        }
        t.clear(); // not pooled: the pool belongs to the dispatch thread
        heldTsdus.decrementAndGet();
    }

    /**
     * A request or chain return queued after close() drained the queue for the last time: the queue is drained
     * here (one thread at a time; the queue has one consumer), IRPs complete STATUS_CANCELLED on this thread.
     */
    private void drainAfterClose() {
        takeReturns(true);
    }
}
