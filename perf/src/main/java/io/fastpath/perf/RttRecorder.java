package io.fastpath.perf;

import java.util.concurrent.TimeUnit;
import org.HdrHistogram.Histogram;

/**
 * Round-trip times of one ping-pong: the warm-up (at least {@code warmup} round trips and at least
 * {@code warmupNs} of time, so that the JIT has compiled the hot path however fast a round trip is) is thrown
 * away, the next {@code measured} round trips go into an HdrHistogram (nanoseconds, 3 significant digits, up
 * to 10 s; longer ones are clamped), and whatever comes after, until the driver stops the ping-pong, is thrown
 * away too.
 *
 * <p>The hot path is the same for every round trip: record into the current target histogram, count down
 * to the next checkpoint. Every {@value #CHECKPOINT} round trips {@link #checkpoint} (kept out of line by
 * the harness's {@code -XX:CompileCommand=dontinline}) publishes the count and switches the target at the
 * warm-up and measurement boundaries. So no branch is taken for the first time at a boundary: a branch the
 * JIT has never seen taken is compiled as an uncommon trap, and hitting it deoptimises the whole inlined
 * poll loop, which runs interpreted for a while and allocates while re-linking; that would land in the
 * allocation window and the first measured round trips. Recording allocates nothing.
 *
 * <p>Thread: {@link #record} on the one thread that measures; {@link #phase()}, {@link #completed()}, and the
 * results once {@link #phase()} is {@link #DONE}, from any thread.
 */
final class RttRecorder {
    static final int WARMING_UP = 0;
    static final int MEASURING = 1;
    static final int DONE = 2;
    static final int FAILED = 3;
    static final long HIGHEST_NS = TimeUnit.SECONDS.toNanos(10);
    /** Round trips between two checkpoints; warm-up and measured counts are multiples of it. */
    static final int CHECKPOINT = 1000;
    /**
     * With {@code -Dfastpath.rttTrace=true} every round trip is also kept in order (its end time and length, in
     * a preallocated ring of {@value #TRACE_SIZE}), and {@link Measure#writeDistribution} writes the measured
     * ones to {@code <out>.<name>.trace}: to see which round trips are slow (docs/perf/budget.md, the tail).
     */
    static final boolean TRACE = Boolean.getBoolean("fastpath.rttTrace");
    static final int TRACE_SIZE = 1 << 20;

    private final long[] traceRtt = TRACE ? new long[TRACE_SIZE + 1] : null;
    private final long[] traceEnd = TRACE ? new long[TRACE_SIZE + 1] : null;
    private int traceIndex;
    private int traceStep = 1;
    private int traceMask = TRACE_SIZE - 1;
    private int traceMeasureEnd = -1;

    final Histogram histogram = new Histogram(HIGHEST_NS, 3);
    private final Histogram scratch = new Histogram(HIGHEST_NS, 3);
    private final long warmup;
    private final long warmupNs;
    private final long measured;
    private final long startNs = System.nanoTime();
    private long measureEndCount = -1;
    private long warmupDone;
    private Histogram target;
    private int untilCheckpoint = CHECKPOINT;
    private long completed;
    private long windowMaxNs;
    private long maxNs;
    private long measureStartNs;
    private long measureEndNs;
    private volatile long publishedCompleted;
    private volatile int phase;
    private volatile String failure;

    RttRecorder(long warmup, long warmupNs, long measured) {
        if (measured <= 0 || warmup < 0 || warmup % CHECKPOINT != 0 || measured % CHECKPOINT != 0) {
            throw new IllegalArgumentException("warm-up " + warmup + " and measured " + measured
                + " round trips must be multiples of " + CHECKPOINT + " (measured > 0)");
        }
        this.warmup = warmup;
        this.warmupNs = warmupNs;
        this.measured = measured;
        if (warmup == 0 && warmupNs <= 0) {
            measureStartNs = startNs;
            measureEndCount = measured;
            target = histogram;
            phase = MEASURING;
        } else {
            target = scratch;
        }
    }

