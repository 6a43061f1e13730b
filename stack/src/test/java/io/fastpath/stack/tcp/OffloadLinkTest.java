package io.fastpath.stack.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.Layouts;
import io.fastpath.dpdk.Mbuf;
import io.fastpath.dpdk.MbufArray;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.Port;
import io.fastpath.dpdk.RingPair;
import io.fastpath.stack.Stack;
import io.fastpath.stack.app.StreamClient;
import io.fastpath.stack.counters.DropReason;
import io.fastpath.stack.device.PortDecorator;
import io.fastpath.stack.wire.Checksum;
import io.fastpath.stack.wire.Ipv4Address;
import io.fastpath.stack.wire.Ipv4Packet;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * TCP over a ring pair whose link declares a large MTU and checksum offload ({@link RingPair.Link}), and the
 * checksum flags as a receiver honours them: DPDK's {@code RTE_MBUF_F_RX_*_CKSUM_GOOD} spares the software
 * check, and a frame without it is checked in software and dropped when its checksum is wrong, on the default
 * link and on the offload link alike. Both stacks run on the test thread (deterministic).
 */
class OffloadLinkTest {
    private static final int A_IP = Ipv4Address.parse("10.10.1.1");
    private static final int B_IP = Ipv4Address.parse("10.10.1.2");
    private static final int MTU = 64_000;
    private static final RingPair.Link LINK = RingPair.Link.offloading(MTU);
    private static PktmbufPool jumboPool;
    private static PktmbufPool pool;
    private static int round;

    @TempDir
    Path dir;
    private RingPairRig rig;
    private RingPair pair;
    private Stack a;
    private Stack b;

    @BeforeAll
    static void createPools() {
        jumboPool = PktmbufPool.create("offl_j", 1023, 0, LINK.dataRoom());
        pool = PktmbufPool.create("offl_d", 4095, 0, PktmbufPool.DEFAULT_DATA_ROOM);
    }

    @AfterAll
    static void freePools() {
        jumboPool.close();
        pool.close();
    }

    private void up(RingPair.Link link, TcpConfig tcp, boolean tamperB, long tamperMask) {
        boolean jumbo = link != RingPair.Link.ETHERNET;
        rig = jumbo ? new RingPairRig(dir, jumboPool, "ol" + round++, 1024,
            new EthDevPort.Config(128, 128, true, 0L, 0, true), link)
            : new RingPairRig(dir, pool, "ol" + round++, 1024);
        pair = rig.pair;
        a = rig.a(rig.config("a", A_IP, tcp));
        if (tamperB) {
            tamper = new ChecksumTamper(pair.b(), tamperMask);
            rig.portB = tamper;
        }
        b = rig.b(rig.config("b", B_IP, tcp));
    }

    private ChecksumTamper tamper;

    @AfterEach
    void down() {
        if (rig != null) {
            rig.close();
        }
        assertEquals(0, jumboPool.inUseCount(), "every jumbo mbuf returned");
        assertEquals(0, pool.inUseCount(), "every mbuf returned");
    }

    private void runUntil(BooleanSupplier done, long timeoutMs) {
        rig.runUntil(done, timeoutMs);
    }

    private static TcpConfig tcp() {
        return TcpConfig.defaults().withTimeWait(TimeUnit.MILLISECONDS.toNanos(100)).withBuffers(1 << 20, 1 << 20);
    }

    /** The client's connection, once connected. */
    private TcpConnection clientConnection;

    /** Connects a stream client on A to an echo server on B. */
    private StreamClient echo(long bytes) {
        rig.echoServer(7);
        StreamClient client = new StreamClient(4321, bytes);
        TcpHandler recording = new TcpHandler() {
            @Override
            public void onConnectComplete(TcpConnection c, int status) {
                clientConnection = c;
                client.onConnectComplete(c, status);
            }

            @Override
            public int onReceive(TcpConnection c, long address, int length) {
                return client.onReceive(c, address, length);
            }

            @Override
            public void onSendSpace(TcpConnection c, int freeBytes) {
                client.onSendSpace(c, freeBytes);
            }

            @Override
            public void onPeerClosed(TcpConnection c) {
                client.onPeerClosed(c);
            }

            @Override
            public void onClosed(TcpConnection c, int status) {
                client.onClosed(c, status);
            }
        };
        rig.connect(recording, 7);
        return client;
    }

