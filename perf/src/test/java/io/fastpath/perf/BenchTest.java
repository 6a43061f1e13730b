package io.fastpath.perf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bench} end to end with a tiny budget: the pingpong scenario (64 B, fastpath against blocking java.nio)
 * and the throughput scenario (one connection, fastpath against java.nio) run in a JVM of their own as
 * {@code bin/fastpath bench} runs them, then the output is checked: the RESULT lines' format, the JSON parses
 * and names the files beside it, the HdrHistogram logs read back with the measured count, the PNGs decode.
 * No timing is asserted: this machine is shared.
 */
class BenchTest {
    /** The format issue 13 specifies. */
    private static final Pattern RESULT = Pattern.compile(
        "RESULT (\\w+) (\\w+) fastpath=(\\d+(\\.\\d+)?) (\\w+)=(\\d+(\\.\\d+)?) ratio=(\\d+(\\.\\d+)?|inf)( higher_is_better)?");

    @Test
    void pingpongAndThroughputEndToEnd(@TempDir Path dir, @TempDir Path docs) throws IOException {
        Files.writeString(docs.resolve("README.md"), "# Performance\n\nbefore\n\n" + BenchPlots.BEGIN
            + "\nold results\n" + BenchPlots.END + "\n\nafter\n");
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        PrintStream original = System.out;
        int status;
        // The scenarios run in a child JVM, as under bin/fastpath; the parent copies its output to ours.
        System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            status = Bench.run(new String[] {"pingpong", "throughput", "--out", dir.toString(), "--quick",
                "--cases", "64B,1conn", "--peers", "fastpath,nio", "--rtt-count", "2000", "--seconds", "0.2",
                "--publish", "--docs", docs.toString()});
        } finally {
            System.setOut(original);
        }
        String parentOutput = captured.toString(StandardCharsets.UTF_8);
        original.print(parentOutput);
        assertEquals(0, status, parentOutput);

        Map<String, Object> summary = JsonReader.object(JsonReader.parse(Files.readString(dir.resolve("bench.json"))));
        assertEquals(List.of("pingpong", "throughput"), summary.get("scenarios"));

        Map<String, Object> pingpong = read(dir.resolve("pingpong.json"));
        List<String> lines = resultLines(pingpong);
        List<String> printed = parentOutput.lines().filter(l -> l.startsWith("RESULT ")).toList();
        assertEquals(4, printed.size(), parentOutput);
        assertEquals(lines, printed.subList(0, 3), "the lines printed are the lines kept in the JSON");
        assertEquals(printed.subList(0, 3), Files.readAllLines(dir.resolve("pingpong.txt")).stream()
            .filter(l -> l.startsWith("RESULT ")).toList());
        assertEquals(3, lines.size(), "p50, p99, p99.9 against nio: " + lines);
        for (String line : lines) {
            var m = RESULT.matcher(line);
            assertTrue(m.matches(), line);
            assertEquals("pingpong", m.group(1));
            assertEquals("nio", m.group(5));
            double ratio = Double.parseDouble(m.group(3)) / Double.parseDouble(m.group(6));
            assertEquals(ratio, Double.parseDouble(m.group(8)), Math.max(0.001, ratio * 0.02), line);
            assertFalse(line.endsWith("higher_is_better"), "latency: lower is better: " + line);
        }
        assertTrue(lines.get(0).startsWith("RESULT pingpong p50_us fastpath="), lines.get(0));
        List<Object> latency = JsonReader.array(pingpong.get("latency"));
        assertEquals(2, latency.size());
        for (Object o : latency) {
            Path hlog = dir.resolve((String) JsonReader.object(o).get("hlog"));
            Histogram h = BenchScenarios.readLog(hlog);
            assertEquals(2000, h.getTotalCount(), hlog.toString());
            assertTrue(h.getValueAtPercentile(50) > 0, hlog.toString());
            assertTrue(Files.exists(Path.of(hlog.toString().replace(".hlog", ".hgrm"))));
        }
        assertTrue(JsonReader.array(pingpong.get("failures")).isEmpty(), pingpong.get("failures").toString());

