package io.fastpath.stack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.Mbuf;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.Port;
import io.fastpath.stack.wire.Ipv4Address;
import io.fastpath.stack.wire.MacAddress;
import io.fastpath.testkit.NetNs;
import io.fastpath.testkit.Shell;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Linux is the peer: a network namespace on the other side of net_tap and of net_af_packet/veth pings the
 * stack, learns its MAC, and sends it UDP that the application reads zero-copy.
 */
class LinuxPeerTest {
    private static final AtomicInteger SUBNET = new AtomicInteger((int) (ProcessHandle.current().pid() % 200));
    private static PktmbufPool pool;

    @TempDir
    Path dir;

    @BeforeAll
    static void createPool() {
        pool = PktmbufPool.create("linuxpeer", 8191, 256, PktmbufPool.DEFAULT_DATA_ROOM);
    }

    @AfterAll
    static void freePool() {
        pool.close();
    }

    private static String subnet() {
        return "10.78." + (SUBNET.incrementAndGet() % 250 + 1) + ".";
    }

    private StackConfig config(String name, String net) {
        return StackConfig.builder().name(name).cidr(net + "2/24").rawProtocol(17)
            .countersFile(dir.resolve(name + ".counters")).build();
    }

    /** Linux pings through the port; every reply comes back and Linux's neighbour table holds our MAC. */
    private void linuxPings(NetNs ns, Port port, String net) {
        int inUseBefore = pool.inUseCount();
        Stack stack = new Stack(port, config("peer", net));
        try (StackRunner runner = StackRunner.start(stack, StackRunner.backoff())) {
            Shell.Result ping = ns.tryExec(30, "ping", "-c", "10", "-i", "0.05", "-W", "2", "-s", "1000", net + "2");
            assertTrue(ping.output().contains("10 received"), ping.output());
            String neigh = ns.exec("ip", "neigh", "show", net + "2");
            assertTrue(neigh.contains(MacAddress.format(stack.mac()).toLowerCase()), neigh);
            assertTrue(runner.thread().isAlive());
        } finally {
            stack.close();
        }
        assertTrue(stack.counters().icmpEchoRepliesSent.get() >= 10);
        assertEquals(inUseBefore, pool.inUseCount(), "no mbuf leaked");
    }

    @Test
    void linuxPingsTheStackThroughNetTap() {
        String iface = NetNs.uniqueName("t");
        String net = subnet();
        try (NetNs ns = NetNs.create();
             EthDevPort port = EthDevPort.openVdev("net_tap" + iface + ",iface=" + iface, pool,
                 EthDevPort.Config.defaults())) {
            ns.adopt(iface, net + "1/24");
            linuxPings(ns, port, net);
        }
    }

    @Test
    void linuxPingsTheStackThroughAfPacketOnAVeth() {
        String outer = NetNs.uniqueName("o");
        String inner = NetNs.uniqueName("i");
        String net = subnet();
        try (NetNs ns = NetNs.create()) {
            ns.veth(outer, inner, net + "1/24");
            try (EthDevPort port = EthDevPort.openVdev("net_af_packet" + outer + ",iface=" + outer
                + ",qdisc_bypass=0", pool, EthDevPort.Config.defaults())) {
                linuxPings(ns, port, net);
            }
        }
    }

    @Test
    void stackPingsLinuxAndReportsAnAbsentHostAsUnreachable() {
        String iface = NetNs.uniqueName("t");
        String net = subnet();
        try (NetNs ns = NetNs.create();
             EthDevPort port = EthDevPort.openVdev("net_tap" + iface + ",iface=" + iface, pool,
                 EthDevPort.Config.defaults())) {
            ns.adopt(iface, net + "1/24");
            Stack stack = new Stack(port, StackConfig.builder().name("pinger").cidr(net + "2/24")
                .arp(64, TimeUnit.SECONDS.toNanos(60), TimeUnit.MILLISECONDS.toNanos(100), 3)
                .countersFile(dir.resolve("pinger.counters")).build());
            RecordingHandler events = new RecordingHandler();
            try (StackRunner runner = StackRunner.start(stack, StackRunner.backoff())) {
                for (int seq = 0; seq < 5; seq++) {
                    assertTrue(stack.ping(Ipv4Address.parse(net + "1"), seq, 56));
                }
                assertTrue(stack.ping(Ipv4Address.parse(net + "99"), 99, 56));
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
                while (events.replies.size() < 5 || events.failures.isEmpty()) {
                    stack.pollEvents(events);
                    assertTrue(System.nanoTime() < deadline, "replies " + events.replies + " failures "
                        + events.failures.size());
                    Thread.onSpinWait();
                }
            } finally {
                stack.close();
            }
            assertEquals(List.of(0, 1, 2, 3, 4), events.replies);
            assertEquals(99, events.failures.get(0)[1]);
            assertEquals(NtStatus.STATUS_HOST_UNREACHABLE, events.failures.get(0)[2]);
        }
    }

    /** UDP from Linux arrives as descriptors over the mbufs: read in place, held, released later. */
    @Test
    void rawFramesReachTheApplicationAsDescriptorsAndComeBack() {
        String iface = NetNs.uniqueName("t");
        String net = subnet();
        int inUseBefore = pool.inUseCount();
        try (NetNs ns = NetNs.create();
             EthDevPort port = EthDevPort.openVdev("net_tap" + iface + ",iface=" + iface, pool,
                 EthDevPort.Config.defaults())) {
            ns.adopt(iface, net + "1/24");
            Stack stack = new Stack(port, config("raw", net));
            List<String> payloads = new ArrayList<>();
            List<Long> held = new ArrayList<>();
            try (StackRunner runner = StackRunner.start(stack, StackRunner.backoff())) {
                ns.exec("bash", "-c", "for i in $(seq 1 20); do echo -n message-$i > /dev/udp/" + net + "2/9999;"
                    + " sleep 0.01; done");
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
                while (payloads.size() < 20 && System.nanoTime() < deadline) {
                    stack.pollFrames((mbuf, address, length, payloadOffset, protocol) -> {
                        assertEquals(17, protocol);
                        assertEquals(Mbuf.dataAddress(mbuf), address, "the descriptor points into the mbuf");
                        MemorySegment udp = MemorySegment.ofAddress(address + payloadOffset).reinterpret(length - payloadOffset);
                        byte[] data = udp.asSlice(8).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
                        payloads.add(new String(data, StandardCharsets.US_ASCII));
                        if (payloads.size() % 2 == 0) {
                            held.add(mbuf);
                            return false; // keep it
                        }
                        return true;
                    });
                }
                assertEquals(20, payloads.size(), payloads.toString());
                assertEquals("message-1", payloads.get(0));
                // The ten released at once travel to the poll thread through the command ring.
                deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
                while (stack.counters().rawFramesHeld.get() != 10 && System.nanoTime() < deadline) {
                    Thread.onSpinWait();
                }
                assertEquals(10, stack.counters().rawFramesHeld.get());
                for (long m : held) {
                    assertTrue(stack.releaseFrame(m));
                }
                assertTrue(stack.releaseFrame(held.get(0)), "a double release is queued...");
                deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
                while (stack.counters().rawFramesHeld.get() != 0 && System.nanoTime() < deadline) {
                    Thread.onSpinWait();
                }
                assertEquals(0, stack.counters().rawFramesHeld.get());
            } finally {
                stack.close();
            }
            assertFalse(held.isEmpty());
        }
        assertEquals(inUseBefore, pool.inUseCount(), "...and refused: no double free, no leak");
    }
}
