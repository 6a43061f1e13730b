package io.fastpath.perf;

import io.fastpath.dpdk.Eal;
import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.Mbuf;
import io.fastpath.dpdk.MbufArray;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.Port;
import io.fastpath.dpdk.RingPair;
import io.fastpath.stack.NtStatus;
import io.fastpath.stack.Stack;
import io.fastpath.stack.StackConfig;
import io.fastpath.stack.app.EchoServer;
import io.fastpath.stack.counters.Budget;
import io.fastpath.stack.tcp.TcpConfig;
import io.fastpath.stack.wire.EthernetFrame;
import io.fastpath.stack.wire.Ipv4Address;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * TCP latency and throughput of fastpath, against the frame floor beneath it and java.nio over the kernel's
 * loopback, and against Linux over net_tap: a harness, not JMH, because each measurement is a system of two
 * threads (two stacks, each busy-polling on its own thread, or two blocking socket threads).
 *
 * <p>Phases, in order (each builds its own ring pair, stacks and threads, and tears them down):
 * <ol>
 *   <li>{@code floor_rtt}: one 64-byte frame bounced between two threads over a ring pair, no stack;
 *   <li>{@code fastpath_rtt}: 64-byte TCP ping-pong between two stacks over a ring pair, TCP_NODELAY both sides;
 *   <li>{@code fastpath_bulk_1}, {@code fastpath_bulk_4}: bulk transfer over 1 and 4 connections into a
 *       discard server;
 *   <li>{@code nio_rtt}, {@code nio_bulk_1}, {@code nio_bulk_4}: the same with blocking {@code SocketChannel}s
 *       on 127.0.0.1 in this JVM ({@link NioLoopback}); {@code nio_rtt_spin}: the ping-pong again with
 *       non-blocking sockets and both threads spinning on {@code read};
 *   <li>{@code tap_rtt}, {@code tap_bulk_1}: a fastpath stack on net_tap against Python in a network
 *       namespace ({@link TapLink}; needs root).
 * </ol>
 *
 * <p>Every phase measures per-thread allocation in its measured window (bytes per round trip, target 0), GC
 * counts, and for stacks their retransmission, timeout and drop counters. Results go to one JSON file
 * ({@code --out}); {@code perf/run-tcp.sh} runs this three times and {@code perf/scripts/tcp_report.py}
 * turns the runs into docs/perf/tcp.md.
 *
 * <p>Usage: {@code java -cp perf/target/benchmarks.jar io.fastpath.perf.TcpHarness --out FILE [options]},
 * options as in {@link Options#parse}.
 */
public final class TcpHarness {
    static final int CLIENT_IP = Ipv4Address.parse("10.77.1.1");
    static final int SERVER_IP = Ipv4Address.parse("10.77.1.2");
    static final int ECHO_PORT = 7;
    static final int DISCARD_PORT = 9;
    /** As the first-light benchmarks' ring pair. */
    static final int RING_SIZE = 1024;
    /** Mbufs per pool; {@code -Dfastpath.harness.poolSize} for experiments (docs/perf/budget.md, the tail). */
    static final int POOL_SIZE = Integer.getInteger("fastpath.harness.poolSize", 16383);
    static final int POOL_CACHE = 256;
    static final int CLIENT_CPU = 0;
    static final int SERVER_CPU = 1;
    private static final int ETHERTYPE_EXPERIMENTAL = 0x88B5;

    /** Command-line options. */
    record Options(Path out, Set<String> phases, long rttWarmup, double rttWarmupSeconds, long rttCount,
                   long nioRttWarmup, long tapRttWarmup, long tapRttCount, int messageSize,
                   double bulkWarmupSeconds, double bulkSeconds, boolean pin, List<String> rawArgs) {
        static final List<String> ALL_PHASES = List.of("floor_rtt", "fastpath_rtt", "fastpath_bulk_1",
            "fastpath_bulk_4", "nio_rtt", "nio_rtt_spin", "nio_bulk_1", "nio_bulk_4", "tap_rtt", "tap_bulk_1");

        /**
         * {@code --out FILE} (required), {@code --phases a,b,...} (default all), {@code --rtt-warmup N}
         * (100000: floor and fastpath), {@code --rtt-warmup-seconds S} (2: every ping-pong warms up for at
         * least this long as well, so the JIT is done), {@code --rtt-count N} (200000: every ping-pong),
         * {@code --nio-rtt-warmup N} (20000: the kernel's round trips are 10-100 times slower),
         * {@code --tap-rtt-warmup N} (20000), {@code --tap-rtt-count N} (as --rtt-count),
         * {@code --message-size B} (64), {@code --bulk-warmup S} (1), {@code --bulk-seconds S} (4),
         * {@code --no-pin} (leave threads unpinned). Round-trip counts are multiples of 1000.
         */
        static Options parse(String[] args) {
            Path out = null;
            Set<String> phases = new LinkedHashSet<>(ALL_PHASES);
            long rttWarmup = 100_000;
            double rttWarmupSeconds = 2;
            long rttCount = 200_000;
            long nioWarmup = 20_000;
            long tapWarmup = 20_000;
            long tapCount = -1;
            int size = 64;
            double bulkWarmup = 1;
            double bulkSeconds = 4;
            boolean pin = true;
            for (int i = 0; i < args.length; i++) {
                String a = args[i];
                switch (a) {
                    case "--out" -> out = Path.of(args[++i]);
                    case "--phases" -> {
                        phases = new LinkedHashSet<>(Arrays.asList(args[++i].split(",")));
                        for (String p : phases) {
                            if (!ALL_PHASES.contains(p)) {
                                throw new IllegalArgumentException("unknown phase " + p + "; phases: " + ALL_PHASES);
                            }
                        }
                    }
                    case "--rtt-warmup" -> rttWarmup = Long.parseLong(args[++i]);
                    case "--rtt-warmup-seconds" -> rttWarmupSeconds = Double.parseDouble(args[++i]);
                    case "--rtt-count" -> rttCount = Long.parseLong(args[++i]);
                    case "--nio-rtt-warmup" -> nioWarmup = Long.parseLong(args[++i]);
                    case "--tap-rtt-warmup" -> tapWarmup = Long.parseLong(args[++i]);
                    case "--tap-rtt-count" -> tapCount = Long.parseLong(args[++i]);
                    case "--message-size" -> size = Integer.parseInt(args[++i]);
                    case "--bulk-warmup" -> bulkWarmup = Double.parseDouble(args[++i]);
                    case "--bulk-seconds" -> bulkSeconds = Double.parseDouble(args[++i]);
                    case "--no-pin" -> pin = false;
                    default -> throw new IllegalArgumentException("unknown option " + a);
                }
            }
            if (out == null) {
                throw new IllegalArgumentException("--out FILE is required");
            }
            return new Options(out, phases, rttWarmup, rttWarmupSeconds, rttCount, nioWarmup, tapWarmup,
                tapCount < 0 ? rttCount : tapCount, size, bulkWarmup, bulkSeconds, pin, List.of(args));
        }

        int clientCpu() {
            return pin && Runtime.getRuntime().availableProcessors() >= 2 ? CLIENT_CPU : -1;
        }

        long rttWarmupNs() {
            return (long) (rttWarmupSeconds * 1e9);
        }

        int serverCpu() {
            return pin && Runtime.getRuntime().availableProcessors() >= 2 ? SERVER_CPU : -1;
        }
    }

    /** Where the stacks' counters files go: tmpfs when there is one (the stack writes them on every frame). */
    private static final Path SHM = Files.isDirectory(Path.of("/dev/shm")) ? Path.of("/dev/shm")
        : Path.of(System.getProperty("java.io.tmpdir"));

    private final Options options;
    private PktmbufPool poolA;
    private PktmbufPool poolB;
    /** Pools for {@link #JUMBO_LINK}'s frames, made on first use ({@link #closePools} frees them too). */
    private PktmbufPool jumboPoolA;
    private PktmbufPool jumboPoolB;
    private int round;

    TcpHarness(Options options) {
        this.options = options;
    }

    /** Creates the two pools the phases use (after {@code Eal.shared()}); {@link #closePools} frees them. */
    void openPools() {
        Eal.shared();
        poolA = PktmbufPool.create("tcph_pa", POOL_SIZE, POOL_CACHE, PktmbufPool.DEFAULT_DATA_ROOM);
        poolB = PktmbufPool.create("tcph_pb", POOL_SIZE, POOL_CACHE, PktmbufPool.DEFAULT_DATA_ROOM);
    }

    /** Shares another harness's pools (bench runs many option sets in one JVM). */
    TcpHarness withPools(TcpHarness other) {
        other.openJumboPools();
        poolA = other.poolA;
        poolB = other.poolB;
        jumboPoolA = other.jumboPoolA;
        jumboPoolB = other.jumboPoolB;
        round = other.round++ * 100;
        return this;
    }

    /**
     * The ring pair's large-MTU link (docs/perf/bulk.md): a 9,000-byte MTU (jumbo frames) with checksum offload
     * declared by the link. The default link stays the ring PMD's 1,500 bytes with software checksums. A
     * 64,000-byte MTU (near the largest one mbuf holds; loopback has 65,536) measured slower here: each segment
     * is copied once into an mbuf and read once by the receiver, and 64 KiB mbufs cycling through the pool do
     * not stay in the caches that 9 KiB ones do. {@code -Dfastpath.bench.jumbo.mtu}, {@code .pool},
     * {@code .cache}, {@code .buffer} and {@code .descriptors} change the link and its pools (exploration; the
     * documented runs use the defaults).
     */
    static final RingPair.Link JUMBO_LINK = RingPair.Link.offloading(Integer.getInteger("fastpath.bench.jumbo.mtu",
        9_000));
    /** Mbufs per jumbo pool (9 MiB of 9 KiB buffers): 4 connections × 1 MiB windows each way fit. */
    private static final int JUMBO_POOL_SIZE = Integer.getInteger("fastpath.bench.jumbo.pool", 1023);
    private static final int JUMBO_POOL_CACHE = Integer.getInteger("fastpath.bench.jumbo.cache", 32);
    /** The ring PMD holds no mbufs in its descriptors; few declared keeps the stack's reserve of a small pool small. */
    private static final int JUMBO_DESCRIPTORS = Integer.getInteger("fastpath.bench.jumbo.descriptors", 32);
    private static final EthDevPort.Config JUMBO_PORT = new EthDevPort.Config(JUMBO_DESCRIPTORS, JUMBO_DESCRIPTORS,
        true, 0L, 0, true);

    /** Creates the jumbo link's pools if not yet made. */
    void openJumboPools() {
        if (jumboPoolA == null) {
            jumboPoolA = PktmbufPool.create("tcph_ja", JUMBO_POOL_SIZE, JUMBO_POOL_CACHE, JUMBO_LINK.dataRoom());
            jumboPoolB = PktmbufPool.create("tcph_jb", JUMBO_POOL_SIZE, JUMBO_POOL_CACHE, JUMBO_LINK.dataRoom());
        }
    }

    void closePools() {
        poolA.close();
        poolB.close();
        if (jumboPoolA != null) {
            jumboPoolA.close();
            jumboPoolB.close();
        }
    }

    public static void main(String[] args) throws Exception {
        Options options;
        try {
            options = Options.parse(args);
        } catch (RuntimeException e) {
            System.err.println(e.getMessage());
            System.exit(2);
            return;
        }
        int failures = new TcpHarness(options).run();
        System.exit(failures == 0 ? 0 : 1);
    }

    private int run() throws IOException {
        Json json = new Json().beginObject();
        json.field("args", options.rawArgs());
        json.beginObject("jvm").field("version", System.getProperty("java.vm.version"))
            .field("name", System.getProperty("java.vm.name")).field("vendor", System.getProperty("java.vm.vendor"))
            .field("home", System.getProperty("java.home"))
            .field("flags", ManagementFactory.getRuntimeMXBean().getInputArguments())
            .field("available_processors", Runtime.getRuntime().availableProcessors())
            .field("process_cpus", Affinity.current()).endObject();
        json.field("rtt_warmup", options.rttWarmup()).field("rtt_warmup_s", options.rttWarmupSeconds())
            .field("rtt_count", options.rttCount())
            .field("nio_rtt_warmup", options.nioRttWarmup())
            .field("tap_rtt_warmup", options.tapRttWarmup()).field("tap_rtt_count", options.tapRttCount())
            .field("message_size", options.messageSize()).field("bulk_warmup_s", options.bulkWarmupSeconds())
            .field("bulk_s", options.bulkSeconds()).field("pinned", options.pin());
        long started = System.nanoTime();
        openPools();
        int failures = 0;
        json.beginArray("results");
        try {
            for (String phase : options.phases()) {
                if (phase.startsWith("tap_")) {
                    continue; // below, sharing one namespace
                }
                Json result = new Json().beginObject().field("name", phase);
                long phaseStart = System.nanoTime();
                System.out.println("== " + phase);
                try {
                    switch (phase) {
                        case "floor_rtt" -> floorRtt(result);
                        case "fastpath_rtt" -> fastpathRtt(result, 1, "fastpath_rtt");
                        case "fastpath_bulk_1" -> fastpathBulk(result, 1, false);
                        case "fastpath_bulk_4" -> fastpathBulk(result, 4, false);
                        case "nio_rtt" -> NioLoopback.rtt(result, options, false);
                        case "nio_rtt_spin" -> NioLoopback.rtt(result, options, true);
                        case "nio_bulk_1" -> NioLoopback.bulk(result, options, 1, false);
                        case "nio_bulk_4" -> NioLoopback.bulk(result, options, 4, false);
                        default -> throw new IllegalStateException(phase);
                    }
                } catch (RuntimeException | IOException e) {
                    failures++;
                    result.field("error", String.valueOf(e));
                    System.out.println("   FAILED: " + e);
                    e.printStackTrace(System.out);
                }
                result.field("phase_s", (System.nanoTime() - phaseStart) / 1e9).endObject();
                System.out.println("   " + result);
                json.element(result);
            }
            List<String> tapPhases = options.phases().stream().filter(p -> p.startsWith("tap_")).toList();
            if (!tapPhases.isEmpty()) {
                failures += TapLink.runAll(json, options, tapPhases);
            }
        } finally {
            json.endArray();
            json.field("total_s", (System.nanoTime() - started) / 1e9);
            json.endObject();
            Files.writeString(options.out(), json + "\n", StandardCharsets.UTF_8);
            System.out.println("wrote " + options.out());
            closePools();
        }
        return failures;
    }

    // ================================================================================================ floor

    /**
     * The floor: one 64-byte frame bounces between thread A (port A: transmit, spin on receive, record) and
     * thread B (port B: receive, transmit back). Two burst calls and one ring each way: what a round trip
     * costs before any stack runs.
     */
    private void floorRtt(Json result) {
        RingPair pair = RingPair.create("tcpf" + round++, RING_SIZE, poolA, poolB, EthDevPort.Config.defaults());
        MbufArray frame = new MbufArray(1);
        if (!poolA.allocBulk(frame, 0, 1)) {
            throw new IllegalStateException("no mbuf");
        }
        long m = frame.get(0);
        UnsafeBuffer view = new UnsafeBuffer(Mbuf.dataAddress(m), options.messageSize());
        view.setMemory(0, options.messageSize(), (byte) 0);
        new EthernetFrame().wrap(view, 0, options.messageSize()).writeHeader(0x02_00_00_00_00_0BL,
            0x02_00_00_00_00_0AL, ETHERTYPE_EXPERIMENTAL);
        Mbuf.setLength(m, options.messageSize());
        RttRecorder recorder = new RttRecorder(options.rttWarmup(), options.rttWarmupNs(), options.rttCount());
        FloorClient client = new FloorClient(pair.a(), frame, recorder);
        FloorEcho echo = new FloorEcho(pair.b());
        PollThread echoThread = new PollThread("floor-echo", options.serverCpu(), true, echo, null, null);
        PollThread clientThread = new PollThread("floor-client", options.clientCpu(), true, client, null, null);
        try {
            echoThread.start();
            clientThread.start();
            List<Measure.Probe> probes = List.of(Measure.Probe.of(clientThread), Measure.Probe.of(echoThread));
            measureRtt(result, recorder, probes, () -> {
                clientThread.checkFailure();
                echoThread.checkFailure();
            });
            Measure.writeDistribution(options.out(), "floor_rtt", recorder);
        } finally {
            clientThread.close();
            echoThread.close();
            // The frame is back on A's side (the client holds it between round trips) or, after a failure,
            // somewhere in a ring: drained below.
            if (!client.inFlight) {
                frame.set(0, client.frame);
                frame.freeAll(1);
            }
            RingRig.drain(pair.a());
            RingRig.drain(pair.b());
            pair.close();
            checkPools(result);
        }
    }

    /** Thread A of the floor: send the frame, spin until it is back, record, again (until the thread stops). */
    static final class FloorClient implements PollThread.Work {
        private final EthDevPort port;
        private final MbufArray burst;
        private final RttRecorder recorder;
        long frame;
        boolean inFlight;
        private long sentAtNs;

        FloorClient(EthDevPort port, MbufArray frame, RttRecorder recorder) {
            this.port = port;
            this.burst = new MbufArray(1);
            this.frame = frame.get(0);
            this.recorder = recorder;
        }

        @Override
        public int doWork() {
            if (!inFlight) {
                burst.set(0, frame);
                sentAtNs = System.nanoTime();
                if (port.transmit(burst, 0, 1) != 1) {
                    return 0; // ring full: cannot happen with one frame, try again
                }
                inFlight = true;
                return 1;
            }
            if (port.receive(burst, 1) == 0) {
                return 0;
            }
            long now = System.nanoTime();
            frame = burst.get(0);
            inFlight = false;
            recorder.record(now - sentAtNs, now);
            return 1;
        }
    }

    /** Thread B of the floor: whatever arrives goes straight back. */
    static final class FloorEcho implements PollThread.Work {
        private final EthDevPort port;
        private final MbufArray burst = new MbufArray(32);

        FloorEcho(EthDevPort port) {
            this.port = port;
        }

        @Override
        public int doWork() {
            int n = port.receive(burst, 32);
            int sent = 0;
            while (sent < n) {
                sent += port.transmit(burst, sent, n - sent);
            }
            return n;
        }
    }

    // ============================================================================================ stacks

    /** Two stacks on a ring pair, each on its own pinned poll thread. */
    final class RingStacks implements AutoCloseable {
        final RingPair pair;
        final Stack client;
        final Stack server;
        PollThread clientThread;
        PollThread serverThread;

        RingStacks(String name, TcpConfig tcp) throws IOException {
            this(name, tcp, RingPair.Link.ETHERNET);
        }

        /** Over {@code link}: the default Ethernet on the harness's pools, the jumbo link on its own. */
        RingStacks(String name, TcpConfig tcp, RingPair.Link link) throws IOException {
            boolean jumbo = link != RingPair.Link.ETHERNET;
            if (jumbo) {
                openJumboPools();
            }
            pair = jumbo ? RingPair.create(name, RING_SIZE, jumboPoolA, jumboPoolB, JUMBO_PORT, link)
                : RingPair.create(name, RING_SIZE, poolA, poolB, EthDevPort.Config.defaults());
            client = newStack(pair.a(), name + "c", CLIENT_IP, tcp);
            server = newStack(pair.b(), name + "s", SERVER_IP, tcp);
        }

        void start(Runnable serverStart) {
            start(serverStart, client::doWork);
        }

        /** As {@link #start(Runnable)}, the client's poll thread running {@code clientWork} (which polls it). */
        void start(Runnable serverStart, PollThread.Work clientWork) {
            // Busy-spin poll threads: idle duty cycles may share a clock reading (set before the threads start).
            server.skipIdleClockReads(true);
            client.skipIdleClockReads(true);
            serverThread = new PollThread("fastpath-server", options.serverCpu(), true, server::doWork, () -> {
                server.onStart();
                serverStart.run();
            }, server::onClose).start();
            clientThread = new PollThread("fastpath-client", options.clientCpu(), true, clientWork,
                client::onStart, client::onClose).start();
        }

        void check() {
            clientThread.checkFailure();
            serverThread.checkFailure();
        }

        List<Measure.Probe> probes() {
            return List.of(Measure.Probe.of(clientThread), Measure.Probe.of(serverThread));
        }

        /** Restarts both stacks' stage timestamps (with {@code -Dfastpath.budget=true}; else nothing). */
        void resetBudgets() {
            if (Budget.ENABLED) {
                client.budget().reset();
                server.budget().reset();
            }
        }

        /**
         * Prints both stacks' stages (docs/perf/budget.md) next to the measured round trip, with
         * {@code -Dfastpath.budget=true}. The ping-pong still runs: a torn read of a counter is possible.
         */
        void printBudgets(String name, RttRecorder recorder) {
            if (!Budget.ENABLED) {
                return;
            }
            System.out.printf("budget %s: round trip p50 %d ns, mean %.0f ns over %d round trips%n", name,
                recorder.histogram.getValueAtPercentile(50), recorder.histogram.getMean(),
                recorder.histogram.getTotalCount());
            client.budget().print(System.out, name + " client");
            server.budget().print(System.out, name + " server");
        }

        void counters(Json result) {
            result.beginArray("counters");
            Measure.appendCounters(result, "client", client);
            Measure.appendCounters(result, "server", server);
            result.endArray();
        }

        @Override
        public void close() {
            try {
                if (clientThread != null) {
                    clientThread.close();
                }
            } finally {
                try {
                    if (serverThread != null) {
                        serverThread.close();
                    }
                } finally {
                    closeStack(client);
                    closeStack(server);
                    RingRig.drain(pair.a());
                    RingRig.drain(pair.b());
                    pair.close();
                }
            }
        }
    }

    static Stack newStack(Port port, String name, int ip, TcpConfig tcp) throws IOException {
        Path counters = Files.createTempFile(SHM, "fastpath-tcp-" + name + "-", ".counters");
        try {
            return new Stack(port, StackConfig.builder().name(name).address(ip, 24).tcp(tcp).countersFile(counters)
                .build());
        } catch (RuntimeException e) {
            Files.deleteIfExists(counters);
            throw e;
        }
    }

    static void closeStack(Stack stack) {
        stack.close();
        try {
            Files.deleteIfExists(stack.counters().file());
        } catch (IOException e) {
            System.err.println("cannot delete " + stack.counters().file() + ": " + e);
        }
    }

    /** Send and receive buffer of each end on the jumbo link. */
    static final int JUMBO_BUFFER = Integer.getInteger("fastpath.bench.jumbo.buffer", 1 << 20);

    static TcpConfig tcpConfig() {
        return TcpConfig.defaults().withTimeWait(TimeUnit.MILLISECONDS.toNanos(100));
    }

    /**
     * Ping-pong of {@code --message-size} bytes between two stacks over the ring pair, on {@code connections}
     * connections at once (each with one message in flight, all recorded into one histogram on the client's
     * poll thread); the distribution goes to {@code <out>.<name>.hgrm} and {@code .hlog}. Returns the recorder.
     */
    RttRecorder fastpathRtt(Json result, int connections, String name) throws IOException {
        RttRecorder recorder = new RttRecorder(options.rttWarmup(), options.rttWarmupNs(), options.rttCount());
        PingPongClient[] pingPongs = new PingPongClient[connections];
        for (int i = 0; i < connections; i++) {
            pingPongs[i] = new PingPongClient(recorder, options.messageSize());
        }
        EchoServer echo = new EchoServer();
        try (RingStacks s = new RingStacks("tcpr" + round++, tcpConfig())) {
            s.start(() -> require(echo.listen(s.server.tcp(), ECHO_PORT), "listen"));
            s.clientThread.run(() -> {
                for (PingPongClient pingPong : pingPongs) {
                    require(s.client.tcp().connect(0, 0, SERVER_IP, ECHO_PORT, pingPong), NtStatus.STATUS_PENDING,
                        "connect");
                }
            });
            result.field("connections", connections);
            measureRtt(result, recorder, s.probes(), s::check, s::resetBudgets);
            Measure.writeDistribution(options.out(), name, recorder);
            s.printBudgets(name, recorder);
            result.field("mss", s.clientThread.call(() -> pingPongs[0].connection().mss()));
            closeGracefully(result, s.clientThread, () -> {
                for (PingPongClient pingPong : pingPongs) {
                    pingPong.stop();
                }
            }, () -> java.util.Arrays.stream(pingPongs).allMatch(p -> p.closeStatus() != -1)
                && s.serverThread.call(echo::closed) == connections, s::check);
            s.counters(result);
        }
        checkPools(result);
        return recorder;
    }

    /**
     * Bulk transfer from the client stack into a discard server on the other, over {@code connections};
     * {@code verify}: the server checks every byte of each stream against {@link BulkSender}'s pattern.
     * Returns the Gbit/s measured at the receiver.
     */
    double fastpathBulk(Json result, int connections, boolean verify) throws IOException {
        return fastpathBulk(result, connections, verify, RingPair.Link.ETHERNET);
    }

    /**
     * As {@link #fastpathBulk(Json, int, boolean)} over {@code link}; on the jumbo link both ends have 1 MiB
     * buffers (116 of its segments; the kernel's loopback auto-tunes its buffers to several MiB).
     */
    double fastpathBulk(Json result, int connections, boolean verify, RingPair.Link link) throws IOException {
        BulkSender sender = new BulkSender(connections);
        DiscardServer sink = new DiscardServer(verify);
        double gbit;
        boolean jumbo = link != RingPair.Link.ETHERNET;
        TcpConfig tcp = jumbo ? tcpConfig().withBuffers(JUMBO_BUFFER, JUMBO_BUFFER) : tcpConfig();
        try (RingStacks s = new RingStacks("tcpb" + round++, tcp, link)) {
            result.field("link_mtu", s.pair.a().mtu()).field("link_checksum_offload", link.checksumOffload());
            s.start(() -> require(sink.listen(s.server.tcp(), DISCARD_PORT), "listen"));
            s.clientThread.run(() -> {
                for (int i = 0; i < connections; i++) {
                    require(s.client.tcp().connect(0, 0, SERVER_IP, DISCARD_PORT, sender), NtStatus.STATUS_PENDING,
                        "connect");
                }
            });
            gbit = measureBulk(result, options, connections, sender, sink::bytes, s.probes(), () -> {
                s.check();
                sink.check();
            });
            closeGracefully(result, s.clientThread, sender::stop,
                () -> sender.closed() == connections && sink.closed() == connections, s::check);
            sink.check();
            result.field("abnormal_closes", sender.abnormalCloses() + sink.abnormalCloses())
                .field("verified_bytes", sink.verifiedBytes());
            s.counters(result);
        }
        checkPools(result);
        return gbit;
    }

    // ========================================================================================= measuring

    /**
     * Waits for the warm-up to end, samples allocation, waits for the measured round trips, samples again,
     * and writes the percentiles with bytes per round trip for each thread. While the warm-up runs it takes
     * allocation samples every few milliseconds, so that the sampling branch of each poll loop has been taken
     * (and compiled) before the window opens. The ping-pong keeps going after the measured round trips, so
     * both samples are taken in the same steady state; the caller stops it afterwards.
     */
    static void measureRtt(Json result, RttRecorder recorder, List<Measure.Probe> probes, Runnable check) {
        measureRtt(result, recorder, probes, check, () -> {
        });
    }

    /** As above, running {@code onMeasuring} when the warm-up has ended (the {@link Budget} stages restart). */
    static void measureRtt(Json result, RttRecorder recorder, List<Measure.Probe> probes, Runnable check,
                           Runnable onMeasuring) {
        Runnable checkAll = () -> {
            check.run();
            if (recorder.phase() == RttRecorder.FAILED) {
                throw new IllegalStateException("ping-pong failed: " + recorder.failure());
            }
        };
        Measure.await(() -> recorder.phase() >= RttRecorder.MEASURING, 300, 5, () -> {
            checkAll.run();
            Measure.sample(probes);
        }, "warm-up");
        onMeasuring.run();
        long completedBefore = recorder.completed();
        Measure.Sample before = Measure.sample(probes);
        Measure.await(() -> recorder.phase() >= RttRecorder.DONE, 600, 20, checkAll, "measured round trips");
        Measure.Sample after = Measure.sample(probes);
        long completedAfter = recorder.completed();
        checkAll.run();
        recorder.appendJson(result);
        // The window is from sample to sample: about the measured round trips (counted to the nearest
        // checkpoint), all in steady state.
        result.field("alloc_window_round_trips", completedAfter - completedBefore);
        Measure.appendAllocation(result, probes, before, after, completedAfter - completedBefore, "rt");
        System.out.printf("   p50 %.2f us  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.1f us%n",
            recorder.histogram.getValueAtPercentile(50) / 1000.0, recorder.histogram.getValueAtPercentile(90) / 1000.0,
            recorder.histogram.getValueAtPercentile(99) / 1000.0,
            recorder.histogram.getValueAtPercentile(99.9) / 1000.0, recorder.maxNs() / 1000.0);
    }

    /** Waits for every connection, warms up, then measures the bytes counted by {@code bytes} over the window. */
    static double measureBulk(Json result, Options options, int connections, BulkSender sender, LongSupplier bytes,
                              List<Measure.Probe> probes, Runnable check) {
        Runnable checkAll = () -> {
            check.run();
            if (sender.failure() != null) {
                throw new IllegalStateException("bulk sender: " + sender.failure());
            }
        };
        Measure.await(() -> sender.connected() == connections, 30, 5, checkAll, "connect");
        primeSamples(probes, options.bulkWarmupSeconds());
        checkAll.run();
        long bytes0 = bytes.getAsLong();
        long acked0 = sender.ackedBytes();
        Measure.Sample before = Measure.sample(probes);
        Measure.sleep((long) (options.bulkSeconds() * 1000));
        long bytes1 = bytes.getAsLong();
        long acked1 = sender.ackedBytes();
        Measure.Sample after = Measure.sample(probes);
        checkAll.run();
        double seconds = (after.nanoTime() - before.nanoTime()) / 1e9;
        long moved = bytes1 - bytes0;
        result.field("connections", connections).field("bytes", moved).field("seconds", seconds)
            .field("gbit_per_s", moved * 8 / seconds / 1e9)
            .field("sender_acked_gbit_per_s", (acked1 - acked0) * 8 / seconds / 1e9);
        Measure.appendAllocation(result, probes, before, after, Math.max(1, moved >> 20), "mib");
        System.out.printf("   %d connection(s): %.2f Gbit/s (%,d bytes in %.2f s)%n", connections,
            moved * 8 / seconds / 1e9, moved, seconds);
        return moved * 8 / seconds / 1e9;
    }

    /** Sleeps through a warm-up, taking an allocation sample every 50 ms (see {@link #measureRtt}). */
    static void primeSamples(List<Measure.Probe> probes, double seconds) {
        long end = System.nanoTime() + (long) (seconds * 1e9);
        while (System.nanoTime() < end) {
            Measure.sample(probes);
            Measure.sleep(50);
        }
    }

    /** Starts a graceful close on the poll thread and waits (at most 10 s) for both ends to report it. */
    static void closeGracefully(Json result, PollThread thread, Runnable close, BooleanSupplier closed,
                                Runnable check) {
        long start = System.nanoTime();
        thread.run(close);
        boolean clean;
        try {
            Measure.await(closed, 10, 5, check, "graceful close");
            clean = true;
        } catch (IllegalStateException e) {
            clean = false;
            System.out.println("   close: " + e.getMessage());
        }
        result.field("closed_gracefully", clean).field("close_ms", (System.nanoTime() - start) / 1e6);
    }

    void checkPools(Json result) {
        int a = poolA.inUseCount();
        int b = poolB.inUseCount();
        result.field("mbufs_leaked", a + b);
        if (a + b != 0) {
            System.out.println("   mbufs not returned: " + a + " of A's pool, " + b + " of B's");
        }
    }

    static void require(int status, String what) {
        require(status, NtStatus.STATUS_SUCCESS, what);
    }

    static void require(int status, int expected, String what) {
        if (status != expected) {
            throw new IllegalStateException(what + ": " + NtStatus.name(status));
        }
    }
}
