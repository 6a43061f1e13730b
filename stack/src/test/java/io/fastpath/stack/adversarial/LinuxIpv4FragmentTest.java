package io.fastpath.stack.adversarial;

import static io.fastpath.stack.adversarial.TesterConnection.acking;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.stack.tcp.TcpConfig;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link Ipv4FragmentTest}'s scripts against Linux (its defaults, in a namespace): the reference. Linux
 * reassembles the same fragmented segments. Under the same flood of never-completing fragments Linux's
 * behaviour is recorded, not judged: since 4.17 it refuses new datagrams while its fragment memory is above
 * ipfrag_high_thresh (4 MiB) instead of evicting, so a legitimate fragmented segment may be lost until the
 * flood's queues time out (ipfrag_time, 30 s); the test prints what happened.
 */
@Tag("adversarial")
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class LinuxIpv4FragmentTest {
    private static final int PORT = 8082;
    private static Testbench tb;

    @TempDir
    static Path dir;

    @BeforeAll
    static void rig() throws Exception {
        tb = Testbench.linux(dir);
    }

    @AfterAll
    static void unrig() {
        if (tb != null) {
            tb.close();
        }
    }

    @AfterEach
    void stopDut() {
        tb.stopDut();
    }

    private static String text(int n, char first) {
        StringBuilder b = new StringBuilder(n);
        for (int i = 0; i < n; i++) {
            b.append((char) (first + i % 26));
        }
        return b.toString();
    }

    /** Sends a fragmented segment up to {@code attempts} times a second apart; true once it is acknowledged. */
    private static boolean sendFragmented(TesterConnection c, String data, int fragmentBytes, boolean reversed,
                                          int attempts) {
        long seq = c.sndNxt;
        for (int attempt = 0; attempt < attempts; attempt++) {
            c.send(Tcp.flags("PA").seq(seq).data(data).fragments(fragmentBytes, reversed));
            if (c.poll(acking(seq + data.length()), 1000) != null) {
                c.sndNxt = (seq + data.length()) & TesterConnection.MASK;
                return true;
            }
        }
        return false;
    }

    private DeviceUnderTest.Connection connect(TesterConnection c) {
        c.handshake();
        assertTrue(tb.runUntil(() -> tb.device.accepted(c.localPort) != null, 2000));
        return tb.device.accepted(c.localPort);
    }

    @Test
    @Order(1)
    void fragmentedSegmentsReachTheApplicationIntact_rfc791_s3_2_rfc1122_s3_3_2() {
        tb.start(null, TcpConfig.defaults(), PORT);
        TesterConnection c = new TesterConnection(tb, tb.nextPort(), PORT);
        DeviceUnderTest.Connection a = connect(c);
        String one = "fragmented data, sixteen-byte pieces";
        String two = "fragments in reverse order......";
        String three = "header split";
        String four = text(1400, 'a');
        assertTrue(sendFragmented(c, one, 16, false, 3));
        assertTrue(sendFragmented(c, two, 8, true, 3));
        assertTrue(sendFragmented(c, three, 8, false, 3));
        assertTrue(sendFragmented(c, four, 552, false, 3));
        assertTrue(tb.runUntil(() -> a.text().length() >= (one + two + three + four).length(), 2000));
        assertEquals(one + two + three + four, a.text());
    }

    /** Last: Linux keeps the flood's queues for ipfrag_time; the test waits until it takes fragments again. */
    @Test
    @Order(2)
    void floodOfIncompleteFragments_linuxRecorded() {
        tb.start(null, TcpConfig.defaults(), PORT);
        TesterConnection c = new TesterConnection(tb, tb.nextPort(), PORT);
        DeviceUnderTest.Connection a = connect(c);
        long flood = tb.agent.command(Map.of("op", "frag_flood", "ids", 2000, "per", 16, "size", 64));
        tb.runFor(1000);
        boolean during = sendFragmented(c, text(1400, 'A'), 552, false, 3);
        Map<String, Object> done = tb.reply(tb.agent, flood, e -> Boolean.TRUE.equals(e.get("done")), 120_000);
        tb.runFor(200);
        long flooded = System.nanoTime();
        boolean after = sendFragmented(c, text(1400, 'a'), 552, true, 3);
        // Linux's queues hold the flood until ipfrag_time: how long before a fragmented segment gets through again.
        while (!after && System.nanoTime() - flooded < 45_000_000_000L) {
            after = sendFragmented(c, text(1400, 'a'), 552, true, 1);
        }
        double recoveredAfter = (System.nanoTime() - flooded) / 1e9;
        String snmp = tb.linuxNs.exec("cat", "/proc/net/snmp");
        String reasm = snmp.lines().filter(l -> l.startsWith("Ip:")).reduce("", (x, y) -> x + "\n" + y);
        System.out.println("fragment flood against Linux: " + done + "; legitimate fragmented segment acknowledged"
            + " during the flood: " + during + ", after it: " + after + " (" + String.format("%.1f", recoveredAfter)
            + " s after the flood ended); delivered " + a.text().length()
            + " bytes" + reasm);
        assertTrue(a.open(), "the connection survives");
        assertTrue(after, "Linux takes fragments again once the flood's queues time out (ipfrag_time, 30 s)");
    }
}