        Map<String, Object> throughput = read(dir.resolve("throughput.json"));
        List<String> tlines = resultLines(throughput);
        assertEquals(1, tlines.size(), tlines.toString());
        assertTrue(RESULT.matcher(tlines.get(0)).matches(), tlines.get(0));
        assertTrue(tlines.get(0).startsWith("RESULT throughput gbit_per_s fastpath="), tlines.get(0));
        assertTrue(tlines.get(0).endsWith(" higher_is_better"), tlines.get(0));
        for (Object o : JsonReader.array(throughput.get("runs"))) {
            Map<String, Object> run = JsonReader.object(o);
            if (run.get("peer").equals("fastpath")) {
                assertTrue((Double) run.get("verified_bytes") > 0, "the receiver verified the stream");
            }
        }

        // --quick ran both scenarios in one JVM: each one's lines went to its own .txt, and the times are kept.
        assertEquals(printed.subList(3, 4), Files.readAllLines(dir.resolve("throughput.txt")).stream()
            .filter(l -> l.startsWith("RESULT ")).toList());
        assertTrue(parentOutput.contains("(quick: the scenarios share one JVM)"), parentOutput);
        Map<String, Object> times = JsonReader.object(summary.get("scenario_s"));
        assertEquals(List.of("pingpong", "throughput"), List.copyOf(times.keySet()));
        for (Object t : times.values()) {
            assertTrue((Double) t > 0, times.toString());
        }
        assertTrue(Pattern.compile("bench: times: pingpong [0-9.]+ s, throughput [0-9.]+ s, plots [0-9.]+ s")
            .matcher(parentOutput).find(), parentOutput);
        assertTrue(Pattern.compile("bench: 2 scenario\\(s\\) in [0-9.]+ s elapsed, 0 with failures")
            .matcher(parentOutput).find(), parentOutput);

        List<Object> plots = JsonReader.array(summary.get("plots"));
        assertEquals(List.of("pingpong-64B-latency.png", "pingpong-scaling-bars.png",
            "throughput-throughput-bars.png"), plots);
        for (Object png : plots) {
            var image = ImageIO.read(dir.resolve((String) png).toFile());
            assertTrue(image != null && image.getWidth() > 100 && image.getHeight() > 100, png.toString());
        }

