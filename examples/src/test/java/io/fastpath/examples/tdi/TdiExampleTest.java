package io.fastpath.examples.tdi;

import io.fastpath.provider.NtStatus;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.MbufArray;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.Port;
import io.fastpath.dpdk.RingPair;
import io.fastpath.stack.Stack;
import io.fastpath.stack.StackConfig;
import io.fastpath.stack.StackRunner;
import io.fastpath.stack.tcp.TcpConfig;
import io.fastpath.stack.wire.Ipv4Address;
import io.fastpath.tdi.Tdi;
import io.fastpath.tdi.TdiProvider;
import io.fastpath.testkit.NetNs;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
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
 * The TDI echo server and client examples over real DPDK ports: each over its own stack on a ring pair (1 MiB
 * echoed and checked byte by byte, controlled disconnect from the client's side), and each against Linux in a
 * namespace behind net_tap (a Linux client into the TDI server, the TDI client into a Linux echo server).
 */
class TdiExampleTest {
    private static final int MIB = 1 << 20;

    @TempDir
    Path dir;

    private static void runUntil(List<TdiProvider> providers, List<Throwable> errors, BooleanSupplier done,
                                 long seconds, String what) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(what + ": not done in " + seconds + " s; errors " + errors);
            }
            int work = 0;
            for (TdiProvider p : providers) {
                work += p.dispatch();
            }
            if (work == 0) {
                Thread.yield();
            }
        }
        if (!errors.isEmpty()) {
            throw new AssertionError("a routine or handler failed", errors.get(0));
        }
    }

    @Test
    void tdiClientAndServerEchoOneMebibyteOverARingPair() {
        PktmbufPool pool = PktmbufPool.create("tdiex", 16383, 256, PktmbufPool.DEFAULT_DATA_ROOM);
        RingPair pair = RingPair.create("tdiex", 2048, pool, pool, EthDevPort.Config.defaults());
        TcpConfig tcp = TcpConfig.defaults().withTimeWait(TimeUnit.MILLISECONDS.toNanos(50));
        Stack a = new Stack(pair.a(), StackConfig.builder().name("tdiexa").address(Ipv4Address.parse("10.14.0.1"), 24)
            .tcp(tcp).countersFile(dir.resolve("a.counters")).build());
        Stack b = new Stack(pair.b(), StackConfig.builder().name("tdiexb").address(Ipv4Address.parse("10.14.0.2"), 24)
            .tcp(tcp).countersFile(dir.resolve("b.counters")).build());
        StackRunner runnerA = StackRunner.start(a, StackRunner.backoff());
        StackRunner runnerB = StackRunner.start(b, StackRunner.backoff());
        List<Throwable> errors = new ArrayList<>();
        TdiProvider tdiA = TdiProvider.open(a, errors::add);
        TdiProvider tdiB = TdiProvider.open(b, errors::add);
        try {
            List<TdiProvider> both = List.of(tdiA, tdiB);
            TdiEchoServer server = new TdiEchoServer(tdiB);
            server.start(7);
            runUntil(both, errors, server::listening, 5, "listening");
            for (int i = 0; i < 2; i++) {
                TdiEchoClient client = new TdiEchoClient(tdiA, b.address(), 7, MIB, 64 * 1024);
                client.start(Tdi.relativeTimeout(5000));
                long expectedClosed = i + 1;
                runUntil(both, errors, () -> client.done() && server.closed.get() == expectedClosed, 30, "echo " + i);
                assertEquals("STATUS_SUCCESS", String.valueOf(client.failure));
                assertEquals(MIB, client.received);
                assertEquals(MIB, client.sent);
                assertEquals(-1, client.mismatchAt, "every echoed byte matches");
                assertTrue(client.released, "the controlled disconnect completed on both sides");
            }
            assertEquals(2, server.accepted.get());
            assertEquals(2 * MIB, server.echoed.get());
            assertEquals(0, server.failures.get());
            assertEquals(0, tdiB.heldChainedReceives());
        } finally {
            tdiA.close();
            tdiB.close();
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

    /** Linux in a namespace at NET.1, a stack at NET.2 on a tap port. */
    private final class LinuxLink implements AutoCloseable {
        final NetNs ns = NetNs.create();
        final String net = "10.84." + (ProcessHandle.current().pid() % 200 + 1) + ".";
        final PktmbufPool pool = PktmbufPool.create(NetNs.uniqueName("p"), 16383, 256, PktmbufPool.DEFAULT_DATA_ROOM);
        final Port port;
        final Stack stack;
        final StackRunner runner;
        final List<Throwable> errors = new ArrayList<>();
        final TdiProvider tdi;
        final List<Process> processes = new ArrayList<>();

        LinuxLink() {
            String iface = NetNs.uniqueName("x");
            port = EthDevPort.openVdev("net_tap" + iface + ",iface=" + iface, pool, EthDevPort.Config.defaults());
            ns.adopt(iface, net + "1/24");
            ns.tryExec(5, "ethtool", "-K", iface, "tx", "off", "rx", "off");
            stack = new Stack(port, StackConfig.builder().name(NetNs.uniqueName("s")).cidr(net + "2/24")
                .tcp(TcpConfig.defaults().withTimeWait(TimeUnit.MILLISECONDS.toNanos(200)))
                .countersFile(dir.resolve(NetNs.uniqueName("c") + ".counters")).build());
            runner = StackRunner.start(stack, StackRunner.backoff());
            tdi = TdiProvider.open(stack, errors::add);
        }

        Process python(String script, String... args) throws Exception {
            Path file = dir.resolve(script);
            try (InputStream in = TdiExampleTest.class.getResourceAsStream("/peer/" + script)) {
                Files.write(file, in.readAllBytes());
            }
            List<String> command = new ArrayList<>(List.of("ip", "netns", "exec", ns.name(), "/usr/bin/python3",
                file.toString()));
            command.addAll(List.of(args));
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            processes.add(p);
            return p;
        }

        @Override
        public void close() {
            processes.forEach(Process::destroyForcibly);
            try {
                tdi.close();
                runner.close();
                stack.close();
            } finally {
                port.close();
                ns.close();
                pool.close();
            }
        }
    }

    @Test
    void linuxClientEchoesThroughTheTdiServerAndTheTdiClientEchoesThroughALinuxServer() throws Exception {
        try (LinuxLink link = new LinuxLink()) {
            List<TdiProvider> one = List.of(link.tdi);
            TdiEchoServer server = new TdiEchoServer(link.tdi);
            server.start(7);
            runUntil(one, link.errors, server::listening, 5, "listening");
            Process client = link.python("echo_client.py", link.net + "2", "7", Integer.toString(4 * MIB));
            runUntil(one, link.errors, () -> !client.isAlive(), 60, "Linux client");
            String out = new String(client.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
            assertTrue(out.startsWith("OK"), out);
            runUntil(one, link.errors, () -> server.closed.get() == 1, 10, "server released");
            assertEquals(4 * MIB, server.echoed.get());

            Process linuxServer = link.python("echo_server.py", "7011");
            String ready = new BufferedReader(new InputStreamReader(linuxServer.getInputStream(),
                StandardCharsets.US_ASCII)).readLine();
            assertTrue(ready != null && ready.contains("listening"), String.valueOf(ready));
            TdiEchoClient tdiClient = new TdiEchoClient(link.tdi, Ipv4Address.parse(link.net + "1"), 7011, MIB,
                32 * 1024);
            tdiClient.start(Tdi.TIMEOUT_DEFAULT);
            runUntil(one, link.errors, tdiClient::done, 30, "TDI client");
            assertEquals("STATUS_SUCCESS", String.valueOf(tdiClient.failure));
            assertEquals(MIB, tdiClient.received);
            assertEquals(-1, tdiClient.mismatchAt);
            assertTrue(tdiClient.released);
        }
    }
}
