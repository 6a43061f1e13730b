package io.fastpath.stack.tcp;

import io.fastpath.stack.counters.StackCounters;
import io.fastpath.stack.ip.IpOutput;
import io.fastpath.stack.wire.Ipv4Packet;
import io.fastpath.stack.wire.TcpOptions;
import io.fastpath.stack.wire.TcpSegment;
import java.util.concurrent.TimeUnit;

/**
 * The sender's side of an arriving ACK (RFC 9293 §3.10.7.4 "fifth, check the ACK field"): the send window,
 * SND.UNA, duplicate ACKs (RFC 5681 §2), SACK and RACK-TLP recovery through {@link Recovery} (RFC 6675, RFC
 * 8985), RTT samples and RTO (RFC 6298), congestion window validation (RFC 7661), and path MTU from ICMP (RFC
 * 1191, RFC 5927). Poll thread.
 */
final class AckProcessing {
    private final TcpLayer layer;
    private final TcpConfig config;
    private final IpOutput ip;
    private final StackCounters counters;
    private final TcpSegment seg;
    private final TcpOptions options;
    private ConnectionTable table;
    private TcpOutput tx;
    private TcpTimers timers;

    AckProcessing(TcpLayer layer) {
        this.layer = layer;
        this.config = layer.config;
        this.ip = layer.ip;
        this.counters = layer.counters;
        this.seg = layer.seg;
        this.options = layer.options;
    }

    /** Resolves the other parts of the layer (its constructor calls this once all exist). */
    void link() {
        table = layer.table;
        tx = layer.tx;
        timers = layer.timers;
    }

    void rttSampleFromSyn(TcpConnection c) {
        if (c.retries == 0 && c.rttTiming) {
            rttSample(c, layer.nowNs - c.rttStartNs);
        }
        c.rttTiming = false;
    }

    // --------------------------------------------------------------------------------------- ACK processing

    void processAck(TcpConnection c, int segSeq, int segAck, int payload, boolean fin) {
        int window = seg.window() << Math.max(c.sndScale, 0);
        c.probesOut = 0; // the peer answers (RFC 1122 §4.2.2.17: keep probing while it does)
        c.lastAckNs = layer.nowNs;
        if (window > 0) {
            c.persistProbes = 0;
        }
        Recovery r = c.recovery;
        r.board.beginAck();
        boolean newSack = false;
        if (c.sackOk && options.sackBlockCount() > 0) {
            int sackedBefore = r.board.sackedBytes();
            r.readSack(c, options, segAck, layer.nowNs);
            newSack = r.board.sackedBytes() > sackedBefore;
        }
        boolean windowUpdated = false;
        boolean advanced = Seq.gt(segAck, c.sndUna);
        boolean duplicate = false;
        // RFC 9293 §3.10.7.4: update the send window from the newest segment.
        if (Seq.lt(c.sndWl1, segSeq) || (c.sndWl1 == segSeq && Seq.le(c.sndWl2, segAck))) {
            windowUpdated = window != c.sndWnd;
            c.sndWnd = window;
            c.maxSndWnd = Math.max(c.maxSndWnd, window);
            c.sndWl1 = segSeq;
            c.sndWl2 = segAck;
        }
        if (advanced) {
            int acked = segAck - c.sndUna;
            // The SYN and our FIN take sequence space but no buffer bytes.
            int dataAcked = acked;
            if (c.sndUna == c.iss) {
                dataAcked--; // our SYN
            }
            c.sndUna = segAck;
            if (Seq.lt(c.sndNxt, c.sndUna)) {
                c.sndNxt = c.sndUna;
            }
            if (c.finSent && Seq.gt(segAck, c.finSeq)) {
                dataAcked--;
                c.finLost = false;
            }
            c.sendBuffer.acknowledge(Seq.min(segAck, c.finSent ? c.finSeq : segAck));
            r.board.acknowledge(segAck, layer.nowNs);
            c.retries = 0;
            c.dupAcks = 0;
            c.deadlines.clear(Deadlines.TAIL_LOSS_PROBE);
            if (!c.inRecovery || r.afterTimeout) {
                if (cwndLimited(c)) {
                    c.cc.onAck(c, dataAcked, layer.nowNs); // in fast recovery PRR sets cwnd instead
                }
            }
            if (Seq.ge(c.sndUna, c.sndMax)) {
                c.deadlines.clear(Deadlines.RETRANSMIT); // all acknowledged
            } else {
                c.deadlines.set(Deadlines.RETRANSMIT, layer.nowNs + c.rtoNs);
                timers.schedule(c, c.deadlines.get(Deadlines.RETRANSMIT));
            }
            if (c.handler != null && c.state != TcpState.CLOSED && dataAcked > 0) {
                c.handler.onSendSpace(c, c.sendBuffer.free());
            }
            if (c.receiveQueue.bytes() > 0) {
                c.deliverPending = true;
            }
            layer.markDirty(c);
        } else if (Seq.lt(c.sndUna, c.sndMax) && segAck == c.sndUna && c.sndWnd > 0
            && (c.sackOk ? newSack : payload == 0 && !fin && !windowUpdated)) {
            // (A zero window is no sign of loss: the peer is full. Its ACKs to our probes are not duplicate
            // ACKs, or fast retransmit would push full segments into the closed window; the persist timer probes.)
            // RFC 5681 §2 duplicate ACK; with SACK, any ACK reporting newly SACKed data (RFC 6675 §2), even one
            // carrying data: in two-way traffic nearly every ACK rides on data.
            c.dupAcks++;
            duplicate = true;
            layer.markDirty(c); // RFC 3042 limited transmit, or what recovery may send now
        } else if (windowUpdated) {
            layer.markDirty(c);
        }
        // RFC 6298 §3 with Karn's rule: a sample from the newest segment this ACK delivered, if it was never
        // retransmitted (the scoreboard knows, per segment).
        if (r.board.rttSampleNs >= 0) {
            rttSample(c, r.board.rttSampleNs);
        }
        if (Seq.lt(c.sndUna, c.sndMax) || c.inRecovery || r.probeOut) {
            r.onAck(c, advanced, duplicate, layer.nowNs);
            if (r.reorderDeadline != 0) {
                timers.schedule(c, r.reorderDeadline);
            }
            if (r.board.pipe() > 0 || r.board.nextLost() >= 0) {
                layer.markDirty(c);
            }
            armProbe(c);
        }
    }

