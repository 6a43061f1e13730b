package io.fastpath.perf;

import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.RingPair;
import io.fastpath.netty.FastpathEventLoopGroup;
import io.fastpath.netty.FastpathServerSocketChannel;
import io.fastpath.netty.FastpathSocketChannel;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringServerSocketChannel;
import io.netty.channel.uring.IoUringSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * {@code bench netty}: the same Netty handlers on three transports — fastpath's ({@code io.fastpath.netty}: a
 * server and a client event loop, each a stack's poll thread, joined by a DPDK ring pair, no kernel in the path)
 * and Netty's own epoll and io_uring transports over 127.0.0.1. Two applications, each one set of handler classes
 * whatever the transport:
 *
 * <ul>
 *   <li>64 B request/response: the server writes each read straight back ({@link NettyPingPong.Echo}); the client
 *       ({@link NettyPingPong.Ping}) sends the next request from the read that completes the response, and records
 *       each round trip in an {@link RttRecorder} (HdrHistogram);
 *   <li>HTTP/1.1 hello: {@link HttpServerCodec} and {@link HttpHello} on the server; on the client
 *       {@link HttpClientCodec}, {@link HttpObjectAggregator} and {@link HttpLoad}, which keeps one keep-alive
 *       request in flight per connection ({@link #HTTP_CONNECTIONS} connections) and counts the responses over a
 *       time window: requests per second.
 * </ul>
 *
 * <p>Each group has one event loop thread, pinned as the stacks' poll threads are (client CPU 0, server CPU 1), so
 * the client and the server of every transport have a core each (fastpath's loops spin; epoll's and io_uring's
 * block in the kernel when idle). Allocation is read per event loop thread from outside. Thread: the bench's main
 * thread.
 */
final class NettyHandlersBench {
    /** HTTP connections in flight, each with one request at a time. */
    static final int HTTP_CONNECTIONS = 4;
    private static final String SERVER_IP = "10.97.0.1";
    private static final String CLIENT_IP = "10.97.0.2";
    private static final int FASTPATH_PORT = 8080;

    /** The three transports the same handlers run on. */
    enum Kind {
        FASTPATH("fastpath"), EPOLL("netty_epoll"), IO_URING("netty_io_uring");

        final String peer;

        Kind(String peer) {
            this.peer = peer;
        }
    }

    private NettyHandlersBench() {
    }

    /** A client and a server group of one transport, and how to bind and connect on it. */
    private static final class Rig implements AutoCloseable {
        final Kind kind;
        final NettyPingPong.PinnedThreads serverThreads;
        final NettyPingPong.PinnedThreads clientThreads;
        final EventLoopGroup serverGroup;
        final EventLoopGroup clientGroup;
        private final PktmbufPool pool;
        private final RingPair pair;

        Rig(Kind kind, TcpHarness.Options options) {
            this.kind = kind;
            serverThreads = new NettyPingPong.PinnedThreads("netty-server", options.serverCpu());
            clientThreads = new NettyPingPong.PinnedThreads("netty-client", options.clientCpu());
            if (kind == Kind.FASTPATH) {
                String name = "nb" + ProcessHandle.current().pid() % 100000 + "r" + RIGS.incrementAndGet();
                pool = PktmbufPool.create(name, 16383, 256, PktmbufPool.DEFAULT_DATA_ROOM);
                RingPair p = null;
                EventLoopGroup server = null;
                try {
                    p = RingPair.create(name, 2048, pool, pool, EthDevPort.Config.defaults());
                    server = FastpathEventLoopGroup.builder().port(p.a()).ip(SERVER_IP + "/24")
                        .threadFactory(serverThreads).build();
                    clientGroup = FastpathEventLoopGroup.builder().port(p.b()).ip(CLIENT_IP + "/24")
                        .threadFactory(clientThreads).build();
                } catch (RuntimeException | Error e) {
                    if (server != null) {
                        server.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
                    }
                    if (p != null) {
                        p.close();
                    }
                    pool.close();
                    throw e;
                }
                pair = p;
                serverGroup = server;
            } else {
                String why = NettyPingPong.unavailable(kind == Kind.EPOLL ? NettyPingPong.Transport.EPOLL
                    : NettyPingPong.Transport.IO_URING);
                if (why != null) {
                    throw new IllegalStateException(kind.peer + " not available: " + why);
                }
                pool = null;
                pair = null;
                Supplier<io.netty.channel.IoHandlerFactory> factory = kind == Kind.EPOLL ? EpollIoHandler::newFactory
                    : IoUringIoHandler::newFactory;
                serverGroup = new MultiThreadIoEventLoopGroup(1, serverThreads, factory.get());
                clientGroup = new MultiThreadIoEventLoopGroup(1, clientThreads, factory.get());
            }
        }

        Class<? extends ServerChannel> serverChannel() {
            return switch (kind) {
                case FASTPATH -> FastpathServerSocketChannel.class;
                case EPOLL -> EpollServerSocketChannel.class;
                case IO_URING -> IoUringServerSocketChannel.class;
            };
        }

        Class<? extends Channel> clientChannel() {
            return switch (kind) {
                case FASTPATH -> FastpathSocketChannel.class;
                case EPOLL -> EpollSocketChannel.class;
                case IO_URING -> IoUringSocketChannel.class;
            };
        }

        /** Binds a server with {@code handlers} added to each accepted channel; returns the listener. */
        Channel listen(Supplier<ChannelHandler[]> handlers) throws InterruptedException {
            SocketAddress at = kind == Kind.FASTPATH ? new InetSocketAddress(FASTPATH_PORT)
                : new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);
            return new ServerBootstrap().group(serverGroup).channel(serverChannel())
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(handlers.get());
                    }
                }).bind(at).sync().channel();
        }

        /** Where the client connects to reach {@code listener}. */
        SocketAddress target(Channel listener) {
            return kind == Kind.FASTPATH ? new InetSocketAddress(SERVER_IP, FASTPATH_PORT) : listener.localAddress();
        }

        Bootstrap client() {
            return new Bootstrap().group(clientGroup).channel(clientChannel()).option(ChannelOption.TCP_NODELAY, true);
        }

        List<Measure.Probe> probes() {
            return List.of(clientThreads.probe(), serverThreads.probe());
        }

        @Override
        public void close() {
            clientGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
            serverGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
            if (pair != null) {
                pair.close();
            }
            if (pool != null) {
                pool.close();
            }
        }
    }

    private static final AtomicInteger RIGS = new AtomicInteger();

    /**
     * Netty's ResourceLeakDetector off for the measured runs, unless {@code -Dio.netty.leakDetection.level} asks
     * for a level. At Netty's default (SIMPLE) it samples one buffer in 128 (io.netty.leakDetection.samplingInterval)
     * and gives it a DefaultResourceLeak whose first TraceRecord is a Throwable with its stack trace, about 1.5 KB:
     * 12 B per tracked buffer on average. A 64 B round trip tracks one buffer on the server (the one it reads and
     * writes back) and two on the client (the request from PooledByteBufAllocator.directBuffer, through
     * AbstractByteBufAllocator.toLeakAwareBuffer, and the response it reads, fastpath's MbufByteBuf through the same
     * factory), which is all the 12 and 24 B per round trip the event loops allocated (measured 2026-12-06:
     * 12.5 and 27.6 B with it, 0 and 0 without). It costs every transport the same and is a debugging aid, as
     * netty-transport's AllocationTest also turns it off.
     */
    static String leakDetection() {
        if (System.getProperty("io.netty.leakDetection.level") == null) {
            io.netty.util.ResourceLeakDetector.setLevel(io.netty.util.ResourceLeakDetector.Level.DISABLED);
        }
        return io.netty.util.ResourceLeakDetector.getLevel().name().toLowerCase(java.util.Locale.ROOT);
    }

    private static void describe(Json result, Kind kind) {
        result.field("leak_detection", leakDetection());
        result.field("transport", kind.peer).field("netty", io.netty.util.Version.identify().toString()
                .replaceAll(".*netty-common=netty-common-([^ ,]+).*", "$1"))
            .field("link", kind == Kind.FASTPATH ? "DPDK ring pair between two fastpath stacks (no kernel)"
                : "127.0.0.1 loopback (the kernel's TCP)");
    }

    /** 64 B request/response on one connection: the round trip's distribution. */
    static void requestResponse(Json result, TcpHarness.Options options, Kind kind, String name) throws Exception {
        describe(result, kind);
        RttRecorder recorder = new RttRecorder(options.nioRttWarmup(), options.rttWarmupNs(), options.rttCount());
        NettyPingPong.Echo echo = new NettyPingPong.Echo();
        NettyPingPong.Ping ping = new NettyPingPong.Ping(recorder, options.messageSize());
        try (Rig rig = new Rig(kind, options)) {
            Channel listener = rig.listen(() -> new ChannelHandler[] {echo});
            try {
                rig.client().handler(ping).connect(rig.target(listener)).sync();
                TcpHarness.measureRtt(result, recorder, rig.probes(), () -> {
                    if (ping.failure != null) {
                        throw new IllegalStateException("request/response: " + ping.failure);
                    }
                });
                Measure.writeDistribution(options.out(), name, recorder);
            } finally {
                ping.stopped = true;
                if (ping.channel != null) {
                    ping.channel.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
                }
                listener.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
            }
        }
    }

    /**
     * HTTP/1.1 keep-alive GETs of the hello page, one in flight on each of {@value #HTTP_CONNECTIONS} connections,
     * for {@code warmupSeconds} (and at least the round trips' warm-up count of requests) and then {@code seconds}:
     * responses per second over the second window, with the event loop threads' allocation per request.
     */
    static void http(Json result, TcpHarness.Options options, Kind kind, double warmupSeconds, double seconds)
        throws Exception {
        describe(result, kind);
        HttpHello hello = new HttpHello();
        List<HttpLoad> loads = new ArrayList<>();
        try (Rig rig = new Rig(kind, options)) {
            Channel listener = rig.listen(() -> new ChannelHandler[] {new HttpServerCodec(), hello});
            try {
                SocketAddress target = rig.target(listener);
                String host = target instanceof InetSocketAddress a ? a.getHostString() + ":" + a.getPort() : "server";
                for (int i = 0; i < HTTP_CONNECTIONS; i++) {
                    HttpLoad load = new HttpLoad(host);
                    loads.add(load);
                    rig.client().handler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            ch.pipeline().addLast(new HttpClientCodec(), new HttpObjectAggregator(1 << 16), load);
                        }
                    }).connect(target).sync();
                }
                Runnable check = () -> {
                    for (HttpLoad l : loads) {
                        if (l.failure != null) {
                            throw new IllegalStateException("http: " + l.failure);
                        }
                    }
                };
                List<Measure.Probe> probes = rig.probes();
                // Warm-up: the time and at least as many requests as the round-trip warm-up, so that the codecs
                // are compiled (fastpath's spinning loops leave the JIT little CPU on a small machine).
                long warmStart = System.nanoTime();
                long warmEnd = warmStart + (long) (warmupSeconds * 1e9);
                long warmRequests = options.rttWarmup();
                java.util.function.BooleanSupplier warm = () -> System.nanoTime() - warmEnd >= 0
                    && responses(loads) >= warmRequests;
                Measure.await(warm, 120, 5, () -> {
                    check.run();
                    Measure.sample(probes);
                }, "warm-up");
                result.field("warmup_requests", responses(loads))
                    .field("warmup_s", (System.nanoTime() - warmStart) / 1e9);
                long before = responses(loads);
                Measure.Sample allocBefore = Measure.sample(probes);
                long t0 = System.nanoTime();
                long end = t0 + (long) (seconds * 1e9);
                Measure.await(() -> System.nanoTime() - end >= 0, 60, 5, check, "measured window");
                long t1 = System.nanoTime();
                long after = responses(loads);
                Measure.Sample allocAfter = Measure.sample(probes);
                check.run();
                long requests = after - before;
                if (requests <= 0) {
                    throw new IllegalStateException("no HTTP response in " + seconds + " s");
                }
                double perSecond = requests / ((t1 - t0) / 1e9);
                result.field("connections", HTTP_CONNECTIONS).field("requests", requests)
                    .field("measured_s", (t1 - t0) / 1e9).field("requests_per_s", perSecond)
                    .field("response_bytes", HttpHello.BODY.length);
                Measure.appendAllocation(result, probes, allocBefore, allocAfter, requests, "request");
                System.out.printf("   %.0f requests/s over %d connections (%d requests in %.2f s)%n", perSecond,
                    HTTP_CONNECTIONS, requests, (t1 - t0) / 1e9);
            } finally {
                for (HttpLoad l : loads) {
                    l.stopped = true;
                    if (l.channel != null) {
                        l.channel.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
                    }
                }
                listener.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
            }
        }
    }

    private static long responses(List<HttpLoad> loads) {
        long n = 0;
        for (HttpLoad l : loads) {
            n += l.responses;
        }
        return n;
    }

    /** Netty's HTTP hello world (after {@link HttpServerCodec}), keep-alive aware: the server of every transport. */
    @ChannelHandler.Sharable
    static final class HttpHello extends SimpleChannelInboundHandler<HttpObject> {
        static final byte[] BODY = "Hello from Netty\n".getBytes(StandardCharsets.US_ASCII);

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, HttpObject msg) {
            if (msg instanceof HttpRequest req) {
                boolean keepAlive = HttpUtil.isKeepAlive(req);
                FullHttpResponse response = new DefaultFullHttpResponse(req.protocolVersion(), HttpResponseStatus.OK,
                    Unpooled.wrappedBuffer(BODY));
                response.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.TEXT_PLAIN)
                    .setInt(HttpHeaderNames.CONTENT_LENGTH, BODY.length);
                if (!keepAlive) {
                    response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
                    ctx.write(response).addListener(ChannelFutureListener.CLOSE);
                } else {
                    ctx.write(response, ctx.voidPromise());
                }
            }
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    /** One client connection: a keep-alive GET, the next one sent from the response that ends the last. */
    static final class HttpLoad extends SimpleChannelInboundHandler<FullHttpResponse> {
        private final String host;
        Channel channel;
        volatile long responses;
        volatile boolean stopped;
        volatile String failure;

        HttpLoad(String host) {
            this.host = host;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            channel = ctx.channel();
            send(ctx);
        }

        private void send(ChannelHandlerContext ctx) {
            FullHttpRequest request = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/",
                Unpooled.EMPTY_BUFFER);
            request.headers().set(HttpHeaderNames.HOST, host);
            ctx.writeAndFlush(request, ctx.voidPromise());
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpResponse response) {
            if (!response.status().equals(HttpResponseStatus.OK)
                || response.content().readableBytes() != HttpHello.BODY.length) {
                failure = "unexpected response " + response.status() + " with " + response.content().readableBytes()
                    + " bytes";
                ctx.close();
                return;
            }
            responses++; // one writer: the event loop
            if (!stopped) {
                send(ctx);
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (!stopped && failure == null) {
                failure = "the server closed the connection";
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (!stopped) {
                failure = String.valueOf(cause);
            }
            ctx.close();
        }
    }
}
