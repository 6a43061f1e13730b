package io.fastpath.dpdk;

/** A reusable holder for {@code struct rte_eth_stats}' basic counters. */
public final class PortStats {
    public long ipackets;
    public long opackets;
    public long ibytes;
    public long obytes;
    public long imissed;
    public long ierrors;
    public long oerrors;
    public long rxNombuf;

    @Override
    public String toString() {
        return "ipackets=" + ipackets + " opackets=" + opackets + " ibytes=" + ibytes + " obytes=" + obytes
            + " imissed=" + imissed + " ierrors=" + ierrors + " oerrors=" + oerrors + " rx_nombuf=" + rxNombuf;
    }
}
