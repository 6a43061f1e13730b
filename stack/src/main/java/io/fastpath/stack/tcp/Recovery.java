package io.fastpath.stack.tcp;

import io.fastpath.stack.counters.StackCounters;
import io.fastpath.stack.wire.TcpOptions;
import java.util.concurrent.TimeUnit;

/**
 * Loss detection and recovery for one connection's send side, as the RFCs write it. Read first:
 * <ul>
 *   <li>RFC 6675: the SACK scoreboard, IsLost, NextSeg and pipe ({@link SendScoreboard}), entering and leaving
 *       recovery, and the rescue retransmission (NextSeg rule 4);
 *   <li>RFC 8985: RACK marks a segment lost when a segment sent after it was delivered more than an RTT
 *       plus a reordering window ago (so a lost retransmission is found too), the reorder timer, and the tail
 *       loss probe;
 *   <li>RFC 6937: proportional rate reduction sets how much goes out per ACK in fast recovery;
 *   <li>RFC 2883, RFC 3708: D-SACKs widen RACK's reordering window and undo a recovery whose every
 *       retransmission proved unnecessary;
 *   <li>RFC 6298 §3 (Karn): no RTT sample from a retransmitted segment ({@link SendScoreboard#rttSampleNs}).
 * </ul>
 * Without SACK the connection falls back to NewReno (RFC 6582) with RFC 5827's early retransmit.
 *
 * <p>{@link TcpLayer} sends; this class decides what is lost and how much may go out ({@code cwnd - pipe}).
 * Allocated once per connection slot, with the send buffer; nothing is allocated per segment. Poll thread;
 * time is a parameter.
 */
final class Recovery {
    private static final long MIN_PTO_NS = TimeUnit.MILLISECONDS.toNanos(2);
    /**
     * RFC 8985 §7.2 WCDelAckT, the worst-case delayed ACK, when one segment is in flight: 200 ms, the RFC's value
     * and Linux's TCP_DELACK_MAX (Linux adds TCP_RTO_MIN, 200 ms, to its PTO with one packet out). A Linux peer in
     * ping-pong mode (request, response) delays its ACK of our response by 40 ms or more; with 50 ms here, 100,000
     * echo-then-close connections each sent one spurious probe (docs/perf/connections.md: 95,912 probes, 100,914
     * D-SACKs). With the RTO at 200 ms or more, a lone segment is then left to the RTO.
     */
    private static final long DELAYED_ACK_ALLOWANCE_NS = TimeUnit.MILLISECONDS.toNanos(200);
    /**
     * The same allowance for the stall probe in recovery ({@link #onRecoveryStall}): there the peer holds data out
     * of order or has just had a hole filled, and ACKs at once (RFC 5681 §4.2), so a short allowance suffices.
     */
    private static final long RECOVERY_ACK_ALLOWANCE_NS = TimeUnit.MILLISECONDS.toNanos(50);

    final SendScoreboard board;
    private final StackCounters counters;

    /** In recovery after an RTO rather than fast recovery (no PRR; cwnd grows in slow start). */
    boolean afterTimeout;

    // PRR (RFC 6937).
    int prrDelivered;
    int prrOut;
    int recoverFs;

    // Undo (RFC 3708 detection, RFC 4015-like response): the window before the episode.
    private int priorCwnd;
    private int priorSsthresh;
    private int undoMarker;
    private int undoRetransmits;
    private boolean undoable;

    // NextSeg rule 4.
    private boolean rescueSent;
    private int rescueRxt;

    // RACK (RFC 8985 §6.2 step 4).
    int reorderWindowMultiplier = 1;
    private int reorderWindowPersist;
    private boolean dsackRoundSet;
    private int dsackRound;
    /** The reorder timer (RFC 8985 §6.3), or 0. */
    long reorderDeadline;

    // TLP (RFC 8985 §7).
    boolean probeOut;
    int probeEndSeq;
    boolean probeRetransmitted;
    private boolean probeDsacked;

    Recovery(int sendBufferCapacity, StackCounters counters) {
        this.board = new SendScoreboard(Math.max(64, sendBufferCapacity / 256));
        this.counters = counters;
    }

    void reset(int una) {
        board.reset(una);
        afterTimeout = false;
        prrDelivered = 0;
        prrOut = 0;
        recoverFs = 0;
        undoable = false;
        rescueSent = false;
        reorderWindowMultiplier = 1;
        reorderWindowPersist = 0;
        dsackRoundSet = false;
        reorderDeadline = 0;
        probeOut = false;
        probeDsacked = false;
    }

    // ------------------------------------------------------------------------------------------ per ACK

