package io.fastpath.perf;

import io.fastpath.stack.Stack;
import io.fastpath.stack.counters.StackCounters;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;

/**
 * What every phase of {@link TcpHarness} does the same way: wait for a condition without spinning (the two
 * CPUs belong to the poll threads), sample per-thread allocation and GC counts around a measured window,
 * read a stack's counters, and write the results.
 *
 * <p>Thread: the harness's main thread.
 */
final class Measure {
    private static final com.sun.management.ThreadMXBean THREADS =
        (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    private Measure() {
    }

    /**
     * A thread whose allocation is measured: its name, where it runs, how to read its allocation counter, and
     * its id (for its CPU time).
     */
    record Probe(String name, String pinning, LongSupplier allocatedBytes, long threadId) {
        /** A poll thread, read on itself between duty cycles. */
        static Probe of(PollThread thread) {
            return new Probe(thread.name(), thread.pinning(), thread::allocatedBytes, thread.thread().threadId());
        }

        /** A thread that may be blocked in a system call: read from outside (HotSpot's per-thread counter). */
        static Probe outside(PollThread thread) {
            long id = thread.thread().threadId();
            return new Probe(thread.name(), thread.pinning(), () -> THREADS.getThreadAllocatedBytes(id), id);
        }
    }

    /** Allocation, CPU time and GC counts at one moment. */
    record Sample(long nanoTime, long[] allocated, long[] cpuNs, long gcCount, long gcMillis) {
    }

    static Sample sample(List<Probe> probes) {
        long[] allocated = new long[probes.size()];
        long[] cpu = new long[probes.size()];
        for (int i = 0; i < allocated.length; i++) {
            allocated[i] = probes.get(i).allocatedBytes().getAsLong();
            cpu[i] = THREADS.getThreadCpuTime(probes.get(i).threadId());
        }
        long count = 0;
        long millis = 0;
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            count += Math.max(0, gc.getCollectionCount());
            millis += Math.max(0, gc.getCollectionTime());
        }
        return new Sample(System.nanoTime(), allocated, cpu, count, millis);
    }

    /**
     * Writes {@code "threads": [{name, pinning, alloc_bytes, alloc_per_op, cpu_share}], "gc_count", "gc_ms"}
     * for the window between two samples; {@code operations} is what the per-operation figure divides by.
     * {@code cpu_share} is the thread's CPU time over the wall time: a busy-polling thread that had its CPU
     * to itself shows about 1.0; less means something else ran there (the machine is shared).
     */
    static void appendAllocation(Json json, List<Probe> probes, Sample before, Sample after, long operations,
                                 String perOperation) {
        json.beginArray("threads");
        for (int i = 0; i < probes.size(); i++) {
            long bytes = after.allocated()[i] - before.allocated()[i];
            double wall = after.nanoTime() - before.nanoTime();
            json.beginObject().field("name", probes.get(i).name()).field("pinning", probes.get(i).pinning())
                .field("alloc_bytes", bytes)
                .field("alloc_per_" + perOperation, operations > 0 ? (double) bytes / operations : Double.NaN)
                .field("cpu_share", (after.cpuNs()[i] - before.cpuNs()[i]) / wall)
                .endObject();
        }
        json.endArray();
        json.field("gc_count", after.gcCount() - before.gcCount()).field("gc_ms", after.gcMillis() - before.gcMillis());
    }

    /**
     * Waits until {@code done} holds, checking every {@code pollMillis} (sleeping between: the main thread
     * must not take CPU from the poll threads), and calling {@code check} each time to surface a failure.
     */
    static void await(BooleanSupplier done, long timeoutSeconds, long pollMillis, Runnable check, String what) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
        while (!done.getAsBoolean()) {
            if (check != null) {
                check.run();
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException(what + ": not done in " + timeoutSeconds + " s");
            }
            sleep(pollMillis);
        }
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    /** The stack's TCP health counters, and every non-zero counter's line, as a JSON object. */
    static void appendCounters(Json json, String label, Stack stack) {
        StackCounters c = stack.counters();
        json.beginObject().field("stack", label)
            .field("retransmits", c.tcpRetransmits.get())
            .field("fast_retransmits", c.tcpFastRetransmits.get())
            .field("timeouts", c.tcpTimeouts.get())
            .field("drops", c.totalDrops())
            .field("out_of_order", c.tcpOutOfOrder.get())
            .field("resets_sent", c.tcpResetsSent.get())
            .field("resets_received", c.tcpResetsReceived.get())
            .field("segments_sent", c.tcpSegmentsSent.get())
            .field("segments_received", c.tcpSegmentsReceived.get())
            .field("nonzero", trimmed(StackCounters.format(c.reader(), false)))
            .endObject();
    }

    private static List<String> trimmed(List<String> lines) {
        List<String> out = new ArrayList<>(lines.size());
        for (String line : lines) {
            out.add(line.strip());
        }
        return out;
    }

    /**
     * Writes the histogram next to the run's JSON, if asked to: its percentile distribution in microseconds
     * ({@code <prefix>.<name>.hgrm}) and an HdrHistogram log of it in nanoseconds ({@code .hlog}, one
     * interval: the measured round trips; {@code HistogramLogReader} reads it back).
     */
    static void writeDistribution(Path prefix, String name, RttRecorder recorder) {
        if (prefix == null) {
            return;
        }
        Path file = prefix.resolveSibling(prefix.getFileName() + "." + name + ".hgrm");
        try (PrintStream out = new PrintStream(Files.newOutputStream(file), false, StandardCharsets.UTF_8)) {
            recorder.histogram.outputPercentileDistribution(out, 1000.0);
        } catch (IOException e) {
            System.err.println("cannot write " + file + ": " + e);
        }
        writeLog(prefix.resolveSibling(prefix.getFileName() + "." + name + ".hlog"), name, recorder.histogram);
        if (RttRecorder.TRACE) {
            Path trace = prefix.resolveSibling(prefix.getFileName() + "." + name + ".trace");
            try (PrintStream out = new PrintStream(Files.newOutputStream(trace), false, StandardCharsets.UTF_8)) {
                recorder.writeTrace(out);
            } catch (IOException e) {
                System.err.println("cannot write " + trace + ": " + e);
            }
        }
    }

    /** Writes {@code histogram} (nanoseconds) as a one-interval HdrHistogram log tagged {@code tag}. */
    static void writeLog(Path file, String tag, org.HdrHistogram.Histogram histogram) {
        try (PrintStream out = new PrintStream(Files.newOutputStream(file), false, StandardCharsets.UTF_8)) {
            org.HdrHistogram.HistogramLogWriter log = new org.HdrHistogram.HistogramLogWriter(out);
            log.outputComment("fastpath bench: " + tag + ", round-trip times in nanoseconds");
            log.outputLogFormatVersion();
            log.outputLegend();
            org.HdrHistogram.Histogram copy = histogram.copy();
            copy.setTag(tag);
            copy.setStartTimeStamp(0);
            copy.setEndTimeStamp(1000);
            log.outputIntervalHistogram(copy);
        } catch (IOException e) {
            System.err.println("cannot write " + file + ": " + e);
        }
    }
}
