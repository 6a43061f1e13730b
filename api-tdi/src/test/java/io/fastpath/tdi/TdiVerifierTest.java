package io.fastpath.tdi;

import static io.fastpath.tdi.TdiRig.direct;
import static io.fastpath.tdi.TdiRig.send;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.provider.NtStatus;
import io.fastpath.provider.Verifier;
import io.fastpath.tdi.TdiEventTest.Pair;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.LockSupport;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Verifier mode over TDI (issue 11): TdiReturnChainedReceives poisons the chain's bytes, a chain kept too long and
 * a slow chained receive handler are reported, and ordinary use reports nothing. Runs in the "verify" surefire
 * execution only (-Dfastpath.verify=true, holdMs=200, handlerUs=20000: see the pom).
 */
@Tag("verify")
class TdiVerifierTest {
    private static final NtStatus S = NtStatus.STATUS_SUCCESS;
    private static final NtStatus PENDING = NtStatus.STATUS_PENDING;

    @TempDir
    Path dir;

    private final List<String> reports = new ArrayList<>();

    @BeforeEach
    void recordReports() {
        Verifier.sink((kind, message) -> {
            synchronized (reports) {
                reports.add(kind + ": " + message);
            }
        });
    }

    @AfterEach
    void restoreSink() {
        Verifier.sink(null);
    }

    private List<String> reportsOf(Verifier.Report kind, String containing) {
        List<String> out = new ArrayList<>();
        synchronized (reports) {
            for (String r : reports) {
                if (r.startsWith(kind + ":") && r.contains(containing)) {
                    out.add(r);
                }
            }
        }
        return out;
    }

    private void assertNoMisuseReported() {
        assertEquals(List.of(), reportsOf(Verifier.Report.SECOND_COMPLETION, ""));
        assertEquals(List.of(), reportsOf(Verifier.Report.NEVER_COMPLETED, ""));
    }

    private static String text(List<Tsdu> kept) {
        StringBuilder b = new StringBuilder();
        for (Tsdu t : kept) {
            b.append(new String(t.toByteArray(), StandardCharsets.US_ASCII));
        }
        return b.toString();
    }

    @Test
    void afterTdiReturnChainedReceivesTheChainsBytesReadAsPoison() {
        try (TdiRig rig = new TdiRig(dir)) {
            assertTrue(Verifier.ENABLED, "the verify execution runs with -Dfastpath.verify=true");
            Pair p = new Pair(rig);
            List<Tsdu> kept = new ArrayList<>();
            p.chained((ctx, cc, flags, length, offset, tsdu) -> {
                kept.add(tsdu);
                return PENDING;
            });
            p.connectAndAccept();
            Req s = send(rig.tdiA, p.a, direct("chained bytes"), 0);
            rig.runUntil(() -> s.done() && text(kept).length() == 13, 10, "kept");
            assertEquals("chained bytes", text(kept));
            List<UnsafeBuffer> lent = new ArrayList<>();
            for (Tsdu t : kept) {
                for (int i = 0; i < t.segmentCount(); i++) {
                    lent.add(new UnsafeBuffer(t.segmentAddress(i), t.segmentLength(i)));
                }
            }
            long poisoned = Verifier.count(Verifier.Report.POISONED);
            Tsdu[] descriptors = kept.toArray(new Tsdu[0]);
            assertEquals(S, rig.tdiB.returnChainedReceives(descriptors, descriptors.length));
            // Read at once, as a client using a chain after returning it would: 0xDB, not the next packet's bytes.
            int bytes = 0;
            for (UnsafeBuffer b : lent) {
                for (int i = 0; i < b.capacity(); i++) {
                    assertEquals(Verifier.POISON, b.getByte(i), "byte " + i + " of a returned segment");
                    bytes++;
                }
            }
            assertEquals(13, bytes);
            assertEquals(poisoned + lent.size(), Verifier.count(Verifier.Report.POISONED));
            assertEquals(List.of(), reportsOf(Verifier.Report.HELD_TOO_LONG, ""), "returned in time");
            assertNoMisuseReported();
        }
    }

