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

/**
 * Issue 12 for the provider side, without the stack side: a "port of two shards" made of two server stacks with
 * one address, each over a DPDK ring pair of its own to a peer stack (the peers share an address too), in invoker
 * mode. Shard 0's service is server 0's own; shard 1's is a {@link TcpService} made with shard id 1 over server
 * 1's TCP, polled right after that stack's duty cycle (on the same thread, as its poll thread). Which shard a
 * connection lands on is which wire it came by (the test's flow owner); {@link #close} checks every mbuf went
 * back to the pool.
 */
final class ShardRig implements AutoCloseable {
    private static final AtomicInteger ROUND = new AtomicInteger();

    final PktmbufPool pool;
    final RingPair[] pairs = new RingPair[2];
    final Stack[] peers = new Stack[2];
    final Stack[] servers = new Stack[2];
    /** Shard i's service at index i. */
    final List<TcpService> shards;
    final int baseline;
    final List<Runnable> polled = new ArrayList<>();

    ShardRig(Path dir, String name, int peerIp, int serverIp) {
        int n = ROUND.getAndIncrement();
        pool = PktmbufPool.create(name + "p" + n, 16383, 0, PktmbufPool.DEFAULT_DATA_ROOM);
        for (int i = 0; i < 2; i++) {
            pairs[i] = RingPair.create(name + "r" + n + i, 1024, pool, pool, EthDevPort.Config.defaults());
            peers[i] = stack(dir, pairs[i].a(), name + "a" + n + i, peerIp);
            servers[i] = stack(dir, pairs[i].b(), name + "b" + n + i, serverIp);
        }
        TcpService one = new TcpService(servers[1].tcp(), servers[1].config().ringCapacity(), servers[1].counters(),
            pool.availableCount() + pool.inUseCount(), 1);
        shards = List.of(servers[0].tcpService(), one);
        baseline = pool.inUseCount();
    }

    private static Stack stack(Path dir, Port port, String name, int ip) {
        return new Stack(port, StackConfig.builder().name(name).address(ip, 24)
            .tcp(TcpConfig.defaults().withBuffers(256 * 1024, 1024 * 1024))
            .countersFile(dir.resolve(name + ".counters")).build());
    }

    void pumpOnce() {
        for (int i = 0; i < 2; i++) {
            peers[i].doWork();
            servers[i].doWork();
        }
        shards.get(1).poll(); // shard 1's service, on server 1's poll thread
        for (Runnable r : polled) {
            r.run();
        }
    }

    void pumpUntil(BooleanSupplier done, String what) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
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

    /** Descriptors the applications hold on both shards. */
    int held() {
        return shards.get(0).heldDescriptors() + shards.get(1).heldDescriptors();
    }

    @Override
    public void close() {
        TcpService one = shards.get(1);
        one.poll();
        for (int i = 0; i < 2; i++) {
            peers[i].onClose();
            servers[i].onClose();
            if (i == 1) {
                one.close();
            }
            peers[i].close();
            servers[i].close();
        }
        MbufArray burst = new MbufArray(32);
        for (RingPair p : pairs) {
            for (Port port : List.of(p.a(), p.b())) {
                for (int k; (k = port.receive(burst, 32)) > 0; ) {
                    burst.freeAll(k);
                }
            }
            p.close();
        }
        int inUse = pool.inUseCount();
        pool.close();
        assertEquals(0, inUse, "every mbuf back in the pool");
    }
}
