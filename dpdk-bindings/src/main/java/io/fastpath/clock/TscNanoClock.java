package io.fastpath.clock;

import java.io.IOException;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.SystemNanoClock;

/**
 * A {@link NanoClock} on the x86-64 time-stamp counter: {@code System.nanoTime()}'s nanoseconds (same origin, same
 * rate) for 11.0 ns a read instead of 28.3 ns on this VM's kvm-clock (JMH {@code ClockBenchmark}; docs/perf/budget.md,
 * "a TSC clock for the stack").
 *
 * <p><b>Choosing it.</b> {@link #defaultClock()} is what the stack uses when it is given no clock: this clock,
 * calibrated once per JVM and shared, on x86-64 Linux whose CPU flags say the TSC ticks at a constant rate in every
 * power state ({@code constant_tsc} and {@code nonstop_tsc} in /proc/cpuinfo); Agrona's {@link SystemNanoClock}
 * anywhere else, if the calibration finds the TSC unusable, or when the system property {@value #PROPERTY} is
 * {@code system}. ({@code auto}, the default, picks as described; any other value is an error.)
 *
 * <p><b>Reading the counter.</b> {@code RDTSC} from a 10-byte machine-code routine in a page of its own (mapped
 * writable, filled, then made read+execute), called as a critical downcall (no thread-state transition, no
 * allocation). Plain {@code RDTSC} as DPDK's {@code rte_rdtsc}, without a fence before it: {@code LFENCE; RDTSC}
 * measured 19 ns against 11. So a reading may be taken up to a pipeline's depth (tens of ns) earlier than the
 * instructions before it: readings are monotonic per thread, but a reading on one thread is not ordered against
 * another thread's to within that window. Each stack's time is its own poll thread's, so nothing here needs more.
 *
 * <p><b>Turning ticks into nanoseconds.</b> Linux's and DPDK's way: {@code ns = ns0 + ((tsc - tsc0) * mult >>> 31)}
 * from an <em>anchor</em> {@code (tsc0, ns0, mult)}, an immutable object swapped atomically, so any number of
 * threads read one consistent anchor with one plain load (final fields, published by a CAS). The first anchor
 * comes from a calibration against {@code System.nanoTime()} (about 5 ms of spinning, once per JVM). Each anchor
 * covers one second of ticks; the first read past its end (on whichever thread) makes the next one: it reads
 * {@code System.nanoTime()} bracketed by two TSC reads, re-estimates the rate over everything since the
 * calibration, and starts the new anchor where the old one's line is at that tick, never below it, with a slope that
 * brings the clock back onto {@code System.nanoTime()} by the end of the new second (bounded to half and twice the
 * rate; a clock more than a millisecond behind steps forward instead). So the clock is a continuous, non-decreasing
 * function of the TSC, each read costs the counter, a load, a multiply and two predictable branches, and it never
 * drifts from {@code System.nanoTime()} by more than the error of one second's rate estimate (parts per million).
 * A read that lands on an anchor's tick before its start (another CPU's counter or an early {@code RDTSC}) reads
 * the anchor's start.
 *
 * <p>No allocation per read (one anchor object per second, by the thread that crosses the second). Any thread.
 */
public final class TscNanoClock implements NanoClock {
    /** System property: {@code auto} (default: the TSC where usable, else the system clock) or {@code system}. */
    public static final String PROPERTY = "fastpath.clock";

    /** Fixed-point shift of {@link Anchor#mult}: nanoseconds per tick times 2^31. */
    static final int SHIFT = 31;
    /** How far behind {@code System.nanoTime()} the clock may be before a new anchor steps it forward. */
    static final long STEP_NS = 1_000_000;
    /** Bound on {@code span * ns per tick}: {@code d * mult} stays below 2^63 for every {@code d < span}. */
    static final double MAX_PRODUCT = 4e9;
    /** How long the first calibration spins. */
    static final long CALIBRATION_NS = 5_000_000;

    /** One line segment of the clock: ticks {@code [tsc0, tsc0 + span)} map to {@code ns0 + (d * mult >>> 31)}. */
    static final class Anchor {
        final long tsc0;
        final long ns0;
        final long mult;
        final long span;
        final long generation;

        Anchor(long tsc0, long ns0, long mult, long span, long generation) {
            this.tsc0 = tsc0;
            this.ns0 = ns0;
            this.mult = mult;
            this.span = span;
            this.generation = generation;
        }
    }

    private static final VarHandle ANCHOR;

