package io.fastpath.stack.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.stack.NtStatus;
import io.fastpath.stack.Stack;
import io.fastpath.stack.app.EchoServer;
import io.fastpath.stack.app.StreamClient;
import io.fastpath.stack.device.FaultInjector;
import io.fastpath.stack.wire.Ipv4Address;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** TCP between two fastpath stacks over a ring pair, both driven by the test thread (deterministic). */
class TcpRingPairTest {
    private static final int A_IP = Ipv4Address.parse("10.10.0.1");
    private static final int B_IP = Ipv4Address.parse("10.10.0.2");
    private static PktmbufPool pool;
    private static int round;

    @TempDir
    Path dir;
    private RingPairRig rig;
    private Stack a;
    private Stack b;

    @BeforeAll
    static void createPool() {
        pool = PktmbufPool.create("tcpring", 16383, 0, PktmbufPool.DEFAULT_DATA_ROOM);
    }

    @AfterAll
    static void freePool() {
        pool.close();
    }

    @BeforeEach
    void up() {
        rig = new RingPairRig(dir, pool, "tr" + (round++), 2048);
    }

    @AfterEach
    void down() {
        rig.close();
    }

    private void runUntil(BooleanSupplier done, long timeoutMs) {
        rig.runUntil(done, timeoutMs);
    }

    private StreamClient echoRoundTrip(long bytes, long timeoutMs) {
        EchoServer server = rig.echoServer(7);
        StreamClient client = new StreamClient(1234, bytes);
        rig.connect(client, 7);
        rig.awaitEcho(client, bytes, timeoutMs);
        runUntil(() -> server.closed() == 1, 2000);
        return client;
    }

    @Test
    void echoOneMegabyteAndCloseGracefully_rfc9293() {
        a = rig.a(rig.config("a", A_IP, TcpConfig.defaults().withTimeWait(TimeUnit.MILLISECONDS.toNanos(100))));
        b = rig.b(rig.config("b", B_IP, TcpConfig.defaults().withTimeWait(TimeUnit.MILLISECONDS.toNanos(100))));
        echoRoundTrip(1 << 20, 10_000);
        runUntil(() -> a.tcp().connectionCount() == 0 && b.tcp().connectionCount() == 0, 2000);
    }

    @Test
    void echoUnderLossReorderDuplicationAndCorruption_rfc6298_rfc6675() {
        lossyEcho(Cubic.INSTANCE);
    }

    @Test
    void echoUnderLossWithNewReno_rfc6582() {
        lossyEcho(NewReno.INSTANCE);
    }

    private void lossyEcho(CongestionControl cc) {
        FaultInjector faulty = FaultInjector.builder(rig.pair.a()).seed(7).txDrop(0.05).rxDrop(0.05).txReorder(0.02)
            .txDuplicate(0.01).rxCorrupt(0.002).build();
        rig.portA = faulty;
        TcpConfig tcp = TcpConfig.defaults().withTimeWait(TimeUnit.MILLISECONDS.toNanos(100))
            .withCongestionControl(cc);
        a = rig.a(rig.config("a", A_IP, tcp));
        b = rig.b(rig.config("b", B_IP, tcp));
        StreamClient client = echoRoundTrip(4 << 20, 20_000);
        assertTrue(a.counters().tcpRetransmits.get() + b.counters().tcpRetransmits.get() > 0);
        System.out.printf(cc.name() + ": 4 MiB echo under 5%% loss each way: %.1f ms, retransmits A %d B %d, fast A %d B %d,"
                + " timeouts A %d B %d%n", client.elapsedNs() / 1e6, a.counters().tcpRetransmits.get(),
            b.counters().tcpRetransmits.get(), a.counters().tcpFastRetransmits.get(),
            b.counters().tcpFastRetransmits.get(), a.counters().tcpTimeouts.get(), b.counters().tcpTimeouts.get());
    }

