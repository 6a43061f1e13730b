package io.fastpath.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.Port;
import io.fastpath.examples.ndk.NdkEchoListener;
import io.fastpath.examples.tdi.TdiEchoServer;
import io.fastpath.examples.wsk.WskEchoServer;
import io.fastpath.ndk.NdkAdapter;
import io.fastpath.ndk.NdkAdapterInfo;
import io.fastpath.stack.NtStatus;
import io.fastpath.stack.Stack;
import io.fastpath.stack.StackConfig;
import io.fastpath.stack.StackRunner;
import io.fastpath.stack.counters.DropReason;
import io.fastpath.stack.tcp.TcpConfig;
import io.fastpath.tdi.TdiProvider;
import io.fastpath.testkit.NetNs;
import io.fastpath.wsk.WskProvider;
import java.io.IOException;
import java.io.InputStream;
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
 * Issue 11 test target: WSK, TDI and NDK serve three ports of one stack at once, each with Linux clients. One
 * fastpath stack on a net_tap whose kernel side lives in a network namespace runs the WSK echo on port 7, the TDI
 * echo on port 8 and the NDK echo listener on port 9 (the examples' servers, each provider a TcpService client of
 * its own). In the namespace, Linux clients start together: two kernel-TCP echo clients per echo port
 * (stack test resources peer/echo_client.py, which compares SHA-256 of every byte sent and received) and the
 * independent MPA v2 initiator of NdkLinuxTest (api-ndk test resources ndkpeer/mpa_peer.py: request, reply,
 * RTR, one message echoed, close). The test thread dispatches all three providers.
 */
class LinuxSharedStackTest {
    private static final int BYTES = 2 << 20;
    /** NdkLinuxTest's MPA v2 peer, reused from the api-ndk module's test resources (surefire runs in examples/). */
    private static final Path MPA_PEER = Path.of("..", "api-ndk", "src", "test", "resources", "ndkpeer", "mpa_peer.py");

    @TempDir
    Path dir;

