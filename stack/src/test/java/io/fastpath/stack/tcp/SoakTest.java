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
                long heapAfterWarmUp = soak.run(seconds, 60, () -> {
                    a.doWork();
                    b.doWork();
                }, () -> a.tcp().describe());
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

    /**
     * Issue 10, reproduction 3: a long loss-free transfer over a ring pair keeps its rate to the end and closes
     * gracefully. Before the fix cwnd passed 2^31 after about 45 M segments, the window went negative, and the
     * connection crawled through retransmission timeouts and could not close. {@code -Dfastpath.longTransfer.gib}
     * (8 in CI; 100 for the documented run). Every byte is checked (against a 1 MiB random block the sender
     * repeats); the last quarter's cost is compared with the first's, in CPU time of the one thread that runs
     * both stacks (a crawl through retransmission timeouts spins that thread through the waits, so it costs CPU
     * time as it cost wall time; a thread the scheduler leaves waiting on a loaded machine costs neither). Driven from one thread, this run does
     * not reach the old wrap (100 GiB passed with the fix backed out: its ACKs and cwnd growth differ from the
     * two-thread harness where the issue saw it); the wrap itself is covered by {@link CongestionWindowTest} and
     * the unbounded growth by {@code TcpHostilePeerTest.cwndDoesNotGrowWhileTheReceiveWindowLimits_rfc7661_s4_1}.
     */
    @Test
    void longLossFreeTransferKeepsItsRateAndClosesGracefully_issue10_repro3() {
        long total = Long.getLong("fastpath.longTransfer.gib", 8) << 30;
        try (PktmbufPool pool = PktmbufPool.create("long", 16383, 0, PktmbufPool.DEFAULT_DATA_ROOM)) {
            RingPair pair = RingPair.create("long", 4096, pool, pool, EthDevPort.Config.defaults());
            Stack a = stack(pair.a(), "a", A_IP, TcpConfig.defaults());
            Stack b = stack(pair.b(), "b", B_IP, TcpConfig.defaults());
            try {
                BulkReceiver receiver = new BulkReceiver(total);
                assertEquals(NtStatus.STATUS_SUCCESS, b.tcp().listen(0, 7, c -> receiver));
                BulkSender sender = new BulkSender(total);
                assertEquals(NtStatus.STATUS_PENDING, a.tcp().connect(0, 0, B_IP, 7, sender));
                long start = System.nanoTime();
                long deadline = start + TimeUnit.MINUTES.toNanos(20);
                while (!(sender.closed && receiver.closed)) {
                    if (System.nanoTime() > deadline) {
                        throw new AssertionError("not done: sent " + sender.sent + " received " + receiver.received
                            + "\n" + a.tcp().describe());
                    }
                    a.doWork();
                    b.doWork();
                }
                double seconds = (System.nanoTime() - start) / 1e9;
                double first = receiver.quarterCpuNs[0] / 1e9;
                double last = (receiver.quarterCpuNs[3] - receiver.quarterCpuNs[2]) / 1e9;
                System.out.printf("long transfer: %d GiB in %.1f s (%.2f Gbit/s); first quarter %.1f s, last %.1f s"
                        + " (CPU time; wall %.1f s, %.1f s); timeouts %d, retransmits %d; close %s%n", total >> 30,
                    seconds, total * 8 / seconds / 1e9, first, last, receiver.quarterNs[0] / 1e9,
                    (receiver.quarterNs[3] - receiver.quarterNs[2]) / 1e9, a.counters().tcpTimeouts.get(),
                    a.counters().tcpRetransmits.get(), NtStatus.name(sender.closeStatus));
                assertEquals(-1, receiver.mismatchAt, "every byte as sent");
                assertEquals(total, receiver.received);
                assertEquals("STATUS_SUCCESS", NtStatus.name(sender.closeStatus), "graceful close");
                assertTrue(last < 2 * first + 1, "the last quarter took " + last + " s of CPU time, the first " + first
                    + " s");
                assertTrue(a.counters().tcpTimeouts.get() <= 2, "no timeouts without loss: "
                    + a.counters().tcpTimeouts.get());
            } finally {
                a.onClose();
                a.close();
                b.onClose();
                b.close();
                drain(pair.a());
                drain(pair.b());
                pair.close();
            }
            assertEquals(0, pool.inUseCount(), "every mbuf back in the pool");
        }
    }

    /** A 1 MiB random block, repeated: cheap to send and to check at tens of Gbit/s. */
    private static final org.agrona.concurrent.UnsafeBuffer BLOCK;

    static {
        byte[] bytes = new byte[1 << 20];
        new java.util.SplittableRandom(3).nextBytes(bytes);
        BLOCK = new org.agrona.concurrent.UnsafeBuffer(java.nio.ByteBuffer.allocateDirect(1 << 20));
        BLOCK.putBytes(0, bytes);
    }

    private static final class BulkSender implements TcpHandler {
        private final long total;
        long sent;
        boolean closed;
        int closeStatus = Integer.MIN_VALUE;

        BulkSender(long total) {
            this.total = total;
        }

        private void fill(TcpConnection c) {
            while (sent < total) {
                int at = (int) (sent & ((1 << 20) - 1));
                int n = (int) Math.min(Math.min(total - sent, (1 << 20) - at), c.sendSpace());
                if (n <= 0) {
                    return;
                }
                int taken = c.send(BLOCK, at, n);
                sent += taken;
                if (taken < n) {
                    return;
                }
            }
            c.shutdown();
        }

        @Override
        public void onConnectComplete(TcpConnection c, int status) {
            if (status != NtStatus.STATUS_SUCCESS) {
                closed = true;
                closeStatus = status;
                return;
            }
            fill(c);
        }

        @Override
        public void onSendSpace(TcpConnection c, int freeBytes) {
            if (sent < total) {
                fill(c);
            }
        }

        @Override
        public int onReceive(TcpConnection c, long address, int length) {
            return length;
        }

        @Override
        public void onPeerClosed(TcpConnection c) {
        }

        @Override
        public void onClosed(TcpConnection c, int status) {
            closed = true;
            closeStatus = status;
        }
    }

    private static final class BulkReceiver implements TcpHandler {
        private final long total;
        private final org.agrona.concurrent.UnsafeBuffer view = new org.agrona.concurrent.UnsafeBuffer(0, 0);
        final long[] quarterNs = new long[4];
        /** CPU time of the thread running both stacks (it delivers here) when each quarter was received. */
        final long[] quarterCpuNs = new long[4];
        private final long start = System.nanoTime();
        private final java.lang.management.ThreadMXBean threads =
            java.lang.management.ManagementFactory.getThreadMXBean();
        private final long startCpu = threads.getCurrentThreadCpuTime();
        long received;
        long mismatchAt = -1;
        boolean closed;

        BulkReceiver(long total) {
            // Without thread CPU time every quarter would read 0 and the rate check could not fail.
            org.junit.jupiter.api.Assumptions.assumeTrue(threads.isCurrentThreadCpuTimeSupported()
                && threads.isThreadCpuTimeEnabled() && startCpu >= 0, "thread CPU time measurable");
            this.total = total;
        }

        @Override
        public void onConnectComplete(TcpConnection c, int status) {
        }

        @Override
        public int onReceive(TcpConnection c, long address, int length) {
            view.wrap(address, length);
            int i = 0;
            for (; i + 8 <= length && mismatchAt < 0; i += 8) {
                long pos = received + i;
                int at = (int) (pos & ((1 << 20) - 1));
                if (at + 8 > 1 << 20) {
                    break;
                }
                if (view.getLong(i) != BLOCK.getLong(at)) {
                    mismatchAt = pos;
                }
            }
            for (; i < length && mismatchAt < 0; i++) {
                long pos = received + i;
                if (view.getByte(i) != BLOCK.getByte((int) (pos & ((1 << 20) - 1)))) {
                    mismatchAt = pos;
                }
            }
            long before = received;
            received += length;
            for (int q = 0; q < 4; q++) {
                long mark = total / 4 * (q + 1);
                if (before < mark && received >= mark) {
                    quarterNs[q] = System.nanoTime() - start;
                    quarterCpuNs[q] = threads.getCurrentThreadCpuTime() - startCpu;
                }
            }
            return length;
        }

        @Override
        public void onPeerClosed(TcpConnection c) {
            c.shutdown();
        }

        @Override
        public void onClosed(TcpConnection c, int status) {
            closed = true;
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
