package io.fastpath.stack.tcp;

import io.fastpath.stack.counters.DropReason;
import io.fastpath.stack.counters.StackCounters;
import io.fastpath.stack.ip.IpOutput;
import io.fastpath.stack.wire.TcpOptions;
import io.fastpath.stack.wire.TcpSegment;

/**
 * TIME-WAIT (RFC 9293 §3.10.7.4 in TIME-WAIT): connections that reach it become compact records in the
 * {@link TimeWaitTable}; a segment for a record is answered from it, a newer SYN may reopen the 4-tuple (RFC
 * 6191, RFC 1122 §4.2.2.13), and RSTs are ignored (RFC 1337). Poll thread.
 */
final class TimeWaitInput {
    private final TcpLayer layer;
    private final TcpConfig config;
    private final IpOutput ip;
    private final StackCounters counters;
    private final TcpConnection scratch;
    private final TimeWaitTable timeWait;
    private final TcpSegment seg;
    private final TcpOptions options;
    private ConnectionTable table;
    private ReceivePath rx;
    private TcpOutput tx;
    long lastTimeWaitAckNs = Long.MIN_VALUE / 2;

    TimeWaitInput(TcpLayer layer) {
        this.layer = layer;
        this.config = layer.config;
        this.ip = layer.ip;
        this.counters = layer.counters;
        this.scratch = layer.scratch;
        this.timeWait = layer.timeWait;
        this.seg = layer.seg;
        this.options = layer.options;
    }

    /** Resolves the other parts of the layer (its constructor calls this once all exist). */
    void link() {
        table = layer.table;
        rx = layer.rx;
        tx = layer.tx;
    }

    /** RFC 6191 §2: a newer timestamp, or an equal one with a higher sequence number; without timestamps,
     * a sequence number beyond RCV.NXT (RFC 1122 §4.2.2.13). */
    boolean timeWaitReusable(TcpConnection c) {
        if (c.tsOk && options.hasTimestamps()) {
            return Seq.gt(options.tsVal(), c.tsRecent)
                || options.tsVal() == c.tsRecent && Seq.gt(seg.sequenceNumber(), c.rcvNxt);
        }
        return Seq.gt(seg.sequenceNumber(), c.rcvNxt);
    }

    /**
     * A segment for a compact TIME-WAIT record (RFC 9293 §3.10.7.4 in TIME-WAIT). Returns true when the record
     * is gone and the segment goes on to the listener (a new SYN reusing the 4-tuple, RFC 6191); otherwise the
     * segment is consumed here.
     */
    boolean timeWaitInput(long m, int tw) {
        if (seg.hasFlags(TcpSegment.RST)) {
            layer.free(m); // RFC 1337 §3: a RST must not end TIME-WAIT early ("TIME-WAIT assassination")
            return false;
        }
        int segSeq = seg.sequenceNumber();
        boolean tsOk = timeWait.tsOk(tw);
        if (seg.hasFlags(TcpSegment.SYN) && !seg.hasFlags(TcpSegment.ACK)) {
            boolean newer = tsOk && options.hasTimestamps()
                ? Seq.gt(options.tsVal(), timeWait.tsRecent(tw))
                    || options.tsVal() == timeWait.tsRecent(tw) && Seq.gt(segSeq, timeWait.rcvNxt(tw))
                : Seq.gt(segSeq, timeWait.rcvNxt(tw));
            if (newer) {
                // RFC 6191 §2 / RFC 1122 §4.2.2.13: a new incarnation may start before 2 MSL is over.
                layer.listening.reopenTimeWait(timeWait.sndNxt(tw));
                timeWait.remove(tw);
                counters.tcpTimeWait.setRelease(timeWait.size());
                counters.tcpConnections.setRelease(table.connectionCount());
                return true;
            }
            counters.tcpChallengeAcks.incrementRelease(); // RFC 5961 §4.2: any other SYN gets an ACK
            sendTimeWaitAck(tw);
            layer.drop(m, DropReason.TCP_OUT_OF_WINDOW);
            return false;
        }
        if (tsOk && options.hasTimestamps() && Seq.lt(options.tsVal(), timeWait.tsRecent(tw))) {
            sendTimeWaitAck(tw); // RFC 7323 §5.3 PAWS: an old duplicate
            layer.drop(m, DropReason.TCP_OUT_OF_WINDOW);
            return false;
        }
        boolean retransmittedFin = seg.hasFlags(TcpSegment.FIN)
            && segSeq + seg.payloadLength() == timeWait.rcvNxt(tw) - 1;
        if (retransmittedFin) {
            // The peer did not hear our ACK of its FIN: ACK it again and restart 2 MSL (RFC 9293 §3.10.7.4). Only
            // the FIN itself does (as Linux's tcp_timewait_state_process): a blind sender cannot keep a record
            // alive, nor churn the table by restarting it, and TS.Recent moves only with that segment.
            if (tsOk && options.hasTimestamps()) {
                timeWait.tsRecent(tw, options.tsVal());
            }
            sendTimeWaitAck(tw);
            timeWait.restart(tw, layer.nowNs + config.timeWaitNs());
        } else if ((seg.payloadLength() > 0 || seg.hasFlags(TcpSegment.FIN)) && timeWaitAckAllowed()) {
            sendTimeWaitAck(tw);
        }
        layer.free(m);
        return false;
    }

