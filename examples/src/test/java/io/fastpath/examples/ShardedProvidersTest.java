package io.fastpath.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.MbufArray;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.Port;
import io.fastpath.dpdk.RingPair;
import io.fastpath.examples.ndk.NdkEchoConnector;
import io.fastpath.examples.ndk.NdkEchoListener;
import io.fastpath.examples.tdi.TdiEchoClient;
import io.fastpath.examples.tdi.TdiEchoServer;
import io.fastpath.examples.wsk.WskEchoClient;
import io.fastpath.examples.wsk.WskEchoServer;
import io.fastpath.ndk.NdkAdapter;
import io.fastpath.ndk.NdkAdapterInfo;
import io.fastpath.stack.Stack;
import io.fastpath.stack.StackConfig;
import io.fastpath.stack.counters.DropReason;
import io.fastpath.stack.shard.FlowOwner;
import io.fastpath.stack.tcp.TcpConfig;
import io.fastpath.stack.tcp.TcpService;
import io.fastpath.stack.wire.Ipv4Address;
import io.fastpath.tdi.Tdi;
import io.fastpath.tdi.TdiProvider;
import io.fastpath.wsk.SocketAddressV4;
import io.fastpath.wsk.WskProvider;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 12 item 2: WSK, TDI and NDK over a port of two shards reach every connection without knowing its shard.
 * The port is built without the stack's own sharding: two server stacks with one address, each over a DPDK ring
 * pair of its own to a peer stack (the two peers share an address too), so a connection's shard is the wire it
 * came by. Shard 0's service is server 0's own; shard 1's is a {@link TcpService} made with shard id 1 over server
 * 1's TCP and polled on that stack's thread. All four stacks run on one thread of the test's; the providers are
 * dispatched by the test thread (invoker mode).
 */
class ShardedProvidersTest {
    private static final int MIB = 1 << 20;
    private static final int PEER_IP = Ipv4Address.parse("10.17.0.1");
    private static final int SERVER_IP = Ipv4Address.parse("10.17.0.2");
    /** The test's flow owner: a flow from an odd local port is shard 1's. */
    private static final FlowOwner BY_PORT_PARITY = (localIp, localPort, remoteIp, remotePort) -> localPort & 1;

    /** DPDK names live as long as the process: each test's are its own. */
    private static final java.util.concurrent.atomic.AtomicInteger ROUND = new java.util.concurrent.atomic.AtomicInteger();

    @TempDir
    Path dir;
    private PktmbufPool pool;
    private final RingPair[] pairs = new RingPair[2];
    private final Stack[] peers = new Stack[2];
    private final Stack[] servers = new Stack[2];
    private TcpService shard1;
    private List<TcpService> shards;
    private Thread stackThread;
    private volatile boolean running = true;
    private int startInUse;
    private final List<Throwable> errors = new ArrayList<>();
    private final List<AutoCloseable> providers = new ArrayList<>();

    @BeforeEach
    void up() {
        int round = ROUND.getAndIncrement();
        pool = PktmbufPool.create("shardp" + round, 16383, 256, PktmbufPool.DEFAULT_DATA_ROOM);
        TcpConfig tcp = TcpConfig.defaults().withTimeWait(TimeUnit.MILLISECONDS.toNanos(50));
        for (int i = 0; i < 2; i++) {
            pairs[i] = RingPair.create("shard" + round + "r" + i, 2048, pool, pool, EthDevPort.Config.defaults());
            peers[i] = new Stack(pairs[i].a(), StackConfig.builder().name("shpeer" + round + i).address(PEER_IP, 24)
                .tcp(tcp).countersFile(dir.resolve("peer" + i + ".counters")).build());
            servers[i] = new Stack(pairs[i].b(), StackConfig.builder().name("shsrv" + round + i).address(SERVER_IP, 24)
                .tcp(tcp).countersFile(dir.resolve("srv" + i + ".counters")).build());
        }
        shard1 = new TcpService(servers[1].tcp(), servers[1].config().ringCapacity(), servers[1].counters(),
            pool.availableCount() + pool.inUseCount(), 1);
        shards = List.of(servers[0].tcpService(), shard1);
        startInUse = pool.inUseCount();
        stackThread = new Thread(() -> {
            while (running) {
                int work = 0;
                for (int i = 0; i < 2; i++) {
                    work += peers[i].doWork();
                    work += servers[i].doWork();
                }
                work += shard1.poll(); // server 1's thread is shard 1's poll thread
                if (work == 0) {
                    LockSupport.parkNanos(20_000);
                }
            }
        }, "shard-stacks");
        stackThread.start();
    }

