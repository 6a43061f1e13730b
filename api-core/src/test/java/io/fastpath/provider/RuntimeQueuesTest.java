package io.fastpath.provider;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The provider runtime's queues: {@link WorkList}, {@link RequestQueue}, {@link HeldCompletions}. */
class RuntimeQueuesTest {
    @Test
    void workListRunsEachObjectOnceInOrderAndASelfRescheduleInTheNextPass() {
        WorkList<String> work = new WorkList<>(2);
        List<String> ran = new ArrayList<>();
        assertTrue(work.schedule("a"));
        assertTrue(work.schedule("b"));
        assertFalse(work.schedule("a"), "already on the list");
        assertTrue(work.schedule("c"), "grows past its first capacity");
        assertEquals(3, work.size());
        int n = work.runPass(s -> {
            ran.add(s);
            if (s.equals("b")) {
                work.schedule("b"); // taken off before it ran: goes on again
            }
        });
        assertEquals(3, n);
        assertEquals(List.of("a", "b", "c"), ran);
        assertEquals(1, work.size(), "b waits for the next pass");
        assertTrue(work.isScheduled("b"));
        ran.clear();
        work.schedule("d");
        // run(limit) also runs what is scheduled meanwhile, up to the limit.
        n = work.run(s -> {
            ran.add(s);
            work.schedule(s + "'");
        }, 5);
        assertEquals(5, n);
        assertEquals(List.of("b", "d", "b'", "d'", "b''"), ran);
        assertEquals(2, work.size());
    }

    @Test
    void workListWrapsAroundItsRingWithoutLosingOrder() {
        WorkList<Integer> work = new WorkList<>(4);
        List<Integer> ran = new ArrayList<>();
        Integer[] items = new Integer[10];
        for (int i = 0; i < items.length; i++) {
            items[i] = Integer.valueOf(1000 + i); // distinct objects (identity)
        }
        for (int round = 0; round < 3; round++) {
            for (int i = 0; i < 3; i++) {
                work.schedule(items[round * 3 + i]);
            }
            work.run(ran::add, 2); // leaves one behind each round: head moves round the ring
        }
        work.runPass(ran::add);
        List<Integer> expected = new ArrayList<>();
        for (int i = 0; i < 9; i++) {
            expected.add(items[i]);
        }
        assertEquals(expected, ran);
    }

    /** An object with its own membership flag, as the providers' sockets and connections. */
    private static final class Flagged {
        final String name;
        boolean on;

        Flagged(String name) {
            this.name = name;
        }
    }

    @Test
    void workListWithTheObjectsOwnFlagRunsEachOnceInOrderAndClearsTheFlagBeforeItRuns() {
        WorkList<Flagged> work = new WorkList<>(2, new WorkList.Flag<>() {
            @Override
            public boolean isSet(Flagged f) {
                return f.on;
            }

            @Override
            public void set(Flagged f, boolean on) {
                f.on = on;
            }
        });
        Flagged a = new Flagged("a");
        Flagged b = new Flagged("b");
        Flagged c = new Flagged("c");
        List<String> ran = new ArrayList<>();
        assertTrue(work.schedule(a));
        assertTrue(work.schedule(b));
        assertFalse(work.schedule(a), "already on the list");
        assertTrue(a.on);
        assertTrue(work.schedule(c), "grows past its first capacity");
        assertEquals(3, work.size());
        int n = work.runPass(f -> {
            assertFalse(f.on, "taken off before it runs");
            ran.add(f.name);
            if (f == b) {
                assertTrue(work.schedule(b)); // goes on again, for the next pass
            }
        });
        assertEquals(3, n);
        assertEquals(List.of("a", "b", "c"), ran);
        assertEquals(1, work.size());
        assertTrue(work.isScheduled(b));
        assertFalse(work.isScheduled(a));
        assertFalse(a.on);
        assertEquals(1, work.run(f -> ran.add(f.name), 10));
        assertEquals(List.of("a", "b", "c", "b"), ran);
        assertFalse(b.on);
        assertTrue(work.isEmpty());
    }

