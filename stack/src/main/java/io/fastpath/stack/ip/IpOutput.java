package io.fastpath.stack.ip;

import io.fastpath.stack.counters.StackCounters;

/**
 * What a transport (TCP) needs from the IPv4 layer below it: packet memory, routing facts, and sending a
 * segment. Implemented over DPDK mbufs by the stack, and over plain native memory by the device-free test rig.
 *
 * <p>Transmit: the transport takes a buffer from {@link #allocate}, writes its segment (header and payload,
 * checksum field left to this layer) at {@link #segmentAddress}, where room for the IPv4 and link headers is
 * reserved in front, and hands it to {@link #transmitTcp}, which writes the IPv4 and Ethernet headers, the TCP
 * checksum (or asks the port to compute it) and sends it. Poll thread only.
 */
public interface IpOutput extends PacketMemory {
    /** Where a segment starts in a buffer from {@link #allocate} (the headers below are written in front of it). */
    long segmentAddress(long buffer);

    /**
     * Sends the TCP segment of {@code segmentLength} bytes at {@link #segmentAddress} from {@code source} to
     * {@code destination}: fills the TCP checksum, adds the IPv4 and Ethernet headers, resolves the next hop
     * (parking the frame while ARP works) and consumes the buffer.
     */
    void transmitTcp(long buffer, int source, int destination, int segmentLength);

    /** Whether a segment can be transmitted now without being dropped (false: try again next duty cycle). */
    default boolean canTransmit() {
        return true;
    }

    /** Routes.NO_ROUTE (0) when {@code destination} is unreachable. */
    int nextHop(int destination);

    /** Our IPv4 address. */
    int address();

    /** The link MTU: the most bytes of IPv4 datagram one frame carries. */
    int mtu();

    StackCounters counters();
}
