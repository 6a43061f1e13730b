package io.fastpath.perf;

import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.MbufArray;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.Port;
import io.fastpath.dpdk.RingPair;
import io.fastpath.stack.NtStatus;
import io.fastpath.stack.Stack;
import io.fastpath.stack.StackConfig;
import io.fastpath.stack.app.EchoServer;
import io.fastpath.stack.counters.StackCounters;
import io.fastpath.stack.shard.FlowOwner;
import io.fastpath.stack.shard.RssFlowOwner;
import io.fastpath.stack.shard.StackShards;
import io.fastpath.stack.tcp.TcpConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.function.ToLongFunction;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

/**
 * Shared-nothing scaling of {@link StackShards}, measured on a machine whose every CPU also has to run the
 * peer: a <em>shard pair per thread</em>. Two hosts of N shards each sit on a ring pair with N queues (queue q of
 * one side is queue q of the other), and poll thread q, pinned to its own CPU, drives client shard q and server
 * shard q in invoker mode together with the application work of both (the bulk sender and the verifying discard
 * server, or the connect cycles and the echo server). Thread q is a closed system: nothing it does needs another
 * thread, so N threads on N CPUs should do N times the work of one, and what keeps them from it is what the
 * shards still share (the pools' common rings when per-lcore caches miss, the one local port table, the memory
 * bus and the last-level cache, and the CPUs themselves when the machine runs other work).
 *
 * <p>Both hosts use one owner function, RSS's Toeplitz hash with the symmetric key (0x6d5a repeated: the hash of
 * a segment and of its reply are equal) and the same redirection table; a connection opened on client shard q gets
 * an ephemeral port whose flow is q's on both hosts, and since a ring pair delivers a frame on the queue it was
 * sent on, every segment lands on its owner: the {@code forwarded frames} counter must stay 0, and the per-shard
 * open counters show each shard's connections on its own queue.
 *
 * <p>Thread: the bench's main thread; each shard pair on its poll thread.
 */
final class ShardScaling {
    static final int CLIENT_IP = TcpHarness.CLIENT_IP;
    static final int SERVER_IP = TcpHarness.SERVER_IP;
    static final int RING_SIZE = 1024;
    static final int POOL_SIZE = 32767;
    static final int POOL_CACHE = 256;
    /**
     * TIME-WAIT of the connect cycles. A shard may only use the ephemeral ports whose flows it owns, about 1/N of
     * the 16,384, and every cycle to the one server port holds its port for TIME-WAIT: at 60,000 cycles/s per shard
     * 100 ms holds 6,000 ports of a shard's 8,192, and the search runs dry. 20 ms holds 1,200.
     */
    static final long CONNRATE_TIME_WAIT_NS = 20_000_000L;

    private final PktmbufPool clientPool;
    private final PktmbufPool serverPool;
    private int round;

    private final String tag;
    /** The CPU of a 1-shard rig's thread, or -1 for {@link #cpuOf}. */
    private final int cpu;

    ShardScaling() {
        this("", -1, POOL_SIZE);
    }

    /**
     * Pools of {@code poolSize} and rigs named with {@code tag} (two instances side by side: EAL's memory holds
     * two pools of 32,767 and two of 16,383, not four of 32,767); a 1-shard rig's thread on {@code cpu}.
     */
    ShardScaling(String tag, int cpu, int poolSize) {
        io.fastpath.dpdk.Eal.shared();
        this.tag = tag;
        this.cpu = cpu;
        clientPool = PktmbufPool.create("scale_pa" + tag, poolSize, POOL_CACHE, PktmbufPool.DEFAULT_DATA_ROOM);
        serverPool = PktmbufPool.create("scale_pb" + tag, poolSize, POOL_CACHE, PktmbufPool.DEFAULT_DATA_ROOM);
    }

    void close() {
        clientPool.close();
        serverPool.close();
    }

    /** RSS's symmetric Toeplitz key: 0x6d5a repeated, so swapping source and destination keeps the hash. */
    static byte[] symmetricKey() {
        byte[] key = new byte[40];
        for (int i = 0; i < key.length; i += 2) {
            key[i] = 0x6d;
            key[i + 1] = 0x5a;
        }
        return key;
    }

