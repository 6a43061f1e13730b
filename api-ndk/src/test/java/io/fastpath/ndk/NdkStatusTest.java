package io.fastpath.ndk;

import static io.fastpath.ndk.NdkConnectionTest.P;
import static io.fastpath.ndk.NdkConnectionTest.S;
import static io.fastpath.ndk.NdkConnectionTest.establish;
import static io.fastpath.ndk.NdkConnectionTest.privateData;
import static io.fastpath.ndk.NdkConnectionTest.text;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.ndk.NdkConnectionTest.Listening;
import io.fastpath.ndk.NdkConnectionTest.Pair;
import io.fastpath.provider.NtStatus;
import io.fastpath.stack.tcp.TcpConfig;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every status of NDK_FN_CONNECT (and of NdkListen, NdkAccept, NdkCompleteConnect, NdkGetConnectionData,
 * NdkDisconnect) provoked for real between two fastpath stacks over a ring pair.
 */
class NdkStatusTest {
    private static final long MS = TimeUnit.MILLISECONDS.toNanos(1);

    @TempDir
    Path dir;

    /** Starts a connect from A and returns its completion (the call must return PENDING). */
    private static Call connect(NdkRig rig, NdkConnector c, SockAddrIn source, SockAddrIn destination, String pd) {
        TestQp qp = new TestQp(rig.ndkA, 2, 64);
        MemorySegment b = text(pd);
        Call call = new Call();
        assertEquals(P, call.start(() -> c.connect(qp.qp, source, destination, 4, 4, b, (int) b.byteSize(), call, null)));
        return call;
    }

    private static Call connectAndWait(NdkRig rig, SockAddrIn source, SockAddrIn destination) {
        Call call = connect(rig, rig.ndkA.createConnector(), source, destination, "");
        rig.await(call, "connect to " + destination);
        return call;
    }

    private static NtStatus inline(NdkRig rig, SockAddrIn source, SockAddrIn destination, int pdLength) {
        TestQp qp = new TestQp(rig.ndkA, 2, 64);
        Call call = new Call();
        NtStatus r = call.start(() -> rig.ndkA.createConnector().connect(qp.qp, source, destination, 4, 4,
            MemorySegment.ofArray(new byte[Math.max(pdLength, 1)]), pdLength, call, null));
        rig.runFor(20);
        assertEquals(0, call.completions, "no completion after an inline failure");
        return r;
    }

    private static void assertStatus(NtStatus expected, NtStatus actual) {
        assertEquals(expected, actual);
    }

    // ------------------------------------------------------------------ NDK_FN_CONNECT

    @Test
    void noListenerIsConnectionRefused_ndkFnConnect() {
        try (NdkRig rig = new NdkRig(dir)) {
            connectAndWait(rig, null, new SockAddrIn(NdkRig.B_IP, 4444)).assertCompleted(NtStatus.STATUS_CONNECTION_REFUSED);
        }
    }

    @Test
    void peerRejectIsConnectionRefusedWithTheRejectPrivateData_ndkFnReject() {
        try (NdkRig rig = new NdkRig(dir)) {
            List<NtStatus> secondTries = new ArrayList<>();
            NdkListener l = rig.ndkB.createListener((ctx, c) -> {
                MemorySegment why = text("go away: " + privateData(c, new NdkConnectionData()));
                assertEquals(S, c.reject(why, (int) why.byteSize()));
                secondTries.add(c.reject(null, 0));
                Call x = new Call();
                secondTries.add(c.accept(new TestQp(rig.ndkB, 1, 8).qp, 1, 1, null, 0, null, null, x, null));
            }, null);
            Call listen = new Call();
            assertEquals(P, listen.start(() -> l.listen(new SockAddrIn(NdkRig.B_IP, 5000), listen, null)));
            rig.await(listen, "listen");
            NdkConnector c = rig.ndkA.createConnector();
            Call call = connect(rig, c, null, new SockAddrIn(NdkRig.B_IP, 5000), "let me in");
            rig.await(call, "connect");
            call.assertCompleted(NtStatus.STATUS_CONNECTION_REFUSED);
            assertEquals("go away: let me in", privateData(c, new NdkConnectionData()));
            assertEquals(List.of(NtStatus.STATUS_CONNECTION_INVALID, NtStatus.STATUS_CONNECTION_INVALID), secondTries);
            Call cc = new Call();
            assertStatus(NtStatus.STATUS_CONNECTION_INVALID, c.completeConnect(null, null, cc, null));
        }
    }

