package io.fastpath.stack.tcp;

import io.fastpath.dpdk.Mbuf;
import io.fastpath.dpdk.MbufArray;
import io.fastpath.dpdk.Port;
import io.fastpath.stack.device.PortDecorator;
import io.fastpath.stack.wire.EthernetFrame;
import io.fastpath.stack.wire.IcmpPacket;
import io.fastpath.stack.wire.Ipv4Packet;
import java.util.ArrayDeque;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * A router on the way out of a stack whose next hop has a smaller MTU (RFC 1191 §4): IPv4 datagrams larger
 * than {@code mtu} with DF set are not forwarded; the router answers each with ICMP "fragmentation needed"
 * quoting the datagram's header and first 8 bytes, which the stack then reads from this port. With
 * {@code reportMtu} false it drops silently (a black hole, as a filtering firewall makes). Test thread only.
 */
final class MtuLimitedPath extends PortDecorator {
    private static final int ROUTER_IP = io.fastpath.stack.wire.Ipv4Address.parse("10.21.0.254");
    private static final long ROUTER_MAC = 0x02_00_00_00_00_FEL;
    private final int mtu;
    private final boolean reportMtu;
    private final ArrayDeque<Long> toStack = new ArrayDeque<>();
    private final MbufArray one = new MbufArray(1);
    private final UnsafeBuffer frame = new UnsafeBuffer(0, 0);
    private final MbufArray rest = new MbufArray(64);
    int dropped;

    MtuLimitedPath(Port delegate, int mtu, boolean reportMtu) {
        super(delegate);
        this.mtu = mtu;
        this.reportMtu = reportMtu;
    }

    @Override
    public int transmit(MbufArray pkts, int from, int count) {
        int sent = 0;
        for (int i = from; i < from + count; i++) {
            long m = pkts.get(i);
            frame.wrap(Mbuf.dataAddress(m), Mbuf.dataLen(m));
            int ipLength = frame.getShort(EthernetFrame.HEADER_LENGTH + 2, java.nio.ByteOrder.BIG_ENDIAN) & 0xFFFF;
            boolean ipv4 = (frame.getShort(12, java.nio.ByteOrder.BIG_ENDIAN) & 0xFFFF) == EthernetFrame.ETHERTYPE_IPV4;
            if (ipv4 && ipLength > mtu) {
                dropped++;
                if (reportMtu) {
                    reply(frame);
                }
                one.set(0, m);
                one.freeAll(1);
            } else {
                one.set(0, m);
                if (delegate.transmit(one, 0, 1) != 1) {
                    one.freeAll(1);
                }
            }
            sent++;
        }
        return sent;
    }

    /**
     * Queues, for the stack, an ICMP "fragmentation needed" quoting a TCP segment the stack never sent (a blind
     * attacker's guess): from {@code stackIp}:{@code localPort} to {@code remoteIp}:{@code remotePort}, {@code seq}.
     */
    void forge(long stackMac, int stackIp, int localPort, int remoteIp, int remotePort, int seq) {
        UnsafeBuffer fake = new UnsafeBuffer(new byte[EthernetFrame.HEADER_LENGTH + 60]);
        fake.putLong(6, stackMac << 16, java.nio.ByteOrder.BIG_ENDIAN);
        new Ipv4Packet().wrap(fake, EthernetFrame.HEADER_LENGTH, 60)
            .writeHeader(Ipv4Packet.DEFAULT_TTL, Ipv4Packet.PROTOCOL_TCP, stackIp, remoteIp, 1440, 7);
        int tcp = EthernetFrame.HEADER_LENGTH + Ipv4Packet.MIN_HEADER_LENGTH;
        fake.putShort(tcp, (short) localPort, java.nio.ByteOrder.BIG_ENDIAN);
        fake.putShort(tcp + 2, (short) remotePort, java.nio.ByteOrder.BIG_ENDIAN);
        fake.putInt(tcp + 4, seq, java.nio.ByteOrder.BIG_ENDIAN);
        reply(fake);
    }

    /** ICMP type 3 code 4 from the router to the datagram's source, quoting its IP header and 8 bytes. */
    private void reply(UnsafeBuffer frame) {
        if (!delegate.pool().allocBulk(one, 0, 1)) {
            return;
        }
        long r = one.get(0);
        int ihl = (frame.getByte(EthernetFrame.HEADER_LENGTH) & 0x0F) * 4;
        int quoted = ihl + 8;
        int icmpLength = IcmpPacket.HEADER_LENGTH + quoted;
        int ipLength = Ipv4Packet.MIN_HEADER_LENGTH + icmpLength;
        int frameLength = Math.max(60, EthernetFrame.HEADER_LENGTH + ipLength);
        UnsafeBuffer f = new UnsafeBuffer(Mbuf.dataAddress(r), frameLength);
        f.setMemory(0, frameLength, (byte) 0);
        long stackMac = frame.getLong(6, java.nio.ByteOrder.BIG_ENDIAN) >>> 16;
        int stackIp = frame.getInt(EthernetFrame.HEADER_LENGTH + 12, java.nio.ByteOrder.BIG_ENDIAN);
        new EthernetFrame().wrap(f, 0, frameLength).writeHeader(stackMac, ROUTER_MAC, EthernetFrame.ETHERTYPE_IPV4);
        new Ipv4Packet().wrap(f, EthernetFrame.HEADER_LENGTH, ipLength)
            .writeHeader(Ipv4Packet.DEFAULT_TTL, Ipv4Packet.PROTOCOL_ICMP, ROUTER_IP, stackIp, icmpLength, 1);
        IcmpPacket icmp = new IcmpPacket().wrap(f, EthernetFrame.HEADER_LENGTH + Ipv4Packet.MIN_HEADER_LENGTH,
            icmpLength);
        icmp.type(IcmpPacket.TYPE_DESTINATION_UNREACHABLE).code(IcmpPacket.CODE_FRAGMENTATION_NEEDED)
            .restOfHeader(mtu & 0xFFFF);
        f.putBytes(icmp.payloadOffset(), frame, EthernetFrame.HEADER_LENGTH, quoted);
        icmp.fillChecksum();
        Mbuf.setLength(r, frameLength);
        toStack.add(r);
    }

    @Override
    public int receive(MbufArray pkts, int max) {
        int n = 0;
        while (n < max && !toStack.isEmpty()) {
            pkts.set(n++, toStack.poll());
        }
        if (n < max) {
            int k = delegate.receive(rest, Math.min(64, max - n));
            for (int i = 0; i < k; i++) {
                pkts.set(n++, rest.get(i));
            }
        }
        return n;
    }

    /** Frees what the stack never read (call before closing the ring pair). */
    void drain() {
        while (!toStack.isEmpty()) {
            one.set(0, toStack.poll());
            one.freeAll(1);
        }
    }

    @Override
    public void close() {
        drain();
    }
}
