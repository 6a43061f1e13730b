package io.fastpath.examples.netty;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.RingPair;
import io.fastpath.netty.FastpathEventLoopGroup;
import io.fastpath.netty.FastpathSocketChannel;
import io.fastpath.testkit.NetNs;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.LineBasedFrameDecoder;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * NettyHello on one fastpath event loop, asked by Netty's own HTTP client and a line client on a second one, the
 * two joined by a DPDK ring pair.
 */
class NettyHelloTest {
    @Test
    void answersAnHttpGetAndEchoesLines() throws Exception {
        String name = NetNs.uniqueName("h");
        PktmbufPool pool = PktmbufPool.create(name, 8191, 256, PktmbufPool.DEFAULT_DATA_ROOM);
        RingPair pair = null;
        FastpathEventLoopGroup server = null;
        FastpathEventLoopGroup client = null;
        try {
            pair = RingPair.create(name, 1024, pool, pool, EthDevPort.Config.defaults());
            server = FastpathEventLoopGroup.builder().port(pair.a()).ip("10.97.0.1/24").build();
            client = FastpathEventLoopGroup.builder().port(pair.b()).ip("10.97.0.2/24").build();
            NettyHello.start(server);

            CompletableFuture<String> body = new CompletableFuture<>();
            Channel http = new Bootstrap().group(client).channel(FastpathSocketChannel.class)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(new HttpClientCodec(), new HttpObjectAggregator(65536),
                            new SimpleChannelInboundHandler<FullHttpResponse>() {
                                @Override
                                protected void channelRead0(ChannelHandlerContext ctx, FullHttpResponse r) {
                                    body.complete(r.status().code() + " " + r.content().toString(StandardCharsets.US_ASCII));
                                }
                            });
                    }
                }).connect("10.97.0.1", 8080).sync().channel();
            DefaultFullHttpRequest get = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/");
            get.headers().set(HttpHeaderNames.HOST, "10.97.0.1");
            http.writeAndFlush(get);
            assertEquals("200 Hello from Netty on fastpath\n", body.get(10, TimeUnit.SECONDS));
            http.close().sync();

            CompletableFuture<String> line = new CompletableFuture<>();
            Channel echo = new Bootstrap().group(client).channel(FastpathSocketChannel.class)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(new LineBasedFrameDecoder(1024),
                            new SimpleChannelInboundHandler<ByteBuf>() {
                                @Override
                                protected void channelRead0(ChannelHandlerContext ctx, ByteBuf l) {
                                    line.complete(l.toString(StandardCharsets.US_ASCII));
                                }
                            });
                    }
                }).connect("10.97.0.1", 7).sync().channel();
            echo.writeAndFlush(Unpooled.copiedBuffer("over a ring pair\n", StandardCharsets.US_ASCII));
            assertEquals("over a ring pair", line.get(10, TimeUnit.SECONDS));
            echo.close().sync();
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
        }
    }
}
