/**
 * DPDK through FFM: EAL, mempools, mbufs, ethdev ports (tap, af_packet, ring pairs); and the few C library calls
 * the stack needs ({@code io.fastpath.libc}: memcpy) and its clock ({@code io.fastpath.clock}: an Agrona
 * {@code NanoClock} on the TSC), kept apart so that TCP imports nothing of DPDK.
 */
module io.fastpath.dpdk {
    requires transitive org.agrona; // TscNanoClock is an Agrona NanoClock

    exports io.fastpath.clock;
    exports io.fastpath.dpdk;
    exports io.fastpath.libc;
}
