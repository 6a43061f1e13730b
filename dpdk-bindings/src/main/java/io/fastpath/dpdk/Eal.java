package io.fastpath.dpdk;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
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
 *
 * <p>Memory: hugepages when the machine has enough free and mounted, {@code --no-huge} otherwise, or as
 * {@link Args#memory} forces; {@link #memory()} says which and why (docs/operations.md).
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

    private static final MethodHandle RUNTIME_DIR = Native.downcall("rte_eal_get_runtime_dir",
        FunctionDescriptor.of(ValueLayout.ADDRESS));

    private static final AtomicReference<Eal> INSTANCE = new AtomicReference<>();

    private final List<String> args;
    private final Plan plan;

    private Eal(Plan plan) {
        this.plan = plan;
        this.args = Collections.unmodifiableList(new ArrayList<>(plan.argv()));
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
        Plan plan = args.plan(Hugepages.probe());
        List<String> argv = plan.argv();
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
        Eal eal = new Eal(plan);
        if (plan.hugepages()) {
            eal.removeEmptyRuntimeDir();
        }
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

    /** True if EAL's memory (mempools, rings) is hugepage-backed; false if it runs with {@code --no-huge}. */
    public boolean hugepages() {
        return plan.hugepages();
    }

    /**
     * How EAL's memory was chosen, for a start-up line: {@code hugepages 512 MiB (at DIR, free 2 MiB x 256 free
     * of 256)} or {@code no hugepages (--no-huge, 512 MiB of ordinary memory: no hugetlbfs mounted ...)}.
     */
    public String memory() {
        return plan.memory();
    }

    /**
     * With a per-process file prefix (hugepages) EAL makes /var/run/dpdk/fastpath-PID and, with --no-shconf,
     * never puts anything in it: remove it now so runs leave no directory behind.
     */
    private void removeEmptyRuntimeDir() {
        try {
            MemorySegment dir = (MemorySegment) RUNTIME_DIR.invokeExact();
            if (dir.address() != 0) {
                String path = Native.cString(dir);
                if (path.contains("fastpath-" + ProcessHandle.current().pid())) {
                    Files.deleteIfExists(Path.of(path));
                }
            }
        } catch (IOException e) {
            // Not empty after all (a PMD put something there): leave it.
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
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

    /**
     * The calling thread's lcore id ({@code rte_lcore_id()}, inline in DPDK: the thread-local
     * {@code per_lcore__lcore_id}, which dlsym resolves to the calling thread's copy), or -1 when the thread
     * is no lcore (LCORE_ID_ANY). A symbol lookup: set-up only.
     */
    public static int currentLcoreId() {
        return Native.symbol("per_lcore__lcore_id").reinterpret(4).get(ValueLayout.JAVA_INT, 0);
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

    /**
     * What EAL will be started with and why: the argument vector, whether memory is hugepage-backed, and a
     * one-line description of the choice for start-up lines ({@link #memory}).
     */
    public record Plan(List<String> argv, boolean hugepages, String memory) {
        public Plan {
            argv = List.copyOf(argv);
        }
    }

    /**
     * Builds an EAL argument vector. The defaults need no set-up and fit a laptop or CI box: hugepages when the
     * machine has enough free and mounted ({@link Hugepages}), otherwise {@code --no-huge -m 512}; no PCI
     * devices ({@code --no-pci}: virtual ports only) unless {@link #pci} allows some; no shared config; lcore 0
     * floating over every CPU. Any option given with {@link #add} wins over the one fastpath would add.
     */
    public static final class Args {
        /** Where EAL's memory comes from. */
        public enum Memory {
            /** Hugepages if enough are free and a hugetlbfs is mounted, else {@code --no-huge}. */
            AUTO,
            /** Hugepages or fail (before rte_eal_init, saying what is missing). */
            HUGEPAGES,
            /** {@code --no-huge}: ordinary anonymous memory, whatever the machine has. */
            NO_HUGE
        }

        static final int DEFAULT_MEMORY_MB = 512;

        private final List<String> args = new ArrayList<>();
        private final List<String> pci = new ArrayList<>();
        private int memoryMb = DEFAULT_MEMORY_MB;
        private String logLevel = "5";
        private Memory memory = Memory.AUTO;
        private Path hugeDir;
        private String socketMem;
        private String lcores;

        private Args() {
        }

        /** Automatic memory (hugepages if present), no PCI, lcore 0 over all CPUs, warnings and worse logged. */
        public static Args defaults() {
            return new Args();
        }

        /** Memory EAL reserves at start-up ({@code -m}, default 512); on hugepages also the least it needs. */
        public Args memoryMb(int mb) {
            if (mb <= 0) {
                throw new IllegalArgumentException("memory must be > 0 MiB, got " + mb);
            }
            this.memoryMb = mb;
            return this;
        }

        /** Hugepages or not ({@link Memory#AUTO} by default). */
        public Args memory(Memory how) {
            this.memory = how;
            return this;
        }

        /** Takes hugepages from the hugetlbfs mounted at {@code dir} only ({@code --huge-dir}). */
        public Args hugeDir(Path dir) {
            this.hugeDir = dir;
            return this;
        }

        /**
         * Memory per NUMA socket in MiB, {@code "1024,0"} ({@code --socket-mem}; instead of {@code -m}). Needs
         * hugepages.
         */
        public Args socketMem(String perSocketMb) {
            if (!perSocketMb.matches("\\d+(,\\d+)*")) {
                throw new IllegalArgumentException("socket memory is MiB per socket like 1024,0, got '"
                    + perSocketMb + "'");
            }
            this.socketMem = perSocketMb;
            return this;
        }

        /**
         * EAL's lcore to CPU mapping as {@code --lcores} takes it ({@code "0@2"}, {@code "(0,1)@(2,3)"}); the
         * default lets lcore 0 float over every CPU.
         */
        public Args lcores(String mapping) {
            if (mapping.isBlank()) {
                throw new IllegalArgumentException("lcores mapping is empty");
            }
            this.lcores = mapping;
            return this;
        }

        /**
         * Allows one PCI device ({@code 0000:03:00.0}, optionally with device arguments after a comma), EAL's
         * {@code -a}; repeatable. With none, EAL probes no PCI bus at all ({@code --no-pci}).
         */
        public Args pci(String device) {
            if (device.isBlank()) {
                throw new IllegalArgumentException("empty PCI device");
            }
            pci.add(device);
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
            return plan(Hugepages.probe()).argv();
        }

        /** The argument vector for a machine with these hugepages. */
        public Plan plan(Hugepages machine) {
            String userDir = userValue("--huge-dir");
            Path dir = hugeDir != null ? hugeDir : userDir != null ? Path.of(userDir) : null;
            boolean userNoHuge = userGave("--no-huge");
            // The memory EAL will really be given: the user's own -m or --socket-mem win over ours.
            String userSocketMem = userValue("--socket-mem");
            String userM = userValue("-m");
            boolean userMemory = userSocketMem != null || userM != null || userGave("-m") || userGave("--socket-mem");
            String perSocket = userSocketMem != null ? userSocketMem : userMemory ? null : socketMem;
            long mb = userSocketMem != null ? sumOr(userSocketMem, memoryMb)
                : userM != null ? mbOr(userM, memoryMb)
                : socketMem != null ? sum(socketMem) : memoryMb;
            long needed = mb << 20;
            boolean huge;
            String why;
            Path autoDir = null;
            if (userNoHuge || memory == Memory.NO_HUGE) {
                huge = false;
                why = "as asked";
            } else {
                String shortfall = machine.shortfall(dir, needed);
                if (memory == Memory.HUGEPAGES && shortfall != null) {
                    throw new IllegalStateException("hugepages asked for, but " + shortfall);
                }
                huge = shortfall == null;
                why = shortfall;
                if (huge && dir == null) {
                    autoDir = machine.hugeDirFor(); // EAL's own pick is a mount this user cannot write to
                }
            }
            if (!huge && perSocket != null) {
                throw new IllegalStateException("socket memory (" + perSocket + ") needs hugepages, and EAL runs "
                    + "without them: " + why);
            }
            List<String> argv = new ArrayList<>();
            argv.add("fastpath");
            String description;
            if (huge) {
                if (!userMemory) {
                    if (socketMem != null) {
                        argv.add("--socket-mem=" + socketMem);
                    } else {
                        argv.add("-m");
                        argv.add(Integer.toString(memoryMb));
                    }
                }
                if (hugeDir != null) {
                    argv.add("--huge-dir=" + hugeDir);
                } else if (autoDir != null) {
                    argv.add("--huge-dir=" + autoDir);
                    dir = autoDir;
                }
                if (!userGave("--file-prefix") && !userGave("--in-memory")) {
                    // Hugepage files are named after the prefix: two processes must never share one.
                    argv.add("--file-prefix=fastpath-" + ProcessHandle.current().pid());
                }
                if (!userGave("--huge-unlink") && !userGave("--in-memory")) {
                    // Unlinked once mapped: a crash or a halt() leaves no files holding pages.
                    argv.add("--huge-unlink");
                }
                description = "hugepages " + (perSocket != null ? "--socket-mem " + perSocket : mb + " MiB")
                    + " (" + (dir != null ? "at " + dir + ", " : "") + "free " + machine.describePools() + ")";
            } else {
                if (!userNoHuge) {
                    argv.add("--no-huge");
                }
                if (!userMemory) {
                    argv.add("-m");
                    argv.add(Integer.toString(memoryMb));
                }
                description = "no hugepages (--no-huge, " + mb + " MiB of ordinary memory: " + why + ")";
            }
            if (pci.isEmpty()) {
                if (!userGave("-a") && !userGave("--allow") && !userGave("-b") && !userGave("--block")) {
                    argv.add("--no-pci");
                }
            } else {
                for (String device : pci) {
                    argv.add("-a");
                    argv.add(device);
                }
            }
            argv.add("--no-shconf");
            argv.add("--no-telemetry");
            if (userGave("--lcores") || userGave("-l") || userGave("-c")) {
                // The user's own lcore option wins, like every other: EAL refuses two of them.
            } else if (lcores != null) {
                argv.add("--lcores=" + lcores);
            } else {
                // rte_eal_init pins lcore 0 to one CPU unless told otherwise; let it float over all of them.
                argv.add("--lcores=0@(0-" + (Runtime.getRuntime().availableProcessors() - 1) + ")");
            }
            argv.add("--log-level=" + logLevel);
            // net_tap reports at error level what it merely cannot do on this kernel (multiq qdisc, rte_flow,
            // secondary processes) and then works; real failures still reach the caller as return codes.
            argv.add("--log-level=pmd.net.tap:3");
            argv.addAll(args);
            return new Plan(argv, huge, description);
        }

        /** True if the extra arguments hold this option, as {@code opt}, {@code opt=value} or {@code -mVALUE}. */
        private boolean userGave(String option) {
            for (String a : args) {
                if (a.equals(option) || a.startsWith(option + "=")
                    || (!option.startsWith("--") && a.startsWith(option) && a.length() > option.length())) {
                    return true;
                }
            }
            return false;
        }

        /**
         * The value of an option in the extra arguments, as EAL's getopt reads it: {@code opt=value},
         * {@code opt value}, and for a one-letter option also {@code -mVALUE}; null if not given (the last one
         * given counts, as for EAL).
         */
        private String userValue(String option) {
            String value = null;
            for (int i = 0; i < args.size(); i++) {
                String a = args.get(i);
                if (a.startsWith(option + "=")) {
                    value = a.substring(option.length() + 1);
                } else if (a.equals(option) && i + 1 < args.size()) {
                    value = args.get(++i);
                } else if (!option.startsWith("--") && a.startsWith(option) && a.length() > option.length()) {
                    value = a.substring(option.length());
                }
            }
            return value;
        }

        private static long sum(String perSocket) {
            long total = 0;
            for (String mb : perSocket.split(",")) {
                total += Long.parseLong(mb);
            }
            return total;
        }

        /** EAL's {@code --socket-mem} (MiB per socket), or {@code otherwise} if it is not that (EAL will say). */
        private static long sumOr(String perSocket, long otherwise) {
            return perSocket.matches("\\d{1,9}(,\\d{1,9})*") ? sum(perSocket) : otherwise;
        }

        /** EAL's {@code -m} (MiB), or {@code otherwise} if it is not a number (EAL will say). */
        private static long mbOr(String mb, long otherwise) {
            return mb.matches("\\d{1,9}") ? Long.parseLong(mb) : otherwise;
        }
    }
}