    @Test
    void fullBacklogIsConnectionRefusedAndPausedEventsWaitForResume_ndkFnControlConnectEvents() {
        NdkRig.Options o = new NdkRig.Options();
        o.infoB = NdkAdapterInfo.defaults().withListeners(16, 1);
        try (NdkRig rig = new NdkRig(dir, o)) {
            Listening l = new Listening(rig, 6000);
            assertEquals(S, l.listener.controlConnectEvents(true));
            Call first = connect(rig, rig.ndkA.createConnector(), null, l.address, "first");
            rig.runFor(150);
            assertEquals(0, l.requests.size(), "paused: no connect event");
            assertEquals(0, first.completions);
            Call second = connect(rig, rig.ndkA.createConnector(), null, l.address, "second");
            rig.await(second, "second connect");
            second.assertCompleted(NtStatus.STATUS_CONNECTION_REFUSED);
            assertEquals(1, rig.ndkB.refusedBacklog());
            assertEquals(S, l.listener.controlConnectEvents(false));
            assertEquals(1, l.requests.size(), "resumed: the waiting request is delivered");
            NdkConnector s = l.requests.get(0);
            assertEquals("first", privateData(s, new NdkConnectionData()));
            Call accept = new Call();
            assertEquals(P, accept.start(() -> s.accept(new TestQp(rig.ndkB, 1, 8).qp, 1, 1, null, 0, null, null, accept,
                null)));
            rig.await(first, "first connect");
            first.assertCompleted(S);
        }
    }

    @Test
    void listenerThatNeverAnswersIsIoTimeout_ndkFnConnect() {
        NdkRig.Options o = new NdkRig.Options();
        o.infoA = NdkAdapterInfo.defaults().withTimeouts(300 * MS, 300 * MS);
        try (NdkRig rig = new NdkRig(dir, o)) {
            Listening l = new Listening(rig, 6001);
            long start = System.nanoTime();
            Call call = connectAndWait(rig, null, l.address);
            call.assertCompleted(NtStatus.STATUS_IO_TIMEOUT);
            assertTrue(System.nanoTime() - start >= 290 * MS, "after the connect timeout");
            assertEquals(1, l.requests.size());
            // B's connector learns that the initiator went away (A's RST): accept now fails. Waited for, not a
            // fixed window: B's stack ends the connection, then B's adapter dispatches what the stack posted.
            rig.runUntil(() -> rig.b.counters().tcpConnections.get() == 0, 5, "A's reset ended the connection at B");
            rig.runUntil(() -> rig.dispatch() == 0, 5, "B's adapter took the stack's events");
            Call accept = new Call();
            assertStatus(NtStatus.STATUS_CONNECTION_ABORTED, accept.start(() -> l.requests.get(0).accept(
                new TestQp(rig.ndkB, 1, 8).qp, 1, 1, null, 0, null, null, accept, null)));
        }
    }

    @Test
    void tcpSynRetriesSpentIsIoTimeout_ndkFnConnect() {
        NdkRig.Options o = new NdkRig.Options();
        o.tcpA = TcpConfig.defaults().withSynRetries(2, 20 * MS);
        o.tcpB = TcpConfig.defaults().withMaxConnections(1);
        try (NdkRig rig = new NdkRig(dir, o)) {
            // B's single connection slot is taken by a first connection; a full stack drops further SYNs
            // (DropReason.TCP_NO_RESOURCES, like a full Linux backlog), so A's SYN retries run out.
            Listening l = new Listening(rig, 6002);
            Call first = connect(rig, rig.ndkA.createConnector(), null, l.address, "");
            rig.runUntil(() -> l.requests.size() == 1, 5, "first request");
            connectAndWait(rig, null, l.address).assertCompleted(NtStatus.STATUS_IO_TIMEOUT);
            assertEquals(0, first.completions);
        }
    }

