package io.fastpath.perf;

import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.stack.NtStatus;
import io.fastpath.stack.Stack;
import io.fastpath.stack.wire.Ipv4Address;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * fastpath against Linux's TCP: a net_tap port whose kernel interface is moved into a scratch network
 * namespace (needs root), Python in the namespace as the peer (an echo for the ping-pong, a sink for bulk),
 * and a fastpath stack on the port on one pinned poll thread.
 *
 * <p>The namespace commands are those of the tests' {@code NetNs} (copied: the harness must not depend on
 * test jars). Names are unique per process ({@code fpperf<pid>} for the namespace, {@code fpp<pid>t} for the
 * interface, subnet 10.99.x.0/24); everything is removed in {@code finally} and by a shutdown hook if the
 * JVM ends first.
 *
 * <p>What the numbers include: both kernels' work for every frame (the PMD's {@code writev}/{@code read}
 * on the tap fd are system calls on fastpath's poll thread, and the kernel's receive processing runs inside
 * that {@code writev}), and the Python peer's own latency (a wake-up, an interpreter loop and two system
 * calls per message): this measures the pair, not fastpath alone.
 */
final class TapLink implements AutoCloseable {
    private static final int POOL_SIZE = 8191;

    private final String namespace;
    private final String iface;
    private final String net;
    private final PktmbufPool pool;
    private final Thread hook;
    private EthDevPort port;
    private final List<Process> processes = new ArrayList<>();
    private final List<String> peerOutput = Collections.synchronizedList(new ArrayList<>());

    private TapLink() {
        long pid = ProcessHandle.current().pid() % 100000;
        namespace = "fpperf" + pid;
        iface = "fpp" + pid + "t";
        net = "10.99." + (pid % 200 + 20) + ".";
        pool = PktmbufPool.create("tcph_tap", POOL_SIZE, TcpHarness.POOL_CACHE, PktmbufPool.DEFAULT_DATA_ROOM);
        hook = new Thread(() -> quietly("ip", "netns", "delete", namespace));
    }

    /** Creates the namespace and the tap, moves the tap's kernel side into the namespace with address .1. */
    private void open() {
        run("ip", "netns", "add", namespace);
        Runtime.getRuntime().addShutdownHook(hook);
        run("ip", "netns", "exec", namespace, "ip", "link", "set", "lo", "up");
        // No IPv6 in the namespace: its router and neighbour solicitations would only be frames to drop.
        quietly("ip", "netns", "exec", namespace, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
            "net.ipv6.conf.default.disable_ipv6=1");
        port = EthDevPort.openVdev("net_tap" + iface + ",iface=" + iface, pool, EthDevPort.Config.defaults());
        run("ip", "link", "set", iface, "netns", namespace);
        run("ip", "netns", "exec", namespace, "ip", "addr", "add", net + "1/24", "dev", iface);
        run("ip", "netns", "exec", namespace, "ip", "link", "set", iface, "up");
        // Linux's frames carry real checksums (nothing on a tap computes them later).
        quietly("ip", "netns", "exec", namespace, "ethtool", "-K", iface, "tx", "off", "rx", "off");
    }

