package io.fastpath.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.MbufArray;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.Port;
import io.fastpath.dpdk.RingPair;
import io.fastpath.examples.ndk.NdkEchoConnector;
import io.fastpath.examples.ndk.NdkEchoListener;
import io.fastpath.examples.tdi.TdiEchoClient;
import io.fastpath.examples.tdi.TdiEchoServer;
import io.fastpath.examples.wsk.WskEchoClient;
import io.fastpath.examples.wsk.WskEchoServer;
import io.fastpath.ndk.NdkAdapter;
import io.fastpath.ndk.NdkAdapterInfo;
import io.fastpath.stack.NtStatus;
import io.fastpath.stack.Stack;
import io.fastpath.stack.StackConfig;
import io.fastpath.stack.StackRunner;
import io.fastpath.stack.counters.DropReason;
import io.fastpath.stack.tcp.TcpConfig;
import io.fastpath.stack.wire.Ipv4Address;
import io.fastpath.tdi.Tdi;
import io.fastpath.tdi.TdiProvider;
import io.fastpath.wsk.SocketAddressV4;
import io.fastpath.wsk.WskProvider;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 11 item 2: a WSK provider, a TDI provider and an NDK adapter on one stack, each a TcpService client of
 * its own, serve three ports at once (WSK echo on 7, TDI echo on 8, NDK echo on 9); on the other stack a WSK
 * client, a TDI client and an NDK connector echo through them at the same time, each on an ephemeral port drawn
 * from that stack's one port table. Neither provider sees the other's connections: every byte comes back, in
 * order.
 */
class SharedStackTest {
    private static final int MIB = 1 << 20;

    @TempDir
    Path dir;

