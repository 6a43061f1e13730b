package io.fastpath.stack.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.Mbuf;
import io.fastpath.dpdk.MbufArray;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.Port;
import io.fastpath.dpdk.RingPair;
import io.fastpath.stack.NtStatus;
import io.fastpath.stack.Stack;
import io.fastpath.stack.StackConfig;
import io.fastpath.stack.app.EchoServer;
import io.fastpath.stack.app.StreamClient;
import io.fastpath.stack.app.TestStream;
import io.fastpath.stack.counters.DropReason;
import io.fastpath.stack.wire.EthernetFrame;
import io.fastpath.stack.wire.Ipv4Address;
import io.fastpath.stack.wire.Ipv4Packet;
import io.fastpath.stack.wire.TcpSegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * TCP behaviour between two fastpath stacks over a ring pair, both driven from the test thread (invoker mode),
 * one test per behaviour, named after the RFC clause it checks: connect outcomes (each NTSTATUS provoked for
 * real), simultaneous open, graceful / half / abortive close, many concurrent connections, TIME-WAIT and its
 * reuse, and RFC 5961's blind-reset and blind-SYN defences (with segments crafted by the test and put on the
 * wire as if the peer had sent them).
 */
class TcpBehaviourTest {
    private static final int A_IP = Ipv4Address.parse("10.20.0.1");
    private static final int B_IP = Ipv4Address.parse("10.20.0.2");
    /** On the subnet, but nobody has it: ARP goes unanswered. */
    private static final int NOBODY_IP = Ipv4Address.parse("10.20.0.99");
    /** Off the subnet; the stacks have no gateway. */
    private static final int OFF_SUBNET_IP = Ipv4Address.parse("192.0.2.1");
    private static final long MS = 1_000_000L;
    private static final long KIB = 1024;
    static final int NONE = Integer.MIN_VALUE;
    private static PktmbufPool pool;
    private static int round;

    @TempDir
    Path dir;
    private RingPair pair;
    private Stack a;
    private Stack b;
    /** When set, B's stack is not run: the host behind port B is silent (its frames are drained and counted). */
    private boolean bSilent;
    private int synsSeenAtSilentB;
    private final MbufArray burst = new MbufArray(32);

    @BeforeAll
    static void createPool() {
        pool = PktmbufPool.create("tcpbehave", 16383, 0, PktmbufPool.DEFAULT_DATA_ROOM);
    }

    @AfterAll
    static void freePool() {
        pool.close();
    }

    @BeforeEach
    void up() {
        pair = RingPair.create("tb" + (round++), 4096, pool, pool, EthDevPort.Config.defaults());
    }

    @AfterEach
    void down() {
        for (Stack s : new Stack[] {a, b}) {
            if (s != null) {
                s.onClose();
                s.close();
            }
        }
        drain(pair.a());
        drain(pair.b());
        pair.close();
        assertEquals(0, pool.inUseCount(), "every mbuf returned");
    }

    // ================================================================================== connect outcomes

    @Test
    void connectToPortWithoutListenerIsRefused_rfc9293_s3_10_7_1() {
        a = stack(pair.a(), "a", A_IP, TcpConfig.defaults());
        b = stack(pair.b(), "b", B_IP, TcpConfig.defaults());
        Endpoint client = new Endpoint("client");
        assertStatus(NtStatus.STATUS_PENDING, a.tcp().connect(0, 0, B_IP, 9, client));
        runUntil(client::connectCompleted, 3000, "connect completion");
        assertStatus(NtStatus.STATUS_CONNECTION_REFUSED, client.connectStatus);
        assertEquals(1, b.counters().tcpResetsSent.get(), "B answered the SYN with RST|ACK");
        assertEquals(1, a.counters().tcpResetsReceived.get());
        assertEquals(0, a.tcp().connectionCount());
    }

    @Test
    void connectToOnSubnetHostThatNeverAnswersArpIsHostUnreachable_rfc1122_s2_3_2_2() {
        a = stack(pair.a(), "a", A_IP, TcpConfig.defaults(),
            cfg -> cfg.arp(256, TimeUnit.SECONDS.toNanos(60), 50 * MS, 3));
        b = stack(pair.b(), "b", B_IP, TcpConfig.defaults());
        Endpoint client = new Endpoint("client");
        long start = System.nanoTime();
        assertStatus(NtStatus.STATUS_PENDING, a.tcp().connect(0, 0, NOBODY_IP, 80, client));
        runUntil(client::connectCompleted, 3000, "connect completion");
        long elapsedMs = (System.nanoTime() - start) / MS;
        assertStatus(NtStatus.STATUS_HOST_UNREACHABLE, client.connectStatus);
        assertEquals(1, a.counters().arpResolutionFailures.get());
        assertTrue(a.counters().arpRequestsSent.get() >= 3, "3 ARP requests for the address (+ the announcement)");
        assertTrue(elapsedMs < 900, "ARP gave up (3 x 50 ms), not the SYN timer (1 s): " + elapsedMs + " ms");
        assertEquals(0, a.tcp().connectionCount());
    }

    @Test
    void connectOffSubnetWithoutGatewayIsNetworkUnreachable_rfc1122_s3_3_1_1() {
        a = stack(pair.a(), "a", A_IP, TcpConfig.defaults());
        b = stack(pair.b(), "b", B_IP, TcpConfig.defaults());
        Endpoint client = new Endpoint("client");
        assertStatus(NtStatus.STATUS_NETWORK_UNREACHABLE, a.tcp().connect(0, 0, OFF_SUBNET_IP, 80, client));
        runFor(50);
        assertEquals(NONE, client.connectStatus, "a connect that failed at once gets no callback");
        assertEquals(1, a.counters().noRoute.get());
        assertEquals(0, a.tcp().connectionCount());
    }

    @Test
    void connectToSilentHostTimesOutAfterSynRetries_rfc9293_s3_8_1() {
        a = stack(pair.a(), "a", A_IP, TcpConfig.defaults().withSynRetries(2, 100 * MS));
        b = stack(pair.b(), "b", B_IP, TcpConfig.defaults());
        resolveArp();
        bSilent = true; // B's MAC is in A's ARP cache, but nothing answers any more: SYNs vanish
        Endpoint client = new Endpoint("client");
        long start = System.nanoTime();
        assertStatus(NtStatus.STATUS_PENDING, a.tcp().connect(0, 0, B_IP, 9, client));
        runUntil(client::connectCompleted, 5000, "connect completion");
        long elapsedMs = (System.nanoTime() - start) / MS;
        assertStatus(NtStatus.STATUS_IO_TIMEOUT, client.connectStatus);
        assertEquals(3, synsSeenAtSilentB, "the SYN and 2 retransmissions");
        assertEquals(3, a.counters().tcpTimeouts.get());
        assertTrue(elapsedMs >= 650 && elapsedMs < 2000, "100 + 200 + 400 ms of backed-off RTO: " + elapsedMs);
        assertEquals(0, a.tcp().connectionCount());
    }

