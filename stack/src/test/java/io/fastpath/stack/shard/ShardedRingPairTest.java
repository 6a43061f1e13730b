package io.fastpath.stack.shard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.MbufArray;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.Port;
import io.fastpath.dpdk.RingPair;
import io.fastpath.stack.NtStatus;
import io.fastpath.stack.StackConfig;
import io.fastpath.stack.app.EchoServer;
import io.fastpath.stack.app.StreamClient;
import io.fastpath.stack.counters.DropReason;
import io.fastpath.stack.device.PortDecorator;
import io.fastpath.stack.tcp.TcpConfig;
import io.fastpath.stack.tcp.TcpConnection;
import io.fastpath.stack.tcp.TcpHandler;
import io.fastpath.stack.tcp.TcpLayer;
import io.fastpath.stack.wire.Ipv4Address;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.agrona.concurrent.CachedNanoClock;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two hosts of two shards each over a ring pair with two queues, driven by the test thread. A ring pair does no
 * hashing (a frame arrives on the queue it was sent on), so segments often land on a shard that does not own
 * their flow: these tests prove the forwarding, the shared port space and the shared neighbour view.
 */
class ShardedRingPairTest {
    private static final int A_IP = Ipv4Address.parse("10.10.8.1");
    private static final int B_IP = Ipv4Address.parse("10.10.8.2");
    private static final int ECHO_PORT = 7;
    private static PktmbufPool pool;
    private static int round;

    @TempDir
    Path dir;
    private RingPair pair;
    private StackShards a;
    private StackShards b;
    /**
     * The hosts' clock when a test drives time itself (null: the system clock). It advances {@link #STEP_NS} per
     * {@link #runUntil} round, so stack time passes only while the stacks run: a test thread the scheduler leaves
     * waiting cannot make a timer fire before the frames that would have stopped it are processed.
     */
    private CachedNanoClock clock;
    private static final long STEP_NS = TimeUnit.MICROSECONDS.toNanos(50);

    @BeforeAll
    static void createPool() {
        pool = PktmbufPool.create("shardring", 32767, 0, PktmbufPool.DEFAULT_DATA_ROOM);
    }

    @AfterAll
    static void freePool() {
        pool.close();
    }

    @BeforeEach
    void up() {
        pair = RingPair.create("shard" + (round++), 2048, pool, pool, EthDevPort.Config.defaults().withQueues(2));
    }

    @AfterEach
    void down() {
        for (StackShards s : new StackShards[] {a, b}) {
            if (s != null) {
                s.close();
            }
        }
        for (EthDevPort port : new EthDevPort[] {pair.a(), pair.b()}) {
            for (int q = 0; q < 2; q++) {
                MbufArray burst = new MbufArray(32);
                for (int n; (n = port.queue(q).receive(burst, 32)) > 0; ) {
                    burst.freeAll(n);
                }
            }
        }
        pair.close();
        assertEquals(0, pool.inUseCount(), "every mbuf returned");
    }

    private StackShards host(Port[] queues, String name, int ip) {
        TcpConfig tcp = TcpConfig.defaults().withBuffers(64 << 10, 64 << 10)
            .withTimeWait(TimeUnit.MILLISECONDS.toNanos(100));
        return new StackShards(queues, StackConfig.builder().name(name).address(ip, 24).tcp(tcp)
            .countersFile(dir.resolve(name + ".counters")).build(), new RssFlowOwner(2));
    }

    private static Port[] queues(EthDevPort port) {
        return new Port[] {port.queue(0), port.queue(1)};
    }

    /** The hosts' time: the test's clock when it drives one, else the system's. */
    private long nowNs() {
        return clock != null ? clock.nanoTime() : System.nanoTime();
    }

    /** Runs both hosts until {@code done}, failing after {@code timeoutMs} of the hosts' time. */
    private void runUntil(BooleanSupplier done, long timeoutMs) {
        long deadline = nowNs() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (!done.getAsBoolean()) {
            if (nowNs() > deadline) {
                throw new AssertionError("condition not met in " + timeoutMs + " ms; A " + a.shard(0).tcp().describe()
                    + a.shard(1).tcp().describe() + "\nB:\n" + b.shard(0).tcp().describe() + b.shard(1).tcp().describe());
            }
            if (clock != null) {
                clock.advance(STEP_NS);
            }
            a.doWork();
            b.doWork();
        }
    }