    /**
     * Queue index stride between shards (shard q on queue q * stride; the queues between stay idle). net_ring keeps
     * each queue's packet counters in a 24-byte {@code struct ring_queue}, the queues of a port side by side in one
     * array, and writes them on every rx and tx burst, empty ones included: shards on adjacent queues would write
     * one cache line from two CPUs on every poll (false sharing a NIC's queues do not have). Four entries apart
     * (96 bytes) no two used entries share a line. At most 16 queues (RTE_PMD_RING_MAX_RX_RINGS).
     */
    static int stride(int shards) {
        return shards == 1 ? 1 : Integer.getInteger("fastpath.scaling.stride", Math.max(1, Math.min(4, 16 / shards)));
    }

    /** The CPU of thread q: shard 0 on the highest CPU (the one kept for measurements here), then downwards. */
    static int cpuOf(int q, int shards) {
        int cpus = Runtime.getRuntime().availableProcessors();
        return cpus >= shards ? cpus - 1 - q : -1;
    }

    /** Two hosts of {@code shards} shards on a ring pair, one pinned poll thread per shard pair. */
    final class Rig implements AutoCloseable {
        final int shards;
        final RingPair pair;
        final StackShards client;
        final StackShards server;
        final Path countersDir;
        final PollThread[] threads;

        Rig(int shards, TcpConfig tcp) throws IOException {
            this.shards = shards;
            String name = "scl" + tag + round++;
            countersDir = Files.createTempDirectory(Files.isDirectory(Path.of("/dev/shm")) ? Path.of("/dev/shm")
                : Path.of(System.getProperty("java.io.tmpdir")), "fastpath-scaling-");
            pair = RingPair.create(name, RING_SIZE, clientPool, serverPool,
                EthDevPort.Config.defaults().withQueues(shards * stride(shards)));
            FlowOwner owner = new RssFlowOwner(shards, symmetricKey(), null);
            StackShards c = null;
            try {
                c = new StackShards(queues(pair.a()), config(name + "c", CLIENT_IP, tcp), owner);
                server = new StackShards(queues(pair.b()), config(name + "s", SERVER_IP, tcp), owner);
            } catch (RuntimeException e) {
                if (c != null) {
                    c.close();
                }
                pair.close();
                throw e;
            }
            client = c;
            threads = new PollThread[shards];
        }

        private Port[] queues(EthDevPort port) {
            Port[] q = new Port[shards];
            for (int i = 0; i < shards; i++) {
                q[i] = port.queue(i * stride(shards));
            }
            return q;
        }

        private StackConfig config(String name, int ip, TcpConfig tcp) {
            return StackConfig.builder().name(name).address(ip, 24).tcp(tcp)
                .countersFile(countersDir.resolve(name + ".counters")).build();
        }

        /** Starts thread q running {@code work[q]} (which polls client shard q and server shard q). */
        void start(PairWork[] work) {
            for (int q = 0; q < shards; q++) {
                threads[q] = new PollThread("shard-pair-" + tag + q, shards == 1 && cpu >= 0 ? cpu : cpuOf(q, shards),
                    true, work[q], null, null).start();
            }
        }

        void check() {
            for (PollThread t : threads) {
                if (t != null) {
                    t.checkFailure();
                }
            }
        }

        List<Measure.Probe> probes() {
            List<Measure.Probe> probes = new ArrayList<>();
            for (PollThread t : threads) {
                probes.add(Measure.Probe.of(t));
            }
            return probes;
        }

        long sum(ToLongFunction<StackCounters> counter) {
            return client.sum(counter) + server.sum(counter);
        }

        /** Per shard: each host's opens and forwarded frames, and the segments it sent and received. */
        void perShard(Json r) {
            r.beginArray("per_shard");
            for (int q = 0; q < shards; q++) {
                StackCounters c = client.shard(q).counters();
                StackCounters s = server.shard(q).counters();
                r.beginObject().field("shard", q).field("cpu", threads[q] == null ? "?" : threads[q].pinning())
                    .field("client_active_opens", c.tcpActiveOpens.get())
                    .field("server_passive_opens", s.tcpPassiveOpens.get())
                    .field("client_forwarded_frames", c.forwardedFrames.get())
                    .field("server_forwarded_frames", s.forwardedFrames.get())
                    .field("client_rx_frames", c.rxFrames.get()).field("server_rx_frames", s.rxFrames.get())
                    .field("client_segments_sent", c.tcpSegmentsSent.get())
                    .field("server_segments_received", s.tcpSegmentsReceived.get())
                    .field("resets_sent", c.tcpResetsSent.get() + s.tcpResetsSent.get())
                    .field("retransmits", c.tcpRetransmits.get() + s.tcpRetransmits.get())
                    .field("drops", c.totalDrops() + s.totalDrops()).endObject();
            }
            r.endArray();
        }