    @Test
    void connectFromLocalPortInUseIsSharingViolation_rfc9293_s3_9_1_1() {
        a = stack(pair.a(), "a", A_IP, TcpConfig.defaults());
        b = stack(pair.b(), "b", B_IP, TcpConfig.defaults());
        assertStatus(NtStatus.STATUS_SUCCESS, new EchoServer().listen(b.tcp(), 7));
        // A port a listener holds.
        assertStatus(NtStatus.STATUS_SUCCESS, a.tcp().listen(0, 7000, c -> null));
        assertStatus(NtStatus.STATUS_SHARING_VIOLATION, a.tcp().connect(0, 7000, B_IP, 7, new Endpoint("x")));
        // A port a connection holds: another remote endpoint, same local port.
        Endpoint first = new Endpoint("first");
        assertStatus(NtStatus.STATUS_PENDING, a.tcp().connect(0, 40000, B_IP, 7, first));
        runUntil(first::connectCompleted, 3000, "first connect");
        assertStatus(NtStatus.STATUS_SUCCESS, first.connectStatus);
        assertStatus(NtStatus.STATUS_SHARING_VIOLATION, a.tcp().connect(0, 40000, B_IP, 8, new Endpoint("y")));
        assertStatus(NtStatus.STATUS_SHARING_VIOLATION, a.tcp().listen(0, 40000, c -> null));
        assertEquals(1, a.tcp().connectionCount());
    }

    @Test
    void connectWithExistingFourTupleIsAddressAlreadyExists_rfc9293_s3_9_1_1() {
        a = stack(pair.a(), "a", A_IP, TcpConfig.defaults());
        b = stack(pair.b(), "b", B_IP, TcpConfig.defaults());
        assertStatus(NtStatus.STATUS_SUCCESS, new EchoServer().listen(b.tcp(), 7));
        Endpoint first = new Endpoint("first");
        assertStatus(NtStatus.STATUS_PENDING, a.tcp().connect(0, 40001, B_IP, 7, first));
        // While the first is in SYN-SENT ...
        assertStatus(NtStatus.STATUS_ADDRESS_ALREADY_EXISTS, a.tcp().connect(0, 40001, B_IP, 7, new Endpoint("x")));
        runUntil(first::connectCompleted, 3000, "first connect");
        assertStatus(NtStatus.STATUS_SUCCESS, first.connectStatus);
        // ... and once it is ESTABLISHED.
        assertStatus(NtStatus.STATUS_ADDRESS_ALREADY_EXISTS, a.tcp().connect(0, 40001, B_IP, 7, new Endpoint("y")));
        assertEquals(1, a.tcp().connectionCount());
        assertEquals(TcpState.ESTABLISHED, first.connection.state());
    }

    @Test
    void ephemeralPortExhaustionIsTooManyAddresses_rfc6335_s6() {
        int range = TcpLayer.EPHEMERAL_LAST - TcpLayer.EPHEMERAL_FIRST + 1; // 16384
        // Small buffers (each connection allocates its own on first use) and a SYN timer that never fires here.
        a = stack(pair.a(), "a", A_IP, TcpConfig.defaults().withMaxConnections(range + 16).withBuffers(4096, 4096)
            .withSynRetries(1, TimeUnit.SECONDS.toNanos(30)));
        b = stack(pair.b(), "b", B_IP, TcpConfig.defaults());
        resolveArp();
        bSilent = true; // the SYNs go out and are never answered: every connection stays in SYN-SENT
        Endpoint sink = new Endpoint("sink");
        for (int i = 0; i < range; i++) {
            int rc = a.tcp().connect(0, 0, B_IP, 9, sink);
            if (rc != NtStatus.STATUS_PENDING) {
                throw new AssertionError("connect #" + i + ": " + NtStatus.name(rc));
            }
            if ((i & 255) == 255) {
                step();
            }
        }
        step();
        assertEquals(range, a.tcp().connectionCount());
        assertStatus(NtStatus.STATUS_TOO_MANY_ADDRESSES, a.tcp().connect(0, 0, B_IP, 9, sink));
        assertStatus(NtStatus.STATUS_TOO_MANY_ADDRESSES, a.tcp().connect(0, 0, B_IP, 10, sink));
        // An explicit port outside the ephemeral range still works: it is the range that ran out, not the table.
        assertStatus(NtStatus.STATUS_PENDING, a.tcp().connect(0, 30000, B_IP, 9, sink));
        assertEquals(range + 1, a.tcp().connectionCount());
        assertEquals(NONE, sink.connectStatus, "no connect completed or failed");
        assertTrue(synsSeenAtSilentB > range / 2, "SYNs went out: " + synsSeenAtSilentB);
    }

    @Test
    void connectFromAddressNotOursIsInvalidAddress_rfc9293_s3_9_1_1() {
        a = stack(pair.a(), "a", A_IP, TcpConfig.defaults());
        b = stack(pair.b(), "b", B_IP, TcpConfig.defaults());
        int notOurs = Ipv4Address.parse("10.20.0.50");
        assertStatus(NtStatus.STATUS_INVALID_ADDRESS, a.tcp().connect(notOurs, 0, B_IP, 7, new Endpoint("x")));
        assertStatus(NtStatus.STATUS_INVALID_ADDRESS, a.tcp().listen(notOurs, 7, c -> null));
        assertEquals(0, a.tcp().connectionCount());
        // Our own address given explicitly is fine.
        Endpoint own = new Endpoint("own");
        assertStatus(NtStatus.STATUS_PENDING, a.tcp().connect(A_IP, 0, B_IP, 9, own));
        runUntil(own::connectCompleted, 3000, "connect completion");
        assertStatus(NtStatus.STATUS_CONNECTION_REFUSED, own.connectStatus);
    }

