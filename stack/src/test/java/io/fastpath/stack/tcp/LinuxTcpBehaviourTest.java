package io.fastpath.stack.tcp;

import static io.fastpath.stack.tcp.TcpBehaviourTest.assertStatus;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.Port;
import io.fastpath.stack.NtStatus;
import io.fastpath.stack.Stack;
import io.fastpath.stack.StackConfig;
import io.fastpath.stack.app.StreamClient;
import io.fastpath.stack.counters.DropReason;
import io.fastpath.stack.tcp.TcpBehaviourTest.Endpoint;
import io.fastpath.stack.wire.Ipv4Address;
import io.fastpath.testkit.NetNs;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * TCP behaviour against Linux's own TCP in a network namespace behind net_tap: the peer is a python script
 * (resources/peer/behaviour_peer.py), one scenario per test, named after the RFC clause it checks. What Linux
 * saw is read from the script's report and from {@code ss} / {@code nft} inside the namespace.
 */
class LinuxTcpBehaviourTest {
    private static final AtomicInteger SUBNET = new AtomicInteger((int) (ProcessHandle.current().pid() % 100));
    private static final long MS = 1_000_000L;
    private static final long KIB = 1024;
    private static PktmbufPool pool;

    @TempDir
    Path dir;

    @BeforeAll
    static void createPool() {
        pool = PktmbufPool.create("linuxbehave", 16383, 0, PktmbufPool.DEFAULT_DATA_ROOM);
    }

    @AfterAll
    static void freePool() {
        pool.close();
    }

    // ================================================================================== connect outcomes

    @Test
    void connectTimesOutWhenLinuxDropsSyns_rfc9293_s3_8_1() throws Exception {
        try (Link link = new Link(TcpConfig.defaults().withSynRetries(2, 100 * MS))) {
            link.ns.exec("nft", "add table inet fpsyn");
            link.ns.exec("nft", "add chain inet fpsyn in { type filter hook input priority 0 ; }");
            link.ns.exec("nft", "add rule inet fpsyn in tcp dport 7100 tcp flags syn counter drop");
            Peer peer = link.python("read_then_close", "7100", "1", "0"); // a listener is there; its SYNs are not
            link.await(peer, "listening");
            Endpoint client = new Endpoint("client");
            long start = System.nanoTime();
            assertStatus(NtStatus.STATUS_PENDING, link.stack.tcp().connect(0, 0, link.linuxIp, 7100, client));
            link.runUntil(client::connectCompleted, 5000, "connect completion");
            long elapsedMs = (System.nanoTime() - start) / MS;
            assertStatus(NtStatus.STATUS_IO_TIMEOUT, client.connectStatus);
            assertEquals(3, link.stack.counters().tcpTimeouts.get());
            String rules = link.ns.exec("nft", "list table inet fpsyn");
            assertTrue(rules.contains("packets 3 "), "Linux dropped the SYN and its 2 retransmissions:\n" + rules);
            assertTrue(elapsedMs >= 650 && elapsedMs < 2000, "100 + 200 + 400 ms: " + elapsedMs);
            assertEquals(0, link.stack.tcp().connectionCount());
        }
    }

    // ============================================================================================ close

    @Test
    void gracefulCloseInitiatedByFastpath_rfc9293_s3_6() throws Exception {
        try (Link link = new Link(TcpConfig.defaults().withTimeWait(200 * MS))) {
            Peer peer = link.python("read_then_close", "7101", "5", Long.toString(256 * KIB));
            link.await(peer, "listening");
            Endpoint client = new Endpoint("client");
            assertStatus(NtStatus.STATUS_PENDING, link.stack.tcp().connect(0, 0, link.linuxIp, 7101, client));
            link.runUntil(client::connectCompleted, 3000, "connect");
            assertStatus(NtStatus.STATUS_SUCCESS, client.connectStatus);
            client.sendStream(5, 256 * KIB, true);
            link.runUntil(client::closed, 10_000, "close");
            assertStatus(NtStatus.STATUS_SUCCESS, client.closeStatus);
            link.await(peer, "closed");
            assertTrue(peer.lines().contains("eof ok " + 256 * KIB), peer.lines().toString());
            // We closed first: TIME-WAIT is ours, Linux (LAST-ACK -> CLOSED) holds nothing.
            assertEquals(1, link.stack.tcp().connectionCount());
            assertTrue(link.stack.tcp().describe().contains("TIME-WAIT"), link.stack.tcp().describe());
            link.runUntil(() -> link.stack.tcp().connectionCount() == 0, 2000, "TIME-WAIT expiry");
            assertEquals("", link.ss("sport", "=", ":7101"), "Linux has no socket left but the listener's");
        }
    }

