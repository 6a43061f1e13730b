package io.fastpath.provider;

import java.util.IdentityHashMap;
import java.util.function.Consumer;

/**
 * The dispatch thread's list of objects (sockets, connection endpoints) with work to do this round: each object
 * is on it at most once however often it is {@link #schedule}d, and runs in the order it was first scheduled.
 * An object scheduled while the list runs (also by itself) runs in a later pass. Dispatch thread only.
 *
 * <p>No allocation in steady state: a ring of references and an identity set that grow to the most objects
 * scheduled at once and stay that size.
 *
 * @param <T> what is scheduled
 */
public final class WorkList<T> {
    private final IdentityHashMap<T, Boolean> members;
    private Object[] ring;
    private int head;
    private int count;

    public WorkList() {
        this(64);
    }

    public WorkList(int initialCapacity) {
        int capacity = Integer.highestOneBit(Math.max(initialCapacity, 2) - 1) << 1;
        this.ring = new Object[capacity];
        this.members = new IdentityHashMap<>(capacity);
    }

    /** Puts {@code item} on the list unless it is there already. Returns whether it was added. */
    public boolean schedule(T item) {
        if (members.putIfAbsent(item, Boolean.TRUE) != null) {
            return false;
        }
        if (count == ring.length) {
            Object[] bigger = new Object[ring.length * 2];
            for (int i = 0; i < count; i++) {
                bigger[i] = ring[(head + i) & (ring.length - 1)];
            }
            ring = bigger;
            head = 0;
        }
        ring[(head + count) & (ring.length - 1)] = item;
        count++;
        return true;
    }

    /** Whether {@code item} is on the list. */
    public boolean isScheduled(T item) {
        return members.containsKey(item);
    }

    public int size() {
        return count;
    }

    public boolean isEmpty() {
        return count == 0;
    }

    /**
     * Runs the objects on the list now, oldest first, each taken off the list before it runs (so it may schedule
     * itself again): one pass over those on it when called. Returns how many ran.
     */
    public int runPass(Consumer<? super T> action) {
        return run(action, count);
    }

    /**
     * Runs objects off the list until it is empty or {@code limit} have run, including objects scheduled while
     * it runs. Returns how many ran.
     */
    @SuppressWarnings("unchecked")
    public int run(Consumer<? super T> action, int limit) {
        int ran = 0;
        while (count > 0 && ran < limit) {
            T item = (T) ring[head];
            ring[head] = null;
            head = (head + 1) & (ring.length - 1);
            count--;
            members.remove(item);
            ran++;
            action.accept(item);
        }
        return ran;
    }
}
