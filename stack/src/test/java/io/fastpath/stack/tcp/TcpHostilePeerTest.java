package io.fastpath.stack.tcp;

import static io.fastpath.stack.tcp.TcpBehaviourTest.assertStatus;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.MbufArray;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.Port;
import io.fastpath.dpdk.RingPair;
import io.fastpath.stack.NtStatus;
import io.fastpath.stack.Stack;
import io.fastpath.stack.StackConfig;
import io.fastpath.stack.StackEventHandler;
import io.fastpath.stack.app.TestStream;
import io.fastpath.stack.counters.DropReason;
import io.fastpath.stack.tcp.TcpBehaviourTest.Endpoint;
import io.fastpath.stack.wire.Ipv4Address;
import io.fastpath.stack.wire.TcpSegment;
import java.nio.file.Path;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A remote host that does not play fair (issue 10): it pins mbufs with out-of-order and tiny segments, or lets
 * a window-limited transfer run for ever. Stack B (the victim) and a legitimate client stack A share one side
 * of a ring pair with a {@link RawPeer} attacker at another address; everything runs on the test thread. A
 * zero window held for minutes and the RFC 5961 §7 limits are tested segment by segment in
 * {@link TcpStateMachineTest}.
 */
class TcpHostilePeerTest {
    private static final int A_IP = Ipv4Address.parse("10.21.0.1");
    private static final int B_IP = Ipv4Address.parse("10.21.0.2");
    private static final int EVIL_IP = Ipv4Address.parse("10.21.0.66");
    private static final long EVIL_MAC = 0x02_00_00_00_00_66L;
    private static final long MS = 1_000_000L;
    private static final int POOL_MBUFS = 8191;
    private static PktmbufPool pool;
    private static int round;

    @TempDir
    Path dir;
    private RingPair pair;
    private RawPeer evil;
    private MtuLimitedPath path;
    private Stack a;
    private Stack b;

    @BeforeAll
    static void createPool() {
        pool = PktmbufPool.create("tcphostile", POOL_MBUFS, 0, PktmbufPool.DEFAULT_DATA_ROOM);
    }

    @AfterAll
    static void freePool() {
        pool.close();
    }

    @BeforeEach
    void up() {
        pair = RingPair.create("th" + (round++), 4096, pool, pool, EthDevPort.Config.defaults());
    }

    @AfterEach
    void down() {
        for (Stack s : new Stack[] {a, b}) {
            if (s != null) {
                s.onClose();
                s.close();
            }
        }
        if (path != null) {
            path.drain();
        }
        drain(pair.a());
        drain(pair.b());
        pair.close();
        assertEquals(0, pool.inUseCount(), "every mbuf returned");
    }

    // ============================================================================ receive memory

