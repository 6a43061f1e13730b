package io.fastpath.tdi;

import static io.fastpath.tdi.TdiRig.connect;
import static io.fastpath.tdi.TdiRig.direct;
import static io.fastpath.tdi.TdiRig.disconnect;
import static io.fastpath.tdi.TdiRig.endpoint;
import static io.fastpath.tdi.TdiRig.listen;
import static io.fastpath.tdi.TdiRig.receive;
import static io.fastpath.tdi.TdiRig.send;
import static io.fastpath.tdi.TdiRig.setEvent;
import static io.fastpath.tdi.TdiRig.text;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.provider.NtStatus;
import io.fastpath.stack.wire.Ipv4Address;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * TDI requests between two fastpath stacks on a DPDK ring pair: TDI_ASSOCIATE_ADDRESS / DISASSOCIATE,
 * TDI_CONNECT, TDI_LISTEN, TDI_ACCEPT, TDI_SEND, TDI_RECEIVE, TDI_DISCONNECT, TDI_QUERY_INFORMATION, as the TDI
 * documents (learn.microsoft.com, "TDI_XXX" pages, previous-versions/windows/hardware/network) describe them.
 */
class TdiRequestTest {
    private static final NtStatus S = NtStatus.STATUS_SUCCESS;

    @TempDir
    Path dir;

    /** A connection between endpoint {@code b} (listening on B:port) and {@code a} (connecting from A). */
    static final class Link {
        final TdiAddress addressA;
        final TdiAddress addressB;
        final TdiConnection a;
        final TdiConnection b;
        final List<String> disconnectsA = new ArrayList<>();
        final List<String> disconnectsB = new ArrayList<>();

        Link(TdiRig rig, int port) {
            addressB = rig.tdiB.openAddress(0, port);
            addressA = rig.tdiA.openAddress(0, 0);
            setEvent(rig.tdiA, addressA, Tdi.TDI_EVENT_DISCONNECT,
                (TdiEvents.ClientEventDisconnect) (ctx, cc, flags) -> {
                    disconnectsA.add(cc + ":" + flags);
                    return S;
                }, "A").assertInline(S);
            setEvent(rig.tdiB, addressB, Tdi.TDI_EVENT_DISCONNECT,
                (TdiEvents.ClientEventDisconnect) (ctx, cc, flags) -> {
                    disconnectsB.add(cc + ":" + flags);
                    return S;
                }, "B").assertInline(S);
            b = endpoint(rig.tdiB, addressB, "b");
            a = endpoint(rig.tdiA, addressA, "a");
            connectAgain(rig, port);
        }

        void connectAgain(TdiRig rig, int port) {
            TdiConnectionInformation heard = new TdiConnectionInformation();
            Req l = listen(rig.tdiB, b, 0, heard);
            l.assertPending();
            rig.runUntil(() -> addressB.listenState == 2, 5, "B listening");
            TdiConnectionInformation reached = new TdiConnectionInformation();
            Req c = connect(rig.tdiA, a, TdiRig.B_IP, port, Tdi.TIMEOUT_DEFAULT, reached);
            c.assertPending();
            rig.runUntil(() -> c.done() && l.done(), 10, "connect + listen");
            c.assertCompleted(S);
            l.assertCompleted(S);
            assertEquals(TdiRig.B_IP, reached.remoteIp(), "TDI_CONNECT's ReturnConnectionInformation");
            assertEquals(port, reached.remotePort());
            assertEquals(TdiRig.A_IP, heard.remoteIp(), "TDI_LISTEN's ReturnConnectionInformation");
            assertEquals(addressA.port(), heard.remotePort());
        }
    }