    @Test
    void gracefulCloseInitiatedByLinux_rfc9293_s3_6() throws Exception {
        try (Link link = new Link(TcpConfig.defaults().withTimeWait(200 * MS))) {
            Peer peer = link.python("send_then_close", "7102", "6", Long.toString(256 * KIB));
            link.await(peer, "listening");
            Endpoint client = new Endpoint("client").expect(6);
            client.shutdownOnPeerClose = true;
            assertStatus(NtStatus.STATUS_PENDING, link.stack.tcp().connect(0, 0, link.linuxIp, 7102, client));
            link.runUntil(client::closed, 10_000, "close");
            assertStatus(NtStatus.STATUS_SUCCESS, client.closeStatus);
            assertEquals(256 * KIB, client.received);
            client.assertIntact();
            assertEquals(List.of("connect STATUS_SUCCESS", "peerClosed", "closed STATUS_SUCCESS"), client.events);
            // Linux closed first: TIME-WAIT is Linux's; we (LAST-ACK -> CLOSED) hold nothing.
            assertEquals(0, link.stack.tcp().connectionCount(), link.stack.tcp().describe());
            String tw = link.ss("state", "time-wait", "sport", "=", ":7102");
            assertEquals(1, tw.lines().count(), "one TIME-WAIT socket on Linux:\n" + tw);
        }
    }

    @Test
    void halfCloseLinuxKeepsSendingAfterOurFin_rfc9293_s3_6() throws Exception {
        try (Link link = new Link(TcpConfig.defaults().withTimeWait(100 * MS))) {
            long reply = 1 << 20;
            Peer peer = link.python("half_close_server", "7103", "7", "1000", "8", Long.toString(reply));
            link.await(peer, "listening");
            Endpoint client = new Endpoint("client").expect(8);
            assertStatus(NtStatus.STATUS_PENDING, link.stack.tcp().connect(0, 0, link.linuxIp, 7103, client));
            link.runUntil(client::connectCompleted, 3000, "connect");
            client.sendStream(7, 1000, true); // 1000 bytes, then our FIN
            link.runUntil(client::closed, 15_000, "half-closed transfer");
            assertTrue(peer.lines().contains("eof ok 1000"), peer.lines().toString());
            assertEquals(reply, client.received);
            client.assertIntact();
            assertTrue(client.statesAtReceive.contains("FIN-WAIT-2"),
                "Linux's data came after our FIN was acknowledged: " + client.statesAtReceive);
            assertStatus(NtStatus.STATUS_SUCCESS, client.closeStatus);
        }
    }

    @Test
    void halfCloseWeKeepSendingAfterLinuxFin_rfc9293_s3_6() throws Exception {
        try (Link link = new Link(TcpConfig.defaults().withTimeWait(100 * MS))) {
            long reply = 1 << 20;
            List<Endpoint> servers = TcpBehaviourTest.serve(link.stack, 7104, e -> {
                e.expect(9);
                e.whenPeerCloses = s -> s.sendStream(10, reply, true); // only after Linux's FIN
            });
            link.stack.doWork();
            Peer peer = link.python("half_close_client", link.net + "2", "7104", "9", "1000", "10",
                Long.toString(reply));
            link.runUntil(() -> !peer.process.isAlive(), 15_000, "Linux client");
            assertTrue(peer.lines().contains("eof ok " + reply), peer.lines().toString());
            assertEquals(1, servers.size());
            Endpoint server = servers.get(0);
            link.runUntil(server::closed, 3000, "server close");
            assertEquals(1000, server.received);
            server.assertIntact();
            assertEquals(List.of("peerClosed", "shutdown", "closed STATUS_SUCCESS"), server.events);
        }
    }

