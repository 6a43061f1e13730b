package io.fastpath.stack.tcp;

import io.fastpath.stack.NtStatus;
import io.fastpath.stack.counters.DropReason;
import io.fastpath.stack.counters.StackCounters;
import io.fastpath.stack.ip.IpOutput;
import io.fastpath.stack.wire.TcpOptions;
import io.fastpath.stack.wire.TcpSegment;
import io.fastpath.stack.wire.WireError;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Segment arrival, in RFC 9293 §3.10.7 order: no connection (§3.10.7.1), LISTEN (§3.10.7.2, in
 * {@link Listeners}), SYN-SENT (§3.10.7.3), then the other states (§3.10.7.4: sequence check, RST, SYN, ACK,
 * URG, text, FIN), with the RFC 5961 protections (challenge ACKs, rate limits, ACK acceptability) and PAWS (RFC
 * 7323 §5). The segment being processed is in the layer's shared {@link TcpSegment} and {@link TcpOptions}.
 * Poll thread; each segment's buffer is consumed: kept for its data or freed.
 */
final class TcpInput {
    private final TcpLayer layer;
    private final TcpConfig config;
    private final IpOutput ip;
    private final StackCounters counters;
    private final TimeWaitTable timeWait;
    private final TcpSegment seg;
    private final TcpOptions options;
    private AckProcessing acks;
    private ConnectionTable table;
    private FastOpen tfo;
    private Listeners listening;
    private ReceivePath rx;
    private TcpOutput tx;
    private TcpTimers timers;
    private TimeWaitInput timeWaitIn;

    final UnsafeBuffer frame = new UnsafeBuffer(0, 0);
    /** Where the segment being processed starts in its buffer's memory. */
    long segAddress;
    // RFC 5961 §7: the stack-wide challenge ACK budget, redrawn at random each second.
    long challengeWindowStartNs = Long.MIN_VALUE / 2;
    int challengeBudget;
    long challengeRandom = System.nanoTime() | 1;
    /** SEG.SEQ of the last segment in a synchronized state (its SACK block goes first, RFC 2018 §4). */
    int lastSegmentSeq;

    TcpInput(TcpLayer layer) {
        this.layer = layer;
        this.config = layer.config;
        this.ip = layer.ip;
        this.counters = layer.counters;
        this.timeWait = layer.timeWait;
        this.seg = layer.seg;
        this.options = layer.options;
    }

    /** Resolves the other parts of the layer (its constructor calls this once all exist). */
    void link() {
        acks = layer.acks;
        table = layer.table;
        tfo = layer.tfo;
        listening = layer.listening;
        rx = layer.rx;
        tx = layer.tx;
        timers = layer.timers;
        timeWaitIn = layer.timeWaitIn;
    }

    /**
     * A TCP segment for our address, parsed out of its IPv4 datagram by the layer below: {@code segmentLength}
     * bytes at {@code segmentAddress} inside buffer {@code m}, from {@code src} to {@code dst}; {@code verified}
     * when the port has checked the TCP checksum already. Consumes the buffer (keeps it for its data, or frees it).
     */
    void input(long m, long segmentAddress, int segmentLength, int src, int dst, boolean verified, long now) {
        layer.nowNs = now;
        segAddress = segmentAddress;
        frame.wrap(segmentAddress, segmentLength);
        seg.wrap(frame, 0, segmentLength);
        WireError error = seg.check(src, dst, !verified);
        if (error != WireError.OK) {
            layer.drop(m, error == WireError.BAD_CHECKSUM ? DropReason.TCP_BAD_CHECKSUM : DropReason.TCP_MALFORMED);
            return;
        }
        if (options.parse(seg) != WireError.OK) {
            layer.drop(m, DropReason.TCP_MALFORMED);
            return;
        }
        counters.tcpSegmentsReceived.incrementRelease();
        int srcPort = seg.sourcePort();
        int dstPort = seg.destinationPort();
        TcpConnection c = table.find(TcpLayer.key(src, srcPort, dstPort));
        listening.reopensTimeWait = false;
        if (c != null && c.state == TcpState.TIME_WAIT && seg.hasFlags(TcpSegment.SYN)
            && !seg.hasFlags(TcpSegment.ACK) && timeWaitIn.timeWaitReusable(c)) {
            // RFC 6191 / RFC 1122 §4.2.2.13: a new SYN may reopen a TIME-WAIT connection.
            listening.reopenTimeWait(c.sndNxt);
            table.releaseConnection(c);
            c = null;
        }
        if (c == null && timeWait.size() > 0) {
            int tw = timeWait.find(TcpLayer.key(src, srcPort, dstPort));
            if (tw >= 0 && !timeWaitIn.timeWaitInput(m, tw)) {
                return;
            }
        }
        if (c == null) {
            Listeners.Listener l = listening.listeners.get(dstPort);
            if (l != null) {
                listening.listenInput(m, l, src, dst);
            } else {
                closedInput(m, src, dst);
            }
            return;
        }
        if (c.state == TcpState.SYN_SENT) {
            synSentInput(m, c);
        } else {
            otherInput(m, c);
        }
    }

