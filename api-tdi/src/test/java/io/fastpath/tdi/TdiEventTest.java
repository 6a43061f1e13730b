package io.fastpath.tdi;

import io.fastpath.provider.NtStatus;
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
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.dpdk.Mbuf;
import io.fastpath.stack.tcp.TcpConfig;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Client event handlers between two fastpath stacks on a DPDK ring pair: ClientEventConnect (accept with an
 * AcceptIrp, refuse), TDI_QUERY_ACCEPT delayed acceptance, ClientEventChainedReceive and ClientEventReceive with
 * each return code, expedited data, ClientEventDisconnect / Error / SendPossible, TDI_DISCONNECT ABORT and
 * RELEASE with time-outs (learn.microsoft.com previous-versions/windows/hardware/network: ClientEventConnect,
 * ClientEventChainedReceive, ClientEventReceive, TDI_DISCONNECT, TDI_SEND, TDI_RECEIVE).
 */
class TdiEventTest {
    private static final NtStatus S = NtStatus.STATUS_SUCCESS;
    private static final int PORT = 5100;

    @TempDir
    Path dir;

    /** B serves PORT through ClientEventConnect, accepting onto endpoint {@code b}; A connects endpoint {@code a}. */
    static final class Pair {
        final TdiRig rig;
        final TdiAddress addressA;
        final TdiAddress addressB;
        final TdiConnection a;
        final TdiConnection b;
        final Req accept = new Req();
        final List<String> log = new ArrayList<>();
        NtStatus connectAnswer = NtStatus.STATUS_MORE_PROCESSING_REQUIRED;
        String connectData;
        /** The accept IRP's RequestConnectionInformation (connect data for the peer), or null. */
        TdiConnectionInformation acceptInfo;
        final List<Long> connectOptions = new ArrayList<>();
        final List<Integer> disconnectsA = new ArrayList<>();
        final List<Integer> disconnectsB = new ArrayList<>();
        final List<NtStatus> errorsB = new ArrayList<>();

        Pair(TdiRig rig) {
            this.rig = rig;
            addressB = rig.tdiB.openAddress(0, PORT);
            addressA = rig.tdiA.openAddress(0, 0);
            b = endpoint(rig.tdiB, addressB, "ctx-b-open");
            a = endpoint(rig.tdiA, addressA, "ctx-a");
            setEvent(rig.tdiB, addressB, Tdi.TDI_EVENT_DISCONNECT,
                (TdiEvents.ClientEventDisconnect) (ctx, cc, flags) -> {
                    disconnectsB.add(flags);
                    log.add("disconnect " + flags);
                    return S;
                }, null).assertInline(S);
            setEvent(rig.tdiA, addressA, Tdi.TDI_EVENT_DISCONNECT,
                (TdiEvents.ClientEventDisconnect) (ctx, cc, flags) -> {
                    disconnectsA.add(flags);
                    return S;
                }, null).assertInline(S);
            setEvent(rig.tdiB, addressB, Tdi.TDI_EVENT_ERROR, (TdiEvents.ClientEventError) (ctx, status) -> {
                errorsB.add(status);
                return S;
            }, null).assertInline(S);
            Req connectEvent = setEvent(rig.tdiB, addressB, Tdi.TDI_EVENT_CONNECT,
                (TdiEvents.ClientEventConnect) (ctx, ip, port, dataLength, data, optLength, opts, out) -> {
                    log.add("connect " + (ip == TdiRig.A_IP) + " " + ctx);
                    connectOptions.add((long) optLength);
                    connectOptions.add(opts);
                    if (dataLength > 0) {
                        connectData = new UnsafeBuffer(data, dataLength).getStringWithoutLengthAscii(0, dataLength);
                    }
                    if (connectAnswer == NtStatus.STATUS_MORE_PROCESSING_REQUIRED) {
                        TdiBuild.accept(accept.irp, b, accept.routine, null, acceptInfo, null);
                        accept.submissions++;
                        out.acceptIrp(accept.irp).connectionContext("ctx-b");
                    }
                    return connectAnswer;
                }, "event-ctx");
            rig.runUntil(connectEvent::done, 5, "listening for ClientEventConnect");
            connectEvent.assertCompleted(S);
        }

        Req connectA() {
            return connect(rig.tdiA, a, TdiRig.B_IP, PORT, Tdi.TIMEOUT_DEFAULT, null);
        }

        void connectAndAccept() {
            Req c = connectA();
            rig.runUntil(() -> c.done() && accept.done(), 10, "connect + accept");
            c.assertCompleted(S);
            accept.assertCompleted(S);
        }

        void chained(TdiEvents.ClientEventChainedReceive handler) {
            setEvent(rig.tdiB, addressB, Tdi.TDI_EVENT_CHAINED_RECEIVE, handler, "chain-ctx").assertInline(S);
        }
    }

    @Test
    void clientEventConnectAcceptsWithAnAcceptIrpAndChainedReceivesAreZeroCopy_clientEventChainedReceive() {
        try (TdiRig rig = new TdiRig(dir)) {
            Pair p = new Pair(rig);
            List<String> seen = new ArrayList<>();
            int[] zeroCopy = {0};
            p.chained((ctx, cc, flags, length, offset, tsdu) -> {
                assertEquals("chain-ctx", ctx);
                assertEquals(Tdi.TDI_RECEIVE_NORMAL | Tdi.TDI_RECEIVE_ENTIRE_MESSAGE | Tdi.TDI_RECEIVE_AT_DISPATCH_LEVEL,
                    flags);
                for (int i = 0; i < tsdu.segmentCount(); i++) {
                    long m = tsdu.segmentMbuf(i);
                    long at = tsdu.segmentAddress(i);
                    assertTrue(m != 0 && at >= Mbuf.bufAddr(m) && at + tsdu.segmentLength(i) <= Mbuf.bufAddr(m)
                        + Mbuf.bufLen(m), "the indicated bytes lie inside the received mbuf");
                    zeroCopy[0]++;
                }
                assertEquals(length, tsdu.receiveLength());
                seen.add(cc + "=" + new String(tsdu.toByteArray(), StandardCharsets.US_ASCII));
                return S;
            });
            p.connectAndAccept();
            assertEquals(List.of("connect true event-ctx"), p.log);
            assertEquals("ctx-b", p.b.context(), "ClientEventConnect's ConnectionContext");
            Req s = send(rig.tdiA, p.a, direct("zero copy"), 0);
            rig.runUntil(() -> !seen.isEmpty(), 10, "chained receive");
            s.assertCompleted(S);
            assertEquals(List.of("ctx-b=zero copy"), seen);
            assertTrue(zeroCopy[0] > 0);
            assertEquals(0, rig.tdiB.heldChainedReceives());
        }
    }

