package io.fastpath.cli;

import static io.fastpath.cli.CommandLineTest.PYTHON_ECHO_CLIENT;
import static io.fastpath.cli.CommandLineTest.launch;
import static io.fastpath.cli.CommandLineTest.readUntilReady;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.testkit.NetNs;
import io.fastpath.testkit.Shell;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code fastpath echo --api tdi [--pending]} in its own process against Linux in a namespace: four 1 MiB
 * streams echoed through chained receives, and urgent data (MSG_OOB) echoed back as expedited; SIGTERM prints
 * the counters.
 */
class TdiEchoTest {
    /** Sends "abc", one urgent byte "!", "def"; expects "abcdef" in band and "!" out of band (argv: host port). */
    static final String PYTHON_URGENT_CLIENT = """
        import select, socket, sys, time
        s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(b"abc"); time.sleep(0.05)
        s.send(b"!", socket.MSG_OOB); time.sleep(0.05)
        s.sendall(b"def")
        _, _, x = select.select([], [], [s], 5)
        oob = s.recv(1, socket.MSG_OOB) if x else b""
        s.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        print(("OK" if data == b"abcdef" and oob == b"!" else "FAIL") + " inband=%r oob=%r" % (data, oob), flush=True)
        """;

    /**
     * Sends 128 KiB with a small receive buffer, releases (SHUT_WR) at once, then waits 2 s before reading the echo
     * slowly: the echo's release must wait for its queued echoes (argv: host port).
     */
    static final String PYTHON_SLOW_DRAIN_CLIENT = """
        import socket, sys, time
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(20)
        s.connect((sys.argv[1], int(sys.argv[2])))
        sent = bytes((i * 7 + 3) % 251 for i in range(128 * 1024))
        s.sendall(sent)
        s.shutdown(socket.SHUT_WR)
        time.sleep(2.0)
        data = b""
        try:
            while True:
                chunk = s.recv(8192)
                if not chunk:
                    break
                data += chunk
                time.sleep(0.002)
            print(("OK" if data == sent else "FAIL") + " %d of %d bytes" % (len(data), len(sent)), flush=True)
        except ConnectionResetError:
            print("RESET after %d of %d bytes" % (len(data), len(sent)), flush=True)
        """;

    @Test
    void aSlowReadersEchoDrainsBeforeTheGracefulReleaseNoReset_tdiDisconnectRelease() throws Exception {
        String iface = NetNs.uniqueName("t");
        try (NetNs ns = NetNs.create()) {
            Process echo = launch("echo", "--api", "tdi", "--vdev", "net_tap" + iface + ",iface=" + iface, "--ip",
                "10.88.0.2/24", "--name", NetNs.uniqueName("s"), "--idle", "backoff", "--listen", "7");
            try {
                BufferedReader out = new BufferedReader(new InputStreamReader(echo.getInputStream(),
                    StandardCharsets.UTF_8));
                readUntilReady(out);
                ns.adopt(iface, "10.88.0.1/24");
                ns.tryExec(5, "ethtool", "-K", iface, "tx", "off", "rx", "off");
                Shell.Result client = ns.tryExec(60, "/usr/bin/python3", "-c", PYTHON_SLOW_DRAIN_CLIENT,
                    "10.88.0.2", "7");
                assertEquals("OK 131072 of 131072 bytes", client.output().strip(), client.output());
                Thread.sleep(300); // the release completes
                Shell.run("kill", "-TERM", Long.toString(echo.pid()));
                StringBuilder after = new StringBuilder();
                String line;
                while ((line = out.readLine()) != null) {
                    after.append(line).append('\n');
                }
                assertTrue(echo.waitFor(20, TimeUnit.SECONDS));
                String rest = after.toString();
                assertTrue(rest.contains("echo: 1 connections accepted, 1 closed (0 not cleanly)"), rest);
            } finally {
                echo.destroyForcibly();
            }
        }
    }

    /**
     * Modes: "copy" (SUCCESS after copying into the staging ring), "pending" (chains kept and returned after the
     * echo), "small" (copy with a 4 KiB staging ring: chains are declined with DATA_NOT_ACCEPTED and drained with
     * TDI_RECEIVEs).
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"copy", "pending", "small"})
    void echoApiTdiEchoesStreamsAndUrgentDataAndReportsCountersOnSigterm(String mode) throws Exception {
        boolean pending = mode.equals("pending");
        String iface = NetNs.uniqueName("t");
        try (NetNs ns = NetNs.create()) {
            List<String> args = new ArrayList<>(List.of("echo", "--api", "tdi", "--vdev",
                "net_tap" + iface + ",iface=" + iface, "--ip", "10.87.0.2/24", "--name", NetNs.uniqueName("s"),
                "--idle", "backoff", "--listen", "7"));
            if (pending) {
                args.add("--pending");
            }
            if (mode.equals("small")) {
                args.addAll(List.of("--staging", "4096"));
            }
            Process echo = launch(args.toArray(String[]::new));
            try {
                BufferedReader out = new BufferedReader(new InputStreamReader(echo.getInputStream(),
                    StandardCharsets.UTF_8));
                String banner = readUntilReady(out);
                assertTrue(banner.contains("fastpath echo (api tdi, chained receives"), banner);
                assertTrue(banner.contains(pending ? "kept PENDING" : "copied, SUCCESS"), banner);
                ns.adopt(iface, "10.87.0.1/24");
                ns.tryExec(5, "ethtool", "-K", iface, "tx", "off", "rx", "off");
                Shell.Result client = ns.tryExec(60, "/usr/bin/python3", "-c", PYTHON_ECHO_CLIENT, "10.87.0.2", "7",
                    "4");
                assertEquals("OK", client.output().strip(), client.output());
                Shell.Result urgent = ns.tryExec(30, "/usr/bin/python3", "-c", PYTHON_URGENT_CLIENT, "10.87.0.2",
                    "7");
                assertTrue(urgent.output().strip().startsWith("OK"), urgent.output());
                Thread.sleep(300); // the last release completes
                Shell.run("kill", "-TERM", Long.toString(echo.pid()));
                StringBuilder after = new StringBuilder();
                String line;
                while ((line = out.readLine()) != null) {
                    after.append(line).append('\n');
                }
                assertTrue(echo.waitFor(20, TimeUnit.SECONDS));
                String rest = after.toString();
                assertEquals(0, echo.exitValue(), rest);
                assertTrue(rest.contains("echo: 5 connections accepted, 5 closed (0 not cleanly)"), rest);
                assertTrue(rest.contains(" " + ((4 << 20) + 7) + " bytes echoed (1 expedited"), rest);
                assertTrue(rest.contains("0 still kept at the end"), rest);
                assertTrue(rest.contains("counters:"), rest);
                java.util.regex.Matcher m = java.util.regex.Pattern.compile(
                    "(\\d+) declined with DATA_NOT_ACCEPTED, (\\d+) bytes then taken by TDI_RECEIVE").matcher(rest);
                assertTrue(m.find(), rest);
                if (mode.equals("small")) {
                    assertTrue(Long.parseLong(m.group(1)) > 0 && Long.parseLong(m.group(2)) > 0, rest);
                }
                if (pending) {
                    assertEquals("0", m.group(1), rest);
                }
            } finally {
                echo.destroyForcibly();
            }
        }
    }
}
