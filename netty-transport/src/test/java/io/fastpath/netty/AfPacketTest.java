package io.fastpath.netty;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.testkit.NetNs;
import io.fastpath.testkit.Shell;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpServerCodec;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The Netty HTTP hello server on fastpath over net_af_packet: the stack on the root end of a veth pair, {@code curl}
 * (and {@code ab}, when installed) in a namespace on the other end.
 */
class AfPacketTest {
    @Test
    void nettyHttpServerAnswersCurlOverAfPacket() throws Exception {
        String net = "10.89." + (ProcessHandle.current().pid() % 200 + 1) + ".";
        NetNs ns = NetNs.create();
        FastpathEventLoopGroup group = null;
        try {
            String outer = NetNs.uniqueName("o");
            ns.veth(outer, NetNs.uniqueName("i"), net + "1/24");
            group = FastpathEventLoopGroup.fromArgs("--vdev", "net_af_packet" + outer + ",iface=" + outer
                + ",qdisc_bypass=0", "--ip", net + "2/24");
            new ServerBootstrap().group(group).channel(FastpathServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(new HttpServerCodec(), new Handlers.HttpHello());
                    }
                }).bind(80).sync();
            String url = "http://" + net + "2/";
            Shell.Result curl = ns.tryExec(15, "curl", "-sS", "--max-time", "10", url);
            assertEquals(0, curl.exitCode(), curl.output());
            assertEquals(new String(Handlers.HELLO, StandardCharsets.US_ASCII).trim(), curl.output().trim());
            if (Shell.has("ab")) {
                Shell.Result ab = ns.tryExec(60, "ab", "-q", "-k", "-n", "5000", "-c", "4", "-s", "10", url);
                assertEquals(0, ab.exitCode(), ab.output());
                assertTrue(ab.output().matches("(?s).*Complete requests:\\s+5000\\s.*"), ab.output());
                assertTrue(ab.output().matches("(?s).*Failed requests:\\s+0\\s.*"), ab.output());
            }
            assertEquals(0, group.failures());
        } finally {
            if (group != null) {
                group.shutdownGracefully(0, 5, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
            }
            ns.close();
        }
    }
}