    /**
     * Issue 10 item 8's figure: 64 MiB echoed (64 MiB each way) over a ring pair with a fault injector on each
     * side dropping 5% of what it sends and 5% of what it receives (as LinuxTcpTest's "5% loss both sides":
     * 9.75% of the frames lost per direction), plus 1% reordering. Correctness is asserted; the time is
     * printed, not asserted (this machine is shared), and recorded in docs/tcp.md. The target is under 10 s.
     * {@code -DlossRx=0} gives 5% per direction; {@code -DlossMiB}, {@code -DlossSeed} vary size and pattern.
     */
    @Test
    void echo64MiBUnderFivePercentLossBothWays_rfc6675_rfc8985_rfc6937() {
        long bytes = Long.getLong("lossMiB", 64) << 20;
        long seed = Long.getLong("lossSeed", 21);
        double rx = Double.parseDouble(System.getProperty("lossRx", "0.05"));
        double tx = Double.parseDouble(System.getProperty("lossTx", "0.05"));
        rig.portA = FaultInjector.builder(rig.pair.a()).seed(seed).txDrop(tx).rxDrop(rx).txReorder(0.01).build();
        rig.portB = FaultInjector.builder(rig.pair.b()).seed(seed + 1).txDrop(tx).rxDrop(rx).txReorder(0.01).build();
        TcpConfig tcp = TcpConfig.defaults().withTimeWait(TimeUnit.MILLISECONDS.toNanos(100));
        a = rig.a(rig.config("a", A_IP, tcp));
        b = rig.b(rig.config("b", B_IP, tcp));
        StreamClient client = echoRoundTrip(bytes, 600_000);
        System.out.printf("%d MiB echo, %.0f%% tx + %.0f%% rx loss on both sides: %.2f s, retransmits A %d B %d,"
                + " fast A %d B %d, timeouts A %d B %d%n", bytes >> 20, tx * 100, rx * 100, client.elapsedNs() / 1e9,
            a.counters().tcpRetransmits.get(), b.counters().tcpRetransmits.get(),
            a.counters().tcpFastRetransmits.get(), b.counters().tcpFastRetransmits.get(),
            a.counters().tcpTimeouts.get(), b.counters().tcpTimeouts.get());
        System.out.printf("  tail/stall probes A %d B %d, RACK lost A %d B %d, D-SACKs A %d B %d, undone A %d B %d%n",
            a.counters().tcpTailLossProbes.get(), b.counters().tcpTailLossProbes.get(),
            a.counters().tcpRackLost.get(), b.counters().tcpRackLost.get(), a.counters().tcpDsacksReceived.get(),
            b.counters().tcpDsacksReceived.get(), a.counters().tcpRecoveriesUndone.get(),
            b.counters().tcpRecoveriesUndone.get());
    }

    /**
     * Loss recovery allocates nothing per segment: after an 8 MiB warm-up, 15 MiB echoed under 5% loss each way
     * (scoreboard, RACK, PRR, D-SACK, probes all busy) allocate less than one byte per segment on the thread
     * that runs both stacks.
     */
    @Test
    void lossRecoveryAllocatesNothingPerSegment_rfc6675_rfc8985() {
        rig.portA = FaultInjector.builder(rig.pair.a()).seed(3).txDrop(0.05).rxDrop(0.05).txReorder(0.01).build();
        rig.portB = FaultInjector.builder(rig.pair.b()).seed(4).txDrop(0.05).rxDrop(0.05).txReorder(0.01).build();
        TcpConfig tcp = TcpConfig.defaults().withTimeWait(TimeUnit.MILLISECONDS.toNanos(100));
        a = rig.a(rig.config("a", A_IP, tcp));
        b = rig.b(rig.config("b", B_IP, tcp));
        EchoServer server = rig.echoServer(7);
        StreamClient client = new StreamClient(77, 24 << 20);
        rig.connect(client, 7);
        runUntil(() -> client.received() >= 8 << 20, 60_000);
        com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        BooleanSupplier nearlyAll = () -> client.received() >= 23 << 20;
        threads.getCurrentThreadAllocatedBytes(); // the first call sets itself up
        long segmentsBefore = a.counters().tcpSegmentsSent.get() + b.counters().tcpSegmentsSent.get();
        long before = threads.getCurrentThreadAllocatedBytes();
        runUntil(nearlyAll, 120_000); // stop before the close, which is not per segment
        long allocated = threads.getCurrentThreadAllocatedBytes() - before;
        long segments = a.counters().tcpSegmentsSent.get() + b.counters().tcpSegmentsSent.get() - segmentsBefore;
        runUntil(client::done, 120_000);
        assertEquals("STATUS_SUCCESS", NtStatus.name(client.status()));
        assertTrue(a.counters().tcpRetransmits.get() > 0 && a.counters().tcpRackLost.get() > 0);
        assertTrue(allocated < segments, allocated + " bytes allocated for " + segments + " segments");
        System.out.printf("loss recovery: %d bytes allocated for %d segments%n", allocated, segments);
        runUntil(() -> server.closed() == 1, 2000);
    }

