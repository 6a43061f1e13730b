package io.fastpath.provider;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLongArray;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Verifier mode, after Windows' Driver Verifier: {@code -Dfastpath.verify=true} (off by default) makes the
 * providers check how clients use them and report what they get wrong:
 * <ul>
 * <li>{@link Report#POISONED}: each received descriptor's bytes are overwritten with {@link #POISON} (0xDB) when
 *     it goes back to the stack (WskRelease, TdiReturnChainedReceives, a consumed or dropped descriptor), before
 *     the release is published: a client reading a chain after returning it sees 0xDB, not the next packet.
 *     Counted, not reported: it is not an error.</li>
 * <li>{@link Report#SECOND_COMPLETION}: an IRP completed when it was not in progress (completed twice, or after
 *     it was reused), with the stacks of both completions.</li>
 * <li>{@link Report#NEVER_COMPLETED}: IRPs still in progress when their provider closes;
 *     {@link Report#IRP_OVERDUE}: in progress longer than {@code -Dfastpath.verify.irpMs} (30,000).</li>
 * <li>{@link Report#HELD_TOO_LONG}: a chain a client kept (STATUS_PENDING from a receive event) and has not
 *     returned after {@code -Dfastpath.verify.holdMs} (5,000).</li>
 * <li>{@link Report#SLOW_HANDLER}: a completion routine or receive event handler that ran longer than
 *     {@code -Dfastpath.verify.handlerUs} (1,000) on the dispatch thread.</li>
 * </ul>
 * Each thing is reported once. Reports go to the {@link #sink(Sink) sink} (default: a line on stderr starting
 * "fastpath verifier:") and are counted ({@link #count}); nothing here throws on the data path.
 *
 * <p>Cost: {@link #ENABLED} is a {@code static final} read once, and every hook sits behind
 * {@code if (Verifier.ENABLED)}, so with the verifier off the JIT removes the checks altogether. With it on the
 * hooks allocate (records, stack traces) and take a concurrent map: a debugging mode, not a production one.
 *
 * <p>Threads: any; the overdue checks run from {@link DispatchLoop#dispatch()} about once a second.
 */
public final class Verifier {
    /** On when the JVM was started with {@code -Dfastpath.verify=true}. */
    public static final boolean ENABLED = Boolean.getBoolean("fastpath.verify");
    /** What returned descriptor bytes are overwritten with. */
    public static final byte POISON = (byte) 0xDB;
    /** {@code -Dfastpath.verify.holdMs} (5,000): how long a client may keep a chain before it is reported. */
    public static final long HOLD_NS = Long.getLong("fastpath.verify.holdMs", 5_000) * 1_000_000L;
    /** {@code -Dfastpath.verify.irpMs} (30,000): how long an IRP may stay in progress before it is reported. */
    public static final long IRP_NS = Long.getLong("fastpath.verify.irpMs", 30_000) * 1_000_000L;
    /** {@code -Dfastpath.verify.handlerUs} (1,000): how long a routine or event handler may run. */
    public static final long HANDLER_NS = Long.getLong("fastpath.verify.handlerUs", 1_000) * 1_000L;
    static final long CHECK_INTERVAL_NS = Math.min(1_000_000_000L, Math.max(1_000_000L, HOLD_NS / 4));

    /** What the verifier reports (and counts). */
    public enum Report {
        POISONED, SECOND_COMPLETION, NEVER_COMPLETED, IRP_OVERDUE, HELD_TOO_LONG, SLOW_HANDLER
    }

    /** Where reports go. */
    @FunctionalInterface
    public interface Sink {
        void report(Report kind, String message);
    }

    /** The default sink: one line on stderr per report. */
    public static final Sink STDERR = (kind, message) -> System.err.println("fastpath verifier: " + kind + ": " + message);

    private static volatile Sink sink = STDERR;
    private static final AtomicLongArray COUNTS = new AtomicLongArray(Report.values().length);

    /** An IRP in progress (or a chain kept): since when, for which provider, reported yet. */
    private static final class Held {
        final long sinceNs;
        final Object owner;
        final String what;
        volatile boolean reported;

        /** True for the one caller that may report this (two dispatch threads may check at once). */
        boolean claimReport() {
            return REPORTED.compareAndSet(this, false, true);
        }

        Held(long sinceNs, Object owner, String what) {
            this.sinceNs = sinceNs;
            this.owner = owner;
            this.what = what;
        }
    }

    private static final Map<Irp<?>, Held> IRPS = new ConcurrentHashMap<>();
    private static final Map<Object, Held> CHAINS = new ConcurrentHashMap<>();
    private static volatile long nextCheckNs = System.nanoTime();
    private static final VarHandle NEXT_CHECK;
    private static final VarHandle REPORTED;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            NEXT_CHECK = lookup.findStaticVarHandle(Verifier.class, "nextCheckNs", long.class);
            REPORTED = lookup.findVarHandle(Held.class, "reported", boolean.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private Verifier() {
    }

    /** Sets where reports go (null: back to {@link #STDERR}). */
    public static void sink(Sink s) {
        sink = s == null ? STDERR : s;
    }

    /** Reports of {@code kind} so far (POISONED: descriptors poisoned). */
    public static long count(Report kind) {
        return COUNTS.get(kind.ordinal());
    }

    private static void report(Report kind, String message) {
        COUNTS.incrementAndGet(kind.ordinal());
        try {
            sink.report(kind, message);
        } catch (Throwable ignored) {
            // a broken sink must not take the dispatch thread down
        }
    }

    // ------------------------------------------------------------------------------ descriptors

    /**
     * A descriptor {@code length} bytes at {@code address} goes back to the stack: overwrite exactly those bytes
     * (an mbuf split around an urgent byte backs two descriptors; the other keeps its bytes). Call before the
     * release is published: afterwards the stack may reuse the mbuf.
     */
    public static void poison(long address, int length) {
        if (address == 0 || length <= 0) {
            return;
        }
        new UnsafeBuffer(address, length).setMemory(0, length, POISON);
        COUNTS.incrementAndGet(Report.POISONED.ordinal());
    }

    /** A client kept {@code chain} (a receive event returned STATUS_PENDING): the hold clock starts. */
    public static void chainHeld(Object chain, String what) {
        CHAINS.put(chain, new Held(System.nanoTime(), null, what));
    }

    /** The client returned {@code chain} (or the provider took it back). */
    public static void chainReturned(Object chain) {
        CHAINS.remove(chain);
    }

    // ------------------------------------------------------------------------------ IRPs

    /** {@link Irp#begin}: the IRP is in progress for the provider behind {@code owner} (its cancel routine). */
    static void irpBegun(Irp<?> irp, Object owner) {
        IRPS.put(irp, new Held(System.nanoTime(), owner, null));
    }

    /** {@link Irp#complete} won: the IRP is no longer in progress; returns where it completed. */
    static Throwable irpCompleted(Irp<?> irp) {
        IRPS.remove(irp);
        return new Throwable("first completion");
    }

    /** {@link Irp#complete} refused: the IRP was not in progress. */
    static void irpCompletedAgain(Irp<?> irp, Throwable first) {
        Throwable second = new Throwable("second completion");
        report(Report.SECOND_COMPLETION, describe(irp) + " completed when not in progress (completed twice, or after reuse)"
            + "\n" + trace(second) + (first == null ? "" : "\n" + trace(first)));
    }

    /**
     * A provider closes: reports the IRPs begun for {@code owner} (its cancel routine) that are still in
     * progress, and forgets them. Returns how many.
     */
    public static int providerClosed(Object owner, String provider) {
        int n = 0;
        for (Map.Entry<Irp<?>, Held> e : IRPS.entrySet()) {
            Held h = e.getValue();
            // Not in progress: a completion that raced its begin's record (the record is stale).
            if (h.owner == owner && IRPS.remove(e.getKey(), h) && e.getKey().inProgress()) {
                n++;
                report(Report.NEVER_COMPLETED, describe(e.getKey()) + " of " + provider + " still in progress at close, after "
                    + (System.nanoTime() - h.sinceNs) / 1_000_000 + " ms");
            }
        }
        return n;
    }

    // ------------------------------------------------------------------------------ time

    /** From {@link DispatchLoop#dispatch()}: about once per check interval, look for what is overdue. */
    static void tick(long nowNs) {
        long due = nextCheckNs;
        if (nowNs - due < 0 || !NEXT_CHECK.compareAndSet(due, nowNs + CHECK_INTERVAL_NS)) {
            return; // not due, or another provider's dispatch thread claimed this check
        }
        checkOverdue(nowNs);
    }

    /** Reports (once each) IRPs in progress and chains held longer than their thresholds. */
    public static void checkOverdue(long nowNs) {
        for (Map.Entry<Irp<?>, Held> e : IRPS.entrySet()) {
            Held h = e.getValue();
            if (!h.reported && nowNs - h.sinceNs > IRP_NS && e.getKey().inProgress() && h.claimReport()) {
                report(Report.IRP_OVERDUE, describe(e.getKey()) + " in progress for " + (nowNs - h.sinceNs) / 1_000_000
                    + " ms (fastpath.verify.irpMs=" + IRP_NS / 1_000_000 + ")");
            }
        }
        for (Map.Entry<Object, Held> e : CHAINS.entrySet()) {
            Held h = e.getValue();
            if (!h.reported && nowNs - h.sinceNs > HOLD_NS && h.claimReport()) {
                report(Report.HELD_TOO_LONG, h.what + " " + describe(e.getKey()) + " held by the client for "
                    + (nowNs - h.sinceNs) / 1_000_000 + " ms and not returned (fastpath.verify.holdMs="
                    + HOLD_NS / 1_000_000 + ")");
            }
        }
    }

    /** Before a handler or routine runs on the dispatch thread: the start time for {@link #handlerDone}. */
    public static long handlerStart() {
        return System.nanoTime();
    }

    /** After it ran: reports it if it took longer than {@code fastpath.verify.handlerUs}. */
    public static void handlerDone(long startNs, Object handler, String what) {
        long took = System.nanoTime() - startNs;
        if (took > HANDLER_NS) {
            report(Report.SLOW_HANDLER, what + " " + (handler == null ? "null" : handler.getClass().getName())
                + " ran " + took / 1_000 + " us on the dispatch thread (fastpath.verify.handlerUs="
                + HANDLER_NS / 1_000 + ")");
        }
    }

    /** The object and its identity: pooled chains and reused IRPs print alike. */
    public static String describe(Object o) {
        return o + " (" + o.getClass().getName() + "@" + Integer.toHexString(System.identityHashCode(o)) + ")";
    }

    private static String trace(Throwable t) {
        StringBuilder b = new StringBuilder(t.getMessage()).append(':');
        for (StackTraceElement e : t.getStackTrace()) {
            b.append("\n\tat ").append(e);
        }
        return b.toString();
    }
}
