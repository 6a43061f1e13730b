package io.fastpath.perf;

import io.fastpath.ndk.NdkAdapter;
import io.fastpath.ndk.NdkAdapterInfo;
import io.fastpath.ndk.NdkConnector;
import io.fastpath.ndk.NdkListener;
import io.fastpath.ndk.NdkQp;
import io.fastpath.ndk.NdkQpHandler;
import io.fastpath.provider.NtStatus;
import io.fastpath.ndk.SockAddrIn;
import io.fastpath.stack.Stack;
import io.fastpath.stack.wire.Ipv4Address;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.agrona.concurrent.UnsafeBuffer;
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
 * An NDK message round trip between two stacks on a ring pair after the MPA v2 connection sequence
 * (connect → connect event → accept → complete connect), everything on the JMH thread: both stacks' duty
 * cycles and both adapters' dispatch. One operation: the connector's QP sends {@code size} bytes (an MPA
 * FPDU), the listener's QP receives it and sends it back, the connector's posted receive completes.
 * {@link AllocationTracked} counts what this thread allocates, stacks included.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@State(Scope.Thread)
@Fork(value = 3, jvmArgsAppend = {
    "--enable-native-access=ALL-UNNAMED", "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED",
    "-Dagrona.disable.bounds.checks=true"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class NdkRoundTripBenchmark extends AllocationTracked {
    private static final int A_IP = Ipv4Address.parse("10.79.0.1");
    private static final int B_IP = Ipv4Address.parse("10.79.0.2");

    @Param({"64", "16384"})
    int size;

    private StackPair stacks;
    private Stack a;
    private Stack b;
    private NdkAdapter ndkA;
    private NdkAdapter ndkB;
    private NdkQp client;
    private NdkQp server;
    private NdkConnector connector;
    private NdkConnector accepted;
    private UnsafeBuffer out;
    private UnsafeBuffer in;
    private UnsafeBuffer echoBuffer;
    private int received = -1;
    private int failures;
    private final NtStatus[] status = new NtStatus[3];

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        // This thread runs both stacks and both providers (their requests are direct calls).
        stacks = new StackPair("ndk", A_IP, B_IP, true);
        a = stacks.a;
        b = stacks.b;
        ndkA = NdkAdapter.open(a, NdkAdapterInfo.defaults());
        ndkB = NdkAdapter.open(b, NdkAdapterInfo.defaults());
        out = new UnsafeBuffer(ByteBuffer.allocateDirect(size));
        in = new UnsafeBuffer(ByteBuffer.allocateDirect(size));
        echoBuffer = new UnsafeBuffer(ByteBuffer.allocateDirect(size));
        for (int i = 0; i < size; i++) {
            out.putByte(i, (byte) i);
        }
        client = ndkA.createQp(new NdkQpHandler() {
            @Override
            public void onReceiveComplete(Object requestContext, NtStatus s, int bytes) {
                received = s == NtStatus.STATUS_SUCCESS ? bytes : -2;
            }

            @Override
            public void onSendComplete(Object requestContext, NtStatus s, int bytes) {
                failures += s == NtStatus.STATUS_SUCCESS ? 0 : 1;
            }
        });
        server = ndkB.createQp(new NdkQpHandler() {
            @Override
            public void onReceiveComplete(Object requestContext, NtStatus s, int bytes) {
                if (s != NtStatus.STATUS_SUCCESS || server.send(echoBuffer.addressOffset(), bytes, null)
                    != NtStatus.STATUS_SUCCESS) {
                    failures++;
                }
                server.postReceive(echoBuffer.addressOffset(), size, null); // the send copied the message
            }

            @Override
            public void onSendComplete(Object requestContext, NtStatus s, int bytes) {
                failures += s == NtStatus.STATUS_SUCCESS ? 0 : 1;
            }
        });
        server.postReceive(echoBuffer.addressOffset(), size, null);
        NdkListener listener = ndkB.createListener((ctx, c) -> {
            accepted = c;
            c.accept(server, 1, 1, null, 0, null, null, (x, s) -> status[2] = s, null);
        }, null);
        listener.listen(new SockAddrIn(0, 7), (x, s) -> status[0] = s, null);
        await(() -> status[0] != null, "listen");
        connector = ndkA.createConnector();
        connector.connect(client, null, new SockAddrIn(B_IP, 7), 1, 1, null, 0, (x, s) -> status[1] = s, null);
        await(() -> status[1] != null, "connect");
        check(status[1], "connect");
        status[1] = null;
        connector.completeConnect(null, null, (x, s) -> status[1] = s, null);
        await(() -> status[1] != null && status[2] != null, "complete connect and accept");
        check(status[1], "complete connect");
        check(status[2], "accept");
        for (int i = 0; i < 1000; i++) {
            roundTrip();
        }
    }

    @Benchmark
    public int roundTrip() {
        received = -1;
        client.postReceive(in.addressOffset(), size, null);
        client.send(out.addressOffset(), size, null);
        while (received == -1) {
            dispatch();
        }
        if (received != size || failures != 0) {
            throw new IllegalStateException("round trip failed: " + received + " bytes, " + failures + " failures");
        }
        return received;
    }

    /** One round of everything: both stacks' duty cycles and both adapters' dispatch, on this thread. */
    /** Rounds run so far ({@code perf/scripts/RoundCount.java} reads it: rounds per round trip). */
    long rounds;

    private void dispatch() {
        rounds++;
        a.doWork();
        b.doWork();
        ndkA.dispatch();
        ndkB.dispatch();
    }

    private void await(BooleanSupplier done, String what) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!done.getAsBoolean()) {
            dispatch();
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException(what + " did not complete");
            }
        }
    }

    private static void check(NtStatus s, String what) {
        if (s != NtStatus.STATUS_SUCCESS) {
            throw new IllegalStateException(what + ": " + s);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        ndkA.close();
        ndkB.close();
        stacks.close();
    }
}