    /**
     * RFC 7661 (and Linux's tcp_is_cwnd_limited): grow cwnd only while the sender is limited by it. A sender
     * held back by the receiver's window or by the application would otherwise raise cwnd on every ACK
     * without bound (one connection acknowledged 45 M segments in 40 s: 2^31 bytes, then a negative window).
     * In slow start cwnd may reach twice the largest flight of the last window.
     */
    static boolean cwndLimited(TcpConnection c) {
        if (c.cwndLimited) {
            return true;
        }
        return c.cwnd < c.ssthresh && c.cwnd < 2L * c.flightHigh;
    }

    /** After sending: remember, per window of data, whether cwnd held us back and the largest flight. */
    void validateCwnd(TcpConnection c, int segmentSize) {
        int flight = c.sndNxt - c.sndUna;
        boolean limitedNow = flight + segmentSize > c.cwnd && c.sendBuffer.tail() != c.sndNxt
            && c.cwnd <= c.sndWnd;
        if (Seq.ge(c.sndUna, c.cwndUsageSeq) || limitedNow || !c.cwndLimited && flight > c.flightHigh) {
            c.cwndLimited = limitedNow;
            c.flightHigh = flight;
            c.cwndUsageSeq = c.sndNxt;
        }
    }

    // --------------------------------------------------------------------------------------- RTT and RTO

    /** RFC 6298 §2. */
    void rttSample(TcpConnection c, long r) {
        if (c.srttNs == 0) {
            c.srttNs = r;
            c.rttvarNs = r / 2;
        } else {
            c.rttvarNs = (3 * c.rttvarNs + Math.abs(c.srttNs - r)) / 4;
            c.srttNs = (7 * c.srttNs + r) / 8;
        }
        long granularity = TimeUnit.MILLISECONDS.toNanos(1);
        c.rtoNs = Math.min(config.maxRtoNs(), Math.max(config.minRtoNs(), c.srttNs + Math.max(granularity, 4 * c.rttvarNs)));
    }

    /** Tail loss probe (RFC 8985 §7.2): armed after sending or an ACK, outside recovery, one probe per tail. */
    void armProbe(TcpConnection c) {
        long pto = c.recovery.probeTimeout(c);
        if (pto == 0 || Seq.ge(c.sndUna, c.sndMax)) {
            c.deadlines.clear(Deadlines.TAIL_LOSS_PROBE);
            return;
        }
        long deadline = layer.nowNs + pto;
        if (!c.inRecovery && !c.recovery.probeOut && c.deadlines.isSet(Deadlines.RETRANSMIT)
            && deadline - c.deadlines.get(Deadlines.RETRANSMIT) > 0) {
            deadline = c.deadlines.get(Deadlines.RETRANSMIT); // at the latest when the RTO would fire, in its place
        }
        c.deadlines.set(Deadlines.TAIL_LOSS_PROBE, deadline);
        timers.schedule(c, deadline);
    }

