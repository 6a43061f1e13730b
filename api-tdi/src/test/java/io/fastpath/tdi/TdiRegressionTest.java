package io.fastpath.tdi;

import static io.fastpath.tdi.TdiRig.connect;
import static io.fastpath.tdi.TdiRig.direct;
import static io.fastpath.tdi.TdiRig.disconnect;
import static io.fastpath.tdi.TdiRig.endpoint;
import static io.fastpath.tdi.TdiRig.listen;
import static io.fastpath.tdi.TdiRig.receive;
import static io.fastpath.tdi.TdiRig.send;
import static io.fastpath.tdi.TdiRig.setEvent;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.provider.NtStatus;
import io.fastpath.stack.tcp.TcpConfig;
import io.fastpath.stack.tcp.TcpState;
import io.fastpath.tdi.TdiEventTest.Pair;
import io.fastpath.tdi.TdiRequestTest.Link;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.agrona.concurrent.Agent;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Regressions from the api-tdi review: late connect answers on a reused IRP, aborts the full request ring
 * refused, chains returned while their handler runs, deep inline completion, IRPs handed back by handlers
 * (after an inline abort, unusable, not rebuilt, cancellable), expedited receives at an orderly close, chains
 * returned after close, abort acknowledgement across reuse, listening after the last TDI_LISTEN. Real ports.
 */
class TdiRegressionTest {
    private static final NtStatus S = NtStatus.STATUS_SUCCESS;
    private static final NtStatus MPR = NtStatus.STATUS_MORE_PROCESSING_REQUIRED;

    @TempDir
    Path dir;

    /** Finding 1: a cancelled connect's late success must not complete the same IRP's next connect. */
    @Test
    void aLateAnswerForACancelledConnectDoesNotCompleteTheReusedIrp_tdiConnect() {
        try (TdiRig rig = new TdiRig(dir)) {
            Pair p = new Pair(rig);
            Req warm = connect(rig.tdiA, endpoint(rig.tdiA, rig.tdiA.openAddress(0, 0), "w"), TdiRig.B_IP, 7777,
                Tdi.TIMEOUT_DEFAULT, null);
            rig.runUntil(warm::done, 10, "ARP resolved");
            Req c = p.connectA();
            c.assertPending();
            assertTrue(c.irp.cancel());
            c.assertCompleted(NtStatus.STATUS_CANCELLED);
            // The endpoint moves to another address (the old connection still holds the first one's port), and
            // the same IRP, rebuilt, connects to a port nobody listens on: the old SYN-ACK comes back first.
            Req dis = new Req();
            TdiBuild.disassociateAddress(dis.irp, p.a, dis.routine, null);
            dis.call(rig.tdiA);
            dis.assertInline(S);
            Req as = new Req();
            TdiBuild.associateAddress(as.irp, p.a, as.routine, null, rig.tdiA.openAddress(0, 0));
            as.call(rig.tdiA);
            as.assertInline(S);
            TdiBuild.connect(c.irp, p.a, c.routine, null, Tdi.TIMEOUT_DEFAULT,
                new TdiConnectionInformation(TdiRig.B_IP, 7777), null);
            c.call(rig.tdiA);
            c.assertPending();
            rig.runUntil(c::done, 10, "second connect");
            c.assertCompleted(NtStatus.STATUS_CONNECTION_REFUSED);
            assertTrue(p.a.idle());
            // The cancelled connect's connection, accepted by B, is reset by A. Either order is right: A's ACK
            // reaches B first (B's accept completes, then an abortive disconnect indication), or A's provider
            // aborts after its stack posted the connect's success but before that stack sent the handshake's ACK
            // (the ACK waits for the end of the duty cycle, the abort's RST goes out at once), and B sees the RST
            // in SYN-RECEIVED: its accept completes STATUS_CONNECTION_RESET, with no disconnect indication.
            rig.runUntil(() -> p.accept.done()
                && (p.accept.status() != S || p.disconnectsB.contains(Tdi.TDI_DISCONNECT_ABORT)), 10, "B reset");
            if (p.accept.status() == S) {
                assertEquals(List.of(Tdi.TDI_DISCONNECT_ABORT), p.disconnectsB);
            } else {
                p.accept.assertCompleted(NtStatus.STATUS_CONNECTION_RESET);
                assertTrue(p.disconnectsB.isEmpty(), "never connected: " + p.disconnectsB);
            }
            assertEquals(1, p.accept.completions, "B's accept completed once");
            assertTrue(p.b.idle());
        }
    }

