package io.fastpath.stack.wire;

import static io.fastpath.stack.wire.Packets.*;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

/**
 * A quick guard for the receive and reply paths: parse a frame of every kind and answer a ping, many times,
 * and count the bytes this thread allocated. JMH with the gc profiler is the real proof; this catches a
 * stray boxing or varargs call in a unit-test run. The bound is "less than one byte per round" rather than
 * zero: the JVM itself may allocate a few hundred bytes once on this thread (e.g. while an OSR compilation
 * is installed), while anything allocated per round costs at least 16 bytes per round.
 */
class ZeroAllocationTest {
    private final EthernetFrame ethernet = new EthernetFrame();
    private final ArpPacket arp = new ArpPacket();
    private final Ipv4Packet ip = new Ipv4Packet();
    private final IcmpPacket icmp = new IcmpPacket();
    private final TcpSegment tcp = new TcpSegment();
    private final TcpOptions options = new TcpOptions();

    private final UnsafeBuffer arpFrame = buffer(ARP_REQUEST_FRAME);
    private final UnsafeBuffer pingFrame = buffer(PING_FRAME);
    private final UnsafeBuffer synFrame = buffer(SYN_FRAME);

    @Test
    void receiveAndReplyPathsAllocateNothing() {
        final com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        final int rounds = 20_000;
        long sink = 0;
        for (int i = 0; i < rounds; i++) {
            sink += oneRound();
        }
        final long before = threads.getCurrentThreadAllocatedBytes();
        for (int i = 0; i < rounds; i++) {
            sink += oneRound();
        }
        final long allocated = threads.getCurrentThreadAllocatedBytes() - before;
        assertTrue(allocated < rounds, allocated + " bytes allocated in " + rounds + " rounds (sink " + sink + ")");
    }

    private long oneRound() {
        long sink = 0;
        ethernet.wrap(arpFrame, 0, arpFrame.capacity());
        if (ethernet.check() == WireError.OK && ethernet.etherType() == EthernetFrame.ETHERTYPE_ARP) {
            arp.wrap(arpFrame, ethernet.payloadOffset(), ethernet.payloadLength());
            if (arp.check() == WireError.OK) {
                sink += arp.senderHardwareAddress() + arp.targetProtocolAddress();
            }
        }

        ethernet.wrap(pingFrame, 0, pingFrame.capacity());
        ip.wrap(pingFrame, ethernet.payloadOffset(), ethernet.payloadLength());
        if (ethernet.check() == WireError.OK && ip.check() == WireError.OK) {
            icmp.wrap(pingFrame, ip.payloadOffset(), ip.payloadLength());
            if (icmp.check() == WireError.OK && icmp.toEchoReply()) {
                ip.swapAddresses();
                sink += icmp.checksum();
                // Back to a request for the next round, by the same incremental route.
                icmp.type(IcmpPacket.TYPE_ECHO_REQUEST);
                icmp.checksum(Checksum.update(icmp.checksum(), IcmpPacket.TYPE_ECHO_REPLY << 8,
                    IcmpPacket.TYPE_ECHO_REQUEST << 8));
                ip.swapAddresses();
            }
        }

        ip.wrap(synFrame, EthernetFrame.HEADER_LENGTH, synFrame.capacity() - EthernetFrame.HEADER_LENGTH);
        if (ip.check() == WireError.OK) {
            tcp.wrap(synFrame, ip.payloadOffset(), ip.payloadLength());
            if (tcp.check(ip.source(), ip.destination()) == WireError.OK && options.parse(tcp) == WireError.OK) {
                sink += options.mss() + options.tsVal() + tcp.sequenceNumber();
                tcp.fillChecksum(ip.source(), ip.destination());
                ip.fillHeaderChecksum();
            }
        }
        return sink;
    }
}
