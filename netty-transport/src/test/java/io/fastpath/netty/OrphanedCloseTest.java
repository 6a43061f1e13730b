package io.fastpath.netty;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.testkit.NetNs;
import io.fastpath.testkit.Shell;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A Netty server on fastpath that closes its connections, against Linux clients that read to the end and then
 * never close (their sockets stay in CLOSE-WAIT: a careless or hostile peer). Each closed channel's connection
 * waits in FIN-WAIT-2 for a FIN that never comes; like Linux's orphaned sockets (tcp_fin_timeout) it is reset
 * after the group's FIN time-out, so such peers cannot hold the server's connection slots for ever. A channel
 * that only shut its output down (half-closed, still open) is left alone.
 */
class OrphanedCloseTest {
    private static final Duration FIN_TIMEOUT = Duration.ofMillis(800);
    private static final Pattern RESET = Pattern.compile("reset (\\d+) of (\\d+)(?: after ([0-9.]+)\\.\\.([0-9.]+) s)?");
    /** Connects N times, reads each to its end, keeps every socket open, and reports which the server reset. */
    private static final String CLIENT = """
        import socket, sys, time
        host, port, n, wait = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
        socks, eof = [], []
        for _ in range(n):
            s = socket.create_connection((host, port), timeout=5)
            while s.recv(4096):
                pass
            eof.append(time.time())  # the server's FIN, read as it came
            socks.append(s)
        reset = {}
        end = time.time() + wait
        while time.time() < end and len(reset) < n:
            for i, s in enumerate(socks):
                if i not in reset and s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0] == 7:  # TCP_CLOSE
                    reset[i] = time.time() - eof[i]
            time.sleep(0.02)
        line = "reset %d of %d" % (len(reset), n)
        if reset:
            line += " after %.2f..%.2f s" % (min(reset.values()), max(reset.values()))
        print(line)
        """;
    private static NetNs ns;
    private static FastpathEventLoopGroup group;
    private static String stackIp;

    private static TapNamespace tap;

    @BeforeAll
    static void tapIntoANamespace() {
        tap = new TapNamespace("10.88.", (vdev, ip) -> FastpathEventLoopGroup.builder().vdev(vdev).ip(ip)
            .finTimeout(FIN_TIMEOUT).build());
        ns = tap.ns;
        group = tap.group;
        stackIp = tap.stackIp;
    }

    @AfterAll
    static void closeAll() {
        if (tap != null) {
            tap.close();
        }
    }

    /** Serves {@code port}: each connection gets "bye" and is then closed, or (halfClose) only shut for output. */
    private static void serve(int port, boolean halfClose) throws InterruptedException {
        serve(port, halfClose, -1);
    }

    /** ... and with {@code closeAfterMs} >= 0, closed that long after its output was shut down. */
    private static void serve(int port, boolean halfClose, long closeAfterMs) throws InterruptedException {
        Channel c = new ServerBootstrap().group(group).channel(FastpathServerSocketChannel.class)
            .childOption(ChannelOption.ALLOW_HALF_CLOSURE, halfClose)
            .childHandler(new ChannelInboundHandlerAdapter() {
                @Override
                public void channelActive(ChannelHandlerContext ctx) {
                    ctx.writeAndFlush(Unpooled.copiedBuffer("bye\n", StandardCharsets.US_ASCII)).addListener(
                        halfClose ? (ChannelFutureListener) f -> {
                            ((SocketChannel) f.channel()).shutdownOutput();
                            if (closeAfterMs >= 0) {
                                f.channel().eventLoop().schedule(() -> f.channel().close(), closeAfterMs,
                                    TimeUnit.MILLISECONDS);
                            }
                        } : ChannelFutureListener.CLOSE);
                }

                @Override
                public boolean isSharable() {
                    return true;
                }
            }).bind(port).sync().channel();
        tap.channels.add(c);
    }

    private static Matcher clients(int port, int n, double waitSeconds) {
        Shell.Result r = ns.tryExec((long) waitSeconds + 30, "/usr/bin/python3", "-c", CLIENT, stackIp,
            Integer.toString(port), Integer.toString(n), Double.toString(waitSeconds));
        assertEquals(0, r.exitCode(), r.output());
        Matcher m = RESET.matcher(r.output());
        assertTrue(m.find(), r.output());
        System.out.println("port " + port + ": " + r.output().trim());
        return m;
    }

    @Test
    void aClosedChannelsConnectionIsResetWhenThePeerNeverClosesWithinTheFinTimeout() throws Exception {
        serve(9000, false);
        long before = group.finTimeouts();
        Matcher m = clients(9000, 8, 6);
        assertEquals("8", m.group(1), "every connection the peers left open was reset: " + m.group());
        double first = Double.parseDouble(m.group(3));
        double last = Double.parseDouble(m.group(4));
        assertTrue(first >= 0.75 * FIN_TIMEOUT.toMillis() / 1000.0, "not before the FIN time-out: " + m.group());
        assertTrue(last <= FIN_TIMEOUT.toMillis() / 1000.0 + 4, "soon after the FIN time-out: " + m.group());
        assertEquals(8, group.finTimeouts() - before);
    }

    /** Output shut down first (the FIN acknowledged while the channel is open), closed 300 ms later: orphaned then. */
    @Test
    void aChannelClosedAfterItsFinWasAcknowledgedIsResetAfterTheTimeOutFromTheClose() throws Exception {
        serve(9002, true, 300);
        long before = group.finTimeouts();
        Matcher m = clients(9002, 4, 6);
        assertEquals("4", m.group(1), m.group());
        double first = Double.parseDouble(m.group(3));
        assertTrue(first >= 0.3 + 0.75 * FIN_TIMEOUT.toMillis() / 1000.0, "counted from the close: " + m.group());
        assertEquals(4, group.finTimeouts() - before);
    }

    @Test
    void aHalfClosedChannelStillOpenIsNotReset() throws Exception {
        serve(9001, true);
        long before = group.finTimeouts();
        Matcher m = clients(9001, 4, 3 * FIN_TIMEOUT.toMillis() / 1000.0);
        assertEquals("0", m.group(1), "an open channel may wait for the peer's FIN as long as it likes: " + m.group());
        assertEquals(0, group.finTimeouts() - before);
    }
}
