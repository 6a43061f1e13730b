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
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** {@code fastpath echo --api wsk} in its own process, serving Linux clients in a namespace over net_tap. */
class WskCommandsTest {
    @Test
    void echoThroughWskReceiveEventsServesLinuxClientsAndReportsOnSigterm() throws Exception {
        String iface = NetNs.uniqueName("t");
        try (NetNs ns = NetNs.create()) {
            Process echo = launch("echo", "--api", "wsk", "--vdev", "net_tap" + iface + ",iface=" + iface, "--ip",
                "10.87.0.2/24", "--name", NetNs.uniqueName("s"), "--idle", "backoff", "--listen", "7");
            try {
                BufferedReader out = new BufferedReader(new InputStreamReader(echo.getInputStream(),
                    StandardCharsets.UTF_8));
                String banner = readUntilReady(out);
                assertTrue(banner.contains("fastpath echo (api wsk, zero-copy receive events) on 10.87.0.2:7"),
                    banner);
                ns.adopt(iface, "10.87.0.1/24");
                ns.tryExec(5, "ethtool", "-K", iface, "tx", "off", "rx", "off");
                Shell.Result client = ns.tryExec(60, "/usr/bin/python3", "-c", PYTHON_ECHO_CLIENT, "10.87.0.2", "7",
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
                System.out.println(rest.lines().filter(l -> l.startsWith("echo:")).findFirst().orElse(rest));
                assertEquals(0, echo.exitValue(), rest);
                assertTrue(rest.contains("echo: 4 connections accepted, 4 closed (0 not cleanly), 0 still open, "
                    + (4 << 20) + " bytes echoed"), rest);
                assertTrue(rest.contains("zero-copy from receive events"), rest);
                assertTrue(rest.contains("tcp passive opens"), rest);
            } finally {
                echo.destroyForcibly();
            }
        }
    }
}
