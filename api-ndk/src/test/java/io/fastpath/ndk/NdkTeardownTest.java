package io.fastpath.ndk;

import static io.fastpath.ndk.NdkConnectionTest.P;
import static io.fastpath.ndk.NdkConnectionTest.S;
import static io.fastpath.ndk.NdkConnectionTest.establish;
import static io.fastpath.ndk.NdkConnectionTest.text;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.ndk.NdkConnectionTest.Listening;
import io.fastpath.ndk.NdkConnectionTest.Pair;
import io.fastpath.provider.NtStatus;
import io.fastpath.stack.counters.DropReason;
import io.fastpath.stack.tcp.TcpClient;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Connections ending under the consumer and the adapter closing: every send, receive and call completes exactly
 * once, and requests that find the stack's request ring full (held with {@link NdkRig.Gate}) are retried.
 */
class NdkTeardownTest {
    private static final long MS = TimeUnit.MILLISECONDS.toNanos(1);

    @TempDir
    Path dir;

    private static void assertStatus(NtStatus expected, NtStatus actual) {
        assertEquals(expected, actual);
    }

    /** Fills a stack's request ring (its poll thread held at the gate) with requests that do nothing. */
    private static void fillRequestRing(TcpClient tcp) {
        int n = 0;
        while (tcp.noDelay(-1L, true)) {
            n++;
        }
        assertTrue(n > 0, "the ring had room before");
    }

