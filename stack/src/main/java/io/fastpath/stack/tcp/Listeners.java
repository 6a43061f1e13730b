package io.fastpath.stack.tcp;

import io.fastpath.stack.NtStatus;
import io.fastpath.stack.counters.DropReason;
import io.fastpath.stack.counters.StackCounters;
import io.fastpath.stack.ip.IpOutput;
import io.fastpath.stack.wire.TcpOptions;
import io.fastpath.stack.wire.TcpSegment;
import org.agrona.collections.Int2ObjectHashMap;

/**
 * Listening ports and passive open (RFC 9293 §3.10.7.2, LISTEN): the half-open queue with SYN-flood defence
 * (RFC 4987: oldest half-open dropped, or SYN cookies through {@link SynCookie}), Fast Open SYN data (RFC 7413
 * §4.2.2) and conditional accept (a SYN held for the application's decision). Poll thread.
 */
final class Listeners {
    private final TcpLayer layer;
    private final TcpConfig config;
    private final IpOutput ip;
    private final StackCounters counters;
    private final IsnGenerator isn;
    private final TcpConnection scratch;
    private final TcpSegment seg;
    private final TcpOptions options;
    private ConnectionTable table;
    private FastOpen tfo;
    private ReceivePath rx;
    private TcpInput in;
    private TcpOutput tx;
    private TcpTimers timers;

    /** How long a Fast Open connection closed before its handshake keeps its place (Linux: 60 s). */
    static final long FAST_OPEN_CLOSED_HOLD_NS = java.util.concurrent.TimeUnit.SECONDS.toNanos(60);

    /** A listening port. */
    static final class Listener {
        int port;
        int localIp;
        TcpListenHandler handler;
        long options;
        int pending;
        int fastOpenPending;
        /**
         * Fast Open connections closed before their handshake completed (reset, timed out, aborted): each keeps
         * its place in {@code fastOpenMaxPending} until its deadline, as Linux keeps them on rskq_rst_head for
         * 60 s. Otherwise a spoofed SYN with data, answered by the victim's own RST, would free its place at once
         * and the limit would no longer bound what we send to spoofed addresses (RFC 7413 §5.1). A ring of
         * deadlines, oldest first; allocated once at listen.
         */
        long[] fastOpenHeldUntil;
        int heldFirst;
        int heldCount;

        /** Places taken now: pending Fast Open connections and closed ones still held. */
        int fastOpenInUse(long nowNs) {
            while (heldCount > 0 && nowNs - fastOpenHeldUntil[heldFirst] >= 0) {
                heldFirst = (heldFirst + 1) % fastOpenHeldUntil.length;
                heldCount--;
            }
            return fastOpenPending + heldCount;
        }

        /** A pending Fast Open connection closed before the handshake: its place stays taken until {@code untilNs}. */
        void holdFastOpenPlace(long untilNs) {
            if (fastOpenHeldUntil != null && heldCount < fastOpenHeldUntil.length) {
                fastOpenHeldUntil[(heldFirst + heldCount) % fastOpenHeldUntil.length] = untilNs;
                heldCount++;
            }
        }
        /** Half-open (SYN-RECEIVED) connections, oldest first, linked through TcpConnection.halfOpenNext. */
        TcpConnection halfOpenHead;
        TcpConnection halfOpenTail;
        /** When this listener last answered a SYN with a cookie (cookie ACKs are checked for 2 periods after). */
        long lastCookieNs;
        boolean cookiesSent;
    }
    final Int2ObjectHashMap<Listener> listeners = new Int2ObjectHashMap<>();
    // SYN cookies (RFC 4987 §3.6) and compact TIME-WAIT records; stateless segments are built on a scratch TCB.
    final SynCookie synCookie = new SynCookie(new IsnGenerator(), new IsnGenerator());
    /** Set (for the segment being processed only) when it is a SYN that ended a TIME-WAIT: {@link #reopenTimeWait}. */
    boolean reopensTimeWait;
    int timeWaitIssFloor;

