package io.fastpath.provider;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.stack.tcp.LocalPorts;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

/** Issue 11: one local port table per stack, shared by its providers (views) and TCP's ephemeral selection. */
class PortTableTest {

    @Test
    void twoProvidersOnOneStackNeverGetTheSamePort_issue11() {
        LocalPorts stack = new LocalPorts();
        PortTable wsk = new PortTable(stack);
        PortTable tdi = new PortTable(stack);
        int a = wsk.allocate();
        int b = tdi.allocate();
        assertNotEquals(0, a);
        assertNotEquals(0, b);
        assertNotEquals(a, b, "the second provider does not get the port the first holds");
        assertTrue(tdi.inUse(a), "each view sees the other's ports");
        assertTrue(wsk.choose(b) < 0, "an explicit bind to the other provider's port is refused");
        assertEquals(NtStatus.STATUS_SHARING_VIOLATION.code(), wsk.choose(b));
        assertFalse(stack.tryTake(a), "TCP's own selection skips a port a provider holds");
        wsk.free(a);
        assertTrue(stack.tryTake(a), "and takes it once let go");
        assertTrue(wsk.inUse(a));
        stack.free(a);
        tdi.free(b);
        assertFalse(wsk.inUse(a));
        assertFalse(wsk.inUse(b));
    }

    @Test
    void exhaustionAcrossProvidersIsTooManyAddresses() {
        LocalPorts stack = new LocalPorts();
        PortTable one = new PortTable(stack);
        PortTable two = new PortTable(stack);
        List<Integer> held = new ArrayList<>();
        for (int i = 0; i < PortTable.EPHEMERAL_COUNT; i++) {
            int p = (i & 1) == 0 ? one.allocate() : two.choose(0);
            assertTrue(p >= PortTable.EPHEMERAL_FIRST && p <= PortTable.EPHEMERAL_LAST, "port " + p);
            held.add(p);
        }
        assertEquals(PortTable.EPHEMERAL_COUNT, held.stream().distinct().count(), "every port handed out once");
        assertEquals(0, one.allocate(), "all held");
        assertEquals(NtStatus.STATUS_TOO_MANY_ADDRESSES.code(), two.choose(0));
        assertFalse(stack.tryTake(PortTable.EPHEMERAL_FIRST + 7));
        one.free(60000);
        assertEquals(60000, two.allocate(), "a port one provider lets go is the other's to take");
        assertEquals(NtStatus.STATUS_TOO_MANY_ADDRESSES.code(), one.choose(0));
    }

    @Test
    void bindSharesOnlyWhenAskedAndNeverAnExclusivePort() {
        PortTable t = new PortTable();
        int ok = NtStatus.STATUS_SUCCESS.code();
        assertEquals(ok, t.bind(80, false, false));
        assertEquals(NtStatus.STATUS_SHARING_VIOLATION.code(), t.bind(80, false, false));
        assertEquals(ok, t.bind(80, true, false), "SO_REUSEADDR shares a port held without exclusive use");
        assertEquals(NtStatus.STATUS_SHARING_VIOLATION.code(), t.bind(80, true, true),
            "exclusive use of a held port is refused");
        t.free(80);
        t.free(80);
        assertFalse(t.inUse(80));
        assertEquals(ok, t.bind(80, false, true));
        assertTrue(t.exclusive(80));
        assertEquals(NtStatus.STATUS_ACCESS_DENIED.code(), t.bind(80, true, false),
            "a socket asking to share an exclusive port is denied");
        assertEquals(NtStatus.STATUS_SHARING_VIOLATION.code(), t.bind(80, false, false));
        t.free(80);
        assertFalse(t.exclusive(80));
        int p = t.allocate(true);
        assertTrue(t.exclusive(p), "a wildcard bind with SO_EXCLUSIVEADDRUSE marks the port it gets");
    }

    /**
     * A provider's dispatch thread allocates and frees round-robin while another thread (TCP's poll thread, or a
     * second provider) takes ports by its own choice: no port is ever held by both, and all are free at the end.
     */
    @Test
    void concurrentAllocateAndFreeFromTwoThreadsNeverShareAPort() throws Exception {
        LocalPorts stack = new LocalPorts();
        PortTable provider = new PortTable(stack);
        AtomicIntegerArray owner = new AtomicIntegerArray(65536);
        AtomicInteger clashes = new AtomicInteger();
        AtomicInteger taken = new AtomicInteger();
        int rounds = 200_000;
        CountDownLatch start = new CountDownLatch(1);
        Thread dispatch = new Thread(() -> {
            await(start);
            int[] mine = new int[64];
            for (int r = 0; r < rounds; r++) {
                int slot = r & 63;
                if (mine[slot] != 0) {
                    owner.set(mine[slot], 0);
                    provider.free(mine[slot]);
                }
                int p = provider.allocate();
                if (p != 0) {
                    taken.incrementAndGet();
                    if (!owner.compareAndSet(p, 0, 1)) {
                        clashes.incrementAndGet();
                    }
                }
                mine[slot] = p;
            }
            for (int p : mine) {
                if (p != 0) {
                    owner.set(p, 0);
                    provider.free(p);
                }
            }
        });
        Thread poll = new Thread(() -> {
            await(start);
            SplittableRandom random = new SplittableRandom(6056);
            int[] mine = new int[64];
            for (int r = 0; r < rounds; r++) {
                int slot = r & 63;
                if (mine[slot] != 0) {
                    owner.set(mine[slot], 0);
                    stack.free(mine[slot]);
                    mine[slot] = 0;
                }
                int p = PortTable.EPHEMERAL_FIRST + random.nextInt(PortTable.EPHEMERAL_COUNT);
                if (stack.tryTake(p)) {
                    taken.incrementAndGet();
                    if (!owner.compareAndSet(p, 0, 2)) {
                        clashes.incrementAndGet();
                    }
                    mine[slot] = p;
                }
            }
            for (int p : mine) {
                if (p != 0) {
                    owner.set(p, 0);
                    stack.free(p);
                }
            }
        });
        dispatch.start();
        poll.start();
        start.countDown();
        dispatch.join();
        poll.join();
        assertEquals(0, clashes.get(), "no port held by both threads at once");
        assertTrue(taken.get() > rounds, "both threads took ports: " + taken.get());
        for (int p = PortTable.EPHEMERAL_FIRST; p <= PortTable.EPHEMERAL_LAST; p++) {
            assertFalse(provider.inUse(p), "port " + p + " let go");
        }
    }

    /** Two threads share one port (SO_REUSEADDR) and let go of it: the use count ends at 0, no update lost. */
    @Test
    void concurrentSharedUseCountsEveryHolder() throws Exception {
        LocalPorts stack = new LocalPorts();
        int n = 100_000;
        Runnable user = () -> {
            for (int i = 0; i < n; i++) {
                assertEquals(LocalPorts.TAKEN, stack.take(5000, true, false));
                stack.free(5000);
            }
        };
        Thread one = new Thread(user);
        Thread two = new Thread(user);
        stack.use(5000, false);
        one.start();
        two.start();
        one.join();
        two.join();
        assertEquals(1, stack.holders(5000));
        stack.free(5000);
        assertEquals(0, stack.holders(5000));
    }

    private static void await(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
