package io.fastpath.ndk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.provider.NtStatus;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The NDK connection sequence between two fastpath stacks over a ring pair: connect → connect event → accept →
 * complete connect → messages → disconnect, with private data and read limits (NDK_FN_CONNECT, NDK_FN_ACCEPT,
 * NDK_FN_COMPLETE_CONNECT, NDK_FN_GET_CONNECTION_DATA, NDK_FN_DISCONNECT).
 */
class NdkConnectionTest {
    static final NtStatus P = NtStatus.STATUS_PENDING;
    static final NtStatus S = NtStatus.STATUS_SUCCESS;

    @TempDir
    Path dir;

    static MemorySegment text(String s) {
        return MemorySegment.ofArray(s.getBytes(StandardCharsets.UTF_8));
    }

    static String privateData(NdkConnector c, NdkConnectionData out) {
        assertEquals(S, c.getConnectionData(out, null, 0), "query size");
        byte[] b = new byte[out.privateDataLength];
        assertEquals(S, c.getConnectionData(out, MemorySegment.ofArray(b), b.length));
        return new String(b, StandardCharsets.UTF_8);
    }

    /** A listener on B that records connect events. */
    static final class Listening {
        final NdkListener listener;
        final List<NdkConnector> requests = new ArrayList<>();
        final SockAddrIn address;

        Listening(NdkRig rig, int port) {
            listener = rig.ndkB.createListener((ctx, connector) -> requests.add(connector), "ctx");
            Call listen = new Call();
            assertEquals(P, listen.start(() -> listener.listen(new SockAddrIn(0, port), listen, null)));
            rig.await(listen, "listen");
            listen.assertCompleted(S);
            address = listener.getListenerLocalAddress();
            assertNotNull(address);
        }
    }

    /** Both ends of one NDK connection, fully set up. */
    record Pair(NdkConnector active, TestQp activeQp, NdkConnector passive, TestQp passiveQp, int[] disconnectEvents) {
    }

    static Pair establish(NdkRig rig, Listening l, int[] activeLimits, int[] passiveLimits, String activePd,
                          String passivePd) {
        int[] events = new int[2];
        TestQp qpA = new TestQp(rig.ndkA, 8, 4096);
        TestQp qpB = new TestQp(rig.ndkB, 8, 4096);
        qpA.postAll(8);
        qpB.postAll(8);
        NdkConnector c = rig.ndkA.createConnector();
        Call connect = new Call();
        MemorySegment pdA = text(activePd);
        int before = l.requests.size();
        assertEquals(P, connect.start(() -> c.connect(qpA.qp, null, l.address, activeLimits[0], activeLimits[1], pdA,
            (int) pdA.byteSize(), connect, "connect-ctx")));
        rig.runUntil(() -> l.requests.size() > before, 10, "connect event");
        NdkConnector s = l.requests.get(l.requests.size() - 1);
        assertEquals(activePd, privateData(s, new NdkConnectionData()));
        Call accept = new Call();
        MemorySegment pdB = text(passivePd);
        assertEquals(P, accept.start(() -> s.accept(qpB.qp, passiveLimits[0], passiveLimits[1], pdB, (int) pdB.byteSize(),
            ctx -> events[1]++, null, accept, "accept-ctx")));
        rig.await(connect, "connect");
        connect.assertCompleted(S);
        assertEquals("connect-ctx", connect.context);
        assertEquals(passivePd, privateData(c, new NdkConnectionData()));
        // The accept waits for the initiator's third step (RFC 6581 RTR / NdkCompleteConnect).
        rig.runFor(30);
        assertEquals(0, accept.completions, "accept completes only after CompleteConnect");
        assertEquals(NtStatus.STATUS_INVALID_DEVICE_STATE, qpA.send(1, 0), "no sends before CompleteConnect");
        Call complete = new Call();
        assertEquals(P, complete.start(() -> c.completeConnect(ctx -> events[0]++, null, complete, null)));
        rig.await(complete, "complete connect");
        complete.assertCompleted(S);
        rig.await(accept, "accept");
        accept.assertCompleted(S);
        return new Pair(c, qpA, s, qpB, events);
    }

