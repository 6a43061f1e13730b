package io.fastpath.wsk;

import static io.fastpath.wsk.Wsk.SOL_SOCKET;
import static io.fastpath.wsk.Wsk.SO_WSK_EVENT_CALLBACK;
import static io.fastpath.wsk.Wsk.WSK_EVENT_RECEIVE;
import static io.fastpath.wsk.Wsk.WskSetOption;
import static io.fastpath.wsk.WskTestSockets.connect;
import static io.fastpath.wsk.WskTestSockets.send;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.provider.NtStatus;
import io.fastpath.provider.Verifier;
import io.fastpath.wsk.WskReceiveEventTest.Recorder;
import io.fastpath.wsk.WskTestSockets.Connected;
import io.fastpath.wsk.WskTestSockets.Receive;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.LockSupport;
import io.fastpath.provider.SizeT;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Verifier mode over WSK (issue 11): WskRelease poisons the chain's bytes, a chain kept too long and a slow
 * WskReceiveEvent are reported, and ordinary use reports nothing. Runs in the "verify" surefire execution only
 * (-Dfastpath.verify=true, holdMs=200, handlerUs=20000: see the pom).
 */
@Tag("verify")
class WskVerifierTest {
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

    private static void enableReceiveEvent(WskSocket s) {
        Call c = new Call();
        c.assertInline(s.controlSocket(WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, WSK_EVENT_RECEIVE, c.irp()), S);
    }

    @Test
    void afterWskReleaseTheIndicationsBytesReadAsPoison() {
        try (RingRig rig = new RingRig(dir)) {
            assertTrue(Verifier.ENABLED, "the verify execution runs with -Dfastpath.verify=true");
            Recorder r = new Recorder();
            r.answer = PENDING;
            Connected p = connect(rig, 7, r, null);
            enableReceiveEvent(p.client());
            send(rig, p.server(), "hello ");
            send(rig, p.server(), "world");
            rig.runUntil(() -> r.text.length() == 11, 5, "indications");
            assertEquals("hello world", r.text.toString());
            List<UnsafeBuffer> lent = new ArrayList<>();
            for (WskDataIndication chain : r.kept) {
                for (WskDataIndication i = chain; i != null; i = i.next()) {
                    WskBuf b = i.buffer();
                    lent.add(new UnsafeBuffer(b.address() + b.offset(), b.length()));
                }
            }
            long poisoned = Verifier.count(Verifier.Report.POISONED);
            for (WskDataIndication chain : r.kept) {
                assertEquals(S, p.client().release(chain), "WskRelease");
            }
            // Read at once, as a client using a chain after WskRelease would: 0xDB, not the next packet's bytes.
            int bytes = 0;
            for (UnsafeBuffer b : lent) {
                for (int i = 0; i < b.capacity(); i++) {
                    assertEquals(Verifier.POISON, b.getByte(i), "byte " + i + " of a released link");
                    bytes++;
                }
            }
            assertEquals(11, bytes);
            assertEquals(poisoned + lent.size(), Verifier.count(Verifier.Report.POISONED));
            // The connection goes on: new data arrives intact.
            r.answer = S;
            send(rig, p.server(), "again");
            rig.runUntil(() -> r.text.length() == 16, 5, "after the release");
            assertEquals("hello worldagain", r.text.toString());
            assertEquals(List.of(), reportsOf(Verifier.Report.HELD_TOO_LONG, ""), "released in time");
            assertNoMisuseReported();
        }
    }

    @Test
    void receivedBytesAreNotPoisonedBeforeTheyAreConsumed() {
        try (RingRig rig = new RingRig(dir)) {
            Connected p = connect(rig, 7, null, null);
            send(rig, p.server(), "copied out intact");
            Receive rx = new Receive(p.client(), 64, 0);
            rig.runUntil(rx.call::done, 5, "receive");
            assertEquals("copied out intact", rx.text(), "the copy is taken before the descriptor is poisoned");
            assertNoMisuseReported();
        }
    }

    @Test
    void aChainKeptLongerThanTheThresholdIsReportedOnce() {
        try (RingRig rig = new RingRig(dir)) {
            Recorder r = new Recorder();
            r.answer = PENDING;
            Connected p = connect(rig, 7, r, null);
            enableReceiveEvent(p.client());
            send(rig, p.server(), "kept");
            rig.runUntil(() -> r.kept.size() == 1, 5, "indication");
            String chain = Verifier.describe(r.kept.get(0));
            rig.runUntil(() -> !reportsOf(Verifier.Report.HELD_TOO_LONG, chain).isEmpty(),
                5, "the hold reported");
            assertTrue(reportsOf(Verifier.Report.HELD_TOO_LONG, chain).get(0).contains("WSK data indication chain"));
            rig.runFor(3 * Verifier.HOLD_NS / 1_000_000);
            assertEquals(1, reportsOf(Verifier.Report.HELD_TOO_LONG, chain).size(), "once per chain");
            assertEquals(S, p.client().release(r.kept.get(0)));
            assertNoMisuseReported();
        }
    }

    /** A receive event handler that blocks the dispatch thread. */
    static final class SlowReceiveHandler implements WskClientConnectionDispatch {
        int events;

        @Override
        public NtStatus wskReceiveEvent(Object socketContext, int flags, WskDataIndication dataIndication,
                                   long bytesIndicated, SizeT bytesAccepted) {
            events++;
            LockSupport.parkNanos(Verifier.HANDLER_NS + 30_000_000L);
            return S;
        }

        @Override
        public NtStatus wskDisconnectEvent(Object socketContext, int flags) {
            return S;
        }
    }

    @Test
    void aSlowReceiveEventIsReportedWithTheHandlersClass() {
        try (RingRig rig = new RingRig(dir)) {
            SlowReceiveHandler h = new SlowReceiveHandler();
            Connected p = connect(rig, 7, h, null);
            enableReceiveEvent(p.client());
            send(rig, p.server(), "slow");
            rig.runUntil(() -> h.events > 0, 5, "indication");
            List<String> slow = reportsOf(Verifier.Report.SLOW_HANDLER, SlowReceiveHandler.class.getName());
            assertEquals(h.events, slow.size(), reports.toString());
            assertTrue(slow.get(0).contains("WskReceiveEvent"), slow.get(0));
            assertNoMisuseReported();
        }
    }

    @Test
    void closeCompletesPendingIrpsSoNoneIsReportedNeverCompleted() {
        Receive rx;
        try (RingRig rig = new RingRig(dir)) {
            Connected p = connect(rig, 7, null, null);
            rx = new Receive(p.client(), 64, 0);
            assertEquals(PENDING, rx.returned);
        }
        assertTrue(rx.call.done(), "WskDeregister cancelled the receive");
        assertNoMisuseReported();
    }
}