        // --publish: the plots copied, the generated section replaced, the rest of the README kept
        String readme = Files.readString(docs.resolve("README.md"));
        assertTrue(readme.startsWith("# Performance\n\nbefore\n\n" + BenchPlots.BEGIN), readme);
        assertTrue(readme.endsWith(BenchPlots.END + "\n\nafter\n"), readme);
        assertFalse(readme.contains("old results"), readme);
        assertTrue(readme.contains("![pingpong-64B-latency.png](pingpong-64B-latency.png)"), readme);
        assertTrue(readme.contains(lines.get(0)), readme);
        assertTrue(readme.contains("`bin/fastpath bench pingpong throughput"), readme);
        assertTrue(Files.exists(docs.resolve("throughput-throughput-bars.png")));
    }

    /**
     * {@code bench netty} with a tiny budget: the same handlers on fastpath's Netty transport (ring pair) and on
     * epoll and io_uring (loopback, each when this kernel has it): 64 B request/response percentiles and HTTP
     * requests per second, one RESULT line per peer and metric, kept in the JSON, with a .hlog per peer and the
     * plots. No timing is asserted.
     */
    @Test
    void nettyScenarioEndToEnd(@TempDir Path dir) throws IOException {
        List<String> peers = new java.util.ArrayList<>(List.of("netty_epoll"));
        if (io.netty.channel.uring.IoUring.isAvailable()) {
            peers.add("netty_io_uring");
        }
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        PrintStream original = System.out;
        int status;
        System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            status = Bench.run(new String[] {"netty", "--out", dir.toString(), "--quick", "--rtt-count", "1000",
                "--seconds", "0.2", "--peers", "fastpath," + String.join(",", peers)});
        } finally {
            System.setOut(original);
        }
        String output = captured.toString(StandardCharsets.UTF_8);
        original.print(output);
        assertEquals(0, status, output);

        Map<String, Object> netty = read(dir.resolve("netty.json"));
        assertTrue(JsonReader.array(netty.get("failures")).isEmpty(), netty.get("failures").toString());
        List<String> lines = resultLines(netty);
        List<String> printed = output.lines().filter(l -> l.startsWith("RESULT ")).toList();
        assertEquals(lines, printed, "the lines printed are the lines kept in the JSON");
        assertEquals(4 * peers.size(), lines.size(), "p50, p99, p99.9 and HTTP requests/s per peer: " + lines);
        int at = 0;
        for (String metric : List.of("p50_us", "p99_us", "p999_us", "http_requests_per_s")) {
            for (String peer : peers) {
                String line = lines.get(at++);
                var m = RESULT.matcher(line);
                assertTrue(m.matches(), line);
                assertEquals("netty", m.group(1));
                assertEquals(metric, m.group(2), line);
                assertEquals(peer, m.group(5), line);
                assertEquals(metric.startsWith("http"), line.endsWith(" higher_is_better"), line);
            }
        }
        List<Object> latency = JsonReader.array(netty.get("latency"));
        assertEquals(1 + peers.size(), latency.size());
        for (Object o : latency) {
            Path hlog = dir.resolve((String) JsonReader.object(o).get("hlog"));
            assertEquals(1000, BenchScenarios.readLog(hlog).getTotalCount(), hlog.toString());
        }
        for (Object o : JsonReader.array(netty.get("runs"))) {
            Map<String, Object> run = JsonReader.object(o);
            if (run.get("case").equals("http")) {
                assertTrue((Double) run.get("requests") > 0, "responses counted: " + run);
            }
        }
        Map<String, Object> summary = JsonReader.object(JsonReader.parse(Files.readString(dir.resolve("bench.json"))));
        assertEquals(List.of("netty-64B-latency.png", "netty-netty-bars.png"), JsonReader.array(summary.get("plots")));
    }

    @Test
    void resultLineFormat() {
        var c = new BenchResults.Comparison("p50_us", "µs", false,
            new java.util.LinkedHashMap<>(Map.of("fastpath", 1.0)));
        c.values().put("nio", 52.5);
        assertEquals(List.of("RESULT pingpong p50_us fastpath=1.00 nio=52.50 ratio=0.019"),
            BenchResults.resultLines("pingpong", c));
        var t = new BenchResults.Comparison("gbit_per_s", "Gbit/s", true, new java.util.LinkedHashMap<>());
        t.values().put("fastpath", 18.0);
        t.values().put("nio", 24.3);
        assertEquals(List.of("RESULT throughput gbit_per_s fastpath=18.00 nio=24.30 ratio=0.741 higher_is_better"),
            BenchResults.resultLines("throughput", t));
    }

    @Test
    void jsonReaderReadsWhatJsonWrites() {
        Json json = new Json().beginObject().field("s", "a\"b\\c\n").field("n", 1.5).field("l", 3L)
            .field("b", true).field("list", List.of("x", "y")).beginArray("empty").endArray().endObject();
        Map<String, Object> m = JsonReader.object(JsonReader.parse(json.toString()));
        assertEquals("a\"b\\c\n", m.get("s"));
        assertEquals(1.5, m.get("n"));
        assertEquals(3.0, m.get("l"));
        assertEquals(true, m.get("b"));
        assertEquals(List.of("x", "y"), m.get("list"));
        assertEquals(List.of(), m.get("empty"));
        assertThrowsIllegal("{\"a\":1");
        assertThrowsIllegal("{\"a\":1} x");
        assertThrowsIllegal("[1,]");
    }

    private static void assertThrowsIllegal(String text) {
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> JsonReader.parse(text));
    }

    private static Map<String, Object> read(Path file) throws IOException {
        assertTrue(Files.exists(file), file.toString());
        return JsonReader.object(JsonReader.parse(Files.readString(file)));
    }

    private static List<String> resultLines(Map<String, Object> scenario) {
        return JsonReader.array(scenario.get("comparisons")).stream()
            .flatMap(c -> JsonReader.array(JsonReader.object(c).get("result_lines")).stream())
            .map(String.class::cast).toList();
    }
}
