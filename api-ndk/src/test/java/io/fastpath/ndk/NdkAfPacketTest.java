package io.fastpath.ndk;

import static io.fastpath.ndk.NdkConnectionTest.P;
import static io.fastpath.ndk.NdkConnectionTest.S;
import static io.fastpath.ndk.NdkConnectionTest.privateData;
import static io.fastpath.ndk.NdkConnectionTest.text;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.Port;
import io.fastpath.provider.NtStatus;
import io.fastpath.stack.Stack;
import io.fastpath.stack.StackConfig;
import io.fastpath.stack.StackRunner;
import io.fastpath.stack.tcp.TcpConfig;
import io.fastpath.stack.wire.Ipv4Address;
import io.fastpath.testkit.NetNs;
import io.fastpath.testkit.Shell;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two fastpath stacks on the two ends of a Linux veth pair, each through DPDK's net_af_packet PMD: the NDK
 * sequence with private data and limits, and maximum-size messages both ways (each FPDU spans many TCP
 * segments and mbufs).
 */
class NdkAfPacketTest {
    @TempDir
    Path dir;

    @Test
    void ndkSequenceAndMaximumSizeMessagesOverVethAndAfPacket() {
        String va = NetNs.uniqueName("a");
        String vb = NetNs.uniqueName("b");
        Shell.run("ip", "link", "add", va, "type", "veth", "peer", "name", vb);
        PktmbufPool pool = null;
        List<AutoCloseable> open = new ArrayList<>();
        try {
            for (String v : new String[] {va, vb}) {
                Shell.quietly("sysctl", "-w", "net.ipv6.conf." + v + ".disable_ipv6=1");
                Shell.quietly("ethtool", "-K", v, "tx", "off", "rx", "off");
                Shell.run("ip", "link", "set", v, "up");
            }
            pool = PktmbufPool.create("ndkveth", 16383, 256, PktmbufPool.DEFAULT_DATA_ROOM);
            Port pa = EthDevPort.openVdev("net_af_packet" + va + ",iface=" + va + ",qdisc_bypass=0", pool,
                EthDevPort.Config.defaults());
            open.add(pa);
            Port pb = EthDevPort.openVdev("net_af_packet" + vb + ",iface=" + vb + ",qdisc_bypass=0", pool,
                EthDevPort.Config.defaults());
            open.add(pb);
            TcpConfig tcp = TcpConfig.defaults().withTimeWait(TimeUnit.MILLISECONDS.toNanos(50));
            Stack a = new Stack(pa, StackConfig.builder().name(NetNs.uniqueName("s")).cidr("10.14.0.1/24").tcp(tcp)
                .arp(256, TimeUnit.SECONDS.toNanos(60), TimeUnit.MILLISECONDS.toNanos(50), 3).countersFile(dir.resolve("a.counters")).build());
            Stack b = new Stack(pb, StackConfig.builder().name(NetNs.uniqueName("s")).cidr("10.14.0.2/24").tcp(tcp)
                .countersFile(dir.resolve("b.counters")).build());
            StackRunner ra = StackRunner.start(a, StackRunner.backoff());
            StackRunner rb = StackRunner.start(b, StackRunner.backoff());
            List<Throwable> errors = new ArrayList<>();
            NdkAdapter ndkA = NdkAdapter.open(a, NdkAdapterInfo.defaults().withReadLimits(4, 4), errors::add);
            NdkAdapter ndkB = NdkAdapter.open(b, NdkAdapterInfo.defaults().withReadLimits(2, 8), errors::add);
            try {
                Runner run = (done, what) -> {
                    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                    while (!done.getAsBoolean()) {
                        if (System.nanoTime() > end) {
                            throw new AssertionError(what + " timed out; errors " + errors + "\nA: " + a.tcp().describe()
                                + "\nB: " + b.tcp().describe());
                        }
                        if (ndkA.dispatch() + ndkB.dispatch() == 0) {
                            Thread.yield();
                        }
                    }
                    assertEquals(List.of(), errors);
                };
                List<NdkConnector> requests = new ArrayList<>();
                NdkListener listener = ndkB.createListener((ctx, c) -> requests.add(c), null);
                Call listen = new Call();
                assertEquals(P, listen.start(() -> listener.listen(new SockAddrIn(0, 0), listen, null)));
                run.until(listen::done, "listen");
                listen.assertCompleted(S);
                // Failures over the real link: nobody on the port, nobody at the address.
                for (Object[] t : new Object[][] {
                    {SockAddrIn.of("10.14.0.2", 4444), NtStatus.STATUS_CONNECTION_REFUSED},
                    {SockAddrIn.of("10.14.0.99", 4444), NtStatus.STATUS_HOST_UNREACHABLE}}) {
                    Call failed = new Call();
                    NdkConnector x = ndkA.createConnector();
                    assertEquals(P, failed.start(() -> x.connect(new TestQp(ndkA, 1, 8).qp, null, (SockAddrIn) t[0], 1,
                        1, null, 0, failed, null)));
                    run.until(failed::done, "connect to " + t[0]);
                    failed.assertCompleted((NtStatus) t[1]);
                }
                int size = 65535;
                TestQp qpA = new TestQp(ndkA, 4, size);
                TestQp qpB = new TestQp(ndkB, 4, size);
                qpA.postAll(4);
                qpB.postAll(4);
                NdkConnector c = ndkA.createConnector();
                Call connect = new Call();
                MemorySegment pd = text("over veth");
                assertEquals(P, connect.start(() -> c.connect(qpA.qp, SockAddrIn.of("10.14.0.1", 0),
                    listener.getListenerLocalAddress(), 16, 16, pd, (int) pd.byteSize(), connect, null)));
                run.until(() -> requests.size() == 1, "connect event");
                NdkConnector s = requests.get(0);
                assertEquals("over veth", privateData(s, new NdkConnectionData()));
                Call accept = new Call();
                MemorySegment pdb = text("accepted");
                int[] events = new int[1];
                assertEquals(P, accept.start(() -> s.accept(qpB.qp, 16, 16, pdb, (int) pdb.byteSize(), ctx -> events[0]++,
                    null, accept, null)));
                run.until(connect::done, "connect");
                connect.assertCompleted(S);
                assertEquals("accepted", privateData(c, new NdkConnectionData()));
                Call complete = new Call();
                assertEquals(P, complete.start(() -> c.completeConnect(null, null, complete, null)));
                run.until(() -> complete.done() && accept.done(), "complete + accept");
                complete.assertCompleted(S);
                accept.assertCompleted(S);
                NdkConnectionData d = new NdkConnectionData();
                assertEquals(S, c.getConnectionData(d, null, 0));
                // A: in = min(16, A max 4, B out min(16, 8, A in 4) = 4) = 4; out = min(16, 4, B in min(16, 2, 4)=2) = 2
                assertEquals(4, d.inboundReadLimit);
                assertEquals(2, d.outboundReadLimit);
                assertEquals(Ipv4Address.parse("10.14.0.2"), c.getPeerAddress().ip());
                for (int i = 0; i < 20; i++) {
                    int n = i % 2 == 0 ? size : 1 + i * 997;
                    assertEquals(S, qpA.send(n, i));
                    run.until(() -> !qpB.received.isEmpty(), "message " + i);
                    int[] r = qpB.received.poll();
                    assertEquals(NtStatus.STATUS_SUCCESS, NtStatus.of(r[1]));
                    assertEquals(n, r[2]);
                    qpB.assertMessage(r[0], n, i);
                    qpB.post(r[0]);
                    assertEquals(S, qpB.send(n, i + 3));
                    run.until(() -> !qpA.received.isEmpty(), "reply " + i);
                    r = qpA.received.poll();
                    assertEquals(n, r[2]);
                    qpA.assertMessage(r[0], n, i + 3);
                    qpA.post(r[0]);
                }
                Call da = new Call();
                assertEquals(P, da.start(() -> c.disconnect(da, null)));
                run.until(() -> events[0] == 1, "disconnect event");
                Call db = new Call();
                assertEquals(P, db.start(() -> s.disconnect(db, null)));
                run.until(() -> da.done() && db.done(), "disconnects");
                da.assertCompleted(S);
                db.assertCompleted(S);
            } finally {
                ndkA.close();
                ndkB.close();
                ra.close();
                rb.close();
                a.close();
                b.close();
            }
        } finally {
            for (AutoCloseable x : open) {
                try {
                    x.close();
                } catch (Exception e) {
                    // closing anyway
                }
            }
            Shell.quietly("ip", "link", "del", va);
            if (pool != null) {
                pool.close();
            }
        }
    }

    @FunctionalInterface
    private interface Runner {
        void until(BooleanSupplier done, String what);
    }
}