    private void finish(StreamClient client, long bytes) {
        rig.awaitEcho(client, bytes, 60_000);
    }

    /**
     * RFC 9293 §3.7.1 / RFC 879: each end announces MTU - 40 on the large-MTU link, so the connection's segments
     * carry 63,948 bytes (less the timestamp option, RFC 6691); 32 MiB echoed, every byte checked by the client;
     * the link's checksum offload is on both ports, nothing is dropped for a checksum.
     */
    @Test
    void largeMtuLinkNegotiatesTheLargerMssAndMovesVerifiedData_rfc9293_s3_7_1_rfc6691() {
        up(LINK, tcp(), false, 0);
        long both = Layouts.TX_OFFLOAD_IPV4_CKSUM | Layouts.TX_OFFLOAD_TCP_CKSUM;
        assertEquals(both, pair.a().txOffloads() & both, "the link offers checksum offload and the port enabled it");
        assertEquals(MTU, pair.a().mtu());
        long bytes = 32L << 20;
        StreamClient client = echo(bytes);
        runUntil(() -> clientConnection != null && b.tcp().connectionCount() == 1, 2_000);
        assertEquals(MTU - 40 - TcpLayer.TS_OPTION_SPACE, clientConnection.mss(),
            "MSS from the 64,000-byte MTU, less the timestamp option");
        finish(client, bytes);
        long segments = a.counters().tcpSegmentsSent.get();
        assertTrue(segments < 2 * bytes / 60_000 + 200, segments + " segments for " + bytes + " bytes");
        assertEquals(0, b.counters().drop(DropReason.TCP_BAD_CHECKSUM).get());
        assertEquals(0, a.counters().drop(DropReason.TCP_BAD_CHECKSUM).get());
        assertEquals(0, b.counters().drop(DropReason.IP_BAD_CHECKSUM).get());
    }

    /**
     * Frames on the offload link carry no computed checksum (the TCP field holds the pseudo-header sum DPDK's
     * transmit offload wants, the IPv4 one zero) and arrive flagged RTE_MBUF_F_RX_IP_CKSUM_GOOD and
     * RTE_MBUF_F_RX_L4_CKSUM_GOOD; the default link's frames carry real checksums and no flag.
     */
    @Test
    void offloadLinkFramesCarryNoComputedChecksumAndArriveFlaggedGood() {
        up(LINK, tcp(), true, 0);
        StreamClient client = echo(1 << 20);
        finish(client, 1 << 20);
        assertTrue(tamper.tcpFrames > 10 && tamper.flaggedGood == tamper.tcpFrames,
            tamper.flaggedGood + " of " + tamper.tcpFrames + " TCP frames flagged good");
        assertEquals(tamper.tcpFrames, tamper.pseudoHeaderSumOnly, "TCP field holds the pseudo-header sum only");
        assertEquals(tamper.tcpFrames, tamper.ipChecksumZero, "IPv4 header checksum left to the link");
    }

    @Test
    void defaultLinkFramesCarryRealChecksumsAndNoFlag() {
        up(RingPair.Link.ETHERNET, tcp(), true, 0);
        assertEquals(0, pair.a().txOffloads(), "the ring PMD offers no offload: checksums in software");
        assertEquals(1500, pair.a().mtu());
        StreamClient client = echo(1 << 20);
        finish(client, 1 << 20);
        assertTrue(tamper.tcpFrames > 100);
        assertEquals(0, tamper.flaggedGood);
        assertEquals(tamper.tcpFrames, tamper.checksumsValid, "every frame's TCP and IPv4 checksums verify");
    }

