package io.fastpath.netty;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.RingPair;
import io.fastpath.testkit.NetNs;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.socket.SocketChannel;
import io.netty.util.ResourceLeakDetector;
import java.lang.management.ManagementFactory;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * What the transport allocates per request: a 64-byte message bounced between two fastpath event loops on a ring
 * pair, each side writing the received buffer straight back with a void promise (so that Netty's own pipeline
 * allocates nothing: no promise, no task), and the event loop threads' allocated bytes measured over 20,000 round
 * trips after a warm-up. Leak detection is off here (it samples buffers with allocated records by design).
 */
class AllocationTest {
    private static final int WARM_UP = 30_000;
    private static final int MEASURED = 20_000;

    @ChannelHandler.Sharable
    private static final class Bounce extends ChannelInboundHandlerAdapter {
        final AtomicInteger reads = new AtomicInteger();
        volatile int stopAt = Integer.MAX_VALUE;
        final CompletableFuture<Void> stopped = new CompletableFuture<>();

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (reads.incrementAndGet() >= stopAt) {
                ((ByteBuf) msg).release();
                stopped.complete(null);
                return;
            }
            ctx.writeAndFlush(msg, ctx.voidPromise());
        }
    }

    @Test
    void aRoundTripAllocatesNothingInTheTransport() throws Exception {
        ResourceLeakDetector.Level level = ResourceLeakDetector.getLevel();
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.DISABLED);
        String name = NetNs.uniqueName("a");
        PktmbufPool pool = PktmbufPool.create(name, 16383, 256, PktmbufPool.DEFAULT_DATA_ROOM);
        RingPair pair = null;
        FastpathEventLoopGroup server = null;
        FastpathEventLoopGroup client = null;
        try {
            pair = RingPair.create(name, 2048, pool, pool, EthDevPort.Config.defaults());
            server = FastpathEventLoopGroup.builder().port(pair.a()).ip("10.98.0.1/24").build();
            client = FastpathEventLoopGroup.builder().port(pair.b()).ip("10.98.0.2/24").build();
            Bounce serverSide = new Bounce();
            Bounce clientSide = new Bounce();
            new ServerBootstrap().group(server).channel(FastpathServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(serverSide);
                    }
                }).bind(7).sync();
            Channel c = new Bootstrap().group(client).channel(FastpathSocketChannel.class).handler(clientSide)
                .connect("10.98.0.1", 7).sync().channel();
            long serverThread = server.next().submit(() -> Thread.currentThread().threadId()).get();
            long clientThread = client.next().submit(() -> Thread.currentThread().threadId()).get();
            com.sun.management.ThreadMXBean threads =
                (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

            ByteBuf first = c.alloc().directBuffer(64);
            first.writerIndex(64);
            c.writeAndFlush(first).sync();
            waitFor(clientSide, WARM_UP);
            long before = threads.getThreadAllocatedBytes(serverThread) + threads.getThreadAllocatedBytes(clientThread);
            int start = clientSide.reads.get();
            long startNs = System.nanoTime();
            waitFor(clientSide, start + MEASURED);
            long elapsedNs = System.nanoTime() - startNs;
            long after = threads.getThreadAllocatedBytes(serverThread) + threads.getThreadAllocatedBytes(clientThread);
            int trips = clientSide.reads.get() - start;
            double perTrip = (double) (after - before) / trips;
            System.out.printf("allocated per 64 B round trip (both event loops, transport and pipeline): %.2f B"
                + " over %d round trips (%.1f us each, mean)%n", perTrip, trips, elapsedNs / 1000.0 / trips);
            clientSide.stopAt = clientSide.reads.get() + 1;
            clientSide.stopped.get(10, TimeUnit.SECONDS);
            assertTrue(perTrip < 1.0, "bytes allocated per round trip: " + perTrip);
            c.close().sync();
            assertEquals(0, server.failures() + client.failures());
        } finally {
            if (client != null) {
                client.shutdownGracefully(0, 5, TimeUnit.SECONDS).sync();
            }
            if (server != null) {
                server.shutdownGracefully(0, 5, TimeUnit.SECONDS).sync();
            }
            if (pair != null) {
                pair.close();
            }
            pool.close();
            ResourceLeakDetector.setLevel(level);
        }
    }

    /**
     * Waits for {@code reads} round trips; fails when none completes for 30 s (a stall). No deadline for the whole
     * count: how long 50,000 round trips take depends on how busy the machine's cores are.
     */
    private static void waitFor(Bounce side, int reads) throws InterruptedException {
        int seen = side.reads.get();
        long stalledAt = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        for (int now; (now = side.reads.get()) < reads; ) {
            if (now != seen) {
                seen = now;
                stalledAt = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            }
            assertTrue(System.nanoTime() - stalledAt < 0, "round trips: " + now + " of " + reads + ", none for 30 s");
            Thread.sleep(1);
        }
    }
}
