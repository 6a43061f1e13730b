package io.fastpath.perf;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;
import java.util.regex.Pattern;

/**
 * {@code bin/fastpath bench <scenario>|all [--quick] [--out DIR] [--publish]}: runs each scenario
 * ({@link BenchScenarios}) in a JVM of its own (fresh JIT, and a crash costs one scenario; {@code --quick}: all
 * in one JVM, see {@link #parent}), which prints its tables and {@code RESULT} lines and writes
 * {@code <DIR>/<scenario>.json} with HdrHistogram logs beside it; then draws the plots ({@link BenchPlots}) into
 * DIR and, with {@code --publish}, copies them to docs/perf/ and rewrites the results section of
 * docs/perf/README.md. At the end it prints each scenario's wall time and the total.
 *
 * <p>Options: {@code --quick} (short runs: all in under 2 minutes), {@code --out DIR} (default
 * {@code bench-results/<UTC timestamp>}), {@code --publish} (to {@code --docs DIR}, default docs/perf),
 * {@code --no-plots}, {@code --peers a,b} and
 * {@code --cases a,b} (only those), {@code --rtt-count N}, {@code --seconds S} (bulk window),
 * {@code --cycles N} (connrate/fastopen). Exit status: 0 when every scenario ran without a failure.
 */
public final class Bench {
    private Bench() {
    }