        @Override
        public void close() {
            try {
                for (PollThread t : threads) {
                    if (t != null) {
                        t.close();
                    }
                }
            } finally {
                // Invoker mode: StackShards runs each shard's onClose here, after the poll threads stopped.
                client.close();
                server.close();
                for (EthDevPort port : new EthDevPort[] {pair.a(), pair.b()}) {
                    MbufArray burst = new MbufArray(32);
                    for (int q = 0; q < shards; q++) {
                        for (int n; (n = port.queue(q).receive(burst, 32)) > 0; ) {
                            burst.freeAll(n);
                        }
                    }
                }
                pair.close();
                try (Stream<Path> files = Files.list(countersDir)) {
                    for (Path f : files.toList()) {
                        Files.deleteIfExists(f);
                    }
                    Files.deleteIfExists(countersDir);
                } catch (IOException e) {
                    System.err.println("cannot delete " + countersDir + ": " + e);
                }
            }
        }
    }

    int mbufsInUse() {
        return clientPool.inUseCount() + serverPool.inUseCount();
    }

    /**
     * Thread q's duty cycle: client shard q's work (with its application), then server shard q's. A random 1 in
     * 16 duty cycles is timed on each side, so the thread's CPU can be split between the two ends (sampled: three
     * clock reads per timed cycle, about 4 ns per duty cycle on average).
     */
    static final class PairWork implements PollThread.Work {
        private final PollThread.Work client;
        private final PollThread.Work server;
        private long seed = 0x9E3779B97F4A7C15L;
        private long clientNs;
        private long serverNs;
        private final AtomicLong clientPublished = new AtomicLong();
        private final AtomicLong serverPublished = new AtomicLong();

        PairWork(PollThread.Work client, PollThread.Work server) {
            this.client = client;
            this.server = server;
        }

        @Override
        public int doWork() {
            // A random 1 in 16, not every 16th: a connect cycle spans a few duty cycles, and a fixed stride would
            // time the same phase of it each time (xorshift: no allocation, no shared state).
            long x = seed;
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
            seed = x;
            if ((x & 15) != 0) {
                return client.doWork() + server.doWork();
            }
            long t0 = System.nanoTime();
            int work = client.doWork();
            long t1 = System.nanoTime();
            work += server.doWork();
            long t2 = System.nanoTime();
            clientNs += t1 - t0;
            serverNs += t2 - t1;
            clientPublished.lazySet(clientNs);
            serverPublished.lazySet(serverNs);
            return work;
        }

        long clientNs() {
            return clientPublished.get();
        }

        long serverNs() {
            return serverPublished.get();
        }
    }

    /** The client's part of the sampled time of {@code work} between two readings ({@code [client, server]}). */
    static double clientShare(PairWork[] work, long[][] before) {
        long c = 0;
        long s = 0;
        for (int q = 0; q < work.length; q++) {
            c += work[q].clientNs() - before[q][0];
            s += work[q].serverNs() - before[q][1];
        }
        return c + s > 0 ? (double) c / (c + s) : Double.NaN;
    }

    static long[][] readings(PairWork[] work) {
        long[][] r = new long[work.length][];
        for (int q = 0; q < work.length; q++) {
            r[q] = new long[] {work[q].clientNs(), work[q].serverNs()};
        }
        return r;
    }

    /** What one measurement found (the JSON record has the rest). */
    record Outcome(double rate, double cpuNsPerOp, double cpuShareTotal, long forwarded, boolean ownersRight) {
    }

