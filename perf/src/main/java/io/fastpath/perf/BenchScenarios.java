package io.fastpath.perf;

import io.fastpath.stack.NtStatus;
import java.io.IOException;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Predicate;
import org.HdrHistogram.Histogram;

/**
 * The scenarios of {@code bench}, each fastpath against its peers in one JVM (the one {@link Bench} started
 * for it, or for all of them with {@code --quick}): the systems of threads reuse {@link TcpHarness} (pinned poll threads, allocation and GC windows),
 * {@link NioLoopback}, {@link NioMulti}, {@link NettyPingPong} and {@link NettyHandlersBench}; {@code apis} runs
 * the JMH round-trip benchmarks in forks of their own (--quick: in JMH's JVM, unforked); connrate and fastopen are in
 * {@link ConnectScenarios}. Thread: the bench's main thread.
 */
final class BenchScenarios {
    static final List<String> ALL = List.of("pingpong", "throughput", "connrate", "fastopen", "apis", "tap",
        "netty", "scaling");

    /**
     * Sizes and durations: quick (all in about 100 s, under 2 minutes; docs/perf/README.md says what else
     * --quick shortens and why that is sound) or full. {@code rttWarmup} and
     * {@code fastpathWarmupSeconds} are the warm-up of every fastpath loop (ping-pongs, connection cycles, the
     * Netty transport): in --quick they are longer than the kernel peers' {@code warmupSeconds}, because the
     * JIT must compile two stacks' duty cycles while two spinning poll threads hold both CPUs of the machine;
     * with the 0.3 s the kernel peers get, fastpath's quick p50 was 1.1 to 7 times its full-run value
     * (docs/perf/budget.md, "--quick").
     */
    record Budget(long rttCount, long rttWarmup, long nioRttWarmup, double warmupSeconds, double bulkWarmupSeconds,
                  double bulkSeconds, long cycles, String jmhOptions, double fastpathWarmupSeconds) {
        static Budget quick() {
            return new Budget(5_000, 30_000, 1_000, 0.3, 0.3, 0.7, 2_000, "-f 0 -wi 3 -w 500ms -i 3 -r 500ms", 1.5);
        }

        static Budget full() {
            return new Budget(200_000, 100_000, 20_000, 2, 1, 4, 30_000, "-f 2 -wi 3 -w 1s -i 5 -r 1s", 2);
        }
    }

    private final Path dir;
    private final Budget budget;
    private final boolean quick;
    private final Predicate<String> peerFilter;
    private final Predicate<String> caseFilter;
    /** connrate and fastopen. */
    private final ConnectScenarios connect;

    BenchScenarios(Path dir, Budget budget, boolean quick, Predicate<String> peerFilter,
                   Predicate<String> caseFilter) {
        this.dir = dir;
        this.budget = budget;
        this.quick = quick;
        this.peerFilter = peerFilter;
        this.caseFilter = caseFilter;
        this.connect = new ConnectScenarios(this, budget, quick, peerFilter);
    }

    BenchResults run(String scenario) throws Exception {
        BenchResults results = new BenchResults(scenario);
        switch (scenario) {
            case "pingpong" -> pingpong(results);
            case "throughput" -> throughput(results);
            case "connrate" -> connect.connectCycles(results, false);
            case "fastopen" -> connect.connectCycles(results, true);
            case "apis" -> apis(results);
            case "tap" -> tap(results);
            case "netty" -> netty(results);
            case "scaling" -> scaling(results);
            default -> throw new IllegalArgumentException("unknown scenario " + scenario + "; scenarios: " + ALL);
        }
        return results;
    }

    TcpHarness.Options options(String prefix, int messageSize) {
        return options(prefix, messageSize, budget.rttCount());
    }

    TcpHarness.Options options(String prefix, int messageSize, long rttCount) {
        return options(prefix, messageSize, rttCount, budget.warmupSeconds());
    }

    /** As {@link #options(String, int, long)} with fastpath's warm-up time ({@link Budget#fastpathWarmupSeconds}). */
    TcpHarness.Options fastpathOptions(String prefix, int messageSize, long rttCount) {
        return fastpathOptions(prefix, messageSize, rttCount, budget.rttWarmup());
    }

    /** As above with {@code rttWarmup} round trips of warm-up (still at least the warm-up time). */
    TcpHarness.Options fastpathOptions(String prefix, int messageSize, long rttCount, long rttWarmup) {
        return options(prefix, messageSize, rttCount, budget.fastpathWarmupSeconds(), rttWarmup);
    }

    TcpHarness.Options options(String prefix, int messageSize, long rttCount, double warmupSeconds) {
        return options(prefix, messageSize, rttCount, warmupSeconds, budget.rttWarmup());
    }

