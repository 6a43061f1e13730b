package io.fastpath.provider;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
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
    /**
     * Set by an offer after its item is in, cleared by the drain that takes it: a round whose queue never had
     * anything (the common case when the provider's callers are on its own thread) reads this one field of an
     * object it holds already, not the queue's head and slot (two more cache lines per round).
     */
    private volatile boolean pending;
    private static final VarHandle PENDING;

    static {
        try {
            PENDING = MethodHandles.lookup().findVarHandle(RequestQueue.class, "pending", boolean.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

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
            if (!queue.offer(item)) {
                return FULL;
            }
            pending = true; // after the item is in (and before offering drops: close's last drain sees it)
            return QUEUED;
        } finally {
            offering.decrementAndGet();
        }
    }

    /** Hands up to {@code limit} queued items to {@code consumer}, oldest first. Returns how many. */
    public int drain(Consumer<T> consumer, int limit) {
        // A read first (a plain load on x86), as CancelQueue's: an atomic exchange per round on an empty queue
        // would be a locked instruction for nothing. The exchange (a full fence) comes before the queue is read:
        // an offer whose flag it did not see sets the flag after it, so that item is taken by a later drain.
        if (!pending || !takePending()) {
            return 0;
        }
        int n;
        try {
            n = queue.drain(consumer, limit);
        } catch (RuntimeException | Error e) {
            pending = true; // the consumer threw: the items behind the one it threw on are for the next drain
            throw e;
        }
        if (n >= limit) {
            pending = true; // stopped at the limit: the rest is for the next drain
        }
        return n;
    }

    /** Takes the oldest item, or null. */
    public T poll() {
        if (!pending) {
            return null;
        }
        T item = queue.poll();
        if (item != null) {
            return item; // the flag stays set: more may follow
        }
        // Seen empty: clear the flag, then look once more (an offer whose flag the exchange took is visible now;
        // one after it sets the flag again), as drain does.
        takePending();
        return queue.poll();
    }

    /** Clears the pending flag with an exchange (a full fence before the queue is read); returns what it was. */
    private boolean takePending() {
        return (boolean) PENDING.getAndSet(this, false);
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
