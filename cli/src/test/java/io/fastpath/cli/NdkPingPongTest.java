package io.fastpath.cli;

import static io.fastpath.cli.CommandLineTest.finish;
import static io.fastpath.cli.CommandLineTest.launch;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.testkit.Shell;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code fastpath ndk-pingpong} in its own process: two stacks on a ring pair, the NDK sequence over MPA. */
class NdkPingPongTest {
    @TempDir
    Path dir;

    @Test
    void printsNegotiatedLimitsAndPrivateDataForBothSidesVerifiesMessagesAndCapturesMpa() throws Exception {
        Path pcap = dir.resolve("ndk.pcap");
        Process p = launch("ndk-pingpong", "--messages", "300", "--size", "1000", "--connector-limits", "8,4",
            "--listener-limits", "2,16", "--adapter-limits", "6,6", "--private-data", "hello ndk", "--pcap",
            pcap.toString());
        String out = finish(p, 120);
        System.out.println(out);
        assertEquals(0, p.exitValue(), out);
        // connector: in = min(8, 6, listener out min(16, 6, 8)) = 6; out = min(4, 6, listener in min(2, 6, 4)) = 2
        assertTrue(out.contains("connector: inbound=6 outbound=2 peer-private-data=hello ndk\n"), out);
        assertTrue(out.contains("listener: inbound=2 outbound=6 peer-private-data=hello ndk\n"), out);
        assertTrue(out.contains("verified 300 messages of 1000 bytes each way"), out);
        assertTrue(out.contains("rtt us: min "), out);
        assertTrue(out.strip().endsWith("disconnected"), out);
        String req = Shell.run("tshark", "-n", "-r", pcap.toString(), "-Y", "iwarp_mpa.req", "-T", "fields", "-e",
            "iwarp_mpa.rev", "-e", "iwarp_mpa.pdlength");
        assertTrue(req.lines().anyMatch(l -> l.trim().equals("2\t13")), "tshark reads the MPA request: " + req);
    }

    @Test
    void readLimitsAreUlongsSoAllOnesMeansTheAdapterMaximum_ndkFnConnect() throws Exception {
        Process p = launch("ndk-pingpong", "--messages", "10", "--connector-limits", "4294967295,4294967295",
            "--listener-limits", "4294967295,3", "--adapter-limits", "6,6");
        String out = finish(p, 120);
        assertEquals(0, p.exitValue(), out);
        // connector: in = min(~0 capped to 6, listener out 3) = 3; out = min(~0 capped to 6, listener in 6) = 6
        assertTrue(out.contains("connector: inbound=3 outbound=6 peer-private-data=fastpath\n"), out);
        assertTrue(out.contains("listener: inbound=6 outbound=3 peer-private-data=fastpath\n"), out);
    }

    @Test
    void defaultsWork() throws Exception {
        Process p = launch("ndk-pingpong", "--messages", "10");
        String out = finish(p, 120);
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("connector: inbound=16 outbound=16 peer-private-data=fastpath\n"), out);
        assertTrue(out.contains("listener: inbound=16 outbound=16 peer-private-data=fastpath\n"), out);
    }

    @Test
    void runsOverTwoGivenPortsTheEndsOfAVethPairThroughAfPacket() throws Exception {
        String va = io.fastpath.testkit.NetNs.uniqueName("a");
        String vb = io.fastpath.testkit.NetNs.uniqueName("b");
        Shell.run("ip", "link", "add", va, "type", "veth", "peer", "name", vb);
        try {
            for (String v : new String[] {va, vb}) {
                Shell.quietly("sysctl", "-w", "net.ipv6.conf." + v + ".disable_ipv6=1");
                Shell.quietly("ethtool", "-K", v, "tx", "off", "rx", "off");
                Shell.run("ip", "link", "set", v, "up");
            }
            Process p = launch("ndk-pingpong", "--messages", "100", "--size", "3000", "--private-data", "veth",
                "--connector-vdev", "net_af_packet" + va + ",iface=" + va + ",qdisc_bypass=0",
                "--listener-vdev", "net_af_packet" + vb + ",iface=" + vb + ",qdisc_bypass=0");
            String out = finish(p, 120);
            System.out.println(out);
            assertEquals(0, p.exitValue(), out);
            assertTrue(out.contains("connector: inbound=16 outbound=16 peer-private-data=veth\n"), out);
            assertTrue(out.contains("verified 100 messages of 3000 bytes each way"), out);
        } finally {
            Shell.quietly("ip", "link", "del", va);
        }
    }

    @Test
    void badFlagsAreUsageErrors() throws Exception {
        for (String[] args : new String[][] {
            {"ndk-pingpong", "--connector-limits", "8"},
            {"ndk-pingpong", "--connector-limits", "-1,1"},
            {"ndk-pingpong", "--listener-limits", "4294967296,1"},
            {"ndk-pingpong", "--size", "70000"},
            {"ndk-pingpong", "--adapter-limits", "16384,1"},
            {"ndk-pingpong", "--private-data", "x".repeat(509)},
            {"ndk-pingpong", "--connector-vdev", "net_null0"},
            {"ndk-pingpong", "--bogus"}}) {
            Process p = launch(args);
            String out = finish(p, 60);
            assertEquals(2, p.exitValue(), String.join(" ", args) + ": " + out);
            assertTrue(out.contains("fastpath: "), out);
        }
    }
}
