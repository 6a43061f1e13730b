package io.fastpath.stack.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Jazzer fuzz target for the frame parsers (issue 10 deliverable 5): a frame goes down the layers as
 * {@code Stack.input} takes it (Ethernet, then ARP or IPv4, then ICMP or TCP with its options), and every
 * parser also sees the raw bytes at offset 0. Nothing may throw, and after {@link WireError#OK} every accessor
 * stays inside the frame: the buffer is exactly the input, and surefire turns Agrona's bounds checks on, so a
 * read past the end throws {@code IndexOutOfBoundsException} (a finding).
 *
 * <p>The first byte chooses repairs (IPv4 version, lengths and header checksum; ICMP and TCP checksums) so the
 * fuzzer gets past the checksums to the code behind them. Regression inputs: {@code WireFuzzTestInputs/frame/}
 * next to this class in the test resources; fuzzing: docs/fuzzing.md.
 */
class WireFuzzTest {
    private final EthernetFrame ethernet = new EthernetFrame();
    private final ArpPacket arp = new ArpPacket();
    private final Ipv4Packet ip = new Ipv4Packet();
    private final IcmpPacket icmp = new IcmpPacket();
    private final TcpSegment tcp = new TcpSegment();
    private final TcpOptions options = new TcpOptions();

    @FuzzTest(maxDuration = "10s")
    void frame(FuzzedDataProvider data) {
        int repairs = data.consumeInt(0, 255);
        byte[] bytes = data.consumeRemainingAsBytes();
        UnsafeBuffer buffer = new UnsafeBuffer(bytes);
        int length = bytes.length;

        // Every parser on the raw bytes, as if the frame were its header.
        arp(buffer, 0, length);
        ipv4(buffer, 0, length, repairs);
        icmp(buffer, 0, length, false);
        tcp(buffer, 0, length, 0x0A00_0001, 0x0A00_0002, false);
        readOptions(options.parse(buffer, 0, Math.min(length, TcpSegment.MAX_OPTIONS_LENGTH)));

        // Down the layers, as the stack does.
        if (ethernet.wrap(buffer, 0, length).check() != WireError.OK) {
            ethernet.toString();
            return;
        }
        ethernet.destination();
        ethernet.source();
        int offset = ethernet.payloadOffset();
        int payload = ethernet.payloadLength();
        assertEquals(length, offset + payload);
        switch (ethernet.etherType()) {
            case EthernetFrame.ETHERTYPE_ARP -> arp(buffer, offset, payload);
            case EthernetFrame.ETHERTYPE_IPV4 -> {
                if (ipv4(buffer, offset, payload, repairs)) {
                    int at = ip.payloadOffset();
                    int n = ip.payloadLength();
                    int source = ip.source();
                    int destination = ip.destination();
                    if (ip.protocol() == Ipv4Packet.PROTOCOL_ICMP) {
                        icmp(buffer, at, n, (repairs & 2) != 0);
                    } else if (ip.protocol() == Ipv4Packet.PROTOCOL_TCP) {
                        tcp(buffer, at, n, source, destination, (repairs & 4) != 0);
                    }
                }
            }
            default -> {
            }
        }
        ethernet.toString();
    }

    private void arp(UnsafeBuffer buffer, int offset, int length) {
        if (arp.wrap(buffer, offset, length).check() == WireError.OK) {
            arp.operation();
            arp.senderHardwareAddress();
            arp.senderProtocolAddress();
            arp.targetHardwareAddress();
            arp.targetProtocolAddress();
        }
        arp.toString();
    }

    /** Returns true when the datagram checked OK (after the repairs {@code repairs} asks for). */
    private boolean ipv4(UnsafeBuffer buffer, int offset, int length, int repairs) {
        if ((repairs & 1) != 0 && length >= Ipv4Packet.MIN_HEADER_LENGTH) {
            ip.wrap(buffer, offset, length);
            ip.version(4);
            if (ip.ihl() < 5) {
                ip.ihl(5);
            }
            int headerLength = ip.headerLength();
            if (headerLength <= length) {
                if (ip.totalLength() > length || ip.totalLength() < headerLength) {
                    ip.totalLength(length);
                }
                if ((repairs & 8) == 0) {
                    ip.flagsAndFragmentOffset(ip.flagsAndFragmentOffset() & Ipv4Packet.FLAG_DF);
                }
                ip.fillHeaderChecksum();
            }
        }
        WireError error = ip.wrap(buffer, offset, length).check();
        if (error == WireError.OK) {
            ip.version();
            ip.ihl();
            ip.dscp();
            ip.ecn();
            ip.identification();
            ip.dontFragment();
            ip.moreFragments();
            ip.fragmentOffset();
            ip.ttl();
            ip.headerChecksum();
            ip.optionsOffset();
            ip.optionsLength();
            assertTrue(ip.payloadLength() >= 0, "payload length");
            assertTrue(ip.payloadOffset() >= offset + Ipv4Packet.MIN_HEADER_LENGTH, "payload offset");
            assertTrue(ip.payloadOffset() + ip.payloadLength() <= offset + length, "payload inside the frame");
            assertSameChecksum(ip.headerChecksum(), ip.computeHeaderChecksum());
        }
        ip.toString();
        return error == WireError.OK;
    }

    private void icmp(UnsafeBuffer buffer, int offset, int length, boolean repair) {
        if (repair && length >= IcmpPacket.HEADER_LENGTH) {
            icmp.wrap(buffer, offset, length).fillChecksum();
        }
        if (icmp.wrap(buffer, offset, length).check() == WireError.OK) {
            icmp.type();
            icmp.code();
            icmp.identifier();
            icmp.sequenceNumber();
            icmp.restOfHeader();
            assertEquals(offset + length, icmp.payloadOffset() + icmp.payloadLength());
            assertSameChecksum(icmp.checksum(), icmp.computeChecksum());
            if (icmp.type() == IcmpPacket.TYPE_ECHO_REQUEST) {
                icmp.toEchoReply();
                assertEquals(WireError.OK, icmp.check(), "an echo request turned into a reply stays valid");
            }
        }
        icmp.toString();
    }

    private void tcp(UnsafeBuffer buffer, int offset, int length, int source, int destination, boolean repair) {
        if (repair && length >= TcpSegment.MIN_HEADER_LENGTH) {
            tcp.wrap(buffer, offset, length);
            if (tcp.dataOffset() < 5 || tcp.headerLength() > length) {
                tcp.dataOffset(5);
            }
            tcp.fillChecksum(source, destination);
        }
        if (tcp.wrap(buffer, offset, length).check(source, destination) == WireError.OK) {
            tcp.sourcePort();
            tcp.destinationPort();
            tcp.sequenceNumber();
            tcp.acknowledgmentNumber();
            tcp.flags();
            tcp.window();
            tcp.urgentPointer();
            assertTrue(tcp.optionsLength() >= 0 && tcp.optionsLength() <= TcpSegment.MAX_OPTIONS_LENGTH);
            assertEquals(offset + length, tcp.payloadOffset() + tcp.payloadLength());
            assertSameChecksum(tcp.checksum(), tcp.computeChecksum(source, destination));
            readOptions(options.parse(tcp));
        }
        tcp.toString();
    }

    /**
     * A checksum that verifies equals the computed one, up to one's complement's two zeros: over data that
     * sums to 0xFFFF both 0x0000 and 0xFFFF verify (RFC 1624 §3), and a sender may have written either.
     */
    private static void assertSameChecksum(int carried, int computed) {
        if (carried != computed) {
            assertTrue((carried == 0 || carried == 0xFFFF) && (carried ^ computed) == 0xFFFF,
                "checksum " + Integer.toHexString(carried) + " verified but computes to "
                    + Integer.toHexString(computed));
        }
    }

    private void readOptions(WireError error) {
        assertTrue(error == WireError.OK || error == WireError.BAD_OPTION, error.name());
        assertTrue(options.sackBlockCount() >= 0 && options.sackBlockCount() <= TcpOptions.MAX_SACK_BLOCKS);
        for (int block = 0; block < options.sackBlockCount(); block++) {
            options.sackLeft(block);
            options.sackRight(block);
        }
        options.mss();
        options.windowScale();
        options.tsVal();
        options.tsEcr();
        options.toString();
    }
}
