package io.fastpath.stack.tcp;

import io.fastpath.stack.NtStatus;
import io.fastpath.stack.counters.Budget;
import io.fastpath.stack.counters.DropReason;
import io.fastpath.stack.counters.StackCounters;
import io.fastpath.stack.ip.IpOutput;
import io.fastpath.stack.shard.FlowOwner;
import io.fastpath.stack.wire.TcpOptions;
import io.fastpath.stack.wire.TcpSegment;
import org.agrona.DeadlineTimerWheel;
import org.agrona.DirectBuffer;

/**
 * TCP (RFC 9293) for one stack: the facade over its parts, one concern each (docs/tcp.md, "Code layout"):
 * {@link TcpInput} (segment arrival, RFC 9293 §3.10.7 order), {@link Listeners} (LISTEN, SYN cookies,
 * conditional accept), {@link TimeWaitInput}, {@link AckProcessing} (ACKs, RTT, tail loss probe, path MTU) with
 * {@link Recovery}, {@link ReceivePath} (text, FIN, delivery, receive window and memory), {@link TcpOutput} with
 * {@link TcpHeaderRepr}, {@link TcpTimers} with {@link Deadlines}, {@link ConnectionTable} (connections and ports),
 * {@link FastOpen} and {@link ActiveOpen} (connect). Here: the calls the stack, {@link TcpService} and tests make
 * (connect, listen, send, release, poll, flush, input, ...), the duty cycle's dirty list, and what the parts share.
 *
 * <p>Read first: RFC 9293 §3.10 (event processing, which {@link TcpInput} follows: LISTEN, SYN-SENT, then the
 * other states in the "first check sequence number ... eighth check FIN" order), RFC 7323 (window scale,
 * timestamps, PAWS), RFC 2018 and RFC 6675 (SACK and SACK-based recovery), RFC 6298 (RTO), RFC 5681 and
 * RFC 6582 (congestion control, NewReno), RFC 5961 (blind-attack protections), RFC 6528 (ISN).
 *
 * <p>Thread: the poll thread. Time is a parameter ({@code nowNs}); nothing here reads a clock. Nothing is
 * allocated per segment or per timer: connections are pooled, timers sit on one {@link DeadlineTimerWheel}
 * (one timer per connection, at its earliest deadline), lookups go through primitive maps keyed by the
 * packed 4-tuple.
 *
 * <p>Buffers: TCP sees packet memory only through {@link IpOutput} (opaque handles; no DPDK here). A received
 * segment's buffer is kept (zero copy) while its data waits in the {@link ReceiveQueue}, and freed when the
 * application has consumed it; sent data is copied once from the {@link SendBuffer} into each segment built,
 * after room the IP layer reserved for its headers.
 */
public final class TcpLayer {
    public static final int EPHEMERAL_FIRST = 49152;
    public static final int EPHEMERAL_LAST = 65535;
    /**
     * How long a conditionally accepted SYN waits for the application's decision before it is dropped, at
     * most: as long as our own SYN retries would last (initial RTO x (2^(retries+1) - 1)), capped here.
     */
    public static final long CONDITIONAL_ACCEPT_LIMIT_NS = 10_000_000_000L;
    static final int TS_OPTION_SPACE = 12;
    /** Bytes charged per held mbuf when the stack does not say: a 2 KiB data room, headroom and the mbuf header. */
    static final int DEFAULT_TRUESIZE = 2048 + 128 + 128;
    /** The smallest segment we send, whatever MSS the peer announces (Linux's TCP_MIN_SND_MSS). */
    static final int MIN_SEND_MSS = 48;
    /** RFC 5961 §7: challenge ACKs a second over the whole stack, on average (Linux's tcp_challenge_ack_limit). */
    static final int CHALLENGE_ACKS_PER_SECOND = 1000;
    /** At most one ACK for unacceptable data-less segments (and challenge ACK) per connection this often. */
    static final long OUT_OF_WINDOW_ACK_INTERVAL_NS = 500_000_000L;

