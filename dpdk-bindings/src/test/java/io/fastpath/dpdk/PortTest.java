package io.fastpath.dpdk;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.testkit.NetNs;
import io.fastpath.testkit.Shell;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Ports on DPDK's virtual devices: ring pair, net_tap, net_af_packet; opened and closed many times. */
class PortTest {
    private static PktmbufPool pool;

    @BeforeAll
    static void pool() {
        pool = PktmbufPool.create("porttest", 4095, 0, PktmbufPool.DEFAULT_DATA_ROOM);
    }

    @AfterAll
    static void freePool() {
        pool.close();
    }

    private static void fill(long m, byte[] frame) {
        MemorySegment.ofAddress(Mbuf.dataAddress(m)).reinterpret(frame.length)
            .copyFrom(MemorySegment.ofArray(frame));
        Mbuf.setLength(m, frame.length);
    }

    private static byte[] read(long m) {
        return MemorySegment.ofAddress(Mbuf.dataAddress(m)).reinterpret(Mbuf.dataLen(m))
            .toArray(ValueLayout.JAVA_BYTE);
    }

    @Test
    void ringPairCarriesFramesBothWaysAndReopens() {
        for (int round = 0; round < 5; round++) {
            int before = pool.availableCount();
            try (RingPair pair = RingPair.create("rp" + round, 1024, pool, pool, EthDevPort.Config.defaults())) {
                assertTrue(pair.a().linkUp());
                MbufArray tx = new MbufArray(32);
                MbufArray rx = new MbufArray(32);
                assertTrue(pool.allocBulk(tx, 0, 8));
                for (int i = 0; i < 8; i++) {
                    byte[] frame = new byte[60 + i];
                    frame[0] = (byte) i;
                    frame[59] = (byte) round;
                    fill(tx.get(i), frame);
                }
                assertEquals(8, pair.a().transmit(tx, 0, 8));
                assertEquals(0, pair.a().receive(rx, 32), "A does not hear itself");
                assertEquals(8, pair.b().receive(rx, 32));
                for (int i = 0; i < 8; i++) {
                    byte[] got = read(rx.get(i));
                    assertEquals(60 + i, got.length);
                    assertEquals(i, got[0]);
                    assertEquals(round, got[59]);
                }
                assertEquals(8, pair.b().transmit(rx, 0, 8), "B sends the same mbufs back");
                assertEquals(8, pair.a().receive(tx, 32));
                tx.freeAll(8);
                PortStats stats = pair.a().stats(new PortStats());
                assertEquals(8, stats.opackets);
                assertEquals(8, stats.ipackets);
            }
            assertEquals(before, pool.availableCount(), "no mbuf leaked in round " + round);
        }
    }

    @Test
    void tapPortShowsAKernelInterfaceThatReceivesOurFrames() {
        for (int round = 0; round < 3; round++) {
            String iface = NetNs.uniqueName("t");
            try (NetNs ns = NetNs.create();
                 EthDevPort port = EthDevPort.openVdev("net_tap" + iface + ",iface=" + iface, pool,
                     EthDevPort.Config.defaults())) {
                assertEquals("net_tap", port.driverName());
                assertTrue(Shell.run("ip", "link", "show", iface).contains(iface));
                ns.adopt(iface, "10.251.0.1/24");
                // A frame we transmit arrives on the kernel side: its rx counter moves.
                MbufArray tx = new MbufArray(1);
                assertTrue(pool.allocBulk(tx, 0, 1));
                byte[] frame = new byte[60];
                for (int i = 0; i < 6; i++) {
                    frame[i] = (byte) 0xFF;
                }
                frame[6] = 0x02;
                frame[11] = 0x01;
                frame[12] = (byte) 0x88;
                frame[13] = (byte) 0xB5; // local experimental ethertype: the kernel counts it and drops it
                fill(tx.get(0), frame);
                long rxBefore = rxPackets(ns, iface);
                assertEquals(1, port.transmit(tx, 0, 1));
                long deadline = System.nanoTime() + 2_000_000_000L;
                while (rxPackets(ns, iface) == rxBefore && System.nanoTime() < deadline) {
                    Thread.onSpinWait();
                }
                assertTrue(rxPackets(ns, iface) > rxBefore, "kernel received the frame");
            }
            assertFalse(Shell.exec(10, "ip", "link", "show", iface).ok(), "tap removed on close");
        }
    }

    private static long rxPackets(NetNs ns, String iface) {
        return Long.parseLong(ns.exec("cat", "/sys/class/net/" + iface + "/statistics/rx_packets").trim());
    }

