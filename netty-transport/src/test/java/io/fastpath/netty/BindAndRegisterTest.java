package io.fastpath.netty;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.MbufArray;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.Port;
import io.fastpath.dpdk.PortStats;
import io.fastpath.dpdk.RingPair;
import io.fastpath.testkit.NetNs;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What a careless application gets wrong about groups and ports, on two one-loop groups joined by a ring pair: a
 * child group other than the server's ({@code group(boss, worker)}), two listeners on one port with SO_REUSEADDR,
 * binds that fail.
 */
class BindAndRegisterTest {
    private static final String SERVER_IP = "10.96.0.1";
    private static final int PORT = 7;
    private PktmbufPool pool;
    private RingPair pair;
    private FailingPort serverPort;
    private FastpathEventLoopGroup server;
    private FastpathEventLoopGroup client;

    @BeforeEach
    void twoEventLoopsOnARingPair() {
        String name = NetNs.uniqueName("br");
        pool = PktmbufPool.create(name, 8191, 256, PktmbufPool.DEFAULT_DATA_ROOM);
        pair = RingPair.create(name, 1024, pool, pool, EthDevPort.Config.defaults());
        serverPort = new FailingPort(pair.a());
        server = FastpathEventLoopGroup.builder().port(serverPort).ip(SERVER_IP + "/24").build();
        client = FastpathEventLoopGroup.builder().port(pair.b()).ip("10.96.0.2/24").build();
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
        } finally {
            pair.close();
            pool.close();
        }
    }

    // ================================================================ group(boss, worker) with a worker of its own

    @Test
    void aChildGroupOfAnotherFastpathStackIsRefusedAndTheChildClosedOnItsOwnLoop() throws Exception {
        String name = NetNs.uniqueName("bo");
        PktmbufPool otherPool = PktmbufPool.create(name, 1023, 64, PktmbufPool.DEFAULT_DATA_ROOM);
        RingPair otherPair = RingPair.create(name, 256, otherPool, otherPool, EthDevPort.Config.defaults());
        FastpathEventLoopGroup other = FastpathEventLoopGroup.builder().port(otherPair.a()).ip("10.95.0.1/24").build();
        try {
            childOfAnotherGroup(other);
            assertEquals(0, other.failures());
        } finally {
            other.shutdownGracefully(0, 5, TimeUnit.SECONDS).sync();
            otherPair.close();
            otherPool.close();
        }
    }

    @Test
    void aChildGroupOfAnotherTransportIsRefusedAndTheChildClosedOnItsOwnLoop() throws Exception {
        EventLoopGroup nio = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        try {
            childOfAnotherGroup(nio);
        } finally {
            nio.shutdownGracefully(0, 5, TimeUnit.SECONDS).sync();
        }
    }

    /**
     * {@code ServerBootstrap.group(server, worker)}: the acceptor registers each child with {@code worker}, which
     * must refuse it, and the child, whose stack, events and buffers belong to the loop that accepted it, must be
     * closed there, not on the worker's loop that refused it. The child has received data before it is handed on
     * (the listener reads with auto-read off, after the data is in): while its loop is held, the refused child keeps
     * its input (it was released on the worker's thread, racing the loop that queues it); once the loop runs, the
     * input is released, and the peer sees the connection closed.
     */
    private void childOfAnotherGroup(EventLoopGroup worker) throws Exception {
        CompletableFuture<Integer> inputWhileItsLoopIsBusy = new CompletableFuture<>();
        Channel listener = new ServerBootstrap().group(server, worker).channel(FastpathServerSocketChannel.class)
            .option(ChannelOption.AUTO_READ, false)
            .handler(new ChannelInboundHandlerAdapter() {
                @Override
                public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
                    FastpathSocketChannel child = (FastpathSocketChannel) msg;
                    int before = child.queuedInput();
                    ctx.fireChannelRead(msg); // ServerBootstrap's acceptor: worker.register(child), refused
                    // This loop (one queue: the server's is the child's) is held until the worker's loop has done
                    // what Netty does with a child it refuses (close it), and a little longer.
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
                    while (!child.closeFuture().isDone() && System.nanoTime() < deadline) {
                        Thread.sleep(1);
                    }
                    Thread.sleep(50);
                    inputWhileItsLoopIsBusy.complete(before > 0 ? child.queuedInput() : -1);
                }
            }).childHandler(new Handlers.Echo()).bind(PORT).sync().channel();

        Handlers.Collect collect = new Handlers.Collect(6);
        Channel c = new Bootstrap().group(client).channel(FastpathSocketChannel.class).handler(collect)
            .connect(SERVER_IP, PORT).sync().channel();
        c.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {1, 2, 3, 4, 5})).sync();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (heldDescriptors() == 0 && System.nanoTime() < deadline) {
            Thread.sleep(1); // the data waits in the accepted child, which the listener has not handed on yet
        }
        listener.read();
        assertEquals(1, inputWhileItsLoopIsBusy.get(10, TimeUnit.SECONDS),
            "the refused child's input, untouched while its loop is busy");
        assertEquals(0, collect.done.get(10, TimeUnit.SECONDS).length, "the peer sees the connection closed");
        c.closeFuture().sync();
        assertEquals(0, heldDescriptors(), "the refused child's input released on its loop");
        listener.close().sync();
        assertEquals(0, server.failures() + client.failures(), "no duty cycle or event threw");
    }

    private int heldDescriptors() throws Exception {
        return server.loop(0).submit(() -> server.stack(0).tcpService().heldDescriptors()).get(5, TimeUnit.SECONDS);
    }

    @Test
    void registeringAnAcceptedChildWithAnotherGroupFailsSayingWhichGroupToUse() throws Exception {
        EventLoopGroup nio = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        String name = NetNs.uniqueName("bo");
        PktmbufPool otherPool = PktmbufPool.create(name, 1023, 64, PktmbufPool.DEFAULT_DATA_ROOM);
        RingPair otherPair = RingPair.create(name, 256, otherPool, otherPool, EthDevPort.Config.defaults());
        FastpathEventLoopGroup other = FastpathEventLoopGroup.builder().port(otherPair.a()).ip("10.95.0.1/24").build();
        try {
            int port = PORT;
            for (EventLoopGroup worker : new EventLoopGroup[] {nio, other}) {
                port++; // a port of its own: the last one's connection may still be closing on PORT
                CompletableFuture<Throwable> refusal = new CompletableFuture<>();
                // What ServerBootstrap's acceptor does with each child: register it with the child group, and
                // close it forcibly if that fails.
                Channel listener = new ServerBootstrap().group(server).channel(FastpathServerSocketChannel.class)
                    .handler(new ChannelInboundHandlerAdapter() {
                        @Override
                        public void channelRead(ChannelHandlerContext ctx, Object msg) {
                            Channel child = (Channel) msg;
                            worker.register(child).addListener(f -> {
                                if (!f.isSuccess()) {
                                    child.unsafe().closeForcibly();
                                }
                                refusal.complete(f.cause());
                            });
                        }
                    }).childHandler(new Handlers.Echo()).bind(port).sync().channel();
                Handlers.Collect collect = new Handlers.Collect(1);
                new Bootstrap().group(client).channel(FastpathSocketChannel.class).handler(collect)
                    .connect(SERVER_IP, port).sync();
                Throwable cause = refusal.get(10, TimeUnit.SECONDS);
                IllegalStateException e = assertInstanceOf(IllegalStateException.class, cause, "refused: " + worker);
                assertTrue(e.getMessage().contains("same FastpathEventLoopGroup as parent and child group"),
                    e.getMessage());
                assertEquals(0, collect.done.get(10, TimeUnit.SECONDS).length, "the peer sees the connection closed");
                listener.close().sync();
            }
            assertEquals(0, server.failures() + client.failures() + other.failures());
        } finally {
            nio.shutdownGracefully(0, 5, TimeUnit.SECONDS).sync();
            other.shutdownGracefully(0, 5, TimeUnit.SECONDS).sync();
            otherPair.close();
            otherPool.close();
        }
    }

    // ================================================================ one listener a port

    /**
     * Linux: SO_REUSEADDR lets a listener bind a port its old connections still use, but a second listen on a port
     * with a listener fails (EADDRINUSE) unless both set SO_REUSEPORT. Here the second bind reached the stack, which
     * refused it, but took the first listener's place in the loop's table on the way: the first one's connections
     * were then reset.
     */
    @Test
    void aSecondListenerOnAPortIsRefusedEvenWithSoReuseAddrAndTheFirstKeepsServing() throws Exception {
        Channel first = new ServerBootstrap().group(server).channel(FastpathServerSocketChannel.class)
            .option(ChannelOption.SO_REUSEADDR, true).childHandler(new Handlers.Echo()).bind(PORT).sync().channel();
        echo(0);
        ChannelFuture second = new ServerBootstrap().group(server).channel(FastpathServerSocketChannel.class)
            .option(ChannelOption.SO_REUSEADDR, true).childHandler(new Handlers.Echo()).bind(PORT).await();
        BindException e = assertInstanceOf(BindException.class, second.cause(), String.valueOf(second.cause()));
        assertTrue(e.getMessage().contains("address already in use") && e.getMessage().contains("listener"),
            e.getMessage());
        for (int i = 1; i <= 4; i++) {
            echo(i); // still the first listener's
        }
        first.close().sync();
        assertPortFree(PORT);
        // Once the first is gone, another listener may have the port (with SO_REUSEADDR while the first one's
        // connections may still be closing on it).
        Channel third = new ServerBootstrap().group(server).channel(FastpathServerSocketChannel.class)
            .option(ChannelOption.SO_REUSEADDR, true).childHandler(new Handlers.Echo()).bind(PORT).sync().channel();
        echo(5);
        third.close().sync();
        assertPortFree(PORT);
        assertEquals(0, server.failures() + client.failures());
    }

    // ================================================================ binds that fail

    /**
     * A bind waits on its loop, running the stack, for every shard's answer to its listen; a duty cycle that throws
     * meanwhile fails the bind. The port it took (and the listen it asked for) stayed taken, for good: the channel
     * never listened, so its close let go of nothing, and every later bind of the port failed.
     */
    @Test
    void aBindThatThrowsLetsGoOfItsPort() throws Exception {
        ChannelFuture failed = new ServerBootstrap().group(server).channel(FastpathServerSocketChannel.class)
            .handler(new ChannelOutboundHandlerAdapter() {
                @Override
                public void bind(ChannelHandlerContext ctx, SocketAddress localAddress, ChannelPromise promise) {
                    serverPort.failNextReceive = true; // the loop, just before doBind: its wait's duty cycle throws
                    ctx.bind(localAddress, promise);
                }
            }).childHandler(new Handlers.Echo()).bind(PORT).await();
        assertEquals(FailingPort.FAILURE, failed.cause(), "the bind failed with what the duty cycle threw");
        failed.channel().close().sync();
        assertPortFree(PORT);
        Channel again = new ServerBootstrap().group(server).channel(FastpathServerSocketChannel.class)
            .childHandler(new Handlers.Echo()).bind(PORT).sync().channel();
        echo(1);
        // A second bind of a bound channel would hold (and lose) another port: refused, as NIO does.
        ChannelFuture twice = again.bind(new InetSocketAddress(PORT + 1)).await();
        assertInstanceOf(java.nio.channels.AlreadyBoundException.class, twice.cause());
        assertPortFree(PORT + 1);
        again.close().sync();
        assertPortFree(PORT);
        assertEquals(0, server.failures() + client.failures(), "no turn of the loop threw (the bind did)");
    }

    /** The server's port, whose next receive throws when asked to (the poll thread's). */
    static final class FailingPort implements Port {
        static final RuntimeException FAILURE = new IllegalStateException("injected receive failure");
        private final Port port;
        volatile boolean failNextReceive;

        FailingPort(Port port) {
            this.port = port;
        }

        @Override
        public int receive(MbufArray pkts, int max) {
            if (failNextReceive) {
                failNextReceive = false;
                throw FAILURE;
            }
            return port.receive(pkts, max);
        }

        @Override
        public String name() {
            return port.name();
        }

        @Override
        public int portId() {
            return port.portId();
        }

        @Override
        public long macAddress() {
            return port.macAddress();
        }

        @Override
        public int mtu() {
            return port.mtu();
        }

        @Override
        public long txOffloadCapabilities() {
            return port.txOffloadCapabilities();
        }

        @Override
        public long rxOffloadCapabilities() {
            return port.rxOffloadCapabilities();
        }

        @Override
        public long txOffloads() {
            return port.txOffloads();
        }

        @Override
        public int descriptorMbufs() {
            return port.descriptorMbufs();
        }

        @Override
        public PktmbufPool pool() {
            return port.pool();
        }

        @Override
        public int transmit(MbufArray pkts, int from, int count) {
            return port.transmit(pkts, from, count);
        }

        @Override
        public PortStats stats(PortStats into) {
            return port.stats(into);
        }

        @Override
        public boolean linkUp() {
            return port.linkUp();
        }

        @Override
        public void close() {
            // the ring pair closes its ports
        }
    }

    /** A connection to the listener on PORT echoes three bytes. */
    private void echo(int i) throws Exception {
        Handlers.Collect collect = new Handlers.Collect(3);
        Channel c = new Bootstrap().group(client).channel(FastpathSocketChannel.class).handler(collect)
            .connect(SERVER_IP, PORT).sync().channel();
        c.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {1, 2, (byte) i}));
        assertArrayEquals(new byte[] {1, 2, (byte) i}, collect.done.get(10, TimeUnit.SECONDS), "echo " + i);
        c.close().sync();
    }

    /** The server's port table lets go of {@code port} (a listener's close finishes on its loop). */
    private void assertPortFree(int port) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        boolean inUse;
        do {
            inUse = server.loop(0).submit(() -> server.stack(0).ports().inUse(port)).get(5, TimeUnit.SECONDS);
        } while (inUse && System.nanoTime() < deadline && sleep());
        assertFalse(inUse, "port " + port + " free in the stack's table");
    }

    private static boolean sleep() throws InterruptedException {
        Thread.sleep(5);
        return true;
    }
}
