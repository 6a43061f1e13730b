package io.fastpath.dpdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class PktmbufPoolTest {
    @Test
    void allocatedMbufsAreResetAndReturnToThePool() {
        try (PktmbufPool pool = PktmbufPool.create("pooltest1", 511, 0, PktmbufPool.DEFAULT_DATA_ROOM)) {
            int before = pool.availableCount();
            assertEquals(511, before);
            MbufArray array = new MbufArray(64);
            assertTrue(pool.allocBulk(array, 0, 32));
            assertTrue(pool.allocBulk(array, 32, 32));
            assertEquals(before - 64, pool.availableCount());
            assertEquals(64, pool.inUseCount());
            Set<Long> distinct = new HashSet<>();
            for (int i = 0; i < 64; i++) {
                long m = array.get(i);
                assertNotEquals(0L, m);
                distinct.add(m);
                assertEquals(0, Mbuf.dataLen(m));
                assertEquals(0, Mbuf.pktLen(m));
                assertEquals(1, Mbuf.nbSegs(m));
                assertEquals(1, Mbuf.refcnt(m));
                assertEquals(0L, Mbuf.next(m));
                assertEquals(Layouts.PKTMBUF_HEADROOM, Mbuf.dataOff(m));
                assertEquals(PktmbufPool.DEFAULT_DATA_ROOM, Mbuf.bufLen(m));
                assertEquals(pool.address().address(), Mbuf.pool(m));
                assertEquals(2048, Mbuf.tailroom(m));
            }
            assertEquals(64, distinct.size());
            array.freeRange(32, 32);
            array.freeAll(32);
            assertEquals(before, pool.availableCount());
            assertEquals(0, pool.inUseCount());
        }
    }

    @Test
    void exhaustedPoolAllocatesNothing() {
        try (PktmbufPool pool = PktmbufPool.create("pooltest2", 63, 0, PktmbufPool.DEFAULT_DATA_ROOM)) {
            MbufArray array = new MbufArray(128);
            assertFalse(pool.allocBulk(array, 0, 64), "63 mbufs cannot satisfy 64");
            assertEquals(63, pool.availableCount(), "all or nothing");
            assertTrue(pool.allocBulk(array, 0, 63));
            assertFalse(pool.allocBulk(array, 63, 1));
            array.freeAll(63);
            assertEquals(63, pool.availableCount());
        }
    }

    @Test
    void chainsAreFreedWhole() {
        try (PktmbufPool pool = PktmbufPool.create("pooltest3", 127, 0, PktmbufPool.DEFAULT_DATA_ROOM)) {
            MbufArray array = new MbufArray(4);
            assertTrue(pool.allocBulk(array, 0, 3));
            long head = array.get(0);
            Mbuf.next(head, array.get(1));
            Mbuf.next(array.get(1), array.get(2));
            Mbuf.nbSegs(head, 3);
            array.freeAll(1);
            assertEquals(127, pool.availableCount());
        }
    }

    @Test
    void duplicatePoolNameFailsWithDpdkReason() {
        try (PktmbufPool pool = PktmbufPool.create("pooltest4", 63, 0, PktmbufPool.DEFAULT_DATA_ROOM)) {
            DpdkException e = assertThrows(DpdkException.class,
                () -> PktmbufPool.create("pooltest4", 63, 0, PktmbufPool.DEFAULT_DATA_ROOM));
            assertTrue(e.getMessage().contains("pooltest4"), e.getMessage());
            assertEquals(17, e.errno(), "EEXIST: " + e.getMessage());
            assertEquals(63, pool.availableCount());
        }
    }
}
