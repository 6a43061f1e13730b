package io.fastpath.perf;

import io.fastpath.dpdk.Eal;
import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.MbufArray;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.Port;
import io.fastpath.dpdk.RingPair;

/**
 * The test bench shared by the benchmarks: a pool per side and a ring pair between them, created once per
 * trial (one JMH fork is one JVM, and EAL can start once per JVM).
 *
 * <p>Thread: the JMH worker thread, set-up and tear-down included. Buffers: the rig owns nothing in flight;
 * {@link #close()} drains both rings (the ring PMD does not free on close) before closing.
 */
final class RingRig implements AutoCloseable {
    /** Mbufs per pool: the benchmarks keep at most a few bursts in flight. */
    private static final int POOL_SIZE = 1023;
    private static final int RING_SIZE = 1024;
    /**
     * Per-lcore cache of each pool: 256, the cache the stacks have in production ({@code PortOptions},
     * {@code TcpHarness}), so the same few mbufs come back hot. Until 2026-12-06 the rig had none: every allocation
     * and free went to the pool's ring (a FIFO: the mbufs cycled through all 1,023, each one cold), about 100-115 ns
     * of a round trip that no deployment pays; {@code -Dfastpath.bench.poolCache=0} measures that way again, for
     * comparisons with older numbers (docs/perf/budget.md).
     */
    private static final int POOL_CACHE = Integer.getInteger("fastpath.bench.poolCache", 256);

    final PktmbufPool poolA;
    final PktmbufPool poolB;
    final RingPair pair;

    RingRig(String name) {
        Eal.shared();
        poolA = PktmbufPool.create(name + "_pa", POOL_SIZE, POOL_CACHE, PktmbufPool.DEFAULT_DATA_ROOM);
        poolB = PktmbufPool.create(name + "_pb", POOL_SIZE, POOL_CACHE, PktmbufPool.DEFAULT_DATA_ROOM);
        pair = RingPair.create(name, RING_SIZE, poolA, poolB, EthDevPort.Config.defaults());
    }

    EthDevPort a() {
        return pair.a();
    }

    EthDevPort b() {
        return pair.b();
    }

    /** Allocates {@code count} mbufs from A's pool into {@code into[0..count)}. */
    MbufArray allocate(int count) {
        MbufArray into = new MbufArray(count);
        if (!poolA.allocBulk(into, 0, count)) {
            throw new IllegalStateException("pool " + poolA.name() + " has fewer than " + count + " mbufs free");
        }
        return into;
    }

    /** Receives and frees whatever is waiting on {@code port}; returns how many frames that was. */
    static int drain(Port port) {
        MbufArray burst = new MbufArray(32);
        int total = 0;
        for (int n; (n = port.receive(burst, 32)) > 0; ) {
            burst.freeAll(n);
            total += n;
        }
        return total;
    }

    /** Thrown from a benchmark loop when a burst did not make the round trip whole: the numbers would lie. */
    static IllegalStateException lost(String where, int expected, int actual) {
        return new IllegalStateException(where + ": expected " + expected + " frames, got " + actual);
    }

    @Override
    public void close() {
        drain(pair.a());
        drain(pair.b());
        pair.close();
        int leakedA = poolA.inUseCount();
        int leakedB = poolB.inUseCount();
        poolA.close();
        poolB.close();
        if (leakedA != 0 || leakedB != 0) {
            throw new IllegalStateException("mbufs not returned: " + leakedA + " of A's pool, " + leakedB + " of B's");
        }
    }
}
