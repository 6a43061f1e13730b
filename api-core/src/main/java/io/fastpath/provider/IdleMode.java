package io.fastpath.provider;

import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.YieldingIdleStrategy;

/** What a provider's own dispatch thread does when a round found no work. */
public enum IdleMode {
    /** Spins: lowest latency, one core at 100%. */
    BUSY_SPIN,
    /** Yields the core between rounds. */
    YIELD,
    /** Spins, yields, then parks 1-100 µs (the default). */
    BACKOFF;

    /** A fresh strategy for one thread (strategies keep state, so each thread gets its own). */
    IdleStrategy newStrategy() {
        return switch (this) {
            case BUSY_SPIN -> new BusySpinIdleStrategy();
            case YIELD -> new YieldingIdleStrategy();
            case BACKOFF -> new BackoffIdleStrategy(100, 10, 1_000, 100_000);
        };
    }
}
