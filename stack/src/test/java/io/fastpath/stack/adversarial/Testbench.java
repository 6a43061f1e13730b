package io.fastpath.stack.adversarial;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.Port;
import io.fastpath.stack.Stack;
import io.fastpath.stack.StackConfig;
import io.fastpath.stack.tcp.TcpConfig;
import io.fastpath.stack.wire.Ipv4Address;
import io.fastpath.stack.wire.MacAddress;
import io.fastpath.testkit.NetNs;
import io.fastpath.testkit.Shell;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;

/**
 * The adversarial suite's rig (packetimpact's testbench/DUT split in one JVM):
 *
 * <pre>
 *   root namespace                          tester namespace (one per test class)
 *   fastpath Stack (DUT, .2)  af_packet  ── veth ──  inner: .1 (Linux: ping, legitimate clients)
 *   driven by the test thread                        .3 (scapy agent; nftables drops TCP to .3)
 *                                                    .100-.199 (spoofed; the agent answers their ARP)
 * </pre>
 *
 * The device under test is a fastpath {@link Stack} on net_af_packet over the veth's root end (or on net_tap,
 * {@link Kind#TAP}), started per test ({@link #start}) with its own MAC and a {@link DutServer}; the test
 * thread runs its duty cycle whenever it waits, so a test can assert on the stack's connections and counters
 * between segments. With {@link Kind#LINUX} the DUT is Linux in a second namespace ({@link LinuxPosixDut}).
 * The tester's kernel keeps the addresses (so ARP works) but never sees TCP for .3 (an input drop rule), so it
 * never answers the DUT with a RST. Test thread only.
 */
final class Testbench implements AutoCloseable {
    private static final AtomicInteger SUBNET = new AtomicInteger((int) (ProcessHandle.current().pid() % 50));
    static final long MS = 1_000_000L;
    final NetNs ns;
    final String net;
    final String outer;
    final String inner;
    final String linuxIp;
    final String testerIp;
    final String dutIp;
    final long dutMac;
    final TesterAgent agent;
    /** Where the DUT runs. */
    enum Kind { AF_PACKET, TAP, LINUX }

    final Kind kind;
    /** Linux as the DUT (kind LINUX): its namespace, and the posix agent that drives its sockets. */
    final NetNs linuxNs;
    final LinuxPosixDut posix;
    /** The DUT of the current test, whichever kind. */
    DeviceUnderTest device;
    private final Path dir;
    private final AtomicInteger ports = new AtomicInteger(30000);
    /** Background commands' final ("done") events that arrived while another command's reply was awaited. */
    private final Map<Long, Map<String, Object>> finished = new java.util.HashMap<>();
    /** DUT frames that arrived while we waited for a command's reply: expect() looks at them first. */
    private final Deque<Map<String, Object>> backlog = new ArrayDeque<>();
    /** The last frames passed over, for failure messages. */
    private final Deque<String> passedOver = new ArrayDeque<>();
    Dut dut;

    /** Changes to the DUT's stack configuration for the next {@link #startDut} (default: none). */
    java.util.function.UnaryOperator<StackConfig.Builder> stackOptions = b -> b;

    /** The tap port when the DUT sits on net_tap (kept for the class: the agent sniffs on its interface). */
    private final Port tapPort;
    private final PktmbufPool tapPool;

    /** The DUT on net_af_packet over a veth (the default). */
    Testbench(Path dir) throws IOException {
        this(dir, null, Kind.AF_PACKET);
    }

    /** fastpath on net_tap (see the next constructor). */
    Testbench(Path dir, PktmbufPool tapPool) throws IOException {
        this(dir, tapPool, Kind.TAP);
    }

    /**
     * Linux as the DUT: a second namespace behind a veth from the tester namespace, its sockets driven by
     * resources/adversarial/dut_agent.py, so that the same tests run against Linux's TCP.
     */
    static Testbench linux(Path dir) throws IOException {
        return new Testbench(dir, null, Kind.LINUX);
    }

