package io.fastpath.stack.tcp;

import io.fastpath.stack.NtStatus;
import io.fastpath.stack.counters.StackCounters;
import io.fastpath.stack.wire.TcpSegment;
import java.util.concurrent.TimeUnit;
import org.agrona.DeadlineTimerWheel;
import org.agrona.collections.Long2ObjectHashMap;

/**
 * A connection's timers: one {@link DeadlineTimerWheel} timer per connection at its earliest deadline, and what
 * each deadline does when it expires: retransmission (RFC 6298 §5), persist (RFC 9293 §3.8.6.1, RFC 1122
 * §4.2.2.17), keepalive (RFC 1122 §4.2.3.6), delayed ACK (RFC 1122 §4.2.3.2), tail loss probe and RACK reorder
 * timer (RFC 8985 §6.3, §7.3), TIME-WAIT (RFC 9293 §3.10.8). Poll thread; time comes in as a parameter.
 */
final class TcpTimers {
    private final TcpLayer layer;
    private final TcpConfig config;
    private final StackCounters counters;
    private final TimeWaitTable timeWait;
    private AckProcessing acks;
    private ConnectionTable table;
    private TcpOutput tx;
    static final long TIMER_TICK_NS = 1L << 20; // about 1 ms
    final DeadlineTimerWheel wheel;
    final Long2ObjectHashMap<TcpConnection> timerOwners;
    final DeadlineTimerWheel.TimerHandler timerHandler = this::onTimer;

    TcpTimers(TcpLayer layer, long startNs) {
        this.layer = layer;
        this.config = layer.config;
        this.counters = layer.counters;
        this.timeWait = layer.timeWait;
        this.timerOwners = new Long2ObjectHashMap<>(config.maxConnections() * 2, 0.6f);
        // The wheel counts ticks from startNs, and advances one tick per poll while timers are pending.
        this.wheel = new DeadlineTimerWheel(TimeUnit.NANOSECONDS, startNs, TIMER_TICK_NS, 1024);
    }

    /** Resolves the other parts of the layer (its constructor calls this once all exist). */
    void link() {
        acks = layer.acks;
        table = layer.table;
        tx = layer.tx;
    }

    void keepAlive(TcpConnection c, boolean enable, long idleNs, long intervalNs, int count) {
        c.keepAlive = enable && idleNs > 0 && intervalNs > 0 && count > 0;
        c.keepIdleNs = idleNs;
        c.keepIntervalNs = intervalNs;
        c.keepCount = count;
        c.keepProbes = 0;
        if (c.keepAlive) {
            c.deadlines.set(Deadlines.KEEPALIVE, layer.nowNs + idleNs);
            schedule(c, c.deadlines.get(Deadlines.KEEPALIVE));
        } else {
            c.deadlines.clear(Deadlines.KEEPALIVE);
        }
    }

    /** RFC 1122 §4.2.3.6: a probe is an ACK with SEG.SEQ = SND.NXT - 1 and no data; the peer answers it. */
    void keepAliveTimeout(TcpConnection c) {
        if (!c.keepAlive || c.state != TcpState.ESTABLISHED && c.state != TcpState.CLOSE_WAIT) {
            c.deadlines.clear(Deadlines.KEEPALIVE);
            return;
        }
        if (Seq.lt(c.sndUna, c.sndMax)) {
            // Data in flight: the retransmission timer watches the peer.
            c.deadlines.set(Deadlines.KEEPALIVE, layer.nowNs + c.keepIdleNs);
            return;
        }
        if (c.keepProbes >= c.keepCount) {
            table.closeConnection(c, NtStatus.STATUS_IO_TIMEOUT);
            return;
        }
        c.keepProbes++;
        tx.emit(c, c.sndNxt - 1, 0, TcpSegment.ACK, false);
        c.deadlines.set(Deadlines.KEEPALIVE, layer.nowNs + c.keepIntervalNs);
    }

    /** Runs due timers. Returns the work done. */
    int poll(long now) {
        layer.nowNs = now;
        int expired = timeWait.size() > 0 ? timeWait.expire(now) : 0;
        if (expired > 0) {
            counters.tcpTimeWait.setRelease(timeWait.size());
            counters.tcpConnections.setRelease(table.connectionCount());
        }
        // The wheel's tick is about 1 ms: between ticks there is nothing new to expire, and scanning the
        // current tick's slots every duty cycle cost several percent of a busy poll thread.
        // While it holds timers the wheel moves one tick per poll: after a pause (GC, a stepped clock) it
        // must catch up here, or every timer fires late by the pause (found by ReceivePathFuzzTest).
        int work = expired;
        for (long tick; now >= (tick = wheel.currentTickTime()); ) {
            int n = wheel.poll(now, timerHandler, 1024);
            work += n;
            if (n == 0 && wheel.currentTickTime() == tick) {
                break;
            }
        }
        return work;
    }

