package io.fastpath.provider;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;

/**
 * Calls made off a provider's dispatch thread, on their way to it: a bounded many-to-one queue with a close
 * handshake. After {@link #close()} returns, no offer can add anything (an offer either made it in before, and
 * the owner's last {@link #drain} finds it, or it is told {@link #CLOSED} and finishes the call itself), so a
 * request is never stranded in a queue nobody reads.
 *
 * <p>Threads: {@link #offer} from any thread; {@link #drain} and {@link #close} from the dispatch thread (or
 * the thread closing the provider once the dispatch thread stopped).
 *
 * @param <T> what travels (IRPs, returned chains, tasks)
 */
public final class RequestQueue<T> {
    /** {@link #offer}: queued. */
    public static final int QUEUED = 0;
    /** {@link #offer}: the queue is full; the caller fails the call (STATUS_INSUFFICIENT_RESOURCES). */
    public static final int FULL = 1;
    /** {@link #offer}: the provider is closed; the caller finishes the call itself. */
    public static final int CLOSED = 2;

    private final ManyToOneConcurrentArrayQueue<T> queue;
    /** Threads between their check of {@link #closed} and their offer. */
    private final AtomicInteger offering = new AtomicInteger();
    private volatile boolean closed;

    public RequestQueue(int capacity) {
        this.queue = new ManyToOneConcurrentArrayQueue<>(capacity);
    }

    /** Queues {@code item} (any thread): {@link #QUEUED}, {@link #FULL} or {@link #CLOSED}. */
    public int offer(T item) {
        offering.incrementAndGet();
        try {
            if (closed) {
                return CLOSED;
            }
            return queue.offer(item) ? QUEUED : FULL;
        } finally {
            offering.decrementAndGet();
        }
    }

    /** Hands up to {@code limit} queued items to {@code consumer}, oldest first. Returns how many. */
    public int drain(Consumer<T> consumer, int limit) {
        return queue.drain(consumer, limit);
    }

    /** Takes the oldest item, or null. */
    public T poll() {
        return queue.poll();
    }

    /**
     * Refuses every later offer ({@link #CLOSED}) and waits for offers in flight to finish: once this returns,
     * what is queued is all that ever will be.
     */
    public void close() {
        closed = true;
        while (offering.get() != 0) {
            Thread.onSpinWait();
        }
    }

    public boolean closed() {
        return closed;
    }
}
