package io.fastpath.stack.tcp;

import io.fastpath.stack.NtStatus;
import io.fastpath.stack.counters.DropReason;
import io.fastpath.stack.counters.StackCounters;
import io.fastpath.stack.ip.IpOutput;
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
    private static final int TS_OPTION_SPACE = 12;
    private static final long TIMER_TICK_NS = 1L << 20; // about 1 ms
    /** Bytes charged per held mbuf when the stack does not say: a 2 KiB data room, headroom and the mbuf header. */
    static final int DEFAULT_TRUESIZE = 2048 + 128 + 128;
    /** The smallest segment we send, whatever MSS the peer announces (Linux's TCP_MIN_SND_MSS). */
    static final int MIN_SEND_MSS = 48;
    /** RFC 5961 §7: challenge ACKs a second over the whole stack, on average (Linux's tcp_challenge_ack_limit). */
    static final int CHALLENGE_ACKS_PER_SECOND = 1000;
    /** At most one ACK for unacceptable data-less segments (and challenge ACK) per connection this often. */
    static final long OUT_OF_WINDOW_ACK_INTERVAL_NS = 500_000_000L;
    /** Out-of-order segments another connection gives up per prune under global pressure. */
    private static final int PRUNE_BATCH = 64;

    /** A listening port. */
    static final class Listener {
        int port;
        int localIp;
        TcpListenHandler handler;
        long options;
        int pending;
        int fastOpenPending;
        /** Half-open (SYN-RECEIVED) connections, oldest first, linked through TcpConnection.halfOpenNext. */
        TcpConnection halfOpenHead;
        TcpConnection halfOpenTail;
        /** When this listener last answered a SYN with a cookie (cookie ACKs are checked for 2 periods after). */
        long lastCookieNs;
        boolean cookiesSent;
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
    // RFC 6056 §3.3.4 (Algorithm 4, double-hash port selection): F and G are keyed hashes of the destination.
    private static final int PORT_TABLE_LENGTH = 1024;
    private final short[] portTable = new short[PORT_TABLE_LENGTH];
    private final IsnGenerator portKeyF = new IsnGenerator();
    private final IsnGenerator portKeyG = new IsnGenerator();
    // SYN cookies (RFC 4987 §3.6) and compact TIME-WAIT records; stateless segments are built on a scratch TCB.
    private final SynCookie synCookie = new SynCookie(new IsnGenerator(), new IsnGenerator());
    private final TimeWaitTable timeWait;
    private final TcpConnection scratch;
    private final DeadlineTimerWheel timers;
    private final Long2ObjectHashMap<TcpConnection> timerOwners;
    private final DeadlineTimerWheel.TimerHandler timerHandler = this::onTimer;
    private final TcpConnection[] dirty;
    private int dirtyCount;
    /** Connections whose output the port held back: they go again next duty cycle. */
    private final TcpConnection[] txBlocked;
    private int txBlockedCount;
    private final ReceiveQueue.Releaser releaser;

    private final UnsafeBuffer frame = new UnsafeBuffer(0, 0);
    private final UnsafeBuffer out = new UnsafeBuffer(0, 0);
    private final TcpSegment seg = new TcpSegment();
    /** Where the segment being processed starts in its buffer's memory. */
    private long segAddress;
    private final TcpSegment outSeg = new TcpSegment();
    private final TcpOptions options = new TcpOptions();
    private final int[] sackLeftOut = new int[4];
    private final int[] sackRightOut = new int[4];
    // Fast Open: the server's cookie keys (current and previous, RFC 7413 §4.1.2) and the client's cookie cache.
    private IsnGenerator cookieKey = new IsnGenerator();
    private IsnGenerator previousCookieKey = cookieKey;
    private final Int2ObjectHashMap<byte[]> cookieCache = new Int2ObjectHashMap<>();
    private final byte[] cookieScratch = new byte[8];
    private TcpConnection lastConnection;
    // Receive memory (issue 10): every mbuf TCP keeps (in order, out of order, or lent to the application) is
    // charged, whole, to its connection and to this stack. See admit().
    private int memTruesize = DEFAULT_TRUESIZE;
    private int memLimit = Integer.MAX_VALUE;
    private int memHeld;
    private int memHeldPublished;
    private long challengeWindowStartNs = Long.MIN_VALUE / 2;
    private long lastTimeWaitAckNs = Long.MIN_VALUE / 2;
    private int challengeBudget;
    private long challengeRandom = System.nanoTime() | 1;
    private int memDataRoom = 2048;
    private final UnsafeBuffer collapseSrc = new UnsafeBuffer(0, 0);
    private final UnsafeBuffer collapseDst = new UnsafeBuffer(0, 0);
    private final ReceiveQueue.Allocator collapseAllocator;
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
        this.txBlocked = new TcpConnection[config.maxConnections()];
        // The wheel counts ticks from startNs, and advances one tick per poll while timers are pending.
        this.timers = new DeadlineTimerWheel(TimeUnit.NANOSECONDS, startNs, TIMER_TICK_NS, 1024);
        this.nowNs = startNs;
        java.security.SecureRandom random = new java.security.SecureRandom();
        for (int i = 0; i < portTable.length; i++) {
            portTable[i] = (short) random.nextInt(); // RFC 6056 §3.3.4: table[i] = random() % 65536
        }
        this.timeWait = new TimeWaitTable(config.timeWaitCapacity());
        this.scratch = new TcpConnection(this, -1);
        this.scratch.receiveQueue = new ReceiveQueue(64, 1);
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

    /**
     * Sets the receive memory budget (the stack calls this with its pool's figures).
     *
     * @param truesize bytes one held mbuf costs (data room, headroom and header): what a connection is charged
     * @param dataRoom bytes of payload a fresh mbuf holds (for collapsing tiny segments)
     * @param limitMbufs the most mbufs TCP may hold at once over all connections, so that the rest of the pool
     *     stays for receiving, ARP, ICMP, ACKs and resets
     */
    public void configureMemory(int truesize, int dataRoom, int limitMbufs) {
        this.memTruesize = Math.max(256, truesize);
        this.memDataRoom = Math.max(64, dataRoom);
        this.memLimit = Math.max(16, limitMbufs);
        counters.tcpMemoryLimitMbufs.setRelease(memLimit);
    }

    /** Mbufs TCP holds now over all connections (receive queues, out-of-order stores, lent to applications). */
    public int memoryHeldMbufs() {
        return memHeld;
    }

    /** Whether at least three quarters of the budget is held, as last published (any thread). */
    public boolean memoryPressure() {
        long limit = counters.tcpMemoryLimitMbufs.get();
        return limit > 0 && counters.tcpMemoryHeldMbufs.get() * 4 >= limit * 3;
    }

    /** The global limit in mbufs. */
    public int memoryLimitMbufs() {
        return memLimit;
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
        int shown = 0;
        for (int i = 0, slot; (slot = timeWait.slotAt(i)) >= 0 && shown < 64; i++) {
            if (timeWait.isLive(slot)) {
                long k = timeWait.key(slot);
                sb.append("tcp ").append(io.fastpath.stack.wire.Ipv4Address.format(ip.address())).append(':')
                    .append(k & 0xFFFF).append(" -> ").append(io.fastpath.stack.wire.Ipv4Address.format((int) (k >>> 32)))
                    .append(':').append((k >>> 16) & 0xFFFF).append(" TIME-WAIT (compact record) deadline=")
                    .append(timeWait.deadline(slot)).append('\n');
                shown++;
            }
        }
        if (timeWait.size() > shown) {
            sb.append("... and ").append(timeWait.size() - shown).append(" more TIME-WAIT records\n");
        }
        return sb.toString();
    }

    /** Connections in any state but CLOSED: pooled ones and compact TIME-WAIT records. */
    public int connectionCount() {
        return pool.length - freeCount + timeWait.size();
    }

    /** Pooled connection slots in use (TIME-WAIT records excluded). */
    public int slotsInUse() {
        return pool.length - freeCount;
    }

    /** Connections in TIME-WAIT held as compact records. */
    public int timeWaitCount() {
        return timeWait.size();
    }

    /** Bytes the TIME-WAIT table holds (preallocated for its capacity). */
    public long timeWaitFootprintBytes() {
        return timeWait.footprintBytes();
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
            long k = key(remoteIp, remotePort, localPort);
            if (connections.containsKey(k) || timeWait.find(k) >= 0) {
                return NtStatus.STATUS_ADDRESS_ALREADY_EXISTS;
            }
            if (listeners.containsKey(localPort)
                || localPortUse[localPort] > 0 && !TcpSocketOptions.reuseAddress(socketOptions)) {
                return NtStatus.STATUS_SHARING_VIOLATION;
            }
        } else {
            localPort = ephemeralPort(remoteIp, remotePort);
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

    /**
     * An ephemeral port for a connection to {@code remoteIp:remotePort}, by RFC 6056 §3.3.4 (Algorithm 4,
     * double-hash port selection): the search starts at F(local, remote, secret) + table[G(...)], so a peer sees
     * no pattern across destinations and an off-path attacker cannot guess the port; table[G] advances so
     * successive connections to one destination do not reuse a port at once. A port is suitable if no
     * connection or listener holds it and its 4-tuple is not in TIME-WAIT. Returns 0 when none is left.
     */
    private int ephemeralPort(int remoteIp, int remotePort) {
        int range = EPHEMERAL_LAST - EPHEMERAL_FIRST + 1;
        long addresses = ((long) ip.address() << 32) | (remoteIp & 0xFFFF_FFFFL);
        int offset = (int) portKeyF.sipHash24(addresses, remotePort & 0xFFFF);
        int index = (int) portKeyG.sipHash24(addresses, remotePort & 0xFFFF) & (PORT_TABLE_LENGTH - 1);
        for (int count = range; count > 0; count--) {
            int port = EPHEMERAL_FIRST + Integer.remainderUnsigned(offset + (portTable[index] & 0xFFFF), range);
            portTable[index]++;
            if (localPortUse[port] == 0 && !listeners.containsKey(port)
                && timeWait.find(key(remoteIp, remotePort, port)) < 0) {
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
        memHeld--;
        if (c != null) {
            c.heldBytes = Math.max(0, c.heldBytes - length);
            c.heldMbufs = Math.max(0, c.heldMbufs - 1);
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
        int expired = timeWait.size() > 0 ? timeWait.expire(now) : 0;
        if (expired > 0) {
            counters.tcpTimeWait.setRelease(timeWait.size());
            counters.tcpConnections.setRelease(connectionCount());
        }
        // The wheel's tick is about 1 ms: between ticks there is nothing new to expire, and scanning the
        // current tick's slots every duty cycle cost several percent of a busy poll thread.
        // While it holds timers the wheel moves one tick per poll: after a pause (GC, a stepped clock) it
        // must catch up here, or every timer fires late by the pause (found by ReceivePathFuzzTest).
        int work = expired;
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
        int blocked = txBlockedCount;
        txBlockedCount = 0;
        for (int i = 0; i < blocked; i++) {
            TcpConnection c = txBlocked[i];
            c.txBlocked = false;
            if (c.state != TcpState.CLOSED) {
                markDirty(c);
            }
        }
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
                if (c.state == TcpState.TIME_WAIT) {
                    compactTimeWait(c);
                }
            }
        }
        dirtyCount = 0;
        if (memHeld != memHeldPublished) {
            memHeldPublished = memHeld;
            counters.tcpMemoryHeldMbufs.setRelease(memHeld);
        }
        return work;
    }

    // ============================================================================================ input

    /**
     * A TCP segment for our address, parsed out of its IPv4 datagram by the layer below: {@code segmentLength}
     * bytes at {@code segmentAddress} inside buffer {@code m}, from {@code src} to {@code dst}; {@code verified}
     * when the port has checked the TCP checksum already. Consumes the buffer (keeps it for its data, or frees it).
     */
    public void input(long m, long segmentAddress, int segmentLength, int src, int dst, boolean verified, long now) {
        this.nowNs = now;
        segAddress = segmentAddress;
        frame.wrap(segmentAddress, segmentLength);
        seg.wrap(frame, 0, segmentLength);
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
        if (c == null && timeWait.size() > 0) {
            int tw = timeWait.find(key(src, srcPort, dstPort));
            if (tw >= 0 && !timeWaitInput(m, tw)) {
                return;
            }
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

    /**
     * A segment for a compact TIME-WAIT record (RFC 9293 §3.10.7.4 in TIME-WAIT). Returns true when the record
     * is gone and the segment goes on to the listener (a new SYN reusing the 4-tuple, RFC 6191); otherwise the
     * segment is consumed here.
     */
    private boolean timeWaitInput(long m, int tw) {
        if (seg.hasFlags(TcpSegment.RST)) {
            free(m); // RFC 1337 §3: a RST must not end TIME-WAIT early ("TIME-WAIT assassination")
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
                timeWait.remove(tw);
                counters.tcpTimeWait.setRelease(timeWait.size());
                counters.tcpConnections.setRelease(connectionCount());
                return true;
            }
            counters.tcpChallengeAcks.incrementRelease(); // RFC 5961 §4.2: any other SYN gets an ACK
            sendTimeWaitAck(tw);
            drop(m, DropReason.TCP_OUT_OF_WINDOW);
            return false;
        }
        if (tsOk && options.hasTimestamps() && Seq.lt(options.tsVal(), timeWait.tsRecent(tw))) {
            sendTimeWaitAck(tw); // RFC 7323 §5.3 PAWS: an old duplicate
            drop(m, DropReason.TCP_OUT_OF_WINDOW);
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
            timeWait.restart(tw, nowNs + config.timeWaitNs());
        } else if (seg.payloadLength() > 0 || seg.hasFlags(TcpSegment.FIN)) {
            if (nowNs - lastTimeWaitAckNs >= OUT_OF_WINDOW_ACK_INTERVAL_NS / 500) {
                lastTimeWaitAckNs = nowNs; // at most about 1,000 such ACKs a second from all records
                sendTimeWaitAck(tw);
            } else {
                counters.tcpOutOfWindowAcksSuppressed.incrementRelease();
            }
        }
        free(m);
        return false;
    }

    /** The ACK a compact TIME-WAIT record sends: SND.NXT, RCV.NXT, its window, and timestamps if in use. */
    private void sendTimeWaitAck(int tw) {
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
        emit(s, timeWait.sndNxt(tw), 0, TcpSegment.ACK, false);
    }

    /**
     * A TIME-WAIT connection whose application has been told it is closed, with nothing left queued either
     * way, becomes a compact record ({@link TimeWaitTable}) and its pooled slot (and send ring) is free at once.
     */
    private void compactTimeWait(TcpConnection c) {
        if (timeWait.capacity() == 0 || c.handler != null || !c.receiveQueue.isEmpty() || c.peerClosedUndelivered
            || c.ackNow) {
            return;
        }
        long k = c.key;
        int window = receiveWindow(c);
        if (timeWait.add(k, c.rcvNxt, c.sndNxt, c.tsOk, c.tsRecent, c.tsOffset, window, c.rcvScale,
            c.timeWaitDeadline)) {
            counters.tcpTimeWaitOverflows.incrementRelease();
        }
        releaseConnection(c);
        counters.tcpTimeWait.setRelease(timeWait.size());
        counters.tcpConnections.setRelease(connectionCount());
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

    /**
     * RFC 9293 §3.10.7.2: LISTEN. A SYN makes a half-open (SYN-RECEIVED) connection, or, when the half-open
     * queue or the connection table is full (or always, by configuration), is answered with a SYN cookie and
     * forgotten (RFC 4987 §3.6). An ACK is checked as a cookie's return; anything else that is not a SYN gets
     * the RST RFC 9293 asks for.
     */
    private void listenInput(long m, Listener l, int src, int dst) {
        if (seg.hasFlags(TcpSegment.RST)) {
            free(m);
            return;
        }
        if (seg.hasFlags(TcpSegment.ACK)) {
            if (!seg.hasFlags(TcpSegment.SYN) && cookiesAccepted(l)) {
                int mssIndex = synCookie.check(seg.acknowledgmentNumber() - 1, src, dst, seg.sourcePort(),
                    seg.destinationPort(), seg.sequenceNumber() - 1, nowNs);
                if (mssIndex >= 0) {
                    establishFromCookie(m, l, src, mssIndex);
                    return;
                }
                counters.tcpSynCookiesFailed.incrementRelease();
            }
            sendReset(dst, seg.destinationPort(), src, seg.sourcePort(), seg.acknowledgmentNumber(), 0, false);
            drop(m, DropReason.TCP_NO_CONNECTION);
            return;
        }
        if (!seg.hasFlags(TcpSegment.SYN)) {
            free(m);
            return;
        }
        boolean full = l.pending >= config.listenBacklog();
        if (full) {
            counters.tcpListenOverflows.incrementRelease();
        }
        if (freeCount == 0 && l.pending == 0) {
            // Every slot holds a connection past its handshake (Linux: the accept queue is full). A cookie would
            // only let the client believe it is connected; drop the SYN, as Linux does, and let it retry.
            counters.tcpListenDrops.incrementRelease();
            drop(m, DropReason.TCP_NO_RESOURCES);
            return;
        }
        TcpConfig.SynCookieMode mode = config.synCookies();
        if (mode == TcpConfig.SynCookieMode.ALWAYS
            || mode == TcpConfig.SynCookieMode.WHEN_FULL && (full || freeCount == 0)) {
            // No state for this SYN: Fast Open data in it is not taken and a conditional-accept listener is
            // not asked (both need a connection); the handshake's ACK brings the connection to onAccept.
            sendSynCookie(l, src, dst);
            free(m);
            return;
        }
        if ((full || freeCount == 0) && !dropOldestHalfOpen(l)) {
            counters.tcpListenDrops.incrementRelease();
            drop(m, full ? DropReason.TCP_BACKLOG_FULL : DropReason.TCP_NO_RESOURCES);
            return;
        }
        TcpConnection c = allocateConnection();
        if (c == null) {
            counters.tcpListenDrops.incrementRelease();
            drop(m, DropReason.TCP_NO_RESOURCES);
            return;
        }
        open(c, src, seg.sourcePort(), seg.destinationPort());
        applyOptions(c, l.options, true);
        joinListener(c, l);
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
            l.handler.onConnectRequest(c, segAddress + seg.payloadOffset(), seg.payloadLength());
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

    /** Counts a SYN-RECEIVED connection against its listener's half-open queue (newest last). */
    private static void joinListener(TcpConnection c, Listener l) {
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
    private static void leaveListener(TcpConnection c) {
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
    private boolean dropOldestHalfOpen(Listener l) {
        TcpConnection oldest = l.halfOpenHead;
        if (oldest == null) {
            return false;
        }
        counters.tcpHalfOpenEvicted.incrementRelease();
        if (oldest.held) {
            closeConnection(oldest, NtStatus.STATUS_IO_TIMEOUT);
        } else {
            releaseConnection(oldest);
        }
        return true;
    }

    /** Whether an ACK to this listener may be a cookie's return (Linux: tcp_synq_no_recent_overflow). */
    private boolean cookiesAccepted(Listener l) {
        return switch (config.synCookies()) {
            case OFF -> false;
            case ALWAYS -> true;
            case WHEN_FULL -> l.cookiesSent && nowNs - l.lastCookieNs < SynCookie.MAX_AGE * SynCookie.PERIOD_NS;
        };
    }

    /**
     * Answers the SYN in {@link #seg} with a SYN-ACK whose ISN is a SYN cookie, keeping nothing. MSS, and with
     * timestamps the peer's window scale and SACK-permitted, travel in the cookie ({@link SynCookie}).
     */
    private void sendSynCookie(Listener l, int src, int dst) {
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
        s.rcvScale = ws ? receiveScale() : 0;
        int mssIndex = SynCookie.mssIndex(options.hasMss() ? options.mss() : 536);
        s.iss = synCookie.encode(src, dst, s.remotePort, s.localPort, s.irs, mssIndex, nowNs);
        int nowMs = (int) (nowNs / 1_000_000L);
        if (s.tsOk) {
            int ts = SynCookie.timestamp(nowMs + tsOffset(src, s.remotePort, s.localPort), s.sndScale, s.sackOk);
            s.tsOffset = ts - nowMs; // emit() sends tsNow(s), which is now this
        }
        l.cookiesSent = true;
        l.lastCookieNs = nowNs;
        counters.tcpSynCookiesSent.incrementRelease();
        emit(s, s.iss, 0, TcpSegment.SYN | TcpSegment.ACK, false);
    }

    /**
     * A valid cookie came back (RFC 4987 §3.6): the connection is made ESTABLISHED from the cookie and this ACK,
     * handed to the listener (onAccept), and the ACK's data and FIN are then processed as in any ESTABLISHED
     * connection (RFC 9293 §3.10.7.4), so nothing it carries is lost.
     */
    private void establishFromCookie(long m, Listener l, int src, int mssIndex) {
        TcpConnection c = allocateConnection();
        if (c == null && dropOldestHalfOpen(l)) {
            c = allocateConnection(); // a completed handshake is worth more than a half-open one
        }
        if (c == null) {
            drop(m, DropReason.TCP_NO_RESOURCES); // the peer sends again (its data or its ACK)
            return;
        }
        int segSeq = seg.sequenceNumber();
        int segAck = seg.acknowledgmentNumber();
        open(c, src, seg.sourcePort(), seg.destinationPort());
        applyOptions(c, l.options, true);
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
        c.rcvScale = peerScale >= 0 ? receiveScale() : 0;
        // RFC 6691: the peer's MSS counts data only, so options come out of it; never below Linux's 48 bytes.
        c.mss = Math.max(MIN_SEND_MSS, Math.min(c.peerMss, ip.mtu() - 40) - (c.tsOk ? TS_OPTION_SPACE : 0));
        c.sndWnd = seg.window() << Math.max(c.sndScale, 0);
        c.maxSndWnd = c.sndWnd;
        c.sndWl1 = segSeq;
        c.sndWl2 = segAck;
        c.state = TcpState.SYN_RECEIVED;
        joinListener(c, l);
        counters.tcpPassiveOpens.incrementRelease();
        counters.tcpSynCookiesValidated.incrementRelease();
        establish(c);
        if (!accept(c)) {
            free(m);
            return;
        }
        otherInput(m, c);
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
        // RFC 6691: the peer's MSS counts data only, so options come out of it; never below Linux's 48 bytes.
        c.mss = Math.max(MIN_SEND_MSS, Math.min(c.peerMss, ip.mtu() - 40) - (c.tsOk ? TS_OPTION_SPACE : 0));
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
        c.recovery.reset(c.sndUna); // the scoreboard counts from the first data byte
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
            dupAck(c, segLen > 0 && !syn);
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
                } else if (c.state == TcpState.TIME_WAIT) {
                    free(m); // RFC 1337 §3: no TIME-WAIT assassination; 2 MSL runs its course
                    return;
                } else if (c.state == TcpState.CLOSING || c.state == TcpState.LAST_ACK) {
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
        leaveListener(c);
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

    /**
     * RFC 5961 §7: challenge ACKs are limited, per connection (one per {@link #OUT_OF_WINDOW_ACK_INTERVAL_NS}, as
     * Linux's tcp_invalid_ratelimit) and per stack (about {@link #CHALLENGE_ACKS_PER_SECOND} a second, the exact
     * budget drawn at random each second so that the count cannot serve as a side channel: CVE-2016-5696).
     */
    private void challengeAck(TcpConnection c) {
        if (outOfWindowAckLimited(c)) {
            counters.tcpChallengeAcksSuppressed.incrementRelease();
            return;
        }
        if (nowNs - challengeWindowStartNs >= 1_000_000_000L) {
            challengeWindowStartNs = nowNs;
            challengeRandom ^= challengeRandom << 13;
            challengeRandom ^= challengeRandom >>> 7;
            challengeRandom ^= challengeRandom << 17;
            challengeBudget = CHALLENGE_ACKS_PER_SECOND / 2 + (int) ((challengeRandom >>> 1) % CHALLENGE_ACKS_PER_SECOND);
        }
        if (challengeBudget <= 0) {
            counters.tcpChallengeAcksSuppressed.incrementRelease();
            return;
        }
        challengeBudget--;
        counters.tcpChallengeAcks.incrementRelease();
        c.ackNow = true;
        markDirty(c);
    }

    /**
     * A duplicate ACK for an unacceptable segment (RFC 9293 §3.10.7.4). Those answering segments without data
     * (pure ACKs, SYNs) are limited per connection, as Linux's tcp_oow_rate_limited: otherwise two stacks that
     * disagree about a window can ACK each other for ever, and a blind attacker gets an ACK for every forged
     * segment. Segments with data are always answered: the peer needs to hear where we are.
     */
    private void dupAck(TcpConnection c, boolean carriesData) {
        if (!carriesData && outOfWindowAckLimited(c)) {
            counters.tcpOutOfWindowAcksSuppressed.incrementRelease();
            return;
        }
        c.ackNow = true;
        markDirty(c);
    }

    private boolean outOfWindowAckLimited(TcpConnection c) {
        if (c.lastOutOfWindowAckNs != 0 && nowNs - c.lastOutOfWindowAckNs < OUT_OF_WINDOW_ACK_INTERVAL_NS) {
            return true;
        }
        c.lastOutOfWindowAckNs = nowNs;
        return false;
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
        c.probesOut = 0; // the peer answers (RFC 1122 §4.2.2.17: keep probing while it does)
        c.lastAckNs = nowNs;
        if (window > 0) {
            c.persistProbes = 0;
        }
        Recovery r = c.recovery;
        r.board.beginAck();
        boolean newSack = false;
        if (c.sackOk && options.sackBlockCount() > 0) {
            int sackedBefore = r.board.sackedBytes();
            r.readSack(c, options, segAck, nowNs);
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
            r.board.acknowledge(segAck, nowNs);
            c.retries = 0;
            c.dupAcks = 0;
            c.probeDeadline = 0;
            if (!c.inRecovery || r.afterTimeout) {
                if (cwndLimited(c)) {
                    c.cc.onAck(c, dataAcked, nowNs); // in fast recovery PRR sets cwnd instead
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
        } else if (Seq.lt(c.sndUna, c.sndMax) && segAck == c.sndUna && c.sndWnd > 0
            && (c.sackOk ? newSack : payload == 0 && !fin && !windowUpdated)) {
            // (A zero window is no sign of loss: the peer is full. Its ACKs to our probes are not duplicate
            // ACKs, or fast retransmit would push full segments into the closed window; the persist timer probes.)
            // RFC 5681 §2 duplicate ACK; with SACK, any ACK reporting newly SACKed data (RFC 6675 §2), even one
            // carrying data: in two-way traffic nearly every ACK rides on data.
            c.dupAcks++;
            duplicate = true;
            markDirty(c); // RFC 3042 limited transmit, or what recovery may send now
        } else if (windowUpdated) {
            markDirty(c);
        }
        // RFC 6298 §3 with Karn's rule: a sample from the newest segment this ACK delivered, if it was never
        // retransmitted (the scoreboard knows, per segment).
        if (r.board.rttSampleNs >= 0) {
            rttSample(c, r.board.rttSampleNs);
        }
        if (Seq.lt(c.sndUna, c.sndMax) || c.inRecovery || r.probeOut) {
            r.onAck(c, advanced, duplicate, nowNs);
            if (r.reorderDeadline != 0) {
                schedule(c, r.reorderDeadline);
            }
            if (r.board.pipe() > 0 || r.board.nextLost() >= 0) {
                markDirty(c);
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
    private static boolean cwndLimited(TcpConnection c) {
        if (c.cwndLimited) {
            return true;
        }
        return c.cwnd < c.ssthresh && c.cwnd < 2L * c.flightHigh;
    }

    /** After sending: remember, per window of data, whether cwnd held us back and the largest flight. */
    private void validateCwnd(TcpConnection c, int segmentSize) {
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

    /** Tail loss probe (RFC 8985 §7.2): armed after sending or an ACK, outside recovery, one probe per tail. */
    private void armProbe(TcpConnection c) {
        long pto = c.recovery.probeTimeout(c);
        if (pto == 0 || Seq.ge(c.sndUna, c.sndMax)) {
            c.probeDeadline = 0;
            return;
        }
        c.probeDeadline = nowNs + pto;
        schedule(c, c.probeDeadline);
    }

    /**
     * RFC 8985 §7.3: the probe timer expired. Send one segment, new data if the window allows, else the last
     * segment again, so that a lost tail is answered with SACKs (and RACK) instead of waiting for the RTO.
     */
    private void tailLossProbe(TcpConnection c) {
        if (c.sndWnd == 0) {
            return; // a closed window, not a lost tail: the persist timer probes it
        }
        if (Seq.ge(c.sndUna, c.sndMax) || !TcpState.receivesData(c.state) && c.state != TcpState.CLOSE_WAIT
            && c.state != TcpState.LAST_ACK) {
            return;
        }
        if (c.inRecovery || c.recovery.probeOut) {
            if (c.recovery.onRecoveryStall(c, nowNs)) {
                markDirty(c);
            }
            armProbe(c);
            return;
        }
        int unsent = c.sendBuffer.tail() - c.sndNxt;
        int size = currentMss(c);
        boolean sent = false;
        boolean retransmission = false;
        if (unsent > 0 && !c.finSent && Seq.lt(c.sndNxt + Math.min(unsent, size), c.sndUna + c.sndWnd + 1)
            && !c.recovery.board.full()) {
            int len = Math.min(unsent, size);
            if (emitData(c, c.sndNxt, len, false)) {
                c.sndNxt += len;
                c.sndMax = Seq.max(c.sndMax, c.sndNxt);
                sent = true;
            }
        } else {
            int dataEnd = c.finSent ? c.finSeq : c.sndMax;
            int len = Math.min(size, dataEnd - c.sndUna);
            retransmission = true;
            if (len > 0) {
                sent = emitData(c, dataEnd - len, len, true);
            } else if (c.finSent) {
                sent = emit(c, c.finSeq, 0, TcpSegment.FIN | TcpSegment.ACK, true);
            }
        }
        if (sent) {
            c.recovery.onProbeSent(c, retransmission);
            armRetransmit(c); // RFC 8985 §7.3: the RTO runs from the probe
            armProbe(c); // and, should the probe go unanswered, the stall probe (Recovery.onRecoveryStall)
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
        long address = segAddress + payloadOffset;
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
        if (!admit(c, segSeq == c.rcvNxt, segSeq)) {
            counters.drop(DropReason.TCP_MEMORY_LIMIT).incrementRelease();
            c.ackNow = true; // tell the peer where we are and what window is left
            markDirty(c);
            return false;
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
            return true;
        }
        counters.tcpOutOfOrder.incrementRelease();
        c.ackNow = true; // RFC 5681 §4.2: out-of-order data is acknowledged at once (with SACK)
        markDirty(c);
        if (!c.receiveQueue.insertOutOfOrder(segSeq, m, address, payload)) {
            counters.drop(DropReason.TCP_RECEIVE_QUEUE_FULL).incrementRelease();
            return false;
        }
        memHeld++;
        return true;
    }

    // ------------------------------------------------------------------------------------ receive memory

    /** Mbufs charged to a connection: its in-order and out-of-order views and what its application holds. */
    private static int charged(TcpConnection c) {
        return c.receiveQueue.count() + c.receiveQueue.outOfOrderCount() + c.heldMbufs;
    }

    /** The most mbufs one connection may hold: twice its receive buffer in truesize (Linux: rcvbuf = 2 x window). */
    private int connectionLimit(TcpConnection c) {
        return Math.max(8, (int) (2L * c.receiveLimit / memTruesize));
    }

    /**
     * May this connection keep one more mbuf? Linux's order under pressure (tcp_prune_queue): first give up
     * out-of-order data (this connection's above {@code seq}, then, when the stack as a whole is short, other
     * connections'), then collapse tiny in-order segments into fewer mbufs, and only then refuse the segment.
     * The budget leaves part of the pool untouched, so receiving, ARP, ICMP, ACKs and resets never starve.
     */
    private boolean admit(TcpConnection c, boolean inOrder, int seq) {
        int limit = connectionLimit(c);
        if (charged(c) < limit && memHeld < memLimit) {
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
            TcpConnection victim = largestOutOfOrder(c);
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
        return charged(c) < limit && memHeld < memLimit;
    }

    /** The connection other than {@code except} holding the most out-of-order segments, or null. */
    private TcpConnection largestOutOfOrder(TcpConnection except) {
        TcpConnection best = null;
        int most = 0;
        for (TcpConnection c : pool) {
            if (c != except && c.state != TcpState.CLOSED && c.receiveQueue != null
                && c.receiveQueue.outOfOrderCount() > most) {
                most = c.receiveQueue.outOfOrderCount();
                best = c;
            }
        }
        return best;
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
            c.heldMbufs++;
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
        int free = freeReceiveSpace(c);
        if ((c.rcvNxt + free) - c.rcvAdvertisedEdge >= Math.min(2 * c.mss, c.receiveLimit / 2)) {
            c.ackNow = true;
            markDirty(c);
        }
    }

    /**
     * Receive space: the buffer less the bytes held, and no more than the memory left would hold in full-sized
     * segments (so a connection whose mbufs are mostly tiny segments closes its window, Linux's tcp_space).
     */
    private int freeReceiveSpace(TcpConnection c) {
        int free = c.receiveLimit - c.receiveQueue.bytes() - c.receiveQueue.outOfOrderBytes() - c.heldBytes;
        long memoryFree = (long) (connectionLimit(c) - charged(c)) * c.mss;
        return (int) Math.min(free, Math.max(0, memoryFree));
    }

    private int receiveWindow(TcpConnection c) {
        int free = freeReceiveSpace(c);
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
        if (sent && c.probeDeadline == 0) {
            armProbe(c); // RFC 8985 §7.2: after sending (SND.MAX is up to date here)
        }
        validateCwnd(c, segmentSize);
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
        int room = (c.pathMtu > 0 ? Math.min(c.pathMtu, ip.mtu()) : ip.mtu()) - Ipv4Packet.MIN_HEADER_LENGTH
            - TcpSegment.MIN_HEADER_LENGTH - (c.tsOk ? TS_OPTION_SPACE : 0);
        if (c.sackOk && c.receiveQueue.outOfOrderCount() > 0) {
            room -= 4 + 8 * (c.tsOk ? 3 : 4);
        }
        return Math.max(MIN_SEND_MSS, Math.min(c.mss, room));
    }

    /** Sends [seq, seq + len) again (it lies below SND.MAX). */
    private boolean retransmit(TcpConnection c, int seq, int len) {
        return len > 0 && emitData(c, seq, len, true);
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
        // The scoreboard records every data segment with its transmission time (RFC 8985 §5.2).
        c.recovery.onSent(c, seq, len, retransmission, nowNs);
        if (retransmission) {
            counters.tcpRetransmits.incrementRelease();
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
        if (!ip.canTransmit()) {
            // The port is full: keep the segment unsent and come back next duty cycle (issue 10 item 7: frames
            // dropped after TCP counted them sent were self-inflicted loss). A stateless segment (SYN cookie,
            // TIME-WAIT record, built on the scratch TCB) is just not sent: the peer retransmits.
            if (c == scratch) {
                return false;
            }
            if (!c.txBlocked) {
                c.txBlocked = true;
                txBlocked[txBlockedCount++] = c;
            }
            return false;
        }
        long m = ip.allocate();
        if (m == 0) {
            counters.drop(DropReason.TCP_NO_RESOURCES).incrementRelease();
            if (c != scratch && !c.txBlocked) {
                c.txBlocked = true; // the pool is empty for now: try again next duty cycle, not never
                txBlocked[txBlockedCount++] = c;
            }
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
            int maxBlocks = c.tsOk ? 3 : 4;
            // A D-SACK rides first (RFC 2883 §4), on a segment with room for it (currentMss() reserves room
            // for blocks only while data is held out of order).
            boolean dsack = c.dsackPending && c.sackOk
                && (len == 0 || c.receiveQueue.outOfOrderCount() > 0 || currentMss(c) - len >= 12);
            if (dsack) {
                c.dsackPending = false;
                maxBlocks--;
            }
            if (c.sackOk && c.receiveQueue.outOfOrderCount() > 0) {
                sackBlocks = c.receiveQueue.sackBlocks(sackLeftOut, sackRightOut, maxBlocks, lastSegmentSeq);
            }
            if (dsack) {
                System.arraycopy(sackLeftOut, 0, sackLeftOut, 1, sackBlocks);
                System.arraycopy(sackRightOut, 0, sackRightOut, 1, sackBlocks);
                sackLeftOut[0] = c.dsackLeft;
                sackRightOut[0] = c.dsackRight;
                sackBlocks++;
            }
            if (sackBlocks > 0) {
                optionsLength += 4 + 8 * sackBlocks;
            }
        }
        int tcpHeader = TcpSegment.MIN_HEADER_LENGTH + optionsLength;
        out.wrap(ip.segmentAddress(m), tcpHeader + len);
        outSeg.wrap(out, 0, tcpHeader + len);
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
        int at = TcpSegment.MIN_HEADER_LENGTH;
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
        if ((flags & TcpSegment.ACK) != 0) {
            c.ackNow = false;
            c.segmentsUnacked = 0;
            c.delackDeadline = 0;
        }
        counters.tcpSegmentsSent.incrementRelease();
        ip.transmitTcp(m, c.localIp, c.remoteIp, tcpHeader + len);
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
        out.wrap(ip.segmentAddress(m), TcpSegment.MIN_HEADER_LENGTH);
        outSeg.wrap(out, 0, TcpSegment.MIN_HEADER_LENGTH);
        outSeg.writeHeader(localPort, remotePort, seq, withAck ? ack : 0,
            TcpSegment.RST | (withAck ? TcpSegment.ACK : 0), 0, 0);
        counters.tcpResetsSent.incrementRelease();
        counters.tcpSegmentsSent.incrementRelease();
        ip.transmitTcp(m, localIp, remoteIp, TcpSegment.MIN_HEADER_LENGTH);
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
        if (c.state != TcpState.CLOSED && c.recovery != null && c.recovery.reorderDeadline != 0
            && now - c.recovery.reorderDeadline >= 0) {
            c.recovery.onReorderTimeout(c, now); // RFC 8985 §6.3
            markDirty(c);
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
        long reorder = c.recovery == null ? 0 : c.recovery.reorderDeadline;
        if (reorder != 0 && (next == 0 || reorder - next < 0)) {
            next = reorder;
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
        // RFC 5681 §3.1 (equation 4), on the first timeout of this data only. Every unSACKed segment is then
        // deemed lost and recovery resends them in slow start, skipping what the peer SACKed (RFC 6675 §5.1,
        // RFC 8985 §6.3): output() below sends the first at once (RFC 6298 §5.4).
        c.cc.onTimeout(c, c.sndMax - c.sndUna, c.retries == 1, nowNs);
        c.probeDeadline = 0;
        c.recovery.onTimeout(c);
        if (c.finSent && Seq.le(c.sndUna, c.finSeq)) {
            c.finLost = true;
        }
        armRetransmit(c);
        if (c.recovery.board.count() == 0 && Seq.lt(c.sndUna, c.sndMax) && !c.finLost) {
            // Outstanding bytes the scoreboard does not hold (a SYN's data, say): from SND.UNA as before.
            int len = Math.min(currentMss(c), c.sendBuffer.tail() - c.sndUna);
            if (len > 0 && emitData(c, c.sndUna, len, true)) {
                c.sndNxt = Seq.max(c.sndNxt, c.sndUna + len);
                c.sndMax = Seq.max(c.sndMax, c.sndNxt);
            }
            return;
        }
        output(c);
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
    private void persistTimeout(TcpConnection c) {
        c.retries = 0;
        boolean silent = c.probesOut > config.dataRetries()
            || c.maxRetransmitNs > 0 && c.lastAckNs != 0 && nowNs - c.lastAckNs >= c.maxRetransmitNs;
        if (silent) {
            sendReset(c.localIp, c.localPort, c.remoteIp, c.remotePort, c.sndNxt, 0, false);
            closeConnection(c, NtStatus.STATUS_IO_TIMEOUT);
            return;
        }
        // An application that has closed (FIN queued) or left does not get to pin a slot for ever behind a
        // peer that keeps its window shut (Linux: tcp_orphan_retries): a bounded number of probes then.
        if ((c.finQueued || c.handler == null) && ++c.persistProbes > config.dataRetries()) {
            sendReset(c.localIp, c.localPort, c.remoteIp, c.remotePort, c.sndNxt, 0, false);
            closeConnection(c, NtStatus.STATUS_IO_TIMEOUT);
            return;
        }
        c.probesOut++;
        counters.tcpWindowProbes.incrementRelease();
        if (c.finSent && Seq.ge(c.sndUna, c.finSeq)) {
            // Only our FIN is outstanding: probe with the FIN itself, never with a byte past the data.
            emit(c, c.finSeq, 0, TcpSegment.FIN | TcpSegment.ACK, true);
        } else if (Seq.lt(c.sndUna, c.sndMax)) {
            // The refused probe byte again, or the first byte of what the shrunk window left outstanding; the rest
            // goes again (go-back-N) once the window opens. One byte, never a full segment into a zero window.
            if (emitData(c, c.sndUna, 1, true)) {
                c.sndNxt = c.sndUna + 1;
            }
        } else {
            int probe = Math.max(1, Math.min(Math.min(c.sndWnd, currentMss(c)), c.sendBuffer.tail() - c.sndNxt));
            if (probe > 0 && emitData(c, c.sndNxt, probe, false)) {
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
    private void enterTimeWait(TcpConnection c) {
        c.state = TcpState.TIME_WAIT;
        c.rtxDeadline = 0;
        c.probeDeadline = 0;
        c.keepDeadline = 0;
        c.timeWaitDeadline = nowNs + config.timeWaitNs();
        schedule(c, c.timeWaitDeadline);
        markDirty(c); // flush() moves it to the TIME-WAIT table once its last ACK is out
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
            c.recovery = new Recovery(c.sendBuffer.capacity(), counters);
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
        c.tsOffset = tsOffset(remoteIp, remotePort, localPort);
        c.srttNs = 0;
        c.rttvarNs = 0;
        c.rtoNs = config.initialRtoNs();
        c.rttTiming = false;
        c.retries = 0;
        c.rtxDeadline = 0;
        c.probeDeadline = 0;
        c.finLost = false;
        c.dsackPending = false;
        c.delackDeadline = 0;
        c.timeWaitDeadline = 0;
        c.cwnd = 0;
        c.ssthresh = Integer.MAX_VALUE;
        c.cwndLimited = false;
        c.probesOut = 0;
        c.persistProbes = 0;
        c.pathMtu = 0;
        c.lastAckNs = 0;
        c.lastOutOfWindowAckNs = 0;
        c.flightHigh = 0;
        c.cwndUsageSeq = 0;
        c.cc = config.congestionControl();
        c.dupAcks = 0;
        c.inRecovery = false;
        c.recovery.reset(0);
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

    /** Our timestamp clock's offset for a 4-tuple: fixed per 4-tuple, so a SYN cookie's TSval can be checked. */
    private int tsOffset(int remoteIp, int remotePort, int localPort) {
        return isn.isn(remoteIp, remotePort, ip.address(), localPort, 0) >>> 1;
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
            leaveListener(c);
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
        c.heldMbufs = 0; // still charged to the stack until the application returns them
        freeList[freeCount++] = c.index;
        counters.tcpConnections.setRelease(connectionCount());
    }

    /**
     * RFC 1191 §5 plateaus, for a router that reports no next-hop MTU (the field is zero): the largest below the
     * datagram that did not fit.
     */
    private static final int[] MTU_PLATEAUS = {32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68};
    /** The smallest path MTU we accept from an ICMP message (Linux's min_pmtu): lower would be a DoS lever. */
    public static final int MIN_PATH_MTU = 552;

    /**
     * ICMP "fragmentation needed" for one of our segments (RFC 1191 §4): lower the connection's MSS to fit
     * the next hop's MTU and send again what is unacknowledged, in the smaller segments. The quoted sequence
     * number must lie in SND.UNA..SND.MAX (RFC 5927 §4.1), so a blind attacker cannot shrink a connection's
     * segments; an MTU below {@link #MIN_PATH_MTU} is raised to it. Not congestion: cwnd stays.
     */
    public void onFragmentationNeeded(int remoteIp, int remotePort, int localPort, int seq, int nextHopMtu,
                                      int datagramLength) {
        TcpConnection c = connections.get(key(remoteIp, remotePort, localPort));
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
        mtu = Math.max(MIN_PATH_MTU, Math.min(mtu, ip.mtu()));
        int mss = mtu - Ipv4Packet.MIN_HEADER_LENGTH - TcpSegment.MIN_HEADER_LENGTH - (c.tsOk ? TS_OPTION_SPACE : 0);
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
            c.rtxDeadline = nowNs + c.rtoNs;
            schedule(c, c.rtxDeadline);
            markDirty(c);
        }
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
        timeWait.clear();
    }

    private void free(long m) {
        ip.free(m);
    }

    private void drop(long m, DropReason reason) {
        counters.drop(reason).incrementRelease();
        ip.free(m);
    }
}