    private EchoServer[] listenOnEveryShard(StackShards host) {
        EchoServer[] servers = new EchoServer[host.shards()];
        for (int q = 0; q < servers.length; q++) {
            servers[q] = new EchoServer();
            assertEquals(NtStatus.STATUS_SUCCESS, servers[q].listen(host.shard(q).tcp(), ECHO_PORT));
        }
        return servers;
    }

    @Test
    void sixtyFourConnectionsLandOnBothShardsAndEveryByteComesBack() {
        a = host(queues(pair.a()), "a", A_IP);
        b = host(queues(pair.b()), "b", B_IP);
        EchoServer[] servers = listenOnEveryShard(b);
        int connections = 64;
        long each = (1 << 20) / connections;
        StreamClient[] clients = new StreamClient[connections];
        a.doWork();
        for (int i = 0; i < connections; i++) {
            clients[i] = new StreamClient(1000 + i, each);
            assertEquals(NtStatus.STATUS_PENDING, clients[i].connect(a.shard(i % 2).tcp(), B_IP, ECHO_PORT,
                System.nanoTime()));
        }
        runUntil(() -> {
            for (StreamClient c : clients) {
                if (!c.done()) {
                    return false;
                }
            }
            return true;
        }, 30_000);
        long total = 0;
        for (int i = 0; i < connections; i++) {
            assertEquals("STATUS_SUCCESS", NtStatus.name(clients[i].status()), "client " + i + " mismatch at "
                + clients[i].mismatchAt());
            total += clients[i].received();
        }
        assertEquals(1 << 20, total, "1 MiB echoed and verified");
        assertEquals(connections / 2, a.shard(0).counters().tcpActiveOpens.get());
        assertEquals(connections / 2, a.shard(1).counters().tcpActiveOpens.get());
        assertTrue(servers[0].accepted() > 0 && servers[1].accepted() > 0,
            "B accepted on both shards: " + servers[0].accepted() + " + " + servers[1].accepted());
        assertEquals(connections, servers[0].accepted() + servers[1].accepted());
        assertEquals(connections, b.sum(c -> c.tcpPassiveOpens.get()));
        assertTrue(b.sum(c -> c.forwardedFrames.get()) > 0, "a ring pair does not hash: B forwarded");
        assertEquals(0, a.sum(c -> c.tcpResetsSent.get()) + b.sum(c -> c.tcpResetsSent.get()), "no flow got lost");
    }

    /**
     * RFC 7413 §4.1.2 across shards: a client's cookie is a MAC of its address, and its flows land on either of B's
     * shards. B's shards share one key, so every SYN with data after the first connection's cookie is taken, on
     * both shards (with a key per shard, about half were refused and resent after the handshake).
     */
    @Test
    void aFastOpenCookieIssuedOnOneShardIsValidOnEveryShardOfTheHost_rfc7413_s4_1_2() {
        a = host(queues(pair.a()), "a", A_IP);
        b = host(queues(pair.b()), "b", B_IP);
        assertSame(b.shard(0).tcp().fastOpenKeys(), b.shard(1).tcp().fastOpenKeys(), "one key for the host");
        EchoServer[] servers = listenOnEveryShard(b);
        a.doWork();
        TcpLayer client = a.shard(0).tcp(); // one client shard: one cookie cache
        UnsafeBuffer request = new UnsafeBuffer(new byte[] {'G', 'E', 'T', ' ', '/'});
        int[] connected = new int[1];
        int[] echoed = new int[1];
        TcpHandler handler = new TcpHandler() {
            @Override
            public void onConnectComplete(TcpConnection c, int status) {
                assertEquals("STATUS_SUCCESS", NtStatus.name(status));
                connected[0]++;
            }

            @Override
            public int onReceive(TcpConnection c, long address, int length) {
                echoed[0] += length;
                return length;
            }
        };
        // The first connection asks for the cookie (its data goes after the handshake).
        assertEquals(NtStatus.STATUS_PENDING, client.connect(0, 0, B_IP, ECHO_PORT, handler, request, 0, 5, true));
        runUntil(() -> echoed[0] == 5, 10_000);
        assertEquals(0, b.sum(c -> c.tcpFastOpenSynDataAccepted.get()));
        int connections = 16;
        for (int i = 0; i < connections; i++) {
            assertEquals(NtStatus.STATUS_PENDING, client.connect(0, 0, B_IP, ECHO_PORT, handler, request, 0, 5, true));
        }
        runUntil(() -> echoed[0] == 5 * (connections + 1), 10_000);
        assertEquals(connections, a.shard(0).counters().tcpFastOpenSynDataSent.get(), "every SYN carried the data");
        long onZero = b.shard(0).counters().tcpFastOpenSynDataAccepted.get();
        long onOne = b.shard(1).counters().tcpFastOpenSynDataAccepted.get();
        assertEquals(connections, onZero + onOne, "the data of every SYN taken: " + onZero + " + " + onOne);
        assertTrue(onZero > 0 && onOne > 0, "on both shards: " + onZero + " + " + onOne);
        assertEquals(0, a.sum(c -> c.tcpFastOpenFallbacks.get()), "no SYN data refused");
        assertEquals(connections + 1, servers[0].accepted() + servers[1].accepted());
    }

