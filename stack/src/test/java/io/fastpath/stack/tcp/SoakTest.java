package io.fastpath.stack.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.MbufArray;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.Port;
import io.fastpath.dpdk.RingPair;
import io.fastpath.stack.NtStatus;
import io.fastpath.stack.Stack;
import io.fastpath.stack.StackConfig;
import io.fastpath.stack.app.EchoServer;
import io.fastpath.stack.device.FaultInjector;
import io.fastpath.stack.wire.Ipv4Address;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Soak between two stacks over a ring pair (issue 10 deliverable 6): connection churn and a bulk stream,
 * through a fault injector that drops, reorders and duplicates frames both ways, for
 * {@code -Dfastpath.soak.seconds} (default 120; `docs/reliability.md` gives the 30-minute command). At the end
 * every connection closed cleanly with every byte verified, both connection tables are empty, every mbuf
 * is back in the pool, TCP holds no memory, and the heap did not grow.
 */
class SoakTest {
    private static final int A_IP = Ipv4Address.parse("10.22.0.1");
    private static final int B_IP = Ipv4Address.parse("10.22.0.2");

    @TempDir
    Path dir;

    @Test
    void churnAndBulkThroughFaultsForMinutes_issue10_soak() {
        long seconds = Long.getLong("fastpath.soak.seconds", 120);
        try (PktmbufPool pool = PktmbufPool.create("soak", 16383, 0, PktmbufPool.DEFAULT_DATA_ROOM)) {
            RingPair pair = RingPair.create("soak", 4096, pool, pool, EthDevPort.Config.defaults());
            FaultInjector faults = FaultInjector.builder(pair.a()).seed(5).rxDrop(0.01).txDrop(0.01)
                .txReorder(0.01).txDuplicate(0.005).rxDuplicate(0.005).build();
            TcpConfig tcp = TcpConfig.defaults().withTimeWait(TimeUnit.MILLISECONDS.toNanos(500));
            Stack a = stack(faults, "a", A_IP, tcp);
            Stack b = stack(pair.b(), "b", B_IP, tcp);
            try {
                EchoServer server = new EchoServer();
                assertEquals(NtStatus.STATUS_SUCCESS, server.listen(b.tcp(), 7));
                Soak soak = new Soak(a.tcp(), B_IP, 7, 16, 256 * 1024, 16L << 20, 17);
                long start = System.nanoTime();
                long warmEnd = start + TimeUnit.SECONDS.toNanos(Math.min(10, seconds / 4));
                long end = start + TimeUnit.SECONDS.toNanos(seconds);
                long heapAfterWarmUp = -1;
                while (true) {
                    long now = System.nanoTime();
                    if (heapAfterWarmUp < 0 && now > warmEnd) {
                        heapAfterWarmUp = Soak.heapAfterGc();
                    }
                    if (now > end) {
                        soak.stop();
                        if (soak.idle()) {
                            break;
                        }
                        if (now > end + TimeUnit.SECONDS.toNanos(60)) {
                            throw new AssertionError("clients still open 60 s after the end: " + soak + "\n"
                                + a.tcp().describe());
                        }
                    }
                    soak.step(now);
                    a.doWork();
                    b.doWork();
                }
                long drainEnd = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while ((a.tcp().connectionCount() > 0 || b.tcp().connectionCount() > 0) && System.nanoTime() < drainEnd) {
                    a.doWork();
                    b.doWork();
                }
                long heapAtEnd = Soak.heapAfterGc();
                double elapsed = (System.nanoTime() - start) / 1e9;
                System.out.printf("soak (ring pair, 1%% loss both ways, reordering, duplication): %.0f s, %s;"
                        + " %.1f MiB/s; retransmits %d, timeouts %d; heap %d -> %d KiB%n", elapsed, soak,
                    soak.bytesVerified / 1048576.0 / elapsed, a.counters().tcpRetransmits.get(),
                    a.counters().tcpTimeouts.get(), heapAfterWarmUp >> 10, heapAtEnd >> 10);
                assertTrue(soak.failures.isEmpty(), soak.toString());
                assertTrue(soak.connections > 100, soak.toString());
                assertEquals(0, a.tcp().connectionCount(), "client table empty");
                assertEquals(0, b.tcp().connectionCount(), "server table empty");
                assertEquals(0, a.tcp().memoryHeldMbufs());
                assertEquals(0, b.tcp().memoryHeldMbufs());
                assertEquals(0, server.abnormalCloses());
                assertTrue(heapAtEnd - heapAfterWarmUp < 16L << 20, "heap grew from " + heapAfterWarmUp + " to "
                    + heapAtEnd);
            } finally {
                a.onClose();
                a.close();
                b.onClose();
                b.close();
                drain(pair.a());
                drain(pair.b());
                faults.close(); // frees what it held back, closes port A
                pair.close();
            }
            assertEquals(0, pool.inUseCount(), "every mbuf back in the pool");
        }
    }

    private Stack stack(Port port, String name, int ip, TcpConfig tcp) {
        return new Stack(port, StackConfig.builder().name(name).address(ip, 24).tcp(tcp)
            .countersFile(dir.resolve(name + ".counters")).build());
    }

    private static void drain(Port port) {
        MbufArray array = new MbufArray(32);
        for (int n; (n = port.receive(array, 32)) > 0; ) {
            array.freeAll(n);
        }
    }
}
