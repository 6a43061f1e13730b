package io.fastpath.ndk;

import static io.fastpath.ndk.NdkConnectionTest.establish;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.ndk.NdkConnectionTest.Listening;
import io.fastpath.provider.NtStatus;
import io.fastpath.stack.tcp.TcpEventHandler;
import io.fastpath.stack.tcp.TcpService;
import io.fastpath.testkit.Shell;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HexFormat;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * MPA on the wire: a captured request and reply read by tshark's iWARP-MPA dissector, and malformed or
 * unsupported requests from a raw TCP peer (stack A without an NDK adapter) refused without disturbing the
 * adapter's dispatch loop.
 */
class NdkWireTest {
    @TempDir
    Path dir;

    private static String tshark(Path pcap, String filter, String... fields) {
        java.util.List<String> cmd = new java.util.ArrayList<>(java.util.List.of("tshark", "-n", "-r", pcap.toString(),
            "-Y", filter, "-T", "fields", "-E", "separator=|"));
        for (String f : fields) {
            cmd.add("-e");
            cmd.add(f);
        }
        StringBuilder sb = new StringBuilder();
        for (String line : Shell.run(cmd.toArray(String[]::new)).split("\n")) {
            if (!line.startsWith("Running as user") && !line.isBlank()) {
                sb.append(line.trim()).append('\n');
            }
        }
        return sb.toString().trim();
    }

    @Test
    void capturedRequestAndReplyAreDecodedByTsharksIwarpMpaDissector_rfc5044_s7_1() {
        Path pcap = dir.resolve("ndk.pcap");
        NdkRig.Options o = new NdkRig.Options();
        o.pcapA = pcap;
        try (NdkRig rig = new NdkRig(dir, o)) {
            Listening l = new Listening(rig, 7010);
            NdkConnectionTest.Pair p = establish(rig, l, new int[] {5, 6}, new int[] {7, 8}, "request-pd", "reply-pd");
            assertEquals(NtStatus.STATUS_SUCCESS, p.activeQp().send(5, 1));
            rig.runUntil(() -> !p.passiveQp().received.isEmpty(), 5, "message");
        }
        String hex = HexFormat.of().formatHex("request-pd".getBytes(StandardCharsets.US_ASCII));
        // The request: key, flags (E only: 0x10 → M/C/R false), revision 2, PD_Length 4 + 10, private data =
        // IRD word 0xC005, ORD word 0x0006, then ours.
        String req = tshark(pcap, "iwarp_mpa.req", "iwarp_mpa.key.req", "iwarp_mpa.marker_flag", "iwarp_mpa.crc_flag",
            "iwarp_mpa.rej_flag", "iwarp_mpa.rev", "iwarp_mpa.pdlength", "iwarp_mpa.privatedata", "tcp.dstport");
        System.out.println("tshark request: " + req);
        String[] f = req.split("\\|");
        assertEquals(8, f.length, req);
        assertEquals("4d504120494420526571204672616d65", f[0].replace(":", ""));
        assertTrue(f[1].equals("0") || f[1].equals("False"), "markers off: " + f[1]);
        assertTrue(f[2].equals("0") || f[2].equals("False"), "CRC off: " + f[2]);
        assertTrue(f[3].equals("0") || f[3].equals("False"), "not rejected: " + f[3]);
        assertEquals("2", f[4]);
        assertEquals("14", f[5]);
        assertEquals("c0050006" + hex, f[6].replace(":", ""));
        assertEquals("7010", f[7]);
        String rep = tshark(pcap, "iwarp_mpa.rep", "iwarp_mpa.rej_flag", "iwarp_mpa.pdlength", "iwarp_mpa.privatedata");
        System.out.println("tshark reply: " + rep);
        String[] r = rep.split("\\|");
        assertEquals(3, r.length, rep);
        // The reply carries the negotiated IRD = min(7, A's ORD 6) = 6 and ORD = min(8, A's IRD 5) = 5.
        assertEquals("c0060005" + HexFormat.of().formatHex("reply-pd".getBytes(StandardCharsets.US_ASCII)),
            r[2].replace(":", ""));
    }

