package io.fastpath.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.testkit.NetNs;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code fastpath up} in its own process, as a user runs it: ready, answers Linux, SIGTERM, counters. */
class CommandLineTest {
    @TempDir
    Path dir;

    private Process launch(String... args) throws Exception {
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
