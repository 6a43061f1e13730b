package io.fastpath.stack.tcp;

import io.fastpath.stack.NtStatus;
import io.fastpath.stack.counters.Budget;
import io.fastpath.stack.counters.DropReason;
import io.fastpath.stack.counters.StackCounters;
import io.fastpath.stack.ip.IpOutput;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The receiver: segment text into the {@link ReceiveQueue} in place (zero copy), the urgent byte (RFC 6093),
 * the peer's FIN (RFC 9293 §3.10.7.4 "eighth"), delayed ACKs (RFC 1122 §4.2.3.2), delivery to the application,
 * the receive window with receiver SWS avoidance (RFC 1122 §4.2.3.3), and receive memory: every held mbuf is
 * charged to its connection and to the stack ({@link #admit}). Poll thread; owns the mbufs it queues until the
 * application consumes them.
 */
final class ReceivePath {
    private final TcpLayer layer;
    private final TcpConfig config;
    private final IpOutput ip;
    private final StackCounters counters;
    private ConnectionTable table;
    private TcpInput in;
    private TcpTimers timers;
    /** Out-of-order segments another connection gives up per prune under global pressure. */
    static final int PRUNE_BATCH = 64;
    final ReceiveQueue.Releaser releaser;
    // Receive memory (issue 10): every mbuf TCP keeps (in order, out of order, or lent to the application) is
    // charged, whole, to its connection and to this stack. See admit().
    int memTruesize = TcpLayer.DEFAULT_TRUESIZE;
    int memLimit = Integer.MAX_VALUE;
    int memHeld;
    int memHeldPublished;
    int memDataRoom = 2048;
    final UnsafeBuffer collapseSrc = new UnsafeBuffer(0, 0);
    final UnsafeBuffer collapseDst = new UnsafeBuffer(0, 0);
    final ReceiveQueue.Allocator collapseAllocator;

    ReceivePath(TcpLayer layer) {
        this.layer = layer;
        this.config = layer.config;
        this.ip = layer.ip;
        this.counters = layer.counters;
        this.releaser = m -> {
            memHeld--;
            ip.free(m);
        };
        this.collapseAllocator = new ReceiveQueue.Allocator() {
            @Override
            public long allocate() {
                long m = ip.allocate();
                if (m != 0) {
                    memHeld++; // a fresh mbuf for collapsed data: held like any other
                }
                return m;
            }

            @Override
            public long dataAddress(long m) {
                return ip.dataAddress(m);
            }
        };
    }

    /** Resolves the other parts of the layer (its constructor calls this once all exist). */
    void link() {
        table = layer.table;
        in = layer.in;
        timers = layer.timers;
    }

    /** In-window data: queue it in place (the mbuf is kept) or hold it out of order. Returns whether kept. */
    boolean receiveData(TcpConnection c, long m, int segSeq, int payloadOffset, int payload) {
        long address = in.segAddress + payloadOffset;
        // Trim what we already have (RFC 9293 §3.10.7.4: segments may overlap the left window edge).
        if (Seq.lt(segSeq, c.rcvNxt)) {
            int skip = c.rcvNxt - segSeq;
            if (skip >= payload) {
                c.ackNow = true; // a duplicate: ACK so the peer learns where we are
                layer.markDirty(c);
                return false;
            }
            address += skip;
            payload -= skip;
            segSeq = c.rcvNxt;
        }
        // And what lies beyond the window.
        int window = receiveWindow(c);
        int beyond = (segSeq + payload) - (c.rcvNxt + window);
        if (beyond > 0) {
            payload -= beyond;
            if (payload <= 0) {
                c.ackNow = true;
                layer.markDirty(c);
                return false;
            }
        }
        if (!admit(c, segSeq == c.rcvNxt, segSeq)) {
            counters.drop(DropReason.TCP_MEMORY_LIMIT).incrementRelease();
            c.ackNow = true; // tell the peer where we are and what window is left
            layer.markDirty(c);
            return false;
        }
        if (segSeq == c.rcvNxt && c.urgentToReceive && Seq.inRange(c.rcvUp - 1, segSeq, segSeq + payload)) {
            return receiveWithUrgentByte(c, m, segSeq, address, payload);
        }
        if (segSeq == c.rcvNxt) {
            if (!c.receiveQueue.append(m, address, payload)) {
                counters.drop(DropReason.TCP_RECEIVE_QUEUE_FULL).incrementRelease();
                c.ackNow = true;
                layer.markDirty(c);
                return false;
            }
            memHeld++;
            c.rcvNxt += payload;
            boolean hadOutOfOrder = c.receiveQueue.outOfOrderCount() > 0;
            if (hadOutOfOrder) {
                c.rcvNxt = c.receiveQueue.drainInOrder(c.rcvNxt, releaser);
                c.ackNow = true; // RFC 5681 §4.2: ACK at once when a hole fills
            }
            if (c.peerFinPending && c.peerFinSeq == c.rcvNxt) {
                c.peerFinPending = false;
                peerFin(c);
            }
            scheduleAck(c);
            deliver(c);
            ackEarlyIfWindowAtRisk(c);
            return true;
        }
        counters.tcpOutOfOrder.incrementRelease();
        c.ackNow = true; // RFC 5681 §4.2: out-of-order data is acknowledged at once (with SACK)
        layer.markDirty(c);
        if (!c.receiveQueue.insertOutOfOrder(segSeq, m, address, payload)) {
            counters.drop(DropReason.TCP_RECEIVE_QUEUE_FULL).incrementRelease();
            return false;
        }
        memHeld++;
        return true;
    }

    // ------------------------------------------------------------------------------------ receive memory

    /** Mbufs charged to a connection: its in-order and out-of-order views and what its application holds. */
    static int charged(TcpConnection c) {
        return c.receiveQueue.count() + c.receiveQueue.outOfOrderCount() + c.heldMbufs;
    }

    /** The most mbufs one connection may hold: twice its receive buffer in truesize (Linux: rcvbuf = 2 x window). */
    int connectionLimit(TcpConnection c) {
        // Memoised per connection (it is asked for every segment received and every window computed): the
        // division is done again only when the receive limit or the truesize changed (truesize is never 0, so
        // a fresh connection's zeros never match).
        if (c.memLimitReceiveLimit != c.receiveLimit || c.memLimitTruesize != memTruesize) {
            c.memLimitCached = connectionLimit(c.receiveLimit, memTruesize);
            c.memLimitReceiveLimit = c.receiveLimit;
            c.memLimitTruesize = memTruesize;
        }
        return c.memLimitCached;
    }

    /** The formula: twice {@code receiveLimit} in mbufs of {@code truesize}, at least 8. */
    static int connectionLimit(int receiveLimit, int truesize) {
        return Math.max(8, (int) (2L * receiveLimit / truesize));
    }

    /**
     * May this connection keep one more mbuf? Linux's order under pressure (tcp_prune_queue): first give up
     * out-of-order data (this connection's above {@code seq}, then, when the stack as a whole is short, other
     * connections'), then collapse tiny in-order segments into fewer mbufs, and only then refuse the segment.
     * The budget leaves part of the pool untouched, so receiving, ARP, ICMP, ACKs and resets never starve.
     */
    boolean admit(TcpConnection c, boolean inOrder, int seq) {
        int limit = connectionLimit(c);
        // A stalled receiver's connections (its application stopped taking data) get at most half the budget:
        // one stalled TcpService client cannot starve the others on the stack.
        int stackLimit = c.handover != null && c.handover.stalled() ? memLimit / 2 : memLimit;
        if (charged(c) < limit && memHeld < stackLimit) {
            return true;
        }
        ReceiveQueue q = c.receiveQueue;
        // 1. This connection's out-of-order data: in-order data is worth more; an out-of-order segment is worth
        // more than those above it.
        if (q.outOfOrderCount() > 0 && (inOrder || q.holdsOutOfOrderFrom(seq + 1))) {
            int excess = Math.max(charged(c) - limit + 1, memHeld - memLimit + 1);
            int dropped = q.pruneOutOfOrder(inOrder ? c.rcvNxt : seq + 1, Math.max(1, excess), releaser);
            counters.tcpOutOfOrderPruned.getAndAddRelease(dropped);
        }
        // 2. The stack is short: take out-of-order data from the connections holding the most.
        // Only for in-order data (progress): an out-of-order segment does not get to evict other connections'.
        for (int round = 0; inOrder && round < 4 && memHeld >= memLimit; round++) {
            TcpConnection victim = table.largestOutOfOrder(c);
            if (victim == null) {
                break;
            }
            ReceiveQueue vq = victim.receiveQueue;
            int dropped = vq.pruneOutOfOrder(victim.rcvNxt, Math.max(PRUNE_BATCH, memHeld - memLimit + 1), releaser);
            counters.tcpOutOfOrderPruned.getAndAddRelease(dropped);
        }
        // 3. Tiny in-order segments: copy them together (needs a few mbufs from the pool, gives back many).
        if ((charged(c) >= limit || memHeld >= memLimit) && q.count() >= 4) {
            int saved = q.collapse(memDataRoom, memDataRoom / 4, collapseAllocator, releaser, collapseSrc, collapseDst);
            counters.tcpCollapsedMbufs.getAndAddRelease(saved);
        }
        return charged(c) < limit && memHeld < stackLimit;
    }

    /**
     * In-order data holding the urgent byte: the byte goes to the handler out of band and the rest of the
     * segment is queued around it (two views over one mbuf share it through its reference count).
     */
    boolean receiveWithUrgentByte(TcpConnection c, long m, int segSeq, long address, int payload) {
        int k = c.rcvUp - 1 - segSeq;
        if (c.receiveQueue.full()) {
            counters.drop(DropReason.TCP_RECEIVE_QUEUE_FULL).incrementRelease();
            c.ackNow = true;
            layer.markDirty(c);
            return false;
        }
        c.urgentToReceive = false;
        if (c.handler != null) {
            c.handler.onUrgentData(c, address + k, 1);
            if (c.state == TcpState.CLOSED) {
                return false; // the application aborted in the callback: nothing to queue, the caller frees m
            }
        }
        boolean kept = false;
        if (k > 0) {
            c.receiveQueue.append(m, address, k);
            memHeld++;
            kept = true;
        }
        int rest = payload - k - 1;
        if (rest > 0) {
            if (kept) {
                ip.retain(m);
            }
            if (!c.receiveQueue.append(m, address + k + 1, rest)) {
                if (kept) {
                    ip.unretain(m);
                }
                rest = 0;
            } else {
                memHeld++;
                kept = true;
            }
        }
        c.rcvNxt = segSeq + k + 1 + rest;
        if (c.receiveQueue.outOfOrderCount() > 0) {
            c.rcvNxt = c.receiveQueue.drainInOrder(c.rcvNxt, releaser);
        }
        c.ackNow = true;
        layer.markDirty(c);
        deliver(c);
        return kept;
    }

    /**
     * The ACK owed is sent when the duty cycle ends, one for the whole burst received (a stretch ACK). When
     * the data it covers is a quarter of the receive buffer or more (a few large segments), waiting for the
     * end of the burst would leave the sender without window for a while: send it now. RFC 1122 §4.2.3.2 asks
     * for at least every second segment; this keeps a window's worth from going unacknowledged.
     */
    private void ackEarlyIfWindowAtRisk(TcpConnection c) {
        if (c.ackNow && (long) c.segmentsUnacked * c.mss >= c.receiveLimit >> 2 && c.state != TcpState.CLOSED) {
            layer.tx.output(c);
            // The rest of this burst is acknowledged at its end, however few segments: a lone segment after
            // the early ACK must not wait for the delayed-ACK timer (a Nagle sender would wait with it).
            // Same cycle, not same clock value: a clock that stands still across cycles must not turn delayed
            // ACK off.
            c.earlyAckCycle = layer.cycle;
        }
    }

    /** RFC 1122 §4.2.3.2: ACK at least every second full segment, and within the delayed-ACK time. */
    void scheduleAck(TcpConnection c) {
        c.segmentsUnacked++;
        if (c.segmentsUnacked >= 2 || c.earlyAckCycle == layer.cycle) {
            c.ackNow = true;
        } else if (!c.deadlines.isSet(Deadlines.DELAYED_ACK)) {
            c.deadlines.set(Deadlines.DELAYED_ACK, layer.nowNs + config.delayedAckNs());
            timers.schedule(c, c.deadlines.get(Deadlines.DELAYED_ACK));
        }
        layer.markDirty(c);
    }

    void peerFin(TcpConnection c) {
        c.rcvNxt++;
        c.ackNow = true;
        layer.markDirty(c);
        // The application hears of the FIN only after it has taken every byte before it (like a 0-byte read).
        c.peerClosedUndelivered = true;
        switch (c.state) {
            case TcpState.ESTABLISHED -> c.state = TcpState.CLOSE_WAIT;
            case TcpState.FIN_WAIT_1 -> {
                if (c.finSent && Seq.gt(c.sndUna, c.finSeq)) {
                    timers.enterTimeWait(c);
                } else {
                    c.state = TcpState.CLOSING;
                }
            }
            case TcpState.FIN_WAIT_2 -> timers.enterTimeWait(c);
            default -> {
            }
        }
        deliver(c);
    }

    /** Offers queued data to the application, frees what it consumed, and opens the window. */
    void deliver(TcpConnection c) {
        ReceiveQueue q = c.receiveQueue;
        if (Budget.ENABLED && layer.budget != null && !q.isEmpty()) {
            layer.budget.mark(Budget.HANDOVER);
        }
        while (c.handover != null && !q.isEmpty() && c.state != TcpState.CLOSED) {
            int length = q.headLength();
            if (!c.handover.onHandover(c, q.headMbuf(), q.headAddress(), length)) {
                break;
            }
            q.takeHead();
            c.heldBytes += length;
            c.heldMbufs++;
        }
        while (c.handover == null && !q.isEmpty() && c.handler != null && c.state != TcpState.CLOSED) {
            int length = q.headLength();
            long handle = c.handle();
            int taken = c.handler.onReceive(c, q.headAddress(), length);
            if (taken <= 0 || c.state == TcpState.CLOSED || c.handle() != handle) {
                // Nothing taken, or the application closed the connection inside the callback (abort, or a
                // close that released it, possibly reused since): the close freed the queue, so nothing here
                // may touch it again (a second free of its head).
                break;
            }
            q.consumeHead(Math.min(taken, length), releaser);
            if (taken < length) {
                break;
            }
        }
        if (q.isEmpty() && c.peerClosedUndelivered && c.handler != null) {
            c.peerClosedUndelivered = false;
            c.handler.onPeerClosed(c);
            if (c.state == TcpState.TIME_WAIT && c.handler != null) {
                // Both directions are done and the application has everything: it is closed for them.
                TcpHandler h = c.handler;
                c.handler = null;
                h.onClosed(c, NtStatus.STATUS_SUCCESS);
            }
        }
        if (c.state != TcpState.CLOSED) {
            announceWindowIfOpened(c);
        }
    }

    /**
     * RFC 1122 §4.2.3.3 (receiver SWS avoidance): announce the window once its right edge can move by two
     * segments or half the buffer, whichever is less.
     */
    void announceWindowIfOpened(TcpConnection c) {
        int free = freeReceiveSpace(c);
        if ((c.rcvNxt + free) - c.rcvAdvertisedEdge >= Math.min(2 * c.mss, c.receiveLimit / 2)) {
            c.ackNow = true;
            layer.markDirty(c);
        }
    }

    /**
     * Receive space: the buffer less the bytes held, and no more than the memory left would hold in full-sized
     * segments (so a connection whose mbufs are mostly tiny segments closes its window, Linux's tcp_space).
     */
    int freeReceiveSpace(TcpConnection c) {
        int free = c.receiveLimit - c.receiveQueue.bytes() - c.receiveQueue.outOfOrderBytes() - c.heldBytes;
        long memoryFree = (long) (connectionLimit(c) - charged(c)) * c.mss;
        return (int) Math.min(free, Math.max(0, memoryFree));
    }

    int receiveWindow(TcpConnection c) {
        int free = freeReceiveSpace(c);
        // Never shrink the window we advertised (RFC 7323 §2.4 / RFC 9293 §3.8.6).
        int advertised = c.rcvAdvertisedEdge - c.rcvNxt;
        return Math.max(Math.max(free, 0), advertised);
    }
}