    @Test
    void unreachableHostAndNetworkAndInvalidAddresses_ndkFnConnect() {
        try (NdkRig rig = new NdkRig(dir)) {
            connectAndWait(rig, null, SockAddrIn.of("10.13.0.77", 80)).assertCompleted(NtStatus.STATUS_HOST_UNREACHABLE);
            connectAndWait(rig, null, SockAddrIn.of("10.99.0.1", 80)).assertCompleted(NtStatus.STATUS_NETWORK_UNREACHABLE);
            assertStatus(NtStatus.STATUS_INVALID_ADDRESS, inline(rig, SockAddrIn.of("10.13.0.9", 0),
                new SockAddrIn(NdkRig.B_IP, 80), 0));
            assertStatus(NtStatus.STATUS_INVALID_ADDRESS, inline(rig, null, new SockAddrIn(NdkRig.B_IP, 0), 0));
            assertStatus(NtStatus.STATUS_INVALID_ADDRESS, inline(rig, null, new SockAddrIn(0, 80), 0));
        }
    }

    @Test
    void sourcePortInUseIsSharingViolationAndSameFourTupleIsAddressAlreadyExists_ndkFnConnect() {
        try (NdkRig rig = new NdkRig(dir)) {
            Listening l = new Listening(rig, 6003);
            Listening l2 = new Listening(rig, 6004);
            // A's own NDK listener holds a port: inline.
            NdkListener la = rig.ndkA.createListener((ctx, c) -> { }, null);
            Call listen = new Call();
            assertEquals(P, listen.start(() -> la.listen(new SockAddrIn(0, 7100), listen, null)));
            rig.await(listen, "listen on A");
            assertStatus(NtStatus.STATUS_SHARING_VIOLATION, inline(rig, new SockAddrIn(0, 7100), l.address, 0));
            // A connection from port 7200 to B:6003 exists...
            Call first = connect(rig, rig.ndkA.createConnector(), new SockAddrIn(0, 7200), l.address, "");
            rig.runUntil(() -> l.requests.size() == 1, 5, "first request");
            // ...so the same 4-tuple is ADDRESS_ALREADY_EXISTS and another destination from 7200 is SHARING_VIOLATION
            connectAndWait(rig, new SockAddrIn(0, 7200), l.address).assertCompleted(NtStatus.STATUS_ADDRESS_ALREADY_EXISTS);
            connectAndWait(rig, new SockAddrIn(0, 7200), l2.address).assertCompleted(NtStatus.STATUS_SHARING_VIOLATION);
            // and listening on 7200 (held by that connection in the stack) is SHARING_VIOLATION from the stack.
            NdkListener lb = rig.ndkA.createListener((ctx, c) -> { }, null);
            Call listen2 = new Call();
            assertEquals(P, listen2.start(() -> lb.listen(new SockAddrIn(0, 7200), listen2, null)));
            rig.await(listen2, "listen on 7200");
            listen2.assertCompleted(NtStatus.STATUS_SHARING_VIOLATION);
            assertNull(lb.getListenerLocalAddress());
            assertEquals(0, first.completions);
        }
    }

    @Test
    void fullConnectionTableIsInsufficientResources_ndkFnConnect() {
        NdkRig.Options o = new NdkRig.Options();
        o.tcpA = TcpConfig.defaults().withMaxConnections(1);
        try (NdkRig rig = new NdkRig(dir, o)) {
            Listening l = new Listening(rig, 6005);
            connect(rig, rig.ndkA.createConnector(), null, l.address, "");
            rig.runUntil(() -> l.requests.size() == 1, 5, "first request");
            connectAndWait(rig, null, l.address).assertCompleted(NtStatus.STATUS_INSUFFICIENT_RESOURCES);
        }
    }

