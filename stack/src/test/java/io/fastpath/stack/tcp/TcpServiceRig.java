package io.fastpath.stack.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.MbufArray;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.Port;
import io.fastpath.dpdk.RingPair;
import io.fastpath.stack.Stack;
import io.fastpath.stack.StackConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * Two stacks, a peer and a server, over a DPDK ring pair in invoker mode, for {@link TcpService} client tests:
 * the test thread runs both duty cycles and is every client's event thread ({@link #polled}), so it can stop
 * polling a client, or the stacks, at will. {@link #close} checks that every mbuf went back to the pool.
 */
final class TcpServiceRig implements AutoCloseable {
    private static final AtomicInteger ROUND = new AtomicInteger();

    final PktmbufPool pool;
    final RingPair pair;
    final Stack peer;
    final Stack server;
    /** Mbufs in use once both stacks are up (the ports' own). */
    final int baseline;
    /** What each pump polls: a client's events into its handler (add and remove at will). */
    final List<Runnable> polled = new ArrayList<>();
    private final Path dir;

    /**
     * @param serverMemoryLimit the server stack's TCP memory limit in mbufs (0: what the pool allows)
     */
    TcpServiceRig(Path dir, String name, int peerIp, int serverIp, int serverMemoryLimit) {
        this.dir = dir;
        int n = ROUND.getAndIncrement();
        pool = PktmbufPool.create(name + "p" + n, 8191, 0, PktmbufPool.DEFAULT_DATA_ROOM);
        pair = RingPair.create(name + "r" + n, 1024, pool, pool, EthDevPort.Config.defaults());
        peer = stack(pair.a(), name + "a" + n, peerIp, 0);
        server = stack(pair.b(), name + "b" + n, serverIp, serverMemoryLimit);
        baseline = pool.inUseCount();
    }

    private Stack stack(Port port, String name, int ip, int memoryLimit) {
        return new Stack(port, StackConfig.builder().name(name).address(ip, 24)
            .tcp(TcpConfig.defaults().withBuffers(256 * 1024, 1024 * 1024))
            .tcpMemory(memoryLimit, 256)
            .countersFile(dir.resolve(name + ".counters")).build());
    }

    /** One duty cycle of each stack, then every polled client's events. */
    void pumpOnce() {
        peer.doWork();
        server.doWork();
        for (Runnable r : polled) {
            r.run();
        }
    }

    void pumpUntil(BooleanSupplier done, String what) {
        pumpUntil(done, () -> what, 10);
    }

    void pumpUntil(BooleanSupplier done, Supplier<String> what, int seconds) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (!done.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, what);
            pumpOnce();
        }
    }

    void pumpFor(long ms) {
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ms);
        while (System.nanoTime() - end < 0) {
            pumpOnce();
        }
    }

    @Override
    public void close() {
        for (Stack s : new Stack[] {peer, server}) {
            s.onClose();
            s.close();
        }
        drain(pair.a());
        drain(pair.b());
        pair.close();
        int inUse = pool.inUseCount();
        pool.close();
        assertEquals(0, inUse, "every mbuf back in the pool");
    }

    private static void drain(Port port) {
        MbufArray burst = new MbufArray(32);
        for (int n; (n = port.receive(burst, 32)) > 0; ) {
            burst.freeAll(n);
        }
    }
}
