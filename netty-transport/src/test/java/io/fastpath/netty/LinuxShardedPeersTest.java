package io.fastpath.netty;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.fastpath.testkit.NetNs;
import io.fastpath.testkit.Shell;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpServerCodec;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Issue 12 for Netty against Linux: a {@link FastpathEventLoopGroup} with {@code --queues 2} on a multi-queue
 * net_tap (the kernel spreads new flows over the tap's queues with its own hash, then steers each flow to the queue
 * that last sent it), peers in a network namespace. An HTTP server and an echo server on two event loops serve many
 * Linux connections, which land on both loops; a Netty client on the same group talks to a Linux echo server from
 * both loops. Every byte is compared.
 */
class LinuxShardedPeersTest {
    private static NetNs ns;
    private static FastpathEventLoopGroup group;
    private static String stackIp;
    private static String linuxIp;

    private static TapNamespace tap;

    @BeforeAll
    static void tapIntoANamespace() {
        tap = new TapNamespace("10.86.", (vdev, ip) -> FastpathEventLoopGroup.fromArgs("--vdev", vdev, "--ip", ip,
            "--queues", "2"));
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

    private static String inNamespace(long seconds, String script) {
        return tap.run(seconds, script);
    }

    /** A server on the group whose children count themselves per loop (shard). */
    private static Channel serve(int port, AtomicIntegerArray perLoop, boolean halfClosure,
        java.util.function.Supplier<io.netty.channel.ChannelHandler[]> handlers) throws InterruptedException {
        return new ServerBootstrap().group(group).channel(FastpathServerSocketChannel.class)
            .childOption(io.netty.channel.ChannelOption.ALLOW_HALF_CLOSURE, halfClosure)
            .childHandler(new ChannelInitializer<SocketChannel>() {
                @Override
                protected void initChannel(SocketChannel ch) {
                    perLoop.incrementAndGet(group.shardOf(ch.eventLoop()));
                    ch.pipeline().addLast(handlers.get());
                }
            }).bind(port).sync().channel();
    }

    @Test
    void httpServerOnTwoLoopsAnswersAbOverManyConnectionsOnBothLoops() throws Exception {
        assumeTrue(Shell.has("ab"), "ab (apache2-utils) not installed");
        AtomicIntegerArray perLoop = new AtomicIntegerArray(2);
        long opens0 = group.stack(0).counters().tcpPassiveOpens.get();
        long opens1 = group.stack(1).counters().tcpPassiveOpens.get();
        Channel server = serve(8080, perLoop, false, () -> new io.netty.channel.ChannelHandler[] {new HttpServerCodec(),
            new Handlers.HttpHello()});
        String url = "http://" + stackIp + ":8080/";
        String body = inNamespace(15, "curl -sS --max-time 10 " + url);
        assertEquals(new String(Handlers.HELLO, java.nio.charset.StandardCharsets.US_ASCII).trim(), body.trim());
        // A connection per request: 2,000 flows from as many source ports, spread over the tap's queues.
        String out = inNamespace(120, "ab -q -n 2000 -c 16 -s 10 " + url);
        assertEquals("2000", number(out, "Complete requests:\\s+(\\d+)"), out);
        assertEquals("0", number(out, "Failed requests:\\s+(\\d+)"), out);
        assertEquals(String.valueOf(2000 * Handlers.HELLO.length), number(out, "HTML transferred:\\s+(\\d+)"), out);
        int on0 = perLoop.get(0);
        int on1 = perLoop.get(1);
        // ab may open a few connections more than it sends requests on (its concurrency at the end).
        assertTrue(on0 + on1 >= 2001 && on0 + on1 <= 2001 + 16, "curl's connection and ab's 2,000: " + (on0 + on1));
        assertTrue(on0 > 0 && on1 > 0, "connections on both loops: " + on0 + " + " + on1);
        // Each child is one of its shard's passive opens; ab's last extra connections may be reset before their
        // channel is registered (the stack counted them, no pipeline ever saw them): at most its concurrency.
        long passive0 = group.stack(0).counters().tcpPassiveOpens.get() - opens0;
        long passive1 = group.stack(1).counters().tcpPassiveOpens.get() - opens1;
        assertTrue(on0 <= passive0 && on1 <= passive1 && passive0 + passive1 - on0 - on1 <= 16,
            "children per loop " + on0 + " + " + on1 + ", passive opens per shard " + passive0 + " + " + passive1);
        System.out.println("ab over 2 loops: " + number(out, "Requests per second:\\s+([0-9.]+)")
            + " requests/s, connections per loop " + on0 + " + " + on1 + ", forwarded frames "
            + group.stack(0).counters().forwardedFrames.get() + " + " + group.stack(1).counters().forwardedFrames.get());
        server.close().sync();
    }

    @Test
    void echoServerOnTwoLoopsEchoesEveryByteToThirtyTwoSocatClients() throws Exception {
        assumeTrue(Shell.has("socat"), "socat not installed");
        AtomicIntegerArray perLoop = new AtomicIntegerArray(2);
        // Half-closure: the client's FIN ends its input, the server closes once its echo is flushed (closing at once
        // would drop what Netty has not yet handed to the stack, on any transport).
        Channel server = serve(7, perLoop, true, () -> new io.netty.channel.ChannelHandler[] {
            new io.netty.channel.ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(io.netty.channel.ChannelHandlerContext ctx, Object msg) {
                ctx.write(msg);
            }

            @Override
            public void channelReadComplete(io.netty.channel.ChannelHandlerContext ctx) {
                ctx.flush();
            }

            @Override
            public void userEventTriggered(io.netty.channel.ChannelHandlerContext ctx, Object evt) {
                if (evt instanceof io.netty.channel.socket.ChannelInputShutdownEvent) {
                    ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(io.netty.channel.ChannelFutureListener.CLOSE);
                }
            }
        }});
        int clients = 32;
        String dir = "/tmp/" + NetNs.uniqueName("fpe");
        String script = "set -e; mkdir -p " + dir + "; cd " + dir + "; "
            + "for i in $(seq 1 " + clients + "); do head -c 65536 /dev/urandom > in$i; done; "
            + "for i in $(seq 1 " + clients + "); do (socat -t 5 -T 20 - TCP:" + stackIp + ":7 < in$i > out$i) & done; "
            + "wait; ok=0; for i in $(seq 1 " + clients + "); do cmp -s in$i out$i && ok=$((ok+1)); done; "
            + "echo same=$ok; cd /; rm -rf " + dir;
        String out = inNamespace(90, script);
        assertTrue(out.contains("same=" + clients), "every client got its 64 KiB back byte for byte: " + out);
        int on0 = perLoop.get(0);
        int on1 = perLoop.get(1);
        assertEquals(clients, on0 + on1);
        assertTrue(on0 > 0 && on1 > 0, "connections on both loops: " + on0 + " + " + on1);
        server.close().sync();
    }

