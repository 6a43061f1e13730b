package io.fastpath.stack.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.stack.NtStatus;
import io.fastpath.stack.Stack;
import io.fastpath.stack.StackConfig;
import io.fastpath.stack.app.EchoServer;
import io.fastpath.stack.counters.StackCounters;
import io.fastpath.stack.wire.Ipv4Address;
import io.fastpath.testkit.NetNs;
import io.fastpath.testkit.Shell;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real peer behind a path that fragments (RFC 1122 §3.3.2's case): Linux's own TCP in a namespace, with path
 * MTU discovery off ({@code net.ipv4.ip_no_pmtu_disc=1}: its datagrams leave without DF), reaches fastpath
 * through a Linux router whose link towards fastpath has a 576-byte MTU. fastpath announces MSS 1460, the peer
 * sends 1,500-byte datagrams, the router cuts each into three fragments, and fastpath reassembles them:
 *
 * <pre>
 *   peer namespace              router namespace (ip_forward=1)              root namespace
 *   net2.2 ── veth (1500) ── net2.1      net1.1 ── tap (MTU 576) ── net_tap ── fastpath net1.2 (echo on 7)
 * </pre>
 *
 * Before reassembly every fragment was dropped and the client could not even complete its first echo.
 */
class LinuxFragmentingPathTest {
    private static final AtomicInteger SUBNET = new AtomicInteger((int) (ProcessHandle.current().pid() % 100));
    private static PktmbufPool pool;

    @TempDir
    Path dir;

    @BeforeAll
    static void createPool() {
        pool = PktmbufPool.create("fragpath", 8191, 256, PktmbufPool.DEFAULT_DATA_ROOM);
    }

    @AfterAll
    static void freePool() {
        pool.close();
    }

    @Test
    void linuxBehindAFragmentingRouterEchoesThroughFastpath_rfc1122_s3_3_2() throws Exception {
        int n = SUBNET.incrementAndGet() % 120 + 1;
        String net1 = "10.82." + (2 * n) + ".";
        String net2 = "10.82." + (2 * n + 1) + ".";
        String tap = NetNs.uniqueName("t");
        String routerSide = NetNs.uniqueName("r");
        String peerSide = NetNs.uniqueName("p");
        long bytes = 1 << 20;
        try (NetNs router = NetNs.create(); NetNs peer = NetNs.create();
             EthDevPort port = EthDevPort.openVdev("net_tap" + tap + ",iface=" + tap, pool,
                 EthDevPort.Config.defaults())) {
            router.adopt(tap, net1 + "1/24");
            router.exec("ip", "link", "set", tap, "mtu", "576");
            router.tryExec(5, "ethtool", "-K", tap, "tx", "off", "rx", "off");
            Shell.run("ip", "link", "add", routerSide, "type", "veth", "peer", "name", peerSide);
            router.adopt(routerSide, net2 + "1/24");
            peer.adopt(peerSide, net2 + "2/24");
            router.tryExec(5, "ethtool", "-K", routerSide, "tx", "off", "rx", "off", "tso", "off", "gso", "off");
            peer.tryExec(5, "ethtool", "-K", peerSide, "tx", "off", "rx", "off", "tso", "off", "gso", "off");
            router.exec("sysctl", "-qw", "net.ipv4.ip_forward=1");
            peer.exec("ip", "route", "add", "default", "via", net2 + "1");
            peer.exec("sysctl", "-qw", "net.ipv4.ip_no_pmtu_disc=1");

            Stack stack = new Stack(port, StackConfig.builder().name(NetNs.uniqueName("s")).cidr(net1 + "2/24")
                .gateway(Ipv4Address.parse(net1 + "1"))
                .countersFile(dir.resolve(NetNs.uniqueName("c") + ".counters")).build());
            try {
                EchoServer server = new EchoServer();
                assertEquals(NtStatus.STATUS_SUCCESS, server.listen(stack.tcp(), 7));
                stack.doWork();
                Path script = dir.resolve("echo_client.py");
                try (InputStream in = LinuxFragmentingPathTest.class.getResourceAsStream("/peer/echo_client.py")) {
                    Files.write(script, in.readAllBytes());
                }
                long start = System.nanoTime();
                Process client = new ProcessBuilder("ip", "netns", "exec", peer.name(), "/usr/bin/python3",
                    script.toString(), net1 + "2", "7", Long.toString(bytes)).redirectErrorStream(true).start();
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                while (client.isAlive() && System.nanoTime() < deadline) {
                    if (stack.doWork() == 0) {
                        Thread.onSpinWait();
                    }
                }
                boolean killed = client.isAlive();
                if (killed) {
                    client.destroyForcibly();
                }
                client.waitFor();
                String out = killed ? "(killed: time-out)" : new String(client.getInputStream().readAllBytes(),
                    StandardCharsets.UTF_8);
                double seconds = (System.nanoTime() - start) / 1e9;
                StackCounters c = stack.counters();
                String summary = String.format("Linux behind a 576-byte-MTU router -> fastpath, %d KiB echoed in %.2f s:"
                        + " %d fragments received, %d datagrams reassembled, %d timed out, %d evicted, %d held now;"
                        + " tcp segments received %d", bytes >> 10, seconds, c.ipFragmentsReceived.get(),
                    c.ipReassembled.get(), c.ipReassemblyTimeouts.get(), c.ipReassemblyEvicted.get(),
                    c.ipReassemblyHeld.get(), c.tcpSegmentsReceived.get());
                System.out.println(summary + "\n" + out);
                assertTrue(out.startsWith("OK "), out + "\n" + summary + "\n" + stack.tcp().describe());
                // The peer's full-sized segments came in pieces: at least 1 MiB / 1,460 of them were reassembled.
                assertTrue(c.ipReassembled.get() >= bytes / 1460, summary);
                assertTrue(c.ipFragmentsReceived.get() >= 3 * (bytes / 1460), summary);
            } finally {
                stack.onClose();
                stack.close();
            }
        }
        Shell.quietly("ip", "link", "delete", routerSide);
        assertEquals(0, pool.inUseCount(), "every mbuf back in the pool");
    }
}
