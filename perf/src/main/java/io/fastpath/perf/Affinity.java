package io.fastpath.perf;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Pins the calling thread to one CPU with Linux's {@code sched_setaffinity(0, ...)} (pid 0 is the calling
 * thread), through FFM: the JDK has no thread-affinity API. {@code rte_thread_register} only records a
 * thread's CPU set, it does not change it, so pinning before or after EAL registration is the same.
 *
 * <p>Thread: any; each call affects only the calling thread.
 */
@SuppressWarnings("restricted") // sched_setaffinity: the harness runs with --enable-native-access
final class Affinity {
    /** {@code cpu_set_t} is 1024 bits in glibc. */
    private static final long CPU_SET_BYTES = 128;
    private static final MethodHandle SET;
    private static final MethodHandle GET;

    static {
        Linker linker = Linker.nativeLinker();
        FunctionDescriptor descriptor = FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
            ValueLayout.JAVA_LONG, ValueLayout.ADDRESS);
        SET = linker.defaultLookup().find("sched_setaffinity").map(a -> linker.downcallHandle(a, descriptor))
            .orElse(null);
        GET = linker.defaultLookup().find("sched_getaffinity").map(a -> linker.downcallHandle(a, descriptor))
            .orElse(null);
    }

    private Affinity() {
    }

    /**
     * Pins the calling thread to {@code cpu}; returns a description of the outcome ("cpu N", or why not). A
     * negative {@code cpu} leaves the thread as it is.
     */
    static String pin(int cpu) {
        if (cpu < 0) {
            return "not pinned (cpus " + current() + ")";
        }
        if (SET == null || cpu >= CPU_SET_BYTES * 8) {
            return "not pinned (no sched_setaffinity)";
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment mask = arena.allocate(CPU_SET_BYTES, 8);
            mask.set(ValueLayout.JAVA_LONG, (cpu / 64) * 8L, 1L << (cpu % 64));
            int rc = (int) SET.invokeExact(0, CPU_SET_BYTES, mask);
            return rc == 0 ? "cpu " + cpu : "not pinned (sched_setaffinity failed for cpu " + cpu + ")";
        } catch (Throwable t) {
            return "not pinned (" + t + ")";
        }
    }

    /** The calling thread's allowed CPUs, as a list ("0,1"), or "?" when unknown. */
    static String current() {
        if (GET == null) {
            return "?";
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment mask = arena.allocate(CPU_SET_BYTES, 8);
            int rc = (int) GET.invokeExact(0, CPU_SET_BYTES, mask);
            if (rc != 0) {
                return "?";
            }
            StringBuilder cpus = new StringBuilder();
            for (int cpu = 0; cpu < CPU_SET_BYTES * 8; cpu++) {
                if ((mask.get(ValueLayout.JAVA_LONG, (cpu / 64) * 8L) & (1L << (cpu % 64))) != 0) {
                    cpus.append(cpus.isEmpty() ? "" : ",").append(cpu);
                }
            }
            return cpus.toString();
        } catch (Throwable t) {
            return "?";
        }
    }
}
