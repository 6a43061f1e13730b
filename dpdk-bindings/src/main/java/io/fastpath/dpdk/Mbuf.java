package io.fastpath.dpdk;

import static io.fastpath.dpdk.Layouts.*;
import static io.fastpath.dpdk.Native.ALL;

import java.lang.foreign.ValueLayout;

/**
 * Field access to {@code struct rte_mbuf} by address. An mbuf is a {@code long}: its address. Every method
 * is a single load or store at a verified offset ({@link Layouts}); nothing allocates.
 *
 * <p>Ownership is the caller's business: whoever holds an mbuf address must free it exactly once (through
 * {@link MbufArray#freeAll} or the PMD's transmit) or hand it on.
 */
public final class Mbuf {
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED;
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED;

    /** {@code RTE_MBUF_PORT_INVALID}. */
    public static final int PORT_INVALID = 0xFFFF;

    private Mbuf() {
    }

    /** Address of the buffer the mbuf describes. */
    public static long bufAddr(long m) {
        return ALL.get(LONG, m + MBUF_BUF_ADDR);
    }

    public static int dataOff(long m) {
        return Short.toUnsignedInt(ALL.get(SHORT, m + MBUF_DATA_OFF));
    }

    public static void dataOff(long m, int off) {
        ALL.set(SHORT, m + MBUF_DATA_OFF, (short) off);
    }

    /**
     * Loads one byte of each of {@code lines} cache lines from {@code address} on and returns their sum (the
     * caller keeps it somewhere, or the JIT drops the loads). The loads do not depend on one another, so the
     * CPU has all the misses in flight at once: a poor man's prefetch (Java has none). Only for memory that is
     * mapped, e.g. inside an mbuf the caller holds.
     */
    public static long touchLines(long address, int lines) {
        long sum = 0;
        for (int i = 0; i < lines; i++) {
            sum += ALL.get(ValueLayout.JAVA_BYTE, address + ((long) i << 6));
        }
        return sum;
    }

    /** Address of the first data byte of this segment: {@code buf_addr + data_off}. */
    public static long dataAddress(long m) {
        return bufAddr(m) + dataOff(m);
    }

    /** Bytes of data in this segment. */
    public static int dataLen(long m) {
        return Short.toUnsignedInt(ALL.get(SHORT, m + MBUF_DATA_LEN));
    }

    public static void dataLen(long m, int len) {
        ALL.set(SHORT, m + MBUF_DATA_LEN, (short) len);
    }

    /** Bytes of data in the whole chain (valid in the first segment). */
    public static int pktLen(long m) {
        return ALL.get(INT, m + MBUF_PKT_LEN);
    }

    public static void pktLen(long m, int len) {
        ALL.set(INT, m + MBUF_PKT_LEN, len);
    }

    /** Total buffer size, headroom included. */
    public static int bufLen(long m) {
        return Short.toUnsignedInt(ALL.get(SHORT, m + MBUF_BUF_LEN));
    }

    public static int nbSegs(long m) {
        return Short.toUnsignedInt(ALL.get(SHORT, m + MBUF_NB_SEGS));
    }

    public static void nbSegs(long m, int n) {
        ALL.set(SHORT, m + MBUF_NB_SEGS, (short) n);
    }

    public static int refcnt(long m) {
        return Short.toUnsignedInt(ALL.get(SHORT, m + MBUF_REFCNT));
    }

    /**
     * Sets the reference count. Only for an mbuf the caller alone holds (e.g. a received one about to back
     * two views); {@code rte_pktmbuf_free_bulk} then frees it when the last reference goes.
     */
    public static void refcnt(long m, int count) {
        ALL.set(SHORT, m + MBUF_REFCNT, (short) count);
    }

    public static int port(long m) {
        return Short.toUnsignedInt(ALL.get(SHORT, m + MBUF_PORT));
    }

    public static void port(long m, int port) {
        ALL.set(SHORT, m + MBUF_PORT, (short) port);
    }

    public static long olFlags(long m) {
        return ALL.get(LONG, m + MBUF_OL_FLAGS);
    }

    public static void olFlags(long m, long flags) {
        ALL.set(LONG, m + MBUF_OL_FLAGS, flags);
    }

    public static int packetType(long m) {
        return ALL.get(INT, m + MBUF_PACKET_TYPE);
    }

    /** Next segment of the chain, 0 at the end. */
    public static long next(long m) {
        return ALL.get(LONG, m + MBUF_NEXT);
    }