    /**
     * With {@code tapPool}, the DUT sits on net_tap instead, the tap interface moved into the tester namespace.
     * Use it where af_packet would hide the stack's own behaviour: DPDK's af_packet PMD joins a fanout group
     * with PACKET_FANOUT_FLAG_DEFRAG, so the kernel reassembles IPv4 fragments before the DUT sees them.
     */
    private Testbench(Path dir, PktmbufPool tapPool, Kind kind) throws IOException {
        this.dir = dir;
        this.tapPool = tapPool;
        this.kind = kind;
        ns = NetNs.create();
        net = "10.84." + (SUBNET.incrementAndGet() % 250 + 1) + ".";
        linuxIp = net + "1";
        dutIp = net + "2";
        testerIp = net + "3";
        Port tap = null;
        NetNs l = null;
        outer = kind == Kind.AF_PACKET ? NetNs.uniqueName("o") : null;
        inner = NetNs.uniqueName(kind == Kind.TAP ? "t" : "i");
        try {
            long mac = StackConfig.derivedMac(Ipv4Address.parse(dutIp));
            if (kind == Kind.AF_PACKET) {
                ns.veth(outer, inner, linuxIp + "/24");
            } else if (kind == Kind.LINUX) {
                l = NetNs.create();
                String far = NetNs.uniqueName("l");
                Shell.run("ip", "link", "add", inner, "type", "veth", "peer", "name", far);
                Shell.run("ip", "link", "set", far, "netns", l.name());
                l.exec("ip", "addr", "add", dutIp + "/24", "dev", far);
                l.exec("ip", "link", "set", far, "up");
                l.tryExec(5, "ethtool", "-K", far, "tx", "off", "rx", "off");
                ns.adopt(inner, linuxIp + "/24");
                ns.tryExec(5, "ethtool", "-K", inner, "tx", "off", "rx", "off");
                mac = MacAddress.parse(l.exec("cat", "/sys/class/net/" + far + "/address").trim());
            } else {
                tap = EthDevPort.openVdev("net_tap" + inner + ",iface=" + inner, tapPool, EthDevPort.Config.defaults());
                ns.adopt(inner, linuxIp + "/24");
                ns.tryExec(5, "ethtool", "-K", inner, "tx", "off", "rx", "off");
            }
            tapPort = tap;
            dutMac = mac;
            linuxNs = l;
            ns.exec("ip", "addr", "add", testerIp + "/24", "dev", inner);
            silenceKernel(ns, testerIp);
            agent = new TesterAgent(ns.name(), dir, inner, testerIp, dutIp, MacAddress.format(dutMac),
                net + "100", net + "199");
            posix = l != null ? new LinuxPosixDut(this, l, script("dut_agent.py")) : null;
        } catch (RuntimeException | IOException e) {
            if (tap != null) {
                tap.close();
            }
            if (l != null) {
                l.close();
            }
            ns.close();
            if (outer != null) {
                Shell.quietly("ip", "link", "delete", outer);
            }
            throw e;
        }
    }

    /** nftables in a tester namespace: its kernel never sees TCP for the scapy address, so never answers. */
    static void silenceKernel(NetNs ns, String... addresses) {
        ns.exec("nft", "add table inet fpadv");
        ns.exec("nft", "add chain inet fpadv in { type filter hook input priority -300 ; }");
        for (String a : addresses) {
            silence(ns, a);
        }
    }

    /** One more address whose TCP the tester's kernel must not see. */
    static void silence(NetNs ns, String address) {
        ns.exec("nft", "add rule inet fpadv in ip daddr " + address + " meta l4proto tcp counter drop");
    }

    /** A fresh tester-side port (a fresh 4-tuple per connection). */
    int nextPort() {
        return ports.incrementAndGet();
    }

    // ================================================================================== device under test

    /** The device under test for one test: a fastpath stack listening on {@code port} with a DutServer. */
    final class Dut implements DeviceUnderTest {
        final Port port;
        final Stack stack;
        final DutServer server = new DutServer();
        final PktmbufPool pool;
        final int listenPort;

        Dut(PktmbufPool pool, TcpConfig tcp, int listenPort) {
            this.pool = pool;
            this.listenPort = listenPort;
            port = tapPort != null ? tapPort : EthDevPort.openVdev("net_af_packet" + outer + ",iface=" + outer
                + ",qdisc_bypass=0", pool, EthDevPort.Config.defaults());
            // A 256-entry neighbour table (the default is 1,024): the tester's /24 can fill it (the ARP flood).
            stack = new Stack(port, stackOptions.apply(StackConfig.builder().name(NetNs.uniqueName("s"))
                .cidr(dutIp + "/24").tcp(tcp).arp(256, TimeUnit.SECONDS.toNanos(60), TimeUnit.SECONDS.toNanos(1), 3)
                .countersFile(dir.resolve(NetNs.uniqueName("c") + ".counters"))).build());
            stack.onStart();
            int status = stack.tcp().listen(0, listenPort, server);
            if (status != 0) {
                throw new IllegalStateException("listen " + listenPort + ": " + Integer.toHexString(status));
            }
        }

        /** Connections table as the stack describes it (one line each: ports, peer, state). */
        @Override
        public String describe() {
            return stack.tcp().describe();
        }

        @Override
        public DeviceUnderTest.Connection accepted(int remotePort) {
            return server.get(remotePort);
        }

        @Override
        public boolean inTimeWait(int remotePort) {
            return describe().contains(":" + remotePort + " TIME-WAIT");
        }

        @Override
        public int connectionCount() {
            return stack.tcp().connectionCount();
        }