    @Test
    void ephemeralPortsExhaustedIsTooManyAddressesForConnectAndListen_ndkFnConnect_ndkFnListen() {
        NdkRig.Options o = new NdkRig.Options();
        o.infoA = NdkAdapterInfo.defaults().withListeners(20_000, 16);
        try (NdkRig rig = new NdkRig(dir, o)) {
            Listening l = new Listening(rig, 6006);
            // Occupy 49152-65535 with listeners on A, port 0 each, a batch at a time (the rings are 64 KiB).
            int[] done = new int[1];
            NdkRequestCompletion count = (ctx, status) -> {
                assertEquals(S, status);
                done[0]++;
            };
            int started = 0;
            int range = 65535 - 49152 + 1;
            while (started < range) {
                int batch = Math.min(512, range - started);
                for (int i = 0; i < batch; i++) {
                    NdkListener x = rig.ndkA.createListener((ctx, c) -> { }, null);
                    assertEquals(P, x.listen(new SockAddrIn(0, 0), count, null));
                }
                started += batch;
                int target = started;
                rig.runUntil(() -> done[0] == target, 20, "listeners " + target);
            }
            NdkListener extra = rig.ndkA.createListener((ctx, c) -> { }, null);
            assertStatus(NtStatus.STATUS_TOO_MANY_ADDRESSES, extra.listen(new SockAddrIn(0, 0), count, null));
            assertStatus(NtStatus.STATUS_TOO_MANY_ADDRESSES, inline(rig, null, l.address, 0));
            assertNull(rig.ndkA.createSharedEndpoint(), "no port for a shared endpoint either");
            // An explicit source port outside the range still works.
            connectAndWait(rig, new SockAddrIn(0, 40000), new SockAddrIn(NdkRig.B_IP, 1)).assertCompleted(
                NtStatus.STATUS_CONNECTION_REFUSED);
        }
    }

    @Test
    void privateDataOfZeroTypicalAndMaximumLengthAndOneTooMany_rfc5044_s7_1() {
        try (NdkRig rig = new NdkRig(dir)) {
            Listening l = new Listening(rig, 6007);
            for (int n : new int[] {0, 32, 508}) {
                String pdA = "a".repeat(n);
                String pdB = "b".repeat(n);
                Pair p = establish(rig, l, new int[] {1, 1}, new int[] {1, 1}, pdA, pdB);
                NdkConnectionData d = new NdkConnectionData();
                assertEquals(S, p.active().getConnectionData(d, null, 0));
                assertEquals(n, d.privateDataLength);
                p.active().close();
                p.passive().close();
            }
            assertStatus(NtStatus.STATUS_INVALID_BUFFER_SIZE, inline(rig, null, l.address, 509));
            // The length says more than the segment holds: refused, never read past the segment.
            TestQp qp = new TestQp(rig.ndkA, 2, 64);
            Call call = new Call();
            assertStatus(NtStatus.STATUS_INVALID_BUFFER_SIZE, call.start(() -> rig.ndkA.createConnector()
                .connect(qp.qp, null, l.address, 4, 4, MemorySegment.ofArray(new byte[3]), 4, call, null)));
        }
    }

