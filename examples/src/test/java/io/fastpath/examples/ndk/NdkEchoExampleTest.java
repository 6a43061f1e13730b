package io.fastpath.examples.ndk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.MbufArray;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.Port;
import io.fastpath.dpdk.RingPair;
import io.fastpath.ndk.NdkAdapter;
import io.fastpath.ndk.NdkAdapterInfo;
import io.fastpath.provider.NtStatus;
import io.fastpath.stack.Stack;
import io.fastpath.stack.StackConfig;
import io.fastpath.stack.StackRunner;
import io.fastpath.stack.tcp.TcpConfig;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The NDK example pair over two fastpath stacks on a DPDK ring pair: the listener's adapter runs its own
 * dispatcher thread (started through {@code execute}), the connector's is driven by the test thread.
 */
class NdkEchoExampleTest {
    @TempDir
    Path dir;

    @Test
    void connectorAndListenerCompleteTheSequenceAndEchoMessages() {
        PktmbufPool pool = PktmbufPool.create("ndkex", 16383, 256, PktmbufPool.DEFAULT_DATA_ROOM);
        RingPair pair = RingPair.create("ndkex", 2048, pool, pool, EthDevPort.Config.defaults());
        TcpConfig tcp = TcpConfig.defaults().withTimeWait(TimeUnit.MILLISECONDS.toNanos(50));
        Stack a = new Stack(pair.a(), StackConfig.builder().name("ndkexa").cidr("10.15.0.1/24").tcp(tcp)
            .countersFile(dir.resolve("a.counters")).build());
        Stack b = new Stack(pair.b(), StackConfig.builder().name("ndkexb").cidr("10.15.0.2/24").tcp(tcp)
            .countersFile(dir.resolve("b.counters")).build());
        StackRunner ra = StackRunner.start(a, StackRunner.backoff());
        StackRunner rb = StackRunner.start(b, StackRunner.backoff());
        NdkAdapter connectorSide = NdkAdapter.open(a, NdkAdapterInfo.defaults());
        NdkAdapter listenerSide = NdkAdapter.open(b, NdkAdapterInfo.defaults());
        try {
            listenerSide.startDispatcherThread();
            NdkEchoListener listener = new NdkEchoListener(listenerSide);
            assertTrue(listenerSide.execute(() -> listener.start(0)));
            until(connectorSide, () -> listener.listenStatus != null, "listen");
            assertEquals(NtStatus.STATUS_SUCCESS, listener.listenStatus);
            for (int round = 0; round < 3; round++) {
                NdkEchoConnector connector = new NdkEchoConnector(connectorSide, listener.address, 50, 3000 + round,
                    "connector " + round);
                connector.start();
                until(connectorSide, connector::done, "echo round " + round);
                assertEquals("STATUS_SUCCESS", String.valueOf(connector.status), connector.failure);
                assertEquals(50, connector.verified);
                assertEquals("welcome, connector " + round, connector.peerPrivateData);
                assertEquals(2, connector.inboundReadLimit, "min(8, listener's outbound 2)");
                assertEquals(2, connector.outboundReadLimit, "min(8, listener's inbound 2)");
            }
            until(connectorSide, () -> listener.disconnected.get() == 3, "listener disconnects");
            assertEquals(3, listener.accepted.get());
            assertEquals(150, listener.echoed.get());
            assertEquals(0, listener.failures.get());
        } finally {
            connectorSide.close();
            listenerSide.close();
            ra.close();
            rb.close();
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

    private static void until(NdkAdapter adapter, BooleanSupplier done, String what) {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!done.getAsBoolean()) {
            assertTrue(System.nanoTime() < end, what + " timed out");
            if (adapter.dispatch() == 0) {
                Thread.yield();
            }
        }
    }

    private static void drain(Port port) {
        MbufArray burst = new MbufArray(32);
        for (int n; (n = port.receive(burst, 32)) > 0; ) {
            burst.freeAll(n);
        }
    }
}