    /** Starts the Python peer in the namespace and waits for it to listen. */
    private void peer(String mode, int tcpPort) throws IOException {
        String script;
        try (InputStream in = TapLink.class.getResourceAsStream("tcp_peer.py")) {
            if (in == null) {
                throw new IllegalStateException("tcp_peer.py missing from the jar");
            }
            script = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        Process p = new ProcessBuilder("ip", "netns", "exec", namespace, "/usr/bin/python3", "-c", script, mode,
            Integer.toString(tcpPort)).redirectErrorStream(true).start();
        processes.add(p);
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        String first = out.readLine();
        if (!"listening".equals(first)) {
            throw new IllegalStateException("python " + mode + " peer did not start: " + first);
        }
        Thread reader = new Thread(() -> {
            try {
                for (String line; (line = out.readLine()) != null; ) {
                    peerOutput.add(line);
                }
            } catch (IOException e) {
                // the process ended
            }
        }, "tap-peer-" + mode);
        reader.setDaemon(true);
        reader.start();
    }

    /**
     * Runs the tap phases ({@code tap_rtt}, {@code tap_bulk_1}) on one namespace, appending one result each
     * to the open {@code results} array of {@code json}; returns how many failed.
     */
    static int runAll(Json json, TcpHarness.Options options, List<String> phases) {
        int failures = 0;
        TapLink link = null;
        String setupError = null;
        try {
            link = new TapLink();
            link.open();
            link.peer("echo", TcpHarness.ECHO_PORT);
            link.peer("sink", TcpHarness.DISCARD_PORT);
        } catch (RuntimeException | IOException e) {
            setupError = "tap set-up failed (root needed for namespaces and tap devices): " + e;
            System.out.println("   " + setupError);
        }
        try {
            for (String phase : phases) {
                Json result = new Json().beginObject().field("name", phase);
                long start = System.nanoTime();
                System.out.println("== " + phase);
                if (setupError != null) {
                    failures++;
                    result.field("error", setupError);
                } else {
                    try {
                        result.field("link", "net_tap " + link.iface + " in namespace " + link.namespace + ", "
                            + link.net + "2 (fastpath) -> " + link.net + "1 (python3)");
                        if (phase.equals("tap_rtt")) {
                            link.rtt(result, options);
                        } else {
                            link.bulk(result, options);
                        }
                    } catch (RuntimeException | IOException e) {
                        failures++;
                        result.field("error", String.valueOf(e));
                        System.out.println("   FAILED: " + e);
                        e.printStackTrace(System.out);
                    }
                }
                result.field("phase_s", (System.nanoTime() - start) / 1e9).endObject();
                System.out.println("   " + result);
                json.element(result);
            }
        } finally {
            if (link != null) {
                link.close();
            }
        }
        return failures;
    }

    private Stack stack() throws IOException {
        return TcpHarness.newStack(port, "tap" + ProcessHandle.current().pid(), Ipv4Address.parse(net + "2"),
            TcpHarness.tcpConfig());
    }

    private PollThread pollThread(Stack stack, TcpHarness.Options options) {
        return new PollThread("fastpath-tap", options.clientCpu(), true, stack::doWork, stack::onStart,
            stack::onClose).start();
    }

    private void rtt(Json result, TcpHarness.Options options) throws IOException {
        RttRecorder recorder = new RttRecorder(options.tapRttWarmup(), options.rttWarmupNs(),
            options.tapRttCount());
        PingPongClient pingPong = new PingPongClient(recorder, options.messageSize());
        Stack stack = stack();
        PollThread thread = null;
        try {
            thread = pollThread(stack, options);
            PollThread t = thread;
            int peer = Ipv4Address.parse(net + "1");
            t.run(() -> TcpHarness.require(stack.tcp().connect(0, 0, peer, TcpHarness.ECHO_PORT, pingPong),
                NtStatus.STATUS_PENDING, "connect"));
            TcpHarness.measureRtt(result, recorder, List.of(Measure.Probe.of(t)), t::checkFailure);
            Measure.writeDistribution(options.out(), "tap_rtt", recorder);
            result.field("mss", t.call(() -> pingPong.connection().mss()));
            TcpHarness.closeGracefully(result, t, pingPong::stop,
                () -> pingPong.closeStatus() != -1, t::checkFailure);
            result.beginArray("counters");
            Measure.appendCounters(result, "tap", stack);
            result.endArray();
        } finally {
            closeStack(stack, thread);
        }
        result.field("peer_output", new ArrayList<>(peerOutput));
    }

    private void bulk(Json result, TcpHarness.Options options) throws IOException {
        BulkSender sender = new BulkSender(1);
        Stack stack = stack();
        PollThread thread = null;
        try {
            thread = pollThread(stack, options);
            PollThread t = thread;
            int peer = Ipv4Address.parse(net + "1");
            t.run(() -> TcpHarness.require(stack.tcp().connect(0, 0, peer, TcpHarness.DISCARD_PORT, sender),
                NtStatus.STATUS_PENDING, "connect"));
            // The receiver is another process: throughput is what Linux acknowledged, seen at the sender.
            TcpHarness.measureBulk(result, options, 1, sender, sender::ackedBytes, List.of(Measure.Probe.of(t)),
                t::checkFailure);
            TcpHarness.closeGracefully(result, t, sender::stop, () -> sender.closed() == 1, t::checkFailure);
            result.beginArray("counters");
            Measure.appendCounters(result, "tap", stack);
            result.endArray();
        } finally {
            closeStack(stack, thread);
        }
        Measure.sleep(100); // the sink prints its byte count after the close
        result.field("peer_output", new ArrayList<>(peerOutput));
    }

    private static void closeStack(Stack stack, PollThread thread) {
        try {
            if (thread != null) {
                thread.close();
            }
        } finally {
            TcpHarness.closeStack(stack);
        }
    }

    @Override
    public void close() {
        for (Process p : processes) {
            p.destroyForcibly();
            try {
                p.waitFor(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        try {
            if (port != null) {
                port.close();
            }
            int leaked = pool.inUseCount();
            if (leaked != 0) {
                System.out.println("   tap pool: " + leaked + " mbufs not returned");
            }
            pool.close();
        } finally {
            quietly("ip", "netns", "delete", namespace);
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException | IllegalArgumentException e) {
                // shutting down, or never added
            }
        }
    }

    // ================================================================================================ shell

    private static String run(String... command) {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            p.getOutputStream().close();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IllegalStateException(String.join(" ", command) + " failed: " + out.strip());
            }
            return out;
        } catch (IOException e) {
            throw new IllegalStateException(String.join(" ", command) + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    private static void quietly(String... command) {
        try {
            run(command);
        } catch (IllegalStateException e) {
            // clean-up and optional tuning: best effort
        }
    }
}
