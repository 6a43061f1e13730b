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
 * and a fastpath stack on the port on one pinned poll thread. The other {@link Kind}s (bench's {@code tap}
 * scenario): a veth pair whose outer end is a net_af_packet port for the stack, or whose outer end has a
 * Linux address and Linux's own TCP (blocking java.nio) is the client: the baseline, Linux to Linux.
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

    /** How fastpath (or Linux) reaches the namespace. */
    enum Kind {
        /** net_tap; its kernel end in the namespace. */
        TAP("t", 99),
        /** A veth pair: net_af_packet on the outer end, the inner end in the namespace. */
        AF_PACKET("a", 97),
        /** A veth pair with a Linux address on the outer end: no fastpath, Linux's TCP both sides. */
        LINUX_VETH("l", 98);

        final String letter;
        final int subnet;

        Kind(String letter, int subnet) {
            this.letter = letter;
            this.subnet = subnet;
        }
    }

    private final Kind kind;
    private final String inner;
    private final String namespace;
    private final String iface;
    private final String net;
    private final PktmbufPool pool;
    private final Thread hook;
    private EthDevPort port;
    private final List<Process> processes = new ArrayList<>();
    private final List<String> peerOutput = Collections.synchronizedList(new ArrayList<>());

    private TapLink() {
        this(Kind.TAP);
    }

    /** Names unique to this process and kind: namespace fpperf[kind]PID, interfaces fp[kind]PID, [b]. */
    TapLink(Kind kind) {
        this.kind = kind;
        long pid = ProcessHandle.current().pid() % 100000;
        namespace = kind == Kind.TAP ? "fpperf" + pid : "fpperf" + kind.letter + pid;
        iface = kind == Kind.TAP ? "fpp" + pid + "t" : "fp" + kind.letter + pid;
        inner = kind == Kind.TAP ? iface : iface + "b";
        net = "10." + kind.subnet + "." + (pid % 200 + 20) + ".";
        pool = kind == Kind.LINUX_VETH ? null : PktmbufPool.create("tcph_" + kind.letter + "tap", POOL_SIZE,
            TcpHarness.POOL_CACHE, PktmbufPool.DEFAULT_DATA_ROOM);
        hook = new Thread(() -> {
            quietly("ip", "netns", "delete", namespace);
            quietly("ip", "link", "delete", iface);
        });
    }

    /**
     * Creates the namespace and the link (tap, or veth pair), the Linux end in the namespace with address .1;
     * the outer end is fastpath's port (tap, af_packet) or has Linux's address .2 (LINUX_VETH).
     */
    void open() {
        run("ip", "netns", "add", namespace);
        Runtime.getRuntime().addShutdownHook(hook);
        run("ip", "netns", "exec", namespace, "ip", "link", "set", "lo", "up");
        // No IPv6 in the namespace: its router and neighbour solicitations would only be frames to drop.
        quietly("ip", "netns", "exec", namespace, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
            "net.ipv6.conf.default.disable_ipv6=1");
        if (kind == Kind.TAP) {
            port = EthDevPort.openVdev("net_tap" + iface + ",iface=" + iface, pool, EthDevPort.Config.defaults());
        } else {
            run("ip", "link", "add", iface, "type", "veth", "peer", "name", inner);
            if (kind == Kind.AF_PACKET) {
                // fastpath checks checksums: the kernel's frames must carry them (no offload on either end).
                quietly("ethtool", "-K", iface, "tx", "off", "rx", "off");
                quietly("sysctl", "-qw", "net.ipv6.conf." + iface + ".disable_ipv6=1");
            } else {
                run("ip", "addr", "add", net + "2/24", "dev", iface);
            }
            run("ip", "link", "set", iface, "up");
        }
        run("ip", "link", "set", inner, "netns", namespace);
        run("ip", "netns", "exec", namespace, "ip", "addr", "add", net + "1/24", "dev", inner);
        run("ip", "netns", "exec", namespace, "ip", "link", "set", inner, "up");
        // Linux's frames carry real checksums (nothing on a tap computes them later).
        quietly("ip", "netns", "exec", namespace, "ethtool", "-K", inner, "tx", "off", "rx", "off");
        if (kind == Kind.AF_PACKET) {
            port = EthDevPort.openVdev("net_af_packet_" + iface + ",iface=" + iface + ",qdisc_bypass=0", pool,
                EthDevPort.Config.defaults());
        }
    }

    /**
     * bench's tap scenario: one ping-pong over a link of {@code kind}, the client fastpath (TAP, AF_PACKET) or
     * blocking java.nio (LINUX_VETH), the peer Python's echo in the namespace; the link is created and
     * removed here, also when the run fails. The distribution goes to {@code <out>.<name>.hlog/.hgrm}.
     */
    static RttRecorder pingPong(Kind kind, Json result, TcpHarness.Options options, String name) throws IOException {
        try (TapLink link = new TapLink(kind)) {
            link.open();
            link.peer("echo", TcpHarness.ECHO_PORT);
            result.field("link", link.describe());
            return kind == Kind.LINUX_VETH ? link.linuxRtt(result, options, name) : link.rtt(result, options, name);
        }
    }

    private String describe() {
        return switch (kind) {
            case TAP -> "net_tap " + iface + " in namespace " + namespace + ", " + net + "2 (fastpath) -> " + net
                + "1 (python3)";
            case AF_PACKET -> "veth " + iface + " (net_af_packet, fastpath " + net + "2) <-> " + inner
                + " in namespace " + namespace + " (" + net + "1, python3)";
            case LINUX_VETH -> "veth " + iface + " (Linux " + net + "2, blocking java.nio) <-> " + inner
                + " in namespace " + namespace + " (" + net + "1, python3)";
        };
    }

    /** Linux's TCP as the client: blocking java.nio over the veth pair from the outer namespace. */
    private RttRecorder linuxRtt(Json result, TcpHarness.Options options, String name) throws IOException {
        RttRecorder recorder = new RttRecorder(options.tapRttWarmup(), options.rttWarmupNs(), options.tapRttCount());
        try (java.nio.channels.SocketChannel client = java.nio.channels.SocketChannel.open(
            new java.net.InetSocketAddress(net + "1", TcpHarness.ECHO_PORT))) {
            client.setOption(java.net.StandardSocketOptions.TCP_NODELAY, true);
            PollThread t = new PollThread("linux-veth-client", options.clientCpu(), false,
                new NioLoopback.Ping(client, options.messageSize(), recorder), null, null);
            try {
                t.start();
                TcpHarness.measureRtt(result, recorder, List.of(Measure.Probe.outside(t)), t::checkFailure);
                Measure.writeDistribution(options.out(), name, recorder);
            } finally {
                t.close();
            }
        }
        Measure.sleep(100);
        result.field("peer_output", new ArrayList<>(peerOutput));
        return recorder;
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
                            link.rtt(result, options, "tap_rtt");
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
        return TcpHarness.newStack(port, "tap" + kind.letter + ProcessHandle.current().pid(), Ipv4Address.parse(net + "2"),
            TcpHarness.tcpConfig());
    }

    private PollThread pollThread(Stack stack, TcpHarness.Options options) {
        return new PollThread("fastpath-tap", options.clientCpu(), true, stack::doWork, stack::onStart,
            stack::onClose).start();
    }

    private RttRecorder rtt(Json result, TcpHarness.Options options, String name) throws IOException {
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
            Measure.writeDistribution(options.out(), name, recorder);
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
        return recorder;
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
            if (pool != null) {
                int leaked = pool.inUseCount();
                if (leaked != 0) {
                    System.out.println("   tap pool: " + leaked + " mbufs not returned");
                }
                pool.close();
            }
        } finally {
            quietly("ip", "netns", "delete", namespace);
            if (kind != Kind.TAP) {
                quietly("ip", "link", "delete", iface); // gone with its peer already, unless moving it failed
            }
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