        @Override
        public void consume(boolean on) {
            server.consume = on;
            if (on) {
                server.byRemotePort.values().forEach(a -> {
                    if (a.open()) {
                        a.connection.resumeReceive();
                    }
                });
            }
        }

        @Override
        public Dut fastpath() {
            return this;
        }

        @Override
        public void close() {
            stack.onClose();
            stack.close();
            if (port != tapPort) {
                port.close();
                assertEquals(0, pool.inUseCount(), "every mbuf back in the pool");
            } // else the tap's receive ring holds mbufs until the class ends (checked in Testbench.close)
        }
    }

    Dut startDut(PktmbufPool pool, TcpConfig tcp, int listenPort) {
        backlog.clear();
        agent.events.clear();
        dut = new Dut(pool, tcp, listenPort);
        device = dut;
        return dut;
    }

    /**
     * Starts the DUT of this testbench's kind for one test: fastpath with {@code tcp}, or Linux listening with
     * the receive buffer of {@code tcp} when it is not the default (Linux's other defaults stay).
     */
    DeviceUnderTest start(PktmbufPool pool, TcpConfig tcp, int listenPort) {
        if (kind != Kind.LINUX) {
            return startDut(pool, tcp, listenPort);
        }
        backlog.clear();
        agent.events.clear();
        int rcvbuf = tcp.receiveBufferBytes() != TcpConfig.defaults().receiveBufferBytes() ? tcp.receiveBufferBytes() : 0;
        posix.listen(listenPort, rcvbuf, tcp.fastOpen() ? 16 : 0);
        device = posix;
        return posix;
    }

    void stopDut() {
        if (posix != null && device == posix) {
            device = null;
            posix.reset();
        }
        if (dut != null) {
            Dut d = dut;
            dut = null;
            device = null;
            d.close();
        }
    }

    /** Whether background command {@code id} of the agent has ended (its "done" event seen, and kept for reply). */
    boolean finished(long id) {
        if (finished.containsKey(id)) {
            return true;
        }
        for (Map<String, Object> e : agent.events) {
            if (e.get("id") instanceof Long l && l == id && Boolean.TRUE.equals(e.get("done"))) {
                return true;
            }
        }
        return false;
    }

    /** One duty cycle of the DUT (nothing when the DUT is Linux). */
    int pump() {
        return dut == null ? 0 : dut.stack.doWork();
    }

    /** Runs the DUT for a while. */
    void runFor(long ms) {
        long end = System.nanoTime() + ms * MS;
        while (System.nanoTime() < end) {
            if (pump() == 0) {
                Thread.onSpinWait();
            }
        }
    }