    Listeners(TcpLayer layer) {
        this.layer = layer;
        this.config = layer.config;
        this.ip = layer.ip;
        this.counters = layer.counters;
        this.isn = layer.isn;
        this.scratch = layer.scratch;
        this.seg = layer.seg;
        this.options = layer.options;
    }

    /** Resolves the other parts of the layer (its constructor calls this once all exist). */
    void link() {
        table = layer.table;
        tfo = layer.tfo;
        rx = layer.rx;
        in = layer.in;
        tx = layer.tx;
        timers = layer.timers;
    }

    /**
     * Listens on {@code port} of {@code localIp} (0 = the stack's address).
     *
     * @return STATUS_SUCCESS, STATUS_INVALID_ADDRESS (not our address), STATUS_SHARING_VIOLATION (port in use),
     *     STATUS_INVALID_PARAMETER (port 0 or out of range)
     */
    int listen(int localIp, int port, TcpListenHandler handler) {
        return listen(localIp, port, handler, TcpSocketOptions.DEFAULTS);
    }

    /** As {@link #listen(int, int, TcpListenHandler)}, with options ({@link TcpSocketOptions}) for its connections. */
    int listen(int localIp, int port, TcpListenHandler handler, long socketOptions) {
        if (localIp != 0 && localIp != ip.address()) {
            return NtStatus.STATUS_INVALID_ADDRESS;
        }
        if (port <= 0 || port > 65535) {
            return NtStatus.STATUS_INVALID_PARAMETER;
        }
        if (listeners.containsKey(port)
            || table.localPortUse[port] > 0 && !TcpSocketOptions.reuseAddress(socketOptions)) {
            return NtStatus.STATUS_SHARING_VIOLATION;
        }
        Listener l = new Listener();
        l.port = port;
        l.localIp = ip.address();
        l.handler = handler;
        l.options = socketOptions;
        l.fastOpenHeldUntil = new long[Math.max(1, config.fastOpenMaxPending())];
        listeners.put(port, l);
        return NtStatus.STATUS_SUCCESS;
    }

    /** Stops listening; connections already accepted go on. */
    int stopListening(int port) {
        return listeners.remove(port) != null ? NtStatus.STATUS_SUCCESS : NtStatus.STATUS_INVALID_PARAMETER;
    }

    long conditionalAcceptLimitNs() {
        long retries = config.initialRtoNs() * ((1L << Math.min(config.synRetries() + 1, 20)) - 1);
        return Math.min(TcpLayer.CONDITIONAL_ACCEPT_LIMIT_NS, retries);
    }

    /**
     * Conditional accept: answers a held SYN ({@link TcpListenHandler#onConnectRequest}) with a SYN-ACK; the
     * handshake completes as usual and the listener's {@code onAccept} follows. False if the connection is not
     * a held request (any more).
     */
    boolean acceptRequest(TcpConnection c) {
        if (!c.deferred || c.state != TcpState.SYN_RECEIVED) {
            return false;
        }
        c.deferred = false;
        c.synDataLength = 0; // the SYN's data was not taken: the peer sends it again
        c.deadlines.clear(Deadlines.RETRANSMIT);
        tx.sendSyn(c, true);
        timers.armRetransmit(c);
        return true;
    }

    /**
     * Conditional accept: refuses a held SYN with a RST (the peer's connect fails: connection refused). No
     * onClosed follows. False if the connection is not a held request (any more).
     */
    boolean rejectRequest(TcpConnection c) {
        if (!c.deferred || c.state != TcpState.SYN_RECEIVED) {
            return false;
        }
        tx.sendReset(c.localIp, c.localPort, c.remoteIp, c.remotePort, 0, c.rcvNxt, true);
        c.handler = null;
        table.releaseConnection(c);
        return true;
    }