    static {
        try {
            ANCHOR = MethodHandles.lookup().findVarHandle(TscNanoClock.class, "anchor", Anchor.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** The TSC tick and {@code System.nanoTime()} of the calibration's start: the base of every rate estimate. */
    private final long baseTsc;
    private final long baseNs;
    /** Ticks per anchor. */
    private final long span;
    private volatile Anchor anchor;

    /**
     * A clock calibrated from {@code (baseTsc, baseNs)} to {@code (tsc, ns)} (two bracketed readings), with anchors of
     * {@code span} ticks. Package-private: tests make clocks with short anchors and a wrong first rate.
     */
    TscNanoClock(long baseTsc, long baseNs, long tsc, long ns, double nsPerTick, long span) {
        if (!(nsPerTick > 0) || span <= 0 || (double) span * nsPerTick > 2e9) {
            throw new IllegalArgumentException("rate " + nsPerTick + " ns/tick, span " + span);
        }
        this.baseTsc = baseTsc;
        this.baseNs = baseNs;
        this.span = span;
        this.anchor = new Anchor(tsc, ns, fixed(nsPerTick), span, 0);
    }

    /** Reads the counter: {@code RDTSC}. Only where {@link #supported()}. */
    static long ticks() {
        try {
            return (long) Rdtsc.READ.invokeExact();
        } catch (Throwable t) {
            throw new AssertionError("rdtsc", t);
        }
    }

    @Override
    public long nanoTime() {
        Anchor a = anchor;
        long d = ticks() - a.tsc0;
        if (d < 0) {
            d = 0; // another CPU's counter, or an RDTSC taken early: the anchor's start, never before it
        }
        if (d >= a.span) {
            return next();
        }
        return a.ns0 + (d * a.mult >>> SHIFT);
    }

    /** The anchor in use (tests). */
    Anchor anchor() {
        return anchor;
    }

    /** Past the anchor's end: installs the next anchor (or finds the one another thread installed) and reads it. */
    private long next() {
        Anchor a = anchor; // the newest: a thread never goes back to an older anchor than one it has read
        while (true) {
            long t = ticks();
            if (t - a.tsc0 < a.span) {
                long d = Math.max(0, t - a.tsc0);
                return a.ns0 + (d * a.mult >>> SHIFT);
            }
            // A fresh (tick, System.nanoTime()) pair: the tick is the middle of the two reads around the clock read.
            long before = ticks();
            long sys = System.nanoTime();
            long after = ticks();
            long tick = before + ((after - before) >> 1);
            long startNs = extend(a, tick); // where the old line is at this tick: the new one starts there, not below
            double rate = (double) (sys - baseNs) / (double) (tick - baseTsc);
            if (!(rate > 0)) {
                rate = (double) a.mult / (1L << SHIFT); // the TSC did not advance since the calibration: keep it
            }
            if (sys - startNs > STEP_NS) {
                startNs = sys; // far behind (a counter that stalled): a step forward keeps it monotonic
            }
            // The slope that lands on System.nanoTime()'s line at the end of this anchor, within [rate/2, 2 rate].
            double target = sys + rate * span;
            double slope = (target - startNs) / span;
            slope = Math.min(Math.min(Math.max(slope, rate / 2), rate * 2), MAX_PRODUCT / span);
            Anchor n = new Anchor(tick, startNs, fixed(slope), span, a.generation + 1);
            if (ANCHOR.compareAndSet(this, a, n)) {
                a = n;
            } else {
                a = anchor; // another thread moved it on: read that one (or move it on again)
            }
        }
    }

    /** The anchor's line at {@code tick}, however far past its span (a 128-bit product). */
    static long extend(Anchor a, long tick) {
        long d = Math.max(0, tick - a.tsc0);
        long hi = Math.multiplyHigh(d, a.mult);
        long lo = d * a.mult;
        return a.ns0 + ((hi << (64 - SHIFT)) | (lo >>> SHIFT));
    }

    static long fixed(double nsPerTick) {
        return Math.round(nsPerTick * (1L << SHIFT));
    }

    /** Nanoseconds per tick of the anchor in use. */
    public double nanosPerTick() {
        return (double) anchor.mult / (1L << SHIFT);
    }

    /**
     * The stack's default clock: the shared TSC clock where usable, else {@link SystemNanoClock}, as the system
     * property {@value #PROPERTY} says (read once, at the first call).
     *
     * @throws IllegalArgumentException if the property has a value other than {@code auto} or {@code system}
     */
    public static NanoClock defaultClock() {
        if (Default.CLOCK == null) {
            throw new IllegalArgumentException(Default.ERROR);
        }
        return Default.CLOCK;
    }

    /** The clock {@link #defaultClock()} would pick for a property value ({@code null}: unset). */
    public static NanoClock select(String property) {
        String mode = property == null ? "auto" : property.trim().toLowerCase(Locale.ROOT);
        switch (mode) {
            case "system":
                return Default.SYSTEM;
            case "auto":
            case "":
                TscNanoClock shared = Shared.CLOCK;
                return shared != null ? shared : Default.SYSTEM;
            default:
                throw new IllegalArgumentException("-D" + PROPERTY + "=" + property + ": expected auto or system");
        }
    }

    /** The shared calibrated TSC clock, or null where the TSC is not usable. */
    public static TscNanoClock shared() {
        return Shared.CLOCK;
    }

    /**
     * True on x86-64 Linux whose CPU flags include {@code constant_tsc} and {@code nonstop_tsc} (the kernel's word
     * that the counter ticks at one rate, in every power state).
     */
    public static boolean supported() {
        String arch = System.getProperty("os.arch", "");
        String os = System.getProperty("os.name", "");
        if (!(arch.equals("amd64") || arch.equals("x86_64")) || !os.equals("Linux")) {
            return false;
        }
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("flags")) {
                    return hasFlags(line);
                }
            }
        } catch (IOException | RuntimeException e) {
            return false;
        }
        return false;
    }

