package io.fastpath.stack.wire;

import static io.fastpath.stack.wire.Packets.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

class Ipv4PacketTest {
    private static final String PING_DATAGRAM = PING_FRAME.substring(28);
    private static final String PING_HEADER = PING_DATAGRAM.substring(0, 40);

    private final Ipv4Packet ip = new Ipv4Packet();

    @Test
    void deconstructsLinuxPingDatagram_rfc791_s3_1() {
        final UnsafeBuffer buffer = buffer(PING_FRAME);
        ip.wrap(buffer, 14, 84);
        assertEquals(WireError.OK, ip.check());
        assertEquals(4, ip.version());
        assertEquals(5, ip.ihl());
        assertEquals(20, ip.headerLength());
        assertEquals(0, ip.dscp());
        assertEquals(0, ip.ecn());
        assertEquals(84, ip.totalLength());
        assertEquals(0x4d2a, ip.identification());
        assertTrue(ip.dontFragment());
        assertFalse(ip.moreFragments());
        assertEquals(0, ip.fragmentOffset());
        assertEquals(64, ip.ttl());
        assertEquals(Ipv4Packet.PROTOCOL_ICMP, ip.protocol());
        assertEquals(0xd97c, ip.headerChecksum());
        assertEquals(0xd97c, ip.computeHeaderChecksum());
        assertEquals(HOST_A_IP, ip.source());
        assertEquals(HOST_B_IP, ip.destination());
        assertEquals(0, ip.optionsLength());
        assertEquals(14 + 20, ip.payloadOffset());
        assertEquals(64, ip.payloadLength());
    }