    @Test
    void afPacketPortOnAVethReceivesWhatTheNamespaceSends() {
        String outer = NetNs.uniqueName("o");
        String inner = NetNs.uniqueName("i");
        try (NetNs ns = NetNs.create()) {
            ns.veth(outer, inner, "10.252.0.1/24");
            try (EthDevPort port = EthDevPort.openVdev("net_af_packet" + outer + ",iface=" + outer
                + ",qdisc_bypass=0", pool, EthDevPort.Config.defaults())) {
                assertEquals("net_af_packet", port.driverName());
                // The namespace ARPs for a neighbour on the veth; the broadcast reaches our port.
                ns.tryExec(5, "ping", "-c", "2", "-W", "1", "10.252.0.2");
                // Other frames may come first (IPv6 router solicitations and MLD reports when the veth comes up):
                // look through what arrives for the ARP request.
                MbufArray rx = new MbufArray(32);
                boolean arp = false;
                int frames = 0;
                long deadline = System.nanoTime() + 3_000_000_000L;
                while (!arp && System.nanoTime() < deadline) {
                    int n = port.receive(rx, 32);
                    for (int i = 0; i < n; i++) {
                        byte[] frame = read(rx.get(i));
                        arp |= frame.length >= 14 && frame[12] == 0x08 && frame[13] == 0x06;
                    }
                    frames += n;
                    rx.freeAll(n);
                }
                assertTrue(arp, "af_packet received the namespace's ARP request (" + frames + " frames seen)");
            }
        }
    }

    @Test
    void ringPairWithTwoQueuesCarriesEachQueueToItsTwin() {
        int before = pool.availableCount();
        try (RingPair pair = RingPair.create("rpq", 1024, pool, pool, EthDevPort.Config.defaults().withQueues(2))) {
            assertEquals(2, pair.a().queues());
            assertEquals(2, pair.b().queues());
            assertTrue(pair.a().queue(0) == pair.a(), "queue 0 is the port itself");
            MbufArray tx = new MbufArray(32);
            MbufArray rx = new MbufArray(32);
            for (int q = 0; q < 2; q++) {
                assertTrue(pool.allocBulk(tx, 0, 4));
                for (int i = 0; i < 4; i++) {
                    byte[] frame = new byte[60];
                    frame[0] = (byte) q;
                    frame[1] = (byte) i;
                    fill(tx.get(i), frame);
                }
                assertEquals(4, pair.a().queue(q).transmit(tx, 0, 4));
            }
            for (int q = 0; q < 2; q++) {
                assertEquals(4, pair.b().queue(q).receive(rx, 32), "queue " + q + " received its own four");
                for (int i = 0; i < 4; i++) {
                    byte[] got = read(rx.get(i));
                    assertEquals(q, got[0]);
                    assertEquals(i, got[1]);
                }
                rx.freeAll(4);
            }
            assertEquals(0, pair.b().queue(0).receive(rx, 32));
            assertEquals(0, pair.b().queue(1).receive(rx, 32));
        }
        assertEquals(before, pool.availableCount(), "no mbuf leaked");
    }

    @Test
    void tapAndAfPacketOpenWithTwoQueuePairs() {
        String iface = NetNs.uniqueName("t");
        try (EthDevPort port = EthDevPort.openVdev("net_tap" + iface + ",iface=" + iface, pool,
            EthDevPort.Config.defaults().withQueues(2))) {
            assertEquals(2, port.queues());
            MbufArray rx = new MbufArray(32);
            port.queue(1).receive(rx, 32); // a burst on queue 1 works (whatever it finds)
            int[] reta = port.redirectionTable();
            byte[] key = port.rssKey();
            System.out.println("net_tap with 2 queues: rss_hf 0x" + Long.toHexString(port.rssHashFunctions()) + ", key "
                + (key == null ? "none" : key.length + " bytes") + ", reta " + (reta == null ? "none" : reta.length
                + " entries"));
            if (reta != null) {
                for (int entry : reta) {
                    assertTrue(entry >= 0 && entry < 2, "a RETA entry names one of the two queues: " + entry);
                }
            }
        }
        String outer = NetNs.uniqueName("o");
        String inner = NetNs.uniqueName("i");
        try (NetNs ns = NetNs.create()) {
            ns.veth(outer, inner, "10.252.1.1/24");
            try (EthDevPort port = EthDevPort.openVdev("net_af_packet" + outer + ",iface=" + outer
                + ",qpairs=2,qdisc_bypass=0", pool, EthDevPort.Config.defaults().withQueues(2))) {
                assertEquals(2, port.queues());
            }
        }
    }

    @Test
    void unknownDeviceFailsWithAClearError() {
        DpdkException e = assertThrows(DpdkException.class,
            () -> EthDevPort.openVdev("net_nosuchdriver0,foo=bar", pool, EthDevPort.Config.defaults()));
        assertTrue(e.getMessage().contains("rte_vdev_init net_nosuchdriver0"), e.getMessage());
    }

    @Test
    void badDeviceArgumentsFailAndLeaveNoDevice() {
        String iface = NetNs.uniqueName("t");
        assertThrows(DpdkException.class, () -> EthDevPort.openVdev("net_tap" + iface + ",iface=" + iface + ",mac=notamac", pool,
            EthDevPort.Config.defaults()));
        assertFalse(Shell.exec(10, "ip", "link", "show", iface).ok());
    }

    @Test
    void macAddressCanBeSetAndRead() {
        String iface = NetNs.uniqueName("t");
        long mac = 0x02_00_5E_10_20_30L;
        try (EthDevPort port = EthDevPort.openVdev("net_tap" + iface + ",iface=" + iface, pool,
            EthDevPort.Config.defaults().withMac(mac))) {
            assertEquals(mac, port.macAddress());
            assertTrue(port.mtu() >= 1500);
            assertArrayEquals(new byte[0], new byte[0]);
        }
    }
}