    final TcpConfig config;
    final IpOutput ip;
    final StackCounters counters;
    final IsnGenerator isn;
    // Compact TIME-WAIT records; stateless segments (SYN cookies, TIME-WAIT ACKs) are built on a scratch TCB.
    final TimeWaitTable timeWait;
    final TcpConnection scratch;
    /** The segment being processed and its options (input is one segment at a time). */
    final TcpSegment seg = new TcpSegment();
    final TcpOptions options = new TcpOptions();
    /** Connections with output (or delivery) due this duty cycle. */
    final TcpConnection[] dirty;
    int dirtyCount;
    /** Connections whose output the port held back: they go again next duty cycle. */
    final TcpConnection[] txBlocked;
    int txBlockedCount;
    /** Diagnostic stage timestamps (only with {@code -Dfastpath.budget=true}; set by the stack). */
    Budget budget;
    /** The duty cycle's time, set by every entry point (input, poll, flush, a timer firing). */
    long nowNs;
    /**
     * The duty cycle's number, counted up as {@link #flush} ends each cycle (never 0). What must tell one cycle
     * from the next uses this, not {@link #nowNs}: a clock may stand still across cycles (a coarse clock, a
     * stepped test clock).
     */
    long cycle = 1;

    // The parts, by concern (see docs/tcp.md "Code layout").
    final ConnectionTable table;
    /** Local ports held outside connections, shared with the providers and the other shards (any thread). */
    final LocalPorts ports;
    /** Which shard owns a flow, and this layer's shard: connections opened here get a port this shard owns. */
    final FlowOwner owner;
    final int shard;
    final Listeners listening;
    final TcpInput in;
    final TimeWaitInput timeWaitIn;
    final AckProcessing acks;
    final ReceivePath rx;
    final TcpOutput tx;
    final TcpTimers timers;
    final FastOpen tfo;
    final ActiveOpen active;

    public TcpLayer(TcpConfig config, IpOutput ip, long startNs) {
        this(config, ip, new IsnGenerator(), startNs);
    }

    public TcpLayer(TcpConfig config, IpOutput ip, IsnGenerator isn, long startNs) {
        this(config, ip, isn, startNs, new LocalPorts(), FlowOwner.SINGLE, 0);
    }

    /**
     * One shard of a stack with several queues: {@code ports} is the table every shard shares (one port space),
     * {@code owner} says which shard owns a flow; an ephemeral port chosen here is one whose flow {@code owner}
     * gives to {@code shard}, so the peer's segments come back (or are forwarded) to this layer.
     */
    public TcpLayer(TcpConfig config, IpOutput ip, IsnGenerator isn, long startNs, LocalPorts ports, FlowOwner owner,
                    int shard) {
        this(config, ip, isn, startNs, ports, owner, shard, new FastOpenKeys());
    }

    /**
     * As above, with the Fast Open keys the host's shards share ({@code ShardGroup.fastOpenKeys()}): a cookie this
     * layer issues is valid on whichever shard owns the client's next flow.
     */
    public TcpLayer(TcpConfig config, IpOutput ip, IsnGenerator isn, long startNs, LocalPorts ports, FlowOwner owner,
                    int shard, FastOpenKeys fastOpenKeys) {
        this.ports = ports;
        this.owner = owner;
        this.shard = shard;
        this.config = config;
        this.ip = ip;
        this.counters = ip.counters();
        this.isn = isn;
        this.nowNs = startNs;
        this.dirty = new TcpConnection[config.maxConnections()];
        this.txBlocked = new TcpConnection[config.maxConnections()];
        this.timeWait = new TimeWaitTable(config.timeWaitCapacity());
        this.scratch = new TcpConnection(this, -1);
        this.scratch.receiveQueue = new ReceiveQueue(64, 1);
        this.table = new ConnectionTable(this);
        this.listening = new Listeners(this);
        this.in = new TcpInput(this);
        this.timeWaitIn = new TimeWaitInput(this);
        this.acks = new AckProcessing(this);
        this.rx = new ReceivePath(this);
        this.tx = new TcpOutput(this);
        this.timers = new TcpTimers(this, startNs);
        this.tfo = new FastOpen(this, fastOpenKeys);
        this.active = new ActiveOpen(this);
        table.link();
        listening.link();
        in.link();
        timeWaitIn.link();
        acks.link();
        rx.link();
        tx.link();
        timers.link();
        active.link();
    }

    /** Where the stage timestamps go when {@link Budget#ENABLED} (the stack calls this once). */
    public void budget(Budget budget) {
        this.budget = budget;
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
        rx.memTruesize = Math.max(256, truesize);
        rx.memDataRoom = Math.max(64, dataRoom);
        rx.memLimit = Math.max(16, limitMbufs);
        counters.tcpMemoryLimitMbufs.setRelease(rx.memLimit);
    }

