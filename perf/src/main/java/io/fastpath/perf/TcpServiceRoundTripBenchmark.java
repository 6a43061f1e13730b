package io.fastpath.perf;

import io.fastpath.stack.NtStatus;
import io.fastpath.stack.Stack;
import io.fastpath.stack.tcp.DirectEventTaker;
import io.fastpath.stack.tcp.TcpEventHandler;
import io.fastpath.stack.tcp.TcpServiceClient;
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
 * The layer between {@link TcpRoundTripBenchmark} (a {@code TcpHandler} inside the duty cycle) and the API round
 * trips ({@link WskRoundTripBenchmark} and the others): the same two stacks on a ring pair, everything on the JMH
 * thread, but each side is a {@link TcpServiceClient}, as the WSK, TDI and NDK providers are, with no provider
 * above it. Both stacks are bound to this thread, so requests are direct calls and events are kept and delivered
 * by direct call right after each duty cycle ({@link DirectEventTaker}), as for a provider on its stack's poll
 * thread; each round ends with both sides reading their event rings (accepts take the ring; in steady state the
 * read finds nothing, as a provider's idle round does). One operation: A's {@code send} of {@code size} bytes; B's {@code onReceive} sends every descriptor back
 * straight from its mbuf and releases it when that send completes; A's {@code onReceive} counts the bytes and
 * releases each descriptor at once. The difference to the raw benchmark is the protocol's cost (handles, send
 * queue, send completions, descriptors held and released, events kept and delivered); the difference to an API
 * benchmark is the provider's (docs/perf/apis.md).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@State(Scope.Thread)
@Fork(value = 3, jvmArgsAppend = {
    "--enable-native-access=ALL-UNNAMED", "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED",
    "-Dagrona.disable.bounds.checks=true"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class TcpServiceRoundTripBenchmark extends AllocationTracked {
    private static final int A_IP = Ipv4Address.parse("10.82.0.1");
    private static final int B_IP = Ipv4Address.parse("10.82.0.2");
    private static final int PORT = 7;
    /** Descriptors B may have in flight (sends not yet complete): far more than a 16 KiB round trip holds. */
    private static final int IN_FLIGHT = 256;

    @Param({"64", "16384"})
    int size;

    private StackPair stacks;
    private Stack a;
    private Stack b;
    private UnsafeBuffer message;
    private Side client;
    private Side server;
    /** Rounds (both stacks' duty cycles) run so far ({@code perf/scripts/RoundCount.java}). */
    long rounds;

    /** One side's application: a client of its stack's TcpService, taking its events by direct call. */
    private static final class Side implements TcpEventHandler, DirectEventTaker {
        final TcpServiceClient tcp;
        final boolean echo;
        long connection;
        int connectStatus = -1;
        long received;
        int failures;
        // echo side: the descriptor of each send in flight, by request id (ids are issued in order)
        final long[] mbufs = new long[IN_FLIGHT];
        final int[] lengths = new int[IN_FLIGHT];
        long nextRequest;
        long oldestRequest;

        Side(TcpServiceClient tcp, boolean echo) {
            this.tcp = tcp;
            this.echo = echo;
        }

        @Override
        public boolean eventsOnThisThread() {
            return true;
        }

        @Override
        public void takeDirectEvents() {
            tcp.pollEvents(this);
        }

        @Override
        public void onConnectComplete(long requestId, long handle, int status) {
            connectStatus = status;
            connection = handle;
        }

        @Override
        public void onAccepted(int listenPort, long handle, int remoteIp, int remotePort) {
            connection = handle;
            connectStatus = NtStatus.STATUS_SUCCESS;
        }

        @Override
        public void onReceive(long handle, long mbuf, long address, int length) {
            received += length;
            if (!echo) {
                if (!tcp.release(handle, mbuf, length)) {
                    failures++;
                }
                return;
            }
            if (nextRequest - oldestRequest == IN_FLIGHT) {
                failures++;
                tcp.release(handle, mbuf, length);
                return;
            }
            int at = (int) (nextRequest % IN_FLIGHT);
            mbufs[at] = mbuf;
            lengths[at] = length;
            if (!tcp.send(handle, nextRequest++, address, length)) {
                failures++;
            }
        }

        @Override
        public void onSendComplete(long requestId, long handle, int bytes, int status) {
            if (status != NtStatus.STATUS_SUCCESS) {
                failures++;
            }
            if (echo) {
                if (requestId != oldestRequest) {
                    failures++;
                }
                int at = (int) (oldestRequest++ % IN_FLIGHT);
                if (!tcp.release(handle, mbufs[at], lengths[at])) {
                    failures++;
                }
            }
        }

        @Override
        public void onPeerClosed(long handle) {
        }

        @Override
        public void onClosed(long handle, int status) {
        }
    }

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        // This thread runs both stacks.
        stacks = new StackPair("svc", A_IP, B_IP, true);
        a = stacks.a;
        b = stacks.b;
        client = new Side(a.tcpService().newClient(), false);
        server = new Side(b.tcpService().newClient(), true);
        client.tcp.directEvents(client);
        server.tcp.directEvents(server);
        message = new UnsafeBuffer(ByteBuffer.allocateDirect(size));
        for (int i = 0; i < size; i++) {
            message.putByte(i, (byte) i);
        }
        expect(server.tcp.listen(PORT), "listen");
        round();
        expect(client.tcp.connect(1, B_IP, PORT, 0), "connect");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (client.connectStatus == -1 || server.connectStatus == -1) {
            round();
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("connect did not complete");
            }
        }
        if (client.connectStatus != NtStatus.STATUS_SUCCESS) {
            throw new IllegalStateException("connect: " + NtStatus.name(client.connectStatus));
        }
        expect(client.tcp.noDelay(client.connection, true), "no delay");
        expect(server.tcp.noDelay(server.connection, true), "no delay");
        for (int i = 0; i < 1000; i++) {
            roundTrip();
        }
    }

    /** One round: both stacks' duty cycles, then each side reads what its ring holds (the idle read a provider's round makes). */
    private void round() {
        rounds++;
        a.doWork();
        b.doWork();
        client.tcp.pollEvents(client);
        server.tcp.pollEvents(server);
    }

    @Benchmark
    public long roundTrip() {
        long target = client.received + size;
        if (!client.tcp.send(client.connection, client.nextRequest++, message.addressOffset(), size)) {
            throw new IllegalStateException("send refused");
        }
        while (client.received < target) {
            round();
            if (server.failures != 0 || client.failures != 0) {
                break; // a refused send or release: reported below instead of waiting for bytes that never come
            }
        }
        if (client.received != target || client.failures != 0 || server.failures != 0) {
            throw new IllegalStateException("round trip failed: " + (client.received - target) + " extra bytes, "
                + client.failures + " client and " + server.failures + " server failures");
        }
        return client.received;
    }

    private static void expect(boolean ok, String what) {
        if (!ok) {
            throw new IllegalStateException(what + " refused");
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        client.tcp.close();
        server.tcp.close();
        stacks.close();
    }
}
