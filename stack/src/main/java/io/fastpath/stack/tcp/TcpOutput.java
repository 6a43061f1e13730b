package io.fastpath.stack.tcp;

import io.fastpath.stack.counters.DropReason;
import io.fastpath.stack.counters.StackCounters;
import io.fastpath.stack.ip.IpOutput;
import io.fastpath.stack.wire.Ipv4Packet;
import io.fastpath.stack.wire.TcpOptions;
import io.fastpath.stack.wire.TcpSegment;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Segment output: what the windows allow (retransmissions first, then new data per RFC 6675 §4 NextSeg, then
 * FIN, then ACKs), Nagle and sender SWS avoidance (RFC 1122 §4.2.3.4), and building each segment: the TCP
 * header and options written once into a buffer from the IP layer, which adds the IPv4 and link headers. The
 * SYN's option layout (RFC 9293 §3.1, RFC 7323, RFC 2018, RFC 7413) is computed once per SYN. Poll thread.
 */
final class TcpOutput {
    private final TcpLayer layer;
    private final TcpConfig config;
    private final IpOutput ip;
    private final StackCounters counters;
    private final TcpConnection scratch;
    private AckProcessing acks;
    private FastOpen tfo;
    private ReceivePath rx;
    private TcpInput in;
    private TcpTimers timers;
    final UnsafeBuffer out = new UnsafeBuffer(0, 0);
    /** The header of the segment being built (one at a time). */
    private final TcpHeaderRepr header = new TcpHeaderRepr();

    TcpOutput(TcpLayer layer) {
        this.layer = layer;
        this.config = layer.config;
        this.ip = layer.ip;
        this.counters = layer.counters;
        this.scratch = layer.scratch;
    }

    /** Resolves the other parts of the layer (its constructor calls this once all exist). */
    void link() {
        acks = layer.acks;
        tfo = layer.tfo;
        rx = layer.rx;
        in = layer.in;
        timers = layer.timers;
    }

    int tsNow(TcpConnection c) {
        return (int) (layer.nowNs / 1_000_000L) + c.tsOffset;
    }

