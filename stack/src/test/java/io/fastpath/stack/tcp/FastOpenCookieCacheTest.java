package io.fastpath.stack.tcp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.util.Arrays;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

/** The client's Fast Open cookie cache: bounded, least recently used out, no allocation per cookie. */
class FastOpenCookieCacheTest {
    private final UnsafeBuffer option = new UnsafeBuffer(new byte[32]);
    private final byte[] out = new byte[16];

    private void cookie(int first, int length) {
        for (int i = 0; i < length; i++) {
            option.putByte(4 + i, (byte) (first + i));
        }
    }

    @Test
    void aCookieComesBackAsItWasCached() {
        FastOpenCookieCache cache = new FastOpenCookieCache(16);
        cookie(7, 8);
        cache.put(0x0A000001, option, 4, 8);
        assertTrue(cache.contains(0x0A000001));
        assertEquals(8, cache.length(0x0A000001));
        assertEquals(8, cache.copy(0x0A000001, out));
        assertArrayEquals(new byte[] {7, 8, 9, 10, 11, 12, 13, 14}, Arrays.copyOf(out, 8));
        assertFalse(cache.contains(0x0A000002));
        assertEquals(-1, cache.copy(0x0A000002, out));
        assertEquals(-1, cache.length(0x0A000002));
    }

    @Test
    void aNewCookieFromTheSameServerReplacesTheOldOneInPlace() {
        FastOpenCookieCache cache = new FastOpenCookieCache(16);
        for (int i = 0; i < 1000; i++) {
            cookie(i, 4 + 2 * (i % 7));
            cache.put(0x0A000001, option, 4, 4 + 2 * (i % 7));
        }
        assertEquals(1, cache.size());
        assertEquals(4 + 2 * (999 % 7), cache.copy(0x0A000001, out));
        assertEquals((byte) 999, out[0]);
    }

    @Test
    void manyServersNeverGrowItBeyondItsCapacity() {
        FastOpenCookieCache cache = new FastOpenCookieCache(1024);
        cookie(1, 16);
        for (int server = 1; server <= 100_000; server++) {
            cache.put(server, option, 4, 16);
        }
        assertEquals(1024, cache.size());
        // The most recent servers are the ones kept (each set keeps its last four).
        int kept = 0;
        for (int server = 100_000 - 255; server <= 100_000; server++) {
            kept += cache.contains(server) ? 1 : 0;
        }
        assertTrue(kept > 200, "recent servers kept: " + kept);
    }

    @Test
    void theLeastRecentlyUsedServerOfAFullSetGoesFirst() {
        FastOpenCookieCache cache = new FastOpenCookieCache(4); // one set of four ways
        cookie(1, 8);
        for (int server = 1; server <= 4; server++) {
            cache.put(server, option, 4, 8);
        }
        cache.copy(1, out); // server 1 used again: server 2 is now the oldest
        cache.put(5, option, 4, 8);
        assertTrue(cache.contains(1));
        assertFalse(cache.contains(2));
        assertTrue(cache.contains(5));
        assertEquals(4, cache.size());
    }

    @Test
    void nonsenseIsIgnored() {
        FastOpenCookieCache cache = new FastOpenCookieCache(16);
        cache.put(0, option, 4, 8);
        cache.put(1, option, 4, 0);
        cache.put(1, option, 4, 17);
        assertEquals(0, cache.size());
        assertFalse(cache.contains(0));
        assertThrows(IllegalArgumentException.class, () -> new FastOpenCookieCache(6));
        assertThrows(IllegalArgumentException.class, () -> new FastOpenCookieCache(2));
    }

    @Test
    void cachingAndReadingAllocateNothing() {
        FastOpenCookieCache cache = new FastOpenCookieCache(1024);
        cookie(3, 12);
        com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        // Warm up, then measure rounds until one allocated nothing: an allocating cache allocates in every round
        // (a byte[] per cookie); a round can still catch the JIT's or the bean's own one-off bytes.
        long quietest = Long.MAX_VALUE;
        for (int round = 0; round < 8 && quietest != 0; round++) {
            long before = threads.getCurrentThreadAllocatedBytes();
            int found = 0;
            for (int server = 1; server <= 50_000; server++) {
                cache.put(server, option, 4, 12);
                found += cache.copy(server, out) > 0 ? 1 : 0;
            }
            long allocated = threads.getCurrentThreadAllocatedBytes() - before;
            assertEquals(50_000, found);
            if (round >= 2) {
                quietest = Math.min(quietest, allocated);
            }
        }
        assertEquals(0, quietest, "bytes allocated for 50,000 cookies in the quietest round");
    }
}