    /** Mbufs TCP holds now over all connections (receive queues, out-of-order stores, lent to applications). */
    public int memoryHeldMbufs() {
        return rx.memHeld;
    }

    /** Whether at least three quarters of the budget is held, as last published (any thread). */
    public boolean memoryPressure() {
        long limit = counters.tcpMemoryLimitMbufs.get();
        return limit > 0 && counters.tcpMemoryHeldMbufs.get() * 4 >= limit * 3;
    }

    /** The global limit in mbufs. */
    public int memoryLimitMbufs() {
        return rx.memLimit;
    }

    /**
     * The stack's local port table, shared by every provider on this stack and by this layer's ephemeral port
     * selection. Thread-safe: any thread may call it.
     */
    public LocalPorts ports() {
        return ports;
    }

    public TcpConfig config() {
        return config;
    }

    /** Internal state of every open connection, for diagnostics (allocates). */
    public String describe() {
        return table.describe();
    }

    /** Connections in any state but CLOSED: pooled ones and compact TIME-WAIT records. */
    public int connectionCount() {
        return table.connectionCount();
    }

    /** Pooled connection slots in use (TIME-WAIT records excluded). */
    public int slotsInUse() {
        return table.slotsInUse();
    }

    /** Pooled connections in {@code state} ({@link TcpState}); counts the whole table (diagnostics and tests). */
    public int countInState(int state) {
        int n = 0;
        for (TcpConnection c : table.pool) {
            n += c.state == state ? 1 : 0;
        }
        return n;
    }

    /** Timers armed on the wheel: one at most per connection, none for a connection with nothing due. */
    public long timersArmed() {
        return timers.wheel.timerCount();
    }

    /** Table slots whose buffers have been made (all with {@link TcpConfig#preallocate}, else the high-water mark). */
    public int slotsWithBuffers() {
        return table.slotsWithBuffers();
    }

    /** Connections in TIME-WAIT held as compact records. */
    public int timeWaitCount() {
        return timeWait.size();
    }

    /** Bytes the TIME-WAIT table holds (preallocated for its capacity). */
    public long timeWaitFootprintBytes() {
        return timeWait.footprintBytes();
    }

    /**
     * Whether a connection or a TIME-WAIT record holds the 4-tuple from {@code localPort} to {@code remoteIp:
     * remotePort} (poll thread): a connect from that port would be refused (STATUS_ADDRESS_ALREADY_EXISTS). For
     * callers that choose the local port themselves.
     */
    public boolean fourTupleBusy(int remoteIp, int remotePort, int localPort) {
        long k = key(remoteIp, remotePort, localPort);
        return table.connections.containsKey(k) || timeWait.find(k) >= 0;
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
        return listening.listen(localIp, port, handler);
    }

    /** As {@link #listen(int, int, TcpListenHandler)}, with options ({@link TcpSocketOptions}) for its connections. */
    public int listen(int localIp, int port, TcpListenHandler handler, long socketOptions) {
        return listening.listen(localIp, port, handler, socketOptions);
    }

    /** Stops listening; connections already accepted go on. */
    public int stopListening(int port) {
        return listening.stopListening(port);
    }

    /**
     * Opens a connection. Returns STATUS_PENDING and later calls {@code handler.onConnectComplete} exactly
     * once; or fails at once (no callback) with STATUS_INVALID_ADDRESS (local address not ours),
     * STATUS_NETWORK_UNREACHABLE (no route), STATUS_SHARING_VIOLATION (local port in use),
     * STATUS_ADDRESS_ALREADY_EXISTS (that 4-tuple exists), STATUS_TOO_MANY_ADDRESSES (no ephemeral port
     * left), STATUS_INSUFFICIENT_RESOURCES (connection table full). On one shard of several, a connection from
     * a given local port must be opened on the shard that owns its flow ({@link FlowOwner}); another shard
     * refuses it with STATUS_INVALID_ADDRESS (the peer's answers would go to the owner, which does not know it).
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
        return active.connect(localIp, localPort, remoteIp, remotePort, handler, data, offset, length, fastOpen,
            socketOptions);
    }

    /**
     * Applies socket options to a connection: the receive buffer (never below what is queued) and the
     * maximum retransmission time at any time; timestamps only before the SYN ({@code beforeSyn}).
     */
    void applyOptions(TcpConnection c, long options, boolean beforeSyn) {
        c.receiveLimit = TcpSocketOptions.receiveBuffer(options, config.receiveBufferBytes());
        c.maxRetransmitNs = TcpSocketOptions.maxRetransmitNs(options);
        if (beforeSyn) {
            c.timestampsWanted = TcpSocketOptions.timestamps(options, config.timestamps());
        }
    }

