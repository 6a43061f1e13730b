package io.fastpath.provider;

import java.util.function.Consumer;

/**
 * Completes IRPs on the dispatch thread and runs their routines, with a bound on nesting: a routine may start a
 * new request that completes inline, whose routine starts another... Beyond {@code maxDepth} nested completions
 * the completion is deferred ({@link #runDeferred()}, next dispatch round), so the stack cannot overflow. What a
 * routine throws goes to the error handler; the dispatch thread goes on.
 *
 * @param <I> the API's IRP type
 */
public final class IrpCompleter<I extends Irp<I>> {
    private final Consumer<Throwable> errors;
    private final int maxDepth;
    private final IrpQueue<I> deferred = new IrpQueue<>();
    private int depth;

    public IrpCompleter(Consumer<Throwable> errors, int maxDepth) {
        this.errors = errors;
        this.maxDepth = maxDepth;
    }

    /**
     * Completes {@code irp} and runs its routine now, or, nested too deep, keeps the result and does both in the
     * next {@link #runDeferred()} (the IRP stays in progress until then). Returns false when deferred.
     */
    public boolean complete(I irp, NtStatus status, long information, Object object) {
        return complete(irp, status.code(), information, object);
    }

    /** {@link #complete(Irp, NtStatus, long, Object)} with the raw NTSTATUS value (the providers' hot path). */
    public boolean complete(I irp, int status, long information, Object object) {
        if (depth >= maxDepth && irp.hasCompletionRoutine()) {
            irp.deferredStatus = status;
            irp.deferredInformation = information;
            irp.deferredObject = object;
            deferred.add(irp);
            return false;
        }
        finish(irp, status, information, object);
        return true;
    }

    private void finish(I irp, int status, long information, Object object) {
        if (!irp.complete(status, information, object)) {
            return; // completed already (a cancel won the race): the routine ran for that completion
        }
        depth++;
        try {
            irp.runCompletionRoutine(errors);
        } finally {
            depth--;
        }
    }

    /** Runs the completions deferred so far; those their routines defer in turn wait for the next round. */
    public int runDeferred() {
        int work = 0;
        int due = deferred.size();
        I irp;
        while (work < due && (irp = deferred.poll()) != null) {
            Object object = irp.deferredObject;
            irp.deferredObject = null;
            if (irp.inProgress()) { // else completed meanwhile (a cancel at close): that completion stands
                finish(irp, irp.deferredStatus, irp.deferredInformation, object);
            }
            work++;
        }
        return work;
    }

    /** Completions waiting for {@link #runDeferred()}. */
    public int deferredCount() {
        return deferred.size();
    }
}
