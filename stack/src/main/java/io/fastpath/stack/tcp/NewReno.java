package io.fastpath.stack.tcp;

/** RFC 5681 slow start and congestion avoidance with RFC 6582 NewReno recovery windows. */
public final class NewReno implements CongestionControl {
    public static final NewReno INSTANCE = new NewReno();

    @Override
    public void onEstablished(TcpConnection c, int initialWindowSegments) {
        c.cwnd = initialWindowSegments * c.mss;
        c.ssthresh = Integer.MAX_VALUE;
    }

    @Override
    public void onAck(TcpConnection c, int ackedBytes, long nowNs) {
        if (c.cwnd < c.ssthresh) {
            c.cwnd = CongestionControl.grow(c.cwnd, CongestionControl.slowStartIncrease(c, ackedBytes)); // RFC 3465 ABC
        } else {
            c.cwnd = CongestionControl.grow(c.cwnd, Math.max(1, (long) c.mss * c.mss / Math.max(c.cwnd, 1))); // RFC 5681 eq. 3
        }
    }

    @Override
    public void onEnterRecovery(TcpConnection c, int flightBytes, long nowNs) {
        c.ssthresh = Math.max(flightBytes / 2, 2 * c.mss); // RFC 5681 eq. 4
        c.cwnd = c.ssthresh;
    }

    @Override
    public void onExitRecovery(TcpConnection c, int flightBytes) {
        c.cwnd = Math.min(c.ssthresh, Math.max(flightBytes, c.mss) + c.mss); // RFC 6582 §3.2 step 3
    }

    @Override
    public void onTimeout(TcpConnection c, int flightBytes, boolean firstTimeout, long nowNs) {
        if (firstTimeout) {
            c.ssthresh = Math.max(flightBytes / 2, 2 * c.mss);
        }
        c.cwnd = c.mss; // loss window
    }

    @Override
    public String name() {
        return "newreno";
    }
}
