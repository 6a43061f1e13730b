package io.fastpath.stack.tcp;

import io.fastpath.stack.counters.StackCounters;

/** What TCP needs from the IP layer below it (implemented by the Stack; poll thread). */
public interface IpOutput {
    /** A fresh mbuf from the port's pool, or 0 when the pool is empty. */
    long allocate();

    /**
     * Sends a complete Ethernet/IPv4 frame whose Ethernet destination is still to be filled: the IP layer
     * resolves the next hop towards {@code destination} and fills it, parking the frame while ARP works.
     */
    void transmit(long mbuf, int destination);

    void free(long mbuf);

    /** Whether a frame can be transmitted now without being dropped (false: try again next duty cycle). */
    default boolean canTransmit() {
        return true;
    }

    /** Routes.NO_ROUTE (0) when {@code destination} is unreachable. */
    int nextHop(int destination);

    long mac();

    int address();

    int mtu();

    /** Whether frames may ask the port to compute IPv4 and TCP checksums (RTE_ETH_TX_OFFLOAD_*_CKSUM). */
    boolean txChecksumOffload();

    StackCounters counters();
}
