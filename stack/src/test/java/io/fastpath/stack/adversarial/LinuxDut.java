package io.fastpath.stack.adversarial;

import io.fastpath.testkit.NetNs;
import io.fastpath.testkit.Shell;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Linux as the device under test, for running the same attack scripts against it: a second namespace behind
 * its own veth from the tester namespace, a plain python echo server there, and a second tester agent on
 * the tester's end of that veth (the same nftables silence, the same spoofed range for its subnet).
 *
 * <pre>
 *   tester namespace                         Linux DUT namespace
 *   u: .1 (legitimate client, ping)  ── veth ──  l: .2 (echo server, Linux TCP with its defaults)
 *      .3 (scapy agent)
 * </pre>
 */
final class LinuxDut implements AutoCloseable {
    private static final AtomicInteger SUBNET = new AtomicInteger((int) (ProcessHandle.current().pid() % 50) + 100);
    final NetNs ns;
    final String net;
    final String ip;
    final String testerIp;
    /** The tester namespace's end of the veth towards this DUT. */
    final String testerIface;
    final TesterAgent agent;
    private final Process server;

    LinuxDut(Testbench tb, Path dir, int port, int backlog) throws IOException {
        ns = NetNs.create();
        net = "10.85." + (SUBNET.incrementAndGet() % 250 + 1) + ".";
        ip = net + "2";
        testerIp = net + "3";
        String t = NetNs.uniqueName("u");
        testerIface = t;
        String l = NetNs.uniqueName("l");
        Process started = null;
        try {
            Shell.run("ip", "link", "add", t, "type", "veth", "peer", "name", l);
            Shell.run("ip", "link", "set", t, "netns", tb.ns.name());
            tb.ns.exec("ip", "addr", "add", net + "1/24", "dev", t);
            tb.ns.exec("ip", "addr", "add", testerIp + "/24", "dev", t);
            tb.ns.exec("ip", "link", "set", t, "up");
            tb.ns.tryExec(5, "ethtool", "-K", t, "tx", "off", "rx", "off");
            ns.adopt(l, ip + "/24");
            ns.tryExec(5, "ethtool", "-K", l, "tx", "off", "rx", "off");
            Testbench.silence(tb.ns, testerIp);
            String mac = ns.exec("cat", "/sys/class/net/" + l + "/address").trim();
            started = new ProcessBuilder("ip", "netns", "exec", ns.name(), "/usr/bin/python3", "-u",
                tb.script("linux_echo_server.py").toString(), Integer.toString(port), Integer.toString(backlog))
                .redirectErrorStream(true).start();
            BufferedReader r = new BufferedReader(new InputStreamReader(started.getInputStream(),
                StandardCharsets.UTF_8));
            String first = r.readLine();
            if (!"listening".equals(first)) {
                throw new IllegalStateException("Linux echo server: " + first);
            }
            server = started;
            agent = new TesterAgent(tb.ns.name(), dir, t, testerIp, ip, mac, net + "100", net + "199");
        } catch (RuntimeException | IOException e) {
            if (started != null) {
                started.destroyForcibly();
            }
            ns.close();
            throw e;
        }
    }

    /** A sysctl of the Linux DUT, for the report (e.g. net.ipv4.tcp_syncookies). */
    String sysctl(String name) {
        return ns.exec("sysctl", "-n", name).trim();
    }

    @Override
    public void close() {
        agent.close();
        server.destroyForcibly();
        ns.close(); // takes its veth end, and with it the tester's
    }
}
