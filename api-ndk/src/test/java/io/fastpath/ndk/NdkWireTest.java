package io.fastpath.ndk;

import static io.fastpath.ndk.NdkConnectionTest.establish;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.ndk.NdkConnectionTest.Listening;
import io.fastpath.stack.NtStatus;
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
            assertEquals(NtStatus.STATUS_SUCCESS, peer.connectStatus);
            assertEquals("STATUS_CONNECTION_RESET", NtStatus.name(peer.closedStatus));
            assertEquals(1, rig.ndkB.malformedFrames());
            assertEquals(MpaFrame.ERR_BAD_KEY, rig.ndkB.lastMalformedError());
            assertEquals(0, l.requests.size(), "no connect event for garbage");
            assertEquals(0, rig.ndkB.connections());
        }
    }

    @Test
    void aRequestThatRequiresCrcIsAnsweredWithARejectReply_rfc5044_s7_1() {
        NdkRig.Options o = new NdkRig.Options();
        o.adapterA = false;
        o.infoB = NdkAdapterInfo.defaults().withTimeouts(300_000_000L, 300_000_000L);
        try (NdkRig rig = new NdkRig(dir, o)) {
            Listening l = new Listening(rig, 7012);
            UnsafeBuffer req = new UnsafeBuffer(new byte[64]);
            int n = MpaFrame.emit(req, 0, true, false, 1, 1, null, 0, 0);
            req.putByte(MpaFrame.FLAGS_OFFSET, (byte) (MpaFrame.FLAG_ENHANCED | MpaFrame.FLAG_CRC));
            byte[] bytes = new byte[n];
            req.getBytes(0, bytes);
            RawPeer peer = new RawPeer(rig, bytes, 7012);
            run(rig, peer, () -> peer.peerClosed);
            MpaFrame reply = new MpaFrame();
            UnsafeBuffer got = new UnsafeBuffer(peer.in.array(), 0, peer.in.position());
            assertEquals(24, reply.parse(got, 0, peer.in.position(), false, 508));
            assertTrue(reply.rejected());
            assertEquals(MpaFrame.ERR_CRC_REQUIRED, rig.ndkB.lastMalformedError());
            assertEquals(0, l.requests.size());
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
}