    /**
     * B's provider hears in one round that the connection it accepted through ClientEventConnect connected and was
     * reset (B's stack took A's handshake ACK and A's RST before B dispatched): the accept IRP completes SUCCESS
     * before the abortive disconnect is indicated. It completed STATUS_CANCELLED after the indication (the
     * deferred accept saw the endpoint's next incarnation), which made the test above fail when A's ACK and RST
     * reached B in one burst.
     */
    @Test
    void anAcceptConnectedAndResetInOneRoundCompletesSuccessBeforeTheDisconnect() {
        try (TdiRig rig = new TdiRig(dir)) {
            Pair p = new Pair(rig);
            List<Boolean> acceptDoneAtDisconnect = new ArrayList<>();
            setEvent(rig.tdiB, p.addressB, Tdi.TDI_EVENT_DISCONNECT,
                (TdiEvents.ClientEventDisconnect) (ctx, cc, flags) -> {
                    p.disconnectsB.add(flags);
                    acceptDoneAtDisconnect.add(p.accept.done());
                    return S;
                }, null).assertInline(S);
            Req c = p.connectA();
            rig.runUntil(() -> p.log.contains("connect true event-ctx"), 10, "ClientEventConnect");
            // From here only A dispatches: B's stack takes A's ACK, then A's RST; B's provider hears both at once.
            long resets = rig.b.counters().tcpResetsReceived.get();
            runA(rig, c::done, "A connected");
            c.assertCompleted(S);
            disconnect(rig.tdiA, p.a, Tdi.TDI_DISCONNECT_ABORT, 0).assertInline(S);
            runA(rig, () -> rig.b.counters().tcpResetsReceived.get() > resets, "B's stack took the RST");
            assertFalse(p.accept.done(), "B's provider has not dispatched");
            rig.tdiB.dispatch();
            p.accept.assertCompleted(S);
            assertEquals(List.of(Tdi.TDI_DISCONNECT_ABORT), p.disconnectsB);
            assertEquals(List.of(true), acceptDoneAtDisconnect, "the accept completed before the disconnect");
            assertTrue(p.b.idle());
            rig.runFor(20);
            assertEquals(1, p.accept.completions, "B's accept completed once");
        }
    }

    /**
     * The graceful counterpart of the test above: B's stack took A's handshake ACK, its data and its FIN before
     * B's provider dispatched. The data is indicated, the accept IRP completes SUCCESS, and only then is the
     * release indicated. The release was indicated first, the accept completing at the end of the round (a
     * review finding).
     */
    @Test
    void anAcceptConnectedAndReleasedInOneRoundCompletesSuccessBeforeTheReleaseIndication() {
        acceptedAndReleasedInOneRound(false);
    }

    /**
     * The same with connect data in the accept IRP: the accept completes once B's stack took the data, a round or
     * more later, and the release waits for it (it was indicated while the accept was pending; review finding).
     */
    @Test
    void anAcceptWithConnectDataCompletesBeforeTheReleaseIndication() {
        acceptedAndReleasedInOneRound(true);
    }