    /** RFC 9293 §3.10.7.1: no connection. A RST answers anything but a RST. */
    void closedInput(long m, int src, int dst) {
        if (!seg.hasFlags(TcpSegment.RST)) {
            resetFor(src, dst);
        }
        layer.drop(m, DropReason.TCP_NO_CONNECTION);
    }

    void resetFor(int src, int dst) {
        int segLen = seg.payloadLength() + (seg.hasFlags(TcpSegment.SYN) ? 1 : 0) + (seg.hasFlags(TcpSegment.FIN) ? 1 : 0);
        if (seg.hasFlags(TcpSegment.ACK)) {
            tx.sendReset(dst, seg.destinationPort(), src, seg.sourcePort(), seg.acknowledgmentNumber(), 0, false);
        } else {
            tx.sendReset(dst, seg.destinationPort(), src, seg.sourcePort(), 0, seg.sequenceNumber() + segLen, true);
        }
    }

    void applySynOptions(TcpConnection c) {
        c.peerMss = options.hasMss() ? options.mss() : 536;
        c.tsOk = c.timestampsWanted && options.hasTimestamps();
        if (c.tsOk) {
            c.tsRecent = options.tsVal();
        }
        c.sackOk = config.sack() && options.sackPermitted();
        if (config.windowScaling() && options.hasWindowScale()) {
            c.sndScale = Math.min(options.windowScale(), TcpOptions.MAX_WINDOW_SCALE);
        } else {
            c.sndScale = -1; // marks "no window scaling": both shifts are 0
        }
        // RFC 6691: the peer's MSS counts data only, so options come out of it; never below Linux's 48 bytes.
        c.mss = Math.max(TcpLayer.MIN_SEND_MSS,
            Math.min(c.peerMss, ip.mtu() - 40) - (c.tsOk ? TcpLayer.TS_OPTION_SPACE : 0));
    }

    /** RFC 9293 §3.10.7.3: SYN-SENT. */
    void synSentInput(long m, TcpConnection c) {
        boolean ack = seg.hasFlags(TcpSegment.ACK);
        int segAck = seg.acknowledgmentNumber();
        if (ack && (Seq.le(segAck, c.iss) || Seq.gt(segAck, c.sndNxt))) {
            if (!seg.hasFlags(TcpSegment.RST)) {
                tx.sendReset(c.localIp, c.localPort, c.remoteIp, c.remotePort, segAck, 0, false);
            }
            layer.drop(m, DropReason.TCP_OUT_OF_WINDOW);
            return;
        }
        if (seg.hasFlags(TcpSegment.RST)) {
            if (ack) {
                counters.tcpResetsReceived.incrementRelease();
                table.closeConnection(c, NtStatus.STATUS_CONNECTION_REFUSED);
            }
            layer.free(m);
            return;
        }
        if (!seg.hasFlags(TcpSegment.SYN)) {
            layer.free(m);
            return;
        }
        c.irs = seg.sequenceNumber();
        c.rcvNxt = c.irs + 1;
        c.rcvAdvertisedEdge = c.rcvNxt;
        applySynOptions(c);
        if (c.sndScale < 0) {
            c.rcvScale = 0;
        }
        c.sndWl1 = seg.sequenceNumber();
        c.sndWl2 = segAck;
        c.sndWnd = seg.window();
        c.maxSndWnd = c.sndWnd;
        if (options.hasFastOpen() && options.fastOpenCookieLength() > 0) {
            tfo.cookieCache.put(c.remoteIp, seg.buffer(), options.fastOpenCookieOffset(),
                options.fastOpenCookieLength());
        }
        if (ack) {
            c.sndUna = segAck;
            if (c.synData > 0 && segAck != c.iss + 1 + c.synData) {
                // RFC 7413 §4.2.2: the server took the SYN but not its data; send the data normally.
                counters.tcpFastOpenFallbacks.incrementRelease();
                c.sndNxt = segAck;
            }
            c.sendBuffer.acknowledge(segAck);
            acks.rttSampleFromSyn(c);
            establish(c);
            c.ackNow = true;
            layer.markDirty(c);
            completeConnect(c, NtStatus.STATUS_SUCCESS);
        } else {
            // Simultaneous open (RFC 9293 §3.5, figure 7).
            c.state = TcpState.SYN_RECEIVED;
            tx.sendSyn(c, true);
        }
        layer.free(m);
    }

