/** DPDK through FFM: EAL, mempools, mbufs, ethdev ports (tap, af_packet, ring pairs). */
module io.fastpath.dpdk {
    exports io.fastpath.dpdk;
}