    /**
     * Issue 10, reproduction 1, scaled to this pool: connections that each send one-byte segments with a
     * one-byte hole before each park one mbuf per byte in the out-of-order store. 40 x 256 of them are more
     * than the pool holds; before the fix the stack then could not even allocate a SYN-ACK or an echo reply.
     * Now TCP's share is capped (pool less a reserve), out-of-order data is pruned first (RFC 2018 §8 allows
     * reneging), and a legitimate client is served and pinged during and after the attack.
     */
    @Test
    void outOfOrderFloodCannotTakeThePool_issue10_rfc2018_s8() {
        a = stack(evilPort(), "a", A_IP, TcpConfig.defaults());
        b = stack(pair.b(), "b", B_IP, TcpConfig.defaults());
        List<Endpoint> servers = TcpBehaviourTest.serve(b, 7, e -> {
        });
        int connections = 40;
        int[] iss = new int[connections];
        int[] bIss = new int[connections];
        for (int i = 0; i < connections; i++) {
            iss[i] = 1_000_000 * (i + 1);
            bIss[i] = handshake(20000 + i, iss[i]);
        }
        assertEquals(connections, servers.size());
        // 256 one-byte segments per connection, each after a one-byte hole.
        byte[] one = {42};
        for (int k = 0; k < 256; k++) {
            for (int i = 0; i < connections; i++) {
                evil.send(20000 + i, 7, iss[i] + 1 + 2 * k + 1, bIss[i] + 1, TcpSegment.ACK, 65535, one, 0);
            }
            step(); // B takes 32 frames a duty cycle: keep the wire from queueing what the pool must hold
            step();
        }
        runFor(50);
        StackStatus during = status();
        assertTrue(b.tcp().memoryHeldMbufs() <= b.tcp().memoryLimitMbufs(), during.toString());
        assertTrue(pool.availableCount() >= 512, "the pool keeps its reserve: " + during);
        assertTrue(b.counters().tcpOutOfOrderPruned.get() + b.counters().drop(DropReason.TCP_MEMORY_LIMIT).get() > 0,
            "the limit was reached and enforced: " + during);
        assertEquals(0, evil.allocationFailures, "the attacker itself never found the pool empty");

        // A legitimate client is served during the attack: connect, 64 KiB each way, and a ping.
        Endpoint client = new Endpoint("client").expect(77);
        assertStatus(NtStatus.STATUS_PENDING, a.tcp().connect(0, 0, B_IP, 7, client));
        runUntil(client::connectCompleted, 3000, "legitimate connect during the attack");
        assertStatus(NtStatus.STATUS_SUCCESS, client.connectStatus);
        Endpoint server = servers.get(servers.size() - 1);
        server.expect(78);
        client.sendStream(78, 64 * 1024, false);
        server.sendStream(77, 64 * 1024, false);
        runUntil(() -> server.received == 64 * 1024 && client.received == 64 * 1024, 5000, "echo during the attack");
        server.assertIntact();
        client.assertIntact();
        ping(a, B_IP);

        // The attacker leaves (exact resets): everything it pinned is freed.
        for (int i = 0; i < connections; i++) {
            evil.send(20000 + i, 7, iss[i] + 1, 0, TcpSegment.RST, 0, null, 0);
        }
        runFor(50);
        assertEquals(1, b.tcp().connectionCount(), "only the legitimate connection is left: " + status());
        assertEquals(0, b.tcp().memoryHeldMbufs(), "no mbuf pinned by anyone: " + status());
        ping(a, B_IP);
    }

    /**
     * A peer sends one-byte segments in order while the application does not read: each would pin an mbuf
     * (2 KiB for 1 byte). The receive queue collapses them into fewer mbufs (Linux's tcp_collapse), so the
     * bytes are all accepted and acknowledged, in order, and the connection holds a handful of mbufs.
     */
    @Test
    void tinyInOrderSegmentsAreCollapsedNotRefused_issue10_linuxTcpCollapse() {
        a = stack(evilPort(), "a", A_IP, TcpConfig.defaults());
        b = stack(pair.b(), "b", B_IP, TcpConfig.defaults());
        List<Endpoint> servers = TcpBehaviourTest.serve(b, 7, e -> {
            e.expect(99);
            e.paused = true;
        });
        int iss = 5_000_000;
        int bIss = handshake(30000, iss);
        int bytes = 3000;
        for (int k = 0; k < bytes; k++) {
            evil.send(30000, 7, iss + 1 + k, bIss + 1, TcpSegment.ACK | TcpSegment.PSH, 65535,
                new byte[] {TestStream.at(99, k)}, 0);
            if (k % 32 == 31) {
                step();
            }
        }
        runUntil(() -> evil.last(30000).ack() == iss + 1 + bytes, 2000, "every byte acknowledged");
        assertTrue(b.counters().tcpCollapsedMbufs.get() > 0, status().toString());
        assertTrue(b.tcp().memoryHeldMbufs() < 300, "a few mbufs, not one per byte: " + status());
        assertEquals(0, b.counters().drop(DropReason.TCP_RECEIVE_QUEUE_FULL).get(), status().toString());
        Endpoint server = servers.get(0);
        server.paused = false;
        server.connection.resumeReceive();
        runUntil(() -> server.received == bytes, 2000, "the application reads them all");
        server.assertIntact();
        evil.send(30000, 7, iss + 1 + bytes, 0, TcpSegment.RST, 0, null, 0);
        runFor(20);
        assertEquals(0, b.tcp().memoryHeldMbufs(), status().toString());
    }

    // ============================================================================ congestion window

