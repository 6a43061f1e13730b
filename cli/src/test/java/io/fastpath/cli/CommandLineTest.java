package io.fastpath.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.fastpath.testkit.NetNs;
import io.fastpath.testkit.Shell;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code fastpath up}, {@code echo} and {@code send} in their own processes, as a user runs them, against Linux
 * in a network namespace: ready, answers Linux, SIGTERM, counters, NTSTATUS names on failure.
 */
class CommandLineTest {
    /** Echoes every connection until EOF; prints 'listening' once it listens (argv: port). */
    static final String PYTHON_ECHO_SERVER = """
        import socketserver, sys
        class Echo(socketserver.BaseRequestHandler):
            def handle(self):
                while True:
                    data = self.request.recv(65536)
                    if not data:
                        break
                    self.request.sendall(data)
        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True
            request_queue_size = 128
        server = Server(("0.0.0.0", int(sys.argv[1])), Echo)
        print("listening", flush=True)
        server.serve_forever()
        """;

    /**
     * Opens N connections at once (argv: host port N [size], size 1 MiB unless given), sends size bytes of random
     * data on each while reading the echo back, half-closes, expects EOF; prints OK or FAIL with the reason.
     */
    static final String PYTHON_ECHO_CLIENT = """
        import os, socket, sys, threading
        host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
        size = int(sys.argv[4]) if len(sys.argv) > 4 else 1 << 20
        problems = []
        def one(i):
            try:
                data = os.urandom(size)
                s = socket.create_connection((host, port), timeout=30)
                sender = threading.Thread(target=s.sendall, args=(data,))
                sender.start()
                got = bytearray()
                while len(got) < size:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    got += chunk
                sender.join()
                s.shutdown(socket.SHUT_WR)
                eof = s.recv(1)
                s.close()
                if bytes(got) != data or eof != b"":
                    problems.append("connection %d: %d bytes back, match %s, eof %r" % (i, len(got), bytes(got) == data[:len(got)], eof))
            except Exception as e:
                problems.append("connection %d: %r" % (i, e))
        threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print("OK" if not problems else "FAIL " + "; ".join(problems))
        """;

    @TempDir
    Path dir;

