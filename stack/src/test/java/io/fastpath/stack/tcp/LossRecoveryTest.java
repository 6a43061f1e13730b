package io.fastpath.stack.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Loss recovery clause by clause (RFC 6675, RFC 8985, RFC 6937, RFC 2883/3708, RFC 6298 §3), on one TcpLayer
 * driven by {@link TcpRig}: crafted ACK sequences on a stepped clock, so every outcome is exact. Segments are
 * 1000 bytes (the peer's MSS); "segment i" is [1000 i, 1000 (i + 1)) relative to the first data byte; the
 * initial window is 10 segments.
 */
class LossRecoveryTest {
    private static final int MSS = TcpRig.PEER_MSS;
    private static final long US = 1_000;
    private static final long MS = 1_000_000;

    @TempDir
    Path dir;
    private TcpRig rig;

    @AfterEach
    void down() {
        if (rig != null) {
            rig.close();
            assertEquals(0, rig.buffersInUse(), "every buffer returned");
        }
    }

    private TcpRig rig() {
        rig = new TcpRig(dir, TcpConfig.defaults().withOptions(false, true, true)).connect();
        return rig;
    }

    private static int seg(int i) {
        return i * MSS;
    }

    /** Ten segments out at t0, then 100 µs pass (RACK's RTT). */
    private TcpRig tenSegmentsOut() {
        TcpRig r = rig();
        r.write(10 * MSS);
        assertEquals(10, r.data().size(), "the initial window: ten segments");
        r.clear();
        r.step(100 * US);
        return r;
    }

    @Test
    void isLostNeedsDupThreshSackedSegmentsAbove_rfc6675_s4() {
        TcpRig r = tenSegmentsOut();
        SendScoreboard board = r.recovery().board;
        r.ack(0, seg(1), seg(3)); // two segments SACKed above segment 0
        assertFalse(board.isLost(r.abs(seg(0))), "two SACKed segments above: not lost yet");
        assertEquals(0, r.timesSent(seg(0)), "no retransmission on two");
        r.ack(0, seg(1), seg(4)); // the third
        assertTrue(board.isLost(r.abs(seg(0))), "DupThresh (3) SACKed segments above: lost");
        assertFalse(board.isLost(r.abs(seg(4))), "nothing SACKed above segment 4");
        assertEquals(1, r.timesSent(seg(0)), "retransmitted at once, with no timer");
        assertTrue(r.c.inRecovery);
        assertEquals(1, r.counters().tcpFastRetransmits.get());
    }

    @Test
    void isLostCountsSackedBytesBeyondDupThreshMinusOneSmss_rfc6675_s4() {
        // Unit test on the scoreboard: five 600-byte segments; two SACKed ones above (1200 bytes) are not
        // enough, but with SMSS 500 they are more than (DupThresh - 1) * SMSS = 1000 bytes.
        SendScoreboard board = new SendScoreboard(64);
        board.reset(0);
        for (int i = 0; i < 5; i++) {
            board.onSend(600 * i, 600 * (i + 1), 0);
        }
        board.sack(600 * 3, 600 * 5, 10);
        board.smss = 1460;
        assertFalse(board.isLost(0), "two segments and 1200 bytes SACKed, SMSS 1460");
        board.smss = 500;
        assertTrue(board.isLost(0), "1200 > 2 * 500 SACKed bytes above");
        assertFalse(board.isLost(600 * 3), "SACKed itself");
    }

    @Test
    void nextSegRetransmitsLostHolesInOrderSkippingSackedData_rfc6675_s4_rule1() {
        TcpRig r = tenSegmentsOut();
        // Holes at 0, 2 and 4; 1, 3, 5..9 SACKed: IsLost holds for all three holes.
        r.ack(0, seg(5), seg(10), seg(1), seg(2), seg(3), seg(4));
        assertEquals(1, r.timesSent(seg(0)), r.data().toString());
        assertEquals(1, r.timesSent(seg(2)));
        assertEquals(1, r.timesSent(seg(4)));
        for (int i : new int[] {1, 3, 5, 6, 7, 8, 9}) {
            assertEquals(0, r.timesSent(seg(i)), "SACKed segment " + i + " is not sent again");
        }
        assertEquals(seg(0), r.data().getFirst().seq(), "the lowest hole first");
    }

    @Test
    void nextSegSendsNewDataBeforeUnsackedSegmentsNotYetLost_rfc6675_s4_rule2() {
        TcpRig r = tenSegmentsOut();
        r.write(10 * MSS); // data waiting
        r.clear();
        r.ack(0, seg(2), seg(5)); // 0 and 1 unSACKed; IsLost for both; 5..9 neither SACKed nor lost
        assertEquals(1, r.timesSent(seg(0)));
        assertEquals(1, r.timesSent(seg(1)));
        for (int i = 5; i < 10; i++) {
            assertEquals(0, r.timesSent(seg(i)), "segment " + i + " is not lost: not retransmitted");
        }
        r.ack(0, seg(2), seg(7));
        assertTrue(r.data().stream().anyMatch(s -> s.seq() >= seg(10)), "new data follows (rule 2): " + r.data());
    }

    @Test
    void nextSegRule3AndSetPipeOnTheScoreboard_rfc6675_s4() {
        // Segments 0..9 of 1000 bytes; 1..3 and 5 SACKed: segment 0 IsLost (four SACKed above), segment 4 not
        // (one above).
        SendScoreboard board = new SendScoreboard(64);
        board.reset(0);
        board.smss = MSS;
        for (int i = 0; i < 10; i++) {
            board.onSend(seg(i), seg(i + 1), 0);
        }
        assertEquals(seg(10), board.pipe(), "SetPipe: everything in flight");
        board.sack(seg(1), seg(4), 10);
        board.sack(seg(5), seg(6), 10);
        assertEquals(1, board.markLostBySack());
        assertEquals(0, board.nextLost(), "rule 1: segment 0");
        assertEquals(4, board.nextUnsackedBelowHighestSack(), "rule 3: segment 4, below the highest SACK, not lost");
        // SetPipe: 4 and 6..9 count once; 0 is lost and not resent: 5 segments.
        assertEquals(seg(5), board.pipe());
        board.onRetransmit(seg(0), seg(1), 20);
        assertEquals(seg(6), board.pipe(), "a resent lost segment counts once (S1 <= HighRxt)");
        board.onRetransmit(seg(4), seg(5), 20);
        assertEquals(seg(7), board.pipe(), "a resent segment not deemed lost counts twice (RFC 6675 §4 SetPipe)");
        assertEquals(-1, board.nextUnsackedBelowHighestSack(), "rule 3 does not resend it again");
        assertEquals(-1, board.nextLost());
    }

    @Test
    void nextSegRescueRetransmitsTheHighestUnsackedSegmentOnce_rfc6675_s4_rule4() {
        TcpRig r = tenSegmentsOut();
        r.ack(0, seg(1), seg(4)); // segment 0 lost; 4..9 outstanding, nothing new to send
        assertEquals(1, r.timesSent(seg(0)));
        r.step(50 * US);
        r.ack(seg(4)); // a partial ACK: the retransmission arrived; 4..9 are neither SACKed nor lost
        assertEquals(1, r.timesSent(seg(9)), "rule 4: the highest unSACKed segment once: " + r.data());
        r.step(50 * US);
        r.ack(seg(4));
        r.ack(seg(4));
        assertEquals(1, r.timesSent(seg(9)), "once per episode");
    }

    @Test
    void rackDetectsALostRetransmissionWithoutTheRto_rfc8985_s6_2() {
        TcpRig r = tenSegmentsOut();
        r.write(20 * MSS);
        r.clear();
        r.ack(0, seg(1), seg(4)); // segment 0 lost: retransmitted at t1
        assertEquals(1, r.timesSent(seg(0)));
        // ACKs SACKing 4..9 let PRR send new data after the retransmission.
        r.step(100 * US);
        r.ack(0, seg(1), seg(10));
        int newSeq = r.data().stream().filter(s -> s.seq() >= seg(10)).findFirst().orElseThrow().seq();
        // The retransmission is lost; the new segment sent after it is SACKed a round trip later.
        r.step(150 * US);
        r.ack(0, seg(1), seg(10), newSeq, newSeq + MSS);
        r.step(100 * US); // RACK.rtt + reo_wnd after the retransmission (the reorder timer, if not already)
        assertEquals(2, r.timesSent(seg(0)), "sent again: RACK saw a segment sent after it delivered");
        assertTrue(r.counters().tcpRackLost.get() >= 1);
        assertEquals(0, r.counters().tcpTimeouts.get(), "no retransmission timeout");
    }

    @Test
    void tailLossProbeRecoversALostTailWithoutTheRto_rfc8985_s7() {
        TcpRig r = tenSegmentsOut();
        r.ack(seg(8)); // segments 8 and 9 (the tail) are lost
        r.clear();
        long srtt = r.c.smoothedRttNs();
        r.step(2 * MS + 2 * srtt + 2 * MS); // PTO = max(2 SRTT, 2 ms), on a timer wheel of ~1 ms ticks
        assertEquals(1, r.timesSent(seg(9)), "the probe: the last segment again " + r.data());
        assertEquals(1, r.counters().tcpTailLossProbes.get());
        r.step(300 * US);
        r.ack(seg(8), seg(9), seg(10)); // the probe is SACKed: RACK now sees segment 8 lost
        r.step(300 * US);
        assertEquals(1, r.timesSent(seg(8)), "segment 8 recovered by RACK after the probe");
        r.step(300 * US);
        r.ack(seg(10));
        assertEquals(0, r.counters().tcpTimeouts.get(), "no retransmission timeout");
        assertFalse(r.c.inRecovery);
    }

    @Test
    void dsackUndoesASpuriousFastRetransmit_rfc2883_s4_rfc3708() {
        TcpRig r = tenSegmentsOut();
        int cwndBefore = r.c.congestionWindow();
        r.ack(0, seg(1), seg(4)); // reordered, not lost: segment 0 is late
        assertEquals(1, r.timesSent(seg(0)));
        assertTrue(r.c.inRecovery);
        assertTrue(r.c.congestionWindow() < cwndBefore, "cwnd reduced in recovery");
        r.step(100 * US);
        // The original arrives, then the retransmission: the peer reports it as a duplicate (D-SACK first).
        r.ack(seg(10), seg(0), seg(1));
        assertEquals(1, r.counters().tcpDsacksReceived.get());
        assertEquals(1, r.counters().tcpRecoveriesUndone.get());
        assertFalse(r.c.inRecovery);
        assertTrue(r.c.congestionWindow() >= cwndBefore, "cwnd restored: " + r.c.congestionWindow());
        assertEquals(2, r.recovery().reorderWindowMultiplier, "RACK's reordering window widened (RFC 8985 §6.2)");
    }

    @Test
    void prrSendsInProportionToWhatIsDelivered_rfc6937_s3() {
        TcpRig r = tenSegmentsOut();
        r.write(30 * MSS); // plenty to send
        r.clear();
        // Segment 0 lost; 1..9 SACKed one per ACK.
        int sentInRecovery = 0;
        for (int i = 1; i <= 9; i++) {
            r.step(10 * US);
            r.ack(0, seg(1), seg(i + 1));
            Recovery rec = r.recovery();
            if (r.c.inRecovery) {
                long allowed = ((long) rec.prrDelivered * r.c.ssthresh + rec.recoverFs - 1) / rec.recoverFs;
                // Proportional while pipe > ssthresh; PRR-SSRB may add one segment per ACK once pipe <= ssthresh.
                assertTrue(rec.prrOut < Math.max(allowed, MSS) + MSS,
                    "prr_out " + rec.prrOut + " vs ceil(prr_delivered * ssthresh / RecoverFS) " + allowed);
            }
        }
        for (TcpRig.Sent s : r.data()) {
            sentInRecovery += s.len();
        }
        int ssthresh = r.c.ssthresh;
        // 9 segments delivered in recovery with RecoverFS = 10 segments: about ssthresh * 9 / 10 sent.
        assertTrue(sentInRecovery <= (long) ssthresh * 9 / 10 + MSS, sentInRecovery + " bytes for ssthresh " + ssthresh);
        assertTrue(sentInRecovery >= (long) ssthresh * 9 / 10 - MSS, sentInRecovery + " bytes for ssthresh " + ssthresh);
        assertEquals(1, r.timesSent(seg(0)));
        r.step(10 * US);
        r.ack(seg(10 + sentInRecovery / MSS - 1)); // everything sent so far: a full ACK ends recovery
        assertFalse(r.c.inRecovery);
        assertEquals(ssthresh, r.c.congestionWindow(), "cwnd = ssthresh at the end of recovery (RFC 6937 §3)");
    }

    /**
     * RFC 8985 §7.2: with one segment in flight the PTO allows for the peer's delayed ACK (WCDelAckT, 200 ms). A
     * response whose ACK a Linux peer delays (ping-pong mode: 40 ms and more) is not probed again; it was, at
     * 2·SRTT + 50 ms, once per connection in the 100,000-connection run (every probe D-SACKed by Linux).
     */
    @Test
    void loneSegmentIsNotProbedWhileThePeerMayStillBeDelayingItsAck_rfc8985_s7_2() {
        TcpRig r = rig();
        r.write(100); // a response, alone in flight
        r.step(150 * MS); // the peer's delayed ACK is still due (Linux: at most 200 ms)
        assertEquals(1, r.timesSent(0), r.data().toString());
        assertEquals(0, r.counters().tcpTailLossProbes.get());
        r.ack(100);
        r.step(1_000 * MS);
        assertEquals(1, r.timesSent(0), "sent once: " + r.data());
        assertEquals(0, r.counters().tcpTailLossProbes.get() + r.counters().tcpTimeouts.get());
    }

    @Test
    void loneSegmentUnansweredUntilTheRtoGetsAProbeInTheRtosPlace_rfc8985_s7_2() {
        TcpRig r = rig();
        long cwnd = r.c.congestionWindow();
        r.write(100); // alone in flight; its PTO (2*SRTT + WCDelAckT) is capped at the RTO, as in Linux
        r.step(199 * MS);
        assertEquals(1, r.timesSent(0), r.data().toString());
        r.step(11 * MS); // the RTO's time: a probe goes in its place (the peer may only have delayed its ACK)
        assertEquals(2, r.timesSent(0), r.data().toString());
        assertEquals(1, r.counters().tcpTailLossProbes.get());
        assertEquals(0, r.counters().tcpTimeouts.get(), "no RTO: cwnd and ssthresh stay");
        assertEquals(cwnd, r.c.congestionWindow());
        r.step(150 * MS); // the RTO now runs from the probe (stall probes may follow the unanswered probe)
        assertEquals(0, r.counters().tcpTimeouts.get());
        r.step(100 * MS); // no answer at all: the RTO, 200 ms after the probe
        assertEquals(1, r.counters().tcpTimeouts.get(), r.data().toString());
    }

    @Test
    void karnNoRttSampleFromARetransmittedSegment_rfc6298_s3() {
        TcpRig r = rig();
        long srtt = r.c.smoothedRttNs();
        assertEquals(100 * US, srtt, "from the handshake");
        r.write(MSS); // one segment
        r.step(210 * MS); // no ACK: the probe in the RTO's place (200 ms) sends it again
        assertEquals(2, r.timesSent(0), r.data().toString());
        r.step(30 * MS);
        r.ack(MSS); // ambiguous: the original's or the probe's?
        assertEquals(srtt, r.c.smoothedRttNs(), "no sample from retransmitted data");
        r.write(MSS); // a segment sent once
        r.step(1 * MS);
        r.ack(2 * MSS);
        assertTrue(r.c.smoothedRttNs() > srtt, "a clean segment gives a sample: " + r.c.smoothedRttNs());
    }
}