    /**
     * Conditional accept: answers a held SYN ({@link TcpListenHandler#onConnectRequest}) with a SYN-ACK; the
     * handshake completes as usual and the listener's {@code onAccept} follows. False if the connection is not
     * a held request (any more).
     */
    public boolean acceptRequest(TcpConnection c) {
        return listening.acceptRequest(c);
    }

    /**
     * Conditional accept: refuses a held SYN with a RST (the peer's connect fails: connection refused). No
     * onClosed follows. False if the connection is not a held request (any more).
     */
    public boolean rejectRequest(TcpConnection c) {
        return listening.rejectRequest(c);
    }

    /** SO_RCVBUF and TCP_MAXRT on an open connection ({@link TcpSocketOptions}; timestamps are ignored). */
    public void setOptions(TcpConnection c, long socketOptions) {
        applyOptions(c, socketOptions, false);
        rx.announceWindowIfOpened(c);
    }

    int send(TcpConnection c, DirectBuffer source, int offset, int length) {
        if (Budget.ENABLED && budget != null) {
            budget.mark(Budget.SEND);
        }
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
            case TcpState.SYN_SENT -> table.closeConnection(c, NtStatus.STATUS_CONNECTION_ABORTED);
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
        if (c.state == TcpState.SYN_RECEIVED) {
            // The peer may still be in SYN-SENT (our SYN-ACK lost, or not sent yet: a Fast Open SYN aborted in
            // onAccept), where only a RST with an acceptable ACK counts (RFC 9293 §3.10.7.3): ACK its SYN (and data).
            tx.sendReset(c.localIp, c.localPort, c.remoteIp, c.remotePort, c.sndNxt, c.rcvNxt, true);
        } else if (c.state != TcpState.SYN_SENT && c.state != TcpState.TIME_WAIT && c.state != TcpState.LISTEN) {
            tx.sendReset(c.localIp, c.localPort, c.remoteIp, c.remotePort, c.sndNxt, 0, false);
        }
        table.closeConnection(c, NtStatus.STATUS_CONNECTION_ABORTED);
    }

    /**
     * The application returns an mbuf it took through a handover; frees it and reopens the window. A stale
     * handle (the connection is gone or reused) just frees the mbuf.
     */
    void release(long handle, long mbuf, int length) {
        TcpConnection c = table.connection(handle);
        rx.memHeld--;
        if (c != null) {
            c.heldBytes = Math.max(0, c.heldBytes - length);
            c.heldMbufs = Math.max(0, c.heldMbufs - 1);
            if (!c.receiveQueue.isEmpty() || c.peerClosedUndelivered) {
                // Data (or the peer's FIN) waits behind what was held: the output pass hands it over. With
                // nothing waiting there is nothing to deliver, and an output pass for nothing costs a direct
                // request's output between duty cycles (a clock read and a pass over the connection) per release.
                c.deliverPending = true;
                markDirty(c);
            }
            if (TcpState.receivesData(c.state)) {
                rx.announceWindowIfOpened(c);
            }
        }
        ip.free(mbuf);
    }

    /** The connection a handle names, or null when it is gone or was reused. */
    TcpConnection connection(long handle) {
        return table.connection(handle);
    }

    /**
     * Bytes in the send buffer of the connection {@code handle} names: queued or sent, not yet acknowledged; -1
     * when it is gone. Poll thread (an application whose thread is the poll thread, as the Netty transport's
     * event loop, reads its send backlog here).
     */
    public int sendQueued(long handle) {
        TcpConnection c = table.connection(handle);
        return c == null ? -1 : c.sendQueued();
    }

    /** The connection in slot {@code index} if open, else null (tests and diagnostics). */
    TcpConnection connectionAt(int index) {
        return table.connectionAt(index);
    }

    /** The connection the last successful {@link #connect} created (poll thread, right after the call). */
    TcpConnection lastConnection() {
        return active.lastConnection;
    }