    /** Sends what the windows allow: retransmissions of holes first, then new data, then FIN, then ACKs. */
    void output(TcpConnection c) {
        if (c.state == TcpState.SYN_RECEIVED && c.earlyData) {
            if (c.synAckSent) {
                outputEarlyData(c); // never ahead of the SYN-ACK: a client in SYN-SENT drops segments without SYN
            }
            return;
        }
        if (c.state == TcpState.SYN_SENT && c.synUnsent) {
            sendSyn(c, false); // a SYN the port could not take (the first with its Fast Open data): again now
            return;
        }
        if (c.state == TcpState.CLOSED || c.state == TcpState.SYN_SENT || c.state == TcpState.SYN_RECEIVED) {
            return; // the SYN (or SYN-ACK) is retransmitted by the timer; nothing else goes out yet
        }
        if (c.state == TcpState.TIME_WAIT) {
            if (c.ackNow) {
                sendAck(c);
            }
            return;
        }
        boolean sent = false;
        int window = Math.min(c.sndWnd, c.cwnd);
        int segmentSize = currentMss(c);
        Recovery r = c.recovery;
        // RFC 6675 §5 step (C) with NextSeg rule 1: segments deemed lost (IsLost, RACK, RTO) go first, while
        // cwnd - pipe allows (PRR sets cwnd in fast recovery, RFC 6937).
        for (int i; (i = r.board.nextLost()) >= 0; ) {
            int seq = Seq.max(r.board.start(i), c.sndUna);
            int len = r.board.end(i) - seq;
            if (len > segmentSize) {
                r.board.split(i, seq + segmentSize); // a smaller MSS now: the rest stays waiting
                len = Math.min(len, segmentSize);
            }
            if (c.cwnd - r.pipe(c) < Math.min(len, c.mss) || !retransmit(c, seq, len)) {
                break;
            }
            sent = true;
        }
        if (c.finLost && r.board.nextLost() < 0 && c.cwnd - r.pipe(c) > 0) {
            c.finLost = false;
            sent |= emit(c, c.finSeq, 0, TcpSegment.FIN | TcpSegment.ACK, true);
        }
        // New data (NextSeg rule 2).
        while (true) {
            int unsent = c.sendBuffer.tail() - c.sndNxt;
            int usable = c.sndUna + window - c.sndNxt;
            if (!c.inRecovery && c.dupAcks > 0 && c.dupAcks < 3) {
                usable = c.sndUna + Math.min(c.sndWnd, c.cwnd + c.dupAcks * c.mss) - c.sndNxt;
            }
            if (c.inRecovery) {
                // RFC 6675 §5: in recovery what may be sent is cwnd - pipe (SACKed data is not in flight),
                // within the receiver's window.
                usable = Math.min(c.sndUna + c.sndWnd - c.sndNxt, c.cwnd - r.pipe(c));
            }
            int len = Math.min(Math.min(unsent, usable), segmentSize);
            if (len <= 0 || r.board.full()) {
                break;
            }
            // Sender SWS avoidance and Nagle (RFC 1122 §4.2.3.4): send a full segment, or at least half the
            // largest window the peer offered, or everything queued when nothing is unacknowledged (or
            // Nagle is off, or we are closing).
            if (len < segmentSize && len < c.maxSndWnd / 2) {
                boolean all = len == unsent;
                boolean idle = Seq.ge(c.sndUna, c.sndNxt);
                if (!all || !(idle || c.nodelay || c.finQueued)) {
                    break;
                }
            }
            boolean retransmission = Seq.lt(c.sndNxt, c.sndMax);
            if (!emitData(c, c.sndNxt, len, retransmission)) {
                return;
            }
            c.sndNxt += len;
            if (Seq.gt(c.sndNxt, c.sndMax)) {
                c.sndMax = c.sndNxt;
            }
            sent = true;
        }
        // NextSeg rules 3 and 4 (RFC 6675 §4), when no new data could go: an unSACKed segment below the highest
        // SACK not yet deemed lost, else once per episode the highest unSACKed segment (rescue).
        if (c.inRecovery && !r.afterTimeout && c.sackOk && c.sndNxt == c.sndMax
            && (c.sendBuffer.tail() == c.sndNxt || c.sndUna + c.sndWnd - c.sndNxt < segmentSize)) {
            while (c.cwnd - r.pipe(c) >= c.mss) {
                int i = r.board.nextUnsackedBelowHighestSack();
                boolean rescue = i < 0;
                if (rescue) {
                    i = r.rescueRecord(c);
                    if (i < 0) {
                        break;
                    }
                }
                int end = r.board.end(i);
                int seq = Seq.max(Seq.max(r.board.start(i), end - segmentSize), c.sndUna);
                if (!retransmit(c, seq, end - seq)) {
                    return;
                }
                sent = true;
                if (rescue) {
                    break;
                }
            }
        }
        if (sent && !c.deadlines.isSet(Deadlines.TAIL_LOSS_PROBE)) {
            acks.armProbe(c); // RFC 8985 §7.2: after sending (SND.MAX is up to date here)
        }
        acks.validateCwnd(c, segmentSize);
        // Data waiting, nothing in flight, and a window too small to use (zero, or below what SWS avoidance
        // sends): the persist timer (RFC 9293 §3.8.6.1, RFC 1122 §4.2.2.17) probes until it opens.
        if (c.sendBuffer.tail() != c.sndNxt && c.sndUna == c.sndNxt && !c.deadlines.isSet(Deadlines.RETRANSMIT)) {
            timers.armRetransmit(c);
        }
        // FIN once all data is out.
        if (c.finQueued && !c.finSent && c.sndNxt == c.finSeq) {
            sendFin(c);
            sent = true;
        } else if (c.finQueued && c.finSent && Seq.lt(c.sndNxt, c.finSeq + 1) && c.sndNxt == c.finSeq) {
            sendFin(c); // retransmission after an RTO reset SND.NXT
            sent = true;
        }
        if (!sent && c.ackNow) {
            sendAck(c);
        }
        if (Seq.lt(c.sndUna, c.sndMax) && !c.deadlines.isSet(Deadlines.RETRANSMIT)) {
            timers.armRetransmit(c);
        }
    }

