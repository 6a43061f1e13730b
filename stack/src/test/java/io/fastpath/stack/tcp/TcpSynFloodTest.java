package io.fastpath.stack.tcp;

import static io.fastpath.stack.tcp.TcpBehaviourTest.assertStatus;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.dpdk.Mbuf;
import io.fastpath.dpdk.MbufArray;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.RingPair;
import io.fastpath.stack.NtStatus;
import io.fastpath.stack.Stack;
import io.fastpath.stack.StackConfig;
import io.fastpath.stack.counters.DropReason;
import io.fastpath.stack.tcp.TcpBehaviourTest.Endpoint;
import io.fastpath.stack.wire.EthernetFrame;
import io.fastpath.stack.wire.Ipv4Address;
import io.fastpath.stack.wire.Ipv4Packet;
import io.fastpath.stack.wire.TcpOptions;
import io.fastpath.stack.wire.TcpSegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.BooleanSupplier;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SYN flood defence (RFC 4987): SYN cookies (§3.6) encoded as Linux encodes them, the half-open queue bounded,
 * and what a flood of SYNs from spoofed sources does to a legitimate client. Two stacks over a ring pair: B is
 * the server; A is the legitimate client and also B's gateway, so B's SYN-ACKs to the spoofed (off-subnet)
 * sources reach A's port and vanish there, as they would on the Internet. Crafted segments are put on A's
 * transmit side. A listener's answers segment by segment (forged and stale cookie ACKs, data on the completing
 * ACK, cookies without timestamps, conditional accept) are in {@link TcpListenerTest}.
 */
class TcpSynFloodTest {
    private static final int A_IP = Ipv4Address.parse("10.21.0.1");
    private static final int B_IP = Ipv4Address.parse("10.21.0.2");
    /** A spoofed source beyond the gateway (RFC 2544's benchmark range). */
    private static final int SPOOFED = Ipv4Address.parse("198.18.0.7");
    private static final long MS = 1_000_000L;
    private static PktmbufPool pool;
    private static int round;

    @TempDir
    Path dir;
    private RingPairRig rig;
    private RingPair pair;
    private Stack a;
    private Stack b;

    @BeforeAll
    static void createPool() {
        pool = PktmbufPool.create("synflood", 8191, 0, PktmbufPool.DEFAULT_DATA_ROOM);
    }

    @AfterAll
    static void freePool() {
        pool.close();
    }

    @BeforeEach
    void up() {
        rig = new RingPairRig(dir, pool, "sf" + (round++), 4096);
        pair = rig.pair;
    }

    @AfterEach
    void down() {
        rig.close();
    }

    // ============================================================================= reproduction 2: the flood

    @Test
    void spoofedSynFloodDoesNotLockOutLateClient_rfc4987_s3_6() {
        floodThenConnect(TcpConfig.defaults());
        assertTrue(b.counters().tcpSynCookiesSent.get() >= 400 - 128, "cookies answered the overflow");
        assertEquals(1, b.counters().tcpSynCookiesValidated.get(), "the client's ACK came back with a valid cookie");
        assertTrue(b.counters().tcpListenOverflows.get() >= 400 - 128);
        assertEquals(0, b.counters().tcpListenDrops.get(), "no SYN dropped");
        assertTrue(b.tcp().slotsInUse() <= 128 + 1, "half-open entries bounded by the backlog: " + b.tcp().slotsInUse());
    }

    @Test
    void spoofedSynFloodWithCookiesOffDropsOldestHalfOpenNotNewSyn_rfc4987_s3_4() {
        floodThenConnect(TcpConfig.defaults().withSynCookies(TcpConfig.SynCookieMode.OFF));
        assertEquals(0, b.counters().tcpSynCookiesSent.get());
        assertTrue(b.counters().tcpHalfOpenEvicted.get() >= 400 - 128, "the oldest half-open entries made room");
        assertEquals(0, b.counters().tcpListenDrops.get());
        assertTrue(b.tcp().slotsInUse() <= 128 + 1);
    }

