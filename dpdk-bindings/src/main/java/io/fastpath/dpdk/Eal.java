package io.fastpath.dpdk;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

/**
 * DPDK's Environment Abstraction Layer. {@code rte_eal_init} can run once per process, ever, so this class
 * initialises it at most once per JVM and hands the same instance to every caller (tests share it and
 * create and destroy ports per test).
 *
 * <p>EAL pins the thread that initialises it; fastpath runs the init on a short-lived thread of its own so no
 * application thread is pinned. Threads that use mempool caches or per-lcore state (poll threads) call
 * {@link #registerThread()} first.
 */
public final class Eal {
    private static final MethodHandle EAL_INIT = Native.downcall("rte_eal_init",
        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
    private static final MethodHandle THREAD_REGISTER = Native.downcall("rte_thread_register",
        FunctionDescriptor.of(ValueLayout.JAVA_INT));
    private static final MethodHandle THREAD_UNREGISTER = Native.downcall("rte_thread_unregister",
        FunctionDescriptor.ofVoid());
    private static final MethodHandle SOCKET_ID = Native.downcall("rte_socket_id",
        FunctionDescriptor.of(ValueLayout.JAVA_INT));

    private static final AtomicReference<Eal> INSTANCE = new AtomicReference<>();

    private final List<String> args;

    private Eal(List<String> args) {
        this.args = Collections.unmodifiableList(new ArrayList<>(args));
    }

    /**
     * Initialises EAL with these arguments, or returns the instance already initialised (whatever its
     * arguments were: EAL cannot be initialised twice in one process).
     *
     * @throws DpdkException when rte_eal_init fails, with rte_errno's text
     */
    public static synchronized Eal init(Args args) {
        Eal existing = INSTANCE.get();
        if (existing != null) {
            return existing;
        }
        List<String> argv = args.build();
        int[] result = new int[2];
        Thread initThread = new Thread(() -> {
            result[0] = callInit(argv);
            result[1] = result[0] < 0 ? Native.rteErrno() : 0;
        }, "fastpath-eal-init");
        initThread.start();
        try {
            initThread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while EAL initialised", e);
        }
        if (result[0] < 0) {
            throw new DpdkException("rte_eal_init " + String.join(" ", argv), result[1]);
        }
        Eal eal = new Eal(argv);
        INSTANCE.set(eal);
        return eal;
    }

    /** The EAL of this process, initialised with {@link Args#defaults()} if nobody did it before. */
    public static Eal shared() {
        Eal existing = INSTANCE.get();
        return existing != null ? existing : init(Args.defaults());
    }

    /** True once EAL is up in this JVM. */
    public static boolean initialised() {
        return INSTANCE.get() != null;
    }

    private static int callInit(List<String> argv) {
        // EAL keeps pointers into argv: the strings live as long as the process.
        Arena arena = Arena.global();
        MemorySegment array = arena.allocate(ValueLayout.ADDRESS, argv.size() + 1L);
        for (int i = 0; i < argv.size(); i++) {
            array.setAtIndex(ValueLayout.ADDRESS, i, arena.allocateFrom(argv.get(i)));
        }
        array.setAtIndex(ValueLayout.ADDRESS, argv.size(), MemorySegment.NULL);
        try {
            return (int) EAL_INIT.invokeExact(argv.size(), array);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** The arguments EAL was initialised with. */
    public List<String> args() {
        return args;
    }

    /** Registers the calling (non-EAL) thread as an lcore so it may use mempool caches. */
    public void registerThread() {
        try {
            int rc = (int) THREAD_REGISTER.invokeExact();
            if (rc != 0) {
                throw new DpdkException("rte_thread_register", Native.rteErrno());
            }
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** Releases the calling thread's lcore id. */
    public void unregisterThread() {
        try {
            THREAD_UNREGISTER.invokeExact();
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** The NUMA socket of the calling thread (-1 if unknown, which DPDK calls SOCKET_ID_ANY). */
    public int socketId() {
        try {
            return (int) SOCKET_ID.invokeExact();
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** Builds an EAL argument vector. Defaults fit a laptop or CI box: no hugepages, no PCI, no shared config. */
    public static final class Args {
        private final List<String> args = new ArrayList<>();
        private int memoryMb = 512;
        private String logLevel = "5";

        private Args() {
        }

        /** {@code --no-huge -m 512 --no-pci --no-shconf}, all CPUs for lcore 0, warnings and worse logged. */
        public static Args defaults() {
            return new Args();
        }

        public Args memoryMb(int mb) {
            this.memoryMb = mb;
            return this;
        }

        /** DPDK log level: a number (1 emergency .. 8 debug) or {@code pattern:level}. */
        public Args logLevel(String level) {
            this.logLevel = level;
            return this;
        }

        /** Any further EAL argument, passed as given (e.g. {@code --vdev=net_tap0,iface=x}). */
        public Args add(String arg) {
            args.add(arg);
            return this;
        }

        List<String> build() {
            List<String> argv = new ArrayList<>();
            argv.add("fastpath");
            argv.add("--no-huge");
            argv.add("-m");
            argv.add(Integer.toString(memoryMb));
            argv.add("--no-pci");
            argv.add("--no-shconf");
            argv.add("--no-telemetry");
            // rte_eal_init pins lcore 0 to one CPU unless told otherwise; let it float over all of them.
            argv.add("--lcores=0@(0-" + (Runtime.getRuntime().availableProcessors() - 1) + ")");
            argv.add("--log-level=" + logLevel);
            // net_tap reports at error level what it merely cannot do on this kernel (multiq qdisc, rte_flow,
            // secondary processes) and then works; real failures still reach the caller as return codes.
            argv.add("--log-level=pmd.net.tap:3");
            argv.addAll(args);
            return argv;
        }
    }
}
