package io.fastpath.stack.tcp;

import io.fastpath.stack.counters.StackCounters;
import io.fastpath.stack.ip.IpOutput;
import io.fastpath.stack.wire.Ipv4Address;
import org.agrona.collections.Long2ObjectHashMap;

/**
 * The connection table: pooled connections looked up by the packed 4-tuple, their setup and release, and local
 * ports, with ephemeral ports chosen by RFC 6056 §3.3.4 (Algorithm 4, double-hash port selection). Poll thread.
 */
final class ConnectionTable {
    private final TcpLayer layer;
    private final TcpConfig config;
    private final IpOutput ip;
    private final StackCounters counters;
    private final IsnGenerator isn;
    private final TimeWaitTable timeWait;
    private Listeners listening;
    private ReceivePath rx;
    private TcpTimers timers;
    final TcpConnection[] pool;
    final int[] freeList;
    int freeCount;
    final Long2ObjectHashMap<TcpConnection> connections;
    /**
     * The connection {@link #find} found last, while it is in {@link #connections} (under its key, which does
     * not change while it is there): consecutive segments of one flow skip the hash lookup.
     */
    private TcpConnection lastFound;
    final int[] localPortUse = new int[65536];
    /** Ports this table took in the stack's {@link LocalPorts} for its own ephemeral choice, let go with the last use. */
    final boolean[] ephemeralHeld = new boolean[65536];
    // RFC 6056 §3.3.4 (Algorithm 4, double-hash port selection): F and G are keyed hashes of the destination.
    static final int PORT_TABLE_LENGTH = 1024;
    final short[] portTable = new short[PORT_TABLE_LENGTH];
    final IsnGenerator portKeyF = new IsnGenerator();
    final IsnGenerator portKeyG = new IsnGenerator();

    ConnectionTable(TcpLayer layer) {
        this.layer = layer;
        this.config = layer.config;
        this.ip = layer.ip;
        this.counters = layer.counters;
        this.isn = layer.isn;
        this.timeWait = layer.timeWait;
        this.pool = new TcpConnection[config.maxConnections()];
        this.freeList = new int[config.maxConnections()];
        for (int i = 0; i < pool.length; i++) {
            pool[i] = new TcpConnection(layer, i);
            freeList[freeCount++] = pool.length - 1 - i;
        }
        this.connections = new Long2ObjectHashMap<>(config.maxConnections() * 2, 0.6f);
        if (config.preallocate()) {
            for (TcpConnection c : pool) {
                makeBuffers(c);
            }
        }
        java.security.SecureRandom random = new java.security.SecureRandom();
        for (int i = 0; i < portTable.length; i++) {
            portTable[i] = (short) random.nextInt(); // RFC 6056 §3.3.4: table[i] = random() % 65536
        }
    }

    /** Resolves the other parts of the layer (its constructor calls this once all exist). */
    void link() {
        listening = layer.listening;
        rx = layer.rx;
        timers = layer.timers;
    }