    @AfterEach
    void down() throws Exception {
        for (AutoCloseable p : providers) {
            p.close();
        }
        running = false;
        if (stackThread == null) {
            return; // up failed
        }
        stackThread.join();
        for (int i = 0; i < 2; i++) {
            if (i == 1) {
                shard1.poll();
            }
            peers[i].onClose();
            servers[i].onClose();
            if (i == 1) {
                shard1.close();
            }
            peers[i].close();
            servers[i].close();
        }
        MbufArray burst = new MbufArray(32);
        for (RingPair p : pairs) {
            for (Port port : List.of(p.a(), p.b())) {
                for (int n; (n = port.receive(burst, 32)) > 0; ) {
                    burst.freeAll(n);
                }
            }
            p.close();
        }
        int inUse = pool.inUseCount();
        pool.close();
        assertEquals(0, inUse, "every mbuf back in the pool");
    }

    private <P extends AutoCloseable> P provider(P p) {
        providers.add(p);
        return p;
    }

    @Test
    void wskListenerOnTwoShardsEchoesConnectionsFromBothAndConnectsPickShards_issue12_item2() {
        // WSK binds a connecting socket first (an ephemeral port from the port table), so its connect names a local
        // port and goes to the shard the owner names for the flow: this owner notes what it was asked.
        List<Integer> asked = new ArrayList<>();
        FlowOwner owner = (localIp, localPort, remoteIp, remotePort) -> {
            asked.add(localPort);
            return BY_PORT_PARITY.shardOf(localIp, localPort, remoteIp, remotePort);
        };
        WskProvider server = provider(WskProvider.register(servers[0], shards, owner, errors::add));
        WskProvider[] peer = {provider(WskProvider.register(peers[0], errors::add)),
            provider(WskProvider.register(peers[1], errors::add))};
        BooleanSupplier dispatch = () -> server.dispatch() + peer[0].dispatch() + peer[1].dispatch() > 0;

        WskEchoServer echo = new WskEchoServer(server);
        echo.start(7);
        WskEchoServer[] peerEcho = {new WskEchoServer(peer[0]), new WskEchoServer(peer[1])};
        peerEcho[0].start(9);
        peerEcho[1].start(9);
        runUntil(dispatch, () -> echo.listening() && peerEcho[0].listening() && peerEcho[1].listening(), 10,
            "listening", () -> "server " + echo.listenStatus);

        // A connection arrives on each shard: 1 MiB echoed in total, every byte verified.
        WskEchoClient[] clients = new WskEchoClient[2];
        for (int i = 0; i < 2; i++) {
            clients[i] = new WskEchoClient(peer[i], new SocketAddressV4(SERVER_IP, 7), MIB / 2, 64 * 1024, 2,
                48 * 1024);
            clients[i].start();
        }
        runUntil(dispatch, () -> clients[0].done() && clients[1].done() && echo.closed.get() == 2, 60,
            "two echoes", () -> "received " + clients[0].received + "/" + clients[1].received + " failures "
                + clients[0].failure + "/" + clients[1].failure + " closed " + echo.closed.get());
        for (WskEchoClient c : clients) {
            assertEquals("STATUS_SUCCESS", String.valueOf(c.failure));
            assertEquals(MIB / 2, c.received);
            assertEquals(-1, c.mismatchAt, "every byte echoed matches");
        }
        assertEquals(2, echo.accepted.get(), "one listener accepted on both shards");
        assertEquals(MIB, echo.echoed.get());
        assertEquals(0, echo.failures.get());

        // Connects from the sharded provider go out the wire of the shard that owns their flow, each to that
        // shard's own peer.
        WskEchoClient[] out = new WskEchoClient[2];
        for (int i = 0; i < 2; i++) {
            out[i] = new WskEchoClient(server, new SocketAddressV4(PEER_IP, 9), 256 * 1024, 64 * 1024, 2, 48 * 1024);
            out[i].start();
        }
        runUntil(dispatch, () -> out[0].done() && out[1].done(), 60, "two connects",
            () -> "received " + out[0].received + "/" + out[1].received + " failures " + out[0].failure + "/"
                + out[1].failure);
        for (WskEchoClient c : out) {
            assertEquals("STATUS_SUCCESS", String.valueOf(c.failure));
            assertEquals(256 * 1024, c.received);
            assertEquals(-1, c.mismatchAt);
        }
        assertEquals(2, asked.size(), "the owner decided both connects");
        long odd = asked.stream().filter(p -> (p & 1) == 1).count();
        assertEquals(2 - odd, peerEcho[0].accepted.get(), "shard 0's connects went out its own wire");
        assertEquals(odd, peerEcho[1].accepted.get(), "shard 1's connects went out its own wire");
        assertClean();
    }