    @Test
    void linuxLingerZeroResetIsConnectionReset_rfc9293_s3_10_7_4() throws Exception {
        try (Link link = new Link(TcpConfig.defaults())) {
            Peer peer = link.python("linger_reset", "7105", "5");
            link.await(peer, "listening");
            Endpoint client = new Endpoint("client");
            assertStatus(NtStatus.STATUS_PENDING, link.stack.tcp().connect(0, 0, link.linuxIp, 7105, client));
            link.runUntil(client::connectCompleted, 3000, "connect");
            client.sendStream(11, 5, false);
            link.runUntil(client::closed, 5000, "reset");
            assertStatus(NtStatus.STATUS_CONNECTION_RESET, client.closeStatus);
            link.await(peer, "reset sent after");
            assertTrue(peer.lines().contains("reset sent after 5"), peer.lines().toString());
            assertEquals(1, link.stack.counters().tcpResetsReceived.get());
            assertEquals(0, link.stack.tcp().connectionCount());
        }
    }

    @Test
    void ourAbortMakesLinuxRecvRaiseConnectionReset_rfc9293_s3_10_5() throws Exception {
        try (Link link = new Link(TcpConfig.defaults())) {
            Peer peer = link.python("expect_reset", "7106");
            link.await(peer, "listening");
            Endpoint client = new Endpoint("client");
            assertStatus(NtStatus.STATUS_PENDING, link.stack.tcp().connect(0, 0, link.linuxIp, 7106, client));
            link.runUntil(client::connectCompleted, 3000, "connect");
            client.sendStream(12, 1000, false);
            link.await(peer, "got 1000");
            client.connection.abort();
            assertStatus(NtStatus.STATUS_CONNECTION_ABORTED, client.closeStatus);
            link.await(peer, "reset after 1000");
            // The abort's RST, plus one for each Linux segment already on its way (an ACK) that found no
            // connection any more (RFC 9293 §3.10.7.1).
            assertEquals(1 + link.stack.counters().drop(DropReason.TCP_NO_CONNECTION).get(),
                link.stack.counters().tcpResetsSent.get());
            assertEquals(0, link.stack.tcp().connectionCount());
            assertEquals("", link.ss("sport", "=", ":7106"), "Linux dropped the connection");
        }
    }

    // ======================================================================================= many at once

    @Test
    void hundredConcurrentEchoesWithLinuxThreadedServer_rfc9293() throws Exception {
        // 64 KiB buffers: 100 connections' zero-copy receive queues must fit the 16k-mbuf pool.
        try (Link link = new Link(TcpConfig.defaults().withBuffers(64 * 1024, 64 * 1024).withTimeWait(200 * MS))) {
            Peer peer = link.python("echo", "7107");
            link.await(peer, "listening");
            // Resolve Linux's MAC first: a burst of SYNs behind an unresolved ARP entry is a known bug
            // (TcpBehaviourTest.connectsIssuedBeforeArpResolvesAllComplete_rfc1122_s2_3_2_2).
            assertTrue(link.stack.ping(link.linuxIp, 1, 8));
            link.runUntil(() -> link.stack.counters().icmpEchoRepliesReceived.get() > 0, 3000, "ping");
            long each = 256 * KIB;
            List<StreamClient> clients = new ArrayList<>();
            long start = System.nanoTime();
            for (int i = 0; i < 100; i++) {
                StreamClient c = new StreamClient(2000 + i, each);
                clients.add(c);
                assertStatus(NtStatus.STATUS_PENDING, c.connect(link.stack.tcp(), link.linuxIp, 7107, System.nanoTime()));
            }
            link.runUntil(() -> clients.stream().allMatch(StreamClient::done), 60_000, "100 echoes");
            double seconds = (System.nanoTime() - start) / 1e9;
            for (int i = 0; i < clients.size(); i++) {
                StreamClient c = clients.get(i);
                assertEquals("STATUS_SUCCESS", NtStatus.name(c.status()), "client " + i + ": mismatch at "
                    + c.mismatchAt() + ", received " + c.received());
                assertEquals(each, c.received());
            }
            link.runUntil(() -> link.stack.tcp().connectionCount() == 0, 3000, "our table drains (TIME-WAIT)");
            // Linux's side of each connection was the passive close: LAST-ACK, then gone.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            String left;
            while (!(left = link.ss("sport", "=", ":7107")).isEmpty() && System.nanoTime() < deadline) {
                link.runFor(50);
            }
            assertEquals("", left, "Linux connections left on port 7107");
            System.out.printf("100 x 256 KiB echo with Linux over net_tap: %.2f s; retransmits %d, timeouts %d%n",
                seconds, link.stack.counters().tcpRetransmits.get(), link.stack.counters().tcpTimeouts.get());
        }
    }

    // ======================================================================================== TIME-WAIT