    /**
     * The SYN being processed reopens a TIME-WAIT 4-tuple whose last SND.NXT was {@code oldSndNxt} (the slot's or
     * the record's): RFC 1122 §4.2.2.13 lets a SYN reopen TIME-WAIT only if the new connection's ISN is larger than
     * the largest sequence number the old one used, or the old incarnation's duplicates would be acceptable to
     * the new one. An RFC 6528 ISN a few milliseconds later (4 µs ticks) is usually below it after any real
     * transfer: the ISN is then the old SND.NXT + 65537, as Linux's tcp_timewait_state_process chooses it. A SYN
     * cookie's ISN stays the cookie (as in Linux).
     */
    void reopenTimeWait(int oldSndNxt) {
        reopensTimeWait = true;
        timeWaitIssFloor = oldSndNxt + 65_535 + 2;
    }

    /**
     * RFC 9293 §3.10.7.2: LISTEN. A SYN makes a half-open (SYN-RECEIVED) connection, or, when the half-open
     * queue or the connection table is full (or always, by configuration), is answered with a SYN cookie and
     * forgotten (RFC 4987 §3.6). An ACK is checked as a cookie's return; anything else that is not a SYN gets
     * the RST RFC 9293 asks for.
     */
    void listenInput(long m, Listener l, int src, int dst) {
        if (seg.hasFlags(TcpSegment.RST)) {
            layer.free(m);
            return;
        }
        if (seg.hasFlags(TcpSegment.ACK)) {
            if (!seg.hasFlags(TcpSegment.SYN) && cookiesAccepted(l)) {
                int mssIndex = synCookie.check(seg.acknowledgmentNumber() - 1, src, dst, seg.sourcePort(),
                    seg.destinationPort(), seg.sequenceNumber() - 1, layer.nowNs);
                if (mssIndex >= 0) {
                    establishFromCookie(m, l, src, mssIndex);
                    return;
                }
                counters.tcpSynCookiesFailed.incrementRelease();
            }
            tx.sendReset(dst, seg.destinationPort(), src, seg.sourcePort(), seg.acknowledgmentNumber(), 0, false);
            layer.drop(m, DropReason.TCP_NO_CONNECTION);
            return;
        }
        if (!seg.hasFlags(TcpSegment.SYN)) {
            layer.free(m);
            return;
        }
        boolean full = l.pending >= config.listenBacklog();
        if (full) {
            counters.tcpListenOverflows.incrementRelease();
        }
        if (table.freeCount == 0 && l.pending == 0) {
            // Every slot holds a connection past its handshake (Linux: the accept queue is full). A cookie would
            // only let the client believe it is connected; drop the SYN, as Linux does, and let it retry.
            counters.tcpListenDrops.incrementRelease();
            layer.drop(m, DropReason.TCP_NO_RESOURCES);
            return;
        }
        TcpConfig.SynCookieMode mode = config.synCookies();
        if (mode == TcpConfig.SynCookieMode.ALWAYS
            || mode == TcpConfig.SynCookieMode.WHEN_FULL && (full || table.freeCount == 0)) {
            // No state for this SYN: Fast Open data in it is not taken and a conditional-accept listener is
            // not asked (both need a connection); the handshake's ACK brings the connection to onAccept.
            sendSynCookie(l, src, dst);
            layer.free(m);
            return;
        }
        if ((full || table.freeCount == 0) && !dropOldestHalfOpen(l)) {
            counters.tcpListenDrops.incrementRelease();
            layer.drop(m, full ? DropReason.TCP_BACKLOG_FULL : DropReason.TCP_NO_RESOURCES);
            return;
        }
        TcpConnection c = table.allocateConnection();
        if (c == null) {
            counters.tcpListenDrops.incrementRelease();
            layer.drop(m, DropReason.TCP_NO_RESOURCES);
            return;
        }
        table.open(c, src, seg.sourcePort(), seg.destinationPort());
        layer.applyOptions(c, l.options, true);
        joinListener(c, l);
        c.irs = seg.sequenceNumber();
        c.rcvNxt = c.irs + 1;
        c.rcvAdvertisedEdge = c.rcvNxt;
        in.applySynOptions(c);
        c.rcvScale = c.sndScale >= 0 && config.windowScaling() && options.hasWindowScale() ? tx.receiveScale() : 0;
        c.iss = isn.isn(c.localIp, c.localPort, c.remoteIp, c.remotePort, layer.nowNs);
        if (reopensTimeWait && Seq.lt(c.iss, timeWaitIssFloor)) {
            c.iss = timeWaitIssFloor; // RFC 1122 §4.2.2.13: above the old incarnation's sequence space
        }
        c.sndUna = c.iss;
        c.sndNxt = c.iss + 1;
        c.sndMax = c.sndNxt;
        c.sendBuffer.reset(c.iss + 1);
        c.sndWnd = seg.window(); // unscaled in a SYN (RFC 7323 §2.2)
        c.sndWl1 = seg.sequenceNumber();
        c.sndWl2 = c.iss;
        c.maxSndWnd = c.sndWnd;
        c.state = TcpState.SYN_RECEIVED;
        counters.tcpPassiveOpens.incrementRelease();
        if (TcpSocketOptions.conditionalAccept(l.options)) {
            // Conditional accept: no SYN-ACK until the application decides (acceptRequest / rejectRequest).
            // SYN data is not taken early here; a Fast Open client sends it again after the handshake.
            c.deferred = true;
            c.held = true;
            c.synDataLength = seg.payloadLength();
            if (config.fastOpen() && options.hasFastOpen()
                && (options.fastOpenCookieLength() == 0 || !tfo.validCookie(src))) {
                c.sendCookie = true;
            }
            c.deadlines.set(Deadlines.RETRANSMIT, layer.nowNs + conditionalAcceptLimitNs());
            timers.schedule(c, c.deadlines.get(Deadlines.RETRANSMIT));
            l.handler.onConnectRequest(c, in.segAddress + seg.payloadOffset(), seg.payloadLength());
            layer.free(m);
            return;
        }
        // Data in a SYN is accepted only with a valid Fast Open cookie (RFC 7413 §4.2.2); otherwise it is
        // not acknowledged and comes again after the handshake.
        boolean kept = false;
        if (config.fastOpen() && options.hasFastOpen()) {
            if (options.fastOpenCookieLength() > 0 && tfo.validCookie(src) && seg.payloadLength() > 0
                && l.fastOpenInUse(layer.nowNs) < config.fastOpenMaxPending()) {
                l.fastOpenPending++;
                c.fastOpenListener = l;
                counters.tcpFastOpenSynDataAccepted.incrementRelease();
                // The answer may go out before the handshake completes (RFC 7413 §3, §4.2.2; Linux sends it
                // after the SYN-ACK within the initial window): congestion control starts now, not at the ACK.
                c.earlyData = true;
                c.recovery.reset(c.sndUna);
                c.cc.onEstablished(c, config.initialWindowSegments());
                // The application gets the connection, and the data, before the handshake completes.
                c.synDataLength = seg.payloadLength();
                if (!in.accept(c)) {
                    layer.free(m);
                    return;
                }
                kept = rx.receiveData(c, m, c.rcvNxt, seg.payloadOffset(), seg.payloadLength());
            } else if (options.fastOpenCookieLength() == 0 || !tfo.validCookie(src)) {
                c.sendCookie = true; // a request, or an invalid or expired cookie: hand out a fresh one
            }
        }
        if (c.state == TcpState.SYN_RECEIVED) {
            tx.sendSyn(c, true);
            timers.armRetransmit(c);
        }
        if (!kept) {
            layer.free(m);
        }
    }

