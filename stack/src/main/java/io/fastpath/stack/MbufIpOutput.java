package io.fastpath.stack;

import io.fastpath.dpdk.Layouts;
import io.fastpath.dpdk.Mbuf;
import io.fastpath.dpdk.Port;
import io.fastpath.stack.counters.Budget;
import io.fastpath.stack.counters.StackCounters;
import io.fastpath.stack.ip.IpOutput;
import io.fastpath.stack.ip.Routes;
import io.fastpath.stack.wire.Checksum;
import io.fastpath.stack.wire.EthernetFrame;
import io.fastpath.stack.wire.Ipv4Packet;
import io.fastpath.stack.wire.TcpSegment;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The stack's IPv4 output for TCP, over DPDK mbufs: a segment is written after room for the Ethernet and IPv4
 * headers, which this class writes in front of it with the checksums (in software, or as transmit offload
 * flags where the port computes them). Poll thread only; buffers come from and return to the port's pool.
 */
final class MbufIpOutput implements IpOutput {
    private static final int HEADERS = EthernetFrame.HEADER_LENGTH + Ipv4Packet.MIN_HEADER_LENGTH;
    private static final int MIN_FRAME = 60;
    private static final long TX_TCP_CKSUM = 1L << 52;
    private static final long TX_IP_CKSUM = 1L << 54;
    private static final long TX_IPV4 = 1L << 55;

    private final Stack stack;
    private final Port port;
    private final Routes routes;
    private final StackCounters counters;
    private final long mac;
    private final int address;
    private final int mtu;
    private final UnsafeBuffer out = new UnsafeBuffer(0, 0);
    private final EthernetFrame eth = new EthernetFrame();
    private final Ipv4Packet ip = new Ipv4Packet();
    private final TcpSegment seg = new TcpSegment();
    private int ipId;

    MbufIpOutput(Stack stack, Port port, Routes routes, StackCounters counters, long mac, int address, int mtu) {
        this.stack = stack;
        this.port = port;
        this.routes = routes;
        this.counters = counters;
        this.mac = mac;
        this.address = address;
        this.mtu = mtu;
    }

    @Override
    public long allocate() {
        return stack.allocate();
    }

    @Override
    public void free(long m) {
        stack.free(m);
    }

    @Override
    public long dataAddress(long m) {
        return Mbuf.dataAddress(m);
    }

    @Override
    public void retain(long m) {
        Mbuf.refcnt(m, Mbuf.refcnt(m) + 1);
    }

    @Override
    public void unretain(long m) {
        Mbuf.refcnt(m, Mbuf.refcnt(m) - 1);
    }

    @Override
    public long segmentAddress(long m) {
        return Mbuf.dataAddress(m) + HEADERS;
    }

    @Override
    public void transmitTcp(long m, int source, int destination, int segmentLength) {
        if (Budget.ENABLED) {
            stack.budget().mark(Budget.BUILT);
        }
        int nextHop = routes.nextHop(destination);
        if (nextHop == Routes.NO_ROUTE) {
            counters.noRoute.incrementRelease();
            free(m);
            return;
        }
        // The neighbour first, so that the Ethernet header is written once, with it (-1: not known yet; the frame
        // then waits for ARP, which writes the destination when the answer comes).
        long neighbour = stack.neighbour(nextHop);
        int frameLength = HEADERS + segmentLength;
        out.wrap(Mbuf.dataAddress(m), Math.max(frameLength, MIN_FRAME));
        eth.wrap(out, 0, frameLength);
        eth.writeHeader(neighbour >= 0 ? neighbour : 0L, mac, EthernetFrame.ETHERTYPE_IPV4);
        ip.wrap(out, EthernetFrame.HEADER_LENGTH, frameLength - EthernetFrame.HEADER_LENGTH);
        ip.writeHeader(Ipv4Packet.DEFAULT_TTL, Ipv4Packet.PROTOCOL_TCP, source, destination, segmentLength,
            ipId++ & 0xFFFF);
        seg.wrap(out, HEADERS, segmentLength);
        if (txChecksumOffload()) {
            // The port computes both checksums: the IP one from zero, the TCP one from the pseudo-header sum.
            ip.headerChecksum(0);
            seg.checksum(Checksum.pseudoHeaderSum(source, destination, Ipv4Packet.PROTOCOL_TCP, segmentLength));
            Mbuf.olFlags(m, TX_IPV4 | TX_IP_CKSUM | TX_TCP_CKSUM);
            Mbuf.txOffload(m, EthernetFrame.HEADER_LENGTH, Ipv4Packet.MIN_HEADER_LENGTH, seg.headerLength());
        } else {
            seg.fillChecksum(source, destination);
        }
        stack.setFrameLength(m, frameLength);
        if (Budget.ENABLED) {
            stack.budget().mark(Budget.FRAME);
        }
        if (neighbour >= 0) {
            stack.transmit(m);
        } else {
            stack.sendOnceResolved(m, nextHop);
        }
    }

    /** Whether frames may ask the port to compute IPv4 and TCP checksums (RTE_ETH_TX_OFFLOAD_*_CKSUM). */
    private boolean txChecksumOffload() {
        long both = Layouts.TX_OFFLOAD_IPV4_CKSUM | Layouts.TX_OFFLOAD_TCP_CKSUM;
        return (port.txOffloads() & both) == both;
    }

    @Override
    public boolean canTransmit() {
        return stack.canTransmit();
    }

    @Override
    public int nextHop(int destination) {
        return routes.nextHop(destination);
    }

    @Override
    public int address() {
        return address;
    }

    @Override
    public int mtu() {
        return mtu;
    }

    @Override
    public StackCounters counters() {
        return counters;
    }
}
