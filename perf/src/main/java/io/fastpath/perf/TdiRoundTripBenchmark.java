package io.fastpath.perf;

import io.fastpath.provider.NtStatus;
import io.fastpath.stack.Stack;
import io.fastpath.stack.wire.Ipv4Address;
import io.fastpath.tdi.IoCompletionRoutine;
import io.fastpath.tdi.Irp;
import io.fastpath.tdi.Tdi;
import io.fastpath.tdi.TdiAddress;
import io.fastpath.tdi.TdiBuild;
import io.fastpath.tdi.TdiConnection;
import io.fastpath.tdi.TdiConnectionInformation;
import io.fastpath.tdi.TdiEvents;
import io.fastpath.tdi.TdiProvider;
import io.fastpath.tdi.Tsdu;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import org.agrona.BufferUtil;
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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * A TDI round trip between two stacks on a ring pair, everything on the JMH thread (both stacks' duty cycles,
 * both providers' dispatch). One operation: TDI_SEND of {@code size} bytes on A; on B ClientEventChainedReceive
 * keeps the TSDU (STATUS_PENDING), sends every segment back with TDI_SEND straight from the mbufs and returns
 * the chain with TdiReturnChainedReceives after the last send; on A ClientEventChainedReceive consumes the echo
 * (STATUS_SUCCESS). {@link AllocationTracked} counts what this thread allocates, stacks included.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@State(Scope.Thread)
@Fork(value = 3, jvmArgsAppend = {
    "--enable-native-access=ALL-UNNAMED", "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED",
    "-Dagrona.disable.bounds.checks=true"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class TdiRoundTripBenchmark extends AllocationTracked {
    private static final int A_IP = Ipv4Address.parse("10.80.0.1");
    private static final int B_IP = Ipv4Address.parse("10.80.0.2");
    private static final int SLOTS = 512;

    @Param({"64", "16384"})
    int size;

    /**
     * How B's echo reads the chain: {@code address} through the raw {@code Tsdu.segmentAddress} (the zero-copy
     * hot path, no allocation), {@code segment} through the lifetime-checked {@code Tsdu.segment} (a shared
     * arena per kept chain, closed on return). Run the latter with {@code -p buffers=segment}.
     */
    @Param({"address"})
    String buffers;

    private StackPair stacks;
    private Stack a;
    private Stack b;
    private TdiProvider tdiA;
    private TdiProvider tdiB;
    private TdiConnection client;
    /** The send buffer: kept in a field, as the sends carry only its address (a GC would free it under them). */
    private ByteBuffer out;
    private long outAddress;
    private final Irp send = new Irp();
    private int sendFailures;
    private long got;
    private Echo echo;

    /** B: keeps each TSDU and echoes it segment by segment, returning it after the last send. */
    private static final class Echo implements TdiEvents.ClientEventChainedReceive {
        final TdiProvider tdi;
        final boolean segments;
        TdiConnection endpoint;
        final Slot[] free = new Slot[SLOTS];
        int freeCount;
        final Tsdu[][] chains = new Tsdu[SLOTS][1];
        final int[] outstanding = new int[SLOTS];
        int nextChain;
        int failures;

        final class Slot {
            final Irp irp = new Irp();
            int chain;
            final IoCompletionRoutine routine = (irp, context) -> sent(this);
        }

        Echo(TdiProvider tdi, boolean segments) {
            this.tdi = tdi;
            this.segments = segments;
            for (int i = 0; i < SLOTS; i++) {
                free[freeCount++] = new Slot();
            }
        }

        private void sent(Slot s) {
            if (s.irp.ioStatus().status() != NtStatus.STATUS_SUCCESS) {
                failures++;
            }
            free[freeCount++] = s;
            if (--outstanding[s.chain] == 0) {
                tdi.returnChainedReceives(chains[s.chain], 1);
                chains[s.chain][0] = null;
            }
        }

        @Override
        public NtStatus clientEventChainedReceive(Object ctx, Object cc, int flags, int length, int offset, Tsdu tsdu) {
            int c = nextChain;
            nextChain = (nextChain + 1) % SLOTS;
            if (chains[c][0] != null || freeCount < tsdu.segmentCount()) {
                failures++;
                return NtStatus.STATUS_DATA_NOT_ACCEPTED;
            }
            chains[c][0] = tsdu;
            outstanding[c] = 1; // held while the sends go out
            int skip = offset;
            for (int i = 0; i < tsdu.segmentCount(); i++) {
                int n = tsdu.segmentLength(i) - skip;
                long at = (segments ? tsdu.segment(i).address() : tsdu.segmentAddress(i)) + skip;
                skip = Math.max(0, skip - tsdu.segmentLength(i));
                if (n > 0) {
                    Slot s = free[--freeCount];
                    s.chain = c;
                    outstanding[c]++;
                    tdi.callDriver(TdiBuild.send(s.irp.reuse(), endpoint, s.routine, null, at, 0, n));
                }
            }
            if (--outstanding[c] == 0) {
                tdi.returnChainedReceives(chains[c], 1);
                chains[c][0] = null;
            }
            return NtStatus.STATUS_PENDING;
        }
    }

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        // This thread runs both stacks and both providers (their requests are direct calls).
        stacks = new StackPair("tdi", A_IP, B_IP, true);
        a = stacks.a;
        b = stacks.b;
        tdiA = TdiProvider.open(a);
        tdiB = TdiProvider.open(b);
        TdiAddress addressB = tdiB.openAddress(0, 5400);
        TdiAddress addressA = tdiA.openAddress(0, 0);
        echo = new Echo(tdiB, buffers.equals("segment"));
        echo.endpoint = endpoint(tdiB, addressB);
        call(tdiB, TdiBuild.setEventHandler(new Irp(), addressB, null, null, Tdi.TDI_EVENT_CHAINED_RECEIVE, echo,
            null), "event B");
        call(tdiA, TdiBuild.setEventHandler(new Irp(), addressA, null, null, Tdi.TDI_EVENT_CHAINED_RECEIVE,
            (TdiEvents.ClientEventChainedReceive) (ctx, cc, flags, length, offset, tsdu) -> {
                got += length;
                return NtStatus.STATUS_SUCCESS;
            }, null), "event A");
        client = endpoint(tdiA, addressA);
        Irp listen = TdiBuild.listen(new Irp(), echo.endpoint, null, null, 0, null, null);
        tdiB.callDriver(listen);
        for (int i = 0; i < 10_000; i++) {
            dispatch(); // B starts listening
        }
        Irp connect = TdiBuild.connect(new Irp(), client, null, null, 0, new TdiConnectionInformation(B_IP, 5400),
            null);
        tdiA.callDriver(connect);
        await(connect, "connect");
        await(listen, "listen");
        out = ByteBuffer.allocateDirect(size);
        outAddress = BufferUtil.address(out);
        for (int i = 0; i < 1000; i++) {
            roundTrip();
        }
    }

    private static TdiConnection endpoint(TdiProvider p, TdiAddress address) {
        TdiConnection c = p.openConnection(null);
        call(p, TdiBuild.associateAddress(new Irp(), c, null, null, address), "associate");
        return c;
    }

    private static void call(TdiProvider p, Irp irp, String what) {
        NtStatus s = p.callDriver(irp);
        if (s != NtStatus.STATUS_SUCCESS) {
            throw new IllegalStateException(what + ": " + s);
        }
    }

    @Benchmark
    public long roundTrip() {
        got = 0;
        tdiA.callDriver(TdiBuild.send(send.reuse(), client, null, null, outAddress, 0, size));
        while (got < size || !send.completed()) {
            dispatch();
        }
        if (send.ioStatus().status() != NtStatus.STATUS_SUCCESS || echo.failures != 0 || got != size) {
            throw new IllegalStateException("round trip failed: " + send.ioStatus() + ", echo failures "
                + echo.failures + ", got " + got);
        }
        return got;
    }

    /** Rounds run so far ({@code perf/scripts/RoundCount.java} reads it: rounds per round trip). */
    long rounds;

    private void dispatch() {
        rounds++;
        a.doWork();
        b.doWork();
        tdiA.dispatch();
        tdiB.dispatch();
    }

    private void await(Irp irp, String what) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!irp.completed()) {
            dispatch();
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException(what + " did not complete");
            }
        }
        if (irp.ioStatus().status() != NtStatus.STATUS_SUCCESS) {
            throw new IllegalStateException(what + ": " + irp.ioStatus());
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        tdiA.close();
        tdiB.close();
        stacks.close();
    }
}
