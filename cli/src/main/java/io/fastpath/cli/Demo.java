package io.fastpath.cli;

import io.fastpath.dpdk.Eal;
import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.stack.NtStatus;
import io.fastpath.stack.Stack;
import io.fastpath.stack.StackConfig;
import io.fastpath.stack.StackEventHandler;
import io.fastpath.stack.StackRunner;
import io.fastpath.stack.app.EchoServer;
import io.fastpath.wsk.WskProvider;
import io.fastpath.stack.wire.Ipv4Address;
import io.fastpath.stack.wire.MacAddress;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code fastpath demo}: a stack on net_tap and one on net_af_packet/veth, each with a Linux host in a scratch
 * network namespace on the other side. Linux pings the stack, the stack pings Linux, an address nobody has
 * is reported as STATUS_HOST_UNREACHABLE, and a Linux TCP client echoes data through fastpath's TCP. Everything the demo creates it removes, whatever happens.
 */
final class Demo {
    private static final Pattern RECEIVED = Pattern.compile("(\\d+) received");
    private static final Pattern RTT = Pattern.compile("= ([\\d.]+)/([\\d.]+)/([\\d.]+)/([\\d.]+) ms");

    private Demo() {
    }

    static int run(List<String> args) {
        if (!args.isEmpty()) {
            throw new UsageException("demo takes no arguments");
        }
        if (!"root".equals(System.getProperty("user.name"))) {
            throw new IllegalStateException("the demo creates network namespaces and a tap device: run it as root");
        }
        String tag = "fpd" + (ProcessHandle.current().pid() % 100000);
        Eal.init(Eal.Args.defaults());
        int failures = 0;
        try (PktmbufPool pool = PktmbufPool.create("demo_pool", 8191)) {
            failures += scenario("net_tap", tag + "t", "10.201.0", pool, tag);
            failures += scenario("net_af_packet", tag + "o", "10.202.0", pool, tag);
        }
        System.out.println(failures == 0 ? "demo: all checks passed" : "demo: " + failures + " check(s) FAILED");
        return failures == 0 ? 0 : 1;
    }

    private static int scenario(String driver, String iface, String net, PktmbufPool pool, String tag) {
        String ns = iface + "ns";
        String inner = iface + "i";
        int failures = 0;
        System.out.println("== " + driver + ": Linux in namespace " + ns + " (" + net + ".1) <-> fastpath ("
            + net + ".2)");
        Runtime.getRuntime().addShutdownHook(new Thread(() -> Host.exec(10, "ip", "netns", "delete", ns)));
        try {
            Host.run("ip", "netns", "add", ns);
            Host.run(Host.inNs(ns, "ip", "link", "set", "lo", "up"));
            String vdev;
            if (driver.equals("net_tap")) {
                vdev = "net_tap_" + tag + ",iface=" + iface;
            } else {
                Host.run("ip", "link", "add", iface, "type", "veth", "peer", "name", inner);
                Host.exec(10, "ethtool", "-K", iface, "tx", "off", "rx", "off");
                Host.run("ip", "link", "set", iface, "up");
                Host.run("ip", "link", "set", inner, "netns", ns);
                Host.exec(10, Host.inNs(ns, "ethtool", "-K", inner, "tx", "off", "rx", "off"));
                vdev = "net_af_packet_" + tag + ",iface=" + iface + ",qdisc_bypass=0";
            }
            try (EthDevPort port = EthDevPort.openVdev(vdev, pool, EthDevPort.Config.defaults())) {
                String linuxSide = driver.equals("net_tap") ? iface : inner;
                if (driver.equals("net_tap")) {
                    Host.run("ip", "link", "set", iface, "netns", ns);
                }
                Host.run(Host.inNs(ns, "ip", "addr", "add", net + ".1/24", "dev", linuxSide));
                Host.run(Host.inNs(ns, "ip", "link", "set", linuxSide, "up"));
                Stack stack = new Stack(port, StackConfig.builder().name("demo_" + driver).cidr(net + ".2/24")
                    .arp(64, TimeUnit.SECONDS.toNanos(60), TimeUnit.MILLISECONDS.toNanos(200), 3)
                    .countersFile(Path.of(System.getProperty("java.io.tmpdir"), tag + driver + ".counters")).build());
                // TCP: an echo server on port 7, set up before the poll thread starts (TCP calls belong to it).
                EchoServer echo = new EchoServer();
                echo.listen(stack.tcp(), 7);
                StackRunner runner = StackRunner.start(stack, StackRunner.backoff());
                // WSK: the same echo through api-wsk on port 8 (zero-copy receive events), on its own thread.
                WskProvider wsk = WskProvider.register(stack);
                WskEcho.Server wskEcho = new WskEcho.Server(512);
                io.fastpath.provider.NtStatus wskListen = WskEcho.listen(wsk, wskEcho, 8);
                wsk.startDispatcherThread();
                try {
                    failures += check("Linux pings fastpath (10 x 1000 B)", linuxPings(ns, net + ".2"));
                    String neigh = Host.run(Host.inNs(ns, "ip", "neigh", "show", net + ".2"));
                    failures += check("Linux's neighbour table holds fastpath's MAC "
                        + MacAddress.format(stack.mac()), neigh.toLowerCase().contains(
                            MacAddress.format(stack.mac()).toLowerCase()) ? null : neigh.trim());
                    failures += check("fastpath pings Linux (5 x 56 B)", stackPings(stack, net + ".1", 5));
                    failures += check("an absent host is STATUS_HOST_UNREACHABLE", absent(stack, net + ".99"));
                    failures += check("Linux TCP client echoes 4 MiB through fastpath's TCP echo server (SHA-256)",
                        linuxTcpEcho(ns, net + ".2", 7, "TCP"));
                    failures += check("Linux TCP client echoes 4 MiB through a WSK echo server, zero copy (SHA-256)",
                        !wskListen.isSuccess() ? "WSK listen: " + wskListen
                            : linuxTcpEcho(ns, net + ".2", 8, "WSK"));
                } finally {
                    wsk.close();
                    runner.close();
                    stack.close();
                }
                System.out.printf("   counters: rx %d frames, tx %d frames, %d echo replies sent, %d drops%n",
                    stack.counters().rxFrames.get(), stack.counters().txFrames.get(),
                    stack.counters().icmpEchoRepliesSent.get(), stack.counters().totalDrops());
            }
        } catch (RuntimeException e) {
            failures += check("set-up", e.getMessage());
        } finally {
            Host.exec(10, "ip", "netns", "delete", ns);
            Host.exec(10, "ip", "link", "delete", iface);
        }
        return failures;
    }

