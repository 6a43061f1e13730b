package io.fastpath.provider;

import java.util.IdentityHashMap;
import java.util.function.Consumer;

/**
 * The dispatch thread's list of objects (sockets, connection endpoints) with work to do this round: each object
 * is on it at most once however often it is {@link #schedule}d, and runs in the order it was first scheduled.
 * An object scheduled while the list runs (also by itself) runs in a later pass. Dispatch thread only.
 *
 * <p>No allocation in steady state: a ring of references that grows to the most objects scheduled at once and
 * stays that size. Membership is the objects' own flag when the list is made with a {@link Flag} (the providers'
 * lists: scheduling and running an object are then a field read and write), else an identity set that grows the
 * same way. The identity set costs two hash probes per schedule and a removal per run, which measured at about a
 * fifth of an idle WSK dispatch round (perf/IdleRound in docs/perf/apis.md).
 *
 * @param <T> what is scheduled
 */
public final class WorkList<T> {
    /** Reads and writes an object's own on-this-list flag (a field only the list's owner and the list touch). */
    public interface Flag<T> {
        boolean isSet(T item);

        void set(T item, boolean on);
    }

    /** Membership when there is no {@link #flag}, else null. */
    private final IdentityHashMap<T, Boolean> members;
    private final Flag<T> flag;
    private Object[] ring;
    private int head;
    private int count;

    public WorkList() {
        this(64);
    }

    public WorkList(int initialCapacity) {
        this(initialCapacity, null);
    }

    /** A list whose objects keep their own membership flag, read and written through {@code flag}. */
    public WorkList(Flag<T> flag) {
        this(64, flag);
    }

    /** {@code flag} null: membership in an identity set. */
    public WorkList(int initialCapacity, Flag<T> flag) {
        int capacity = Integer.highestOneBit(Math.max(initialCapacity, 2) - 1) << 1;
        this.ring = new Object[capacity];
        this.flag = flag;
        this.members = flag == null ? new IdentityHashMap<>(capacity) : null;
    }

    /** Puts {@code item} on the list unless it is there already. Returns whether it was added. */
    public boolean schedule(T item) {
        if (flag != null) {
            if (flag.isSet(item)) {
                return false;
            }
            flag.set(item, true);
        } else if (members.putIfAbsent(item, Boolean.TRUE) != null) {
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
        return flag != null ? flag.isSet(item) : members.containsKey(item);
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
            if (flag != null) {
                flag.set(item, false);
            } else {
                members.remove(item);
            }
            ran++;
            action.accept(item);
        }
        return ran;
    }
}