    /**
     * A Fast Open server in SYN-RECEIVED (RFC 7413 §3: "the server can send data ... before the 3WHS
     * completes", §4.2.2): new data after the SYN-ACK, within the peer's (unscaled SYN) window and the initial
     * congestion window, the SYN-ACK counting as in flight (as Linux). Only new data: after a SYN-ACK timeout
     * the data is deemed lost and recovery resends it once the handshake completes; a FIN waits for
     * ESTABLISHED (RFC 9293 §3.10.4, CLOSE in SYN-RECEIVED with data queued). The retransmission timer is the
     * SYN-ACK's.
     */
    private void outputEarlyData(TcpConnection c) {
        int window = Math.min(c.sndWnd, c.cwnd);
        int segmentSize = currentMss(c);
        while (true) {
            int unsent = c.sendBuffer.tail() - c.sndNxt;
            int len = Math.min(Math.min(unsent, c.sndUna + window - c.sndNxt), segmentSize);
            if (len <= 0 || c.recovery.board.full()) {
                break;
            }
            // Nagle and SWS avoidance as in output(); the SYN-ACK alone outstanding counts as idle (Linux's
            // Minshall check looks at small data segments only).
            if (len < segmentSize && len < c.maxSndWnd / 2
                && (len != unsent || !(c.sndNxt == c.iss + 1 || c.nodelay || c.finQueued))) {
                break;
            }
            if (!emitData(c, c.sndNxt, len, false)) {
                return;
            }
            c.sndNxt += len;
            if (Seq.gt(c.sndNxt, c.sndMax)) {
                c.sndMax = c.sndNxt;
            }
        }
    }

    /**
     * Payload that fits in one frame now: the negotiated MSS less the room SACK blocks take while we hold
     * out-of-order data (RFC 2018: options count against the MTU, not the MSS).
     */
    int currentMss(TcpConnection c) {
        int room = (c.pathMtu > 0 ? Math.min(c.pathMtu, ip.mtu()) : ip.mtu()) - Ipv4Packet.MIN_HEADER_LENGTH
            - TcpSegment.MIN_HEADER_LENGTH - (c.tsOk ? TcpLayer.TS_OPTION_SPACE : 0);
        if (c.sackOk && c.receiveQueue.outOfOrderCount() > 0) {
            room -= 4 + 8 * (c.tsOk ? 3 : 4);
        }
        return Math.max(TcpLayer.MIN_SEND_MSS, Math.min(c.mss, room));
    }

    /** Sends [seq, seq + len) again (it lies below SND.MAX). */
    boolean retransmit(TcpConnection c, int seq, int len) {
        return len > 0 && emitData(c, seq, len, true);
    }

    void sendFin(TcpConnection c) {
        int flags = TcpSegment.FIN | TcpSegment.ACK;
        if (emit(c, c.finSeq, 0, flags, false)) {
            c.finSent = true;
            c.sndNxt = c.finSeq + 1;
            if (Seq.gt(c.sndNxt, c.sndMax)) {
                c.sndMax = c.sndNxt;
            }
            if (c.state == TcpState.ESTABLISHED || c.state == TcpState.SYN_RECEIVED) {
                c.state = TcpState.FIN_WAIT_1;
            } else if (c.state == TcpState.CLOSE_WAIT) {
                c.state = TcpState.LAST_ACK;
            }
            timers.armIfIdle(c);
        }
    }

    boolean emitData(TcpConnection c, int seq, int len, boolean retransmission) {
        int flags = TcpSegment.ACK;
        if (seq + len == c.sendBuffer.tail()) {
            flags |= TcpSegment.PSH;
        }
        if (!emit(c, seq, len, flags, retransmission)) {
            return false;
        }
        // The scoreboard records every data segment with its transmission time (RFC 8985 §5.2).
        c.recovery.onSent(c, seq, len, retransmission, layer.nowNs);
        if (retransmission) {
            counters.tcpRetransmits.incrementRelease();
        }
        if (!c.deadlines.isSet(Deadlines.RETRANSMIT)) {
            timers.armRetransmit(c);
        }
        return true;
    }

    /**
     * A pure ACK. Its sequence number is SND.NXT unless that lies beyond the peer's window (after a probe or a
     * retransmission it refused), in which case the window's right edge, so the peer accepts the ACK.
     */
    void sendAck(TcpConnection c) {
        int edge = c.sndUna + c.sndWnd;
        emit(c, Seq.lt(edge, c.sndNxt) ? edge : c.sndNxt, 0, TcpSegment.ACK, false);
    }