    /** A /proc/cpuinfo flags line names both TSC flags. */
    static boolean hasFlags(String flagsLine) {
        boolean constant = false;
        boolean nonstop = false;
        for (String f : flagsLine.substring(flagsLine.indexOf(':') + 1).trim().split("\\s+")) {
            constant |= f.equals("constant_tsc");
            nonstop |= f.equals("nonstop_tsc");
        }
        return constant && nonstop;
    }

    /**
     * Calibrates a new clock against {@code System.nanoTime()} (spinning {@code calibrationNs}) with anchors of
     * {@code spanNs} nanoseconds; null if the counter does not behave (does not advance, or a rate outside 0.05 to
     * 20 ns a tick). Only where {@link #supported()}.
     */
    static TscNanoClock calibrate(long calibrationNs, long spanNs) {
        long[] p0 = pair();
        long[] p1;
        do {
            Thread.onSpinWait();
            p1 = pair();
        } while (p1[1] - p0[1] < calibrationNs);
        double nsPerTick = (double) (p1[1] - p0[1]) / (double) (p1[0] - p0[0]);
        if (!(nsPerTick > 0.05 && nsPerTick < 20)) {
            return null;
        }
        return new TscNanoClock(p0[0], p0[1], p1[0], p1[1], nsPerTick, Math.max(1, (long) (spanNs / nsPerTick)));
    }

    /** A (tick, System.nanoTime()) pair: the best of five bracketed reads (the shortest bracket). */
    private static long[] pair() {
        long bestWidth = Long.MAX_VALUE;
        long[] best = new long[2];
        for (int i = 0; i < 5; i++) {
            long before = ticks();
            long ns = System.nanoTime();
            long after = ticks();
            if (after - before < bestWidth) {
                bestWidth = after - before;
                best[0] = before + ((after - before) >> 1);
                best[1] = ns;
            }
        }
        return best;
    }

    /** The RDTSC routine, made at first use. */
    private static final class Rdtsc {
        /** {@code rdtsc; shl rdx, 32; or rax, rdx; ret}. */
        private static final byte[] CODE = {0x0F, 0x31, 0x48, (byte) 0xC1, (byte) 0xE2, 0x20, 0x48, 0x09,
            (byte) 0xD0, (byte) 0xC3};
        static final MethodHandle READ = make();

        private static MethodHandle make() {
            Linker linker = Linker.nativeLinker();
            try {
                MethodHandle mmap = linker.downcallHandle(linker.defaultLookup().find("mmap").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG,
                        ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
                MethodHandle mprotect = linker.downcallHandle(linker.defaultLookup().find("mprotect").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG,
                        ValueLayout.JAVA_INT));
                long page = 4096;
                // PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS; then PROT_READ|PROT_EXEC (never writable and
                // executable at once). The page is the JVM's for good: one per process.
                long address = (long) mmap.invokeExact(0L, page, 0x3, 0x22, -1, 0L);
                if (address == -1L || address == 0L) {
                    throw new IllegalStateException("mmap of the rdtsc page failed");
                }
                MemorySegment code = MemorySegment.ofAddress(address).reinterpret(page);
                MemorySegment.copy(CODE, 0, code, ValueLayout.JAVA_BYTE, 0, CODE.length);
                int rc = (int) mprotect.invokeExact(address, page, 0x5);
                if (rc != 0) {
                    throw new IllegalStateException("mprotect of the rdtsc page failed");
                }
                return linker.downcallHandle(code, FunctionDescriptor.of(ValueLayout.JAVA_LONG),
                    Linker.Option.critical(false));
            } catch (RuntimeException e) {
                throw e;
            } catch (Throwable t) {
                throw new IllegalStateException("rdtsc routine", t);
            }
        }
    }

    /** The shared TSC clock, calibrated at first use; null where unsupported or the calibration refused it. */
    private static final class Shared {
        static final TscNanoClock CLOCK = make();

        private static TscNanoClock make() {
            if (!supported()) {
                return null;
            }
            try {
                return calibrate(CALIBRATION_NS, 1_000_000_000L);
            } catch (RuntimeException | LinkageError e) {
                return null; // no executable page, no linker: the system clock
            }
        }
    }

    /** What {@link #defaultClock()} returns. */
    private static final class Default {
        static final NanoClock SYSTEM = new SystemNanoClock();
        static final NanoClock CLOCK;
        static final String ERROR;

        static {
            NanoClock clock = null;
            String error = null;
            try {
                clock = select(System.getProperty(PROPERTY));
            } catch (IllegalArgumentException e) {
                error = e.getMessage();
            }
            CLOCK = clock;
            ERROR = error;
        }
    }
}