    /**
     * A data segment whose TCP checksum is wrong and that has no RX_L4_CKSUM_GOOD flag is dropped on a normal
     * port (RFC 9293 §3.1: the checksum is verified); the sender retransmits and the stream completes intact.
     */
    @Test
    void badChecksumWithoutGoodFlagIsDroppedOnANormalPort_rfc9293_s3_1() {
        up(RingPair.Link.ETHERNET, tcp(), true, 0);
        tamper.corruptNext = 3;
        StreamClient client = echo(4 << 20);
        finish(client, 4 << 20);
        assertEquals(3, tamper.corrupted);
        assertEquals(3, b.counters().drop(DropReason.TCP_BAD_CHECKSUM).get(), "each corrupted segment dropped");
        assertTrue(a.counters().tcpRetransmits.get() >= 3);
    }

    /**
     * The same on the offload link with the flags taken off (as a NIC reports an unchecked frame): the
     * receiver verifies in software, finds the uncomputed checksum wrong and drops it. With the flag, the
     * checksum field is never read: a wrong value in it does not matter (the link vouches for the frame).
     */
    @Test
    void offloadLinkTrustsTheGoodFlagAndChecksWhatHasNone_rfc9293_s3_1() {
        up(LINK, tcp(), true, Layouts.MBUF_F_RX_L4_CKSUM_GOOD | Layouts.MBUF_F_RX_IP_CKSUM_GOOD);
        tamper.stripNext = 2;
        tamper.corruptNext = 0;
        StreamClient client = echo(16 << 20);
        runUntil(() -> tamper.stripped == 2, 10_000);
        tamper.corruptNext = 2;
        finish(client, 16 << 20);
        assertEquals(2, tamper.stripped);
        assertEquals(2, tamper.corrupted);
        long dropped = b.counters().drop(DropReason.TCP_BAD_CHECKSUM).get()
            + b.counters().drop(DropReason.IP_BAD_CHECKSUM).get();
        assertEquals(2, dropped, "only the two frames without the flag were checked, and failed");
    }

    /**
     * Bulk over the offload link allocates nothing per segment on the thread that runs both stacks: after a
     * 96 MiB warm-up (the JIT compiles the path), the quietest of four 48 MiB windows allocates 0 bytes and none
     * allocates a byte per segment (the first windows may still catch the JIT's last compilations).
     */
    @Test
    void offloadLinkAllocatesNothingPerSegment() {
        up(LINK, tcp(), false, 0);
        long bytes = 320L << 20;
        StreamClient client = echo(bytes);
        runUntil(() -> client.received() >= 96 << 20, 60_000);
        com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        threads.getCurrentThreadAllocatedBytes();
        long quietest = Long.MAX_VALUE;
        boolean underAByteEach = true;
        long[] windows = new long[4];
        for (int w = 0; w < windows.length; w++) {
            long end = (96L + 48L * (w + 1)) << 20;
            BooleanSupplier reached = () -> client.received() >= end; // made outside the window
            long segmentsBefore = a.counters().tcpSegmentsSent.get() + b.counters().tcpSegmentsSent.get();
            long before = threads.getCurrentThreadAllocatedBytes();
            runUntil(reached, 120_000);
            long allocated = threads.getCurrentThreadAllocatedBytes() - before;
            long segments = a.counters().tcpSegmentsSent.get() + b.counters().tcpSegmentsSent.get() - segmentsBefore;
            assertTrue(segments > 1000, segments + " segments");
            windows[w] = allocated;
            quietest = Math.min(quietest, allocated);
            underAByteEach &= allocated < segments;
        }
        finish(client, bytes);
        assertEquals(0, quietest, "bytes allocated per window: " + java.util.Arrays.toString(windows));
        assertTrue(underAByteEach, "bytes allocated per window: " + java.util.Arrays.toString(windows));
    }