    /**
     * Bulk one-way on {@code connectionsPerShard} connections per shard, client shard q to server shard q, every
     * byte verified at the receiver; the aggregate Gbit/s at the receivers over the window.
     */
    Outcome bulk(Json r, int shards, int connectionsPerShard, double warmupSeconds, double seconds) throws IOException {
        BulkSender[] senders = new BulkSender[shards];
        DiscardServer[] sinks = new DiscardServer[shards];
        Outcome outcome;
        try (Rig rig = new Rig(shards, TcpHarness.tcpConfig())) {
            PairWork[] work = new PairWork[shards];
            for (int q = 0; q < shards; q++) {
                senders[q] = new BulkSender(connectionsPerShard);
                sinks[q] = new DiscardServer(true);
                Stack c = rig.client.shard(q);
                Stack s = rig.server.shard(q);
                work[q] = new PairWork(c::doWork, s::doWork);
            }
            rig.start(work);
            for (int q = 0; q < shards; q++) {
                int shard = q;
                rig.threads[q].run(() -> {
                    TcpHarness.require(sinks[shard].listen(rig.server.shard(shard).tcp(), TcpHarness.DISCARD_PORT),
                        "listen");
                    for (int i = 0; i < connectionsPerShard; i++) {
                        TcpHarness.require(rig.client.shard(shard).tcp().connect(0, 0, SERVER_IP,
                            TcpHarness.DISCARD_PORT, senders[shard]), NtStatus.STATUS_PENDING, "connect");
                    }
                });
            }
            Runnable check = () -> {
                rig.check();
                for (int q = 0; q < shards; q++) {
                    sinks[q].check();
                    if (senders[q].failure() != null) {
                        throw new IllegalStateException("bulk sender " + q + ": " + senders[q].failure());
                    }
                }
            };
            Measure.await(() -> Arrays.stream(senders).allMatch(s -> s.connected() == connectionsPerShard), 30, 5,
                check, "connect");
            List<Measure.Probe> probes = rig.probes();
            TcpHarness.primeSamples(probes, warmupSeconds);
            check.run();
            long bytes0 = Arrays.stream(sinks).mapToLong(DiscardServer::bytes).sum();
            long[] perShard0 = Arrays.stream(sinks).mapToLong(DiscardServer::bytes).toArray();
            long dataSegs0 = rig.server.sum(c -> c.tcpSegmentsReceived.get());
            long allSegs0 = rig.sum(c -> c.tcpSegmentsSent.get());
            long[][] split0 = readings(work);
            Measure.Sample before = Measure.sample(probes);
            Measure.sleep((long) (seconds * 1000));
            long bytes1 = Arrays.stream(sinks).mapToLong(DiscardServer::bytes).sum();
            long[] perShard1 = Arrays.stream(sinks).mapToLong(DiscardServer::bytes).toArray();
            long dataSegs1 = rig.server.sum(c -> c.tcpSegmentsReceived.get());
            long allSegs1 = rig.sum(c -> c.tcpSegmentsSent.get());
            double clientShare = clientShare(work, split0);
            Measure.Sample after = Measure.sample(probes);
            check.run();
            double wall = (after.nanoTime() - before.nanoTime()) / 1e9;
            long moved = bytes1 - bytes0;
            long cpuNs = cpuNs(before, after);
            long dataSegs = dataSegs1 - dataSegs0;
            long allSegs = allSegs1 - allSegs0;
            double gbit = moved * 8 / wall / 1e9;
            r.field("shards", shards).field("connections_per_shard", connectionsPerShard).field("bytes", moved)
                .field("seconds", wall).field("gbit_per_s", gbit)
                .field("per_shard_gbit_per_s", perShardRates(perShard0, perShard1, wall, 8 / 1e9))
                .field("data_segments", dataSegs).field("segments_sent_both_hosts", allSegs)
                .field("payload_bytes_per_data_segment", dataSegs > 0 ? (double) moved / dataSegs : Double.NaN)
                .field("cpu_ns", cpuNs)
                .field("cpu_ns_per_data_segment", dataSegs > 0 ? (double) cpuNs / dataSegs : Double.NaN)
                .field("cpu_ns_per_segment", allSegs > 0 ? (double) cpuNs / allSegs : Double.NaN)
                .field("cpu_ns_per_kib", moved > 0 ? cpuNs / (moved / 1024.0) : Double.NaN)
                .field("sender_share_of_cpu", clientShare)
                .field("sender_cpu_ns_per_data_segment", dataSegs > 0 ? clientShare * cpuNs / dataSegs : Double.NaN)
                .field("receiver_cpu_ns_per_data_segment", dataSegs > 0 ? (1 - clientShare) * cpuNs / dataSegs
                    : Double.NaN);
            Measure.appendAllocation(r, probes, before, after, Math.max(1, moved >> 20), "mib");
            System.out.printf("   %d shard(s): %.2f Gbit/s (%,d bytes in %.2f s), %.0f ns CPU per data segment%n",
                shards, gbit, moved, wall, dataSegs > 0 ? (double) cpuNs / dataSegs : Double.NaN);
            for (int q = 0; q < shards; q++) {
                int shard = q;
                rig.threads[q].run(senders[shard]::stop);
            }
            boolean clean = true;
            try {
                Measure.await(() -> {
                    for (int q = 0; q < shards; q++) {
                        if (senders[q].closed() != connectionsPerShard || sinks[q].closed() != connectionsPerShard) {
                            return false;
                        }
                    }
                    return true;
                }, 10, 5, check, "graceful close");
            } catch (IllegalStateException e) {
                clean = false;
                System.out.println("   close: " + e.getMessage());
            }
            long verified = Arrays.stream(sinks).mapToLong(DiscardServer::verifiedBytes).sum();
            r.field("closed_gracefully", clean).field("verified_bytes", verified);
            outcome = finish(r, rig, gbit, dataSegs > 0 ? (double) cpuNs / dataSegs : Double.NaN, cpuNs / 1e9 / wall,
                connectionsPerShard);
        }
        r.field("mbufs_leaked", mbufsInUse());
        return outcome;
    }

