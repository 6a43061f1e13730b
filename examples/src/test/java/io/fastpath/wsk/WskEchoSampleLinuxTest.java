package io.fastpath.wsk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.Port;
import io.fastpath.examples.wsk.WskEchoServer;
import io.fastpath.stack.Stack;
import io.fastpath.stack.StackConfig;
import io.fastpath.stack.StackRunner;
import io.fastpath.testkit.NetNs;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The WSK echo sample serves a Linux client over net_tap: 4 MiB, SHA-256 of both directions compared on the
 * Linux side (the stack's peer script echo_client.py).
 */
class WskEchoSampleLinuxTest {
    @TempDir
    Path dir;

    @Test
    void linuxClientEchoesFourMebibytesThroughTheWskEchoSample() throws Exception {
        String iface = NetNs.uniqueName("x");
        Path script = dir.resolve("echo_client.py");
        try (InputStream in = WskEchoSampleLinuxTest.class.getResourceAsStream("/peer/echo_client.py")) {
            Files.write(script, in.readAllBytes());
        }
        try (NetNs ns = NetNs.create();
             PktmbufPool pool = PktmbufPool.create(NetNs.uniqueName("p"), 16383, 256, PktmbufPool.DEFAULT_DATA_ROOM)) {
            Port port = EthDevPort.openVdev("net_tap" + iface + ",iface=" + iface, pool, EthDevPort.Config.defaults());
            ns.adopt(iface, "10.91.0.1/24");
            ns.tryExec(5, "ethtool", "-K", iface, "tx", "off", "rx", "off");
            Stack stack = new Stack(port, StackConfig.builder().name(NetNs.uniqueName("s")).cidr("10.91.0.2/24")
                .countersFile(dir.resolve("c.counters")).build());
            StackRunner runner = StackRunner.start(stack, StackRunner.backoff());
            WskProvider wsk = WskProvider.register(stack);
            Process client = null;
            try {
                WskEchoServer server = new WskEchoServer(wsk);
                server.start(7);
                run(wsk, server::listening, 5);
                client = new ProcessBuilder("ip", "netns", "exec", ns.name(), "/usr/bin/python3", script.toString(),
                    "10.91.0.2", "7", Integer.toString(4 << 20)).redirectErrorStream(true).start();
                Process c = client;
                run(wsk, () -> !c.isAlive(), 60);
                String out = new String(client.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
                assertTrue(out.startsWith("OK "), out);
                run(wsk, () -> server.closed.get() == 1, 10);
                assertEquals(4 << 20, server.echoed.get());
                assertEquals(0, server.failures.get());
            } finally {
                if (client != null) {
                    client.destroyForcibly();
                }
                wsk.close();
                runner.close();
                stack.close();
                port.close();
            }
        }
    }

    private static void run(WskProvider wsk, BooleanSupplier done, long seconds) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (!done.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "not done in " + seconds + " s");
            if (wsk.dispatch() == 0) {
                Thread.yield();
            }
        }
    }
}
