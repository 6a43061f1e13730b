package io.fastpath.wsk;

import io.fastpath.provider.NtStatus;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A test's IRP: counts how often it completed (must be exactly once per call) and remembers on which thread.
 * {@link #irp()} reuses it (IoReuseIrp) for the next call.
 */
final class Call {
    final Irp irp = new Irp();
    volatile int completions;
    volatile int calls;
    volatile Thread completedOn;

    Call() {
        irp.setCompletionRoutine((i, context) -> {
            completions++;
            completedOn = Thread.currentThread();
        }, null);
    }

    /** The IRP, ready for a new call. */
    Irp irp() {
        if (!irp.inProgress()) {
            irp.reuse();
        }
        calls++;
        return irp;
    }

    /** Completed and its routine has run (another thread may see the IRP completed a moment before that). */
    boolean done() {
        return irp.completed() && completions >= calls;
    }

    NtStatus status() {
        return irp.ioStatus().status();
    }

    long information() {
        return irp.ioStatus().information();
    }

    Object object() {
        return irp.ioStatus().informationObject();
    }

    WskSocket socket() {
        return (WskSocket) irp.ioStatus().informationObject();
    }

    /** Asserts that the IRP completed exactly once for each call, with {@code status}. */
    void assertCompleted(NtStatus status) {
        assertEquals(status, status(), "IRP status");
        assertEquals(calls, completions, "the IRP completed exactly once per call");
    }

    /** A call that completed inline: returned {@code status}, not pending, routine already ran. */
    void assertInline(NtStatus returned, NtStatus status) {
        assertEquals(status, returned, "returned status");
        assertEquals(false, irp.pending(), "inline completion is not pending");
        assertCompleted(status);
    }
}
