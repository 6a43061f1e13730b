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
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * fastpath's NDK adapter on net_tap against an independent MPA v2 implementation: a Python peer in a Linux
 * namespace that builds and parses the frames from RFC 5044 §7.1 / RFC 6581 itself (resources ndkpeer/mpa_peer.py).
 */
class NdkLinuxTest {
    @TempDir
    Path dir;

    private final class Link implements AutoCloseable {
        final NetNs ns = NetNs.create();
        final String net = "10.83." + (ProcessHandle.current().pid() % 200 + 1) + ".";
        final PktmbufPool pool = PktmbufPool.create(NetNs.uniqueName("p"), 8191, 256, PktmbufPool.DEFAULT_DATA_ROOM);
        final Port port;
        final Stack stack;
        final StackRunner runner;
        final NdkAdapter ndk;
        final List<Throwable> errors = new ArrayList<>();
        final List<Process> processes = new ArrayList<>();

        Link() {
            String iface = NetNs.uniqueName("n");
            port = EthDevPort.openVdev("net_tap" + iface + ",iface=" + iface, pool, EthDevPort.Config.defaults());
            ns.adopt(iface, net + "1/24");
            ns.tryExec(5, "ethtool", "-K", iface, "tx", "off", "rx", "off");
            stack = new Stack(port, StackConfig.builder().name(NetNs.uniqueName("s")).cidr(net + "2/24")
                .tcp(TcpConfig.defaults().withTimeWait(TimeUnit.MILLISECONDS.toNanos(100)))
                .countersFile(dir.resolve("linux.counters")).build());
            runner = StackRunner.start(stack, StackRunner.backoff());
            ndk = NdkAdapter.open(stack, NdkAdapterInfo.defaults(), errors::add);
        }

        Process python(String... args) throws IOException {
            Path file = dir.resolve("mpa_peer.py");
            if (!Files.exists(file)) {
                try (InputStream in = NdkLinuxTest.class.getResourceAsStream("/ndkpeer/mpa_peer.py")) {
                    Files.write(file, in.readAllBytes());
                }
            }
            List<String> command = new ArrayList<>(List.of("ip", "netns", "exec", ns.name(), "/usr/bin/python3",
                file.toString()));
            command.addAll(List.of(args));
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            processes.add(p);
            return p;
        }

        void until(BooleanSupplier done, String what) {
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
            while (!done.getAsBoolean()) {
                if (System.nanoTime() > end) {
                    throw new AssertionError(what + " timed out; errors " + errors + "\n" + stack.tcp().describe());
                }
                if (ndk.dispatch() == 0) {
                    Thread.yield();
                }
            }
            assertEquals(List.of(), errors);
        }

        @Override
        public void close() {
            for (Process p : processes) {
                p.destroyForcibly();
            }
            ndk.close();
            runner.close();
            stack.close();
            port.close();
            pool.close();
            ns.close();
        }
    }

    @Test
    void aPythonMpaInitiatorConnectsSendsAMessageAndDisconnects_rfc6581() throws Exception {
        client(false, 7400);
    }

    /** The Python peer asks for CRC (C flag) and checks ours: every FPDU carries a CRC32c (RFC 5044 §4.1). */
    @Test
    void aPythonMpaInitiatorWithCrcConnectsSendsAMessageAndDisconnects_rfc5044_s7_1() throws Exception {
        client(true, 7402);
    }

    private void client(boolean crc, int port) throws Exception {
        try (Link link = new Link()) {
            List<NdkConnector> requests = new ArrayList<>();
            NdkListener listener = link.ndk.createListener((ctx, c) -> requests.add(c), null);
            Call listen = new Call();
            assertEquals(P, listen.start(() -> listener.listen(new SockAddrIn(0, port), listen, null)));
            link.until(listen::done, "listen");
            Process peer = crc ? link.python("client", link.net + "2", Integer.toString(port), "from linux", "crc")
                : link.python("client", link.net + "2", Integer.toString(port), "from linux");
            BufferedReader out = new BufferedReader(new InputStreamReader(peer.getInputStream(), StandardCharsets.UTF_8));
            link.until(() -> requests.size() == 1, "connect event");
            NdkConnector s = requests.get(0);
            NdkConnectionData d = new NdkConnectionData();
            assertEquals("from linux", privateData(s, d));
            assertEquals(9, d.inboundReadLimit, "min(adapter 16, Linux ORD 9)");
            assertEquals(7, d.outboundReadLimit, "min(adapter 16, Linux IRD 7)");
            assertEquals(Ipv4Address.parse(link.net + "1"), s.getPeerAddress().ip());
            TestQp qp = new TestQp(link.ndk, 2, 256);
            qp.postAll(2);
            Call accept = new Call();
            int[] events = new int[1];
            MemorySegment pd = text("hello linux");
            assertEquals(P, accept.start(() -> s.accept(qp.qp, 3, 5, pd, (int) pd.byteSize(), ctx -> events[0]++, null,
                accept, null)));
            link.until(accept::done, "accept (the peer's RTR)");
            accept.assertCompleted(S);
            // The Python peer parsed our reply: flags E, rev 2, IRD = 0xC000 | min(3, 9), ORD = min(5, 7).
            // With CRC the reply carries C as well (0x40): the peer's request asked for it.
            assertEquals("reply flags=0x" + (crc ? "50" : "10") + " rev=2 ird=0xc003 ord=0x0005 pd=hello linux",
                out.readLine());
            link.until(() -> !qp.received.isEmpty(), "message");
            int[] r = qp.received.poll();
            assertEquals(S, NtStatus.of(r[1]));
            byte[] got = new byte[r[2]];
            qp.receive.getBytes(r[0] * 256, got);
            assertEquals("ping from linux", new String(got, StandardCharsets.US_ASCII));
            qp.send.putBytes(0, got);
            assertEquals(S, qp.qp.send(qp.send.addressOffset(), got.length, null));
            link.until(() -> events[0] == 1, "disconnect event (Linux shut down its side)");
            assertEquals("echo=ping from linux", out.readLine());
            Call disconnect = new Call();
            assertEquals(P, disconnect.start(() -> s.disconnect(disconnect, null)));
            link.until(disconnect::done, "disconnect");
            disconnect.assertCompleted(S);
            assertEquals("eof=0", out.readLine());
            assertEquals(0, link.ndk.malformedFrames());
            assertEquals(0, link.ndk.crcErrors());
            assertEquals(crc, s.crcInUse());
        }
    }

    @Test
    void aPythonMpaResponderRejectsWithPrivateData_ndkFnConnect() throws Exception {
        try (Link link = new Link()) {
            Process peer = link.python("reject", "7401", "linux says no");
            BufferedReader out = new BufferedReader(new InputStreamReader(peer.getInputStream(), StandardCharsets.UTF_8));
            assertEquals("listening", out.readLine());
            NdkConnector c = link.ndk.createConnector();
            TestQp qp = new TestQp(link.ndk, 1, 16);
            MemorySegment pd = text("may I?");
            Call connect = new Call();
            assertEquals(P, connect.start(() -> c.connect(qp.qp, null, new SockAddrIn(Ipv4Address.parse(link.net + "1"),
                7401), 4, 6, pd, (int) pd.byteSize(), connect, null)));
            link.until(connect::done, "connect");
            connect.assertCompleted(NtStatus.STATUS_CONNECTION_REFUSED);
            assertEquals("request flags=0x10 rev=2 ird=0xc004 ord=0x0006 pd=may I?", out.readLine());
            assertEquals("linux says no", privateData(c, new NdkConnectionData()));
        }
    }
}
