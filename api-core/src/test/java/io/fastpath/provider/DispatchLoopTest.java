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
        assertFalse(runner.get().isAlive());
        loop.adopt();
        assertTrue(loop.onDispatchThread());
        int before = rounds.get();
        loop.dispatch();
        assertEquals(before + 1, rounds.get());
        assertSame(Thread.currentThread(), loop.owner());
    }
}