    private void acceptedAndReleasedInOneRound(boolean connectData) {
        try (TdiRig rig = new TdiRig(dir)) {
            Pair p = new Pair(rig);
            ByteBuffer welcome = direct("welcome;");
            if (connectData) {
                p.acceptInfo = new TdiConnectionInformation().userData(TdiRig.addressOf(welcome), 8);
            }
            List<String> order = new ArrayList<>();
            p.chained((ctx, cc, flags, length, offset, tsdu) -> {
                order.add("receive " + new String(tsdu.toByteArray(), StandardCharsets.US_ASCII));
                return S;
            });
            setEvent(rig.tdiB, p.addressB, Tdi.TDI_EVENT_DISCONNECT,
                (TdiEvents.ClientEventDisconnect) (ctx, cc, flags) -> {
                    p.disconnectsB.add(flags);
                    order.add("disconnect " + flags + ", accept done " + p.accept.done());
                    return S;
                }, null).assertInline(S);
            Req c = p.connectA();
            rig.runUntil(() -> p.log.contains("connect true event-ctx"), 10, "ClientEventConnect");
            // From here only A dispatches: B's stack takes A's ACK, data and FIN; B's provider hears them at once.
            runA(rig, c::done, "A connected");
            c.assertCompleted(S);
            Req s = send(rig.tdiA, p.a, direct("last words"), 0);
            disconnect(rig.tdiA, p.a, Tdi.TDI_DISCONNECT_RELEASE, 0);
            runA(rig, () -> s.done() && rig.b.tcp().countInState(TcpState.CLOSE_WAIT) == 1,
                "B's stack took the data and the FIN");
            assertFalse(p.accept.done(), "B's provider has not dispatched");
            rig.tdiB.dispatch();
            rig.runUntil(() -> !p.disconnectsB.isEmpty(), 10, "the release indicated");
            p.accept.assertCompleted(S);
            assertEquals(List.of("receive last words", "disconnect " + Tdi.TDI_DISCONNECT_RELEASE + ", accept done true"),
                order, "the data, then the accept, then the release");
            rig.runFor(20);
            assertEquals(1, p.accept.completions, "B's accept completed once");
            Reference.reachabilityFence(welcome); // connect data, read by address until here
        }
    }