    TcpHarness.Options options(String prefix, int messageSize, long rttCount, double warmupSeconds,
                                       long rttWarmup) {
        return TcpHarness.Options.parse(new String[] {"--out", dir.resolve(prefix).toString(),
            "--message-size", Integer.toString(messageSize), "--rtt-count", Long.toString(rttCount),
            "--rtt-warmup", Long.toString(rttWarmup),
            "--rtt-warmup-seconds", Double.toString(warmupSeconds),
            "--nio-rtt-warmup", Long.toString(budget.nioRttWarmup()),
            "--bulk-warmup", Double.toString(budget.bulkWarmupSeconds()),
            "--bulk-seconds", Double.toString(budget.bulkSeconds())});
    }

    /** One measured run of one peer: its JSON record, or null (and a failure noted) if it failed. */
    interface PeerRun {
        void run(Json result) throws Exception;
    }

    Map<String, Object> runPeer(BenchResults results, String caseName, String peer, PeerRun run) {
        Json result = new Json().beginObject().field("case", caseName).field("peer", peer);
        long start = System.nanoTime();
        System.out.println("== " + results.scenario + " " + caseName + " " + peer);
        Map<String, Object> parsed = null;
        try {
            run.run(result);
        } catch (Exception | Error e) {
            result.field("error", String.valueOf(e));
            results.fail(caseName + " " + peer + ": " + e);
            e.printStackTrace(System.out);
        }
        result.field("phase_s", (System.nanoTime() - start) / 1e9).endObject();
        results.run(result);
        Map<String, Object> record = JsonReader.object(JsonReader.parse(result.toString()));
        if (!record.containsKey("error")) {
            parsed = record;
        }
        return parsed;
    }

    static double num(Map<String, Object> record, String key) {
        Object v = record == null ? null : record.get(key);
        return v instanceof Double d ? d : Double.NaN;
    }

    /** The largest per-operation allocation over the run's threads, and the GC count, as table cells. */
    static String allocCell(Map<String, Object> record, String perOp) {
        if (record == null || !(record.get("threads") instanceof List<?> threads)) {
            return "-";
        }
        double max = 0;
        for (Object t : threads) {
            max = Math.max(max, num(JsonReader.object(t), "alloc_per_" + perOp));
        }
        return BenchResults.number(max);
    }

    // ======================================================================================= pingpong

    private void pingpong(BenchResults results) throws IOException {
        record Case(String name, String prefix, int size, int connections) {
        }
        List<Case> cases = List.of(new Case("64B", "", 64, 1), new Case("1KiB", "1KiB_", 1024, 1),
            new Case("16KiB", "16KiB_", 16384, 1), new Case("64Bx16", "16conn_", 64, 16));
        TcpHarness harness = new TcpHarness(options("unused", 64));
        harness.openPools();
        try {
            for (Case c : cases) {
                if (!caseFilter.test(c.name())) {
                    continue;
                }
                String prefix = "pingpong-" + c.name();
                // 16 KiB round trips take 10-100 times longer: a quarter of the count keeps the run short.
                long count = c.size() >= 16384 ? Math.max(RttRecorder.CHECKPOINT, budget.rttCount() / 4
                    / RttRecorder.CHECKPOINT * RttRecorder.CHECKPOINT) : budget.rttCount();
                // --quick: a quarter of the warm-up round trips too. A 16 KiB round trip is a dozen segments
                // each way, so 7,500 of them run the segment paths 90,000 times, on code the 64 B and 1 KiB
                // cases have compiled in this JVM; the warm-up time (1.5 s) still holds. 30,000 took 8 to 15 s
                // on a loaded machine, half of the scenario.
                long warmup = quick && c.size() >= 16384 ? Math.max(RttRecorder.CHECKPOINT, budget.rttWarmup() / 4
                    / RttRecorder.CHECKPOINT * RttRecorder.CHECKPOINT) : budget.rttWarmup();
                TcpHarness.Options o = options(prefix, c.size(), count);
                TcpHarness.Options fo = fastpathOptions(prefix, c.size(), count, warmup);
                Map<String, PeerRun> peers = new LinkedHashMap<>();
                peers.put("fastpath", r -> new TcpHarness(fo).withPools(harness).fastpathRtt(r, c.connections(),
                    "fastpath"));
                peers.put("nio", r -> {
                    if (c.connections() == 1) {
                        NioLoopback.rtt(r, o, false);
                        rename(prefix, "nio_rtt", "nio");
                    } else {
                        NioMulti.rtt(r, o, false, c.connections(), "nio");
                    }
                });
                peers.put("nio_spin", r -> {
                    if (c.connections() == 1) {
                        NioLoopback.rtt(r, o, true);
                        rename(prefix, "nio_rtt_spin", "nio_spin");
                    } else {
                        NioMulti.rtt(r, o, true, c.connections(), "nio_spin");
                    }
                });
                for (NettyPingPong.Transport t : NettyPingPong.Transport.values()) {
                    peers.put(t.peer, r -> NettyPingPong.rtt(r, o, t, c.connections(), t.peer));
                }
                Map<String, Map<String, Object>> records = new LinkedHashMap<>();
                for (Map.Entry<String, PeerRun> p : peers.entrySet()) {
                    if (!peerFilter.test(p.getKey())) {
                        continue;
                    }
                    Map<String, Object> record = runPeer(results, c.name(), p.getKey(), p.getValue());
                    if (record != null) {
                        records.put(p.getKey(), record);
                        results.latencies.add(new BenchResults.Latency(c.name(), p.getKey(),
                            prefix + "." + p.getKey() + ".hlog"));
                        // scaling: round trips per second with 1 and with 16 connections in flight
                        if (c.size() == 64) {
                            results.bars.add(new BenchResults.Bar("scaling", c.name(), p.getKey(),
                                num(record, "round_trips_per_s"), "round trips/s"));
                        }
                    }
                }
                Map<String, List<String>> rows = new LinkedHashMap<>();
                records.forEach((peer, r) -> rows.put(peer, List.of(cell(r, "p50_us"), cell(r, "p90_us"),
                    cell(r, "p99_us"), cell(r, "p999_us"), cell(r, "max_us"), allocCell(r, "rt"),
                    cell(r, "gc_count"))));
                BenchResults.table("pingpong " + c.name() + " (" + c.connections() + " connection"
                        + (c.connections() > 1 ? "s" : "") + ", " + c.size() + " B, µs per round trip)",
                    List.of("p50", "p90", "p99", "p99.9", "max", "B/rt (max)", "GCs"), rows);
                for (String metric : List.of("p50_us", "p99_us", "p999_us")) {
                    results.compare(c.prefix() + metric, "µs", false, values(records, metric));
                }
            }
        } finally {
            harness.closePools();
        }
    }

