package io.fastpath.cli;

import static io.fastpath.cli.CommandLineTest.launch;
import static io.fastpath.cli.CommandLineTest.readUntilReady;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.dpdk.EthDevPort;
import io.fastpath.testkit.NetNs;
import io.fastpath.testkit.Shell;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * {@code fastpath echo --queues 2} in its own process on net_tap (the kernel's multi-queue tap, its own flow
 * steering) and on net_af_packet with qpairs=2 (the kernel's fanout hash): Linux clients in a namespace open 32
 * connections at once, every byte is verified, both shards accept connections, {@code stat} shows each queue's
 * counters and their sums.
 */
class ShardedEchoTest {
    private static final int CONNECTIONS = 32;
    private static final int SIZE = 256 << 10;
    private static final Pattern ACCEPTED = Pattern.compile("echo: queue (\\d): (\\d+) connections accepted, (\\d+) "
        + "closed \\((\\d+) not cleanly\\), (\\d+) bytes echoed");

    private static final Pattern PASSIVE_OPENS = Pattern.compile("(\\d+)  \\S+: queue (\\d) tcp passive opens");

    @Test
    void queueFlags() {
        String[] wsk = {"send", "--api", "wsk", "--vdev", "x", "--ip", "10.0.0.2/24", "--to", "10.0.0.1:7", "--bytes",
            "1", "--queues", "2"};
        UsageException e = org.junit.jupiter.api.Assertions.assertThrows(UsageException.class, () -> Main.run(wsk));
        assertTrue(e.getMessage().contains("--queues > 1 with send --api wsk: not yet"), e.getMessage());
        String[] many = {"echo", "--vdev", "x", "--ip", "10.0.0.2/24", "--listen", "7", "--queues", "17"};
        org.junit.jupiter.api.Assertions.assertThrows(UsageException.class, () -> Main.run(many));
        assertEquals("net_af_packet0,iface=v0,qpairs=4", EthDevPort.vdevWithQueues("net_af_packet0,iface=v0", 4));
        assertEquals("net_af_packet0,iface=v0,qpairs=2", EthDevPort.vdevWithQueues("net_af_packet0,iface=v0,qpairs=2",
            4), "an explicit qpairs stays");
        assertEquals("net_tap0,iface=t0", EthDevPort.vdevWithQueues("net_tap0,iface=t0", 4));
        assertEquals("net_af_packet0,iface=v0", EthDevPort.vdevWithQueues("net_af_packet0,iface=v0", 1));
    }

    @Test
    void echoWithTwoQueuesOnNetTapServesLinuxClientsOnBothShards() throws Exception {
        String iface = "sh" + NetNs.uniqueName("t");
        try (NetNs ns = NetNs.create()) {
            String rest = run(ns, "net_tap" + iface + ",iface=" + iface, "10.87.0", () -> {
                ns.adopt(iface, "10.87.0.1/24");
                ns.tryExec(5, "ethtool", "-K", iface, "tx", "off", "rx", "off");
            });
            checkBothShards(rest);
        }
    }

    @Test
    void echoWithTwoQueuesOnAfPacketServesLinuxClientsOnBothShards() throws Exception {
        String outer = "sh" + NetNs.uniqueName("o");
        try (NetNs ns = NetNs.create()) {
            ns.veth(outer, "sh" + NetNs.uniqueName("i"), "10.88.0.1/24");
            String rest = run(ns, "net_af_packet" + outer + ",iface=" + outer + ",qdisc_bypass=0", "10.88.0", () -> {
            });
            checkBothShards(rest);
        }
    }

    /**
     * {@code echo --api wsk|tdi --queues 2} on af_packet: one provider over both shards (its sockets and
     * connections reach whichever shard a flow lives on); Linux clients' 32 connections land on both shards,
     * every byte verified.
     */
    @Test
    void wskAndTdiEchoWithTwoQueuesServeLinuxClientsOnBothShards() throws Exception {
        int subnet = 90;
        for (String api : List.of("wsk", "tdi")) {
            String outer = "sh" + NetNs.uniqueName("o");
            String net = "10." + subnet++ + ".0";
            try (NetNs ns = NetNs.create()) {
                ns.veth(outer, "sh" + NetNs.uniqueName("i"), net + ".1/24");
                String rest = run(ns, "net_af_packet" + outer + ",iface=" + outer + ",qdisc_bypass=0", net, () -> {
                }, api);
                rest.lines().filter(l -> l.startsWith("echo:") || l.contains("passive opens")).forEach(System.out::println);
                Matcher m = PASSIVE_OPENS.matcher(rest);
                long total = 0;
                int queues = 0;
                while (m.find()) {
                    queues++;
                    long opens = Long.parseLong(m.group(1));
                    assertTrue(opens > 0, api + ": queue " + m.group(2) + " passive opens:\n" + rest);
                    total += opens;
                }
                assertEquals(2, queues, api + ":\n" + rest);
                assertEquals(CONNECTIONS, total, api + ":\n" + rest);
                assertTrue(rest.contains("echo: " + CONNECTIONS + " connections accepted"), api + ":\n" + rest);
            }
        }
    }

    /** {@code send --queues 2}: connection i on shard i % 2, to a Linux echo server, every byte verified. */
    @Test
    void sendWithTwoQueuesOpensConnectionsOnBothShards() throws Exception {
        String outer = "sh" + NetNs.uniqueName("o");
        try (NetNs ns = NetNs.create()) {
            ns.veth(outer, "sh" + NetNs.uniqueName("i"), "10.89.0.1/24");
            Process server = new ProcessBuilder("ip", "netns", "exec", ns.name(), "/usr/bin/python3", "-c",
                CommandLineTest.PYTHON_ECHO_SERVER, "7007").redirectErrorStream(true).start();
            try {
                BufferedReader serverOut = new BufferedReader(new InputStreamReader(server.getInputStream(),
                    StandardCharsets.UTF_8));
                assertEquals("listening", serverOut.readLine());
                Process send = launch("send", "--vdev", "net_af_packet" + outer + ",iface=" + outer
                    + ",qdisc_bypass=0", "--ip", "10.89.0.2/24", "--name", "sh" + NetNs.uniqueName("s"), "--idle",
                    "backoff", "--to", "10.89.0.1:7007", "--bytes", "1M", "--connections", "8", "--timeout", "40",
                    "--queues", "2");
                String out = CommandLineTest.finish(send, 60);
                out.lines().filter(l -> l.startsWith("tcp: queue")).forEach(System.out::println);
                assertEquals(0, send.exitValue(), out);
                assertEquals("verified 8388608 bytes", CommandLineTest.lastLine(out), out);
                assertTrue(out.contains("tcp: queue 0: 4 connections opened") && out.contains(
                    "tcp: queue 1: 4 connections opened"), out);
            } finally {
                server.destroyForcibly();
            }
        }
    }

    private static void checkBothShards(String rest) {
        rest.lines().filter(l -> l.startsWith("echo:") || l.contains("forwarded")).forEach(System.out::println);
        Matcher m = ACCEPTED.matcher(rest);
        long total = 0;
        long bytes = 0;
        int queues = 0;
        while (m.find()) {
            queues++;
            long accepted = Long.parseLong(m.group(2));
            assertTrue(accepted > 0, "queue " + m.group(1) + " accepted connections:\n" + rest);
            assertEquals(accepted, Long.parseLong(m.group(3)), rest);
            assertEquals("0", m.group(4), rest);
            total += accepted;
            bytes += Long.parseLong(m.group(5));
        }
        assertEquals(2, queues, rest);
        assertEquals(CONNECTIONS, total, rest);
        assertEquals((long) CONNECTIONS * SIZE, bytes, rest);
        assertTrue(rest.contains(": queue 0 tcp passive opens") && rest.contains(": queue 1 tcp passive opens"), rest);
    }

    private static String run(NetNs ns, String vdev, String net, Runnable linkUp) throws Exception {
        return run(ns, vdev, net, linkUp, "tcp");
    }

    private static String run(NetNs ns, String vdev, String net, Runnable linkUp, String api) throws Exception {
        String name = "sh" + NetNs.uniqueName("s");
        // A third queue's file left by an earlier run with more queues: this run (2 queues) removes it, so stat
        // sums 2 queues, not 3.
        new io.fastpath.stack.counters.StackCounters(java.nio.file.Path.of("/dev/shm/fastpath", name
            + ".queue2.counters"), name, 2).close();
        List<String> args = new ArrayList<>(List.of("echo", "--api", api, "--vdev", vdev, "--ip", net + ".2/24",
            "--name", name, "--idle", "backoff", "--listen", "7", "--queues", "2", "--connections", "64"));
        Process echo = launch(args.toArray(String[]::new));
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(echo.getInputStream(), StandardCharsets.UTF_8));
            String first = readUntilReady(out);
            if (api.equals("tcp")) {
                assertTrue(first.contains("2 queues, one shard each"), first);
            }
            linkUp.run();
            Shell.Result client = ns.tryExec(120, "/usr/bin/python3", "-c", CommandLineTest.PYTHON_ECHO_CLIENT,
                net + ".2", "7",
                Integer.toString(CONNECTIONS), Integer.toString(SIZE));
            assertEquals("OK", client.output().strip(), client.output());
            // stat from another process while the echo runs: each queue's counters, then the sums.
            Process stat = launch("stat", "--name", name);
            String statOut = CommandLineTest.finish(stat, 30);
            assertTrue(statOut.contains(name + ": queue 0 rx frames") && statOut.contains(name + ": queue 1 rx frames"),
                statOut);
            assertTrue(statOut.contains("sum over 2 queues:") && statOut.contains(name + ": rx frames"), statOut);
            Shell.run("kill", "-TERM", Long.toString(echo.pid()));
            StringBuilder after = new StringBuilder();
            String line;
            while ((line = out.readLine()) != null) {
                after.append(line).append('\n');
            }
            assertTrue(echo.waitFor(20, TimeUnit.SECONDS));
            String rest = after.toString();
            assertEquals(0, echo.exitValue(), rest);
            return rest;
        } finally {
            echo.destroyForcibly();
        }
    }
}
