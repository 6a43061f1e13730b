package io.fastpath.provider;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.agrona.BufferUtil;
import org.junit.jupiter.api.Test;

class QueuesTest {
    @Test
    void irpQueueIsFifoWithRemoveAnywhereAndAddFirst() {
        IrpQueue<TestIrp> q = new IrpQueue<>();
        TestIrp a = new TestIrp();
        TestIrp b = new TestIrp();
        TestIrp c = new TestIrp();
        assertTrue(q.isEmpty());
        q.add(a);
        q.add(b);
        q.add(c);
        assertEquals(3, q.size());
        assertSame(b, q.next(a));
        assertTrue(q.remove(b));
        assertFalse(q.remove(b), "not there any more");
        assertSame(c, q.next(a));
        q.addFirst(b);
        assertSame(b, q.poll());
        assertSame(a, q.poll());
        assertTrue(q.remove(c), "the tail");
        assertTrue(q.isEmpty());
        assertNull(q.poll());
        q.add(a);
        assertSame(a, q.peek(), "the tail was reset with the last removal");
        assertEquals(1, q.size());
    }

    /** What a descriptor's owner saw: returned descriptors in order, as (handle, mbuf, length). */
    private final List<long[]> returned = new ArrayList<>();
    private final DescriptorReleaser releaser = (h, m, l) -> returned.add(new long[] {h, m, l});

    private static long fill(ByteBuffer b, String text) {
        for (int i = 0; i < text.length(); i++) {
            b.put(i, (byte) text.charAt(i));
        }
        return BufferUtil.address(b);
    }

    @Test
    void descriptorsAreLentHeldAndReturnedExactlyOnce() {
        ByteBuffer one = ByteBuffer.allocateDirect(5);
        ByteBuffer two = ByteBuffer.allocateDirect(3);
        ByteBuffer three = ByteBuffer.allocateDirect(4);
        DescriptorQueue q = new DescriptorQueue(2);
        q.add(101, fill(one, "hello"), 5);
        q.add(102, fill(two, "abc"), 3);
        q.add(103, fill(three, "wxyz"), 4); // grows past its first capacity
        assertEquals(3, q.count());
        assertEquals(12, q.bytes());

        // Lend: a callback reads the head in place; it consumes 2 bytes.
        assertEquals(5, q.headRemaining());
        assertEquals(BufferUtil.address(one), q.headAddress());
        q.consume(7, 2, releaser);
        assertTrue(returned.isEmpty(), "a part-consumed descriptor stays");
        assertEquals(2, q.headOffset());
        assertEquals(10, q.bytes());

        // Copy 4 bytes out: "llo" ends the first descriptor (returned), "a" starts the second.
        ByteBuffer target = ByteBuffer.allocateDirect(16);
        NativeCopier copier = new NativeCopier();
        assertEquals(2, q.copyTo(copier, BufferUtil.address(target), 2, true, 7, releaser), "peek");
        assertTrue(returned.isEmpty());
        assertEquals(4, q.copyTo(copier, BufferUtil.address(target), 4, false, 7, releaser));
        assertEquals("lloa", text(target, 4));
        assertEquals(1, returned.size());
        assertEquals(101, returned.get(0)[1]);
        assertEquals(5, returned.get(0)[2], "returned with its full length");

        // Hold: the head goes to the application (a held chain), off the ring, not returned by the queue.
        long heldMbuf = q.mbuf(0);
        q.dropHead();
        assertEquals(102, heldMbuf);
        assertEquals(1, q.count());
        assertEquals(4, q.bytes());
        assertEquals(1, returned.size());

        // Return everything still queued at close.
        q.releaseAll(7, releaser);
        assertTrue(q.isEmpty());
        assertEquals(0, q.bytes());
        assertEquals(2, returned.size());
        assertEquals(103, returned.get(1)[1]);
        // The queue read (and, in verifier mode, poisoned) their memory by address until here.
        Reference.reachabilityFence(one);
        Reference.reachabilityFence(two);
        Reference.reachabilityFence(three);
    }

    @Test
    void aDescriptorPutBackKeepsItsOffset() {
        DescriptorQueue q = new DescriptorQueue(4);
        q.add(1, 1000, 10);
        q.add(2, 2000, 10);
        int offset = 3;
        q.consumeHead(offset);
        // A chained receive takes the descriptors, is refused (STATUS_DATA_NOT_ACCEPTED) and puts them back.
        long[] m = {q.mbuf(0), q.mbuf(1)};
        int startingOffset = q.headOffset();
        q.dropHead();
        q.dropHead();
        assertTrue(q.isEmpty());
        q.add(m[0], 1000, 10);
        q.add(m[1], 2000, 10);
        q.consumeHead(startingOffset);
        assertEquals(17, q.bytes());
        assertEquals(1003, q.headAddress());
        assertEquals(7, q.headRemaining());
    }