    /** Every frame of both queues arrives at shard 0: shard 1's flows must all be forwarded to it. */
    @Test
    void segmentsOfAShardOneFlowThatArriveOnQueueZeroAreForwardedAndTheFlowStaysCorrect() {
        a = host(allToQueueZero(), "a", A_IP);
        b = host(queues(pair.b()), "b", B_IP);
        listenOnEveryShard(b);
        a.doWork();
        StreamClient client = new StreamClient(77, 256 << 10);
        assertEquals(NtStatus.STATUS_PENDING, client.connect(a.shard(1).tcp(), B_IP, ECHO_PORT, System.nanoTime()));
        runUntil(client::done, 20_000);
        assertEquals("STATUS_SUCCESS", NtStatus.name(client.status()), "mismatch at " + client.mismatchAt());
        assertEquals(256 << 10, client.received());
        assertEquals(0, a.shard(1).counters().rxFrames.get(), "shard 1 received nothing itself");
        assertTrue(a.shard(1).counters().tcpSegmentsReceived.get() > 100, "yet its flow's segments reached it");
        assertTrue(a.shard(0).counters().forwardedFrames.get() >= a.shard(1).counters().tcpSegmentsReceived.get(),
            "each came through shard 0's forwarding: " + a.shard(0).counters().forwardedFrames.get());
        assertEquals(1, a.shard(1).counters().tcpActiveOpens.get());
        assertEquals(0, a.shard(0).counters().tcpActiveOpens.get());
        // Shard 1's ping: the reply lands on shard 0, which hands it back to shard 1's events.
        long[] rtt = {-1};
        io.fastpath.stack.StackEventHandler events = new io.fastpath.stack.StackEventHandler() {
            @Override
            public void onEchoReply(int from, int sequence, long roundTripNs) {
                rtt[0] = roundTripNs;
            }

            @Override
            public void onSendFailed(int destination, int sequence, int status) {
                throw new AssertionError(NtStatus.name(status));
            }
        };
        assertTrue(a.shard(1).ping(B_IP, 1, 56));
        runUntil(() -> {
            a.shard(1).pollEvents(events);
            return rtt[0] >= 0;
        }, 5_000);
        assertEquals(1, a.shard(0).counters().icmpEchoRepliesReceived.get() + a.shard(1).counters()
            .icmpEchoRepliesReceived.get());
        assertEquals(1, a.shard(1).counters().icmpEchoRepliesReceived.get(), "counted where it was awaited");
    }

    /** A's two queues as its shards see them: shard 0 receives what arrives on either queue, shard 1 nothing. */
    private Port[] allToQueueZero() {
        Port merged = new PortDecorator(pair.a().queue(0)) {
            private final Port other = pair.a().queue(1);

            @Override
            public int receive(MbufArray pkts, int max) {
                int n = delegate.receive(pkts, max);
                if (n < max) {
                    // Queue 1's frames, moved down into the same array.
                    MbufArray rest = scratch;
                    int m = other.receive(rest, max - n);
                    for (int i = 0; i < m; i++) {
                        pkts.set(n + i, rest.get(i));
                    }
                    n += m;
                }
                return n;
            }

            private final MbufArray scratch = new MbufArray(64);

            @Override
            public int transmit(MbufArray pkts, int from, int count) {
                return delegate.transmit(pkts, from, count);
            }

            @Override
            public void close() {
            }
        };
        Port silent = new PortDecorator(pair.a().queue(1)) {
            @Override
            public int receive(MbufArray pkts, int max) {
                return 0;
            }

            @Override
            public int transmit(MbufArray pkts, int from, int count) {
                return delegate.transmit(pkts, from, count);
            }

            @Override
            public void close() {
            }
        };
        return new Port[] {merged, silent};
    }

