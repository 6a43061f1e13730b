package io.fastpath.stack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.stack.app.StreamClient;
import io.fastpath.stack.arp.ArpTable;
import io.fastpath.stack.counters.DropReason;
import io.fastpath.stack.counters.StackCounters;
import io.fastpath.stack.wire.Ipv4Address;
import io.fastpath.testkit.NetNs;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Neighbour validation against Linux (net_tap, a namespace): with a 1 s ARP lifetime a TCP stream to Linux runs
 * through several lifetimes without one frame waiting or dropping for ARP, Linux sees our unicast ARP
 * requests (RFC 1122 §2.3.2.1 unicast poll, tcpdump in the namespace), and a neighbour that goes away is still
 * detected: its entry goes INCOMPLETE and sends fail with STATUS_HOST_UNREACHABLE.
 */
class LinuxArpTest {
    private static final long LIFETIME_NS = TimeUnit.SECONDS.toNanos(1);
    private static final long RETRY_NS = TimeUnit.MILLISECONDS.toNanos(200);
    private static PktmbufPool pool;

    @TempDir
    Path dir;

    @BeforeAll
    static void createPool() {
        pool = PktmbufPool.create("linuxarp", 8191, 256, PktmbufPool.DEFAULT_DATA_ROOM);
    }

    @AfterAll
    static void freePool() {
        pool.close();
    }

    private static long broadcasts(StackCounters c) {
        return c.arpRequestsSent.get() - c.arpProbesSent.get();
    }

