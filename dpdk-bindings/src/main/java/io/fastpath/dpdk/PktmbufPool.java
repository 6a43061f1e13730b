package io.fastpath.dpdk;

import static io.fastpath.dpdk.Layouts.*;
import static io.fastpath.dpdk.Native.ALL;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * A pool of packet mbufs ({@code rte_pktmbuf_pool_create}).
 *
 * <p>Allocation is static inline in DPDK ({@code rte_pktmbuf_alloc_bulk}); fastpath does the same work from
 * Java: it takes mbufs from the calling lcore's cache ({@code rte_mempool_do_generic_get}: hot objects first,
 * the cache refilled from the backend {@code size + remaining} at a time), or without a cache calls the pool's
 * dequeue operation through {@code rte_mempool_ops_table} (a function pointer, the way the inline code does),
 * and then resets each mbuf as {@code rte_pktmbuf_reset} would. Freeing goes through
 * {@code rte_pktmbuf_free_bulk} ({@link MbufArray#freeAll}), which puts into the same lcore cache.
 *
 * <p>Thread: {@link #allocBulk(MbufArray, int, int)} and the counters are thread-safe (the ring behind the
 * pool is multi-producer, multi-consumer); {@link #allocBulk(MbufArray, int, int, long)} with a cache only on
 * the thread whose {@link #localCache()} it is; {@link #close()} only when no mbuf of the pool is in use.
 */
public final class PktmbufPool implements AutoCloseable {
    private static final MethodHandle POOL_CREATE = Native.downcall("rte_pktmbuf_pool_create",
        FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
            ValueLayout.JAVA_SHORT, ValueLayout.JAVA_SHORT, ValueLayout.JAVA_INT));
    private static final MethodHandle POOL_FREE = Native.downcall("rte_mempool_free",
        FunctionDescriptor.ofVoid(ValueLayout.ADDRESS));
    private static final MethodHandle AVAIL_COUNT = Native.downcall("rte_mempool_avail_count",
        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
    private static final MethodHandle IN_USE_COUNT = Native.downcall("rte_mempool_in_use_count",
        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
    /** {@code int (*rte_mempool_dequeue_t)(struct rte_mempool *mp, void **obj_table, unsigned int n)}. */
    private static final MethodHandle DEQUEUE = Native.pointerCall(
        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT),
        Linker.Option.critical(false));
    private static final long OPS_TABLE = Native.symbol("rte_mempool_ops_table").address();

    /** Default data room: 2 KiB of frame after RTE_PKTMBUF_HEADROOM, as RTE_MBUF_DEFAULT_BUF_SIZE. */
    public static final int DEFAULT_DATA_ROOM = 2048 + (int) PKTMBUF_HEADROOM;
    /** RTE_MEMPOOL_CACHE_MAX_SIZE: a get larger than this skips the cache. */
    private static final int CACHE_MAX_SIZE = 512;

    private final String name;
    private final MemorySegment pool;
    private final long poolAddress;
    private final MemorySegment dequeue;
    private final int dataRoom;
    private final int cacheSize;
    private final long localCaches;
    private boolean closed;

    private PktmbufPool(String name, MemorySegment pool, int dataRoom) {
        this.name = name;
        this.pool = pool.reinterpret(MEMPOOL_LOCAL_CACHE + 8);
        this.poolAddress = pool.address();
        this.dataRoom = dataRoom;
        this.cacheSize = this.pool.get(ValueLayout.JAVA_INT, MEMPOOL_CACHE_SIZE);
        this.localCaches = this.pool.get(ValueLayout.JAVA_LONG, MEMPOOL_LOCAL_CACHE);
        int opsIndex = this.pool.get(ValueLayout.JAVA_INT, MEMPOOL_OPS_INDEX);
        long ops = OPS_TABLE + MEMPOOL_OPS_TABLE_OPS + opsIndex * MEMPOOL_OPS_SIZE;
        this.dequeue = MemorySegment.ofAddress(ALL.get(ValueLayout.JAVA_LONG, ops + MEMPOOL_OPS_DEQUEUE));
    }

    /**
     * Creates a pool of {@code count} mbufs with {@code dataRoom} bytes of buffer each (headroom included).
     *
     * @param cacheSize per-lcore cache size (0..512), used by registered threads and PMDs when they free
     */
    public static PktmbufPool create(String name, int count, int cacheSize, int dataRoom) {
        Eal.shared();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment mp = (MemorySegment) POOL_CREATE.invokeExact(arena.allocateFrom(name), count, cacheSize,
                (short) 0, (short) dataRoom, -1);
            if (mp.address() == 0) {
                throw new DpdkException("rte_pktmbuf_pool_create " + name + " (" + count + " mbufs)", Native.rteErrno());
            }
            return new PktmbufPool(name, mp, dataRoom);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public static PktmbufPool create(String name, int count) {
        return create(name, count, 256, DEFAULT_DATA_ROOM);
    }

    public String name() {
        return name;
    }

    /** {@code struct rte_mempool *}, for queue setup. */
    public MemorySegment address() {
        return pool;
    }

    public int dataRoom() {
        return dataRoom;
    }

    /**
     * Allocates {@code count} mbufs into {@code out[from..from+count)}, all or nothing.
     *
     * @return true when all were allocated, false when the pool has fewer free (nothing allocated)
     */
    public boolean allocBulk(MbufArray out, int from, int count) {
        if (dequeue(out.address() + (long) from * Long.BYTES, count) < 0) {
            return false;
        }
        for (int i = 0; i < count; i++) {
            Mbuf.reset(out.get(from + i));
        }
        return true;
    }

    /**
     * As {@link #allocBulk(MbufArray, int, int)}, through {@code cache} (from {@link #localCache()} on this
     * thread; 0: none) as {@code rte_mempool_do_generic_get} does: the cache's newest (hottest) objects first;
     * what they do not cover comes from refilling the cache to its size plus the rest in one backend dequeue
     * (one ring operation for many allocations); when the backend has too few for that, straight from it.
     */
    public boolean allocBulk(MbufArray out, int from, int count, long cache) {
        if (cache == 0) {
            return allocBulk(out, from, count);
        }
        int len = ALL.get(ValueLayout.JAVA_INT, cache + MEMPOOL_CACHE_LEN);
        int fromCache = Math.min(count, len);
        long objs = cache + MEMPOOL_CACHE_OBJS;
        for (int i = 0; i < fromCache; i++) {
            out.set(from + i, ALL.get(ValueLayout.JAVA_LONG, objs + (long) (len - 1 - i) * Long.BYTES));
        }
        ALL.set(ValueLayout.JAVA_INT, cache + MEMPOOL_CACHE_LEN, len - fromCache);
        int remaining = count - fromCache;
        if (remaining > 0) {
            int size = ALL.get(ValueLayout.JAVA_INT, cache + MEMPOOL_CACHE_SIZE_FIELD);
            if (remaining <= CACHE_MAX_SIZE && dequeue(objs, size + remaining) >= 0) {
                for (int i = 0; i < remaining; i++) {
                    out.set(from + fromCache + i,
                        ALL.get(ValueLayout.JAVA_LONG, objs + (long) (size + remaining - 1 - i) * Long.BYTES));
                }
                ALL.set(ValueLayout.JAVA_INT, cache + MEMPOOL_CACHE_LEN, size);
            } else if (dequeue(out.address() + (long) (from + fromCache) * Long.BYTES, remaining) < 0) {
                // Give back what the cache gave (they are still in its array, above len).
                ALL.set(ValueLayout.JAVA_INT, cache + MEMPOOL_CACHE_LEN, len);
                for (int i = 0; i < fromCache; i++) {
                    out.set(from + i, 0L); // nothing allocated: no pointer into the cache stays behind
                }
                return false;
            }
        }
        for (int i = 0; i < count; i++) {
            Mbuf.reset(out.get(from + i));
        }
        return true;
    }

    /**
     * One mbuf, as {@link #allocBulk(MbufArray, int, int, long) allocBulk(scratch, 0, 1, cache)} and with the
     * same result, without the array when the cache holds one (the newest, reset): the transmit path's
     * allocation, once per segment.
     *
     * @param scratch an array of at least one entry for the other cases (refill or no cache)
     * @return the mbuf, or 0 when the pool has none free
     */
    public long allocOne(long cache, MbufArray scratch) {
        if (cache != 0) {
            int len = ALL.get(ValueLayout.JAVA_INT, cache + MEMPOOL_CACHE_LEN);
            if (len > 0) {
                long m = ALL.get(ValueLayout.JAVA_LONG, cache + MEMPOOL_CACHE_OBJS + (long) (len - 1) * Long.BYTES);
                ALL.set(ValueLayout.JAVA_INT, cache + MEMPOOL_CACHE_LEN, len - 1);
                Mbuf.reset(m);
                return m;
            }
        }
        return allocBulk(scratch, 0, 1, cache) ? scratch.get(0) : 0;
    }

    /**
     * The calling thread's cache of this pool ({@code rte_mempool_default_cache}): 0 when the pool has no
     * caches or the thread is no lcore (neither an EAL thread nor {@link Eal#registerThread registered}).
     * Set-up only (a symbol lookup); the address stays valid for the thread until it unregisters.
     */
    public long localCache() {
        if (cacheSize == 0) {
            return 0;
        }
        int lcore = Eal.currentLcoreId();
        if (lcore < 0 || lcore >= MAX_LCORE) {
            return 0;
        }
        return localCaches + lcore * MEMPOOL_CACHE_STRUCT_SIZE;
    }

    private int dequeue(long table, int count) {
        try {
            return (int) DEQUEUE.invokeExact(dequeue, poolAddress, table, count);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** Mbufs free in the pool, per-lcore caches included. */
    public int availableCount() {
        try {
            return (int) AVAIL_COUNT.invokeExact(pool);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** Mbufs handed out and not yet returned. */
    public int inUseCount() {
        try {
            return (int) IN_USE_COUNT.invokeExact(pool);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            POOL_FREE.invokeExact(pool);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }
}
