package io.fastpath.dpdk;

import static io.fastpath.dpdk.Layouts.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link Mbuf#reset} (a few wide stores) leaves every byte of the header as the field-by-field
 * {@code rte_pktmbuf_reset} it replaced does, over random headers: with the pool's precondition (reference count 1),
 * any other field dirty or clean, {@code next} and {@code tx_offload} set or zero, the external-buffer flag set or not,
 * buffers shorter than the headroom.
 */
class MbufResetTest {
    /** The reset as it was written before (one store per field, as rte_pktmbuf_reset). */
    private static void referenceReset(MemorySegment h) {
        h.set(ValueLayout.JAVA_LONG_UNALIGNED, MBUF_NEXT, 0L);
        h.set(ValueLayout.JAVA_INT_UNALIGNED, MBUF_PKT_LEN, 0);
        h.set(ValueLayout.JAVA_LONG_UNALIGNED, MBUF_TX_OFFLOAD, 0L);
        h.set(ValueLayout.JAVA_SHORT_UNALIGNED, MBUF_VLAN_TCI, (short) 0);
        h.set(ValueLayout.JAVA_SHORT_UNALIGNED, MBUF_VLAN_TCI_OUTER, (short) 0);
        h.set(ValueLayout.JAVA_SHORT_UNALIGNED, MBUF_NB_SEGS, (short) 1);
        h.set(ValueLayout.JAVA_SHORT_UNALIGNED, MBUF_PORT, (short) Mbuf.PORT_INVALID);
        h.set(ValueLayout.JAVA_LONG_UNALIGNED, MBUF_OL_FLAGS,
            h.get(ValueLayout.JAVA_LONG_UNALIGNED, MBUF_OL_FLAGS) & MBUF_F_EXTERNAL);
        h.set(ValueLayout.JAVA_INT_UNALIGNED, MBUF_PACKET_TYPE, 0);
        int bufLen = Short.toUnsignedInt(h.get(ValueLayout.JAVA_SHORT_UNALIGNED, MBUF_BUF_LEN));
        h.set(ValueLayout.JAVA_SHORT_UNALIGNED, MBUF_DATA_OFF, (short) Math.min((int) PKTMBUF_HEADROOM, bufLen));
        h.set(ValueLayout.JAVA_SHORT_UNALIGNED, MBUF_DATA_LEN, (short) 0);
    }

    @Test
    void resetLeavesTheHeaderAsTheFieldByFieldResetDoes() {
        Random random = new Random(1307);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment a = arena.allocate(MBUF_SIZE, 64);
            MemorySegment b = arena.allocate(MBUF_SIZE, 64);
            byte[] bytes = new byte[(int) MBUF_SIZE];
            for (int round = 0; round < 100_000; round++) {
                random.nextBytes(bytes);
                MemorySegment.copy(bytes, 0, a, ValueLayout.JAVA_BYTE, 0, bytes.length);
                a.set(ValueLayout.JAVA_SHORT_UNALIGNED, MBUF_REFCNT, (short) 1); // what the pool hands out
                long flags = a.get(ValueLayout.JAVA_LONG_UNALIGNED, MBUF_OL_FLAGS);
                a.set(ValueLayout.JAVA_LONG_UNALIGNED, MBUF_OL_FLAGS,
                    random.nextBoolean() ? flags | MBUF_F_EXTERNAL : flags & ~MBUF_F_EXTERNAL);
                if (random.nextBoolean()) {
                    a.set(ValueLayout.JAVA_LONG_UNALIGNED, MBUF_NEXT, 0L); // as every freed mbuf has it
                }
                if (random.nextBoolean()) {
                    a.set(ValueLayout.JAVA_LONG_UNALIGNED, MBUF_TX_OFFLOAD, 0L);
                }
                if (random.nextInt(8) == 0) {
                    a.set(ValueLayout.JAVA_SHORT_UNALIGNED, MBUF_BUF_LEN, (short) random.nextInt(200));
                }
                MemorySegment.copy(a, 0, b, 0, MBUF_SIZE);
                referenceReset(a);
                Mbuf.reset(b.address());
                assertArrayEquals(a.toArray(ValueLayout.JAVA_BYTE), b.toArray(ValueLayout.JAVA_BYTE), "round " + round);
            }
        }
    }
}