    /** One round trip took {@code rttNs}, ending at {@code nowNs}. */
    void record(long rttNs, long nowNs) {
        long rtt = Math.min(rttNs, HIGHEST_NS - 1);
        windowMaxNs = Math.max(windowMaxNs, rttNs);
        target.recordValue(rtt);
        if (TRACE) {
            // No branch that flips at a boundary: after the measurement every write goes to the spare last slot.
            int i = traceIndex;
            traceRtt[i] = rttNs;
            traceEnd[i] = nowNs;
            traceIndex = (i + traceStep) & traceMask;
        }
        if (--untilCheckpoint == 0) {
            checkpoint(nowNs);
        }
    }

    /** Every {@value #CHECKPOINT} round trips: publish the count, move between warm-up, measurement and after. */
    void checkpoint(long nowNs) {
        untilCheckpoint = CHECKPOINT;
        long n = completed + CHECKPOINT;
        completed = n;
        if (measureEndCount < 0 && n >= warmup && nowNs - startNs >= warmupNs) {
            warmupDone = n;
            measureEndCount = n + measured;
            measureStartNs = nowNs;
            windowMaxNs = 0;
            target = histogram;
            phase = MEASURING;
        } else if (n == measureEndCount) {
            measureEndNs = nowNs;
            maxNs = windowMaxNs;
            target = scratch; // what comes after is not kept (scratch is never read)
            if (TRACE) {
                traceMeasureEnd = traceIndex;
                traceStep = 0;
                traceMask = -1;
                traceIndex = TRACE_SIZE;
            }
            phase = DONE;
        }
        publishedCompleted = n;
    }

    /** The run cannot go on (the connection failed, an echo came back wrong). */
    void fail(String why) {
        if (failure == null) {
            failure = why;
        }
        phase = FAILED;
    }

    int phase() {
        return phase;
    }

    String failure() {
        return failure;
    }

    /** Round trips completed, as of the last checkpoint. */
    long completed() {
        return publishedCompleted;
    }

    long measured() {
        return measured;
    }

    /** Round trips the warm-up took (known once measuring). */
    long warmupDone() {
        return warmupDone;
    }

    /** The largest round trip measured, exactly (the histogram's own maximum is rounded to its precision). */
    long maxNs() {
        return maxNs;
    }

    /** Wall time of the measured round trips, from the end of the last warm-up round trip to the end of the last. */
    long measuredNs() {
        return measureEndNs - measureStartNs;
    }

    /**
     * The measured round trips in order as "end_ns rtt_ns" lines (at most the last {@value #TRACE_SIZE}), with
     * {@code -Dfastpath.rttTrace=true} once {@link #DONE}; else nothing.
     */
    void writeTrace(java.io.PrintStream out) {
        if (!TRACE || traceMeasureEnd < 0) {
            return;
        }
        long n = Math.min(measured, TRACE_SIZE);
        for (long k = n; k > 0; k--) {
            int i = (int) ((traceMeasureEnd - k) & (TRACE_SIZE - 1));
            out.append(Long.toString(traceEnd[i])).append(' ').append(Long.toString(traceRtt[i])).append('\n');
        }
    }

    /** The results as JSON fields (microseconds, three decimals). */
    void appendJson(Json json) {
        Histogram h = histogram;
        json.field("warmup", warmupDone).field("warmup_s", (measureStartNs - startNs) / 1e9)
            .field("count", h.getTotalCount())
            .field("min_us", us(h.getMinValue())).field("mean_us", h.getMean() / 1000.0)
            .field("p50_us", us(h.getValueAtPercentile(50))).field("p90_us", us(h.getValueAtPercentile(90)))
            .field("p99_us", us(h.getValueAtPercentile(99))).field("p999_us", us(h.getValueAtPercentile(99.9)))
            .field("p9999_us", us(h.getValueAtPercentile(99.99))).field("max_us", us(maxNs))
            .field("over_100us", h.getCountBetweenValues(100_000, HIGHEST_NS))
            .field("over_1ms", h.getCountBetweenValues(1_000_000, HIGHEST_NS))
            .field("over_10ms", h.getCountBetweenValues(10_000_000, HIGHEST_NS))
            .field("measured_s", measuredNs() / 1e9)
            .field("round_trips_per_s", h.getTotalCount() / (measuredNs() / 1e9));
    }

    static double us(long ns) {
        return ns / 1000.0;
    }
}
