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
import io.fastpath.stack.app.StreamClient;
import io.fastpath.stack.device.FaultInjector;
import io.fastpath.stack.device.PcapPort;
import io.fastpath.stack.wire.Ipv4Address;
import io.fastpath.testkit.NetNs;
import io.fastpath.testkit.Shell;
import io.fastpath.testkit.Tshark;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Linux's own TCP, in a network namespace behind net_tap or af_packet/veth, is the peer. Data is checked end
 * to end (SHA-256 on the Linux side, every byte on ours), clean and under loss on both sides.
 */
class LinuxTcpTest {
    private static final AtomicInteger SUBNET = new AtomicInteger((int) (ProcessHandle.current().pid() % 100));
    private static final long MIB = 1 << 20;
    private static PktmbufPool pool;

    @TempDir
    Path dir;

    @BeforeAll
    static void createPool() {
        pool = PktmbufPool.create("linuxtcp", 32767, 256, PktmbufPool.DEFAULT_DATA_ROOM);
    }

    @AfterAll
    static void freePool() {
        pool.close();
    }

    /** A Linux host in a namespace, a fastpath stack on a port towards it, driven by the test thread. */
    private final class Link implements AutoCloseable {
        final NetNs ns = NetNs.create();
        final String net = "10.81." + (SUBNET.incrementAndGet() % 250 + 1) + ".";
        final Port port;
        final Stack stack;
        final List<Process> processes = new ArrayList<>();
        final FaultInjector faults;

        Link(boolean tap, double loss, Path pcap) {
            Port p;
            if (tap) {
                String iface = NetNs.uniqueName("t");
                p = EthDevPort.openVdev("net_tap" + iface + ",iface=" + iface, pool, EthDevPort.Config.defaults());
                ns.adopt(iface, net + "1/24");
                ns.tryExec(5, "ethtool", "-K", iface, "tx", "off", "rx", "off");
            } else {
                String outer = NetNs.uniqueName("o");
                ns.veth(outer, NetNs.uniqueName("i"), net + "1/24");
                p = EthDevPort.openVdev("net_af_packet" + outer + ",iface=" + outer + ",qdisc_bypass=0", pool,
                    EthDevPort.Config.defaults());
            }
            System.out.println((tap ? "net_tap" : "af_packet") + " tx offloads enabled: 0x"
                + Long.toHexString(p.txOffloads()));
            if (pcap != null) {
                p = new PcapPort(p, pcap);
            }
            if (loss > 0) {
                faults = FaultInjector.builder(p).seed(11).rxDrop(loss).txDrop(loss).txReorder(0.01)
                    .txDuplicate(0.01).build();
                p = faults;
                int percent = (int) Math.round(loss * 100);
                ns.exec("nft", "add table inet fploss");
                ns.exec("nft", "add chain inet fploss in { type filter hook input priority 0 ; }");
                ns.exec("nft", "add chain inet fploss out { type filter hook output priority 0 ; }");
                ns.exec("nft", "add rule inet fploss in meta l4proto tcp numgen random mod 100 < " + percent + " drop");
                ns.exec("nft", "add rule inet fploss out meta l4proto tcp numgen random mod 100 < " + percent + " drop");
            } else {
                faults = null;
            }
            port = p;
            stack = new Stack(port, StackConfig.builder().name(NetNs.uniqueName("s")).cidr(net + "2/24")
                .tcp(TcpConfig.defaults().withTimeWait(TimeUnit.MILLISECONDS.toNanos(200)))
                .countersFile(dir.resolve(NetNs.uniqueName("c") + ".counters")).build());
        }

        Process python(String script, String... args) throws IOException {
            Path file = dir.resolve(script);
            if (!Files.exists(file)) {
                try (InputStream in = LinuxTcpTest.class.getResourceAsStream("/peer/" + script)) {
                    Files.write(file, in.readAllBytes());
                }
            }
            List<String> command = new ArrayList<>(List.of("ip", "netns", "exec", ns.name(), "/usr/bin/python3",
                file.toString()));
            command.addAll(List.of(args));
            Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            processes.add(process);
            return process;
        }