    static String cell(Map<String, Object> record, String key) {
        double v = num(record, key);
        return Double.isNaN(v) ? "-" : BenchResults.number(v);
    }

    static Map<String, Double> values(Map<String, Map<String, Object>> records, String key) {
        Map<String, Double> values = new LinkedHashMap<>();
        records.forEach((peer, r) -> {
            double v = num(r, key);
            if (!Double.isNaN(v)) {
                values.put(peer, v);
            }
        });
        return values;
    }

    /** NioLoopback names its files after TcpHarness's phases; bench names them after the peer. */
    private void rename(String prefix, String from, String to) throws IOException {
        for (String ext : List.of(".hgrm", ".hlog")) {
            Path source = dir.resolve(prefix + "." + from + ext);
            if (Files.exists(source)) {
                Files.move(source, dir.resolve(prefix + "." + to + ext),
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }

    // ===================================================================================== throughput

    /** The throughput peer on the ring pair's large-MTU, checksum-offload link. */
    static final String JUMBO = "fastpath_jumbo";

    private void throughput(BenchResults results) throws IOException {
        TcpHarness harness = new TcpHarness(options("unused", 64));
        harness.openPools();
        try {
            for (int connections : new int[] {1, 4}) {
                String caseName = connections + "conn";
                if (!caseFilter.test(caseName)) {
                    continue;
                }
                TcpHarness.Options o = options("throughput-" + caseName, 64);
                Map<String, Map<String, Object>> records = new LinkedHashMap<>();
                Map<String, PeerRun> peers = new LinkedHashMap<>();
                peers.put("fastpath", r -> new TcpHarness(o).withPools(harness).fastpathBulk(r, connections, true));
                peers.put("nio", r -> NioLoopback.bulk(r, o, connections, true));
                // The ring pair's large-MTU link with checksum offload declared (TcpHarness.JUMBO_LINK): what
                // loopback does per segment (64 KiB, no checksums computed), against the same nio run.
                peers.put(JUMBO, r -> new TcpHarness(o).withPools(harness).fastpathBulk(r, connections, true,
                    TcpHarness.JUMBO_LINK));
                for (Map.Entry<String, PeerRun> p : peers.entrySet()) {
                    if (peerFilter.test(p.getKey())) {
                        Map<String, Object> record = runPeer(results, caseName, p.getKey(), p.getValue());
                        if (record != null) {
                            records.put(p.getKey(), record);
                            results.bars.add(new BenchResults.Bar("throughput", caseName, p.getKey(),
                                num(record, "gbit_per_s"), "Gbit/s"));
                        }
                    }
                }
                Map<String, List<String>> rows = new LinkedHashMap<>();
                records.forEach((peer, r) -> rows.put(peer, List.of(cell(r, "gbit_per_s"),
                    BenchResults.number(num(r, "bytes") / (1 << 20)), allocCell(r, "mib"), cell(r, "gc_count"))));
                BenchResults.table("throughput, " + caseName + " (bulk one-way, every byte verified at the receiver)",
                    List.of("Gbit/s", "MiB moved", "B/MiB (max)", "GCs"), rows);
                String prefix = connections == 1 ? "" : connections + "conn_";
                Map<String, Double> gbit = values(records, "gbit_per_s");
                Double jumbo = gbit.remove(JUMBO);
                // The default link (1,500 bytes, software checksums) keeps the metric it always had; the jumbo
                // link has its own, each against the same nio run.
                results.compare(prefix + "gbit_per_s", "Gbit/s", true, gbit);
                Map<String, Double> jumboValues = new LinkedHashMap<>();
                if (jumbo != null) {
                    jumboValues.put("fastpath", jumbo);
                }
                if (gbit.containsKey("nio")) {
                    jumboValues.put("nio", gbit.get("nio"));
                }
                results.compare(prefix + "jumbo_gbit_per_s", "Gbit/s", true, jumboValues);
            }
        } finally {
            harness.closePools();
        }
    }


    /** A /proc file's text, stripped (read as a stream: /proc files report a size of 0). */
    static String proc(String path) throws IOException {
        try (InputStream in = Files.newInputStream(Path.of("/proc", path))) {
            return new String(in.readAllBytes(), StandardCharsets.US_ASCII).strip();
        }
    }

    // =========================================================================================== apis

    /**
     * The JMH round trips (everything on one thread, invoker mode) of WSK, TDI and NDK against the raw
     * TcpConnection round trip ({@link TcpRoundTripBenchmark}) on the same two stacks, with the per-thread
     * allocation log; between them the TcpService client round trip with no provider above it
     * ({@link TcpServiceRoundTripBenchmark}, row {@code tcpservice}), which splits an API's cost into the
     * protocol's and the provider's.
     */
    private void apis(BenchResults results) throws IOException, InterruptedException {
        Path json = dir.resolve("apis.jmh.json");
        Path alloc = dir.resolve("apis.alloc.jsonl");
        String java = ProcessHandle.current().info().command().orElse("java");
        // -Djmh.ignoreLock: another JMH run on the machine (the lock is /tmp/jmh.lock) would otherwise fail the
        // scenario; it disturbs the numbers as much as any other load, which the facts' load average shows.
        List<String> jmhOptions = List.of(budget.jmhOptions().split(" "));
        List<String> command = new ArrayList<>(List.of(java, "-Djmh.ignoreLock=true"));
        if (String.join(" ", jmhOptions).contains("-f 0")) {
            // --quick: no forks; the four benchmarks run one after another in JMH's own JVM (one JVM start and
            // one EAL initialisation instead of four), which therefore gets the flags the forks' @Fork gives
            // them (this JVM's: native access, the exports, bounds checks off, its heap).
            command.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        }
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), "org.openjdk.jmh.Main",
            "io\\.fastpath\\.perf\\.(Tcp|TcpService|Wsk|Tdi|Ndk)RoundTripBenchmark\\.roundTrip"));
        command.addAll(jmhOptions);
        if (quick || !caseFilter.test("16384")) {
            command.addAll(List.of("-p", "size=64"));
        }
        command.addAll(List.of("-rf", "json", "-rff", json.toString()));
        System.out.println("== apis: " + String.join(" ", command));
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().put(AllocationTracked.LOG_ENV, alloc.toString());
        Process p = pb.start();
        Path log = dir.resolve("apis.jmh.txt");
        try (InputStream in = p.getInputStream()) {
            byte[] all = in.readAllBytes();
            Files.write(log, all);
            String text = new String(all, StandardCharsets.UTF_8);
            text.lines().filter(l -> l.startsWith("Benchmark") || l.contains("RoundTripBenchmark.roundTrip"))
                .forEach(l -> System.out.println("   " + l));
        }
        int rc = p.waitFor();
        if (rc != 0 || !Files.exists(json)) {
            results.fail("jmh exited " + rc + " (see " + log + ")");
            return;
        }
        Map<String, Map<String, Double>> scores = new LinkedHashMap<>(); // size -> api -> µs
        Json run = new Json().beginObject().field("case", "jmh").field("peer", "all").beginArray("scores");
        for (Object o : JsonReader.array(JsonReader.parse(Files.readString(json)))) {
            Map<String, Object> b = JsonReader.object(o);
            String api = ((String) b.get("benchmark")).replaceAll(".*\\.(\\w+)RoundTripBenchmark.*", "$1")
                .toLowerCase(Locale.ROOT);
            Map<String, Object> params = JsonReader.object(b.getOrDefault("params", Map.of()));
            String size = String.valueOf(params.getOrDefault("size", "64"));
            double ns = num(JsonReader.object(b.get("primaryMetric")), "score");
            scores.computeIfAbsent(size, k -> new LinkedHashMap<>()).put(api, ns / 1000);
            run.beginObject().field("api", api).field("size", size).field("us", ns / 1000).endObject();
        }
        Map<String, Long> maxAlloc = new LinkedHashMap<>();
        if (Files.exists(alloc)) {
            for (String line : Files.readAllLines(alloc)) {
                Map<String, Object> a = JsonReader.object(JsonReader.parse(line));
                String api = ((String) a.get("benchmark")).replaceAll(".*\\.(\\w+)RoundTripBenchmark.*", "$1")
                    .toLowerCase(Locale.ROOT);
                long max = 0;
                for (Object v : JsonReader.array(a.get("measurementBytes"))) {
                    max = Math.max(max, ((Double) v).longValue());
                }
                maxAlloc.merge(api + "_" + JsonReader.object(a.get("params")).get("size"), max, Math::max);
            }
        }
        run.endArray().field("max_bytes_per_iteration", maxAlloc).endObject();
        results.run(run);
        for (Map.Entry<String, Map<String, Double>> e : scores.entrySet()) {
            String size = e.getKey();
            Map<String, Double> byApi = e.getValue();
            Map<String, List<String>> rows = new LinkedHashMap<>();
            byApi.forEach((api, us) -> rows.put(api, List.of(BenchResults.number(us),
                byApi.containsKey("tcp") ? BenchResults.ratio(us, byApi.get("tcp")) : "-",
                String.valueOf(maxAlloc.getOrDefault(api + "_" + size, -1L)))));
            BenchResults.table("apis, " + size + " B round trip (JMH, one thread runs both stacks and both providers)",
                List.of("µs", "x raw tcp", "B/iter (max)"), rows);
            Double tcp = byApi.get("tcp");
            for (String api : List.of("wsk", "tdi", "ndk")) {
                if (byApi.containsKey(api) && tcp != null) {
                    Map<String, Double> v = new LinkedHashMap<>();
                    v.put(BenchResults.SUBJECT, byApi.get(api));
                    v.put("tcp_raw", tcp);
                    results.compare(api + "_" + size + "B_us", "µs", false, v);
                }
                if (byApi.containsKey(api)) {
                    results.bars.add(new BenchResults.Bar("apis", size + " B", api, byApi.get(api), "µs"));
                }
            }
            if (byApi.containsKey("tcpservice")) {
                results.bars.add(new BenchResults.Bar("apis", size + " B", "tcp_service", byApi.get("tcpservice"),
                    "µs"));
            }
            if (tcp != null) {
                results.bars.add(new BenchResults.Bar("apis", size + " B", "tcp_raw", tcp, "µs"));
            }
        }
    }

