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
    /** allocOne (the transmit path's single allocation) gives what allocBulk(scratch, 0, 1, cache) gives. */
    @Test
    void allocOneTakesTheCachesNewestMbufAsAllocBulkDoes() {
        try (PktmbufPool pool = PktmbufPool.create("pooltest5", 255, 32, PktmbufPool.DEFAULT_DATA_ROOM)) {
            Eal.shared().registerThread(); // an lcore, so the pool has a cache for this thread
            long cache = pool.localCache();
            assertNotEquals(0L, cache);
            MbufArray scratch = new MbufArray(1);
            MbufArray held = new MbufArray(255);
            Set<Long> distinct = new HashSet<>();
            for (int i = 0; i < 255; i++) { // through refills of the cache and down to an empty pool
                long m = pool.allocOne(cache, scratch);
                assertNotEquals(0L, m, "allocation " + i);
                assertTrue(distinct.add(m));
                Mbuf.dataLen(m, 100); // dirty it: it must come back reset
                Mbuf.olFlags(m, 1L << 52);
                held.set(i, m);
            }
            assertEquals(0L, pool.allocOne(cache, scratch), "the pool is empty");
            assertEquals(255, pool.inUseCount());
            held.freeAll(255);
            assertEquals(0, pool.inUseCount());
            for (int i = 0; i < 100; i++) {
                long m = pool.allocOne(cache, scratch);
                assertEquals(0, Mbuf.dataLen(m));
                assertEquals(0L, Mbuf.olFlags(m));
                assertEquals(1, Mbuf.nbSegs(m));
                assertEquals(Layouts.PKTMBUF_HEADROOM, Mbuf.dataOff(m));
                scratch.set(0, m);
                scratch.freeAll(1);
                assertTrue(pool.allocBulk(scratch, 0, 1, cache));
                assertEquals(m, scratch.get(0), "the same, newest mbuf of the cache");
                scratch.freeAll(1);
            }
            long noCache = pool.allocOne(0, scratch);
            assertNotEquals(0L, noCache);
            scratch.set(0, noCache);
            scratch.freeAll(1);
            assertEquals(0, pool.inUseCount());
        }
    }
}