    @Test
    void listenConnectSendReceiveThenControlledDisconnectAndTheEndpointsAreReusable_tdiDisconnect() {
        try (TdiRig rig = new TdiRig(dir)) {
            Link link = new Link(rig, 5001);
            for (int round = 0; round < 2; round++) {
                ByteBuffer hello = direct("hello " + round);
                Req s = send(rig.tdiA, link.a, hello, 0);
                s.assertPending();
                ByteBuffer into = ByteBuffer.allocateDirect(100);
                Req r = receive(rig.tdiB, link.b, into, Tdi.TDI_RECEIVE_NORMAL);
                rig.runUntil(() -> s.done() && r.done(), 10, "send/receive");
                s.assertCompleted(S);
                assertEquals(hello.remaining(), s.information(), "TDI_SEND Information = bytes sent");
                r.assertCompleted(S);
                assertEquals("hello " + round, text(into, (int) r.information()));

                // The controlled disconnect, initiated by A in round 0 and by B in round 1: the initiator
                // releases, the other side hears ClientEventDisconnect(RELEASE) and answers with its own
                // TDI_DISCONNECT(RELEASE); both complete once both sides are done.
                boolean aFirst = round == 0;
                TdiProvider initiator = aFirst ? rig.tdiA : rig.tdiB;
                TdiProvider responder = aFirst ? rig.tdiB : rig.tdiA;
                TdiConnection initiating = aFirst ? link.a : link.b;
                TdiConnection responding = aFirst ? link.b : link.a;
                List<String> heard = aFirst ? link.disconnectsB : link.disconnectsA;
                List<String> quiet = aFirst ? link.disconnectsA : link.disconnectsB;
                int quietBefore = quiet.size();
                Req first = disconnect(initiator, initiating, Tdi.TDI_DISCONNECT_RELEASE, Tdi.relativeTimeout(5000));
                first.assertPending();
                int n = heard.size();
                rig.runUntil(() -> heard.size() > n, 10, "ClientEventDisconnect on the responder");
                assertEquals(responding.context() + ":" + Tdi.TDI_DISCONNECT_RELEASE, heard.get(n));
                assertTrue(!first.done(), "the initiator's release waits for the other side");
                ByteBuffer late = ByteBuffer.allocateDirect(10);
                Req afterFin = receive(responder, responding, late, 0);
                afterFin.assertInline(NtStatus.STATUS_GRACEFUL_DISCONNECT);
                Req second = disconnect(responder, responding, Tdi.TDI_DISCONNECT_RELEASE, Tdi.TIMEOUT_DEFAULT);
                rig.runUntil(() -> first.done() && second.done(), 10, "both releases");
                first.assertCompleted(S);
                second.assertCompleted(S);
                assertTrue(link.a.idle() && link.b.idle(), "both endpoints idle again");
                assertEquals(quietBefore, quiet.size(), "the initiator hears no disconnect event");
                // Reusable for a new listen and connect (after the TIME_WAIT of 50 ms: same 4-tuple).
                rig.runFor(100);
                link.connectAgain(rig, 5001);
            }
        }
    }

