package io.fastpath.stack.counters;

import java.io.PrintStream;

/**
 * Diagnostic timestamps inside the stack: where one duty cycle that receives a TCP segment, hands its data to
 * the application and sends the answer spends its time (docs/perf/budget.md). Off unless the JVM runs with
 * {@code -Dfastpath.budget=true}: every hook is {@code if (Budget.ENABLED) ...} on a {@code static final}, so
 * with the property absent the JIT removes the hook and its {@code System.nanoTime()} call altogether.
 *
 * <p>Points, in the order a duty cycle passes them: {@link #CYCLE} (the cycle's clock read, before the rx
 * burst), {@link #RX} (rx burst returned with frames), {@link #PARSED} (Ethernet and IPv4 checked, TCP input
 * about to start), {@link #HANDOVER} (TCP input done up to the handler call or handover), {@link #SEND} (the
 * application's send request taken by TCP), {@link #OUTPUT} (the duty cycle's TCP output starts),
 * {@link #BUILT} (TCP segment written, IP output about to add its headers and checksums), {@link #FRAME}
 * (the frame complete, checksums included), {@link #TX} (tx burst returned). Each point keeps its first
 * stamp in the cycle; a cycle that passed every point adds the difference between consecutive points to that
 * stage's histogram (5 ns buckets up to 20 µs, preallocated: nothing is allocated per cycle). Cycles that
 * miss a point (a pure ACK, an idle poll) are not counted. One more histogram, the wire, holds the time from
 * the last counted tx burst of any stack in the JVM to this stack's rx burst returning: meaningful for a
 * ping-pong between two stacks in one process (one segment in flight), where it is the ring transit plus
 * the wait for the receiver's next poll.
 *
 * <p>Each stamp is one {@code System.nanoTime()} call (about 20-30 ns on this VM's kvm-clock), so each stage
 * includes about one call's cost and a round trip with the budget on is slower than without.
 *
 * <p>Thread: {@link #mark}, {@link #beginCycle}, {@link #endCycle} on the poll thread; {@link #reset} from any
 * thread (honoured at the next cycle); {@link #print} after the poll thread has stopped, or accept a torn read.
 */
public final class Budget {
    /** Whether the hooks run: {@code -Dfastpath.budget=true}, read once. */
    public static final boolean ENABLED = Boolean.getBoolean("fastpath.budget");

    public static final int CYCLE = 0;
    public static final int RX = 1;
    public static final int PARSED = 2;
    public static final int HANDOVER = 3;
    public static final int SEND = 4;
    public static final int OUTPUT = 5;
    public static final int BUILT = 6;
    public static final int FRAME = 7;
    public static final int TX = 8;
    private static final int POINTS = 9;
    /** Stage i lies between point i and point i + 1; then the whole cycle (CYCLE to TX) and the wire. */
    public static final String[] STAGES = {
        "rx burst (PMD receive)", "Ethernet/IPv4 parse", "TCP input to handover", "application (handler to send)",
        "rest of cycle to TCP output", "TCP output (segment, payload copy)", "IP/Ethernet headers + checksum",
        "tx burst (PMD transmit)", "cycle total (rx burst start to tx returned)",
        "wire: last tx returned (any stack) to rx returned"};
    private static final int CYCLE_TOTAL = 8;
    private static final int WIRE = 9;

    private static final int BUCKET_NS = 5;
    private static final int BUCKETS = 4000;

    private final long[] stamps = new long[POINTS];
    private final long[][] histograms = new long[STAGES.length][BUCKETS + 1];
    private final long[] sums = new long[STAGES.length];
    private final long[] counts = new long[STAGES.length];
    /**
     * When the last counted cycle of any stack in this JVM got its tx burst back: with two stacks ping-ponging
     * one segment over a ring pair, the time from the peer's tx to our rx is the wire (ring) and poll wait.
     */
    private static volatile long lastTxNs;
    private long cycles;
    private boolean active;
    private volatile boolean resetRequested;

    /** Opens a cycle at {@code cycleStartNs} (a System.nanoTime() value), once its rx burst returned frames. */
    public void beginCycle(long cycleStartNs) {
        if (resetRequested) {
            clear();
        }
        active = true;
        stamps[CYCLE] = cycleStartNs;
        stamps[RX] = System.nanoTime();
        long wire = stamps[RX] - lastTxNs;
        if (wire >= 0 && wire < 1_000_000) {
            add(WIRE, wire);
        }
        for (int i = PARSED; i < POINTS; i++) {
            stamps[i] = 0;
        }
    }

    /** Stamps {@code point} if a cycle is open and the point has no stamp yet in it. */
    public void mark(int point) {
        if (active && stamps[point] == 0) {
            long now = System.nanoTime();
            stamps[point] = now;
            if (point == TX) {
                lastTxNs = now;
            }
        }
    }

    /** Closes the cycle: if it passed every point in order, its stages are counted. */
    public void endCycle() {
        if (!active) {
            return;
        }
        active = false;
        for (int i = 1; i < POINTS; i++) {
            if (stamps[i] == 0 || stamps[i] < stamps[i - 1]) {
                return;
            }
        }
        for (int i = 0; i < POINTS - 1; i++) {
            add(i, stamps[i + 1] - stamps[i]);
        }
        add(CYCLE_TOTAL, stamps[TX] - stamps[CYCLE]);
        cycles++;
    }

    private void add(int stage, long ns) {
        histograms[stage][(int) Math.min(BUCKETS, ns / BUCKET_NS)]++;
        sums[stage] += ns;
        counts[stage]++;
    }

    /** Forgets what was counted, at the start of the next cycle (any thread: the end of a warm-up). */
    public void reset() {
        resetRequested = true;
    }

    private void clear() {
        resetRequested = false;
        for (long[] h : histograms) {
            java.util.Arrays.fill(h, 0);
        }
        java.util.Arrays.fill(sums, 0);
        java.util.Arrays.fill(counts, 0);
        cycles = 0;
    }

    /** Complete cycles counted. */
    public long cycles() {
        return cycles;
    }

    /** The {@code percentile} (0-100) of {@code stage} in nanoseconds (the upper edge of its 5 ns bucket). */
    public long percentileNs(int stage, double percentile) {
        long[] h = histograms[stage];
        long target = Math.max(1, (long) Math.ceil(counts[stage] * percentile / 100.0));
        long seen = 0;
        for (int b = 0; b <= BUCKETS; b++) {
            seen += h[b];
            if (seen >= target) {
                return (long) (b + 1) * BUCKET_NS;
            }
        }
        return (long) (BUCKETS + 1) * BUCKET_NS;
    }

    /** The mean of {@code stage} in nanoseconds. */
    public double meanNs(int stage) {
        return counts[stage] == 0 ? Double.NaN : (double) sums[stage] / counts[stage];
    }

    /** A table of the stages: p50, p99 and mean in ns (allocates: diagnostics). */
    public void print(PrintStream out, String title) {
        out.printf("budget %s: %d complete cycles (rx, TCP input, handover, send, output, tx)%n", title, cycles);
        out.printf("  %-46s %8s %8s %8s%n", "stage", "p50 ns", "p99 ns", "mean ns");
        for (int s = 0; s < STAGES.length; s++) {
            out.printf("  %-46s %8d %8d %8.0f%n", STAGES[s], percentileNs(s, 50), percentileNs(s, 99), meanNs(s));
        }
    }
}
