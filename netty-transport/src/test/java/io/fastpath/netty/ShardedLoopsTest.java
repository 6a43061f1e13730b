package io.fastpath.netty;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.MbufArray;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.RingPair;
import io.fastpath.stack.shard.FlowOwner;
import io.fastpath.stack.shard.StackShards;
import io.fastpath.stack.wire.Ipv4Address;
import io.fastpath.testkit.NetNs;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoop;
import io.netty.channel.socket.SocketChannel;
import io.netty.util.ResourceLeakDetector;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Issue 12 for Netty: two {@link FastpathEventLoopGroup}s of two event loops each ({@code queues(2)}: two stack
 * shards, one per queue) joined by a DPDK ring pair with two queue pairs. A ring pair does no hashing (a frame
 * arrives on the queue it was sent on), so segments often land on the shard that does not own their flow and are
 * forwarded: what the test checks is what the application sees, that every child channel lives on the loop of the
 * shard that owns its flow, that both loops of each side carry connections, and that every byte comes back.
 */
class ShardedLoopsTest {
    private static final String SERVER_IP = "10.98.0.1";
    private static final String CLIENT_IP = "10.98.0.2";
    private static final int PORT = 7;
    private ResourceLeakDetector.Level level;
    private LeakWatch leaks;
    private PktmbufPool pool;
    private RingPair pair;
    private FastpathEventLoopGroup server;
    private FastpathEventLoopGroup client;
    private final List<Path> countersFiles = new ArrayList<>();

    @BeforeEach
    void twoGroupsOfTwoLoopsOnARingPairOfTwoQueues() throws Exception {
        level = ResourceLeakDetector.getLevel();
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
        leaks = LeakWatch.install();
        String name = NetNs.uniqueName("sl");
        pool = PktmbufPool.create(name, 32767, 256, PktmbufPool.DEFAULT_DATA_ROOM);
        pair = RingPair.create(name, 2048, pool, pool, EthDevPort.Config.defaults().withQueues(2));
        server = FastpathEventLoopGroup.builder().port(pair.a()).queues(2).ip(SERVER_IP + "/24").build();
        client = FastpathEventLoopGroup.builder().port(pair.b()).queues(2).ip(CLIENT_IP + "/24").build();
        for (FastpathEventLoopGroup g : new FastpathEventLoopGroup[] {server, client}) {
            for (int q = 0; q < g.queues(); q++) {
                countersFiles.add(g.stack(q).config().countersFile());
            }
        }
    }

    @AfterEach
    void close() throws Exception {
        try {
            if (client != null) {
                client.shutdownGracefully(0, 5, TimeUnit.SECONDS).sync();
            }
            if (server != null) {
                server.shutdownGracefully(0, 5, TimeUnit.SECONDS).sync();
            }
            for (Path f : countersFiles) {
                assertFalse(Files.exists(f), "every shard closed (its counters file removed): " + f);
            }
            for (EthDevPort port : new EthDevPort[] {pair.a(), pair.b()}) {
                for (int q = 0; q < 2; q++) {
                    MbufArray burst = new MbufArray(32);
                    for (int n; (n = port.queue(q).receive(burst, 32)) > 0; ) {
                        burst.freeAll(n);
                    }
                }
            }
            assertEquals(0, pool.inUseCount(), "every mbuf back in the pool once both groups shut down");
        } finally {
            pair.close();
            pool.close();
            ResourceLeakDetector.setLevel(level);
        }
    }

    @Test
    void echoServerOnTwoLoopsServesConnectionsOnBothAndEveryByteComesBack_groupG() throws Exception {
        echoOnBothLoops(new ServerBootstrap().group(server));
    }

    @Test
    void echoServerOnTwoLoopsServesConnectionsOnBothAndEveryByteComesBack_groupGG() throws Exception {
        echoOnBothLoops(new ServerBootstrap().group(server, server));
    }