    void armRetransmit(TcpConnection c) {
        c.deadlines.set(Deadlines.RETRANSMIT, layer.nowNs + c.rtoNs);
        schedule(c, c.deadlines.get(Deadlines.RETRANSMIT));
    }

    void armIfIdle(TcpConnection c) {
        if (!c.deadlines.isSet(Deadlines.RETRANSMIT)) {
            armRetransmit(c);
        }
    }

    /** Arms the connection's timer for a set deadline (any value, 0 included) unless an earlier one is armed. */
    void schedule(TcpConnection c, long deadline) {
        if (c.timerId != -1 && c.timerDeadline - deadline <= 0) {
            return; // an earlier (or equal) timer is already set; it will reschedule on firing
        }
        if (c.timerId != -1) {
            wheel.cancelTimer(c.timerId);
            timerOwners.remove(c.timerId);
        }
        c.timerId = wheel.scheduleTimer(deadline);
        c.timerDeadline = deadline;
        timerOwners.put(c.timerId, c);
    }

    boolean onTimer(TimeUnit unit, long now, long timerId) {
        TcpConnection c = timerOwners.remove(timerId);
        if (c == null || c.timerId != timerId) {
            return true;
        }
        c.timerId = -1;
        layer.nowNs = now;
        if (c.state == TcpState.CLOSED) {
            return true;
        }
        if (c.deadlines.due(Deadlines.TIME_WAIT, now)) {
            if (c.handler != null && (!c.receiveQueue.isEmpty() || c.peerClosedUndelivered)) {
                // The application has not taken the last data yet (its event ring was full, or it paused):
                // hold the connection until it has, rather than drop acknowledged bytes.
                c.deliverPending = true;
                layer.markDirty(c);
                c.deadlines.set(Deadlines.TIME_WAIT, now + TimeUnit.MILLISECONDS.toNanos(10));
                schedule(c, c.deadlines.get(Deadlines.TIME_WAIT));
                return true;
            }
            table.closeConnection(c, NtStatus.STATUS_SUCCESS);
            return true;
        }
        if (c.deadlines.due(Deadlines.DELAYED_ACK, now)) {
            c.deadlines.clear(Deadlines.DELAYED_ACK);
            c.ackNow = true;
            layer.markDirty(c);
        }
        if (c.deadlines.due(Deadlines.RETRANSMIT, now) && !(c.deadlines.due(Deadlines.TAIL_LOSS_PROBE, now)
            && c.deadlines.get(Deadlines.TAIL_LOSS_PROBE) - c.deadlines.get(Deadlines.RETRANSMIT) <= 0)) {
            c.deadlines.clear(Deadlines.RETRANSMIT);
            c.deadlines.clear(Deadlines.TAIL_LOSS_PROBE);
            retransmitTimeout(c);
        } else if (c.deadlines.due(Deadlines.TAIL_LOSS_PROBE, now)) {
            // Due no later than the RTO (armProbe caps it there): the probe goes first and re-arms the RTO.
            c.deadlines.clear(Deadlines.TAIL_LOSS_PROBE);
            acks.tailLossProbe(c);
        }
        if (c.state != TcpState.CLOSED && c.recovery != null && c.recovery.reorderDeadline != 0
            && now - c.recovery.reorderDeadline >= 0) {
            c.recovery.onReorderTimeout(c, now); // RFC 8985 §6.3
            layer.markDirty(c);
        }
        if (c.state != TcpState.CLOSED && c.deadlines.due(Deadlines.KEEPALIVE, now)) {
            keepAliveTimeout(c);
        }
        if (c.state != TcpState.CLOSED) {
            scheduleEarliest(c);
        }
        return true;
    }

    /** Arms the timer at the earliest set deadline, if any (a deadline of 0 is set like any other). */
    private void scheduleEarliest(TcpConnection c) {
        boolean any = c.deadlines.anySet();
        long next = any ? c.deadlines.earliest() : 0;
        long reorder = c.recovery == null ? 0 : c.recovery.reorderDeadline; // Recovery's own sentinel: 0 = none
        if (reorder != 0 && (!any || reorder - next < 0)) {
            next = reorder;
            any = true;
        }
        if (any) {
            schedule(c, next);
        }
    }

