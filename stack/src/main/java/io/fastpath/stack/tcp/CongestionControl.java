package io.fastpath.stack.tcp;

/**
 * A congestion control algorithm: it owns {@code cwnd} and {@code ssthresh} of the connections it serves.
 * Implementations keep their per-connection state in the {@link TcpConnection}'s {@code cc*} fields, so one
 * instance serves every connection and nothing is allocated. Poll thread; time is a parameter.
 */
public interface CongestionControl {
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
