package io.fastpath.stack.wire;

import static io.fastpath.stack.wire.Packets.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

class TcpSegmentTest {
    private static final String SYN_SEGMENT = SYN_FRAME.substring(2 * 34);
    private static final String DATA_SEGMENT = DATA_SEGMENT_DATAGRAM.substring(2 * 20);

    private final TcpSegment tcp = new TcpSegment();
    private final TcpOptions options = new TcpOptions();

    @Test
    void deconstructsLinuxSyn_rfc9293_s3_1() {
        final UnsafeBuffer buffer = buffer(SYN_FRAME);
        final Ipv4Packet ip = new Ipv4Packet().wrap(buffer, 14, 60);
        assertEquals(WireError.OK, ip.check());
        tcp.wrap(buffer, ip.payloadOffset(), ip.payloadLength());
        assertEquals(WireError.OK, tcp.check(ip.source(), ip.destination()));
        assertEquals(44312, tcp.sourcePort());
        assertEquals(80, tcp.destinationPort());
        assertEquals(0x3a1b2c4d, tcp.sequenceNumber());
        assertEquals(0, tcp.acknowledgmentNumber());
        assertEquals(10, tcp.dataOffset());
        assertEquals(40, tcp.headerLength());
        assertEquals(TcpSegment.SYN, tcp.flags());
        assertTrue(tcp.hasFlags(TcpSegment.SYN));
        assertFalse(tcp.hasFlags(TcpSegment.SYN | TcpSegment.ACK));
        assertEquals(64240, tcp.window());
        assertEquals(0xcceb, tcp.checksum());
        assertEquals(0xcceb, tcp.computeChecksum(HOST_A_IP, HOST_B_IP));
        assertEquals(0, tcp.urgentPointer());
        assertEquals(34 + 20, tcp.optionsOffset());
        assertEquals(20, tcp.optionsLength());
        assertEquals(34 + 40, tcp.payloadOffset());
        assertEquals(0, tcp.payloadLength());
    }

    @Test
    void parsesLinuxSynOptions_rfc9293_s3_2_rfc7323_rfc2018() {
        final UnsafeBuffer buffer = buffer(SYN_FRAME);
        tcp.wrap(buffer, 34, 40);
        assertEquals(WireError.OK, options.parse(tcp));
        assertTrue(options.hasMss());
        assertEquals(1460, options.mss());
        assertTrue(options.sackPermitted());
        assertTrue(options.hasTimestamps());
        assertEquals(2887429173L, Integer.toUnsignedLong(options.tsVal()));
        assertEquals(0, options.tsEcr());
        assertTrue(options.hasWindowScale());
        assertEquals(7, options.windowScale());
        assertEquals(0, options.sackBlockCount());
    }