    @Test
    void requestQueueRefusesWhenFullAndAfterCloseNeverStrandsAnOffer() throws Exception {
        RequestQueue<Integer> q = new RequestQueue<>(2);
        assertEquals(RequestQueue.QUEUED, q.offer(1));
        assertEquals(RequestQueue.QUEUED, q.offer(2));
        assertEquals(RequestQueue.FULL, q.offer(3));
        List<Integer> got = new ArrayList<>();
        assertEquals(2, q.drain(got::add, 10));
        assertEquals(List.of(1, 2), got);

        // Offers race close(): each is either drained after close() returned, or told CLOSED.
        RequestQueue<Integer> r = new RequestQueue<>(1 << 16);
        int threads = 4;
        int each = 5_000;
        AtomicInteger closedAnswers = new AtomicInteger();
        CountDownLatch start = new CountDownLatch(1);
        List<Thread> offerers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            Thread th = new Thread(() -> {
                try {
                    start.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (int i = 0; i < each; i++) {
                    if (r.offer(i) == RequestQueue.CLOSED) {
                        closedAnswers.incrementAndGet();
                    }
                }
            });
            th.start();
            offerers.add(th);
        }
        start.countDown();
        Thread.sleep(1);
        r.close();
        int drained = r.drain(x -> { }, Integer.MAX_VALUE);
        for (Thread th : offerers) {
            th.join();
        }
        assertTrue(r.closed());
        assertEquals(0, r.drain(x -> { }, Integer.MAX_VALUE), "nothing queued after close() returned");
        assertEquals(threads * each, drained + closedAnswers.get(), "every offer drained or told CLOSED");
    }

    @Test
    void requestQueueDrainSkipsAnEmptyQueueButNeverStrandsAnItem() throws Exception {
        RequestQueue<Integer> q = new RequestQueue<>(16);
        List<Integer> got = new ArrayList<>();
        assertEquals(0, q.drain(got::add, 10), "nothing offered");
        for (int i = 0; i < 5; i++) {
            assertEquals(RequestQueue.QUEUED, q.offer(i));
        }
        assertEquals(2, q.drain(got::add, 2));
        assertEquals(2, q.drain(got::add, 2), "a drain that stopped at its limit leaves the rest for the next");
        assertEquals(1, q.drain(got::add, 2));
        assertEquals(0, q.drain(got::add, 2));
        assertEquals(List.of(0, 1, 2, 3, 4), got);

        // Offers from another thread while the owner drains: every item is taken, in order, by some drain.
        RequestQueue<Integer> r = new RequestQueue<>(1 << 10);
        int total = 200_000;
        Thread producer = new Thread(() -> {
            for (int i = 0; i < total; i++) {
                while (r.offer(i) != RequestQueue.QUEUED) {
                    Thread.onSpinWait();
                }
            }
        });
        int[] next = {0};
        producer.start();
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (next[0] < total && System.nanoTime() < deadline) {
            r.drain(x -> assertEquals(next[0]++, x), 7);
        }
        producer.join();
        assertEquals(total, next[0], "every offered item drained");
        assertEquals(0, r.drain(x -> { }, 10));

        // The same through poll (the NDK adapter's tasks): one item at a time, none stranded.
        RequestQueue<Integer> t = new RequestQueue<>(1 << 10);
        Thread producer2 = new Thread(() -> {
            for (int i = 0; i < total; i++) {
                while (t.offer(i) != RequestQueue.QUEUED) {
                    Thread.onSpinWait();
                }
            }
        });
        int taken = 0;
        producer2.start();
        deadline = System.nanoTime() + 20_000_000_000L;
        while (taken < total && System.nanoTime() < deadline) {
            Integer x = t.poll();
            if (x != null) {
                assertEquals(taken++, x);
            }
        }
        producer2.join();
        assertEquals(total, taken, "every offered item polled");
        assertEquals(null, t.poll());
        assertEquals(RequestQueue.QUEUED, t.offer(7));
        assertEquals(7, t.poll());
        assertEquals(null, t.poll());
    }