    @Test
    void associateAndDisassociateRules_tdiAssociateAddress() {
        try (TdiRig rig = new TdiRig(dir)) {
            TdiProvider p = rig.tdiA;
            TdiAddress address = p.openAddress(0, 6000);
            TdiException taken = assertThrows(TdiException.class, () -> p.openAddress(0, 6000));
            assertEquals(NtStatus.STATUS_ADDRESS_ALREADY_EXISTS, taken.status());
            TdiException foreign = assertThrows(TdiException.class, () -> p.openAddress(TdiRig.B_IP, 6001));
            assertEquals(NtStatus.STATUS_INVALID_ADDRESS, foreign.status());
            TdiAddress ephemeral = p.openAddress(TdiRig.A_IP, 0);
            assertTrue(ephemeral.port() >= 49152 && ephemeral.port() <= 65535, "port 0 = ephemeral");

            TdiConnection c = p.openConnection("ctx");
            Req r = new Req();
            TdiBuild.disassociateAddress(r.irp, c, r.routine, null);
            r.call(p);
            r.assertInline(NtStatus.STATUS_INVALID_CONNECTION);
            Req conn = connect(p, c, TdiRig.B_IP, 9, Tdi.TIMEOUT_DEFAULT, null);
            conn.assertInline(NtStatus.STATUS_INVALID_CONNECTION);
            Req lis = listen(p, c, 0, null);
            lis.assertInline(NtStatus.STATUS_INVALID_CONNECTION);
            Req dis = disconnect(p, c, Tdi.TDI_DISCONNECT_ABORT, 0);
            dis.assertInline(NtStatus.STATUS_INVALID_CONNECTION);

            TdiBuild.associateAddress(r.irp, c, r.routine, null, address);
            r.call(p);
            r.assertInline(S);
            TdiBuild.associateAddress(r.irp, c, r.routine, null, ephemeral);
            r.call(p);
            r.assertInline(NtStatus.STATUS_INVALID_CONNECTION);
            Req noConnection = disconnect(p, c, Tdi.TDI_DISCONNECT_RELEASE, 0);
            noConnection.assertInline(NtStatus.STATUS_INVALID_CONNECTION);
            Req sendIdle = send(p, c, direct("x"), 0);
            sendIdle.assertInline(NtStatus.STATUS_INVALID_CONNECTION);

            Req l = listen(p, c, 0, null);
            l.assertPending();
            TdiBuild.disassociateAddress(r.irp, c, r.routine, null);
            r.call(p);
            r.assertInline(NtStatus.STATUS_INVALID_CONNECTION); // not while active
            Req stop = disconnect(p, c, Tdi.TDI_DISCONNECT_ABORT, 0);
            stop.assertInline(S);
            l.assertCompleted(NtStatus.STATUS_CANCELLED); // ABORT cancels a pending listen
            TdiBuild.disassociateAddress(r.irp, c, r.routine, null);
            r.call(p);
            r.assertInline(S);

            Req q = new Req();
            TdiBuild.queryInformation(q.irp, address, q.routine, null, Tdi.TDI_QUERY_ADDRESS_INFO);
            q.call(p);
            q.assertInline(S);
            assertEquals(new TdiAddressInfo(0, TdiRig.A_IP, 6000), q.object());
            IllegalStateException twice = assertThrows(IllegalStateException.class, () -> {
                Req busy = listen(p, endpoint(p, address, "x"), 0, null);
                p.callDriver(busy.irp); // still in progress
            });
            assertTrue(twice.getMessage().contains("in progress"));
        }
    }

    @Test
    void connectOutcomes_refusedUnreachableAndTimedOut_tdiConnect() {
        try (TdiRig rig = new TdiRig(dir)) {
            TdiProvider p = rig.tdiA;
            TdiConnection c = endpoint(p, p.openAddress(0, 0), "c");
            Req refused = connect(p, c, TdiRig.B_IP, 7777, Tdi.TIMEOUT_DEFAULT, null);
            rig.runUntil(refused::done, 10, "refused");
            refused.assertCompleted(NtStatus.STATUS_CONNECTION_REFUSED);
            assertTrue(c.idle(), "a failed connect leaves the endpoint idle");

            Req offNet = connect(p, c, Ipv4Address.parse("192.0.2.1"), 80, Tdi.TIMEOUT_DEFAULT, null);
            rig.runUntil(offNet::done, 10, "no route");
            offNet.assertCompleted(NtStatus.STATUS_NETWORK_UNREACHABLE);

            // Nobody at 10.13.0.9: ARP would give up in seconds; our 150 ms time-out ends it first.
            long start = System.nanoTime();
            Req timed = connect(p, c, Ipv4Address.parse("10.13.0.9"), 80, Tdi.relativeTimeout(150), null);
            timed.assertPending();
            rig.runUntil(timed::done, 10, "time-out");
            long ms = (System.nanoTime() - start) / 1_000_000;
            timed.assertCompleted(NtStatus.STATUS_REQUEST_TIMED_OUT);
            assertTrue(ms >= 150 && ms < 2000, "timed out after " + ms + " ms");
            assertTrue(c.idle());

            Req bad = connect(p, c, TdiRig.B_IP, 80, 1_000_000L, null);
            bad.assertInline(NtStatus.STATUS_INVALID_PARAMETER); // absolute times are not taken
        }
    }