    void sendSyn(TcpConnection c, boolean ack) {
        c.rttTiming = c.retries == 0;
        c.rttStartNs = layer.nowNs;
        int data = 0;
        if (!ack && c.fastOpen && c.retries == 0) {
            if (tfo.cookieCache.contains(c.remoteIp)) {
                // RFC 7413 §4.2.1: data rides in the SYN, as much as one segment holds next to the options.
                data = Math.min(c.sendBuffer.length(), ip.mtu() - 40 - 40);
            }
            c.synData = data;
        }
        // A retransmitted SYN goes without the data (as Linux's: the data waits in its own segment), but the data
        // was sent: SND.NXT stays past it, so a SYN-ACK that acknowledges it (the first SYN arrived, its SYN-ACK
        // did not) is acceptable, and one that does not makes synSentInput send it again (RFC 7413 §4.2.2).
        boolean sent = emit(c, c.iss, data, ack ? TcpSegment.SYN | TcpSegment.ACK : TcpSegment.SYN, c.retries > 0);
        if (ack && sent) {
            c.synAckSent = true;
        }
        if (!ack) {
            c.synUnsent = !sent; // emit queued the connection: output sends the SYN again next duty cycle
        }
        if (!ack && c.retries == 0) {
            // The first SYN's data is sent only if the SYN reached the port: until then it is not in flight (if the
            // timer's SYN is the first to go, the data follows the handshake).
            if (!sent) {
                data = 0;
                c.synData = 0;
            } else if (data > 0) {
                counters.tcpFastOpenSynDataSent.incrementRelease();
            }
            c.sndNxt = c.iss + 1 + data;
            c.sndMax = c.sndNxt;
        }
    }

