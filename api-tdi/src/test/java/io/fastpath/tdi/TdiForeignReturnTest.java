package io.fastpath.tdi;

import static io.fastpath.tdi.TdiRig.send;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.provider.NtStatus;
import io.fastpath.stack.counters.DropReason;
import io.fastpath.stack.tcp.TcpConfig;
import io.fastpath.tdi.TdiEventTest.Pair;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 11 test target: a foreign thread returns everything a TDI client can hold while the dispatch thread is
 * stopped (TdiReturnChainedReceives), and nothing is lost or leaked.
 *
 * <p>B keeps every chained receive (STATUS_PENDING) while A sends far more than B can take. What B can hold is
 * bounded by the stack, not by the TDI provider: B's receive buffer is made larger than the pool, so the limit
 * reached is the stack's TCP memory budget (the pool less its receive reserve; the descriptors lent to B count
 * against it) — the most a client on this pool can ever hold. Then the test thread, B's dispatch thread, stops
 * dispatching, and a plain thread (first round) or a virtual thread (second round) returns every held chain
 * (one call per chain; one call for all in the needs-fix test). Only then does dispatch resume: every mbuf goes
 * back to the mempool, the stack's held-descriptor count is 0, no release is refused, and the rest of A's data
 * flows and is verified byte for byte.
 */
class TdiForeignReturnTest {
    private static final NtStatus S = NtStatus.STATUS_SUCCESS;
    private static final NtStatus PENDING = NtStatus.STATUS_PENDING;

    @TempDir
    Path dir;

    /** B's side: what the chained receive handler saw, kept or consumed, in order. */
    private static final class Receiver {
        final List<Tsdu> kept = new ArrayList<>();
        byte[] received;
        int receivedLength;
        boolean keep;
        int keptMbufs;

        Receiver(int capacity) {
            received = new byte[capacity];
        }

        NtStatus onChain(Tsdu tsdu) {
            int n = tsdu.receiveLength();
            tsdu.getBytes(tsdu.startingOffset(), received, receivedLength, n);
            receivedLength += n;
            if (keep) {
                kept.add(tsdu);
                keptMbufs += tsdu.segmentCount();
                return PENDING;
            }
            return S;
        }
    }

    /**
     * The foreign thread returns every held chain, one call per chain, while dispatch is stopped (the test still
     * retries a refused return, which no longer happens: returns go on a stack linked through the chains).
     */
    @Test
    void aForeignThreadReturnsEveryHeldChainWhileDispatchIsStoppedAndNothingIsLost_tdiReturnChainedReceives()
        throws Exception {
        holdAReturnFromAnotherThreadAndResume(false);
    }

    /**
     * Issue 11's target as written: one TdiReturnChainedReceives call from another thread takes back everything
     * the client holds while dispatch is stopped. Today a client can hold the stack's whole TCP memory budget
     * (12,927 mbufs, one chain each, on TdiRig's 16,383-mbuf pool). Before, TdiProvider queued foreign returns on
     * its 4,096-entry request queue and refused the rest with STATUS_INSUFFICIENT_RESOURCES; Windows'
     * TdiReturnChainedReceives returns VOID, so a client cannot be expected to retry. Returns now go on a stack
     * linked through the chains themselves, which cannot fill.
     */
    @Test
    void oneReturnCallFromAnotherThreadTakesBackEveryChainTheBudgetLetsAClientHold_tdiReturnChainedReceives()
        throws Exception {
        holdAReturnFromAnotherThreadAndResume(true);
    }