    private static void runA(TdiRig rig, java.util.function.BooleanSupplier done, String what) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!done.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, what);
            if (rig.tdiA.dispatch() == 0) {
                Thread.yield();
            }
        }
    }

    /** Stalls A's poll thread on demand, so that A's TcpService request ring fills deterministically. */
    static final class Gate implements Agent {
        volatile boolean hold;
        volatile boolean holding;

        @Override
        public int doWork() {
            if (hold) {
                holding = true;
                while (hold) {
                    LockSupport.parkNanos(100_000);
                }
                holding = false;
            }
            return 0;
        }

        @Override
        public String roleName() {
            return "gate";
        }

        void close(TdiRig rig) {
            hold = true;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (!holding) {
                assertTrue(System.nanoTime() < deadline, "A's poll thread stalls");
                Thread.onSpinWait();
            }
        }
    }

    /** Finding 2: an abort that finds the request ring full is not lost (side path), and the peer gets its RST. */
    @Test
    void anAbortRefusedByAFullRequestRingIsRetried_tdiDisconnectAbort() {
        Gate gate = new Gate();
        try (TdiRig rig = new TdiRig(dir, TcpConfig.defaults().withTimeWait(TimeUnit.MILLISECONDS.toNanos(50)),
            gate)) {
            Pair p = new Pair(rig);
            p.connectAndAccept();
            gate.close(rig);
            try {
                int filled = 0;
                while (rig.tdiA.tcp.noDelay(p.a.handle(), true)) {
                    filled++; // harmless requests until the ring is full
                }
                assertTrue(filled > 0);
                disconnect(rig.tdiA, p.a, Tdi.TDI_DISCONNECT_ABORT, 0).assertInline(S);
                assertTrue(p.a.idle());
                rig.runFor(50);
                assertTrue(p.disconnectsB.isEmpty(), "nothing reached B while A's stack stalls");
            } finally {
                gate.hold = false;
            }
            rig.runUntil(() -> p.disconnectsB.contains(Tdi.TDI_DISCONNECT_ABORT), 10, "B reset by the retried abort");
            assertTrue(p.b.idle());
        }
    }

    /** Finding 3: TdiReturnChainedReceives before the handler returned STATUS_PENDING (other thread, or itself). */
    @Test
    void aChainReturnedBeforeItsHandlerReturnsPendingGoesBack_tdiReturnChainedReceives() {
        try (TdiRig rig = new TdiRig(dir)) {
            Pair p = new Pair(rig);
            List<NtStatus> returned = new ArrayList<>();
            p.chained((ctx, cc, flags, length, offset, tsdu) -> {
                NtStatus[] status = {null};
                if (returned.isEmpty()) {
                    Thread other = new Thread(() -> status[0] = rig.tdiB.returnChainedReceives(new Tsdu[] {tsdu}, 1));
                    other.start();
                    try {
                        other.join();
                    } catch (InterruptedException e) {
                        throw new AssertionError(e);
                    }
                } else {
                    status[0] = rig.tdiB.returnChainedReceives(new Tsdu[] {tsdu}, 1); // from the handler itself
                }
                returned.add(status[0]);
                return NtStatus.STATUS_PENDING;
            });
            p.connectAndAccept();
            send(rig.tdiA, p.a, direct("first"), 0);
            rig.runUntil(() -> returned.size() == 1, 10, "first indication");
            assertEquals(0, rig.tdiB.heldChainedReceives(), "returned from another thread: not kept");
            send(rig.tdiA, p.a, direct("second"), 0);
            rig.runUntil(() -> returned.size() == 2, 10, "second indication");
            assertEquals(List.of(S, S), returned);
            assertEquals(0, rig.tdiB.heldChainedReceives(), "returned from the handler: not kept");
        } // the rig checks every mbuf went back to the pool
    }

    /** Finding 4: beyond 16 nested inline completions, callDriver returns STATUS_PENDING for the deferred IRP. */
    @Test
    void deeplyNestedInlineCompletionsReturnPendingWhenDeferred_ioCallDriver() {
        try (TdiRig rig = new TdiRig(dir)) {
            TdiAddress address = rig.tdiA.openAddress(0, 0);
            int n = 40;
            Irp[] irps = new Irp[n];
            NtStatus[] returned = new NtStatus[n];
            boolean[] completedAtReturn = new boolean[n];
            int[] completions = new int[n];
            for (int i = 0; i < n; i++) {
                irps[i] = new Irp();
            }
            IoCompletionRoutine[] routine = new IoCompletionRoutine[1];
            java.util.function.IntConsumer[] submit = new java.util.function.IntConsumer[1];
            submit[0] = k -> {
                TdiBuild.queryInformation(irps[k], address, routine[0], k, Tdi.TDI_QUERY_PROVIDER_INFO);
                returned[k] = rig.tdiA.callDriver(irps[k]);
                completedAtReturn[k] = irps[k].completed();
            };
            routine[0] = (irp, context) -> {
                int k = (Integer) context;
                completions[k]++;
                if (k + 1 < n) {
                    submit[0].accept(k + 1);
                }
            };
            submit[0].accept(0);
            rig.runUntil(() -> completions[n - 1] == 1, 5, "the whole chain");
            int pending = 0;
            for (int k = 0; k < n; k++) {
                assertEquals(1, completions[k], "IRP " + k + " completed once");
                assertEquals(S, irps[k].ioStatus().status());
                if (returned[k] == NtStatus.STATUS_PENDING) {
                    pending++;
                    assertTrue(irps[k].pending(), "PendingReturned for IRP " + k);
                } else {
                    assertEquals(S, returned[k]);
                    assertTrue(completedAtReturn[k], "IRP " + k + " returned S, so it completed inline");
                    assertFalse(irps[k].pending());
                }
            }
            assertTrue(pending >= 1, "the deep ones were deferred");
        }
    }

    /**
     * Findings 5, 6, 9: IRPs a ClientEventReceive hands back. Unusable (another endpoint's): completed
     * STATUS_INVALID_CONNECTION; completed and not rebuilt: left alone, no exception; after the handler aborted
     * the connection inline: completed STATUS_CANCELLED; a usable one can be cancelled (Irp.cancel()).
     */
    @Test
    void irpsHandedBackByAReceiveHandlerAreNeverDropped_clientEventReceive() {
        try (TdiRig rig = new TdiRig(dir)) {
            Pair p = new Pair(rig);
            TdiConnection other = rig.tdiB.openConnection("other");
            String[] mode = {"usable"};
            Req handed = new Req();
            Req completedBefore = new Req();
            ByteBuffer into = ByteBuffer.allocateDirect(100);
            setEvent(rig.tdiB, p.addressB, Tdi.TDI_EVENT_RECEIVE,
                (TdiEvents.ClientEventReceive) (ctx, cc, flags, indicated, available, tsdu, out) -> {
                    switch (mode[0]) {
                        case "usable" -> {
                            out.bytesTaken(indicated); // all of it: the IRP waits for more
                            TdiBuild.receive(handed.irp, p.b, handed.routine, null, TdiRig.addressOf(into), 0, 100);
                            handed.submissions++;
                            out.irp(handed.irp);
                        }
                        case "other endpoint" -> {
                            TdiBuild.receive(handed.irp, other, handed.routine, null, TdiRig.addressOf(into), 0, 100);
                            handed.submissions++;
                            out.irp(handed.irp);
                        }
                        case "not rebuilt" -> out.irp(completedBefore.irp);
                        case "abort" -> {
                            disconnect(rig.tdiB, p.b, Tdi.TDI_DISCONNECT_ABORT, 0).assertInline(S);
                            TdiBuild.receive(handed.irp, p.b, handed.routine, null, TdiRig.addressOf(into), 0, 100);
                            handed.submissions++;
                            out.irp(handed.irp);
                        }
                        default -> throw new AssertionError(mode[0]);
                    }
                    return MPR;
                }, null).assertInline(S);
            p.connectAndAccept();
            assertSame(rig.tdiB, p.accept.irp.provider, "the accept IRP from ClientEventConnect can be cancelled");

            send(rig.tdiA, p.a, direct("one"), 0);
            rig.runUntil(() -> handed.irp.inProgress(), 10, "usable IRP taken");
            assertTrue(handed.irp.cancel(), "a handed-back IRP can be cancelled");
            rig.runUntil(handed::done, 5, "cancelled");
            handed.assertCompleted(NtStatus.STATUS_CANCELLED);

            mode[0] = "other endpoint";
            send(rig.tdiA, p.a, direct("two"), 0);
            rig.runUntil(() -> !p.errorsB.isEmpty(), 10, "ClientEventError");
            assertEquals(List.of(NtStatus.STATUS_INVALID_PARAMETER), p.errorsB);
            handed.assertCompleted(NtStatus.STATUS_INVALID_CONNECTION);
            // A TDI_RECEIVE takes what waits; its IRP, completed, is then handed back without being rebuilt.
            TdiBuild.receive(completedBefore.irp, p.b, completedBefore.routine, null, TdiRig.addressOf(into), 0, 100);
            completedBefore.call(rig.tdiB);
            completedBefore.assertInline(S);
            mode[0] = "not rebuilt";
            send(rig.tdiA, p.a, direct("three"), 0);
            rig.runUntil(() -> p.errorsB.size() == 2, 10, "ClientEventError, no exception out of dispatch()");
            completedBefore.assertCompleted(S); // untouched: still once
            Req r2 = receive(rig.tdiB, p.b, into, 0);
            r2.assertInline(S);

            mode[0] = "abort";
            send(rig.tdiA, p.a, direct("four"), 0);
            rig.runUntil(p.b::idle, 10, "the handler's inline abort");
            handed.assertCompleted(NtStatus.STATUS_CANCELLED);
            assertTrue(p.b.idle());
            rig.runUntil(() -> !p.disconnectsA.isEmpty(), 10, "A reset");
        }
    }

    /** Finding 6: ClientEventConnect handing back an accept IRP that was not rebuilt: refused, no exception. */
    @Test
    void anAcceptIrpNotRebuiltIsUnusableAndNothingIsThrown_clientEventConnect() {
        try (TdiRig rig = new TdiRig(dir)) {
            Pair p = new Pair(rig);
            p.connectAndAccept();
            disconnect(rig.tdiA, p.a, Tdi.TDI_DISCONNECT_ABORT, 0).assertInline(S);
            rig.runUntil(p.b::idle, 10, "B reset");
            setEvent(rig.tdiB, p.addressB, Tdi.TDI_EVENT_CONNECT,
                (TdiEvents.ClientEventConnect) (ctx, ip, port, dataLength, data, optLength, opts, out) -> {
                    out.acceptIrp(p.accept.irp); // completed by the first accept
                    return MPR;
                }, null).assertInline(S);
            Req c = p.connectA();
            rig.runUntil(() -> p.errorsB.contains(NtStatus.STATUS_INVALID_CONNECTION), 10, "ClientEventError");
            rig.runUntil(() -> c.done() && p.a.idle(), 10, "A refused or reset");
            p.accept.assertCompleted(S); // untouched
            assertTrue(p.b.idle());
        }
    }

    /** Finding 7: an expedited TDI_RECEIVE ends with STATUS_GRACEFUL_DISCONNECT at an orderly close. */
    @Test
    void expeditedReceivesEndWithGracefulDisconnect_tdiReceive() {
        try (TdiRig rig = new TdiRig(dir)) {
            Pair p = new Pair(rig);
            p.connectAndAccept();
            ByteBuffer into = ByteBuffer.allocateDirect(16);
            Req expedited = receive(rig.tdiB, p.b, into, Tdi.TDI_RECEIVE_EXPEDITED);
            expedited.assertPending();
            Req release = disconnect(rig.tdiA, p.a, Tdi.TDI_DISCONNECT_RELEASE, 0);
            rig.runUntil(() -> !p.disconnectsB.isEmpty(), 10, "ClientEventDisconnect(RELEASE)");
            assertEquals(List.of(Tdi.TDI_DISCONNECT_RELEASE), p.disconnectsB);
            expedited.assertCompleted(NtStatus.STATUS_GRACEFUL_DISCONNECT);
            receive(rig.tdiB, p.b, into, Tdi.TDI_RECEIVE_EXPEDITED).assertInline(NtStatus.STATUS_GRACEFUL_DISCONNECT);
            Req releaseB = disconnect(rig.tdiB, p.b, Tdi.TDI_DISCONNECT_RELEASE, 0);
            rig.runUntil(() -> release.done() && releaseB.done(), 10, "both released");
            release.assertCompleted(S);
            releaseB.assertCompleted(S);
        }
    }

    /** Finding 8: a chain returned (from another thread) after the provider closed goes back, and is counted. */
    @Test
    void aChainReturnedAfterCloseGoesBackToTheStack_tdiReturnChainedReceives() throws Exception {
        try (TdiRig rig = new TdiRig(dir)) {
            Pair p = new Pair(rig);
            List<Tsdu> kept = new ArrayList<>();
            p.chained((ctx, cc, flags, length, offset, tsdu) -> {
                kept.add(tsdu);
                return NtStatus.STATUS_PENDING;
            });
            p.connectAndAccept();
            send(rig.tdiA, p.a, direct("kept past close"), 0);
            rig.runUntil(() -> !kept.isEmpty(), 10, "kept");
            assertEquals(1, rig.tdiB.heldChainedReceives());
            rig.tdiB.close();
            NtStatus[] status = {null};
            Thread other = new Thread(() -> status[0] = rig.tdiB.returnChainedReceives(kept.toArray(new Tsdu[0]), 1));
            other.start();
            other.join();
            assertEquals(S, status[0]);
            assertEquals(0, rig.tdiB.heldChainedReceives());
            // After close a request from another thread completes STATUS_CANCELLED, on that thread.
            Req late = new Req();
            TdiBuild.queryInformation(late.irp, p.addressB, late.routine, null, Tdi.TDI_QUERY_PROVIDER_INFO);
            Thread caller = new Thread(() -> late.call(rig.tdiB));
            caller.start();
            caller.join();
            late.assertCompleted(NtStatus.STATUS_CANCELLED);
        } // the rig checks every mbuf went back to the pool
    }

    /** Finding 10: an ABORT indication not acknowledged is not acknowledged by a TDI_DISCONNECT after a reuse. */
    @Test
    void anAbortIndicationIsNotAcknowledgedAcrossEndpointReuse_tdiDisconnect() {
        try (TdiRig rig = new TdiRig(dir)) {
            Pair p = new Pair(rig);
            p.connectAndAccept();
            disconnect(rig.tdiA, p.a, Tdi.TDI_DISCONNECT_ABORT, 0).assertInline(S);
            rig.runUntil(() -> p.disconnectsB.contains(Tdi.TDI_DISCONNECT_ABORT), 10, "B's ABORT indication");
            Req l = listen(rig.tdiB, p.b, 0, null); // the endpoint is used again without acknowledging
            l.assertPending();
            assertTrue(l.irp.cancel());
            l.assertCompleted(NtStatus.STATUS_CANCELLED);
            disconnect(rig.tdiB, p.b, Tdi.TDI_DISCONNECT_ABORT, 0).assertInline(NtStatus.STATUS_INVALID_CONNECTION);

        }
    }

    /**
     * Finding 11: with no connect handler, the port listens only while a TDI_LISTEN is pending. When the last one
     * takes a connection it stops (connects are refused); a new TDI_LISTEN listens again while that connection
     * still uses the port (the listen reuses the address), and cancelling the last listen stops it too.
     */
    @Test
    void thePortStopsListeningAfterTheLastListen_tdiListen() {
        try (TdiRig rig = new TdiRig(dir)) {
            Link link = new Link(rig, 5010); // B's TDI_LISTEN took A's connect
            assertEquals(0, link.addressB.listenState, "the last TDI_LISTEN took its connection");
            rig.runFor(50);
            TdiConnection a3 = endpoint(rig.tdiA, rig.tdiA.openAddress(0, 0), "a3");
            Req refused = connect(rig.tdiA, a3, TdiRig.B_IP, 5010, Tdi.TIMEOUT_DEFAULT, null);
            rig.runUntil(refused::done, 10, "connect while no listen is pending");
            refused.assertCompleted(NtStatus.STATUS_CONNECTION_REFUSED);
            TdiConnection b2 = endpoint(rig.tdiB, link.addressB, "b2");
            Req l = listen(rig.tdiB, b2, 0, null);
            rig.runUntil(() -> link.addressB.listenState == 2, 5, "listening again while the connection uses the port");
            Req again = connect(rig.tdiA, a3, TdiRig.B_IP, 5010, Tdi.TIMEOUT_DEFAULT, null);
            rig.runUntil(() -> again.done() && l.done(), 10, "the new listen takes the next connect");
            again.assertCompleted(S);
            l.assertCompleted(S);
            assertTrue(link.a.connected() && link.b.connected(), "the first connection goes on");
            Req l2 = listen(rig.tdiB, endpoint(rig.tdiB, link.addressB, "b4"), 0, null);
            rig.runUntil(() -> link.addressB.listenState == 2, 5, "listening");
            assertTrue(l2.irp.cancel());
            l2.assertCompleted(NtStatus.STATUS_CANCELLED);
            assertEquals(0, link.addressB.listenState, "cancelled: not listening, although connections use the port");

            // An address with no connection: cancelling its last TDI_LISTEN stops the port listening.
            TdiAddress spare = rig.tdiB.openAddress(0, 5011);
            TdiConnection b3 = endpoint(rig.tdiB, spare, "b3");
            for (int round = 0; round < 2; round++) {
                Req l3 = listen(rig.tdiB, b3, 0, null);
                rig.runUntil(() -> spare.listenState == 2, 5, "listening");
                assertTrue(l3.irp.cancel());
                l3.assertCompleted(NtStatus.STATUS_CANCELLED);
                assertEquals(0, spare.listenState, "not listening after the last TDI_LISTEN was cancelled");
                rig.runFor(50);
                TdiConnection a2 = endpoint(rig.tdiA, rig.tdiA.openAddress(0, 0), "a2");
                Req refused2 = connect(rig.tdiA, a2, TdiRig.B_IP, 5011, Tdi.TIMEOUT_DEFAULT, null);
                rig.runUntil(refused2::done, 10, "connect to a port no longer listening");
                refused2.assertCompleted(NtStatus.STATUS_CONNECTION_REFUSED);
            }
        }
    }
}
