package io.fastpath.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.fastpath.testkit.NetNs;
import io.fastpath.testkit.Shell;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Issue 12 deliverable 5: {@code net_af_xdp} (an AF_XDP socket on an ordinary kernel interface, XDP program
 * loaded by the PMD through libxdp) as a port kind, on a veth whose peer is in a namespace: the stack answers
 * ping, serves Linux TCP clients (every byte compared by the client) and sends verified streams to a Linux echo
 * server. docs/operations.md says what this proves and what it does not (zero copy on a real NIC).
 */
class AfXdpTest {
    @BeforeAll
    static void pmdPresent() throws Exception {
        boolean pmd;
        try (var dirs = Files.list(Path.of("/usr/lib/x86_64-linux-gnu/dpdk"))) {
            pmd = dirs.anyMatch(d -> Files.exists(d.resolve("librte_net_af_xdp.so")));
        }
        assumeTrue(pmd, "this DPDK build has no librte_net_af_xdp.so (built without libbpf/libxdp)");
    }

    private static String vdev(String iface) {
        return "net_af_xdp" + iface + ",iface=" + iface;
    }

    @Test
    void echoOverAfXdpServesLinuxClientsAndAnswersPing() throws Exception {
        String outer = NetNs.uniqueName("o");
        try (NetNs ns = NetNs.create()) {
            ns.veth(outer, NetNs.uniqueName("i"), "10.92.0.1/24");
            Process echo = CommandLineTest.launch("echo", "--vdev", vdev(outer), "--ip", "10.92.0.2/24", "--name",
                NetNs.uniqueName("s"), "--idle", "backoff", "--listen", "7");
            try {
                BufferedReader out = new BufferedReader(new InputStreamReader(echo.getInputStream(),
                    StandardCharsets.UTF_8));
                String first = CommandLineTest.readUntilReady(out);
                assertTrue(first.contains("fastpath echo on 10.92.0.2:7") && first.contains("on net_af_xdp"), first);
                String link = Shell.run("ip", "-d", "link", "show", outer);
                assertTrue(link.contains("xdp"), "an XDP program is attached: " + link);
                String ping = ns.exec("ping", "-c", "3", "-i", "0.1", "-W", "2", "10.92.0.2");
                assertTrue(ping.contains("3 received"), ping);
                Shell.Result client = ns.tryExec(60, "/usr/bin/python3", "-c", CommandLineTest.PYTHON_ECHO_CLIENT,
                    "10.92.0.2", "7", "4");
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
                assertTrue(rest.contains("echo: 4 connections accepted, 4 closed (0 not cleanly)"), rest);
                assertTrue(rest.contains(" " + (4 << 20) + " bytes echoed"), rest);
            } finally {
                echo.destroyForcibly();
            }
        }
    }

    @Test
    void sendOverAfXdpVerifiesStreamsThroughALinuxEchoServer() throws Exception {
        String outer = NetNs.uniqueName("o");
        try (NetNs ns = NetNs.create()) {
            ns.veth(outer, NetNs.uniqueName("i"), "10.92.1.1/24");
            Process server = new ProcessBuilder("ip", "netns", "exec", ns.name(), "/usr/bin/python3", "-c",
                CommandLineTest.PYTHON_ECHO_SERVER, "7007").redirectErrorStream(true).start();
            try {
                BufferedReader serverOut = new BufferedReader(new InputStreamReader(server.getInputStream(),
                    StandardCharsets.UTF_8));
                assertEquals("listening", serverOut.readLine());
                Process send = CommandLineTest.launch("send", "--vdev", vdev(outer), "--ip", "10.92.1.2/24", "--name",
                    NetNs.uniqueName("s"), "--idle", "backoff", "--to", "10.92.1.1:7007", "--bytes", "4M",
                    "--connections", "4", "--timeout", "25");
                String out = CommandLineTest.finish(send, 40);
                assertEquals(0, send.exitValue(), out);
                // libxdp writes to stderr when it detaches its program at close: the verdict is the last line of
                // fastpath's own output, not necessarily of the process's.
                assertTrue(out.contains("\nverified 16777216 bytes\n"), out);
                assertTrue(out.contains("16777216 bytes echoed on 4 connection(s) in "), out);
            } finally {
                server.destroyForcibly();
            }
        }
    }
}