    // ======================================================================================== scaling

    /**
     * Shared-nothing scaling of the stack shards ({@link ShardScaling}): bulk Gbit/s (every byte verified) and
     * connect + 64 B request/response + close cycles per second with 1 and with 2 shard pairs, each pair on a
     * thread and CPU of its own, side by side, over {@code runs} runs (3 in the full run; the order of 1 and 2
     * alternates between runs), with medians and the 2-shard/1-shard ratio. Cases {@code bulk} and
     * {@code connrate}. In the RESULT lines {@code fastpath=} is 2 shards and the peer {@code shards1} is 1.
     */
    private void scaling(BenchResults results) throws IOException {
        int runs = quick ? 1 : 3;
        int connectionsPerShard = 4;
        ShardScaling scaling = new ShardScaling();
        try {
            record Metric(String caseName, String chart, String unit, String metric, String costMetric,
                          String costUnit) {
            }
            List<Metric> metrics = List.of(
                new Metric("bulk", "bulk", "Gbit/s", "bulk_gbit_per_s", "bulk_cpu_ns_per_data_segment", "ns"),
                new Metric("connrate", "connrate", "cycles/s", "connrate_cycles_per_s", "connrate_cpu_ns_per_cycle",
                    "ns"));
            for (Metric m : metrics) {
                if (!caseFilter.test(m.caseName())) {
                    continue;
                }
                // Unmeasured: 2 shards once, so the JIT has compiled both shard pairs' paths before run 1.
                Json warm = new Json().beginObject();
                try {
                    if (m.caseName().equals("bulk")) {
                        scaling.bulk(warm, 2, connectionsPerShard, budget.bulkWarmupSeconds(),
                            budget.bulkWarmupSeconds());
                    } else {
                        scaling.connrate(warm, 2, budget.bulkWarmupSeconds(), budget.bulkWarmupSeconds());
                    }
                } catch (RuntimeException e) {
                    results.fail(m.caseName() + " warm-up: " + e);
                }
                Map<Integer, List<Double>> rates = new LinkedHashMap<>();
                Map<Integer, List<Double>> costs = new LinkedHashMap<>();
                Map<Integer, List<Double>> shares = new LinkedHashMap<>();
                Map<Integer, List<Double>> perCpu = new LinkedHashMap<>();
                Map<Integer, List<Double>> clientCost = new LinkedHashMap<>();
                Map<Integer, List<Double>> serverCost = new LinkedHashMap<>();
                boolean bulk = m.caseName().equals("bulk");
                for (int run = 1; run <= runs; run++) {
                    int[] order = run % 2 == 1 ? new int[] {1, 2} : new int[] {2, 1};
                    for (int shards : order) {
                        String peer = "shards" + shards;
                        int runNo = run;
                        Map<String, Object> record = runPeer(results, m.caseName() + "-run" + run, peer, r -> {
                            r.field("run", runNo);
                            ShardScaling.Outcome o = m.caseName().equals("bulk")
                                ? scaling.bulk(r, shards, connectionsPerShard, budget.bulkWarmupSeconds(),
                                    budget.bulkSeconds())
                                : scaling.connrate(r, shards, budget.bulkWarmupSeconds(), budget.bulkSeconds());
                            if (o.forwarded() != 0) {
                                results.fail(m.caseName() + " " + peer + ": " + o.forwarded() + " frames forwarded"
                                    + " between shards (the owner function and the ring pair disagree)");
                            }
                            if (!o.ownersRight()) {
                                results.fail(m.caseName() + " " + peer + ": a shard's connections were not all"
                                    + " opened and accepted on its own queue");
                            }
                        });
                        if (record != null) {
                            rates.computeIfAbsent(shards, k -> new ArrayList<>()).add(num(record,
                                m.caseName().equals("bulk") ? "gbit_per_s" : "cycles_per_s"));
                            costs.computeIfAbsent(shards, k -> new ArrayList<>()).add(num(record,
                                m.caseName().equals("bulk") ? "cpu_ns_per_data_segment" : "cpu_ns_per_cycle"));
                            shares.computeIfAbsent(shards, k -> new ArrayList<>()).add(num(record, "cpu_share_total"));
                            perCpu.computeIfAbsent(shards, k -> new ArrayList<>()).add(num(record,
                                "rate_per_cpu_second"));
                            clientCost.computeIfAbsent(shards, k -> new ArrayList<>()).add(num(record,
                                bulk ? "sender_cpu_ns_per_data_segment" : "client_cpu_ns_per_cycle"));
                            serverCost.computeIfAbsent(shards, k -> new ArrayList<>()).add(num(record,
                                bulk ? "receiver_cpu_ns_per_data_segment" : "server_cpu_ns_per_cycle"));
                            results.bars.add(new BenchResults.Bar(m.chart(), "run " + run, shards + " shard"
                                + (shards > 1 ? "s" : ""), rates.get(shards).getLast(), m.unit()));
                        }
                    }
                }
                Map<String, List<String>> rows = new LinkedHashMap<>();
                for (int shards : new int[] {1, 2}) {
                    List<Double> v = rates.getOrDefault(shards, List.of());
                    List<String> cells = new ArrayList<>();
                    cells.add(BenchResults.number(ShardScaling.median(v)));
                    cells.add(v.stream().map(BenchResults::number).reduce((a, b) -> a + " " + b).orElse("-"));
                    cells.add(BenchResults.number(ShardScaling.median(costs.getOrDefault(shards, List.of()))));
                    cells.add(BenchResults.number(ShardScaling.median(clientCost.getOrDefault(shards, List.of())))
                        + " / " + BenchResults.number(ShardScaling.median(serverCost.getOrDefault(shards, List.of()))));
                    cells.add(BenchResults.number(ShardScaling.median(shares.getOrDefault(shards, List.of()))));
                    cells.add(BenchResults.number(ShardScaling.median(perCpu.getOrDefault(shards, List.of()))));
                    rows.put(shards + " shard" + (shards > 1 ? "s" : ""), cells);
                    if (!v.isEmpty()) {
                        results.bars.add(new BenchResults.Bar(m.chart(), "median", shards + " shard"
                            + (shards > 1 ? "s" : ""), ShardScaling.median(v), m.unit()));
                    }
                }
                BenchResults.table("scaling " + m.caseName() + " (a client and a server shard per thread, thread q"
                    + " on its own CPU; " + runs + " run(s))", List.of(m.unit() + " (median)", "runs",
                    "CPU ns/" + (bulk ? "data segment" : "cycle"), bulk ? "sender / receiver" : "client / server",
                    "CPUs busy",
                    m.unit() + " per CPU-second"), rows);
                Map<String, Double> v = new LinkedHashMap<>();
                Map<String, Double> c = new LinkedHashMap<>();
                Map<String, Double> e = new LinkedHashMap<>();
                if (rates.containsKey(2)) {
                    v.put(BenchResults.SUBJECT, ShardScaling.median(rates.get(2)));
                    c.put(BenchResults.SUBJECT, ShardScaling.median(costs.get(2)));
                    e.put(BenchResults.SUBJECT, ShardScaling.median(perCpu.get(2)));
                }
                if (rates.containsKey(1)) {
                    v.put("shards1", ShardScaling.median(rates.get(1)));
                    c.put("shards1", ShardScaling.median(costs.get(1)));
                    e.put("shards1", ShardScaling.median(perCpu.get(1)));
                }
                results.compare(m.metric(), m.unit(), true, v);
                results.compare(m.costMetric(), m.costUnit(), false, c);
                // The ratio a machine with both CPUs free would show if nothing but CPU limits the shards: 2 x this.
                results.compare(m.metric().replace("_per_s", "_per_cpu_s"), m.unit() + " per CPU-second", true, e);
            }
            if (caseFilter.test("independent") && Runtime.getRuntime().availableProcessors() >= 2) {
                // Two 1-shard rigs that share nothing in fastpath, at once on the two CPUs: what two shards lose
                // to the hardware alone.
                ShardScaling other = new ShardScaling("x", 1 - ShardScaling.cpuOf(0, 1), 16383);
                try {
                    for (int run = 1; run <= runs; run++) {
                        Map<String, Object> record = runPeer(results, "independent-run" + run, "2x1shard",
                            r -> ShardScaling.independentConnrate(r, scaling, other, budget.bulkWarmupSeconds(),
                                budget.bulkSeconds()));
                        if (record != null) {
                            results.notes.add("independent run " + run + ": two 1-shard rigs at once, cycles/s "
                                + record.get("independent_cycles_per_s"));
                        }
                    }
                } finally {
                    other.close();
                }
            }
        } finally {
            scaling.close();
        }
        results.notes.add("scaling: fastpath= is 2 shards (2 threads, 2 CPUs), shards1= is 1 shard (1 thread, 1 CPU);"
            + " ratio = 2 shards / 1 shard; load average at the end: " + proc("loadavg"));
    }

