package io.fastpath.perf;

import static io.fastpath.wsk.Wsk.AF_INET;
import static io.fastpath.wsk.Wsk.IPPROTO_TCP;
import static io.fastpath.wsk.Wsk.SOCK_STREAM;
import static io.fastpath.wsk.Wsk.SOL_SOCKET;
import static io.fastpath.wsk.Wsk.SO_WSK_EVENT_CALLBACK;
import static io.fastpath.wsk.Wsk.TCP_NODELAY;
import static io.fastpath.wsk.Wsk.WSK_EVENT_ACCEPT;
import static io.fastpath.wsk.Wsk.WSK_EVENT_RECEIVE;
import static io.fastpath.wsk.Wsk.WSK_FLAG_CONNECTION_SOCKET;
import static io.fastpath.wsk.Wsk.WSK_FLAG_LISTEN_SOCKET;
import static io.fastpath.wsk.Wsk.WSK_FLAG_WAITALL;
import static io.fastpath.wsk.Wsk.WskSetOption;

import io.fastpath.provider.NtStatus;
import io.fastpath.stack.Stack;
import io.fastpath.stack.wire.Ipv4Address;
import io.fastpath.wsk.Irp;
import io.fastpath.wsk.SocketAddressV4;
import io.fastpath.wsk.WskBuf;
import io.fastpath.wsk.WskClientConnectionDispatch;
import io.fastpath.wsk.WskClientListenDispatch;
import io.fastpath.wsk.WskDataIndication;
import io.fastpath.wsk.WskProvider;
import io.fastpath.wsk.WskSocket;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import io.fastpath.provider.SizeT;
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
 * A WSK round trip between two stacks on a ring pair, everything on the JMH thread: both stacks' duty cycles
 * (invoker mode) and both WSK providers' dispatch, so the score is the CPU cost of the whole path with no
 * thread hand-off (requests are direct calls into TcpService, events still cross its rings). One operation: the client's WskSend of {@code size} bytes; the
 * server's WskReceiveEvent keeps the chain (STATUS_PENDING) and sends every link back with WskSend straight
 * from the mbuf; each send's completion, at the last link, returns the chain with WskRelease; the client's
 * WskReceive (WAITALL) completes with all {@code size} bytes.
 *
 * <p>Allocation: {@link AllocationTracked} counts every byte this thread allocates, stacks included.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@State(Scope.Thread)
