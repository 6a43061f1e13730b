package io.fastpath.perf;

import io.fastpath.clock.TscNanoClock;
import java.util.concurrent.TimeUnit;
import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.SystemNanoClock;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One clock read through Agrona's {@link NanoClock}, as the stack's duty cycle makes it: {@code system} is
 * {@link SystemNanoClock} ({@code System.nanoTime()}, {@code clock_gettime} in the vDSO: kvm-clock on this VM),
 * {@code tsc} is {@link TscNanoClock} (RDTSC through a critical downcall plus the anchor's multiply). Both clocks
 * are loaded in every fork, so the call site sees two receiver types whichever is measured (the stack's sees one).
 * 0 B/op expected for both.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@State(Scope.Thread)
@Fork(value = 3, jvmArgsAppend = {
    "--enable-native-access=ALL-UNNAMED", "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class ClockBenchmark extends AllocationTracked {
    @Param({"system", "tsc"})
    String clock;

    private NanoClock nanoClock;

    @Setup(Level.Trial)
    public void setUp() {
        TscNanoClock tsc = TscNanoClock.shared();
        if (clock.equals("tsc") && tsc == null) {
            throw new IllegalStateException("no usable TSC on this machine");
        }
        nanoClock = clock.equals("tsc") ? tsc : new SystemNanoClock();
    }

    @Benchmark
    public long read() {
        return nanoClock.nanoTime();
    }
}
