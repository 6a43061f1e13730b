package io.fastpath.wsk;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.MbufArray;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.Port;
import io.fastpath.dpdk.RingPair;
import io.fastpath.stack.Stack;
import io.fastpath.stack.StackConfig;
import io.fastpath.stack.StackRunner;
import io.fastpath.stack.counters.DropReason;
import io.fastpath.stack.tcp.TcpConfig;
import io.fastpath.stack.wire.Ipv4Address;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.function.IntSupplier;

/**
 * Two stacks, A (10.12.0.1) and B (10.12.0.2), joined by a DPDK ring pair, each on its own StackRunner poll
 * thread, with a WSK provider each. The test thread is both providers' dispatch thread (invoker mode):
 * {@link #runUntil} drives them. Closing checks that every mbuf came back to the pool.
 */
final class RingRig implements AutoCloseable {
    static final int A_IP = Ipv4Address.parse("10.12.0.1");
    static final int B_IP = Ipv4Address.parse("10.12.0.2");
    private static final AtomicInteger SEQUENCE = new AtomicInteger();

    final PktmbufPool pool;
    final RingPair pair;
    final Stack a;
    final Stack b;
    final StackRunner runnerA;
    final StackRunner runnerB;
    final WskProvider wskA;
    final WskProvider wskB;
    final List<Throwable> errors = new ArrayList<>();
    private boolean closed;

    RingRig(Path dir) {
        this(dir, TcpConfig.defaults().withTimeWait(TimeUnit.MILLISECONDS.toNanos(50)));
    }

    RingRig(Path dir, TcpConfig tcp) {
        this(dir, tcp, false);
    }

    /** With {@code bOnPollThread}, B's provider dispatches on B's poll thread (WskProvider.pollThreadAgent). */
    RingRig(Path dir, TcpConfig tcp, boolean bOnPollThread) {
        this(dir, tcp, bOnPollThread, 0);
    }

    /** With a TCP memory limit of {@code tcpMemoryMbufs} per stack (0: the pool less the reserve). */
    RingRig(Path dir, TcpConfig tcp, boolean bOnPollThread, int tcpMemoryMbufs) {
        this(dir, tcp, bOnPollThread, tcpMemoryMbufs, null);
    }

    /** With {@code bAgent} (may be null) run on B's poll thread in every duty cycle (an application on B's stack). */
    RingRig(Path dir, TcpConfig tcp, boolean bOnPollThread, int tcpMemoryMbufs, IntSupplier bAgent) {
        int n = SEQUENCE.incrementAndGet();
        pool = PktmbufPool.create("wsk" + n, 16383, 256, PktmbufPool.DEFAULT_DATA_ROOM);
        pair = RingPair.create("wsk" + n, 2048, pool, pool, EthDevPort.Config.defaults());
        a = stack(pair.a(), dir, "wska" + n, A_IP, tcp, tcpMemoryMbufs);
        b = stack(pair.b(), dir, "wskb" + n, B_IP, tcp, tcpMemoryMbufs);
        wskA = WskProvider.register(a, errors::add);
        wskB = WskProvider.register(b, errors::add);
        runnerA = StackRunner.start(a, StackRunner.backoff());
        runnerB = bOnPollThread ? StackRunner.start(b, StackRunner.backoff(), wskB.pollThreadAgent())
            : bAgent != null ? StackRunner.start(b, StackRunner.backoff(), bAgent)
            : StackRunner.start(b, StackRunner.backoff());
    }

    private static Stack stack(Port port, Path dir, String name, int ip, TcpConfig tcp, int tcpMemoryMbufs) {
        return new Stack(port, StackConfig.builder().name(name).address(ip, 24).tcp(tcp)
            .tcpMemory(tcpMemoryMbufs, 1024).countersFile(dir.resolve(name + ".counters")).build());
    }

    /** Dispatches both providers until {@code done}, failing after {@code seconds}. */
    void runUntil(BooleanSupplier done, long seconds, String what) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(what + ": not done in " + seconds + " s; errors " + errors
                    + "\nA: " + a.tcp().describe() + "\nB: " + b.tcp().describe());
            }
            if (dispatch() == 0) {
                Thread.yield();
            }
        }
        assertNoErrors();
    }

    /** Dispatches both providers for a while (to show that something does not happen). */
    void runFor(long millis) {
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        while (System.nanoTime() < end) {
            if (dispatch() == 0) {
                Thread.yield();
            }
        }
        assertNoErrors();
    }

    int dispatch() {
        int work = 0;
        if (wskA.onDispatchThread()) {
            work += wskA.dispatch();
        }
        if (wskB.onDispatchThread()) {
            work += wskB.dispatch();
        }
        return work;
    }

    void await(Call call, long seconds, String what) {
        runUntil(call::done, seconds, what);
    }

    void assertNoErrors() {
        if (!errors.isEmpty()) {
            AssertionError e = new AssertionError("a completion routine or callback failed: " + errors.get(0));
            errors.forEach(e::addSuppressed);
            throw e;
        }
    }

    long eventsLost() {
        return a.counters().drop(DropReason.TCP_EVENT_LOST).get() + b.counters().drop(DropReason.TCP_EVENT_LOST).get();
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            wskA.close();
            wskB.close();
        } finally {
            runnerA.close();
            runnerB.close();
            a.close();
            b.close();
            drain(pair.a());
            drain(pair.b());
            pair.close();
            int inUse = pool.inUseCount();
            pool.close();
            assertEquals(0, inUse, "every mbuf back in the pool");
        }
    }

    private static void drain(Port port) {
        MbufArray burst = new MbufArray(32);
        for (int n; (n = port.receive(burst, 32)) > 0; ) {
            burst.freeAll(n);
        }
    }
}