    /** Counts a SYN-RECEIVED connection against its listener's half-open queue (newest last). */
    static void joinListener(TcpConnection c, Listener l) {
        c.listener = l;
        l.pending++;
        c.halfOpenNext = null;
        c.halfOpenPrev = l.halfOpenTail;
        if (l.halfOpenTail != null) {
            l.halfOpenTail.halfOpenNext = c;
        } else {
            l.halfOpenHead = c;
        }
        l.halfOpenTail = c;
    }

    /** The connection leaves its listener's half-open queue (accepted, or gone). */
    static void leaveListener(TcpConnection c) {
        Listener l = c.listener;
        l.pending--;
        if (c.halfOpenPrev != null) {
            c.halfOpenPrev.halfOpenNext = c.halfOpenNext;
        } else if (l.halfOpenHead == c) {
            l.halfOpenHead = c.halfOpenNext;
        }
        if (c.halfOpenNext != null) {
            c.halfOpenNext.halfOpenPrev = c.halfOpenPrev;
        } else if (l.halfOpenTail == c) {
            l.halfOpenTail = c.halfOpenPrev;
        }
        c.halfOpenPrev = null;
        c.halfOpenNext = null;
        c.listener = null;
    }

    /**
     * With cookies off, a SYN that finds the half-open queue full replaces the oldest half-open connection
     * rather than being dropped: a flood then cannot keep a later client out for the ~63 s an entry lives,
     * only for as long as it takes the flood to push the client's entry out (backlog / SYN rate). A request
     * held for the application (conditional accept) ends with onClosed(STATUS_IO_TIMEOUT). False if there is
     * none to drop.
     */
    boolean dropOldestHalfOpen(Listener l) {
        TcpConnection oldest = l.halfOpenHead;
        if (oldest == null) {
            return false;
        }
        counters.tcpHalfOpenEvicted.incrementRelease();
        if (oldest.held) {
            table.closeConnection(oldest, NtStatus.STATUS_IO_TIMEOUT);
        } else {
            table.releaseConnection(oldest);
        }
        return true;
    }

