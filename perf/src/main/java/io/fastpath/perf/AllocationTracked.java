package io.fastpath.perf;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.infra.IterationParams;
import org.openjdk.jmh.runner.IterationType;

/**
 * Counts the bytes the benchmark thread itself allocates in each iteration, exactly (HotSpot's per-thread
 * counter includes the current TLAB), to back up {@code -prof gc}: JMH's {@code gc.alloc.rate.norm} divides
 * the allocation of <em>every</em> thread in the fork (JMH's own control threads allocate a steady trickle)
 * by the operations, so a zero-allocation benchmark shows a small non-zero B/op that grows with ns/op.
 *
 * <p>The window is from iteration set-up to iteration tear-down: it holds the measured loop and JMH's
 * warm-up and warm-down calls of the benchmark, and none of JMH's result bookkeeping. When the environment
 * variable {@value #LOG_ENV} names a file, each trial appends one JSON line
 * {@code {"benchmark":..., "params":{...}, "measurementBytes":[...], "warmupBytes":[...]}} to it.
 *
 * <p>Subclasses are the {@code @State(Scope.Thread)} benchmark classes; JMH runs these inherited set-up and
 * tear-down methods on the benchmark thread.
 */
public abstract class AllocationTracked {
    static final String LOG_ENV = "FASTPATH_PERF_ALLOC_LOG";

    private static final com.sun.management.ThreadMXBean THREADS =
        (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    private final List<Long> warmupBytes = new ArrayList<>();
    private final List<Long> measurementBytes = new ArrayList<>();
    private long startBytes;

    @Setup(Level.Iteration)
    public void startAllocationWindow() {
        startBytes = THREADS.getCurrentThreadAllocatedBytes();
    }

    @TearDown(Level.Iteration)
    public void endAllocationWindow(IterationParams iteration) {
        long bytes = THREADS.getCurrentThreadAllocatedBytes() - startBytes;
        (iteration.getType() == IterationType.MEASUREMENT ? measurementBytes : warmupBytes).add(bytes);
    }

    @TearDown(Level.Trial)
    public void logAllocation(BenchmarkParams benchmark) {
        String log = System.getenv(LOG_ENV);
        if (log == null || log.isEmpty()) {
            return;
        }
        StringBuilder line = new StringBuilder(256).append("{\"benchmark\":\"").append(benchmark.getBenchmark())
            .append("\",\"params\":{");
        String separator = "";
        for (String key : benchmark.getParamsKeys()) {
            line.append(separator).append('"').append(key).append("\":\"").append(benchmark.getParam(key)).append('"');
            separator = ",";
        }
        line.append("},\"measurementBytes\":").append(measurementBytes).append(",\"warmupBytes\":").append(warmupBytes)
            .append("}\n");
        try {
            Files.writeString(Path.of(log), line, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
