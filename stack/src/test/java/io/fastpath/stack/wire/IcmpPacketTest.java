package io.fastpath.stack.wire;

import static io.fastpath.stack.wire.Packets.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

class IcmpPacketTest {
    private static final String PING_ICMP = PING_FRAME.substring(2 * 34);

    private final IcmpPacket icmp = new IcmpPacket();

    @Test
    void deconstructsLinuxPingEchoRequest_rfc792() {
        final UnsafeBuffer buffer = buffer(PING_FRAME);
        icmp.wrap(buffer, 34, 64);
        assertEquals(WireError.OK, icmp.check());
        assertEquals(IcmpPacket.TYPE_ECHO_REQUEST, icmp.type());
        assertEquals(0, icmp.code());
        assertEquals(0x86ad, icmp.checksum());
        assertEquals(0x86ad, icmp.computeChecksum());
        assertEquals(0x1c46, icmp.identifier());
        assertEquals(1, icmp.sequenceNumber());
        assertEquals(0x1c46_0001, icmp.restOfHeader());
        assertEquals(34 + 8, icmp.payloadOffset());
        assertEquals(56, icmp.payloadLength());
        assertEquals(0x10, buffer.getByte(icmp.payloadOffset() + 16));
    }

    @Test
    void settersAndFillChecksumBuildTheSameEchoRequest_rfc792() {
        final UnsafeBuffer buffer = buffer(PING_ICMP);
        buffer.setMemory(0, 8, (byte) 0);
        icmp.wrap(buffer, 0, 64).type(IcmpPacket.TYPE_ECHO_REQUEST).code(0).identifier(0x1c46).sequenceNumber(1)
            .fillChecksum();
        assertEquals(PING_ICMP, hex(buffer));
    }

    @Test
    void echoRequestBecomesReplyWithIncrementalChecksum_rfc792_rfc1624() {
        final UnsafeBuffer buffer = buffer(PING_FRAME);
        final Ipv4Packet ip = new Ipv4Packet().wrap(buffer, 14, 84);
        icmp.wrap(buffer, ip.payloadOffset(), ip.payloadLength());

        assertTrue(icmp.toEchoReply());
        ip.swapAddresses();

        assertEquals(IcmpPacket.TYPE_ECHO_REPLY, icmp.type());
        assertEquals(PING_REPLY_ICMP_CHECKSUM, icmp.checksum());
        assertEquals(WireError.OK, icmp.check());
        assertEquals(WireError.OK, ip.check());
        // Identifier, sequence number and data come back unchanged.
        assertEquals(PING_ICMP.substring(8), hex(buffer, 34 + 4, 60));
    }

    @Test
    void allZeroEchoReplyGetsFfffNotMinusZero_rfc1624_s3() {
        // Echo request with identifier 0, sequence 0 and no data: 0800 f7ff 0000 0000. As a reply every octet
        // but the checksum is zero, so eqn. 3 alone would give 0x0000, which receivers reject.
        final UnsafeBuffer buffer = buffer("0800f7ff00000000");
        icmp.wrap(buffer, 0, 8);
        assertEquals(WireError.OK, icmp.check());
        assertTrue(icmp.toEchoReply());
        assertEquals("0000ffff00000000", hex(buffer));
        assertEquals(WireError.OK, icmp.check());
    }

    @Test
    void onlyAnEchoRequestIsTurnedIntoAReply() {
        final UnsafeBuffer buffer = buffer(PING_ICMP);
        icmp.wrap(buffer, 0, 64).type(IcmpPacket.TYPE_DESTINATION_UNREACHABLE).fillChecksum();
        final String before = hex(buffer);
        assertFalse(icmp.toEchoReply());
        assertEquals(before, hex(buffer));
    }

    @Test
    void fewerThanEightOctetsIsTruncated_rfc792() {
        assertEquals(WireError.TRUNCATED, icmp.wrap(buffer(PING_ICMP), 0, 7).check());
        assertEquals(WireError.TRUNCATED, icmp.wrap(buffer(""), 0, 0).check());
    }

    @Test
    void checksumCoversTheDataNotJustTheHeader_rfc792() {
        final UnsafeBuffer buffer = buffer(PING_ICMP);
        buffer.putByte(63, (byte) 0x38);
        assertEquals(WireError.BAD_CHECKSUM, icmp.wrap(buffer, 0, 64).check());
    }

    @Test
    void ethernetPaddingMustNotBeSummed_rfc792() {
        // Wrapped with the frame's rest instead of the IP payload length, a non-zero pad spoils the sum.
        final UnsafeBuffer buffer = buffer(PING_ICMP + "01");
        assertEquals(WireError.OK, icmp.wrap(buffer, 0, 64).check());
        assertEquals(WireError.BAD_CHECKSUM, icmp.wrap(buffer, 0, 65).check());
    }

    @Test
    void oddLengthMessageIsSummedWithAZeroPad_rfc1071_s1() {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[9]);
        icmp.wrap(buffer, 0, 9).type(IcmpPacket.TYPE_ECHO_REQUEST).identifier(1).sequenceNumber(2);
        buffer.putByte(8, (byte) 0xAB);
        icmp.fillChecksum();
        assertEquals(~(0x0800 + 0x0001 + 0x0002 + 0xAB00) & 0xFFFF, icmp.checksum());
        assertEquals(WireError.OK, icmp.check());
    }
}