    /**
     * A consumer that throws (a completion routine's own exception) must not strand the items behind the one it threw
     * on: the next drain takes them (review finding: the pending flag was cleared before the drain, and nothing
     * set it again, so they waited for an unrelated offer, or for ever at close).
     */
    @Test
    void requestQueueItemsBehindOneWhoseConsumerThrewGoToTheNextDrain() {
        RequestQueue<Integer> q = new RequestQueue<>(16);
        for (int i = 0; i < 3; i++) {
            assertEquals(RequestQueue.QUEUED, q.offer(i));
        }
        List<Integer> got = new ArrayList<>();
        IllegalStateException thrown = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
            () -> q.drain(x -> {
                if (x == 0) {
                    throw new IllegalStateException("a completion routine's bug");
                }
                got.add(x);
            }, 10));
        assertEquals("a completion routine's bug", thrown.getMessage());
        assertEquals(2, q.drain(got::add, 10), "the two behind it, with no new offer");
        assertEquals(List.of(1, 2), got);
        assertEquals(0, q.drain(got::add, 10));
    }

    @Test
    void heldCompletionsOverShardsWaitForTheFurthestRecordOfEveryShardHeldFor_issue12() {
        // Positions as a sharded client makes them: ring position << 6 | shard.
        long[] consumer = new long[3];
        HeldCompletions<TestIrp> held = new HeldCompletions<>(p -> consumer[(int) (p & 63)] >= p >>> 6,
            p -> (int) (p & 63));
        List<TestIrp> order = new ArrayList<>();
        HeldCompletions.Completion<TestIrp> completion = (irp, status) -> order.add(irp);
        TestIrp a = new TestIrp();
        TestIrp b = new TestIrp();
        TestIrp c = new TestIrp();
        held.hold(a, 1, 5000L << 6 | 0); // far along on shard 0
        held.hold(b, 2, 64L << 6 | 2); // early on shard 2: a larger number overall would hide it
        held.hold(c, 3, 128L << 6 | 2);
        consumer[0] = 5000;
        consumer[2] = 64;
        assertEquals(0, held.completeTaken(completion), "shard 2's record at 128 is not taken yet");
        consumer[2] = 128;
        assertEquals(3, held.completeTaken(completion));
        assertEquals(List.of(a, b, c), order);
        // Once empty, a new hold waits only for its own shard.
        held.hold(a, 1, 200L << 6 | 2);
        assertEquals(0, held.completeTaken(completion));
        consumer[2] = 200;
        assertEquals(1, held.completeTaken(completion));
    }

    @Test
    void heldCompletionsWaitUntilTheStackTookTheFurthestRecordThenCompleteInOrderWithTheirStatus() {
        long[] consumer = {0};
        HeldCompletions<TestIrp> held = new HeldCompletions<>(position -> consumer[0] >= position);
        List<TestIrp> order = new ArrayList<>();
        List<Integer> statuses = new ArrayList<>();
        HeldCompletions.Completion<TestIrp> completion = (irp, status) -> {
            order.add(irp);
            statuses.add(status);
        };
        TestIrp[] irps = new TestIrp[20];
        for (int i = 0; i < irps.length; i++) {
            irps[i] = new TestIrp();
            held.hold(irps[i], 0xC000_0000 | i, 64L * (i % 3 + 1)); // grows past 16; positions 64..192
        }
        assertEquals(20, held.size());
        consumer[0] = 128;
        assertEquals(0, held.completeTaken(completion), "the record at 192 is not taken yet");
        consumer[0] = 192;
        assertEquals(20, held.completeTaken(completion));
        assertEquals(0, held.size());
        for (int i = 0; i < irps.length; i++) {
            assertTrue(order.get(i) == irps[i]);
            assertEquals(0xC000_0000 | i, statuses.get(i));
        }
        // Reused after emptying: statuses still line up.
        held.hold(irps[0], 7, 200);
        held.hold(irps[1], 8, 10);
        assertEquals(2, held.completeAll(completion));
        assertEquals(List.of(7, 8), statuses.subList(20, 22));
    }
}