    /**
     * A chain returned after the provider closed goes straight to the stack and is not poisoned: the client's
     * close may take the mbufs back (and the pool lend them to another connection) at any moment, so a
     * poison there could write over another connection's data. Here the return comes from a send's completion
     * routine that runs inside close(), after the provider is closed but before its stack client is: the old
     * check (poison while the client is open) poisoned it, and nothing but the check stood between the poison
     * and a close on another thread.
     */
    @Test
    void aChainReturnedAfterTheProviderClosedIsNotPoisoned() {
        try (TdiRig rig = new TdiRig(dir)) {
            Pair p = new Pair(rig);
            List<Tsdu> kept = new ArrayList<>();
            p.chained((ctx, cc, flags, length, offset, tsdu) -> {
                kept.add(tsdu);
                return PENDING;
            });
            p.connectAndAccept();
            Req s = send(rig.tdiA, p.a, direct("chained bytes"), 0);
            rig.runUntil(() -> s.done() && text(kept).length() == 13, 10, "kept");
            List<UnsafeBuffer> lent = new ArrayList<>();
            for (Tsdu t : kept) {
                for (int i = 0; i < t.segmentCount(); i++) {
                    lent.add(new UnsafeBuffer(t.segmentAddress(i), t.segmentLength(i)));
                }
            }
            Tsdu[] descriptors = kept.toArray(new Tsdu[0]);
            List<String> seen = new ArrayList<>();
            Irp big = new Irp();
            ByteBuffer data = ByteBuffer.allocateDirect(1 << 20); // still in the stack when close() starts
            TdiBuild.send(big, p.b, (irp, context) -> {
                seen.add("closed " + rig.tdiB.isClosed() + ", client open " + rig.tdiB.tcp.isOpen());
                seen.add("return " + rig.tdiB.returnChainedReceives(descriptors, descriptors.length));
            }, null, TdiRig.addressOf(data), 0, data.capacity());
            rig.tdiB.callDriver(big);
            long poisoned = Verifier.count(Verifier.Report.POISONED);
            rig.tdiB.close();
            assertEquals(List.of("closed true, client open true", "return " + S), seen,
                "returned inside close(), after the provider closed, before its stack client did");
            StringBuilder b = new StringBuilder();
            for (UnsafeBuffer u : lent) {
                b.append(u.getStringWithoutLengthAscii(0, u.capacity()));
            }
            assertEquals("chained bytes", b.substring(kept.get(0).startingOffset()), "not poisoned");
            assertEquals(poisoned, Verifier.count(Verifier.Report.POISONED));
            assertEquals(0, rig.tdiB.heldChainedReceives());
            assertNoMisuseReported();
            Reference.reachabilityFence(data); // the send's memory, read by address until the close
        }
    }

    @Test
    void aChainKeptLongerThanTheThresholdIsReportedOnce() {
        try (TdiRig rig = new TdiRig(dir)) {
            Pair p = new Pair(rig);
            List<Tsdu> kept = new ArrayList<>();
            p.chained((ctx, cc, flags, length, offset, tsdu) -> {
                kept.add(tsdu);
                return PENDING;
            });
            p.connectAndAccept();
            Req s = send(rig.tdiA, p.a, direct("kept"), 0);
            rig.runUntil(() -> s.done() && kept.size() == 1, 10, "kept");
            String chain = Verifier.describe(kept.get(0));
            rig.runUntil(() -> !reportsOf(Verifier.Report.HELD_TOO_LONG, chain).isEmpty(), 5, "the hold reported");
            assertTrue(reportsOf(Verifier.Report.HELD_TOO_LONG, chain).get(0).contains("TDI chained receive TSDU"));
            rig.runFor(3 * Verifier.HOLD_NS / 1_000_000);
            assertEquals(1, reportsOf(Verifier.Report.HELD_TOO_LONG, chain).size(), "once per chain");
            assertEquals(S, rig.tdiB.returnChainedReceives(new Tsdu[] {kept.get(0)}, 1));
            assertNoMisuseReported();
        }
    }

    /** A chained receive handler that blocks the dispatch thread. */
    static final class SlowChainedHandler implements TdiEvents.ClientEventChainedReceive {
        int calls;

        @Override
        public NtStatus clientEventChainedReceive(Object tdiEventContext, Object connectionContext, int receiveFlags,
                                             int receiveLength, int startingOffset, Tsdu tsdu) {
            calls++;
            LockSupport.parkNanos(Verifier.HANDLER_NS + 30_000_000L);
            return S;
        }
    }

    @Test
    void aSlowChainedReceiveHandlerIsReportedWithItsClass() {
        try (TdiRig rig = new TdiRig(dir)) {
            Pair p = new Pair(rig);
            SlowChainedHandler h = new SlowChainedHandler();
            p.chained(h);
            p.connectAndAccept();
            Req s = send(rig.tdiA, p.a, direct("slow"), 0);
            rig.runUntil(() -> s.done() && h.calls > 0, 10, "indication");
            List<String> slow = reportsOf(Verifier.Report.SLOW_HANDLER, SlowChainedHandler.class.getName());
            assertEquals(h.calls, slow.size(), reports.toString());
            assertTrue(slow.get(0).contains("ClientEventChainedReceive"), slow.get(0));
            assertNoMisuseReported();
        }
    }
}
