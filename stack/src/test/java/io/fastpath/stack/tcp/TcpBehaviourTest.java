package io.fastpath.stack.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.dpdk.Mbuf;
import io.fastpath.dpdk.MbufArray;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.Port;
import io.fastpath.stack.NtStatus;
import io.fastpath.stack.Stack;
import io.fastpath.stack.StackConfig;
import io.fastpath.stack.app.EchoServer;
import io.fastpath.stack.app.StreamClient;
import io.fastpath.stack.app.TestStream;
import io.fastpath.stack.wire.Ipv4Address;
import io.fastpath.stack.wire.Ipv4Packet;
import io.fastpath.stack.wire.TcpSegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * TCP behaviour between two fastpath stacks over a ring pair, both driven from the test thread (invoker mode),
 * one test per behaviour, named after the RFC clause it checks: connect outcomes that need ARP, routing or a
 * silent host (each NTSTATUS provoked for real) and many concurrent connections. One endpoint's reaction to
 * calls and segments (OPEN's refusals, open, close, TIME-WAIT, RFC 5961) is tested segment by segment in
 * {@link TcpStateMachineTest}.
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
    private RingPairRig rig;
    private Stack a;
    private Stack b;
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
        rig = new RingPairRig(dir, pool, "tb" + (round++), 4096);
        // When B is silent (rig.bSilent) the host behind port B does not answer: its frames are drained and counted.
        rig.silentDrainB = this::drainCountingSyns;
    }

    @AfterEach
    void down() {
        rig.close();
    }

    // ================================================================================== connect outcomes

    @Test
    void connectToOnSubnetHostThatNeverAnswersArpIsHostUnreachable_rfc1122_s2_3_2_2() {
        a = rig.a(config("a", A_IP, TcpConfig.defaults(),
            cfg -> cfg.arp(256, TimeUnit.SECONDS.toNanos(60), 50 * MS, 3)));
        b = rig.b(config("b", B_IP, TcpConfig.defaults()));
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
        a = rig.a(config("a", A_IP, TcpConfig.defaults()));
        b = rig.b(config("b", B_IP, TcpConfig.defaults()));
        Endpoint client = new Endpoint("client");
        assertStatus(NtStatus.STATUS_NETWORK_UNREACHABLE, a.tcp().connect(0, 0, OFF_SUBNET_IP, 80, client));
        runFor(50);
        assertEquals(NONE, client.connectStatus, "a connect that failed at once gets no callback");
        assertEquals(1, a.counters().noRoute.get());
        assertEquals(0, a.tcp().connectionCount());
    }

    @Test
    void ephemeralPortExhaustionIsTooManyAddresses_rfc6335_s6() {
        int range = TcpLayer.EPHEMERAL_LAST - TcpLayer.EPHEMERAL_FIRST + 1; // 16384
        // Small buffers (each connection allocates its own on first use) and a SYN timer that never fires here.
        a = rig.a(config("a", A_IP, TcpConfig.defaults().withMaxConnections(range + 16).withBuffers(4096, 4096)
            .withSynRetries(1, TimeUnit.SECONDS.toNanos(30))));
        b = rig.b(config("b", B_IP, TcpConfig.defaults()));
        rig.resolveArp();
        rig.bSilent = true; // the SYNs go out and are never answered: every connection stays in SYN-SENT
        Endpoint sink = new Endpoint("sink");
        for (int i = 0; i < range; i++) {
            int rc = a.tcp().connect(0, 0, B_IP, 9, sink);
            if (rc != NtStatus.STATUS_PENDING) {
                throw new AssertionError("connect #" + i + ": " + NtStatus.name(rc));
            }
            if ((i & 255) == 255) {
                rig.step();
            }
        }
        rig.step();
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
    void ephemeralSelectionSharesTheStacksPortTableWithProviders_issue11() {
        a = rig.a(config("a", A_IP, TcpConfig.defaults().withMaxConnections(2)
            .withSynRetries(1, TimeUnit.SECONDS.toNanos(30))));
        b = rig.b(config("b", B_IP, TcpConfig.defaults()));
        rig.resolveArp();
        rig.bSilent = true; // SYNs go unanswered: connections stay in SYN-SENT until aborted
        LocalPorts ports = a.ports();
        // Providers hold every ephemeral port but one.
        for (int i = 0; i < LocalPorts.EPHEMERAL_COUNT; i++) {
            assertTrue(ports.allocate(false) != 0);
        }
        int spare = 60000;
        ports.free(spare);
        Endpoint first = new Endpoint("first");
        assertStatus(NtStatus.STATUS_PENDING, a.tcp().connect(0, 0, B_IP, 9, first));
        TcpConnection c1 = a.tcp().lastConnection();
        assertEquals(spare, c1.localPort(), "TCP picks the one port no provider holds");
        assertTrue(ports.inUse(spare), "and holds it in the shared table");
        assertEquals(0, ports.allocate(false), "so no provider is given it");
        assertStatus(NtStatus.STATUS_TOO_MANY_ADDRESSES, a.tcp().connect(0, 0, B_IP, 10, first));
        // 4-tuple reuse as before: the same local port to another remote, with SO_REUSEADDR.
        Endpoint second = new Endpoint("second");
        assertStatus(NtStatus.STATUS_PENDING, a.tcp().connect(0, spare, B_IP, 10, second, null, 0, 0, false,
            TcpSocketOptions.of(null, 0, 0, true)));
        TcpConnection c2 = a.tcp().lastConnection();
        c1.abort();
        rig.step();
        assertTrue(ports.inUse(spare), "held while a connection still uses it");
        c2.abort();
        rig.step();
        assertEquals(0, ports.holders(spare), "let go with the port's last connection");
        // A connect that takes a port but cannot open (no connection slot) lets go of it.
        ports.free(spare - 1);
        ports.free(spare - 2);
        ports.free(spare - 3);
        assertStatus(NtStatus.STATUS_PENDING, a.tcp().connect(0, 0, B_IP, 11, new Endpoint("x")));
        assertStatus(NtStatus.STATUS_PENDING, a.tcp().connect(0, 0, B_IP, 12, new Endpoint("y")));
        assertStatus(NtStatus.STATUS_INSUFFICIENT_RESOURCES, a.tcp().connect(0, 0, B_IP, 13, new Endpoint("z")));
        int free = 0;
        for (int p = spare - 3; p <= spare; p++) {
            free += ports.inUse(p) ? 0 : 1;
        }
        assertEquals(2, free, "two of the four spare ports taken by the two connections, none leaked");
    }

    @Test
    void connectsIssuedBeforeArpResolvesAllComplete_rfc1122_s2_3_2_2() {
        a = rig.a(config("a", A_IP, TcpConfig.defaults()));
        b = rig.b(config("b", B_IP, TcpConfig.defaults()));
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

    // ======================================================================================= many at once

    @Test
    void hundredConcurrentEchoesThenTablesDrain_rfc9293() {
        // 64 KiB buffers: 100 connections' zero-copy receive queues on both sides must fit the 16k-mbuf pool.
        TcpConfig tcp = TcpConfig.defaults().withBuffers(64 * 1024, 64 * 1024).withTimeWait(100 * MS);
        a = rig.a(config("a", A_IP, tcp));
        b = rig.b(config("b", B_IP, tcp));
        EchoServer server = new EchoServer();
        assertStatus(NtStatus.STATUS_SUCCESS, server.listen(b.tcp(), 7));
        // Resolve B first: the burst of SYNs behind an unresolved ARP entry is its own test
        // (connectsIssuedBeforeArpResolvesAllComplete_rfc1122_s2_3_2_2).
        rig.resolveArp();
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

    private StackConfig config(String name, int ip, TcpConfig tcp, Consumer<StackConfig.Builder> more) {
        StackConfig.Builder builder = rig.config(name, ip).tcp(tcp);
        more.accept(builder);
        return builder.build();
    }

    private StackConfig config(String name, int ip, TcpConfig tcp) {
        return rig.config(name, ip, tcp);
    }

    static void assertStatus(int expected, int actual) {
        assertEquals(NtStatus.name(expected), NtStatus.name(actual));
    }

    private void runFor(long ms) {
        rig.runFor(ms);
    }

    private void runUntil(BooleanSupplier done, long timeoutMs, String what) {
        rig.runUntil(done, timeoutMs, what);
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
}