    /**
     * The SACK option of an acceptable ACK, before its cumulative acknowledgment is applied: D-SACK first
     * (RFC 2883 §4: the first block lies below the ACK or inside the second block), the other blocks into
     * the scoreboard. Returns whether a D-SACK came.
     */
    boolean readSack(TcpConnection c, TcpOptions options, int segAck, long nowNs) {
        int n = options.sackBlockCount();
        boolean dsack = false;
        for (int i = 0; i < n; i++) {
            int left = options.sackLeft(i);
            int right = options.sackRight(i);
            if (Seq.le(right, left)) {
                continue;
            }
            if (i == 0 && (Seq.le(right, segAck)
                || n > 1 && Seq.ge(left, options.sackLeft(1)) && Seq.le(right, options.sackRight(1)))) {
                dsack = true;
                onDsack(c, left, right);
                continue;
            }
            if (Seq.le(right, segAck) || Seq.gt(right, c.sndMax)) {
                continue; // stale, or beyond what we sent (RFC 6675 §4: ignore)
            }
            board.sack(Seq.max(left, segAck), right, nowNs);
        }
        return dsack;
    }

    private void onDsack(TcpConnection c, int left, int right) {
        counters.tcpDsacksReceived.incrementRelease();
        // RFC 8985 §6.2 step 4: one more quarter min_RTT of reordering window per round trip that sees D-SACKs.
        if (dsackRoundSet && Seq.ge(c.sndUna, dsackRound)) {
            dsackRoundSet = false;
        }
        if (!dsackRoundSet) {
            dsackRoundSet = true;
            dsackRound = c.sndMax;
            reorderWindowMultiplier = Math.min(reorderWindowMultiplier + 1, 64);
            reorderWindowPersist = 16;
        }
        if (probeOut && probeRetransmitted && Seq.le(left, probeEndSeq - 1) && Seq.gt(right, probeEndSeq - 1 - c.mss)) {
            probeDsacked = true; // RFC 8985 §7.4.2: the probe was a duplicate, nothing was lost
        }
        // RFC 3708: every retransmission of the episode reported as a duplicate means none was needed.
        if (undoable && Seq.ge(left, undoMarker) && Seq.le(right, c.sndMax)) {
            undoRetransmits -= Math.max(1, (right - left + c.mss - 1) / c.mss);
            if (undoRetransmits <= 0) {
                undo(c);
            }
        }
    }

    private void undo(TcpConnection c) {
        undoable = false;
        counters.tcpRecoveriesUndone.incrementRelease();
        c.cwnd = Math.max(c.cwnd, priorCwnd);
        c.ssthresh = Math.max(c.ssthresh, priorSsthresh);
        board.clearLostMarks();
        if (c.inRecovery && !afterTimeout) {
            c.inRecovery = false;
            leaveRecovery();
        }
    }

    /**
     * After the ACK's SACK blocks and cumulative acknowledgment are in the scoreboard: TLP's outcome, leaving
     * recovery, loss detection (RACK, IsLost, or NewReno's duplicate ACKs), entering recovery, and PRR.
     * {@code advanced}: the ACK moved SND.UNA; {@code duplicate}: it was a duplicate ACK. Sets
     * {@link #reorderDeadline} (0: no reorder timer).
     */
    void onAck(TcpConnection c, boolean advanced, boolean duplicate, long nowNs) {
        SendScoreboard b = board;
        b.smss = c.mss;
        if (b.delivered > 0) {
            stallProbes = 0;
        }
        if (probeOut && Seq.ge(c.sndUna, probeEndSeq)) {
            probeOut = false;
            if (probeRetransmitted && !probeDsacked && !c.inRecovery) {
                // RFC 8985 §7.4.2: the probe repaired a loss; respond as to a loss detected by fast recovery.
                c.cc.onEnterRecovery(c, c.sndMax - c.sndUna, nowNs);
                c.cc.onExitRecovery(c, c.sndMax - c.sndUna);
            }
        }
        if (c.inRecovery && Seq.ge(c.sndUna, c.recover)) {
            // RFC 6675 §5 / RFC 6582 §3.2 step 3: a full ACK ends the episode; PRR leaves cwnd at ssthresh.
            c.inRecovery = false;
            if (!afterTimeout) {
                c.cc.onExitRecovery(c, c.sndMax - c.sndUna);
            }
            leaveRecovery();
        }
        int marked = detectLoss(c, nowNs);
        if (!c.sackOk) {
            if (!c.inRecovery && c.dupAcks >= dupThreshold(c)) {
                b.markFirstLost();
                marked++;
            } else if (c.inRecovery && !afterTimeout && advanced) {
                b.markFirstLost(); // RFC 6582 §3.2 step 4: a partial ACK, the next segment is lost too
            }
        }
        if (!c.inRecovery && marked > 0) {
            enterFastRecovery(c, nowNs);
        }
        if (c.inRecovery && !afterTimeout) {
            int deliveredData = b.delivered;
            if (!c.sackOk && duplicate) {
                deliveredData += c.mss; // RFC 6937 §3: without SACK a duplicate ACK delivered one segment
            }
            proportionalRateReduction(c, deliveredData);
        }
    }

