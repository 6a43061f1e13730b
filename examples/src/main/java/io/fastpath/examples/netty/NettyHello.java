package io.fastpath.examples.netty;

import io.fastpath.netty.FastpathEventLoopGroup;
import io.fastpath.netty.FastpathServerSocketChannel;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.LineBasedFrameDecoder;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import java.nio.charset.StandardCharsets;

/**
 * Netty's HTTP hello world (port 8080) and a line echo (port 7), written against Netty's API only; the two
 * fastpath class names are the whole switch (the NIO or epoll lines they replace are in the comments).
 *
 * <pre>
 * javac -cp "$(bin/fastpath classpath)" -d /tmp/hello examples/src/main/java/io/fastpath/examples/netty/NettyHello.java
 * java --enable-native-access=ALL-UNNAMED --add-exports java.base/jdk.internal.misc=ALL-UNNAMED \
 *   -cp "/tmp/hello:$(bin/fastpath classpath)" io.fastpath.examples.netty.NettyHello \
 *   --vdev net_tap0,iface=fp0 --ip 10.0.0.2/24
 * # as root; then from Linux: ip addr add 10.0.0.1/24 dev fp0; ip link set fp0 up; curl http://10.0.0.2:8080/
 * </pre>
 */
public final class NettyHello {
    static final byte[] HELLO = "Hello from Netty on fastpath\n".getBytes(StandardCharsets.US_ASCII);

    private NettyHello() {
    }

    public static void main(String[] args) throws Exception {
        // was: new MultiThreadIoEventLoopGroup(NioIoHandler.newFactory()) (or EpollIoHandler.newFactory())
        EventLoopGroup group = FastpathEventLoopGroup.fromArgs(args);
        try {
            Channel http = start(group);
            System.out.println("ready: HTTP on " + http.localAddress() + ", line echo on port 7");
            Runtime.getRuntime().addShutdownHook(new Thread(() -> http.close().awaitUninterruptibly()));
            http.closeFuture().sync();
        } finally {
            group.shutdownGracefully().sync();
        }
        // DPDK's own threads are not daemons.
        Runtime.getRuntime().halt(0);
    }

    /** Binds the HTTP server (8080) and the line echo (7) on {@code group}; returns the HTTP channel. */
    public static Channel start(EventLoopGroup group) throws InterruptedException {
        new ServerBootstrap().group(group)
            .channel(FastpathServerSocketChannel.class) // was: NioServerSocketChannel.class
            .childHandler(new ChannelInitializer<SocketChannel>() {
                @Override
                protected void initChannel(SocketChannel ch) {
                    ch.pipeline().addLast(new LineBasedFrameDecoder(1024), new LineEcho());
                }
            }).bind(7).sync();
        return new ServerBootstrap().group(group)
            .channel(FastpathServerSocketChannel.class)
            .childHandler(new ChannelInitializer<SocketChannel>() {
                @Override
                protected void initChannel(SocketChannel ch) {
                    ch.pipeline().addLast(new HttpServerCodec(), new Hello());
                }
            }).bind(8080).sync().channel();
    }

    /** Netty's HTTP hello world handler. */
    @ChannelHandler.Sharable
    public static final class Hello extends SimpleChannelInboundHandler<HttpObject> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, HttpObject msg) {
            if (msg instanceof HttpRequest req) {
                boolean keepAlive = HttpUtil.isKeepAlive(req);
                FullHttpResponse response = new DefaultFullHttpResponse(req.protocolVersion(), HttpResponseStatus.OK,
                    Unpooled.wrappedBuffer(HELLO));
                response.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.TEXT_PLAIN)
                    .setInt(HttpHeaderNames.CONTENT_LENGTH, response.content().readableBytes());
                if (keepAlive) {
                    if (!req.protocolVersion().isKeepAliveDefault()) {
                        response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
                    }
                    ctx.write(response);
                } else {
                    response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
                    ctx.write(response).addListener(ChannelFutureListener.CLOSE);
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

    /** Echoes each line (after LineBasedFrameDecoder) back with its newline. */
    @ChannelHandler.Sharable
    public static final class LineEcho extends SimpleChannelInboundHandler<ByteBuf> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, ByteBuf line) {
            ctx.write(line.retain());
            ctx.write(Unpooled.wrappedBuffer(new byte[] {'\n'}));
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
}