    @Test
    void writeHeaderEmitsTheSameHeaderWithDfAndChecksum_rfc791_s3_1() {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[20]);
        ip.wrap(buffer, 0, 20).writeHeader(64, Ipv4Packet.PROTOCOL_ICMP, HOST_A_IP, HOST_B_IP, 64, 0x4d2a);
        assertEquals(PING_HEADER, hex(buffer));
    }

    @Test
    void settersEmitTheSameHeader_rfc791_s3_1() {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[20]);
        ip.wrap(buffer, 0, 20)
            .version(4).ihl(5).dscp(0).ecn(0).totalLength(84).identification(0x4d2a)
            .flagsAndFragmentOffset(Ipv4Packet.FLAG_DF).ttl(64).protocol(Ipv4Packet.PROTOCOL_ICMP)
            .source(HOST_A_IP).destination(HOST_B_IP).fillHeaderChecksum();
        assertEquals(PING_HEADER, hex(buffer));
    }

    @Test
    void dscpAndEcnShareTheTosOctet_rfc2474_rfc3168() {
        final UnsafeBuffer buffer = buffer(PING_HEADER);
        ip.wrap(buffer, 0, 20).dscp(46).ecn(3);
        assertEquals(0xbb, buffer.getByte(1) & 0xFF);
        assertEquals(46, ip.dscp());
        assertEquals(3, ip.ecn());
        assertEquals(4, ip.version());
        ip.ecn(1);
        assertEquals(46, ip.dscp());
    }

    @Test
    void fewerThan20OctetsIsTruncated() {
        assertEquals(WireError.TRUNCATED, ip.wrap(buffer(PING_HEADER.substring(0, 38)), 0, 19).check());
        assertEquals(WireError.TRUNCATED, ip.wrap(buffer(""), 0, 0).check());
    }

    @Test
    void versionOtherThanFourIsRejectedBeforeAnythingElse_rfc791_s3_1() {
        // Version 6 with IHL 0 and a wrong checksum: the version is reported, it is checked first.
        final UnsafeBuffer buffer = buffer(PING_DATAGRAM);
        buffer.putByte(0, (byte) 0x60);
        assertEquals(WireError.BAD_VERSION, ip.wrap(buffer, 0, 84).check());
    }

    @Test
    void ihlBelowFiveIsBadHeaderLength_rfc791_s3_1() {
        final UnsafeBuffer buffer = buffer(PING_DATAGRAM);
        buffer.putByte(0, (byte) 0x44);
        assertEquals(WireError.BAD_HEADER_LENGTH, ip.wrap(buffer, 0, 84).check());
    }

    @Test
    void ihlPastTheReceivedOctetsIsBadHeaderLength_rfc1122_s3_2_1_2() {
        final UnsafeBuffer buffer = buffer(PING_HEADER + "0000");
        buffer.putByte(0, (byte) 0x46); // 24 octets of header, 22 received
        assertEquals(WireError.BAD_HEADER_LENGTH, ip.wrap(buffer, 0, 22).check());
    }

    @Test
    void totalLengthBelowTheHeaderIsBadTotalLength_rfc791_s3_1() {
        final UnsafeBuffer buffer = buffer(PING_DATAGRAM);
        ip.wrap(buffer, 0, 84).totalLength(19).fillHeaderChecksum();
        assertEquals(WireError.BAD_TOTAL_LENGTH, ip.check());
    }

    @Test
    void totalLengthPastTheReceivedOctetsIsBadTotalLength_rfc1122_s3_2_1_2() {
        final UnsafeBuffer buffer = buffer(PING_DATAGRAM);
        assertEquals(WireError.BAD_TOTAL_LENGTH, ip.wrap(buffer, 0, 83).check());
        ip.wrap(buffer, 0, 84).totalLength(0xFFFF).fillHeaderChecksum();
        assertEquals(WireError.BAD_TOTAL_LENGTH, ip.check());
    }

    @Test
    void ethernetPaddingIsNotPayload_rfc894() {
        // A bare ACK is a 40-octet datagram; Ethernet pads it to 46 (RFC 894: minimum 46 data octets).
        final String ack = DATA_SEGMENT_DATAGRAM.substring(0, 40);
        final UnsafeBuffer buffer = padded(ack, 46);
        ip.wrap(buffer, 0, 20).totalLength(40).fillHeaderChecksum();
        ip.wrap(buffer, 0, 46);
        assertEquals(WireError.OK, ip.check());
        assertEquals(40, ip.totalLength());
        assertEquals(20, ip.payloadLength());
        assertEquals(46, ip.length());
    }

    @Test
    void wrongHeaderChecksumIsBadChecksum_rfc791_s3_1() {
        final UnsafeBuffer buffer = buffer(PING_DATAGRAM);
        ip.wrap(buffer, 0, 84).headerChecksum(0xd97d);
        assertEquals(WireError.BAD_CHECKSUM, ip.check());
        ip.ttl(63); // any header octet: the checksum no longer verifies
        ip.headerChecksum(0xd97c);
        assertEquals(WireError.BAD_CHECKSUM, ip.check());
    }

    @Test
    void checksumIsCheckedBeforeFragmentation() {
        final UnsafeBuffer buffer = buffer(PING_DATAGRAM);
        ip.wrap(buffer, 0, 84).flagsAndFragmentOffset(Ipv4Packet.FLAG_MF);
        assertEquals(WireError.BAD_CHECKSUM, ip.check());
    }

    @Test
    void moreFragmentsOrNonZeroOffsetIsAFragment_rfc791_s2_3() {
        final UnsafeBuffer buffer = buffer(PING_DATAGRAM);
        ip.wrap(buffer, 0, 84).flagsAndFragmentOffset(Ipv4Packet.FLAG_MF).fillHeaderChecksum();
        assertTrue(ip.moreFragments());
        assertEquals(WireError.FRAGMENT, ip.check());

        ip.flagsAndFragmentOffset(185).fillHeaderChecksum(); // last fragment, at octet 1480
        assertEquals(185, ip.fragmentOffset());
        assertEquals(WireError.FRAGMENT, ip.check());

        ip.flagsAndFragmentOffset(Ipv4Packet.FLAG_DF).fillHeaderChecksum();
        assertEquals(WireError.OK, ip.check());
    }

    @Test
    void optionsAreSkippedAndTheirLengthReported_rfc791_s3_1() {
        // IHL 6 with a Router Alert option (RFC 2113): 94 04 0000.
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[24 + 8]);
        ip.wrap(buffer, 0, 32).writeHeader(1, 2, HOST_A_IP, HOST_B_IP, 8, 7);
        ip.ihl(6).totalLength(32);
        buffer.putInt(Ipv4Packet.OPTIONS_OFFSET, 0x9404_0000, java.nio.ByteOrder.BIG_ENDIAN);
        ip.fillHeaderChecksum();
        assertEquals(WireError.OK, ip.check());
        assertEquals(24, ip.headerLength());
        assertEquals(20, ip.optionsOffset());
        assertEquals(4, ip.optionsLength());
        assertEquals(24, ip.payloadOffset());
        assertEquals(8, ip.payloadLength());
    }

    @Test
    void swappingAddressesKeepsTheChecksumValid_rfc1071_s2() {
        final UnsafeBuffer buffer = buffer(PING_DATAGRAM);
        ip.wrap(buffer, 0, 84).swapAddresses();
        assertEquals(HOST_B_IP, ip.source());
        assertEquals(HOST_A_IP, ip.destination());
        assertEquals(WireError.OK, ip.check());
    }

    @Test
    void toStringNamesTheFields() {
        assertEquals("Ipv4Packet{src=10.0.0.1, dst=10.0.0.2, proto=1, ttl=64, id=19754, totalLength=84, headerLength=20, DF}",
            ip.wrap(buffer(PING_DATAGRAM), 0, 84).toString());
    }

    /** The 20-octet fast path (five 32-bit loads) gives what the generic RFC 1071 loop gives, on any bytes. */
    @Test
    void fixedHeaderChecksumMatchesTheGenericSum_rfc1071_s2() {
        java.util.Random random = new java.util.Random(7413);
        UnsafeBuffer buffer = new UnsafeBuffer(new byte[24]);
        for (int round = 0; round < 20_000; round++) {
            for (int i = 0; i < 24; i++) {
                buffer.putByte(i, (byte) random.nextInt());
            }
            buffer.putByte(1, (byte) 0x45); // version 4, IHL 5, at offset 1: an odd start as well
            ip.wrap(buffer, 1, 20);
            UnsafeBuffer zeroed = new UnsafeBuffer(new byte[20]);
            zeroed.putBytes(0, buffer, 1, 20);
            zeroed.putShort(Ipv4Packet.HEADER_CHECKSUM_OFFSET, (short) 0);
            assertEquals(Checksum.checksum(zeroed, 0, 20), ip.computeHeaderChecksum());
            ip.fillHeaderChecksum();
            assertEquals(0, Checksum.checksum(buffer, 1, 20));
            buffer.putShort(1 + Ipv4Packet.TOTAL_LENGTH_OFFSET, (short) 20, java.nio.ByteOrder.BIG_ENDIAN);
            buffer.putShort(1 + Ipv4Packet.FLAGS_FRAGMENT_OFFSET_OFFSET, (short) 0);
            ip.fillHeaderChecksum();
            assertEquals(WireError.OK, ip.check());
            buffer.putByte(1 + 12 + random.nextInt(8), (byte) (buffer.getByte(1 + 12) ^ 0x10));
            if (Checksum.checksum(buffer, 1, 20) != 0) {
                assertEquals(WireError.BAD_CHECKSUM, ip.check());
            }
        }
    }
    /**
     * writeHeader writes whole words with a checksum summed from the values (issue 13): over random fields it
     * writes byte for byte what the field-by-field writes and {@code fillHeaderChecksum} wrote before.
     */
    @Test
    void writeHeaderMatchesFieldByFieldWritesAndChecksum() {
        java.util.SplittableRandom random = new java.util.SplittableRandom(791);
        UnsafeBuffer actual = new UnsafeBuffer(new byte[24]);
        UnsafeBuffer expected = new UnsafeBuffer(new byte[24]);
        Ipv4Packet a = new Ipv4Packet();
        Ipv4Packet e = new Ipv4Packet();
        for (int i = 0; i < 100_000; i++) {
            int ttl = random.nextInt(i % 2 == 0 ? 256 : 1 << 12);
            int protocol = random.nextInt(i % 3 == 0 ? 256 : 1 << 10);
            int source = random.nextInt();
            int destination = i % 5 == 0 ? ~source : random.nextInt();
            int payload = random.nextInt(i % 7 == 0 ? 1 << 17 : 65536 - 20);
            int id = random.nextInt();
            int at = random.nextInt(4);
            actual.setMemory(0, 24, (byte) random.nextInt());
            expected.setMemory(0, 24, (byte) random.nextInt());
            a.wrap(actual, at, 20).writeHeader(ttl, protocol, source, destination, payload, id);
            e.wrap(expected, at, 20);
            expected.putByte(at, (byte) 0x45);
            expected.putByte(at + 1, (byte) 0);
            e.totalLength(20 + payload).identification(id).flagsAndFragmentOffset(Ipv4Packet.FLAG_DF).ttl(ttl)
                .protocol(protocol).source(source).destination(destination);
            // The checksum over the header's bytes by the generic loop, its own field left out.
            int sum = Checksum.partialSum(expected, at, 10, 0);
            sum = Checksum.partialSum(expected, at + 12, 8, sum);
            e.headerChecksum(Checksum.finish(sum));
            for (int b = 0; b < 20; b++) {
                assertEquals(expected.getByte(at + b), actual.getByte(at + b), "byte " + b + " of header " + i);
            }
            assertEquals(0, Checksum.checksum(actual, at, 20), "header " + i + " sums to zero");
        }
    }
}