    void establish(TcpConnection c) {
        if (c.fastOpenListener != null) {
            c.fastOpenListener.fastOpenPending--;
            c.fastOpenListener = null;
        }
        c.state = TcpState.ESTABLISHED;
        c.retries = 0;
        if (!c.earlyData) {
            c.recovery.reset(c.sndUna); // the scoreboard counts from the first data byte
            c.cc.onEstablished(c, config.initialWindowSegments());
        } // else both started with the Fast Open SYN, and the scoreboard holds what was sent in SYN-RECEIVED
        c.earlyData = false;
        c.deadlines.clear(Deadlines.RETRANSMIT);
        counters.tcpConnections.setRelease(table.connectionCount());
    }

    void completeConnect(TcpConnection c, int status) {
        if (c.connectPending) {
            c.connectPending = false;
            c.handler.onConnectComplete(c, status);
        }
    }

    /** RFC 9293 §3.10.7.4: SYN-RECEIVED and the synchronized states. */
    void otherInput(long m, TcpConnection c) {
        int segSeq = seg.sequenceNumber();
        int payload = seg.payloadLength();
        int payloadOffset = seg.payloadOffset();
        boolean syn = seg.hasFlags(TcpSegment.SYN);
        boolean fin = seg.hasFlags(TcpSegment.FIN);
        boolean rst = seg.hasFlags(TcpSegment.RST);
        int segLen = payload + (syn ? 1 : 0) + (fin ? 1 : 0);
        lastSegmentSeq = segSeq;

        // RFC 7323 §5.3 PAWS: an old timestamp on a non-RST segment means an old duplicate.
        if (c.tsOk && options.hasTimestamps() && !rst && Seq.lt(options.tsVal(), c.tsRecent)) {
            dupAck(c, segLen > 0 && !syn);
            layer.drop(m, DropReason.TCP_OUT_OF_WINDOW);
            return;
        }

        // First: sequence number acceptable?
        int rcvWnd = rx.receiveWindow(c);
        // The RFC 9293 §3.10.7.4 test, read as Linux reads it (tcp_sequence): the segment must not end before
        // RCV.NXT nor start beyond the window's right edge. The edge itself is acceptable: a peer whose
        // SND.NXT ran past our window sends its ACKs with SEG.SEQ = the edge, and they must get through.
        boolean acceptable = Seq.ge(segSeq + segLen, c.rcvNxt) && Seq.le(segSeq, c.rcvNxt + rcvWnd)
            && (segLen == 0 || rcvWnd > 0 || segSeq == c.rcvNxt);
        if (segLen > 0 && Seq.lt(segSeq + segLen, c.rcvNxt + 1) && !(syn || fin) && payload > 0) {
            acceptable = false; // wholly old data: ACK it, drop it
            if (c.sackOk && !rst) {
                // RFC 2883 §4: report the duplicate in the first SACK block of the ACK (a D-SACK), so that
                // the sender can tell a spurious retransmission (RFC 3708) and widen its reordering window.
                c.dsackPending = true;
                c.dsackLeft = segSeq;
                c.dsackRight = segSeq + payload;
            }
        }
        if (!acceptable) {
            if (!rst) {
                // A keepalive probe (SEG.SEQ = RCV.NXT - 1, RFC 1122 §4.2.3.6) is always answered: its sender
                // counts unanswered probes, and ours allows intervals well under the 500 ms limit.
                dupAck(c, segLen > 0 && !syn || segSeq == c.rcvNxt - 1 && !syn);
            }
            if (c.keepAlive && !rst) {
                c.keepProbes = 0; // a keepalive answer (or probe) from a live peer
                c.deadlines.set(Deadlines.KEEPALIVE, layer.nowNs + c.keepIdleNs);
            }
            // RFC 9293 §3.10.7.4: with a zero receive window no segment is acceptable, "but special allowance
            // should be made to accept valid ACKs": the peer's ACKs must get through or both sides stall.
            if (rcvWnd == 0 && !rst && !syn && seg.hasFlags(TcpSegment.ACK) && c.state != TcpState.SYN_RECEIVED) {
                int segAck = seg.acknowledgmentNumber();
                if (Seq.le(segAck, c.sndMax) && Seq.ge(segAck, c.sndUna)) {
                    acks.processAck(c, segSeq, segAck, 0, false);
                }
            }
            layer.drop(m, DropReason.TCP_OUT_OF_WINDOW);
            return;
        }

        // Second: RST (RFC 5961 §3.2: only an exact match resets; in-window gets a challenge ACK).
        if (rst) {
            if (segSeq == c.rcvNxt) {
                counters.tcpResetsReceived.incrementRelease();
                if (c.state == TcpState.SYN_RECEIVED && !c.active && (c.held || c.fastOpenListener != null)) {
                    // The application knows this connection (it was held for a decision, or accepted with its
                    // Fast Open SYN data): tell it it ended.
                    table.closeConnection(c, NtStatus.STATUS_CONNECTION_RESET);
                } else if (c.state == TcpState.SYN_RECEIVED && !c.active) {
                    table.releaseConnection(c); // back to LISTEN: nothing to report, nobody accepted it yet
                } else if (c.state == TcpState.SYN_RECEIVED) {
                    table.closeConnection(c, NtStatus.STATUS_CONNECTION_REFUSED);
                } else if (c.state == TcpState.TIME_WAIT) {
                    layer.free(m); // RFC 1337 §3: no TIME-WAIT assassination; 2 MSL runs its course
                    return;
                } else if (c.state == TcpState.CLOSING || c.state == TcpState.LAST_ACK) {
                    table.closeConnection(c, NtStatus.STATUS_SUCCESS);
                } else {
                    table.closeConnection(c, NtStatus.STATUS_CONNECTION_RESET);
                }
            } else {
                challengeAck(c);
            }
            layer.free(m);
            return;
        }

        if (c.keepAlive) {
            c.keepProbes = 0;
            // The timer fires lazily and re-arms for this.
            c.deadlines.set(Deadlines.KEEPALIVE, layer.nowNs + c.keepIdleNs);
        }
        // Fourth: SYN in a synchronized state (RFC 5961 §4.2): challenge ACK. Except the SYN-ACK of a simultaneous
        // open (RFC 9293 figure 7), which acknowledges our SYN and completes the handshake below, as in Linux.
        boolean crossedSynAck = c.state == TcpState.SYN_RECEIVED && c.active && segSeq == c.irs && payload == 0
            && !fin && seg.hasFlags(TcpSegment.ACK) && seg.acknowledgmentNumber() == c.sndNxt;
        if (syn && !crossedSynAck) {
            if (c.state == TcpState.SYN_RECEIVED && segSeq == c.irs) {
                // Our SYN-ACK was lost: the peer retransmitted its SYN (or, held for a decision, it waits).
                if (!c.deferred) {
                    tx.sendSyn(c, true);
                }
                layer.free(m);
                return;
            }
            challengeAck(c);
            layer.free(m);
            return;
        }

        // Fifth: ACK.
        if (!seg.hasFlags(TcpSegment.ACK)) {
            layer.free(m);
            return;
        }
        int segAck = seg.acknowledgmentNumber();
        if (c.state == TcpState.SYN_RECEIVED) {
            if (Seq.lt(c.sndUna, segAck) && Seq.le(segAck, c.sndNxt)) {
                c.sndWnd = seg.window() << Math.max(c.sndScale, 0);
                c.maxSndWnd = Math.max(c.maxSndWnd, c.sndWnd);
                c.sndWl1 = segSeq;
                c.sndWl2 = segAck;
                acks.rttSampleFromSyn(c);
                establish(c);
                if (c.active) {
                    completeConnect(c, NtStatus.STATUS_SUCCESS);
                } else if (c.listener != null && !accept(c)) {
                    layer.free(m);
                    return;
                }
            } else {
                tx.sendReset(c.localIp, c.localPort, c.remoteIp, c.remotePort, segAck, 0, false);
                layer.free(m);
                return;
            }
        }
        // RFC 5961 §5.2: ACK acceptability.
        if (Seq.gt(segAck, c.sndMax) || Seq.lt(segAck, c.sndUna - Math.max(c.maxSndWnd, 1))) {
            c.ackNow = true;
            layer.markDirty(c);
            layer.drop(m, DropReason.TCP_OUT_OF_WINDOW);
            return;
        }
        if (c.tsOk && options.hasTimestamps() && Seq.le(segSeq, c.rcvNxt)) {
            c.tsRecent = options.tsVal(); // RFC 7323 §4.3
        }
        acks.processAck(c, segSeq, segAck, payload, fin);
        if (c.state == TcpState.CLOSED) {
            layer.free(m);
            return;
        }
        switch (c.state) {
            case TcpState.FIN_WAIT_1 -> {
                if (c.finSent && Seq.gt(c.sndUna, c.finSeq)) {
                    c.state = TcpState.FIN_WAIT_2;
                    if (c.handler != null) {
                        c.handler.onFinAcked(c);
                    }
                }
            }
            case TcpState.CLOSING -> {
                if (c.finSent && Seq.gt(c.sndUna, c.finSeq)) {
                    if (c.handler != null) {
                        c.handler.onFinAcked(c);
                    }
                    timers.enterTimeWait(c);
                }
            }
            case TcpState.LAST_ACK -> {
                if (c.finSent && Seq.gt(c.sndUna, c.finSeq)) {
                    table.closeConnection(c, NtStatus.STATUS_SUCCESS);
                    layer.free(m);
                    return;
                }
            }
            case TcpState.TIME_WAIT -> {
                // RFC 9293 §3.10.7.4 in TIME-WAIT, answered as the compact record answers (TimeWaitInput).
                if (fin && segSeq + payload == c.rcvNxt - 1) {
                    c.ackNow = true; // a retransmitted FIN: ACK it and restart 2 MSL
                    layer.markDirty(c);
                    c.deadlines.set(Deadlines.TIME_WAIT, layer.nowNs + config.timeWaitNs());
                    timers.schedule(c, c.deadlines.get(Deadlines.TIME_WAIT));
                } else if ((payload > 0 || fin) && timeWaitIn.timeWaitAckAllowed()) {
                    // Data (or a FIN elsewhere) after the peer's FIN: the peer is confused or the segment is old;
                    // tell it where we are (RFC 9293 §3.10.7.4: an unexpected segment is answered with an ACK;
                    // Linux's tcp_timewait_state_process too), rate-limited over all TIME-WAIT connections.
                    c.ackNow = true;
                    layer.markDirty(c);
                }
                layer.free(m);
                return;
            }
            default -> {
            }
        }

        // Sixth: URG (RFC 9293 §3.10.7.4). The pointer marks the byte after the urgent one (RFC 6093).
        if (seg.hasFlags(TcpSegment.URG) && TcpState.receivesData(c.state) && seg.urgentPointer() > 0) {
            int up = segSeq + seg.urgentPointer();
            if (!c.urgentToReceive && Seq.gt(up, c.rcvNxt) || Seq.gt(up, c.rcvUp)) {
                c.rcvUp = up;
                c.urgentToReceive = true;
            }
        }
        // Seventh: segment text.
        boolean kept = false;
        if (payload > 0 && TcpState.receivesData(c.state)) {
            kept = rx.receiveData(c, m, segSeq, payloadOffset, payload);
        }
        // Eighth: FIN.
        if (fin && TcpState.receivesData(c.state)) {
            int finAt = segSeq + payload;
            if (finAt == c.rcvNxt) {
                rx.peerFin(c);
            } else if (Seq.gt(finAt, c.rcvNxt)) {
                c.peerFinPending = true;
                c.peerFinSeq = finAt;
            }
        } else if (fin && Seq.lt(segSeq + payload, c.rcvNxt)) {
            retransmittedFin(c, segSeq, segLen);
        }
        if (!kept) {
            layer.free(m);
        }
    }