    void countLostEvent() {
        counters.drop(DropReason.TCP_EVENT_LOST).incrementRelease();
    }

    void keepAlive(TcpConnection c, boolean enable, long idleNs, long intervalNs, int count) {
        timers.keepAlive(c, enable, idleNs, intervalNs, count);
    }

    void resumeReceive(TcpConnection c) {
        c.deliverPending = true;
        markDirty(c);
    }

    void markDirty(TcpConnection c) {
        if (!c.dirty) {
            c.dirty = true;
            dirty[dirtyCount++] = c;
        }
    }

    // ======================================================================================= duty cycle

    /** Runs due timers. Returns the work done. */
    public int poll(long now) {
        return timers.poll(now);
    }

    /** Sends what the duty cycle queued (data, ACKs, window updates). Call last in the duty cycle. */
    public int flush(long now) {
        nowNs = now;
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
        work += output();
        cycle++;
        if (rx.memHeld != rx.memHeldPublished) {
            rx.memHeldPublished = rx.memHeld;
            counters.tcpMemoryHeldMbufs.setRelease(rx.memHeld);
        }
        return work;
    }

    /** Whether connections wait for output (a direct request between duty cycles marked them). */
    public boolean outputDue() {
        return dirtyCount > 0;
    }

    /**
     * Output between duty cycles ({@code TcpService}'s direct requests, docs/architecture.md "Direct requests"):
     * what {@link #flush} does for the connections marked since the last cycle, at {@code now} (not before the
     * last cycle's clock), without ending a cycle (no retry of tx-blocked connections, no cycle count: delayed-ACK
     * state is per duty cycle).
     */
    public int outputBetweenCycles(long now) {
        if (now - nowNs > 0) {
            nowNs = now;
        }
        return output();
    }

    private int output() {
        int work = 0;
        for (int i = 0; i < dirtyCount; i++) {
            TcpConnection c = dirty[i];
            c.dirty = false;
            if (c.state == TcpState.CLOSED) {
                continue;
            }
            if (c.deliverPending) {
                c.deliverPending = false;
                rx.deliver(c);
            }
            if (c.state != TcpState.CLOSED) {
                tx.output(c);
                work++;
                if (c.state == TcpState.TIME_WAIT) {
                    timeWaitIn.compactTimeWait(c);
                }
            }
        }
        dirtyCount = 0;
        return work;
    }

    // ============================================================================================ input

    /**
     * A TCP segment for our address, parsed out of its IPv4 datagram by the layer below: {@code segmentLength}
     * bytes at {@code segmentAddress} inside buffer {@code m}, from {@code src} to {@code dst}; {@code verified}
     * when the port has checked the TCP checksum already. Consumes the buffer (keeps it for its data, or frees it).
     */
    public void input(long m, long segmentAddress, int segmentLength, int src, int dst, boolean verified, long now) {
        in.input(m, segmentAddress, segmentLength, src, dst, verified, now);
    }

    /**
     * Replaces the Fast Open secret key, for every shard sharing it (any thread); cookies made with the previous
     * key stay valid until the next rotation (RFC 7413 §4.1.2: "rotate the secret key periodically").
     */
    public void rotateFastOpenKey() {
        tfo.rotateFastOpenKey();
    }

    /** The Fast Open keys this layer issues and checks cookies with (shared by a host's shards). */
    public FastOpenKeys fastOpenKeys() {
        return tfo.keys;
    }

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
        acks.onFragmentationNeeded(remoteIp, remotePort, localPort, seq, nextHopMtu, datagramLength);
    }

    /** ARP gave no answer for a frame of this connection (from the IP layer's parked queue). */
    public void onUnreachable(int remoteIp, int remotePort, int localPort, int status) {
        if (status != NtStatus.STATUS_HOST_UNREACHABLE) {
            return; // a frame that could not wait for ARP is a lost segment: the timers resend it
        }
        TcpConnection c = table.connections.get(key(remoteIp, remotePort, localPort));
        if (c != null && (c.state == TcpState.SYN_SENT || c.state == TcpState.SYN_RECEIVED)) {
            table.closeConnection(c, status);
        }
    }

    /** Frees everything (stack shutdown). Handlers are not called. */
    public void close() {
        table.close();
    }

    void free(long m) {
        ip.free(m);
    }

    void drop(long m, DropReason reason) {
        counters.drop(reason).incrementRelease();
        ip.free(m);
    }
}
