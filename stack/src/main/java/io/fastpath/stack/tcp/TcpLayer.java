package io.fastpath.stack.tcp;

import io.fastpath.dpdk.Mbuf;
import io.fastpath.stack.NtStatus;
import io.fastpath.stack.counters.DropReason;
import io.fastpath.stack.counters.StackCounters;
import io.fastpath.stack.wire.Checksum;
import io.fastpath.stack.wire.EthernetFrame;
import io.fastpath.stack.wire.Ipv4Packet;
import io.fastpath.stack.wire.TcpOptions;
import io.fastpath.stack.wire.TcpSegment;
import io.fastpath.stack.wire.WireError;
import java.util.concurrent.TimeUnit;
import org.agrona.DeadlineTimerWheel;
import org.agrona.DirectBuffer;
import org.agrona.collections.Int2ObjectHashMap;
import org.agrona.collections.Long2ObjectHashMap;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * TCP (RFC 9293) for one stack: connection table, listeners, the state machine, reliable delivery and
 * congestion control.
 *
 * <p>Read first: RFC 9293 §3.10 (event processing, which {@link #input} follows: LISTEN, SYN-SENT, then the
 * other states in the "first check sequence number ... eighth check FIN" order), RFC 7323 (window scale,
 * timestamps, PAWS), RFC 2018 and RFC 6675 (SACK and SACK-based recovery), RFC 6298 (RTO), RFC 5681 and
 * RFC 6582 (congestion control, NewReno), RFC 5961 (blind-attack protections), RFC 6528 (ISN).
 *
 * <p>Thread: the poll thread. Time is a parameter ({@code nowNs}); nothing here reads a clock. Nothing is
 * allocated per segment or per timer: connections are pooled, timers sit on one {@link DeadlineTimerWheel}
 * (one timer per connection, at its earliest deadline), lookups go through primitive maps keyed by the
 * packed 4-tuple.
 *
 * <p>Buffers: a received segment's mbuf is kept (zero copy) while its data waits in the
 * {@link ReceiveQueue}, and freed when the application has consumed it; sent data is copied once from the
 * {@link SendBuffer} into each segment built.
 */
public final class TcpLayer {
    public static final int EPHEMERAL_FIRST = 49152;
    public static final int EPHEMERAL_LAST = 65535;
    /**
     * How long a conditionally accepted SYN waits for the application's decision before it is dropped, at
     * most: as long as our own SYN retries would last (initial RTO x (2^(retries+1) - 1)), capped here.
     */
    public static final long CONDITIONAL_ACCEPT_LIMIT_NS = 10_000_000_000L;
    private static final int HEADERS = EthernetFrame.HEADER_LENGTH + Ipv4Packet.MIN_HEADER_LENGTH;
    private static final int TS_OPTION_SPACE = 12;
    private static final long TIMER_TICK_NS = 1L << 20; // about 1 ms
    private static final int MAX_SACK_SCOREBOARD = 8;
    private static final long RX_L4_CKSUM_MASK = (1L << 3) | (1L << 8);
    private static final long RX_L4_CKSUM_GOOD = 1L << 8;
    private static final long TX_TCP_CKSUM = 1L << 52;
    private static final long TX_IP_CKSUM = 1L << 54;
    private static final long TX_IPV4 = 1L << 55;

    /** A listening port. */
    static final class Listener {
        int port;
        int localIp;
        TcpListenHandler handler;
        long options;
        int pending;
        int fastOpenPending;
    }

    private final TcpConfig config;
    private final IpOutput ip;
    private final StackCounters counters;
    private final IsnGenerator isn;
    private final TcpConnection[] pool;
    private final int[] freeList;
    private int freeCount;
    private final Long2ObjectHashMap<TcpConnection> connections;
    private final Int2ObjectHashMap<Listener> listeners = new Int2ObjectHashMap<>();
    private final int[] localPortUse = new int[65536];
    private int nextEphemeral;
    private final DeadlineTimerWheel timers;
    private final Long2ObjectHashMap<TcpConnection> timerOwners;
    private final DeadlineTimerWheel.TimerHandler timerHandler = this::onTimer;
    private final TcpConnection[] dirty;
    private int dirtyCount;
    private final ReceiveQueue.Releaser releaser;

    private final UnsafeBuffer frame = new UnsafeBuffer(0, 0);
    private final UnsafeBuffer out = new UnsafeBuffer(0, 0);
    private final TcpSegment seg = new TcpSegment();
    private final TcpSegment outSeg = new TcpSegment();
    private final Ipv4Packet outIp = new Ipv4Packet();
    private final EthernetFrame outEth = new EthernetFrame();
    private final TcpOptions options = new TcpOptions();
    private final int[] sackLeftOut = new int[4];
    private final int[] sackRightOut = new int[4];
    private int ipId;
    // Fast Open: the server's cookie keys (current and previous, RFC 7413 §4.1.2) and the client's cookie cache.
    private IsnGenerator cookieKey = new IsnGenerator();
    private IsnGenerator previousCookieKey = cookieKey;
    private final Int2ObjectHashMap<byte[]> cookieCache = new Int2ObjectHashMap<>();
    private final byte[] cookieScratch = new byte[8];
    private TcpConnection lastConnection;
    private long nowNs;
    private int lastSegmentSeq;

    public TcpLayer(TcpConfig config, IpOutput ip, long startNs) {
        this(config, ip, new IsnGenerator(), startNs);
    }

    public TcpLayer(TcpConfig config, IpOutput ip, IsnGenerator isn, long startNs) {
        this.config = config;
        this.ip = ip;
        this.counters = ip.counters();
        this.isn = isn;
        this.pool = new TcpConnection[config.maxConnections()];
        this.freeList = new int[config.maxConnections()];
        for (int i = 0; i < pool.length; i++) {
            pool[i] = new TcpConnection(this, i);
            freeList[freeCount++] = pool.length - 1 - i;
        }
        this.connections = new Long2ObjectHashMap<>(config.maxConnections() * 2, 0.6f);
        this.timerOwners = new Long2ObjectHashMap<>(config.maxConnections() * 2, 0.6f);
        this.dirty = new TcpConnection[config.maxConnections()];
        // The wheel counts ticks from startNs, and advances one tick per poll while timers are pending.
        this.timers = new DeadlineTimerWheel(TimeUnit.NANOSECONDS, startNs, TIMER_TICK_NS, 1024);
        this.nowNs = startNs;
        this.nextEphemeral = EPHEMERAL_FIRST + (int) (System.nanoTime() & 0x3FFF);
        this.releaser = ip::free;
    }

    public TcpConfig config() {
        return config;
    }

    /** Internal state of every open connection, for diagnostics (allocates). */
    public String describe() {
        StringBuilder sb = new StringBuilder("timers: count=" + timers.timerCount() + " tickTime="
            + timers.currentTickTime() + " now=" + nowNs + "\n");
        for (TcpConnection c : pool) {
            if (c.state != TcpState.CLOSED) {
                sb.append(c.describe()).append('\n');
            }
        }
        return sb.toString();
    }

    /** Connections in use (any state but CLOSED). */
    public int connectionCount() {
        return pool.length - freeCount;
    }

    static long key(int remoteIp, int remotePort, int localPort) {
        return ((long) remoteIp << 32) | ((long) (remotePort & 0xFFFF) << 16) | (localPort & 0xFFFF);
    }

    // ============================================================================================ API

    /**
     * Listens on {@code port} of {@code localIp} (0 = the stack's address).
     *
     * @return STATUS_SUCCESS, STATUS_INVALID_ADDRESS (not our address), STATUS_SHARING_VIOLATION (port in use),
     *     STATUS_INVALID_PARAMETER (port 0 or out of range)
     */
    public int listen(int localIp, int port, TcpListenHandler handler) {
        return listen(localIp, port, handler, TcpSocketOptions.DEFAULTS);
    }

    /** As {@link #listen(int, int, TcpListenHandler)}, with options ({@link TcpSocketOptions}) for its connections. */
    public int listen(int localIp, int port, TcpListenHandler handler, long socketOptions) {
        if (localIp != 0 && localIp != ip.address()) {
            return NtStatus.STATUS_INVALID_ADDRESS;
        }
        if (port <= 0 || port > 65535) {
            return NtStatus.STATUS_INVALID_PARAMETER;
        }
        if (listeners.containsKey(port)
            || localPortUse[port] > 0 && !TcpSocketOptions.reuseAddress(socketOptions)) {
            return NtStatus.STATUS_SHARING_VIOLATION;
        }
        Listener l = new Listener();
        l.port = port;
        l.localIp = ip.address();
        l.handler = handler;
        l.options = socketOptions;
        listeners.put(port, l);
        return NtStatus.STATUS_SUCCESS;
    }

    /** Stops listening; connections already accepted go on. */
    public int stopListening(int port) {
        return listeners.remove(port) != null ? NtStatus.STATUS_SUCCESS : NtStatus.STATUS_INVALID_PARAMETER;
    }

    /**
     * Opens a connection. Returns STATUS_PENDING and later calls {@code handler.onConnectComplete} exactly
     * once; or fails at once (no callback) with STATUS_INVALID_ADDRESS (local address not ours),
     * STATUS_NETWORK_UNREACHABLE (no route), STATUS_SHARING_VIOLATION (local port in use),
     * STATUS_ADDRESS_ALREADY_EXISTS (that 4-tuple exists), STATUS_TOO_MANY_ADDRESSES (no ephemeral port
     * left), STATUS_INSUFFICIENT_RESOURCES (connection table full).
     *
     * @param localIp 0 = the stack's address
     * @param localPort 0 = an ephemeral port (49152-65535)
     */
    public int connect(int localIp, int localPort, int remoteIp, int remotePort, TcpHandler handler) {
        return connect(localIp, localPort, remoteIp, remotePort, handler, null, 0, 0, false);
    }

    /**
     * Opens a connection with data to send once connected (WskConnectEx). With {@code fastOpen} (and Fast
     * Open enabled in the config) the SYN asks for a cookie, or, with a cookie cached for this server, carries
     * the data (RFC 7413 §4.2); data the server does not acknowledge in its SYN-ACK is sent again after the
     * handshake. The caller may reuse {@code data} as soon as this returns. Statuses as {@link #connect}; and
     * STATUS_BUFFER_OVERFLOW if the data exceeds the send buffer.
     */
    public int connect(int localIp, int localPort, int remoteIp, int remotePort, TcpHandler handler,
                       DirectBuffer data, int offset, int length, boolean fastOpen) {
        return connect(localIp, localPort, remoteIp, remotePort, handler, data, offset, length, fastOpen,
            TcpSocketOptions.DEFAULTS);
    }

    /** As the connect above, with per-connection options ({@link TcpSocketOptions}). */
    public int connect(int localIp, int localPort, int remoteIp, int remotePort, TcpHandler handler,
                       DirectBuffer data, int offset, int length, boolean fastOpen, long socketOptions) {
        if (length > config.sendBufferBytes()) {
            return NtStatus.STATUS_BUFFER_OVERFLOW;
        }
        if (localIp != 0 && localIp != ip.address()) {
            return NtStatus.STATUS_INVALID_ADDRESS;
        }
        if (remotePort <= 0 || remotePort > 65535 || localPort < 0 || localPort > 65535 || remoteIp == 0) {
            return NtStatus.STATUS_INVALID_PARAMETER;
        }
        if (ip.nextHop(remoteIp) == 0) {
            counters.noRoute.incrementRelease();
            return NtStatus.STATUS_NETWORK_UNREACHABLE;
        }
        if (localPort != 0) {
            if (connections.containsKey(key(remoteIp, remotePort, localPort))) {
                return NtStatus.STATUS_ADDRESS_ALREADY_EXISTS;
            }
            if (listeners.containsKey(localPort)
                || localPortUse[localPort] > 0 && !TcpSocketOptions.reuseAddress(socketOptions)) {
                return NtStatus.STATUS_SHARING_VIOLATION;
            }
        } else {
            localPort = ephemeralPort();
            if (localPort == 0) {
                return NtStatus.STATUS_TOO_MANY_ADDRESSES;
            }
        }
        TcpConnection c = allocateConnection();
        if (c == null) {
            return NtStatus.STATUS_INSUFFICIENT_RESOURCES;
        }
        open(c, remoteIp, remotePort, localPort);
        applyOptions(c, socketOptions, true);
        lastConnection = c;
        c.handler = handler;
        c.active = true;
        c.connectPending = true;
        c.iss = isn.isn(c.localIp, localPort, remoteIp, remotePort, nowNs);
        c.sndUna = c.iss;
        c.sndNxt = c.iss + 1;
        c.sndMax = c.sndNxt;
        c.sendBuffer.reset(c.iss + 1);
        if (length > 0) {
            c.sendBuffer.write(data, offset, length);
        }
        c.fastOpen = fastOpen && config.fastOpen();
        c.state = TcpState.SYN_SENT;
        c.rcvScale = receiveScale();
        counters.tcpActiveOpens.incrementRelease();
        sendSyn(c, false);
        if (c.state == TcpState.SYN_SENT) {
            armRetransmit(c);
        }
        return NtStatus.STATUS_PENDING;
    }

    /**
     * Applies socket options to a connection: the receive buffer (never below what is queued) and the
     * maximum retransmission time at any time; timestamps only before the SYN ({@code beforeSyn}).
     */
    private void applyOptions(TcpConnection c, long options, boolean beforeSyn) {
        c.receiveLimit = TcpSocketOptions.receiveBuffer(options, config.receiveBufferBytes());
        c.maxRetransmitNs = TcpSocketOptions.maxRetransmitNs(options);
        if (beforeSyn) {
            c.timestampsWanted = TcpSocketOptions.timestamps(options, config.timestamps());
        }
    }

    private long conditionalAcceptLimitNs() {
        long retries = config.initialRtoNs() * ((1L << Math.min(config.synRetries() + 1, 20)) - 1);
        return Math.min(CONDITIONAL_ACCEPT_LIMIT_NS, retries);
    }

    /**
     * Conditional accept: answers a held SYN ({@link TcpListenHandler#onConnectRequest}) with a SYN-ACK; the
     * handshake completes as usual and the listener's {@code onAccept} follows. False if the connection is not
     * a held request (any more).
     */
    public boolean acceptRequest(TcpConnection c) {
        if (!c.deferred || c.state != TcpState.SYN_RECEIVED) {
            return false;
        }
        c.deferred = false;
        c.synDataLength = 0; // the SYN's data was not taken: the peer sends it again
        c.rtxDeadline = 0;
        sendSyn(c, true);
        armRetransmit(c);
        return true;
    }

    /**
     * Conditional accept: refuses a held SYN with a RST (the peer's connect fails: connection refused). No
     * onClosed follows. False if the connection is not a held request (any more).
     */
    public boolean rejectRequest(TcpConnection c) {
        if (!c.deferred || c.state != TcpState.SYN_RECEIVED) {
            return false;
        }
        sendReset(c.localIp, c.localPort, c.remoteIp, c.remotePort, 0, c.rcvNxt, true);
        c.handler = null;
        releaseConnection(c);
        return true;
    }

    /** SO_RCVBUF and TCP_MAXRT on an open connection ({@link TcpSocketOptions}; timestamps are ignored). */
    public void setOptions(TcpConnection c, long socketOptions) {
        applyOptions(c, socketOptions, false);
        announceWindowIfOpened(c);
    }

    private int ephemeralPort() {
        for (int tries = 0; tries <= EPHEMERAL_LAST - EPHEMERAL_FIRST; tries++) {
            int port = nextEphemeral;
            nextEphemeral = port == EPHEMERAL_LAST ? EPHEMERAL_FIRST : port + 1;
            if (localPortUse[port] == 0 && !listeners.containsKey(port)) {
                return port;
            }
        }
        return 0;
    }

    int send(TcpConnection c, DirectBuffer source, int offset, int length) {
        if (!TcpState.sendsData(c.state) && c.state != TcpState.SYN_SENT && c.state != TcpState.SYN_RECEIVED
            || c.finQueued) {
            return 0;
        }
        int n = c.sendBuffer.write(source, offset, length);
        if (n > 0) {
            markDirty(c);
        }
        return n;
    }

    void shutdown(TcpConnection c) {
        if (c.finQueued) {
            return;
        }
        switch (c.state) {
            case TcpState.SYN_SENT -> closeConnection(c, NtStatus.STATUS_CONNECTION_ABORTED);
            case TcpState.SYN_RECEIVED, TcpState.ESTABLISHED, TcpState.CLOSE_WAIT -> {
                c.finQueued = true;
                c.finSeq = c.sendBuffer.tail();
                markDirty(c);
            }
            default -> {
            }
        }
    }

    void abort(TcpConnection c) {
        if (c.state == TcpState.CLOSED) {
            return;
        }
        if (c.state != TcpState.SYN_SENT && c.state != TcpState.TIME_WAIT && c.state != TcpState.LISTEN) {
            sendReset(c.localIp, c.localPort, c.remoteIp, c.remotePort, c.sndNxt, 0, false);
        }
        closeConnection(c, NtStatus.STATUS_CONNECTION_ABORTED);
    }

    /**
     * The application returns an mbuf it took through a handover; frees it and reopens the window. A stale
     * handle (the connection is gone or reused) just frees the mbuf.
     */
    void release(long handle, long mbuf, int length) {
        TcpConnection c = connection(handle);
        if (c != null) {
            c.heldBytes = Math.max(0, c.heldBytes - length);
            c.deliverPending = true;
            markDirty(c);
            if (TcpState.receivesData(c.state)) {
                announceWindowIfOpened(c);
            }
        }
        ip.free(mbuf);
    }

    /** The connection a handle names, or null when it is gone or was reused. */
    TcpConnection connection(long handle) {
        int index = (int) handle;
        if (index < 0 || index >= pool.length) {
            return null;
        }
        TcpConnection c = pool[index];
        return c.generation == (int) (handle >>> 32) && c.state != TcpState.CLOSED ? c : null;
    }

    /** The connection in slot {@code index} if open, else null (tests and diagnostics). */
    TcpConnection connectionAt(int index) {
        TcpConnection c = pool[index];
        return c.state != TcpState.CLOSED ? c : null;
    }

    /** The connection the last successful {@link #connect} created (poll thread, right after the call). */
    TcpConnection lastConnection() {
        return lastConnection;
    }

    /** Offers queued data again to every connection whose data leaves through a handover. */
    void resumeAllHandedOver() {
        for (TcpConnection c : pool) {
            if (c.state != TcpState.CLOSED && c.handover != null && !c.receiveQueue.isEmpty()) {
                c.deliverPending = true;
                markDirty(c);
            }
        }
    }

    void countLostEvent() {
        counters.drop(DropReason.TCP_EVENT_LOST).incrementRelease();
    }

    void keepAlive(TcpConnection c, boolean enable, long idleNs, long intervalNs, int count) {
        c.keepAlive = enable && idleNs > 0 && intervalNs > 0 && count > 0;
        c.keepIdleNs = idleNs;
        c.keepIntervalNs = intervalNs;
        c.keepCount = count;
        c.keepProbes = 0;
        c.keepDeadline = c.keepAlive ? nowNs + idleNs : 0;
        schedule(c, c.keepDeadline);
    }

    /** RFC 1122 §4.2.3.6: a probe is an ACK with SEG.SEQ = SND.NXT - 1 and no data; the peer answers it. */
    private void keepAliveTimeout(TcpConnection c) {
        if (!c.keepAlive || c.state != TcpState.ESTABLISHED && c.state != TcpState.CLOSE_WAIT) {
            c.keepDeadline = 0;
            return;
        }
        if (Seq.lt(c.sndUna, c.sndMax)) {
            c.keepDeadline = nowNs + c.keepIdleNs; // data in flight: the retransmission timer watches the peer
            return;
        }
        if (c.keepProbes >= c.keepCount) {
            closeConnection(c, NtStatus.STATUS_IO_TIMEOUT);
            return;
        }
        c.keepProbes++;
        emit(c, c.sndNxt - 1, 0, TcpSegment.ACK, false);
        c.keepDeadline = nowNs + c.keepIntervalNs;
    }

    void resumeReceive(TcpConnection c) {
        c.deliverPending = true;
        markDirty(c);
    }

    private void markDirty(TcpConnection c) {
        if (!c.dirty) {
            c.dirty = true;
            dirty[dirtyCount++] = c;
        }
    }

    // ======================================================================================= duty cycle

    /** Runs due timers. Returns the work done. */
    public int poll(long now) {
        this.nowNs = now;
        // The wheel's tick is about 1 ms: between ticks there is nothing new to expire, and scanning the
        // current tick's slots every duty cycle cost several percent of a busy poll thread.
        // While it holds timers the wheel moves one tick per poll: after a pause (GC, a stepped clock) it
        // must catch up here, or every timer fires late by the pause (found by ReceivePathFuzzTest).
        int work = 0;
        for (long tick; now >= (tick = timers.currentTickTime()); ) {
            int n = timers.poll(now, timerHandler, 1024);
            work += n;
            if (n == 0 && timers.currentTickTime() == tick) {
                break;
            }
        }
        return work;
    }

    /** Sends what the duty cycle queued (data, ACKs, window updates). Call last in the duty cycle. */
    public int flush(long now) {
        this.nowNs = now;
        int work = 0;
        for (int i = 0; i < dirtyCount; i++) {
            TcpConnection c = dirty[i];
            c.dirty = false;
            if (c.state == TcpState.CLOSED) {
                continue;
            }
            if (c.deliverPending) {
                c.deliverPending = false;
                deliver(c);
            }
            if (c.state != TcpState.CLOSED) {
                output(c);
                work++;
            }
        }
        dirtyCount = 0;
        return work;
    }

    // ============================================================================================ input

    /**
     * A TCP segment for our address. {@code m}'s data holds the whole frame; the IPv4 header starts at
     * {@code ipOffset}. Consumes the mbuf (keeps it for its data, or frees it).
     */
    public void input(long m, int ipOffset, int ipHeaderLength, int ipTotalLength, int src, int dst, long now) {
        this.nowNs = now;
        int frameLength = Mbuf.dataLen(m);
        frame.wrap(Mbuf.dataAddress(m), frameLength);
        int tcpOffset = ipOffset + ipHeaderLength;
        int tcpLength = ipTotalLength - ipHeaderLength;
        seg.wrap(frame, tcpOffset, tcpLength);
        // The NIC may have verified the checksum already (RTE_MBUF_F_RX_L4_CKSUM_GOOD).
        boolean verified = (Mbuf.olFlags(m) & RX_L4_CKSUM_MASK) == RX_L4_CKSUM_GOOD;
        WireError error = seg.check(src, dst, !verified);
        if (error != WireError.OK) {
            drop(m, error == WireError.BAD_CHECKSUM ? DropReason.TCP_BAD_CHECKSUM : DropReason.TCP_MALFORMED);
            return;
        }
        if (options.parse(seg) != WireError.OK) {
            drop(m, DropReason.TCP_MALFORMED);
            return;
        }
        counters.tcpSegmentsReceived.incrementRelease();
        int srcPort = seg.sourcePort();
        int dstPort = seg.destinationPort();
        TcpConnection c = connections.get(key(src, srcPort, dstPort));
        if (c != null && c.state == TcpState.TIME_WAIT && seg.hasFlags(TcpSegment.SYN)
            && !seg.hasFlags(TcpSegment.ACK) && timeWaitReusable(c)) {
            // RFC 6191 / RFC 1122 §4.2.2.13: a new SYN may reopen a TIME-WAIT connection.
            releaseConnection(c);
            c = null;
        }
        if (c == null) {
            Listener l = listeners.get(dstPort);
            if (l != null) {
                listenInput(m, l, src, dst);
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

    /** RFC 6191 §2: a newer timestamp, or an equal one with a higher sequence number; without timestamps,
     * a sequence number beyond RCV.NXT (RFC 1122 §4.2.2.13). */
    private boolean timeWaitReusable(TcpConnection c) {
        if (c.tsOk && options.hasTimestamps()) {
            return Seq.gt(options.tsVal(), c.tsRecent)
                || options.tsVal() == c.tsRecent && Seq.gt(seg.sequenceNumber(), c.rcvNxt);
        }
        return Seq.gt(seg.sequenceNumber(), c.rcvNxt);
    }

    /** RFC 9293 §3.10.7.1: no connection. A RST answers anything but a RST. */
    private void closedInput(long m, int src, int dst) {
        if (!seg.hasFlags(TcpSegment.RST)) {
            resetFor(src, dst);
        }
        drop(m, DropReason.TCP_NO_CONNECTION);
    }

    private void resetFor(int src, int dst) {
        int segLen = seg.payloadLength() + (seg.hasFlags(TcpSegment.SYN) ? 1 : 0) + (seg.hasFlags(TcpSegment.FIN) ? 1 : 0);
        if (seg.hasFlags(TcpSegment.ACK)) {
            sendReset(dst, seg.destinationPort(), src, seg.sourcePort(), seg.acknowledgmentNumber(), 0, false);
        } else {
            sendReset(dst, seg.destinationPort(), src, seg.sourcePort(), 0, seg.sequenceNumber() + segLen, true);
        }
    }

    /** RFC 9293 §3.10.7.2: LISTEN. */
    private void listenInput(long m, Listener l, int src, int dst) {
        if (seg.hasFlags(TcpSegment.RST)) {
            free(m);
            return;
        }
        if (seg.hasFlags(TcpSegment.ACK)) {
            sendReset(dst, seg.destinationPort(), src, seg.sourcePort(), seg.acknowledgmentNumber(), 0, false);
            drop(m, DropReason.TCP_NO_CONNECTION);
            return;
        }
        if (!seg.hasFlags(TcpSegment.SYN)) {
            free(m);
            return;
        }
        if (l.pending >= config.listenBacklog()) {
            drop(m, DropReason.TCP_BACKLOG_FULL);
            return;
        }
        TcpConnection c = allocateConnection();
        if (c == null) {
            drop(m, DropReason.TCP_NO_RESOURCES);
            return;
        }
        open(c, src, seg.sourcePort(), seg.destinationPort());
        applyOptions(c, l.options, true);
        c.listener = l;
        l.pending++;
        c.irs = seg.sequenceNumber();
        c.rcvNxt = c.irs + 1;
        c.rcvAdvertisedEdge = c.rcvNxt;
        applySynOptions(c);
        c.rcvScale = c.sndScale >= 0 && config.windowScaling() && options.hasWindowScale() ? receiveScale() : 0;
        c.iss = isn.isn(c.localIp, c.localPort, c.remoteIp, c.remotePort, nowNs);
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
                && (options.fastOpenCookieLength() == 0 || !validCookie(src))) {
                c.sendCookie = true;
            }
            c.rtxDeadline = nowNs + conditionalAcceptLimitNs();
            schedule(c, c.rtxDeadline);
            l.handler.onConnectRequest(c, Mbuf.dataAddress(m) + seg.payloadOffset(), seg.payloadLength());
            free(m);
            return;
        }
        // Data in a SYN is accepted only with a valid Fast Open cookie (RFC 7413 §4.2.2); otherwise it is
        // not acknowledged and comes again after the handshake.
        boolean kept = false;
        if (config.fastOpen() && options.hasFastOpen()) {
            if (options.fastOpenCookieLength() > 0 && validCookie(src) && seg.payloadLength() > 0
                && l.fastOpenPending < config.fastOpenMaxPending()) {
                l.fastOpenPending++;
                c.fastOpenListener = l;
                counters.tcpFastOpenSynDataAccepted.incrementRelease();
                // The application gets the connection, and the data, before the handshake completes.
                c.synDataLength = seg.payloadLength();
                if (!accept(c)) {
                    free(m);
                    return;
                }
                kept = receiveData(c, m, c.rcvNxt, seg.payloadOffset(), seg.payloadLength());
            } else if (options.fastOpenCookieLength() == 0 || !validCookie(src)) {
                c.sendCookie = true; // a request, or an invalid or expired cookie: hand out a fresh one
            }
        }
        if (c.state == TcpState.SYN_RECEIVED) {
            sendSyn(c, true);
            armRetransmit(c);
        }
        if (!kept) {
            free(m);
        }
    }

    /** The server's cookie for a client address (RFC 7413 §4.1.2): a MAC of the address, 8 bytes. */
    private byte[] cookieFor(IsnGenerator key, int clientIp) {
        long mac = key.sipHash24(clientIp & 0xFFFF_FFFFL, 0x46504F50454EL);
        for (int i = 0; i < 8; i++) {
            cookieScratch[i] = (byte) (mac >>> (56 - 8 * i));
        }
        return cookieScratch;
    }

    private boolean validCookie(int clientIp) {
        if (options.fastOpenCookieLength() != 8) {
            return false;
        }
        return cookieMatches(cookieKey, clientIp) || cookieMatches(previousCookieKey, clientIp);
    }

    private boolean cookieMatches(IsnGenerator key, int clientIp) {
        byte[] expected = cookieFor(key, clientIp);
        int at = options.fastOpenCookieOffset();
        for (int i = 0; i < 8; i++) {
            if (seg.buffer().getByte(at + i) != expected[i]) {
                return false;
            }
        }
        return true;
    }

    /**
     * Replaces the Fast Open secret key; cookies made with the previous key stay valid until the next
     * rotation (RFC 7413 §4.1.2: "rotate the secret key periodically").
     */
    public void rotateFastOpenKey() {
        previousCookieKey = cookieKey;
        cookieKey = new IsnGenerator();
    }

    private void applySynOptions(TcpConnection c) {
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
        c.mss = Math.max(64, Math.min(c.peerMss, ip.mtu() - 40) - (c.tsOk ? TS_OPTION_SPACE : 0));
    }

    /** RFC 9293 §3.10.7.3: SYN-SENT. */
    private void synSentInput(long m, TcpConnection c) {
        boolean ack = seg.hasFlags(TcpSegment.ACK);
        int segAck = seg.acknowledgmentNumber();
        if (ack && (Seq.le(segAck, c.iss) || Seq.gt(segAck, c.sndNxt))) {
            if (!seg.hasFlags(TcpSegment.RST)) {
                sendReset(c.localIp, c.localPort, c.remoteIp, c.remotePort, segAck, 0, false);
            }
            drop(m, DropReason.TCP_OUT_OF_WINDOW);
            return;
        }
        if (seg.hasFlags(TcpSegment.RST)) {
            if (ack) {
                counters.tcpResetsReceived.incrementRelease();
                closeConnection(c, NtStatus.STATUS_CONNECTION_REFUSED);
            }
            free(m);
            return;
        }
        if (!seg.hasFlags(TcpSegment.SYN)) {
            free(m);
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
            byte[] cookie = new byte[options.fastOpenCookieLength()]; // once per server, not per segment
            seg.buffer().getBytes(options.fastOpenCookieOffset(), cookie);
            cookieCache.put(c.remoteIp, cookie);
        }
        if (ack) {
            c.sndUna = segAck;
            if (c.synData > 0 && segAck != c.iss + 1 + c.synData) {
                // RFC 7413 §4.2.2: the server took the SYN but not its data; send the data normally.
                counters.tcpFastOpenFallbacks.incrementRelease();
                c.sndNxt = segAck;
            }
            c.sendBuffer.acknowledge(segAck);
            rttSampleFromSyn(c);
            establish(c);
            c.ackNow = true;
            markDirty(c);
            completeConnect(c, NtStatus.STATUS_SUCCESS);
        } else {
            // Simultaneous open (RFC 9293 §3.5, figure 7).
            c.state = TcpState.SYN_RECEIVED;
            sendSyn(c, true);
        }
        free(m);
    }

    private void establish(TcpConnection c) {
        if (c.fastOpenListener != null) {
            c.fastOpenListener.fastOpenPending--;
            c.fastOpenListener = null;
        }
        c.state = TcpState.ESTABLISHED;
        c.retries = 0;
        c.cc.onEstablished(c, config.initialWindowSegments());
        c.rtxDeadline = 0;
        counters.tcpConnections.setRelease(connectionCount());
    }

    private void completeConnect(TcpConnection c, int status) {
        if (c.connectPending) {
            c.connectPending = false;
            c.handler.onConnectComplete(c, status);
        }
    }

    /** RFC 9293 §3.10.7.4: SYN-RECEIVED and the synchronized states. */
    private void otherInput(long m, TcpConnection c) {
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
            c.ackNow = true;
            markDirty(c);
            drop(m, DropReason.TCP_OUT_OF_WINDOW);
            return;
        }

        // First: sequence number acceptable?
        int rcvWnd = receiveWindow(c);
        // The RFC 9293 §3.10.7.4 test, read as Linux reads it (tcp_sequence): the segment must not end before
        // RCV.NXT nor start beyond the window's right edge. The edge itself is acceptable: a peer whose
        // SND.NXT ran past our window sends its ACKs with SEG.SEQ = the edge, and they must get through.
        boolean acceptable = Seq.ge(segSeq + segLen, c.rcvNxt) && Seq.le(segSeq, c.rcvNxt + rcvWnd)
            && (segLen == 0 || rcvWnd > 0 || segSeq == c.rcvNxt);
        if (segLen > 0 && Seq.lt(segSeq + segLen, c.rcvNxt + 1) && !(syn || fin) && payload > 0) {
            acceptable = false; // wholly old data: ACK it, drop it
        }
        if (!acceptable) {
            if (!rst) {
                c.ackNow = true;
                markDirty(c);
            }
            if (c.keepAlive && !rst) {
                c.keepProbes = 0; // a keepalive answer (or probe) from a live peer
                c.keepDeadline = nowNs + c.keepIdleNs;
            }
            // RFC 9293 §3.10.7.4: with a zero receive window no segment is acceptable, "but special allowance
            // should be made to accept valid ACKs": the peer's ACKs must get through or both sides stall.
            if (rcvWnd == 0 && !rst && !syn && seg.hasFlags(TcpSegment.ACK) && c.state != TcpState.SYN_RECEIVED) {
                int segAck = seg.acknowledgmentNumber();
                if (Seq.le(segAck, c.sndMax) && Seq.ge(segAck, c.sndUna)) {
                    processAck(c, segSeq, segAck, 0, false);
                }
            }
            drop(m, DropReason.TCP_OUT_OF_WINDOW);
            return;
        }

        // Second: RST (RFC 5961 §3.2: only an exact match resets; in-window gets a challenge ACK).
        if (rst) {
            if (segSeq == c.rcvNxt) {
                counters.tcpResetsReceived.incrementRelease();
                if (c.state == TcpState.SYN_RECEIVED && !c.active && c.held) {
                    // The application knows this request (it was held for a decision): tell it it ended.
                    closeConnection(c, NtStatus.STATUS_CONNECTION_RESET);
                } else if (c.state == TcpState.SYN_RECEIVED && !c.active) {
                    releaseConnection(c); // back to LISTEN: nothing to report, nobody accepted it yet
                } else if (c.state == TcpState.SYN_RECEIVED) {
                    closeConnection(c, NtStatus.STATUS_CONNECTION_REFUSED);
                } else if (c.state == TcpState.CLOSING || c.state == TcpState.LAST_ACK
                    || c.state == TcpState.TIME_WAIT) {
                    closeConnection(c, NtStatus.STATUS_SUCCESS);
                } else {
                    closeConnection(c, NtStatus.STATUS_CONNECTION_RESET);
                }
            } else {
                challengeAck(c);
            }
            free(m);
            return;
        }

        if (c.keepAlive) {
            c.keepProbes = 0;
            c.keepDeadline = nowNs + c.keepIdleNs; // the timer fires lazily and re-arms for this
        }
        // Fourth: SYN in a synchronized state (RFC 5961 §4.2): challenge ACK. Except the SYN-ACK of a simultaneous
        // open (RFC 9293 figure 7), which acknowledges our SYN and completes the handshake below, as in Linux.
        boolean crossedSynAck = c.state == TcpState.SYN_RECEIVED && c.active && segSeq == c.irs && payload == 0
            && !fin && seg.hasFlags(TcpSegment.ACK) && seg.acknowledgmentNumber() == c.sndNxt;
        if (syn && !crossedSynAck) {
            if (c.state == TcpState.SYN_RECEIVED && segSeq == c.irs) {
                // Our SYN-ACK was lost: the peer retransmitted its SYN (or, held for a decision, it waits).
                if (!c.deferred) {
                    sendSyn(c, true);
                }
                free(m);
                return;
            }
            challengeAck(c);
            free(m);
            return;
        }

        // Fifth: ACK.
        if (!seg.hasFlags(TcpSegment.ACK)) {
            free(m);
            return;
        }
        int segAck = seg.acknowledgmentNumber();
        if (c.state == TcpState.SYN_RECEIVED) {
            if (Seq.lt(c.sndUna, segAck) && Seq.le(segAck, c.sndNxt)) {
                c.sndWnd = seg.window() << Math.max(c.sndScale, 0);
                c.maxSndWnd = Math.max(c.maxSndWnd, c.sndWnd);
                c.sndWl1 = segSeq;
                c.sndWl2 = segAck;
                rttSampleFromSyn(c);
                establish(c);
                if (c.active) {
                    completeConnect(c, NtStatus.STATUS_SUCCESS);
                } else if (c.listener != null && !accept(c)) {
                    free(m);
                    return;
                }
            } else {
                sendReset(c.localIp, c.localPort, c.remoteIp, c.remotePort, segAck, 0, false);
                free(m);
                return;
            }
        }
        // RFC 5961 §5.2: ACK acceptability.
        if (Seq.gt(segAck, c.sndMax) || Seq.lt(segAck, c.sndUna - Math.max(c.maxSndWnd, 1))) {
            c.ackNow = true;
            markDirty(c);
            drop(m, DropReason.TCP_OUT_OF_WINDOW);
            return;
        }
        if (c.tsOk && options.hasTimestamps() && Seq.le(segSeq, c.rcvNxt)) {
            c.tsRecent = options.tsVal(); // RFC 7323 §4.3
        }
        processAck(c, segSeq, segAck, payload, fin);
        if (c.state == TcpState.CLOSED) {
            free(m);
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
                    enterTimeWait(c);
                }
            }
            case TcpState.LAST_ACK -> {
                if (c.finSent && Seq.gt(c.sndUna, c.finSeq)) {
                    closeConnection(c, NtStatus.STATUS_SUCCESS);
                    free(m);
                    return;
                }
            }
            case TcpState.TIME_WAIT -> {
                if (fin) {
                    c.ackNow = true; // a retransmitted FIN: ACK it and restart 2 MSL
                    markDirty(c);
                    c.timeWaitDeadline = nowNs + config.timeWaitNs();
                    schedule(c, c.timeWaitDeadline);
                }
                free(m);
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
            kept = receiveData(c, m, segSeq, payloadOffset, payload);
        }
        // Eighth: FIN.
        if (fin && TcpState.receivesData(c.state)) {
            int finAt = segSeq + payload;
            if (finAt == c.rcvNxt) {
                peerFin(c);
            } else if (Seq.gt(finAt, c.rcvNxt)) {
                c.peerFinPending = true;
                c.peerFinSeq = finAt;
            }
        }
        if (!kept) {
            free(m);
        }
    }

    private boolean accept(TcpConnection c) {
        Listener l = c.listener;
        l.pending--;
        c.listener = null;
        TcpHandler handler = l.handler.onAccept(c);
        if (handler == null) {
            sendReset(c.localIp, c.localPort, c.remoteIp, c.remotePort, c.sndNxt, 0, false);
            releaseConnection(c);
            return false;
        }
        if (c.handler == null) {
            c.handler = handler;
        }
        return true;
    }

    private void challengeAck(TcpConnection c) {
        counters.tcpChallengeAcks.incrementRelease();
        c.ackNow = true;
        markDirty(c);
    }

    private void rttSampleFromSyn(TcpConnection c) {
        if (c.retries == 0 && c.rttTiming) {
            rttSample(c, nowNs - c.rttStartNs);
        }
        c.rttTiming = false;
    }

    // --------------------------------------------------------------------------------------- ACK processing

    private void processAck(TcpConnection c, int segSeq, int segAck, int payload, boolean fin) {
        int window = seg.window() << Math.max(c.sndScale, 0);
        boolean newSack = false;
        if (c.sackOk && options.sackBlockCount() > 0) {
            int sackedBefore = sackedBytes(c);
            updateScoreboard(c, segAck);
            newSack = sackedBytes(c) > sackedBefore;
        }
        boolean windowUpdated = false;
        // RFC 9293 §3.10.7.4: update the send window from the newest segment.
        if (Seq.lt(c.sndWl1, segSeq) || (c.sndWl1 == segSeq && Seq.le(c.sndWl2, segAck))) {
            windowUpdated = window != c.sndWnd;
            c.sndWnd = window;
            c.maxSndWnd = Math.max(c.maxSndWnd, window);
            c.sndWl1 = segSeq;
            c.sndWl2 = segAck;
        }
        if (Seq.gt(segAck, c.sndUna)) {
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
            }
            c.sendBuffer.acknowledge(Seq.min(segAck, c.finSent ? c.finSeq : segAck));
            // RTT: one timed segment at a time with Karn's rule, in nanoseconds. (Our timestamps tick in
            // milliseconds, too coarse for links with a 100 µs round trip; they still serve PAWS.)
            if (c.rttTiming && Seq.gt(segAck, c.rttSeq)) {
                rttSample(c, nowNs - c.rttStartNs);
                c.rttTiming = false;
            }
            c.retries = 0;
            c.dupAcks = 0;
            c.lastAdvanceNs = nowNs;
            c.probeSent = false;
            c.probeDeadline = 0;
            onNewAck(c, dataAcked);
            if (Seq.lt(c.sndUna, c.sndMax)) {
                armProbe(c);
                if (newSack && !c.inRecovery) {
                    onDupAck(c); // RFC 6675 §2: an ACK that SACKs new data counts as a duplicate ACK
                }
            }
            if (Seq.ge(c.sndUna, c.sndMax)) {
                c.rtxDeadline = 0; // all acknowledged
            } else {
                c.rtxDeadline = nowNs + c.rtoNs;
                schedule(c, c.rtxDeadline);
            }
            if (c.handler != null && c.state != TcpState.CLOSED && dataAcked > 0) {
                c.handler.onSendSpace(c, c.sendBuffer.free());
            }
            if (c.receiveQueue.bytes() > 0) {
                c.deliverPending = true;
            }
            markDirty(c);
        } else if (Seq.lt(c.sndUna, c.sndMax) && segAck == c.sndUna
            && (c.sackOk ? newSack : payload == 0 && !fin && !windowUpdated)) {
            // RFC 5681 §2 duplicate ACK; with SACK, any ACK reporting newly SACKed data (RFC 6675 §2), even one
            // carrying data: in two-way traffic nearly every ACK rides on data.
            c.dupAcks++;
            onDupAck(c);
        } else if (windowUpdated) {
            markDirty(c);
        }
    }

    private void onNewAck(TcpConnection c, int acked) {
        if (c.inRecovery) {
            if (Seq.ge(c.sndUna, c.recover)) {
                // Full ACK: leave recovery (RFC 6582 §3.2 step 3).
                c.inRecovery = false;
                c.cc.onExitRecovery(c, c.sndMax - c.sndUna);
                c.sackCount = 0;
            } else {
                // Partial ACK: the next hole is lost too; retransmit it at once.
                if (Seq.lt(c.rtxNext, c.sndUna)) {
                    c.rtxNext = c.sndUna;
                }
                retransmitAgainIfStale(c);
                if (!c.sackOk) {
                    c.rtxNext = c.sndUna;
                }
            }
        } else {
            c.cc.onAck(c, acked, nowNs);
        }
        pruneScoreboard(c);
    }

    private void onDupAck(TcpConnection c) {
        if (c.inRecovery) {
            retransmitAgainIfStale(c);
            markDirty(c);
            return;
        }
        boolean sackSaysLost = c.sackOk && sackedBytes(c) >= 3 * c.mss;
        // RFC 5827 early retransmit: with two or three segments out and nothing new to send, fewer
        // duplicate ACKs will ever come; lower the threshold to outstanding segments - 1. (With one segment
        // out a duplicate ACK is no evidence of loss: the tail loss probe and the RTO handle that case.)
        int outstanding = (c.sndMax - c.sndUna + c.mss - 1) / c.mss;
        int threshold = 3;
        if (outstanding >= 2 && outstanding < 4 && c.sendBuffer.tail() == c.sndMax) {
            threshold = outstanding - 1;
        }
        // RACK's idea (RFC 8985 §6.2) in its simplest form: SACKed data above a hole that has stayed unfilled
        // for more than an RTT plus a quarter (or that a tail loss probe just exposed) means the hole is lost.
        if (c.sackOk && c.sackCount > 0 && (c.probeSent
            || nowNs - c.lastAdvanceNs > Math.max(c.srttNs + c.srttNs / 4, TimeUnit.MICROSECONDS.toNanos(500)))) {
            sackSaysLost = true;
        }
        if (c.dupAcks >= threshold || sackSaysLost) {
            enterRecovery(c);
        } else {
            markDirty(c); // RFC 3042 limited transmit: each of the first two dup ACKs may release a segment
        }
    }

    /**
     * A retransmission can be lost too. When ACKs keep reporting the same holes longer than a couple of
     * round trips after we filled them (the idea of RACK, RFC 8985 §6.2), fill them again rather than waiting
     * for the retransmission timeout.
     */
    private void retransmitAgainIfStale(TcpConnection c) {
        long reorderWindow = Math.max(2 * c.srttNs, TimeUnit.MILLISECONDS.toNanos(2));
        if (Seq.gt(c.rtxNext, c.sndUna) && nowNs - c.recoveryPassNs > reorderWindow) {
            c.rtxNext = c.sndUna;
            c.recoveryPassNs = nowNs;
        }
    }

    private void enterRecovery(TcpConnection c) {
        if (c.inRecovery) {
            return;
        }
        // RFC 6582 §3.2 step 2 / RFC 6675 §5: halve, remember the recovery point, retransmit the first hole.
        counters.tcpFastRetransmits.incrementRelease();
        c.cc.onEnterRecovery(c, c.sndMax - c.sndUna, nowNs);
        c.inRecovery = true;
        c.recover = c.sndMax;
        c.rtxNext = c.sndUna;
        c.recoveryPassNs = nowNs;
        markDirty(c);
    }

    private void updateScoreboard(TcpConnection c, int segAck) {
        for (int b = 0; b < options.sackBlockCount(); b++) {
            int left = options.sackLeft(b);
            int right = options.sackRight(b);
            // Ignore D-SACKs and blocks outside what we sent (RFC 2883, RFC 6675 §4).
            if (Seq.le(right, segAck) || Seq.le(right, left) || Seq.gt(right, c.sndMax)) {
                continue;
            }
            addSackBlock(c, Seq.max(left, segAck), right);
        }
    }

    private void addSackBlock(TcpConnection c, int left, int right) {
        // Merge into the sorted, disjoint scoreboard.
        int n = c.sackCount;
        int i = 0;
        while (i < n && Seq.lt(c.sackRight[i], left)) {
            i++;
        }
        int j = i;
        while (j < n && Seq.le(c.sackLeft[j], right)) {
            left = Seq.min(left, c.sackLeft[j]);
            right = Seq.max(right, c.sackRight[j]);
            j++;
        }
        int removed = j - i;
        if (removed == 0) {
            if (n == MAX_SACK_SCOREBOARD) {
                if (i == n) {
                    return; // keep the lowest blocks: those matter for retransmission
                }
                n--;
            }
            System.arraycopy(c.sackLeft, i, c.sackLeft, i + 1, n - i);
            System.arraycopy(c.sackRight, i, c.sackRight, i + 1, n - i);
            n++;
        } else if (removed > 1) {
            System.arraycopy(c.sackLeft, j, c.sackLeft, i + 1, n - j);
            System.arraycopy(c.sackRight, j, c.sackRight, i + 1, n - j);
            n -= removed - 1;
        }
        c.sackLeft[i] = left;
        c.sackRight[i] = right;
        c.sackCount = n;
        if (Seq.gt(right, c.highestSacked) || c.sackCount == 1) {
            c.highestSacked = Seq.max(right, c.sackCount == 1 ? right : c.highestSacked);
        }
    }

    private void pruneScoreboard(TcpConnection c) {
        int n = c.sackCount;
        int drop = 0;
        while (drop < n && Seq.le(c.sackRight[drop], c.sndUna)) {
            drop++;
        }
        if (drop > 0) {
            System.arraycopy(c.sackLeft, drop, c.sackLeft, 0, n - drop);
            System.arraycopy(c.sackRight, drop, c.sackRight, 0, n - drop);
            c.sackCount = n - drop;
        }
        if (c.sackCount > 0 && Seq.lt(c.sackLeft[0], c.sndUna)) {
            c.sackLeft[0] = c.sndUna;
        }
        if (c.sackCount == 0) {
            c.highestSacked = c.sndUna;
        }
    }

    private static int sackedBytes(TcpConnection c) {
        int sum = 0;
        for (int i = 0; i < c.sackCount; i++) {
            sum += c.sackRight[i] - c.sackLeft[i];
        }
        return sum;
    }

    /** Whether {@code seq} is covered by the scoreboard; if so returns the block's right edge, else seq. */
    private static int skipSacked(TcpConnection c, int seq) {
        for (int i = 0; i < c.sackCount; i++) {
            if (Seq.inRange(seq, c.sackLeft[i], c.sackRight[i])) {
                return c.sackRight[i];
            }
        }
        return seq;
    }

    /** First sacked left edge above {@code seq}, or {@code limit}. */
    private static int nextSackedEdge(TcpConnection c, int seq, int limit) {
        for (int i = 0; i < c.sackCount; i++) {
            if (Seq.gt(c.sackLeft[i], seq)) {
                return Seq.min(c.sackLeft[i], limit);
            }
        }
        return limit;
    }

    // --------------------------------------------------------------------------------------- RTT and RTO

    /** RFC 6298 §2. */
    private void rttSample(TcpConnection c, long r) {
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

    /**
     * Tail loss probe (RFC 8985 §7): if no ACK arrives within PTO = 2·SRTT (at least 10 ms, plus a delayed-ACK
     * allowance when one segment is out), send one segment so that a lost tail produces SACKs and fast
     * recovery instead of waiting for the retransmission timeout.
     */
    private void armProbe(TcpConnection c) {
        if (c.srttNs == 0 || c.probeSent && !c.inRecovery) {
            return; // outside recovery one probe per tail; in recovery a probe re-fills holes each PTO
        }
        long pto = Math.max(2 * c.srttNs, TimeUnit.MILLISECONDS.toNanos(10));
        if (c.sndMax - c.sndUna <= c.mss) {
            pto += TimeUnit.MILLISECONDS.toNanos(50);
        }
        if (pto >= c.rtoNs) {
            return;
        }
        c.probeDeadline = nowNs + pto;
        schedule(c, c.probeDeadline);
    }

    private void tailLossProbe(TcpConnection c) {
        if (Seq.ge(c.sndUna, c.sndMax) || !TcpState.receivesData(c.state)
            && c.state != TcpState.CLOSE_WAIT && c.state != TcpState.LAST_ACK) {
            return;
        }
        c.probeSent = true;
        if (c.inRecovery) {
            // Recovery went quiet (the ACKs or the retransmissions were lost): fill the holes again now
            // rather than after the retransmission timeout.
            c.rtxNext = c.sndUna;
            c.recoveryPassNs = nowNs;
            markDirty(c);
            return;
        }
        int unsent = c.sendBuffer.tail() - c.sndNxt;
        int size = currentMss(c);
        if (unsent > 0 && Seq.lt(c.sndNxt + Math.min(unsent, size), c.sndUna + c.sndWnd + 1)) {
            int len = Math.min(unsent, size);
            if (emitData(c, c.sndNxt, len, false)) {
                c.sndNxt += len;
                c.sndMax = Seq.max(c.sndMax, c.sndNxt);
            }
        } else {
            int dataEnd = c.finSent ? c.finSeq : c.sndMax;
            int len = Math.min(size, dataEnd - c.sndUna);
            if (len > 0) {
                emitData(c, dataEnd - len, len, true);
            } else if (c.finSent) {
                emit(c, c.finSeq, 0, TcpSegment.FIN | TcpSegment.ACK, true);
            }
        }
    }

    private void armRetransmit(TcpConnection c) {
        c.rtxDeadline = nowNs + c.rtoNs;
        schedule(c, c.rtxDeadline);
    }

    private int tsNow(TcpConnection c) {
        return (int) (nowNs / 1_000_000L) + c.tsOffset;
    }

    // --------------------------------------------------------------------------------------- receiving

    /** In-window data: queue it in place (the mbuf is kept) or hold it out of order. Returns whether kept. */
    private boolean receiveData(TcpConnection c, long m, int segSeq, int payloadOffset, int payload) {
        long address = Mbuf.dataAddress(m) + payloadOffset;
        // Trim what we already have (RFC 9293 §3.10.7.4: segments may overlap the left window edge).
        if (Seq.lt(segSeq, c.rcvNxt)) {
            int skip = c.rcvNxt - segSeq;
            if (skip >= payload) {
                c.ackNow = true; // a duplicate: ACK so the peer learns where we are
                markDirty(c);
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
                markDirty(c);
                return false;
            }
        }
        if (segSeq == c.rcvNxt && c.urgentToReceive && Seq.inRange(c.rcvUp - 1, segSeq, segSeq + payload)) {
            return receiveWithUrgentByte(c, m, segSeq, address, payload);
        }
        if (segSeq == c.rcvNxt) {
            if (!c.receiveQueue.append(m, address, payload)) {
                counters.drop(DropReason.TCP_RECEIVE_QUEUE_FULL).incrementRelease();
                c.ackNow = true;
                markDirty(c);
                return false;
            }
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
            return true;
        }
        counters.tcpOutOfOrder.incrementRelease();
        c.ackNow = true; // RFC 5681 §4.2: out-of-order data is acknowledged at once (with SACK)
        markDirty(c);
        if (!c.receiveQueue.insertOutOfOrder(segSeq, m, address, payload)) {
            counters.drop(DropReason.TCP_RECEIVE_QUEUE_FULL).incrementRelease();
            return false;
        }
        return true;
    }

    /**
     * In-order data holding the urgent byte: the byte goes to the handler out of band and the rest of the
     * segment is queued around it (two views over one mbuf share it through its reference count).
     */
    private boolean receiveWithUrgentByte(TcpConnection c, long m, int segSeq, long address, int payload) {
        int k = c.rcvUp - 1 - segSeq;
        if (c.receiveQueue.full()) {
            counters.drop(DropReason.TCP_RECEIVE_QUEUE_FULL).incrementRelease();
            c.ackNow = true;
            markDirty(c);
            return false;
        }
        c.urgentToReceive = false;
        if (c.handler != null) {
            c.handler.onUrgentData(c, address + k, 1);
        }
        boolean kept = false;
        if (k > 0) {
            c.receiveQueue.append(m, address, k);
            kept = true;
        }
        int rest = payload - k - 1;
        if (rest > 0) {
            if (kept) {
                Mbuf.refcnt(m, Mbuf.refcnt(m) + 1);
            }
            if (!c.receiveQueue.append(m, address + k + 1, rest)) {
                if (kept) {
                    Mbuf.refcnt(m, Mbuf.refcnt(m) - 1);
                }
                rest = 0;
            } else {
                kept = true;
            }
        }
        c.rcvNxt = segSeq + k + 1 + rest;
        if (c.receiveQueue.outOfOrderCount() > 0) {
            c.rcvNxt = c.receiveQueue.drainInOrder(c.rcvNxt, releaser);
        }
        c.ackNow = true;
        markDirty(c);
        deliver(c);
        return kept;
    }

    /** RFC 1122 §4.2.3.2: ACK at least every second full segment, and within the delayed-ACK time. */
    private void scheduleAck(TcpConnection c) {
        c.segmentsUnacked++;
        if (c.segmentsUnacked >= 2) {
            c.ackNow = true;
        } else if (c.delackDeadline == 0) {
            c.delackDeadline = nowNs + config.delayedAckNs();
            schedule(c, c.delackDeadline);
        }
        markDirty(c);
    }

    private void peerFin(TcpConnection c) {
        c.rcvNxt++;
        c.ackNow = true;
        markDirty(c);
        // The application hears of the FIN only after it has taken every byte before it (like a 0-byte read).
        c.peerClosedUndelivered = true;
        switch (c.state) {
            case TcpState.ESTABLISHED -> c.state = TcpState.CLOSE_WAIT;
            case TcpState.FIN_WAIT_1 -> {
                if (c.finSent && Seq.gt(c.sndUna, c.finSeq)) {
                    enterTimeWait(c);
                } else {
                    c.state = TcpState.CLOSING;
                }
            }
            case TcpState.FIN_WAIT_2 -> enterTimeWait(c);
            default -> {
            }
        }
        deliver(c);
    }

    /** Offers queued data to the application, frees what it consumed, and opens the window. */
    private void deliver(TcpConnection c) {
        ReceiveQueue q = c.receiveQueue;
        while (c.handover != null && !q.isEmpty() && c.state != TcpState.CLOSED) {
            int length = q.headLength();
            if (!c.handover.onHandover(c, q.headMbuf(), q.headAddress(), length)) {
                break;
            }
            q.takeHead();
            c.heldBytes += length;
        }
        while (c.handover == null && !q.isEmpty() && c.handler != null && c.state != TcpState.CLOSED) {
            int length = q.headLength();
            int taken = c.handler.onReceive(c, q.headAddress(), length);
            if (taken <= 0) {
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
    private void announceWindowIfOpened(TcpConnection c) {
        int free = c.receiveLimit - c.receiveQueue.bytes() - c.receiveQueue.outOfOrderBytes()
            - c.heldBytes;
        if ((c.rcvNxt + free) - c.rcvAdvertisedEdge >= Math.min(2 * c.mss, c.receiveLimit / 2)) {
            c.ackNow = true;
            markDirty(c);
        }
    }

    private int receiveWindow(TcpConnection c) {
        int free = c.receiveLimit - c.receiveQueue.bytes() - c.receiveQueue.outOfOrderBytes()
            - c.heldBytes;
        // Never shrink the window we advertised (RFC 7323 §2.4 / RFC 9293 §3.8.6).
        int advertised = c.rcvAdvertisedEdge - c.rcvNxt;
        return Math.max(Math.max(free, 0), advertised);
    }

    // =========================================================================================== output

    /** Sends what the windows allow: retransmissions of holes first, then new data, then FIN, then ACKs. */
    private void output(TcpConnection c) {
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
        // Loss recovery: fill holes below the highest SACKed byte (RFC 6675 §5 NextSeg rule 1), or the first
        // unacknowledged segment when there is no SACK (NewReno).
        if (c.inRecovery) {
            int limit = c.sackOk && c.sackCount > 0 ? c.highestSacked : Seq.min(c.sndUna + c.mss, c.sndMax);
            while (pipe(c) < c.cwnd || c.rtxNext == c.sndUna && !sentHole(c)) {
                int seq = Seq.max(c.rtxNext, c.sndUna);
                seq = skipSacked(c, seq);
                if (Seq.ge(seq, limit)) {
                    break;
                }
                int end = nextSackedEdge(c, seq, limit);
                int len = Math.min(segmentSize, end - seq);
                if (len <= 0) {
                    break;
                }
                if (!emitData(c, seq, len, true)) {
                    return;
                }
                c.rtxNext = seq + len;
                if (c.probeDeadline == 0) {
                    armProbe(c);
                }
                sent = true;
                if (!c.sackOk) {
                    break;
                }
            }
        }
        // New data.
        while (true) {
            int unsent = c.sendBuffer.tail() - c.sndNxt;
            int usable = c.sndUna + window - c.sndNxt;
            if (!c.inRecovery && c.dupAcks > 0 && c.dupAcks < 3) {
                usable = c.sndUna + Math.min(c.sndWnd, c.cwnd + c.dupAcks * c.mss) - c.sndNxt;
            }
            if (c.inRecovery) {
                // RFC 6675 §5: in recovery what may be sent is cwnd - pipe (SACKed data is not in flight),
                // within the receiver's window.
                usable = Math.min(c.sndUna + c.sndWnd - c.sndNxt, c.cwnd - pipe(c));
            }
            int len = Math.min(Math.min(unsent, usable), segmentSize);
            if (len <= 0) {
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
        // Data waiting, nothing in flight, and a window too small to use (zero, or below what SWS avoidance
        // sends): the persist timer (RFC 9293 §3.8.6.1, RFC 1122 §4.2.2.17) probes until it opens.
        if (c.sendBuffer.tail() != c.sndNxt && c.sndUna == c.sndNxt && c.rtxDeadline == 0) {
            armRetransmit(c);
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
        if (Seq.lt(c.sndUna, c.sndMax) && c.rtxDeadline == 0) {
            armRetransmit(c);
        }
    }

    /**
     * Payload that fits in one frame now: the negotiated MSS less the room SACK blocks take while we hold
     * out-of-order data (RFC 2018: options count against the MTU, not the MSS).
     */
    private int currentMss(TcpConnection c) {
        int room = ip.mtu() - Ipv4Packet.MIN_HEADER_LENGTH - TcpSegment.MIN_HEADER_LENGTH
            - (c.tsOk ? TS_OPTION_SPACE : 0);
        if (c.sackOk && c.receiveQueue.outOfOrderCount() > 0) {
            room -= 4 + 8 * (c.tsOk ? 3 : 4);
        }
        return Math.max(64, Math.min(c.mss, room));
    }

    private boolean sentHole(TcpConnection c) {
        return Seq.gt(c.rtxNext, c.sndUna);
    }

    /** RFC 6675 §4 pipe, simplified: bytes beyond the highest SACK, plus holes below it retransmitted. */
    private static int pipe(TcpConnection c) {
        if (!c.sackOk || c.sackCount == 0) {
            return c.sndMax - c.sndUna - (c.inRecovery ? Math.max(0, c.dupAcks - 3) * c.mss : 0);
        }
        int above = c.sndMax - Seq.max(c.highestSacked, c.sndUna);
        int retransmitted = 0;
        int end = Seq.min(c.rtxNext, c.highestSacked);
        if (Seq.gt(end, c.sndUna)) {
            retransmitted = end - c.sndUna;
            for (int i = 0; i < c.sackCount && Seq.lt(c.sackLeft[i], end); i++) {
                retransmitted -= Seq.min(c.sackRight[i], end) - c.sackLeft[i];
            }
        }
        return above + Math.max(0, retransmitted);
    }

    private void sendFin(TcpConnection c) {
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
            armIfIdle(c);
        }
    }

    private void armIfIdle(TcpConnection c) {
        if (c.rtxDeadline == 0) {
            armRetransmit(c);
        }
    }

    private boolean emitData(TcpConnection c, int seq, int len, boolean retransmission) {
        int flags = TcpSegment.ACK;
        if (seq + len == c.sendBuffer.tail()) {
            flags |= TcpSegment.PSH;
        }
        if (!emit(c, seq, len, flags, retransmission)) {
            return false;
        }
        if (retransmission) {
            counters.tcpRetransmits.incrementRelease();
        } else {
            if (!c.rttTiming) {
                c.rttTiming = true;
                c.rttSeq = seq;
                c.rttStartNs = nowNs;
            }
            armProbe(c);
        }
        if (c.rtxDeadline == 0) {
            armRetransmit(c);
        }
        return true;
    }

    /**
     * A pure ACK. Its sequence number is SND.NXT unless that lies beyond the peer's window (after a probe or a
     * retransmission it refused), in which case the window's right edge, so the peer accepts the ACK.
     */
    private void sendAck(TcpConnection c) {
        int edge = c.sndUna + c.sndWnd;
        emit(c, Seq.lt(edge, c.sndNxt) ? edge : c.sndNxt, 0, TcpSegment.ACK, false);
    }

    private void sendSyn(TcpConnection c, boolean ack) {
        c.rttTiming = c.retries == 0;
        c.rttStartNs = nowNs;
        int data = 0;
        if (!ack && c.fastOpen) {
            if (c.retries == 0 && cookieCache.containsKey(c.remoteIp)) {
                // RFC 7413 §4.2.1: data rides in the SYN, as much as one segment holds next to the options.
                data = Math.min(c.sendBuffer.length(), ip.mtu() - 40 - 40);
                if (data > 0) {
                    counters.tcpFastOpenSynDataSent.incrementRelease();
                }
            }
            c.synData = data;
            c.sndNxt = c.iss + 1 + data;
            c.sndMax = c.sndNxt;
        }
        emit(c, c.iss, data, ack ? TcpSegment.SYN | TcpSegment.ACK : TcpSegment.SYN, c.retries > 0);
    }

    /**
     * Builds and sends one segment: Ethernet + IPv4 + TCP with options, payload copied from the send buffer.
     * Every segment but a SYN carries the current ACK and window, so it cancels a pending delayed ACK.
     */
    private boolean emit(TcpConnection c, int seq, int len, int flags, boolean retransmission) {
        long m = ip.allocate();
        if (m == 0) {
            counters.drop(DropReason.TCP_NO_RESOURCES).incrementRelease();
            return false;
        }
        boolean syn = (flags & TcpSegment.SYN) != 0;
        // Options.
        int optionsLength;
        int sackBlocks = 0;
        if (syn) {
            optionsLength = 4 + (config.sack() && (!c.active ? c.sackOk : true) ? 2 : 0);
            optionsLength += (c.timestampsWanted && (!c.active ? c.tsOk : true)) ? 10 : 0;
            optionsLength += (config.windowScaling() && (!c.active ? c.sndScale >= 0 : true)) ? 4 : 0;
            optionsLength = (optionsLength + 3) & ~3;
            optionsLength += fastOpenOptionLength(c);
        } else {
            optionsLength = c.tsOk ? TS_OPTION_SPACE : 0;
            if (c.sackOk && c.receiveQueue.outOfOrderCount() > 0) {
                sackBlocks = c.receiveQueue.sackBlocks(sackLeftOut, sackRightOut, c.tsOk ? 3 : 4, lastSegmentSeq);
                if (sackBlocks > 0) {
                    optionsLength += 4 + 8 * sackBlocks;
                }
            }
        }
        int tcpHeader = TcpSegment.MIN_HEADER_LENGTH + optionsLength;
        int frameLength = HEADERS + tcpHeader + len;
        out.wrap(Mbuf.dataAddress(m), Math.max(frameLength, 60));
        outEth.wrap(out, 0, frameLength);
        outEth.writeHeader(0L, ip.mac(), EthernetFrame.ETHERTYPE_IPV4);
        outIp.wrap(out, EthernetFrame.HEADER_LENGTH, frameLength - EthernetFrame.HEADER_LENGTH);
        outIp.writeHeader(Ipv4Packet.DEFAULT_TTL, Ipv4Packet.PROTOCOL_TCP, c.localIp, c.remoteIp, tcpHeader + len,
            ipId++ & 0xFFFF);
        outSeg.wrap(out, HEADERS, tcpHeader + len);
        int window;
        if (syn) {
            window = Math.min(c.receiveLimit, 65535); // unscaled in a SYN (RFC 7323 §2.2)
        } else {
            int rcvWnd = receiveWindow(c);
            window = Math.min(rcvWnd >>> c.rcvScale, 65535);
            int edge = c.rcvNxt + (window << c.rcvScale);
            if (Seq.gt(edge, c.rcvAdvertisedEdge)) {
                c.rcvAdvertisedEdge = edge;
            }
        }
        int ack = (flags & TcpSegment.ACK) != 0 ? c.rcvNxt : 0;
        if (c.urgentToSend) {
            if (Seq.ge(c.sndUna, c.sndUp)) {
                c.urgentToSend = false;
            } else if (Seq.gt(c.sndUp, seq) && !syn) {
                flags |= TcpSegment.URG;
            }
        }
        outSeg.writeHeader(c.localPort, c.remotePort, seq, ack, flags, window, optionsLength);
        if ((flags & TcpSegment.URG) != 0) {
            outSeg.urgentPointer(Math.min(c.sndUp - seq, 0xFFFF));
        }
        int at = HEADERS + TcpSegment.MIN_HEADER_LENGTH;
        int optionsStart = at;
        if (syn) {
            at = TcpOptions.writeMss(out, at, ip.mtu() - 40);
            boolean sackOn = config.sack() && (c.active || c.sackOk);
            boolean tsOn = c.timestampsWanted && (c.active || c.tsOk);
            boolean wsOn = config.windowScaling() && (c.active || c.sndScale >= 0);
            if (sackOn && tsOn) {
                at = TcpOptions.writeSackPermitted(out, at);
                at = TcpOptions.writeTimestamps(out, at, tsNow(c), c.active ? 0 : c.tsRecent);
            } else if (tsOn) {
                at = TcpOptions.writeNop(out, at);
                at = TcpOptions.writeNop(out, at);
                at = TcpOptions.writeTimestamps(out, at, tsNow(c), c.active ? 0 : c.tsRecent);
            } else if (sackOn) {
                at = TcpOptions.writeNop(out, at);
                at = TcpOptions.writeNop(out, at);
                at = TcpOptions.writeSackPermitted(out, at);
            }
            if (wsOn) {
                at = TcpOptions.writeNop(out, at);
                at = TcpOptions.writeWindowScale(out, at, c.rcvScale);
            }
            at = TcpOptions.writePadding(out, optionsStart, at);
            if (fastOpenOptionLength(c) > 0) {
                at = TcpOptions.writeNop(out, at);
                at = TcpOptions.writeNop(out, at);
                if (c.active) {
                    byte[] cookie = c.synData > 0 ? cookieCache.get(c.remoteIp) : null;
                    at = TcpOptions.writeFastOpen(out, at, cookie, cookie == null ? 0 : cookie.length);
                } else {
                    at = TcpOptions.writeFastOpen(out, at, cookieFor(cookieKey, c.remoteIp), 8);
                    counters.tcpFastOpenCookiesSent.incrementRelease();
                }
            }
        } else {
            if (c.tsOk) {
                at = TcpOptions.writeNop(out, at);
                at = TcpOptions.writeNop(out, at);
                at = TcpOptions.writeTimestamps(out, at, tsNow(c), c.tsRecent);
            }
            if (sackBlocks > 0) {
                at = TcpOptions.writeNop(out, at);
                at = TcpOptions.writeNop(out, at);
                at = TcpOptions.writeSackBlocks(out, at, sackLeftOut, sackRightOut, sackBlocks);
            }
        }
        if (len > 0) {
            c.sendBuffer.copy(syn ? seq + 1 : seq, len, out, at); // SYN data starts after the SYN's number
        }
        if (ip.txChecksumOffload()) {
            // The port computes both checksums: the IP one from zero, the TCP one from the pseudo-header sum.
            outIp.headerChecksum(0);
            outSeg.checksum(Checksum.pseudoHeaderSum(c.localIp, c.remoteIp, Ipv4Packet.PROTOCOL_TCP, tcpHeader + len));
            Mbuf.olFlags(m, TX_IPV4 | TX_IP_CKSUM | TX_TCP_CKSUM);
            Mbuf.txOffload(m, EthernetFrame.HEADER_LENGTH, Ipv4Packet.MIN_HEADER_LENGTH, tcpHeader);
        } else {
            outSeg.fillChecksum(c.localIp, c.remoteIp);
        }
        if (frameLength < 60) {
            out.setMemory(frameLength, 60 - frameLength, (byte) 0);
        }
        Mbuf.setLength(m, Math.max(frameLength, 60));
        if ((flags & TcpSegment.ACK) != 0) {
            c.ackNow = false;
            c.segmentsUnacked = 0;
            c.delackDeadline = 0;
        }
        counters.tcpSegmentsSent.incrementRelease();
        ip.transmit(m, c.remoteIp);
        return true;
    }

    /** Bytes of the Fast Open option in this connection's SYN or SYN-ACK (with two NOPs), or 0. */
    private int fastOpenOptionLength(TcpConnection c) {
        if (c.active) {
            if (!c.fastOpen || c.state != TcpState.SYN_SENT) {
                return 0;
            }
            byte[] cookie = c.synData > 0 ? cookieCache.get(c.remoteIp) : null;
            return 4 + (cookie == null ? 0 : cookie.length);
        }
        return c.sendCookie ? 12 : 0;
    }

    /** Our window scale: the smallest shift that lets the 16-bit field cover the receive buffer. */
    private int receiveScale() {
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
    private void sendReset(int localIp, int localPort, int remoteIp, int remotePort, int seq, int ack,
                           boolean withAck) {
        long m = ip.allocate();
        if (m == 0) {
            return;
        }
        int frameLength = HEADERS + TcpSegment.MIN_HEADER_LENGTH;
        out.wrap(Mbuf.dataAddress(m), 60);
        out.setMemory(0, 60, (byte) 0);
        outEth.wrap(out, 0, frameLength);
        outEth.writeHeader(0L, ip.mac(), EthernetFrame.ETHERTYPE_IPV4);
        outIp.wrap(out, EthernetFrame.HEADER_LENGTH, frameLength - EthernetFrame.HEADER_LENGTH);
        outIp.writeHeader(Ipv4Packet.DEFAULT_TTL, Ipv4Packet.PROTOCOL_TCP, localIp, remoteIp,
            TcpSegment.MIN_HEADER_LENGTH, ipId++ & 0xFFFF);
        outSeg.wrap(out, HEADERS, TcpSegment.MIN_HEADER_LENGTH);
        outSeg.writeHeader(localPort, remotePort, seq, withAck ? ack : 0,
            TcpSegment.RST | (withAck ? TcpSegment.ACK : 0), 0, 0);
        outSeg.fillChecksum(localIp, remoteIp);
        Mbuf.setLength(m, 60);
        counters.tcpResetsSent.incrementRelease();
        counters.tcpSegmentsSent.incrementRelease();
        ip.transmit(m, remoteIp);
    }

    // =========================================================================================== timers

    private void schedule(TcpConnection c, long deadline) {
        if (deadline == 0) {
            return;
        }
        if (c.timerId != -1 && c.timerDeadline - deadline <= 0) {
            return; // an earlier (or equal) timer is already set; it will reschedule on firing
        }
        if (c.timerId != -1) {
            timers.cancelTimer(c.timerId);
            timerOwners.remove(c.timerId);
        }
        c.timerId = timers.scheduleTimer(deadline);
        c.timerDeadline = deadline;
        timerOwners.put(c.timerId, c);
    }

    private boolean onTimer(TimeUnit unit, long now, long timerId) {
        TcpConnection c = timerOwners.remove(timerId);
        if (c == null || c.timerId != timerId) {
            return true;
        }
        c.timerId = -1;
        this.nowNs = now;
        if (c.state == TcpState.CLOSED) {
            return true;
        }
        if (c.timeWaitDeadline != 0 && now - c.timeWaitDeadline >= 0) {
            if (c.handler != null && (!c.receiveQueue.isEmpty() || c.peerClosedUndelivered)) {
                // The application has not taken the last data yet (its event ring was full, or it paused):
                // hold the connection until it has, rather than drop acknowledged bytes.
                c.deliverPending = true;
                markDirty(c);
                c.timeWaitDeadline = now + TimeUnit.MILLISECONDS.toNanos(10);
                schedule(c, c.timeWaitDeadline);
                return true;
            }
            closeConnection(c, NtStatus.STATUS_SUCCESS);
            return true;
        }
        if (c.delackDeadline != 0 && now - c.delackDeadline >= 0) {
            c.delackDeadline = 0;
            c.ackNow = true;
            markDirty(c);
        }
        if (c.rtxDeadline != 0 && now - c.rtxDeadline >= 0) {
            c.rtxDeadline = 0;
            c.probeDeadline = 0;
            retransmitTimeout(c);
        } else if (c.probeDeadline != 0 && now - c.probeDeadline >= 0) {
            c.probeDeadline = 0;
            tailLossProbe(c);
        }
        if (c.state != TcpState.CLOSED && c.keepDeadline != 0 && now - c.keepDeadline >= 0) {
            keepAliveTimeout(c);
        }
        if (c.state != TcpState.CLOSED) {
            long next = earliest(c);
            if (next != 0) {
                schedule(c, next);
            }
        }
        return true;
    }

    private static long earliest(TcpConnection c) {
        long next = 0;
        if (c.rtxDeadline != 0) {
            next = c.rtxDeadline;
        }
        if (c.delackDeadline != 0 && (next == 0 || c.delackDeadline - next < 0)) {
            next = c.delackDeadline;
        }
        if (c.timeWaitDeadline != 0 && (next == 0 || c.timeWaitDeadline - next < 0)) {
            next = c.timeWaitDeadline;
        }
        if (c.probeDeadline != 0 && (next == 0 || c.probeDeadline - next < 0)) {
            next = c.probeDeadline;
        }
        if (c.keepDeadline != 0 && (next == 0 || c.keepDeadline - next < 0)) {
            next = c.keepDeadline;
        }
        return next;
    }

    /** RFC 6298 §5: the retransmission timer expired. */
    private void retransmitTimeout(TcpConnection c) {
        if (c.deferred) {
            closeConnection(c, NtStatus.STATUS_IO_TIMEOUT); // nobody decided in time: drop the request
            return;
        }
        counters.tcpTimeouts.incrementRelease();
        c.retries++;
        c.rttTiming = false; // Karn
        c.rtoNs = Math.min(config.maxRtoNs(), c.rtoNs * 2);
        if (c.retries == 1) {
            c.retransmitSinceNs = nowNs;
        }
        // TCP_MAXRT: a time limit instead of (or before) the retry counts.
        boolean outOfTime = c.maxRetransmitNs > 0 && nowNs - c.retransmitSinceNs >= c.maxRetransmitNs;
        if (c.state == TcpState.SYN_SENT || c.state == TcpState.SYN_RECEIVED) {
            if (c.retries > config.synRetries() || outOfTime) {
                if (c.state == TcpState.SYN_RECEIVED && !c.active && c.held) {
                    closeConnection(c, NtStatus.STATUS_IO_TIMEOUT); // accepted request, the peer never ACKed
                } else if (c.state == TcpState.SYN_RECEIVED && !c.active) {
                    releaseConnection(c);
                } else {
                    closeConnection(c, NtStatus.STATUS_IO_TIMEOUT);
                }
                return;
            }
            sendSyn(c, c.state == TcpState.SYN_RECEIVED);
            armRetransmit(c);
            return;
        }
        if (c.retries > config.dataRetries() || outOfTime) {
            sendReset(c.localIp, c.localPort, c.remoteIp, c.remotePort, c.sndNxt, 0, false);
            closeConnection(c, NtStatus.STATUS_IO_TIMEOUT);
            return;
        }
        if (Seq.ge(c.sndUna, c.sndMax) && c.sendBuffer.tail() != c.sndNxt) {
            // Persist: nothing in flight, data waiting, window zero or too small for SWS avoidance. Send what
            // the window takes (one byte beyond it if zero); the peer's ACK tells us its window.
            int probe = Math.max(1, Math.min(Math.min(c.sndWnd, currentMss(c)), c.sendBuffer.tail() - c.sndNxt));
            emitData(c, c.sndNxt, probe, false);
            c.sndNxt += probe;
            c.sndMax = Seq.max(c.sndMax, c.sndNxt);
            c.retries = 0; // a peer that answers probes is alive (RFC 1122 §4.2.2.17)
            armRetransmit(c);
            return;
        }
        // RFC 5681 §3.1 (equation 4), on the first timeout of this data only; then go-back-N from SND.UNA.
        c.cc.onTimeout(c, c.sndMax - c.sndUna, c.retries == 1, nowNs);
        c.probeDeadline = 0;
        c.inRecovery = false;
        c.dupAcks = 0;
        c.sackCount = 0;
        c.highestSacked = c.sndUna;
        c.sndNxt = c.sndUna;
        if (c.finSent && c.sndUna == c.finSeq + 1) {
            return;
        }
        if (c.finSent && Seq.le(c.sndUna, c.finSeq)) {
            // The FIN is resent by output() once the data before it is out again.
            c.sndNxt = c.sndUna;
        }
        armRetransmit(c);
        int len = Math.min(currentMss(c), c.sendBuffer.tail() - c.sndUna);
        if (len > 0) {
            emitData(c, c.sndUna, len, true);
            c.sndNxt = c.sndUna + len;
            // The segment may now be larger than when first sent (SACK blocks no longer ride along): what it
            // adds beyond SND.MAX is new data, and the peer's ACK for it must be acceptable.
            if (Seq.gt(c.sndNxt, c.sndMax)) {
                c.sndMax = c.sndNxt;
            }
        } else if (c.finSent && c.sndUna == c.finSeq) {
            sendFin(c);
        }
    }

    /**
     * Both FINs are acknowledged (or ours is and the peer's has come). The application is told it is closed
     * once it has taken the data still queued and heard of the peer's FIN (see {@link #deliver}).
     */
    private void enterTimeWait(TcpConnection c) {
        c.state = TcpState.TIME_WAIT;
        c.rtxDeadline = 0;
        c.probeDeadline = 0;
        c.keepDeadline = 0;
        c.timeWaitDeadline = nowNs + config.timeWaitNs();
        schedule(c, c.timeWaitDeadline);
        if (c.handler != null && c.receiveQueue.isEmpty() && !c.peerClosedUndelivered) {
            TcpHandler h = c.handler;
            c.handler = null;
            h.onClosed(c, NtStatus.STATUS_SUCCESS);
        }
    }

    // ================================================================================= connection table

    private TcpConnection allocateConnection() {
        if (freeCount == 0) {
            return null;
        }
        TcpConnection c = pool[freeList[--freeCount]];
        if (c.sendBuffer == null) {
            c.sendBuffer = new SendBuffer(Integer.highestOneBit(Math.max(config.sendBufferBytes(), 4096) * 2 - 1));
            c.receiveQueue = new ReceiveQueue(Math.max(64, config.receiveBufferBytes() / 512),
                config.outOfOrderSegments());
        }
        return c;
    }

    private void open(TcpConnection c, int remoteIp, int remotePort, int localPort) {
        c.localIp = ip.address();
        c.localPort = localPort;
        c.remoteIp = remoteIp;
        c.remotePort = remotePort;
        c.key = key(remoteIp, remotePort, localPort);
        c.state = TcpState.CLOSED;
        c.handler = null;
        c.listener = null;
        c.active = false;
        c.attachment = null;
        c.synDataLength = 0;
        c.deferred = false;
        c.held = false;
        c.receiveLimit = config.receiveBufferBytes();
        c.timestampsWanted = config.timestamps();
        c.maxRetransmitNs = 0;
        c.retransmitSinceNs = 0;
        c.sndWnd = 0;
        c.maxSndWnd = 0;
        c.sndScale = 0;
        c.rcvScale = 0;
        c.tsOk = false;
        c.sackOk = false;
        c.tsRecent = 0;
        c.tsOffset = isn.isn(remoteIp, remotePort, c.localIp, localPort, 0) >>> 1;
        c.srttNs = 0;
        c.rttvarNs = 0;
        c.rtoNs = config.initialRtoNs();
        c.rttTiming = false;
        c.retries = 0;
        c.rtxDeadline = 0;
        c.probeDeadline = 0;
        c.probeSent = false;
        c.delackDeadline = 0;
        c.timeWaitDeadline = 0;
        c.cwnd = 0;
        c.ssthresh = Integer.MAX_VALUE;
        c.cc = config.congestionControl();
        c.dupAcks = 0;
        c.inRecovery = false;
        c.sackCount = 0;
        c.segmentsUnacked = 0;
        c.ackNow = false;
        c.finQueued = false;
        c.finSent = false;
        c.peerFinPending = false;
        c.peerClosedUndelivered = false;
        c.urgentToSend = false;
        c.urgentToReceive = false;
        c.keepAlive = false;
        c.keepDeadline = 0;
        c.fastOpen = false;
        c.synData = 0;
        c.sendCookie = false;
        c.fastOpenListener = null;
        c.connectPending = false;
        c.nodelay = false;
        c.deliverPending = false;
        c.rcvAdvertisedEdge = 0;
        c.mss = 536;
        c.receiveQueue.clear(releaser);
        connections.put(c.key, c);
        localPortUse[localPort]++;
        counters.tcpConnections.setRelease(connectionCount());
    }

    /** Ends a connection, telling its owner why (once), and returns it to the pool. */
    private void closeConnection(TcpConnection c, int status) {
        TcpHandler h = c.handler;
        boolean connecting = c.connectPending;
        c.connectPending = false;
        c.handler = null;
        releaseConnection(c);
        if (h != null) {
            if (connecting) {
                h.onConnectComplete(c, status);
            } else {
                h.onClosed(c, status);
            }
        }
    }

    private void releaseConnection(TcpConnection c) {
        if (c.state == TcpState.CLOSED && !connections.containsKey(c.key)) {
            return;
        }
        if (c.listener != null) {
            c.listener.pending--;
            c.listener = null;
        }
        if (c.fastOpenListener != null) {
            c.fastOpenListener.fastOpenPending--;
            c.fastOpenListener = null;
        }
        c.state = TcpState.CLOSED;
        connections.remove(c.key);
        localPortUse[c.localPort]--;
        if (c.timerId != -1) {
            timers.cancelTimer(c.timerId);
            timerOwners.remove(c.timerId);
            c.timerId = -1;
        }
        c.receiveQueue.clear(releaser);
        c.rtxDeadline = 0;
        c.probeDeadline = 0;
        c.delackDeadline = 0;
        c.timeWaitDeadline = 0;
        c.closedHandle = c.handle();
        c.generation++;
        c.handover = null;
        c.heldBytes = 0;
        freeList[freeCount++] = c.index;
        counters.tcpConnections.setRelease(connectionCount());
    }

    /** ARP gave no answer for a frame of this connection (from the IP layer's parked queue). */
    public void onUnreachable(int remoteIp, int remotePort, int localPort, int status) {
        if (status != NtStatus.STATUS_HOST_UNREACHABLE) {
            return; // a frame that could not wait for ARP is a lost segment: the timers resend it
        }
        TcpConnection c = connections.get(key(remoteIp, remotePort, localPort));
        if (c != null && (c.state == TcpState.SYN_SENT || c.state == TcpState.SYN_RECEIVED)) {
            closeConnection(c, status);
        }
    }

    /** Frees everything (stack shutdown). Handlers are not called. */
    public void close() {
        for (TcpConnection c : pool) {
            if (c.state != TcpState.CLOSED) {
                c.handler = null;
                releaseConnection(c);
            }
        }
    }

    private void free(long m) {
        ip.free(m);
    }

    private void drop(long m, DropReason reason) {
        counters.drop(reason).incrementRelease();
        ip.free(m);
    }
}