    private void echoOnBothLoops(ServerBootstrap bootstrap) throws Exception {
        FlowOwner serverOwner = StackShards.ownerOf(pair.a());
        FlowOwner clientOwner = StackShards.ownerOf(pair.b());
        int serverIp = Ipv4Address.parse(SERVER_IP);
        int clientIp = Ipv4Address.parse(CLIENT_IP);
        AtomicIntegerArray childrenPerLoop = new AtomicIntegerArray(2);
        AtomicReference<String> misplaced = new AtomicReference<>();
        Channel listener = bootstrap.channel(FastpathServerSocketChannel.class)
            .childHandler(new ChannelInitializer<SocketChannel>() {
                @Override
                protected void initChannel(SocketChannel ch) {
                    int shard = server.shardOf(ch.eventLoop());
                    int owner = serverOwner.shardOf(serverIp, PORT, clientIp, ch.remoteAddress().getPort());
                    if (shard != owner || !ch.eventLoop().inEventLoop()) {
                        misplaced.compareAndSet(null, ch + " on loop " + shard + ", its flow's shard is " + owner);
                    }
                    childrenPerLoop.incrementAndGet(Math.max(shard, 0));
                    ch.pipeline().addLast(new Handlers.Echo());
                }
            }).bind(PORT).sync().channel();
        assertTrue(server.shardOf(listener.eventLoop()) >= 0, "the listener lives on one of the group's loops");

        int connections = 64;
        int each = 16 << 10;
        Random random = new Random(12);
        List<byte[]> sent = new ArrayList<>();
        List<Handlers.Collect> collects = new ArrayList<>();
        List<Channel> channels = new ArrayList<>();
        Set<EventLoop> clientLoops = new HashSet<>();
        int[] clientsPerLoop = new int[2];
        for (int i = 0; i < connections; i++) {
            byte[] data = new byte[each];
            random.nextBytes(data);
            Handlers.Collect collect = new Handlers.Collect(each);
            Channel c = connect(new Bootstrap().group(client), collect);
            int shard = client.shardOf(c.eventLoop());
            clientLoops.add(c.eventLoop());
            clientsPerLoop[shard]++;
            int localPort = ((InetSocketAddress) c.localAddress()).getPort();
            assertEquals(shard, clientOwner.shardOf(clientIp, localPort, serverIp, PORT),
                "connection " + i + "'s ephemeral port " + localPort + " is a flow of its loop's shard");
            c.writeAndFlush(Unpooled.wrappedBuffer(data));
            sent.add(data);
            collects.add(collect);
            channels.add(c);
        }
        long bytes = 0;
        for (int i = 0; i < connections; i++) {
            byte[] echoed = collects.get(i).done.get(60, TimeUnit.SECONDS);
            assertArrayEquals(sent.get(i), echoed, "connection " + i + "'s echo, byte for byte");
            bytes += echoed.length;
        }
        assertEquals((long) connections * each, bytes, "1 MiB echoed and verified");
        assertEquals(null, misplaced.get(), "every child channel on the loop of its flow's shard");

        // next() went round both client loops; the ports sent each flow's answers back to its loop's shard.
        assertEquals(2, clientLoops.size());
        assertEquals(connections / 2, clientsPerLoop[0]);
        assertEquals(connections / 2, clientsPerLoop[1]);
        assertEquals(connections / 2, client.stack(0).counters().tcpActiveOpens.get());
        assertEquals(connections / 2, client.stack(1).counters().tcpActiveOpens.get());
        // The server accepted on both shards, each child on its shard's loop, as many as the stacks counted.
        int on0 = childrenPerLoop.get(0);
        int on1 = childrenPerLoop.get(1);
        assertTrue(on0 > 0 && on1 > 0, "children on both server loops: " + on0 + " + " + on1);
        assertEquals(connections, on0 + on1);
        assertEquals(on0, server.stack(0).counters().tcpPassiveOpens.get(), "shard 0's passive opens");
        assertEquals(on1, server.stack(1).counters().tcpPassiveOpens.get(), "shard 1's passive opens");

        for (Channel c : channels) {
            c.close().sync();
        }
        listener.close().sync();
        for (FastpathEventLoopGroup g : new FastpathEventLoopGroup[] {client, server}) {
            for (int q = 0; q < 2; q++) {
                assertEquals(0, heldDescriptors(g, q), "every received mbuf back with shard " + q);
            }
        }
        leaks.assertNone();
        assertEquals(0, server.failures() + client.failures(), "no duty cycle or event threw");
        System.out.printf("sharded echo: server children %d + %d, forwarded frames server %d + %d, client %d + %d%n",
            on0, on1, server.stack(0).counters().forwardedFrames.get(), server.stack(1).counters().forwardedFrames.get(),
            client.stack(0).counters().forwardedFrames.get(), client.stack(1).counters().forwardedFrames.get());
    }