    /**
     * Forwarding allocates nothing per segment: with every frame of a shard-1 flow arriving on shard 0, 8 MiB
     * echoed after a 4 MiB warm-up allocate less than one byte per segment on the thread running all four shards.
     */
    @Test
    void forwardingAllocatesNothingPerSegment() {
        a = host(allToQueueZero(), "a", A_IP);
        b = host(queues(pair.b()), "b", B_IP);
        listenOnEveryShard(b);
        a.doWork();
        StreamClient client = new StreamClient(78, 16 << 20);
        assertEquals(NtStatus.STATUS_PENDING, client.connect(a.shard(1).tcp(), B_IP, ECHO_PORT, System.nanoTime()));
        runUntil(() -> client.received() >= 4 << 20, 60_000);
        com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        BooleanSupplier enough = () -> client.received() >= 12 << 20;
        threads.getCurrentThreadAllocatedBytes();
        long forwardedBefore = a.shard(0).counters().forwardedFrames.get();
        long before = threads.getCurrentThreadAllocatedBytes();
        runUntil(enough, 60_000);
        long allocated = threads.getCurrentThreadAllocatedBytes() - before;
        long forwarded = a.shard(0).counters().forwardedFrames.get() - forwardedBefore;
        System.out.printf("forwarding: %d segments forwarded, %d bytes allocated%n", forwarded, allocated);
        assertTrue(forwarded > 1000, "segments were forwarded: " + forwarded);
        assertTrue(allocated < forwarded, allocated + " bytes allocated for " + forwarded + " forwarded segments");
        runUntil(client::done, 60_000);
        assertEquals("STATUS_SUCCESS", NtStatus.name(client.status()));
    }

    /** The ARP reply to shard 0's request arrives on shard 0; shard 1 uses what shard 0 learned. */
    @Test
    void aNeighbourLearnedOnShardZeroIsUsedByShardOne() {
        a = host(queues(pair.a()), "a", A_IP);
        b = host(queues(pair.b()), "b", B_IP);
        listenOnEveryShard(b);
        a.doWork();
        StreamClient first = new StreamClient(5, 1000);
        assertEquals(NtStatus.STATUS_PENDING, first.connect(a.shard(0).tcp(), B_IP, ECHO_PORT, System.nanoTime()));
        runUntil(first::done, 5_000);
        assertEquals(NtStatus.STATUS_SUCCESS, first.status());
        assertTrue(a.shard(1).arpTable().lookup(B_IP, a.shard(1).nowNs()) >= 0, "shard 1 knows B's MAC already");
        long requestsBefore = a.sum(c -> c.arpRequestsSent.get());
        StreamClient second = new StreamClient(6, 1000);
        assertEquals(NtStatus.STATUS_PENDING, second.connect(a.shard(1).tcp(), B_IP, ECHO_PORT, System.nanoTime()));
        runUntil(second::done, 5_000);
        assertEquals(NtStatus.STATUS_SUCCESS, second.status());
        assertEquals(requestsBefore, a.sum(c -> c.arpRequestsSent.get()), "shard 1 sent no ARP request of its own");
        assertEquals(0, a.shard(1).counters().arpRepliesReceived.get());
    }

