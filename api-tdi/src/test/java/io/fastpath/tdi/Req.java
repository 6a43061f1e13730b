package io.fastpath.tdi;

import io.fastpath.provider.NtStatus;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A test's IRP: counts submissions and completions, so every check also proves "completed exactly once". */
final class Req {
    final Irp irp = new Irp();
    volatile int completions;
    int submissions;
    NtStatus returned;
    volatile Thread completedOn;
    /**
     * The buffer whose address the IRP carries (TdiRig.send/receive): reachable while the IRP is, as its routine
     * holds this Req, so a GC cannot free the memory the stack still copies from or into.
     */
    Object memory;
    final IoCompletionRoutine routine = (i, context) -> {
        completions++;
        completedOn = Thread.currentThread();
    };

    /** IoCallDriver. */
    NtStatus call(TdiProvider provider) {
        submissions++;
        returned = provider.callDriver(irp);
        return returned;
    }

    /** Completed and its routine has run (another thread may see the IRP completed a moment before that). */
    boolean done() {
        return irp.completed() && completions >= submissions;
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

    void assertCompleted(NtStatus status) {
        assertTrue(done(), "IRP completed");
        assertEquals(status, status(), "IRP status");
        assertEquals(submissions, completions, "the IRP completed exactly once per submission");
    }

    /** Returned {@code status} inline: not pending, routine already ran. */
    void assertInline(NtStatus status) {
        assertEquals(status, returned, "returned status");
        assertFalse(irp.pending(), "an inline completion is not pending");
        assertCompleted(status);
    }

    void assertPending() {
        assertEquals(NtStatus.STATUS_PENDING, returned, "returned status");
        assertTrue(irp.pending(), "PendingReturned");
    }
}