    @Test
    void wskTdiAndNdkServeThreePortsOfOneStackToLinuxClientsAtOnce_issue11() throws Exception {
        assertTrue(Files.isReadable(MPA_PEER), "the MPA v2 peer at " + MPA_PEER.toAbsolutePath());
        String net = "10.86." + (ProcessHandle.current().pid() % 200 + 1) + ".";
        PktmbufPool pool = PktmbufPool.create(NetNs.uniqueName("p"), 16383, 256, PktmbufPool.DEFAULT_DATA_ROOM);
        NetNs ns = null;
        Port port = null;
        Stack stack = null;
        StackRunner runner = null;
        WskProvider wsk = null;
        TdiProvider tdi = null;
        NdkAdapter ndk = null;
        List<Process> processes = new ArrayList<>();
        List<Throwable> errors = new ArrayList<>();
        try {
            ns = NetNs.create();
            String iface = NetNs.uniqueName("x");
            port = EthDevPort.openVdev("net_tap" + iface + ",iface=" + iface, pool, EthDevPort.Config.defaults());
            ns.adopt(iface, net + "1/24");
            ns.tryExec(5, "ethtool", "-K", iface, "tx", "off", "rx", "off");
            stack = new Stack(port, StackConfig.builder().name(NetNs.uniqueName("s")).cidr(net + "2/24")
                .tcp(TcpConfig.defaults().withTimeWait(TimeUnit.MILLISECONDS.toNanos(100)))
                .countersFile(dir.resolve("shared.counters")).build());
            runner = StackRunner.start(stack, StackRunner.backoff());
            WskProvider w = wsk = WskProvider.register(stack, errors::add);
            TdiProvider t = tdi = TdiProvider.open(stack, errors::add);
            NdkAdapter n = ndk = NdkAdapter.open(stack, NdkAdapterInfo.defaults(), errors::add);
            BooleanSupplier dispatch = () -> w.dispatch() + t.dispatch() + n.dispatch() > 0;

            WskEchoServer wskServer = new WskEchoServer(wsk);
            wskServer.start(7);
            TdiEchoServer tdiServer = new TdiEchoServer(tdi);
            tdiServer.start(8);
            NdkEchoListener ndkServer = new NdkEchoListener(ndk);
            ndkServer.start(9);
            Stack s = stack;
            runUntil(dispatch, errors, () -> wskServer.listening() && tdiServer.listening()
                && ndkServer.listenStatus != null, 10, "listening", s);
            assertEquals("STATUS_SUCCESS", String.valueOf(ndkServer.listenStatus));

            // Every client at once: two per echo port, and the MPA v2 initiator on the NDK port.
            Path echoClient = resource("/peer/echo_client.py", "echo_client.py");
            Path mpaPeer = Files.copy(MPA_PEER, dir.resolve("mpa_peer.py"));
            String host = net + "2";
            List<Process> wskClients = new ArrayList<>();
            List<Process> tdiClients = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                wskClients.add(python(ns, processes, echoClient, host, "7", Integer.toString(BYTES)));
                tdiClients.add(python(ns, processes, echoClient, host, "8", Integer.toString(BYTES)));
            }
            Process mpa = python(ns, processes, mpaPeer, "client", host, "9", "from linux");
            runUntil(dispatch, errors, () -> processes.stream().noneMatch(Process::isAlive), 120,
                "the Linux clients", s);

            for (Process p : wskClients) {
                String out = output(p);
                assertTrue(out.startsWith("OK ") && out.contains("received=" + BYTES), "WSK echo (port 7): " + out);
            }
            for (Process p : tdiClients) {
                String out = output(p);
                assertTrue(out.startsWith("OK ") && out.contains("received=" + BYTES), "TDI echo (port 8): " + out);
            }
            List<String> lines = output(mpa).lines().toList();
            assertEquals(3, lines.size(), "MPA peer: " + lines);
            // NdkEchoListener accepts with read limits 2/2 and "welcome, <their private data>" (RFC 6581 IRD/ORD).
            assertEquals("reply flags=0x10 rev=2 ird=0xc002 ord=0x0002 pd=welcome, from linux", lines.get(0));
            assertEquals("echo=ping from linux", lines.get(1), "the NDK echo, byte for byte");
            assertEquals("eof=0", lines.get(2));

            runUntil(dispatch, errors, () -> wskServer.closed.get() == 2 && tdiServer.closed.get() == 2
                && ndkServer.disconnected.get() == 1, 10, "servers closed", s);
            assertEquals(2, wskServer.accepted.get(), "WSK accepted its own port's connections only");
            assertEquals(2, tdiServer.accepted.get(), "TDI accepted its own port's connections only");
            assertEquals(1, ndkServer.accepted.get(), "NDK accepted its own port's connection only");
            assertEquals(2L * BYTES, wskServer.echoed.get());
            assertEquals(2L * BYTES, tdiServer.echoed.get());
            assertEquals(1, ndkServer.echoed.get());
            assertEquals(0, wskServer.failures.get());
            assertEquals(0, tdiServer.failures.get());
            assertEquals(0, ndkServer.failures.get());
            assertEquals(0, ndk.malformedFrames());
            assertEquals(0, stack.counters().drop(DropReason.TCP_EVENT_LOST).get(), "no event lost");
            assertEquals(0, stack.counters().drop(DropReason.REQUEST_REFUSED).get(), "no request misrouted");
            assertEquals(0, stack.counters().drop(DropReason.RELEASE_REFUSED).get(), "no release misrouted");
        } finally {
            for (Process p : processes) {
                p.destroyForcibly();
            }
            for (Process p : processes) {
                p.waitFor(5, java.util.concurrent.TimeUnit.SECONDS);
            }
            // Each closes even if an earlier one throws; the runner stops before the port and pool go.
            closeAll(wsk, tdi, ndk, runner, stack, port, ns, pool);
        }
    }

    /** Closes each in order; a failure does not skip the rest and is rethrown (the first, others suppressed). */
    private static void closeAll(AutoCloseable... all) throws Exception {
        Exception first = null;
        for (AutoCloseable c : all) {
            if (c == null) {
                continue;
            }
            try {
                c.close();
            } catch (Exception e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }

    private Path resource(String name, String file) throws IOException {
        Path to = dir.resolve(file);
        try (InputStream in = LinuxSharedStackTest.class.getResourceAsStream(name)) {
            assertTrue(in != null, name + " on the test class path");
            Files.write(to, in.readAllBytes());
        }
        return to;
    }

    private static Process python(NetNs ns, List<Process> processes, Path script, String... args) throws IOException {
        List<String> command = new ArrayList<>(List.of("ip", "netns", "exec", ns.name(), "/usr/bin/python3",
            script.toString()));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        processes.add(p);
        return p;
    }

    private static String output(Process p) throws IOException {
        return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    }

    private static void runUntil(BooleanSupplier dispatch, List<Throwable> errors, BooleanSupplier done,
                                 long seconds, String what, Stack stack) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(what + ": not done in " + seconds + " s; errors " + errors + "\n"
                    + stack.tcp().describe());
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
