package io.fastpath.tdi;

import io.fastpath.provider.NtStatus;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.Port;
import io.fastpath.stack.Stack;
import io.fastpath.stack.StackConfig;
import io.fastpath.stack.StackRunner;
import io.fastpath.stack.tcp.TcpConfig;
import io.fastpath.testkit.NetNs;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * TDI against Linux's TCP: a namespace behind net_tap runs Python peers; the stack runs on its own StackRunner,
 * the test thread is the TDI dispatch thread. The server echoes through chained receives kept (STATUS_PENDING)
 * while the echo is sent straight out of the received mbufs, returned with TdiReturnChainedReceives once the
 * send completed; expedited data is echoed as expedited.
 */
class TdiLinuxTest {
    private static final AtomicInteger SUBNET = new AtomicInteger((int) (ProcessHandle.current().pid() % 100) + 110);
    private static final NtStatus S = NtStatus.STATUS_SUCCESS;
    private static PktmbufPool pool;

    @TempDir
    Path dir;

    @BeforeAll
    static void createPool() {
        pool = PktmbufPool.create("tdilinux", 16383, 256, PktmbufPool.DEFAULT_DATA_ROOM);
    }

    @AfterAll
    static void freePool() {
        pool.close();
    }

    private final class Link implements AutoCloseable {
        final NetNs ns = NetNs.create();
        final String net = "10.83." + (SUBNET.incrementAndGet() % 250 + 1) + ".";
        final Port port;
        final Stack stack;
        final StackRunner runner;
        final TdiProvider tdi;
        final List<Throwable> errors = new ArrayList<>();
        final List<Process> processes = new ArrayList<>();

        Link() {
            String iface = NetNs.uniqueName("t");
            port = EthDevPort.openVdev("net_tap" + iface + ",iface=" + iface, pool, EthDevPort.Config.defaults());
            try {
                ns.adopt(iface, net + "1/24");
                ns.tryExec(5, "ethtool", "-K", iface, "tx", "off", "rx", "off");
            } catch (RuntimeException e) {
                port.close();
                ns.close();
                throw e;
            }
            stack = new Stack(port, StackConfig.builder().name(NetNs.uniqueName("s")).cidr(net + "2/24")
                .tcp(TcpConfig.defaults().withTimeWait(TimeUnit.MILLISECONDS.toNanos(200)))
                .countersFile(dir.resolve(NetNs.uniqueName("c") + ".counters")).build());
            runner = StackRunner.start(stack, StackRunner.backoff());
            tdi = TdiProvider.open(stack, errors::add);
        }