    @Test
    void aSendRacingThePeersResetCompletesCancelledOnceAndFreesItsSlot_ndkFnSend() {
        try (NdkRig rig = new NdkRig(dir)) {
            Listening l = new Listening(rig, 7400);
            Pair p = establish(rig, l, new int[] {1, 1}, new int[] {1, 1}, "", "");
            TestQp a = p.activeQp();
            long resets = rig.a.counters().tcpResetsReceived.get();
            assertEquals(S, p.passive().close()); // B resets the connection
            // Only B dispatches: A's stack takes the RST and posts the close, which A's adapter has not read.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (rig.a.counters().tcpResetsReceived.get() == resets) {
                assertTrue(System.nanoTime() < deadline, "A's stack saw no reset");
                rig.ndkB.dispatch();
                Thread.yield();
            }
            rig.gateA.hold(); // the poll thread finished the cycle that closed the connection
            // The connector still looks established: the send goes to the stack, which no longer knows the handle.
            assertEquals(S, a.send(16, 1));
            assertEquals(1, a.qp.sendsOutstanding());
            rig.gateA.open();
            rig.runUntil(() -> a.sendFailures == 1, 5, "the send completes");
            assertStatus(NtStatus.STATUS_CANCELLED, a.lastSendStatus);
            assertEquals(0, a.qp.sendsOutstanding(), "its slot is free again");
            rig.runFor(50); // the stack's late INVALID_CONNECTION for it is not a second completion
            assertEquals(1, a.sendFailures);
            assertEquals(0, a.sendsCompleted);
            assertEquals(1, p.disconnectEvents()[0]);
            assertEquals(S, a.qp.close());
        }
    }

    @Test
    void closingAConnectedConnectorFlushesItsQpsReceives_ndkFnCloseConnector() {
        try (NdkRig rig = new NdkRig(dir)) {
            Listening l = new Listening(rig, 7401);
            Pair p = establish(rig, l, new int[] {1, 1}, new int[] {1, 1}, "", "");
            TestQp a = p.activeQp();
            assertEquals(8, a.qp.receivesPosted());
            assertEquals(S, p.active().close());
            assertEquals(0, a.qp.receivesPosted(), "flushed by the close");
            assertEquals(8, a.received.size());
            assertTrue(a.received.stream().allMatch(r -> r[1] == NtStatus.STATUS_CANCELLED.code() && r[2] == 0));
            assertEquals(S, a.qp.close(), "unbound");
            rig.runUntil(() -> p.disconnectEvents()[1] == 1, 5, "B sees the reset");
            rig.runFor(50);
            assertEquals(8, a.received.size(), "no second completion");
        }
    }

    @Test
    void aHandlerThatPostsAgainFromAFlushedReceiveDoesNotKeepTheFlushGoing() {
        try (NdkRig rig = new NdkRig(dir)) {
            Listening l = new Listening(rig, 7408);
            // Closed here: each receive posted at the close completes once; those posted again stay posted.
            Pair p = establish(rig, l, new int[] {1, 1}, new int[] {1, 1}, "", "");
            p.activeQp().repost = true;
            assertEquals(S, p.active().close());
            assertEquals(8, p.activeQp().received.size());
            assertEquals(8, p.activeQp().qp.receivesPosted());
            // Reset by the peer: the same.
            Pair q = establish(rig, l, new int[] {1, 1}, new int[] {1, 1}, "", "");
            q.activeQp().repost = true;
            assertEquals(S, q.passive().close());
            rig.runUntil(() -> q.disconnectEvents()[0] == 1, 5, "disconnect event on A");
            assertEquals(8, q.activeQp().received.size());
            assertTrue(q.activeQp().received.stream().allMatch(r -> r[1] == NtStatus.STATUS_CANCELLED.code()));
        }
    }

    @Test
    void aQpCanBeClosedOnlyWhenNoConnectorHoldsIt_ndkFnCloseQp() {
        try (NdkRig rig = new NdkRig(dir)) {
            NdkConnector c = rig.ndkA.createConnector();
            TestQp qp = new TestQp(rig.ndkA, 1, 8);
            Call call = new Call();
            assertEquals(P, call.start(() -> c.connect(qp.qp, null, SockAddrIn.of("10.13.0.78", 80), 1, 1, null, 0,
                call, null))); // ARP in progress: the connector stays CONNECTING
            assertStatus(NtStatus.STATUS_INVALID_DEVICE_STATE, qp.qp.close());
            assertEquals(S, c.close());
            rig.await(call, "cancelled");
            call.assertCompleted(NtStatus.STATUS_CANCELLED);
            assertEquals(S, qp.qp.close());

            // Once both disconnects completed, both QPs close at once (no wait for TIME_WAIT).
            Listening l = new Listening(rig, 7402);
            Pair p = establish(rig, l, new int[] {1, 1}, new int[] {1, 1}, "", "");
            assertStatus(NtStatus.STATUS_INVALID_DEVICE_STATE, p.activeQp().qp.close());
            assertStatus(NtStatus.STATUS_INVALID_DEVICE_STATE, p.passiveQp().qp.close());
            Call da = new Call();
            Call db = new Call();
            assertEquals(P, da.start(() -> p.active().disconnect(da, null)));
            rig.runUntil(() -> p.disconnectEvents()[1] == 1, 5, "B's disconnect event");
            assertEquals(P, db.start(() -> p.passive().disconnect(db, null)));
            rig.runUntil(() -> da.done() && db.done(), 5, "disconnects");
            da.assertCompleted(S);
            db.assertCompleted(S);
            assertEquals(S, p.activeQp().qp.close());
            assertEquals(S, p.passiveQp().qp.close());
        }
    }

    /** Releases travel on a ring of their own with room for every descriptor held: a full request ring is no matter. */
    @Test
    void mbufReleasesThatFindTheRequestRingFullStillReachTheStack() {
        try (NdkRig rig = new NdkRig(dir)) {
            Listening l = new Listening(rig, 7403);
            Pair p = establish(rig, l, new int[] {1, 1}, new int[] {1, 1}, "", "");
            TestQp a = p.activeQp();
            TestQp b = p.passiveQp();
            for (int i = 0; i < 8; i++) {
                assertEquals(S, a.send(100, i));
            }
            rig.runUntil(() -> b.received.size() == 8, 5, "B's 8 receives used up");
            b.received.clear();
            assertEquals(S, a.send(100, 9));
            rig.runUntil(() -> p.passive().descriptorsHeld() > 0, 5, "the ninth message waits for a receive");
            rig.gateB.hold();
            fillRequestRing(rig.ndkB.tcp);
            long refused = rig.b.counters().drop(DropReason.RELEASE_REFUSED).get();
            b.post(0); // the message is copied now and its mbuf handed back: the ring has no room
            rig.runUntil(() -> b.received.size() == 1, 5, "the ninth message");
            int[] r = b.received.poll();
            assertEquals(S, NtStatus.of(r[1]));
            assertEquals(100, r[2]);
            b.assertMessage(0, 100, 9);
            assertFalse(rig.ndkB.tcp.noDelay(-1L, true), "the request ring is still full");
            assertTrue(rig.b.tcpService().heldDescriptors() > 0, "the stack is held: the release waits on its ring");
            rig.gateB.open();
            rig.runUntil(() -> rig.b.tcpService().heldDescriptors() == 0, 5, "the release reached the stack");
            assertEquals(refused, rig.b.counters().drop(DropReason.RELEASE_REFUSED).get(), "not refused");
            b.post(1);
            assertEquals(S, a.send(50, 10));
            rig.runUntil(() -> b.received.size() == 1, 5, "messages flow on");
            b.assertMessage(1, 50, 10);
        } // NdkRig.close checks that every mbuf came back to the pool
    }

    /** A reset is a control: with the request ring full it waits on the side path, never lost. */
    @Test
    void aResetThatFindsTheRequestRingFullStillReachesThePeer() {
        NdkRig.Options o = new NdkRig.Options();
        o.infoA = NdkAdapterInfo.defaults().withTimeouts(300 * MS, 300 * MS);
        try (NdkRig rig = new NdkRig(dir, o)) {
            Listening l = new Listening(rig, 7404);
            NdkConnector c = rig.ndkA.createConnector();
            Call call = new Call();
            assertEquals(P, call.start(() -> c.connect(new TestQp(rig.ndkA, 1, 8).qp, null, l.address, 1, 1, null, 0,
                call, null)));
            rig.runUntil(() -> l.requests.size() == 1, 5, "request");
            rig.gateA.hold();
            fillRequestRing(rig.ndkA.tcp);
            rig.await(call, "connect timeout"); // its reset finds no room
            call.assertCompleted(NtStatus.STATUS_IO_TIMEOUT);
            rig.gateA.open();
            rig.runUntil(() -> rig.ndkA.connections() == 0 && rig.ndkB.connections() == 0, 5, "the reset reached B");
            Call accept = new Call();
            assertStatus(NtStatus.STATUS_CONNECTION_ABORTED, accept.start(() -> l.requests.get(0).accept(
                new TestQp(rig.ndkB, 1, 8).qp, 1, 1, null, 0, null, null, accept, null)));
        }
    }

    @Test
    void callsQueuedFromOtherThreadsCompleteCancelledWhenTheAdapterClosesAndLaterOnesAreRefused_ndkCloseAdapter()
        throws Exception {
        try (NdkRig rig = new NdkRig(dir)) {
            NdkListener early = rig.ndkB.createListener((ctx, c) -> { }, null);
            Call queued = new Call();
            assertEquals(P, CompletableFuture.supplyAsync(() -> early.listen(new SockAddrIn(0, 7405), queued, null))
                .get(5, TimeUnit.SECONDS));
            TestQp qp = new TestQp(rig.ndkB, 1, 8);
            assertEquals(S, CompletableFuture.supplyAsync(() -> qp.qp.send(qp.send.addressOffset(), 1, 77))
                .get(5, TimeUnit.SECONDS));
            // A task that runs while close() dispatches, and calls from another thread then.
            NdkListener late = rig.ndkB.createListener((ctx, c) -> { }, null);
            Call lateCall = new Call();
            NtStatus[] lateStatus = {null};
            assertTrue(rig.ndkB.execute(() -> lateStatus[0] = CompletableFuture.supplyAsync(
                () -> late.listen(new SockAddrIn(0, 7406), lateCall, null)).join()));
            rig.ndkB.close();
            assertEquals(1, queued.completions, "the queued listen completed once");
            assertStatus(NtStatus.STATUS_CANCELLED, queued.status);
            assertEquals(1, qp.sendFailures);
            assertStatus(NtStatus.STATUS_CANCELLED, qp.lastSendStatus);
            assertStatus(NtStatus.STATUS_INSUFFICIENT_RESOURCES, lateStatus[0]);
            assertEquals(0, lateCall.completions);
            assertFalse(rig.ndkB.execute(() -> { }));
            MemorySegment pd = text("x");
            Call after = new Call();
            assertStatus(NtStatus.STATUS_INSUFFICIENT_RESOURCES, CompletableFuture.supplyAsync(() -> rig.ndkB
                .createConnector().connect(qp.qp, null, new SockAddrIn(NdkRig.A_IP, 1), 1, 1, pd, 1, after, null))
                .get(5, TimeUnit.SECONDS));
            assertEquals(0, after.completions);
            assertEquals(0, rig.ndkB.connections());
        }
    }

    @Test
    void privateDataAboveTheAdaptersMaximaIsRefusedOnReceive_ndkFnConnect() {
        NdkRig.Options o = new NdkRig.Options();
        o.infoA = NdkAdapterInfo.defaults().withPrivateData(508, 4);
        o.infoB = NdkAdapterInfo.defaults().withPrivateData(8, 508);
        try (NdkRig rig = new NdkRig(dir, o)) {
            Listening l = new Listening(rig, 7407);
            // A request with 9 bytes where B takes at most 8 (MaxCallerData): a reject reply, no connect event.
            MemorySegment nine = text("123456789");
            Call refused = new Call();
            assertEquals(P, refused.start(() -> rig.ndkA.createConnector().connect(new TestQp(rig.ndkA, 1, 8).qp, null,
                l.address, 1, 1, nine, 9, refused, null)));
            rig.await(refused, "connect");
            refused.assertCompleted(NtStatus.STATUS_CONNECTION_REFUSED);
            assertEquals(1, rig.ndkB.malformedFrames());
            assertEquals(MpaFrame.ERR_PRIVATE_DATA_TOO_LONG, rig.ndkB.lastMalformedError());
            assertEquals(0, l.requests.size());
            // A reply with 5 bytes where A takes at most 4 (MaxCalleeData): the connect fails, the accept too.
            MemorySegment eight = text("12345678");
            Call connect = new Call();
            assertEquals(P, connect.start(() -> rig.ndkA.createConnector().connect(new TestQp(rig.ndkA, 1, 8).qp, null,
                l.address, 1, 1, eight, 8, connect, null)));
            rig.runUntil(() -> l.requests.size() == 1, 5, "request");
            MemorySegment five = text("abcde");
            Call accept = new Call();
            assertEquals(P, accept.start(() -> l.requests.get(0).accept(new TestQp(rig.ndkB, 1, 8).qp, 1, 1, five, 5,
                null, null, accept, null)));
            rig.await(connect, "connect");
            connect.assertCompleted(NtStatus.STATUS_CONNECTION_ABORTED);
            assertEquals(MpaFrame.ERR_PRIVATE_DATA_TOO_LONG, rig.ndkA.lastMalformedError());
            rig.await(accept, "accept");
            accept.assertCompleted(NtStatus.STATUS_CONNECTION_ABORTED);
        }
    }
}