    @Test
    void linuxTimeWaitReopenedByOurNewSyn_rfc6191_s2() throws Exception {
        try (Link link = new Link(TcpConfig.defaults().withTimeWait(100 * MS))) {
            Peer peer = link.python("send_close_twice", "7108", "13", "1000");
            link.await(peer, "listening");
            Endpoint first = new Endpoint("first").expect(13);
            first.shutdownOnPeerClose = true;
            assertStatus(NtStatus.STATUS_PENDING, link.stack.tcp().connect(0, 43100, link.linuxIp, 7108, first));
            link.runUntil(first::closed, 5000, "first connection");
            assertStatus(NtStatus.STATUS_SUCCESS, first.closeStatus);
            assertEquals(1000, first.received);
            first.assertIntact();
            link.runUntil(() -> link.stack.tcp().connectionCount() == 0, 2000, "our side gone");
            String tw = link.ss("state", "time-wait", "sport", "=", ":7108");
            assertTrue(tw.contains(":43100"), "Linux holds the 4-tuple in TIME-WAIT:\n" + tw);
            link.runFor(5); // our timestamp clock (1 ms) moves on

            Endpoint second = new Endpoint("second").expect(14);
            second.shutdownOnPeerClose = true;
            assertStatus(NtStatus.STATUS_PENDING, link.stack.tcp().connect(0, 43100, link.linuxIp, 7108, second));
            // At once: not after a SYN retransmission (1 s).
            link.runUntil(second::connectCompleted, 500, "reopen of Linux's TIME-WAIT");
            assertStatus(NtStatus.STATUS_SUCCESS, second.connectStatus);
            link.runUntil(second::closed, 5000, "second connection");
            assertEquals(1000, second.received);
            second.assertIntact();
            link.await(peer, "accepted 1");
            assertTrue(peer.lines().contains("accepted 1 43100"), peer.lines().toString());
            assertEquals(0, link.stack.counters().tcpTimeouts.get(), "no SYN retransmission");
        }
    }

    @Test
    void ourTimeWaitReopenedByLinuxNewSyn_rfc6191_s2() throws Exception {
        try (Link link = new Link(TcpConfig.defaults().withTimeWait(TimeUnit.SECONDS.toNanos(30)))) {
            AtomicInteger index = new AtomicInteger();
            List<Endpoint> servers = TcpBehaviourTest.serve(link.stack, 7109,
                e -> e.sendStream(15 + index.getAndIncrement(), 1000, true)); // we send, then close first
            link.stack.doWork();
            Peer peer = link.python("client_twice", link.net + "2", "7109", "44100", "15", "1000");
            link.await(peer, "conn 0 ");
            assertTrue(peer.lines().contains("conn 0 ok 1000"), peer.lines().toString());
            link.runUntil(() -> servers.size() == 1 && servers.get(0).closed(), 3000, "first close");
            assertTrue(link.stack.tcp().describe().contains(":7109 -> " + link.net + "1:44100 TIME-WAIT"),
                link.stack.tcp().describe());
            long go = System.nanoTime();
            peer.send("go");
            link.await(peer, "conn 1 ");
            long reopenMs = (System.nanoTime() - go) / MS;
            assertTrue(peer.lines().contains("conn 1 ok 1000"), peer.lines().toString());
            assertTrue(reopenMs < 800, "reopened at once, not after Linux's 1 s SYN retransmission: " + reopenMs);
            assertEquals(0, link.stack.counters().tcpChallengeAcks.get(), "the new SYN was not challenged");
            assertEquals(2, link.stack.counters().tcpPassiveOpens.get());
            assertEquals(0, link.stack.counters().tcpResetsSent.get() + link.stack.counters().tcpResetsReceived.get());
        }
    }

    // ========================================================================================== helpers

    /** A python peer: its stdout lines, collected as they come. */
    static final class Peer {
        final Process process;
        private final List<String> lines = Collections.synchronizedList(new ArrayList<>());