    /** RACK (and, with SACK, IsLost); arms the reorder timer. Returns how many segments were marked lost. */
    private int detectLoss(TcpConnection c, long nowNs) {
        long timeout = board.rackDetectLoss(nowNs, reorderWindow(c));
        int marked = board.rackMarked;
        if (marked > 0) {
            counters.tcpRackLost.getAndAddRelease(marked);
        }
        if (c.sackOk) {
            marked += board.markLostBySack();
        }
        reorderDeadline = timeout > 0 ? nowNs + timeout : 0;
        return marked;
    }

    /** The reorder timer expired (RFC 8985 §6.3): detect again; enter recovery if something is lost now. */
    void onReorderTimeout(TcpConnection c, long nowNs) {
        reorderDeadline = 0;
        if (detectLoss(c, nowNs) > 0 && !c.inRecovery) {
            enterFastRecovery(c, nowNs);
            proportionalRateReduction(c, 0);
        }
    }

    /** RFC 8985 §6.2 step 4, RACK_update_reo_wnd (the D-SACK part runs in {@link #onDsack}). */
    long reorderWindow(TcpConnection c) {
        if (!board.reorderingSeen && (c.inRecovery || board.sackedSegments() >= SendScoreboard.DUP_THRESH)) {
            return 0;
        }
        long minRtt = board.minRttNs > 0 ? board.minRttNs : c.srttNs;
        return Math.min(reorderWindowMultiplier * minRtt / 4, c.srttNs > 0 ? c.srttNs : Long.MAX_VALUE);
    }

    /** RFC 5681 DupThresh, lowered per RFC 5827 (early retransmit) when few segments are out and none wait. */
    private static int dupThreshold(TcpConnection c) {
        int outstanding = (c.sndMax - c.sndUna + c.mss - 1) / c.mss;
        if (outstanding >= 2 && outstanding < 4 && c.sendBuffer.tail() == c.sndMax) {
            return outstanding - 1;
        }
        return SendScoreboard.DUP_THRESH;
    }

    private void enterFastRecovery(TcpConnection c, long nowNs) {
        // RFC 6675 §5 step 4 / RFC 6937: remember the recovery point, reduce ssthresh, start PRR.
        counters.tcpFastRetransmits.incrementRelease();
        priorCwnd = c.cwnd;
        priorSsthresh = c.ssthresh;
        undoMarker = c.sndUna;
        undoRetransmits = 0;
        undoable = true;
        c.cc.onEnterRecovery(c, c.sndMax - c.sndUna, nowNs);
        c.inRecovery = true;
        afterTimeout = false;
        c.recover = c.sndMax;
        rescueSent = false;
        prrDelivered = 0;
        prrOut = 0;
        recoverFs = Math.max(c.sndMax - c.sndUna, 1);
        probeOut = false;
    }

    private void leaveRecovery() {
        afterTimeout = false;
        if (--reorderWindowPersist <= 0) {
            reorderWindowMultiplier = 1; // RFC 8985 §6.2 step 4: after 16 recoveries without D-SACK
        }
    }

    /** RFC 6937 §3 (with the PRR-SSRB bound): cwnd = pipe + sndcnt for this ACK. */
    private void proportionalRateReduction(TcpConnection c, int deliveredData) {
        prrDelivered += deliveredData;
        int pipe = pipe(c);
        long sndcnt;
        if (pipe > c.ssthresh) {
            sndcnt = ((long) prrDelivered * c.ssthresh + recoverFs - 1) / recoverFs - prrOut;
        } else {
            long limit = Math.max(prrDelivered - prrOut, deliveredData) + c.mss;
            sndcnt = Math.min(c.ssthresh - pipe, limit);
        }
        sndcnt = Math.max(sndcnt, 0);
        if (prrOut == 0 && sndcnt < c.mss) {
            sndcnt = c.mss; // the fast retransmit itself goes out at once
        }
        c.cwnd = (int) Math.min(CongestionControl.MAX_CWND, pipe + sndcnt);
    }

    /** RFC 6675 §4 SetPipe (without SACK: FlightSize less what duplicate ACKs say has left the network). */
    int pipe(TcpConnection c) {
        if (c.sackOk) {
            return board.pipe();
        }
        return Math.max(0, board.pipe() - (c.inRecovery ? c.dupAcks * c.mss : 0));
    }

    // --------------------------------------------------------------------------------- sending hooks