    @Test
    void tdiAndNdkEchoOverTwoShards_issue12_item2() {
        TdiProvider tdi = provider(TdiProvider.open(servers[0], shards, BY_PORT_PARITY, errors::add));
        NdkAdapter ndk = provider(NdkAdapter.open(servers[0], shards, BY_PORT_PARITY, NdkAdapterInfo.defaults(),
            errors::add));
        TdiProvider[] tdiPeer = {provider(TdiProvider.open(peers[0], errors::add)),
            provider(TdiProvider.open(peers[1], errors::add))};
        NdkAdapter[] ndkPeer = {provider(NdkAdapter.open(peers[0], NdkAdapterInfo.defaults(), errors::add)),
            provider(NdkAdapter.open(peers[1], NdkAdapterInfo.defaults(), errors::add))};
        BooleanSupplier dispatch = () -> tdi.dispatch() + ndk.dispatch() + tdiPeer[0].dispatch()
            + tdiPeer[1].dispatch() + ndkPeer[0].dispatch() + ndkPeer[1].dispatch() > 0;

        TdiEchoServer tdiServer = new TdiEchoServer(tdi);
        tdiServer.start(8);
        NdkEchoListener ndkServer = new NdkEchoListener(ndk);
        ndkServer.start(9);
        runUntil(dispatch, () -> tdiServer.listening() && ndkServer.listenStatus != null, 10, "listening",
            () -> "tdi " + tdiServer.listening() + " ndk " + ndkServer.listenStatus);
        assertEquals("STATUS_SUCCESS", String.valueOf(ndkServer.listenStatus));

        TdiEchoClient[] tdiClients = new TdiEchoClient[2];
        NdkEchoConnector[] ndkClients = new NdkEchoConnector[2];
        for (int i = 0; i < 2; i++) {
            tdiClients[i] = new TdiEchoClient(tdiPeer[i], SERVER_IP, 8, MIB / 2, 64 * 1024);
            tdiClients[i].start(Tdi.relativeTimeout(5000));
            ndkClients[i] = new NdkEchoConnector(ndkPeer[i], ndkServer.address, 30, 3000, "shard" + i);
            ndkClients[i].start();
        }
        runUntil(dispatch, () -> tdiClients[0].done() && tdiClients[1].done() && ndkClients[0].done()
            && ndkClients[1].done() && tdiServer.closed.get() == 2, 60, "echoes",
            () -> "tdi " + tdiClients[0].received + "/" + tdiClients[1].received + " " + tdiClients[0].failure + "/"
                + tdiClients[1].failure + " closed " + tdiServer.closed.get() + ", ndk " + ndkClients[0].status + " "
                + ndkClients[0].failure + " / " + ndkClients[1].status + " " + ndkClients[1].failure);
        for (int i = 0; i < 2; i++) {
            assertEquals("STATUS_SUCCESS", String.valueOf(tdiClients[i].failure));
            assertEquals(MIB / 2, tdiClients[i].received);
            assertEquals(-1, tdiClients[i].mismatchAt, "every byte TDI echoed matches");
            assertEquals("STATUS_SUCCESS", String.valueOf(ndkClients[i].status), ndkClients[i].failure);
            assertEquals(30, ndkClients[i].verified, "every NDK echo verified");
        }
        assertEquals(2, tdiServer.accepted.get(), "TDI accepted on both shards");
        assertEquals(MIB, tdiServer.echoed.get());
        assertEquals(0, tdiServer.failures.get());
        assertEquals(2, ndkServer.accepted.get(), "NDK accepted on both shards");
        assertEquals(60, ndkServer.echoed.get());
        assertEquals(0, ndkServer.failures.get());
        assertClean();
    }

    /** Nothing misrouted, nothing lost, every descriptor back on both shards. */
    private void assertClean() {
        for (Stack s : servers) {
            assertEquals(0, s.counters().drop(DropReason.REQUEST_REFUSED).get(), "no request misrouted");
            assertEquals(0, s.counters().drop(DropReason.RELEASE_REFUSED).get(), "no release misrouted");
            assertEquals(0, s.counters().drop(DropReason.TCP_EVENT_LOST).get(), "no event lost");
        }
        BooleanSupplier none = () -> false;
        runUntil(none, () -> shards.get(0).heldDescriptors() == 0 && shard1.heldDescriptors() == 0, 10,
            "descriptors back", () -> shards.get(0).heldDescriptors() + "/" + shard1.heldDescriptors());
        if (!errors.isEmpty()) {
            throw new AssertionError("a routine or handler failed", errors.get(0));
        }
    }

    private void runUntil(BooleanSupplier dispatch, BooleanSupplier done, long seconds, String what,
                          Supplier<String> state) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(what + ": not done in " + seconds + " s (" + state.get() + "); errors "
                    + errors);
            }
            if (!dispatch.getAsBoolean()) {
                Thread.yield();
            }
        }
        if (!errors.isEmpty()) {
            throw new AssertionError("a routine or handler failed", errors.get(0));
        }
    }
}
