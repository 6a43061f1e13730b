package io.fastpath.provider;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** {@link Irp#asStage()}: the request's outcome as a CompletionStage, alongside the completion routine. */
class IrpStageTest {
    private static final NtStatus SUCCESS = NtStatus.STATUS_SUCCESS;
    private static final NtStatus RESET = NtStatus.STATUS_CONNECTION_RESET;
    private final List<Throwable> errors = new ArrayList<>();
    private final IrpCompleter<TestIrp> completer = new IrpCompleter<>(errors::add, 16);

    @Test
    void completesOnceWhenTheIrpCompletes_withACopyOfTheStatus() {
        TestIrp irp = new TestIrp();
        irp.begin(null);
        CompletableFuture<IoResult> f = irp.asStage().toCompletableFuture();
        assertFalse(f.isDone(), "not before the IRP completes");
        assertTrue(completer.complete(irp, RESET, 12, "x"));
        IoResult r = f.join();
        assertSame(NtStatus.STATUS_CONNECTION_RESET, r.status());
        assertFalse(r.isSuccess());
        assertEquals(12, r.information());
        assertEquals("x", r.informationObject());
        completer.complete(irp, SUCCESS, 0, null); // a second completer loses: the IRP completed already
        assertSame(r, irp.asStage().toCompletableFuture().join(), "the same result, once");
        irp.reuse();
        assertSame(NtStatus.STATUS_CONNECTION_RESET, r.status(), "IoReuseIrp does not touch the copy");
        assertEquals(12, r.information());
        assertTrue(errors.isEmpty());
    }

    @Test
    void askedBeforeTheRequestOrAfterItCompleted() {
        TestIrp irp = new TestIrp();
        CompletionStage<IoResult> early = irp.asStage(); // ready: the next request's outcome
        irp.begin(null);
        completer.complete(irp, SUCCESS, 3, null);
        assertEquals(3, early.toCompletableFuture().join().information());
        CompletableFuture<IoResult> late = irp.asStage().toCompletableFuture();
        assertTrue(late.isDone(), "complete already");
        assertEquals(3, late.join().information());
    }

    @Test
    void theCallerCannotCompleteTheStage() {
        TestIrp irp = new TestIrp();
        irp.begin(null);
        CompletionStage<IoResult> stage = irp.asStage();
        assertThrows(UnsupportedOperationException.class,
            () -> ((CompletableFuture<IoResult>) stage).complete(null));
        CompletableFuture<IoResult> copy = stage.toCompletableFuture();
        copy.complete(new IoResult(NtStatus.STATUS_CANCELLED, 0, null)); // a copy: the IRP's stage is untouched
        completer.complete(irp, SUCCESS, 1, null);
        assertEquals(1, irp.asStage().toCompletableFuture().join().information());
    }

    @Test
    void theRoutineRunsFirstThenTheStage_andAReusingRoutineDoesNotDisturbIt() {
        TestIrp irp = new TestIrp();
        List<String> order = new ArrayList<>();
        AtomicInteger runs = new AtomicInteger();
        irp.setCompletionRoutine((i, c) -> {
            order.add("routine " + i.ioStatus().information());
            if (runs.incrementAndGet() == 1) { // reuse the IRP for the next request, from the routine
                i.reuse();
                i.begin(null);
            }
        }, null);
        irp.begin(null);
        CompletionStage<IoResult> first = irp.asStage();
        first.thenAccept(r -> order.add("stage " + r.information()));
        completer.complete(irp, SUCCESS, 1, null);
        assertEquals(List.of("routine 1", "stage 1"), order);
        assertTrue(irp.inProgress(), "the routine started the next request");
        assertEquals(1, first.toCompletableFuture().join().information(), "the first request's result");
        CompletionStage<IoResult> second = irp.asStage();
        assertFalse(second.toCompletableFuture().isDone(), "the next request has its own stage");
        completer.complete(irp, RESET, 2, null);
        assertEquals(2, second.toCompletableFuture().join().information());
        assertEquals(List.of("routine 1", "stage 1", "routine 2"), order);
    }

    @Test
    void aThrowingRoutineOrDependentDoesNotStopTheStage() {
        TestIrp irp = new TestIrp();
        irp.setCompletionRoutine((i, c) -> {
            throw new IllegalStateException("routine");
        }, null);
        irp.begin(null);
        CompletionStage<IoResult> stage = irp.asStage();
        CompletableFuture<Object> dependent = stage.thenApply(r -> {
            throw new IllegalStateException("dependent");
        }).toCompletableFuture();
        completer.complete(irp, SUCCESS, 4, null);
        assertEquals(4, stage.toCompletableFuture().join().information());
        assertTrue(dependent.isCompletedExceptionally());
        assertEquals(1, errors.size(), "the routine's throw went to the error handler");
    }

    @Test
    void aDeferredCompletionCompletesTheStageWhenItRuns() {
        IrpCompleter<TestIrp> shallow = new IrpCompleter<>(errors::add, 1);
        TestIrp outer = new TestIrp();
        TestIrp inner = new TestIrp();
        inner.setCompletionRoutine((i, c) -> { }, null);
        CompletionStage<IoResult> innerStage = inner.asStage();
        outer.setCompletionRoutine((i, c) -> {
            inner.begin(null);
            assertFalse(shallow.complete(inner, SUCCESS, 9, null), "nested too deep: deferred");
        }, null);
        outer.begin(null);
        shallow.complete(outer, SUCCESS, 0, null);
        assertFalse(innerStage.toCompletableFuture().isDone(), "the IRP is still in progress");
        assertEquals(1, shallow.runDeferred());
        assertEquals(9, innerStage.toCompletableFuture().join().information());
    }

    @Test
    void racingTheCompletionFromAnotherThread_neverLosesIt() throws Exception {
        CyclicBarrier go = new CyclicBarrier(2);
        for (int round = 0; round < 2_000; round++) {
            TestIrp irp = new TestIrp();
            irp.begin(null);
            int information = round;
            Thread completing = Thread.ofPlatform().start(() -> {
                try {
                    go.await();
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
                completer.complete(irp, SUCCESS, information, null);
            });
            go.await();
            CompletableFuture<IoResult> f = irp.asStage().toCompletableFuture();
            completing.join();
            assertTrue(f.isDone(), "round " + round + ": the stage completed");
            assertEquals(information, f.join().information());
        }
    }
}
