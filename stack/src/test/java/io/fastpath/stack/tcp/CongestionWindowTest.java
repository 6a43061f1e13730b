package io.fastpath.stack.tcp;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * The congestion window cannot wrap. Issue 10, reproduction 3: a loss-free 40 s transfer over a ring pair
 * acknowledged 45 M segments with 1.48 M ACKs; {@code cwnd += min(acked, mss)} per ACK on an {@code int} reached
 * 2^31, {@code min(sndWnd, cwnd)} went negative, and the connection stalled in retransmission timeouts.
 * {@link TcpLayer} now grows cwnd only while it limits the sender (RFC 7661, tested on a ring pair in
 * {@code TcpMemoryTest}); this checks that the algorithms themselves saturate.
 */
class CongestionWindowTest {

    private static TcpConnection connection(CongestionControl cc) {
        TcpConnection c = new TcpConnection(null, 0);
        c.mss = 1448;
        c.srttNs = 100_000;
        c.cc = cc;
        cc.onEstablished(c, 10);
        return c;
    }

    private static void ackForever(CongestionControl cc, TcpConnection c) {
        long now = 1_000_000_000L;
        // 3 M ACKs of two segments each: as many as a 40 s bulk transfer at 18 Gbit/s produces.
        for (int i = 0; i < 3_000_000; i++) {
            now += 1_000;
            cc.onAck(c, 2 * c.mss, now);
            if (c.cwnd <= 0 || c.cwnd > CongestionControl.MAX_CWND) {
                throw new AssertionError(cc.name() + ": cwnd " + c.cwnd + " after " + i + " ACKs");
            }
        }
        assertTrue(c.cwnd == CongestionControl.MAX_CWND, cc.name() + " saturates at MAX_CWND: " + c.cwnd);
    }

    @Test
    void slowStartSaturatesInsteadOfWrapping_rfc7661_s4_cubic() {
        ackForever(Cubic.INSTANCE, connection(Cubic.INSTANCE));
    }

    @Test
    void slowStartSaturatesInsteadOfWrapping_rfc7661_s4_newReno() {
        ackForever(NewReno.INSTANCE, connection(NewReno.INSTANCE));
    }

    @Test
    void congestionAvoidanceSaturatesInsteadOfWrapping_rfc9438_cubic() {
        TcpConnection c = connection(Cubic.INSTANCE);
        c.ssthresh = 20 * c.mss; // in congestion avoidance from the start
        Cubic.INSTANCE.onEnterRecovery(c, c.cwnd, 1_000_000_000L);
        Cubic.INSTANCE.onExitRecovery(c, c.cwnd);
        long now = 1_000_000_000L;
        for (int i = 0; i < 3_000_000; i++) {
            now += 1_000_000; // 50 minutes of ACKs: the cubic function alone would pass 2^31 long before
            Cubic.INSTANCE.onAck(c, 2 * c.mss, now);
            if (c.cwnd <= 0 || c.cwnd > CongestionControl.MAX_CWND) {
                throw new AssertionError("cwnd " + c.cwnd + " after " + i + " ACKs");
            }
        }
    }
}