    /** RFC 6298 §5: the retransmission timer expired. */
    void retransmitTimeout(TcpConnection c) {
        if (c.deferred) {
            table.closeConnection(c, NtStatus.STATUS_IO_TIMEOUT); // nobody decided in time: drop the request
            return;
        }
        counters.tcpTimeouts.incrementRelease();
        c.retries++;
        c.rttTiming = false; // Karn
        c.rtoNs = Math.min(config.maxRtoNs(), c.rtoNs * 2);
        if (c.retries == 1) {
            c.retransmitSinceNs = layer.nowNs;
        }
        // TCP_MAXRT: a time limit instead of (or before) the retry counts.
        boolean outOfTime = c.maxRetransmitNs > 0 && layer.nowNs - c.retransmitSinceNs >= c.maxRetransmitNs;
        if (TcpState.sendsData(c.state) || c.state == TcpState.FIN_WAIT_1 || c.state == TcpState.LAST_ACK
            || c.state == TcpState.CLOSING) {
            boolean waiting = c.sendBuffer.tail() != c.sndNxt && Seq.ge(c.sndUna, c.sndMax);
            // A zero window with data outstanding: our probe byte, or a window the peer shrank to zero under
            // data in flight (Linux: "receiver dastardly shrinks window; our retransmits become zero probes,
            // but we should not time out this connection").
            boolean zeroWindowProbeOut = c.sndWnd == 0 && Seq.lt(c.sndUna, c.sndMax);
            if (waiting || zeroWindowProbeOut) {
                persistTimeout(c);
                return;
            }
        }
        if (c.state == TcpState.SYN_SENT || c.state == TcpState.SYN_RECEIVED) {
            int limit = c.state == TcpState.SYN_RECEIVED && !c.active ? config.synAckRetries() : config.synRetries();
            if (c.retries > limit || outOfTime) {
                if (c.state == TcpState.SYN_RECEIVED && !c.active && (c.held || c.fastOpenListener != null)) {
                    // An accepted request, or a connection the application has since its Fast Open SYN data:
                    // the peer never ACKed.
                    table.closeConnection(c, NtStatus.STATUS_IO_TIMEOUT);
                } else if (c.state == TcpState.SYN_RECEIVED && !c.active) {
                    table.releaseConnection(c);
                } else {
                    table.closeConnection(c, NtStatus.STATUS_IO_TIMEOUT);
                }
                return;
            }
            if (c.earlyData && Seq.gt(c.sndMax, c.iss + 1)) {
                // Data sent after the SYN-ACK (Fast Open server): as Linux's tcp_fastopen_synack_timer, a SYN-ACK
                // timeout enters loss recovery, so the data goes again, in slow start, once the peer's ACK completes
                // the handshake; only the SYN-ACK is retransmitted now. On every such timeout, not only the first:
                // data first sent after an earlier timeout (the application answered late) is lost just as well.
                // ssthresh comes down once, on the first timeout that finds data (RFC 5681 §3.1, equation 4).
                c.cc.onTimeout(c, c.sndMax - c.sndUna, !c.recovery.afterTimeout, layer.nowNs);
                c.recovery.onTimeout(c);
            }
            tx.sendSyn(c, c.state == TcpState.SYN_RECEIVED);
            armRetransmit(c);
            return;
        }
        if (c.retries > config.dataRetries() || outOfTime) {
            tx.sendReset(c.localIp, c.localPort, c.remoteIp, c.remotePort, c.sndNxt, 0, false);
            table.closeConnection(c, NtStatus.STATUS_IO_TIMEOUT);
            return;
        }
        // RFC 5681 §3.1 (equation 4), on the first timeout of this data only. Every unSACKed segment is then
        // deemed lost and recovery resends them in slow start, skipping what the peer SACKed (RFC 6675 §5.1,
        // RFC 8985 §6.3): output() below sends the first at once (RFC 6298 §5.4).
        c.cc.onTimeout(c, c.sndMax - c.sndUna, c.retries == 1, layer.nowNs);
        c.deadlines.clear(Deadlines.TAIL_LOSS_PROBE);
        c.recovery.onTimeout(c);
        if (c.finSent && Seq.le(c.sndUna, c.finSeq)) {
            c.finLost = true;
        }
        armRetransmit(c);
        if (c.recovery.board.count() == 0 && Seq.lt(c.sndUna, c.sndMax) && !c.finLost) {
            // Outstanding bytes the scoreboard does not hold (a SYN's data, say): from SND.UNA as before.
            int len = Math.min(tx.currentMss(c), c.sendBuffer.tail() - c.sndUna);
            if (len > 0 && tx.emitData(c, c.sndUna, len, true)) {
                c.sndNxt = Seq.max(c.sndNxt, c.sndUna + len);
                c.sndMax = Seq.max(c.sndMax, c.sndNxt);
            }
            return;
        }
        tx.output(c);
    }