    /**
     * The peer's FIN again, after we took it (CLOSE-WAIT, CLOSING, LAST-ACK): it did not hear our ACK. By RFC 9293
     * §3.10.7.4's test the segment is not acceptable (SEG.SEQ+SEG.LEN-1 < RCV.NXT), and "if an incoming segment
     * is not acceptable, an acknowledgment should be sent in reply"; the first check here, read as Linux reads
     * it, let it through for its ACK field, so the answer is given here. Unanswered, the peer would retransmit its
     * FIN until it gave up. Linux (tcp_data_queue, "a retransmit") ACKs at once with a D-SACK (RFC 2883 §4).
     */
    private void retransmittedFin(TcpConnection c, int segSeq, int segLen) {
        if (c.sackOk) {
            c.dsackPending = true;
            c.dsackLeft = segSeq;
            c.dsackRight = segSeq + segLen;
        }
        c.ackNow = true;
        layer.markDirty(c);
    }

    /**
     * Offers the connection to its listener ({@code onAccept}), while the segment that completed it (the handshake's
     * ACK, or a Fast Open SYN) is being processed. False when the connection is gone: refused (a RST answers that
     * segment) or aborted inside {@code onAccept}; the caller then frees the segment, whose data must not be queued
     * on a closed slot.
     */
    boolean accept(TcpConnection c) {
        Listeners.Listener l = c.listener;
        Listeners.leaveListener(c);
        int generation = c.generation;
        // Read before the callback: the reset answers this segment (an application may do anything inside it).
        int src = c.remoteIp;
        int dst = c.localIp;
        boolean ack = seg.hasFlags(TcpSegment.ACK);
        int segAck = seg.acknowledgmentNumber();
        int segEnd = seg.sequenceNumber() + seg.payloadLength() + (seg.hasFlags(TcpSegment.SYN) ? 1 : 0)
            + (seg.hasFlags(TcpSegment.FIN) ? 1 : 0);
        TcpHandler handler = l.handler.onAccept(c);
        if (c.generation != generation || c.state == TcpState.CLOSED) {
            return false; // aborted inside onAccept (its RST is out): nothing more for this slot
        }
        if (handler == null) {
            // RFC 9293 §3.10.7.1: a reset for a segment with ACK is <SEQ=SEG.ACK><CTL=RST>; for a SYN (a Fast Open
            // SYN, offered before any SYN-ACK) <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>, which a peer in
            // SYN-SENT accepts (§3.10.7.3: a RST counts there only with an acceptable ACK).
            if (ack) {
                tx.sendReset(dst, c.localPort, src, c.remotePort, segAck, 0, false);
            } else {
                tx.sendReset(dst, c.localPort, src, c.remotePort, 0, segEnd, true);
            }
            table.releaseConnection(c);
            return false;
        }
        if (c.handler == null) {
            c.handler = handler;
        }
        return true;
    }

