package io.fastpath.tdi;

import static io.fastpath.tdi.TdiRig.direct;
import static io.fastpath.tdi.TdiRig.send;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.provider.NtStatus;
import io.fastpath.tdi.TdiEventTest.Pair;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A chained receive's buffers as {@link MemorySegment}s (issue 11, "TDI buffers as MemorySegment"): bounds
 * checked, read-only, and closed when the chain goes back, so a read after TdiReturnChainedReceives (or after a
 * handler that did not keep the chain returned) throws {@link IllegalStateException} instead of reading an mbuf
 * the stack may have handed to the next packet.
 */
class TsduSegmentTest {
    @TempDir
    Path dir;

    private static String text(Tsdu t) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < t.segmentCount(); i++) {
            MemorySegment s = t.segment(i);
            assertEquals(t.segmentLength(i), s.byteSize());
            byte[] bytes = new byte[(int) s.byteSize()];
            MemorySegment.copy(s, ValueLayout.JAVA_BYTE, 0, bytes, 0, bytes.length);
            b.append(new String(bytes, StandardCharsets.US_ASCII));
        }
        return b.substring(t.startingOffset());
    }

    @Test
    void aKeptChainsSegmentsCloseWhenReturned_tdiReturnChainedReceives() {
        try (TdiRig rig = new TdiRig(dir)) {
            Pair p = new Pair(rig);
            List<Tsdu> kept = new ArrayList<>();
            List<MemorySegment> segments = new ArrayList<>();
            List<String> seen = new ArrayList<>();
            p.chained((ctx, cc, flags, length, offset, tsdu) -> {
                seen.add(text(tsdu));
                kept.add(tsdu);
                segments.add(tsdu.segment(0));
                return NtStatus.STATUS_PENDING;
            });
            p.connectAndAccept();
            send(rig.tdiA, p.a, direct("segment, not address"), 0);
            rig.runUntil(() -> !kept.isEmpty(), 10, "kept chain");
            assertEquals(List.of("segment, not address"), seen);
            Tsdu t = kept.get(0);
            MemorySegment s = segments.get(0);
            assertSame(s, t.segment(0), "one segment per lending, not one per call");
            assertTrue(s.isReadOnly(), "a chained receive is read-only");
            assertThrows(IndexOutOfBoundsException.class, () -> s.get(ValueLayout.JAVA_BYTE, s.byteSize()),
                "bounds checked");
            assertThrows(IllegalArgumentException.class, () -> s.set(ValueLayout.JAVA_BYTE, 0, (byte) 1),
                "writes refused");
            assertEquals('s', (char) s.get(ValueLayout.JAVA_BYTE, t.startingOffset()), "still held: readable");

            assertEquals(NtStatus.STATUS_SUCCESS, rig.tdiB.returnChainedReceives(new Tsdu[] {t}, 1));

            assertFalse(s.scope().isAlive(), "the returned chain's segment is closed");
            assertThrows(IllegalStateException.class, () -> s.get(ValueLayout.JAVA_BYTE, 0),
                "a read after TdiReturnChainedReceives throws");
            assertThrows(IllegalStateException.class, () -> t.segment(0), "no new segment of a returned chain");
            assertThrows(IllegalStateException.class, () -> t.getBytes(0, new byte[1], 0, 1));
            rig.runUntil(() -> rig.tdiB.heldChainedReceives() == 0, 10, "returned");
        } // the rig checks every mbuf went back to the pool
    }

    @Test
    void aChainNotKeptIsClosedWhenTheHandlerReturns_clientEventChainedReceive() {
        try (TdiRig rig = new TdiRig(dir)) {
            Pair p = new Pair(rig);
            List<MemorySegment> lent = new ArrayList<>();
            List<Tsdu> tsdus = new ArrayList<>();
            p.chained((ctx, cc, flags, length, offset, tsdu) -> {
                MemorySegment s = tsdu.segment(0);
                s.get(ValueLayout.JAVA_BYTE, 0); // valid during the call
                lent.add(s);
                tsdus.add(tsdu);
                return NtStatus.STATUS_SUCCESS; // consumed: the buffers go back at once
            });
            p.connectAndAccept();
            send(rig.tdiA, p.a, direct("lent for the call"), 0);
            rig.runUntil(() -> !lent.isEmpty(), 10, "indication");
            MemorySegment s = lent.get(0);
            assertThrows(IllegalStateException.class, () -> s.get(ValueLayout.JAVA_BYTE, 0),
                "a read after the handler returned throws");
            assertThrows(IllegalStateException.class, () -> tsdus.get(0).segment(0));
        }
    }

    @Test
    void aSegmentReadOnAnotherThreadAfterTheReturnThrows() throws Exception {
        try (TdiRig rig = new TdiRig(dir)) {
            Pair p = new Pair(rig);
            List<Tsdu> kept = new ArrayList<>();
            p.chained((ctx, cc, flags, length, offset, tsdu) -> {
                kept.add(tsdu);
                return NtStatus.STATUS_PENDING;
            });
            p.connectAndAccept();
            send(rig.tdiA, p.a, direct("shared"), 0);
            rig.runUntil(() -> !kept.isEmpty(), 10, "kept chain");
            Tsdu t = kept.get(0);
            MemorySegment s = t.segment(0); // made on this (the dispatch) thread, read on another
            Throwable[] seen = new Throwable[2];
            Thread reader = new Thread(() -> {
                s.get(ValueLayout.JAVA_BYTE, 0); // held: fine from any thread
                rig.tdiB.returnChainedReceives(new Tsdu[] {t}, 1); // returned from this thread
                try {
                    s.get(ValueLayout.JAVA_BYTE, 0);
                } catch (Throwable e) {
                    seen[0] = e;
                }
            });
            reader.start();
            reader.join();
            assertTrue(seen[0] instanceof IllegalStateException, "read after return on the returning thread: "
                + seen[0]);
            assertThrows(IllegalStateException.class, () -> s.get(ValueLayout.JAVA_BYTE, 0), "and on this one");
            rig.runUntil(() -> rig.tdiB.heldChainedReceives() == 0, 10, "returned");
        }
    }

    /**
     * A handler that asks only for segment 1 (startingOffset past segment 0) must not leave that segment behind
     * in the pooled descriptor: the next lending would hand out the old, closed segment, its reads would throw
     * and the indication would end as STATUS_DATA_NOT_ACCEPTED. The descriptor alone, over memory of the test's.
     */
    @Test
    void aSegmentMadeOnlyPastTheFirstIsNotHandedOutAgainByTheNextLending() {
        try (Arena memory = Arena.ofConfined()) {
            MemorySegment first = memory.allocate(16);
            MemorySegment second = memory.allocate(16);
            second.set(ValueLayout.JAVA_BYTE, 0, (byte) 'x');
            Tsdu t = new Tsdu();
            t.add(0, first.address(), 16);
            t.add(0, second.address(), 16);
            t.state(Tsdu.INDICATED);
            MemorySegment old = t.segment(1); // segment 0 never asked for
            t.closeSegments(); // the handler returned STATUS_SUCCESS: the chain goes back
            t.clear();

            t.add(0, second.address(), 16);
            t.add(0, first.address(), 16);
            t.state(Tsdu.INDICATED);
            MemorySegment now = t.segment(1);
            assertNotSame(old, now, "a new lending makes its own segment");
            assertTrue(now.scope().isAlive(), "the new lending's segment is open");
            assertEquals(first.address(), now.address(), "over this lending's memory");
            assertEquals('x', (char) t.segment(0).get(ValueLayout.JAVA_BYTE, 0));
            t.closeSegments();
            t.clear();
        }
    }

    /**
     * The same through the provider: data queued while no chained receive handler is set goes to the next
     * indication as one chain of several mbufs; the handler reads only the last one. Twice, so the second chain
     * lends the descriptor the first one used.
     */
    @Test
    void aHandlerReadingOnlyTheLastSegmentKeepsReceiving_clientEventChainedReceive() {
        try (TdiRig rig = new TdiRig(dir)) {
            Pair p = new Pair(rig);
            List<String> seen = new ArrayList<>();
            List<Integer> counts = new ArrayList<>();
            long[] received = {0};
            TdiEvents.ClientEventChainedReceive lastOnly = (ctx, cc, flags, length, offset, tsdu) -> {
                received[0] += length;
                int last = tsdu.segmentCount() - 1;
                MemorySegment s = tsdu.segment(last);
                byte[] bytes = new byte[(int) s.byteSize()];
                MemorySegment.copy(s, ValueLayout.JAVA_BYTE, 0, bytes, 0, bytes.length);
                seen.add(new String(bytes, StandardCharsets.US_ASCII));
                counts.add(tsdu.segmentCount());
                return NtStatus.STATUS_SUCCESS;
            };
            p.connectAndAccept();
            long total = 0;
            for (int round = 0; round < 2; round++) {
                TdiRig.setEvent(rig.tdiB, p.addressB, Tdi.TDI_EVENT_CHAINED_RECEIVE, null, null)
                    .assertInline(NtStatus.STATUS_SUCCESS); // no handler: what arrives waits
                Req r = send(rig.tdiA, p.a, direct("q".repeat(4000)), 0); // three MSS-sized mbufs
                rig.runUntil(r::done, 10, "queued at B");
                r.assertCompleted(NtStatus.STATUS_SUCCESS);
                rig.runFor(50);
                p.chained(lastOnly);
                send(rig.tdiA, p.a, direct("!"), 0); // its arrival indicates everything queued, as one chain
                total += 4001;
                long expected = total;
                rig.runUntil(() -> received[0] == expected, 10, "round " + round); // fails on the handler's error
                assertEquals("!", seen.get(seen.size() - 1), "the last segment: the byte sent last");
            }
            assertEquals(2, counts.size(), "one chain a round: " + counts);
            assertTrue(counts.get(0) > 1 && counts.get(1) > 1, "chains of several mbufs: " + counts);
        }
    }
}