    /**
     * RFC 8985 §7.3: the probe timer expired. Send one segment, new data if the window allows, else the last
     * segment again, so that a lost tail is answered with SACKs (and RACK) instead of waiting for the RTO.
     */
    void tailLossProbe(TcpConnection c) {
        if (c.sndWnd == 0) {
            return; // a closed window, not a lost tail: the persist timer probes it
        }
        if (Seq.ge(c.sndUna, c.sndMax) || !TcpState.receivesData(c.state) && c.state != TcpState.CLOSE_WAIT
            && c.state != TcpState.LAST_ACK) {
            return;
        }
        if (c.inRecovery || c.recovery.probeOut) {
            if (c.recovery.onRecoveryStall(c, layer.nowNs)) {
                layer.markDirty(c);
            }
            armProbe(c);
            return;
        }
        int unsent = c.sendBuffer.tail() - c.sndNxt;
        int size = tx.currentMss(c);
        boolean sent = false;
        boolean retransmission = false;
        if (unsent > 0 && !c.finSent && Seq.lt(c.sndNxt + Math.min(unsent, size), c.sndUna + c.sndWnd + 1)
            && !c.recovery.board.full()) {
            int len = Math.min(unsent, size);
            if (tx.emitData(c, c.sndNxt, len, false)) {
                c.sndNxt += len;
                c.sndMax = Seq.max(c.sndMax, c.sndNxt);
                sent = true;
            }
        } else {
            int dataEnd = c.finSent ? c.finSeq : c.sndMax;
            int len = Math.min(size, dataEnd - c.sndUna);
            retransmission = true;
            if (len > 0) {
                sent = tx.emitData(c, dataEnd - len, len, true);
            } else if (c.finSent) {
                sent = tx.emit(c, c.finSeq, 0, TcpSegment.FIN | TcpSegment.ACK, true);
            }
        }
        if (sent) {
            c.recovery.onProbeSent(c, retransmission);
            timers.armRetransmit(c); // RFC 8985 §7.3: the RTO runs from the probe
            armProbe(c); // and, should the probe go unanswered, the stall probe (Recovery.onRecoveryStall)
        }
    }

    /**
     * RFC 1191 §5 plateaus, for a router that reports no next-hop MTU (the field is zero): the largest below the
     * datagram that did not fit.
     */
    static final int[] MTU_PLATEAUS = {32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68};

    /**
     * ICMP "fragmentation needed" for one of our segments (RFC 1191 §4): lower the connection's MSS to fit
     * the next hop's MTU and send again what is unacknowledged, in the smaller segments. The quoted sequence
     * number must lie in SND.UNA..SND.MAX (RFC 5927 §4.1), so a blind attacker cannot shrink a connection's
     * segments; an MTU below {@link #MIN_PATH_MTU} is raised to it. Not congestion: cwnd stays.
     */
    void onFragmentationNeeded(int remoteIp, int remotePort, int localPort, int seq, int nextHopMtu,
                                      int datagramLength) {
        TcpConnection c = table.connections.get(TcpLayer.key(remoteIp, remotePort, localPort));
        if (c == null || c.state == TcpState.TIME_WAIT || c.state == TcpState.CLOSED
            || !(Seq.ge(seq, c.sndUna) && Seq.lt(seq, c.sndMax))) {
            counters.tcpPathMtuIgnored.incrementRelease();
            return;
        }
        int mtu = nextHopMtu;
        if (mtu == 0 || mtu >= datagramLength) {
            mtu = 0;
            for (int plateau : MTU_PLATEAUS) {
                if (plateau < datagramLength) {
                    mtu = plateau;
                    break;
                }
            }
        }
        mtu = Math.max(TcpLayer.MIN_PATH_MTU, Math.min(mtu, ip.mtu()));
        int mss = mtu - Ipv4Packet.MIN_HEADER_LENGTH - TcpSegment.MIN_HEADER_LENGTH
            - (c.tsOk ? TcpLayer.TS_OPTION_SPACE : 0);
        if (mss >= c.mss) {
            counters.tcpPathMtuIgnored.incrementRelease();
            return;
        }
        c.mss = mss;
        c.pathMtu = mtu;
        counters.tcpPathMtuReductions.incrementRelease();
        if (Seq.lt(c.sndUna, c.sndMax) && TcpState.sendsData(c.state) || c.state == TcpState.FIN_WAIT_1
            || c.state == TcpState.LAST_ACK || c.state == TcpState.CLOSING) {
            // What was sent in the larger segments was dropped on the way: send it again now (Linux's
            // tcp_simple_retransmit), from SND.UNA.
            // Every unSACKed segment is deemed lost; output() resends them in segments of the new size.
            c.recovery.board.markAllLost();
            if (c.finSent && Seq.le(c.sndUna, c.finSeq)) {
                c.finLost = true;
            }
            c.deadlines.set(Deadlines.RETRANSMIT, layer.nowNs + c.rtoNs);
            timers.schedule(c, c.deadlines.get(Deadlines.RETRANSMIT));
            layer.markDirty(c);
        }
    }
}