    @Test
    void connectWithFullConnectionTableIsInsufficientResources_rfc9293_s3_9_1_1() {
        a = stack(pair.a(), "a", A_IP, TcpConfig.defaults().withMaxConnections(2));
        b = stack(pair.b(), "b", B_IP, TcpConfig.defaults());
        assertStatus(NtStatus.STATUS_SUCCESS, new EchoServer().listen(b.tcp(), 7));
        Endpoint one = new Endpoint("one");
        Endpoint two = new Endpoint("two");
        assertStatus(NtStatus.STATUS_PENDING, a.tcp().connect(0, 0, B_IP, 7, one));
        assertStatus(NtStatus.STATUS_PENDING, a.tcp().connect(0, 0, B_IP, 7, two));
        runUntil(() -> one.connectCompleted() && two.connectCompleted(), 3000, "two connects");
        assertStatus(NtStatus.STATUS_SUCCESS, one.connectStatus);
        assertStatus(NtStatus.STATUS_SUCCESS, two.connectStatus);
        assertStatus(NtStatus.STATUS_INSUFFICIENT_RESOURCES, a.tcp().connect(0, 0, B_IP, 7, new Endpoint("three")));
        assertEquals(2, a.tcp().connectionCount());
        // An aborted connection frees its entry at once (no TIME-WAIT after RST).
        one.connection.abort();
        Endpoint four = new Endpoint("four");
        assertStatus(NtStatus.STATUS_PENDING, a.tcp().connect(0, 0, B_IP, 7, four));
        runUntil(four::connectCompleted, 3000, "connect after abort");
        assertStatus(NtStatus.STATUS_SUCCESS, four.connectStatus);
    }

