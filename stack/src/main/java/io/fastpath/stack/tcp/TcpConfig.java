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
    int fastOpenMaxPending) {

    public static TcpConfig defaults() {
        return new TcpConfig(1024, 256 * 1024, 256 * 1024, TimeUnit.MILLISECONDS.toNanos(200),
            TimeUnit.SECONDS.toNanos(1), TimeUnit.SECONDS.toNanos(60), 6, 15, TimeUnit.SECONDS.toNanos(60),
            TimeUnit.MILLISECONDS.toNanos(40), 10, true, true, true, 128, 256, Cubic.INSTANCE, true, 64);
    }

    public TcpConfig withTimeWait(long ns) {
        return new TcpConfig(maxConnections, sendBufferBytes, receiveBufferBytes, minRtoNs, initialRtoNs, maxRtoNs,
            synRetries, dataRetries, ns, delayedAckNs, initialWindowSegments, timestamps, sack, windowScaling,
            listenBacklog, outOfOrderSegments, congestionControl, fastOpen, fastOpenMaxPending);
    }

    public TcpConfig withSynRetries(int retries, long initialRto) {
        return new TcpConfig(maxConnections, sendBufferBytes, receiveBufferBytes, minRtoNs, initialRto, maxRtoNs,
            retries, dataRetries, timeWaitNs, delayedAckNs, initialWindowSegments, timestamps, sack, windowScaling,
            listenBacklog, outOfOrderSegments, congestionControl, fastOpen, fastOpenMaxPending);
    }

    public TcpConfig withBuffers(int send, int receive) {
        return new TcpConfig(maxConnections, send, receive, minRtoNs, initialRtoNs, maxRtoNs, synRetries,
            dataRetries, timeWaitNs, delayedAckNs, initialWindowSegments, timestamps, sack, windowScaling,
            listenBacklog, outOfOrderSegments, congestionControl, fastOpen, fastOpenMaxPending);
    }

    public TcpConfig withMaxConnections(int max) {
        return new TcpConfig(max, sendBufferBytes, receiveBufferBytes, minRtoNs, initialRtoNs, maxRtoNs, synRetries,
            dataRetries, timeWaitNs, delayedAckNs, initialWindowSegments, timestamps, sack, windowScaling,
            listenBacklog, outOfOrderSegments, congestionControl, fastOpen, fastOpenMaxPending);
    }

    /** Congestion control for new connections ({@link NewReno#INSTANCE}, {@link Cubic#INSTANCE}). */
    public TcpConfig withCongestionControl(CongestionControl cc) {
        return new TcpConfig(maxConnections, sendBufferBytes, receiveBufferBytes, minRtoNs, initialRtoNs, maxRtoNs,
            synRetries, dataRetries, timeWaitNs, delayedAckNs, initialWindowSegments, timestamps, sack,
            windowScaling, listenBacklog, outOfOrderSegments, cc, fastOpen, fastOpenMaxPending);
    }

    /**
     * TCP Fast Open (RFC 7413): as a server, hand out cookies and accept data in SYNs with a valid one (at
     * most {@code maxPending} such connections still in SYN-RECEIVED); as a client, use the connect calls that
     * carry data.
     */
    public TcpConfig withFastOpen(boolean on, int maxPending) {
        return new TcpConfig(maxConnections, sendBufferBytes, receiveBufferBytes, minRtoNs, initialRtoNs, maxRtoNs,
            synRetries, dataRetries, timeWaitNs, delayedAckNs, initialWindowSegments, timestamps, sack,
            windowScaling, listenBacklog, outOfOrderSegments, congestionControl, on, maxPending);
    }

    public TcpConfig withOptions(boolean ts, boolean sackOn, boolean ws) {
        return new TcpConfig(maxConnections, sendBufferBytes, receiveBufferBytes, minRtoNs, initialRtoNs, maxRtoNs,
            synRetries, dataRetries, timeWaitNs, delayedAckNs, initialWindowSegments, ts, sackOn, ws,
            listenBacklog, outOfOrderSegments, congestionControl, fastOpen, fastOpenMaxPending);
    }
}
