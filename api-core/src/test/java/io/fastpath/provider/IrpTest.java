package io.fastpath.provider;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class IrpTest {
    private static final NtStatus CANCELLED = NtStatus.STATUS_CANCELLED;
    private static final NtStatus SUCCESS = NtStatus.STATUS_SUCCESS;
    private final List<Throwable> errors = new ArrayList<>();

    @Test
    void lifeCycleReadyInProgressCompleted_ioReuseIrp() {
        TestIrp irp = new TestIrp();
        assertTrue(irp.ready());
        irp.parameter = 7;
        irp.begin(null);
        assertTrue(irp.inProgress());
        assertEquals(1, irp.begins);
        assertThrows(IllegalStateException.class, () -> irp.begin(null), "one IRP serves one request at a time");
        assertThrows(IllegalStateException.class, irp::reuse, "not before it completes");
        irp.markPending();
        assertTrue(irp.complete(NtStatus.STATUS_CONNECTION_RESET, 12, "x"));
        assertTrue(irp.completed());
        assertTrue(irp.pending());
        assertEquals(NtStatus.STATUS_CONNECTION_RESET, irp.ioStatus().status());
        assertSame(NtStatus.STATUS_CONNECTION_RESET, irp.ioStatus().status());
        assertEquals(12, irp.ioStatus().information());
        assertEquals("x", irp.ioStatus().informationObject());
        IllegalStateException again = assertThrows(IllegalStateException.class, () -> irp.begin(null));
        assertTrue(again.getMessage().contains("reuse"), again.getMessage());
        irp.reuse();
        assertTrue(irp.ready());
        assertEquals(0, irp.parameter, "IoReuseIrp clears the parameters");
        assertEquals(SUCCESS, irp.ioStatus().status());
        assertEquals(0, irp.ioStatus().information());
        assertNull(irp.ioStatus().informationObject());
        assertFalse(irp.pending());
    }

    @Test
    void aCompletedIrpIsNotCompletedAgain() {
        TestIrp irp = new TestIrp();
        AtomicInteger runs = new AtomicInteger();
        irp.setCompletionRoutine((i, c) -> runs.incrementAndGet(), null);
        IrpCompleter<TestIrp> completer = new IrpCompleter<>(errors::add, 16);
        irp.begin(null);
        assertTrue(completer.complete(irp, SUCCESS, 5, null));
        assertTrue(completer.complete(irp, CANCELLED, 0, null));
        assertEquals(1, runs.get(), "the routine runs exactly once");
        assertEquals(SUCCESS, irp.ioStatus().status(), "the first completion stands");
        assertEquals(5, irp.ioStatus().information());
        assertFalse(irp.complete(CANCELLED, 0, null));
    }

    @Test
    void theRoutineGetsTheIrpAndItsContextAndMayReuseIt() {
        TestIrp irp = new TestIrp();
        Object context = new Object();
        List<Object> seen = new ArrayList<>();
        IrpCompleter<TestIrp> completer = new IrpCompleter<>(errors::add, 16);
        irp.setCompletionRoutine((i, c) -> {
            seen.add(i);
            seen.add(c);
            if (seen.size() < 6) {
                i.reuse();
                i.begin(null); // a new request from the routine, completing inline
                completer.complete(i, SUCCESS, seen.size(), null);
            }
        }, context);
        irp.begin(null);
        completer.complete(irp, SUCCESS, 0, null);
        assertEquals(List.of(irp, context, irp, context, irp, context), seen);
        assertSame(context, irp.completionContext());
    }

    @Test
    void nestedInlineCompletionsBeyondTheLimitAreDeferredToTheNextRound() {
        IrpCompleter<TestIrp> completer = new IrpCompleter<>(errors::add, 4);
        TestIrp irp = new TestIrp();
        AtomicInteger depth = new AtomicInteger();
        AtomicInteger maxDepth = new AtomicInteger();
        AtomicInteger runs = new AtomicInteger();
        irp.setCompletionRoutine((i, c) -> {
            int d = depth.incrementAndGet();
            maxDepth.accumulateAndGet(d, Math::max);
            if (runs.incrementAndGet() < 20) {
                i.reuse();
                i.begin(null);
                completer.complete(i, SUCCESS, 0, null);
            }
            depth.decrementAndGet();
        }, null);
        irp.begin(null);
        assertTrue(completer.complete(irp, SUCCESS, 0, null));
        assertEquals(4, runs.get(), "four nested, the fifth waits");
        assertEquals(1, completer.deferredCount());
        assertTrue(irp.inProgress(), "a deferred completion keeps the IRP in progress");
        int rounds = 0;
        while (completer.deferredCount() > 0) {
            completer.runDeferred();
            rounds++;
        }
        assertEquals(20, runs.get());
        assertEquals(4, rounds, "each round runs four more");
        assertEquals(4, maxDepth.get(), "the stack never grows beyond the limit");
        assertTrue(irp.completed());
    }

    @Test
    void aThrowingRoutineGoesToTheErrorHandler() {
        IrpCompleter<TestIrp> completer = new IrpCompleter<>(errors::add, 16);
        TestIrp irp = new TestIrp();
        irp.setCompletionRoutine((i, c) -> {
            throw new IllegalArgumentException("routine");
        }, null);
        irp.begin(null);
        completer.complete(irp, SUCCESS, 0, null);
        assertEquals(1, errors.size());
        assertTrue(irp.completed());
    }

    @Test
    void cancelCallsTheCancelRoutineOnlyWhileInProgress_ioCancelIrp() {
        TestIrp irp = new TestIrp();
        List<TestIrp> cancelled = new ArrayList<>();
        assertFalse(irp.cancel(), "not in progress");
        irp.begin(cancelled::add);
        assertTrue(irp.cancel());
        assertTrue(irp.cancelRequested());
        assertEquals(List.of(irp), cancelled);
        irp.complete(CANCELLED, 0, null);
        assertFalse(irp.cancel(), "completed");
        assertEquals(1, cancelled.size());
        irp.reuse();
        assertFalse(irp.cancelRequested(), "IoReuseIrp clears Irp->Cancel");
    }

    /**
     * IoCancelIrp on one thread racing the completion on another: whichever wins, the IRP completes exactly once,
     * its routine runs once, and the status is the winner's.
     */
    @Test
    void cancelRacingCompletionOnTwoThreadsCompletesExactlyOnce() throws Exception {
        int rounds = 20_000;
        TestIrp irp = new TestIrp();
        AtomicInteger routineRuns = new AtomicInteger();
        irp.setCompletionRoutine((i, c) -> routineRuns.incrementAndGet(), null);
        CancelRoutine<TestIrp> cancelRoutine = i -> {
            if (i.complete(CANCELLED, 0, null)) {
                i.runCompletionRoutine(errors::add);
            }
        };
        CyclicBarrier start = new CyclicBarrier(2);
        CyclicBarrier end = new CyclicBarrier(2);
        int[] cancelWins = new int[1];
        Thread canceller = new Thread(() -> {
            try {
                for (int r = 0; r < rounds; r++) {
                    start.await();
                    irp.cancel();
                    end.await();
                }
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        });
        canceller.start();
        for (int r = 0; r < rounds; r++) {
            irp.reuse();
            irp.begin(cancelRoutine);
            int before = routineRuns.get();
            start.await();
            if (irp.complete(SUCCESS, 100, null)) {
                irp.runCompletionRoutine(errors::add);
            }
            end.await();
            assertTrue(irp.completed());
            assertEquals(before + 1, routineRuns.get(), "round " + r + ": the routine ran once");
            NtStatus status = irp.ioStatus().status();
            assertTrue(status == SUCCESS && irp.ioStatus().information() == 100
                || status == CANCELLED && irp.ioStatus().information() == 0, "round " + r + ": " + irp.ioStatus());
            if (status == CANCELLED) {
                cancelWins[0]++;
            }
        }
        canceller.join();
        assertEquals(rounds, routineRuns.get());
        assertTrue(errors.isEmpty(), errors.toString());
    }
    /**
     * Review 11 finding 4: a cancel racing begin() is never lost. The canceller spins on cancel() until it is
     * accepted (true), which is right after begin's move to in progress; then the cancel routine must have run
     * or Irp->Cancel must still be set. begin() used to clear the flag after that move, erasing the cancel.
     */
    @Test
    void aCancelRacingBeginIsNeverLost_ioCancelIrp() throws Exception {
        int rounds = 5_000;
        TestIrp irp = new TestIrp();
        AtomicInteger routineRuns = new AtomicInteger();
        CancelRoutine<TestIrp> cancelRoutine = i -> routineRuns.incrementAndGet();
        CyclicBarrier start = new CyclicBarrier(2);
        CyclicBarrier end = new CyclicBarrier(2);
        Thread canceller = new Thread(() -> {
            try {
                for (int r = 0; r < rounds; r++) {
                    start.await();
                    while (!irp.cancel()) {
                        Thread.onSpinWait();
                    }
                    end.await();
                }
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        });
        canceller.start();
        int lost = 0;
        for (int r = 0; r < rounds; r++) {
            int before = routineRuns.get();
            start.await();
            irp.begin(cancelRoutine);
            end.await();
            if (routineRuns.get() == before && !irp.cancelRequested()) {
                lost++;
            }
            irp.complete(CANCELLED, 0, null);
            irp.reuse();
        }
        canceller.join();
        assertEquals(0, lost, "cancels accepted (true) but neither passed on nor flagged, of " + rounds);
    }
}
