package io.fastpath.provider;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class DispatchLoopTest {
    private final AtomicInteger rounds = new AtomicInteger();
    private DispatchLoop loop;
    private Runnable inside = () -> { };

    private int round() {
        assertTrue(loop.dispatching());
        rounds.incrementAndGet();
        inside.run();
        return 1;
    }

    @Test
    void invokerModeTheCreatingThreadDispatches() {
        loop = new DispatchLoop("test", Throwable::printStackTrace, this::round);
        assertTrue(loop.onDispatchThread());
        assertEquals(1, loop.dispatch());
        assertFalse(loop.dispatching());
    }

    @Test
    void aRoundIsNotReentrant() {
        loop = new DispatchLoop("test", Throwable::printStackTrace, this::round);
        AtomicReference<Throwable> nested = new AtomicReference<>();
        inside = () -> nested.set(assertThrows(IllegalStateException.class, () -> loop.dispatch()));
        loop.dispatch();
        assertTrue(nested.get().getMessage().contains("re-entrant"), nested.get().getMessage());
        assertEquals(1, rounds.get());
    }

    @Test
    void anotherThreadMayNotDispatch() throws InterruptedException {
        loop = new DispatchLoop("test", Throwable::printStackTrace, this::round);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread t = new Thread(() -> {
            try {
                loop.dispatch();
            } catch (Throwable e) {
                failure.set(e);
            }
        });
        t.start();
        t.join();
        assertTrue(failure.get() instanceof IllegalStateException);
        assertEquals(0, rounds.get());
    }

    @Test
    void ownThreadModeHandsTheRoleToTheNewThreadAndBack() throws InterruptedException {
        loop = new DispatchLoop("fastpath-test-dispatch", Throwable::printStackTrace, this::round);
        CountDownLatch ran = new CountDownLatch(100);
        AtomicReference<Thread> runner = new AtomicReference<>();
        inside = () -> {
            runner.set(Thread.currentThread());
            ran.countDown();
        };
        loop.startThread();
        loop.awaitStarted();
        assertTrue(loop.hasThread());
        assertTrue(ran.await(10, TimeUnit.SECONDS));
        assertFalse(loop.onDispatchThread(), "the starter is no longer the dispatch thread");
        assertNotSame(Thread.currentThread(), runner.get());
        assertEquals("fastpath-test-dispatch", runner.get().getName());
        assertThrows(IllegalStateException.class, () -> loop.startThread(), "from the dispatch thread only");
        loop.stopThread();
        assertFalse(loop.hasThread());
        // AgentRunner.close() returns once the agent closed; the thread itself ends just after that
        runner.get().join(5_000);
        assertFalse(runner.get().isAlive());
        loop.adopt();
        assertTrue(loop.onDispatchThread());
        int before = rounds.get();
        loop.dispatch();
        assertEquals(before + 1, rounds.get());
        assertSame(Thread.currentThread(), loop.owner());
    }

    /**
     * A start on the dispatch thread races a close on another thread, many times: exactly one wins each time (the
     * start's thread runs and the closer stops it, or the start fails "provider closed"), nothing deadlocks, and
     * the closer ends up the dispatch thread with no own thread left running.
     */
    @Test
    void startRacingCloseHasExactlyOneWinner() throws Exception {
        int started = 0;
        int refused = 0;
        for (int i = 0; i < 500; i++) {
            loop = new DispatchLoop("fastpath-test-race", Throwable::printStackTrace, this::round);
            DispatchLoop l = loop;
            CountDownLatch go = new CountDownLatch(1);
            AtomicReference<Thread> closer = new AtomicReference<>();
            AtomicReference<Throwable> closeFailed = new AtomicReference<>();
            Thread t = new Thread(() -> {
                try {
                    go.await();
                    assertTrue(l.beginClose(), "the only closer wins");
                    l.stopThread();
                    l.adopt();
                    closer.set(Thread.currentThread());
                    l.closed();
                } catch (Throwable e) {
                    closeFailed.set(e);
                }
            });
            t.start();
            go.countDown();
            try {
                l.startThread(IdleMode.BACKOFF);
                started++;
            } catch (IllegalStateException e) {
                refused++;
            }
            t.join(10_000);
            assertFalse(t.isAlive(), "close finished (no deadlock)");
            assertEquals(null, closeFailed.get());
            assertFalse(l.hasThread(), "no own thread after close");
            assertSame(t, l.owner(), "the closer is the dispatch thread");
            assertFalse(l.beginClose(), "closed once");
            IllegalStateException late = assertThrows(IllegalStateException.class,
                () -> l.handOffToAgent("busy"));
            assertTrue(late.getMessage().contains("dispatch thread"), late.getMessage());
        }
        assertEquals(500, started + refused, "one outcome each");
    }

    /** Two starts from the dispatch thread: the second fails as today; close then refuses any start. */
    @Test
    void secondStartAndStartAfterCloseFail() {
        loop = new DispatchLoop("fastpath-test-twice", Throwable::printStackTrace, this::round);
        loop.handOffToAgent("provider already has a dispatch thread");
        loop.adopt(); // the agent's first duty cycle
        assertEquals("provider already has a dispatch thread",
            assertThrows(IllegalStateException.class, () -> loop.handOffToAgent("provider already has a dispatch thread"))
                .getMessage());
        assertEquals("dispatcher already running",
            assertThrows(IllegalStateException.class, () -> loop.startThread()).getMessage());
        assertTrue(loop.beginClose());
        assertTrue(loop.closingFromAgent());
        assertEquals("provider closed", assertThrows(IllegalStateException.class, () -> loop.startThread()).getMessage());
        loop.closed();
        assertTrue(loop.closing());
    }
}