    public static void next(long m, long next) {
        ALL.set(LONG, m + MBUF_NEXT, next);
    }

    /** Sets {@code tx_offload}: l2_len (7 bits), l3_len (9 bits), l4_len (8 bits) for checksum offload. */
    public static void txOffload(long m, int l2Length, int l3Length, int l4Length) {
        ALL.set(LONG, m + MBUF_TX_OFFLOAD, (l2Length & 0x7FL) | ((l3Length & 0x1FFL) << 7)
            | ((l4Length & 0xFFL) << 16));
    }

    /** The mempool this mbuf belongs to. */
    public static long pool(long m) {
        return ALL.get(LONG, m + MBUF_POOL);
    }

    /** Room after the data in this segment. */
    public static int tailroom(long m) {
        return bufLen(m) - dataOff(m) - dataLen(m);
    }

    /** Room before the data in this segment. */
    public static int headroom(long m) {
        return dataOff(m);
    }

    /**
     * Sets a single-segment mbuf's data to {@code len} bytes (data_len and pkt_len); the caller has checked
     * that it fits ({@code len <= dataOff + tailroom}).
     */
    public static void setLength(long m, int len) {
        dataLen(m, len);
        pktLen(m, len);
    }

    /**
     * What {@code rte_pktmbuf_reset} does: an mbuf fresh from the pool, empty, one segment, headroom
     * {@code RTE_PKTMBUF_HEADROOM} (or the whole buffer if smaller).
     *
     * <p>In as few stores as the layout allows, as DPDK's receive paths rearm an mbuf: {@code data_off},
     * {@code refcnt}, {@code nb_segs} and {@code port} ({@code rearm_data}) in one 8-byte store, with the
     * reference count 1 every mbuf the pool hands out has ({@code rte_pktmbuf_prefree_seg} sets it before an mbuf
     * goes back); {@code packet_type} and {@code pkt_len} in one, {@code data_len} and {@code vlan_tci} in one.
     * {@code next} and {@code tx_offload}, the fields it resets on the header's second cache line, are written
     * only when they are not zero already (a freed mbuf's {@code next} always is): a frame that asks no offload
     * then leaves that line unwritten, and a receiver on another CPU that read it keeps its copy.
     */
    public static void reset(long m) {
        ALL.set(LONG, m + MBUF_DATA_OFF, REARM_BASE | Math.min((int) PKTMBUF_HEADROOM, bufLen(m)));
        ALL.set(LONG, m + MBUF_PACKET_TYPE, 0L);
        ALL.set(INT, m + MBUF_DATA_LEN, 0);
        ALL.set(SHORT, m + MBUF_VLAN_TCI_OUTER, (short) 0);
        ALL.set(LONG, m + MBUF_OL_FLAGS, ALL.get(LONG, m + MBUF_OL_FLAGS) & MBUF_F_EXTERNAL);
        if (ALL.get(LONG, m + MBUF_NEXT) != 0L) {
            ALL.set(LONG, m + MBUF_NEXT, 0L);
        }
        if (ALL.get(LONG, m + MBUF_TX_OFFLOAD) != 0L) {
            ALL.set(LONG, m + MBUF_TX_OFFLOAD, 0L);
        }
    }

    /**
     * {@code rearm_data} with {@code data_off} 0: refcnt 1, nb_segs 1, port invalid, each at its offset from
     * {@code data_off} in the native byte order. The fields are 16 bits each and {@code pkt_len} follows
     * {@code packet_type}, {@code vlan_tci} {@code data_len}, as {@link Layouts} (probed against DPDK) says;
     * the class refuses to load otherwise.
     */
    private static final long REARM_BASE = rearmBase();

    private static long rearmBase() {
        if (MBUF_REFCNT != MBUF_DATA_OFF + 2 || MBUF_NB_SEGS != MBUF_DATA_OFF + 4 || MBUF_PORT != MBUF_DATA_OFF + 6
            || MBUF_PKT_LEN != MBUF_PACKET_TYPE + 4 || MBUF_VLAN_TCI != MBUF_DATA_LEN + 2) {
            throw new ExceptionInInitializerError("struct rte_mbuf: rearm_data or rx_descriptor_fields1 moved");
        }
        if (java.nio.ByteOrder.nativeOrder() != java.nio.ByteOrder.LITTLE_ENDIAN) {
            throw new ExceptionInInitializerError("Mbuf.reset assumes a little-endian host");
        }
        return (1L << 16) | (1L << 32) | ((long) PORT_INVALID << 48);
    }
}