    /**
     * B's side of the link, looking at each TCP frame as it arrives: counts the checksum flags and what the
     * checksum fields hold, and on request corrupts the TCP checksum of the next data segments or strips the
     * given flags from them.
     */
    private static final class ChecksumTamper extends PortDecorator {
        private final long stripMask;
        int tcpFrames;
        int flaggedGood;
        int pseudoHeaderSumOnly;
        int ipChecksumZero;
        int checksumsValid;
        int corruptNext;
        int corrupted;
        int stripNext;
        int stripped;

        ChecksumTamper(Port delegate, long stripMask) {
            super(delegate);
            this.stripMask = stripMask;
        }

        @Override
        public int receive(MbufArray pkts, int max) {
            int n = delegate.receive(pkts, max);
            for (int i = 0; i < n; i++) {
                look(pkts.get(i));
            }
            return n;
        }

        private void look(long m) {
            org.agrona.concurrent.UnsafeBuffer f = new org.agrona.concurrent.UnsafeBuffer(Mbuf.dataAddress(m),
                Mbuf.dataLen(m));
            if (Mbuf.dataLen(m) < 54 || f.getShort(12, java.nio.ByteOrder.BIG_ENDIAN) != 0x0800
                || f.getByte(23) != Ipv4Packet.PROTOCOL_TCP) {
                return;
            }
            int ihl = (f.getByte(14) & 0xF) * 4;
            int total = f.getShort(16, java.nio.ByteOrder.BIG_ENDIAN) & 0xFFFF;
            int tcp = 14 + ihl;
            int tcpLength = total - ihl;
            int source = f.getInt(26, java.nio.ByteOrder.BIG_ENDIAN);
            int destination = f.getInt(30, java.nio.ByteOrder.BIG_ENDIAN);
            int payload = tcpLength - ((f.getByte(tcp + 12) & 0xF0) >>> 2);
            tcpFrames++;
            long flags = Mbuf.olFlags(m);
            long good = Layouts.MBUF_F_RX_IP_CKSUM_GOOD | Layouts.MBUF_F_RX_L4_CKSUM_GOOD;
            if ((flags & good) == good) {
                flaggedGood++;
            }
            int field = f.getShort(tcp + 16, java.nio.ByteOrder.BIG_ENDIAN) & 0xFFFF;
            if (field == Checksum.pseudoHeaderSum(source, destination, Ipv4Packet.PROTOCOL_TCP, tcpLength)) {
                pseudoHeaderSumOnly++;
            }
            if ((f.getShort(24) & 0xFFFF) == 0) {
                ipChecksumZero++;
            }
            if (Checksum.checksum(f, 14, ihl) == 0 && tcpChecksumOk(f, tcp, tcpLength, source, destination)) {
                checksumsValid++;
            }
            if (payload > 0 && stripNext > 0) {
                stripNext--;
                stripped++;
                Mbuf.olFlags(m, flags & ~stripMask);
            } else if (payload > 0 && corruptNext > 0) {
                corruptNext--;
                corrupted++;
                f.putShort(tcp + 16, (short) (field ^ 0x5A5A));
            }
        }

        private static boolean tcpChecksumOk(org.agrona.concurrent.UnsafeBuffer f, int tcp, int length, int source,
                                             int destination) {
            io.fastpath.stack.wire.TcpSegment s = new io.fastpath.stack.wire.TcpSegment();
            s.wrap(f, tcp, length);
            return s.check(source, destination) == io.fastpath.stack.wire.WireError.OK;
        }

        @Override
        public int transmit(MbufArray pkts, int from, int count) {
            return delegate.transmit(pkts, from, count);
        }

        @Override
        public io.fastpath.dpdk.PortStats stats(io.fastpath.dpdk.PortStats into) {
            return delegate.stats(into);
        }

        @Override
        public boolean linkUp() {
            return delegate.linkUp();
        }

        @Override
        public void close() {
        }
    }
}