    /** Prints a check; {@code problem} null means it passed. Returns 1 on failure. */
    private static int check(String what, String problem) {
        if (problem == null) {
            System.out.println("   ok    " + what);
            return 0;
        }
        System.out.println("   FAIL  " + what + ": " + problem);
        return 1;
    }

    private static String linuxPings(String ns, String address) {
        Host.Result r = Host.exec(30, Host.inNs(ns, "ping", "-c", "10", "-i", "0.1", "-W", "2", "-s", "1000", address));
        Matcher m = RECEIVED.matcher(r.output());
        if (!m.find() || !m.group(1).equals("10")) {
            return r.output().trim();
        }
        Matcher rtt = RTT.matcher(r.output());
        if (rtt.find()) {
            System.out.println("   Linux ping rtt min/avg/max " + rtt.group(1) + "/" + rtt.group(2) + "/"
                + rtt.group(3) + " ms");
        }
        return null;
    }

    private static final String TCP_CLIENT = """
        import hashlib, socket, sys, threading
        s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30)
        data = hashlib.sha256(b"fastpath").digest() * (4 * 1024 * 1024 // 32)
        t = threading.Thread(target=lambda: (s.sendall(data), s.shutdown(socket.SHUT_WR)))
        t.start()
        got = hashlib.sha256(); n = 0
        while True:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            got.update(chunk); n += len(chunk)
        t.join()
        print("OK" if got.digest() == hashlib.sha256(data).digest() else "FAIL %d bytes back" % n)
        """;

    private static String linuxTcpEcho(String ns, String address, int port, String what) {
        long start = System.nanoTime();
        Host.Result r = Host.exec(60, Host.inNs(ns, "/usr/bin/python3", "-c", TCP_CLIENT, address,
            Integer.toString(port)));
        if (!r.output().trim().equals("OK")) {
            return r.output().trim();
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.printf("   %s echo: 4 MiB each way in %.2f s (%.1f MiB/s each way)%n", what, seconds, 4 / seconds);
        return null;
    }

    private static String stackPings(Stack stack, String address, int count) {
        int[] replies = {0};
        int[] failed = {0};
        long[] best = {Long.MAX_VALUE};
        StackEventHandler handler = new StackEventHandler() {
            @Override
            public void onEchoReply(int from, int sequence, long roundTripNs) {
                replies[0]++;
                best[0] = Math.min(best[0], roundTripNs);
            }

            @Override
            public void onSendFailed(int destination, int sequence, int status) {
                failed[0] = status;
            }
        };
        for (int seq = 1; seq <= count; seq++) {
            stack.ping(Ipv4Address.parse(address), seq, 56);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
            while (replies[0] < seq && failed[0] == 0 && System.nanoTime() < deadline) {
                stack.pollEvents(handler);
                Thread.onSpinWait();
            }
        }
        if (replies[0] != count) {
            return replies[0] + "/" + count + " replies" + (failed[0] != 0 ? ", " + NtStatus.name(failed[0]) : "");
        }
        System.out.printf("   fastpath ping best rtt %.3f ms%n", best[0] / 1e6);
        return null;
    }

    private static String absent(Stack stack, String address) {
        int[] status = {0};
        stack.ping(Ipv4Address.parse(address), 1, 56);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        StackEventHandler handler = new StackEventHandler() {
            @Override
            public void onEchoReply(int from, int sequence, long roundTripNs) {
                status[0] = -1;
            }

            @Override
            public void onSendFailed(int destination, int sequence, int s) {
                status[0] = s;
            }
        };
        while (status[0] == 0 && System.nanoTime() < deadline) {
            stack.pollEvents(handler);
            Thread.onSpinWait();
        }
        return status[0] == NtStatus.STATUS_HOST_UNREACHABLE ? null : "got " + NtStatus.name(status[0]);
    }
}
