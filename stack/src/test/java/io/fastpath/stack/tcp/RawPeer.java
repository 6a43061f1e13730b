package io.fastpath.stack.tcp;

import io.fastpath.dpdk.Mbuf;
import io.fastpath.dpdk.MbufArray;
import io.fastpath.dpdk.Port;
import io.fastpath.stack.device.PortDecorator;
import io.fastpath.stack.wire.ArpPacket;
import io.fastpath.stack.wire.EthernetFrame;
import io.fastpath.stack.wire.Ipv4Packet;
import io.fastpath.stack.wire.TcpOptions;
import io.fastpath.stack.wire.TcpSegment;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * A host of the test's own on a stack's wire, in the manner of packetimpact's test bench but in process: it
 * shares a port with a stack (frames for its address are taken out before the stack sees them, everything
 * else passes), answers ARP for its address, sends TCP segments the test crafts (any flags, sequence
 * numbers, options, payload) and keeps the segments it receives, per local port. So one side of a ring pair
 * can hold a real fastpath client and an attacker at another address at once. Test thread only.
 */
final class RawPeer extends PortDecorator {
    /** A segment the peer received. */
    record Segment(int localPort, int remotePort, int seq, int ack, int flags, int window, int payload) {
        boolean has(int mask) {
            return (flags & mask) == mask;
        }
    }

    private final int ip;
    private final long mac;
    private final long targetMac;
    private final int targetIp;
    private final MbufArray one = new MbufArray(1);
    private final UnsafeBuffer frame = new UnsafeBuffer(0, 0);
    private final EthernetFrame eth = new EthernetFrame();
    private final Ipv4Packet ipv4 = new Ipv4Packet();
    private final TcpSegment tcp = new TcpSegment();
    private final ArpPacket arp = new ArpPacket();
    private final Map<Integer, Segment> last = new HashMap<>();
    private final List<Segment> received = new ArrayList<>();
    private int ipId;
    /** Frames the test asked to send that found the pool empty. */
    int allocationFailures;

    RawPeer(Port delegate, int ip, long mac, int targetIp, long targetMac) {
        super(delegate);
        this.ip = ip;
        this.mac = mac;
        this.targetIp = targetIp;
        this.targetMac = targetMac;
    }

    /** The last segment received on {@code localPort}, or null. */
    Segment last(int localPort) {
        return last.get(localPort);
    }

    /** Every segment received so far, oldest first. */
    List<Segment> received() {
        return received;
    }

    /** Sends a segment from {@code localPort} to the target (flags from {@link TcpSegment}); mss 0 = no option. */
    boolean send(int localPort, int remotePort, int seq, int ack, int flags, int window, byte[] payload, int mss) {
        if (!delegate.pool().allocBulk(one, 0, 1)) {
            allocationFailures++;
            return false;
        }
        long m = one.get(0);
        int optionsLength = mss > 0 ? 4 : 0;
        int payloadLength = payload == null ? 0 : payload.length;
        int tcpLength = TcpSegment.MIN_HEADER_LENGTH + optionsLength + payloadLength;
        int ipLength = Ipv4Packet.MIN_HEADER_LENGTH + tcpLength;
        int frameLength = Math.max(60, EthernetFrame.HEADER_LENGTH + ipLength);
        frame.wrap(Mbuf.dataAddress(m), frameLength);
        frame.setMemory(0, frameLength, (byte) 0);
        eth.wrap(frame, 0, frameLength).writeHeader(targetMac, mac, EthernetFrame.ETHERTYPE_IPV4);
        ipv4.wrap(frame, EthernetFrame.HEADER_LENGTH, ipLength)
            .writeHeader(Ipv4Packet.DEFAULT_TTL, Ipv4Packet.PROTOCOL_TCP, ip, targetIp, tcpLength, ipId++ & 0xFFFF);
        int tcpOffset = EthernetFrame.HEADER_LENGTH + Ipv4Packet.MIN_HEADER_LENGTH;
        tcp.wrap(frame, tcpOffset, tcpLength).writeHeader(localPort, remotePort, seq, ack, flags, window, optionsLength);
        int at = tcpOffset + TcpSegment.MIN_HEADER_LENGTH;
        if (mss > 0) {
            at = TcpOptions.writeMss(frame, at, mss);
        }
        if (payloadLength > 0) {
            frame.putBytes(at, payload);
        }
        tcp.fillChecksum(ip, targetIp);
        Mbuf.setLength(m, frameLength);
        if (delegate.transmit(one, 0, 1) != 1) {
            one.freeAll(1);
            return false;
        }
        return true;
    }

