package io.fastpath.stack.shard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.stack.wire.Ipv4Address;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/** Microsoft's RSS verification suite ("Verifying the RSS Hash Calculation"), IPv4 with and without ports. */
class ToeplitzTest {
    private final Toeplitz toeplitz = Toeplitz.microsoft();

    @ParameterizedTest
    @CsvSource({
        "161.142.100.80, 1766, 66.9.149.187, 2794, 0x323e8fc2, 0x51ccc178",
        "65.69.140.83, 4739, 199.92.111.2, 14230, 0xd718262a, 0xc626b0ea",
        "12.22.207.184, 38024, 24.19.198.95, 12898, 0xd2d0a5de, 0x5c2b394a",
        "209.142.163.6, 2217, 38.27.205.30, 48228, 0x82989176, 0xafc7327f",
        "202.188.127.2, 1303, 153.39.163.191, 44251, 0x5d1809c5, 0x10e828a2",
    })
    void microsoftVerificationVectors(String dst, int dstPort, String src, int srcPort, String ipv4, String ipv4Tcp) {
        int s = Ipv4Address.parse(src);
        int d = Ipv4Address.parse(dst);
        assertEquals(Integer.parseUnsignedInt(ipv4.substring(2), 16), toeplitz.hashIpv4(s, d), "IPv4");
        assertEquals(Integer.parseUnsignedInt(ipv4Tcp.substring(2), 16), toeplitz.hashIpv4Tcp(s, d, srcPort, dstPort),
            "IPv4 with TCP ports");
        byte[] input = {
            (byte) (s >>> 24), (byte) (s >>> 16), (byte) (s >>> 8), (byte) s,
            (byte) (d >>> 24), (byte) (d >>> 16), (byte) (d >>> 8), (byte) d,
            (byte) (srcPort >>> 8), (byte) srcPort, (byte) (dstPort >>> 8), (byte) dstPort,
        };
        assertEquals(toeplitz.hashIpv4Tcp(s, d, srcPort, dstPort), Toeplitz.hash(Toeplitz.microsoftKey(), input),
            "the table form equals the bit-by-bit definition");
    }

    @Test
    void rssOwnerIsTheDefaultTableEntryOfTheReceivedSegmentsHash() {
        RssFlowOwner owner = new RssFlowOwner(2);
        int local = Ipv4Address.parse("161.142.100.80");
        int remote = Ipv4Address.parse("66.9.149.187");
        // 0x51ccc178: RETA index 0x78 = 120, entry 120 % 2 = 0.
        assertEquals(0, owner.shardOf(local, 1766, remote, 2794));
        // 0xc626b0ea: index 0x6a = 106 -> 0; 0x5c2b394a: index 0x4a -> 0; 0xafc7327f: index 0x7f -> 1.
        assertEquals(1, owner.shardOf(Ipv4Address.parse("209.142.163.6"), 2217, Ipv4Address.parse("38.27.205.30"),
            48228));
        int[] counts = new int[4];
        RssFlowOwner four = new RssFlowOwner(4);
        for (int port = 49152; port < 49152 + 4096; port++) {
            counts[four.shardOf(local, port, remote, 80)]++;
        }
        for (int q = 0; q < 4; q++) {
            assertTrue(counts[q] > 700, "ports spread over the four shards: " + java.util.Arrays.toString(counts));
        }
    }

    @Test
    void aPortsOwnTableDecides() {
        int[] reta = new int[64];
        java.util.Arrays.fill(reta, 1);
        RssFlowOwner owner = new RssFlowOwner(2, Toeplitz.microsoftKey(), reta);
        assertEquals(1, owner.shardOf(1, 2, 3, 4));
        assertEquals(0, FlowOwner.SINGLE.shardOf(1, 2, 3, 4));
    }
}
