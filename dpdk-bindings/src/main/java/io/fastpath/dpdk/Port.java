package io.fastpath.dpdk;

/**
 * One queue pair of an Ethernet port, as the stack sees it: bursts of mbufs in, bursts out.
 *
 * <p>Implementations: {@link EthDevPort} (any DPDK ethdev: net_tap, net_af_packet, ring pairs, real NICs) and
 * decorators over a port (pcap writer, fault injector) in the stack module.
 *
 * <p>Thread: one poll thread calls {@link #receive} and {@link #transmit}; the rest is for set-up and
 * monitoring.
 *
 * <p>Ownership: {@link #receive} hands the caller the received mbufs; {@link #transmit} takes the mbufs it
 * accepted (the PMD frees them once sent) and leaves the rest with the caller.
 */
public interface Port extends AutoCloseable {
    /** The DPDK device name (e.g. {@code net_tap0}). */
    String name();

    /** DPDK port id. */
    int portId();

    /** The port's own MAC address (48 bits in a long, first byte most significant). */
    long macAddress();

    /** The port's MTU (IP bytes per frame). */
    int mtu();

    /** {@code RTE_ETH_TX_OFFLOAD_*} capabilities the port advertises. */
    long txOffloadCapabilities();

    /** {@code RTE_ETH_RX_OFFLOAD_*} capabilities the port advertises. */
    long rxOffloadCapabilities();

    /**
     * {@code RTE_ETH_TX_OFFLOAD_*} offloads enabled on this port: a frame may ask for them through its mbuf's
     * {@code ol_flags}. Decorators that look at or change frames (capture, fault injection) report none, so
     * what they see is what goes on the wire.
     */
    default long txOffloads() {
        return 0;
    }

    /**
     * Mbufs of its pool the port itself may hold at once: receive descriptors filled ahead of traffic and
     * transmit descriptors not yet completed. The stack keeps them out of TCP's memory budget.
     */
    default int descriptorMbufs() {
        return 0;
    }

    /** The pool the port receives into; the stack allocates transmit mbufs from it too. */
    PktmbufPool pool();

    /** Receives up to {@code max} frames into {@code pkts[0..n)}; returns n. */
    int receive(MbufArray pkts, int max);

    /** Offers {@code pkts[from..from+count)} for transmission; returns how many the port took. */
    int transmit(MbufArray pkts, int from, int count);

    /** Fills {@code into} with the port's counters and returns it. */
    PortStats stats(PortStats into);

    /** Whether the link is up. */
    boolean linkUp();

    /** Stops the port and releases it (and its device, when the port created one). */
    @Override
    void close();
}
