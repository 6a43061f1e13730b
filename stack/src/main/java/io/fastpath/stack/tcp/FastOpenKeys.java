package io.fastpath.stack.tcp;

import java.security.SecureRandom;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The Fast Open server's secret keys (RFC 7413 §4.1.2: the current key and the previous one, whose cookies stay
 * valid until the next rotation), shared by every shard of a host. A client's cookie is a MAC of its address, and
 * its flows spread over the shards: with a key per shard a cookie would be valid only on the shard that issued it,
 * one flow in N. Shards of one {@code ShardGroup} hold one instance; a lone {@link TcpLayer} has its own.
 *
 * <p>Thread: any. {@link #rotate()} publishes a new immutable {@link Keys} with one compare-and-set; each shard's
 * poll thread reads it with one volatile load per cookie made or checked, and makes its own SipHash instances from
 * it when it changes (an {@link IsnGenerator} keeps its state per thread).
 */
public final class FastOpenKeys {
    /** One generation: the current key and the previous one (equal until the first rotation). Immutable. */
    record Keys(long k0, long k1, long previousK0, long previousK1) {
    }

    private static final SecureRandom RANDOM = new SecureRandom();
    private final AtomicReference<Keys> keys;

    public FastOpenKeys() {
        long k0 = RANDOM.nextLong();
        long k1 = RANDOM.nextLong();
        keys = new AtomicReference<>(new Keys(k0, k1, k0, k1));
    }

    /** The keys now (a volatile read). */
    Keys keys() {
        return keys.get();
    }

    /**
     * Replaces the current key with a fresh random one on every shard sharing these keys; cookies made with the
     * key it replaces stay valid until the next rotation ("rotate the secret key periodically", RFC 7413 §4.1.2).
     */
    public void rotate() {
        long k0 = RANDOM.nextLong();
        long k1 = RANDOM.nextLong();
        Keys old;
        do {
            old = keys.get();
        } while (!keys.compareAndSet(old, new Keys(k0, k1, old.k0(), old.k1())));
    }
}
