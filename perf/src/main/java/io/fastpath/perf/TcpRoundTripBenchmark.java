package io.fastpath.perf;

import io.fastpath.stack.NtStatus;
import io.fastpath.stack.Stack;
import io.fastpath.stack.app.EchoServer;
import io.fastpath.stack.counters.Budget;
import io.fastpath.stack.tcp.TcpConnection;
import io.fastpath.stack.tcp.TcpHandler;
import io.fastpath.stack.wire.Ipv4Address;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
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
 * The raw TCP round trip the API benchmarks ({@link WskRoundTripBenchmark}, {@link TdiRoundTripBenchmark},
 * {@link NdkRoundTripBenchmark}) are compared with: the same two stacks on a ring pair, everything on the JMH
 * thread, but the application is a {@link TcpHandler} on each side ({@link EchoServer} on B). One operation:
 * {@code TcpConnection.send} of {@code size} bytes on A, B's echo, A's {@code onReceive} until all
 * {@code size} bytes are back. {@link AllocationTracked} counts what this thread allocates, stacks included.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@State(Scope.Thread)
@Fork(value = 3, jvmArgsAppend = {
    "--enable-native-access=ALL-UNNAMED", "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED",
    "-Dagrona.disable.bounds.checks=true"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class TcpRoundTripBenchmark extends AllocationTracked {
    private static final int A_IP = Ipv4Address.parse("10.81.0.1");
    private static final int B_IP = Ipv4Address.parse("10.81.0.2");

    @Param({"64", "16384"})
    int size;

    private StackPair stacks;
    private Stack a;
    private Stack b;
    private UnsafeBuffer message;
    private final Client client = new Client();

    /** A's application: counts the echo back. */
    private static final class Client implements TcpHandler {
        TcpConnection connection;
        int status = -1;
        long received;

        @Override
        public void onConnectComplete(TcpConnection c, int s) {
            status = s;
            if (s == NtStatus.STATUS_SUCCESS) {
                connection = c;
                c.noDelay(true);
            }
        }

        @Override
        public int onReceive(TcpConnection c, long address, int length) {
            received += length;
            return length;
        }
    }

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        // This thread runs both stacks.
        stacks = new StackPair("tcp", A_IP, B_IP, false);
        a = stacks.a;
        b = stacks.b;
        message = new UnsafeBuffer(ByteBuffer.allocateDirect(size));
        for (int i = 0; i < size; i++) {
            message.putByte(i, (byte) i);
        }
        EchoServer echo = new EchoServer();
        expect(echo.listen(b.tcp(), 7), NtStatus.STATUS_SUCCESS, "listen");
        expect(a.tcp().connect(0, 0, B_IP, 7, client), NtStatus.STATUS_PENDING, "connect");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (client.status == -1) {
            a.doWork();
            b.doWork();
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("connect did not complete");
            }
        }
        expect(client.status, NtStatus.STATUS_SUCCESS, "connect");
        for (int i = 0; i < 1000; i++) {
            roundTrip();
        }
    }

    /** Rounds (both stacks' duty cycles) run so far ({@code perf/scripts/RoundCount.java}). */
    long rounds;

    @Benchmark
    public long roundTrip() {
        long target = client.received + size;
        int sent = 0;
        while (sent < size) {
            int n = client.connection.send(message, sent, size - sent);
            if (n < 0) {
                throw new IllegalStateException("send failed: " + n);
            }
            sent += n;
            if (sent < size) {
                rounds++;
                a.doWork();
                b.doWork();
            }
        }
        while (client.received < target) {
            rounds++;
            a.doWork();
            b.doWork();
        }
        if (client.received != target) {
            throw new IllegalStateException("echo came back with " + (client.received - target) + " extra bytes");
        }
        return client.received;
    }

    private static void expect(int status, int wanted, String what) {
        if (status != wanted) {
            throw new IllegalStateException(what + ": " + NtStatus.name(status));
        }
    }

    /** With {@code -Dfastpath.budget=true}: the stage timestamps restart each iteration (warm-up excluded). */
    @Setup(Level.Iteration)
    public void resetBudget() {
        if (Budget.ENABLED) {
            a.budget().reset();
            b.budget().reset();
        }
    }

    /** With {@code -Dfastpath.budget=true}: B's stages in the last iteration (A sends outside its cycles). */
    @TearDown(Level.Trial)
    public void printBudget() {
        if (Budget.ENABLED) {
            b.budget().print(System.out, "TcpRoundTripBenchmark size " + size + " B (echo side)");
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        stacks.close();
    }
}