    // ========================================================================================== netty

    /**
     * The same Netty handlers on fastpath's Netty transport (two event loops on a ring pair) and on Netty's epoll
     * and io_uring transports (loopback), {@link NettyHandlersBench}: the 64 B request/response latency, then
     * HTTP/1.1 hello requests per second. Cases {@code 64B} and {@code http}.
     */
    private void netty(BenchResults results) {
        List<NettyHandlersBench.Kind> kinds = List.of(NettyHandlersBench.Kind.values());
        if (caseFilter.test("64B")) {
            TcpHarness.Options o = options("netty-64B", 64);
            TcpHarness.Options fo = fastpathOptions("netty-64B", 64, budget.rttCount());
            Map<String, Map<String, Object>> records = new LinkedHashMap<>();
            for (NettyHandlersBench.Kind k : kinds) {
                if (!peerFilter.test(k.peer)) {
                    continue;
                }
                TcpHarness.Options ko = k.peer.equals("fastpath") ? fo : o;
                Map<String, Object> record = runPeer(results, "64B", k.peer,
                    r -> NettyHandlersBench.requestResponse(r, ko, k, k.peer));
                if (record != null) {
                    records.put(k.peer, record);
                    results.latencies.add(new BenchResults.Latency("64B", k.peer, "netty-64B." + k.peer + ".hlog"));
                }
            }
            Map<String, List<String>> rows = new LinkedHashMap<>();
            records.forEach((peer, r) -> rows.put(peer, List.of(cell(r, "p50_us"), cell(r, "p90_us"),
                cell(r, "p99_us"), cell(r, "p999_us"), cell(r, "max_us"), allocCell(r, "rt"), cell(r, "gc_count"))));
            BenchResults.table("netty 64B request/response (the same handlers; fastpath: two event loops on a ring"
                + " pair; epoll, io_uring: loopback; µs per round trip)", List.of("p50", "p90", "p99", "p99.9", "max",
                "B/rt (max)", "GCs"), rows);
            for (String metric : List.of("p50_us", "p99_us", "p999_us")) {
                results.compare(metric, "µs", false, values(records, metric));
            }
        }
        if (caseFilter.test("http")) {
            TcpHarness.Options o = options("netty-http", 64);
            // --quick: the kernel transports warm up for the kernel peers' count of requests (and the time):
            // fastpath's transport, measured first in this JVM, has compiled the same codecs and handlers with
            // its 30,000 (when it runs); what is left to compile is their own transport's read and write path.
            TcpHarness.Options ko = quick && peerFilter.test("fastpath")
                ? options("netty-http", 64, budget.rttCount(), budget.warmupSeconds(), budget.nioRttWarmup()) : o;
            Map<String, Map<String, Object>> records = new LinkedHashMap<>();
            for (NettyHandlersBench.Kind k : kinds) {
                if (!peerFilter.test(k.peer)) {
                    continue;
                }
                Map<String, Object> record = runPeer(results, "http", k.peer,
                    r -> NettyHandlersBench.http(r, k.peer.equals("fastpath") ? o : ko, k, budget.bulkWarmupSeconds(),
                        budget.bulkSeconds()));
                if (record != null) {
                    records.put(k.peer, record);
                    results.bars.add(new BenchResults.Bar("netty", "HTTP requests/s", k.peer,
                        num(record, "requests_per_s"), "requests/s"));
                }
            }
            Map<String, List<String>> rows = new LinkedHashMap<>();
            records.forEach((peer, r) -> rows.put(peer, List.of(cell(r, "requests_per_s"), cell(r, "requests"),
                allocCell(r, "request"), cell(r, "gc_count"))));
            BenchResults.table("netty http (HttpServerCodec hello, keep-alive, " + NettyHandlersBench.HTTP_CONNECTIONS
                + " connections with one request in flight each)", List.of("requests/s", "requests", "B/req (max)",
                "GCs"), rows);
            results.compare("http_requests_per_s", "requests/s", true, values(records, "requests_per_s"));
        }
    }