    /**
     * IoCallDriver from a thread that is not the dispatch thread: the request is queued and returns
     * STATUS_PENDING, and completes (once) on the dispatch thread; TdiReturnChainedReceives from another thread is
     * queued the same way. Then the provider runs its own dispatcher thread.
     */
    @Test
    void requestsFromOtherThreadsAreQueuedAndCompleteOnTheDispatchThread() throws Exception {
        try (TdiRig rig = new TdiRig(dir)) {
            Link link = new Link(rig, 5002);
            List<Tsdu> kept = new ArrayList<>();
            setEvent(rig.tdiB, link.addressB, Tdi.TDI_EVENT_CHAINED_RECEIVE,
                (TdiEvents.ClientEventChainedReceive) (ctx, cc, flags, length, offset, tsdu) -> {
                    kept.add(tsdu);
                    return NtStatus.STATUS_PENDING;
                }, null).assertInline(S);
            ByteBuffer data = direct("from elsewhere");
            Req s = new Req();
            TdiBuild.send(s.irp, link.a, s.routine, null, TdiRig.addressOf(data), 0, data.remaining());
            Thread other = new Thread(() -> s.call(rig.tdiA));
            other.start();
            other.join();
            s.assertPending();
            rig.runUntil(() -> s.done() && !kept.isEmpty(), 10, "queued send");
            s.assertCompleted(S);
            assertEquals(Thread.currentThread(), s.completedOn, "completed on the dispatch thread");
            NtStatus[] returned = {null};
            Thread returner = new Thread(() -> returned[0] = rig.tdiB.returnChainedReceives(
                kept.toArray(new Tsdu[0]), kept.size()));
            returner.start();
            returner.join();
            assertEquals(S, returned[0]);
            rig.runUntil(() -> rig.tdiB.heldChainedReceives() == 0, 10, "returned through the queue");

            rig.tdiA.startDispatcherThread();
            assertTrue(!rig.tdiA.onDispatchThread());
            Req s2 = new Req();
            TdiBuild.send(s2.irp, link.a, s2.routine, null, TdiRig.addressOf(data), 0,
                data.remaining());
            s2.call(rig.tdiA);
            s2.assertPending();
            rig.runUntil(() -> s2.done() && kept.size() == 2, 10, "send through the dispatcher thread");
            s2.assertCompleted(S);
            assertTrue(s2.completedOn != Thread.currentThread(), "completed on the provider's own thread");
            rig.tdiB.returnChainedReceives(new Tsdu[] {kept.get(1)}, 1);
            Reference.reachabilityFence(data); // the sends read it by address until they completed
        }
    }