    /** Runs the DUT until {@code done}; false on time-out. */
    boolean runUntil(BooleanSupplier done, long timeoutMs) {
        long deadline = System.nanoTime() + timeoutMs * MS;
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            if (pump() == 0) {
                Thread.onSpinWait();
            }
        }
        return true;
    }

    // ================================================================================== the agent

    /** Sends segments through the agent and waits (running the DUT) until they left. */
    void send(Tcp... segments) {
        sendSpaced(0, segments);
    }

    /** Sends segments {@code gapMs} apart. */
    void sendSpaced(int gapMs, Tcp... segments) {
        List<Object> specs = new ArrayList<>();
        for (Tcp t : segments) {
            specs.add(t.spec());
        }
        reply(agent.command(Map.of("op", "send", "segs", specs, "gap_ms", gapMs)), 5000 + (long) gapMs * segments.length);
    }

    /** Waits for the reply to command {@code id} ("ok" or an attack's "done"), keeping DUT frames. */
    Map<String, Object> reply(long id, long timeoutMs) {
        return reply(agent, id, e -> "ok".equals(e.get("ev")) || Boolean.TRUE.equals(e.get("done")), timeoutMs);
    }

    /**
     * Waits (running the DUT) for an event of command {@code id} from {@code agent} that satisfies
     * {@code wanted}; DUT frames that arrive meanwhile are kept for {@link #expect}.
     */
    Map<String, Object> reply(TesterAgent agent, long id, Predicate<Map<String, Object>> wanted, long timeoutMs) {
        long deadline = System.nanoTime() + timeoutMs * MS;
        Map<String, Object> early = agent == this.agent ? finished.remove(id) : null;
        if (early != null && wanted.test(early)) {
            return early;
        }
        while (true) {
            Map<String, Object> e = agent.events.poll();
            if (e == null) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("no reply from the tester agent to command " + id + " in " + timeoutMs
                        + " ms; alive " + agent.alive() + ", stderr " + agent.stderr());
                }
                if (pump() == 0) {
                    Thread.onSpinWait();
                }
                continue;
            }
            Object eid = e.get("id");
            if (eid instanceof Long l && l == id) {
                if ("error".equals(e.get("ev"))) {
                    throw new AssertionError("tester agent: " + e.get("error") + " " + agent.stderr());
                }
                if (wanted.test(e)) {
                    return e;
                }
                continue; // progress report
            }
            if (agent == this.agent && eid instanceof Long other && Boolean.TRUE.equals(e.get("done"))) {
                finished.put(other, e); // a background command ended while we waited for another
                continue;
            }
            if (e.containsKey("id") || agent != this.agent) {
                continue; // an older command's progress, or frames nobody expects
            }
            backlog.add(e);
        }
    }

    /** The next DUT frame satisfying {@code scope} and {@code wanted}; frames in scope that don't match are passed over. */
    Segment poll(Predicate<Segment> scope, Predicate<Segment> wanted, long timeoutMs) {
        long deadline = System.nanoTime() + timeoutMs * MS;
        while (true) {
            Map<String, Object> e = backlog.poll();
            if (e == null) {
                e = agent.events.poll();
            }
            if (e == null) {
                if (System.nanoTime() > deadline) {
                    return null;
                }
                if (pump() == 0) {
                    Thread.onSpinWait();
                }
                continue;
            }
            if (e.containsKey("id")) {
                if (e.get("id") instanceof Long other && Boolean.TRUE.equals(e.get("done"))) {
                    finished.put(other, e); // kept for reply()
                }
                continue;
            }
            Segment s = Segment.of(e);
            if (!scope.test(s)) {
                continue;
            }
            if (wanted.test(s)) {
                return s;
            }
            passedOver.add(s.toString());
            if (passedOver.size() > 20) {
                passedOver.poll();
            }
        }
    }

    Segment expect(Predicate<Segment> scope, Predicate<Segment> wanted, long timeoutMs, String what) {
        passedOver.clear();
        Segment s = poll(scope, wanted, timeoutMs);
        if (s == null) {
            throw new AssertionError("expected " + what + " within " + timeoutMs + " ms; passed over " + passedOver
                + (dut != null ? "\nDUT: " + dut.describe() : ""));
        }
        return s;
    }

    void expectNothing(Predicate<Segment> scope, Predicate<Segment> unwanted, long timeoutMs, String what) {
        Segment s = poll(scope, unwanted, timeoutMs);
        if (s != null) {
            throw new AssertionError("expected no " + what + " but got " + s);
        }
    }

    /** Forgets frames received so far. */
    void drain() {
        runFor(20);
        backlog.clear();
        agent.events.removeIf(e -> !e.containsKey("id"));
    }

    // ================================================================================== Linux in the namespace

    /** Copies a script from resources/adversarial into the test's directory (once). */
    Path script(String name) throws IOException {
        Path file = dir.resolve(name);
        if (!java.nio.file.Files.exists(file)) {
            try (java.io.InputStream in = Testbench.class.getResourceAsStream("/adversarial/" + name)) {
                java.nio.file.Files.write(file, in.readAllBytes());
            }
        }
        return file;
    }

    /** Starts a command in the tester namespace (output merged) without waiting. */
    Process startInTester(String... command) throws IOException {
        List<String> full = new ArrayList<>(List.of("ip", "netns", "exec", ns.name()));
        full.addAll(List.of(command));
        Process p = new ProcessBuilder(full).redirectErrorStream(true).start();
        p.getOutputStream().close();
        return p;
    }

    /** Runs the DUT until every process exited (or the time is up: those still running are killed). */
    List<String> outputs(List<Process> processes, long timeoutSeconds) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
        while (processes.stream().anyMatch(Process::isAlive) && System.nanoTime() < deadline) {
            if (pump() == 0) {
                if (dut == null) {
                    try {
                        Thread.sleep(5);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        break;
                    }
                } else {
                    Thread.onSpinWait();
                }
            }
        }
        List<String> out = new ArrayList<>();
        for (Process p : processes) {
            boolean killed = p.isAlive();
            if (killed) {
                p.destroyForcibly();
            }
            try {
                p.waitFor();
                out.add(new String(p.getInputStream().readAllBytes()).trim() + (killed ? " (killed: time-out)" : ""));
            } catch (IOException | InterruptedException e) {
                out.add(e.toString());
            }
        }
        return out;
    }

    @Override
    public void close() {
        try {
            stopDut();
        } finally {
            if (agent != null) {
                agent.close();
            }
            if (tapPort != null) {
                tapPort.close();
                assertEquals(0, tapPool.inUseCount(), "every mbuf back in the pool");
            }
            if (posix != null) {
                posix.close();
            }
            if (linuxNs != null) {
                linuxNs.close();
            }
            ns.close();
            if (outer != null) {
                Shell.quietly("ip", "link", "delete", outer);
            }
        }
    }
}
