package io.fastpath.stack.tcp;

/**
 * A congestion control algorithm: it owns {@code cwnd} and {@code ssthresh} of the connections it serves.
 * Implementations keep their per-connection state in the {@link TcpConnection}'s {@code cc*} fields, so one
 * instance serves every connection and nothing is allocated. Poll thread; time is a parameter.
 */
public interface CongestionControl {
    /**
     * The largest congestion window, in bytes (1 GiB: the most a scaled window can offer, RFC 7323 §2.3).
     * {@link TcpLayer} only grows cwnd while the connection is cwnd-limited (RFC 7661), so the cap is a
     * guard against arithmetic overflow, not the usual limit.
     */
    int MAX_CWND = 1 << 30;

    /** {@code cwnd + increase}, saturating at {@link #MAX_CWND} (never wraps negative). */
    static int grow(int cwnd, long increase) {
        return (int) Math.min(MAX_CWND, Math.max(0L, cwnd + Math.max(0L, increase)));
    }

    /**
     * RFC 3465 ABC's limit L for one ACK in slow start: 2 SMSS (§2.2: the receiver stretches its ACKs, one per burst
     * or every second segment, so 1 SMSS would halve slow start), but 1 SMSS in the slow start that follows a
     * retransmission timeout (§2.3: a cumulative ACK there may cover data that left the network long ago).
     */
    static int slowStartIncrease(TcpConnection c, int ackedBytes) {
        int limit = c.inRecovery && c.recovery != null && c.recovery.afterTimeout ? c.mss : 2 * c.mss;
        return Math.min(ackedBytes, limit);
    }

    /** The handshake completed: set the initial window (RFC 6928: 10 segments by default). */
    void onEstablished(TcpConnection c, int initialWindowSegments);

    /** New data was acknowledged outside loss recovery. */
    void onAck(TcpConnection c, int ackedBytes, long nowNs);

    /** Loss detected (three duplicate ACKs or SACK): set ssthresh and cwnd for recovery. */
    void onEnterRecovery(TcpConnection c, int flightBytes, long nowNs);

    /** Recovery ended with a full ACK. */
    void onExitRecovery(TcpConnection c, int flightBytes);

    /** The retransmission timer expired (first time for this data: {@code firstTimeout}). */
    void onTimeout(TcpConnection c, int flightBytes, boolean firstTimeout, long nowNs);

    /** Name as in {@code fastpath ... --cc NAME} and the docs. */
    String name();
}
