package io.fastpath.perf;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What one scenario of {@code bench} found: comparisons (one metric, fastpath's value and each peer's), the
 * latency distributions to plot (one HdrHistogram log per case and peer), bars to plot, each run's raw JSON,
 * and failures. Prints tables and the {@code RESULT} lines; written to {@code <dir>/<scenario>.json}, which
 * the plots are made from. Thread: the bench's main thread.
 */
final class BenchResults {
    static final String SUBJECT = "fastpath";

    /** One metric: fastpath's value first, then each peer's. */
    record Comparison(String metric, String unit, boolean higherIsBetter, Map<String, Double> values) {
    }

    /** A latency distribution to plot: case, peer, the .hlog file (relative to the results folder). */
    record Latency(String caseName, String peer, String hlog) {
    }

    /** A bar to plot: chart (e.g. "throughput"), case, peer, value, unit. */
    record Bar(String chart, String caseName, String peer, double value, String unit) {
    }

    final String scenario;
    final List<Comparison> comparisons = new ArrayList<>();
    final List<Latency> latencies = new ArrayList<>();
    final List<Bar> bars = new ArrayList<>();
    final List<String> failures = new ArrayList<>();
    final List<String> notes = new ArrayList<>();
    private final Json runs = new Json().beginObject().beginArray("runs");

    BenchResults(String scenario) {
        this.scenario = scenario;
    }

    void run(Json run) {
        runs.element(run);
    }

    void fail(String what) {
        failures.add(what);
        System.out.println("FAILED " + scenario + " " + what);
    }

    /** Prints a comparison's RESULT lines (one per peer) and keeps it. */
    void compare(String metric, String unit, boolean higherIsBetter, Map<String, Double> values) {
        Comparison c = new Comparison(metric, unit, higherIsBetter, new LinkedHashMap<>(values));
        comparisons.add(c);
        for (String line : resultLines(scenario, c)) {
            System.out.println(line);
        }
    }

    /**
     * {@code RESULT <scenario> <metric> fastpath=<v> <peer>=<v> ratio=<fastpath/peer>[ higher_is_better]},
     * one per peer that has a value; none when fastpath has none.
     */
    static List<String> resultLines(String scenario, Comparison c) {
        List<String> lines = new ArrayList<>();
        Double subject = c.values().get(SUBJECT);
        if (subject == null) {
            return lines;
        }
        for (Map.Entry<String, Double> e : c.values().entrySet()) {
            if (e.getKey().equals(SUBJECT) || e.getValue() == null) {
                continue;
            }
            lines.add("RESULT " + scenario + " " + c.metric() + " " + SUBJECT + "=" + number(subject) + " "
                + e.getKey() + "=" + number(e.getValue()) + " ratio=" + ratio(subject, e.getValue())
                + (c.higherIsBetter() ? " higher_is_better" : ""));
        }
        return lines;
    }

    static String number(double v) {
        double a = Math.abs(v);
        if (a >= 1000) {
            return String.format(Locale.ROOT, "%.0f", v);
        }
        if (a >= 100) {
            return String.format(Locale.ROOT, "%.1f", v);
        }
        if (a >= 1) {
            return String.format(Locale.ROOT, "%.2f", v);
        }
        return String.format(Locale.ROOT, "%.3f", v);
    }

    static String ratio(double a, double b) {
        if (b == 0) {
            return "inf";
        }
        double r = a / b;
        return Math.abs(r) >= 10 ? String.format(Locale.ROOT, "%.1f", r) : String.format(Locale.ROOT, "%.3f", r);
    }

    /** Prints a table: one row per peer, one column per header, missing cells as "-". */
    static void table(String title, List<String> headers, Map<String, List<String>> rows) {
        System.out.println();
        System.out.println(title);
        int first = Math.max(4, rows.keySet().stream().mapToInt(String::length).max().orElse(4));
        StringBuilder h = new StringBuilder(String.format("  %-" + first + "s", "peer"));
        for (String header : headers) {
            h.append(String.format(" %12s", header));
        }
        System.out.println(h);
        rows.forEach((peer, cells) -> {
            StringBuilder r = new StringBuilder(String.format("  %-" + first + "s", peer));
            for (String cell : cells) {
                r.append(String.format(" %12s", cell));
            }
            System.out.println(r);
        });
        System.out.println();
    }

    /** Writes {@code <dir>/<scenario>.json}. */
    Path write(Path dir, Map<String, Object> facts) throws IOException {
        Json json = new Json().beginObject().field("scenario", scenario);
        json.beginObject("facts");
        for (Map.Entry<String, Object> e : facts.entrySet()) {
            Object v = e.getValue();
            if (v instanceof Number n) {
                json.field(e.getKey(), n.doubleValue());
            } else if (v instanceof Boolean b) {
                json.field(e.getKey(), b);
            } else {
                json.field(e.getKey(), String.valueOf(v));
            }
        }
        json.endObject();
        json.beginArray("comparisons");
        for (Comparison c : comparisons) {
            json.beginObject().field("metric", c.metric()).field("unit", c.unit())
                .field("higher_is_better", c.higherIsBetter()).beginObject("values");
            c.values().forEach(json::field);
            json.endObject().field("result_lines", resultLines(scenario, c)).endObject();
        }
        json.endArray().beginArray("latency");
        for (Latency l : latencies) {
            json.beginObject().field("case", l.caseName()).field("peer", l.peer()).field("hlog", l.hlog()).endObject();
        }
        json.endArray().beginArray("bars");
        for (Bar b : bars) {
            json.beginObject().field("chart", b.chart()).field("case", b.caseName()).field("peer", b.peer())
                .field("value", b.value()).field("unit", b.unit()).endObject();
        }
        json.endArray().field("failures", failures).field("notes", notes);
        Json r = runs.endArray().endObject();
        String runsText = r.toString();
        // "runs": the array inside the helper object, spliced in as a field
        String body = json.toString();
        body = body + ",\"runs\":" + runsText.substring(runsText.indexOf('['), runsText.length() - 1) + "}";
        Path file = dir.resolve(scenario + ".json");
        Files.writeString(file, body + "\n", StandardCharsets.UTF_8);
        JsonReader.parse(body); // what we wrote must read back
        return file;
    }
}
