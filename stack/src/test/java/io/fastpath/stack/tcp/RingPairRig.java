package io.fastpath.stack.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.MbufArray;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.Port;
import io.fastpath.dpdk.RingPair;
import io.fastpath.stack.NtStatus;
import io.fastpath.stack.Stack;
import io.fastpath.stack.StackConfig;
import io.fastpath.stack.StackEventHandler;
import io.fastpath.stack.app.EchoServer;
import io.fastpath.stack.app.StreamClient;
import io.fastpath.stack.counters.DropReason;
import java.nio.file.Path;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * Two stacks back to back over a ring pair, both driven by the test thread (invoker mode: deterministic), for the
 * ring-pair tests. The test makes a rig per test (the pool is the test class's), puts a decorator in front of a
 * side's port if it wants one ({@link #portA}, {@link #portB}: a fault injector, a checksum tamperer), makes the
 * stacks with {@link #a(StackConfig)} and {@link #b(StackConfig)} and runs them with {@link #step},
 * {@link #runFor} and {@link #runUntil}. A side marked silent ({@link #aSilent}, {@link #bSilent}) is not run:
 * its port is emptied by {@link #silentDrainA} / {@link #silentDrainB} (freed, by default), as a host that
 * never answers.
 *
 * <p>{@link #close} closes the stacks, frees what is still in the rings, closes the decorators and the pair, and
 * asserts that every mbuf of the pool came back. Nothing here allocates per step (a test measures allocation
 * across {@link #runUntil}). Test thread only.
 */
public final class RingPairRig implements AutoCloseable {
    public static final long MS = 1_000_000L;

    private final Path dir;
    private final PktmbufPool pool;
    public final RingPair pair;
    /** The ports the stacks are made on: the pair's, unless the test put a decorator in front (before the stack). */
    public Port portA;
    public Port portB;
    public Stack a;
    public Stack b;
    /** While set, that side's stack is not run and its port is emptied instead. */
    public boolean aSilent;
    public boolean bSilent;
    /** What empties a silent side's port each step (default: frees every frame). */
    public Consumer<Port> silentDrainA;
    public Consumer<Port> silentDrainB;
    private final MbufArray burst = new MbufArray(32);
    private boolean closed;

    /** A pair of rings {@code name} of {@code ringSize} frames on {@code pool}, with the default port config. */
    public RingPairRig(Path dir, PktmbufPool pool, String name, int ringSize) {
        this(dir, pool, RingPair.create(name, ringSize, pool, pool, EthDevPort.Config.defaults()));
    }

    /** The same over a link of its own (a large MTU, checksum offload). */
    public RingPairRig(Path dir, PktmbufPool pool, String name, int ringSize, EthDevPort.Config config,
                       RingPair.Link link) {
        this(dir, pool, RingPair.create(name, ringSize, pool, pool, config, link));
    }

    private RingPairRig(Path dir, PktmbufPool pool, RingPair pair) {
        this.dir = dir;
        this.pool = pool;
        this.pair = pair;
        this.portA = pair.a();
        this.portB = pair.b();
        this.silentDrainA = this::free;
        this.silentDrainB = silentDrainA;
    }

    /** A stack's config: {@code name}, {@code ip}/24, its counters file in the test's directory; the test adds. */
    public StackConfig.Builder config(String name, int ip) {
        return StackConfig.builder().name(name).address(ip, 24).countersFile(dir.resolve(name + ".counters"));
    }

    /** The same with {@code tcp} as its TCP config. */
    public StackConfig config(String name, int ip, TcpConfig tcp) {
        return config(name, ip).tcp(tcp).build();
    }

    /** Side A's stack, on {@link #portA}. */
    public Stack a(StackConfig config) {
        a = new Stack(portA, config);
        return a;
    }

    /** Side B's stack, on {@link #portB}. */
    public Stack b(StackConfig config) {
        b = new Stack(portB, config);
        return b;
    }

    // ============================================================================================ running

    /** One duty cycle of each side: its stack's, or (silent) the emptying of its port. A side with no stack waits. */
    public void step() {
        if (aSilent) {
            silentDrainA.accept(pair.a());
        } else if (a != null) {
            a.doWork();
        }
        if (bSilent) {
            silentDrainB.accept(pair.b());
        } else if (b != null) {
            b.doWork();
        }
    }

    /** Steps for {@code ms} of wall time. */
    public void runFor(long ms) {
        long end = System.nanoTime() + ms * MS;
        while (System.nanoTime() < end) {
            step();
        }
    }

    /** Steps until {@code done}, failing after {@code timeoutMs} with both stacks described. */
    public void runUntil(BooleanSupplier done, long timeoutMs) {
        runUntil(done, timeoutMs, "condition");
    }

    public void runUntil(BooleanSupplier done, long timeoutMs, String what) {
        long deadline = System.nanoTime() + timeoutMs * MS;
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(what + ": not met in " + timeoutMs + " ms\n" + diagnostics());
            }
            step();
        }
    }

    /** Each stack's connection count, main TCP counters and connections (for a failure's message). */
    public String diagnostics() {
        StringBuilder sb = new StringBuilder();
        for (Stack s : new Stack[] {a, b}) {
            if (s == null) {
                continue;
            }
            var c = s.counters();
            sb.append(s.config().name()).append(": ").append(s.tcp().connectionCount()).append(" connections; segs out ")
                .append(c.tcpSegmentsSent.get()).append(" in ").append(c.tcpSegmentsReceived.get()).append(", rst out ")
                .append(c.tcpResetsSent.get()).append(" in ").append(c.tcpResetsReceived.get()).append(", challenge acks ")
                .append(c.tcpChallengeAcks.get()).append(", timeouts ").append(c.tcpTimeouts.get())
                .append(", retransmits ").append(c.tcpRetransmits.get()).append(", out-of-window drops ")
                .append(c.drop(DropReason.TCP_OUT_OF_WINDOW).get()).append("\n");
            String d = s.tcp().describe();
            sb.append(d.length() > 4000 ? d.substring(0, 4000) + "...\n" : d);
        }
        return sb.toString();
    }

    /** A pings B once: A learns B's MAC (and B A's). The reply is taken off A's event ring. */
    public void resolveArp() {
        long before = a.counters().icmpEchoRepliesReceived.get();
        assertTrue(a.ping(b.config().address(), 1, 8));
        runUntil(() -> a.counters().icmpEchoRepliesReceived.get() > before, 3000, "ping B");
        a.pollEvents(new StackEventHandler() {
            @Override
            public void onEchoReply(int from, int sequence, long roundTripNs) {
            }

            @Override
            public void onSendFailed(int destination, int sequence, int status) {
            }
        });
    }

    // =============================================================================================== echo

    /** An echo server on B's {@code port}, listening. */
    public EchoServer echoServer(int port) {
        EchoServer server = new EchoServer();
        assertEquals(NtStatus.STATUS_SUCCESS, server.listen(b.tcp(), port));
        return server;
    }

    /** A's stream {@code client} connects to B's {@code port} (after one duty cycle of A: its ARP announcement). */
    public void connect(StreamClient client, int port) {
        a.doWork();
        assertEquals(NtStatus.STATUS_PENDING, client.connect(a.tcp(), b.config().address(), port, System.nanoTime()));
    }

    /** As {@link #connect(StreamClient, int)} with a handler of the test's own (which passes events to a client). */
    public void connect(TcpHandler handler, int port) {
        a.doWork();
        assertEquals(NtStatus.STATUS_PENDING, a.tcp().connect(0, 0, b.config().address(), port, handler));
    }

    /** Runs until the echo client is done and checks that every one of {@code bytes} came back intact. */
    public void awaitEcho(StreamClient client, long bytes, long timeoutMs) {
        runUntil(client::done, timeoutMs, "echo done");
        assertEquals("STATUS_SUCCESS", NtStatus.name(client.status()), "mismatch at " + client.mismatchAt()
            + ", received " + client.received());
        assertEquals(bytes, client.received(), "every byte echoed and verified");
    }

    // ============================================================================================== close

    private void free(Port port) {
        for (int n; (n = port.receive(burst, 32)) > 0; ) {
            burst.freeAll(n);
        }
    }

    /** Frees every frame waiting in {@code port}'s receive ring. */
    public static void drain(Port port) {
        MbufArray burst = new MbufArray(32);
        for (int n; (n = port.receive(burst, 32)) > 0; ) {
            burst.freeAll(n);
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        int inUse = pool.inUseCount();
        for (Stack s : new Stack[] {a, b}) {
            if (s != null) {
                s.onClose();
                s.close();
            }
        }
        drain(pair.a());
        drain(pair.b());
        if (portA != pair.a()) {
            portA.close();
        }
        if (portB != pair.b()) {
            portB.close();
        }
        pair.close();
        assertEquals(0, pool.inUseCount(), "every mbuf returned (" + inUse + " in use before close)");
    }
}