    /**
     * 400 SYNs from spoofed sources (many addresses and ports), 2 ms apart, never answered; then a client
     * connects and must be served at once: well before its first SYN retransmission (1 s).
     */
    private void floodThenConnect(TcpConfig serverTcp) {
        a = rig.a(config("a", A_IP, TcpConfig.defaults(), 0));
        b = rig.b(config("b", B_IP, serverTcp, A_IP));
        List<Endpoint> servers = TcpBehaviourTest.serve(b, 7, 91, false);
        rig.resolveArp();
        SplittableRandom random = new SplittableRandom(4987);
        for (int i = 0; i < 400; i++) {
            int src = Ipv4Address.parse("198.18.0.0") + 1 + random.nextInt(1 << 16);
            inject(src, 1024 + random.nextInt(60000), 7, random.nextInt(), 0, TcpSegment.SYN, 1460, 7, true, true,
                random.nextInt(), 0, null);
            runFor(2);
        }
        assertEquals(400, b.counters().tcpPassiveOpens.get() + b.counters().tcpSynCookiesSent.get()
            - b.counters().tcpSynCookiesValidated.get(), "every SYN was answered: half-open entry or cookie");
        // runFor's last 2 ms may end (on a loaded machine, after one duty cycle) before A polled B's last SYN-ACKs
        runUntil(() -> a.counters().drop(DropReason.IP_NOT_FOR_US).get() >= 400, 100, // before any retransmission
            "the SYN-ACKs went to the spoofed hosts");

        Endpoint client = new Endpoint("client").expect(92);
        long start = System.nanoTime();
        assertStatus(NtStatus.STATUS_PENDING, a.tcp().connect(0, 0, B_IP, 7, client));
        runUntil(() -> client.connectCompleted() && servers.size() == 1, 3000, "connect during the flood");
        long ms = (System.nanoTime() - start) / MS;
        assertStatus(NtStatus.STATUS_SUCCESS, client.connectStatus);
        assertTrue(ms < 500, "served before the client's first SYN retransmission: " + ms + " ms");
        assertEquals(0, a.counters().tcpTimeouts.get(), "no SYN retransmitted");
        Endpoint server = servers.get(0);
        client.sendStream(91, 256 * 1024, false);
        server.sendStream(92, 256 * 1024, false);
        runUntil(() -> server.received == 256 * 1024 && client.received == 256 * 1024, 5000, "data both ways");
        server.assertIntact();
        client.assertIntact();
    }

    // ========================================================================== the cookie handshake itself

    @Test
    void cookieHandshakeCarriesMssWindowScaleSackAndTimestamps_rfc4987_s3_6_rfc7323_s2() {
        a = rig.a(config("a", A_IP, TcpConfig.defaults(), 0));
        b = rig.b(config("b", B_IP, TcpConfig.defaults().withSynCookies(TcpConfig.SynCookieMode.ALWAYS), 0));
        List<Endpoint> servers = TcpBehaviourTest.serve(b, 7, 93, false);
        Endpoint client = new Endpoint("client").expect(94);
        assertStatus(NtStatus.STATUS_PENDING, a.tcp().connect(0, 0, B_IP, 7, client));
        runUntil(() -> client.connectCompleted() && servers.size() == 1, 3000, "connect");
        assertEquals(1, b.counters().tcpSynCookiesSent.get());
        assertEquals(1, b.counters().tcpSynCookiesValidated.get());
        TcpConnection s = servers.get(0).connection;
        TcpConnection c = client.connection;
        assertEquals(TcpState.ESTABLISHED, s.state());
        assertEquals(1460 - 12, s.mss(), "MSS 1460 from the cookie's table, less the timestamp option");
        assertTrue(s.tsOk && c.tsOk, "timestamps on both sides");
        assertTrue(s.sackOk && c.sackOk, "SACK-permitted came back in TSecr");
        assertEquals(c.rcvScale, s.sndScale, "the client's window scale came back in TSecr");
        assertEquals(s.rcvScale, c.sndScale, "our window scale as offered in the SYN-ACK");
        assertTrue(s.rcvScale > 0 && c.rcvScale > 0, "windows are scaled (256 KiB buffers)");
        assertEquals(c.iss, s.irs);
        assertEquals(s.iss, c.irs);
        // Windows larger than 64 KiB work: 1 MiB each way.
        client.sendStream(93, 1 << 20, false);
        servers.get(0).sendStream(94, 1 << 20, false);
        runUntil(() -> servers.get(0).received == 1 << 20 && client.received == 1 << 20, 5000, "data both ways");
        servers.get(0).assertIntact();
        client.assertIntact();
    }

