package io.fastpath.netty;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.RingPair;
import io.fastpath.stack.tcp.LocalPorts;
import io.fastpath.testkit.NetNs;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.ChannelPromise;
import io.netty.channel.ChannelProgressiveFuture;
import io.netty.channel.ChannelProgressiveFutureListener;
import io.netty.channel.ChannelProgressivePromise;
import io.netty.channel.DefaultFileRegion;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.socket.SocketChannel;
import io.netty.util.ResourceLeakDetector;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Two fastpath event loops joined by a DPDK ring pair (no kernel in the path): Netty's bootstraps, unchanged
 * handlers, 1 MiB echoed and compared byte for byte, with Netty's leak detector at PARANOID and every received
 * mbuf back with the stack at the end.
 */
class RingPairEchoTest {
    private ResourceLeakDetector.Level level;
    private LeakWatch leaks;
    private PktmbufPool pool;
    private RingPair pair;
    private FastpathEventLoopGroup server;
    private FastpathEventLoopGroup client;

    @BeforeEach
    void twoEventLoopsOnARingPair() throws Exception {
        level = ResourceLeakDetector.getLevel();
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
        leaks = LeakWatch.install();
        String name = NetNs.uniqueName("r");
        pool = PktmbufPool.create(name, 16383, 256, PktmbufPool.DEFAULT_DATA_ROOM);
        pair = RingPair.create(name, 2048, pool, pool, EthDevPort.Config.defaults());
        server = FastpathEventLoopGroup.builder().port(pair.a()).ip("10.99.0.1/24").build();
        client = FastpathEventLoopGroup.builder().port(pair.b()).ip("10.99.0.2/24").build();
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
            if (pair != null) {
                pair.close();
            }
            pool.close();
            ResourceLeakDetector.setLevel(level);
        }
    }

    private Channel listen(ChannelHandler handler) throws InterruptedException {
        return listen(handler, 7);
    }

    private Channel listen(ChannelHandler handler, int port) throws InterruptedException {
        return new ServerBootstrap().group(server).channel(FastpathServerSocketChannel.class)
            .childHandler(new ChannelInitializer<SocketChannel>() {
                @Override
                protected void initChannel(SocketChannel ch) {
                    ch.pipeline().addLast(handler);
                }
            }).bind(port).sync().channel();
    }

    /**
     * A client that closes first leaves its 4-tuple in TIME-WAIT; the transport's own choice of the next local port
     * must skip it, as the stack's and Linux's do (review finding: the cursor came round to it after 16,384
     * connects and the connect was refused with STATUS_ADDRESS_ALREADY_EXISTS). The cursor is set back by hand here.
     */
    @Test
    void aPortWhoseFourTupleIsInTimeWaitIsNotChosenForTheSameServer() throws Exception {
        Channel listener = listen(new Handlers.Echo());
        Handlers.Collect first = new Handlers.Collect(2);
        Channel c = new Bootstrap().group(client).channel(FastpathSocketChannel.class).handler(first)
            .connect("10.99.0.1", 7).sync().channel();
        int port = ((SocketChannel) c).localAddress().getPort();
        c.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {1, 2})).sync();
        first.done.get(10, TimeUnit.SECONDS);
        c.close().sync(); // we close first: our side keeps the 4-tuple in TIME-WAIT
        FastpathIoHandler io = client.handler(0);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (io.stack.tcp().timeWaitCount() == 0) { // read on the test thread: only a wait condition
            assertTrue(System.nanoTime() < deadline, "the client's connection reached TIME-WAIT");
            Thread.sleep(5);
        }
        client.handler(0).loop.submit(() -> io.portCursor().set(port - LocalPorts.EPHEMERAL_FIRST))
            .sync();
        Handlers.Collect second = new Handlers.Collect(2);
        Channel again = new Bootstrap().group(client).channel(FastpathSocketChannel.class).handler(second)
            .connect("10.99.0.1", 7).sync().channel();
        assertTrue(((SocketChannel) again).localAddress().getPort() != port, "the TIME-WAIT port was skipped");
        again.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {3, 4})).sync();
        assertArrayEquals(new byte[] {3, 4}, second.done.get(10, TimeUnit.SECONDS));
        again.close().sync();
        listener.close().sync();
    }

    @Test
    void oneMebibyteEchoedBetweenTwoFastpathEventLoops() throws Exception {
        Channel listener = listen(new Handlers.Echo());
        assertEquals(7, ((FastpathServerSocketChannel) listener).localAddress().getPort());

        byte[] data = new byte[1 << 20];
        new Random(14).nextBytes(data);
        Handlers.Collect collect = new Handlers.Collect(data.length);
        Channel c = new Bootstrap().group(client).channel(FastpathSocketChannel.class).handler(collect)
            .connect("10.99.0.1", 7).sync().channel();
        assertEquals("10.99.0.1", ((SocketChannel) c).remoteAddress().getAddress().getHostAddress());
        assertEquals("10.99.0.2", ((SocketChannel) c).localAddress().getAddress().getHostAddress());
        // Half as heap chunks (copied to direct once), half as one direct buffer.
        int half = data.length / 2;
        for (int off = 0; off < half; off += 16384) {
            c.write(Unpooled.wrappedBuffer(data, off, Math.min(16384, half - off)));
        }
        ByteBuf direct = c.alloc().directBuffer(data.length - half);
        direct.writeBytes(data, half, data.length - half);
        c.writeAndFlush(direct).sync();

        byte[] echoed = collect.done.get(60, TimeUnit.SECONDS);
        assertEquals(data.length, echoed.length);
        assertArrayEquals(data, echoed, "the echo, byte for byte");
        // The loops are their stacks' bound poll threads: the echo's sends and the releases were direct calls whose
        // output left at the end of the loop's turn, not request records read a duty cycle later, and the events
        // came by direct call, not through the event ring.
        for (FastpathEventLoopGroup group : new FastpathEventLoopGroup[] {server, client}) {
            FastpathIoHandler io = group.handler(0);
            long outputs = io.loop.submit(() -> io.stack.tcpService().directOutputs()).get(10, TimeUnit.SECONDS);
            assertTrue(outputs > 0, "output between duty cycles on the loop thread: " + outputs);
            long events = io.loop.submit(() -> io.client.directEventsDelivered()).get(10, TimeUnit.SECONDS);
            assertTrue(events > 0, "events by direct call, not through the event ring: " + events);
        }
        c.close().sync();
        listener.close().sync();

        assertEquals(0, heldDescriptors(client), "every received mbuf back with the client's stack");
        assertEquals(0, heldDescriptors(server), "every received mbuf back with the server's stack");
        leaks.assertNone();
        assertEquals(0, server.failures() + client.failures(), "no duty cycle or event threw");
    }

    /**
     * Eight small writes made from another thread (Netty runs them as tasks, outside the loop's turn of events) and
     * one flush leave as one segment: the flush holds the output of its direct sends until all are in (review
     * finding: with TCP_NODELAY each direct send went out as a segment and a burst of its own).
     */
    @Test
    void smallWritesOfOneFlushFromAnotherThreadLeaveAsOneSegment() throws Exception {
        int[] reads = {0};
        Handlers.Collect collect = new Handlers.Collect(800) {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                reads[0]++;
                super.channelRead(ctx, msg);
            }
        };
        Channel listener = listen(collect);
        Channel c = new Bootstrap().group(client).channel(FastpathSocketChannel.class)
            .handler(new ChannelInboundHandlerAdapter()).connect("10.99.0.1", 7).sync().channel();
        byte[] data = new byte[800];
        new Random(8).nextBytes(data);
        for (int i = 0; i < 8; i++) {
            c.write(Unpooled.wrappedBuffer(data, i * 100, 100)); // from the test thread: tasks on the loop
        }
        c.flush();
        assertArrayEquals(data, collect.done.get(10, TimeUnit.SECONDS)); // completed after the reads it counted
        assertEquals(1, reads[0], "one segment for the flush's eight sends");
        c.close().sync();
        listener.close().sync();
        assertEquals(0, server.failures() + client.failures(), "no duty cycle or event threw");
    }

    /**
     * File regions (Netty's sendfile writes, read here into direct chunks), all in one flush: a region slice of
     * 700,000 bytes between buffers, an empty region, buffers right behind a region (handed over while its last
     * chunks are still with the stack), a second region and more buffers: everything arrives whole and in order,
     * and the slice's progressive promise sees every byte.
     */
    @Test
    void fileRegionsAndBuffersGoWholeAndInOrder() throws Exception {
        Path file = Files.createTempFile("fastpath-region", ".bin");
        try {
            byte[] content = new byte[1 << 20];
            new Random(15).nextBytes(content);
            Files.write(file, content);
            Channel listener = listen(new Handlers.Echo());
            ByteArrayOutputStream expected = new ByteArrayOutputStream();
            List<ChannelFuture> writes = new ArrayList<>();
            Handlers.Collect[] collect = new Handlers.Collect[1];
            int sliceFrom = 1000;
            int sliceLength = 700_000;
            int chunks = 5 * InFlightSends.REGION_CHUNK + 123;
            List<Object> messages = new ArrayList<>();
            messages.add("HEAD");
            messages.add(new int[] {sliceFrom, sliceLength});
            messages.add(new int[] {0, 0});
            messages.add("MID!");
            messages.add(new int[] {7, chunks});
            for (int i = 0; i < 6; i++) {
                messages.add("b" + i);
            }
            messages.add(new int[] {100_000, chunks});
            for (int i = 0; i < 6; i++) {
                messages.add("c" + i);
            }
            for (Object m : messages) {
                if (m instanceof String text) {
                    expected.write(text.getBytes(StandardCharsets.US_ASCII));
                } else {
                    int[] range = (int[]) m;
                    expected.write(content, range[0], range[1]);
                }
            }
            collect[0] = new Handlers.Collect(expected.size());
            Channel c = new Bootstrap().group(client).channel(FastpathSocketChannel.class).handler(collect[0])
                .connect("10.99.0.1", 7).sync().channel();
            AtomicLong progress = new AtomicLong();
            ChannelProgressivePromise slice = c.newProgressivePromise();
            slice.addListener(new ChannelProgressiveFutureListener() {
                @Override
                public void operationProgressed(ChannelProgressiveFuture f, long now, long total) {
                    progress.set(now);
                }

                @Override
                public void operationComplete(ChannelProgressiveFuture f) {
                }
            });
            c.eventLoop().submit(() -> {
                for (Object m : messages) {
                    if (m instanceof String text) {
                        writes.add(c.write(Unpooled.copiedBuffer(text, StandardCharsets.US_ASCII)));
                    } else {
                        int[] range = (int[]) m;
                        DefaultFileRegion region = new DefaultFileRegion(file.toFile(), range[0], range[1]);
                        writes.add(range[0] == sliceFrom ? c.write(region, slice) : c.write(region));
                    }
                }
                c.flush();
            }).sync();

            byte[] echoed = collect[0].done.get(60, TimeUnit.SECONDS);
            assertArrayEquals(expected.toByteArray(), echoed, "buffers and regions, in order, byte for byte");
            for (ChannelFuture w : writes) {
                assertTrue(w.await(10, TimeUnit.SECONDS) && w.isSuccess(), () -> "write: " + w.cause());
            }
            assertEquals(sliceLength, progress.get(), "the promise saw the region's every byte as progress");
            c.close().sync();
            listener.close().sync();
            leaks.assertNone();
            assertEquals(0, server.failures() + client.failures(), "no duty cycle or event threw");
        } finally {
            Files.deleteIfExists(file);
        }
    }

    /**
     * A region that fails part-way (its file is shorter than the region) fails its write and then the channel's
     * output, as Netty's own transports do: the peer gets the head and whole chunks of the file, then the end of the
     * stream, never the write queued behind the region (an HTTP client would otherwise read the next response as
     * this one's body). A region over a closed file channel does the same at its first chunk.
     */
    @Test
    void aFileRegionThatFailsPartWayEndsTheOutputAndNothingBehindItGoes() throws Exception {
        Path shortFile = Files.createTempFile("fastpath-region-short", ".bin");
        try {
            byte[] content = new byte[200_000];
            new Random(17).nextBytes(content);
            Files.write(shortFile, content);
            for (boolean closedFile : new boolean[] {false, true}) {
                // The server side collects what arrives until our FIN (its channel then closes). A port per case:
                // the first listener's stop reaches the stack asynchronously.
                int port = closedFile ? 8 : 7;
                Handlers.Collect collect = new Handlers.Collect(Integer.MAX_VALUE);
                Channel listener = listen(collect, port);
                Channel c = new Bootstrap().group(client).channel(FastpathSocketChannel.class)
                    .handler(new ChannelInboundHandlerAdapter()).connect("10.99.0.1", port).sync().channel();
                FileChannel fc = FileChannel.open(shortFile, StandardOpenOption.READ);
                if (closedFile) {
                    fc.close();
                }
                ChannelFuture head = c.write(Unpooled.copiedBuffer("HEAD", StandardCharsets.US_ASCII));
                ChannelFuture region = c.write(new DefaultFileRegion(fc, 0, 1 << 20));
                ChannelFuture next = c.writeAndFlush(Unpooled.copiedBuffer("NEXT-RESPONSE", StandardCharsets.US_ASCII));
                assertTrue(region.await(10, TimeUnit.SECONDS));
                Class<? extends Throwable> failure = closedFile ? ClosedChannelException.class : IOException.class;
                assertTrue(failure.isInstance(region.cause()), () -> "region: " + region.cause());
                assertTrue(next.await(10, TimeUnit.SECONDS));
                assertFalse(next.isSuccess(), "the write behind the failed region does not go");
                assertTrue(head.await(10, TimeUnit.SECONDS) && head.isSuccess());
                byte[] got = collect.done.get(30, TimeUnit.SECONDS);
                String text = new String(got, StandardCharsets.ISO_8859_1);
                assertTrue(text.startsWith("HEAD"), "the head went");
                assertFalse(text.contains("NEXT-RESPONSE"), "nothing behind the region went");
                int fileBytes = got.length - 4;
                assertTrue(fileBytes <= content.length);
                assertArrayEquals(java.util.Arrays.copyOf(content, fileBytes),
                    java.util.Arrays.copyOfRange(got, 4, got.length), "the file's first bytes");
                assertEquals(closedFile ? 0 : 3 * InFlightSends.REGION_CHUNK, fileBytes,
                    "the whole chunks the file filled, nothing else");
                c.closeFuture().await(10, TimeUnit.SECONDS);
                assertFalse(c.isOpen(), "an IOException with auto-close closes the channel, as on NIO and epoll");
                listener.close().sync();
            }
            leaks.assertNone();
            assertEquals(0, server.failures() + client.failures(), "no duty cycle or event threw");
        } finally {
            Files.deleteIfExists(shortFile);
        }
    }

    /** The control: a handler that drops a received buffer unreleased is caught by both counts. */
    @Test
    void aReceivedBufferNeverReleasedIsReportedByNettyAndHeldByTheStack() throws Exception {
        CompletableFuture<Integer> dropped = new CompletableFuture<>();
        listen(new ChannelInboundHandlerAdapter() {
            @Override
            public boolean isSharable() {
                return true;
            }

            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                dropped.complete(((ByteBuf) msg).readableBytes()); // and never released
            }
        });
        Channel c = new Bootstrap().group(client).channel(FastpathSocketChannel.class)
            .handler(new ChannelInboundHandlerAdapter()).connect("10.99.0.1", 7).sync().channel();
        c.writeAndFlush(Unpooled.copiedBuffer("leak me", StandardCharsets.US_ASCII)).sync();
        assertEquals(7, dropped.get(10, TimeUnit.SECONDS));
        assertEquals(1, heldDescriptorsAfter(server, 1), "the stack still lends the mbuf");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (leaks.leaks.isEmpty() && System.nanoTime() < deadline) {
            leaks.collect();
        }
        assertTrue(leaks.leaks.stream().anyMatch(l -> l.contains("ByteBuf")), "Netty's leak report: " + leaks.leaks);
        c.close().sync();
    }

    @Test
    void writabilityFollowsTheSendBacklogAndAutoReadOffHoldsDataUntilRead() throws Exception {
        CompletableFuture<Channel> child = new CompletableFuture<>();
        AtomicLong received = new AtomicLong();
        new ServerBootstrap().group(server).channel(FastpathServerSocketChannel.class)
            .childOption(ChannelOption.AUTO_READ, false)
            .childHandler(new ChannelInboundHandlerAdapter() {
                @Override
                public boolean isSharable() {
                    return true;
                }

                @Override
                public void channelActive(ChannelHandlerContext ctx) {
                    child.complete(ctx.channel());
                }

                @Override
                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                    received.addAndGet(((ByteBuf) msg).readableBytes());
                    ((ByteBuf) msg).release();
                }
            }).bind(7).sync();
        AtomicInteger unwritable = new AtomicInteger();
        AtomicInteger writableAgain = new AtomicInteger();
        Channel c = new Bootstrap().group(client).channel(FastpathSocketChannel.class)
            .option(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(8 << 10, 32 << 10))
            .handler(new ChannelInboundHandlerAdapter() {
                @Override
                public void channelWritabilityChanged(ChannelHandlerContext ctx) {
                    (ctx.channel().isWritable() ? writableAgain : unwritable).incrementAndGet();
                }
            }).connect("10.99.0.1", 7).sync().channel();
        Channel accepted = child.get(5, TimeUnit.SECONDS);
        assertFalse(accepted.config().isAutoRead());

        int chunks = 64;
        List<ChannelFuture> writes = new ArrayList<>();
        for (int i = 0; i < chunks; i++) {
            ByteBuf b = c.alloc().directBuffer(64 << 10);
            b.writerIndex(64 << 10);
            writes.add(c.writeAndFlush(b));
        }
        // Nobody reads: the peer's window and our send buffer fill, the writes wait, the channel turns unwritable.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (unwritable.get() == 0 && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertTrue(unwritable.get() > 0, "channelWritabilityChanged to unwritable");
        assertEquals(0, received.get(), "auto-read off: nothing read");
        assertTrue(writes.stream().anyMatch(f -> !f.isDone()), "writes wait for the stack's send buffer");

        accepted.config().setAutoRead(true);
        for (ChannelFuture f : writes) {
            assertTrue(f.await(30, TimeUnit.SECONDS) && f.isSuccess(), "every write completes: " + f.cause());
        }
        deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (received.get() < (long) chunks << 16 && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertEquals((long) chunks << 16, received.get());
        // A write's promise completes just before Netty takes its bytes off the pending count: wait for the event.
        deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (writableAgain.get() == 0 && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        ChannelOutboundBuffer out = c.unsafe().outboundBuffer();
        assertTrue(c.isWritable(), "writable again; pending " + out.totalPendingWriteBytes() + " bytes, "
            + out.size() + " messages, " + unwritable + " unwritable / " + writableAgain + " writable events");
        assertTrue(writableAgain.get() > 0, "channelWritabilityChanged back to writable");
        c.close().sync();
        assertEquals(0, heldDescriptors(server));
    }

    /**
     * Every write copied into the stack, none left in Netty's outbound buffer, but the peer (a 16 KiB window, not
     * reading) has not acknowledged most of them: the unacknowledged bytes in the stack's send buffer count towards
     * the water marks, so the channel is unwritable; once the peer reads and acknowledges, it is writable again.
     */
    @Test
    void unacknowledgedBytesInTheStacksSendBufferMakeTheChannelUnwritable() throws Exception {
        CompletableFuture<Channel> child = new CompletableFuture<>();
        AtomicLong received = new AtomicLong();
        new ServerBootstrap().group(server).channel(FastpathServerSocketChannel.class)
            .option(ChannelOption.SO_RCVBUF, 16 << 10)
            .childOption(ChannelOption.AUTO_READ, false)
            .childHandler(new ChannelInboundHandlerAdapter() {
                @Override
                public boolean isSharable() {
                    return true;
                }

                @Override
                public void channelActive(ChannelHandlerContext ctx) {
                    child.complete(ctx.channel());
                }

                @Override
                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                    received.addAndGet(((ByteBuf) msg).readableBytes());
                    ((ByteBuf) msg).release();
                }
            }).bind(7).sync();
        AtomicInteger unwritable = new AtomicInteger();
        AtomicInteger writableAgain = new AtomicInteger();
        Channel c = new Bootstrap().group(client).channel(FastpathSocketChannel.class)
            .option(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(8 << 10, 32 << 10))
            .handler(new ChannelInboundHandlerAdapter() {
                @Override
                public void channelWritabilityChanged(ChannelHandlerContext ctx) {
                    (ctx.channel().isWritable() ? writableAgain : unwritable).incrementAndGet();
                }
            }).connect("10.99.0.1", 7).sync().channel();
        Channel accepted = child.get(5, TimeUnit.SECONDS);

        int total = 64 << 10; // a quarter of the stack's 256 KiB send buffer: all of it is copied at once
        List<ChannelFuture> writes = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            ByteBuf b = c.alloc().directBuffer(16 << 10);
            b.writerIndex(16 << 10);
            writes.add(c.writeAndFlush(b));
        }
        for (ChannelFuture f : writes) {
            assertTrue(f.await(10, TimeUnit.SECONDS) && f.isSuccess(), "every write copied by the stack: " + f.cause());
        }
        // A write's promise completes just before Netty takes its bytes off the pending count.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (c.unsafe().outboundBuffer().totalPendingWriteBytes() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertEquals(0, c.unsafe().outboundBuffer().totalPendingWriteBytes(), "nothing left in Netty's buffer");
        assertTrue(unwritable.get() > 0, "channelWritabilityChanged to unwritable from the stack's send buffer");
        assertFalse(c.isWritable(), "about 48 KiB unacknowledged is above the 32 KiB high water mark");
        FastpathSocketChannel channel = (FastpathSocketChannel) c;
        int backlog = c.eventLoop().submit(() -> client.stack().tcp().sendQueued(channel.handle())).get();
        assertTrue(backlog > 32 << 10, "the stack's send buffer holds " + backlog + " unacknowledged bytes");

        accepted.config().setAutoRead(true); // the peer reads, its window opens, our bytes are acknowledged
        deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while ((writableAgain.get() == 0 || received.get() < total) && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertEquals(total, received.get());
        assertTrue(writableAgain.get() > 0, "channelWritabilityChanged back to writable");
        assertTrue(c.isWritable());
        c.close().sync();
        assertEquals(0, server.failures() + client.failures());
    }

    @Test
    void shutdownGracefullyClosesEveryConnection() throws Exception {
        listen(new Handlers.Echo());
        Channel c = new Bootstrap().group(client).channel(FastpathSocketChannel.class)
            .handler(new ChannelInboundHandlerAdapter()).connect("10.99.0.1", 7).sync().channel();
        assertTrue(c.isActive());
        server.shutdownGracefully(0, 5, TimeUnit.SECONDS).sync();
        assertTrue(c.closeFuture().await(10, TimeUnit.SECONDS), "the peer saw the connection close");
        assertEquals(0, client.failures() + server.failures());
    }

    @Test
    void tcpFastOpenConnectCarriesTheFirstWriteInTheSynOnceACookieIsCached_rfc7413() throws Exception {
        listen(new Handlers.Echo());
        for (int round = 0; round < 2; round++) {
            long synDataBefore = client.stack().counters().tcpFastOpenSynDataSent.get();
            Handlers.Collect collect = new Handlers.Collect(5);
            Channel c = new Bootstrap().group(client).channel(FastpathSocketChannel.class)
                .option(FastpathChannelOption.TCP_FASTOPEN_CONNECT, true)
                .handler(collect).register().sync().channel();
            ChannelFuture write = c.write(Unpooled.copiedBuffer("hello", StandardCharsets.US_ASCII));
            c.connect(new InetSocketAddress("10.99.0.1", 7)).sync();
            assertTrue(write.await(5, TimeUnit.SECONDS) && write.isSuccess(), "the write before connect: "
                + write.cause());
            assertEquals("hello", new String(collect.done.get(10, TimeUnit.SECONDS), StandardCharsets.US_ASCII));
            long synData = client.stack().counters().tcpFastOpenSynDataSent.get() - synDataBefore;
            // The first connect asks for a cookie; the second sends its data with the SYN.
            assertEquals(round == 0 ? 0 : 1, synData, "SYNs with data in round " + round);
            c.close().sync();
        }
    }

    /**
     * Fast Open data of a connect that queued on the request ring (another thread's request was on it) stays with
     * the channel until the connect's outcome, even when the channel closes at once: the record carries only the
     * data's address, which the stack reads when it takes the record. Before, the close released the buffer at
     * once (back to its pool, or freed), and the stack then copied memory that was no longer the data.
     */
    @Test
    void fastOpenDataOfAConnectClosedBeforeTheStackTookItStaysUntilTheConnectsOutcome() throws Exception {
        listen(new Handlers.Echo());
        FastpathIoHandler io = client.handler(0);
        Channel c = new Bootstrap().group(client).channel(FastpathSocketChannel.class)
            .option(FastpathChannelOption.TCP_FASTOPEN_CONNECT, true)
            .handler(new Handlers.Collect(5)).register().sync().channel();
        ByteBuf data = Unpooled.directBuffer(5).writeBytes("hello".getBytes(StandardCharsets.US_ASCII));
        c.write(data);
        int[] afterClose = {-1};
        io.loop.submit(() -> {
            // A request from another thread: the connect made next, on the loop, queues behind it on the ring.
            Thread other = new Thread(() -> assertTrue(io.client.noDelay(1, true)), "foreign");
            other.start();
            other.join();
            c.connect(new InetSocketAddress("10.99.0.1", 7));
            c.close();
            afterClose[0] = data.refCnt();
            return null;
        }).sync();
        assertEquals(1, afterClose[0], "the data is kept while the stack has yet to take the connect's record");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (data.refCnt() != 0) {
            assertTrue(System.nanoTime() < deadline, "released at the connect's outcome: " + data.refCnt());
            Thread.sleep(5);
        }
        assertEquals(0, client.failures() + server.failures());
    }

    @Test
    void emptyAndCancelledWritesKeepTheOrderOfTheOthers() throws Exception {
        listen(new Handlers.Echo());
        int size = 200_000;
        Handlers.Collect collect = new Handlers.Collect(2 * size);
        Channel c = new Bootstrap().group(client).channel(FastpathSocketChannel.class).handler(collect)
            .connect("10.99.0.1", 7).sync().channel();
        byte[] a = new byte[size];
        byte[] b = new byte[size];
        new Random(1).nextBytes(a);
        new Random(2).nextBytes(b);
        // On the event loop, so that the cancel comes after the write and before the flush (Netty then empties
        // the entry at flush time and it stays in the outbound buffer, never to be sent).
        List<ChannelFuture> futures = c.eventLoop().submit(() -> {
            ChannelFuture f1 = c.write(c.alloc().directBuffer(size).writeBytes(a));
            ChannelFuture f2 = c.write(Unpooled.EMPTY_BUFFER);
            ChannelPromise cancelled = c.newPromise();
            c.write(Unpooled.copiedBuffer("never sent", StandardCharsets.US_ASCII), cancelled);
            assertTrue(cancelled.cancel(false));
            ChannelFuture f3 = c.writeAndFlush(c.alloc().directBuffer(size).writeBytes(b));
            return List.of(f1, f2, f3);
        }).get();
        for (ChannelFuture f : futures) {
            assertTrue(f.await(10, TimeUnit.SECONDS) && f.isSuccess(), "write completes: " + f.cause());
        }
        byte[] echoed = collect.done.get(30, TimeUnit.SECONDS);
        byte[] expected = new byte[2 * size];
        System.arraycopy(a, 0, expected, 0, size);
        System.arraycopy(b, 0, expected, size, size);
        assertArrayEquals(expected, echoed, "the echo of the two buffers, in order");
        Thread.sleep(200);
        c.close().sync();
        assertEquals(2 * size, collect.total(), "nothing sent twice, nothing else sent");
        assertEquals(0, server.failures() + client.failures());
    }

    /** Descriptors the group's stack has handed over and not had back (asked on its event loop). */
    static int heldDescriptors(FastpathEventLoopGroup group) throws Exception {
        return heldDescriptorsAfter(group, 0);
    }

    /** Waits up to 5 s for the held count to reach {@code expected}; returns the last count. */
    static int heldDescriptorsAfter(FastpathEventLoopGroup group, int expected) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        int held;
        do {
            held = group.next().submit(() -> group.stack().tcpService().heldDescriptors()).get();
            if (held == expected) {
                return held;
            }
            Thread.sleep(10);
        } while (System.nanoTime() < deadline);
        return held;
    }
}