    record Args(List<String> scenarios, boolean quick, Path out, boolean publish, Path docs, boolean plots,
                boolean child,
                String peers, String cases, long rttCount, double seconds, long cycles, List<String> raw) {
        static Args parse(String[] argv) {
            List<String> scenarios = new ArrayList<>();
            boolean quick = false;
            Path out = null;
            boolean publish = false;
            // bin/fastpath passes the checkout's root, so the defaults do not depend on the working directory.
            Path root = Path.of(System.getProperty("fastpath.root", "."));
            Path docs = root.resolve("docs").resolve("perf");
            boolean plots = true;
            boolean child = false;
            String peers = null;
            String cases = null;
            long rttCount = -1;
            double seconds = -1;
            long cycles = -1;
            for (int i = 0; i < argv.length; i++) {
                String a = argv[i];
                switch (a) {
                    case "--quick" -> quick = true;
                    case "--out" -> out = Path.of(value(argv, ++i, a));
                    case "--publish" -> publish = true;
                    case "--docs" -> docs = Path.of(value(argv, ++i, a));
                    case "--no-plots" -> plots = false;
                    case "--child" -> child = true;
                    case "--peers" -> peers = value(argv, ++i, a);
                    case "--cases" -> cases = value(argv, ++i, a);
                    case "--rtt-count" -> rttCount = Long.parseLong(value(argv, ++i, a));
                    case "--seconds" -> seconds = Double.parseDouble(value(argv, ++i, a));
                    case "--cycles" -> cycles = Long.parseLong(value(argv, ++i, a));
                    default -> {
                        if (a.startsWith("--")) {
                            throw new IllegalArgumentException("unknown option " + a);
                        }
                        if (a.equals("all")) {
                            scenarios.addAll(BenchScenarios.ALL);
                        } else if (BenchScenarios.ALL.contains(a)) {
                            scenarios.add(a);
                        } else {
                            throw new IllegalArgumentException("unknown scenario " + a + "; scenarios: "
                                + BenchScenarios.ALL + " or all");
                        }
                    }
                }
            }
            if (scenarios.isEmpty()) {
                throw new IllegalArgumentException("which scenario? " + BenchScenarios.ALL + " or all");
            }
            if (out == null) {
                out = root.resolve("bench-results").resolve(ZonedDateTime.now(ZoneOffset.UTC)
                    .format(DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'")));
            }
            return new Args(scenarios, quick, out, publish, docs, plots, child, peers, cases, rttCount, seconds, cycles,
                List.of(argv));
        }

        private static String value(String[] argv, int i, String name) {
            if (i >= argv.length) {
                throw new IllegalArgumentException(name + " needs a value");
            }
            return argv[i];
        }

        BenchScenarios.Budget budget() {
            BenchScenarios.Budget b = quick ? BenchScenarios.Budget.quick() : BenchScenarios.Budget.full();
            long rtt = rttCount > 0 ? rttCount : b.rttCount();
            long warm = rttCount > 0 ? Math.min(b.rttWarmup(), rtt) : b.rttWarmup();
            long nioWarm = rttCount > 0 ? Math.min(b.nioRttWarmup(), rtt) : b.nioRttWarmup();
            double warmS = rttCount > 0 ? Math.min(b.warmupSeconds(), 0.2) : b.warmupSeconds();
            double fastpathWarmS = rttCount > 0 ? Math.min(b.fastpathWarmupSeconds(), 0.2) : b.fastpathWarmupSeconds();
            return new BenchScenarios.Budget(rtt, warm, nioWarm, warmS,
                seconds > 0 ? Math.min(b.bulkWarmupSeconds(), seconds) : b.bulkWarmupSeconds(),
                seconds > 0 ? seconds : b.bulkSeconds(), cycles > 0 ? cycles : b.cycles(), b.jmhOptions(),
                fastpathWarmS);
        }
    }

    public static void main(String[] argv) {
        int status = run(argv);
        System.out.flush();
        Runtime.getRuntime().halt(status); // DPDK's threads are not daemons
    }

    /** Runs bench with these arguments; returns the exit status (0 ok, 1 failures, 2 usage). */
    static int run(String[] argv) {
        try {
            Args args = Args.parse(argv);
            return args.child() ? child(args) : parent(args);
        } catch (IllegalArgumentException e) {
            System.err.println("bench: " + e.getMessage());
            return 2;
        } catch (Exception e) {
            System.err.println("bench: " + e);
            e.printStackTrace();
            return 1;
        }
    }

    /** The line a child prints before each scenario's output; the parent files what follows under that name. */
    static final String SCENARIO_MARK = "bench: scenario ";
    /** The line a child prints after each scenario: {@code bench: <scenario> took <s> s, <n> failure(s)}. */
    private static final Pattern DONE = Pattern.compile(
        "bench: (\\w+) took ([0-9.]+) s, (\\d+) failure\\(s\\)");

    /**
     * Runs the scenarios in child JVMs (this one's flags and class path), then plots. The full run gives each
     * scenario a JVM of its own (a fresh JIT per scenario). {@code --quick} runs them all in one JVM: one JVM
     * start and one EAL initialisation (with its pools and the first linking of every native call, about 2 s)
     * instead of one per scenario; if that JVM dies, the scenarios it had not begun run in a new one.
     */
    private static int parent(Args args) throws IOException, InterruptedException {
        Path dir = args.out().toAbsolutePath();
        Files.createDirectories(dir);
        long started = System.nanoTime();
        System.out.println("bench: results in " + dir + (args.quick() ? " (quick: the scenarios share one JVM)"
            : ""));
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> jvm = new ArrayList<>(ManagementFactory.getRuntimeMXBean().getInputArguments());
        int failed = 0;
        List<String> ran = new ArrayList<>();
        Map<String, Double> seconds = new LinkedHashMap<>();
        List<String> remaining = new ArrayList<>(args.scenarios());
        while (!remaining.isEmpty()) {
            List<String> batch = args.quick() ? List.copyOf(remaining) : List.of(remaining.getFirst());
            List<String> command = new ArrayList<>();
            command.add(java);
            command.addAll(jvm);
            command.addAll(List.of("-cp", System.getProperty("java.class.path"), Bench.class.getName()));
            command.addAll(batch);
            command.addAll(List.of("--child", "--out", dir.toString()));
            command.addAll(passThrough(args.raw()));
            long t0 = System.nanoTime();
            long scenarioStart = t0;
            // The child's output goes to ours and to <scenario>.txt beside its JSON.
            Process child = new ProcessBuilder(command).redirectErrorStream(true).start();
            child.getOutputStream().close();
            List<String> begun = new ArrayList<>();
            Map<String, Integer> failures = new LinkedHashMap<>();
            List<String> before = new ArrayList<>(); // printed before the first scenario began (JVM warnings)
            BufferedWriter log = null;
            try (var in = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = in.readLine()) != null; ) {
                    System.out.println(line);
                    if (line.startsWith(SCENARIO_MARK)) {
                        String scenario = line.substring(SCENARIO_MARK.length()).strip();
                        if (log != null) {
                            log.close();
                        }
                        log = Files.newBufferedWriter(dir.resolve(scenario + ".txt"));
                        for (String b : before) {
                            log.write(b);
                            log.newLine();
                        }
                        before.clear();
                        begun.add(scenario);
                        scenarioStart = System.nanoTime();
                        continue;
                    }
                    var done = DONE.matcher(line);
                    if (done.matches()) {
                        failures.put(done.group(1), Integer.parseInt(done.group(3)));
                        // Wall time as the parent saw it; the first scenario's includes the JVM's start.
                        seconds.put(done.group(1), (System.nanoTime() - (failures.size() == 1 ? t0 : scenarioStart))
                            / 1e9);
                    }
                    if (log != null) {
                        log.write(line);
                        log.newLine();
                    } else {
                        before.add(line);
                    }
                }
            } finally {
                if (log != null) {
                    log.close();
                }
            }
            int rc = child.waitFor();
            if (begun.isEmpty()) {
                begun.add(batch.getFirst()); // the JVM did not get as far as the first scenario
            }
            for (String scenario : begun) {
                remaining.remove(scenario);
                Integer n = failures.get(scenario);
                if (n == null) {
                    System.out.printf("bench: %s did not finish (the JVM exited %d)%n", scenario, rc);
                    seconds.putIfAbsent(scenario, (System.nanoTime() - scenarioStart) / 1e9);
                }
                if (n == null || n != 0) {
                    failed++;
                }
                if (Files.exists(dir.resolve(scenario + ".json"))) {
                    ran.add(scenario);
                }
            }
            if (rc != 0 && failures.values().stream().allMatch(n -> n == 0) && failures.size() == begun.size()) {
                failed++; // the JVM failed outside any scenario
                System.out.printf("bench: the scenarios' JVM exited %d%n", rc);
            }
        }
        long plotStart = System.nanoTime();
        List<Path> pngs = List.of();
        if (args.plots() && !ran.isEmpty()) {
            pngs = BenchPlots.render(dir, ran);
            pngs.forEach(p -> System.out.println("bench: plot " + p));
        }
        double plotSeconds = (System.nanoTime() - plotStart) / 1e9;
        Json summary = new Json().beginObject().field("args", args.raw()).field("scenarios", ran)
            .field("failed_scenarios", failed).field("total_s", (System.nanoTime() - started) / 1e9)
            .beginObject("scenario_s");
        seconds.forEach(summary::field);
        summary.endObject().field("plots_s", plotSeconds)
            .field("plots", pngs.stream().map(p -> p.getFileName().toString()).toList()).endObject();
        Files.writeString(dir.resolve("bench.json"), summary + "\n");
        if (args.publish()) {
            BenchPlots.publish(dir, args.docs(), ran, pngs, String.join(" ", args.raw()));
        }
        StringBuilder times = new StringBuilder();
        seconds.forEach((s, t) -> times.append(String.format(Locale.ROOT, "%s %.1f s, ", s, t)));
        times.append(String.format(Locale.ROOT, "plots %.1f s", plotSeconds));
        System.out.println("bench: times: " + times);
        System.out.printf(Locale.ROOT, "bench: %d scenario(s) in %.1f s elapsed, %d with failures; results in %s%n",
            args.scenarios().size(), (System.nanoTime() - started) / 1e9, failed, dir);
        return failed == 0 ? 0 : 1;
    }