    /**
     * Issue 10, reproduction 3: with the receiver's window the limit, cwnd used to grow by an MSS per ACK for
     * as long as the transfer ran, until it wrapped past 2^31. RFC 7661: grow it only while it limits the
     * sender. 32 MiB through a 64 KiB window; cwnd stays within a few windows of the flight.
     */
    @Test
    void cwndDoesNotGrowWhileTheReceiveWindowLimits_rfc7661_s4_1() {
        a = stack(pair.a(), "a", A_IP, TcpConfig.defaults());
        b = stack(pair.b(), "b", B_IP, TcpConfig.defaults().withBuffers(256 * 1024, 64 * 1024));
        List<Endpoint> servers = TcpBehaviourTest.serve(b, 7, 5, false);
        Endpoint client = new Endpoint("client");
        assertStatus(NtStatus.STATUS_PENDING, a.tcp().connect(0, 0, B_IP, 7, client));
        runUntil(client::connectCompleted, 3000, "connect");
        long total = 32L << 20;
        client.sendStream(5, total, false);
        runUntil(() -> servers.size() == 1 && servers.get(0).received == total, 20_000, "32 MiB");
        servers.get(0).assertIntact();
        int cwnd = client.connection.congestionWindow();
        assertTrue(cwnd > 0 && cwnd <= 4 * 64 * 1024, "cwnd " + cwnd + " bounded by the flight the 64 KiB window allows");
    }

    // ============================================================================ path MTU

    /**
     * Issue 10 item 7. Every segment leaves with DF set; a path whose MTU is below the link's used to be a
     * silent black hole, since ICMP "fragmentation needed" was ignored. RFC 1191 §4: lower the MSS to the
     * reported next-hop MTU, and send what was lost again in the smaller segments.
     */
    @Test
    void pathMtuIsLearntFromFragmentationNeeded_rfc1191_s4() {
        path = new MtuLimitedPath(pair.a(), 1000, true);
        a = stack(path, "a", A_IP, TcpConfig.defaults());
        b = stack(pair.b(), "b", B_IP, TcpConfig.defaults());
        List<Endpoint> servers = TcpBehaviourTest.serve(b, 7, 3, false);
        Endpoint client = new Endpoint("client");
        assertStatus(NtStatus.STATUS_PENDING, a.tcp().connect(0, 0, B_IP, 7, client));
        runUntil(client::connectCompleted, 3000, "connect");
        long total = 1 << 20;
        client.sendStream(3, total, false);
        runUntil(() -> servers.size() == 1 && servers.get(0).received == total, 5000, "1 MiB over a 1000-byte path");
        servers.get(0).assertIntact();
        assertTrue(path.dropped > 0, "the path dropped the first large segments");
        assertTrue(a.counters().tcpPathMtuReductions.get() >= 1);
        assertTrue(client.connection.mss() <= 1000 - 40, "mss " + client.connection.mss());
        assertEquals(0, a.counters().tcpTimeouts.get(), "resent at once, not after a retransmission timeout");
    }

    /**
     * RFC 5927 §4.1: an ICMP error must quote a sequence number in SND.UNA..SND.NXT, or a blind attacker could
     * shrink any connection's segments to nothing (and an MTU below 552 is never taken, as Linux's min_pmtu).
     */
    @Test
    void fragmentationNeededQuotingAnotherSequenceIsIgnored_rfc5927_s4_1() {
        path = new MtuLimitedPath(pair.a(), 1500, true);
        a = stack(path, "a", A_IP, TcpConfig.defaults());
        b = stack(pair.b(), "b", B_IP, TcpConfig.defaults());
        List<Endpoint> servers = TcpBehaviourTest.serve(b, 7, 3, false);
        Endpoint client = new Endpoint("client");
        assertStatus(NtStatus.STATUS_PENDING, a.tcp().connect(0, 0, B_IP, 7, client));
        runUntil(client::connectCompleted, 3000, "connect");
        int mss = client.connection.mss();
        TcpConnection c = client.connection;
        path.forge(a.config().mac(), A_IP, c.localPort(), B_IP, 7, c.sndUna + (1 << 30));
        runFor(20);
        assertEquals(mss, client.connection.mss(), "a guessed sequence number changes nothing");
        assertEquals(1, a.counters().tcpPathMtuIgnored.get());
        client.sendStream(3, 256 * 1024, false);
        runUntil(() -> servers.get(0).received == 256 * 1024, 5000, "data after the forged ICMP");
        servers.get(0).assertIntact();
    }

    // ============================================================================ transmit back-pressure

