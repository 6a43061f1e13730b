package io.fastpath.stack.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.Port;
import io.fastpath.stack.NtStatus;
import io.fastpath.stack.Stack;
import io.fastpath.stack.StackConfig;
import io.fastpath.stack.app.EchoServer;
import io.fastpath.stack.tcp.LinuxTcpBehaviourTest.Peer;
import io.fastpath.stack.wire.Ipv4Address;
import io.fastpath.testkit.NetNs;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 10, reproduction 2, against the stack from Linux: a namespace behind net_tap floods fastpath's listener
 * with 400 SYNs from spoofed sources (scapy), 2 ms apart, whose SYN-ACKs are never answered; then Linux's own
 * TCP connects and must be served by its first SYN (RFC 4987 §3.6 SYN cookies).
 */
class LinuxSynFloodTest {
    private static final AtomicInteger SUBNET = new AtomicInteger((int) (ProcessHandle.current().pid() % 100) + 120);
    private static final long MS = 1_000_000L;
    private static PktmbufPool pool;

    @TempDir
    Path dir;

    @BeforeAll
    static void createPool() {
        pool = PktmbufPool.create("linuxsynflood", 8191, 0, PktmbufPool.DEFAULT_DATA_ROOM);
    }

    @AfterAll
    static void freePool() {
        pool.close();
    }

    @Test
    void linuxClientServedPromptlyAfterSpoofedSynFlood_rfc4987_s3_6() throws Exception {
        String net = "10.83." + (SUBNET.incrementAndGet() % 250 + 1) + ".";
        String iface = NetNs.uniqueName("t");
        try (NetNs ns = NetNs.create()) {
            Port port = EthDevPort.openVdev("net_tap" + iface + ",iface=" + iface, pool, EthDevPort.Config.defaults());
            Stack stack = null;
            Process process = null;
            try {
                ns.adopt(iface, net + "1/24");
                ns.tryExec(5, "ethtool", "-K", iface, "tx", "off", "rx", "off");
                // The SYN-ACKs to the spoofed sources go to Linux as the gateway, which drops them (no forwarding).
                stack = new Stack(port, StackConfig.builder().name(NetNs.uniqueName("s")).cidr(net + "2/24")
                    .gateway(Ipv4Address.parse(net + "1")).tcp(TcpConfig.defaults())
                    .countersFile(dir.resolve(NetNs.uniqueName("c") + ".counters")).build());
                EchoServer echo = new EchoServer();
                assertEquals(NtStatus.STATUS_SUCCESS, echo.listen(stack.tcp(), 7200));
                Path script = dir.resolve("synflood_client.py");
                try (InputStream in = LinuxSynFloodTest.class.getResourceAsStream("/peer/synflood_client.py")) {
                    Files.write(script, in.readAllBytes());
                }
                process = new ProcessBuilder(List.of("ip", "netns", "exec", ns.name(), "/usr/bin/python3", "-u",
                    script.toString(), net + "2", "7200", "400", "2")).redirectErrorStream(true).start();
                Peer peer = new Peer(process);
                long deadline = System.nanoTime() + 60_000 * MS;
                while (System.nanoTime() < deadline && process.isAlive() && !peer.printed("echo")
                    && !peer.printed("connect fail")) {
                    if (stack.doWork() == 0) {
                        Thread.onSpinWait();
                    }
                }
                List<String> lines = peer.lines();
                var c = stack.counters();
                String report = lines + " cookies sent " + c.tcpSynCookiesSent.get() + " validated "
                    + c.tcpSynCookiesValidated.get() + " overflows " + c.tcpListenOverflows.get();
                assertTrue(lines.contains("flooded 400"), report);
                assertTrue(lines.stream().anyMatch(l -> l.startsWith("connect ok")), report);
                assertTrue(lines.contains("echo ok"), report);
                assertTrue(c.tcpSynCookiesSent.get() >= 400 - 128, report);
                assertEquals(1, c.tcpSynCookiesValidated.get(), report);
                assertTrue(stack.tcp().slotsInUse() <= 128 + 1, report);
            } finally {
                if (process != null) {
                    process.destroyForcibly();
                }
                if (stack != null) {
                    stack.onClose();
                    stack.close();
                }
                port.close();
            }
        }
        assertEquals(0, pool.inUseCount(), "every mbuf returned");
    }
}