    /** Raw TCP on stack A: connect with {@code bytes} as the first data, collect what comes back. */
    private static final class RawPeer implements TcpEventHandler {
        final TcpService tcp;
        final UnsafeBuffer out;
        final ByteBuffer in = ByteBuffer.allocate(4096);
        int closedStatus = Integer.MIN_VALUE;
        boolean peerClosed;
        int connectStatus = Integer.MIN_VALUE;
        final long requestId = System.nanoTime();
        long handle;

        RawPeer(NdkRig rig, byte[] bytes, int port) {
            tcp = rig.a.tcpService();
            out = new UnsafeBuffer(ByteBuffer.allocateDirect(bytes.length));
            out.putBytes(0, bytes);
            assertTrue(tcp.connect(requestId, 0, 0, NdkRig.B_IP, port, out.addressOffset(), bytes.length, false));
        }

        void poll() {
            tcp.pollEvents(this);
        }

        @Override
        public void onConnectComplete(long id, long h, int status) {
            if (id == requestId) {
                connectStatus = status;
                handle = h;
            }
        }

        @Override
        public void onAccepted(int listenPort, long handle, int remoteIp, int remotePort) {
        }

        @Override
        public void onReceive(long h, long mbuf, long address, int length) {
            if (h == handle) {
                UnsafeBuffer v = new UnsafeBuffer(address, length);
                byte[] b = new byte[length];
                v.getBytes(0, b);
                in.put(b);
            }
            tcp.release(h, mbuf, length);
        }

        @Override
        public void onSendComplete(long requestId, long handle, int bytes, int status) {
        }

        @Override
        public void onPeerClosed(long h) {
            if (h == handle) {
                peerClosed = true;
            }
            tcp.shutdown(h);
        }

        @Override
        public void onClosed(long h, int status) {
            if (h == handle) {
                closedStatus = status;
            }
        }
    }

    private static void run(NdkRig rig, RawPeer peer, java.util.function.BooleanSupplier done) {
        long end = System.nanoTime() + 5_000_000_000L;
        while (!done.getAsBoolean()) {
            assertTrue(System.nanoTime() < end, "timed out");
            rig.dispatch();
            peer.poll();
            Thread.yield();
        }
        rig.assertNoErrors();
    }