    @Test
    void aListenerClosedStopsListeningOnEveryShardAndItsPortCanBeBoundAgain() throws Exception {
        Channel first = new ServerBootstrap().group(server).channel(FastpathServerSocketChannel.class)
            .childHandler(new Handlers.Echo()).bind(PORT).sync().channel();
        first.close().sync();
        // Bound again on the other loop (next() goes round): every shard's old listener must be gone first.
        Channel second = new ServerBootstrap().group(server).channel(FastpathServerSocketChannel.class)
            .childHandler(new Handlers.Echo()).bind(PORT).sync().channel();
        assertNotEquals(first.eventLoop(), second.eventLoop());
        // Connections from both client loops reach it (whichever shard their flows land on).
        for (int i = 0; i < 8; i++) {
            Handlers.Collect collect = new Handlers.Collect(5);
            Channel c = new Bootstrap().group(client).channel(FastpathSocketChannel.class).handler(collect)
                .connect(SERVER_IP, PORT).sync().channel();
            c.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {1, 2, 3, 4, (byte) i}));
            assertArrayEquals(new byte[] {1, 2, 3, 4, (byte) i}, collect.done.get(10, TimeUnit.SECONDS));
            c.close().sync();
        }
        second.close().sync();
        assertEquals(0, server.failures() + client.failures());
    }

    /**
     * Two server channels on the two loops bind at the same moment: each bind waits on its own loop for every
     * shard's answer, so each loop must answer the other's listen while it waits. They were Netty tasks, which a
     * waiting loop does not run: both binds failed after 2 s (STATUS_IO_TIMEOUT).
     */
    @Test
    void twoLoopsBindingAtOnceAnswerEachOthersListens() throws Exception {
        java.util.concurrent.CountDownLatch parked = new java.util.concurrent.CountDownLatch(2);
        java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
        for (int q = 0; q < 2; q++) {
            server.loop(q).execute(() -> {
                parked.countDown();
                try {
                    go.await(); // both loops held, so that both binds start together
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
        }
        assertTrue(parked.await(5, TimeUnit.SECONDS));
        io.netty.channel.ChannelFuture a = new ServerBootstrap().group(server).channel(FastpathServerSocketChannel.class)
            .childHandler(new Handlers.Echo()).bind(PORT);
        io.netty.channel.ChannelFuture b = new ServerBootstrap().group(server).channel(FastpathServerSocketChannel.class)
            .childHandler(new Handlers.Echo()).bind(PORT + 1);
        go.countDown();
        a.sync();
        b.sync();
        assertNotEquals(a.channel().eventLoop(), b.channel().eventLoop(), "one bind on each loop");
        for (int port : new int[] {PORT, PORT + 1}) {
            for (int i = 0; i < 4; i++) {
                Handlers.Collect collect = new Handlers.Collect(5);
                Channel c = new Bootstrap().group(client).channel(FastpathSocketChannel.class).handler(collect)
                    .connect(SERVER_IP, port).sync().channel();
                c.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {1, 2, 3, (byte) port, (byte) i}));
                assertArrayEquals(new byte[] {1, 2, 3, (byte) port, (byte) i}, collect.done.get(10, TimeUnit.SECONDS));
                c.close().sync();
            }
        }
        a.channel().close().sync();
        b.channel().close().sync();
        assertEquals(0, server.failures() + client.failures());
    }

    @Test
    void aLocalPortOfAnotherShardIsRefusedWithTheShardToConnectFrom() throws Exception {
        FlowOwner clientOwner = StackShards.ownerOf(pair.b());
        int serverIp = Ipv4Address.parse(SERVER_IP);
        int clientIp = Ipv4Address.parse(CLIENT_IP);
        int port = 40000;
        while (clientOwner.shardOf(clientIp, port, serverIp, PORT) != 1) {
            port++;
        }
        new ServerBootstrap().group(server).channel(FastpathServerSocketChannel.class)
            .childHandler(new Handlers.Echo()).bind(PORT).sync();
        ChannelHandler nothing = new ChannelInboundHandlerAdapter();
        ChannelFuture refused = new Bootstrap().group(client.loop(0)).channel(FastpathSocketChannel.class)
            .handler(nothing).localAddress(port).connect(SERVER_IP, PORT).await();
        Throwable cause = refused.cause();
        while (cause != null && !(cause instanceof BindException) && cause.getCause() != null) {
            cause = cause.getCause(); // Netty annotates a SocketException with the remote address
        }
        BindException e = assertInstanceOf(BindException.class, cause, String.valueOf(refused.cause()));
        assertTrue(e.getMessage().contains("shard 1") && e.getMessage().contains("loop(1)"), e.getMessage());
        // Bootstrap closes a channel whose connect failed (CLOSE_ON_FAILURE), which lets go of its port; the listener
        // may run after await() returns.
        refused.channel().closeFuture().sync();
        // From shard 1's loop the same local port connects.
        Handlers.Collect collect = new Handlers.Collect(3);
        Channel c = new Bootstrap().group(client.loop(1)).channel(FastpathSocketChannel.class).handler(collect)
            .localAddress(port).connect(SERVER_IP, PORT).sync().channel();
        assertSame(client.loop(1), c.eventLoop());
        c.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {7, 8, 9}));
        assertArrayEquals(new byte[] {7, 8, 9}, collect.done.get(10, TimeUnit.SECONDS));
        c.close().sync();
    }

    /**
     * A client bound to port 0 ({@code localAddress(0)}, or {@code bind(0)} and then connect): the port must be one
     * whose flow RSS gives back to the channel's shard, as for an unbound connect. It was any free port, so half the
     * connects of a 2-loop group failed (a flow of the other shard).
     */
    @Test
    void clientsBoundToPortZeroConnectFromBothLoopsEveryTime() throws Exception {
        new ServerBootstrap().group(server).channel(FastpathServerSocketChannel.class)
            .childHandler(new Handlers.Echo()).bind(PORT).sync();
        FlowOwner clientOwner = StackShards.ownerOf(pair.b());
        int serverIp = Ipv4Address.parse(SERVER_IP);
        int clientIp = Ipv4Address.parse(CLIENT_IP);
        int[] perLoop = new int[2];
        for (int i = 0; i < 96; i++) {
            Handlers.Collect collect = new Handlers.Collect(4);
            Channel c;
            if (i % 3 == 2) {
                c = new Bootstrap().group(client).channel(FastpathSocketChannel.class).handler(collect)
                    .bind(0).sync().channel();
                c.connect(new InetSocketAddress(SERVER_IP, PORT)).sync();
            } else {
                c = connect(new Bootstrap().group(client)
                    .localAddress(i % 3 == 0 ? new InetSocketAddress(0) : new InetSocketAddress(CLIENT_IP, 0)), collect);
            }
            int shard = client.shardOf(c.eventLoop());
            perLoop[shard]++;
            int localPort = ((InetSocketAddress) c.localAddress()).getPort();
            assertEquals(shard, clientOwner.shardOf(clientIp, localPort, serverIp, PORT),
                "connection " + i + "'s port " + localPort + " is a flow of its loop's shard");
            c.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {9, 8, 7, (byte) i}));
            assertArrayEquals(new byte[] {9, 8, 7, (byte) i}, collect.done.get(10, TimeUnit.SECONDS));
            c.close().sync();
        }
        assertEquals(48, perLoop[0]);
        assertEquals(48, perLoop[1]);
        assertEquals(0, server.failures() + client.failures());
    }

    /**
     * The ephemeral range nearly full: every port taken but 40 whose flows to the server are shard 0's and one of
     * shard 1's. Loop 0 gets each of its 40 once, then 0; with only the other shard's port left, each further
     * search is one pass over the range (it was a pass per port tried: 16,384 passes, seconds, for each connect
     * that could not succeed); a connect from loop 0 then fails saying so, and loop 1 still gets its port.
     */
    @Test
    void ephemeralPortsNearExhaustionAreEachHandedOutOnceQuicklyAndThenRefused() throws Exception {
        new ServerBootstrap().group(server).channel(FastpathServerSocketChannel.class)
            .childHandler(new Handlers.Echo()).bind(PORT).sync();
        FlowOwner clientOwner = StackShards.ownerOf(pair.b());
        int serverIp = Ipv4Address.parse(SERVER_IP);
        int clientIp = Ipv4Address.parse(CLIENT_IP);
        io.fastpath.stack.tcp.LocalPorts ports = client.stack(0).ports(); // the one table of both shards
        List<Integer> taken = new ArrayList<>();
        Set<Integer> free0 = new HashSet<>();
        int free1 = 0;
        for (int p = io.fastpath.stack.tcp.LocalPorts.EPHEMERAL_FIRST; p <= io.fastpath.stack.tcp.LocalPorts.EPHEMERAL_LAST;
             p++) {
            int shard = clientOwner.shardOf(clientIp, p, serverIp, PORT);
            if (shard == 0 && free0.size() < 40 && p % 7 == 0 && !ports.inUse(p)) {
                free0.add(p);
            } else if (shard == 1 && free1 == 0 && p > 60000 && !ports.inUse(p)) {
                free1 = p;
            } else if (ports.tryTake(p)) {
                taken.add(p);
            }
        }
        assertEquals(40, free0.size());
        try {
            FastpathIoHandler loop0 = client.handler(0);
            List<Integer> got = client.loop(0).submit(() -> {
                List<Integer> out = new ArrayList<>();
                for (int port; (port = loop0.allocatePort(serverIp, PORT)) != 0; ) {
                    out.add(port);
                }
                return out;
            }).get(60, TimeUnit.SECONDS);
            taken.addAll(got);
            assertEquals(free0.size(), got.size(), "each free port of shard 0 handed out once: " + got);
            assertEquals(free0, new HashSet<>(got));
            long ns = client.loop(0).submit(() -> {
                long start = System.nanoTime();
                for (int i = 0; i < 20; i++) {
                    assertEquals(0, loop0.allocatePort(serverIp, PORT), "only shard 1's port is free");
                }
                return System.nanoTime() - start;
            }).get(120, TimeUnit.SECONDS);
            System.out.printf("20 searches of a full range for shard 0: %.2f ms%n", ns / 1e6);
            assertTrue(ns < TimeUnit.SECONDS.toNanos(2), "20 searches in " + ns / 1_000_000 + " ms");
            assertTrue(ports.inUse(free1) == false, "the other shard's port was not left taken");

            ChannelFuture refused = new Bootstrap().group(client.loop(0)).channel(FastpathSocketChannel.class)
                .handler(new ChannelInboundHandlerAdapter()).connect(SERVER_IP, PORT).await();
            Throwable cause = refused.cause();
            while (cause != null && !(cause instanceof BindException) && cause.getCause() != null) {
                cause = cause.getCause();
            }
            BindException e = assertInstanceOf(BindException.class, cause, String.valueOf(refused.cause()));
            assertTrue(e.getMessage().contains("no ephemeral port free") && e.getMessage().contains("shard 0"),
                e.getMessage());
            Handlers.Collect collect = new Handlers.Collect(2);
            Channel c = new Bootstrap().group(client.loop(1)).channel(FastpathSocketChannel.class).handler(collect)
                .connect(SERVER_IP, PORT).sync().channel();
            assertEquals(free1, ((InetSocketAddress) c.localAddress()).getPort(), "shard 1's last port");
            c.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {4, 2}));
            assertArrayEquals(new byte[] {4, 2}, collect.done.get(10, TimeUnit.SECONDS));
            c.close().sync();
        } finally {
            for (int p : taken) {
                ports.free(p);
            }
        }
        assertEquals(0, server.failures() + client.failures());
    }

    /**
     * A connect that binds and then fails (a local port whose flow is the other shard's) lets go of the port it
     * took, as NIO's failed connect closes its socket, even when nobody closes the channel (no Bootstrap): the port
     * stayed taken until the channel closed.
     */
    @Test
    void aConnectThatFailsAfterBindingLetsGoOfThePortItTook() throws Exception {
        FlowOwner clientOwner = StackShards.ownerOf(pair.b());
        int serverIp = Ipv4Address.parse(SERVER_IP);
        int clientIp = Ipv4Address.parse(CLIENT_IP);
        int port = 41000;
        while (clientOwner.shardOf(clientIp, port, serverIp, PORT) != 1) {
            port++;
        }
        Channel ch = new Bootstrap().group(client.loop(0)).channel(FastpathSocketChannel.class)
            .handler(new ChannelInboundHandlerAdapter()).register().sync().channel();
        ChannelFuture refused = ch.connect(new InetSocketAddress(SERVER_IP, PORT), new InetSocketAddress(port)).await();
        assertInstanceOf(BindException.class, rootCause(refused.cause()), String.valueOf(refused.cause()));
        assertTrue(ch.isOpen(), "nobody closed the channel");
        int p = port;
        assertFalse(client.loop(0).submit(() -> client.stack(0).ports().inUse(p)).get(), "port " + port + " let go");
        ch.close().sync();
    }

    private static Throwable rootCause(Throwable t) {
        while (t != null && !(t instanceof BindException) && t.getCause() != null) {
            t = t.getCause(); // Netty annotates a SocketException with the remote address
        }
        return t;
    }

    @Test
    void nextGoesRoundTheLoops() {
        EventLoop a = server.next();
        EventLoop b = server.next();
        assertNotEquals(a, b);
        assertSame(a, server.next());
        Set<Integer> shards = Set.of(server.shardOf(a), server.shardOf(b));
        assertEquals(Set.of(0, 1), shards);
        assertEquals(2, server.queues());
    }

    /** Connects, or fails with what both sides' shards hold. */
    private Channel connect(Bootstrap bootstrap, ChannelHandler handler) throws Exception {
        ChannelFuture f = bootstrap.channel(FastpathSocketChannel.class).handler(handler)
            .option(io.netty.channel.ChannelOption.CONNECT_TIMEOUT_MILLIS, 5000).connect(SERVER_IP, PORT).await();
        if (!f.isSuccess()) {
            StringBuilder b = new StringBuilder("connect failed: " + f.cause() + "\n");
            for (FastpathEventLoopGroup g : new FastpathEventLoopGroup[] {server, client}) {
                for (int q = 0; q < g.queues(); q++) {
                    int shard = q;
                    b.append(g == server ? "server" : "client").append(" shard ").append(q).append(":\n")
                        .append(g.loop(q).submit(() -> g.stack(shard).tcp().describe()).get())
                        .append("inbound ring bytes ").append(g.shards().group().inbound(q).size()).append('\n');
                    for (String line : io.fastpath.stack.counters.StackCounters.format(
                        g.stack(q).counters().reader(), false)) {
                        b.append("  ").append(line).append('\n');
                    }
                }
            }
            throw new AssertionError(b.toString(), f.cause());
        }
        return f.channel();
    }

    private static int heldDescriptors(FastpathEventLoopGroup group, int q)
        throws InterruptedException, ExecutionException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        int held;
        do {
            held = group.loop(q).submit(() -> group.stack(q).tcpService().heldDescriptors()).get();
            if (held == 0) {
                return held;
            }
            Thread.sleep(10);
        } while (System.nanoTime() < deadline);
        return held;
    }
}
