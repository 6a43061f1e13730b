package io.fastpath.provider;

import java.util.function.Consumer;
import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;

/**
 * A provider's cancel routine: IoCancelIrp may come from any thread, but a request is cancelled on the dispatch
 * thread, where its queues live. On the dispatch thread the cancel runs at once; from another thread the IRP is
 * queued and cancelled in the next round ({@link #drain()}). Either way {@code onDispatchThread} sees only IRPs
 * still in progress, and completes them (STATUS_CANCELLED) if the request has not gone past the point of no
 * return. No allocation: the queue is bounded (a cancel that finds it full is dropped, as IoCancelIrp gives no
 * guarantee the request is cancelled).
 *
 * @param <I> the API's IRP type
 */
public final class CancelQueue<I extends Irp<I>> implements CancelRoutine<I> {
    private final DispatchLoop loop;
    private final ManyToOneConcurrentArrayQueue<I> queue;
    private final CancelRoutine<I> onDispatchThread;
    private final Consumer<I> drainer = this::cancelNow;
    private final int capacity;

    public CancelQueue(DispatchLoop loop, int capacity, CancelRoutine<I> onDispatchThread) {
        this.loop = loop;
        this.capacity = capacity;
        this.queue = new ManyToOneConcurrentArrayQueue<>(capacity);
        this.onDispatchThread = onDispatchThread;
    }

    @Override
    public void cancel(I irp) {
        if (loop.onDispatchThread()) {
            cancelNow(irp);
        } else {
            queue.offer(irp);
        }
    }

    /** Cancels the IRPs queued from other threads (dispatch thread); returns how many. */
    public int drain() {
        return queue.drain(drainer, capacity);
    }

    private void cancelNow(I irp) {
        if (irp.inProgress()) {
            onDispatchThread.cancel(irp);
        }
    }
}
