package io.fastpath.cli;

import static io.fastpath.cli.CommandLineTest.finish;
import static io.fastpath.cli.CommandLineTest.lastLine;
import static io.fastpath.cli.CommandLineTest.launch;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.testkit.NetNs;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** {@code fastpath echo --api wsk} in its own process, serving Linux clients in a namespace over net_tap. */
class WskCommandsTest {
    @Test
    void echoThroughWskReceiveEventsServesLinuxClientsAndReportsOnSigterm() throws Exception {
        String rest = CommandLineTest.echoForLinuxClients("10.87.0",
            "fastpath echo (api wsk, zero-copy receive events) on 10.87.0.2:7", "--api", "wsk");
        System.out.println(rest.lines().filter(l -> l.startsWith("echo:")).findFirst().orElse(rest));
        assertTrue(rest.contains("echo: 4 connections accepted, 4 closed (0 not cleanly), 0 still open, "
            + (4 << 20) + " bytes echoed"), rest);
        assertTrue(rest.contains("zero-copy from receive events"), rest);
        assertTrue(rest.contains("tcp passive opens"), rest);
    }

    /**
     * With two send IRPs per connection most chains have more links than that: the echo declines them
     * (STATUS_DATA_NOT_ACCEPTED), reads them with one WskReceive copy, and turns events back on with a
     * zero-length WskReceive; every byte still comes back, and both paths were used.
     */
    @Test
    void echoThroughWskFallsBackToWskReceiveForLongChainsAndLosesNothing() throws Exception {
        String rest = CommandLineTest.echoForLinuxClients("10.90.0",
            "fastpath echo (api wsk, zero-copy receive events) on 10.90.0.2:7", "--api", "wsk", "--send-irps", "2");
        String line = rest.lines().filter(l -> l.startsWith("echo:")).findFirst().orElse(rest);
        System.out.println(line);
        assertTrue(line.contains("4 connections accepted, 4 closed (0 not cleanly), 0 still open, " + (4 << 20)
            + " bytes echoed"), rest);
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\((\\d+) zero-copy from receive events, (\\d+) copied")
            .matcher(line);
        assertTrue(m.find(), line);
        assertTrue(Long.parseLong(m.group(1)) > 0 && Long.parseLong(m.group(2)) > 0, "both paths used: " + line);
    }

    /** A threaded echo server with TCP Fast Open (queue 16): echoes each connection until EOF (argv: port). */
    private static final String PYTHON_TFO_ECHO_SERVER = """
        import socket, sys, threading
        l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        l.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, 16)
        l.bind(("0.0.0.0", int(sys.argv[1]))); l.listen(16)
        def echo(c):
            while True:
                data = c.recv(65536)
                if not data:
                    break
                c.sendall(data)
            c.close()
        print("listening", flush=True)
        while True:
            c, _ = l.accept()
            threading.Thread(target=echo, args=(c,), daemon=True).start()
        """;

    @Test
    void sendThroughWskConnectExWithFastOpenCarriesDataInTheSynOfEveryConnectionAfterTheFirst() throws Exception {
        String outer = NetNs.uniqueName("o");
        try (NetNs ns = NetNs.create()) {
            ns.veth(outer, NetNs.uniqueName("i"), "10.88.0.1/24");
            ns.exec("sysctl", "-qw", "net.ipv4.tcp_fastopen=3");
            Process server = new ProcessBuilder("ip", "netns", "exec", ns.name(), "/usr/bin/python3", "-c",
                PYTHON_TFO_ECHO_SERVER, "7010").redirectErrorStream(true).start();
            try {
                BufferedReader serverOut = new BufferedReader(new InputStreamReader(server.getInputStream(),
                    StandardCharsets.UTF_8));
                assertEquals("listening", serverOut.readLine());
                Process send = launch("send", "--api", "wsk", "--tfo", "--vdev", "net_af_packet" + outer + ",iface="
                    + outer + ",qdisc_bypass=0", "--ip", "10.88.0.2/24", "--name", NetNs.uniqueName("s"), "--idle",
                    "backoff", "--to", "10.88.0.1:7010", "--bytes", "256K", "--connections", "3", "--timeout", "30");
                String out = finish(send, 60);
                System.out.println(out);
                assertEquals(0, send.exitValue(), out);
                assertEquals("verified " + 3 * (256 << 10) + " bytes", lastLine(out), out);
                assertTrue(out.contains("fast open: 2 of 3 connection(s) carried data in their SYN (2 acknowledged in"
                    + " the SYN-ACK, 0 sent again after the handshake)"), out);
            } finally {
                server.destroyForcibly();
            }
        }
    }

    @Test
    void sendThroughWskReportsARefusedConnectionByName() throws Exception {
        String outer = NetNs.uniqueName("o");
        try (NetNs ns = NetNs.create()) {
            ns.veth(outer, NetNs.uniqueName("i"), "10.89.0.1/24");
            Process send = launch("send", "--api", "wsk", "--vdev", "net_af_packet" + outer + ",iface=" + outer
                + ",qdisc_bypass=0", "--ip", "10.89.0.2/24", "--name", NetNs.uniqueName("s"), "--idle", "backoff",
                "--to", "10.89.0.1:7011", "--bytes", "1K", "--timeout", "20");
            String out = finish(send, 40);
            assertEquals(1, send.exitValue(), out);
            assertEquals("STATUS_CONNECTION_REFUSED", lastLine(out), out);
        }
    }
}
