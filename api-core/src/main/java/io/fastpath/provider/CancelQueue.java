package io.fastpath.provider;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A provider's cancel routine: IoCancelIrp may come from any thread, but a request is cancelled on the dispatch
 * thread, where its queues live. On the dispatch thread the cancel runs at once; from another thread the IRP is
 * queued and cancelled in the next round ({@link #drain()}). Either way {@code onDispatchThread} sees only IRPs
 * still in progress, and completes them (STATUS_CANCELLED) if the request has not gone past the point of no
 * return.
 *
 * <p>A queued cancel names the request it was meant for (the IRP's incarnation, counted up by each
 * {@link Irp#begin}): if that request completed and the IRP was reused for the next one before the round, the
 * next one is not cancelled. The queue runs through the IRPs themselves (a lock-free stack of them, each on it at
 * most once; a second cancel of a queued IRP only updates the request it names), so it never fills, holds at most
 * one entry per IRP, and allocates nothing: a cancel is never dropped.
 *
 * @param <I> the API's IRP type
 */
public final class CancelQueue<I extends Irp<I>> implements CancelRoutine<I> {
    private final DispatchLoop loop;
    /** The queued IRPs, newest first (a field, not an {@code AtomicReference}: one cache line less per round). */
    private volatile I head;
    private static final VarHandle HEAD;

    static {
        try {
            HEAD = MethodHandles.lookup().findVarHandle(CancelQueue.class, "head", Irp.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
    private final CancelRoutine<I> onDispatchThread;

    public CancelQueue(DispatchLoop loop, CancelRoutine<I> onDispatchThread) {
        this.loop = loop;
        this.onDispatchThread = onDispatchThread;
    }

    @Override
    public void cancel(I irp) {
        if (loop.onDispatchThread()) {
            if (irp.inProgress()) {
                onDispatchThread.cancel(irp);
            }
            return;
        }
        // Irp.cancel() saw the IRP in progress before calling: the incarnation read now is that request's, or one
        // that began while this cancel was being made (either may be cancelled).
        irp.cancelTarget = irp.incarnation;
        if (!irp.claimCancelLink()) {
            return; // queued already: the drain reads cancelTarget after taking it off the queue
        }
        I h;
        do {
            h = head;
            irp.cancelNext = h;
        } while (!HEAD.compareAndSet(this, h, irp));
    }

    /** Cancels the IRPs queued from other threads (dispatch thread), in the order queued; returns how many. */
    public int drain() {
        // A plain read first: the dispatch thread drains every round, and an atomic exchange on an empty queue
        // would cost a locked instruction (and drain the store buffer) each round for nothing.
        if (head == null) {
            return 0;
        }
        @SuppressWarnings("unchecked")
        I list = (I) HEAD.getAndSet(this, (Irp<?>) null);
        if (list == null) {
            return 0;
        }
        I fifo = null;
        while (list != null) { // the stack is newest first
            I n = list.cancelNext;
            list.cancelNext = fifo;
            fifo = list;
            list = n;
        }
        int count = 0;
        while (fifo != null) {
            I irp = fifo;
            fifo = irp.cancelNext;
            irp.cancelNext = null;
            irp.releaseCancelLink(); // first: a cancel from now on queues it again, so none is missed
            if (irp.inProgress() && irp.incarnation == irp.cancelTarget) {
                onDispatchThread.cancel(irp);
            }
            count++;
        }
        return count;
    }
}
