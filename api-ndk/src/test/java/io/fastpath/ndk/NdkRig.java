package io.fastpath.ndk;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.MbufArray;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.Port;
import io.fastpath.dpdk.RingPair;
import io.fastpath.stack.Stack;
import io.fastpath.stack.StackConfig;
import io.fastpath.stack.StackRunner;
import io.fastpath.stack.device.FaultInjector;
import io.fastpath.stack.device.PcapPort;
import io.fastpath.stack.tcp.TcpConfig;
import io.fastpath.stack.wire.Ipv4Address;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.concurrent.locks.LockSupport;
import org.agrona.concurrent.Agent;

/**
 * Two stacks, A (10.13.0.1) and B (10.13.0.2), joined by a DPDK ring pair, each on its own StackRunner poll
 * thread, with an NDK adapter each (A's may be left out, for tests that speak raw TCP from A). The test thread
 * is both adapters' dispatch thread. Closing checks that every mbuf came back to the pool.
 */
final class NdkRig implements AutoCloseable {
    static final int A_IP = Ipv4Address.parse("10.13.0.1");
    static final int B_IP = Ipv4Address.parse("10.13.0.2");
    private static final AtomicInteger SEQUENCE = new AtomicInteger();

    final PktmbufPool pool;
    final RingPair pair;
    final Stack a;
    final Stack b;
    final StackRunner runnerA;
    final StackRunner runnerB;
    final NdkAdapter ndkA;
    final NdkAdapter ndkB;
    final List<Throwable> errors = new ArrayList<>();
    private final PcapPort pcap;
    final FaultInjector faults;
    /** Gates on the stacks' poll threads (Options.gates): while held, a stack carries out no request. */
    final Gate gateA = new Gate();
    final Gate gateB = new Gate();
    private boolean closed;

    /**
     * Runs after the stack's work in each duty cycle of its poll thread; {@link #hold} returns once the poll
     * thread waits in it, so the stack is between two cycles and reads neither wire nor request ring until
     * {@link #open}.
     */
    static final class Gate implements Agent {
        private volatile boolean hold;
        private volatile boolean holding;

        @Override
        public int doWork() {
            while (hold) {
                holding = true;
                LockSupport.parkNanos(50_000);
            }
            holding = false;
            return 0;
        }

        @Override
        public String roleName() {
            return "gate";
        }

        void hold() {
            hold = true;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (!holding) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("the poll thread did not reach the gate");
                }
                Thread.yield();
            }
        }

        void open() {
            hold = false;
        }
    }

    static final class Options {
        TcpConfig tcpA = TcpConfig.defaults().withTimeWait(TimeUnit.MILLISECONDS.toNanos(50));
        TcpConfig tcpB = TcpConfig.defaults().withTimeWait(TimeUnit.MILLISECONDS.toNanos(50));
        NdkAdapterInfo infoA = NdkAdapterInfo.defaults();
        NdkAdapterInfo infoB = NdkAdapterInfo.defaults();
        boolean adapterA = true;
        Path pcapA;
        /** Seeded loss, reordering and duplication on A's port, both directions (FaultInjector). */
        double faultsA;
    }

    NdkRig(Path dir) {
        this(dir, new Options());
    }

    NdkRig(Path dir, Options o) {
        int n = SEQUENCE.incrementAndGet();
        pool = PktmbufPool.create("ndk" + n, 16383, 256, PktmbufPool.DEFAULT_DATA_ROOM);
        pair = RingPair.create("ndk" + n, 2048, pool, pool, EthDevPort.Config.defaults());
        pcap = o.pcapA == null ? null : new PcapPort(pair.a(), o.pcapA);
        Port portA = pcap == null ? pair.a() : pcap;
        faults = o.faultsA == 0 ? null : FaultInjector.builder(portA).seed(6581).rxDrop(o.faultsA).txDrop(o.faultsA)
            .rxReorder(o.faultsA).txReorder(o.faultsA).txDuplicate(o.faultsA).build();
        if (faults != null) {
            portA = faults;
        }
        a = stack(portA, dir, "ndka" + n, A_IP, o.tcpA);
        b = stack(pair.b(), dir, "ndkb" + n, B_IP, o.tcpB);
        runnerA = StackRunner.start(a, StackRunner.backoff(), gateA);
        runnerB = StackRunner.start(b, StackRunner.backoff(), gateB);
        ndkA = o.adapterA ? NdkAdapter.open(a, o.infoA, errors::add) : null;
        ndkB = NdkAdapter.open(b, o.infoB, errors::add);
    }

    private static Stack stack(Port port, Path dir, String name, int ip, TcpConfig tcp) {
        return new Stack(port, StackConfig.builder().name(name).address(ip, 24).tcp(tcp)
            .arp(256, TimeUnit.SECONDS.toNanos(60), TimeUnit.MILLISECONDS.toNanos(50), 3)
            .countersFile(dir.resolve(name + ".counters")).build());
    }

    int dispatch() {
        int work = ndkB.dispatch();
        if (ndkA != null) {
            work += ndkA.dispatch();
        }
        return work;
    }

    /** Dispatches both adapters until {@code done}, failing after {@code seconds}. */
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

    /** Dispatches for a while (to show that something does not happen). */
    void runFor(long millis) {
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        while (System.nanoTime() < end) {
            if (dispatch() == 0) {
                Thread.yield();
            }
        }
        assertNoErrors();
    }

    void await(Call call, String what) {
        runUntil(call::done, 10, what);
    }

    void assertNoErrors() {
        if (!errors.isEmpty()) {
            AssertionError e = new AssertionError("a completion or callback failed: " + errors.get(0));
            errors.forEach(e::addSuppressed);
            throw e;
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        gateA.open();
        gateB.open();
        try {
            if (ndkA != null) {
                ndkA.close();
            }
            ndkB.close();
        } finally {
            runnerA.close();
            runnerB.close();
            a.close();
            b.close();
            drain(pair.a());
            drain(pair.b());
            if (faults != null) {
                faults.close(); // frees what it held back
            }
            if (pcap != null) {
                pcap.close(); // writes the file out
            }
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