    private static List<String> passThrough(List<String> raw) {
        Set<String> withValue = Set.of("--peers", "--cases", "--rtt-count", "--seconds", "--cycles");
        List<String> out = new ArrayList<>();
        for (int i = 0; i < raw.size(); i++) {
            String a = raw.get(i);
            if (a.equals("--quick")) {
                out.add(a);
            } else if (withValue.contains(a) && i + 1 < raw.size()) {
                out.add(a);
                out.add(raw.get(++i));
            }
        }
        return out;
    }

    /** The scenarios named, one after another in this JVM, each framed by the lines {@link #parent} reads. */
    private static int child(Args args) throws Exception {
        Path dir = args.out();
        Files.createDirectories(dir);
        Predicate<String> peers = filter(args.peers());
        Predicate<String> cases = filter(args.cases());
        BenchScenarios scenarios = new BenchScenarios(dir, args.budget(), args.quick(), peers, cases);
        int failures = 0;
        for (String scenario : args.scenarios()) {
            System.out.println(SCENARIO_MARK + scenario);
            long t0 = System.nanoTime();
            BenchResults results;
            try {
                results = scenarios.run(scenario);
            } catch (Exception e) {
                // One scenario's failure must not cost the ones after it in this JVM.
                e.printStackTrace(System.out);
                results = new BenchResults(scenario);
                results.fail(String.valueOf(e));
            }
            Map<String, Object> facts = new LinkedHashMap<>();
            facts.put("quick", args.quick());
            facts.put("budget", args.budget().toString());
            facts.put("jvm", System.getProperty("java.vm.version"));
            facts.put("jvm_flags", String.join(" ", ManagementFactory.getRuntimeMXBean().getInputArguments()));
            facts.put("cpus", Runtime.getRuntime().availableProcessors());
            facts.put("process_cpus", Affinity.current());
            facts.put("loadavg", loadavg());
            facts.put("elapsed_s", (System.nanoTime() - t0) / 1e9);
            Path file = results.write(dir, facts);
            System.out.println("wrote " + file);
            System.out.printf(Locale.ROOT, "bench: %s took %.1f s, %d failure(s)%n", scenario,
                (System.nanoTime() - t0) / 1e9, results.failures.size());
            failures += results.failures.size();
        }
        return failures == 0 ? 0 : 1;
    }

    private static String loadavg() {
        try {
            return BenchScenarios.proc("loadavg");
        } catch (IOException e) {
            return "?";
        }
    }

    private static Predicate<String> filter(String list) {
        if (list == null || list.isBlank()) {
            return s -> true;
        }
        Set<String> allowed = Set.copyOf(Arrays.asList(list.split(",")));
        return allowed::contains;
    }
}
