package io.fastpath.stack.tcp;

import static io.fastpath.stack.tcp.TcpBehaviourTest.assertStatus;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.stack.NtStatus;
import io.fastpath.stack.Stack;
import io.fastpath.stack.app.EchoServer;
import io.fastpath.stack.tcp.TcpBehaviourTest.Endpoint;
import io.fastpath.stack.wire.Ipv4Address;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * TIME-WAIT as a compact record ({@link TimeWaitTable}) and ephemeral ports per RFC 6056: the pooled slot
 * (and its send ring) is free as soon as the application is told a connection is closed, while TIME-WAIT
 * itself goes on as RFC 9293 §3.6, RFC 1337 and RFC 6191 ask. Two stacks over a ring pair. How a TIME-WAIT
 * record answers segments (a retransmitted FIN, a RST, a new SYN) is tested segment by segment in
 * {@link TcpStateMachineTest}.
 */
class TcpTimeWaitTest {
    private static final int A_IP = Ipv4Address.parse("10.22.0.1");
    private static final int B_IP = Ipv4Address.parse("10.22.0.2");
    private static final long MS = 1_000_000L;
    private static final long MINUTE = TimeUnit.SECONDS.toNanos(60);
    private static PktmbufPool pool;
    private static int round;

    @TempDir
    Path dir;
    private RingPairRig rig;
    private Stack a;
    private Stack b;

    @BeforeAll
    static void createPool() {
        pool = PktmbufPool.create("timewait", 8191, 0, PktmbufPool.DEFAULT_DATA_ROOM);
    }

    @AfterAll
    static void freePool() {
        pool.close();
    }

    @BeforeEach
    void up() {
        rig = new RingPairRig(dir, pool, "tw" + (round++), 4096);
    }

    @AfterEach
    void down() {
        rig.close();
    }

    // ========================================================================================= capacity

    @Test
    void hundredThousandTimeWaitRecordsInBoundedMemory_rfc9293_s3_6() {
        TimeWaitTable table = new TimeWaitTable(TcpConfig.DEFAULT_TIME_WAIT_CAPACITY);
        long bytes = table.footprintBytes();
        double perRecord = (double) bytes / table.capacity();
        System.out.printf("TIME-WAIT table: %d records in %d bytes, %.1f bytes per record%n", table.capacity(), bytes,
            perRecord);
        assertTrue(perRecord <= 64, "a few dozen bytes per record: " + perRecord);
        for (int i = 0; i < 100_000; i++) {
            assertTrue(!table.add(TcpLayer.key(A_IP + (i >>> 16), i & 0xFFFF, 80), i, -i, true, i, 7, 65535, 7,
                MINUTE + i), "no eviction below capacity");
        }
        assertEquals(100_000, table.size());
        assertEquals(bytes, table.footprintBytes(), "nothing grew: preallocated");
        int slot = table.find(TcpLayer.key(A_IP + 1, 5, 80));
        assertEquals(65536 + 5, table.rcvNxt(slot));
        // Full: the next record pushes out the oldest (and says so).
        assertTrue(table.add(TcpLayer.key(B_IP, 1, 81), 1, 1, false, 0, 0, 0, 0, MINUTE + 100_000));
        assertEquals(-1, table.find(TcpLayer.key(A_IP, 0, 80)));
        assertEquals(100_000, table.size());
        assertEquals(50_000, table.expire(MINUTE + 50_000), "records expire oldest first");
        assertEquals(50_000, table.size());
    }

    /** Per-record and per-SYN work allocates nothing: the TIME-WAIT table and the SYN cookie codec. */
    @Test
    void timeWaitTableAndSynCookieAllocateNothing() {
        com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        TimeWaitTable table = new TimeWaitTable(1024);
        SynCookie cookie = new SynCookie(new IsnGenerator(5, 6), new IsnGenerator(7, 8));
        int rounds = 200_000;
        long sink = churn(table, cookie, rounds, 0);
        long before = threads.getCurrentThreadAllocatedBytes();
        sink += churn(table, cookie, rounds, rounds);
        long allocated = threads.getCurrentThreadAllocatedBytes() - before;
        assertTrue(allocated < rounds, allocated + " bytes allocated in " + rounds + " rounds (sink " + sink + ")");
    }

    private static long churn(TimeWaitTable table, SynCookie cookie, int rounds, long t0) {
        long sink = 0;
        for (int i = 0; i < rounds; i++) {
            long now = t0 + i;
            long key = TcpLayer.key(A_IP, i & 0xFFFF, 80);
            int slot = table.find(key);
            if (slot >= 0) {
                table.restart(slot, now + 2048);
            } else {
                table.add(key, i, i, true, i, i, 65535, 7, now + 2048);
            }
            sink += table.expire(now);
            int isn = cookie.encode(A_IP, B_IP, i & 0xFFFF, 80, i, i & 3, now);
            sink += cookie.check(isn, A_IP, B_IP, i & 0xFFFF, 80, i, now);
        }
        return sink;
    }

