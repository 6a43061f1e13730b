package io.fastpath.tdi;

import io.fastpath.provider.NtStatus;
import static io.fastpath.tdi.TdiRig.connect;
import static io.fastpath.tdi.TdiRig.endpoint;
import static io.fastpath.tdi.TdiRig.setEvent;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayDeque;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The steady path allocates nothing: once endpoints, IRPs and pools exist and have warmed up, 64 KiB round trips
 * (TDI_SEND on A; ClientEventChainedReceive on B kept PENDING and echoed with TDI_SEND straight from the mbufs,
 * then TdiReturnChainedReceives; ClientEventChainedReceive on A consuming with SUCCESS) allocate 0 bytes on the
 * dispatch thread that runs both providers.
 */
class TdiSteadyStateTest {
    private static final NtStatus S = NtStatus.STATUS_SUCCESS;
    private static final int SIZE = 64 * 1024;

    @TempDir
    Path dir;

    /** B's echo: a fixed pool of send IRPs, each remembering the chain it sends from. */
    static final class Echo implements TdiEvents.ClientEventChainedReceive {
        final TdiProvider tdi;
        TdiConnection endpoint;
        final ArrayDeque<Slot> free = new ArrayDeque<>();
        final ArrayDeque<Chain> chains = new ArrayDeque<>();
        int failures;

        final class Chain {
            final Tsdu[] tsdu = new Tsdu[1];
            int outstanding;
        }

        final class Slot {
            final Irp irp = new Irp();
            Chain chain;
            final IoCompletionRoutine routine = (irp, context) -> {
                if (irp.ioStatus().status() != S) {
                    failures++;
                }
                Chain c = chain;
                chain = null;
                free.add(this);
                if (--c.outstanding == 0) {
                    tdi.returnChainedReceives(c.tsdu, 1);
                    c.tsdu[0] = null;
                    chains.add(c);
                }
            };
        }

        Echo(TdiProvider tdi) {
            this.tdi = tdi;
            for (int i = 0; i < 512; i++) {
                free.add(new Slot());
                chains.add(new Chain());
            }
        }

        @Override
        public NtStatus clientEventChainedReceive(Object ctx, Object cc, int flags, int length, int offset, Tsdu tsdu) {
            Chain c = chains.poll();
            c.tsdu[0] = tsdu;
            c.outstanding = 1; // held until the loop below is done
            int skip = offset;
            for (int i = 0; i < tsdu.segmentCount(); i++) {
                int n = tsdu.segmentLength(i) - skip;
                long at = tsdu.segmentAddress(i) + skip;
                skip = Math.max(0, skip - tsdu.segmentLength(i));
                if (n > 0) {
                    Slot s = free.poll();
                    s.chain = c;
                    c.outstanding++;
                    tdi.callDriver(TdiBuild.send(s.irp, endpoint, s.routine, null, at, 0, n));
                }
            }
            if (--c.outstanding == 0) {
                tdi.returnChainedReceives(c.tsdu, 1);
                chains.add(c);
            }
            return NtStatus.STATUS_PENDING;
        }
    }

    @Test
    void steadyStateRoundTripsAllocateNothingOnTheDispatchThread() {
        com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        try (TdiRig rig = new TdiRig(dir)) {
            TdiAddress addressB = rig.tdiB.openAddress(0, 5300);
            TdiAddress addressA = rig.tdiA.openAddress(0, 0);
            Echo echo = new Echo(rig.tdiB);
            echo.endpoint = endpoint(rig.tdiB, addressB, "b");
            setEvent(rig.tdiB, addressB, Tdi.TDI_EVENT_CHAINED_RECEIVE, echo, null).assertInline(S);
            long[] got = {0};
            setEvent(rig.tdiA, addressA, Tdi.TDI_EVENT_CHAINED_RECEIVE,
                (TdiEvents.ClientEventChainedReceive) (ctx, cc, flags, length, offset, tsdu) -> {
                    got[0] += length;
                    return S;
                }, null).assertInline(S);
            TdiConnection a = endpoint(rig.tdiA, addressA, "a");
            Req listen = TdiRig.listen(rig.tdiB, echo.endpoint, 0, null);
            rig.runUntil(() -> addressB.listenState == 2, 5, "listening");
            Req c = connect(rig.tdiA, a, TdiRig.B_IP, 5300, 0, null);
            rig.runUntil(() -> c.done() && listen.done(), 10, "connected");
            c.assertCompleted(S);

            ByteBuffer out = ByteBuffer.allocateDirect(SIZE);
            long outAddress = TdiRig.addressOf(out);
            Irp send = new Irp();
            int[] sendFailures = {0};
            IoCompletionRoutine sent = (irp, context) -> {
                if (irp.ioStatus().status() != S) {
                    sendFailures[0]++;
                }
            };
            int[] done = {0};
            // Warm-up (300 rounds), then three measured windows of 300 rounds. A per-request or per-packet
            // allocation would show in every window (300 rounds x even 8 bytes = 2,400 bytes); the JVM itself
            // sometimes allocates a one-off 216 bytes on this thread while the JIT recompiles a hot method late
            // (seen under load, at a VarHandle call site), so one window must be exactly 0 and none may exceed
            // 1 KiB.
            long[] windows = new long[3];
            for (int phase = 0; phase < 4; phase++) {
                long before = threads.getCurrentThreadAllocatedBytes();
                for (int i = 0; i < 300; i++) {
                    got[0] = 0;
                    rig.tdiA.callDriver(TdiBuild.send(send, a, sent, null, outAddress, 0, SIZE));
                    long deadline = System.nanoTime() + 10_000_000_000L;
                    while (got[0] < SIZE || !send.completed()) {
                        if (System.nanoTime() > deadline) {
                            throw new AssertionError("round trip " + i + " not done in 10 s");
                        }
                        if (rig.dispatch() == 0) {
                            Thread.onSpinWait();
                        }
                    }
                    done[0]++;
                }
                long allocated = threads.getCurrentThreadAllocatedBytes() - before;
                if (phase > 0) {
                    windows[phase - 1] = allocated;
                }
            }
            System.out.printf("3 x 300 round trips of 64 KiB through TDI: %s bytes allocated on the dispatch thread%n",
                java.util.Arrays.toString(windows));
            long min = Math.min(windows[0], Math.min(windows[1], windows[2]));
            long max = Math.max(windows[0], Math.max(windows[1], windows[2]));
            assertEquals(0, min, "no allocation per request or per packet: " + java.util.Arrays.toString(windows));
            assertTrue(max < 1024, "no allocation per request or per packet: " + java.util.Arrays.toString(windows));
            assertEquals(0, sendFailures[0]);
            assertEquals(0, echo.failures);
            assertEquals(0, rig.tdiB.heldChainedReceives());
            assertEquals(1200, done[0]);
            Reference.reachabilityFence(out); // the sends read it by address until here
        }
    }
}
