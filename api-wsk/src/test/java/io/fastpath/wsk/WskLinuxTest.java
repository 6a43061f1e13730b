package io.fastpath.wsk;

import static io.fastpath.wsk.Wsk.IPPROTO_TCP;
import static io.fastpath.wsk.Wsk.SOL_SOCKET;
import static io.fastpath.wsk.Wsk.SO_KEEPALIVE;
import static io.fastpath.wsk.Wsk.TCP_FASTOPEN;
import static io.fastpath.wsk.Wsk.TCP_KEEPCNT;
import static io.fastpath.wsk.Wsk.TCP_KEEPIDLE;
import static io.fastpath.wsk.Wsk.TCP_KEEPINTVL;
import static io.fastpath.wsk.Wsk.TCP_MAXRT;
import static io.fastpath.wsk.Wsk.TCP_TIMESTAMPS;
import static io.fastpath.wsk.Wsk.WSK_FLAG_CONNECTION_SOCKET;
import static io.fastpath.wsk.Wsk.WskSetOption;
import static io.fastpath.wsk.WskTestSockets.bind;
import static io.fastpath.wsk.WskTestSockets.direct;
import static io.fastpath.wsk.WskTestSockets.socket;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.Port;
import io.fastpath.provider.NtStatus;
import io.fastpath.stack.Stack;
import io.fastpath.stack.StackConfig;
import io.fastpath.stack.StackRunner;
import io.fastpath.stack.tcp.TcpConfig;
import io.fastpath.stack.wire.Ipv4Address;
import io.fastpath.stack.device.PcapPort;
import io.fastpath.testkit.NetNs;
import io.fastpath.testkit.Shell;
import io.fastpath.testkit.Tshark;
import io.fastpath.wsk.WskTestSockets.Receive;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * WSK against Linux's TCP: a namespace behind net_tap runs Python peers; the stack runs on its own
 * StackRunner, the test thread is the WSK dispatch thread.
 */
class WskLinuxTest {
    private static final AtomicInteger SUBNET = new AtomicInteger((int) (ProcessHandle.current().pid() % 100) + 100);
    private static PktmbufPool pool;

    @TempDir
    Path dir;

    @BeforeAll
    static void createPool() {
        pool = PktmbufPool.create("wsklinux", 16383, 256, PktmbufPool.DEFAULT_DATA_ROOM);
    }

    @AfterAll
    static void freePool() {
        pool.close();
    }

    /** Linux in a namespace at NET.1, a fastpath stack at NET.2 on a tap port, a WSK provider on the stack. */
    private final class Link implements AutoCloseable {
        final NetNs ns = NetNs.create();
        final String net = "10.82." + (SUBNET.incrementAndGet() % 250 + 1) + ".";
        final Port port;
        final Stack stack;
        final StackRunner runner;
        final WskProvider wsk;
        final List<Throwable> errors = new ArrayList<>();
        final List<Process> processes = new ArrayList<>();

        Link() {
            this(null);
        }

        /** With {@code pcap}, every frame in and out is captured there (PcapPort). */
        Link(Path pcap) {
            String iface = NetNs.uniqueName("w");
            Port tap = EthDevPort.openVdev("net_tap" + iface + ",iface=" + iface, pool, EthDevPort.Config.defaults());
            port = pcap == null ? tap : new PcapPort(tap, pcap);
            ns.adopt(iface, net + "1/24");
            ns.tryExec(5, "ethtool", "-K", iface, "tx", "off", "rx", "off");
            stack = new Stack(port, StackConfig.builder().name(NetNs.uniqueName("s")).cidr(net + "2/24")
                .tcp(TcpConfig.defaults().withTimeWait(TimeUnit.MILLISECONDS.toNanos(200)))
                .countersFile(dir.resolve(NetNs.uniqueName("c") + ".counters")).build());
            runner = StackRunner.start(stack, StackRunner.backoff());
            wsk = WskProvider.register(stack, errors::add);
        }

        int linuxIp() {
            return Ipv4Address.parse(net + "1");
        }

        Process python(String script, String... args) throws IOException {
            Path file = dir.resolve(script);
            if (!Files.exists(file)) {
                try (InputStream in = WskLinuxTest.class.getResourceAsStream("/peer/" + script)) {
                    Files.write(file, in.readAllBytes());
                }
            }
            List<String> command = new ArrayList<>(List.of("ip", "netns", "exec", ns.name(), "/usr/bin/python3",
                file.toString()));
            command.addAll(List.of(args));
            Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            processes.add(process);
            return process;
        }