    @Test
    void writersBuildTheSameSynAsLinux_rfc9293_s3_1() {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[40]);
        tcp.wrap(buffer, 0, 40).writeHeader(44312, 80, 0x3a1b2c4d, 0, TcpSegment.SYN, 64240, 20);
        int at = tcp.optionsOffset();
        at = TcpOptions.writeMss(buffer, at, 1460);
        at = TcpOptions.writeSackPermitted(buffer, at);
        at = TcpOptions.writeTimestamps(buffer, at, (int) 2887429173L, 0);
        at = TcpOptions.writeNop(buffer, at);
        at = TcpOptions.writeWindowScale(buffer, at, 7);
        assertEquals(tcp.payloadOffset(), at);
        tcp.fillChecksum(HOST_A_IP, HOST_B_IP);
        assertEquals(SYN_SEGMENT, hex(buffer));
    }

    @Test
    void deconstructsDataSegmentWithOddLength_rfc9293_s3_1() {
        final UnsafeBuffer buffer = buffer(DATA_SEGMENT_DATAGRAM);
        final Ipv4Packet ip = new Ipv4Packet().wrap(buffer, 0, 57);
        assertEquals(WireError.OK, ip.check());
        tcp.wrap(buffer, ip.payloadOffset(), ip.payloadLength());
        assertEquals(WireError.OK, tcp.check(HOST_A_IP, HOST_B_IP));
        assertEquals(TcpSegment.PSH | TcpSegment.ACK, tcp.flags());
        assertEquals(0x7f000002, tcp.acknowledgmentNumber());
        assertEquals(502, tcp.window());
        assertEquals(32, tcp.headerLength());
        assertEquals(20 + 32, tcp.payloadOffset());
        assertEquals(5, tcp.payloadLength());
        assertEquals('h', buffer.getByte(tcp.payloadOffset()));
        assertEquals(WireError.OK, options.parse(tcp));
        assertEquals(1234567, options.tsEcr());
        assertFalse(options.hasMss());
    }

    @Test
    void settersBuildTheSameDataSegment_rfc9293_s3_1() {
        final UnsafeBuffer buffer = buffer(DATA_SEGMENT);
        buffer.setMemory(0, 32, (byte) 0xEE);
        tcp.wrap(buffer, 0, 37)
            .sourcePort(44312).destinationPort(80).sequenceNumber(0x3a1b2c4e).acknowledgmentNumber(0x7f000002)
            .dataOffset(8).flags(TcpSegment.PSH | TcpSegment.ACK).window(502).urgentPointer(0);
        int at = TcpOptions.writeNop(buffer, tcp.optionsOffset());
        at = TcpOptions.writeNop(buffer, at);
        TcpOptions.writeTimestamps(buffer, at, (int) 2887429200L, 1234567);
        tcp.fillChecksum(HOST_A_IP, HOST_B_IP);
        assertEquals(DATA_SEGMENT, hex(buffer));
    }

    @Test
    void fewerThan20OctetsIsTruncated_rfc9293_s3_1() {
        assertEquals(WireError.TRUNCATED, tcp.wrap(buffer(SYN_SEGMENT), 0, 19).check(HOST_A_IP, HOST_B_IP));
        assertEquals(WireError.TRUNCATED, tcp.wrap(buffer(""), 0, 0).check(HOST_A_IP, HOST_B_IP));
    }

    @Test
    void dataOffsetBelowFiveIsBadHeaderLength_rfc9293_s3_1() {
        final UnsafeBuffer buffer = buffer(SYN_SEGMENT);
        tcp.wrap(buffer, 0, 40).dataOffset(4).fillChecksum(HOST_A_IP, HOST_B_IP);
        assertEquals(WireError.BAD_HEADER_LENGTH, tcp.check(HOST_A_IP, HOST_B_IP));
    }

    @Test
    void dataOffsetPastTheSegmentIsBadHeaderLength_rfc9293_s3_1() {
        final UnsafeBuffer buffer = buffer(SYN_SEGMENT);
        tcp.wrap(buffer, 0, 40).dataOffset(11).fillChecksum(HOST_A_IP, HOST_B_IP);
        assertEquals(WireError.BAD_HEADER_LENGTH, tcp.check(HOST_A_IP, HOST_B_IP));
        // The options of a 40-octet SYN cut to 36 octets: the header says 40.
        assertEquals(WireError.BAD_HEADER_LENGTH, tcp.wrap(buffer(SYN_SEGMENT), 0, 36).check(HOST_A_IP, HOST_B_IP));
    }

    @Test
    void wrongChecksumIsBadChecksum_rfc9293_s3_1_MUST3() {
        final UnsafeBuffer buffer = buffer(SYN_SEGMENT);
        tcp.wrap(buffer, 0, 40).checksum(0xccec);
        assertEquals(WireError.BAD_CHECKSUM, tcp.check(HOST_A_IP, HOST_B_IP));
    }

    @Test
    void checksumCoversThePseudoHeaderAddresses_rfc9293_s3_1() {
        final UnsafeBuffer buffer = buffer(SYN_SEGMENT);
        tcp.wrap(buffer, 0, 40);
        assertEquals(WireError.OK, tcp.check(HOST_A_IP, HOST_B_IP));
        assertEquals(WireError.BAD_CHECKSUM, tcp.check(HOST_A_IP, 0x0A00_0003));
        assertEquals(WireError.OK, tcp.check(HOST_B_IP, HOST_A_IP)); // swapped addresses sum the same
    }

    @Test
    void checksumCoversTheData_rfc9293_s3_1() {
        final UnsafeBuffer buffer = buffer(DATA_SEGMENT);
        buffer.putByte(36, (byte) 'O');
        assertEquals(WireError.BAD_CHECKSUM, tcp.wrap(buffer, 0, 37).check(HOST_A_IP, HOST_B_IP));
    }

    @Test
    void dataOffsetSetterClearsTheReservedBits_rfc9293_s3_1() {
        final UnsafeBuffer buffer = buffer(SYN_SEGMENT);
        buffer.putByte(TcpSegment.DATA_OFFSET_OFFSET, (byte) 0xAF);
        tcp.wrap(buffer, 0, 40).dataOffset(10);
        assertEquals(0xA0, buffer.getByte(TcpSegment.DATA_OFFSET_OFFSET) & 0xFF);
    }

    @Test
    void toStringNamesTheFields() {
        assertEquals("TcpSegment{44312->80 [SYN] seq=974859341 ack=0 win=64240 headerLength=40 length=40}",
            tcp.wrap(buffer(SYN_SEGMENT), 0, 40).toString());
    }
    /**
     * computeChecksum sums the whole segment and takes the field out again (issue 13): over random segments and
     * field contents it gives what the sum that skips the field gives, and a segment carrying it checks.
     */
    @Test
    void computeChecksumIgnoresTheFieldAsTheSumAroundItDid() {
        java.util.SplittableRandom random = new java.util.SplittableRandom(1071);
        UnsafeBuffer buffer = new UnsafeBuffer(new byte[256]);
        TcpSegment segment = new TcpSegment();
        for (int i = 0; i < 100_000; i++) {
            int offset = random.nextInt(8);
            int length = 18 + random.nextInt(200);
            for (int b = 0; b < 256; b++) {
                buffer.putByte(b, (byte) (i % 11 == 0 ? (random.nextBoolean() ? 0 : 0xFF) : random.nextInt()));
            }
            int source = random.nextInt();
            int destination = random.nextInt();
            int sum = Checksum.pseudoHeaderSum(source, destination, Ipv4Packet.PROTOCOL_TCP, length);
            sum = Checksum.partialSum(buffer, offset, 16, sum);
            int expected = Checksum.finish(Checksum.partialSum(buffer, offset + 18, length - 18, sum));
            segment.wrap(buffer, offset, length);
            assertEquals(expected, segment.computeChecksum(source, destination), "segment " + i);
            segment.fillChecksum(source, destination);
            assertEquals(0, Checksum.finish(Checksum.partialSum(buffer, offset, length,
                Checksum.pseudoHeaderSum(source, destination, Ipv4Packet.PROTOCOL_TCP, length))), "segment " + i);
        }
    }
}