    /** A data segment [seq, seq + len) was sent; {@code retransmission} when any of it was sent before. */
    void onSent(TcpConnection c, int seq, int len, boolean retransmission, long nowNs) {
        if (retransmission) {
            board.onRetransmit(seq, seq + len, nowNs);
            if (c.inRecovery) {
                undoRetransmits++;
            }
        } else {
            board.onSend(seq, seq + len, nowNs);
        }
        if (c.inRecovery && !afterTimeout) {
            prrOut += len;
        }
    }

    /** NextSeg rule 4 (RFC 6675 §4): once per recovery episode (re-armed by an ACK beyond RescueRxt). */
    int rescueRecord(TcpConnection c) {
        if (rescueSent && !Seq.gt(c.sndUna, rescueRxt)) {
            return -1;
        }
        int i = board.highestUnsacked();
        if (i >= 0) {
            rescueSent = true;
            rescueRxt = c.recover;
        }
        return i;
    }

    // ------------------------------------------------------------------------------------------ timers

    /**
     * The retransmission timer expired (RFC 6298 §5, RFC 6675 §5.1, RFC 8985 §6.3): every unSACKed segment is
     * lost; recovery runs to SND.MAX in slow start from cwnd = 1 SMSS (set by the congestion control).
     */
    void onTimeout(TcpConnection c) {
        board.markAllLost();
        c.inRecovery = true;
        afterTimeout = true;
        undoable = false;
        c.recover = c.sndMax;
        c.dupAcks = 0;
        reorderDeadline = 0;
        probeOut = false;
        rescueSent = false;
        stallProbes = 0;
    }

    /**
     * RFC 8985 §7.2: the probe timeout, or 0 when no probe should be armed. In recovery (where RFC 8985 arms no
     * probe) the same timeout, doubled per probe without progress, guards against a stall: see
     * {@link #onRecoveryStall}.
     */
    long probeTimeout(TcpConnection c) {
        if (c.srttNs == 0) {
            return 0;
        }
        long pto = Math.max(2 * c.srttNs, MIN_PTO_NS);
        if (c.sndMax - c.sndUna <= c.mss) {
            pto += c.inRecovery || probeOut ? RECOVERY_ACK_ALLOWANCE_NS : DELAYED_ACK_ALLOWANCE_NS;
        }
        if (c.inRecovery || probeOut) {
            pto <<= Math.min(stallProbes, 10);
            return pto >= c.rtoNs ? 0 : pto;
        }
        // Outside recovery a probe no later than the RTO takes the RTO's place, as Linux's
        // tcp_schedule_loss_probe caps the timeout at the RTO's (AckProcessing.armProbe caps the deadline at the
        // RTO's, TcpTimers fires the probe first): with one segment out, 2*SRTT + 200 ms reaches the RTO, and a
        // lone segment whose ACK a peer delays ~200 ms then gets a probe (answered at once, cwnd kept) instead
        // of a spurious RTO (cwnd 1, ssthresh cut, no undo).
        return Math.min(pto, c.rtoNs);
    }

    /** Stall probes sent in this recovery without an ACK in between (the exponent of their back-off). */
    int stallProbes;

    /**
     * No ACK for a probe timeout during recovery. RACK can judge a retransmission only when something sent after
     * it is delivered; with a window of two or three segments (the congestion window at 10% loss) often nothing
     * is, and only the RTO (200 ms at least) would go on. Here the oldest unSACKed segment not sent within the
     * last PTO is deemed lost, as RACK would once anything came back, and output() resends it. This goes beyond
     * RFC 8985 (which arms no probe in recovery) under RFC 8961's rules for time-based loss detection: the
     * timeout is at least 2 SRTT, it backs off exponentially while nothing is acknowledged, and the loss is
     * reported to congestion control (the episode's reduction already applies; after an unanswered tail loss
     * probe, fast recovery starts). Returns whether one was marked.
     */
    boolean onRecoveryStall(TcpConnection c, long nowNs) {
        long pto = Math.max(2 * c.srttNs, MIN_PTO_NS);
        stallProbes++;
        counters.tcpTailLossProbes.incrementRelease();
        if (!board.markOldestLost(nowNs - pto)) {
            return false;
        }
        if (!c.inRecovery) {
            enterFastRecovery(c, nowNs); // the tail probe went unanswered too: a loss
            proportionalRateReduction(c, 0);
        }
        return true;
    }

    /** A probe went out (RFC 8985 §7.3): remember its end until it is acknowledged. */
    void onProbeSent(TcpConnection c, boolean retransmission) {
        counters.tcpTailLossProbes.incrementRelease();
        probeOut = true;
        probeEndSeq = c.sndMax;
        probeRetransmitted = retransmission;
        probeDsacked = false;
    }
}