        Process python(String script, String... args) throws IOException {
            Path file = dir.resolve(script);
            if (!Files.exists(file)) {
                try (InputStream in = TdiLinuxTest.class.getResourceAsStream("/peer/" + script)) {
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
                if (tdi.dispatch() == 0) {
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
            try {
                tdi.close();
                runner.close();
                stack.close();
            } finally {
                port.close();
                ns.close();
            }
        }
    }

    /**
     * The echo: ClientEventConnect accepts onto an idle endpoint; chained receives are kept (PENDING) and sent
     * back from the mbufs; ChainedReceiveExpedited is sent back with TDI_SEND_EXPEDITED; the peer's release is
     * answered with TDI_DISCONNECT(RELEASE). Records the order of events.
     */
    static final class PendingEcho {
        final TdiProvider tdi;
        final TdiAddress address;
        final ArrayDeque<TdiConnection> idle = new ArrayDeque<>();
        final List<String> log = new ArrayList<>();
        final List<String> expedited = new ArrayList<>();
        int released;
        int sendFailures;
        /** Runs in ClientEventConnect with the connect data; returns the handler's status (accept: MPR). */
        java.util.function.Function<String, NtStatus> onConnect = data -> NtStatus.STATUS_MORE_PROCESSING_REQUIRED;

        PendingEcho(TdiProvider tdi, int port) {
            this.tdi = tdi;
            this.address = tdi.openAddress(0, port);
            TdiRig.setEvent(tdi, address, Tdi.TDI_EVENT_CHAINED_RECEIVE,
                (TdiEvents.ClientEventChainedReceive) (ctx, cc, flags, length, offset, tsdu) -> {
                    log.add("receive " + cc + " " + length);
                    echo((TdiConnection) cc, tsdu, offset, 0);
                    return NtStatus.STATUS_PENDING;
                }, null).assertInline(S);
            TdiRig.setEvent(tdi, address, Tdi.TDI_EVENT_CHAINED_RECEIVE_EXPEDITED,
                (TdiEvents.ClientEventChainedReceive) (ctx, cc, flags, length, offset, tsdu) -> {
                    expedited.add(new String(tsdu.toByteArray(), StandardCharsets.US_ASCII) + " flags=0x"
                        + Integer.toHexString(flags));
                    echo((TdiConnection) cc, tsdu, offset, Tdi.TDI_SEND_EXPEDITED);
                    return NtStatus.STATUS_PENDING;
                }, null).assertInline(S);
            TdiRig.setEvent(tdi, address, Tdi.TDI_EVENT_DISCONNECT,
                (TdiEvents.ClientEventDisconnect) (ctx, cc, flags) -> {
                    TdiConnection c = (TdiConnection) cc;
                    log.add("disconnect " + cc + " " + flags);
                    if (flags == Tdi.TDI_DISCONNECT_RELEASE) {
                        Irp irp = new Irp();
                        TdiBuild.disconnect(irp, c, (i, x) -> {
                            log.add("released " + c + " " + i.ioStatus().status());
                            released++;
                            idle.add(c);
                        }, null, Tdi.TIMEOUT_DEFAULT, Tdi.TDI_DISCONNECT_RELEASE, null, null);
                        tdi.callDriver(irp);
                    } else {
                        idle.add(c);
                    }
                    return S;
                }, null).assertInline(S);
            Req connect = TdiRig.setEvent(tdi, address, Tdi.TDI_EVENT_CONNECT,
                (TdiEvents.ClientEventConnect) (ctx, ip, remotePort, dataLength, data, optLength, opts, out) -> {
                    String connectData = dataLength == 0 ? ""
                        : new UnsafeBuffer(data, dataLength).getStringWithoutLengthAscii(0, dataLength);
                    log.add("connect data=" + connectData);
                    NtStatus answer = onConnect.apply(connectData);
                    if (answer != NtStatus.STATUS_MORE_PROCESSING_REQUIRED) {
                        return answer;
                    }
                    TdiConnection c = idle.isEmpty() ? TdiRig.endpoint(tdi, address, null) : idle.poll();
                    Irp accept = new Irp();
                    TdiBuild.accept(accept, c, (i, x) -> log.add("accepted " + c + " "
                        + i.ioStatus().status()), null, null, null);
                    out.acceptIrp(accept).connectionContext(c);
                    return NtStatus.STATUS_MORE_PROCESSING_REQUIRED;
                }, null);
            connect.assertPending(); // completes once the stack listens
        }

        /** Sends the TSDU back from where it lies; returns it to the transport when the last piece is sent. */
        private void echo(TdiConnection c, Tsdu tsdu, int offset, int sendFlags) {
            int[] outstanding = {0};
            int skip = offset;
            for (int i = 0; i < tsdu.segmentCount(); i++) {
                int length = tsdu.segmentLength(i) - skip;
                long at = tsdu.segmentAddress(i) + skip;
                skip = Math.max(0, skip - tsdu.segmentLength(i));
                if (length <= 0) {
                    continue;
                }
                outstanding[0]++;
                Irp send = new Irp();
                TdiBuild.send(send, c, (irp, x) -> {
                    if (irp.ioStatus().status() != S) {
                        sendFailures++;
                    }
                    if (--outstanding[0] == 0) {
                        tdi.returnChainedReceives(new Tsdu[] {tsdu}, 1);
                    }
                }, null, at, sendFlags, length);
                tdi.callDriver(send);
            }
        }
    }

    private static String output(Process p) throws IOException {
        return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    }

    /**
     * Linux sends "abc", one urgent byte "!" (MSG_OOB), "def": the normal bytes come through ClientEventChainedReceive
     * and are echoed with TDI_SEND, the urgent byte through ClientEventChainedReceiveExpedited (flags EXPEDITED |
     * ENTIRE_MESSAGE | AT_DISPATCH_LEVEL) and is echoed with TDI_SEND_EXPEDITED: Linux reads it with MSG_OOB. Every
     * chain was kept (PENDING) and returned late; the pool gets every mbuf back.
     */
    @Test
    void urgentDataFromLinuxArrivesThroughChainedReceiveExpeditedAndGoesBackExpedited() throws Exception {
        try (Link link = new Link()) {
            int before = pool.inUseCount();
            PendingEcho echo = new PendingEcho(link.tdi, 7008);
            link.runUntil(() -> echo.address.listenState == 2, 5, "listening");
            Process client = link.python("urgent_client.py", link.net + "2", "7008");
            link.runUntil(() -> !client.isAlive(), 20, "urgent client");
            String out = output(client);
            assertTrue(out.startsWith("OK"), out);
            assertEquals(List.of("! flags=0x" + Integer.toHexString(Tdi.TDI_RECEIVE_EXPEDITED
                | Tdi.TDI_RECEIVE_ENTIRE_MESSAGE | Tdi.TDI_RECEIVE_AT_DISPATCH_LEVEL)), echo.expedited);
            link.runUntil(() -> echo.released == 1, 10, "controlled disconnect: " + echo.log);
            assertEquals(0, echo.sendFailures);
            assertEquals(0, link.tdi.heldChainedReceives(), "every kept chain was returned");
            link.runUntil(() -> pool.inUseCount() <= before, 5, "mbufs back in the pool");
        }
    }

    /**
     * Linux's TCP Fast Open client (RFC 7413, net.ipv4.tcp_fastopen=3): the second connection's SYN carries
     * "fast open 1", which ClientEventConnect sees as connect data while the SYN is held: Linux's connect has not
     * completed (no SYN-ACK yet) when the handler has run for 300 ms. The SYN-ACK does not acknowledge the data,
     * so Linux sends it again after the handshake: it is indicated once, as the connection's first 11 bytes, and
     * the echo carries it once.
     */
    @Test
    void fastOpenSynDataIsConnectDataBeforeAnySynAckAndThenStreamData_clientEventConnect() throws Exception {
        try (Link link = new Link()) {
            link.ns.exec("sysctl", "-qw", "net.ipv4.tcp_fastopen=3");
            PendingEcho echo = new PendingEcho(link.tdi, 7);
            link.runUntil(() -> echo.address.listenState == 2, 5, "listening");
            Process client = new ProcessBuilder("ip", "netns", "exec", link.ns.name(), "/usr/bin/python3", "-c", """
                import socket, sys, time
                out = []
                for i in range(2):
                    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    s.sendto(b"fast open %d" % i, socket.MSG_FASTOPEN, (sys.argv[1], 7))  # returns once connected
                    print("connected %d" % i, flush=True)
                    s.settimeout(5)
                    out.append(s.recv(100).decode())
                    s.close()
                    time.sleep(0.2)
                print("|".join(out), flush=True)
                """, link.net + "2").redirectErrorStream(true).start();
            link.processes.add(client);
            int[] printedDuringHandler = {-1};
            long[] segmentsDuringHandler = {-1};
            echo.onConnect = data -> {
                if (!data.isEmpty()) {
                    long segments = link.stack.counters().tcpSegmentsSent.get();
                    try {
                        Thread.sleep(300);
                        printedDuringHandler[0] = client.getInputStream().available();
                    } catch (InterruptedException | IOException e) {
                        throw new AssertionError(e);
                    }
                    segmentsDuringHandler[0] = link.stack.counters().tcpSegmentsSent.get() - segments;
                }
                return NtStatus.STATUS_MORE_PROCESSING_REQUIRED;
            };
            link.runUntil(() -> !client.isAlive(), 20, "Linux TFO client");
            assertEquals("connected 0\nconnected 1\nfast open 0|fast open 1", output(client));
            assertEquals("connected 0\n".length(), printedDuringHandler[0],
                "Linux's second connect had not completed while ClientEventConnect ran");
            assertEquals(0, segmentsDuringHandler[0], "nothing (no SYN-ACK) sent while ClientEventConnect ran");
            link.runUntil(() -> echo.released == 2, 10, "both released: " + echo.log);
            List<String> log = echo.log;
            assertEquals("connect data=", log.get(0), "the first connection carried no SYN data");
            int second = log.indexOf("connect data=fast open 1");
            assertTrue(second > 0, log.toString());
            List<String> after = log.subList(second + 1, log.size());
            assertTrue(after.stream().anyMatch(e -> e.startsWith("accepted ") && e.endsWith(" STATUS_SUCCESS")),
                log.toString());
            String firstReceive = after.stream().filter(e -> e.startsWith("receive ")).findFirst().orElseThrow();
            assertTrue(firstReceive.endsWith(" 11"), "the SYN's data again, as the stream's first bytes: " + log);
            assertEquals(0, link.stack.counters().tcpFastOpenSynDataAccepted.get(), "held SYNs' data is not taken");
        }
    }

    /**
     * Refusal from ClientEventConnect while the SYN is held: Linux's connect fails with ECONNREFUSED (a RST for its
     * SYN, not a reset after connecting); the next connection is accepted.
     */
    @Test
    void aRefusedLinuxClientGetsConnectionRefused_clientEventConnect() throws Exception {
        try (Link link = new Link()) {
            PendingEcho echo = new PendingEcho(link.tdi, 7016);
            int[] offers = {0};
            echo.onConnect = data -> offers[0]++ == 0 ? NtStatus.STATUS_CONNECTION_REFUSED
                : NtStatus.STATUS_MORE_PROCESSING_REQUIRED;
            link.runUntil(() -> echo.address.listenState == 2, 5, "listening");
            Process client = new ProcessBuilder("ip", "netns", "exec", link.ns.name(), "/usr/bin/python3", "-c", """
                import errno, socket, sys
                for i in range(2):
                    s = socket.socket()
                    s.settimeout(5)
                    e = s.connect_ex((sys.argv[1], 7016))
                    if e == 0:
                        s.sendall(b"hi"); print("connected", s.recv(10).decode(), flush=True)
                    else:
                        print(errno.errorcode.get(e, str(e)), flush=True)
                    s.close()
                """, link.net + "2").redirectErrorStream(true).start();
            link.processes.add(client);
            link.runUntil(() -> !client.isAlive(), 20, "Linux client");
            assertEquals("ECONNREFUSED\nconnected hi", output(client));
            assertEquals(2, offers[0]);
            link.runUntil(() -> echo.released == 1, 10, "the accepted one released: " + echo.log);
        }
    }
}
