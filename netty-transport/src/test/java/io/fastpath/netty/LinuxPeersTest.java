package io.fastpath.netty;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.fastpath.testkit.NetNs;
import io.fastpath.testkit.Shell;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.DefaultFileRegion;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.LineBasedFrameDecoder;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.NoRouteToHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Netty applications on a fastpath stack over net_tap, against peers no one here wrote, in a network namespace on
 * the tap's kernel side: Netty's HTTP/1.1 codec serving {@code curl} and {@code ab}; a LineBasedFrameDecoder echo
 * answering {@code socat} and {@code nc} (and half-closure with {@code nc -N}); a fastpath Netty client against a
 * Linux {@code socat} echo server; connect failures as Netty users know them; the same HTTP application on Netty's
 * epoll transport and on fastpath in one test, answering {@code curl} with the same bytes.
 */
class LinuxPeersTest {
    private static NetNs ns;
    private static FastpathEventLoopGroup group;
    private static String stackIp;
    private static String linuxIp;

    private static TapNamespace tap;

    @BeforeAll
    static void tapIntoANamespace() {
        tap = new TapNamespace("10.87.", (vdev, ip) -> FastpathEventLoopGroup.fromArgs("--vdev", vdev, "--ip", ip));
        ns = tap.ns;
        group = tap.group;
        stackIp = tap.stackIp;
        linuxIp = tap.linuxIp;
    }

    @AfterAll
    static void closeAll() {
        if (tap != null) {
            tap.close();
        }
    }

    private static Channel serve(int port, Supplier<ChannelHandler[]> handlers) throws InterruptedException {
        return serve(port, handlers, false);
    }

    private static Channel serve(int port, Supplier<ChannelHandler[]> handlers, boolean halfClosure)
        throws InterruptedException {
        Channel c = new ServerBootstrap().group(group).channel(FastpathServerSocketChannel.class)
            .childOption(ChannelOption.ALLOW_HALF_CLOSURE, halfClosure)
            .childHandler(new ChannelInitializer<SocketChannel>() {
                @Override
                protected void initChannel(SocketChannel ch) {
                    ch.pipeline().addLast(handlers.get());
                }
            }).bind(port).sync().channel();
        tap.channels.add(c);
        return c;
    }

    private static String inNamespace(long seconds, String script) {
        return tap.run(seconds, script);
    }

    @Test
    void nettyHttpServerAnswersCurlAndAb() throws Exception {
        serve(8080, () -> new ChannelHandler[] {new HttpServerCodec(), new Handlers.HttpHello()});
        String url = "http://" + stackIp + ":8080/";
        String body = inNamespace(15, "curl -sS --max-time 10 " + url);
        assertEquals(new String(Handlers.HELLO, StandardCharsets.US_ASCII).trim(), body.trim());
        String headers = inNamespace(15, "curl -sS --max-time 10 -o /dev/null -D - " + url);
        assertTrue(headers.startsWith("HTTP/1.1 200 OK"), headers);
        assertTrue(headers.contains("content-length: " + Handlers.HELLO.length), headers);

        assumeTrue(Shell.has("ab"), "ab (apache2-utils) not installed");
        // Keep-alive: 20,000 requests over 8 connections; then a connection per request (the server closes).
        String keepAlive = inNamespace(120, "ab -q -k -n 20000 -c 8 -s 10 " + url);
        assertAb(keepAlive, 20000);
        String perConnection = inNamespace(120, "ab -q -n 1000 -c 4 -s 10 " + url);
        assertAb(perConnection, 1000);
        System.out.println("ab -k -c 8 on fastpath: " + number(keepAlive, "Requests per second:\\s+([0-9.]+)")
            + " requests/s; a connection per request: " + number(perConnection, "Requests per second:\\s+([0-9.]+)")
            + " requests/s");
    }

    private static void assertAb(String out, int requests) {
        assertEquals(String.valueOf(requests), number(out, "Complete requests:\\s+(\\d+)"), out);
        assertEquals("0", number(out, "Failed requests:\\s+(\\d+)"), out);
        assertEquals(String.valueOf(requests), number(out, "(?:Non-2xx responses:.*\\n)?.*?Complete requests:\\s+(\\d+)"),
            out);
        assertTrue(!out.contains("Non-2xx"), out);
    }

    private static String number(String text, String regex) {
        Matcher m = Pattern.compile(regex).matcher(text);
        return m.find() ? m.group(1) : "(none in: " + text + ")";
    }