    @Test
    void cookieMssTableAndTimestampEncoding_rfc4987_s3_6() {
        assertEquals(0, SynCookie.mssIndex(100));
        assertEquals(0, SynCookie.mssIndex(1299));
        assertEquals(1, SynCookie.mssIndex(1400));
        assertEquals(2, SynCookie.mssIndex(1452));
        assertEquals(3, SynCookie.mssIndex(9000));
        SynCookie cookie = new SynCookie(new IsnGenerator(1, 2), new IsnGenerator(3, 4));
        long now = 1_000 * SynCookie.PERIOD_NS + 5;
        for (int mss = 0; mss < 4; mss++) {
            int isn = cookie.encode(SPOOFED, B_IP, 40000, 80, 0x12345678, mss, now);
            assertEquals(mss, cookie.check(isn, SPOOFED, B_IP, 40000, 80, 0x12345678, now));
            assertEquals(mss, cookie.check(isn, SPOOFED, B_IP, 40000, 80, 0x12345678, now + SynCookie.PERIOD_NS));
            assertEquals(-1, cookie.check(isn, SPOOFED, B_IP, 40000, 80, 0x12345678, now + 2 * SynCookie.PERIOD_NS));
            assertEquals(-1, cookie.check(isn, SPOOFED, B_IP, 40001, 80, 0x12345678, now), "another port");
            assertEquals(-1, cookie.check(isn, SPOOFED, B_IP, 40000, 80, 0x12345678 + (1 << 20), now), "another peer ISN");
            assertEquals(-1, cookie.check(isn + (1 << 20), SPOOFED, B_IP, 40000, 80, 0x12345678, now), "damaged");
        }
        int ts = SynCookie.timestamp(0x1000_0005, 7, true);
        assertEquals(7 | SynCookie.TS_SACK, ts & 0x3F);
        assertTrue(Integer.compareUnsigned(ts, 0x1000_0005) <= 0, "never ahead of our clock");
        assertEquals(7, SynCookie.windowScale(ts));
        assertTrue(SynCookie.sack(ts));
        int none = SynCookie.timestamp(0x1000_0040, -1, false);
        assertEquals(-1, SynCookie.windowScale(none));
        assertFalse(SynCookie.sack(none));
    }

    // ===================================================================== forged and stale cookies refused

    // ================================================================ Fast Open and conditional accept with cookies

    @Test
    void synAnsweredWithCookieTakesNoFastOpenDataClientResendsIt_rfc7413_s4_2_2_rfc4987_s3_6() {
        TcpConfig tfo = TcpConfig.defaults().withFastOpen(true, 16);
        a = rig.a(config("a", A_IP, tfo, 0));
        b = rig.b(config("b", B_IP, tfo.withSynFloodDefence(TcpConfig.SynCookieMode.WHEN_FULL, 1, 5), A_IP));
        List<Endpoint> servers = TcpBehaviourTest.serve(b, 7, -1, false);
        rig.resolveArp();
        byte[] hello = "fast open data".getBytes(StandardCharsets.US_ASCII);
        // First connection: no cookie yet, the server hands one out (backlog not full).
        Endpoint first = new Endpoint("first");
        assertStatus(NtStatus.STATUS_PENDING, a.tcp().connect(0, 0, B_IP, 7, first, new UnsafeBuffer(hello), 0,
            hello.length, true));
        runUntil(() -> servers.size() == 1 && servers.get(0).received == hello.length, 3000, "first exchange");
        assertEquals(1, b.counters().tcpFastOpenCookiesSent.get());
        // A spoofed SYN fills the half-open queue (backlog 1): the next SYN is answered with a SYN cookie.
        inject(SPOOFED, 5555, 7, 1, 0, TcpSegment.SYN, 1460, 7, true, true, 1, 0, null);
        runFor(5);
        Endpoint second = new Endpoint("second");
        assertStatus(NtStatus.STATUS_PENDING, a.tcp().connect(0, 0, B_IP, 7, second, new UnsafeBuffer(hello), 0,
            hello.length, true));
        runUntil(() -> servers.size() == 2 && servers.get(1).received == hello.length, 3000, "second exchange");
        assertEquals(1, a.counters().tcpFastOpenSynDataSent.get(), "the second SYN (only) carried data: cookie cached");
        assertEquals(0, b.counters().tcpFastOpenSynDataAccepted.get(), "no SYN data taken without state");
        assertEquals(1, b.counters().tcpSynCookiesValidated.get());
        assertEquals(1, a.counters().tcpFastOpenFallbacks.get(), "the client sent the data again after the handshake");
        assertEquals(1, b.counters().tcpFastOpenCookiesSent.get(), "no Fast Open cookie in a SYN-cookie SYN-ACK");
    }

