package io.fastpath.stack.tcp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

/** {@link ReleaseRing}: admission against the credit in the claim, order, refused credit back, wrap, many producers. */
class ReleaseRingTest {
    private final List<long[]> seen = new ArrayList<>();

    private boolean record(long handle, long descriptor, int length) {
        seen.add(new long[] {handle, descriptor, length});
        return true;
    }

    @Test
    void admitsOnlyAgainstCreditAndHandsReleasesOverInOrder() {
        ReleaseRing ring = new ReleaseRing(64);
        assertFalse(ring.offer(1, 2, 3), "no credit yet");
        assertEquals(0, ring.drain(this::record, 100), "a refused offer writes nothing");
        ring.grant(3);
        assertTrue(ring.offer(10, 100, 1));
        assertTrue(ring.offer(11, 101, 2));
        assertTrue(ring.offer(12, 102, 3));
        assertFalse(ring.offer(13, 103, 4), "a fourth release with three descriptors handed over");
        assertEquals(2, ring.drain(this::record, 2), "the limit");
        assertEquals(1, ring.drain(this::record, 100));
        assertEquals(0, ring.drain(this::record, 100));
        assertArrayEquals(new long[] {10, 100, 1}, seen.get(0));
        assertArrayEquals(new long[] {11, 101, 2}, seen.get(1));
        assertArrayEquals(new long[] {12, 102, 3}, seen.get(2));
        assertFalse(ring.offer(13, 103, 4), "reading honoured releases gives no credit back");
    }

    @Test
    void aRefusedReleaseGivesItsCreditBackOnceRead() {
        ReleaseRing ring = new ReleaseRing(64);
        ring.grant(1);
        assertTrue(ring.offer(1, 1, 1));
        assertFalse(ring.offer(2, 2, 2));
        assertEquals(1, ring.drain((h, d, l) -> false, 10)); // the consumer refuses it (a bogus release)
        assertTrue(ring.offer(2, 2, 2), "the refused release's credit is back");
        assertFalse(ring.offer(3, 3, 3));
    }

    @Test
    void wrapsAroundManyTimesWithoutStaleRecords() {
        ReleaseRing ring = new ReleaseRing(64);
        for (int i = 0; i < 10_000; i++) {
            int burst = 1 + i % 64;
            ring.grant(burst);
            for (int k = 0; k < burst; k++) {
                assertTrue(ring.offer(i, k, k));
            }
            seen.clear();
            assertEquals(burst, ring.drain(this::record, Integer.MAX_VALUE));
            for (int k = 0; k < burst; k++) {
                assertArrayEquals(new long[] {i, k, k}, seen.get(k));
            }
        }
    }

    @Test
    void manyProducersLoseNothingAndKeepEachProducersOrder() throws InterruptedException {
        int producers = 4;
        int each = 20_000;
        ReleaseRing ring = new ReleaseRing(producers * each);
        ring.grant(producers * each);
        CountDownLatch start = new CountDownLatch(1);
        List<Thread> threads = new ArrayList<>();
        for (int p = 0; p < producers; p++) {
            int id = p;
            Thread t = new Thread(() -> {
                try {
                    start.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (int i = 0; i < each; i++) {
                    if (!ring.offer(id, i, 7)) {
                        throw new AssertionError("refused with credit left");
                    }
                }
            });
            t.start();
            threads.add(t);
        }
        long[] next = new long[producers];
        int[] read = {0};
        start.countDown();
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (read[0] < producers * each && System.nanoTime() < deadline) {
            ring.drain((h, d, l) -> {
                assertEquals(next[(int) h]++, d, "producer " + h + "'s order");
                assertEquals(7, l);
                read[0]++;
                return true;
            }, 1024);
        }
        for (Thread t : threads) {
            t.join();
        }
        assertEquals(producers * each, read[0]);
        for (int p = 0; p < producers; p++) {
            assertEquals(each, next[p]);
        }
        assertFalse(ring.offer(9, 9, 9), "all the credit is used");
    }
}
