package io.fastpath.dpdk;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.util.Optional;

/**
 * Loads DPDK's shared libraries and creates every downcall handle of the bindings, in one place, so a missing
 * library or symbol fails at class initialisation with a {@link LinkageError} that names it.
 *
 * <p>Thread: any. Memory: {@link #ALL} is a view over the whole address space used for raw reads and writes
 * of DPDK structures by address; it allocates nothing per access.
 */
public final class Native {
    /** Sonames of DPDK 22.11 (ABI 23); unversioned names are tried second (dev package installed). */
    private static final String[] LIBRARIES = {
        "librte_eal.so.23", "librte_ring.so.23", "librte_mempool.so.23", "librte_mbuf.so.23",
        "librte_ethdev.so.23", "librte_bus_vdev.so.23", "librte_net_ring.so.23",
    };

    static final Linker LINKER = Linker.nativeLinker();
    /** The whole address space, for reads and writes at raw addresses. */
    public static final MemorySegment ALL = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);

    private static final SymbolLookup LOOKUP;
    private static final String LOAD_FAILURE;

    static {
        SymbolLookup lookup = null;
        String failure = null;
        for (String library : LIBRARIES) {
            SymbolLookup one = load(library);
            if (one == null) {
                failure = "cannot load " + library + " (is DPDK 22.11 installed? apt-get install dpdk libdpdk-dev)";
                break;
            }
            lookup = lookup == null ? one : lookup.or(one);
        }
        LOOKUP = lookup;
        LOAD_FAILURE = failure;
    }

    private Native() {
    }

    private static SymbolLookup load(String soname) {
        try {
            return SymbolLookup.libraryLookup(soname, Arena.global());
        } catch (IllegalArgumentException first) {
            try {
                return SymbolLookup.libraryLookup(soname.substring(0, soname.lastIndexOf(".so") + 3), Arena.global());
            } catch (IllegalArgumentException second) {
                return null;
            }
        }
    }

    /** True when every DPDK library loaded; otherwise {@link #loadFailure()} says which did not. */
    public static boolean available() {
        return LOAD_FAILURE == null;
    }

    public static String loadFailure() {
        return LOAD_FAILURE;
    }

    static MemorySegment symbol(String name) {
        if (LOAD_FAILURE != null) {
            throw new LinkageError(LOAD_FAILURE);
        }
        Optional<MemorySegment> found = LOOKUP.find(name);
        if (found.isEmpty()) {
            throw new LinkageError("DPDK symbol not found: " + name);
        }
        return found.get();
    }

    /** A downcall handle for an exported DPDK function. */
    static MethodHandle downcall(String name, FunctionDescriptor descriptor, Linker.Option... options) {
        return LINKER.downcallHandle(symbol(name), descriptor, options);
    }

    /** A handle that calls a C function pointer passed as the first (MemorySegment) argument. */
    static MethodHandle pointerCall(FunctionDescriptor descriptor, Linker.Option... options) {
        return LINKER.downcallHandle(descriptor, options);
    }

    private static final MethodHandle STRERROR = downcall("rte_strerror",
        FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_INT));

    /**
     * The calling thread's {@code rte_errno}. It is a thread-local variable ({@code per_lcore__rte_errno});
     * dlsym resolves a TLS symbol to the calling thread's copy, so the lookup is repeated on every call.
     * Error paths only.
     */
    public static int rteErrno() {
        return symbol("per_lcore__rte_errno").reinterpret(4).get(ValueLayout.JAVA_INT, 0);
    }

    /** DPDK's text for an error number (rte_errno or a negative return value). */
    public static String strerror(int errno) {
        try {
            MemorySegment text = (MemorySegment) STRERROR.invokeExact(Math.abs(errno));
            return cString(text);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Reads a NUL-terminated string at a native address. */
    public static String cString(MemorySegment pointer) {
        if (pointer.address() == 0) {
            return "";
        }
        return pointer.reinterpret(Integer.MAX_VALUE).getString(0, StandardCharsets.UTF_8);
    }

    static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException re) {
            return re;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException(t);
    }
}
