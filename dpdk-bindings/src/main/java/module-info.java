/**
 * DPDK through FFM: EAL, mempools, mbufs, ethdev ports (tap, af_packet, ring pairs); and the few C library calls
 * the stack needs ({@code io.fastpath.libc}: memcpy), kept apart so that TCP imports nothing of DPDK.
 */
module io.fastpath.dpdk {
    exports io.fastpath.dpdk;
    exports io.fastpath.libc;
}