    /**
     * Issue 10 item 7: when the port's queue was full, frames TCP had built (and counted as sent) were dropped
     * after 64 waited: self-inflicted loss, repaired by retransmission. Over a ring of 64 slots a 256 KiB
     * window does not fit in one duty cycle; TCP now waits for room instead.
     */
    @Test
    void aFullPortHoldsTcpBackInsteadOfDroppingSegments_issue10_item7() {
        pair.close();
        pair = RingPair.create("thsmall" + (round++), 64, pool, pool, EthDevPort.Config.defaults());
        a = stack(pair.a(), "a", A_IP, TcpConfig.defaults());
        b = stack(pair.b(), "b", B_IP, TcpConfig.defaults());
        List<Endpoint> servers = TcpBehaviourTest.serve(b, 7, 21, false);
        Endpoint client = new Endpoint("client");
        assertStatus(NtStatus.STATUS_PENDING, a.tcp().connect(0, 0, B_IP, 7, client));
        runUntil(client::connectCompleted, 3000, "connect");
        long total = 8 << 20;
        client.sendStream(21, total, false);
        runUntil(() -> servers.get(0).received == total, 10_000, "8 MiB through a 64-slot ring");
        servers.get(0).assertIntact();
        assertEquals(0, a.counters().drop(DropReason.TX_RING_FULL).get(), "nothing dropped at the port");
        assertEquals(0, a.counters().tcpRetransmits.get(), "nothing to repair");
        assertTrue(a.counters().txBackPressure.get() > 0, "the port did push back");
    }

    // =================================================================================== helpers

    private record StackStatus(int held, int limit, int available, long pruned, long refused, long collapsed) {
    }

    private StackStatus status() {
        var c = b.counters();
        return new StackStatus(b.tcp().memoryHeldMbufs(), b.tcp().memoryLimitMbufs(), pool.availableCount(),
            c.tcpOutOfOrderPruned.get(), c.drop(DropReason.TCP_MEMORY_LIMIT).get(), c.tcpCollapsedMbufs.get());
    }

    /** Port A shared by stack A and the attacker (at EVIL_IP). */
    private Port evilPort() {
        evil = new RawPeer(pair.a(), EVIL_IP, EVIL_MAC, B_IP, StackConfig.derivedMac(B_IP));
        return evil;
    }

    /** The attacker's three-way handshake from {@code port} with ISN {@code iss}; returns B's ISN. */
    private int handshake(int port, int iss) {
        assertTrue(evil.send(port, 7, iss, 0, TcpSegment.SYN, 65535, null, 1460));
        runUntil(() -> evil.last(port) != null && evil.last(port).has(TcpSegment.SYN | TcpSegment.ACK), 3000,
            "SYN-ACK to " + port);
        RawPeer.Segment synAck = evil.last(port);
        assertEquals(iss + 1, synAck.ack());
        assertTrue(evil.send(port, 7, iss + 1, synAck.seq() + 1, TcpSegment.ACK, 65535, null, 0));
        step();
        return synAck.seq();
    }

    private void ping(Stack from, int to) {
        long before = from.counters().icmpEchoRepliesReceived.get();
        assertTrue(from.ping(to, 1, 8));
        runUntil(() -> from.counters().icmpEchoRepliesReceived.get() > before, 3000, "ping");
        from.pollEvents(new StackEventHandler() {
            @Override
            public void onEchoReply(int source, int sequence, long roundTripNs) {
            }

            @Override
            public void onSendFailed(int destination, int sequence, int status) {
            }
        });
    }

    private Stack stack(Port port, String name, int ip, TcpConfig tcp) {
        StackConfig config = StackConfig.builder().name(name).address(ip, 24).tcp(tcp)
            .countersFile(dir.resolve(name + ".counters")).build();
        return new Stack(port, config);
    }

    private void step() {
        a.doWork();
        b.doWork();
    }

    private void runFor(long ms) {
        long end = System.nanoTime() + ms * MS;
        while (System.nanoTime() < end) {
            step();
        }
    }

    private void runUntil(BooleanSupplier done, long timeoutMs, String what) {
        long deadline = System.nanoTime() + timeoutMs * MS;
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(what + ": not done in " + timeoutMs + " ms; " + (b == null ? "" : status()
                    + "\n" + b.tcp().describe()));
            }
            step();
        }
        assertNotNull(what);
    }

    private static void drain(Port port) {
        MbufArray array = new MbufArray(32);
        for (int n; (n = port.receive(array, 32)) > 0; ) {
            array.freeAll(n);
        }
    }
}