    @Test
    void getConnectionDataQuerySizeAndBufferTooSmall_ndkFnGetConnectionData() {
        try (NdkRig rig = new NdkRig(dir)) {
            Listening l = new Listening(rig, 6008);
            NdkConnector fresh = rig.ndkA.createConnector();
            assertStatus(NtStatus.STATUS_INVALID_DEVICE_STATE, fresh.getConnectionData(new NdkConnectionData(), null, 0));
            Pair p = establish(rig, l, new int[] {1, 1}, new int[] {1, 1}, "0123456789", "abcdefghij");
            NdkConnectionData d = new NdkConnectionData();
            assertEquals(S, p.active().getConnectionData(d, null, 0));
            assertEquals(10, d.privateDataLength, "NULL/0 = query the size");
            byte[] smallBytes = new byte[4];
            MemorySegment small = MemorySegment.ofArray(smallBytes);
            d.privateDataLength = 0;
            assertStatus(NtStatus.STATUS_BUFFER_TOO_SMALL, p.active().getConnectionData(d, small, 4));
            assertEquals(10, d.privateDataLength, "updated with the size needed");
            assertEquals("abcd", new String(smallBytes, StandardCharsets.US_ASCII), "copied up to the buffer");
            assertStatus(NtStatus.STATUS_INVALID_PARAMETER, p.active().getConnectionData(d, small, 16)); // capacity > size
            byte[] bigBytes = new byte[16];
            MemorySegment big = MemorySegment.ofArray(bigBytes);
            assertStatus(NtStatus.STATUS_INVALID_PARAMETER, p.active().getConnectionData(d, big.asReadOnly(),
                16)); // read-only
            assertEquals(S, p.active().getConnectionData(d, big, 16));
            assertEquals("abcdefghij", new String(bigBytes, 0, 10, StandardCharsets.US_ASCII));
            try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
                MemorySegment nativeBuffer = arena.allocate(10);
                assertEquals(S, p.active().getConnectionData(d, nativeBuffer, 10), "native memory too");
                assertEquals("abcdefghij", new String(nativeBuffer.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE),
                    StandardCharsets.US_ASCII));
            }
        }
    }

    // ------------------------------------------------------------------ NdkAccept / NdkCompleteConnect

    @Test
    void acceptWhoseInitiatorNeverCompletesIsIoTimeoutAndCompleteConnectThenAborted_ndkFnAccept() {
        NdkRig.Options o = new NdkRig.Options();
        o.infoB = NdkAdapterInfo.defaults().withTimeouts(TimeUnit.SECONDS.toNanos(10), 300 * MS);
        try (NdkRig rig = new NdkRig(dir, o)) {
            Listening l = new Listening(rig, 6009);
            NdkConnector c = rig.ndkA.createConnector();
            Call cc = new Call();
            assertStatus(NtStatus.STATUS_CONNECTION_INVALID, c.completeConnect(null, null, cc, null));
            Call call = connect(rig, c, null, l.address, "");
            rig.runUntil(() -> l.requests.size() == 1, 5, "request");
            Call accept = new Call();
            NdkConnector s = l.requests.get(0);
            assertEquals(P, accept.start(() -> s.accept(new TestQp(rig.ndkB, 1, 8).qp, 1, 1, null, 0, null, null,
                accept, null)));
            rig.await(call, "connect");
            call.assertCompleted(S);
            rig.await(accept, "accept");
            accept.assertCompleted(NtStatus.STATUS_IO_TIMEOUT);
            rig.runUntil(() -> rig.ndkA.connections() == 0, 5, "A sees the reset");
            assertStatus(NtStatus.STATUS_CONNECTION_ABORTED, cc.start(() -> c.completeConnect(null, null, cc, null)));
            assertEquals(0, cc.completions);
        }
    }

    // ------------------------------------------------------------------ NdkListen

    @Test
    void listenStatuses_ndkFnListen() {
        NdkRig.Options o = new NdkRig.Options();
        o.infoB = NdkAdapterInfo.defaults().withListeners(2, 16);
        try (NdkRig rig = new NdkRig(dir, o)) {
            Listening l = new Listening(rig, 6010);
            Call c = new Call();
            NdkListener x = rig.ndkB.createListener((ctx, k) -> { }, null);
            assertStatus(NtStatus.STATUS_INVALID_ADDRESS, x.listen(SockAddrIn.of("10.13.0.99", 1), c, null));
            assertStatus(NtStatus.STATUS_SHARING_VIOLATION, x.listen(new SockAddrIn(NdkRig.B_IP, 6010), c, null));
            assertEquals(P, c.start(() -> x.listen(new SockAddrIn(0, 6011), c, null)));
            rig.await(c, "second listener");
            c.assertCompleted(S);
            Call d = new Call();
            NdkListener y = rig.ndkB.createListener((ctx, k) -> { }, null);
            assertStatus(NtStatus.STATUS_INSUFFICIENT_RESOURCES, y.listen(new SockAddrIn(0, 6012), d, null));
            assertStatus(NtStatus.STATUS_INVALID_DEVICE_STATE, x.listen(new SockAddrIn(0, 6013), d, null));
            // Closing frees the port and the slot.
            assertEquals(S, l.listener.close());
            assertNull(l.listener.getListenerLocalAddress());
            assertEquals(P, d.start(() -> y.listen(new SockAddrIn(0, 6010), d, null)));
            rig.await(d, "listen again");
            d.assertCompleted(S);
            assertEquals(0, d.completedInsideCall ? 1 : 0);
        }
    }

    // ------------------------------------------------------------------ NdkDisconnect

    @Test
    void disconnectRacingThePeersDisconnectCompletesOnBothSides_ndkFnDisconnect() {
        try (NdkRig rig = new NdkRig(dir)) {
            Listening l = new Listening(rig, 6014);
            for (int round = 0; round < 5; round++) {
                Pair p = establish(rig, l, new int[] {1, 1}, new int[] {1, 1}, "", "");
                Call da = new Call();
                Call db = new Call();
                assertEquals(P, da.start(() -> p.active().disconnect(da, null)));
                assertEquals(P, db.start(() -> p.passive().disconnect(db, null)));
                rig.await(da, "A");
                rig.await(db, "B");
                da.assertCompleted(S);
                db.assertCompleted(S);
                rig.runFor(20);
                assertEquals(0, p.disconnectEvents()[0] + p.disconnectEvents()[1], "both disconnected locally");
            }
            rig.runUntil(() -> rig.ndkA.connections() == 0 && rig.ndkB.connections() == 0, 5, "all gone");
        }
    }

    @Test
    void peerResetFiresTheDisconnectEventOnceAndDisconnectThenSucceeds_ndkFnDisconnectEventCallback() {
        try (NdkRig rig = new NdkRig(dir)) {
            Listening l = new Listening(rig, 6015);
            Pair p = establish(rig, l, new int[] {1, 1}, new int[] {1, 1}, "", "");
            assertEquals(S, p.passive().close()); // RST
            rig.runUntil(() -> p.disconnectEvents()[0] == 1, 5, "disconnect event on A");
            assertEquals(S, p.activeQp().qp.receivesPosted() == 0 ? S : null, "receives flushed");
            assertTrue(p.activeQp().received.stream().allMatch(r -> r[1] == NtStatus.STATUS_CANCELLED.code()));
            Call d = new Call();
            assertEquals(S, d.start(() -> p.active().disconnect(d, null)), "already gone: inline success");
            rig.runFor(50);
            assertEquals(1, p.disconnectEvents()[0]);
            assertEquals(0, d.completions);
        }
    }

    // ------------------------------------------------------------------ NdkConnectWithSharedEndpoint

    @Test
    void connectWithSharedEndpointUsesTheEndpointsAddress_ndkFnConnectWithSharedEndpoint() {
        try (NdkRig rig = new NdkRig(dir)) {
            Listening l = new Listening(rig, 6016);
            NdkSharedEndpoint e = rig.ndkA.createSharedEndpoint();
            assertNotNull(e);
            SockAddrIn local = e.getLocalAddress();
            assertEquals(NdkRig.A_IP, local.ip());
            assertTrue(local.port() >= 49152);
            NdkConnector c = rig.ndkA.createConnector();
            TestQp qp = new TestQp(rig.ndkA, 1, 8);
            Call call = new Call();
            assertEquals(P, call.start(() -> c.connectWithSharedEndpoint(qp.qp, e, l.address, 1, 1, null, 0, call,
                null)));
            rig.runUntil(() -> l.requests.size() == 1, 5, "request");
            assertEquals(local, l.requests.get(0).getPeerAddress());
            assertEquals(local, c.getLocalAddress());
            // A second connection from the same endpoint, to another listener: the same local port.
            Listening other = new Listening(rig, 6017);
            NdkConnector c2 = rig.ndkA.createConnector();
            Call call2 = new Call();
            assertEquals(P, call2.start(() -> c2.connectWithSharedEndpoint(new TestQp(rig.ndkA, 1, 8).qp, e,
                other.address, 1, 1, null, 0, call2, null)));
            rig.runUntil(() -> other.requests.size() == 1, 5, "second request");
            assertEquals(local, other.requests.get(0).getPeerAddress(), "both connections use the endpoint's port");
            // The port is the endpoint's: a listener cannot take it.
            NdkListener x = rig.ndkA.createListener((ctx, k) -> { }, null);
            Call lc = new Call();
            assertStatus(NtStatus.STATUS_SHARING_VIOLATION, x.listen(local, lc, null));
            e.close();
            Call refused = new Call();
            assertStatus(NtStatus.STATUS_INVALID_PARAMETER, rig.ndkA.createConnector().connectWithSharedEndpoint(
                new TestQp(rig.ndkA, 1, 8).qp, e, l.address, 1, 1, null, 0, refused, null));
        }
    }

    // ------------------------------------------------------------------ exactly once

    @Test
    void closingAConnectorWithAPendingConnectCompletesItOnceCancelled_ndkFnCloseConnector() {
        try (NdkRig rig = new NdkRig(dir)) {
            NdkConnector c = rig.ndkA.createConnector();
            Call call = connect(rig, c, null, SockAddrIn.of("10.13.0.78", 80), ""); // ARP in progress
            assertEquals(S, c.close());
            rig.await(call, "cancelled");
            rig.runFor(400); // the stack's HOST_UNREACHABLE arrives meanwhile: no second completion
            call.assertCompleted(NtStatus.STATUS_CANCELLED);
            assertStatus(NtStatus.STATUS_INVALID_DEVICE_STATE, c.connect(new TestQp(rig.ndkA, 1, 8).qp, null,
                SockAddrIn.of("10.13.0.2", 80), 1, 1, null, 0, call, null));
        }
    }

    // ------------------------------------------------------------------ the QP

    @Test
    void qpLimitsTruncationAndSendsAfterDisconnect() {
        NdkRig.Options o = new NdkRig.Options();
        o.infoA = NdkAdapterInfo.defaults().withMaxTransferLength(1000);
        try (NdkRig rig = new NdkRig(dir, o)) {
            Listening l = new Listening(rig, 6017);
            Pair p = establish(rig, l, new int[] {1, 1}, new int[] {1, 1}, "", "");
            TestQp a = p.activeQp();
            assertStatus(NtStatus.STATUS_INVALID_BUFFER_SIZE, a.send(1001, 0));
            // At MaxTransferLength exactly: whole.
            assertEquals(S, a.send(1000, 5));
            rig.runUntil(() -> !p.passiveQp().received.isEmpty(), 5, "1000 bytes");
            int[] r = p.passiveQp().received.poll();
            assertEquals(1000, r[2]);
            p.passiveQp().assertMessage(r[0], 1000, 5);
            // A message longer than the posted buffer: BUFFER_OVERFLOW with what fit; the stream stays in step.
            TestQp b = p.passiveQp();
            while (a.qp.receivesPosted() > 0) {
                assertEquals(S, b.send(10, 1));
                rig.runUntil(() -> !a.received.isEmpty(), 5, "drain receives");
                a.received.poll();
            }
            UnsafeBuffer small = new UnsafeBuffer(java.nio.ByteBuffer.allocateDirect(100));
            assertEquals(S, a.qp.postReceive(small.addressOffset(), 100, 99));
            assertEquals(S, b.send(300, 2));
            rig.runUntil(() -> !a.received.isEmpty(), 5, "truncated");
            r = a.received.poll();
            assertStatus(NtStatus.STATUS_BUFFER_OVERFLOW, NtStatus.of(r[1]));
            assertEquals(100, r[2]);
            assertEquals((byte) 2, small.getByte(0));
            assertEquals((byte) 101, small.getByte(99));
            a.post(0);
            assertEquals(S, b.send(7, 3));
            rig.runUntil(() -> !a.received.isEmpty(), 5, "next message whole");
            r = a.received.poll();
            assertEquals(S, NtStatus.of(r[1]));
            assertEquals(7, r[2]);
            a.assertMessage(0, 7, 3);
            Call d = new Call();
            assertEquals(P, d.start(() -> p.active().disconnect(d, null)));
            assertStatus(NtStatus.STATUS_INVALID_DEVICE_STATE, a.send(1, 0));
            // A's disconnect completes only once B closed its side too.
            rig.runUntil(() -> p.disconnectEvents()[1] == 1, 5, "B's disconnect event");
            rig.runFor(50);
            assertEquals(0, d.completions, "not before the peer's side is closed");
            Call db = new Call();
            assertEquals(P, db.start(() -> p.passive().disconnect(db, null)));
            rig.await(d, "disconnect");
            rig.await(db, "B's disconnect");
            d.assertCompleted(S);
            db.assertCompleted(S);
        }
    }
}