        Peer(Process process) {
            this.process = process;
            Thread reader = new Thread(() -> {
                try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(),
                    StandardCharsets.UTF_8))) {
                    for (String line; (line = in.readLine()) != null; ) {
                        lines.add(line);
                    }
                } catch (IOException ignored) {
                    // the process went away
                }
            }, "peer-reader");
            reader.setDaemon(true);
            reader.start();
        }

        List<String> lines() {
            synchronized (lines) {
                return new ArrayList<>(lines);
            }
        }

        boolean printed(String prefix) {
            return lines().stream().anyMatch(l -> l.startsWith(prefix));
        }

        void send(String line) throws IOException {
            OutputStream out = process.getOutputStream();
            out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
        }
    }

    /** A Linux host in a namespace behind net_tap, and a fastpath stack on the tap, driven by the test thread. */
    private final class Link implements AutoCloseable {
        final NetNs ns = NetNs.create();
        final String net = "10.82." + (SUBNET.incrementAndGet() % 250 + 1) + ".";
        final int linuxIp = Ipv4Address.parse(net + "1");
        final Port port;
        final Stack stack;
        final List<Peer> peers = new ArrayList<>();

        Link(TcpConfig tcp) {
            String iface = NetNs.uniqueName("t");
            port = EthDevPort.openVdev("net_tap" + iface + ",iface=" + iface, pool, EthDevPort.Config.defaults());
            ns.adopt(iface, net + "1/24");
            ns.tryExec(5, "ethtool", "-K", iface, "tx", "off", "rx", "off");
            stack = new Stack(port, StackConfig.builder().name(NetNs.uniqueName("s")).cidr(net + "2/24").tcp(tcp)
                .countersFile(dir.resolve(NetNs.uniqueName("c") + ".counters")).build());
        }

        Peer python(String... args) throws IOException {
            return script("behaviour_peer.py", args);
        }

        Peer script(String script, String... args) throws IOException {
            Path file = dir.resolve(script);
            if (!Files.exists(file)) {
                try (InputStream in = LinuxTcpBehaviourTest.class.getResourceAsStream("/peer/" + script)) {
                    Files.write(file, in.readAllBytes());
                }
            }
            List<String> command = new ArrayList<>(List.of("ip", "netns", "exec", ns.name(), "/usr/bin/python3",
                "-u", file.toString()));
            command.addAll(List.of(args));
            Peer peer = new Peer(new ProcessBuilder(command).redirectErrorStream(true).start());
            peers.add(peer);
            return peer;
        }

        /** Runs the stack until the peer printed a line starting with {@code prefix}. */
        void await(Peer peer, String prefix) {
            runUntil(() -> peer.printed(prefix), 10_000, "peer line '" + prefix + "'; peer said " + peer.lines());
        }

        /** {@code ss -Htan} inside the namespace, listening sockets left out. */
        String ss(String... filter) {
            List<String> command = new ArrayList<>(List.of("ss", "-Htan"));
            command.addAll(List.of(filter));
            String out = ns.exec(command.toArray(String[]::new));
            StringBuilder sb = new StringBuilder();
            out.lines().filter(l -> !l.startsWith("LISTEN")).forEach(l -> sb.append(l).append('\n'));
            return sb.toString();
        }

        void runFor(long ms) {
            long end = System.nanoTime() + ms * MS;
            while (System.nanoTime() < end) {
                if (stack.doWork() == 0) {
                    Thread.onSpinWait();
                }
            }
        }

        void runUntil(BooleanSupplier done, long timeoutMs, String what) {
            long deadline = System.nanoTime() + timeoutMs * MS;
            while (!done.getAsBoolean()) {
                if (System.nanoTime() > deadline) {
                    var c = stack.counters();
                    StringBuilder sb = new StringBuilder(what + ": not done in " + timeoutMs + " ms\n");
                    sb.append(stack.tcp().connectionCount()).append(" connections; segs out ")
                        .append(c.tcpSegmentsSent.get()).append(" in ").append(c.tcpSegmentsReceived.get())
                        .append(", rst out ").append(c.tcpResetsSent.get()).append(" in ")
                        .append(c.tcpResetsReceived.get()).append(", timeouts ").append(c.tcpTimeouts.get())
                        .append(", retransmits ").append(c.tcpRetransmits.get()).append('\n');
                    String d = stack.tcp().describe();
                    sb.append(d.length() > 4000 ? d.substring(0, 4000) + "...\n" : d);
                    for (Peer p : peers) {
                        sb.append("peer: ").append(p.lines()).append('\n');
                    }
                    throw new AssertionError(sb.toString());
                }
                if (stack.doWork() == 0) {
                    Thread.onSpinWait();
                }
            }
        }

        @Override
        public void close() {
            for (Peer p : peers) {
                p.process.destroyForcibly();
            }
            stack.onClose();
            stack.close();
            port.close();
            ns.close();
            assertEquals(0, pool.inUseCount(), "every mbuf returned");
        }
    }
}