    private static String text(ByteBuffer b, int n) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < n; i++) {
            s.append((char) b.get(i));
        }
        return s.toString();
    }

    @Test
    void ephemeralPortsComeRoundRobinFromTheDynamicRange_rfc6335_s6() {
        PortTable t = new PortTable();
        int first = t.allocate();
        assertEquals(PortTable.EPHEMERAL_FIRST, first);
        int second = t.allocate();
        assertEquals(first + 1, second);
        t.free(first);
        assertEquals(first + 2, t.allocate(), "a port just freed is not handed out again at once");
        for (int p = PortTable.EPHEMERAL_FIRST; p <= PortTable.EPHEMERAL_LAST; p++) {
            t.use(p);
        }
        assertEquals(0, t.allocate(), "all held");
        t.free(60000);
        assertEquals(60000, t.allocate());
    }

    @Test
    void exclusiveUseLastsUntilTheLastHolderLetsGo() {
        PortTable t = new PortTable();
        t.use(80, false);
        t.use(80, true);
        assertTrue(t.inUse(80));
        assertTrue(t.exclusive(80));
        t.free(80);
        assertTrue(t.exclusive(80));
        t.free(80);
        assertFalse(t.inUse(80));
        assertFalse(t.exclusive(80));
        t.free(80);
        assertFalse(t.inUse(80), "a free of a free port does not go negative");
    }

    @Test
    void aPoolMakesObjectsOnlyWhenNoneIsSpare() {
        int[] made = new int[1];
        ObjectPool<int[]> pool = new ObjectPool<>(() -> {
            made[0]++;
            return new int[1];
        }, 2, 2);
        assertEquals(2, made[0], "prefilled");
        int[] a = pool.acquire();
        int[] b = pool.acquire();
        int[] c = pool.acquire();
        assertEquals(3, made[0], "the third was made");
        pool.release(a);
        pool.release(b);
        pool.release(c); // grows
        assertEquals(3, pool.spare());
        assertSame(c, pool.acquire(), "last in, first out");
        assertEquals(3, made[0]);
    }

    @Test
    void aCancelFromAnotherThreadWaitsForTheDispatchThread() throws InterruptedException {
        DispatchLoop loop = new DispatchLoop("test", Throwable::printStackTrace, () -> 0);
        List<TestIrp> cancelled = new ArrayList<>();
        CancelQueue<TestIrp> cancels = new CancelQueue<>(loop, cancelled::add);
        TestIrp here = new TestIrp();
        here.begin(cancels);
        here.cancel();
        assertEquals(List.of(here), cancelled, "on the dispatch thread: at once");
        TestIrp there = new TestIrp();
        TestIrp done = new TestIrp();
        there.begin(cancels);
        done.begin(cancels);
        Thread t = new Thread(() -> {
            there.cancel();
            done.cancel();
        });
        t.start();
        t.join();
        assertEquals(1, cancelled.size(), "from another thread: queued");
        done.complete(NtStatus.STATUS_SUCCESS, 0, null); // completed before the dispatch thread got to it
        assertEquals(2, cancels.drain());
        assertEquals(List.of(here, there), cancelled, "only IRPs still in progress are cancelled");
    }
    /**
     * Review 11 finding 2: a cancel queued for request A does not cancel request B when the IRP completed and
     * was reused for B before the round (the receive loop's re-post); a cancel queued for B does.
     */
    @Test
    void aQueuedCancelDoesNotCancelTheNextRequestOnTheSameIrp() throws InterruptedException {
        DispatchLoop loop = new DispatchLoop("test", Throwable::printStackTrace, () -> 0);
        List<TestIrp> cancelled = new ArrayList<>();
        CancelQueue<TestIrp> cancels = new CancelQueue<>(loop, cancelled::add);
        TestIrp irp = new TestIrp();
        irp.begin(cancels); // request A
        Thread t = new Thread(irp::cancel);
        t.start();
        t.join();
        assertTrue(cancelled.isEmpty(), "queued");
        irp.complete(NtStatus.STATUS_SUCCESS, 0, null); // A completes with data
        irp.reuse();
        irp.begin(cancels); // request B on the same IRP
        cancels.drain();
        assertTrue(cancelled.isEmpty(), "the cancel was meant for A, not B");
        t = new Thread(irp::cancel);
        t.start();
        t.join();
        assertEquals(1, cancels.drain());
        assertEquals(List.of(irp), cancelled, "a cancel meant for B cancels B");
    }

    /**
     * Review 11 finding 9: cancels from another thread are never dropped, however many (the queue used to hold
     * its capacity and drop the rest while Irp.cancel() returned true).
     */
    @Test
    void noCancelIsDroppedHoweverManyAreQueued() throws InterruptedException {
        DispatchLoop loop = new DispatchLoop("test", Throwable::printStackTrace, () -> 0);
        List<TestIrp> cancelled = new ArrayList<>();
        CancelQueue<TestIrp> cancels = new CancelQueue<>(loop, cancelled::add);
        List<TestIrp> irps = new ArrayList<>();
        for (int i = 0; i < 5_000; i++) {
            TestIrp irp = new TestIrp();
            irp.begin(cancels);
            irps.add(irp);
        }
        boolean[] accepted = {true};
        Thread t = new Thread(() -> {
            for (TestIrp irp : irps) {
                accepted[0] &= irp.cancel();
                accepted[0] &= irp.cancel(); // a second cancel of a queued IRP queues nothing more
            }
        });
        t.start();
        t.join();
        assertTrue(accepted[0]);
        assertEquals(5_000, cancels.drain());
        assertEquals(0, cancels.drain());
        assertEquals(irps, cancelled, "every one, once, in the order cancelled");
    }
}