    @Test
    void theSameHandlersServeTheSameBytesOnEpollAndOnFastpath() throws Exception {
        ChannelInitializer<SocketChannel> app = new ChannelInitializer<>() {
            @Override
            protected void initChannel(SocketChannel ch) {
                ch.pipeline().addLast(new HttpServerCodec(), new Handlers.HttpHello());
            }
        };
        EventLoopGroup epoll = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        try {
            Channel onEpoll = new ServerBootstrap().group(epoll).channel(EpollServerSocketChannel.class)
                .childHandler(app).bind("127.0.0.1", 0).sync().channel();
            Channel onFastpath = new ServerBootstrap().group(group).channel(FastpathServerSocketChannel.class)
                .childHandler(app).bind(8083).sync().channel();
            tap.channels.add(onFastpath);
            int epollPort = ((InetSocketAddress) onEpoll.localAddress()).getPort();
            String curl = "curl -sS --max-time 10 -D - ";
            Shell.Result viaEpoll = Shell.exec(15, "bash", "-c", curl + "http://127.0.0.1:" + epollPort + "/");
            assertEquals(0, viaEpoll.exitCode(), viaEpoll.output());
            String viaFastpath = inNamespace(15, curl + "http://" + stackIp + ":8083/");
            assertTrue(viaEpoll.output().startsWith("HTTP/1.1 200 OK"), viaEpoll.output());
            assertEquals(viaEpoll.output(), viaFastpath, "the same response, header and body, byte for byte");
            onEpoll.close().sync();
        } finally {
            epoll.shutdownGracefully(0, 5, TimeUnit.SECONDS).sync();
        }
    }