    /**
     * The persist timer (RFC 9293 §3.8.6.1, RFC 1122 §4.2.2.17): data waits and the peer's window is zero (or
     * too small for SWS avoidance). Probe: what the window takes, or one byte beyond a zero window; a probe
     * byte the peer refused is sent again (one byte, never a full segment into a zero window). "The
     * transmitting host SHOULD send the first zero-window probe when a zero window has existed for the
     * retransmission timeout period, and SHOULD increase exponentially the interval between successive
     * probes", and the connection stays open as long as the peer keeps answering: only probes that go
     * unanswered count towards giving up (as Linux's icsk_probes_out, reset by every ACK).
     */
    void persistTimeout(TcpConnection c) {
        c.retries = 0;
        boolean silent = c.probesOut > config.dataRetries()
            || c.maxRetransmitNs > 0 && c.lastAckNs != 0 && layer.nowNs - c.lastAckNs >= c.maxRetransmitNs;
        if (silent) {
            tx.sendReset(c.localIp, c.localPort, c.remoteIp, c.remotePort, c.sndNxt, 0, false);
            table.closeConnection(c, NtStatus.STATUS_IO_TIMEOUT);
            return;
        }
        // An application that has closed (FIN queued) or left does not get to pin a slot for ever behind a
        // peer that keeps its window shut (Linux: tcp_orphan_retries): a bounded number of probes then.
        if ((c.finQueued || c.handler == null) && ++c.persistProbes > config.dataRetries()) {
            tx.sendReset(c.localIp, c.localPort, c.remoteIp, c.remotePort, c.sndNxt, 0, false);
            table.closeConnection(c, NtStatus.STATUS_IO_TIMEOUT);
            return;
        }
        c.probesOut++;
        counters.tcpWindowProbes.incrementRelease();
        if (c.finSent && Seq.ge(c.sndUna, c.finSeq)) {
            // Only our FIN is outstanding: probe with the FIN itself, never with a byte past the data.
            tx.emit(c, c.finSeq, 0, TcpSegment.FIN | TcpSegment.ACK, true);
        } else if (Seq.lt(c.sndUna, c.sndMax)) {
            // The refused probe byte again, or the first byte of what the shrunk window left outstanding; the rest
            // goes again (go-back-N) once the window opens. One byte, never a full segment into a zero window.
            if (tx.emitData(c, c.sndUna, 1, true)) {
                c.sndNxt = c.sndUna + 1;
            }
        } else {
            int probe = Math.max(1, Math.min(Math.min(c.sndWnd, tx.currentMss(c)), c.sendBuffer.tail() - c.sndNxt));
            if (probe > 0 && tx.emitData(c, c.sndNxt, probe, false)) {
                c.sndNxt += probe;
                c.sndMax = Seq.max(c.sndMax, c.sndNxt);
            }
        }
        armRetransmit(c);
    }

    /**
     * Both FINs are acknowledged (or ours is and the peer's has come). The application is told it is closed
     * once it has taken the data still queued and heard of the peer's FIN (see {@link #deliver}).
     */
    void enterTimeWait(TcpConnection c) {
        c.state = TcpState.TIME_WAIT;
        c.deadlines.clear(Deadlines.RETRANSMIT);
        c.deadlines.clear(Deadlines.TAIL_LOSS_PROBE);
        c.deadlines.clear(Deadlines.KEEPALIVE);
        c.deadlines.set(Deadlines.TIME_WAIT, layer.nowNs + config.timeWaitNs());
        schedule(c, c.deadlines.get(Deadlines.TIME_WAIT));
        layer.markDirty(c); // flush() moves it to the TIME-WAIT table once its last ACK is out
        if (c.handler != null && c.receiveQueue.isEmpty() && !c.peerClosedUndelivered) {
            TcpHandler h = c.handler;
            c.handler = null;
            h.onClosed(c, NtStatus.STATUS_SUCCESS);
        }
    }
}