    @Test
    void garbageInsteadOfAnMpaRequestIsResetAndCounted() {
        NdkRig.Options o = new NdkRig.Options();
        o.adapterA = false;
        try (NdkRig rig = new NdkRig(dir, o)) {
            Listening l = new Listening(rig, 7011);
            RawPeer peer = new RawPeer(rig, "GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII), 7011);
            run(rig, peer, () -> peer.closedStatus != Integer.MIN_VALUE);
            assertEquals(NtStatus.STATUS_SUCCESS.code(), peer.connectStatus);
            assertEquals("STATUS_CONNECTION_RESET", NtStatus.name(peer.closedStatus));
            assertEquals(1, rig.ndkB.malformedFrames());
            assertEquals(MpaFrame.ERR_BAD_KEY, rig.ndkB.lastMalformedError());
            assertEquals(0, l.requests.size(), "no connect event for garbage");
            assertEquals(0, rig.ndkB.connections());
        }
    }

    /** An FPDU (RFC 5044 §4) around {@code ulpdu}, its CRC32c computed bit by bit, XORed with {@code flip}. */
    private static byte[] fpdu(byte[] ulpdu, int flip) {
        byte[] f = new byte[MpaFrame.fpduLength(ulpdu.length)];
        f[0] = (byte) (ulpdu.length >>> 8);
        f[1] = (byte) ulpdu.length;
        System.arraycopy(ulpdu, 0, f, 2, ulpdu.length);
        int crc = MpaFrameTest.crc32c(f, 0, f.length - 4) ^ flip;
        for (int i = 0; i < 4; i++) {
            f[f.length - 4 + i] = (byte) (crc >>> (8 * i)); // least significant byte first (RFC 3720 §B.4)
        }
        return f;
    }

    @Test
    void aPeerAskingForCrcIsHonouredAndACorruptedFpduResetsTheConnection_rfc5044_s7_1_s4_1() {
        NdkRig.Options o = new NdkRig.Options();
        o.adapterA = false; // B does not ask for CRC: the peer's C flag alone turns it on
        try (NdkRig rig = new NdkRig(dir, o)) {
            Listening l = new Listening(rig, 7012);
            UnsafeBuffer req = new UnsafeBuffer(new byte[64]);
            int n = MpaFrame.emit(req, 0, true, false, true, 1, 1, null, 0, 0);
            // Deterministic: the request, the RTR, a good message and a damaged one all travel as the connect's
            // data; B holds the FPDUs until it accepted, then parses them in order.
            java.io.ByteArrayOutputStream stream = new java.io.ByteArrayOutputStream();
            stream.write(req.byteArray(), 0, n);
            stream.writeBytes(fpdu(new byte[0], 0));
            stream.writeBytes(fpdu("good message".getBytes(StandardCharsets.US_ASCII), 0));
            stream.writeBytes(fpdu("evil message".getBytes(StandardCharsets.US_ASCII), 0x100));
            RawPeer peer = new RawPeer(rig, stream.toByteArray(), 7012);
            run(rig, peer, () -> !l.requests.isEmpty());
            NdkConnector s = l.requests.get(0);
            assertTrue(s.crcInUse(), "the peer's C flag is honoured (RFC 5044 §7.1)");
            TestQp qp = new TestQp(rig.ndkB, 4, 256);
            qp.postAll(4);
            int[] disconnects = new int[1];
            Call accept = new Call();
            assertEquals(NtStatus.STATUS_PENDING, accept.start(() -> s.accept(qp.qp, 1, 1, null, 0,
                ctx -> disconnects[0]++, null, accept, null)));
            run(rig, peer, () -> qp.received.size() == 4 && peer.closedStatus != Integer.MIN_VALUE);
            accept.assertCompleted(NtStatus.STATUS_SUCCESS);
            // (B's reply, C set, may be lost to the reset that follows at once; the tshark test sees it.)
            int[] first = qp.received.poll();
            assertEquals(0, first[0]);
            assertEquals(NtStatus.STATUS_SUCCESS, NtStatus.of(first[1]));
            assertEquals(12, first[2]);
            byte[] text = new byte[12];
            qp.receive.getBytes(0, text);
            assertEquals("good message", new String(text, StandardCharsets.US_ASCII));
            assertEquals("STATUS_DATA_ERROR", NtStatus.name(qp.received.poll()[1]), "the damaged message's receive");
            assertEquals(NtStatus.STATUS_CANCELLED, NtStatus.of(qp.received.poll()[1]));
            assertEquals(NtStatus.STATUS_CANCELLED, NtStatus.of(qp.received.poll()[1]));
            assertEquals(1, rig.ndkB.crcErrors());
            assertEquals(1, disconnects[0], "the disconnect event");
            assertEquals("STATUS_CONNECTION_RESET", NtStatus.name(peer.closedStatus));
            assertEquals(NtStatus.STATUS_INVALID_DEVICE_STATE, qp.qp.send(qp.send.addressOffset(), 1, null));
            assertEquals(0, rig.ndkB.malformedFrames());
            rig.assertNoErrors();
        }
    }

    @Test
    void aHalfFinishedRequestIsResetAfterTheConnectTimeout() {
        NdkRig.Options o = new NdkRig.Options();
        o.adapterA = false;
        o.infoB = NdkAdapterInfo.defaults().withTimeouts(300_000_000L, 300_000_000L);
        try (NdkRig rig = new NdkRig(dir, o)) {
            Listening l = new Listening(rig, 7012);
            // A half-finished request (the key only): no event; reset once the connect timeout passed.
            RawPeer partial = new RawPeer(rig, MpaFrame.KEY_REQUEST, 7012);
            long start = System.nanoTime();
            run(rig, partial, () -> partial.closedStatus != Integer.MIN_VALUE);
            assertEquals("STATUS_CONNECTION_RESET", NtStatus.name(partial.closedStatus));
            assertTrue(System.nanoTime() - start >= 250_000_000L, "after B's connect timeout");
            assertEquals(0, l.requests.size());
            assertEquals(0, rig.ndkB.connections());
        }
    }

    @Test
    void withCrcMessagesPingPongByteExactAndTsharkChecksEveryCrc_rfc5044_s4_1() {
        Path pcap = dir.resolve("crc.pcap");
        NdkRig.Options o = new NdkRig.Options();
        o.pcapA = pcap;
        o.infoA = NdkAdapterInfo.defaults().withCrc(true); // A asks, B does not: both use CRC
        try (NdkRig rig = new NdkRig(dir, o)) {
            Listening l = new Listening(rig, 7013);
            NdkConnectionTest.Pair p = establish(rig, l, new int[] {1, 1}, new int[] {1, 1}, "crc-a", "crc-b");
            assertTrue(p.active().crcInUse() && p.passive().crcInUse());
            int[] lengths = {0, 1, 2, 3, 4, 5, 255, 1000, 4095, 4096};
            p.activeQp().repost = true;
            p.passiveQp().repost = true;
            for (int i = 0; i < lengths.length; i++) {
                int len = lengths[i];
                assertEquals(NtStatus.STATUS_SUCCESS, p.activeQp().send(len, 17 + i));
                rig.runUntil(() -> !p.passiveQp().received.isEmpty(), 5, "ping " + len);
                int[] ping = p.passiveQp().received.poll();
                assertEquals(NtStatus.STATUS_SUCCESS, NtStatus.of(ping[1]));
                assertEquals(len, ping[2]);
                p.passiveQp().assertMessage(ping[0], len, 17 + i);
                assertEquals(NtStatus.STATUS_SUCCESS, p.passiveQp().send(len, 91 + i));
                rig.runUntil(() -> !p.activeQp().received.isEmpty(), 5, "pong " + len);
                int[] pong = p.activeQp().received.poll();
                assertEquals(NtStatus.STATUS_SUCCESS, NtStatus.of(pong[1]));
                assertEquals(len, pong[2]);
                p.activeQp().assertMessage(pong[0], len, 91 + i);
            }
            assertEquals(0, rig.ndkA.crcErrors() + rig.ndkB.crcErrors());
        }
        String flags = tshark(pcap, "iwarp_mpa.req || iwarp_mpa.rep", "iwarp_mpa.crc_flag");
        System.out.println("tshark C flags: " + flags);
        assertEquals(2, flags.lines().count(), flags);
        flags.lines().forEach(f -> assertTrue(f.equals("1") || f.equals("True"), "C set: " + flags));
        // Every FPDU (the RTR and 2 × 10 messages): the dissector recomputes the CRC32c and finds it good
        // (iwarp_mpa.crc_check, "Good CRC32"; a bad one would show as iwarp_mpa.crc "Bad CRC32").
        String fpdus = tshark(pcap, "iwarp_mpa.ulpdulength", "iwarp_mpa.ulpdulength", "iwarp_mpa.crc_check",
            "iwarp_mpa.crc");
        System.out.println("tshark FPDU CRCs:\n" + fpdus);
        assertEquals(21, fpdus.lines().count(), fpdus);
        fpdus.lines().forEach(line -> {
            String[] f = (line + "|end").split("\\|");
            assertTrue(f[1].startsWith("0x") && f[2].isEmpty(), "a good CRC: " + line);
        });
        String verbose = Shell.run("tshark", "-n", "-r", pcap.toString(), "-O", "iwarp_mpa");
        assertEquals(21, verbose.split("\\(Good CRC32\\)", -1).length - 1, "21 good CRCs");
        assertTrue(!verbose.contains("Bad CRC"), "no bad CRC");
    }
}