    @Test
    void clientsOnBothLoopsTalkToALinuxEchoServer() throws Exception {
        assumeTrue(Shell.has("socat"), "socat not installed");
        Process server = new ProcessBuilder("ip", "netns", "exec", ns.name(), "socat", "-T", "20",
            "TCP-LISTEN:9000,reuseaddr,fork", "PIPE").redirectErrorStream(true).start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (ns.tryExec(5, "bash", "-c", "ss -ltn | grep -q ':9000 '").exitCode() != 0) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("socat does not listen");
                }
                Thread.sleep(50);
            }
            int connections = 16;
            long active0 = group.stack(0).counters().tcpActiveOpens.get();
            long active1 = group.stack(1).counters().tcpActiveOpens.get();
            Random random = new Random(12);
            List<byte[]> sent = new ArrayList<>();
            List<Handlers.Collect> collects = new ArrayList<>();
            List<Channel> channels = new ArrayList<>();
            int[] perLoop = new int[2];
            for (int i = 0; i < connections; i++) {
                byte[] data = new byte[32 << 10];
                random.nextBytes(data);
                Handlers.Collect collect = new Handlers.Collect(data.length);
                Channel c = new Bootstrap().group(group).channel(FastpathSocketChannel.class).handler(collect)
                    .connect(linuxIp, 9000).sync().channel();
                perLoop[group.shardOf(c.eventLoop())]++;
                c.writeAndFlush(Unpooled.wrappedBuffer(data));
                sent.add(data);
                collects.add(collect);
                channels.add(c);
            }
            for (int i = 0; i < connections; i++) {
                assertArrayEquals(sent.get(i), collects.get(i).done.get(30, TimeUnit.SECONDS),
                    "connection " + i + "'s echo, byte for byte");
                channels.get(i).close().sync();
            }
            assertEquals(connections / 2, perLoop[0]);
            assertEquals(connections / 2, perLoop[1]);
            assertEquals(connections / 2, group.stack(0).counters().tcpActiveOpens.get() - active0);
            assertEquals(connections / 2, group.stack(1).counters().tcpActiveOpens.get() - active1);
        } finally {
            server.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
        }
    }

    private static String number(String text, String regex) {
        Matcher m = Pattern.compile(regex).matcher(text);
        return m.find() ? m.group(1) : "?";
    }
}