        void runUntil(BooleanSupplier done, long seconds, String what) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
            while (!done.getAsBoolean()) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError(what + " not done in " + seconds + " s; errors " + errors + "\n"
                        + stack.tcp().describe());
                }
                if (wsk.dispatch() == 0) {
                    Thread.yield();
                }
            }
            if (!errors.isEmpty()) {
                throw new AssertionError("callback failed", errors.get(0));
            }
        }

        @Override
        public void close() {
            for (Process p : processes) {
                p.destroyForcibly();
            }
            wsk.close();
            runner.close();
            stack.close();
            port.close();
            ns.close();
        }
    }

    private static String readLine(Process p) throws IOException {
        return new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.US_ASCII)).readLine();
    }

    /**
     * WskConnectEx with TCP_FASTOPEN into a Linux TFO server (net.ipv4.tcp_fastopen=3): the first connection
     * fetches a cookie and sends its data after the handshake, the second carries its data in the SYN (RFC 7413
     * §3); the server echoes both.
     */
    @Test
    void connectExWithFastOpenCarriesTheSecondConnectionsDataInTheSyn_rfc7413() throws Exception {
        Path pcap = dir.resolve("tfo.pcap");
        try (Link link = new Link(pcap)) {
            link.ns.exec("sysctl", "-qw", "net.ipv4.tcp_fastopen=3");
            Process server = link.python("tfo_server.py", "7009");
            assertEquals("listening", readLine(server));
            for (int i = 0; i < 2; i++) {
                String text = "syn data " + i;
                WskSocket s = socket(link.wsk, WSK_FLAG_CONNECTION_SOCKET, null);
                Call option = new Call();
                option.assertInline(s.controlSocket(WskSetOption, TCP_FASTOPEN, IPPROTO_TCP, 1, option.irp()),
                    NtStatus.STATUS_SUCCESS);
                bind(s, SocketAddressV4.ANY);
                ByteBuffer data = direct(text);
                Call connect = new Call();
                assertEquals(NtStatus.STATUS_PENDING, s.connectEx(new SocketAddressV4(link.linuxIp(), 7009),
                    new WskBuf().set(data, 0, data.capacity()), 0, connect.irp()));
                link.runUntil(connect::done, 10, "connectEx " + i);
                connect.assertCompleted(NtStatus.STATUS_SUCCESS);
                assertEquals(text.length(), connect.information(), "Information = bytes sent with the connect");
                StringBuilder echoed = new StringBuilder();
                while (true) {
                    Receive r = new Receive(s, 100, 0);
                    link.runUntil(r.call::done, 10, "echo " + i);
                    r.call.assertCompleted(NtStatus.STATUS_SUCCESS);
                    if (r.call.information() == 0) {
                        break;
                    }
                    echoed.append(r.text());
                }
                assertEquals(text, echoed.toString());
                Call disconnect = new Call();
                s.disconnect(null, 0, disconnect.irp());
                link.runUntil(disconnect::done, 10, "disconnect " + i);
                disconnect.assertCompleted(NtStatus.STATUS_SUCCESS);
                Call close = new Call();
                close.assertInline(s.closeSocket(close.irp()), NtStatus.STATUS_SUCCESS);
            }
            assertEquals(1, link.stack.counters().tcpFastOpenSynDataSent.get(), "the second SYN carried the data");
            assertEquals(0, link.stack.counters().tcpFastOpenFallbacks.get(), "Linux acknowledged the SYN data");
        }
        // The capture: our two SYNs; the first asks for a cookie (option 34, no data), the second carries the
        // cookie and "syn data 1"; Linux's second SYN-ACK acknowledges the data (ack = ISN + 1 + 10).
        String syns = Shell.run("tshark", "-n", "-r", pcap.toString(), "-Y",
            "tcp.flags.syn == 1 && tcp.flags.ack == 0 && tcp.dstport == 7009", "-T", "fields", "-e", "tcp.len",
            "-e", "tcp.option_kind", "-e", "tcp.payload");
        List<String> lines = syns.lines().filter(l -> !l.startsWith("Running as user")).toList();
        assertEquals(2, lines.size(), syns);
        String[] first = lines.get(0).split("\t", -1);
        String[] second = lines.get(1).split("\t", -1);
        assertEquals("0", first[0], "the first SYN has no data: " + lines.get(0));
        assertTrue(("," + first[1] + ",").contains(",34,"), "the first SYN asks for a cookie: " + lines.get(0));
        assertEquals("10", second[0], "the second SYN carries the data: " + lines.get(1));
        assertTrue(("," + second[1] + ",").contains(",34,"), "with the cookie: " + lines.get(1));
        assertEquals(java.util.HexFormat.of().formatHex("syn data 1".getBytes(StandardCharsets.US_ASCII)),
            second[2].replace(":", ""), "the data in the SYN");
        assertEquals("", Tshark.problems(pcap), "no malformed frame or bad checksum in the capture");
    }

    /**
     * SO_KEEPALIVE with TCP_KEEPIDLE 1 s, TCP_KEEPINTVL 1 s, TCP_KEEPCNT 2 on a connection to a Linux peer
     * that is then cut off (nftables drops everything): the pending receive completes with STATUS_IO_TIMEOUT
     * once the probes go unanswered (RFC 1122 §4.2.3.6), and the socket is dead.
     */
    @Test
    void keepaliveOptionsDetectASilentPeer_rfc1122_s4_2_3_6() throws Exception {
        try (Link link = new Link()) {
            Process server = link.python("silent_server.py", "7010");
            assertEquals("listening", readLine(server));
            WskSocket s = socket(link.wsk, WSK_FLAG_CONNECTION_SOCKET, null);
            Call c = new Call();
            c.assertInline(s.controlSocket(WskSetOption, SO_KEEPALIVE, SOL_SOCKET, 1, c.irp()), NtStatus.STATUS_SUCCESS);
            c.assertInline(s.controlSocket(WskSetOption, TCP_KEEPIDLE, IPPROTO_TCP, 1, c.irp()), NtStatus.STATUS_SUCCESS);
            c.assertInline(s.controlSocket(WskSetOption, TCP_KEEPINTVL, IPPROTO_TCP, 1, c.irp()), NtStatus.STATUS_SUCCESS);
            c.assertInline(s.controlSocket(WskSetOption, TCP_KEEPCNT, IPPROTO_TCP, 2, c.irp()), NtStatus.STATUS_SUCCESS);
            bind(s, SocketAddressV4.ANY);
            Call connect = new Call();
            s.connect(new SocketAddressV4(link.linuxIp(), 7010), connect.irp());
            link.runUntil(connect::done, 10, "connect");
            connect.assertCompleted(NtStatus.STATUS_SUCCESS);
            Receive r = new Receive(s, 100, 0);
            // Still alive after two idle periods while Linux answers the probes.
            long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(2500);
            link.runUntil(() -> System.nanoTime() > until || r.call.done(), 5, "idle");
            assertTrue(!r.call.done(), "probes answered: the connection stays up");
            link.ns.exec("nft", "add table inet wskcut");
            link.ns.exec("nft", "add chain inet wskcut in { type filter hook input priority 0 ; policy drop ; }");
            long cut = System.nanoTime();
            link.runUntil(r.call::done, 10, "keepalive timeout");
            r.call.assertCompleted(NtStatus.STATUS_IO_TIMEOUT);
            System.out.printf("keepalive declared the peer dead %.1f s after the cut%n",
                (System.nanoTime() - cut) / 1e9);
            Call dead = new Call();
            dead.assertInline(s.send(new WskBuf().set(direct("x"), 0, 1), 0, dead.irp()),
                NtStatus.STATUS_FILE_FORCED_CLOSED);
        }
    }

    /**
     * TCP_MAXRT against a Linux host that drops our SYNs (nftables): the connect gives up after the time limit
     * with STATUS_IO_TIMEOUT instead of after 6 SYN retries (63 s).
     */
    @Test
    void maxRetransmissionTimeEndsAConnectIntoADroppingPeer_tcpMaxrt() {
        try (Link link = new Link()) {
            link.ns.exec("nft", "add table inet wskdrop");
            link.ns.exec("nft", "add chain inet wskdrop in { type filter hook input priority 0 ; }");
            link.ns.exec("nft", "add rule inet wskdrop in tcp dport 7013 drop");
            WskSocket s = socket(link.wsk, WSK_FLAG_CONNECTION_SOCKET, null);
            Call c = new Call();
            c.assertInline(s.controlSocket(WskSetOption, TCP_MAXRT, IPPROTO_TCP, 2, c.irp()), NtStatus.STATUS_SUCCESS);
            bind(s, SocketAddressV4.ANY);
            Call connect = new Call();
            long start = System.nanoTime();
            s.connect(new SocketAddressV4(link.linuxIp(), 7013), connect.irp());
            link.runUntil(connect::done, 15, "connect");
            connect.assertCompleted(NtStatus.STATUS_IO_TIMEOUT);
            double seconds = (System.nanoTime() - start) / 1e9;
            System.out.printf("TCP_MAXRT 2 s: the connect gave up after %.1f s%n", seconds);
            assertTrue(seconds >= 2 && seconds < 6, "gave up after " + seconds + " s");
        }
    }

    /** TCP_TIMESTAMPS off: Linux's accepted socket reports no timestamp option (TCP_INFO tcpi_options). */
    @Test
    void timestampsOptionDecidesWhatTheSynOffersLinux_rfc7323() throws Exception {
        try (Link link = new Link()) {
            Process server = new ProcessBuilder("ip", "netns", "exec", link.ns.name(), "/usr/bin/python3", "-c", """
                import socket
                l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                l.bind(("0.0.0.0", 7014)); l.listen(4)
                print("listening", flush=True)
                for _ in range(2):
                    c, _ = l.accept()
                    info = c.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
                    print("ts=%d" % (info[5] & 1), flush=True)
                    c.close()
                """).redirectErrorStream(true).start();
            link.processes.add(server);
            BufferedReader out = new BufferedReader(new InputStreamReader(server.getInputStream(),
                StandardCharsets.US_ASCII));
            assertEquals("listening", out.readLine());
            for (int on = 1; on >= 0; on--) {
                WskSocket s = socket(link.wsk, WSK_FLAG_CONNECTION_SOCKET, null);
                Call c = new Call();
                c.assertInline(s.controlSocket(WskSetOption, TCP_TIMESTAMPS, IPPROTO_TCP, on, c.irp()),
                    NtStatus.STATUS_SUCCESS);
                bind(s, SocketAddressV4.ANY);
                Call connect = new Call();
                s.connect(new SocketAddressV4(link.linuxIp(), 7014), connect.irp());
                link.runUntil(connect::done, 10, "connect");
                connect.assertCompleted(NtStatus.STATUS_SUCCESS);
                assertEquals("ts=" + on, out.readLine());
                Call close = new Call();
                s.closeSocket(close.irp());
                link.runUntil(close::done, 5, "close");
            }
        }
    }

    /**
     * Conditional accept against Linux clients: the first is rejected by WskInspectEvent and Linux's connect
     * fails with ECONNREFUSED (a RST for its SYN); the second is accepted and echoes through.
     */
    @Test
    void conditionalAcceptRefusesALinuxClientsSynAndAcceptsTheNext() throws Exception {
        try (Link link = new Link()) {
            int[] inspected = {0};
            WskSocket[] accepted = {null};
            WskClientListenDispatch inspector = new WskClientListenDispatch() {
                @Override
                public int wskInspectEvent(Object socketContext, SocketAddressV4 localAddress,
                                           SocketAddressV4 remoteAddress, WskInspectId inspectId) {
                    return inspected[0]++ == 0 ? Wsk.WskInspectReject : Wsk.WskInspectAccept;
                }

                @Override
                public NtStatus wskAcceptEvent(Object socketContext, int flags, SocketAddressV4 localAddress,
                                          SocketAddressV4 remoteAddress, WskSocket acceptSocket) {
                    accepted[0] = acceptSocket;
                    return NtStatus.STATUS_SUCCESS;
                }
            };
            WskSocket l = socket(link.wsk, Wsk.WSK_FLAG_LISTEN_SOCKET, inspector);
            Call c = new Call();
            c.assertInline(l.controlSocket(WskSetOption, Wsk.SO_CONDITIONAL_ACCEPT, SOL_SOCKET, 1, c.irp()),
                NtStatus.STATUS_SUCCESS);
            c.assertInline(l.controlSocket(WskSetOption, Wsk.SO_WSK_EVENT_CALLBACK, SOL_SOCKET, Wsk.WSK_EVENT_ACCEPT,
                c.irp()), NtStatus.STATUS_SUCCESS);
            Call listen = new Call();
            l.bind(new SocketAddressV4(0, 7015), listen.irp());
            link.runUntil(listen::done, 5, "listen");
            listen.assertCompleted(NtStatus.STATUS_SUCCESS);
            Process client = new ProcessBuilder("ip", "netns", "exec", link.ns.name(), "/usr/bin/python3", "-c", """
                import socket, sys
                for i in range(2):
                    try:
                        s = socket.create_connection((sys.argv[1], 7015), timeout=5)
                        s.sendall(b"hi"); s.close(); print("connected", flush=True)
                    except ConnectionRefusedError:
                        print("refused", flush=True)
                """, link.net + "2").redirectErrorStream(true).start();
            link.processes.add(client);
            link.runUntil(() -> !client.isAlive(), 20, "Linux client");
            String out = new String(client.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
            assertEquals("refused\nconnected\n", out);
            assertEquals(2, inspected[0]);
            assertTrue(accepted[0] != null, "the second connection reached the accept event");
        }
    }
}