    /**
     * Builds and sends one segment: Ethernet + IPv4 + TCP with options, payload copied from the send buffer.
     * Every segment but a SYN carries the current ACK and window, so it cancels a pending delayed ACK.
     */
    boolean emit(TcpConnection c, int seq, int len, int flags, boolean retransmission) {
        if (!ip.canTransmit()) {
            // The port is full: keep the segment unsent and come back next duty cycle (issue 10 item 7: frames
            // dropped after TCP counted them sent were self-inflicted loss). A stateless segment (SYN cookie,
            // TIME-WAIT record, built on the scratch TCB) is just not sent: the peer retransmits.
            if (c == scratch) {
                return false;
            }
            if (!c.txBlocked) {
                c.txBlocked = true;
                layer.txBlocked[layer.txBlockedCount++] = c;
            }
            return false;
        }
        long m = ip.allocate();
        if (m == 0) {
            counters.drop(DropReason.TCP_NO_RESOURCES).incrementRelease();
            if (c != scratch && !c.txBlocked) {
                c.txBlocked = true; // the pool is empty for now: try again next duty cycle, not never
                layer.txBlocked[layer.txBlockedCount++] = c;
            }
            return false;
        }
        boolean syn = (flags & TcpSegment.SYN) != 0;
        TcpHeaderRepr h = header.clearOptions();
        if (syn) {
            // The SYN's options, decided once: what we offer (active open) or what the peer offered too.
            h.mss = ip.mtu() - 40;
            h.sackPermitted = config.sack() && (c.active || c.sackOk);
            h.timestamps = c.timestampsWanted && (c.active || c.tsOk);
            h.tsVal = tsNow(c);
            h.tsEcr = c.active ? 0 : c.tsRecent;
            h.windowScale = config.windowScaling() && (c.active || c.sndScale >= 0) ? c.rcvScale : -1;
            if (tfo.fastOpenOptionLength(c) > 0) {
                h.fastOpen = true;
                if (c.active) {
                    int cookie = tfo.synCarriesData(c) ? tfo.cookieCache.copy(c.remoteIp, tfo.clientCookie) : -1;
                    h.cookie = cookie > 0 ? tfo.clientCookie : null;
                    h.cookieLength = Math.max(cookie, 0);
                } else {
                    h.cookie = tfo.cookieFor(c.remoteIp);
                    h.cookieLength = 8;
                    counters.tcpFastOpenCookiesSent.incrementRelease();
                }
            }
        } else {
            h.timestamps = c.tsOk;
            h.tsVal = tsNow(c);
            h.tsEcr = c.tsRecent;
            int maxBlocks = c.tsOk ? 3 : 4;
            // A D-SACK rides first (RFC 2883 §4), on a segment with room for it (currentMss() reserves room
            // for blocks only while data is held out of order).
            boolean dsack = c.dsackPending && c.sackOk
                && (len == 0 || c.receiveQueue.outOfOrderCount() > 0 || currentMss(c) - len >= 12);
            if (dsack) {
                c.dsackPending = false;
                maxBlocks--;
            }
            int sackBlocks = 0;
            if (c.sackOk && c.receiveQueue.outOfOrderCount() > 0) {
                sackBlocks = c.receiveQueue.sackBlocks(h.sackLeft, h.sackRight, maxBlocks, in.lastSegmentSeq);
            }
            if (dsack) {
                System.arraycopy(h.sackLeft, 0, h.sackLeft, 1, sackBlocks);
                System.arraycopy(h.sackRight, 0, h.sackRight, 1, sackBlocks);
                h.sackLeft[0] = c.dsackLeft;
                h.sackRight[0] = c.dsackRight;
                sackBlocks++;
            }
            h.sackBlocks = sackBlocks;
        }
        int window;
        if (syn) {
            window = Math.min(c.receiveLimit, 65535); // unscaled in a SYN (RFC 7323 §2.2)
        } else {
            int rcvWnd = rx.receiveWindow(c);
            window = Math.min(rcvWnd >>> c.rcvScale, 65535);
            int edge = c.rcvNxt + (window << c.rcvScale);
            if (Seq.gt(edge, c.rcvAdvertisedEdge)) {
                c.rcvAdvertisedEdge = edge;
            }
        }
        if (c.urgentToSend) {
            if (Seq.ge(c.sndUna, c.sndUp)) {
                c.urgentToSend = false;
            } else if (Seq.gt(c.sndUp, seq) && !syn) {
                flags |= TcpSegment.URG;
                h.urgentPointer = Math.min(c.sndUp - seq, 0xFFFF);
            }
        }
        h.sourcePort = c.localPort;
        h.destinationPort = c.remotePort;
        h.seq = seq;
        h.ack = (flags & TcpSegment.ACK) != 0 ? c.rcvNxt : 0;
        h.flags = flags;
        h.window = window;
        int tcpHeader = h.headerLength();
        out.wrap(ip.segmentAddress(m), tcpHeader + len);
        int at = h.emit(out, 0, tcpHeader + len);
        if (len > 0) {
            c.sendBuffer.copy(syn ? seq + 1 : seq, len, out, at); // SYN data starts after the SYN's number
        }
        if ((flags & TcpSegment.ACK) != 0) {
            c.ackNow = false;
            c.segmentsUnacked = 0;
            c.deadlines.clear(Deadlines.DELAYED_ACK);
        }
        counters.tcpSegmentsSent.incrementRelease();
        ip.transmitTcp(m, c.localIp, c.remoteIp, tcpHeader + len);
        return true;
    }

    /** Our window scale: the smallest shift that lets the 16-bit field cover the receive buffer. */
    int receiveScale() {
        if (!config.windowScaling()) {
            return 0;
        }
        int shift = 0;
        while ((65535L << shift) < config.receiveBufferBytes() && shift < TcpOptions.MAX_WINDOW_SCALE) {
            shift++;
        }
        return shift;
    }

    /** A RST not tied to a connection (RFC 9293 §3.10.7.1). */
    void sendReset(int localIp, int localPort, int remoteIp, int remotePort, int seq, int ack,
                           boolean withAck) {
        long m = ip.allocate();
        if (m == 0) {
            return;
        }
        TcpHeaderRepr h = header.clearOptions();
        h.sourcePort = localPort;
        h.destinationPort = remotePort;
        h.seq = seq;
        h.ack = withAck ? ack : 0;
        h.flags = TcpSegment.RST | (withAck ? TcpSegment.ACK : 0);
        h.window = 0;
        out.wrap(ip.segmentAddress(m), TcpSegment.MIN_HEADER_LENGTH);
        h.emit(out, 0, TcpSegment.MIN_HEADER_LENGTH);
        counters.tcpResetsSent.incrementRelease();
        counters.tcpSegmentsSent.incrementRelease();
        ip.transmitTcp(m, localIp, remoteIp, TcpSegment.MIN_HEADER_LENGTH);
    }
}
