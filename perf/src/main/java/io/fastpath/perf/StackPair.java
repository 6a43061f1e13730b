package io.fastpath.perf;

import io.fastpath.dpdk.Eal;
import io.fastpath.stack.Stack;
import io.fastpath.stack.StackConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The round-trip benchmarks' two stacks ({@link TcpRoundTripBenchmark}, {@link TcpServiceRoundTripBenchmark},
 * {@link WskRoundTripBenchmark}, {@link TdiRoundTripBenchmark}, {@link NdkRoundTripBenchmark}): stack A and stack B
 * on a {@link RingRig}, their counters files in a fresh directory (in /dev/shm where there is one), both driven
 * back to back by the calling thread, which is registered with EAL (the mempool caches) and, for the benchmarks
 * that run API providers on it, bound to both stacks (their requests are direct calls: TcpService.bindPollThread).
 *
 * <p>Thread: the JMH worker thread. {@link #close()} runs both stacks' {@code onClose}, closes them, the rig, and
 * removes the counters directory; close the providers first.
 */
final class StackPair implements AutoCloseable {
    final Stack a;
    final Stack b;
    private final RingRig rig;
    private final Path dir;

    /** Stacks named {@code <name>a} and {@code <name>b} at {@code aIp}/24 and {@code bIp}/24. */
    StackPair(String name, int aIp, int bIp, boolean bindPollThread) throws IOException {
        rig = new RingRig(name + "bench");
        dir = Files.createTempDirectory(Path.of(Files.isDirectory(Path.of("/dev/shm")) ? "/dev/shm" : "/tmp"),
            "fastpath-" + name + "-bench");
        a = new Stack(rig.a(), StackConfig.builder().name(name + "a").address(aIp, 24)
            .countersFile(dir.resolve("a.counters")).build());
        b = new Stack(rig.b(), StackConfig.builder().name(name + "b").address(bIp, 24)
            .countersFile(dir.resolve("b.counters")).build());
        Eal.shared().registerThread(); // this thread polls both stacks (mempool caches)
        a.skipIdleClockReads(true); // this thread runs the duty cycles back to back
        b.skipIdleClockReads(true);
        if (bindPollThread) {
            a.bindPollThread();
            b.bindPollThread();
        }
    }

    @Override
    public void close() throws IOException {
        a.onClose();
        b.onClose();
        a.close();
        b.close();
        rig.close();
        try (var files = Files.list(dir)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                Files.deleteIfExists(p);
            }
        }
        Files.deleteIfExists(dir);
    }
}
