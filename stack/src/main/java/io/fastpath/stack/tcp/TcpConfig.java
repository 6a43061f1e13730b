package io.fastpath.stack.tcp;

import java.util.concurrent.TimeUnit;

/**
 * TCP tunables. Defaults follow Linux where the RFCs leave room (200 ms minimum RTO, 40 ms delayed ACK,
 * initial window of 10 segments per RFC 6928), and the RFCs elsewhere (1 s initial RTO, RFC 6298 §2.1). Congestion control: CUBIC, as in Linux.
 */
public record TcpConfig(
    int maxConnections,
    int sendBufferBytes,
    int receiveBufferBytes,
    long minRtoNs,
    long initialRtoNs,
    long maxRtoNs,
    int synRetries,
    int dataRetries,
    long timeWaitNs,
    long delayedAckNs,
    int initialWindowSegments,
    boolean timestamps,
    boolean sack,
    boolean windowScaling,
    int listenBacklog,
    int outOfOrderSegments,
    CongestionControl congestionControl,
    boolean fastOpen,
    int fastOpenMaxPending,
    SynCookieMode synCookies,
    int synAckRetries,
    int timeWaitCapacity,
    boolean preallocate) {

    /**
     * When a listener answers a SYN with a SYN cookie (RFC 4987 §3.6, {@link SynCookie}) instead of a half-open
     * connection: never, when its half-open queue ({@code listenBacklog}) or the connection table is full (the
     * default, as Linux's tcp_syncookies=1), or always (tcp_syncookies=2).
     */
    public enum SynCookieMode { OFF, WHEN_FULL, ALWAYS }

    /** Refuses values that would fail later, on the poll thread, in front of a peer's segment. */
    public TcpConfig {
        if (maxConnections < 1 || sendBufferBytes < 1 || receiveBufferBytes < 1 || listenBacklog < 1
            || outOfOrderSegments < 1 || initialWindowSegments < 1 || synRetries < 0 || dataRetries < 0
            || synAckRetries < 0 || timeWaitCapacity < 0 || fastOpenMaxPending < 0) {
            throw new IllegalArgumentException("TCP limits must be positive (counts) or >= 0 (retries, capacities)");
        }
        if (minRtoNs <= 0 || initialRtoNs <= 0 || maxRtoNs < minRtoNs || timeWaitNs < 0 || delayedAckNs < 0) {
            throw new IllegalArgumentException("TCP timers must be positive, with min RTO <= max RTO");
        }
        if (congestionControl == null || synCookies == null) {
            throw new IllegalArgumentException("congestion control and SYN cookie mode must be given");
        }
    }

    /** Default number of compact TIME-WAIT records ({@link TimeWaitTable}), about 61 bytes each. */
    public static final int DEFAULT_TIME_WAIT_CAPACITY = 100_000;

    public static TcpConfig defaults() {
        return new TcpConfig(1024, 256 * 1024, 256 * 1024, TimeUnit.MILLISECONDS.toNanos(200),
            TimeUnit.SECONDS.toNanos(1), TimeUnit.SECONDS.toNanos(60), 6, 15, TimeUnit.SECONDS.toNanos(60),
            TimeUnit.MILLISECONDS.toNanos(40), 10, true, true, true, 128, 256, Cubic.INSTANCE, true, 64,
            SynCookieMode.WHEN_FULL, 5, DEFAULT_TIME_WAIT_CAPACITY, false);
    }

    public TcpConfig withTimeWait(long ns) {
        return new TcpConfig(maxConnections, sendBufferBytes, receiveBufferBytes, minRtoNs, initialRtoNs, maxRtoNs,
            synRetries, dataRetries, ns, delayedAckNs, initialWindowSegments, timestamps, sack, windowScaling,
            listenBacklog, outOfOrderSegments, congestionControl, fastOpen, fastOpenMaxPending,
            synCookies, synAckRetries, timeWaitCapacity, preallocate);
    }

    public TcpConfig withSynRetries(int retries, long initialRto) {
        return new TcpConfig(maxConnections, sendBufferBytes, receiveBufferBytes, minRtoNs, initialRto, maxRtoNs,
            retries, dataRetries, timeWaitNs, delayedAckNs, initialWindowSegments, timestamps, sack, windowScaling,
            listenBacklog, outOfOrderSegments, congestionControl, fastOpen, fastOpenMaxPending,
            synCookies, synAckRetries, timeWaitCapacity, preallocate);
    }

    public TcpConfig withBuffers(int send, int receive) {
        return new TcpConfig(maxConnections, send, receive, minRtoNs, initialRtoNs, maxRtoNs, synRetries,
            dataRetries, timeWaitNs, delayedAckNs, initialWindowSegments, timestamps, sack, windowScaling,
            listenBacklog, outOfOrderSegments, congestionControl, fastOpen, fastOpenMaxPending,
            synCookies, synAckRetries, timeWaitCapacity, preallocate);
    }

    public TcpConfig withMaxConnections(int max) {
        return new TcpConfig(max, sendBufferBytes, receiveBufferBytes, minRtoNs, initialRtoNs, maxRtoNs, synRetries,
            dataRetries, timeWaitNs, delayedAckNs, initialWindowSegments, timestamps, sack, windowScaling,
            listenBacklog, outOfOrderSegments, congestionControl, fastOpen, fastOpenMaxPending,
            synCookies, synAckRetries, timeWaitCapacity, preallocate);
    }

    /** Congestion control for new connections ({@link NewReno#INSTANCE}, {@link Cubic#INSTANCE}). */
    public TcpConfig withCongestionControl(CongestionControl cc) {
        return new TcpConfig(maxConnections, sendBufferBytes, receiveBufferBytes, minRtoNs, initialRtoNs, maxRtoNs,
            synRetries, dataRetries, timeWaitNs, delayedAckNs, initialWindowSegments, timestamps, sack,
            windowScaling, listenBacklog, outOfOrderSegments, cc, fastOpen, fastOpenMaxPending, synCookies,
            synAckRetries, timeWaitCapacity, preallocate);
    }

    /**
     * TCP Fast Open (RFC 7413): as a server, hand out cookies and accept data in SYNs with a valid one (at
     * most {@code maxPending} such connections still in SYN-RECEIVED); as a client, use the connect calls that
     * carry data.
     */
    public TcpConfig withFastOpen(boolean on, int maxPending) {
        return new TcpConfig(maxConnections, sendBufferBytes, receiveBufferBytes, minRtoNs, initialRtoNs, maxRtoNs,
            synRetries, dataRetries, timeWaitNs, delayedAckNs, initialWindowSegments, timestamps, sack,
            windowScaling, listenBacklog, outOfOrderSegments, congestionControl, on, maxPending, synCookies,
            synAckRetries, timeWaitCapacity, preallocate);
    }

    public TcpConfig withOptions(boolean ts, boolean sackOn, boolean ws) {
        return new TcpConfig(maxConnections, sendBufferBytes, receiveBufferBytes, minRtoNs, initialRtoNs, maxRtoNs,
            synRetries, dataRetries, timeWaitNs, delayedAckNs, initialWindowSegments, ts, sackOn, ws,
            listenBacklog, outOfOrderSegments, congestionControl, fastOpen, fastOpenMaxPending,
            synCookies, synAckRetries, timeWaitCapacity, preallocate);
    }

    /**
     * SYN flood defence: the cookie mode, the half-open queue per listener (SYN-RECEIVED connections; with
     * cookies off, a SYN that finds it full replaces the oldest entry), and SYN-ACK retransmissions for a
     * half-open connection (Linux's tcp_synack_retries, 5: about 63 s with a 1 s initial RTO).
     */
    public TcpConfig withSynFloodDefence(SynCookieMode mode, int backlog, int synAckRetransmissions) {
        return new TcpConfig(maxConnections, sendBufferBytes, receiveBufferBytes, minRtoNs, initialRtoNs, maxRtoNs,
            synRetries, dataRetries, timeWaitNs, delayedAckNs, initialWindowSegments, timestamps, sack,
            windowScaling, backlog, outOfOrderSegments, congestionControl, fastOpen, fastOpenMaxPending, mode,
            synAckRetransmissions, timeWaitCapacity, preallocate);
    }

    public TcpConfig withSynCookies(SynCookieMode mode) {
        return withSynFloodDefence(mode, listenBacklog, synAckRetries);
    }

    /**
     * Compact TIME-WAIT records held at most ({@link TimeWaitTable}); when full, the oldest is dropped (and
     * counted). 0 keeps TIME-WAIT connections in their pooled slots, as before.
     */
    public TcpConfig withTimeWaitCapacity(int records) {
        return new TcpConfig(maxConnections, sendBufferBytes, receiveBufferBytes, minRtoNs, initialRtoNs, maxRtoNs,
            synRetries, dataRetries, timeWaitNs, delayedAckNs, initialWindowSegments, timestamps, sack,
            windowScaling, listenBacklog, outOfOrderSegments, congestionControl, fastOpen, fastOpenMaxPending,
            synCookies, synAckRetries, records, preallocate);
    }

    /** The largest retransmission timeout and how many retransmissions of data end a connection. */
    public TcpConfig withRetransmission(long maxRto, int dataRetransmissions) {
        return new TcpConfig(maxConnections, sendBufferBytes, receiveBufferBytes, minRtoNs, initialRtoNs, maxRto,
            synRetries, dataRetransmissions, timeWaitNs, delayedAckNs, initialWindowSegments, timestamps, sack,
            windowScaling, listenBacklog, outOfOrderSegments, congestionControl, fastOpen, fastOpenMaxPending,
            synCookies, synAckRetries, timeWaitCapacity, preallocate);
    }

    /**
     * The listener's half-open queue (SYN-RECEIVED connections, Linux's tcp_max_syn_backlog); beyond it SYN cookies
     * answer ({@link SynCookieMode#WHEN_FULL}). A client opening thousands of connections a second needs it larger
     * than the default 128, or most of its handshakes complete through cookies (without window scaling, SACK or
     * timestamps when those are off).
     */
    public TcpConfig withListenBacklog(int backlog) {
        return withSynFloodDefence(synCookies, backlog, synAckRetries);
    }

    /**
     * Out-of-order segments each connection may hold (its receive queue's second array, 24 bytes of heap a
     * segment, allocated with the slot): 256 by default; a table of 100,000 mostly idle connections does with
     * a few.
     */
    public TcpConfig withOutOfOrderSegments(int segments) {
        return new TcpConfig(maxConnections, sendBufferBytes, receiveBufferBytes, minRtoNs, initialRtoNs, maxRtoNs,
            synRetries, dataRetries, timeWaitNs, delayedAckNs, initialWindowSegments, timestamps, sack,
            windowScaling, listenBacklog, segments, congestionControl, fastOpen, fastOpenMaxPending,
            synCookies, synAckRetries, timeWaitCapacity, preallocate);
    }

    /**
     * Whether every slot of the connection table gets its buffers (send ring, receive queue, scoreboard) when the
     * layer is made: then accepting or opening a connection allocates nothing, and the memory for
     * {@code maxConnections} is taken at start-up. Off (the default): a slot's buffers are made the first time
     * the slot is used and kept for its reuse, so memory grows to the high-water mark of concurrent connections
     * and no further; the first use of each slot allocates on the connection-setup path.
     */
    public TcpConfig withPreallocation(boolean on) {
        return new TcpConfig(maxConnections, sendBufferBytes, receiveBufferBytes, minRtoNs, initialRtoNs, maxRtoNs,
            synRetries, dataRetries, timeWaitNs, delayedAckNs, initialWindowSegments, timestamps, sack,
            windowScaling, listenBacklog, outOfOrderSegments, congestionControl, fastOpen, fastOpenMaxPending,
            synCookies, synAckRetries, timeWaitCapacity, on);
    }
}
