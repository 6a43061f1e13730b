package io.fastpath.stack.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.stack.wire.Ipv4Address;
import java.nio.file.Path;
import java.util.concurrent.CyclicBarrier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link TcpService}'s default client, made on first use from any thread. */
class TcpServiceDefaultClientTest {
    private static final int A_IP = Ipv4Address.parse("10.16.0.1");
    private static final int B_IP = Ipv4Address.parse("10.16.0.2");

    @TempDir
    Path dir;

    /**
     * Two threads asking for the default client at once get the same one, and the one made in vain does not stay
     * among the clients (it would halve the real one's budget and keep its rings and its place).
     */
    @Test
    void twoThreadsRacingOnFirstUseLeaveOneClient() throws Exception {
        try (TcpServiceRig rig = new TcpServiceRig(dir, "tsdc", A_IP, B_IP, 0)) {
            TcpService service = rig.server.tcpService();
            for (int round = 0; round < 200; round++) {
                CyclicBarrier start = new CyclicBarrier(2);
                TcpServiceClient[] got = new TcpServiceClient[2];
                Thread[] threads = new Thread[2];
                for (int t = 0; t < 2; t++) {
                    int me = t;
                    threads[t] = new Thread(() -> {
                        try {
                            start.await();
                        } catch (Exception e) {
                            throw new IllegalStateException(e);
                        }
                        got[me] = service.defaultClient();
                    });
                    threads[t].start();
                }
                for (Thread t : threads) {
                    t.join();
                }
                assertSame(got[0], got[1], "round " + round + ": one default client");
                assertEquals(1, service.clientCount(), "round " + round + ": no second client left behind");
                assertTrue(got[0].isOpen());
                got[0].close();
                rig.pumpUntil(() -> service.clientCount() == 0, "the default client closed");
            }
        }
    }
}
