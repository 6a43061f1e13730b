package io.fastpath.stack.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.Port;
import io.fastpath.stack.NtStatus;
import io.fastpath.stack.Stack;
import io.fastpath.stack.StackConfig;
import io.fastpath.stack.app.EchoServer;
import io.fastpath.testkit.Shell;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 12, "Connections at scale": 100,000 concurrent connections from Linux to one fastpath stack (one queue,
 * net_tap), held with data on each. A namespace behind the tap runs {@link ManyConnectionsClient}s (java.nio;
 * eight processes of 12,500 connections, as a process may have at most 20,000 descriptors here, from four
 * source addresses, 25,000 connections each, in a widened ephemeral port range); fastpath runs the
 * {@link EchoServer} on the test thread (invoker mode). Proved: every connection established at once (the
 * client's count and fastpath's table), 16 bytes echoed and checked on each before and after the hold, none
 * reset, and all closed cleanly with the table (pooled slots and TIME-WAIT records) empty again and every mbuf
 * back. Measured and printed (RESULT lines, no assertion on them): the accept rate, the Java heap and native
 * memory each connection costs (used heap after a GC, direct buffers, mbufs held, before and during the hold),
 * the timers armed while idle.
 *
 * <p>System properties: {@code fastpath.c100k.connections} (100000), {@code fastpath.c100k.holdSeconds} (20;
 * perf/connections-100k.sh: 60), {@code fastpath.c100k.sources} (4), {@code fastpath.c100k.clients} (8
 * processes), {@code fastpath.c100k.maxPending} (handshakes under way per client, 64),
 * {@code fastpath.c100k.clientCpu} (a CPU list for the clients' taskset, or none).
 */
class LinuxManyConnectionsTest {
    private static final AtomicInteger SEQUENCE = new AtomicInteger();
    private static final int PORT = 7300;
    private static final long SECOND = 1_000_000_000L;

    @TempDir
    Path dir;

    private static String uniqueName(String kind) {
        return "c100k" + (ProcessHandle.current().pid() % 100000) + kind + SEQUENCE.incrementAndGet();
    }

    @Test
    void hundredThousandLinuxConnectionsHeldWithDataOnEach() throws Exception {
        int n = Integer.getInteger("fastpath.c100k.connections", 100_000);
        double holdSeconds = Double.parseDouble(System.getProperty("fastpath.c100k.holdSeconds", "20"));
        int sources = Integer.getInteger("fastpath.c100k.sources", 4);
        int clients = Integer.getInteger("fastpath.c100k.clients", 8);
        int maxPending = Integer.getInteger("fastpath.c100k.maxPending", 64);
        String clientCpu = System.getProperty("fastpath.c100k.clientCpu", "");
        String net = "10.86." + (ProcessHandle.current().pid() % 250 + 1) + ".";
        String ns = uniqueName("n");
        String iface = uniqueName("t");
        List<String> sourceAddresses = new ArrayList<>();
        for (int i = 0; i < sources; i++) {
            sourceAddresses.add(net + (10 + i));
        }
        TcpConfig tcp = TcpConfig.defaults().withMaxConnections(n + 1024).withBuffers(4096, 4096)
            .withOutOfOrderSegments(4).withListenBacklog(4096).withTimeWait(SECOND);

        long heapBeforeStack = usedHeapAfterGc();
        long directBeforeStack = directBytes();
        PktmbufPool pool = PktmbufPool.create(uniqueName("p"), 16383, 256, PktmbufPool.DEFAULT_DATA_ROOM);
        Shell.run("ip", "netns", "add", ns);
        Thread cleanup = new Thread(() -> Shell.quietly("ip", "netns", "delete", ns));
        Runtime.getRuntime().addShutdownHook(cleanup);
        Stack stack = null;
        List<Process> processes = new ArrayList<>();
        Port port = null;
        try {
            port = EthDevPort.openVdev("net_tap" + iface + ",iface=" + iface, pool, EthDevPort.Config.defaults());
            Shell.run("ip", "link", "set", iface, "netns", ns);
            inNs(ns, "ip", "link", "set", "lo", "up");
            for (String a : sourceAddresses) {
                inNs(ns, "ip", "addr", "add", a + "/24", "dev", iface);
            }
            // The tap's queue towards fastpath: Linux's default of 1000 frames overflows (and costs 1 s SYN
            // retransmissions) whenever the poll thread is off the CPU for a moment while handshakes pour in.
            inNs(ns, "ip", "link", "set", iface, "txqueuelen", "65536");
            inNs(ns, "ip", "link", "set", iface, "up");
            Shell.exec(5, "ip", "netns", "exec", ns, "ethtool", "-K", iface, "tx", "off", "rx", "off");
            inNs(ns, "sysctl", "-q", "-w", "net.ipv4.ip_local_port_range=10000 65000");
            inNs(ns, "sysctl", "-q", "-w", "net.ipv4.tcp_max_tw_buckets=" + (2 * n));

            stack = new Stack(port, StackConfig.builder().name(uniqueName("s")).cidr(net + "2/24").tcp(tcp)
                .countersFile(dir.resolve("c100k.counters")).build());
            stack.onStart();
            EchoServer echo = new EchoServer();
            assertEquals(NtStatus.STATUS_SUCCESS, echo.listen(stack.tcp(), PORT));
            stack.doWork();
            long heapIdleStack = usedHeapAfterGc();
            long directIdleStack = directBytes();
            int mbufsIdle = pool.inUseCount();

            List<Lines> lines = new ArrayList<>();
            for (int k = 0; k < clients; k++) {
                int first = (int) ((long) n * k / clients);
                int count = (int) ((long) n * (k + 1) / clients) - first;
                List<String> command = new ArrayList<>();
                if (!clientCpu.isEmpty()) {
                    command.addAll(List.of("taskset", "-c", clientCpu));
                }
                String java = ProcessHandle.current().info().command().orElseThrow();
                command.addAll(List.of("ip", "netns", "exec", ns, java,
                    "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp",
                    Path.of(ManyConnectionsClient.class.getProtectionDomain().getCodeSource().getLocation().toURI())
                        .toString(),
                    ManyConnectionsClient.class.getName(), net + "2", Integer.toString(PORT), Integer.toString(count),
                    Integer.toString(first), sourceAddresses.get(k % sources), Integer.toString(maxPending)));
                Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
                processes.add(process);
                lines.add(new Lines(process, k));
            }
            Clients all = new Clients(lines);

            // Connect and first echo: the stack runs on this thread all along.
            long start = System.nanoTime();
            long firstAccept = 0;
            long lastAccept = 0;
            long accepted = 0;
            long connectCycles = 0;
            long connectBusyCycles = 0;
            while (!all.every("holding") && !all.any("done")) {
                connectCycles++;
                connectBusyCycles += work(stack) > 0 ? 1 : 0;
                if (echo.accepted() != accepted) {
                    accepted = echo.accepted();
                    long now = System.nanoTime();
                    firstAccept = firstAccept == 0 ? now : firstAccept;
                    lastAccept = now;
                }
                if (System.nanoTime() - start > 900 * SECOND) {
                    throw new AssertionError("not all holding after 900 s: " + all.text());
                }
            }
            assertTrue(all.every("holding"), () -> "a client gave up: " + all.text());
            long holdStart = System.nanoTime();
            long tapDropsConnect = tapDrops(ns, iface);
            long established = stack.tcp().countInState(TcpState.ESTABLISHED);
            int slots = stack.tcp().slotsInUse();
            // Measured during the hold: the GC pauses the stack a moment, the clients are idle.
            long heapHeld = usedHeapAfterGc();
            long directHeld = directBytes();
            int mbufsHeld = pool.inUseCount();
            while (System.nanoTime() - holdStart < Math.min(3 * SECOND, (long) (holdSeconds * SECOND / 2))) {
                work(stack); // the pause's backlog, then the timers of the first exchange run out
            }
            long timersIdle = stack.tcp().timersArmed();
            long idleWork = 0;
            long idleCycles = 0;
            long idleFrom = System.nanoTime();
            while (System.nanoTime() - holdStart < (long) (holdSeconds * SECOND)) {
                idleWork += work(stack);
                idleCycles++;
            }
            double idleSeconds = (System.nanoTime() - idleFrom) / 1e9;
            long establishedAfterHold = stack.tcp().countInState(TcpState.ESTABLISHED);
            long resetsBeforeClose = stack.counters().tcpResetsSent.get() + stack.counters().tcpResetsReceived.get();
            for (Process process : processes) {
                process.getOutputStream().write('\n');
                process.getOutputStream().flush();
            }
            long echo2Deadline = System.nanoTime() + 300 * SECOND;
            while (!all.every("echo2") && !all.any("done") && System.nanoTime() < echo2Deadline) {
                work(stack);
            }
            long resetsAfterEcho2 = stack.counters().tcpResetsSent.get() + stack.counters().tcpResetsReceived.get();
            long tapDropsEcho2 = tapDrops(ns, iface);
            long abnormalBeforeClose = echo.abnormalCloses();
            while (!all.every("done") && System.nanoTime() < echo2Deadline) {
                work(stack);
            }
            // The peers' last ACKs of our FINs (LAST-ACK), then an empty table.
            long closeDeadline = System.nanoTime() + 60 * SECOND;
            while ((stack.tcp().connectionCount() > 0 || pool.inUseCount() > mbufsIdle)
                && System.nanoTime() < closeDeadline) {
                work(stack);
            }
            long tapDropsEnd = tapDrops(ns, iface);
            var c = stack.counters();
            double acceptSeconds = (lastAccept - firstAccept) / 1e9;
            String report = all.text() + "\nestablished(fastpath) " + established + " slots " + slots
                + " after the hold " + establishedAfterHold + " resets before close " + resetsBeforeClose
                + " after echo2 " + resetsAfterEcho2 + " abnormal before close " + abnormalBeforeClose + " accepted "
                + echo.accepted() + " closed " + echo.closed() + " abnormal " + echo.abnormalCloses() + " resets sent "
                + c.tcpResetsSent.get() + " received " + c.tcpResetsReceived.get() + " cookies "
                + c.tcpSynCookiesSent.get() + " overflows " + c.tcpListenOverflows.get() + " retransmits "
                + c.tcpRetransmits.get() + " still open " + stack.tcp().connectionCount() + " time-wait "
                + stack.tcp().timeWaitCount() + " mbufs " + pool.inUseCount() + " (idle " + mbufsIdle + ")";
            System.out.println(report);
            io.fastpath.stack.counters.StackCounters.format(c.reader(), false).forEach(System.out::println);
            System.out.println(Shell.exec(10, "ip", "netns", "exec", ns, "ip", "-s", "link", "show", iface).output());
            System.out.println(Shell.exec(10, "ip", "netns", "exec", ns, "nstat", "-az", "TcpExtTCP*Retrans*",
                "TcpRetransSegs", "TcpExtTCPTimeouts", "TcpActiveOpens", "TcpExtTCPSynRetrans").output());
            System.out.printf(Locale.ROOT, "RESULT c100k established=%d hold_s=%.0f%n", established, holdSeconds);
            System.out.printf(Locale.ROOT, "RESULT c100k accept_rate=%.0f conn/s (%d accepts in %.2f s)%n",
                (echo.accepted() - 1) / Math.max(acceptSeconds, 1e-9), echo.accepted(), acceptSeconds);
            System.out.printf(Locale.ROOT, "RESULT c100k connect_phase_busy_cycles=%.6f (duty cycles that found work,"
                + " of %d, while the clients connected and echoed)%n", connectBusyCycles / (double) Math.max(1,
                connectCycles), connectCycles);
            System.out.printf(Locale.ROOT, "RESULT c100k connect_rate_clients=%d conn/s (sum over %d clients)%n",
                all.sum("established", "rate"), clients);
            System.out.printf(Locale.ROOT, "RESULT c100k heap_bytes_per_connection=%.0f (heap %d -> %d)%n",
                (heapHeld - heapIdleStack) / (double) n, heapIdleStack, heapHeld);
            System.out.printf(Locale.ROOT, "RESULT c100k direct_bytes_per_connection=%.0f (direct %d -> %d)%n",
                (directHeld - directIdleStack) / (double) n, directIdleStack, directHeld);
            System.out.printf(Locale.ROOT, "RESULT c100k bytes_per_connection=%.0f (heap + direct; mbufs held %d,"
                + " idle %d)%n", (heapHeld - heapIdleStack + directHeld - directIdleStack) / (double) n, mbufsHeld,
                mbufsIdle);
            System.out.printf(Locale.ROOT, "RESULT c100k table_bytes_per_slot=%.0f (heap + direct of the stack"
                + " before any connection, %d slots)%n", (heapIdleStack - heapBeforeStack + directIdleStack
                - directBeforeStack) / (double) tcp.maxConnections(), tcp.maxConnections());
            System.out.printf(Locale.ROOT, "RESULT c100k idle_timers_armed=%d idle_work_per_cycle=%.6f (%d duty cycles"
                + " in %.1f s: %.0f per s)%n", timersIdle, idleWork / (double) Math.max(1, idleCycles), idleCycles,
                idleSeconds, idleCycles / Math.max(idleSeconds, 1e-9));
            System.out.printf(Locale.ROOT, "RESULT c100k close_seconds_max=%.3f%n", all.max("closed", "seconds"));
            System.out.printf(Locale.ROOT, "RESULT c100k tap_drops connect=%d hold_and_echo2=%d close=%d (frames Linux"
                + " queued to fastpath and dropped on a full tap queue); resets after the clients closed=%d%n",
                tapDropsConnect, tapDropsEcho2 - tapDropsConnect, tapDropsEnd - tapDropsEcho2,
                c.tcpResetsSent.get() + c.tcpResetsReceived.get() - resetsAfterEcho2);

            assertEquals(n, established, report);
            assertEquals(n, slots, report);
            assertEquals(n, establishedAfterHold, report);
            assertEquals(n, all.sum("established", "established"), report);
            assertEquals(n, all.sum("echo1", "echo1"), report);
            assertEquals(n, all.sum("held", "held"), report);
            assertEquals(n, all.sum("echo2", "echo2"), report);
            assertEquals(n, all.sum("closed", "closed"), report);
            assertTrue(all.every("errors connect 0 reset 0 eof 0 mismatch 0"), report);
            assertEquals(n, echo.accepted(), report);
            assertEquals(2L * ManyConnectionsClient.MESSAGE * n, echo.bytesEchoed(), report);
            // None reset while held and used: no RST either way before the clients closed, no abnormal end.
            assertEquals(0, resetsAfterEcho2, report);
            assertEquals(0, abnormalBeforeClose, report);
            // Then all closed cleanly (FIN both ways; fastpath is the passive closer: LAST-ACK, no TIME-WAIT).
            assertEquals(n, echo.closed(), report);
            assertEquals(0, echo.abnormalCloses(), report);
            assertEquals(0, stack.tcp().connectionCount(), report);
            assertEquals(0, stack.tcp().slotsInUse(), report);
            assertEquals(0, stack.tcp().timeWaitCount(), report);
            assertEquals(mbufsIdle, pool.inUseCount(), report);
            for (Process process : processes) {
                assertEquals(0, process.waitFor(), report);
            }
        } finally {
            for (Process process : processes) {
                process.destroyForcibly();
                process.waitFor();
            }
            if (stack != null) {
                stack.onClose();
                stack.close();
            }
            if (port != null) {
                port.close();
            }
            Shell.quietly("ip", "netns", "delete", ns);
            try {
                Runtime.getRuntime().removeShutdownHook(cleanup);
            } catch (IllegalStateException shuttingDown) {
                // the hook runs anyway
            }
            pool.close();
        }
    }

    private static int work(Stack stack) {
        int w = stack.doWork();
        if (w == 0) {
            Thread.onSpinWait();
        }
        return w;
    }

    /** Frames the namespace's side of the tap dropped on their way to fastpath (its queue was full). */
    private static long tapDrops(String ns, String iface) {
        Shell.Result r = Shell.exec(10, "ip", "netns", "exec", ns, "cat", "/sys/class/net/" + iface
            + "/statistics/tx_dropped");
        try {
            return Long.parseLong(r.output().trim());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private static void inNs(String ns, String... command) {
        Shell.run(Shell.prefixed(new String[] {"ip", "netns", "exec", ns}, command));
    }

    private static long usedHeapAfterGc() {
        for (int i = 0; i < 3; i++) {
            System.gc();
        }
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    private static long directBytes() {
        long used = 0;
        for (BufferPoolMXBean b : ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class)) {
            if (b.getName().equals("direct")) {
                used += b.getMemoryUsed();
            }
        }
        return used;
    }

    /** A client's output, line by line, read on a thread of its own. */
    private static final class Lines {
        private final ConcurrentLinkedQueue<String> lines = new ConcurrentLinkedQueue<>();

        Lines(Process process, int k) {
            Thread reader = new Thread(() -> {
                try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(),
                    StandardCharsets.UTF_8))) {
                    for (String line; (line = in.readLine()) != null; ) {
                        lines.add(line);
                        System.out.println("client " + k + ": " + line);
                    }
                } catch (IOException ignored) {
                    // the process went away
                }
                lines.add("done"); // also when the client died without saying so
            }, "c100k-client-reader-" + k);
            reader.setDaemon(true);
            reader.start();
        }

        boolean has(String prefix) {
            for (String l : lines) {
                if (l.startsWith(prefix)) {
                    return true;
                }
            }
            return false;
        }

        /** The number after {@code name} on the first line starting with {@code prefix}, or NaN. */
        double field(String prefix, String name) {
            for (String l : lines) {
                if (l.startsWith(prefix + " ")) {
                    String[] w = l.split(" ");
                    for (int i = 0; i + 1 < w.length; i++) {
                        if (w[i].equals(name)) {
                            return Double.parseDouble(w[i + 1]);
                        }
                    }
                }
            }
            return Double.NaN;
        }
    }

    /** All clients' output. */
    private record Clients(List<Lines> clients) {
        boolean every(String prefix) {
            return clients.stream().allMatch(l -> l.has(prefix));
        }

        boolean any(String prefix) {
            return clients.stream().anyMatch(l -> l.has(prefix));
        }

        /** The sum over clients of {@link Lines#field} (a missing one is taken as 0). */
        long sum(String prefix, String name) {
            double total = 0;
            for (Lines l : clients) {
                double v = l.field(prefix, name);
                total += Double.isNaN(v) ? 0 : v;
            }
            return Math.round(total);
        }

        double max(String prefix, String name) {
            return clients.stream().mapToDouble(l -> l.field(prefix, name)).filter(v -> !Double.isNaN(v)).max()
                .orElse(Double.NaN);
        }

        String text() {
            StringBuilder sb = new StringBuilder();
            for (int k = 0; k < clients.size(); k++) {
                for (String line : clients.get(k).lines) {
                    if (!line.startsWith("progress")) {
                        sb.append("client ").append(k).append(": ").append(line).append('\n');
                    }
                }
            }
            return sb.toString();
        }
    }
}