    /** A handler that records the connect outcome and the close. */
    private static final class Outcome implements TcpHandler {
        TcpConnection connection;
        int connectStatus = -1;
        int closeStatus = -1;

        @Override
        public void onConnectComplete(TcpConnection c, int status) {
            connection = c;
            connectStatus = status;
        }

        @Override
        public int onReceive(TcpConnection c, long address, int length) {
            return length;
        }

        @Override
        public void onClosed(TcpConnection c, int status) {
            closeStatus = status;
        }
    }

    /** TCP_TIMESTAMPS off for one connection, SO_RCVBUF of 8 KiB announced to the peer (TcpSocketOptions). */
    @Test
    void perConnectionTimestampsAndReceiveBuffer() {
        a = rig.a(rig.config("a", A_IP, TcpConfig.defaults()));
        b = rig.b(rig.config("b", B_IP, TcpConfig.defaults()));
        EchoServer server = new EchoServer();
        assertEquals(NtStatus.STATUS_SUCCESS, server.listen(b.tcp(), 7));
        a.doWork();
        Outcome plain = new Outcome();
        Outcome tuned = new Outcome();
        assertEquals(NtStatus.STATUS_PENDING, a.tcp().connect(0, 0, B_IP, 7, plain));
        assertEquals(NtStatus.STATUS_PENDING, a.tcp().connect(0, 0, B_IP, 7, tuned, null, 0, 0, false,
            TcpSocketOptions.of(false, 8192, 0, false)));
        runUntil(() -> plain.connectStatus == 0 && tuned.connectStatus == 0, 2000);
        assertTrue(plain.connection.tsOk, "timestamps by default");
        assertFalse(tuned.connection.tsOk, "TCP_TIMESTAMPS off: not offered in the SYN");
        runUntil(() -> b.tcp().connectionCount() == 2, 1000);
        // The server's view of each client's window: 8 KiB for the tuned one.
        int[] windows = new int[2];
        int n = 0;
        for (int i = 0; i < b.config().tcp().maxConnections() && n < 2; i++) {
            TcpConnection c = b.tcp().connectionAt(i);
            if (c != null && c.state() == TcpState.ESTABLISHED) {
                windows[n++] = c.remotePort() == tuned.connection.localPort() ? c.sndWnd : -c.sndWnd;
            }
        }
        assertEquals(2, n);
        int tunedWindow = windows[0] > 0 ? windows[0] : windows[1];
        assertTrue(tunedWindow > 0 && tunedWindow <= 8192, "SO_RCVBUF 8 KiB announced: " + tunedWindow);
    }

