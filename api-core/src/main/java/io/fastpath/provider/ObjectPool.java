package io.fastpath.provider;

import java.util.Arrays;
import java.util.function.Supplier;

/**
 * A stack of spare objects (data indications, TSDU descriptors): {@link #acquire()} takes one or, when none is
 * spare, makes one (warm-up only: a steady state returns as many as it takes); {@link #release} puts one back,
 * growing the stack if more came back than it held. The caller resets an object before releasing it. Dispatch
 * thread only.
 *
 * @param <T> the pooled type
 */
public final class ObjectPool<T> {
    private final Supplier<T> factory;
    private Object[] spare;
    private int count;

    /** A pool holding {@code prefilled} new objects. */
    public ObjectPool(Supplier<T> factory, int capacity, int prefilled) {
        this.factory = factory;
        this.spare = new Object[Math.max(capacity, prefilled)];
        for (int i = 0; i < prefilled; i++) {
            spare[count++] = factory.get();
        }
    }

    @SuppressWarnings("unchecked")
    public T acquire() {
        if (count == 0) {
            return factory.get();
        }
        T t = (T) spare[--count];
        spare[count] = null;
        return t;
    }

    public void release(T t) {
        if (count == spare.length) {
            spare = Arrays.copyOf(spare, count * 2);
        }
        spare[count++] = t;
    }

    /** Spare objects now. */
    public int spare() {
        return count;
    }
}
