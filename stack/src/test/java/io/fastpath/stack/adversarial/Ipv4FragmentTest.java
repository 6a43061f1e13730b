package io.fastpath.stack.adversarial;

import static io.fastpath.stack.adversarial.TesterConnection.acking;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.stack.counters.DropReason;
import io.fastpath.stack.counters.StackCounters;
import io.fastpath.stack.tcp.TcpConfig;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * IPv4 fragments at the device under test, on net_tap: DPDK's af_packet PMD asks the kernel to reassemble
 * (PACKET_FANOUT_FLAG_DEFRAG), which would hide what fastpath itself does with them. fastpath reassembles
 * (RFC 1122 §3.3.2, {@code Ipv4Reassembly}): a fragmented segment reaches the application intact, in any order
 * of its fragments, and a flood of fragments that never complete neither stops a legitimate fragmented segment
 * nor holds more mbufs than the reassembly limit; no mbuf may leak (checked when the class's tap port closes).
 */
@Tag("adversarial")
class Ipv4FragmentTest {
    private static final int PORT = 8081;
    private static PktmbufPool pool;
    private static Testbench tb;
    private Testbench.Dut dut;

    @TempDir
    static Path dir;

    @BeforeAll
    static void rig() throws Exception {
        pool = PktmbufPool.create("adv_frag", 4095, 0, PktmbufPool.DEFAULT_DATA_ROOM);
        tb = new Testbench(dir, pool);
    }

    @AfterAll
    static void unrig() {
        if (tb != null) {
            tb.close();
        }
        pool.close();
    }

    @AfterEach
    void stopDut() {
        tb.stopDut();
        tb.stackOptions = b -> b;
    }

    /** {@code n} bytes of text (a segment a 1500-byte MTU peer sends whole, a 576-byte link fragments). */
    private static String text(int n, char first) {
        StringBuilder b = new StringBuilder(n);
        for (int i = 0; i < n; i++) {
            b.append((char) (first + i % 26));
        }
        return b.toString();
    }

    private DutServer.Accepted connect(TesterConnection c) {
        c.handshake();
        assertTrue(tb.runUntil(() -> dut.server.get(c.localPort) != null, 2000));
        return dut.server.get(c.localPort);
    }

    /** Sends {@code data} as a fragmented segment until the DUT acknowledges it (a sender retransmits). */
    private void sendFragmentedUntilAcked(TesterConnection c, String data, int fragmentBytes, boolean reversed) {
        long seq = c.sndNxt;
        for (int attempt = 0; attempt < 3; attempt++) {
            c.send(Tcp.flags("PA").seq(seq).data(data).fragments(fragmentBytes, reversed));
            if (c.poll(acking(seq + data.length()), 1000) != null) {
                c.sndNxt = (seq + data.length()) & TesterConnection.MASK;
                return;
            }
        }
        throw new AssertionError("no ACK of the fragmented segment of " + data.length() + " bytes; DUT: "
            + dut.describe() + "\n" + counters(dut.stack.counters()));
    }

    private static String counters(StackCounters counters) {
        return String.join("\n", StackCounters.format(counters.reader(), false));
    }

    @Test
    void fragmentedSegmentsReachTheApplicationIntact_rfc791_s3_2_rfc1122_s3_3_2() {
        dut = tb.startDut(pool, TcpConfig.defaults(), PORT);
        StackCounters counters = dut.stack.counters();
        TesterConnection c = new TesterConnection(tb, tb.nextPort(), PORT);
        DutServer.Accepted a = connect(c);
        long reassembled = counters.ipReassembled.get();
        String one = "fragmented data, sixteen-byte pieces";
        String two = "fragments in reverse order......";
        String three = "header split"; // the TCP header itself over two fragments (8 bytes of it in the first)
        String four = text(1400, 'a'); // what a router with a 576-byte MTU makes of a 1,440-byte datagram: 3 pieces
        sendFragmentedUntilAcked(c, one, 16, false);
        sendFragmentedUntilAcked(c, two, 8, true);
        sendFragmentedUntilAcked(c, three, 8, false);
        sendFragmentedUntilAcked(c, four, 552, false);
        assertEquals(one + two + three + four, a.text(), "every byte, in order, once");
        assertTrue(counters.ipReassembled.get() - reassembled >= 4, "counted as reassembled");
        // A fragmented SYN opens a connection.
        TesterConnection d = new TesterConnection(tb, tb.nextPort(), PORT);
        d.send(Tcp.flags("S").mss(1460).fragments(8, false));
        Segment synAck = d.poll(s -> s.flagsAre("SA"), 1000);
        assertNotNull(synAck, "SYN-ACK to a fragmented SYN");
        c.send(Tcp.flags("PA").data("whole"));
        c.expect(acking(c.sndNxt), 1000, "ACK of an unfragmented segment afterwards");
        assertTrue(a.open());
        assertTrue(a.text().endsWith("whole"));
        System.out.println("fragments over net_tap: " + (counters.ipReassembled.get() - reassembled)
            + " datagrams reassembled from " + counters.ipFragmentsReceived.get() + " fragments; drops "
            + counters.totalDrops() + "; held now " + counters.ipReassemblyHeld.get());
        assertEquals(0, counters.ipReassemblyHeld.get(), "nothing left held");
    }

    @Test
    void incompleteDatagramTimesOutWithIcmpTimeExceeded_rfc1122_s3_3_2() {
        tb.stackOptions = b -> b.reassembly(64, 64, 1024, 300_000_000L); // 300 ms instead of 30 s
        dut = tb.startDut(pool, TcpConfig.defaults(), PORT);
        StackCounters counters = dut.stack.counters();
        TesterConnection c = new TesterConnection(tb, tb.nextPort(), PORT);
        DutServer.Accepted a = connect(c);
        tb.drain();
        // Two of a segment's five fragments: the first (IP header and 8 bytes of TCP) and the second.
        c.send(Tcp.flags("PA").seq(c.sndNxt).data("never completes, never delivered").fragments(8, false)
            .firstFragmentsOnly(2).ipId(0x4242));
        assertTrue(tb.runUntil(() -> counters.ipReassemblyHeld.get() == 2, 1000), "both held");
        Segment icmp = tb.expect(s -> "icmp".equals(s.kind()), s -> s.icmpType() == 11, 2000,
            "ICMP Time Exceeded once the 300 ms run out");
        assertEquals(1, icmp.icmpCode(), "code 1: fragment reassembly time exceeded");
        // The quote (from the ICMP message's byte 4): the datagram's own IP header, identification 0x4242.
        assertEquals(0x42, icmp.data()[8] & 0xFF);
        assertEquals(0x42, icmp.data()[9] & 0xFF);
        assertEquals(1, counters.ipReassemblyTimeouts.get());
        assertEquals(1, counters.icmpTimeExceededSent.get());
        assertEquals(0, counters.ipReassemblyHeld.get());
        assertEquals("", a.text());
        assertTrue(a.open());
    }

    @Test
    void floodOfIncompleteFragmentsDoesNotStopALegitimateFragmentedSegment_rfc1122_s3_3_2() {
        dut = tb.startDut(pool, TcpConfig.defaults(), PORT);
        StackCounters counters = dut.stack.counters();
        TesterConnection c = new TesterConnection(tb, tb.nextPort(), PORT);
        DutServer.Accepted a = connect(c);
        // 2,000 datagrams from 100 spoofed sources, 16 fragments of 64 bytes each, none ever complete:
        // 32,000 fragments, far more than the 64 datagrams and the 511 mbufs (an eighth of this 4,095-mbuf pool)
        // reassembly may hold.
        long flood = tb.agent.command(Map.of("op", "frag_flood", "ids", 2000, "per", 16, "size", 64));
        assertTrue(tb.runUntil(() -> counters.ipFragmentsReceived.get() > 5000, 20_000), "flood under way");
        String during = text(1400, 'A');
        sendFragmentedUntilAcked(c, during, 552, false);
        long[] peak = new long[2]; // reassembly's mbufs, the pool's in use
        assertTrue(tb.runUntil(() -> {
            peak[0] = Math.max(peak[0], counters.ipReassemblyHeld.get());
            peak[1] = Math.max(peak[1], pool.inUseCount());
            return tb.finished(flood);
        }, 120_000), "flood sent");
        Map<String, Object> done = tb.reply(tb.agent, flood, e -> Boolean.TRUE.equals(e.get("done")), 1000);
        tb.runFor(200);
        String after = text(1400, 'a');
        sendFragmentedUntilAcked(c, after, 552, true);
        assertEquals(during + after, a.text());
        long evicted = counters.ipReassemblyEvicted.get();
        System.out.println("fragment flood over net_tap: " + done + "; DUT received " + counters.ipFragmentsReceived.get()
            + " fragments, evicted " + evicted + " incomplete datagrams, holds " + counters.ipReassemblyHeld.get()
            + " mbufs (" + pool.inUseCount() + " of the pool in use), reassembled " + counters.ipReassembled.get()
            + "; drops evicted " + counters.drop(DropReason.IP_FRAGMENT_EVICTED).get());
        System.out.println("peaks during the flood: reassembly held " + peak[0] + " mbufs, pool in use " + peak[1]
            + " of 4,095");
        assertTrue(evicted > 1000, "the oldest incomplete datagrams made room: " + evicted);
        assertTrue(peak[0] <= 511, "reassembly held " + peak[0] + " mbufs, over its limit");
        assertTrue(peak[1] < 4095 / 2, "the pool stayed far from exhaustion: " + peak[1]);
        assertTrue(a.open());
    }
}