    // ============================================================================================ helpers

    /** A TCP segment as if from {@code srcIp}, put on A's transmit side towards B. */
    private void inject(int srcIp, int srcPort, int dstPort, int seq, int ack, int flags, int mss, int windowScale,
                        boolean sackPermitted, boolean timestamps, int tsVal, int tsEcr, byte[] payload) {
        MbufArray one = new MbufArray(1);
        assertTrue(pool.allocBulk(one, 0, 1));
        long m = one.get(0);
        UnsafeBuffer f = new UnsafeBuffer(Mbuf.dataAddress(m), 1500);
        f.setMemory(0, 128, (byte) 0);
        int tcpAt = EthernetFrame.HEADER_LENGTH + Ipv4Packet.MIN_HEADER_LENGTH;
        int optionsAt = tcpAt + TcpSegment.MIN_HEADER_LENGTH;
        int at = optionsAt;
        if (mss > 0) {
            at = TcpOptions.writeMss(f, at, mss);
        }
        if (sackPermitted) {
            at = TcpOptions.writeSackPermitted(f, at);
        }
        if (timestamps) {
            at = TcpOptions.writeTimestamps(f, at, tsVal, tsEcr);
        }
        if (windowScale >= 0) {
            at = TcpOptions.writeNop(f, at);
            at = TcpOptions.writeWindowScale(f, at, windowScale);
        }
        at = TcpOptions.writePadding(f, optionsAt, at);
        int optionsLength = at - optionsAt;
        int data = payload == null ? 0 : payload.length;
        if (data > 0) {
            f.putBytes(at, payload);
        }
        int tcpLength = TcpSegment.MIN_HEADER_LENGTH + optionsLength + data;
        int ipLength = Ipv4Packet.MIN_HEADER_LENGTH + tcpLength;
        int frameLength = Math.max(60, EthernetFrame.HEADER_LENGTH + ipLength);
        new EthernetFrame().wrap(f, 0, frameLength)
            .writeHeader(b.config().mac(), macOfA(), EthernetFrame.ETHERTYPE_IPV4);
        new Ipv4Packet().wrap(f, EthernetFrame.HEADER_LENGTH, ipLength)
            .writeHeader(Ipv4Packet.DEFAULT_TTL, Ipv4Packet.PROTOCOL_TCP, srcIp, B_IP, tcpLength, 4987);
        TcpSegment s = new TcpSegment().wrap(f, tcpAt, tcpLength);
        s.writeHeader(srcPort, dstPort, seq, ack, flags, 65535, optionsLength);
        s.fillChecksum(srcIp, B_IP);
        Mbuf.setLength(m, frameLength);
        assertEquals(1, pair.a().transmit(one, 0, 1));
    }

    private long macOfA() {
        return a != null ? a.config().mac() : 0x02_00_00_00_21_01L;
    }

    private StackConfig config(String name, int ip, TcpConfig tcp, int gateway) {
        StackConfig.Builder builder = rig.config(name, ip).tcp(tcp);
        if (gateway != 0) {
            builder.gateway(gateway);
        }
        return builder.build();
    }

    private void runFor(long ms) {
        rig.runFor(ms);
    }

    private void runUntil(BooleanSupplier done, long timeoutMs, String what) {
        rig.runUntil(done, timeoutMs, what);
    }
}