    @Test
    void fullTimeWaitTableDropsOldestAndCounts_rfc9293_s3_6() {
        a = rig.a(rig.config("a", A_IP, TcpConfig.defaults().withTimeWait(MINUTE).withTimeWaitCapacity(4)));
        b = rig.b(rig.config("b", B_IP, TcpConfig.defaults()));
        assertStatus(NtStatus.STATUS_SUCCESS, new EchoServer().listen(b.tcp(), 7));
        for (int i = 0; i < 10; i++) {
            connectSendClose(i);
        }
        runUntil(() -> a.tcp().slotsInUse() == 0, 2000, "compaction");
        assertEquals(4, a.tcp().timeWaitCount());
        assertEquals(6, a.counters().tcpTimeWaitOverflows.get());
        assertEquals(4, a.counters().tcpTimeWait.get());
    }

    // ============================================================================================ rate

    @Test
    void activeCloserRateNotBoundedBySlotsInTimeWait_rfc9293_s3_6() {
        // 8 slots and a 60 s TIME-WAIT: before, the 9th connect in a minute found the table full.
        a = rig.a(rig.config("a", A_IP, TcpConfig.defaults().withMaxConnections(8).withTimeWait(MINUTE)));
        b = rig.b(rig.config("b", B_IP, TcpConfig.defaults()));
        assertStatus(NtStatus.STATUS_SUCCESS, new EchoServer().listen(b.tcp(), 7));
        long start = System.nanoTime();
        int n = 1000;
        for (int i = 0; i < n; i++) {
            connectSendClose(i);
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.printf("%d connect/echo/close cycles through 8 slots in %.2f s (%.0f/s) with a 60 s TIME-WAIT%n", n,
            seconds, n / seconds);
        runUntil(() -> a.tcp().slotsInUse() == 0, 2000, "compaction");
        assertEquals(n, a.tcp().timeWaitCount(), "every closed connection is in TIME-WAIT, none in a slot");
        assertEquals(n, a.tcp().connectionCount());
        assertTrue(n / seconds > 8.0 / 60, "more than 8 connections per TIME-WAIT period");
    }

    /** One connection from A: connect, 100 bytes echoed, A closes first (A ends in TIME-WAIT). */
    private Endpoint connectSendClose(int i) {
        Endpoint client = new Endpoint("c" + i).expect(i);
        int rc = a.tcp().connect(0, 0, B_IP, 7, client);
        if (rc != NtStatus.STATUS_PENDING) {
            throw new AssertionError("connect #" + i + ": " + NtStatus.name(rc) + "\n" + a.tcp().describe());
        }
        runUntil(client::connectCompleted, 3000, "connect #" + i);
        assertStatus(NtStatus.STATUS_SUCCESS, client.connectStatus);
        client.sendStream(i, 100, false);
        runUntil(() -> client.received == 100, 3000, "echo #" + i);
        client.connection.shutdown();
        runUntil(client::closed, 3000, "close #" + i);
        assertStatus(NtStatus.STATUS_SUCCESS, client.closeStatus);
        return client;
    }

    // ============================================================================================ ports

    @Test
    void ephemeralPortsAreNotSequential_rfc6056_s3_3_4() {
        a = rig.a(rig.config("a", A_IP, TcpConfig.defaults()));
        b = rig.b(rig.config("b", B_IP, TcpConfig.defaults()));
        List<Integer> ports = new ArrayList<>();
        for (int i = 0; i < 32; i++) {
            assertStatus(NtStatus.STATUS_PENDING, a.tcp().connect(0, 0, B_IP, 1000 + i, new Endpoint("p" + i)));
            ports.add(a.tcp().lastConnection().localPort());
        }
        int consecutive = 0;
        for (int i = 1; i < ports.size(); i++) {
            if (ports.get(i) - ports.get(i - 1) == 1) {
                consecutive++;
            }
        }
        Set<Integer> distinct = new HashSet<>(ports);
        assertEquals(32, distinct.size());
        assertTrue(ports.stream().allMatch(p -> p >= TcpLayer.EPHEMERAL_FIRST && p <= TcpLayer.EPHEMERAL_LAST));
        assertTrue(consecutive < 4, "ports to different destinations follow no sequence: " + ports);
        runFor(50); // the connects are refused (no listeners): nothing left behind
    }

    // ========================================================================================== helpers

    private void runFor(long ms) {
        rig.runFor(ms);
    }

    private void runUntil(BooleanSupplier done, long timeoutMs, String what) {
        rig.runUntil(done, timeoutMs, what);
    }
}