    /**
     * TDI_CONNECT with connect data (UserData) between two fastpath stacks: it rides on TCP Fast Open. The first
     * connection fetches a cookie (the data follows the handshake: no connect data on the server), the second
     * carries it in the SYN, and the server's ClientEventConnect sees it as connect data while the SYN is held.
     * The SYN-ACK does not acknowledge it (the listener decides before it takes data), so A's stack sends it
     * again after the handshake: both times the bytes are indicated once, as the connection's first data.
     */
    @Test
    void connectDataRidesInTheSynAndIsClientEventConnectsUserData_rfc7413() {
        try (TdiRig rig = new TdiRig(dir)) {
            Pair p = new Pair(rig);
            List<String> received = new ArrayList<>();
            p.chained((ctx, cc, flags, length, offset, tsdu) -> {
                received.add(new String(tsdu.toByteArray(), StandardCharsets.US_ASCII));
                return S;
            });
            List<String> connectData = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                p.connectData = null;
                ByteBuffer data = direct("fast open " + i);
                TdiConnectionInformation to = new TdiConnectionInformation(TdiRig.B_IP, PORT)
                    .userData(TdiRig.addressOf(data), data.remaining());
                Req c = new Req();
                TdiBuild.connect(c.irp, p.a, c.routine, null, Tdi.TIMEOUT_DEFAULT, to, null);
                c.call(rig.tdiA);
                int n = i + 1;
                rig.runUntil(() -> c.done() && p.accept.done() && received.size() == n, 10, "connect " + i);
                c.assertCompleted(S);
                assertEquals("fast open " + i, received.get(i), "the data is the stream's first bytes");
                Reference.reachabilityFence(data); // the connect data's memory, read by address until here
                connectData.add(String.valueOf(p.connectData));
                Req abort = disconnect(rig.tdiA, p.a, Tdi.TDI_DISCONNECT_ABORT, 0);
                abort.assertInline(S);
                rig.runUntil(p.b::idle, 10, "B idle");
                p.accept.irp.reuse();
                p.accept.submissions = p.accept.completions;
            }
            assertEquals(List.of("null", "fast open 1"), connectData);
            assertEquals(2, received.size(), "each connection's data once in the stream");
            assertEquals(1, rig.a.counters().tcpFastOpenSynDataSent.get());
            assertEquals(0, rig.b.counters().tcpFastOpenSynDataAccepted.get(), "held SYNs' data is not taken");
            assertEquals(1, rig.a.counters().tcpFastOpenFallbacks.get(), "A sent it again after the handshake");
        }
    }

    /**
     * Connect data in the accept IRP (ClientEventConnect's, and a TDI_ACCEPT after TDI_QUERY_ACCEPT) reaches the
     * peer: "the transport notifies the remote node of the acceptance, transmitting any connect data that its
     * client supplied in the accept IRP" (ClientEventConnect). TCP has no room for it in our SYN-ACK, so it is the
     * stream's first bytes, before anything B sends. ClientEventConnect's OptionsLength/Options: 0 and NULL, a
     * TCP offer has no option string.
     */
    @Test
    void acceptConnectDataReachesThePeerFirstAndOffersHaveNoOptions_clientEventConnectTdiAccept() {
        try (TdiRig rig = new TdiRig(dir)) {
            Pair p = new Pair(rig);
            ByteBuffer welcome = direct("welcome;");
            p.acceptInfo = new TdiConnectionInformation().userData(TdiRig.addressOf(welcome), 8);
            p.connectAndAccept();
            assertEquals(List.of(0L, 0L), p.connectOptions, "OptionsLength 0, Options NULL");
            Req after = send(rig.tdiB, p.b, direct("then data"), 0);
            rig.runUntil(after::done, 10, "B's send");
            assertEquals("welcome;then data", receiveAll(rig, rig.tdiA, p.a, 17));
            Reference.reachabilityFence(welcome); // connect data, read by address until here

            // TDI_LISTEN(TDI_QUERY_ACCEPT) + TDI_ACCEPT with connect data, on a second pair of endpoints.
            TdiAddress addressB2 = rig.tdiB.openAddress(0, PORT + 1);
            TdiConnection b2 = endpoint(rig.tdiB, addressB2, "b2");
            TdiConnection a2 = endpoint(rig.tdiA, rig.tdiA.openAddress(0, 0), "a2");
            Req l = listen(rig.tdiB, b2, Tdi.TDI_QUERY_ACCEPT, null);
            rig.runUntil(() -> addressB2.listenState == 2, 5, "listening");
            Req c = connect(rig.tdiA, a2, TdiRig.B_IP, PORT + 1, 0, null);
            rig.runUntil(l::done, 10, "offer; A's connect: " + c.done());
            ByteBuffer hello = direct("hello from the acceptor");
            Req acc = new Req();
            TdiBuild.accept(acc.irp, b2, acc.routine, null,
                new TdiConnectionInformation().userData(TdiRig.addressOf(hello), 23), null);
            acc.call(rig.tdiB);
            rig.runUntil(() -> acc.done() && c.done(), 10, "handshake and connect data");
            acc.assertCompleted(S);
            c.assertCompleted(S);
            assertEquals("hello from the acceptor", receiveAll(rig, rig.tdiA, a2, 23));
            Reference.reachabilityFence(hello);
        }
    }

    /**
     * Review 11 finding 1, in TDI: a TDI_CONNECT with connect data cancelled before the stack took its request
     * (which points at the caller's buffer) completes STATUS_CANCELLED only once the stack has taken it, so the
     * buffer is never read after the IRP completed; once.
     */
    @Test
    void aConnectWithDataCancelledBeforeTheStackTookItCompletesOnlyAfterwards_ioCancelIrp() {
        try (TdiRig rig = new TdiRig(dir)) {
            Pair p = new Pair(rig);
            ByteBuffer data = direct("connect data");
            TdiConnectionInformation to = new TdiConnectionInformation(TdiRig.B_IP, PORT)
                .userData(TdiRig.addressOf(data), data.remaining());
            Req c = new Req();
            // What the stack had done when the IRP completed: it counts the active open while it takes the CONNECT
            // record, before its ring's consumer position passes the record (what the provider waits for).
            long[] opensAtCompletion = {-1};
            IoCompletionRoutine routine = (i, context) -> {
                opensAtCompletion[0] = rig.a.counters().tcpActiveOpens.get();
                c.routine.onComplete(i, context);
            };
            TdiBuild.connect(c.irp, p.a, routine, null, Tdi.TIMEOUT_DEFAULT, to, null);
            assertEquals(NtStatus.STATUS_PENDING, c.call(rig.tdiA));
            // A's poll thread may or may not have taken the CONNECT record yet: if not, the cancel must wait for it
            assertTrue(c.irp.cancel());
            rig.runUntil(c::done, 5, "cancelled once the stack took the request");
            assertEquals(1, opensAtCompletion[0], "completed while the stack may still read the connect data");
            c.assertCompleted(NtStatus.STATUS_CANCELLED);
            rig.runUntil(p.a::idle, 5, "A idle");
            assertEquals(1, c.completions);
            Reference.reachabilityFence(data); // the connect data, read by address until the stack took it
        }
    }

    /**
     * Review 11 finding 7: connect data in an accept IRP is bounded by the send buffer, which takes it at once
     * after the handshake, so the accept never waits on the peer's window (it could not be cancelled then). More
     * is refused with STATUS_INVALID_PARAMETER: a TDI_ACCEPT at once (the offer stays, a TDI_ACCEPT with less
     * data then accepts), ClientEventConnect's accept IRP as an unusable one (the request refused,
     * ClientEventError).
     */
    @Test
    void connectDataLargerThanTheSendBufferIsRefusedNotLeftPending_tdiAccept() {
        try (TdiRig rig = new TdiRig(dir)) {
            int tooMuch = TcpConfig.defaults().sendBufferBytes() + 64 * 1024;
            ByteBuffer big = ByteBuffer.allocateDirect(tooMuch);
            Pair p = new Pair(rig);
            p.acceptInfo = new TdiConnectionInformation().userData(TdiRig.addressOf(big), tooMuch);
            Req refused = p.connectA();
            rig.runUntil(() -> refused.done() && p.accept.done(), 10, "connect refused, accept IRP failed");
            refused.assertCompleted(NtStatus.STATUS_CONNECTION_REFUSED);
            p.accept.assertCompleted(NtStatus.STATUS_INVALID_PARAMETER);
            assertEquals(List.of(NtStatus.STATUS_INVALID_PARAMETER), p.errorsB);

            TdiAddress addressB2 = rig.tdiB.openAddress(0, PORT + 1);
            TdiConnection b2 = endpoint(rig.tdiB, addressB2, "b2");
            TdiConnection a2 = endpoint(rig.tdiA, rig.tdiA.openAddress(0, 0), "a2");
            Req l = listen(rig.tdiB, b2, Tdi.TDI_QUERY_ACCEPT, null);
            rig.runUntil(() -> addressB2.listenState == 2, 5, "listening");
            Req c = connect(rig.tdiA, a2, TdiRig.B_IP, PORT + 1, 0, null);
            rig.runUntil(l::done, 10, "offer");
            Req tooBig = new Req();
            TdiBuild.accept(tooBig.irp, b2, tooBig.routine, null,
                new TdiConnectionInformation().userData(TdiRig.addressOf(big), tooMuch), null);
            tooBig.call(rig.tdiB);
            rig.runUntil(tooBig::done, 1, "refused");
            tooBig.assertCompleted(NtStatus.STATUS_INVALID_PARAMETER);
            ByteBuffer hello = direct("hello");
            Req acc = new Req();
            TdiBuild.accept(acc.irp, b2, acc.routine, null,
                new TdiConnectionInformation().userData(TdiRig.addressOf(hello), 5), null);
            acc.call(rig.tdiB);
            rig.runUntil(() -> acc.done() && c.done(), 10, "the offer stayed: accepted");
            acc.assertCompleted(S);
            c.assertCompleted(S);
            assertEquals("hello", receiveAll(rig, rig.tdiA, a2, 5));
            Reference.reachabilityFence(big); // connect data offered by address until here
            Reference.reachabilityFence(hello);
        }
    }

    private static String receiveAll(TdiRig rig, TdiProvider tdi, TdiConnection c, int bytes) {
        StringBuilder got = new StringBuilder();
        ByteBuffer into = ByteBuffer.allocateDirect(64);
        while (got.length() < bytes) {
            Req r = receive(tdi, c, into, 0);
            rig.runUntil(r::done, 10, "receive, have '" + got + "'");
            r.assertCompleted(S);
            got.append(text(into, (int) r.information()));
        }
        return got.toString();
    }

    /**
     * ClientEventConnect runs while the stack holds the SYN: refusing (CONNECTION_REFUSED, INSUFFICIENT_RESOURCES)
     * answers it with a RST, so A's TDI_CONNECT fails with STATUS_CONNECTION_REFUSED (it never connected: no
     * disconnect event). An unusable accept IRP refuses too, with ClientEventError.
     */
    @Test
    void clientEventConnectRefusalsRefuseThePeersConnect_clientEventConnect() {
        for (NtStatus answer : new NtStatus[] {NtStatus.STATUS_CONNECTION_REFUSED,
            NtStatus.STATUS_INSUFFICIENT_RESOURCES}) {
            try (TdiRig rig = new TdiRig(dir)) {
                Pair p = new Pair(rig);
                p.connectAnswer = answer;
                Req c = p.connectA();
                rig.runUntil(c::done, 10, "refused");
                c.assertCompleted(NtStatus.STATUS_CONNECTION_REFUSED);
                assertTrue(p.a.idle(), "A's endpoint is idle");
                rig.runFor(50);
                assertEquals(List.of(), p.disconnectsA, "A never connected: no reset to indicate");
                assertEquals(List.of("connect true event-ctx"), p.log);
                assertFalse(p.accept.done());
                assertTrue(p.b.idle());
                assertEquals(1, rig.tdiB.offersRefused);
                assertEquals(0, rig.b.counters().tcpConnections.get(), "nothing left in B's stack");
            }
        }
        try (TdiRig rig = new TdiRig(dir)) {
            Pair p = new Pair(rig);
            TdiConnection busy = p.b;
            Req l = listen(rig.tdiB, busy, Tdi.TDI_QUERY_ACCEPT, null); // b is busy: the accept IRP is not valid
            Req first = p.connectA();
            rig.runUntil(l::done, 10, "offered to the listen");
            assertFalse(first.done(), "A's SYN is held until TDI_ACCEPT");
            Req c2 = connect(rig.tdiA, endpoint(rig.tdiA, rig.tdiA.openAddress(0, 0), "a2"), TdiRig.B_IP, PORT,
                0, null);
            rig.runUntil(() -> c2.done() && !p.errorsB.isEmpty(), 10, "ClientEventError");
            c2.assertCompleted(NtStatus.STATUS_CONNECTION_REFUSED);
            assertEquals(List.of(NtStatus.STATUS_INVALID_CONNECTION), p.errorsB);
            p.accept.assertCompleted(NtStatus.STATUS_INVALID_CONNECTION);
            rig.runUntil(first::done, 5, "the offer expires");
            first.assertCompleted(NtStatus.STATUS_CONNECTION_REFUSED);
        }
    }

    /**
     * TDI_QUERY_ACCEPT: the listen completes on the held SYN; A's connect waits (no SYN-ACK) until TDI_ACCEPT,
     * which completes once the handshake did. Rejected by TDI_DISCONNECT, or left unanswered for about a second,
     * the SYN gets a RST: A's connect fails with STATUS_CONNECTION_REFUSED.
     */
    @Test
    void delayedAcceptanceAcceptedThenRejected_tdiQueryAccept() {
        try (TdiRig rig = new TdiRig(dir)) {
            TdiAddress addressB = rig.tdiB.openAddress(0, PORT);
            TdiAddress addressA = rig.tdiA.openAddress(0, 0);
            TdiConnection b = endpoint(rig.tdiB, addressB, "b");
            TdiConnection a = endpoint(rig.tdiA, addressA, "a");
            List<String> received = new ArrayList<>();
            setEvent(rig.tdiB, addressB, Tdi.TDI_EVENT_RECEIVE,
                (TdiEvents.ClientEventReceive) (ctx, cc, flags, indicated, available, tsdu, out) -> {
                    received.add(new UnsafeBuffer(tsdu, indicated).getStringWithoutLengthAscii(0, indicated));
                    out.bytesTaken(indicated);
                    return S;
                }, null).assertInline(S);
            List<Integer> disconnectsA = new ArrayList<>();
            setEvent(rig.tdiA, addressA, Tdi.TDI_EVENT_DISCONNECT,
                (TdiEvents.ClientEventDisconnect) (ctx, cc, flags) -> {
                    disconnectsA.add(flags);
                    return S;
                }, null).assertInline(S);
            Req l = listen(rig.tdiB, b, Tdi.TDI_QUERY_ACCEPT, null);
            rig.runUntil(() -> addressB.listenState == 2, 5, "listening");
            Req c = connect(rig.tdiA, a, TdiRig.B_IP, PORT, 0, null);
            rig.runUntil(l::done, 10, "offer");
            l.assertCompleted(S);
            rig.runFor(100);
            assertFalse(c.done(), "no SYN-ACK before TDI_ACCEPT: A's connect waits");
            assertFalse(b.connected());
            Req acc = new Req();
            TdiBuild.accept(acc.irp, b, acc.routine, null, null, null);
            acc.call(rig.tdiB);
            acc.assertPending();
            rig.runUntil(() -> acc.done() && c.done(), 10, "the handshake after TDI_ACCEPT");
            acc.assertCompleted(S);
            c.assertCompleted(S);
            assertTrue(b.connected());
            send(rig.tdiA, a, direct("accepted"), 0);
            rig.runUntil(() -> !received.isEmpty(), 10, "data after accept");
            assertEquals(List.of("accepted"), received);
            Req abort = disconnect(rig.tdiA, a, Tdi.TDI_DISCONNECT_ABORT, 0);
            abort.assertInline(S);
            rig.runUntil(b::idle, 10, "B sees the abort");

            // Rejected: TDI_DISCONNECT on the offered endpoint refuses A's connect.
            Req l2 = listen(rig.tdiB, b, Tdi.TDI_QUERY_ACCEPT, null);
            rig.runUntil(() -> addressB.listenState == 2, 5, "listening again");
            Req c2 = connect(rig.tdiA, a, TdiRig.B_IP, PORT, 0, null);
            rig.runUntil(l2::done, 10, "second offer");
            assertFalse(c2.done());
            Req reject = disconnect(rig.tdiB, b, Tdi.TDI_DISCONNECT_ABORT, 0);
            reject.assertInline(S);
            assertTrue(b.idle());
            rig.runUntil(c2::done, 10, "A refused");
            c2.assertCompleted(NtStatus.STATUS_CONNECTION_REFUSED);
            accept(rig, b).assertInline(NtStatus.STATUS_INVALID_CONNECTION);

            // Left unanswered: after about a second the transport refuses it itself.
            Req l3 = listen(rig.tdiB, b, Tdi.TDI_QUERY_ACCEPT, null);
            rig.runUntil(() -> addressB.listenState == 2, 5, "listening a third time");
            long offered = System.nanoTime(); // the offer (and its 1 s clock) comes after this
            Req c3 = connect(rig.tdiA, a, TdiRig.B_IP, PORT, 0, null);
            rig.runUntil(l3::done, 10, "third offer");
            rig.runUntil(c3::done, 5, "offer expired");
            long ms = (System.nanoTime() - offered) / 1_000_000;
            c3.assertCompleted(NtStatus.STATUS_CONNECTION_REFUSED);
            assertTrue(ms >= 1000 && ms < 2000, "refused after " + ms + " ms");
            assertTrue(b.idle());
            assertEquals(List.of(), disconnectsA, "refused connects never connected: no reset to indicate");
            assertEquals(2, rig.tdiB.offersRefused);
        }
    }

    /**
     * A held SYN nobody decides in time is dropped by the stack (B's limit: initial RTO 100 ms x (2^2 - 1) = 300
     * ms, before the offer's 1 s): the offered endpoint is idle again and TDI_ACCEPT finds nothing. A is not
     * refused: its SYN was never answered, so it sends it again (after its 1 s RTO), a new request that a new
     * TDI_LISTEN takes.
     */
    @Test
    void aRequestNobodyDecidesIsDroppedAndThePeersRetryIsOfferedAgain_tdiQueryAccept() {
        TcpConfig tcpA = TcpConfig.defaults().withTimeWait(java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(50));
        TcpConfig tcpB = tcpA.withSynRetries(1, java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(100));
        try (TdiRig rig = new TdiRig(dir, tcpA, tcpB)) {
            TdiAddress addressB = rig.tdiB.openAddress(0, PORT);
            TdiConnection b = endpoint(rig.tdiB, addressB, "b");
            TdiConnection a = endpoint(rig.tdiA, rig.tdiA.openAddress(0, 0), "a");
            Req l = listen(rig.tdiB, b, Tdi.TDI_QUERY_ACCEPT, null);
            rig.runUntil(() -> addressB.listenState == 2, 5, "listening");
            long start = System.nanoTime();
            Req c = connect(rig.tdiA, a, TdiRig.B_IP, PORT, 0, null);
            rig.runUntil(l::done, 5, "offer");
            l.assertCompleted(S);
            rig.runUntil(b::idle, 5, "the stack dropped the request");
            long ms = (System.nanoTime() - start) / 1_000_000;
            assertTrue(ms < 1000, "dropped by the stack after " + ms + " ms, before the offer's time-out");
            accept(rig, b).assertInline(NtStatus.STATUS_INVALID_CONNECTION);
            assertFalse(c.done(), "dropped, not refused: A's SYN was never answered");
            Req l2 = listen(rig.tdiB, b, 0, null);
            rig.runUntil(() -> l2.done() && c.done(), 5, "A's retransmitted SYN, taken by the new listen");
            l2.assertCompleted(S);
            c.assertCompleted(S);
            assertTrue(a.connected() && b.connected());
            assertEquals(0, rig.tdiB.offersRefused);
        }
    }

    private static Req accept(TdiRig rig, TdiConnection b) {
        Req acc = new Req();
        TdiBuild.accept(acc.irp, b, acc.routine, null, null, null);
        acc.call(rig.tdiB);
        return acc;
    }

    @Test
    void chainedReceivePendingKeepsTheMbufsUntilReturnedAndDataNotAcceptedWaitsForTdiReceive() {
        try (TdiRig rig = new TdiRig(dir)) {
            Pair p = new Pair(rig);
            List<Tsdu> kept = new ArrayList<>();
            NtStatus[] answer = {NtStatus.STATUS_PENDING};
            int[] calls = {0};
            p.chained((ctx, cc, flags, length, offset, tsdu) -> {
                calls[0]++;
                if (answer[0] == NtStatus.STATUS_PENDING) {
                    kept.add(tsdu);
                }
                return answer[0];
            });
            p.connectAndAccept();
            rig.runFor(100);
            int baseline = rig.pool.inUseCount();
            for (int i = 0; i < 20; i++) {
                Req s = send(rig.tdiA, p.a, direct("message " + i), 0);
                rig.runUntil(() -> s.done() && kept.size() > 0 && heldBytes(kept) >= 0, 10, "send");
                rig.runUntil(() -> totalLength(kept) >= (long) ("message " + 0).length() * 0 + 1, 10, "indication");
            }
            rig.runUntil(() -> totalText(kept).length() == textOf(20).length(), 10, "all kept");
            assertEquals(textOf(20), totalText(kept));
            assertEquals(kept.size(), rig.tdiB.heldChainedReceives());
            int held = rig.pool.inUseCount() - baseline;
            assertTrue(held >= kept.size(), "the kept chains hold their mbufs: " + held + " for " + kept.size());
            // Returned late, in one call: the pool gets them back.
            Tsdu[] descriptors = kept.toArray(new Tsdu[0]);
            assertEquals(S, rig.tdiB.returnChainedReceives(descriptors, descriptors.length));
            assertEquals(NtStatus.STATUS_INVALID_PARAMETER, rig.tdiB.returnChainedReceives(descriptors, 1),
                "a second return is refused");
            rig.runUntil(() -> rig.pool.inUseCount() <= baseline, 10, "mbufs back: " + rig.pool.inUseCount());
            assertEquals(0, rig.tdiB.heldChainedReceives());

            // DATA_NOT_ACCEPTED: the data stays for a TDI_RECEIVE, and no indication comes until it is taken.
            answer[0] = NtStatus.STATUS_DATA_NOT_ACCEPTED;
            int before = calls[0];
            Req s1 = send(rig.tdiA, p.a, direct("first"), 0);
            rig.runUntil(() -> s1.done() && calls[0] == before + 1, 10, "refused indication");
            Req s2 = send(rig.tdiA, p.a, direct("second"), 0);
            rig.runUntil(s2::done, 10, "second send");
            rig.runFor(50);
            assertEquals(before + 1, calls[0], "no indications while refused data waits");
            ByteBuffer into = ByteBuffer.allocateDirect(100);
            Req r = receive(rig.tdiB, p.b, into, 0);
            r.assertInline(S);
            assertEquals("firstsecond", text(into, (int) r.information()));
            answer[0] = S;
            Req s3 = send(rig.tdiA, p.a, direct("third"), 0);
            rig.runUntil(() -> calls[0] == before + 2, 10, "indications again once taken");
            s3.assertCompleted(S);
        }
    }

    /**
     * Memory pressure (issue 10's rule, as WSK's RELEASE_ASAP): a client holding chains (STATUS_PENDING) while the
     * stack's TCP memory (64 mbufs here) reaches three quarters of its budget gets the next data through its
     * ClientEventReceive handler, which copies and gives the mbufs back at once, instead of as one more chain; once
     * the chains are returned, chains come again. No byte is lost or reordered on the way.
     */
    @Test
    void underMemoryPressureDataComesThroughClientEventReceiveInsteadOfChainsItCouldKeep() {
        TcpConfig tcp = TcpConfig.defaults().withTimeWait(TimeUnit.MILLISECONDS.toNanos(50));
        try (TdiRig rig = new TdiRig(dir, tcp, tcp, 64)) {
            Pair p = new Pair(rig);
            List<Tsdu> kept = new ArrayList<>();
            StringBuilder copied = new StringBuilder();
            StringBuilder all = new StringBuilder();
            p.chained((ctx, cc, flags, length, offset, tsdu) -> {
                kept.add(tsdu);
                all.append(new String(tsdu.toByteArray(), StandardCharsets.US_ASCII));
                return NtStatus.STATUS_PENDING;
            });
            setEvent(rig.tdiB, p.addressB, Tdi.TDI_EVENT_RECEIVE,
                (TdiEvents.ClientEventReceive) (ctx, cc, flags, indicated, available, tsdu, out) -> {
                    String text = new UnsafeBuffer(tsdu, indicated).getStringWithoutLengthAscii(0, indicated);
                    copied.append(text);
                    all.append(text);
                    out.bytesTaken(indicated);
                    return S;
                }, "receive-ctx").assertInline(S);
            p.connectAndAccept();
            StringBuilder sent = new StringBuilder();
            int i = 0;
            for (; i < 60 && copied.length() == 0; i++) {
                String m = "chunk" + i + ";";
                sent.append(m);
                Req s = send(rig.tdiA, p.a, direct(m), 0);
                int before = all.length();
                rig.runUntil(() -> s.done() && all.length() > before, 10, "indication " + m);
            }
            assertTrue(copied.length() > 0, "ClientEventReceive took over under pressure");
            assertTrue(kept.size() >= 40, "not before the stack was short: " + kept.size() + " chains held");
            // (The switch itself proves the stack was short when it indicated: memoryPressure() is its only way to the
            // copying handler. Read here it may already be over: the copies gave their mbufs back.)
            assertEquals(sent.toString(), all.toString(), "every byte once, in order, chains then copies");
            Tsdu[] descriptors = kept.toArray(new Tsdu[0]);
            assertEquals(S, rig.tdiB.returnChainedReceives(descriptors, descriptors.length));
            kept.clear();
            rig.runUntil(() -> !rig.b.tcpService().memoryPressure(), 5, "the stack took the chains back");
            int copiedBefore = copied.length();
            Req s = send(rig.tdiA, p.a, direct("after"), 0);
            sent.append("after");
            rig.runUntil(() -> s.done() && all.toString().endsWith("after"), 10, "indication after the return");
            assertEquals(copiedBefore, copied.length(), "chains again once the memory is back");
            assertEquals(1, kept.size());
            assertEquals(sent.toString(), all.toString());
            assertEquals(S, rig.tdiB.returnChainedReceives(kept.toArray(new Tsdu[0]), 1));
        }
    }

    private static long heldBytes(List<Tsdu> kept) {
        return kept.size();
    }

    private static long totalLength(List<Tsdu> kept) {
        long n = 0;
        for (Tsdu t : kept) {
            n += t.receiveLength();
        }
        return n;
    }

    private static String totalText(List<Tsdu> kept) {
        StringBuilder b = new StringBuilder();
        for (Tsdu t : kept) {
            b.append(new String(t.toByteArray(), StandardCharsets.US_ASCII));
        }
        return b.toString();
    }

    private static String textOf(int n) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < n; i++) {
            b.append("message ").append(i);
        }
        return b.toString();
    }

    @Test
    void clientEventReceiveReturnCodes_bytesTakenIrpForTheRestAndDataNotAccepted_clientEventReceive() {
        try (TdiRig rig = new TdiRig(dir)) {
            Pair p = new Pair(rig);
            NtStatus[] answer = {S};
            int[] take = {Integer.MAX_VALUE};
            List<String> indicated = new ArrayList<>();
            ByteBuffer rest = ByteBuffer.allocateDirect(100);
            Req restIrp = new Req();
            setEvent(rig.tdiB, p.addressB, Tdi.TDI_EVENT_RECEIVE,
                (TdiEvents.ClientEventReceive) (ctx, cc, flags, bytesIndicated, available, tsdu, out) -> {
                    assertTrue(bytesIndicated <= available, "BytesIndicated <= BytesAvailable");
                    assertTrue((flags & Tdi.TDI_RECEIVE_AT_DISPATCH_LEVEL) != 0);
                    int n = Math.min(take[0], bytesIndicated);
                    indicated.add(new UnsafeBuffer(tsdu, n).getStringWithoutLengthAscii(0, n) + "/" + available);
                    out.bytesTaken(n);
                    if (answer[0] == NtStatus.STATUS_MORE_PROCESSING_REQUIRED) {
                        TdiBuild.receive(restIrp.irp, p.b, restIrp.routine, null, TdiRig.addressOf(rest), 0, 100);
                        restIrp.submissions++;
                        out.irp(restIrp.irp);
                    }
                    return answer[0];
                }, null).assertInline(S);
            p.connectAndAccept();
            // SUCCESS, all taken.
            Req s = send(rig.tdiA, p.a, direct("all of it"), 0);
            rig.runUntil(() -> indicated.size() == 1, 10, "indication");
            assertEquals("all of it/9", indicated.get(0));
            // SUCCESS, 3 taken: the rest waits for a TDI_RECEIVE.
            take[0] = 3;
            send(rig.tdiA, p.a, direct("abcdefgh"), 0);
            rig.runUntil(() -> indicated.size() == 2, 10, "partial");
            assertEquals("abc/8", indicated.get(1));
            ByteBuffer into = ByteBuffer.allocateDirect(100);
            Req r = receive(rig.tdiB, p.b, into, 0);
            r.assertInline(S);
            assertEquals("defgh", text(into, (int) r.information()));
            // MORE_PROCESSING_REQUIRED: 2 taken, the returned TDI_RECEIVE IRP gets the rest.
            take[0] = 2;
            answer[0] = NtStatus.STATUS_MORE_PROCESSING_REQUIRED;
            send(rig.tdiA, p.a, direct("12345"), 0);
            rig.runUntil(restIrp::done, 10, "IRP for the rest");
            restIrp.assertCompleted(S);
            assertEquals("345", text(rest, (int) restIrp.information()));
            assertEquals("12/5", indicated.get(2));
            // DATA_NOT_ACCEPTED: a later TDI_RECEIVE (PEEK first) gets all of it.
            answer[0] = NtStatus.STATUS_DATA_NOT_ACCEPTED;
            take[0] = 0;
            send(rig.tdiA, p.a, direct("kept for later"), 0);
            rig.runUntil(() -> indicated.size() == 4, 10, "refused");
            ByteBuffer small = ByteBuffer.allocateDirect(4);
            Req peek = receive(rig.tdiB, p.b, small, Tdi.TDI_RECEIVE_PEEK);
            peek.assertInline(NtStatus.STATUS_BUFFER_OVERFLOW);
            assertEquals("kept", text(small, 4));
            into.clear();
            Req r2 = receive(rig.tdiB, p.b, into, Tdi.TDI_RECEIVE_NORMAL);
            r2.assertInline(S);
            assertEquals("kept for later", text(into, (int) r2.information()), "PEEK consumed nothing");
            s.assertCompleted(S);
        }
    }

    @Test
    void expeditedDataGoesThroughChainedReceiveExpeditedReceiveExpeditedAndTdiReceiveExpedited() {
        try (TdiRig rig = new TdiRig(dir)) {
            Pair p = new Pair(rig);
            List<String> exp = new ArrayList<>();
            setEvent(rig.tdiB, p.addressB, Tdi.TDI_EVENT_CHAINED_RECEIVE_EXPEDITED,
                (TdiEvents.ClientEventChainedReceive) (ctx, cc, flags, length, offset, tsdu) -> {
                    assertEquals(Tdi.TDI_RECEIVE_EXPEDITED | Tdi.TDI_RECEIVE_ENTIRE_MESSAGE
                        | Tdi.TDI_RECEIVE_AT_DISPATCH_LEVEL, flags);
                    assertEquals(0, tsdu.segmentMbuf(0), "expedited bytes come from a provider buffer");
                    exp.add("chained " + new String(tsdu.toByteArray(), StandardCharsets.US_ASCII));
                    return S;
                }, null).assertInline(S);
            p.connectAndAccept();
            Req s = send(rig.tdiA, p.a, direct("!"), Tdi.TDI_SEND_EXPEDITED);
            rig.runUntil(() -> !exp.isEmpty(), 10, "expedited indication");
            s.assertCompleted(S);
            assertEquals(List.of("chained !"), exp);

            setEvent(rig.tdiB, p.addressB, Tdi.TDI_EVENT_CHAINED_RECEIVE_EXPEDITED, null, null).assertInline(S);
            setEvent(rig.tdiB, p.addressB, Tdi.TDI_EVENT_RECEIVE_EXPEDITED,
                (TdiEvents.ClientEventReceive) (ctx, cc, flags, indicated, available, tsdu, out) -> {
                    assertTrue((flags & Tdi.TDI_RECEIVE_EXPEDITED) != 0);
                    exp.add("plain " + new UnsafeBuffer(tsdu, indicated).getStringWithoutLengthAscii(0, indicated));
                    out.bytesTaken(indicated);
                    return S;
                }, null).assertInline(S);
            send(rig.tdiA, p.a, direct("#"), Tdi.TDI_SEND_EXPEDITED);
            rig.runUntil(() -> exp.size() == 2, 10, "plain expedited indication");
            assertEquals("plain #", exp.get(1));

            // DATA_NOT_ACCEPTED from the expedited handler: the byte waits for a TDI_RECEIVE_EXPEDITED; a buffer too
            // small for what waits completes with STATUS_BUFFER_OVERFLOW and the rest stays.
            setEvent(rig.tdiB, p.addressB, Tdi.TDI_EVENT_RECEIVE_EXPEDITED,
                (TdiEvents.ClientEventReceive) (ctx, cc, flags, indicated, available, tsdu, out) -> {
                    exp.add("refused " + indicated);
                    return NtStatus.STATUS_DATA_NOT_ACCEPTED;
                }, null).assertInline(S);
            send(rig.tdiA, p.a, direct("&"), Tdi.TDI_SEND_EXPEDITED);
            rig.runUntil(() -> exp.size() == 3, 10, "refused expedited");
            send(rig.tdiA, p.a, direct("*"), Tdi.TDI_SEND_EXPEDITED | Tdi.TDI_SEND_PARTIAL);
            rig.runUntil(() -> p.b.expeditedLength() == 2, 10, "second urgent byte kept");
            assertEquals(3, exp.size(), "no indication while refused expedited data waits");
            ByteBuffer one = ByteBuffer.allocateDirect(1);
            Req small = receive(rig.tdiB, p.b, one, Tdi.TDI_RECEIVE_EXPEDITED);
            small.assertInline(NtStatus.STATUS_RECEIVE_PARTIAL_EXPEDITED);
            assertEquals("&", text(one, 1));
            Req small2 = receive(rig.tdiB, p.b, one, Tdi.TDI_RECEIVE_EXPEDITED);
            small2.assertInline(NtStatus.STATUS_RECEIVE_EXPEDITED);
            assertEquals("*", text(one, 1));

            setEvent(rig.tdiB, p.addressB, Tdi.TDI_EVENT_RECEIVE_EXPEDITED, null, null).assertInline(S);
            ByteBuffer into = ByteBuffer.allocateDirect(8);
            Req r = receive(rig.tdiB, p.b, into, Tdi.TDI_RECEIVE_EXPEDITED);
            r.assertPending();
            send(rig.tdiA, p.a, direct("%"), Tdi.TDI_SEND_EXPEDITED);
            rig.runUntil(r::done, 10, "TDI_RECEIVE_EXPEDITED");
            r.assertCompleted(NtStatus.STATUS_RECEIVE_EXPEDITED);
            assertEquals("%", text(into, (int) r.information()));

            // A receive for either kind (flags 0) gets expedited data with STATUS_RECEIVE_EXPEDITED, normal data
            // with STATUS_SUCCESS.
            Req either = receive(rig.tdiB, p.b, into, 0);
            either.assertPending();
            send(rig.tdiA, p.a, direct("^"), Tdi.TDI_SEND_EXPEDITED);
            rig.runUntil(either::done, 10, "either receive, expedited");
            either.assertCompleted(NtStatus.STATUS_RECEIVE_EXPEDITED);
            assertEquals("^", text(into, (int) either.information()));
            Req either2 = receive(rig.tdiB, p.b, into, Tdi.TDI_RECEIVE_NORMAL | Tdi.TDI_RECEIVE_EXPEDITED);
            send(rig.tdiA, p.a, direct("plain"), 0);
            rig.runUntil(either2::done, 10, "either receive, normal");
            either2.assertCompleted(S);
            assertEquals("plain", text(into, (int) either2.information()));
        }
    }

    @Test
    void expeditedBytesPastTheBufferAreCountedAndReportedNotDroppedSilently_clientEventError() {
        try (TdiRig rig = new TdiRig(dir)) {
            Pair p = new Pair(rig);
            int[] refusals = {0};
            setEvent(rig.tdiB, p.addressB, Tdi.TDI_EVENT_RECEIVE_EXPEDITED,
                (TdiEvents.ClientEventReceive) (ctx, cc, flags, indicated, available, tsdu, out) -> {
                    refusals[0]++;
                    return NtStatus.STATUS_DATA_NOT_ACCEPTED; // the bytes wait for a TDI_RECEIVE_EXPEDITED
                }, null).assertInline(S);
            p.connectAndAccept();
            // 70 urgent bytes, one per send (each its own urgent pointer); B keeps 64 and drops 6.
            StringBuilder sent = new StringBuilder();
            for (int i = 0; i < 70; i++) {
                String one = String.valueOf((char) ('0' + i % 75));
                sent.append(one);
                Req s = send(rig.tdiA, p.a, direct(one), Tdi.TDI_SEND_EXPEDITED);
                int kept = Math.min(i + 1, 64);
                long dropped = Math.max(0, i + 1 - 64);
                rig.runUntil(() -> s.done() && p.b.expeditedLength() == kept
                    && p.b.info().receiveErrors() == dropped, 10, "urgent byte " + i);
                s.assertCompleted(S);
            }
            assertEquals(List.of(NtStatus.STATUS_DATA_OVERRUN), p.errorsB, "reported once for this overrun");
            assertEquals(6, p.b.info().receiveErrors(), "TDI_CONNECTION_INFO.ReceiveErrors counts the dropped bytes");
            assertEquals(1, refusals[0], "refused once; no indication while refused data waits");
            ByteBuffer into = ByteBuffer.allocateDirect(100);
            Req r = receive(rig.tdiB, p.b, into, Tdi.TDI_RECEIVE_EXPEDITED);
            r.assertInline(NtStatus.STATUS_RECEIVE_EXPEDITED);
            assertEquals(sent.substring(0, 64), text(into, (int) r.information()), "the first 64, in order");
            // Room again: the next byte is kept, and a new overrun would be reported again.
            Req s = send(rig.tdiA, p.a, direct("!"), Tdi.TDI_SEND_EXPEDITED);
            rig.runUntil(() -> s.done() && refusals[0] == 2, 10, "indicated again");
            assertEquals(1, p.b.expeditedLength());
            assertEquals(1, p.errorsB.size());
        }
    }

    /**
     * Review 11 finding 8: the expedited overrun state is per connection. Two connections in turn on one
     * endpoint, each overrunning by 6 urgent bytes: each is reported (ClientEventError(STATUS_DATA_OVERRUN)),
     * and the second's ReceiveErrors counts only its own drops.
     */
    @Test
    void expeditedOverrunIsReportedAndCountedPerConnectionOnAReusedEndpoint_clientEventError() {
        try (TdiRig rig = new TdiRig(dir)) {
            Pair p = new Pair(rig);
            setEvent(rig.tdiB, p.addressB, Tdi.TDI_EVENT_RECEIVE_EXPEDITED,
                (TdiEvents.ClientEventReceive) (ctx, cc, flags, indicated, available, tsdu, out) ->
                    NtStatus.STATUS_DATA_NOT_ACCEPTED, null).assertInline(S);
            for (int round = 1; round <= 2; round++) {
                p.connectAndAccept();
                for (int i = 0; i < 70; i++) {
                    Req s = send(rig.tdiA, p.a, direct("x"), Tdi.TDI_SEND_EXPEDITED);
                    int kept = Math.min(i + 1, 64);
                    long dropped = Math.max(0, i + 1 - 64);
                    rig.runUntil(() -> s.done() && p.b.expeditedLength() == kept
                        && p.b.info().receiveErrors() == dropped, 10, "connection " + round + ", urgent byte " + i);
                }
                assertEquals(round, p.errorsB.size(), "connection " + round + "'s overrun reported");
                assertEquals(6, p.b.info().receiveErrors(), "connection " + round + "'s drops only");
                Req abort = disconnect(rig.tdiA, p.a, Tdi.TDI_DISCONNECT_ABORT, 0);
                abort.assertInline(S);
                rig.runUntil(p.b::idle, 10, "B idle");
                p.accept.irp.reuse();
                p.accept.submissions = p.accept.completions;
            }
        }
    }

    /**
     * ClientEventChainedReceive returning STATUS_DATA_NOT_ACCEPTED with a ClientEventReceive handler registered
     * too: the transport buffers the data for TDI_RECEIVE and indicates nothing more, chained or plain, until
     * that data was taken (ClientEventChainedReceive: "the client might retrieve the data with a TDI_RECEIVE
     * request"; ClientEventReceive: not called while the client "has rejected previously indicated data ...
     * until that receive is done"). Nothing is lost and the mbufs go back.
     */
    @Test
    void dataNotAcceptedFromChainedReceiveIsTakenByTdiReceiveThenIndicationsResume_clientEventChainedReceive() {
        try (TdiRig rig = new TdiRig(dir)) {
            Pair p = new Pair(rig);
            NtStatus[] answer = {NtStatus.STATUS_DATA_NOT_ACCEPTED};
            List<String> chained = new ArrayList<>();
            List<String> plain = new ArrayList<>();
            p.chained((ctx, cc, flags, length, offset, tsdu) -> {
                byte[] all = tsdu.toByteArray();
                chained.add(new String(all, offset, length, StandardCharsets.US_ASCII));
                return answer[0];
            });
            setEvent(rig.tdiB, p.addressB, Tdi.TDI_EVENT_RECEIVE,
                (TdiEvents.ClientEventReceive) (ctx, cc, flags, indicated, available, tsdu, out) -> {
                    plain.add(new UnsafeBuffer(tsdu, indicated).getStringWithoutLengthAscii(0, indicated));
                    out.bytesTaken(indicated);
                    return S;
                }, null).assertInline(S);
            p.connectAndAccept();
            rig.runFor(50);
            int baseline = rig.pool.inUseCount();
            Req s1 = send(rig.tdiA, p.a, direct("refused-one "), 0);
            rig.runUntil(() -> s1.done() && chained.size() == 1, 10, "refused indication");
            Req s2 = send(rig.tdiA, p.a, direct("and-two"), 0);
            rig.runUntil(s2::done, 10, "second send");
            rig.runFor(50);
            assertEquals(List.of("refused-one "), chained, "no chained indication while refused data waits");
            assertEquals(List.of(), plain, "nor a plain one: the data is for TDI_RECEIVE now");
            // TDI_RECEIVEs take it, a small one first (part of it), then the rest.
            ByteBuffer small = ByteBuffer.allocateDirect(8);
            Req r1 = receive(rig.tdiB, p.b, small, 0);
            r1.assertInline(S);
            assertEquals("refused-", text(small, (int) r1.information()));
            rig.runFor(20);
            assertEquals(1, chained.size(), "still blocked: part of the refused data waits");
            ByteBuffer rest = ByteBuffer.allocateDirect(100);
            Req r2 = receive(rig.tdiB, p.b, rest, 0);
            r2.assertInline(S);
            assertEquals("one and-two", text(rest, (int) r2.information()));
            // Taken: indications resume, through the chained handler (preferred when both are set).
            answer[0] = S;
            Req s3 = send(rig.tdiA, p.a, direct("three"), 0);
            rig.runUntil(() -> s3.done() && chained.size() == 2, 10, "indications again");
            assertEquals("three", chained.get(1));
            assertEquals(List.of(), plain);
            rig.runUntil(() -> rig.pool.inUseCount() <= baseline, 10, "mbufs back: " + rig.pool.inUseCount());
        }
    }

    /**
     * A releases (TDI_DISCONNECT RELEASE); B gets the release indication (ClientEventDisconnect RELEASE) and keeps
     * sending 256 KiB before it releases too: A receives every byte, in order, while its release waits; the
     * release completes S once B released; both endpoints are idle and every mbuf is back (a RELEASE closes our
     * direction only: the peer may send until it releases too).
     */
    @Test
    void thePeerKeepsSendingAfterOurReleaseAndEveryByteArrives_tdiDisconnectRelease() {
        try (TdiRig rig = new TdiRig(dir)) {
            Pair p = new Pair(rig);
            p.connectAndAccept();
            rig.runFor(50);
            int baseline = rig.pool.inUseCount();
            Req release = disconnect(rig.tdiA, p.a, Tdi.TDI_DISCONNECT_RELEASE, Tdi.relativeTimeout(10_000));
            release.assertPending();
            rig.runUntil(() -> !p.disconnectsB.isEmpty(), 10, "release indication at B");
            assertEquals(List.of(Tdi.TDI_DISCONNECT_RELEASE), p.disconnectsB);
            int chunk = 64 << 10;
            int total = 4 * chunk;
            List<Req> sends = new ArrayList<>();
            for (int k = 0; k < 4; k++) {
                ByteBuffer b = ByteBuffer.allocateDirect(chunk);
                for (int i = 0; i < chunk; i++) {
                    b.put(i, pattern(k * chunk + i));
                }
                sends.add(send(rig.tdiB, p.b, b, 0));
            }
            ByteBuffer into = ByteBuffer.allocateDirect(chunk);
            long got = 0;
            while (got < total) {
                Req r = receive(rig.tdiA, p.a, into, 0);
                rig.runUntil(r::done, 10, "A receives after its release, at " + got);
                r.assertCompleted(S);
                for (int i = 0; i < (int) r.information(); i++) {
                    assertEquals(pattern(got + i), into.get(i), "byte " + (got + i));
                }
                got += r.information();
            }
            assertEquals(total, got);
            rig.runUntil(() -> sends.stream().allMatch(Req::done), 10, "B's sends");
            for (Req s : sends) {
                s.assertCompleted(S);
            }
            assertFalse(release.done(), "A's release waits for B's");
            Req releaseB = disconnect(rig.tdiB, p.b, Tdi.TDI_DISCONNECT_RELEASE, Tdi.relativeTimeout(10_000));
            rig.runUntil(() -> release.done() && releaseB.done() && p.a.idle() && p.b.idle(), 10, "both released");
            release.assertCompleted(S);
            releaseB.assertCompleted(S);
            assertEquals(List.of(), p.errorsB);
            rig.runUntil(() -> rig.pool.inUseCount() <= baseline, 10, "mbufs back: " + rig.pool.inUseCount());
        }
    }

    private static byte pattern(long i) {
        return (byte) (i * 31 + (i >>> 8) * 7);
    }

    @Test
    void nonBlockingSendGetsDeviceNotReadyThenSendPossible_andSendAndDisconnectReleases_tdiSend() {
        try (TdiRig rig = new TdiRig(dir)) {
            Pair p = new Pair(rig);
            int[] possible = {0};
            setEvent(rig.tdiA, p.addressA, Tdi.TDI_EVENT_SEND_POSSIBLE,
                (TdiEvents.ClientEventSendPossible) (ctx, cc, bytes) -> {
                    assertTrue(bytes > 0);
                    possible[0]++;
                    return S;
                }, null).assertInline(S);
            long[] sink = {0};
            p.chained((ctx, cc, flags, length, offset, tsdu) -> {
                sink[0] += length;
                return S;
            });
            p.connectAndAccept();
            ByteBuffer big = ByteBuffer.allocateDirect(1 << 20);
            Req first = send(rig.tdiA, p.a, big, 0);
            first.assertPending();
            Req second = send(rig.tdiA, p.a, direct("more"), Tdi.TDI_SEND_NON_BLOCKING);
            second.assertInline(NtStatus.STATUS_DEVICE_NOT_READY);
            rig.runUntil(() -> possible[0] == 1, 20, "ClientEventSendPossible");
            first.assertCompleted(S);
            Req third = send(rig.tdiA, p.a, direct("last"), Tdi.TDI_SEND_NON_BLOCKING | Tdi.TDI_SEND_AND_DISCONNECT);
            rig.runUntil(() -> third.done() && !p.disconnectsB.isEmpty(), 20, "send and disconnect");
            third.assertCompleted(S);
            assertEquals((1 << 20) + 4, sink[0], "every byte before the FIN");
            assertEquals(List.of(Tdi.TDI_DISCONNECT_RELEASE), p.disconnectsB);
            Req after = send(rig.tdiA, p.a, direct("x"), 0);
            after.assertInline(NtStatus.STATUS_INVALID_CONNECTION);
            Req releaseB = disconnect(rig.tdiB, p.b, Tdi.TDI_DISCONNECT_RELEASE, 0);
            rig.runUntil(() -> releaseB.done() && p.a.idle(), 10, "closed both ways");
            releaseB.assertCompleted(S);
        }
    }

    @Test
    void abortResetsThePeerAndCancelsWhatIsQueued_tdiDisconnectAbort() {
        try (TdiRig rig = new TdiRig(dir)) {
            Pair p = new Pair(rig);
            p.connectAndAccept();
            ByteBuffer intoA = ByteBuffer.allocateDirect(10);
            Req pendingA = receive(rig.tdiA, p.a, intoA, 0);
            ByteBuffer intoB = ByteBuffer.allocateDirect(10);
            Req pendingB = receive(rig.tdiB, p.b, intoB, 0);
            pendingA.assertPending();
            Req abort = disconnect(rig.tdiA, p.a, 0, 0); // no option = TDI_DISCONNECT_ABORT
            abort.assertInline(S);
            pendingA.assertCompleted(NtStatus.STATUS_CANCELLED);
            assertTrue(p.a.idle());
            rig.runUntil(() -> !p.disconnectsB.isEmpty(), 10, "ClientEventDisconnect(ABORT)");
            assertEquals(List.of(Tdi.TDI_DISCONNECT_ABORT), p.disconnectsB);
            pendingB.assertCompleted(NtStatus.STATUS_CONNECTION_RESET);
            Req ack = disconnect(rig.tdiB, p.b, Tdi.TDI_DISCONNECT_RELEASE, 0);
            ack.assertInline(S); // the client acknowledges the indication
            Req again = disconnect(rig.tdiB, p.b, Tdi.TDI_DISCONNECT_RELEASE, 0);
            again.assertInline(NtStatus.STATUS_INVALID_CONNECTION);
        }
    }

    @Test
    void abortOverridesAPendingReleaseAndAReleaseTimesOut_tdiDisconnect() {
        try (TdiRig rig = new TdiRig(dir)) {
            Pair p = new Pair(rig);
            setEvent(rig.tdiB, p.addressB, Tdi.TDI_EVENT_DISCONNECT, null, null).assertInline(S); // B never answers
            p.connectAndAccept();
            Req release = disconnect(rig.tdiA, p.a, Tdi.TDI_DISCONNECT_RELEASE, Tdi.relativeTimeout(10_000));
            release.assertPending();
            rig.runFor(100);
            assertFalse(release.done(), "B keeps its side open");
            Req abort = disconnect(rig.tdiA, p.a, Tdi.TDI_DISCONNECT_ABORT, 0);
            abort.assertInline(S);
            release.assertCompleted(NtStatus.STATUS_CANCELLED);
            rig.runUntil(p.b::idle, 10, "B reset");

            // A release with a 200 ms time-out, then one with NULL (under a second).
            for (long timeout : new long[] {Tdi.relativeTimeout(200), Tdi.TIMEOUT_DEFAULT}) {
                rig.runFor(100);
                p.accept.irp.reuse();
                p.accept.submissions = p.accept.completions;
                p.connectAndAccept();
                long start = System.nanoTime();
                Req r = disconnect(rig.tdiA, p.a, Tdi.TDI_DISCONNECT_RELEASE, timeout);
                rig.runUntil(r::done, 5, "time-out");
                long ms = (System.nanoTime() - start) / 1_000_000;
                r.assertCompleted(NtStatus.STATUS_REQUEST_TIMED_OUT);
                long expected = timeout == 0 ? 900 : 200; // NULL: the transport default, under one second
                assertTrue(ms >= expected && ms < expected + 500, "timed out after " + ms + " ms");
                assertTrue(p.a.idle(), "reset after the time-out: the endpoint is idle");
                rig.runUntil(p.b::idle, 10, "B reset");
            }
        }
    }

    @Test
    void queryInformationReturnsProviderConnectionAndStatisticsRecords_tdiQueryInformation() {
        try (TdiRig rig = new TdiRig(dir)) {
            Pair p = new Pair(rig);
            p.chained((ctx, cc, flags, length, offset, tsdu) -> S);
            p.connectAndAccept();
            Req s = send(rig.tdiA, p.a, direct("12345"), 0);
            rig.runUntil(s::done, 10, "send");
            Req q = new Req();
            TdiBuild.queryInformation(q.irp, p.a, q.routine, null, Tdi.TDI_QUERY_CONNECTION_INFO);
            q.call(rig.tdiA);
            q.assertInline(S);
            TdiConnectionInfo info = (TdiConnectionInfo) q.object();
            assertEquals(1, info.transmittedTsdus());
            assertEquals(5, info.throughput());
            assertEquals(TdiRig.B_IP, info.remoteIp());
            assertEquals(PORT, info.remotePort());
            TdiBuild.queryInformation(q.irp, p.a, q.routine, null, Tdi.TDI_QUERY_PROVIDER_INFO);
            q.call(rig.tdiA);
            q.assertInline(S);
            TdiProviderInfo provider = (TdiProviderInfo) q.object();
            assertEquals(Tdi.TDI_VERSION, provider.version());
            assertTrue((provider.serviceFlags() & Tdi.TDI_SERVICE_EXPEDITED_DATA) != 0);
            TdiBuild.queryInformation(q.irp, p.addressA, q.routine, null, Tdi.TDI_QUERY_PROVIDER_STATISTICS);
            q.call(rig.tdiA);
            q.assertInline(S);
            TdiProviderStatistics stats = (TdiProviderStatistics) q.object();
            assertEquals(1, stats.openConnections());
            assertEquals(1, stats.connectionsAfterNoRetry());
            assertEquals(5, stats.dataFrameBytesSent());
            TdiBuild.queryInformation(q.irp, p.a, q.routine, null, 99);
            q.call(rig.tdiA);
            q.assertInline(NtStatus.STATUS_INVALID_PARAMETER);
        }
    }
}
