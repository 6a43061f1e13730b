package io.fastpath.perf;

import static io.fastpath.perf.BenchScenarios.allocCell;
import static io.fastpath.perf.BenchScenarios.cell;
import static io.fastpath.perf.BenchScenarios.num;
import static io.fastpath.perf.BenchScenarios.proc;
import static io.fastpath.perf.BenchScenarios.values;

import io.fastpath.perf.BenchScenarios.PeerRun;
import io.fastpath.stack.app.EchoServer;
import io.fastpath.stack.tcp.TcpConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * The connection-cycle scenarios of {@code bench}, connrate and fastopen: a part of {@link BenchScenarios}, which
 * owns the budget, the filters and the per-peer bookkeeping ({@link BenchScenarios#runPeer}) these use.
 * Thread: the bench's main thread.
 */
final class ConnectScenarios {
    private final BenchScenarios bench;
    private final BenchScenarios.Budget budget;
    private final boolean quick;
    private final Predicate<String> peerFilter;

    ConnectScenarios(BenchScenarios bench, BenchScenarios.Budget budget, boolean quick,
                     Predicate<String> peerFilter) {
        this.bench = bench;
        this.budget = budget;
        this.quick = quick;
        this.peerFilter = peerFilter;
    }

    /**
     * connrate: fastpath (connect, 64 B, echo, close; connect-then-send) against java.nio doing the same over
     * loopback; fastopen: fastpath with the request in the SYN against fastpath connect-then-send.
     */
    void connectCycles(BenchResults results, boolean fastOpenScenario) throws IOException {
        String scenario = results.scenario;
        // Every peer here but nio is fastpath (fastopen: both): fastpath's warm-up time for them.
        TcpHarness.Options o = bench.options(scenario, 64);
        TcpHarness.Options fo = bench.fastpathOptions(scenario, 64, budget.rttCount());
        TcpHarness harness = new TcpHarness(o);
        harness.openPools();
        Map<String, Map<String, Object>> records = new LinkedHashMap<>();
        try {
            Map<String, PeerRun> peers = new LinkedHashMap<>();
            if (fastOpenScenario) {
                peers.put("fastpath", r -> wskCycles(harness, fo, r, true, "fastpath"));
                peers.put("connect_then_send", r -> wskCycles(harness, fo, r, false, "connect_then_send"));
                // Both peers run the same stacks and WSK code in this JVM: the one measured first paid its JIT
                // compilation (its warm-up ran 3,000 cycles in 2 s, the other's 35,000, and its tail had 176
                // cycles over 1 ms against 3), which read as Fast Open being 4 times slower per cycle. So each
                // runs once unmeasured before either is measured. --quick warms up only the one measured last:
                // its pass compiles the stacks' and WSK's shared code before the first measured run (which
                // then compiles only its own part in its own warm-up), and the first's measured run does the
                // same for the last.
                List<String> warm = new ArrayList<>(peers.keySet().stream().filter(peerFilter).toList());
                if (quick && warm.size() > 1) {
                    warm = List.of(warm.getLast());
                }
                for (String peer : warm) {
                    warmUp(scenario, peer, peers.get(peer));
                }
            } else {
                peers.put("fastpath", r -> fastpathCycles(harness, fo, r, false, "fastpath"));
                peers.put("nio", r -> nioCycles(o, r));
            }
            for (Map.Entry<String, PeerRun> p : peers.entrySet()) {
                if (peerFilter.test(p.getKey())) {
                    Map<String, Object> record = bench.runPeer(results, "64B", p.getKey(), p.getValue());
                    if (record != null) {
                        records.put(p.getKey(), record);
                        results.latencies.add(new BenchResults.Latency("64B", p.getKey(),
                            scenario + "." + p.getKey() + ".hlog"));
                        results.bars.add(new BenchResults.Bar(scenario, "cycles/s", p.getKey(),
                            num(record, "round_trips_per_s"), "cycles/s"));
                    }
                }
            }
        } finally {
            harness.closePools();
        }
        Map<String, List<String>> rows = new LinkedHashMap<>();
        records.forEach((peer, r) -> rows.put(peer, List.of(cell(r, "round_trips_per_s"), cell(r, "p50_us"),
            cell(r, "p99_us"), cell(r, "p999_us"), allocCell(r, "rt"), cell(r, "gc_count"))));
        BenchResults.table(scenario + " (connect + 64 B request/response + close per cycle; latency: connect call"
            + " to the last byte of the response)", List.of("cycles/s", "p50 µs", "p99 µs", "p99.9 µs",
            "B/cycle", "GCs"), rows);
        if (fastOpenScenario) {
            results.compare("first_response_p50_us", "µs", false, values(records, "p50_us"));
            results.compare("first_response_p99_us", "µs", false, values(records, "p99_us"));
        } else {
            results.compare("cycles_per_s", "cycles/s", true, values(records, "round_trips_per_s"));
            results.compare("cycle_p50_us", "µs", false, values(records, "p50_us"));
        }
        records.forEach((peer, r) -> {
            Object tw = r.get("time_wait");
            if (tw != null) {
                results.notes.add(peer + ": " + tw);
                System.out.println("TIME-WAIT " + peer + ": " + tw);
            }
        });
    }

    /** Runs a peer once for the JIT only: its record is dropped (a failure shows again in the measured run). */
    private static void warmUp(String scenario, String peer, PeerRun run) {
        long start = System.nanoTime();
        try {
            run.run(new Json().beginObject());
        } catch (Exception | Error e) {
            System.out.println("warm-up " + peer + ": " + e);
        }
        System.out.printf("== %s %s warm-up pass (not measured): %.1f s%n", scenario, peer,
            (System.nanoTime() - start) / 1e9);
    }

    private void fastpathCycles(TcpHarness harness, TcpHarness.Options o, Json r, boolean fastOpen, String name)
        throws IOException {
        RttRecorder recorder = new RttRecorder(cyclesWarmup(), o.rttWarmupNs(), budget.cycles());
        // One cycle at a time to one server port, each holding its ephemeral port in TIME-WAIT: at the 6 us a
        // cycle takes when the host is fast (166k cycles/s), 100 ms would hold all 16,384 ports and connect fails
        // with STATUS_TOO_MANY_ADDRESSES (it did, twice); 20 ms holds about 3,300 (as ShardScaling's cycles).
        TcpConfig tcp = TcpHarness.tcpConfig().withFastOpen(true, 64).withTimeWait(ShardScaling.CONNRATE_TIME_WAIT_NS);
        EchoServer echo = new EchoServer();
        try (TcpHarness.RingStacks s = harness.new RingStacks("tcpc" + name.length() + (fastOpen ? "f" : "c"),
            tcp)) {
            ConnectCycles[] cycles = new ConnectCycles[1];
            cycles[0] = new ConnectCycles(s.client.tcp(), TcpHarness.SERVER_IP, TcpHarness.ECHO_PORT, recorder,
                fastOpen, 64);
            s.start(() -> TcpHarness.require(echo.listen(s.server.tcp(), TcpHarness.ECHO_PORT), "listen"),
                () -> cycles[0].doWork(s.client));
            Map<String, Long> switchesBefore = ConnectCycles.involuntarySwitches();
            Map<String, Long> wakeupsBefore = ConnectCycles.voluntarySwitches();
            s.clientThread.run(cycles[0]::next);
            r.field("fast_open", fastOpen).field("time_wait", "client (active closer) holds TIME-WAIT for "
                + TimeUnit.NANOSECONDS.toMillis(tcp.timeWaitNs()) + " ms as a compact record (TcpConfig.timeWaitNs,"
                + " the harness's setting; the default is 60 s); the server's close ends in LAST-ACK, no TIME-WAIT");
            TcpHarness.measureRtt(r, recorder, s.probes(), s::check);
            Measure.writeDistribution(o.out(), name, recorder);
            cycles[0].stop();
            Measure.await(cycles[0]::idle, 10, 5, s::check, "last cycle");
            r.field("cycles", cycles[0].cycles())
                .field("syn_data_sent", s.client.counters().tcpFastOpenSynDataSent.get())
                .field("syn_data_accepted", s.server.counters().tcpFastOpenSynDataAccepted.get())
                .field("fast_open_fallbacks", s.client.counters().tcpFastOpenFallbacks.get());
            cycles[0].phases(r);
            // Stalls in every phase alike mean a poll thread lost its CPU: count how often each did.
            Map<String, Long> switchesAfter = ConnectCycles.involuntarySwitches();
            for (String thread : List.of("fastpath-client", "fastpath-server")) {
                long n = switchesAfter.getOrDefault(thread, 0L) - switchesBefore.getOrDefault(thread, 0L);
                r.field(thread.substring(9) + "_involuntary_switches", n);
                System.out.printf("   %s: %d involuntary context switches over the run%n", thread, n);
            }
            // ...and which of the JVM's other threads woke up most (they run on the poll threads' CPUs too).
            Map<String, Long> wakeupsAfter = ConnectCycles.voluntarySwitches();
            String busiest = wakeupsAfter.entrySet().stream()
                .map(e -> Map.entry(e.getKey(), e.getValue() - wakeupsBefore.getOrDefault(e.getKey(), 0L)))
                .filter(e -> e.getValue() > 0).sorted(Map.Entry.<String, Long>comparingByValue().reversed()).limit(6)
                .map(e -> e.getKey() + "=" + e.getValue()).collect(java.util.stream.Collectors.joining(", "));
            r.field("wakeups_by_thread", busiest);
            System.out.println("   voluntary context switches (wake-ups) by thread: " + busiest);
            s.counters(r);
        }
        harness.checkPools(r);
    }

    private int wskRuns;

    /** fastopen: cycles through api-wsk on the client stack (WskConnectEx with data, or connect then send). */
    private void wskCycles(TcpHarness harness, TcpHarness.Options o, Json r, boolean fastOpen, String name)
        throws IOException {
        RttRecorder recorder = new RttRecorder(cyclesWarmup(), o.rttWarmupNs(), budget.cycles());
        TcpConfig tcp = TcpHarness.tcpConfig().withFastOpen(true, 64);
        EchoServer echo = new EchoServer();
        // A ring pair's name is used once per process (the warm-up pass runs each peer twice).
        try (TcpHarness.RingStacks s = harness.new RingStacks("tcpw" + (fastOpen ? "f" : "c") + wskRuns++, tcp)) {
            WskConnectCycles[] cycles = new WskConnectCycles[1];
            io.fastpath.wsk.WskProvider[] wsk = new io.fastpath.wsk.WskProvider[1];
            s.start(() -> TcpHarness.require(echo.listen(s.server.tcp(), TcpHarness.ECHO_PORT), "listen"),
                () -> cycles[0] == null ? s.client.doWork() : cycles[0].doWork(s.client));
            s.clientThread.run(() -> {
                wsk[0] = io.fastpath.wsk.WskProvider.register(s.client); // this thread dispatches it
                cycles[0] = new WskConnectCycles(wsk[0], new io.fastpath.wsk.SocketAddressV4(TcpHarness.SERVER_IP,
                    TcpHarness.ECHO_PORT), recorder, fastOpen, 64);
                cycles[0].next();
            });
            r.field("api", fastOpen ? "WskSocket, TCP_FASTOPEN, WskConnectEx with the request"
                : "WskSocket, WskConnect, then WskSend").field("fast_open", fastOpen)
                .field("time_wait", "client (active closer) holds TIME-WAIT for "
                    + TimeUnit.NANOSECONDS.toMillis(tcp.timeWaitNs()) + " ms as a compact record");
            try {
                TcpHarness.measureRtt(r, recorder, s.probes(), s::check);
                Measure.writeDistribution(o.out(), name, recorder);
                cycles[0].stop();
                Measure.await(cycles[0]::idle, 10, 5, s::check, "last cycle");
            } finally {
                s.clientThread.run(() -> wsk[0].close());
            }
            r.field("cycles", cycles[0].cycles())
                .field("syn_data_sent", s.client.counters().tcpFastOpenSynDataSent.get())
                .field("syn_data_accepted", s.server.counters().tcpFastOpenSynDataAccepted.get())
                .field("fast_open_fallbacks", s.client.counters().tcpFastOpenFallbacks.get());
            s.counters(r);
        }
        harness.checkPools(r);
    }

    private long cyclesWarmup() {
        return Math.max(RttRecorder.CHECKPOINT, budget.cycles() / 10 / RttRecorder.CHECKPOINT * RttRecorder.CHECKPOINT);
    }

    /** java.nio: blocking connect, write, read, close on the client; accept, read, write, read EOF, close. */
    private void nioCycles(TcpHarness.Options o, Json r) throws IOException {
        RttRecorder recorder = new RttRecorder(cyclesWarmup(), o.rttWarmupNs(), budget.cycles());
        try (ServerSocketChannel listener = ServerSocketChannel.open()) {
            listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 1024);
            InetSocketAddress address = (InetSocketAddress) listener.getLocalAddress();
            ByteBuffer request = ByteBuffer.allocateDirect(64);
            ByteBuffer response = ByteBuffer.allocateDirect(64);
            ByteBuffer serverBuffer = ByteBuffer.allocateDirect(64);
            PollThread server = new PollThread("nio-accept", o.serverCpu(), false, () -> {
                try (SocketChannel c = listener.accept()) {
                    c.setOption(StandardSocketOptions.TCP_NODELAY, true);
                    serverBuffer.clear();
                    while (serverBuffer.hasRemaining()) {
                        if (c.read(serverBuffer) < 0) {
                            return 0;
                        }
                    }
                    serverBuffer.flip();
                    while (serverBuffer.hasRemaining()) {
                        c.write(serverBuffer);
                    }
                    serverBuffer.clear();
                    while (c.read(serverBuffer) >= 0) {
                        serverBuffer.clear(); // until the client's FIN
                    }
                    return 1;
                } catch (java.nio.channels.ClosedChannelException e) {
                    return 0; // the listener was closed: the end
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }, null, null);
            PollThread client = new PollThread("nio-connect", o.clientCpu(), false, () -> {
                if (recorder.phase() >= RttRecorder.DONE) {
                    Thread.onSpinWait();
                    return 0;
                }
                long start = System.nanoTime();
                try (SocketChannel c = SocketChannel.open(address)) {
                    c.setOption(StandardSocketOptions.TCP_NODELAY, true);
                    request.clear();
                    while (request.hasRemaining()) {
                        c.write(request);
                    }
                    response.clear();
                    while (response.hasRemaining()) {
                        if (c.read(response) < 0) {
                            throw new IOException("server closed early");
                        }
                    }
                    long now = System.nanoTime();
                    recorder.record(now - start, now);
                    return 1;
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }, null, null);
            r.field("time_wait", "client (active closer) holds TIME-WAIT for the kernel's 60 s; connects reuse"
                + " TIME-WAIT ports by net.ipv4.tcp_tw_reuse=" + sysctl("net/ipv4/tcp_tw_reuse")
                + " (2: loopback only), ephemeral ports " + sysctl("net/ipv4/ip_local_port_range")
                + "; the server's close ends in LAST-ACK");
            try {
                server.start();
                client.start();
                TcpHarness.measureRtt(r, recorder, List.of(Measure.Probe.outside(client),
                    Measure.Probe.outside(server)), () -> {
                        client.checkFailure();
                        server.checkFailure();
                    });
                Measure.writeDistribution(o.out(), "nio", recorder);
            } finally {
                client.close();
                listener.close();
                server.close();
            }
        }
    }

    private static String sysctl(String path) {
        try {
            return proc("sys/" + path).replaceAll("\\s+", "-");
        } catch (IOException e) {
            return "?";
        }
    }
}