    /** Whether an ACK to this listener may be a cookie's return (Linux: tcp_synq_no_recent_overflow). */
    boolean cookiesAccepted(Listener l) {
        return switch (config.synCookies()) {
            case OFF -> false;
            case ALWAYS -> true;
            case WHEN_FULL -> l.cookiesSent && layer.nowNs - l.lastCookieNs < SynCookie.MAX_AGE * SynCookie.PERIOD_NS;
        };
    }

    /**
     * Answers the SYN in {@link #seg} with a SYN-ACK whose ISN is a SYN cookie, keeping nothing. MSS, and with
     * timestamps the peer's window scale and SACK-permitted, travel in the cookie ({@link SynCookie}).
     */
    void sendSynCookie(Listener l, int src, int dst) {
        TcpConnection s = scratch;
        s.localIp = ip.address();
        s.localPort = seg.destinationPort();
        s.remoteIp = src;
        s.remotePort = seg.sourcePort();
        s.state = TcpState.SYN_RECEIVED;
        s.active = false;
        s.fastOpen = false;
        s.sendCookie = false; // no Fast Open cookie: no Fast Open without state
        s.synData = 0;
        s.urgentToSend = false;
        s.retries = 0;
        s.receiveLimit = TcpSocketOptions.receiveBuffer(l.options, config.receiveBufferBytes());
        s.timestampsWanted = TcpSocketOptions.timestamps(l.options, config.timestamps());
        s.irs = seg.sequenceNumber();
        s.rcvNxt = s.irs + 1;
        // Without timestamps there is nowhere to keep window scale and SACK: the SYN-ACK offers neither.
        s.tsOk = s.timestampsWanted && options.hasTimestamps();
        s.tsRecent = s.tsOk ? options.tsVal() : 0;
        s.sackOk = s.tsOk && config.sack() && options.sackPermitted();
        boolean ws = s.tsOk && config.windowScaling() && options.hasWindowScale();
        s.sndScale = ws ? Math.min(options.windowScale(), TcpOptions.MAX_WINDOW_SCALE) : -1;
        s.rcvScale = ws ? tx.receiveScale() : 0;
        int mssIndex = SynCookie.mssIndex(options.hasMss() ? options.mss() : 536);
        s.iss = synCookie.encode(src, dst, s.remotePort, s.localPort, s.irs, mssIndex, layer.nowNs);
        int nowMs = (int) (layer.nowNs / 1_000_000L);
        if (s.tsOk) {
            int ts = SynCookie.timestamp(nowMs + table.tsOffset(src, s.remotePort, s.localPort), s.sndScale, s.sackOk);
            s.tsOffset = ts - nowMs; // emit() sends tsNow(s), which is now this
        }
        l.cookiesSent = true;
        l.lastCookieNs = layer.nowNs;
        counters.tcpSynCookiesSent.incrementRelease();
        tx.emit(s, s.iss, 0, TcpSegment.SYN | TcpSegment.ACK, false);
    }