    @Test
    void wskTdiAndNdkShareOneStackServingThreePortsAtOnce_issue11_item2() {
        PktmbufPool pool = PktmbufPool.create("shared", 16383, 256, PktmbufPool.DEFAULT_DATA_ROOM);
        RingPair pair = RingPair.create("shared", 2048, pool, pool, EthDevPort.Config.defaults());
        TcpConfig tcp = TcpConfig.defaults().withTimeWait(TimeUnit.MILLISECONDS.toNanos(50));
        Stack a = new Stack(pair.a(), StackConfig.builder().name("shareda").address(Ipv4Address.parse("10.15.0.1"), 24)
            .tcp(tcp).countersFile(dir.resolve("a.counters")).build());
        Stack b = new Stack(pair.b(), StackConfig.builder().name("sharedb").address(Ipv4Address.parse("10.15.0.2"), 24)
            .tcp(tcp).countersFile(dir.resolve("b.counters")).build());
        StackRunner runnerA = StackRunner.start(a, StackRunner.backoff());
        StackRunner runnerB = StackRunner.start(b, StackRunner.backoff());
        List<Throwable> errors = new ArrayList<>();
        WskProvider wskA = WskProvider.register(a, errors::add);
        TdiProvider tdiA = TdiProvider.open(a, errors::add);
        WskProvider wskB = WskProvider.register(b, errors::add);
        TdiProvider tdiB = TdiProvider.open(b, errors::add);
        NdkAdapter ndkA = NdkAdapter.open(a, NdkAdapterInfo.defaults(), errors::add);
        NdkAdapter ndkB = NdkAdapter.open(b, NdkAdapterInfo.defaults(), errors::add);
        BooleanSupplier dispatchAll = () -> wskA.dispatch() + tdiA.dispatch() + ndkA.dispatch() + wskB.dispatch()
            + tdiB.dispatch() + ndkB.dispatch() > 0;
        try {
            WskEchoServer wskServer = new WskEchoServer(wskB);
            wskServer.start(7);
            TdiEchoServer tdiServer = new TdiEchoServer(tdiB);
            tdiServer.start(8);
            NdkEchoListener ndkServer = new NdkEchoListener(ndkB);
            ndkServer.start(9);
            runUntil(dispatchAll, errors, () -> wskServer.listening() && tdiServer.listening()
                && ndkServer.listenStatus != null, 5, "listening",
                () -> "wsk " + wskServer.listening() + " tdi " + tdiServer.listening() + " ndk "
                    + String.valueOf(ndkServer.listenStatus));
            assertEquals("STATUS_SUCCESS", String.valueOf(ndkServer.listenStatus));

            WskEchoClient wskClient = new WskEchoClient(wskA, new SocketAddressV4(b.address(), 7), MIB, 64 * 1024,
                2, 48 * 1024);
            // Both clients bind ephemeral ports: the providers draw them from the stack's one port table.
            TdiEchoClient tdiClient = new TdiEchoClient(tdiA, b.address(), 8, MIB, 64 * 1024);
            NdkEchoConnector ndkClient = new NdkEchoConnector(ndkA, ndkServer.address, 50, 3000, "shared");
            wskClient.start();
            tdiClient.start(Tdi.relativeTimeout(5000));
            ndkClient.start();
            runUntil(dispatchAll, errors, () -> wskClient.done() && tdiClient.done() && ndkClient.done()
                && wskServer.closed.get() == 1 && tdiServer.closed.get() == 1, 60, "three echoes",
                () -> "wsk client done " + wskClient.done() + " received " + wskClient.received + " failure "
                    + String.valueOf(wskClient.failure) + ", tdi client done " + tdiClient.done() + " received "
                    + tdiClient.received + " failure " + String.valueOf(tdiClient.failure) + ", servers closed "
                    + wskServer.closed.get() + "/" + tdiServer.closed.get() + ", ndk "
                    + String.valueOf(ndkClient.status) + " " + ndkClient.failure + " verified " + ndkClient.verified);

            assertEquals("STATUS_SUCCESS", String.valueOf(wskClient.failure));
            assertEquals(MIB, wskClient.received);
            assertEquals(-1, wskClient.mismatchAt, "every byte WSK echoed matches");
            assertEquals("STATUS_SUCCESS", String.valueOf(tdiClient.failure));
            assertEquals(MIB, tdiClient.received);
            assertEquals(-1, tdiClient.mismatchAt, "every byte TDI echoed matches");
            assertEquals(1, wskServer.accepted.get(), "WSK accepted its own port's connection only");
            assertEquals(1, tdiServer.accepted.get(), "TDI accepted its own port's connection only");
            assertEquals(MIB, wskServer.echoed.get());
            assertEquals(MIB, tdiServer.echoed.get());
            assertEquals(0, wskServer.failures.get());
            assertEquals(0, tdiServer.failures.get());
            assertEquals("STATUS_SUCCESS", String.valueOf(ndkClient.status), ndkClient.failure);
            assertEquals(50, ndkClient.verified, "every NDK echo verified");
            assertEquals(1, ndkServer.accepted.get(), "NDK accepted its own port's connection only");
            assertEquals(50, ndkServer.echoed.get());
            assertEquals(0, ndkServer.failures.get());
            for (Stack s : List.of(a, b)) {
                assertEquals(0, s.counters().drop(DropReason.TCP_EVENT_LOST).get(), "no event lost");
                assertEquals(0, s.counters().drop(DropReason.REQUEST_REFUSED).get(), "no request misrouted");
                assertEquals(0, s.counters().drop(DropReason.RELEASE_REFUSED).get(), "no release misrouted");
            }
        } finally {
            wskA.close();
            tdiA.close();
            ndkA.close();
            wskB.close();
            tdiB.close();
            ndkB.close();
            runnerA.close();
            runnerB.close();
            a.close();
            b.close();
            MbufArray burst = new MbufArray(32);
            for (Port port : List.of(pair.a(), pair.b())) {
                for (int n; (n = port.receive(burst, 32)) > 0; ) {
                    burst.freeAll(n);
                }
            }
            pair.close();
            int inUse = pool.inUseCount();
            pool.close();
            assertEquals(0, inUse, "every mbuf back in the pool");
        }
    }

    private static void runUntil(BooleanSupplier dispatch, List<Throwable> errors, BooleanSupplier done,
                                 long seconds, String what, java.util.function.Supplier<String> state) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(what + ": not done in " + seconds + " s (" + state.get() + "); errors "
                    + errors);
            }
            if (!dispatch.getAsBoolean()) {
                Thread.yield();
            }
        }
        if (!errors.isEmpty()) {
            throw new AssertionError("a routine or handler failed", errors.get(0));
        }
    }
}
