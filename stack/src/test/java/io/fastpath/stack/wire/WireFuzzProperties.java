package io.fastpath.stack.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteOrder;

import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import net.jqwik.api.statistics.Statistics;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The style guide's promise, tested: {@code check} never throws on any input, and after {@link WireError#OK}
 * no accessor fails. Every buffer is exactly the input's size at offset 0, so with Agrona's bounds checks on
 * (surefire sets them) any read outside the wrapped range throws {@code IndexOutOfBoundsException}.
 *
 * <p>Pure random bytes almost never carry a valid checksum, so each property may first <em>repair</em> the
 * input (force the version, fill the checksum) to reach the OK path often; coverage asserts that it does.
 */
class WireFuzzProperties {
    private final EthernetFrame ethernet = new EthernetFrame();
    private final ArpPacket arp = new ArpPacket();
    private final Ipv4Packet ip = new Ipv4Packet();
    private final IcmpPacket icmp = new IcmpPacket();
    private final TcpSegment tcp = new TcpSegment();
    private final TcpOptions options = new TcpOptions();

    /** Without Agrona's bounds checks these properties would prove nothing. */
    @Example
    void boundsChecksAreOn() {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[19]);
        assertThrows(IndexOutOfBoundsException.class, () -> buffer.getInt(16, ByteOrder.BIG_ENDIAN));
        assertThrows(IndexOutOfBoundsException.class, () -> buffer.getByte(-1));
    }

    @Property(tries = 3000)
    void ethernetCheckNeverThrowsAndOkFramesReadInBounds(@ForAll @Size(max = 200) byte[] bytes) {
        final UnsafeBuffer buffer = new UnsafeBuffer(bytes);
        if (ethernet.wrap(buffer, 0, bytes.length).check() == WireError.OK) {
            ethernet.destination();
            ethernet.source();
            ethernet.etherType();
            assertEquals(bytes.length, ethernet.payloadOffset() + ethernet.payloadLength());
        }
        ethernet.toString();
    }

    @Property(tries = 3000)
    void arpCheckNeverThrowsAndOkPacketsReadInBounds_rfc826(@ForAll @Size(max = 200) byte[] bytes,
                                                           @ForAll boolean repair) {
        final UnsafeBuffer buffer = new UnsafeBuffer(bytes);
        if (repair && bytes.length >= ArpPacket.LENGTH) {
            buffer.putLong(0, 0x0001_0800_0604_0001L | (bytes[7] & 1), ByteOrder.BIG_ENDIAN);
        }
        final WireError error = arp.wrap(buffer, 0, bytes.length).check();
        Statistics.label("arp").collect(error);
        if (error == WireError.OK) {
            arp.operation();
            arp.senderHardwareAddress();
            arp.senderProtocolAddress();
            arp.targetHardwareAddress();
            arp.targetProtocolAddress();
        }
        arp.toString();
        Statistics.label("arp").coverage(coverage -> coverage.check(WireError.OK).count(c -> c > 0));
    }

    @Property(tries = 3000)
    void ipv4CheckNeverThrowsAndOkDatagramsReadInBounds_rfc791(@ForAll @Size(max = 200) byte[] bytes,
                                                              @ForAll boolean repair) {
        final UnsafeBuffer buffer = new UnsafeBuffer(bytes);
        if (repair && bytes.length >= Ipv4Packet.MIN_HEADER_LENGTH) {
            ip.wrap(buffer, 0, bytes.length);
            ip.version(4);
            if (ip.ihl() < 5) {
                ip.ihl(5 + (bytes[0] & 3));
            }
            final int headerLength = ip.headerLength();
            if (headerLength <= bytes.length) {
                ip.totalLength(headerLength + ((bytes[3] & 0xFF) % (bytes.length - headerLength + 1)));
                ip.flagsAndFragmentOffset(ip.flagsAndFragmentOffset() & Ipv4Packet.FLAG_DF);
                ip.fillHeaderChecksum();
            }
        }
        final WireError error = ip.wrap(buffer, 0, bytes.length).check();
        Statistics.label("ipv4").collect(error);
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
            ip.protocol();
            ip.headerChecksum();
            ip.source();
            ip.destination();
            assertEquals(0, Checksum.finish(Checksum.partialSum(buffer, ip.optionsOffset(), ip.optionsLength(),
                Checksum.partialSum(buffer, 0, Ipv4Packet.MIN_HEADER_LENGTH, 0))));
            assertTrue(ip.payloadOffset() + ip.payloadLength() <= bytes.length);
            assertTrue(ip.payloadLength() >= 0);
            assertEquals(ip.headerChecksum(), ip.computeHeaderChecksum());
        }
        ip.toString();
        Statistics.label("ipv4").coverage(coverage -> coverage.check(WireError.OK).count(c -> c > 0));
    }

    @Property(tries = 3000)
    void icmpCheckNeverThrowsAndOkMessagesReadInBounds_rfc792(@ForAll @Size(max = 200) byte[] bytes,
                                                             @ForAll boolean repair) {
        final UnsafeBuffer buffer = new UnsafeBuffer(bytes);
        if (repair && bytes.length >= IcmpPacket.HEADER_LENGTH) {
            icmp.wrap(buffer, 0, bytes.length).fillChecksum();
        }
        final WireError error = icmp.wrap(buffer, 0, bytes.length).check();
        Statistics.label("icmp").collect(error);
        if (error == WireError.OK) {
            icmp.type();
            icmp.code();
            icmp.checksum();
            icmp.identifier();
            icmp.sequenceNumber();
            icmp.restOfHeader();
            assertEquals(bytes.length, icmp.payloadOffset() + icmp.payloadLength());
            assertEquals(icmp.checksum(), icmp.computeChecksum());
        }
        icmp.toString();
        Statistics.label("icmp").coverage(coverage -> coverage.check(WireError.OK).count(c -> c > 0));
    }

    /** Any valid echo request stays valid as a reply: the incremental checksum never goes wrong. */
    @Property
    void anyValidEchoRequestBecomesAValidReply_rfc792_rfc1624(@ForAll @Size(min = 8, max = 200) byte[] bytes) {
        final UnsafeBuffer buffer = new UnsafeBuffer(bytes);
        icmp.wrap(buffer, 0, bytes.length).type(IcmpPacket.TYPE_ECHO_REQUEST).fillChecksum();
        assertEquals(WireError.OK, icmp.check());
        assertTrue(icmp.toEchoReply());
        assertEquals(IcmpPacket.TYPE_ECHO_REPLY, icmp.type());
        assertEquals(icmp.computeChecksum(), icmp.checksum());
        assertEquals(WireError.OK, icmp.check());
    }

    @Property(tries = 3000)
    void tcpCheckNeverThrowsAndOkSegmentsReadInBounds_rfc9293(@ForAll @Size(max = 200) byte[] bytes,
                                                             @ForAll int source, @ForAll int destination,
                                                             @ForAll boolean repair) {
        final UnsafeBuffer buffer = new UnsafeBuffer(bytes);
        if (repair && bytes.length >= TcpSegment.MIN_HEADER_LENGTH) {
            tcp.wrap(buffer, 0, bytes.length);
            if (tcp.headerLength() > bytes.length || tcp.dataOffset() < 5) {
                tcp.dataOffset(5 + (bytes[0] & 3));
            }
            tcp.fillChecksum(source, destination);
        }
        final WireError error = tcp.wrap(buffer, 0, bytes.length).check(source, destination);
        Statistics.label("tcp").collect(error);
        if (error == WireError.OK) {
            tcp.sourcePort();
            tcp.destinationPort();
            tcp.sequenceNumber();
            tcp.acknowledgmentNumber();
            tcp.flags();
            tcp.window();
            tcp.checksum();
            tcp.urgentPointer();
            assertTrue(tcp.optionsLength() >= 0 && tcp.optionsLength() <= TcpSegment.MAX_OPTIONS_LENGTH);
            assertEquals(bytes.length, tcp.payloadOffset() + tcp.payloadLength());
            assertEquals(tcp.checksum(), tcp.computeChecksum(source, destination));
            readOptions(options.parse(tcp));
        }
        tcp.toString();
        Statistics.label("tcp").coverage(coverage -> coverage.check(WireError.OK).count(c -> c > 0));
    }

    @Property
    void tcpOptionsParseNeverThrowsOnAnyRegion_rfc9293_s3_1_MUST7(@ForAll @Size(max = 60) byte[] bytes,
                                                                 @ForAll @IntRange(max = 60) int cut) {
        final int length = Math.min(cut, bytes.length);
        final UnsafeBuffer buffer = new UnsafeBuffer(bytes, 0, length);
        readOptions(options.parse(buffer, 0, length));
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
