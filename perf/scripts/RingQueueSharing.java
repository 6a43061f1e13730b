package io.fastpath.perf;

import io.fastpath.dpdk.Eal;
import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.MbufArray;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.Port;
import io.fastpath.dpdk.RingPair;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Does polling queue q of a net_ring port slow down polling queue q' of the same port on another CPU? net_ring keeps
 * each queue's packet counters in a 24-byte {@code struct ring_queue}, a port's queues side by side in one array,
 * and writes the counter on every burst, empty ones included; two pollers of adjacent queues write one cache line
 * from two CPUs. Thread "one" polls queue 0 (empty) on CPU 1; thread "other" polls queue {@code stride} on CPU 0;
 * the empty rx bursts per second of "one" alone, beside "other" at stride 1 and beside it at stride 4, in turn.
 * docs/perf/scaling.md. Usage:
 * <pre>
 * javac -cp perf/target/benchmarks.jar -d /tmp/rqs perf/scripts/RingQueueSharing.java
 * flock /tmp/cpu1.lock taskset -c 0-1 $JAVA_HOME/bin/java --enable-native-access=ALL-UNNAMED \
 *     --add-exports java.base/jdk.internal.misc=ALL-UNNAMED -cp /tmp/rqs:perf/target/benchmarks.jar \
 *     io.fastpath.perf.RingQueueSharing
 * </pre>
 */
public final class RingQueueSharing {
    private static final long WINDOW_NS = 1_000_000_000L;

    public static void main(String[] args) throws Exception {
        Eal.shared();
        PktmbufPool pool = PktmbufPool.create("rqs", 4095, 256, PktmbufPool.DEFAULT_DATA_ROOM);
        RingPair pair = RingPair.create("rqs", 1024, pool, pool, EthDevPort.Config.defaults().withQueues(8));
        try {
            for (int round = 0; round < 6; round++) {
                double alone = rate(pair.a(), -1);
                double adjacent = rate(pair.a(), 1);
                double apart = rate(pair.a(), 4);
                System.out.printf("round %d: queue 0 alone %.1f M bursts/s, beside queue 1 %.1f, beside queue 4 %.1f"
                    + " (ns per burst %.1f / %.1f / %.1f)%n", round, alone / 1e6, adjacent / 1e6, apart / 1e6,
                    1e9 / alone, 1e9 / adjacent, 1e9 / apart);
            }
        } finally {
            pair.close();
            pool.close();
        }
    }

    /** Empty bursts per second on queue 0 (CPU 1), with another thread polling queue {@code other} (CPU 0) or not. */
    private static double rate(EthDevPort port, int other) throws InterruptedException {
        AtomicBoolean stop = new AtomicBoolean();
        Thread t = null;
        if (other >= 0) {
            Port q = port.queue(other);
            t = new Thread(() -> {
                Affinity.pin(0);
                Eal.shared().registerThread();
                MbufArray a = new MbufArray(32);
                while (!stop.get()) {
                    q.receive(a, 32);
                }
                Eal.shared().unregisterThread();
            });
            t.start();
            Thread.sleep(50);
        }
        double[] result = new double[1];
        Thread one = new Thread(() -> {
            Affinity.pin(1);
            Eal.shared().registerThread();
            Port q = port.queue(0);
            MbufArray a = new MbufArray(32);
            for (int i = 0; i < 1_000_000; i++) {
                q.receive(a, 32); // warm-up
            }
            long calls = 0;
            long start = System.nanoTime();
            long end = start + WINDOW_NS;
            long now;
            do {
                for (int i = 0; i < 1000; i++) {
                    q.receive(a, 32);
                }
                calls += 1000;
            } while ((now = System.nanoTime()) < end);
            result[0] = calls * 1e9 / (now - start);
            Eal.shared().unregisterThread();
        });
        one.start();
        one.join();
        stop.set(true);
        if (t != null) {
            t.join();
        }
        return result[0];
    }
}
