package io.fastpath.dpdk;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.ref.Reference;
import java.util.Objects;

/**
 * A native array of mbuf pointers ({@code struct rte_mbuf *[]}), the currency of rx/tx bursts and bulk
 * alloc/free. Allocated once (off-heap, freed by the GC with this object) and reused for every burst.
 *
 * <p>Thread: confined to its owner. Holds addresses only; owning the mbufs is the caller's business.
 */
public final class MbufArray {
    private static final MethodHandle FREE_BULK = Native.downcall("rte_pktmbuf_free_bulk",
        FunctionDescriptor.ofVoid(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT), Linker.Option.critical(false));

    private final MemorySegment segment;
    private final long address;
    private final int capacity;

    public MbufArray(int capacity) {
        if (capacity <= 0 || capacity > 65535) {
            throw new IllegalArgumentException("capacity must be 1..65535, was " + capacity);
        }
        this.capacity = capacity;
        this.segment = Arena.ofAuto().allocate(ValueLayout.JAVA_LONG, capacity);
        this.address = segment.address();
    }

    /** Native address of element 0 (pointers are passed to DPDK as plain 64-bit values: no allocation). */
    public long address() {
        return address;
    }

    public int capacity() {
        return capacity;
    }

    /** The native array, for passing to DPDK. */
    public MemorySegment segment() {
        return segment;
    }

    // get and set run several times per packet (bursts, the transmit and free batches): one index check and a
    // plain load or store through Native.ALL, instead of the segment's bounds, alignment and liveness checks
    // (the segment lives as long as this object, which the caller holds).

    public long get(int index) {
        long mbuf = Native.ALL.get(ValueLayout.JAVA_LONG_UNALIGNED,
            address + ((long) Objects.checkIndex(index, capacity) << 3));
        Reference.reachabilityFence(this); // the native array is freed when this object is collected
        return mbuf;
    }

    public void set(int index, long mbuf) {
        Native.ALL.set(ValueLayout.JAVA_LONG_UNALIGNED,
            address + ((long) Objects.checkIndex(index, capacity) << 3), mbuf);
        Reference.reachabilityFence(this);
    }

    /**
     * Frees the first {@code count} mbufs (whole chains, honouring reference counts) with
     * {@code rte_pktmbuf_free_bulk}; a 0 entry is skipped.
     */
    public void freeAll(int count) {
        if (count == 0) {
            return;
        }
        freeRange(0, count);
    }

    /** Frees entries {@code [from, from + count)}. */
    public void freeRange(int from, int count) {
        if (count <= 0) {
            return;
        }
        try {
            FREE_BULK.invokeExact(address + (long) from * Long.BYTES, count);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }
}