    // ============================================================================================ tap

    /**
     * fastpath on net_tap and on net_af_packet (a veth pair) against Linux's own TCP over a veth pair, each
     * the client of the same Python echo in a scratch namespace (TapLink creates and removes its devices and
     * namespace, with names unique to the process, also when a run fails; needs root).
     */
    private void tap(BenchResults results) {
        TcpHarness.Options o = options("tap", 64);
        // --quick: Linux's client (blocking java.nio, the ping-pong class of pingpong's nio peer, compiled in this
        // JVM) warms up like the kernel peers there, 1,000 round trips and 0.3 s; fastpath's clients keep 20,000.
        List<String> linuxArgs = new ArrayList<>(o.rawArgs());
        linuxArgs.addAll(List.of("--tap-rtt-warmup", Long.toString(budget.nioRttWarmup())));
        TcpHarness.Options linux = quick ? TcpHarness.Options.parse(linuxArgs.toArray(String[]::new)) : o;
        Map<String, Map<String, Object>> records = new LinkedHashMap<>();
        Map<String, TapLink.Kind> peers = new LinkedHashMap<>();
        peers.put("net_tap", TapLink.Kind.TAP);
        peers.put("af_packet", TapLink.Kind.AF_PACKET);
        peers.put("linux_veth", TapLink.Kind.LINUX_VETH);
        for (Map.Entry<String, TapLink.Kind> p : peers.entrySet()) {
            if (!peerFilter.test(p.getKey())) {
                continue;
            }
            Map<String, Object> record = runPeer(results, "64B", p.getKey(),
                r -> TapLink.pingPong(p.getValue(), r, p.getValue() == TapLink.Kind.LINUX_VETH ? linux : o,
                    p.getKey()));
            if (record != null) {
                records.put(p.getKey(), record);
                results.latencies.add(new BenchResults.Latency("64B", p.getKey(), "tap." + p.getKey() + ".hlog"));
            }
        }
        Map<String, List<String>> rows = new LinkedHashMap<>();
        records.forEach((peer, r) -> rows.put(peer, List.of(cell(r, "p50_us"), cell(r, "p90_us"), cell(r, "p99_us"),
            cell(r, "p999_us"), cell(r, "max_us"), allocCell(r, "rt"), cell(r, "gc_count"))));
        BenchResults.table("tap (64 B ping-pong with python3's echo in a namespace; the client: fastpath on net_tap,"
            + " fastpath on net_af_packet/veth, or Linux over veth)", List.of("p50", "p90", "p99", "p99.9", "max",
            "B/rt (max)", "GCs"), rows);
        for (String subject : List.of("net_tap", "af_packet")) {
            for (String metric : List.of("p50_us", "p99_us", "p999_us")) {
                Map<String, Double> v = new LinkedHashMap<>();
                if (records.containsKey(subject)) {
                    v.put(BenchResults.SUBJECT, num(records.get(subject), metric));
                }
                if (records.containsKey("linux_veth")) {
                    v.put("linux_veth", num(records.get("linux_veth"), metric));
                }
                results.compare(subject + "_" + metric, "µs", false, v);
            }
        }
    }

    static Histogram readLog(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            org.HdrHistogram.HistogramLogReader reader = new org.HdrHistogram.HistogramLogReader(in);
            Histogram total = null;
            for (org.HdrHistogram.EncodableHistogram h; (h = reader.nextIntervalHistogram()) != null; ) {
                if (total == null) {
                    total = ((Histogram) h).copy();
                } else {
                    total.add((Histogram) h);
                }
            }
            if (total == null) {
                throw new IOException(file + " holds no histogram");
            }
            return total;
        }
    }
}