    private static void runUntil(Stack stack, BooleanSupplier done, long timeoutSeconds, String what) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(what + " not done in " + timeoutSeconds + " s\n" + stack.tcp().describe());
            }
            if (stack.doWork() == 0) {
                Thread.onSpinWait();
            }
        }
    }

    @Test
    void aStreamOutlivesManyArpLifetimesWithUnicastProbesAndALostNeighbourIsDetected() throws Exception {
        String iface = NetNs.uniqueName("arp");
        int subnet = (int) (ProcessHandle.current().pid() % 200) + 20;
        String net = "10.83." + subnet + ".";
        int linux = Ipv4Address.parse(net + "1");
        Process server = null;
        Process tcpdump = null;
        try (NetNs ns = NetNs.create();
             EthDevPort port = EthDevPort.openVdev("net_tap" + iface + ",iface=" + iface, pool,
                 EthDevPort.Config.defaults())) {
            ns.adopt(iface, net + "1/24");
            ns.tryExec(5, "ethtool", "-K", iface, "tx", "off", "rx", "off");
            Path arpLog = dir.resolve("arp.txt");
            tcpdump = new ProcessBuilder("ip", "netns", "exec", ns.name(), "tcpdump", "-i", iface, "-nn", "-e",
                "-l", "arp").redirectOutput(arpLog.toFile()).start();
            BufferedReader tcpdumpErr = new BufferedReader(new InputStreamReader(tcpdump.getErrorStream(),
                StandardCharsets.UTF_8));
            for (String line; (line = tcpdumpErr.readLine()) != null && !line.contains("listening on"); ) {
                // wait until tcpdump captures
            }
            Path script = dir.resolve("echo_server.py");
            try (InputStream in = LinuxArpTest.class.getResourceAsStream("/peer/echo_server.py")) {
                Files.write(script, in.readAllBytes());
            }
            server = new ProcessBuilder("ip", "netns", "exec", ns.name(), "/usr/bin/python3", script.toString(),
                "7011").redirectErrorStream(true).start();
            assertEquals("listening", new BufferedReader(new InputStreamReader(server.getInputStream(),
                StandardCharsets.UTF_8)).readLine());

            Stack stack = new Stack(port, StackConfig.builder().name(NetNs.uniqueName("arps")).cidr(net + "2/24")
                .arp(64, LIFETIME_NS, RETRY_NS, 3)
                .countersFile(dir.resolve(NetNs.uniqueName("arpc") + ".counters")).build());
            try {
                StackCounters c = stack.counters();
                StreamClient client = new StreamClient(7, 1L << 40);
                stack.doWork();
                assertEquals(NtStatus.STATUS_PENDING, client.connect(stack.tcp(), linux, 7011, System.nanoTime()));
                runUntil(stack, () -> client.received() > 0, 10, "first echo");
                long broadcastsAfterResolution = broadcasts(c);

                // 1. Six lifetimes of streaming: the entry goes STALE, is probed by unicast, answered, REACHABLE.
                long start = System.nanoTime();
                long streamNs = 6 * LIFETIME_NS;
                runUntil(stack, () -> System.nanoTime() - start > streamNs, 30, "streaming");
                assertTrue(!client.done(), "the stream is still going: " + NtStatus.name(client.status()));
                long probes = c.arpProbesSent.get();
                System.out.printf("Linux ARP: %d MiB echoed over %d lifetimes, %d unicast probes, broadcasts %d"
                        + " after resolution, ARP drops %d + %d, tcp retransmits %d%n", client.received() >> 20,
                    streamNs / LIFETIME_NS, probes, broadcasts(c) - broadcastsAfterResolution,
                    c.drop(DropReason.ARP_QUEUE_FULL).get(), c.drop(DropReason.ARP_UNRESOLVED).get(),
                    c.tcpRetransmits.get());
                assertTrue(probes >= 2, "the STALE entry in use was validated by unicast probes: " + probes);
                assertEquals(broadcastsAfterResolution, broadcasts(c), "Linux answered every probe: no broadcast");
                assertEquals(0, c.drop(DropReason.ARP_QUEUE_FULL).get(), "no frame waited for ARP beyond the queue");
                assertEquals(0, c.drop(DropReason.ARP_UNRESOLVED).get(), "no frame dropped for ARP");
                assertEquals(0, c.arpResolutionFailures.get());

                // What Linux saw: our ARP requests addressed to its MAC, not broadcast.
                Thread.sleep(100);
                List<String> requests = Files.readAllLines(arpLog).stream()
                    .filter(l -> l.contains("Request who-has " + net + "1 tell " + net + "2")).toList();
                long unicast = requests.stream().filter(l -> !l.contains("ff:ff:ff:ff:ff:ff")).count();
                assertTrue(unicast >= probes && unicast >= 2, "Linux saw " + unicast + " unicast requests of "
                    + probes + ":\n" + String.join("\n", requests));

                // 2. The neighbour goes away (its address removed): the probes go unanswered, the entry goes
                //    INCOMPLETE and the broadcast resolution fails; sends to it fail with HOST_UNREACHABLE.
                ns.exec("ip", "addr", "flush", "dev", iface);
                boolean[] incomplete = {false};
                runUntil(stack, () -> {
                    incomplete[0] |= stack.arpTable().stateOf(linux, stack.nowNs()) == ArpTable.INCOMPLETE;
                    return c.arpResolutionFailures.get() > 0;
                }, 20, "neighbour loss detected");
                assertTrue(incomplete[0], "the entry went INCOMPLETE before the resolution failed");
                assertTrue(broadcasts(c) > broadcastsAfterResolution, "broadcast resolution after the probes");
                RecordingHandler events = new RecordingHandler();
                assertTrue(stack.ping(linux, 1, 56));
                runUntil(stack, () -> {
                    stack.pollEvents(events);
                    return !events.failures.isEmpty();
                }, 10, "ping failure");
                assertEquals(NtStatus.STATUS_HOST_UNREACHABLE, events.failures.get(0)[2]);
            } finally {
                stack.onClose();
                stack.close();
            }
        } finally {
            for (Process p : new Process[] {server, tcpdump}) {
                if (p != null) {
                    p.destroyForcibly();
                }
            }
        }
    }
}
