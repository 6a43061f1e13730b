package io.fastpath.perf;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SelectStrategy;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringServerSocketChannel;
import io.netty.channel.uring.IoUringSocketChannel;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;

/**
 * Netty 4.2 as the peer most Java users run: a ping-pong over 127.0.0.1 with a client and a server event
 * loop of one thread each, pinned like the stacks' poll threads (client CPU 0, server CPU 1), TCP_NODELAY,
 * pooled direct buffers (Netty's defaults), the server echoing each read with {@code writeAndFlush}.
 *
 * <ul>
 *   <li>{@link Transport#EPOLL}: {@code EpollIoHandler} with its default select strategy (epoll_wait blocks
 *       when there is nothing to do);
 *   <li>{@link Transport#EPOLL_BUSY}: the same with {@link SelectStrategy#BUSY_WAIT} (the event loop spins in
 *       {@code epoll_wait} with a zero timeout, Netty's {@code epollBusyWait}) and {@code SO_BUSY_POLL} 50 µs
 *       on every socket ({@link EpollChannelOption#SO_BUSY_POLL}; on loopback there is no NIC queue to poll,
 *       the spinning loop is what counts);
 *   <li>{@link Transport#IO_URING}: {@code IoUringIoHandler} with its defaults.
 * </ul>
 *
 * <p>The client sends a {@code size}-byte message carrying its sequence number on each of {@code connections}
 * connections, and on each connection the next one as soon as the whole echo is back; every round trip goes
 * into one {@link RttRecorder} (all connections run on the client's one event-loop thread). Allocation is
 * read from outside the event-loop threads. Thread: the harness's main thread.
 */
final class NettyPingPong {
    enum Transport {
        EPOLL("netty_epoll"), EPOLL_BUSY("netty_epoll_busy"), IO_URING("netty_io_uring");

        final String peer;

        Transport(String peer) {
            this.peer = peer;
        }
    }

    private NettyPingPong() {
    }

    /** Why the transport cannot run here, or null. */
    static String unavailable(Transport transport) {
        return switch (transport) {
            case EPOLL, EPOLL_BUSY -> Epoll.isAvailable() ? null : String.valueOf(Epoll.unavailabilityCause());
            case IO_URING -> IoUring.isAvailable() ? null : String.valueOf(IoUring.unavailabilityCause());
        };
    }