    static Process launch(String... args) throws Exception {
        List<String> command = new java.util.ArrayList<>(List.of(
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "--enable-native-access=ALL-UNNAMED", "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED",
            "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        command.addAll(List.of(args));
        return new ProcessBuilder(command).redirectErrorStream(true).start();
    }

    @Test
    void upAnswersPingPrintsReadyAndReportsCountersOnSigterm() throws Exception {
        String iface = NetNs.uniqueName("t");
        String name = NetNs.uniqueName("s");
        Path pcap = dir.resolve("up.pcap");
        try (NetNs ns = NetNs.create()) {
            Process up = launch("up", "--vdev", "net_tap" + iface + ",iface=" + iface, "--ip", "10.79.0.2/24",
                "--name", name, "--idle", "backoff", "--pcap", pcap.toString());
            try {
                BufferedReader out = new BufferedReader(new InputStreamReader(up.getInputStream(),
                    StandardCharsets.UTF_8));
                StringBuilder seen = new StringBuilder();
                String line;
                while ((line = out.readLine()) != null && !line.equals("ready")) {
                    seen.append(line).append('\n');
                }
                assertEquals("ready", line, seen.toString());
                ns.adopt(iface, "10.79.0.1/24");
                String ping = ns.exec("ping", "-c", "3", "-i", "0.1", "-W", "2", "10.79.0.2");
                assertTrue(ping.contains("3 received"), ping);
                String stat = io.fastpath.testkit.Shell.run(
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED",
                    "-cp", System.getProperty("java.class.path"), Main.class.getName(), "stat", "--name", name);
                assertTrue(stat.contains("icmp echo replies sent"), stat);
                io.fastpath.testkit.Shell.run("kill", "-TERM", Long.toString(up.pid()));
                StringBuilder after = new StringBuilder();
                while ((line = out.readLine()) != null) {
                    after.append(line).append('\n');
                }
                assertTrue(up.waitFor(20, TimeUnit.SECONDS));
                String rest = after.toString();
                assertEquals(0, up.exitValue(), rest);
                assertTrue(rest.contains("counters:"), rest);
                assertTrue(rest.contains("icmp echo replies sent"), rest);
                assertTrue(pcap.toFile().length() > 24, "pcap written");
            } finally {
                up.destroyForcibly();
            }
        }
    }

    /**
     * Issue 10 deliverable 7: {@code up --pcap} writes the capture as frames pass (flushed at least every 100 ms),
     * so it can be read while the process runs, and SIGKILL loses only frames younger than the interval.
     */
    @Test
    void upCaptureIsReadableWhileRunningAndSurvivesSigkill_issue10() throws Exception {
        String iface = NetNs.uniqueName("t");
        Path pcap = dir.resolve("killed.pcap");
        try (NetNs ns = NetNs.create()) {
            Process up = launch("up", "--vdev", "net_tap" + iface + ",iface=" + iface, "--ip", "10.78.0.2/24",
                "--name", NetNs.uniqueName("s"), "--idle", "backoff", "--pcap", pcap.toString());
            try {
                BufferedReader out = new BufferedReader(new InputStreamReader(up.getInputStream(),
                    StandardCharsets.UTF_8));
                readUntilReady(out);
                ns.adopt(iface, "10.78.0.1/24");
                String ping = ns.exec("ping", "-c", "5", "-i", "0.05", "-W", "2", "10.78.0.2");
                assertTrue(ping.contains("5 received"), ping);
                Thread.sleep(250); // more than the flush interval after the last reply
                assertTrue(up.isAlive());
                assertEquals(5, echoReplies(pcap), "the running process's capture already holds every reply");
                Shell.run("kill", "-KILL", Long.toString(up.pid()));
                assertTrue(up.waitFor(20, TimeUnit.SECONDS));
                assertEquals(137, up.exitValue(), "killed, not closed");
                assertEquals(5, echoReplies(pcap), "a killed process's capture keeps what was flushed");
            } finally {
                up.destroyForcibly();
            }
        }
    }

    /** Echo replies from 10.78.0.2 in a capture; fails unless the file ends on a record boundary. */
    private static long echoReplies(Path pcap) throws java.io.IOException {
        byte[] bytes = java.nio.file.Files.readAllBytes(pcap);
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(bytes).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        assertTrue(bytes.length >= 24 && b.getInt(0) == 0xA1B2C3D4, "a pcap header: " + bytes.length + " bytes");
        long replies = 0;
        for (int at = 24; at < bytes.length; ) {
            assertTrue(at + 16 <= bytes.length, "record header cut at " + at);
            int caplen = b.getInt(at + 8);
            int frame = at + 16;
            assertTrue(frame + caplen <= bytes.length, "record cut at " + at);
            // Ethernet IPv4, protocol ICMP, source 10.78.0.2, ICMP type 0 (echo reply).
            if (caplen >= 14 + 20 + 8 && bytes[frame + 12] == 0x08 && bytes[frame + 13] == 0x00
                && bytes[frame + 14 + 9] == 1 && (bytes[frame + 14] & 0x0F) == 5
                && bytes[frame + 26] == 10 && bytes[frame + 27] == 78 && bytes[frame + 28] == 0
                && bytes[frame + 29] == 2 && bytes[frame + 34] == 0) {
                replies++;
            }
            at = frame + caplen;
        }
        return replies;
    }

    static String readUntilReady(BufferedReader out) throws Exception {
        StringBuilder seen = new StringBuilder();
        String line;
        while ((line = out.readLine()) != null && !line.equals("ready")) {
            seen.append(line).append('\n');
        }
        assertEquals("ready", line, seen.toString());
        return seen.toString();
    }

    /** Waits for a process to end and returns everything it printed. */
    static String finish(Process p, long timeoutSeconds) throws Exception {
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            p.waitFor();
            fail("still running after " + timeoutSeconds + " s:\n"
                + new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
        }
        return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    }

    static String lastLine(String output) {
        String[] lines = output.strip().split("\n");
        return lines[lines.length - 1];
    }

    /** The README's first command: the demo on net_tap and on af_packet, every check passing, nothing left behind. */
    @Test
    void demoPassesEveryCheck() throws Exception {
        Process demo = launch("demo");
        String out = finish(demo, 120);
        assertEquals(0, demo.exitValue(), out);
        assertEquals("demo: all checks passed", lastLine(out), out);
        assertTrue(out.contains("ok    Linux TCP client echoes 4 MiB through a WSK echo server, zero copy (SHA-256)"), out);
        assertTrue(!out.contains("FAIL"), out);
    }

    @Test
    void echoServesLinuxClientsPrintsReadyAndReportsCountersOnSigterm() throws Exception {
        String rest = echoForLinuxClients("10.82.0", "fastpath echo on 10.82.0.2:7");
        assertTrue(rest.contains("echo: 4 connections accepted, 4 closed (0 not cleanly)"), rest);
        assertTrue(rest.contains(" " + (4 << 20) + " bytes echoed"), rest);
        assertTrue(rest.contains("counters:"), rest);
        assertTrue(rest.contains("tcp passive opens"), rest);
    }

    /**
     * Runs {@code fastpath echo --listen 7 <extra>} on a tap device whose Linux end is {@code net}.1 in a fresh
     * namespace, checks the banner, has 4 Linux clients echo 1 MiB each through it, stops it with SIGTERM
     * (exit 0) and returns what it printed after 'ready'.
     */
    static String echoForLinuxClients(String net, String banner, String... extra) throws Exception {
        String iface = NetNs.uniqueName("t");
        try (NetNs ns = NetNs.create()) {
            List<String> args = new java.util.ArrayList<>(List.of("echo", "--vdev", "net_tap" + iface + ",iface="
                + iface, "--ip", net + ".2/24", "--name", NetNs.uniqueName("s"), "--idle", "backoff", "--listen", "7"));
            args.addAll(List.of(extra));
            Process echo = launch(args.toArray(String[]::new));
            try {
                BufferedReader out = new BufferedReader(new InputStreamReader(echo.getInputStream(),
                    StandardCharsets.UTF_8));
                String first = readUntilReady(out);
                assertTrue(first.contains(banner), first);
                ns.adopt(iface, net + ".1/24");
                ns.tryExec(5, "ethtool", "-K", iface, "tx", "off", "rx", "off");
                Shell.Result client = ns.tryExec(60, "/usr/bin/python3", "-c", PYTHON_ECHO_CLIENT, net + ".2", "7",
                    "4");
                assertEquals("OK", client.output().strip(), client.output());
                Shell.run("kill", "-TERM", Long.toString(echo.pid()));
                StringBuilder after = new StringBuilder();
                String line;
                while ((line = out.readLine()) != null) {
                    after.append(line).append('\n');
                }
                assertTrue(echo.waitFor(20, TimeUnit.SECONDS));
                String rest = after.toString();
                assertEquals(0, echo.exitValue(), rest);
                return rest;
            } finally {
                echo.destroyForcibly();
            }
        }
    }

    /**
     * The classic client: write everything, half-close, then read to EOF. Fails today: TcpLayer reports the
     * peer's FIN (onPeerClosed) while received data still waits in the receive queue (the echo's send buffer
     * was full), EchoServer answers with shutdown() at once, and send() refuses data after that; the client
     * gets a correct prefix of its data, then EOF (e.g. 813832 of 1048576 bytes). Enable once fixed in
     * stack/ (deliver queued data before onPeerClosed, or let EchoServer defer its shutdown until
     * receiveQueued() is 0).
     */
    @Test
    void echoReturnsEverythingToAClientThatHalfClosesBeforeReading() throws Exception {
        String iface = NetNs.uniqueName("t");
        try (NetNs ns = NetNs.create()) {
            Process echo = launch("echo", "--vdev", "net_tap" + iface + ",iface=" + iface, "--ip", "10.86.0.2/24",
                "--name", NetNs.uniqueName("s"), "--idle", "backoff", "--listen", "7");
            try {
                readUntilReady(new BufferedReader(new InputStreamReader(echo.getInputStream(),
                    StandardCharsets.UTF_8)));
                ns.adopt(iface, "10.86.0.1/24");
                ns.tryExec(5, "ethtool", "-K", iface, "tx", "off", "rx", "off");
                Shell.Result client = ns.tryExec(30, "/usr/bin/python3", "-c", """
                    import os, socket
                    data = os.urandom(1 << 20)
                    s = socket.create_connection(("10.86.0.2", 7), timeout=20)
                    s.sendall(data)
                    s.shutdown(socket.SHUT_WR)
                    got = b"".join(iter(lambda: s.recv(65536), b""))
                    print("OK" if got == data else "FAIL %d of %d bytes back" % (len(got), len(data)))
                    """);
                assertEquals("OK", client.output().strip(), client.output());
            } finally {
                echo.destroyForcibly();
            }
        }
    }

    @Test
    void sendVerifiesFourStreamsThroughALinuxEchoServer() throws Exception {
        String outer = NetNs.uniqueName("o");
        try (NetNs ns = NetNs.create()) {
            ns.veth(outer, NetNs.uniqueName("i"), "10.83.0.1/24");
            Process server = new ProcessBuilder("ip", "netns", "exec", ns.name(), "/usr/bin/python3", "-c",
                PYTHON_ECHO_SERVER, "7007").redirectErrorStream(true).start();
            try {
                BufferedReader serverOut = new BufferedReader(new InputStreamReader(server.getInputStream(),
                    StandardCharsets.UTF_8));
                assertEquals("listening", serverOut.readLine());
                Process send = launch("send", "--vdev", "net_af_packet" + outer + ",iface=" + outer
                    + ",qdisc_bypass=0", "--ip", "10.83.0.2/24", "--name", NetNs.uniqueName("s"), "--idle", "backoff",
                    "--to", "10.83.0.1:7007", "--bytes", "4M", "--connections", "4", "--timeout", "25");
                String out = finish(send, 40);
                assertEquals(0, send.exitValue(), out);
                assertEquals("verified 16777216 bytes", lastLine(out), out);
                assertTrue(out.contains("16777216 bytes echoed on 4 connection(s) in "), out);
                assertTrue(out.contains("MiB/s") && out.contains("Gbit/s"), out);
            } finally {
                server.destroyForcibly();
            }
        }
    }

    @Test
    void sendReportsRefusedUnreachableHostAndNetworkByName() throws Exception {
        String outer = NetNs.uniqueName("o");
        try (NetNs ns = NetNs.create()) {
            ns.veth(outer, NetNs.uniqueName("i"), "10.84.0.1/24");
            String[] port = {"--vdev", "net_af_packet" + outer + ",iface=" + outer + ",qdisc_bypass=0", "--ip",
                "10.84.0.2/24", "--name", NetNs.uniqueName("s"), "--idle", "backoff", "--bytes", "64K"};
            String[][] cases = {
                {"10.84.0.1:7999", "STATUS_CONNECTION_REFUSED"},  // Linux answers the SYN with a reset
                {"10.84.0.77:7", "STATUS_HOST_UNREACHABLE"},      // on the subnet, nobody answers ARP
                {"10.85.0.1:7", "STATUS_NETWORK_UNREACHABLE"},    // off the subnet, no --gw
            };
            for (String[] c : cases) {
                List<String> args = new java.util.ArrayList<>(List.of("send"));
                args.addAll(List.of(port));
                args.addAll(List.of("--to", c[0], "--connections", "2", "--timeout", "20"));
                Process send = launch(args.toArray(String[]::new));
                String out = finish(send, 30);
                assertEquals(1, send.exitValue(), c[0] + ":\n" + out);
                assertEquals(c[1], lastLine(out), c[0] + ":\n" + out);
            }
        }
    }

    @Test
    void echoTableFlagsSizeTheConnectionTable() {
        java.util.Set<String> values = java.util.Set.of("--max-connections", "--backlog", "--buffer", "--pool");
        java.util.Set<String> switches = java.util.Set.of("--preallocate");
        var none = TcpCommands.tableConfig(new Flags(java.util.List.of(), values, switches), 64);
        assertEquals(TcpCommands.tcpConfig(64), none, "without the flags: as before");
        var big = TcpCommands.tableConfig(new Flags(java.util.List.of("--max-connections", "101000", "--preallocate"),
            values, switches), 64);
        assertEquals(101_000, big.maxConnections());
        assertEquals(4096, big.sendBufferBytes(), "256 MiB / 101,000 slots, at least 4 KiB");
        assertEquals(4096, big.receiveBufferBytes());
        assertEquals(101_000 / 16, big.listenBacklog());
        assertEquals(4, big.outOfOrderSegments());
        assertEquals(101_000, big.timeWaitCapacity());
        assertTrue(big.preallocate());
        var given = TcpCommands.tableConfig(new Flags(java.util.List.of("--max-connections", "5000", "--buffer", "32K",
            "--backlog", "300"), values, switches), 64);
        assertEquals(32 << 10, given.sendBufferBytes());
        assertEquals(300, given.listenBacklog());
        assertEquals(256, given.outOfOrderSegments(), "default out-of-order store above 16 KiB buffers");
        assertTrue(!given.preallocate());
        assertThrows(UsageException.class, () -> TcpCommands.tableConfig(new Flags(java.util.List.of(
            "--max-connections", "0"), values, switches), 64));
        assertThrows(UsageException.class, () -> TcpCommands.tableConfig(new Flags(java.util.List.of(
            "--buffer", "1G"), values, switches), 64));
    }

    @Test
    void tcpCommandFlags() {
        assertEquals(64L << 20, TcpCommands.parseBytes("64M"));
        assertEquals(3L << 10, TcpCommands.parseBytes("3k"));
        assertEquals(2L << 30, TcpCommands.parseBytes("2G"));
        assertEquals(12345, TcpCommands.parseBytes("12345"));
        assertThrows(UsageException.class, () -> TcpCommands.parseBytes("12X"));
        assertThrows(UsageException.class, () -> TcpCommands.parseBytes("-1"));
        assertThrows(UsageException.class, () -> TcpCommands.parseBytes("99999999999G"));
        assertEquals(256 << 10, TcpCommands.bufferBytes(1));
        assertEquals(256 << 10, TcpCommands.bufferBytes(64));
        assertEquals(128 << 10, TcpCommands.bufferBytes(100));
        assertEquals(16 << 10, TcpCommands.bufferBytes(1024));
        for (int c = 1; c <= TcpCommands.MAX_CONNECTIONS; c++) {
            assertTrue((long) c * TcpCommands.bufferBytes(c) / 1448 < PortOptions.TCP_POOL / 2, "connections " + c);
        }
        assertThrows(UsageException.class, () -> Main.run(new String[] {"send", "--vdev", "x", "--ip",
            "10.0.0.2/24", "--to", "10.0.0.1", "--bytes", "1M"}));
        assertThrows(UsageException.class, () -> Main.run(new String[] {"send", "--vdev", "x", "--ip",
            "10.0.0.2/24", "--to", "10.0.0.1:7", "--bytes", "1M", "--connections", "0"}));
        assertThrows(UsageException.class, () -> Main.run(new String[] {"send", "--vdev", "x", "--ip",
            "10.0.0.2/24", "--to", "10.0.0.1:7"}));
        assertThrows(UsageException.class, () -> Main.run(new String[] {"echo", "--vdev", "x", "--ip",
            "10.0.0.2/24", "--listen", "70000"}));
    }

    @Test
    void badFlagsAndUnstartablePortsExitNonZeroWithOneLine() throws Exception {
        assertThrows(UsageException.class, () -> Main.run(new String[] {"up", "--vdev"}));
        assertThrows(UsageException.class, () -> Main.run(new String[] {"up", "--vdev", "x", "--ip", "10.0.0.300/24"}));
        assertThrows(UsageException.class, () -> Main.run(new String[] {"up", "--bogus"}));
        assertThrows(UsageException.class, () -> Main.run(new String[] {"nosuchcommand"}));
        Process p = launch("up", "--vdev", "net_nosuchdriver0", "--ip", "10.80.0.2/24", "--name",
            NetNs.uniqueName("s"));
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertNotEquals(0, p.exitValue());
        assertTrue(out.contains("fastpath: rte_vdev_init net_nosuchdriver0 failed"), out);

        Process eal = launch("up", "--vdev", "net_tap0", "--ip", "10.80.0.2/24", "--eal", "--no-such-eal-option",
            "--name", NetNs.uniqueName("s"));
        assertTrue(eal.waitFor(30, TimeUnit.SECONDS));
        String ealOut = new String(eal.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertNotEquals(0, eal.exitValue());
        assertTrue(ealOut.contains("fastpath: rte_eal_init") && ealOut.contains("failed"), ealOut);
    }
}