    @Test
    void theWholeSequenceWithPrivateDataLimitsMessagesAndDisconnect_ndkConnectAcceptCompleteConnectDisconnect() {
        try (NdkRig rig = new NdkRig(dir)) {
            assertEquals(NdkAdapterInfo.defaults(), rig.ndkA.queryAdapterInfo());
            Listening l = new Listening(rig, 0);
            assertEquals(NdkRig.B_IP, l.address.ip());
            assertTrue(l.address.port() >= 49152, "port 0 → assigned from 49152-65535: " + l.address);
            Pair p = establish(rig, l, new int[] {8, 4}, new int[] {2, 3}, "hello from A", "hello from B");

            // Limits: effective inbound = min(own, adapter max, peer's outbound); outbound likewise.
            NdkConnectionData a = new NdkConnectionData();
            NdkConnectionData b = new NdkConnectionData();
            assertEquals(S, p.active().getConnectionData(a, null, 0));
            assertEquals(S, p.passive().getConnectionData(b, null, 0));
            assertEquals(3, a.inboundReadLimit, "A in = min(8, 16, B out 3)");
            assertEquals(2, a.outboundReadLimit, "A out = min(4, 16, B in 2)");
            assertEquals(2, b.inboundReadLimit, "B in = min(2, 16, A out 4)");
            assertEquals(3, b.outboundReadLimit, "B out = min(3, 16, A in 8)");

            // Addresses.
            assertEquals(l.address, p.active().getPeerAddress());
            assertEquals(NdkRig.A_IP, p.active().getLocalAddress().ip());
            assertEquals(p.active().getLocalAddress(), p.passive().getPeerAddress());
            assertEquals(l.address, p.passive().getLocalAddress());

            // Messages: ping-pong of every size class, checked byte for byte.
            int[] sizes = {0, 1, 2, 3, 4, 5, 100, 1460, 1461, 4095, 4096};
            for (int i = 0; i < sizes.length; i++) {
                int n = sizes[i];
                assertEquals(S, p.activeQp().send(n, i));
                rig.runUntil(() -> !p.passiveQp().received.isEmpty(), 5, "ping " + n);
                int[] r = p.passiveQp().received.poll();
                assertEquals(S, NtStatus.of(r[1]));
                assertEquals(n, r[2]);
                p.passiveQp().assertMessage(r[0], n, i);
                p.passiveQp().post(r[0]);
                assertEquals(S, p.passiveQp().send(n, i + 7));
                rig.runUntil(() -> !p.activeQp().received.isEmpty(), 5, "pong " + n);
                r = p.activeQp().received.poll();
                assertEquals(n, r[2]);
                p.activeQp().assertMessage(r[0], n, i + 7);
                p.activeQp().post(r[0]);
            }
            rig.runUntil(() -> p.activeQp().sendsCompleted == sizes.length && p.passiveQp().sendsCompleted == sizes.length,
                5, "send completions");

            // Disconnect from A: B's disconnect event fires once; B disconnects; both complete.
            Call da = new Call();
            assertEquals(P, da.start(() -> p.active().disconnect(da, null)));
            rig.runUntil(() -> p.disconnectEvents()[1] == 1, 5, "disconnect event on B");
            Call db = new Call();
            assertEquals(P, db.start(() -> p.passive().disconnect(db, null)));
            rig.await(da, "A's disconnect");
            rig.await(db, "B's disconnect");
            da.assertCompleted(S);
            db.assertCompleted(S);
            rig.runFor(100);
            assertEquals(1, p.disconnectEvents()[1]);
            assertEquals(0, p.disconnectEvents()[0], "A disconnected first: no event on A");
            // Posted receives were flushed.
            assertEquals(0, p.activeQp().qp.receivesPosted());
            // Not reusable.
            Call again = new Call();
            assertEquals(NtStatus.STATUS_INVALID_DEVICE_STATE, again.start(() -> p.active().connect(
                new TestQp(rig.ndkA, 1, 16).qp, null, l.address, 1, 1, null, 0, again, null)));
            assertEquals(NtStatus.STATUS_INVALID_DEVICE_STATE, p.active().disconnect(again, null));
            assertEquals(0, again.completions);
            rig.runUntil(() -> rig.ndkA.connections() == 0 && rig.ndkB.connections() == 0, 5, "connections gone");
        }
    }

    @Test
    void limitsAreTheMinimumInBothDirectionsIncludingAdapterMaxima_ndkFnGetConnectionData() {
        NdkRig.Options o = new NdkRig.Options();
        o.infoA = NdkAdapterInfo.defaults().withReadLimits(3, 20);
        o.infoB = NdkAdapterInfo.defaults().withReadLimits(50, 5);
        try (NdkRig rig = new NdkRig(dir, o)) {
            Listening l = new Listening(rig, 7000);
            Pair p = establish(rig, l, new int[] {1000, 1000}, new int[] {1000, 1000}, "", "");
            NdkConnectionData a = new NdkConnectionData();
            NdkConnectionData b = new NdkConnectionData();
            assertEquals(S, p.active().getConnectionData(a, null, 0));
            assertEquals(S, p.passive().getConnectionData(b, null, 0));
            // A→B reads: A's adapter caps A's inbound at 3, so B's outbound is 3 too.
            assertEquals(3, a.inboundReadLimit);
            assertEquals(3, b.outboundReadLimit);
            // B→A reads: A's adapter caps A's outbound at 20, so B's inbound (own 1000, its adapter 50) is 20.
            assertEquals(20, b.inboundReadLimit);
            assertEquals(20, a.outboundReadLimit);
        }
    }

    @Test
    void readLimitsAreUlongsSoAllOnesAndHighBitValuesAreCappedToTheAdapterMaxima_ndkFnConnectNdkFnAccept() {
        // InboundReadLimit/OutboundReadLimit are ULONGs: ~0 (0xFFFFFFFF) and 0x80000000 are large, not negative;
        // "the provider will cap the consumer-supplied value to the provider maximum" (NDK_FN_CONNECT).
        NdkRig.Options o = new NdkRig.Options();
        o.infoA = NdkAdapterInfo.defaults().withReadLimits(7, 9);
        o.infoB = NdkAdapterInfo.defaults().withReadLimits(12, 5);
        try (NdkRig rig = new NdkRig(dir, o)) {
            Listening l = new Listening(rig, 7001);
            Pair p = establish(rig, l, new int[] {~0, ~0}, new int[] {0x8000_0000, ~0}, "", "");
            NdkConnectionData a = new NdkConnectionData();
            NdkConnectionData b = new NdkConnectionData();
            assertEquals(S, p.active().getConnectionData(a, null, 0));
            assertEquals(S, p.passive().getConnectionData(b, null, 0));
            assertEquals(5, a.inboundReadLimit, "A in = min(~0 capped to 7, B out ~0 capped to 5)");
            assertEquals(9, a.outboundReadLimit, "A out = min(~0 capped to 9, B in 0x80000000 capped to 12)");
            assertEquals(9, b.inboundReadLimit, "B in = min(12, A out 9)");
            assertEquals(5, b.outboundReadLimit, "B out = min(5, A in 7)");
            assertEquals("inbound=9 outbound=5 privateData=0", b.toString());
        }
    }
}