    /**
     * IoCancelIrp that overtakes its request: a receive queued from another thread is cancelled, and the cancel is
     * carried out in a round before the one that runs the receive (the cancel finds nothing to cancel then). The
     * receive must still complete STATUS_CANCELLED once it has run, not wait for data. Made deterministic with the
     * round's request limit: the request queue is full (4,096 queries from another thread), the first query's
     * routine, run inside the round's drain, has a third thread queue the receive into the slot it freed and cancel
     * it; the drain stops at its limit before the receive, and the cancel queue is drained later in that round.
     */
    @Test
    void aCancelCarriedOutBeforeItsQueuedRequestRanTakesEffectOnceTheRequestRuns() throws Exception {
        try (TdiRig rig = new TdiRig(dir)) {
            Link link = new Link(rig, 5006);
            ByteBuffer into = ByteBuffer.allocateDirect(10);
            Req receive = new Req();
            receive.memory = into;
            TdiBuild.receive(receive.irp, link.b, receive.routine, null, TdiRig.addressOf(into), 0, into.capacity());
            int limit = TdiProvider.QUEUE_CAPACITY; // the queue's size and a round's drain limit
            Req[] queries = new Req[limit];
            boolean[] overtaken = new boolean[1];
            for (int i = 0; i < limit; i++) {
                queries[i] = new Req();
                TdiBuild.queryInformation(queries[i].irp, link.addressB, queries[i].routine, null,
                    Tdi.TDI_QUERY_ADDRESS_INFO);
            }
            TdiBuild.queryInformation(queries[0].irp, link.addressB, (irp, context) -> {
                queries[0].routine.onComplete(irp, context);
                Thread third = new Thread(() -> {
                    receive.call(rig.tdiB); // queued: not the dispatch thread
                    overtaken[0] = receive.irp.cancel();
                });
                third.start();
                try {
                    third.join();
                } catch (InterruptedException e) {
                    throw new AssertionError(e);
                }
            }, null, Tdi.TDI_QUERY_ADDRESS_INFO);
            Thread other = new Thread(() -> {
                for (Req q : queries) {
                    q.call(rig.tdiB);
                }
            });
            other.start();
            other.join();
            for (Req q : queries) {
                q.assertPending(); // queued, none run yet: the test thread is B's dispatch thread
            }
            rig.tdiB.dispatch(); // one round: 4,096 queries run, the receive waits, its cancel is carried out
            assertTrue(overtaken[0], "the receive was in progress when cancelled");
            assertTrue(receive.irp.inProgress() && !receive.done(),
                "the receive has not run yet: its cancel was carried out before it (else this tests nothing)");
            for (Req q : queries) {
                q.assertCompleted(S);
            }
            rig.runUntil(receive::done, 5, "the overtaken cancel completes the receive once it has run");
            receive.assertCompleted(NtStatus.STATUS_CANCELLED);

            Req s = send(rig.tdiA, link.a, direct("still connected"), 0);
            Req r2 = receive(rig.tdiB, link.b, into, 0);
            rig.runUntil(() -> s.done() && r2.done(), 5, "the connection goes on");
            r2.assertCompleted(S);
            Reference.reachabilityFence(into);
        }
    }

    /** IoCancelIrp (from another thread): a pending receive, listen and connect complete STATUS_CANCELLED once. */
    @Test
    void cancelCompletesPendingReceiveListenAndConnectWithStatusCancelled_ioCancelIrp() throws Exception {
        try (TdiRig rig = new TdiRig(dir)) {
            Link link = new Link(rig, 5003);
            ByteBuffer into = ByteBuffer.allocateDirect(10);
            Req r = receive(rig.tdiB, link.b, into, 0);
            r.assertPending();
            Thread other = new Thread(r.irp::cancel);
            other.start();
            other.join();
            rig.runUntil(r::done, 5, "cancelled receive");
            r.assertCompleted(NtStatus.STATUS_CANCELLED);
            assertTrue(!r.irp.cancel(), "a completed IRP is not cancelled again");
            Req s = send(rig.tdiA, link.a, direct("still connected"), 0);
            Req r2 = receive(rig.tdiB, link.b, into, 0);
            rig.runUntil(() -> s.done() && r2.done(), 5, "the connection goes on");
            r2.assertCompleted(S);

            TdiAddress spare = rig.tdiB.openAddress(0, 5004);
            TdiConnection listener = endpoint(rig.tdiB, spare, "l");
            Req l = listen(rig.tdiB, listener, 0, null);
            assertTrue(l.irp.cancel());
            l.assertCompleted(NtStatus.STATUS_CANCELLED);
            assertTrue(listener.idle());

            TdiConnection dialer = endpoint(rig.tdiA, rig.tdiA.openAddress(0, 0), "d");
            Req c = connect(rig.tdiA, dialer, io.fastpath.stack.wire.Ipv4Address.parse("10.13.0.9"), 80, 0, null);
            c.assertPending();
            assertTrue(c.irp.cancel());
            c.assertCompleted(NtStatus.STATUS_CANCELLED);
            assertTrue(dialer.idle());
        }
    }
}