    /**
     * Connect, one 64 B request, its echo, close, again: one cycle in flight per shard, client shard q against
     * the echo server on server shard q; the aggregate cycles per second over the window.
     */
    Outcome connrate(Json r, int shards, double warmupSeconds, double seconds) throws IOException {
        ConnectCycles[] cycles = new ConnectCycles[shards];
        RttRecorder[] recorders = new RttRecorder[shards];
        Outcome outcome;
        try (Rig rig = new Rig(shards, TcpHarness.tcpConfig().withTimeWait(CONNRATE_TIME_WAIT_NS))) {
            PairWork[] work = new PairWork[shards];
            EchoServer[] echo = new EchoServer[shards];
            for (int q = 0; q < shards; q++) {
                // The recorder only checks each response; the rate comes from the cycle counter over the window.
                recorders[q] = new RttRecorder(0, 0, 1_000_000_000_000L);
                cycles[q] = new ConnectCycles(rig.client.shard(q).tcp(), SERVER_IP, TcpHarness.ECHO_PORT,
                    recorders[q], false, 64);
                echo[q] = new EchoServer();
                ConnectCycles mine = cycles[q];
                Stack c = rig.client.shard(q);
                Stack s = rig.server.shard(q);
                work[q] = new PairWork(() -> mine.doWork(c), s::doWork);
            }
            rig.start(work);
            for (int q = 0; q < shards; q++) {
                int shard = q;
                rig.threads[q].run(() -> {
                    TcpHarness.require(echo[shard].listen(rig.server.shard(shard).tcp(), TcpHarness.ECHO_PORT),
                        "listen");
                    cycles[shard].next();
                });
            }
            Runnable check = () -> {
                rig.check();
                for (RttRecorder rec : recorders) {
                    if (rec.phase() == RttRecorder.FAILED) {
                        throw new IllegalStateException("connect cycles failed: " + rec.failure());
                    }
                }
            };
            List<Measure.Probe> probes = rig.probes();
            TcpHarness.primeSamples(probes, warmupSeconds);
            check.run();
            long[] c0 = Arrays.stream(cycles).mapToLong(ConnectCycles::cycles).toArray();
            long segs0 = rig.sum(c -> c.tcpSegmentsSent.get());
            long[][] split0 = readings(work);
            Measure.Sample before = Measure.sample(probes);
            Measure.sleep((long) (seconds * 1000));
            long[] c1 = Arrays.stream(cycles).mapToLong(ConnectCycles::cycles).toArray();
            long segs1 = rig.sum(c -> c.tcpSegmentsSent.get());
            double clientShare = clientShare(work, split0);
            Measure.Sample after = Measure.sample(probes);
            check.run();
            double wall = (after.nanoTime() - before.nanoTime()) / 1e9;
            long done = Arrays.stream(c1).sum() - Arrays.stream(c0).sum();
            long cpuNs = cpuNs(before, after);
            double rate = done / wall;
            r.field("time_wait_ms", CONNRATE_TIME_WAIT_NS / 1e6).field("shards", shards).field("cycles", done).field("seconds", wall).field("cycles_per_s", rate)
                .field("per_shard_cycles_per_s", perShardRates(c0, c1, wall, 1))
                .field("segments_sent_both_hosts", segs1 - segs0)
                .field("segments_per_cycle", done > 0 ? (double) (segs1 - segs0) / done : Double.NaN)
                .field("cpu_ns", cpuNs).field("cpu_ns_per_cycle", done > 0 ? (double) cpuNs / done : Double.NaN)
                .field("client_share_of_cpu", clientShare)
                .field("client_cpu_ns_per_cycle", done > 0 ? clientShare * cpuNs / done : Double.NaN)
                .field("server_cpu_ns_per_cycle", done > 0 ? (1 - clientShare) * cpuNs / done : Double.NaN);
            Measure.appendAllocation(r, probes, before, after, Math.max(1, done), "cycle");
            System.out.printf("   %d shard(s): %,.0f cycles/s (%,d in %.2f s), %.0f ns CPU per cycle%n", shards,
                rate, done, wall, done > 0 ? (double) cpuNs / done : Double.NaN);
            for (ConnectCycles cc : cycles) {
                cc.stop();
            }
            Measure.await(() -> Arrays.stream(cycles).allMatch(ConnectCycles::idle), 10, 5, check, "last cycle");
            // TIME-WAIT ends before the stacks close, so every record is gone.
            Measure.sleep(300);
            outcome = finish(r, rig, rate, done > 0 ? (double) cpuNs / done : Double.NaN, cpuNs / 1e9 / wall, -1);
        }
        r.field("mbufs_leaked", mbufsInUse());
        return outcome;
    }