@Fork(value = 3, jvmArgsAppend = {
    "--enable-native-access=ALL-UNNAMED", "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED",
    "-Dagrona.disable.bounds.checks=true"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class WskRoundTripBenchmark extends AllocationTracked {
    private static final int A_IP = Ipv4Address.parse("10.78.0.1");
    private static final int B_IP = Ipv4Address.parse("10.78.0.2");
    private static final int LINKS = 256;

    @Param({"64", "16384"})
    int size;

    private StackPair stacks;
    private Stack a;
    private Stack b;
    private WskProvider wskA;
    private WskProvider wskB;
    private WskSocket client;
    private WskSocket server;
    private ByteBuffer out;
    private ByteBuffer in;
    private final WskBuf outBuf = new WskBuf();
    private final WskBuf inBuf = new WskBuf();
    private final Irp send = new Irp();
    private final Irp receive = new Irp();
    private final Echo echo = new Echo();

    /** The server side: receive events kept and echoed link by link, released after the last send. */
    private final class Echo implements WskClientListenDispatch, WskClientConnectionDispatch {
        final Irp[] irps = new Irp[LINKS];
        int free;
        final WskBuf buf = new WskBuf();
        // chains in flight, oldest first (sends complete in order): head link and sends outstanding
        final WskDataIndication[] chains = new WskDataIndication[LINKS];
        final int[] sends = new int[LINKS];
        int first;
        int count;
        int failures;

        Echo() {
            for (int i = 0; i < LINKS; i++) {
                irps[i] = new Irp().setCompletionRoutine((irp, ctx) -> sent(irp), null);
            }
            free = LINKS;
        }

        @Override
        public NtStatus wskAcceptEvent(Object socketContext, int flags, SocketAddressV4 localAddress,
                                  SocketAddressV4 remoteAddress, WskSocket acceptSocket) {
            server = acceptSocket;
            return NtStatus.STATUS_SUCCESS;
        }

        @Override
        public NtStatus wskReceiveEvent(Object socketContext, int flags, WskDataIndication chain, long bytesIndicated,
                                   SizeT bytesAccepted) {
            int links = 0;
            for (WskDataIndication d = chain; d != null; d = d.next()) {
                links++;
            }
            if (chain == null || links > free || count == LINKS) {
                failures++;
                return io.fastpath.provider.NtStatus.STATUS_DATA_NOT_ACCEPTED;
            }
            int at = (first + count++) % LINKS;
            chains[at] = chain;
            sends[at] = links;
            for (WskDataIndication d = chain; d != null; d = d.next()) {
                WskBuf b = d.buffer();
                server.send(buf.set(b.address(), b.offset(), b.length()), 0, irps[--free].reuse());
            }
            return NtStatus.STATUS_PENDING;
        }

        private void sent(Irp irp) {
            irps[free++] = irp;
            if (irp.ioStatus().status() != NtStatus.STATUS_SUCCESS) {
                failures++;
            }
            if (--sends[first] == 0) {
                server.release(chains[first]);
                chains[first] = null;
                first = (first + 1) % LINKS;
                count--;
            }
        }
    }

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        // This thread runs both stacks and both providers (their requests are direct calls).
        stacks = new StackPair("wsk", A_IP, B_IP, true);
        a = stacks.a;
        b = stacks.b;
        wskA = WskProvider.register(a);
        wskB = WskProvider.register(b);
        out = ByteBuffer.allocateDirect(size);
        in = ByteBuffer.allocateDirect(size);
        for (int i = 0; i < size; i++) {
            out.put(i, (byte) i);
        }
        Irp call = new Irp();
        expect(wskB.socket(AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, null, echo, call),
            NtStatus.STATUS_SUCCESS, "listen socket");
        WskSocket listener = (WskSocket) call.ioStatus().informationObject();
        expect(listener.controlSocket(WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET,
            WSK_EVENT_ACCEPT | WSK_EVENT_RECEIVE, null), NtStatus.STATUS_SUCCESS, "events");
        expect(listener.controlSocket(WskSetOption, TCP_NODELAY, IPPROTO_TCP, 1, null), NtStatus.STATUS_SUCCESS,
            "nodelay");
        listener.bind(new SocketAddressV4(0, 7), call.reuse());
        await(call, "listen");
        expect(wskA.socket(AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, null, null, call.reuse()),
            NtStatus.STATUS_SUCCESS, "client socket");
        client = (WskSocket) call.ioStatus().informationObject();
        expect(client.controlSocket(WskSetOption, TCP_NODELAY, IPPROTO_TCP, 1, null), NtStatus.STATUS_SUCCESS,
            "nodelay");
        expect(client.bind(SocketAddressV4.ANY, call.reuse()), NtStatus.STATUS_SUCCESS, "bind");
        client.connect(new SocketAddressV4(B_IP, 7), call.reuse());
        await(call, "connect");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (server == null) {
            dispatch();
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("accept event did not come");
            }
        }
        for (int i = 0; i < 1000; i++) {
            roundTrip();
        }
    }

    @Benchmark
    public long roundTrip() {
        client.receive(inBuf.set(in, 0, size), WSK_FLAG_WAITALL, receive.reuse());
        client.send(outBuf.set(out, 0, size), 0, send.reuse());
        while (!receive.completed() || !send.completed()) {
            dispatch();
        }
        if (receive.ioStatus().status() != NtStatus.STATUS_SUCCESS || receive.ioStatus().information() != size
            || echo.failures != 0) {
            throw new IllegalStateException("round trip failed: " + receive.ioStatus() + ", echo failures "
                + echo.failures);
        }
        return receive.ioStatus().information();
    }

    /** One round of everything: both stacks' duty cycles and both providers' dispatch, on this thread. */
    /** Rounds run so far ({@code perf/scripts/RoundCount.java} reads it: rounds per round trip). */
    long rounds;

    private void dispatch() {
        rounds++;
        a.doWork();
        b.doWork();
        wskA.dispatch();
        wskB.dispatch();
    }

    private void await(Irp irp, String what) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!irp.completed()) {
            dispatch();
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException(what + " did not complete");
            }
        }
        expect(irp.ioStatus().status(), NtStatus.STATUS_SUCCESS, what);
    }

    private static void expect(NtStatus status, NtStatus wanted, String what) {
        if (status != wanted) {
            throw new IllegalStateException(what + ": " + status);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        wskA.close();
        wskB.close();
        stacks.close();
    }
}