    /**
     * RFC 5961 §7: challenge ACKs are limited, per connection (one per {@link #OUT_OF_WINDOW_ACK_INTERVAL_NS}, as
     * Linux's tcp_invalid_ratelimit) and per stack (about {@link #CHALLENGE_ACKS_PER_SECOND} a second, the exact
     * budget drawn at random each second so that the count cannot serve as a side channel: CVE-2016-5696).
     */
    void challengeAck(TcpConnection c) {
        if (outOfWindowAckLimited(c)) {
            counters.tcpChallengeAcksSuppressed.incrementRelease();
            return;
        }
        if (layer.nowNs - challengeWindowStartNs >= 1_000_000_000L) {
            challengeWindowStartNs = layer.nowNs;
            challengeRandom ^= challengeRandom << 13;
            challengeRandom ^= challengeRandom >>> 7;
            challengeRandom ^= challengeRandom << 17;
            challengeBudget = TcpLayer.CHALLENGE_ACKS_PER_SECOND / 2
                + (int) ((challengeRandom >>> 1) % TcpLayer.CHALLENGE_ACKS_PER_SECOND);
        }
        if (challengeBudget <= 0) {
            counters.tcpChallengeAcksSuppressed.incrementRelease();
            return;
        }
        challengeBudget--;
        counters.tcpChallengeAcks.incrementRelease();
        c.ackNow = true;
        layer.markDirty(c);
    }

    /**
     * A duplicate ACK for an unacceptable segment (RFC 9293 §3.10.7.4). Those answering segments without data
     * (pure ACKs, SYNs) are limited per connection, as Linux's tcp_oow_rate_limited: otherwise two stacks that
     * disagree about a window can ACK each other for ever, and a blind attacker gets an ACK for every forged
     * segment. Segments with data are always answered: the peer needs to hear where we are.
     */
    void dupAck(TcpConnection c, boolean carriesData) {
        if (!carriesData && outOfWindowAckLimited(c)) {
            counters.tcpOutOfWindowAcksSuppressed.incrementRelease();
            return;
        }
        c.ackNow = true;
        layer.markDirty(c);
    }

    boolean outOfWindowAckLimited(TcpConnection c) {
        if (c.lastOutOfWindowAckNs != 0
            && layer.nowNs - c.lastOutOfWindowAckNs < TcpLayer.OUT_OF_WINDOW_ACK_INTERVAL_NS) {
            return true;
        }
        c.lastOutOfWindowAckNs = layer.nowNs;
        return false;
    }
}
