package io.fastpath.tdi;

import io.fastpath.provider.NtStatus;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.MbufArray;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.Port;
import io.fastpath.dpdk.RingPair;
import io.fastpath.stack.Stack;
import io.fastpath.stack.StackConfig;
import io.fastpath.stack.StackRunner;
import io.fastpath.stack.tcp.TcpConfig;
import io.fastpath.stack.wire.Ipv4Address;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.agrona.BufferUtil;
import org.agrona.concurrent.Agent;

/**
 * Two stacks, A (10.13.0.1) and B (10.13.0.2), joined by a DPDK ring pair, each on its own StackRunner poll
 * thread, with a TDI provider each; the test thread is both providers' dispatch thread (invoker mode). Closing
 * checks that every mbuf came back to the pool.
 */
final class TdiRig implements AutoCloseable {
    static final int A_IP = Ipv4Address.parse("10.13.0.1");
    static final int B_IP = Ipv4Address.parse("10.13.0.2");
    private static final AtomicInteger SEQUENCE = new AtomicInteger();

    final PktmbufPool pool;
    final RingPair pair;
    final Stack a;
    final Stack b;
    final StackRunner runnerA;
    final StackRunner runnerB;
    final TdiProvider tdiA;
    final TdiProvider tdiB;
    final List<Throwable> errors = new ArrayList<>();
    private boolean closed;

    TdiRig(Path dir) {
        this(dir, TcpConfig.defaults().withTimeWait(TimeUnit.MILLISECONDS.toNanos(50)));
    }

    TdiRig(Path dir, TcpConfig tcp) {
        this(dir, tcp, new Agent[0]);
    }

    /** With {@code alongsideA} run on A's poll thread after the stack's work (e.g. a gate that stalls it). */
    TdiRig(Path dir, TcpConfig tcp, Agent... alongsideA) {
        this(dir, tcp, tcp, alongsideA);
    }

    /** A and B with TCP configurations of their own. */
    TdiRig(Path dir, TcpConfig tcpA, TcpConfig tcpB, Agent... alongsideA) {
        this(dir, tcpA, tcpB, 0, alongsideA);
    }

    /** With a TCP memory limit of {@code tcpMemoryMbufs} per stack (0: the pool less the reserve). */
    TdiRig(Path dir, TcpConfig tcpA, TcpConfig tcpB, int tcpMemoryMbufs, Agent... alongsideA) {
        int n = SEQUENCE.incrementAndGet();
        pool = PktmbufPool.create("tdi" + n, 16383, 256, PktmbufPool.DEFAULT_DATA_ROOM);
        pair = RingPair.create("tdi" + n, 2048, pool, pool, EthDevPort.Config.defaults());
        a = stack(pair.a(), dir, "tdia" + n, A_IP, tcpA, tcpMemoryMbufs);
        b = stack(pair.b(), dir, "tdib" + n, B_IP, tcpB, tcpMemoryMbufs);
        runnerA = StackRunner.start(a, StackRunner.backoff(), alongsideA);
        runnerB = StackRunner.start(b, StackRunner.backoff());
        tdiA = TdiProvider.open(a, errors::add);
        tdiB = TdiProvider.open(b, errors::add);
    }

    private static Stack stack(Port port, Path dir, String name, int ip, TcpConfig tcp, int tcpMemoryMbufs) {
        return new Stack(port, StackConfig.builder().name(name).address(ip, 24).tcp(tcp)
            .tcpMemory(tcpMemoryMbufs, 1024).countersFile(dir.resolve(name + ".counters")).build());
    }

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
        if (tdiA.onDispatchThread()) {
            work += tdiA.dispatch();
        }
        if (tdiB.onDispatchThread()) {
            work += tdiB.dispatch();
        }
        return work;
    }

    void assertNoErrors() {
        if (!errors.isEmpty()) {
            AssertionError e = new AssertionError("a completion routine or handler failed: " + errors.get(0));
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
        try {
            tdiA.close();
            tdiB.close();
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

    // ------------------------------------------------------------------ helpers for the tests

    static ByteBuffer direct(String text) {
        byte[] bytes = text.getBytes(StandardCharsets.US_ASCII);
        ByteBuffer b = ByteBuffer.allocateDirect(Math.max(1, bytes.length));
        b.put(bytes).flip();
        return b;
    }

    /** The buffer's native address: keep {@code b} reachable until the stack is done with it. */
    static long addressOf(ByteBuffer b) {
        return BufferUtil.address(b);
    }

    static String text(ByteBuffer b, int length) {
        byte[] bytes = new byte[length];
        b.duplicate().clear().get(bytes, 0, length);
        return new String(bytes, StandardCharsets.US_ASCII);
    }

    /** Opens an endpoint and associates it with {@code address} (inline, on the dispatch thread). */
    static TdiConnection endpoint(TdiProvider p, TdiAddress address, Object context) {
        TdiConnection c = p.openConnection(context);
        Req r = new Req();
        TdiBuild.associateAddress(r.irp, c, r.routine, null, address);
        r.call(p);
        r.assertInline(NtStatus.STATUS_SUCCESS);
        return c;
    }

    static Req setEvent(TdiProvider p, TdiAddress address, int type, Object handler, Object context) {
        Req r = new Req();
        TdiBuild.setEventHandler(r.irp, address, r.routine, null, type, handler, context);
        r.call(p);
        return r;
    }

    static Req listen(TdiProvider p, TdiConnection c, int flags, TdiConnectionInformation returned) {
        Req r = new Req();
        TdiBuild.listen(r.irp, c, r.routine, null, flags, null, returned);
        r.call(p);
        return r;
    }

    static Req connect(TdiProvider p, TdiConnection c, int ip, int port, long timeout,
                       TdiConnectionInformation returned) {
        Req r = new Req();
        TdiBuild.connect(r.irp, c, r.routine, null, timeout, new TdiConnectionInformation(ip, port), returned);
        r.call(p);
        return r;
    }

    static Req send(TdiProvider p, TdiConnection c, ByteBuffer data, int flags) {
        Req r = new Req();
        r.memory = data;
        TdiBuild.send(r.irp, c, r.routine, null, addressOf(data), flags, data.remaining());
        r.call(p);
        return r;
    }

    static Req receive(TdiProvider p, TdiConnection c, ByteBuffer into, int flags) {
        Req r = new Req();
        r.memory = into;
        TdiBuild.receive(r.irp, c, r.routine, null, addressOf(into), flags, into.capacity());
        r.call(p);
        return r;
    }

    static Req disconnect(TdiProvider p, TdiConnection c, int flags, long timeout) {
        Req r = new Req();
        TdiBuild.disconnect(r.irp, c, r.routine, null, timeout, flags, null, null);
        r.call(p);
        return r;
    }
}