    /**
     * Two 1-shard rigs of two instances at once ({@code a}'s thread on its CPU, {@code b}'s on its): two hosts pairs
     * that share nothing in fastpath (own pools, own port tables, own rings), only the JVM and the hardware. If
     * each does less than one rig alone, the hardware (or the VM) is what two shards lose to. Returns each rig's
     * cycles per second; the record gets both with their CPU shares.
     */
    static double[] independentConnrate(Json r, ShardScaling a, ShardScaling b, double warmupSeconds, double seconds)
        throws IOException {
        ShardScaling[] sides = {a, b};
        Rig[] rigs = new Rig[2];
        ConnectCycles[] cycles = new ConnectCycles[2];
        RttRecorder[] recorders = new RttRecorder[2];
        try {
            for (int i = 0; i < 2; i++) {
                rigs[i] = sides[i].new Rig(1, TcpHarness.tcpConfig().withTimeWait(CONNRATE_TIME_WAIT_NS));
                recorders[i] = new RttRecorder(0, 0, 1_000_000_000_000L);
                cycles[i] = new ConnectCycles(rigs[i].client.shard(0).tcp(), SERVER_IP, TcpHarness.ECHO_PORT,
                    recorders[i], false, 64);
                ConnectCycles mine = cycles[i];
                Stack c = rigs[i].client.shard(0);
                Stack s = rigs[i].server.shard(0);
                EchoServer echo = new EchoServer();
                rigs[i].start(new PairWork[] {new PairWork(() -> mine.doWork(c), s::doWork)});
                Rig rig = rigs[i];
                rig.threads[0].run(() -> {
                    TcpHarness.require(echo.listen(rig.server.shard(0).tcp(), TcpHarness.ECHO_PORT), "listen");
                    mine.next();
                });
            }
            List<Measure.Probe> probes = List.of(Measure.Probe.of(rigs[0].threads[0]),
                Measure.Probe.of(rigs[1].threads[0]));
            Runnable check = () -> {
                for (int i = 0; i < 2; i++) {
                    rigs[i].check();
                    if (recorders[i].phase() == RttRecorder.FAILED) {
                        throw new IllegalStateException("connect cycles failed: " + recorders[i].failure());
                    }
                }
            };
            TcpHarness.primeSamples(probes, warmupSeconds);
            check.run();
            long[] c0 = {cycles[0].cycles(), cycles[1].cycles()};
            Measure.Sample before = Measure.sample(probes);
            Measure.sleep((long) (seconds * 1000));
            long[] c1 = {cycles[0].cycles(), cycles[1].cycles()};
            Measure.Sample after = Measure.sample(probes);
            check.run();
            double wall = (after.nanoTime() - before.nanoTime()) / 1e9;
            double[] rates = {(c1[0] - c0[0]) / wall, (c1[1] - c0[1]) / wall};
            r.field("independent_cycles_per_s", List.of(BenchResults.number(rates[0]), BenchResults.number(rates[1])));
            Measure.appendAllocation(r, probes, before, after, Math.max(1, c1[0] - c0[0]), "cycle");
            System.out.printf("   two independent 1-shard rigs at once: %,.0f (%s) and %,.0f (%s) cycles/s%n", rates[0],
                rigs[0].threads[0].pinning(), rates[1], rigs[1].threads[0].pinning());
            for (ConnectCycles cc : cycles) {
                cc.stop();
            }
            Measure.await(() -> cycles[0].idle() && cycles[1].idle(), 10, 5, check, "last cycle");
            Measure.sleep(300);
            return rates;
        } finally {
            for (Rig rig : rigs) {
                if (rig != null) {
                    rig.close();
                }
            }
        }
    }