    /**
     * Netty's static-file pattern (HttpStaticFileServer without TLS): the response head, the file as a
     * {@link DefaultFileRegion}, the last content; curl in the namespace fetches it twice over one keep-alive
     * connection, and what it got hashes as the file twice does.
     */
    @Test
    void aFileRegionServesAFileToCurl() throws Exception {
        Path file = Files.createTempFile("fastpath-static", ".bin");
        try {
            byte[] content = new byte[3 * 1024 * 1024 + 12_345];
            new java.util.Random(16).nextBytes(content);
            Files.write(file, content);
            serve(8084, () -> new ChannelHandler[] {new HttpServerCodec(),
                new SimpleChannelInboundHandler<HttpObject>() {
                @Override
                protected void channelRead0(ChannelHandlerContext ctx, HttpObject msg) {
                    if (msg instanceof HttpRequest) {
                        HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
                        HttpUtil.setContentLength(head, content.length);
                        ctx.write(head);
                        ctx.write(new DefaultFileRegion(file.toFile(), 0, content.length));
                        ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT);
                    }
                }
            }});
            String url = "http://" + stackIp + ":8084/file";
            // Two fetches on one connection: curl prints the connects each made (1, then 0 if it kept the first).
            String out = inNamespace(60, "d=$(mktemp -d) && cd $d && curl -sS --max-time 30 -w '%{num_connects} '"
                + " -o a " + url + " -o b " + url + " && cat a b | sha256sum | cut -c1-64; rm -rf $d");
            java.security.MessageDigest sha = java.security.MessageDigest.getInstance("SHA-256");
            sha.update(content);
            sha.update(content);
            assertEquals("1 0 " + java.util.HexFormat.of().formatHex(sha.digest()), out.trim(),
                "the file, twice, byte for byte, over one keep-alive connection");
        } finally {
            Files.deleteIfExists(file);
        }
    }

    @Test
    void lineEchoAnswersSocatAndNc() throws Exception {
        serve(8081, () -> new ChannelHandler[] {new LineBasedFrameDecoder(1024), new Handlers.LineEcho()});
        String socat = inNamespace(15, "printf 'hello\\nfastpath\\n' | socat -t 3 - TCP:" + stackIp + ":8081");
        assertEquals("echo: hello\necho: fastpath\n", socat);
        assumeTrue(Shell.has("nc"), "nc not installed");
        String nc = inNamespace(15, "printf 'from nc\\n' | nc -N -w 5 " + stackIp + " 8081");
        assertEquals("echo: from nc\n", nc);
    }

    @Test
    void halfClosureDeliversChannelInputShutdownEventAndTheServerStillWrites() throws Exception {
        assumeTrue(Shell.has("nc"), "nc not installed");
        serve(8082, () -> new ChannelHandler[] {new LineBasedFrameDecoder(1024), new Handlers.LineEcho(),
            new ChannelInboundHandlerAdapter() {
                @Override
                public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                    if (evt instanceof ChannelInputShutdownEvent) {
                        assertTrue(((SocketChannel) ctx.channel()).isInputShutdown());
                        ctx.writeAndFlush(Unpooled.copiedBuffer("bye\n", StandardCharsets.US_ASCII))
                            .addListener(ChannelFutureListener.CLOSE);
                    }
                    ctx.fireUserEventTriggered(evt);
                }
            }}, true);
        String nc = inNamespace(15, "printf 'half\\n' | nc -N -w 5 " + stackIp + " 8082");
        assertEquals("echo: half\nbye\n", nc);
    }

    @Test
    void fastpathNettyClientTalksToALinuxServer() throws Exception {
        Process server = new ProcessBuilder("ip", "netns", "exec", ns.name(), "socat", "-T", "10",
            "TCP-LISTEN:9000,reuseaddr", "PIPE").redirectErrorStream(true).start();
        try {
            waitForListener(9000);
            Handlers.Collect collect = new Handlers.Collect(12);
            Channel c = new Bootstrap().group(group).channel(FastpathSocketChannel.class)
                .handler(collect).connect(linuxIp, 9000).sync().channel();
            assertEquals(linuxIp + ":9000", ((SocketChannel) c).remoteAddress().getAddress().getHostAddress()
                + ":" + ((SocketChannel) c).remoteAddress().getPort());
            c.writeAndFlush(Unpooled.copiedBuffer("hello linux\n", StandardCharsets.US_ASCII)).sync();
            byte[] echoed = collect.done.get(10, TimeUnit.SECONDS);
            assertEquals("hello linux\n", new String(echoed, StandardCharsets.US_ASCII));
            c.close().sync();
        } finally {
            server.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
        }
    }

    @Test
    void shutdownOutputSendsFinAndTheClientStillReadsTheEchoAndThePeersFin() throws Exception {
        Process server = new ProcessBuilder("ip", "netns", "exec", ns.name(), "socat", "-T", "10",
            "TCP-LISTEN:9001,reuseaddr", "PIPE").redirectErrorStream(true).start();
        try {
            waitForListener(9001);
            CompletableFuture<String> inputShutdown = new CompletableFuture<>();
            Handlers.Collect collect = new Handlers.Collect(Integer.MAX_VALUE) {
                @Override
                public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                    if (evt instanceof ChannelInputShutdownEvent) {
                        inputShutdown.complete(received());
                    }
                }
            };
            SocketChannel c = (SocketChannel) new Bootstrap().group(group).channel(FastpathSocketChannel.class)
                .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .handler(collect).connect(linuxIp, 9001).sync().channel();
            c.writeAndFlush(Unpooled.copiedBuffer("half a conversation", StandardCharsets.US_ASCII)).sync();
            c.shutdownOutput().sync();
            assertTrue(c.isOutputShutdown());
            // socat echoes, sees our FIN, and closes its side: data first, then the input shutdown event.
            assertEquals("half a conversation", inputShutdown.get(10, TimeUnit.SECONDS));
            assertTrue(c.isInputShutdown());
            c.close().sync();
        } finally {
            server.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
        }
    }

    private static void waitForListener(int port) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!ns.tryExec(5, "ss", "-ltnH", "sport = :" + port).output().contains(":" + port)) {
            assertTrue(System.nanoTime() < deadline, "a Linux listener on " + port);
            Thread.sleep(20);
        }
    }

    @Test
    void connectFailuresCompleteTheFutureWithTheExceptionsNettyUsersKnow() throws Exception {
        // Nobody listens on port 9 in the namespace: Linux answers the SYN with a RST.
        Throwable refused = connect(linuxIp, 9, 5000);
        assertInstanceOf(ConnectException.class, refused);
        assertTrue(refused.getMessage().contains("connection refused")
            && refused.getMessage().contains("STATUS_CONNECTION_REFUSED"), refused.getMessage());

        // No host answers ARP for .77: the connect time-out fires first (ARP gives up after 3 s).
        Throwable timedOut = connect(stackIp.substring(0, stackIp.lastIndexOf('.') + 1) + "77", 7, 300);
        assertInstanceOf(ConnectTimeoutException.class, timedOut);

        // Off the subnet with no gateway: no route.
        Throwable noRoute = connect("192.0.2.1", 7, 5000);
        assertInstanceOf(NoRouteToHostException.class, noRoute);
        assertTrue(noRoute.getMessage().contains("STATUS_NETWORK_UNREACHABLE"), noRoute.getMessage());
    }

    private static Throwable connect(String host, int port, int timeoutMillis) throws InterruptedException {
        ChannelFuture f = new Bootstrap().group(group).channel(FastpathSocketChannel.class)
            .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, timeoutMillis)
            .handler(new ChannelInboundHandlerAdapter()).connect(host, port);
        assertTrue(f.await(10, TimeUnit.SECONDS), "connect to " + host + ":" + port + " completes");
        assertTrue(!f.isSuccess(), "connect to " + host + ":" + port + " fails");
        f.channel().close().sync();
        return f.cause();
    }
}