    static RttRecorder rtt(Json result, TcpHarness.Options options, Transport transport, int connections,
                           String name) throws Exception {
        String why = unavailable(transport);
        if (why != null) {
            throw new IllegalStateException(transport.peer + " not available: " + why);
        }
        RttRecorder recorder = new RttRecorder(options.nioRttWarmup(), options.rttWarmupNs(), options.rttCount());
        PinnedThreads serverThreads = new PinnedThreads("netty-server", options.serverCpu());
        PinnedThreads clientThreads = new PinnedThreads("netty-client", options.clientCpu());
        MultiThreadIoEventLoopGroup serverGroup = new MultiThreadIoEventLoopGroup(1, serverThreads,
            handlerFactory(transport));
        MultiThreadIoEventLoopGroup clientGroup = new MultiThreadIoEventLoopGroup(1, clientThreads,
            handlerFactory(transport));
        List<Ping> pings = new ArrayList<>();
        Channel listener = null;
        result.field("transport", transport.peer).field("netty", io.netty.util.Version.identify().toString()
            .replaceAll(".*netty-common=netty-common-([^ ,]+).*", "$1"));
        try {
            ServerBootstrap server = new ServerBootstrap().group(serverGroup)
                .channel(transport == Transport.IO_URING ? IoUringServerSocketChannel.class
                    : EpollServerSocketChannel.class)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        if (transport == Transport.EPOLL_BUSY) {
                            ch.config().setOption(EpollChannelOption.SO_BUSY_POLL, 50);
                        }
                        ch.pipeline().addLast(new Echo());
                    }
                });
            listener = server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)).sync().channel();
            Bootstrap client = new Bootstrap().group(clientGroup)
                .channel(transport == Transport.IO_URING ? IoUringSocketChannel.class : EpollSocketChannel.class)
                .option(ChannelOption.TCP_NODELAY, true);
            if (transport == Transport.EPOLL_BUSY) {
                client.option(EpollChannelOption.SO_BUSY_POLL, 50);
            }
            for (int i = 0; i < connections; i++) {
                Ping ping = new Ping(recorder, options.messageSize());
                pings.add(ping);
                client.handler(ping).connect(listener.localAddress()).sync();
            }
            result.field("connections", connections);
            List<Measure.Probe> probes = List.of(clientThreads.probe(), serverThreads.probe());
            TcpHarness.measureRtt(result, recorder, probes, () -> {
                for (Ping p : pings) {
                    if (p.failure != null) {
                        throw new IllegalStateException("netty ping-pong: " + p.failure);
                    }
                }
            });
            Measure.writeDistribution(options.out(), name, recorder);
        } finally {
            for (Ping p : pings) {
                p.stopped = true;
                if (p.channel != null) {
                    p.channel.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
                }
            }
            if (listener != null) {
                listener.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
            }
            clientGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
            serverGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
        }
        return recorder;
    }

    private static IoHandlerFactory handlerFactory(Transport transport) {
        return switch (transport) {
            case EPOLL -> EpollIoHandler.newFactory();
            case EPOLL_BUSY -> EpollIoHandler.newFactory(0, () -> (selectSupplier, hasTasks) -> SelectStrategy.BUSY_WAIT);
            case IO_URING -> IoUringIoHandler.newFactory();
        };
    }

    /** The event loop's one thread: pinned first, and known by id so its allocation can be read. */
    static final class PinnedThreads implements ThreadFactory {
        private final String name;
        private final int cpu;
        private volatile Thread thread;
        private volatile String pinning = "?";

        PinnedThreads(String name, int cpu) {
            this.name = name;
            this.cpu = cpu;
        }

        @Override
        public Thread newThread(Runnable r) {
            Thread t = new io.netty.util.concurrent.FastThreadLocalThread(() -> {
                pinning = Affinity.pin(cpu);
                r.run();
            }, name);
            t.setDaemon(true);
            thread = t;
            return t;
        }

        Measure.Probe probe() {
            long id = thread.threadId();
            com.sun.management.ThreadMXBean threads =
                (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
            return new Measure.Probe(name, pinning, () -> threads.getThreadAllocatedBytes(id), id);
        }
    }

    /** Server side: every read goes straight back. */
    @io.netty.channel.ChannelHandler.Sharable
    static final class Echo extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ctx.writeAndFlush(msg, ctx.voidPromise());
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    /** Client side of one connection: one message in flight, the next sent from the read that completes it. */
    static final class Ping extends ChannelInboundHandlerAdapter {
        private final RttRecorder recorder;
        private final int size;
        private final byte[] body;
        Channel channel;
        private long sequence;
        private long sentAtNs;
        private int pending;
        volatile boolean stopped;
        volatile String failure;

        Ping(RttRecorder recorder, int size) {
            this.recorder = recorder;
            this.size = size;
            this.body = new byte[size];
            for (int i = 8; i < size; i++) {
                body[i] = (byte) i;
            }
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            channel = ctx.channel();
            sendNext(ctx);
        }

        private void sendNext(ChannelHandlerContext ctx) {
            ByteBuf message = ctx.alloc().directBuffer(size);
            message.writeLong(++sequence).writeBytes(body, 8, size - 8);
            pending = size;
            sentAtNs = System.nanoTime();
            ctx.writeAndFlush(message, ctx.voidPromise());
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf in = (ByteBuf) msg;
            try {
                int n = in.readableBytes();
                if (pending == size && n >= 8 && in.getLong(in.readerIndex()) != sequence) {
                    fail("echo of message " + sequence + " came back as " + in.getLong(in.readerIndex()));
                    return;
                }
                if (n > pending) {
                    fail("received " + n + " bytes, expected at most " + pending);
                    return;
                }
                pending -= n;
                if (pending == 0) {
                    long now = System.nanoTime();
                    recorder.record(now - sentAtNs, now);
                    if (!stopped) {
                        sendNext(ctx);
                    }
                }
            } finally {
                in.release();
            }
        }

        private void fail(String why) {
            failure = why;
            recorder.fail(why);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (!stopped) {
                fail(String.valueOf(cause));
            }
            ctx.close();
        }
    }
}