    /** Internal state of every open connection, for diagnostics (allocates). */
    String describe() {
        StringBuilder sb = new StringBuilder("timers: count=" + timers.wheel.timerCount() + " tickTime="
            + timers.wheel.currentTickTime() + " now=" + layer.nowNs + "\n");
        for (TcpConnection c : pool) {
            if (c.state != TcpState.CLOSED) {
                sb.append(c.describe()).append('\n');
            }
        }
        int shown = 0;
        for (int i = 0, slot; (slot = timeWait.slotAt(i)) >= 0 && shown < 64; i++) {
            if (timeWait.isLive(slot)) {
                long k = timeWait.key(slot);
                sb.append("tcp ").append(Ipv4Address.format(ip.address())).append(':')
                    .append(k & 0xFFFF).append(" -> ").append(Ipv4Address.format((int) (k >>> 32)))
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
    int connectionCount() {
        return pool.length - freeCount + timeWait.size();
    }

    /** Pooled connection slots in use (TIME-WAIT records excluded). */
    int slotsInUse() {
        return pool.length - freeCount;
    }

    /**
     * An ephemeral port for a connection to {@code remoteIp:remotePort}, by RFC 6056 §3.3.4 (Algorithm 4,
     * double-hash port selection): the search starts at F(local, remote, secret) + table[G(...)], so a peer sees
     * no pattern across destinations and an off-path attacker cannot guess the port; table[G] advances so
     * successive connections to one destination do not reuse a port at once. A port is suitable if no
     * connection or listener holds it, its 4-tuple is not in TIME-WAIT and no provider holds it in the stack's
     * {@link LocalPorts}; the port found is taken there (for as long as a connection uses it, or until
     * {@link #releaseEphemeral}) so no provider picks it meanwhile. On one shard of several the port must also
     * give the flow to this shard ({@link io.fastpath.stack.shard.FlowOwner}): about 1 in N ports does, so the
     * search (bounded by the range, as before) looks at N candidates on average. Returns 0 when none is left.
     */
    int ephemeralPort(int remoteIp, int remotePort) {
        int range = TcpLayer.EPHEMERAL_LAST - TcpLayer.EPHEMERAL_FIRST + 1;
        long addresses = ((long) ip.address() << 32) | (remoteIp & 0xFFFF_FFFFL);
        int offset = (int) portKeyF.sipHash24(addresses, remotePort & 0xFFFF);
        int index = (int) portKeyG.sipHash24(addresses, remotePort & 0xFFFF) & (PORT_TABLE_LENGTH - 1);
        boolean sharded = layer.owner != io.fastpath.stack.shard.FlowOwner.SINGLE;
        int local = ip.address();
        for (int count = range; count > 0; count--) {
            int port = TcpLayer.EPHEMERAL_FIRST
                + Integer.remainderUnsigned(offset + (portTable[index] & 0xFFFF), range);
            portTable[index]++;
            if (localPortUse[port] == 0 && !listening.listeners.containsKey(port)
                && (!sharded || layer.owner.shardOf(local, port, remoteIp, remotePort) == layer.shard)
                && timeWait.find(TcpLayer.key(remoteIp, remotePort, port)) < 0 && layer.ports.tryTake(port)) {
                ephemeralHeld[port] = true;
                return port;
            }
        }
        return 0;
    }

    /** Lets go of a port {@link #ephemeralPort} took once no connection uses it (a connect that did not open). */
    void releaseEphemeral(int port) {
        if (localPortUse[port] == 0 && ephemeralHeld[port]) {
            ephemeralHeld[port] = false;
            layer.ports.free(port);
        }
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

    /** The connection other than {@code except} holding the most out-of-order segments, or null. */
    TcpConnection largestOutOfOrder(TcpConnection except) {
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

    TcpConnection allocateConnection() {
        if (freeCount == 0) {
            return null;
        }
        TcpConnection c = pool[freeList[--freeCount]];
        if (c.sendBuffer == null) {
            makeBuffers(c); // first use of this slot (TcpConfig#preallocate makes them all up front instead)
        }
        return c;
    }

    /**
     * A slot's buffers, kept for every later connection in it: the send ring (off-heap, the send buffer size
     * rounded up to a power of two, at least 4 KiB), the receive queue's arrays (20 bytes per in-order entry,
     * at least 64 entries, plus 24 bytes per out-of-order segment) and the scoreboard (17 bytes per record,
     * at least 64). docs/operations.md, "Many connections", has what that comes to.
     */
    private void makeBuffers(TcpConnection c) {
        c.sendBuffer = new SendBuffer(Integer.highestOneBit(Math.max(config.sendBufferBytes(), 4096) * 2 - 1));
        c.receiveQueue = new ReceiveQueue(Math.max(64, config.receiveBufferBytes() / 512),
            config.outOfOrderSegments());
        c.recovery = new Recovery(c.sendBuffer.capacity(), counters);
    }

    /** Slots whose buffers exist (all of them with {@link TcpConfig#preallocate}; else the high-water mark). */
    int slotsWithBuffers() {
        int n = 0;
        for (TcpConnection c : pool) {
            n += c.sendBuffer != null ? 1 : 0;
        }
        return n;
    }

    void open(TcpConnection c, int remoteIp, int remotePort, int localPort) {
        if (lastFound == c) {
            lastFound = null; // its key changes below
        }
        c.localIp = ip.address();
        c.localPort = localPort;
        c.remoteIp = remoteIp;
        c.remotePort = remotePort;
        c.key = TcpLayer.key(remoteIp, remotePort, localPort);
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
        c.deadlines.clear(Deadlines.RETRANSMIT);
        c.deadlines.clear(Deadlines.TAIL_LOSS_PROBE);
        c.finLost = false;
        c.dsackPending = false;
        c.deadlines.clear(Deadlines.DELAYED_ACK);
        c.deadlines.clear(Deadlines.TIME_WAIT);
        c.cwnd = 0;
        c.earlyData = false;
        c.synAckSent = false;
        c.synUnsent = false;
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
        c.earlyAckCycle = 0;
        c.ackNow = false;
        c.finQueued = false;
        c.finSent = false;
        c.peerFinPending = false;
        c.peerClosedUndelivered = false;
        c.urgentToSend = false;
        c.urgentToReceive = false;
        c.keepAlive = false;
        c.deadlines.clear(Deadlines.KEEPALIVE);
        c.fastOpen = false;
        c.synData = 0;
        c.sendCookie = false;
        c.fastOpenListener = null;
        c.connectPending = false;
        c.nodelay = false;
        c.deliverPending = false;
        c.rcvAdvertisedEdge = 0;
        c.mss = 536;
        c.receiveQueue.clear(rx.releaser);
        connections.put(c.key, c);
        localPortUse[localPort]++;
        counters.tcpConnections.setRelease(connectionCount());
    }

    /** The connection for a 4-tuple key ({@link TcpLayer#key}), or null. */
    TcpConnection find(long key) {
        TcpConnection c = lastFound;
        if (c != null && c.key == key) {
            return c;
        }
        c = connections.get(key);
        if (c != null) {
            lastFound = c;
        }
        return c;
    }

    /** Our timestamp clock's offset for a 4-tuple: fixed per 4-tuple, so a SYN cookie's TSval can be checked. */
    int tsOffset(int remoteIp, int remotePort, int localPort) {
        return isn.isn(remoteIp, remotePort, ip.address(), localPort, 0) >>> 1;
    }

    /** Ends a connection, telling its owner why (once), and returns it to the pool. */
    void closeConnection(TcpConnection c, int status) {
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

    void releaseConnection(TcpConnection c) {
        if (c.state == TcpState.CLOSED && !connections.containsKey(c.key)) {
            return;
        }
        if (c.listener != null) {
            Listeners.leaveListener(c);
        }
        if (c.fastOpenListener != null) {
            // Closed before the handshake completed: the place stays taken for a while (Listener.fastOpenHeldUntil).
            c.fastOpenListener.fastOpenPending--;
            c.fastOpenListener.holdFastOpenPlace(layer.nowNs + Listeners.FAST_OPEN_CLOSED_HOLD_NS);
            c.fastOpenListener = null;
        }
        c.state = TcpState.CLOSED;
        connections.remove(c.key);
        if (lastFound == c) {
            lastFound = null;
        }
        localPortUse[c.localPort]--;
        releaseEphemeral(c.localPort);
        if (c.timerId != -1) {
            timers.wheel.cancelTimer(c.timerId);
            timers.timerOwners.remove(c.timerId);
            c.timerId = -1;
        }
        c.receiveQueue.clear(rx.releaser);
        c.deadlines.clear(Deadlines.RETRANSMIT);
        c.deadlines.clear(Deadlines.TAIL_LOSS_PROBE);
        c.deadlines.clear(Deadlines.DELAYED_ACK);
        c.deadlines.clear(Deadlines.TIME_WAIT);
        c.closedHandle = c.handle();
        c.generation++;
        c.handover = null;
        c.heldBytes = 0;
        c.heldMbufs = 0; // still charged to the stack until the application returns them
        freeList[freeCount++] = c.index;
        counters.tcpConnections.setRelease(connectionCount());
    }

    /** Frees everything (stack shutdown). Handlers are not called. */
    void close() {
        for (TcpConnection c : pool) {
            if (c.state != TcpState.CLOSED) {
                c.handler = null;
                releaseConnection(c);
            }
        }
        timeWait.clear();
    }
}
