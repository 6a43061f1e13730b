package io.fastpath.stack.tcp;

/**
 * CUBIC (RFC 9438): after a loss the window grows as a cubic function of the time since the loss, centred
 * on the window where the loss happened, with a Reno-friendly floor; multiplicative decrease by 0.7 and fast
 * convergence. State lives in the connection's {@code cc*} fields.
 */
public final class Cubic implements CongestionControl {
    public static final Cubic INSTANCE = new Cubic();
    private static final double C = 0.4;
    private static final double BETA = 0.7;

    @Override
    public void onEstablished(TcpConnection c, int initialWindowSegments) {
        c.cwnd = initialWindowSegments * c.mss;
        c.ssthresh = Integer.MAX_VALUE;
        c.ccWmax = 0;
        c.ccEpochNs = 0;
    }

    @Override
    public void onAck(TcpConnection c, int ackedBytes, long nowNs) {
        if (c.cwnd < c.ssthresh) {
            c.cwnd = CongestionControl.grow(c.cwnd, CongestionControl.slowStartIncrease(c, ackedBytes)); // RFC 3465 ABC
            return;
        }
        double mss = c.mss;
        double cwnd = c.cwnd / mss;
        if (c.ccEpochNs == 0) {
            // RFC 9438 §4.2: a new congestion-avoidance epoch.
            c.ccEpochNs = nowNs;
            if (cwnd < c.ccWmax) {
                c.ccK = Math.cbrt((c.ccWmax - cwnd) / C);
                c.ccOrigin = c.ccWmax;
            } else {
                c.ccK = 0;
                c.ccOrigin = cwnd;
            }
            c.ccRenoCwnd = cwnd;
        }
        double rtt = Math.max(c.srttNs, 100_000) / 1e9;
        double t = (nowNs - c.ccEpochNs) / 1e9 + rtt;
        double target = c.ccOrigin + C * Math.pow(t - c.ccK, 3);
        // Reno-friendly region (RFC 9438 §4.3): alpha = 3(1-beta)/(1+beta) segments per RTT.
        c.ccRenoCwnd += 3 * (1 - BETA) / (1 + BETA) * (ackedBytes / mss) / cwnd;
        if (c.ccRenoCwnd > target) {
            target = c.ccRenoCwnd;
        }
        if (target > cwnd) {
            // Grow by (target - cwnd) / cwnd segments per acknowledged segment, at most 1.5x per RTT.
            double increase = Math.min(target - cwnd, cwnd / 2) / cwnd * (ackedBytes / mss);
            c.cwnd = CongestionControl.grow(c.cwnd, Math.max(1, (long) (increase * mss)));
        } else {
            c.cwnd = CongestionControl.grow(c.cwnd, Math.max(1, (long) (mss / (100 * cwnd) * (ackedBytes / mss))));
        }
    }

    @Override
    public void onEnterRecovery(TcpConnection c, int flightBytes, long nowNs) {
        reduce(c);
        c.cwnd = c.ssthresh;
    }

    private void reduce(TcpConnection c) {
        double cwnd = c.cwnd / (double) c.mss;
        // Fast convergence (RFC 9438 §4.7): release bandwidth when losses come before the old maximum.
        c.ccWmax = cwnd < c.ccWmax ? cwnd * (1 + BETA) / 2 : cwnd;
        c.ssthresh = Math.max((int) (c.cwnd * BETA), 2 * c.mss);
        c.ccEpochNs = 0;
    }

    @Override
    public void onExitRecovery(TcpConnection c, int flightBytes) {
        c.cwnd = c.ssthresh;
    }

    @Override
    public void onTimeout(TcpConnection c, int flightBytes, boolean firstTimeout, long nowNs) {
        if (firstTimeout) {
            reduce(c);
        }
        c.cwnd = c.mss;
        c.ccEpochNs = 0;
    }

    @Override
    public String name() {
        return "cubic";
    }
}
