package io.fastpath.libc;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Copies between native addresses with the C library's {@code memcpy}, a critical downcall (no thread-state
 * transition, no allocation). For bulk payload: a segment's bytes from a send buffer into its mbuf, an
 * application's data into a send buffer. At these sizes (kilobytes, into memory another core read last) glibc's
 * copy (aligned stores, {@code rep movsb} above its threshold) measured twice as fast as the JIT's
 * {@code Unsafe.copyMemory} stub on the bulk benchmark's sender (docs/perf/bulk.md, 2026-12-06 night); for a few
 * hundred bytes or less the call costs more than it saves, so callers keep the JIT's copy below
 * {@link #MIN_COPY}. Any thread; nothing is checked: both ranges must be valid and must not overlap.
 *
 * <p>In dpdk-bindings, the one module allowed restricted FFM methods, but in a package of its own: it needs
 * only the C library, and TCP (which calls it) imports nothing of {@code io.fastpath.dpdk}
 * (docs/architecture.md, "Layers"), so the device-free TCP rigs run it on plain native memory.
 */
public final class NativeMemory {
    /** The smallest copy worth the downcall. */
    public static final int MIN_COPY = 512;

    private static final MethodHandle MEMCPY = Linker.nativeLinker().downcallHandle(
        Linker.nativeLinker().defaultLookup().find("memcpy").orElseThrow(),
        FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG,
            ValueLayout.JAVA_LONG), Linker.Option.critical(false));

    private NativeMemory() {
    }

    /**
     * The most one critical downcall copies: a thread in a critical call holds off safepoints (a GC waits for it),
     * so an application's send of many MiB into an empty send buffer is copied in pieces of this size (~5-15 µs each
     * here), not in one call of a millisecond.
     */
    static final int MAX_PIECE = 64 * 1024;

    /** Copies {@code length} bytes from native address {@code source} to native address {@code destination}. */
    public static void copy(long destination, long source, int length) {
        try {
            for (int done = 0; done < length; done += MAX_PIECE) {
                long piece = Math.min(MAX_PIECE, length - done);
                long ignored = (long) MEMCPY.invokeExact(destination + done, source + done, piece);
            }
        } catch (Throwable t) {
            throw new AssertionError("memcpy", t);
        }
    }
}
