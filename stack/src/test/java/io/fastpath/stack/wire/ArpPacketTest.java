package io.fastpath.stack.wire;

import static io.fastpath.stack.wire.Packets.*;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

class ArpPacketTest {
    private final ArpPacket arp = new ArpPacket();

    @Test
    void deconstructsLinuxWhoHasRequest_rfc826() {
        final UnsafeBuffer buffer = buffer(ARP_REQUEST_FRAME);
        arp.wrap(buffer, 14, 28);
        assertEquals(WireError.OK, arp.check());
        assertEquals(ArpPacket.HARDWARE_TYPE_ETHERNET, arp.hardwareType());
        assertEquals(EthernetFrame.ETHERTYPE_IPV4, arp.protocolType());
        assertEquals(6, arp.hardwareLength());
        assertEquals(4, arp.protocolLength());
        assertEquals(ArpPacket.OPERATION_REQUEST, arp.operation());
        assertEquals(HOST_A_MAC, arp.senderHardwareAddress());
        assertEquals(HOST_A_IP, arp.senderProtocolAddress());
        assertEquals(MacAddress.ZERO, arp.targetHardwareAddress());
        assertEquals(HOST_B_IP, arp.targetProtocolAddress());
    }

    @Test
    void writeBuildsTheSameRequestInOneCall_rfc826() {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[28]);
        arp.wrap(buffer, 0, 28).write(ArpPacket.OPERATION_REQUEST, HOST_A_MAC, HOST_A_IP, MacAddress.ZERO, HOST_B_IP);
        assertEquals(ARP_REQUEST_FRAME.substring(28), hex(buffer));
    }

    @Test
    void settersBuildTheSameRequest_rfc826() {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[28]);
        arp.wrap(buffer, 0, 28)
            .hardwareType(1).protocolType(0x0800).hardwareLength(6).protocolLength(4)
            .operation(ArpPacket.OPERATION_REQUEST)
            .senderHardwareAddress(HOST_A_MAC).senderProtocolAddress(HOST_A_IP)
            .targetHardwareAddress(MacAddress.ZERO).targetProtocolAddress(HOST_B_IP);
        assertEquals(ARP_REQUEST_FRAME.substring(28), hex(buffer));
    }

    @Test
    void requestIsAnsweredInPlaceBySwappingSenderIntoTarget_rfc826_packetReception() {
        final UnsafeBuffer buffer = buffer(ARP_REQUEST_FRAME);
        arp.wrap(buffer, 14, 28);
        arp.write(ArpPacket.OPERATION_REPLY, HOST_B_MAC, HOST_B_IP, arp.senderHardwareAddress(), arp.senderProtocolAddress());
        assertEquals("0001080006040002" + "020000000002" + "0a000002" + "525400123456" + "0a000001", hex(buffer, 14, 28));
        assertEquals(WireError.OK, arp.check());
    }

    @Test
    void ethernetPaddingAfterThe28OctetsIsIgnored() {
        // Linux sends 42 octets; the NIC pads to 60, so received ARP has 18 trailing zeros.
        final UnsafeBuffer buffer = padded(ARP_REQUEST_FRAME, 60);
        arp.wrap(buffer, 14, 46);
        assertEquals(WireError.OK, arp.check());
        assertEquals(HOST_B_IP, arp.targetProtocolAddress());
    }

    @Test
    void fewerThan28OctetsIsTruncated() {
        final UnsafeBuffer buffer = buffer(ARP_REQUEST_FRAME.substring(0, 2 * 41));
        assertEquals(WireError.TRUNCATED, arp.wrap(buffer, 14, 27).check());
        assertEquals(WireError.TRUNCATED, arp.wrap(buffer, 14, 0).check());
    }

    @Test
    void otherHardwareOrProtocolIsUnsupported_rfc826() {
        assertEquals(WireError.UNSUPPORTED, withOctet(0, "0006")); // IEEE 802 hardware
        assertEquals(WireError.UNSUPPORTED, withOctet(2, "86dd")); // IPv6 protocol
        assertEquals(WireError.UNSUPPORTED, withOctet(4, "08"));   // 8-octet hardware address
        assertEquals(WireError.UNSUPPORTED, withOctet(5, "10"));   // 16-octet protocol address
    }

    @Test
    void operationsOtherThanRequestAndReplyAreUnsupported_rfc826() {
        assertEquals(WireError.UNSUPPORTED, withOctet(6, "0000"));
        assertEquals(WireError.UNSUPPORTED, withOctet(6, "0003")); // RARP request, RFC 903
        assertEquals(WireError.OK, withOctet(6, "0002"));
    }

    private WireError withOctet(int index, String hex) {
        final UnsafeBuffer buffer = buffer(ARP_REQUEST_FRAME.substring(28));
        final byte[] value = java.util.HexFormat.of().parseHex(hex);
        buffer.putBytes(index, value);
        return arp.wrap(buffer, 0, 28).check();
    }
}