        void runUntil(BooleanSupplier done, long timeoutSeconds, String what) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
            while (!done.getAsBoolean()) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError(what + " not done in " + timeoutSeconds + " s\n" + stack.tcp().describe());
                }
                if (stack.doWork() == 0) {
                    Thread.onSpinWait();
                }
            }
        }

        @Override
        public void close() {
            for (Process p : processes) {
                p.destroyForcibly();
            }
            stack.onClose();
            stack.close();
            port.close();
            ns.close();
        }
    }

    private static String readLine(Process p) throws IOException {
        return new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8)).readLine();
    }

    private void linuxClientToFastpathServer(boolean tap, double loss, long bytes, long timeoutSeconds,
                                             Path pcap) throws Exception {
        try (Link link = new Link(tap, loss, pcap)) {
            EchoServer server = new EchoServer();
            assertEquals(NtStatus.STATUS_SUCCESS, server.listen(link.stack.tcp(), 7));
            link.stack.doWork();
            long start = System.nanoTime();
            Process client = link.python("echo_client.py", link.net + "2", "7", Long.toString(bytes));
            link.runUntil(() -> !client.isAlive(), timeoutSeconds, "Linux client");
            String out = new String(client.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            double seconds = (System.nanoTime() - start) / 1e9;
            assertTrue(out.startsWith("OK "), out + "\n" + link.stack.tcp().describe());
            link.runUntil(() -> server.closed() == 1, 10, "server close");
            System.out.printf("Linux -> fastpath %s, %d MiB echoed, loss %.0f%%: %.2f s, %.1f MiB/s each way;"
                    + " retransmits %d, timeouts %d%n", tap ? "net_tap" : "af_packet", bytes / MIB, loss * 100,
                seconds, bytes / MIB / seconds, link.stack.counters().tcpRetransmits.get(),
                link.stack.counters().tcpTimeouts.get());
        }
    }

    private void fastpathClientToLinuxServer(boolean tap, double loss, long bytes, long timeoutSeconds)
        throws Exception {
        try (Link link = new Link(tap, loss, null)) {
            Process server = link.python("echo_server.py", "7007");
            assertEquals("listening", readLine(server));
            StreamClient client = new StreamClient(99, bytes);
            link.stack.doWork();
            long start = System.nanoTime();
            assertEquals(NtStatus.STATUS_PENDING, client.connect(link.stack.tcp(),
                Ipv4Address.parse(link.net + "1"), 7007, System.nanoTime()));
            link.runUntil(client::done, timeoutSeconds, "fastpath client");
            double seconds = (System.nanoTime() - start) / 1e9;
            assertEquals("STATUS_SUCCESS", NtStatus.name(client.status()), "mismatch at " + client.mismatchAt()
                + " received " + client.received());
            assertEquals(bytes, client.received());
            System.out.printf("fastpath -> Linux %s, %d MiB echoed, loss %.0f%%: %.2f s, %.1f MiB/s each way;"
                    + " retransmits %d, timeouts %d%n", tap ? "net_tap" : "af_packet", bytes / MIB, loss * 100,
                seconds, bytes / MIB / seconds, link.stack.counters().tcpRetransmits.get(),
                link.stack.counters().tcpTimeouts.get());
        }
    }

    @Test
    void linuxClientEchoes64MiBThroughFastpathOverTap() throws Exception {
        Path pcap = dir.resolve("first.pcap");
        linuxClientToFastpathServer(true, 0, 64 * MIB, 120, null);
        linuxClientToFastpathServer(true, 0, 256 * 1024, 30, pcap);
        assertEquals("", Tshark.problems(pcap), "our capture has no malformed packet or bad checksum");
    }

    @Test
    void fastpathClientEchoes64MiBThroughLinuxOverTap() throws Exception {
        fastpathClientToLinuxServer(true, 0, 64 * MIB, 120);
    }

    @Test
    void linuxClientEchoes64MiBThroughFastpathOverAfPacket() throws Exception {
        linuxClientToFastpathServer(false, 0, 64 * MIB, 120, null);
    }

    @Test
    void fastpathClientEchoes64MiBThroughLinuxOverAfPacket() throws Exception {
        fastpathClientToLinuxServer(false, 0, 64 * MIB, 120);
    }

    @Test
    void linuxClientEchoes64MiBThroughFastpathUnderFivePercentLossBothSides() throws Exception {
        linuxClientToFastpathServer(true, 0.05, Long.getLong("lossMiB", 64) * MIB, 900, null);
    }

    @Test
    void fastpathClientEchoes64MiBThroughLinuxUnderFivePercentLossBothSides() throws Exception {
        fastpathClientToLinuxServer(false, 0.05, 64 * MIB, 900);
    }

    @Test
    void connectToALinuxPortWithNoListenerIsRefused() throws Exception {
        try (Link link = new Link(true, 0, null)) {
            StreamClient client = new StreamClient(1, 10);
            link.stack.doWork();
            client.connect(link.stack.tcp(), Ipv4Address.parse(link.net + "1"), 7999, System.nanoTime());
            link.runUntil(client::done, 10, "connect");
            assertEquals("STATUS_CONNECTION_REFUSED", NtStatus.name(client.status()));
        }
    }

    /**
     * Soak against Linux (issue 10 deliverable 6): fastpath clients churn connections (random sizes, every
     * byte echoed by Linux and checked) plus a bulk stream, through 1% loss both ways (nftables in the
     * namespace, our fault injector with reordering and duplication on our side), for
     * {@code -Dfastpath.soak.seconds} (default 120). At the end every connection closed cleanly, the connection
     * table is empty, TCP holds no mbuf, and the heap did not grow.
     */
    @Test
    void soakChurnAndBulkAgainstLinuxThroughLoss_issue10_soak() throws Exception {
        long seconds = Long.getLong("fastpath.soak.seconds", 120);
        try (Link link = new Link(true, 0.01, null)) {
            Process server = link.python("echo_server.py", "7009");
            assertEquals("listening", readLine(server));
            Soak soak = new Soak(link.stack.tcp(), Ipv4Address.parse(link.net + "1"), 7009, 8, 128 * 1024, 4L << 20, 23);
            long start = System.nanoTime();
            long heapAfterWarmUp = soak.run(seconds, 120, () -> {
                if (link.stack.doWork() == 0) {
                    Thread.onSpinWait();
                }
            }, () -> link.stack.tcp().describe());
            link.runUntil(() -> link.stack.tcp().connectionCount() == 0, 10, "connection table empty");
            long heapAtEnd = Soak.heapAfterGc();
            double elapsed = (System.nanoTime() - start) / 1e9;
            System.out.printf("soak against Linux (net_tap, 1%% loss both ways): %.0f s, %s; %.1f MiB/s;"
                    + " retransmits %d, timeouts %d; heap %d -> %d KiB%n", elapsed, soak,
                soak.bytesVerified / 1048576.0 / elapsed, link.stack.counters().tcpRetransmits.get(),
                link.stack.counters().tcpTimeouts.get(), heapAfterWarmUp >> 10, heapAtEnd >> 10);
            assertTrue(soak.failures.isEmpty(), soak.toString());
            assertTrue(soak.connections > 20, soak.toString());
            assertEquals(0, link.stack.tcp().memoryHeldMbufs());
            assertTrue(heapAtEnd - heapAfterWarmUp < 16L << 20, "heap grew from " + heapAfterWarmUp + " to " + heapAtEnd);
        }
    }

    /** MSG_OOB from Linux reaches the handler out of band and is echoed back as urgent data. */
    @Test
    void urgentDataFromLinuxIsDeliveredOutOfBandAndEchoedAsUrgent_rfc9293_s3_8_5() throws Exception {
        try (Link link = new Link(true, 0, null)) {
            EchoServer server = new EchoServer();
            assertEquals(NtStatus.STATUS_SUCCESS, server.listen(link.stack.tcp(), 7));
            link.stack.doWork();
            Process client = link.python("urgent_client.py", link.net + "2", "7");
            link.runUntil(() -> !client.isAlive(), 20, "urgent client");
            String out = new String(client.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(out.startsWith("OK"), out);
            assertEquals(1, server.urgentEchoed());
        }
    }

    /** Our urgent byte reaches a Linux application through recv(MSG_OOB), out of the normal stream. */
    @Test
    void urgentDataToLinuxArrivesAsMsgOob_rfc6093() throws Exception {
        try (Link link = new Link(true, 0, null)) {
            Process server = link.python("urgent_server.py", "7008");
            assertEquals("listening", readLine(server));
            boolean[] closed = {false};
            org.agrona.concurrent.UnsafeBuffer text = new org.agrona.concurrent.UnsafeBuffer(new byte[8]);
            TcpHandler sender = new TcpHandler() {
                @Override
                public void onConnectComplete(TcpConnection c, int status) {
                    assertEquals(NtStatus.STATUS_SUCCESS, status);
                    text.putBytes(0, "abc!def".getBytes(StandardCharsets.US_ASCII));
                    c.noDelay(true);
                    c.send(text, 0, 3);
                    c.sendUrgent(text, 3, 1);
                    c.send(text, 4, 3);
                    c.shutdown();
                }

                @Override
                public int onReceive(TcpConnection c, long address, int length) {
                    return length;
                }

                @Override
                public void onPeerClosed(TcpConnection c) {
                }

                @Override
                public void onClosed(TcpConnection c, int status) {
                    closed[0] = true;
                }
            };
            link.stack.doWork();
            assertEquals(NtStatus.STATUS_PENDING, link.stack.tcp().connect(0, 0, Ipv4Address.parse(link.net + "1"),
                7008, sender));
            link.runUntil(() -> !server.isAlive(), 20, "urgent server");
            String out = new String(server.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            assertEquals("inband=b'abcdef' oob=b'!'", out);
            link.runUntil(() -> closed[0], 10, "close");
        }
    }

    /**
     * Linux's sendto(MSG_FASTOPEN) into our server: the second connection's data rides in the SYN, and our echo
     * goes out right after the SYN-ACK, before Linux's ACK of it arrives (RFC 7413 §3: one RTT to the answer).
     */
    @Test
    void linuxFastOpenClientSendsDataInTheSynToFastpath_rfc7413() throws Exception {
        Path pcap = dir.resolve("tfo-server.pcap");
        try (Link link = new Link(true, 0, pcap)) {
            link.ns.exec("sysctl", "-qw", "net.ipv4.tcp_fastopen=3");
            EchoServer server = new EchoServer();
            assertEquals(NtStatus.STATUS_SUCCESS, server.listen(link.stack.tcp(), 7));
            link.stack.doWork();
            Process client = link.python("tfo_client.py", link.net + "2", "7");
            link.runUntil(() -> !client.isAlive(), 20, "Linux TFO client");
            String out = new String(client.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            assertEquals("fast open 0|fast open 1", out);
            assertEquals(1, link.stack.counters().tcpFastOpenCookiesSent.get());
            assertEquals(1, link.stack.counters().tcpFastOpenSynDataAccepted.get());
        }
        // Our capture, in the order the stack took and sent frames: stream, source port, flags, payload length.
        String frames = Shell.run("tshark", "-n", "-r", pcap.toString(), "-Y", "tcp.port == 7", "-T", "fields",
            "-e", "tcp.stream", "-e", "tcp.srcport", "-e", "tcp.flags", "-e", "tcp.len");
        List<String[]> rows = frames.lines().filter(l -> !l.startsWith("Running") && !l.isBlank())
            .map(l -> l.split("\t")).toList();
        String stream = rows.stream().filter(r -> Integer.decode(r[2]) == 0x002 && Integer.parseInt(r[3]) > 0)
            .map(r -> r[0]).findFirst().orElseThrow(() -> new AssertionError("no SYN with data: " + frames));
        List<String> order = new ArrayList<>();
        for (String[] r : rows) {
            if (!r[0].equals(stream)) {
                continue;
            }
            boolean ours = r[1].equals("7");
            int flags = Integer.decode(r[2]);
            if ((flags & 0x002) != 0) {
                order.add(ours ? "SYN-ACK" : "SYN+data");
            } else if (ours && Integer.parseInt(r[3]) > 0) {
                order.add("echo");
            } else if (!ours && (flags & 0x010) != 0 && order.size() >= 2 && !order.contains("ACK")) {
                order.add("ACK");
            }
        }
        assertEquals(List.of("SYN+data", "SYN-ACK", "echo", "ACK"), order.subList(0, Math.min(4, order.size())),
            "the echo before the client's ACK of the SYN-ACK: " + frames);
    }

    /** Our connect with data into a Linux TFO server: a capture shows the second SYN carrying the data. */
    @Test
    void fastpathFastOpenClientSendsDataInTheSynToLinux_rfc7413() throws Exception {
        Path pcap = dir.resolve("tfo.pcap");
        try (Link link = new Link(true, 0, pcap)) {
            link.ns.exec("sysctl", "-qw", "net.ipv4.tcp_fastopen=3");
            Process server = link.python("tfo_server.py", "7009");
            assertEquals("listening", readLine(server));
            for (int i = 0; i < 2; i++) {
                String text = "syn data " + i;
                StringBuilder echoed = new StringBuilder();
                boolean[] closed = {false};
                TcpHandler client = new TcpHandler() {
                    @Override
                    public int onReceive(TcpConnection c, long address, int length) {
                        echoed.append(new org.agrona.concurrent.UnsafeBuffer(address, length)
                            .getStringWithoutLengthAscii(0, length));
                        return length;
                    }

                    @Override
                    public void onPeerClosed(TcpConnection c) {
                        c.shutdown();
                    }

                    @Override
                    public void onClosed(TcpConnection c, int status) {
                        closed[0] = true;
                    }
                };
                byte[] bytes = text.getBytes(StandardCharsets.US_ASCII);
                link.stack.doWork();
                assertEquals(NtStatus.STATUS_PENDING, link.stack.tcp().connect(0, 0, Ipv4Address.parse(link.net + "1"),
                    7009, client, new org.agrona.concurrent.UnsafeBuffer(bytes), 0, bytes.length, true));
                link.runUntil(() -> closed[0], 10, "TFO exchange " + i);
                assertEquals(text, echoed.toString());
            }
            assertEquals(1, link.stack.counters().tcpFastOpenSynDataSent.get());
            assertEquals(0, link.stack.counters().tcpFastOpenFallbacks.get(), "Linux acknowledged the SYN data");
        }
        String synsWithData = Shell.run("tshark", "-n", "-r", pcap.toString(), "-Y",
            "tcp.flags.syn == 1 && tcp.flags.ack == 0 && tcp.len > 0 && tcp.option_kind == 34", "-T", "fields",
            "-e", "tcp.len");
        assertEquals(1, synsWithData.lines().filter(l -> !l.startsWith("Running") && !l.isBlank()).count(),
            synsWithData);
    }
}