    /**
     * A neighbour in use whose lifetime runs out stays usable (STALE → DELAY → PROBE, unicast probes) on the
     * shard that uses it; the reply refreshes every shard's entry, so a shard that never sends to the neighbour
     * keeps it too. No frame waits or drops for ARP. The hosts run on the test's clock (a fixed step per round):
     * on the system clock a test thread descheduled for a probe interval let a probe time out unanswered.
     */
    @Test
    void aStaleNeighbourInUseIsProbedByUnicastAndEveryShardIsRefreshed() {
        long lifetime = TimeUnit.MILLISECONDS.toNanos(300);
        clock = new CachedNanoClock();
        clock.update(TimeUnit.SECONDS.toNanos(1));
        a = shortArpHost(queues(pair.a()), "a", A_IP, lifetime);
        b = shortArpHost(queues(pair.b()), "b", B_IP, lifetime);
        listenOnEveryShard(b);
        a.doWork();
        long start = nowNs();
        long broadcastsAfterFirst = -1;
        int clients = 0;
        while (nowNs() - start < 8 * lifetime) {
            StreamClient client = new StreamClient(100 + clients, 32 << 10);
            // (The client's own start time is only for its wall-clock elapsed time, not given to the stack.)
            assertEquals(NtStatus.STATUS_PENDING, client.connect(a.shard(1).tcp(), B_IP, ECHO_PORT,
                System.nanoTime()));
            runUntil(client::done, 5_000);
            assertEquals(NtStatus.STATUS_SUCCESS, client.status(), "client " + clients);
            if (clients++ == 0) {
                broadcastsAfterFirst = broadcasts(a) + broadcasts(b);
            }
        }
        // Both hosts hold a neighbour that goes STALE; whichever probes first refreshes the other too (the
        // probe is an ARP request from the neighbour), so the probes are split between them.
        long probes = a.sum(c -> c.arpProbesSent.get()) + b.sum(c -> c.arpProbesSent.get());
        System.out.printf("stale neighbour: %d clients over %d ms, %d unicast probes (A shard 1: %d), %d broadcast%n",
            clients, TimeUnit.NANOSECONDS.toMillis(8 * lifetime), probes,
            a.shard(1).counters().arpProbesSent.get(), broadcasts(a) + broadcasts(b));
        assertTrue(probes >= 2, "STALE entries in use were validated by unicast probes: " + probes);
        assertEquals(broadcastsAfterFirst, broadcasts(a) + broadcasts(b),
            "no broadcast after the first resolution: every probe was answered");
        for (int q = 0; q < 2; q++) {
            assertEquals(0, a.shard(q).counters().drop(DropReason.ARP_QUEUE_FULL).get(), "shard " + q);
            assertEquals(0, a.shard(q).counters().drop(DropReason.ARP_UNRESOLVED).get(), "shard " + q);
            assertEquals(0, a.shard(q).counters().arpResolutionFailures.get(), "shard " + q);
            // Learned at the start, more than two lifetimes ago: only the shared refresh keeps it.
            assertTrue(a.shard(q).arpTable().lookup(B_IP, a.shard(q).nowNs()) >= 0, "shard " + q + " knows B");
        }
    }

    private static long broadcasts(StackShards host) {
        return host.sum(c -> c.arpRequestsSent.get() - c.arpProbesSent.get());
    }

    private StackShards shortArpHost(Port[] queues, String name, int ip, long lifetimeNs) {
        TcpConfig tcp = TcpConfig.defaults().withBuffers(64 << 10, 64 << 10)
            .withTimeWait(TimeUnit.MILLISECONDS.toNanos(100));
        return new StackShards(queues, StackConfig.builder().name(name).address(ip, 24).tcp(tcp)
            .arp(64, lifetimeNs, lifetimeNs / 3, 3)
            .countersFile(dir.resolve(name + ".counters")).build(), new RssFlowOwner(2), clock);
    }

    @Test
    void oneListenerPortAndOneEphemeralPortSpaceForTheHost() {
        a = host(queues(pair.a()), "a", A_IP);
        // Ports a connection takes on one shard are held in the table every shard (and provider) shares.
        StreamClient client = new StreamClient(1, 10);
        a.doWork();
        client.connect(a.shard(1).tcp(), B_IP, ECHO_PORT, System.nanoTime());
        int held = 0;
        for (int port = 49152; port <= 65535; port++) {
            if (a.ports().inUse(port)) {
                held++;
                assertEquals(1, a.owner().shardOf(A_IP, port, B_IP, ECHO_PORT), "the port's flow is shard 1's");
            }
        }
        assertEquals(1, held);
        assertTrue(a.shard(0).ports() == a.shard(1).ports(), "one table");
        // An explicit local port whose flow another shard owns is refused on this one.
        int port = 50000;
        while (a.owner().shardOf(A_IP, port, B_IP, ECHO_PORT) != 0) {
            port++;
        }
        assertEquals(NtStatus.STATUS_INVALID_ADDRESS, a.shard(1).tcp().connect(0, port, B_IP, ECHO_PORT, client));
    }
}
