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
 * <p><b>Choosing it.</b> {@link #defaultClock()} is what the stack uses when it is given no clock. With the system
 * property {@value #PROPERTY} unset or {@code auto}: this clock, calibrated once per JVM and shared, on x86-64 Linux
 * whose CPU flags say the TSC ticks at a constant rate in every power state ({@code constant_tsc} and
 * {@code nonstop_tsc} in /proc/cpuinfo) <em>and</em> whose kernel trusts it as a clock ({@code tsc} in
 * /sys/devices/system/clocksource/clocksource0/available_clocksource); Agrona's {@link SystemNanoClock} anywhere else
 * or if the calibration finds the TSC unusable. The Firecracker VM this was measured on boots with
 * {@code tsc=unstable} (a VM can be snapshotted and restored, so its counter can jump) and lists only kvm-clock: there
 * {@code auto} picks the system clock. {@code system} forces the system clock; {@code tsc} forces this clock on any
 * x86-64 Linux, at the risk the kernel saw; any other value is an error.
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
 * covers one second of ticks. A read outside it (past its end, or more than {@link #TOLERANCE_NS} of ticks before its
 * start: the counter went back) makes the next one on whichever thread: a fresh (tick, {@code System.nanoTime()})
 * sample (the narrowest of a few bracketed reads), a rate re-estimated over everything since the base, and a start
 * at {@code max(System.nanoTime(), the old line at that tick, taken within the old anchor's span)} with a slope that
 * brings the clock onto {@code System.nanoTime()} by the end of the new second ({@link #following}). A read up to
 * {@link #TOLERANCE_NS} before an anchor's start (another CPU's counter, an early {@code RDTSC}) reads the start.
 * Each read costs the counter, a load, a subtraction, one predictable unsigned compare, a multiply and a shift.
 *
 * <p><b>What it guarantees.</b> Per thread, reads never go back while the counter goes forward: a new anchor starts
 * at or above the old one's end value, which no read of the old one exceeded. After a re-anchor the clock is on
 * {@code System.nanoTime()}, or above it by at most what the previous anchor ended above it (its rate estimate's
 * error over a second, or more after a jump), and slews back within the second: so within a second it can differ
 * from {@code System.nanoTime()} by far more than the parts per million of a steady state (about a millisecond after
 * a 1000-ppm rate error; a counter that jumps forward moves the clock with it until the anchor ends); after a long
 * gap (a paused JVM) the next read is exactly on {@code System.nanoTime()}. When the
 * counter goes back, the new anchor starts at {@code max(System.nanoTime(), the old start)}: it can be below values
 * already read by at most how far the old anchor was then ahead of {@code System.nanoTime()}, so callers that must
 * never see time go back keep their own maximum.
 *
 * <p>No allocation per read (one anchor object per second, by the thread that crosses the second). Any thread.
 */
public final class TscNanoClock implements NanoClock {
    /**
     * System property: {@code auto} (default: the TSC where trusted, else the system clock), {@code system}, or
     * {@code tsc} (the TSC wherever it can be read, trusted or not).
     */
    public static final String PROPERTY = "fastpath.clock";

    /** Fixed-point shift of {@link Anchor#mult}: nanoseconds per tick times 2^31. */
    static final int SHIFT = 31;
    /** Bound on {@code span * ns per tick}: {@code d * mult} stays below 2^63 for every {@code d <= span}. */
    static final double MAX_PRODUCT = 4e9;
    /** How long the first calibration spins. */
    static final long CALIBRATION_NS = 5_000_000;
    /**
     * How far (in nanoseconds of ticks) before an anchor's start a reading still counts as inside it, reading the
     * anchor's start: an early {@code RDTSC}, a small skew between CPUs. Further back, the counter went backwards
     * (snapshot restore, migration, a CPU whose counter lags): a new anchor.
     */
    static final long TOLERANCE_NS = 1_000;
    /** A (tick, System.nanoTime()) sample whose bracket is wider than this (preempted) is taken again. */
    static final long BRACKET_NS = 5_000;
    /** How many brackets a new anchor's sample tries at most (it keeps the narrowest). */
    static final int SAMPLES = 5;

    /**
     * One line segment of the clock: ticks {@code [tsc0, tsc0 + span)} map to {@code ns0 + (d * mult >>> 31)}; with
     * the base {@code (baseTsc, baseNs)} and rate ({@code ns per tick}) its successor's rate is estimated from.
     */
    static final class Anchor {
        final long tsc0;
        final long ns0;
        final long mult;
        final long span;
        final long generation;
        final long baseTsc;
        final long baseNs;
        final double rate;

        Anchor(long tsc0, long ns0, long mult, long span, long generation, long baseTsc, long baseNs, double rate) {
            this.tsc0 = tsc0;
            this.ns0 = ns0;
            this.mult = mult;
            this.span = span;
            this.generation = generation;
            this.baseTsc = baseTsc;
            this.baseNs = baseNs;
            this.rate = rate;
        }

        /** The line's value at the end of the span: no read of this anchor returns more. */
        long end() {
            return ns0 + (span * mult >>> SHIFT);
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

    /** Ticks per anchor. */
    private final long span;
    /** {@link #TOLERANCE_NS} and {@link #BRACKET_NS} in ticks of the calibrated rate. */
    private final long tolerance;
    private final long bracket;
    private volatile Anchor anchor;

    /**
     * A clock calibrated from {@code (baseTsc, baseNs)} to {@code (tsc, ns)} (two bracketed readings), with anchors of
     * {@code span} ticks. Package-private: tests make clocks with short anchors and a wrong first rate.
     */
    TscNanoClock(long baseTsc, long baseNs, long tsc, long ns, double nsPerTick, long span) {
        if (!(nsPerTick > 0) || span <= 0 || (double) span * nsPerTick > 2e9) {
            throw new IllegalArgumentException("rate " + nsPerTick + " ns/tick, span " + span);
        }
        this.span = span;
        this.tolerance = Math.max(1, (long) (TOLERANCE_NS / nsPerTick));
        this.bracket = Math.max(1, (long) (BRACKET_NS / nsPerTick));
        this.anchor = new Anchor(tsc, ns, fixed(nsPerTick), span, 0, baseTsc, baseNs, nsPerTick);
    }

    /** Reads the counter: {@code RDTSC}. Only where {@link #available()}. */
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
        if (Long.compareUnsigned(d, a.span) >= 0) {
            return outside(a, d); // before the anchor's start or past its end (a negative d is a large unsigned one)
        }
        return a.ns0 + (d * a.mult >>> SHIFT);
    }

    /** A reading {@code d} ticks from the anchor's start, outside its span. */
    private long outside(Anchor a, long d) {
        if (d < 0 && d >= -tolerance) {
            return a.ns0; // another CPU's counter a little behind, or an RDTSC taken early: the anchor's start
        }
        return next();
    }

    /** The anchor in use (tests). */
    Anchor anchor() {
        return anchor;
    }

    /** Outside the anchor: installs the next anchor (or finds the one another thread installed) and reads it. */
    private long next() {
        Anchor a = anchor; // the newest: a thread never goes back to an older anchor than one it has read
        while (true) {
            long d = ticks() - a.tsc0;
            if (d < a.span && d >= -tolerance) {
                return a.ns0 + (Math.max(0, d) * a.mult >>> SHIFT);
            }
            // A fresh (tick, System.nanoTime()) pair: the tick is the middle of the two reads around the clock read;
            // the narrowest of up to SAMPLES brackets, stopping at the first one narrower than BRACKET_NS.
            long tick = 0;
            long sys = 0;
            long best = Long.MAX_VALUE;
            for (int i = 0; i < SAMPLES; i++) {
                long before = ticks();
                long ns = System.nanoTime();
                long after = ticks();
                long width = after >= before ? after - before : Long.MAX_VALUE; // moved to a lagging CPU
                if (i == 0 || width < best) {
                    best = width;
                    tick = width == Long.MAX_VALUE ? after : before + (width >> 1);
                    sys = ns;
                }
                if (best <= bracket) {
                    break;
                }
            }
            Anchor n = following(a, tick, sys, span);
            if (ANCHOR.compareAndSet(this, a, n)) {
                a = n;
            } else {
                a = anchor; // another thread moved it on: read that one (or move it on again)
            }
        }
    }

    /**
     * The anchor after {@code old}, of {@code span} ticks, from a sample: {@code System.nanoTime()} was {@code sys} at
     * counter value {@code tick}, outside {@code old}. No clock read here.
     *
     * <p>It starts at {@code max(sys, old line at tick)}, the old line taken at most at the old anchor's end and at
     * least at its start: past the end, {@code max(old.end(), sys)}, so the clock never goes back (no read of the old
     * anchor returned more than its end) and after a long gap (a paused JVM) it is exactly on System.nanoTime(); before
     * the start (the counter went back), {@code max(old.ns0, sys)}, which can be below values already read from the
     * old anchor by at most how far that anchor was ahead of System.nanoTime() when they were read (its tracking
     * error). Its slope lands on System.nanoTime()'s line at the end of the span (bounded to half and twice the rate).
     * The rate is System.nanoTime()'s over the counter since the base; a counter that went back starts a new base at
     * this sample and keeps the old rate.
     */
    static Anchor following(Anchor old, long tick, long sys, long span) {
        long d = tick - old.tsc0;
        long line = d >= old.span ? old.end() : d < 0 ? old.ns0 : old.ns0 + (d * old.mult >>> SHIFT);
        long startNs = Math.max(line, sys);
        long baseTsc = old.baseTsc;
        long baseNs = old.baseNs;
        double rate = (double) (sys - baseNs) / (double) (tick - baseTsc);
        if (d < 0) {
            baseTsc = tick; // the counter went back: nothing since the old base measures the rate any more
            baseNs = sys;
            rate = old.rate;
        } else if (!(rate > 0)) {
            rate = old.rate; // the TSC did not advance since the base: keep the rate
        }
        // The slope that lands on System.nanoTime()'s line at the end of this anchor, within [rate/2, 2 rate].
        double target = sys + rate * span;
        double slope = (target - startNs) / span;
        slope = Math.min(Math.min(Math.max(slope, rate / 2), rate * 2), MAX_PRODUCT / span);
        return new Anchor(tick, startNs, fixed(slope), span, old.generation + 1, baseTsc, baseNs, rate);
    }

    static long fixed(double nsPerTick) {
        return Math.round(nsPerTick * (1L << SHIFT));
    }

    /** Nanoseconds per tick of the anchor in use. */
    public double nanosPerTick() {
        return (double) anchor.mult / (1L << SHIFT);
    }

    /**
     * The stack's default clock, as the system property {@value #PROPERTY} says (read once, at the first call): see
     * {@link #select(String)}.
     *
     * @throws IllegalArgumentException if the property has a value other than {@code auto}, {@code system} or
     *     {@code tsc}, or is {@code tsc} where the counter cannot be read
     */
    public static NanoClock defaultClock() {
        if (Default.CLOCK == null) {
            throw new IllegalArgumentException(Default.ERROR);
        }
        return Default.CLOCK;
    }

    /**
     * The clock {@link #defaultClock()} would pick for a property value ({@code null}: unset): {@code auto}, the shared
     * TSC clock where {@link #supported()}, else {@link SystemNanoClock}; {@code system}, {@link SystemNanoClock};
     * {@code tsc}, the shared TSC clock wherever it can be made (x86-64 Linux, {@link #available()}) even where the
     * kernel does not trust the counter: at the risk of the kernel's reasons (a VM restored from a snapshot or
     * migrated, counters that differ between CPUs).
     */
    public static NanoClock select(String property) {
        String mode = property == null ? "auto" : property.trim().toLowerCase(Locale.ROOT);
        switch (mode) {
            case "system":
                return Default.SYSTEM;
            case "auto":
            case "":
                if (!supported()) {
                    return Default.SYSTEM;
                }
                TscNanoClock shared = Shared.CLOCK;
                return shared != null ? shared : Default.SYSTEM;
            case "tsc":
                if (!available() || Shared.CLOCK == null) {
                    throw new IllegalArgumentException("-D" + PROPERTY + "=tsc: no usable TSC here (x86-64 Linux only)");
                }
                return Shared.CLOCK;
            default:
                throw new IllegalArgumentException("-D" + PROPERTY + "=" + property + ": expected auto, system or tsc");
        }
    }

    /** The shared calibrated TSC clock (made at first call), or null where the counter cannot be read. */
    public static TscNanoClock shared() {
        return Shared.CLOCK;
    }

    /** True on x86-64 Linux: where the RDTSC routine can be made ({@code -Dfastpath.clock=tsc} works). */
    public static boolean available() {
        String arch = System.getProperty("os.arch", "");
        String os = System.getProperty("os.name", "");
        return (arch.equals("amd64") || arch.equals("x86_64")) && os.equals("Linux");
    }

    /**
     * True where {@link #available()}, the CPU flags include {@code constant_tsc} and {@code nonstop_tsc} (the counter
     * ticks at one rate, in every power state) and the kernel lists {@code tsc} in
     * /sys/devices/system/clocksource/clocksource0/available_clocksource (it trusts the counter as a clock: not when
     * it found it unstable, or was booted with {@code tsc=unstable} as a VM that can be snapshotted is). A missing
     * file: false.
     */
    public static boolean supported() {
        if (!available()) {
            return false;
        }
        try {
            if (!listsTsc(Files.readString(Path.of("/sys/devices/system/clocksource/clocksource0/"
                + "available_clocksource")))) {
                return false;
            }
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

    /** An available_clocksource line names {@code tsc}. */
    static boolean listsTsc(String availableClocksource) {
        for (String s : availableClocksource.trim().split("\\s+")) {
            if (s.equals("tsc")) {
                return true;
            }
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
     * 20 ns a tick). Only where {@link #available()}.
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

    /** The shared TSC clock, calibrated at first use; null where unavailable or the calibration refused it. */
    private static final class Shared {
        static final TscNanoClock CLOCK = make();

        private static TscNanoClock make() {
            if (!available()) {
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