    /**
     * The counters after a measurement: per shard, the forwarded frames (0 when the owner function holds), and
     * whether each client shard's connections were all accepted by the same server shard.
     */
    private static Outcome finish(Json r, Rig rig, double rate, double cpuNsPerOp, double cpuShareTotal,
                                  int connectionsPerShard) {
        rig.perShard(r);
        long forwarded = rig.sum(c -> c.forwardedFrames.get());
        boolean owners = true;
        for (int q = 0; q < rig.shards; q++) {
            long opened = rig.client.shard(q).counters().tcpActiveOpens.get();
            long accepted = rig.server.shard(q).counters().tcpPassiveOpens.get();
            owners &= opened > 0 && opened == accepted && (connectionsPerShard < 0 || opened == connectionsPerShard);
        }
        // What the shard pairs did per second of CPU they got: on a shared machine a thread gets less than its
        // CPU, and this is what they would do with every CPU to themselves if nothing else limits them.
        r.field("forwarded_frames", forwarded).field("each_shards_connections_on_its_own_queue", owners)
            .field("cpu_share_total", cpuShareTotal).field("rate_per_cpu_second", rate / cpuShareTotal);
        r.beginArray("counters");
        for (int q = 0; q < rig.shards; q++) {
            Measure.appendCounters(r, "client_shard" + q, rig.client.shard(q));
            Measure.appendCounters(r, "server_shard" + q, rig.server.shard(q));
        }
        r.endArray();
        return new Outcome(rate, cpuNsPerOp, cpuShareTotal, forwarded, owners);
    }

    private static long cpuNs(Measure.Sample before, Measure.Sample after) {
        long total = 0;
        for (int i = 0; i < before.cpuNs().length; i++) {
            total += after.cpuNs()[i] - before.cpuNs()[i];
        }
        return total;
    }

    /** Per shard, {@code (after - before) * scale / seconds}, as a list of numbers for the JSON. */
    private static List<String> perShardRates(long[] before, long[] after, double seconds, double scale) {
        List<String> rates = new ArrayList<>();
        for (int i = 0; i < before.length; i++) {
            rates.add(BenchResults.number((after[i] - before[i]) * scale / seconds));
        }
        return rates;
    }

    static double median(List<Double> values) {
        List<Double> sorted = values.stream().filter(v -> !Double.isNaN(v)).sorted(Comparator.naturalOrder()).toList();
        if (sorted.isEmpty()) {
            return Double.NaN;
        }
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }
}