    // ------------------------------------------------------------------------------------------ Port

    @Override
    public int receive(MbufArray pkts, int max) {
        int n = delegate.receive(pkts, max);
        int kept = 0;
        for (int i = 0; i < n; i++) {
            long m = pkts.get(i);
            if (take(m)) {
                one.set(0, m);
                one.freeAll(1);
            } else {
                pkts.set(kept++, m);
            }
        }
        return kept;
    }

    /** Whether the frame is the peer's (then it has been handled and the caller frees it). */
    private boolean take(long m) {
        int length = Mbuf.dataLen(m);
        frame.wrap(Mbuf.dataAddress(m), length);
        if (length < EthernetFrame.HEADER_LENGTH) {
            return false;
        }
        eth.wrap(frame, 0, length);
        if (eth.etherType() == EthernetFrame.ETHERTYPE_ARP) {
            arp.wrap(frame, eth.payloadOffset(), eth.payloadLength());
            if (arp.check() != io.fastpath.stack.wire.WireError.OK || arp.targetProtocolAddress() != ip) {
                return false;
            }
            if (arp.operation() == ArpPacket.OPERATION_REQUEST) {
                answerArp(arp.senderHardwareAddress(), arp.senderProtocolAddress());
            }
            return true;
        }
        if (eth.etherType() != EthernetFrame.ETHERTYPE_IPV4) {
            return false;
        }
        ipv4.wrap(frame, eth.payloadOffset(), eth.payloadLength());
        if (ipv4.check() != io.fastpath.stack.wire.WireError.OK || ipv4.destination() != ip) {
            return false;
        }
        if (ipv4.protocol() == Ipv4Packet.PROTOCOL_TCP) {
            tcp.wrap(frame, ipv4.payloadOffset(), ipv4.payloadLength());
            if (tcp.check(ipv4.source(), ip) == io.fastpath.stack.wire.WireError.OK) {
                Segment s = new Segment(tcp.destinationPort(), tcp.sourcePort(), tcp.sequenceNumber(),
                    tcp.acknowledgmentNumber(), tcp.flags(), tcp.window(), tcp.payloadLength());
                last.put(s.localPort(), s);
                received.add(s);
            }
        }
        return true;
    }

    private void answerArp(long askerMac, int askerIp) {
        if (!delegate.pool().allocBulk(one, 0, 1)) {
            allocationFailures++;
            return;
        }
        long r = one.get(0);
        UnsafeBuffer f = new UnsafeBuffer(Mbuf.dataAddress(r), 60);
        f.setMemory(0, 60, (byte) 0);
        EthernetFrame e = new EthernetFrame().wrap(f, 0, 60);
        e.writeHeader(askerMac, mac, EthernetFrame.ETHERTYPE_ARP);
        new ArpPacket().wrap(f, EthernetFrame.HEADER_LENGTH, 60 - EthernetFrame.HEADER_LENGTH)
            .write(ArpPacket.OPERATION_REPLY, mac, ip, askerMac, askerIp);
        Mbuf.setLength(r, 60);
        if (delegate.transmit(one, 0, 1) != 1) {
            one.freeAll(1);
        }
    }

    @Override
    public int transmit(MbufArray pkts, int from, int count) {
        return delegate.transmit(pkts, from, count);
    }

    @Override
    public void close() {
        // The ring pair owns the wrapped port.
    }
}