    private void holdAReturnFromAnotherThreadAndResume(boolean oneCall) throws Exception {
        TcpConfig tcpA = TcpConfig.defaults().withTimeWait(TimeUnit.MILLISECONDS.toNanos(50));
        // A receive window larger than the pool: the stack's memory budget is what stops the handover.
        TcpConfig tcpB = tcpA.withBuffers(256 * 1024, 64 << 20);
        try (TdiRig rig = new TdiRig(dir, tcpA, tcpB)) {
            Pair p = new Pair(rig);
            int perRound = 40 << 20; // well beyond what the budget lets B hold
            int tail = 4 << 20;
            Receiver r = new Receiver(2 * perRound + tail);
            p.chained((ctx, cc, flags, length, offset, tsdu) -> r.onChain(tsdu));
            p.connectAndAccept();
            rig.runFor(100);
            int baseline = rig.pool.inUseCount();
            long refusedBefore = rig.b.counters().drop(DropReason.RELEASE_REFUSED).get();
            int limit = rig.b.tcp().memoryLimitMbufs();
            ByteBuffer data = pattern(2 * perRound + tail);
            int sent = 0;
            for (int round = 0; round < 2; round++) {
                boolean virtual = round == 1;
                r.keep = true;
                r.kept.clear();
                r.keptMbufs = 0;
                int start = r.receivedLength;
                ByteBuffer chunk = data.duplicate().position(sent).limit(sent + perRound).slice();
                Req s = send(rig.tdiA, p.a, chunk, 0);
                sent += perRound;
                holdUntilStalled(rig, r);
                int chains = r.kept.size();
                int mbufs = r.keptMbufs;
                int bytes = r.receivedLength - start;
                int heldInPool = rig.pool.inUseCount() - baseline;
                System.out.printf("round %d (%s thread): B holds %d chains, %d mbufs, %d bytes; TCP budget %d mbufs,"
                        + " TCP holds %d; pool in use above baseline %d; A's send done %b%n", round,
                    virtual ? "virtual" : "plain", chains, mbufs, bytes, limit, rig.b.tcp().memoryHeldMbufs(),
                    heldInPool, s.done());
                assertTrue(!s.done() && bytes < perRound, "B's holding stopped A's data: " + bytes + " of " + perRound);
                assertTrue(chains > 64, "more held than the provider's initial TSDU pool: " + chains);
                assertTrue(mbufs >= limit * 3 / 4, "held up to the stack's memory budget: " + mbufs + " of " + limit);
                assertEquals(chains, rig.tdiB.heldChainedReceives());
                assertEquals(mbufs, rig.b.tcpService().heldDescriptors(), "every kept mbuf recorded as lent");
                assertTrue(heldInPool >= mbufs, "the kept chains hold their mbufs: " + heldInPool + " for " + mbufs);

                // Dispatch stops (the test thread is the dispatch thread and calls nothing) while another thread
                // returns every chain.
                Tsdu[] descriptors = r.kept.toArray(new Tsdu[0]);
                List<Tsdu> refused = new ArrayList<>();
                NtStatus[] status = {null};
                Runnable giveBack = oneCall
                    ? () -> status[0] = rig.tdiB.returnChainedReceives(descriptors, descriptors.length)
                    : () -> {
                        status[0] = S;
                        for (Tsdu t : descriptors) {
                            NtStatus st = rig.tdiB.returnChainedReceives(new Tsdu[] {t}, 1);
                            if (st == NtStatus.STATUS_INSUFFICIENT_RESOURCES) {
                                refused.add(t);
                            } else if (st != S) {
                                status[0] = st;
                            }
                        }
                    };
                Thread returner = virtual ? Thread.ofVirtual().unstarted(giveBack) : new Thread(giveBack);
                returner.start();
                returner.join();
                String who = virtual ? "a virtual" : "a plain";
                System.out.printf("round %d: %d of %d chains taken while dispatch was stopped%n", round,
                    chains - refused.size(), chains);
                assertEquals(S, status[0], "every chain taken back from " + who
                    + " thread");
                assertEquals(List.of(), refused, "no return refused: returns go on a stack that cannot fill");
                assertEquals(chains, rig.tdiB.heldChainedReceives(), "nothing released before dispatch resumes");
                assertEquals(mbufs, rig.b.tcpService().heldDescriptors(), "nothing reached the stack yet");
                // Every chain was taken: a second return of the first is refused.
                assertEquals(NtStatus.STATUS_INVALID_PARAMETER, rig.tdiB.returnChainedReceives(descriptors, 1),
                    "a second return is refused");

                // Dispatch resumes: the chains go back, the window opens, the rest of the round's data flows. (The
                // retry below would return refused chains; with the return stack there are none.)
                r.keep = false;
                NtStatus[] retryStatus = {S};
                Runnable retry = () -> {
                    for (Tsdu t : refused) {
                        NtStatus st;
                        while ((st = rig.tdiB.returnChainedReceives(new Tsdu[] {t}, 1))
                            == NtStatus.STATUS_INSUFFICIENT_RESOURCES) {
                            Thread.yield();
                        }
                        if (st != S) {
                            retryStatus[0] = st;
                        }
                    }
                };
                Thread retrier = virtual ? Thread.ofVirtual().unstarted(retry) : new Thread(retry);
                retrier.start();
                int end = sent;
                rig.runUntil(() -> !retrier.isAlive() && s.done() && r.receivedLength == end, 60,
                    "round " + round + ": the rest of the data after the return, received " + r.receivedLength
                        + " of " + end + ", held " + rig.tdiB.heldChainedReceives());
                assertEquals(S, retryStatus[0], "the refused chains taken on retry");
                s.assertCompleted(S);
                assertEquals(0, rig.tdiB.heldChainedReceives(), "every chain returned");
                rig.runUntil(() -> rig.b.tcpService().heldDescriptors() == 0 && rig.pool.inUseCount() <= baseline, 10,
                    "round " + round + ": mbufs back, held " + rig.b.tcpService().heldDescriptors() + ", in use "
                        + rig.pool.inUseCount() + " (baseline " + baseline + ")");
                assertEquals(refusedBefore, rig.b.counters().drop(DropReason.RELEASE_REFUSED).get(),
                    "no release refused");
            }
            // The connection still works after both rounds.
            ByteBuffer last = data.duplicate().position(sent).limit(sent + tail).slice();
            Req s = send(rig.tdiA, p.a, last, 0);
            int end = sent + tail;
            rig.runUntil(() -> s.done() && r.receivedLength == end, 30, "data after both returns");
            s.assertCompleted(S);
            for (int i = 0; i < end; i++) {
                if (r.received[i] != data.get(i)) {
                    throw new AssertionError("byte " + i + " differs: " + r.received[i] + " != " + data.get(i));
                }
            }
            assertEquals(0, rig.b.tcpService().heldDescriptors());
            assertEquals(refusedBefore, rig.b.counters().drop(DropReason.RELEASE_REFUSED).get(), "no release refused");
            assertEquals(0, rig.b.counters().drop(DropReason.TCP_EVENT_LOST).get(), "no event lost");
        } // the rig checks every mbuf went back to the pool
    }

    /**
     * Dispatches until B's handler has seen nothing new for a while: 200 ms once B holds the stack's whole TCP
     * memory budget, 1 s short of it (A's data stalls on B's holding either way).
     */
    private static void holdUntilStalled(TdiRig rig, Receiver r) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        int limit = rig.b.tcp().memoryLimitMbufs();
        int seen = -1;
        long since = System.nanoTime();
        while (true) {
            rig.runFor(20);
            long now = System.nanoTime();
            long quiet = TimeUnit.MILLISECONDS.toNanos(r.keptMbufs >= limit ? 200 : 3000);
            if (r.kept.size() != seen) {
                seen = r.kept.size();
                since = now;
            } else if (seen > 0 && now - since > quiet) {
                return;
            }
            if (now > deadline) {
                throw new AssertionError("the handover never stalled: " + seen + " chains held");
            }
        }
    }

    private static ByteBuffer pattern(int length) {
        ByteBuffer b = ByteBuffer.allocateDirect(length);
        for (int i = 0; i < length; i++) {
            b.put(i, (byte) (i * 31 + (i >>> 11)));
        }
        return b;
    }
}