    @Test
    void connectsIssuedBeforeArpResolvesAllComplete_rfc1122_s2_3_2_2() {
        a = stack(pair.a(), "a", A_IP, TcpConfig.defaults());
        b = stack(pair.b(), "b", B_IP, TcpConfig.defaults());
        EchoServer server = new EchoServer();
        assertStatus(NtStatus.STATUS_SUCCESS, server.listen(b.tcp(), 7));
        List<Endpoint> clients = new ArrayList<>();
        List<String> earlyCallbacks = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            Endpoint c = new Endpoint("c" + i);
            clients.add(c);
            int rc = a.tcp().connect(0, 0, B_IP, 7, c);
            assertStatus(NtStatus.STATUS_PENDING, rc);
            if (c.connectStatus != NONE) {
                earlyCallbacks.add(c.name + ":" + NtStatus.name(c.connectStatus));
            }
        }
        // RFC 1122 §2.3.2.2 lets the link layer drop frames queued for an unresolved neighbour; TCP then
        // retransmits. A SYN the ARP queue could not hold is a lost segment, not a failed connection, and a
        // connect that returned STATUS_PENDING reports its outcome later, never from inside connect().
        assertEquals(List.of(), earlyCallbacks, "onConnectComplete ran inside connect()");
        runUntil(() -> clients.stream().allMatch(Endpoint::connectCompleted), 5000, "20 connects");
        for (Endpoint c : clients) {
            assertStatus(NtStatus.STATUS_SUCCESS, c.connectStatus);
        }
    }

    // ================================================================================= simultaneous open

    @Test
    void simultaneousOpenConnectsBothSides_rfc9293_s3_5() {
        TcpConfig tcp = TcpConfig.defaults().withTimeWait(100 * MS).withSynRetries(3, 200 * MS);
        a = stack(pair.a(), "a", A_IP, tcp);
        b = stack(pair.b(), "b", B_IP, tcp);
        Endpoint ea = new Endpoint("a").expect(2);
        Endpoint eb = new Endpoint("b").expect(1);
        // Both active opens before either stack runs: the SYNs cross (RFC 9293 figure 7).
        assertStatus(NtStatus.STATUS_PENDING, a.tcp().connect(0, 5001, B_IP, 5002, ea));
        assertStatus(NtStatus.STATUS_PENDING, b.tcp().connect(0, 5002, A_IP, 5001, eb));
        boolean[] synReceived = new boolean[2];
        runUntil(() -> {
            synReceived[0] |= a.tcp().describe().contains("SYN-RECEIVED");
            synReceived[1] |= b.tcp().describe().contains("SYN-RECEIVED");
            return ea.connectCompleted() && eb.connectCompleted();
        }, 3000, "simultaneous open");
        assertTrue(synReceived[0] || synReceived[1], "a SYN met a SYN-SENT connection (SYN-SENT -> SYN-RECEIVED)");
        assertStatus(NtStatus.STATUS_SUCCESS, ea.connectStatus);
        assertStatus(NtStatus.STATUS_SUCCESS, eb.connectStatus);
        assertEquals(TcpState.ESTABLISHED, ea.connection.state());
        assertEquals(TcpState.ESTABLISHED, eb.connection.state());
        assertEquals(0, a.counters().tcpPassiveOpens.get() + b.counters().tcpPassiveOpens.get(), "both opens active");
        assertEquals(0, a.counters().tcpResetsSent.get() + b.counters().tcpResetsSent.get(), "no reset on the way");
        ea.sendStream(1, 64 * KIB, false);
        eb.sendStream(2, 64 * KIB, false);
        runUntil(() -> ea.received == 64 * KIB && eb.received == 64 * KIB, 3000, "data both ways");
        ea.assertIntact();
        eb.assertIntact();
        ea.connection.shutdown();
        eb.shutdownOnPeerClose = true;
        runUntil(() -> ea.closed() && eb.closed(), 3000, "close");
        assertStatus(NtStatus.STATUS_SUCCESS, ea.closeStatus);
        assertStatus(NtStatus.STATUS_SUCCESS, eb.closeStatus);
    }

    // ============================================================================================ close

    @Test
    void gracefulCloseInitiatedByClient_rfc9293_s3_6() {
        TcpConfig tcp = TcpConfig.defaults().withTimeWait(200 * MS);
        a = stack(pair.a(), "a", A_IP, tcp);
        b = stack(pair.b(), "b", B_IP, tcp);
        List<Endpoint> servers = serve(b, 7, 11, true);
        Endpoint client = new Endpoint("client");
        assertStatus(NtStatus.STATUS_PENDING, a.tcp().connect(0, 0, B_IP, 7, client));
        runUntil(client::connectCompleted, 3000, "connect");
        client.sendStream(11, 100_000, true);
        runUntil(() -> client.closed() && servers.size() == 1 && servers.get(0).closed(), 3000, "close");
        long closedAt = System.nanoTime();
        Endpoint server = servers.get(0);
        assertEquals(100_000, server.received);
        server.assertIntact();
        assertStatus(NtStatus.STATUS_SUCCESS, client.closeStatus);
        assertEquals(List.of("peerClosed", "closed STATUS_SUCCESS"), server.events);
        // The active closer holds TIME-WAIT (2 MSL, here 200 ms); the passive closer is gone at once.
        assertEquals(1, a.tcp().connectionCount());
        assertTrue(a.tcp().describe().contains("TIME-WAIT"), a.tcp().describe());
        assertEquals(0, b.tcp().connectionCount(), b.tcp().describe());
        runUntil(() -> a.tcp().connectionCount() == 0, 2000, "TIME-WAIT expiry");
        long heldMs = (System.nanoTime() - closedAt) / MS;
        assertTrue(heldMs >= 150, "TIME-WAIT held " + heldMs + " ms");
    }

    @Test
    void gracefulCloseInitiatedByServer_rfc9293_s3_6() {
        TcpConfig tcp = TcpConfig.defaults().withTimeWait(200 * MS);
        a = stack(pair.a(), "a", A_IP, tcp);
        b = stack(pair.b(), "b", B_IP, tcp);
        List<Endpoint> servers = serve(b, 7, -1, false);
        Endpoint client = new Endpoint("client").expect(12);
        client.shutdownOnPeerClose = true;
        assertStatus(NtStatus.STATUS_PENDING, a.tcp().connect(0, 0, B_IP, 7, client));
        runUntil(() -> servers.size() == 1, 3000, "accept");
        Endpoint server = servers.get(0);
        server.sendStream(12, 100_000, true);
        runUntil(() -> client.closed() && server.closed(), 3000, "close");
        assertEquals(100_000, client.received);
        client.assertIntact();
        assertEquals(List.of("connect STATUS_SUCCESS", "peerClosed", "closed STATUS_SUCCESS"), client.events);
        assertStatus(NtStatus.STATUS_SUCCESS, server.closeStatus);
        assertEquals(0, a.tcp().connectionCount(), a.tcp().describe());
        assertEquals(1, b.tcp().connectionCount());
        assertTrue(b.tcp().describe().contains("TIME-WAIT"), b.tcp().describe());
        runUntil(() -> b.tcp().connectionCount() == 0, 2000, "TIME-WAIT expiry");
    }

    @Test
    void simultaneousCloseBothEnterTimeWait_rfc9293_s3_6() {
        TcpConfig tcp = TcpConfig.defaults().withTimeWait(200 * MS);
        a = stack(pair.a(), "a", A_IP, tcp);
        b = stack(pair.b(), "b", B_IP, tcp);
        List<Endpoint> servers = serve(b, 7, -1, false);
        Endpoint client = new Endpoint("client");
        assertStatus(NtStatus.STATUS_PENDING, a.tcp().connect(0, 0, B_IP, 7, client));
        runUntil(() -> servers.size() == 1 && client.connectCompleted(), 3000, "connect");
        runFor(60); // past the delayed ACK: both sides quiet
        Endpoint server = servers.get(0);
        client.connection.shutdown();
        server.connection.shutdown();
        // Emit both FINs before either stack reads: they cross on the wire (RFC 9293 figure 13).
        long now = System.nanoTime();
        a.tcp().flush(now);
        b.tcp().flush(now);
        runUntil(() -> client.closed() && server.closed(), 3000, "simultaneous close");
        assertStatus(NtStatus.STATUS_SUCCESS, client.closeStatus);
        assertStatus(NtStatus.STATUS_SUCCESS, server.closeStatus);
        assertEquals(1, a.tcp().connectionCount(), a.tcp().describe());
        assertEquals(1, b.tcp().connectionCount(), b.tcp().describe());
        assertTrue(a.tcp().describe().contains("TIME-WAIT") && b.tcp().describe().contains("TIME-WAIT"),
            "A:\n" + a.tcp().describe() + "B:\n" + b.tcp().describe());
        runUntil(() -> a.tcp().connectionCount() == 0 && b.tcp().connectionCount() == 0, 2000, "TIME-WAIT expiry");
    }

    @Test
    void halfCloseServerKeepsSendingAfterClientFin_rfc9293_s3_6() {
        TcpConfig tcp = TcpConfig.defaults().withTimeWait(100 * MS);
        a = stack(pair.a(), "a", A_IP, tcp);
        b = stack(pair.b(), "b", B_IP, tcp);
        long reply = 1 << 20;
        List<Endpoint> servers = serve(b, 7, 21, false);
        Endpoint client = new Endpoint("client").expect(22);
        assertStatus(NtStatus.STATUS_PENDING, a.tcp().connect(0, 0, B_IP, 7, client));
        runUntil(() -> servers.size() == 1 && client.connectCompleted(), 3000, "connect");
        Endpoint server = servers.get(0);
        // Only after the client's FIN does the server start its 1 MiB; then it closes too.
        server.whenPeerCloses = s -> s.sendStream(22, reply, true);
        client.sendStream(21, 1000, true);
        runUntil(() -> client.closed() && server.closed(), 10_000, "half-closed transfer");
        assertEquals(1000, server.received);
        server.assertIntact();
        assertEquals(reply, client.received);
        client.assertIntact();
        assertTrue(client.statesAtReceive.contains("FIN-WAIT-2"),
            "data arrived after our FIN was acknowledged: " + client.statesAtReceive);
        assertStatus(NtStatus.STATUS_SUCCESS, client.closeStatus);
        assertStatus(NtStatus.STATUS_SUCCESS, server.closeStatus);
    }

    @Test
    void activeCloserGetsQueuedDataAndPeerFinBeforeClose_rfc9293_s3_6() {
        TcpConfig tcp = TcpConfig.defaults().withTimeWait(100 * MS);
        a = stack(pair.a(), "a", A_IP, tcp);
        b = stack(pair.b(), "b", B_IP, tcp);
        List<Endpoint> servers = serve(b, 7, -1, false);
        Endpoint client = new Endpoint("client").expect(81);
        assertStatus(NtStatus.STATUS_PENDING, a.tcp().connect(0, 0, B_IP, 7, client));
        runUntil(() -> servers.size() == 1 && client.connectCompleted(), 3000, "connect");
        Endpoint server = servers.get(0);
        server.whenPeerCloses = s -> s.sendStream(81, 100_000, true);
        // The client closes its direction and does not read for now: the server's reply and FIN stay queued
        // (100 kB, well within the 256 KiB window) until the application asks for them (TcpHandler#onReceive).
        client.paused = true;
        client.sendStream(80, 0, true);
        runUntil(server::closed, 3000, "server's reply and FIN acknowledged");
        client.paused = false;
        if (!client.closed()) {
            client.connection.resumeReceive();
        }
        runUntil(client::closed, 3000, "client close");
        assertEquals(List.of("connect STATUS_SUCCESS", "shutdown", "peerClosed", "closed STATUS_SUCCESS"),
            client.events, "received " + client.received + " of 100000");
        assertEquals(100_000, client.received);
        client.assertIntact();
    }

    @Test
    void activeCloserIsToldOfPeerFinBeforeClose_rfc9293_s3_6() {
        TcpConfig tcp = TcpConfig.defaults().withTimeWait(100 * MS);
        a = stack(pair.a(), "a", A_IP, tcp);
        b = stack(pair.b(), "b", B_IP, tcp);
        serve(b, 7, -1, true);
        Endpoint client = new Endpoint("client");
        assertStatus(NtStatus.STATUS_PENDING, a.tcp().connect(0, 0, B_IP, 7, client));
        runUntil(client::connectCompleted, 3000, "connect");
        client.sendStream(82, 0, true);
        runUntil(client::closed, 3000, "close");
        // onPeerClosed is the application's end-of-data mark (a 0-byte read); the passive closer gets it, the
        // active closer must too.
        assertEquals(List.of("connect STATUS_SUCCESS", "shutdown", "peerClosed", "closed STATUS_SUCCESS"),
            client.events);
    }

    @Test
    void abortByClientResetsServer_rfc9293_s3_10_5() {
        abort(true);
    }

    @Test
    void abortByServerResetsClient_rfc9293_s3_10_5() {
        abort(false);
    }

    private void abort(boolean clientAborts) {
        a = stack(pair.a(), "a", A_IP, TcpConfig.defaults());
        b = stack(pair.b(), "b", B_IP, TcpConfig.defaults());
        List<Endpoint> servers = serve(b, 7, 31, false);
        Endpoint client = new Endpoint("client");
        assertStatus(NtStatus.STATUS_PENDING, a.tcp().connect(0, 0, B_IP, 7, client));
        runUntil(() -> servers.size() == 1 && client.connectCompleted(), 3000, "connect");
        Endpoint server = servers.get(0);
        client.sendStream(31, 8192, false);
        runUntil(() -> server.received == 8192, 3000, "data");
        Endpoint aborter = clientAborts ? client : server;
        Endpoint victim = clientAborts ? server : client;
        Stack aborterStack = clientAborts ? a : b;
        Stack victimStack = clientAborts ? b : a;
        aborter.sendStream(32, 64 * KIB, false); // data still queued: dropped by the abort
        aborter.connection.abort();
        assertStatus(NtStatus.STATUS_CONNECTION_ABORTED, aborter.closeStatus);
        runUntil(victim::closed, 3000, "reset reaches the peer");
        assertStatus(NtStatus.STATUS_CONNECTION_RESET, victim.closeStatus);
        assertEquals(1 + aborterStack.counters().drop(DropReason.TCP_NO_CONNECTION).get(),
            aborterStack.counters().tcpResetsSent.get(), "the abort's RST (+ answers to segments already on the way)");
        assertEquals(1, victimStack.counters().tcpResetsReceived.get());
        assertEquals(0, a.tcp().connectionCount(), "no TIME-WAIT after a reset");
        assertEquals(0, b.tcp().connectionCount());
    }

    // ======================================================================================= many at once

    @Test
    void hundredConcurrentEchoesThenTablesDrain_rfc9293() {
        // 64 KiB buffers: 100 connections' zero-copy receive queues on both sides must fit the 16k-mbuf pool.
        TcpConfig tcp = TcpConfig.defaults().withBuffers(64 * 1024, 64 * 1024).withTimeWait(100 * MS);
        a = stack(pair.a(), "a", A_IP, tcp);
        b = stack(pair.b(), "b", B_IP, tcp);
        EchoServer server = new EchoServer();
        assertStatus(NtStatus.STATUS_SUCCESS, server.listen(b.tcp(), 7));
        // Resolve B first: the burst of SYNs behind an unresolved ARP entry is its own test
        // (connectsIssuedBeforeArpResolvesAllComplete_rfc1122_s2_3_2_2).
        resolveArp();
        long each = 256 * KIB;
        List<StreamClient> clients = new ArrayList<>();
        long start = System.nanoTime();
        for (int i = 0; i < 100; i++) {
            StreamClient c = new StreamClient(1000 + i, each);
            clients.add(c);
            assertStatus(NtStatus.STATUS_PENDING, c.connect(a.tcp(), B_IP, 7, System.nanoTime()));
        }
        runUntil(() -> clients.stream().allMatch(StreamClient::done), 60_000, "100 echoes");
        double seconds = (System.nanoTime() - start) / 1e9;
        for (int i = 0; i < clients.size(); i++) {
            StreamClient c = clients.get(i);
            assertEquals("STATUS_SUCCESS", NtStatus.name(c.status()), "client " + i + ": mismatch at "
                + c.mismatchAt() + ", received " + c.received());
            assertEquals(each, c.received());
        }
        runUntil(() -> server.closed() == 100, 3000, "server closes");
        assertEquals(100, server.accepted());
        assertEquals(0, server.abnormalCloses());
        assertEquals(100 * each, server.bytesEchoed());
        runUntil(() -> a.tcp().connectionCount() == 0 && b.tcp().connectionCount() == 0, 3000, "tables drain");
        System.out.printf("100 x 256 KiB echo over a ring pair: %.2f s; retransmits A %d B %d%n", seconds,
            a.counters().tcpRetransmits.get(), b.counters().tcpRetransmits.get());
    }

    // ======================================================================================== TIME-WAIT

    @Test
    void activeCloserHoldsTimeWaitThenTupleIsFree_rfc9293_s3_6() {
        a = stack(pair.a(), "a", A_IP, TcpConfig.defaults().withTimeWait(300 * MS));
        b = stack(pair.b(), "b", B_IP, TcpConfig.defaults().withTimeWait(300 * MS));
        serve(b, 7, 51, true);
        Endpoint first = new Endpoint("first");
        assertStatus(NtStatus.STATUS_PENDING, a.tcp().connect(0, 41000, B_IP, 7, first));
        runUntil(first::connectCompleted, 3000, "connect");
        first.sendStream(51, 1000, true);
        runUntil(first::closed, 3000, "close");
        long closedAt = System.nanoTime();
        assertStatus(NtStatus.STATUS_SUCCESS, first.closeStatus);
        String tw = a.tcp().describe();
        assertTrue(tw.contains(":41000 -> " + Ipv4Address.format(B_IP) + ":7 TIME-WAIT"), tw);
        // The 4-tuple is taken for 2 MSL: our own active reopen is refused ...
        assertStatus(NtStatus.STATUS_ADDRESS_ALREADY_EXISTS, a.tcp().connect(0, 41000, B_IP, 7, new Endpoint("x")));
        runUntil(() -> a.tcp().connectionCount() == 0, 2000, "TIME-WAIT expiry");
        assertTrue((System.nanoTime() - closedAt) / MS >= 250);
        // ... and free again afterwards.
        Endpoint second = new Endpoint("second");
        assertStatus(NtStatus.STATUS_PENDING, a.tcp().connect(0, 41000, B_IP, 7, second));
        runUntil(second::connectCompleted, 3000, "reconnect");
        assertStatus(NtStatus.STATUS_SUCCESS, second.connectStatus);
    }

    @Test
    void timeWaitReopenedByNewSynWithNewerTimestamp_rfc6191_s2() {
        timeWaitReopened(TcpConfig.defaults());
    }

    @Test
    void timeWaitReopenedByNewSynWithHigherSequenceWithoutTimestamps_rfc1122_s4_2_2_13() {
        timeWaitReopened(TcpConfig.defaults().withOptions(false, true, true));
    }

    /** B (the server) closes first and sits in TIME-WAIT for 30 s; A's new SYN on the same 4-tuple reopens it. */
    private void timeWaitReopened(TcpConfig base) {
        a = stack(pair.a(), "a", A_IP, base.withTimeWait(100 * MS));
        b = stack(pair.b(), "b", B_IP, base.withTimeWait(TimeUnit.SECONDS.toNanos(30)));
        List<Endpoint> servers = serve(b, 7, -1, false);
        Endpoint first = new Endpoint("first").expect(61);
        first.shutdownOnPeerClose = true;
        assertStatus(NtStatus.STATUS_PENDING, a.tcp().connect(0, 42000, B_IP, 7, first));
        runUntil(() -> servers.size() == 1, 3000, "accept");
        servers.get(0).sendStream(61, 1000, true);
        runUntil(() -> first.closed() && servers.get(0).closed(), 3000, "close");
        first.assertIntact();
        assertEquals(0, a.tcp().connectionCount(), "the passive closer is gone");
        assertTrue(b.tcp().describe().contains(":7 -> " + Ipv4Address.format(A_IP) + ":42000 TIME-WAIT"),
            b.tcp().describe());
        runFor(5); // a few milliseconds: the new SYN's timestamp (1 ms clock) is newer

        Endpoint second = new Endpoint("second").expect(62);
        second.shutdownOnPeerClose = true;
        assertStatus(NtStatus.STATUS_PENDING, a.tcp().connect(0, 42000, B_IP, 7, second));
        // At once, not after B's 30 s TIME-WAIT nor after A's 1 s SYN retransmission.
        runUntil(() -> servers.size() == 2 && second.connectCompleted(), 500, "reopen from TIME-WAIT");
        assertStatus(NtStatus.STATUS_SUCCESS, second.connectStatus);
        servers.get(1).sendStream(62, 1000, true);
        runUntil(() -> second.closed() && servers.get(1).closed(), 3000, "second close");
        second.assertIntact();
        assertEquals(1000, second.received);
        assertEquals(2, b.counters().tcpPassiveOpens.get());
        assertEquals(0, a.counters().tcpResetsReceived.get() + b.counters().tcpResetsReceived.get());
    }

    @Test
    void timeWaitReopenedBySynWithEqualTimestampAndHigherSequence_rfc6191_s2() {
        StepClock clockA = new StepClock();
        a = new Stack(pair.a(), config("a", A_IP, TcpConfig.defaults().withTimeWait(100 * MS), cfg -> { }), clockA);
        b = stack(pair.b(), "b", B_IP, TcpConfig.defaults().withTimeWait(TimeUnit.SECONDS.toNanos(30)));
        List<Endpoint> servers = serve(b, 7, -1, false);
        Endpoint first = new Endpoint("first").expect(71);
        first.shutdownOnPeerClose = true;
        assertStatus(NtStatus.STATUS_PENDING, a.tcp().connect(0, 43000, B_IP, 7, first));
        runUntil(() -> servers.size() == 1 && first.connectCompleted(), 3000, "accept");
        runFor(60);
        // A's clock stops 100 us into a millisecond: every timestamp A sends from now on has the same value.
        long t = (clockA.nanoTime() / MS + 2) * MS + 100_000;
        clockA.freezeAt(t);
        servers.get(0).sendStream(71, 1000, true);
        runUntil(() -> first.closed() && servers.get(0).closed(), 3000, "close");
        assertTrue(b.tcp().describe().contains("TIME-WAIT"), b.tcp().describe());
        // 400 us later, same millisecond: same TSval, but the ISN (4 us clock, RFC 6528) has moved on by 100.
        clockA.freezeAt(t + 400_000);
        a.doWork();
        Endpoint second = new Endpoint("second");
        assertStatus(NtStatus.STATUS_PENDING, a.tcp().connect(0, 43000, B_IP, 7, second));
        runUntil(() -> servers.size() == 2 && second.connectCompleted(), 500, "reopen from TIME-WAIT");
        assertStatus(NtStatus.STATUS_SUCCESS, second.connectStatus);
    }

    // ========================================================================================= RFC 5961

    @Test
    void inWindowResetWithWrongSequenceGetsChallengeAck_rfc5961_s3_2() {
        Established e = establish();
        int rcvNxt = e.server.connection.rcvNxt;
        long acksBefore = b.counters().tcpChallengeAcks.get();
        long sentBefore = b.counters().tcpSegmentsSent.get();
        injectToB(e, rcvNxt + 1000, 0, TcpSegment.RST);
        b.doWork();
        assertEquals(acksBefore + 1, b.counters().tcpChallengeAcks.get(), "challenge ACK counted");
        assertEquals(sentBefore + 1, b.counters().tcpSegmentsSent.get(), "challenge ACK sent");
        assertEquals(TcpState.ESTABLISHED, e.server.connection.state(), b.tcp().describe());
        assertEquals(NONE, e.server.closeStatus);
        assertAlive(e);
    }

    @Test
    void outOfWindowResetIsDiscarded_rfc5961_s3_2() {
        Established e = establish();
        int rcvNxt = e.server.connection.rcvNxt;
        long dropsBefore = b.counters().drop(DropReason.TCP_OUT_OF_WINDOW).get();
        long sentBefore = b.counters().tcpSegmentsSent.get();
        injectToB(e, rcvNxt + (1 << 30), 0, TcpSegment.RST);
        b.doWork();
        assertEquals(dropsBefore + 1, b.counters().drop(DropReason.TCP_OUT_OF_WINDOW).get());
        assertEquals(sentBefore, b.counters().tcpSegmentsSent.get(), "no answer to an out-of-window RST");
        assertEquals(TcpState.ESTABLISHED, e.server.connection.state());
        assertAlive(e);
    }

    @Test
    void resetAtExactSequenceClosesConnection_rfc5961_s3_2() {
        Established e = establish();
        injectToB(e, e.server.connection.rcvNxt, 0, TcpSegment.RST);
        b.doWork();
        assertStatus(NtStatus.STATUS_CONNECTION_RESET, e.server.closeStatus);
        assertEquals(0, b.tcp().connectionCount());
        // The client still believes in the connection; its next segment meets B's RST (RFC 9293 §3.10.7.1).
        e.client.sendStream(42, 100, false);
        runUntil(e.client::closed, 3000, "client learns of the reset");
        assertStatus(NtStatus.STATUS_CONNECTION_RESET, e.client.closeStatus);
    }

    @Test
    void synInEstablishedGetsChallengeAck_rfc5961_s4_2() {
        Established e = establish();
        long acksBefore = b.counters().tcpChallengeAcks.get();
        long sentBefore = b.counters().tcpSegmentsSent.get();
        injectToB(e, e.server.connection.rcvNxt + 100, 0, TcpSegment.SYN);
        b.doWork();
        assertEquals(acksBefore + 1, b.counters().tcpChallengeAcks.get());
        assertEquals(sentBefore + 1, b.counters().tcpSegmentsSent.get());
        assertEquals(TcpState.ESTABLISHED, e.server.connection.state());
        assertEquals(NONE, e.server.closeStatus);
        assertAlive(e);
    }

    private record Established(Endpoint client, Endpoint server) {
    }

    private Established establish() {
        a = stack(pair.a(), "a", A_IP, TcpConfig.defaults());
        b = stack(pair.b(), "b", B_IP, TcpConfig.defaults());
        List<Endpoint> servers = serve(b, 7, 41, false);
        Endpoint client = new Endpoint("client").expect(43);
        assertStatus(NtStatus.STATUS_PENDING, a.tcp().connect(0, 0, B_IP, 7, client));
        runUntil(() -> servers.size() == 1 && client.connectCompleted(), 3000, "connect");
        runFor(60); // past delayed ACKs: both sides quiet, RCV.NXT stable
        return new Established(client, servers.get(0));
    }

    /** Data still flows both ways and both ends are untouched. */
    private void assertAlive(Established e) {
        e.client.sendStream(41, 64 * KIB, false);
        e.server.sendStream(43, 64 * KIB, false);
        runUntil(() -> e.server.received == 64 * KIB && e.client.received == 64 * KIB, 3000, "data after the attack");
        e.server.assertIntact();
        e.client.assertIntact();
        assertEquals(NONE, e.client.closeStatus);
        assertEquals(0, a.counters().tcpResetsReceived.get(), "A accepted no reset");
        assertEquals(0, b.counters().tcpResetsReceived.get(), "B accepted no reset");
    }

    /** A segment as if from the client's 4-tuple, put on the wire towards B (port A's transmit side). */
    private void injectToB(Established e, int seq, int ack, int flags) {
        MbufArray one = new MbufArray(1);
        assertTrue(pool.allocBulk(one, 0, 1));
        long m = one.get(0);
        UnsafeBuffer f = new UnsafeBuffer(Mbuf.dataAddress(m), 60);
        f.setMemory(0, 60, (byte) 0);
        int ipLength = Ipv4Packet.MIN_HEADER_LENGTH + TcpSegment.MIN_HEADER_LENGTH;
        new EthernetFrame().wrap(f, 0, EthernetFrame.HEADER_LENGTH + ipLength)
            .writeHeader(b.config().mac(), a.config().mac(), EthernetFrame.ETHERTYPE_IPV4);
        new Ipv4Packet().wrap(f, EthernetFrame.HEADER_LENGTH, ipLength)
            .writeHeader(Ipv4Packet.DEFAULT_TTL, Ipv4Packet.PROTOCOL_TCP, A_IP, B_IP, TcpSegment.MIN_HEADER_LENGTH, 4242);
        TcpSegment s = new TcpSegment().wrap(f, EthernetFrame.HEADER_LENGTH + Ipv4Packet.MIN_HEADER_LENGTH,
            TcpSegment.MIN_HEADER_LENGTH);
        s.writeHeader(e.client.connection.localPort(), e.client.connection.remotePort(), seq, ack, flags, 0, 0);
        s.fillChecksum(A_IP, B_IP);
        Mbuf.setLength(m, 60);
        assertEquals(1, pair.a().transmit(one, 0, 1));
    }

    // ========================================================================================== helpers

    /** A handler that records what happens, verifies received data, and sends a stream on request. */
    static final class Endpoint implements TcpHandler {
        final String name;
        TcpConnection connection;
        int connectStatus = NONE;
        int closeStatus = NONE;
        boolean peerClosed;
        boolean paused;
        boolean shutdownOnPeerClose;
        Consumer<Endpoint> whenPeerCloses;
        final List<String> events = new ArrayList<>();
        final List<String> statesAtReceive = new ArrayList<>();
        long rxSeed = -1;
        long received;
        long mismatchAt = -1;
        private long txSeed;
        private long txTotal;
        private long txSent;
        private boolean shutdownWhenSent;
        private final UnsafeBuffer chunk = new UnsafeBuffer(new byte[16384]);
        private final UnsafeBuffer view = new UnsafeBuffer(0, 0);

        Endpoint(String name) {
            this.name = name;
        }

        Endpoint expect(long seed) {
            this.rxSeed = seed;
            return this;
        }

        boolean connectCompleted() {
            return connectStatus != NONE;
        }

        boolean closed() {
            return closeStatus != NONE;
        }

        void assertIntact() {
            assertEquals(-1, mismatchAt, name + ": received data differs at byte " + mismatchAt);
        }

        /** Sends {@code total} bytes of stream {@code seed} as send space allows; then FIN if asked. */
        void sendStream(long seed, long total, boolean thenShutdown) {
            txSeed = seed;
            txTotal = total;
            txSent = 0;
            shutdownWhenSent = thenShutdown;
            fill();
        }

        private void fill() {
            while (txSent < txTotal) {
                int n = (int) Math.min(chunk.capacity(), Math.min(txTotal - txSent, connection.sendSpace()));
                if (n <= 0) {
                    return;
                }
                for (int i = 0; i < n; i++) {
                    chunk.putByte(i, TestStream.at(txSeed, txSent + i));
                }
                int taken = connection.send(chunk, 0, n);
                txSent += taken;
                if (taken < n) {
                    return;
                }
            }
            if (shutdownWhenSent) {
                shutdownWhenSent = false;
                events.add("shutdown");
                connection.shutdown();
            }
        }

        @Override
        public void onConnectComplete(TcpConnection c, int status) {
            connectStatus = status;
            events.add("connect " + NtStatus.name(status));
            if (status == NtStatus.STATUS_SUCCESS) {
                connection = c;
            }
        }

        @Override
        public int onReceive(TcpConnection c, long address, int length) {
            if (paused) {
                return 0;
            }
            String state = TcpState.name(c.state());
            if (!statesAtReceive.contains(state)) {
                statesAtReceive.add(state);
            }
            if (rxSeed >= 0) {
                view.wrap(address, length);
                for (int i = 0; i < length; i++) {
                    if (mismatchAt < 0 && view.getByte(i) != TestStream.at(rxSeed, received + i)) {
                        mismatchAt = received + i;
                    }
                }
            }
            received += length;
            return length;
        }

        @Override
        public void onSendSpace(TcpConnection c, int freeBytes) {
            if (connection != null && txSent < txTotal) {
                fill();
            }
        }

        @Override
        public void onPeerClosed(TcpConnection c) {
            peerClosed = true;
            events.add("peerClosed");
            if (whenPeerCloses != null) {
                whenPeerCloses.accept(this);
            }
            if (shutdownOnPeerClose) {
                c.shutdown();
            }
        }

        @Override
        public void onClosed(TcpConnection c, int status) {
            closeStatus = status;
            events.add("closed " + NtStatus.name(status));
        }

        @Override
        public String toString() {
            return name + " " + events + " received " + received;
        }
    }

    /** Listens on {@code port}; every accepted connection gets a fresh Endpoint (verifying {@code seed} if >= 0). */
    static List<Endpoint> serve(Stack s, int port, long seed, boolean shutdownOnPeerClose) {
        return serve(s, port, e -> {
            if (seed >= 0) {
                e.expect(seed);
            }
            e.shutdownOnPeerClose = shutdownOnPeerClose;
        });
    }

    /** Listens on {@code port}; {@code setup} prepares each accepted connection's Endpoint (in onAccept). */
    static List<Endpoint> serve(Stack s, int port, Consumer<Endpoint> setup) {
        List<Endpoint> accepted = new ArrayList<>();
        assertStatus(NtStatus.STATUS_SUCCESS, s.tcp().listen(0, port, c -> {
            Endpoint e = new Endpoint("server" + accepted.size());
            e.connection = c;
            accepted.add(e);
            setup.accept(e);
            return e;
        }));
        return accepted;
    }

    /** A clock that follows System.nanoTime() until frozen; monotonic across freezes. */
    static final class StepClock implements NanoClock {
        private long offset;
        private long frozenAt = -1;

        void freezeAt(long t) {
            assertTrue(t >= nanoTime(), "clock must not go back");
            frozenAt = t;
        }

        @Override
        public long nanoTime() {
            return frozenAt >= 0 ? frozenAt : System.nanoTime() + offset;
        }
    }

    private StackConfig config(String name, int ip, TcpConfig tcp, Consumer<StackConfig.Builder> more) {
        StackConfig.Builder builder = StackConfig.builder().name(name).address(ip, 24).tcp(tcp)
            .countersFile(dir.resolve(name + ".counters"));
        more.accept(builder);
        return builder.build();
    }

    private Stack stack(Port port, String name, int ip, TcpConfig tcp) {
        return stack(port, name, ip, tcp, cfg -> { });
    }

    private Stack stack(Port port, String name, int ip, TcpConfig tcp, Consumer<StackConfig.Builder> more) {
        return new Stack(port, config(name, ip, tcp, more));
    }

    static void assertStatus(int expected, int actual) {
        assertEquals(NtStatus.name(expected), NtStatus.name(actual));
    }

    /** A pings B once: A learns B's MAC (and B A's). */
    private void resolveArp() {
        long before = a.counters().icmpEchoRepliesReceived.get();
        assertTrue(a.ping(B_IP, 1, 8));
        runUntil(() -> a.counters().icmpEchoRepliesReceived.get() > before, 3000, "ping B");
        a.pollEvents(new io.fastpath.stack.StackEventHandler() {
            @Override
            public void onEchoReply(int from, int sequence, long roundTripNs) {
            }

            @Override
            public void onSendFailed(int destination, int sequence, int status) {
            }
        });
    }

    private void step() {
        a.doWork();
        if (b != null && !bSilent) {
            b.doWork();
        } else {
            drainCountingSyns(pair.b());
        }
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
                throw new AssertionError(what + ": not done in " + timeoutMs + " ms\n" + diagnostics());
            }
            step();
        }
    }

    private String diagnostics() {
        StringBuilder sb = new StringBuilder();
        for (Stack s : new Stack[] {a, b}) {
            if (s == null) {
                continue;
            }
            var c = s.counters();
            sb.append(s.config().name()).append(": ").append(s.tcp().connectionCount()).append(" connections; segs out ")
                .append(c.tcpSegmentsSent.get()).append(" in ").append(c.tcpSegmentsReceived.get()).append(", rst out ")
                .append(c.tcpResetsSent.get()).append(" in ").append(c.tcpResetsReceived.get()).append(", challenge acks ")
                .append(c.tcpChallengeAcks.get()).append(", timeouts ").append(c.tcpTimeouts.get())
                .append(", retransmits ").append(c.tcpRetransmits.get()).append(", out-of-window drops ")
                .append(c.drop(DropReason.TCP_OUT_OF_WINDOW).get()).append("\n");
            String d = s.tcp().describe();
            sb.append(d.length() > 4000 ? d.substring(0, 4000) + "...\n" : d);
        }
        return sb.toString();
    }

    /** Empties a port nobody runs, counting the TCP SYNs (without ACK) it was sent. */
    private void drainCountingSyns(Port port) {
        UnsafeBuffer f = new UnsafeBuffer(0, 0);
        for (int n; (n = port.receive(burst, 32)) > 0; ) {
            for (int i = 0; i < n; i++) {
                long m = burst.get(i);
                f.wrap(Mbuf.dataAddress(m), Mbuf.dataLen(m));
                if (f.capacity() >= 54 && (f.getShort(12, java.nio.ByteOrder.BIG_ENDIAN) & 0xFFFF) == 0x0800
                    && f.getByte(23) == Ipv4Packet.PROTOCOL_TCP) {
                    int ihl = (f.getByte(14) & 0x0F) * 4;
                    int flags = f.getByte(14 + ihl + 13) & 0xFF;
                    if ((flags & (TcpSegment.SYN | TcpSegment.ACK)) == TcpSegment.SYN) {
                        synsSeenAtSilentB++;
                    }
                }
            }
            burst.freeAll(n);
        }
    }

    private static void drain(Port port) {
        MbufArray array = new MbufArray(32);
        for (int n; (n = port.receive(array, 32)) > 0; ) {
            array.freeAll(n);
        }
    }
}