    /** TCP_MAXRT: a silent peer ends the connect after the time limit, well before the SYN retries run out. */
    @Test
    void maxRetransmissionTimeEndsAConnectToASilentPeer() {
        a = rig.a(rig.config("a", A_IP, TcpConfig.defaults().withSynRetries(6, TimeUnit.MILLISECONDS.toNanos(50))));
        b = rig.b(rig.config("b", B_IP, TcpConfig.defaults()));
        Outcome o = new Outcome();
        assertEquals(NtStatus.STATUS_PENDING, a.tcp().connect(0, 0, B_IP, 7, o, null, 0, 0, false,
            TcpSocketOptions.of(null, 0, 120, false)));
        long start = System.nanoTime();
        // Only b's ARP reply is needed: run b until a has resolved it and sent its SYN, then never again.
        while (true) {
            a.doWork();
            if (a.counters().tcpSegmentsSent.get() > 0) {
                break;
            }
            b.doWork();
            assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(2), "ARP resolved");
        }
        while (o.connectStatus == -1 && System.nanoTime() - start < TimeUnit.SECONDS.toNanos(5)) {
            a.doWork();
        }
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertEquals("STATUS_IO_TIMEOUT", NtStatus.name(o.connectStatus));
        // Without TCP_MAXRT, 6 retries from 50 ms take 50+100+...+3200 ms = 6.35 s.
        assertTrue(ms < 1500, "gave up after " + ms + " ms");
    }

    /** SO_REUSEADDR: a second connection from the same local port to another destination. */
    @Test
    void reuseAddressAllowsASecondConnectionFromTheSameLocalPort() {
        a = rig.a(rig.config("a", A_IP, TcpConfig.defaults()));
        b = rig.b(rig.config("b", B_IP, TcpConfig.defaults()));
        EchoServer seven = new EchoServer();
        EchoServer eight = new EchoServer();
        assertEquals(NtStatus.STATUS_SUCCESS, seven.listen(b.tcp(), 7));
        assertEquals(NtStatus.STATUS_SUCCESS, eight.listen(b.tcp(), 8));
        a.doWork();
        Outcome first = new Outcome();
        assertEquals(NtStatus.STATUS_PENDING, a.tcp().connect(0, 40000, B_IP, 7, first));
        runUntil(() -> first.connectStatus == 0, 2000);
        assertEquals("STATUS_SHARING_VIOLATION", NtStatus.name(a.tcp().connect(0, 40000, B_IP, 8, new Outcome())));
        assertEquals("STATUS_ADDRESS_ALREADY_EXISTS", NtStatus.name(a.tcp().connect(0, 40000, B_IP, 7, new Outcome(),
            null, 0, 0, false, TcpSocketOptions.of(null, 0, 0, true))));
        Outcome second = new Outcome();
        assertEquals(NtStatus.STATUS_PENDING, a.tcp().connect(0, 40000, B_IP, 8, second, null, 0, 0, false,
            TcpSocketOptions.of(null, 0, 0, true)));
        runUntil(() -> second.connectStatus == 0, 2000);
        assertEquals(40000, second.connection.localPort());
    }

    /** SO_REUSEADDR on a listener: it may listen on a port its predecessor's connections still use. */
    @Test
    void aListenerWithReuseAddressListensOnAPortConnectionsStillUse() {
        a = rig.a(rig.config("a", A_IP, TcpConfig.defaults()));
        b = rig.b(rig.config("b", B_IP, TcpConfig.defaults()));
        EchoServer first = new EchoServer();
        assertEquals(NtStatus.STATUS_SUCCESS, first.listen(b.tcp(), 7));
        a.doWork();
        Outcome o = new Outcome();
        assertEquals(NtStatus.STATUS_PENDING, a.tcp().connect(0, 0, B_IP, 7, o));
        runUntil(() -> o.connectStatus == 0 && b.tcp().connectionCount() == 1, 2000);
        assertEquals(NtStatus.STATUS_SUCCESS, b.tcp().stopListening(7));
        assertEquals(NtStatus.STATUS_SHARING_VIOLATION, b.tcp().listen(0, 7, c -> null),
            "the port is in use by the accepted connection");
        assertEquals(NtStatus.STATUS_SUCCESS, b.tcp().listen(0, 7, c -> null,
            TcpSocketOptions.of(null, 0, 0, true)));
    }
}