    /**
     * A valid cookie came back (RFC 4987 §3.6): the connection is made ESTABLISHED from the cookie and this ACK,
     * handed to the listener (onAccept), and the ACK's data and FIN are then processed as in any ESTABLISHED
     * connection (RFC 9293 §3.10.7.4), so nothing it carries is lost.
     */
    void establishFromCookie(long m, Listener l, int src, int mssIndex) {
        TcpConnection c = table.allocateConnection();
        if (c == null && dropOldestHalfOpen(l)) {
            c = table.allocateConnection(); // a completed handshake is worth more than a half-open one
        }
        if (c == null) {
            layer.drop(m, DropReason.TCP_NO_RESOURCES); // the peer sends again (its data or its ACK)
            return;
        }
        int segSeq = seg.sequenceNumber();
        int segAck = seg.acknowledgmentNumber();
        table.open(c, src, seg.sourcePort(), seg.destinationPort());
        layer.applyOptions(c, l.options, true);
        c.irs = segSeq - 1;
        c.rcvNxt = segSeq;
        c.rcvAdvertisedEdge = c.rcvNxt;
        c.iss = segAck - 1;
        c.sndUna = segAck;
        c.sndNxt = segAck;
        c.sndMax = segAck;
        c.sendBuffer.reset(segAck);
        c.peerMss = SynCookie.MSS_TABLE[mssIndex];
        c.tsOk = c.timestampsWanted && options.hasTimestamps();
        int peerScale = -1;
        if (c.tsOk) {
            c.tsRecent = options.tsVal();
            int echoed = options.tsEcr();
            c.sackOk = config.sack() && SynCookie.sack(echoed);
            peerScale = config.windowScaling() ? SynCookie.windowScale(echoed) : -1;
        }
        c.sndScale = peerScale >= 0 ? Math.min(peerScale, TcpOptions.MAX_WINDOW_SCALE) : -1;
        c.rcvScale = peerScale >= 0 ? tx.receiveScale() : 0;
        // RFC 6691: the peer's MSS counts data only, so options come out of it; never below Linux's 48 bytes.
        c.mss = Math.max(TcpLayer.MIN_SEND_MSS,
            Math.min(c.peerMss, ip.mtu() - 40) - (c.tsOk ? TcpLayer.TS_OPTION_SPACE : 0));
        c.sndWnd = seg.window() << Math.max(c.sndScale, 0);
        c.maxSndWnd = c.sndWnd;
        c.sndWl1 = segSeq;
        c.sndWl2 = segAck;
        c.state = TcpState.SYN_RECEIVED;
        joinListener(c, l);
        counters.tcpPassiveOpens.incrementRelease();
        counters.tcpSynCookiesValidated.incrementRelease();
        in.establish(c);
        if (!in.accept(c)) {
            layer.free(m);
            return;
        }
        in.otherInput(m, c);
    }
}