    /**
     * Whether a TIME-WAIT connection (record or slot) may ACK a segment with data, or a FIN other than the
     * retransmitted one: at most about 1,000 such ACKs a second over all of them (RFC 5961 §7's concern, as
     * Linux's per-connection tcp_oow_rate_limited); the rest are counted as suppressed.
     */
    boolean timeWaitAckAllowed() {
        if (layer.nowNs - lastTimeWaitAckNs >= TcpLayer.OUT_OF_WINDOW_ACK_INTERVAL_NS / 500) {
            lastTimeWaitAckNs = layer.nowNs;
            return true;
        }
        counters.tcpOutOfWindowAcksSuppressed.incrementRelease();
        return false;
    }

    /** The ACK a compact TIME-WAIT record sends: SND.NXT, RCV.NXT, its window, and timestamps if in use. */
    void sendTimeWaitAck(int tw) {
        TcpConnection s = scratch;
        long k = timeWait.key(tw);
        s.localIp = ip.address();
        s.localPort = (int) (k & 0xFFFF);
        s.remotePort = (int) ((k >>> 16) & 0xFFFF);
        s.remoteIp = (int) (k >>> 32);
        s.state = TcpState.TIME_WAIT;
        s.active = true;
        s.urgentToSend = false;
        s.sackOk = false;
        s.tsOk = timeWait.tsOk(tw);
        s.tsRecent = timeWait.tsRecent(tw);
        s.tsOffset = timeWait.tsOffset(tw);
        s.rcvNxt = timeWait.rcvNxt(tw);
        s.rcvAdvertisedEdge = s.rcvNxt;
        s.rcvScale = timeWait.rcvScale(tw);
        s.receiveLimit = timeWait.window(tw);
        s.heldBytes = 0;
        s.heldMbufs = 0;
        s.mss = 1460; // only scales the memory bound of the window (freeReceiveSpace); nothing is sent
        tx.emit(s, timeWait.sndNxt(tw), 0, TcpSegment.ACK, false);
    }

    /**
     * A TIME-WAIT connection whose application has been told it is closed, with nothing left queued either
     * way, becomes a compact record ({@link TimeWaitTable}) and its pooled slot (and send ring) is free at once.
     */
    void compactTimeWait(TcpConnection c) {
        if (timeWait.capacity() == 0 || c.handler != null || !c.receiveQueue.isEmpty() || c.peerClosedUndelivered
            || c.ackNow) {
            return;
        }
        long k = c.key;
        int window = rx.receiveWindow(c);
        if (timeWait.add(k, c.rcvNxt, c.sndNxt, c.tsOk, c.tsRecent, c.tsOffset, window, c.rcvScale,
            c.deadlines.get(Deadlines.TIME_WAIT))) {
            counters.tcpTimeWaitOverflows.incrementRelease();
        }
        table.releaseConnection(c);
        counters.tcpTimeWait.setRelease(timeWait.size());
        counters.tcpConnections.setRelease(table.connectionCount());
    }
}
