package io.fastpath.wsk;

import static io.fastpath.wsk.Wsk.AF_INET;
import static io.fastpath.wsk.Wsk.IPPROTO_TCP;
import static io.fastpath.wsk.Wsk.SIO_WSK_QUERY_IDEAL_SEND_BACKLOG;
import static io.fastpath.wsk.Wsk.SIO_WSK_QUERY_RECEIVE_BACKLOG;
import static io.fastpath.wsk.Wsk.SOCK_STREAM;
import static io.fastpath.wsk.Wsk.SOL_SOCKET;
import static io.fastpath.wsk.Wsk.SO_EXCLUSIVEADDRUSE;
import static io.fastpath.wsk.Wsk.SO_KEEPALIVE;
import static io.fastpath.wsk.Wsk.SO_RCVBUF;
import static io.fastpath.wsk.Wsk.SO_REUSEADDR;
import static io.fastpath.wsk.Wsk.TCP_MAXRT;
import static io.fastpath.wsk.Wsk.TCP_TIMESTAMPS;
import static io.fastpath.wsk.Wsk.SO_WSK_EVENT_CALLBACK;
import static io.fastpath.wsk.Wsk.TCP_FASTOPEN;
import static io.fastpath.wsk.Wsk.TCP_KEEPCNT;
import static io.fastpath.wsk.Wsk.TCP_KEEPIDLE;
import static io.fastpath.wsk.Wsk.TCP_KEEPINTVL;
import static io.fastpath.wsk.Wsk.TCP_NODELAY;
import static io.fastpath.wsk.Wsk.WSK_EVENT_ACCEPT;
import static io.fastpath.wsk.Wsk.WSK_EVENT_DISABLE;
import static io.fastpath.wsk.Wsk.WSK_EVENT_DISCONNECT;
import static io.fastpath.wsk.Wsk.WSK_EVENT_RECEIVE;
import static io.fastpath.wsk.Wsk.WSK_EVENT_SEND_BACKLOG;
import static io.fastpath.wsk.Wsk.WSK_FLAG_ABORTIVE;
import static io.fastpath.wsk.Wsk.WSK_FLAG_CONNECTION_SOCKET;
import static io.fastpath.wsk.Wsk.WSK_FLAG_DATAGRAM_SOCKET;
import static io.fastpath.wsk.Wsk.WSK_FLAG_DRAIN;
import static io.fastpath.wsk.Wsk.WSK_FLAG_LISTEN_SOCKET;
import static io.fastpath.wsk.Wsk.WSK_FLAG_STREAM_SOCKET;
import static io.fastpath.wsk.Wsk.WSK_FLAG_WAITALL;
import static io.fastpath.wsk.Wsk.WskGetOption;
import static io.fastpath.wsk.Wsk.WskIoctl;
import static io.fastpath.wsk.Wsk.WskSetOption;
import static io.fastpath.wsk.WskTestSockets.bind;
import static io.fastpath.wsk.WskTestSockets.connect;
import static io.fastpath.wsk.WskTestSockets.direct;
import static io.fastpath.wsk.WskTestSockets.listener;
import static io.fastpath.wsk.WskTestSockets.send;
import static io.fastpath.wsk.WskTestSockets.socket;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.provider.NtStatus;
import io.fastpath.wsk.WskTestSockets.Connected;
import io.fastpath.wsk.WskTestSockets.Receive;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every status the WSK documents name for these calls, provoked for real over two stacks: the wsk.h
 * PFN_WSK_* pages' return-value tables (S, P, FFC and the failures), cancellation by WskCloseSocket and
 * IoCancelIrp, and the IRP rule that a call completes its IRP exactly once with the status it returned.
 */
class WskStatusTest {
    private static final NtStatus S = NtStatus.STATUS_SUCCESS;
    private static final NtStatus P = NtStatus.STATUS_PENDING;
    private static final NtStatus FFC = NtStatus.STATUS_FILE_FORCED_CLOSED;
    private static final SocketAddressV4 B7 = new SocketAddressV4(RingRig.B_IP, 7);

    @TempDir
    Path dir;

    // ------------------------------------------------------------------ WskConnectEx

    @Test
    void connectExWithMoreThan65535BytesFailsWithBufferOverflow_pfnWskConnectEx() {
        try (RingRig rig = new RingRig(dir)) {
            WskSocket s = socket(rig.wskA, WSK_FLAG_CONNECTION_SOCKET, null);
            bind(s, SocketAddressV4.ANY);
            ByteBuffer big = ByteBuffer.allocateDirect(65_536);
            Call c = new Call();
            c.assertInline(s.connectEx(B7, new WskBuf().set(big, 0, 65_536), 0, c.irp()), NtStatus.STATUS_BUFFER_OVERFLOW);
            // 65,535 is still fine (it completes later: nobody listens, so refused).
            assertEquals(P, s.connectEx(B7, new WskBuf().set(big, 0, 65_535), 0, c.irp()));
            rig.await(c, 5, "connectEx");
            c.assertCompleted(NtStatus.STATUS_CONNECTION_REFUSED);
        }
    }

    @Test
    void connectExWithFlagsFailsWithInvalidParameter_pfnWskConnectEx() {
        try (RingRig rig = new RingRig(dir)) {
            WskSocket s = socket(rig.wskA, WSK_FLAG_CONNECTION_SOCKET, null);
            bind(s, SocketAddressV4.ANY);
            ByteBuffer b = direct("hello");
            Call c = new Call();
            c.assertInline(s.connectEx(B7, new WskBuf().set(b, 0, 5), 1, c.irp()), NtStatus.STATUS_INVALID_PARAMETER);
        }
    }

    @Test
    void connectAndConnectExOnAnUnboundSocketFailWithInvalidDeviceState() {
        try (RingRig rig = new RingRig(dir)) {
            WskSocket s = socket(rig.wskA, WSK_FLAG_CONNECTION_SOCKET, null);
            ByteBuffer b = direct("hello");
            Call c = new Call();
            c.assertInline(s.connectEx(B7, new WskBuf().set(b, 0, 5), 0, c.irp()), NtStatus.STATUS_INVALID_DEVICE_STATE);
            c.assertInline(s.connect(B7, c.irp()), NtStatus.STATUS_INVALID_DEVICE_STATE);
        }
    }

    // ------------------------------------------------------------------ WskConnect, WskSocketConnect

    @Test
    void connectToAPortWithoutListenerCompletesWithConnectionRefused() {
        try (RingRig rig = new RingRig(dir)) {
            WskSocket s = socket(rig.wskA, WSK_FLAG_CONNECTION_SOCKET, null);
            bind(s, SocketAddressV4.ANY);
            Call c = new Call();
            assertEquals(P, s.connect(new SocketAddressV4(RingRig.B_IP, 4444), c.irp()));
            assertTrue(c.irp.pending(), "PendingReturned");
            assertFalse(c.done());
            rig.await(c, 5, "connect");
            c.assertCompleted(NtStatus.STATUS_CONNECTION_REFUSED);
            Call r = new Call();
            r.assertInline(s.getRemoteAddress(r.irp()), NtStatus.STATUS_INVALID_DEVICE_STATE);
            // The socket is still bound: a second try against a listener works.
            WskSocket l = listener(rig, rig.wskB, 4444, null);
            assertEquals(P, s.connect(new SocketAddressV4(RingRig.B_IP, 4444), c.irp()));
            rig.await(c, 5, "connect again");
            c.assertCompleted(S);
            Call close = new Call();
            assertNotEquals(FFC, s.closeSocket(close.irp()));
            rig.await(close, 5, "close");
            l.closeSocket(new Call().irp());
        }
    }

    @Test
    void socketConnectCreatesBindsAndConnectsInOneCall_pfnWskSocketConnect() {
        try (RingRig rig = new RingRig(dir)) {
            listener(rig, rig.wskB, 7, null);
            Call c = new Call();
            assertEquals(P, rig.wskA.socketConnect(SOCK_STREAM, IPPROTO_TCP, SocketAddressV4.ANY, B7, 0, "ctx", null,
                c.irp()));
            rig.await(c, 5, "socketConnect");
            c.assertCompleted(S);
            WskSocket s = c.socket();
            assertEquals("ctx", s.context());
            Call a = new Call();
            a.assertInline(s.getLocalAddress(a.irp()), S);
            SocketAddressV4 local = (SocketAddressV4) a.object();
            assertEquals(RingRig.A_IP, local.ip());
            assertTrue(local.port() >= 49152, "wildcard port chosen from the ephemeral range: " + local);
            a.assertInline(s.getRemoteAddress(a.irp()), S);
            assertEquals(B7, a.object());
            // Refused: the IRP fails and carries no socket (WSK closed it).
            Call refused = new Call();
            assertEquals(P, rig.wskA.socketConnect(SOCK_STREAM, IPPROTO_TCP, SocketAddressV4.ANY,
                new SocketAddressV4(RingRig.B_IP, 4445), 0, null, null, refused.irp()));
            rig.await(refused, 5, "refused");
            refused.assertCompleted(NtStatus.STATUS_CONNECTION_REFUSED);
            assertNull(refused.object());
        }
    }

    // ------------------------------------------------------------------ dead and closed sockets

    @Test
    void everyCallOnAClosedSocketFailsWithFileForcedClosed() {
        try (RingRig rig = new RingRig(dir)) {
            Connected p = connect(rig, 7, null, null);
            Receive dead = new Receive(p.server(), 10, 0);
            Call close = new Call();
            NtStatus r = p.client().closeSocket(close.irp());
            rig.await(close, 5, "close");
            close.assertCompleted(S);
            assertTrue(r == S || r == P);
            WskSocket s = p.client();
            ByteBuffer b = direct("x");
            WskBuf buf = new WskBuf().set(b, 0, 1);
            Call c = new Call();
            c.assertInline(s.send(buf, 0, c.irp()), FFC);
            c.assertInline(s.receive(buf, 0, c.irp()), FFC);
            c.assertInline(s.bind(SocketAddressV4.ANY, c.irp()), FFC);
            c.assertInline(s.connect(B7, c.irp()), FFC);
            c.assertInline(s.connectEx(B7, buf, 0, c.irp()), FFC);
            c.assertInline(s.disconnect(null, 0, c.irp()), FFC);
            c.assertInline(s.getLocalAddress(c.irp()), FFC);
            c.assertInline(s.getRemoteAddress(c.irp()), FFC);
            c.assertInline(s.controlSocket(WskSetOption, TCP_NODELAY, IPPROTO_TCP, 1, c.irp()), FFC);
            c.assertInline(s.closeSocket(c.irp()), FFC);
            // WskCloseSocket reset the connection (it was not closed both ways): the server's receive says so,
            // and from then on the server's socket is dead too.
            rig.await(dead.call, 5, "server receive");
            dead.call.assertCompleted(NtStatus.STATUS_CONNECTION_RESET);
            c.assertInline(p.server().send(buf, 0, c.irp()), FFC);
            c.assertInline(p.server().receive(buf, 0, c.irp()), FFC);
        }
    }

    @Test
    void closeSocketCancelsPendingAcceptsAndReceives() {
        try (RingRig rig = new RingRig(dir)) {
            Connected p = connect(rig, 7, null, null);
            Call accept1 = new Call();
            Call accept2 = new Call();
            assertEquals(P, p.listener().accept(accept1.irp()));
            assertEquals(P, p.listener().accept(accept2.irp()));
            send(rig, p.server(), "0123456789");
            Receive waitAll = new Receive(p.client(), 100, WSK_FLAG_WAITALL);
            Receive plain = new Receive(p.client(), 100, 0);
            assertEquals(P, plain.returned);
            rig.runUntil(() -> p.client().toString().contains("connected"), 1, "state");
            rig.runFor(100);
            assertFalse(waitAll.call.done(), "WAITALL waits for 100 bytes");
            assertFalse(plain.call.done(), "a later receive waits behind the WAITALL one");
            Call close = new Call();
            p.client().closeSocket(close.irp());
            Call closeListener = new Call();
            p.listener().closeSocket(closeListener.irp());
            rig.runUntil(() -> close.done() && closeListener.done(), 5, "close");
            waitAll.call.assertCompleted(NtStatus.STATUS_CANCELLED);
            assertEquals(10, waitAll.call.information(), "a cancelled receive keeps what it had");
            assertEquals("0123456789", waitAll.text());
            plain.call.assertCompleted(NtStatus.STATUS_CANCELLED);
            accept1.assertCompleted(NtStatus.STATUS_CANCELLED);
            accept2.assertCompleted(NtStatus.STATUS_CANCELLED);
            close.assertCompleted(S);
            closeListener.assertCompleted(S);
        }
    }

    @Test
    void ioCancelIrpCompletesAPendingReceiveWithCancelled_fromAnyThread() throws Exception {
        try (RingRig rig = new RingRig(dir)) {
            Connected p = connect(rig, 7, null, null);
            Receive r = new Receive(p.client(), 100, 0);
            assertEquals(P, r.returned);
            assertTrue(r.call.irp.cancel());
            r.call.assertCompleted(NtStatus.STATUS_CANCELLED);
            assertFalse(r.call.irp.cancel(), "nothing to cancel once completed");
            Receive other = new Receive(p.client(), 100, 0);
            Thread canceller = new Thread(() -> other.call.irp.cancel());
            canceller.start();
            canceller.join();
            rig.await(other.call, 5, "cancel from another thread");
            other.call.assertCompleted(NtStatus.STATUS_CANCELLED);
            assertSame(Thread.currentThread(), other.call.completedOn, "completed on the dispatch thread");
            // The socket is fine: the next receive gets data.
            Receive next = new Receive(p.client(), 100, 0);
            send(rig, p.server(), "still here");
            rig.await(next.call, 5, "receive");
            assertEquals("still here", next.text());
        }
    }

    @Test
    void peerResetCompletesPendingReceiveWithConnectionResetRaisesAbortiveDisconnectEventThenFileForcedClosed() {
        try (RingRig rig = new RingRig(dir)) {
            List<Integer> disconnects = new ArrayList<>();
            WskClientConnectionDispatch events = new WskClientConnectionDispatch() {
                @Override
                public NtStatus wskDisconnectEvent(Object socketContext, int flags) {
                    disconnects.add(flags);
                    return S;
                }
            };
            Connected p = connect(rig, 7, events, null);
            Call enable = new Call();
            enable.assertInline(p.client().controlSocket(WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET,
                WSK_EVENT_DISCONNECT, enable.irp()), S);
            Receive r = new Receive(p.client(), 100, 0);
            Call abort = new Call();
            assertEquals(P, p.server().disconnect(null, WSK_FLAG_ABORTIVE, abort.irp()));
            rig.runUntil(() -> abort.done() && r.call.done(), 5, "reset");
            abort.assertCompleted(S);
            r.call.assertCompleted(NtStatus.STATUS_CONNECTION_RESET);
            assertEquals(List.of(WSK_FLAG_ABORTIVE), disconnects);
            Call c = new Call();
            c.assertInline(p.client().send(new WskBuf().set(direct("x"), 0, 1), 0, c.irp()), FFC);
            c.assertInline(p.server().receive(new WskBuf().set(direct("x"), 0, 1), 0, c.irp()), FFC);
            c.assertInline(p.client().closeSocket(c.irp()), S);
        }
    }

    @Test
    void abortiveDisconnectCancelsSendsThatHaveNotReachedTheStack() {
        try (RingRig rig = new RingRig(dir)) {
            Connected p = connect(rig, 7, null, null); // the server never reads: windows fill up
            ByteBuffer data = ByteBuffer.allocateDirect(64 * 1024);
            List<Call> sends = new ArrayList<>();
            for (int i = 0; i < 24; i++) {
                Call c = new Call();
                assertEquals(P, p.client().send(new WskBuf().set(data, 0, data.capacity()), 0, c.irp()));
                sends.add(c);
            }
            rig.runFor(300);
            long completedBefore = sends.stream().filter(Call::done).count();
            assertTrue(completedBefore > 0 && completedBefore < 24, "some sends wait: " + completedBefore);
            Call abort = new Call();
            assertEquals(P, p.client().disconnect(null, WSK_FLAG_ABORTIVE, abort.irp()));
            rig.runUntil(() -> abort.done() && sends.stream().allMatch(Call::done), 5, "abort");
            abort.assertCompleted(S);
            long cancelled = 0;
            for (Call c : sends) {
                assertEquals(1, c.completions);
                if (c.status() == NtStatus.STATUS_CANCELLED) {
                    cancelled++;
                } else {
                    c.assertCompleted(S);
                }
            }
            assertEquals(24 - completedBefore, cancelled, "the waiting sends were cancelled");
            Call c = new Call();
            c.assertInline(p.client().disconnect(new WskBuf(), WSK_FLAG_ABORTIVE, c.irp()), FFC);
        }
    }

    /** A cancelled send's completion routine closes the socket: the abort IRP still completes, once. */
    @Test
    void abortiveDisconnectCompletesEvenWhenACancelledSendsRoutineClosesTheSocket() {
        try (RingRig rig = new RingRig(dir)) {
            Connected p = connect(rig, 7, null, null); // the server never reads: sends wait
            ByteBuffer data = ByteBuffer.allocateDirect(64 * 1024);
            Call close = new Call();
            List<Irp> sends = new ArrayList<>();
            for (int i = 0; i < 24; i++) {
                Irp irp = new Irp().setCompletionRoutine((done, ctx) -> {
                    if (done.ioStatus().status() == NtStatus.STATUS_CANCELLED && !close.done() && close.calls == 0) {
                        p.client().closeSocket(close.irp());
                    }
                }, null);
                p.client().send(new WskBuf().set(data, 0, data.capacity()), 0, irp);
                sends.add(irp);
            }
            rig.runFor(300);
            Call abort = new Call();
            assertEquals(P, p.client().disconnect(null, WSK_FLAG_ABORTIVE, abort.irp()));
            rig.runUntil(() -> abort.done() && close.done() && sends.stream().allMatch(Irp::completed), 5, "abort");
            assertEquals(1, abort.completions, "the abort IRP completed exactly once");
            assertEquals(1, close.completions);
        }
    }

    /** WskDisconnect with a final buffer, then WskCloseSocket at once: the disconnect IRP still completes. */
    @Test
    void closeRightAfterAGracefulDisconnectWithAFinalBufferCompletesBoth() {
        try (RingRig rig = new RingRig(dir)) {
            Connected p = connect(rig, 7, null, null);
            Call disconnect = new Call();
            assertEquals(P, p.client().disconnect(new WskBuf().set(direct("last words"), 0, 10), 0, disconnect.irp()));
            Call close = new Call();
            p.client().closeSocket(close.irp());
            rig.runUntil(() -> disconnect.done() && close.done(), 5, "disconnect and close");
            assertEquals(1, disconnect.completions);
            assertEquals(1, close.completions);
            close.assertCompleted(S);
        }
    }

    /** Two sockets sharing a port (SO_REUSEADDR) cannot both listen on it: the second is refused, none hangs. */
    @Test
    void aSecondListenerOnASharedPortIsRefused() {
        try (RingRig rig = new RingRig(dir)) {
            WskSocket[] s = new WskSocket[2];
            Call[] bind = {new Call(), new Call()};
            for (int i = 0; i < 2; i++) {
                s[i] = socket(rig.wskB, WSK_FLAG_LISTEN_SOCKET, null);
                Call c = new Call();
                c.assertInline(s[i].controlSocket(WskSetOption, SO_REUSEADDR, SOL_SOCKET, 1, c.irp()), S);
                s[i].bind(new SocketAddressV4(0, 7100), bind[i].irp());
            }
            rig.runUntil(() -> bind[0].done() && bind[1].done(), 5, "both binds complete");
            bind[0].assertCompleted(S);
            bind[1].assertCompleted(NtStatus.STATUS_SHARING_VIOLATION);
        }
    }

    /** A connection taken from the backlog after the peer's FIN raises the disconnect event once enabled. */
    @Test
    void aSocketAcceptedAfterThePeersFinStillGetsItsDisconnectEvent() {
        try (RingRig rig = new RingRig(dir)) {
            WskSocket l = listener(rig, rig.wskB, 7, null);
            WskSocket c = connectClient(rig, 7);
            Call fin = new Call();
            c.disconnect(null, 0, fin.irp());
            rig.runUntil(fin::done, 5, "client FIN acknowledged");
            int[] flags = {-1};
            WskClientConnectionDispatch events = new WskClientConnectionDispatch() {
                @Override
                public NtStatus wskDisconnectEvent(Object socketContext, int f) {
                    flags[0] = f;
                    return S;
                }
            };
            Call accept = new Call();
            l.accept(0, "late", events, accept.irp());
            accept.assertCompleted(S);
            WskSocket server = accept.socket();
            Call enable = new Call();
            enable.assertInline(server.controlSocket(WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET,
                WSK_EVENT_DISCONNECT, enable.irp()), S);
            rig.runUntil(() -> flags[0] != -1, 5, "disconnect event");
            assertEquals(0, flags[0], "graceful");
        }
    }

    @Test
    void abortiveDisconnectWithABufferFailsWithInvalidParameter_pfnWskDisconnect() {
        try (RingRig rig = new RingRig(dir)) {
            Connected p = connect(rig, 7, null, null);
            Call c = new Call();
            c.assertInline(p.client().disconnect(new WskBuf().set(direct("x"), 0, 1), WSK_FLAG_ABORTIVE, c.irp()),
                NtStatus.STATUS_INVALID_PARAMETER);
            c.assertInline(p.client().disconnect(null, 0x10, c.irp()), NtStatus.STATUS_NOT_SUPPORTED);
        }
    }

    // ------------------------------------------------------------------ graceful disconnect, WskReceive flags

    @Test
    void gracefulDisconnectSendsTheFinalBufferThenFinAndCompletesWhenThePeerAcknowledgedTheFin() {
        try (RingRig rig = new RingRig(dir)) {
            Connected p = connect(rig, 7, null, null);
            send(rig, p.client(), "first ");
            ByteBuffer last = direct("goodbye");
            Call disconnect = new Call();
            assertEquals(P, p.client().disconnect(new WskBuf().set(last, 0, 7), 0, disconnect.irp()));
            Call late = new Call();
            late.assertInline(p.client().send(new WskBuf().set(last, 0, 1), 0, late.irp()),
                NtStatus.STATUS_INVALID_DEVICE_STATE);
            StringBuilder got = new StringBuilder();
            boolean[] end = {false};
            while (!end[0]) {
                Receive r = new Receive(p.server(), 100, 0);
                rig.await(r.call, 5, "server receive");
                r.call.assertCompleted(S);
                if (r.call.information() == 0) {
                    end[0] = true;
                } else {
                    got.append(r.text());
                }
            }
            assertEquals("first goodbye", got.toString());
            // The server has not closed its side, but it acknowledged our FIN: the disconnect is done.
            rig.runUntil(disconnect::done, 5, "disconnect completes once the FIN is acknowledged");
            disconnect.assertCompleted(S);
            // Half-closed: the server may still send, the client still receives.
            send(rig, p.server(), "reply");
            Receive reply = new Receive(p.client(), 100, 0);
            rig.await(reply.call, 5, "reply");
            assertEquals("reply", reply.text());
            Call serverDisconnect = new Call();
            p.server().disconnect(null, 0, serverDisconnect.irp());
            rig.runUntil(serverDisconnect::done, 5, "both closed");
            serverDisconnect.assertCompleted(S);
            Receive end2 = new Receive(p.client(), 100, 0);
            end2.call.assertInline(end2.returned, S);
            assertEquals(0, end2.call.information(), "0 bytes: the peer closed");
            Call close = new Call();
            close.assertInline(p.client().closeSocket(close.irp()), S);
            close.assertInline(p.server().closeSocket(close.irp()), S);
        }
    }

    /**
     * The client disconnects gracefully; the server gets the (non-abortive) WskDisconnectEvent and keeps sending
     * 512 KiB before it disconnects too: the client receives every byte in order after its own disconnect
     * ("after a graceful close by the peer we may still send"), then 0 bytes; both disconnects complete S and,
     * after closing, every mbuf is back (RingRig checks on close).
     */
    @Test
    void thePeerKeepsSendingAfterTheDisconnectEventAndEveryByteArrives_wskDisconnectEvent() {
        try (RingRig rig = new RingRig(dir)) {
            List<Integer> disconnects = new ArrayList<>();
            WskClientConnectionDispatch events = new WskClientConnectionDispatch() {
                @Override
                public NtStatus wskDisconnectEvent(Object socketContext, int flags) {
                    disconnects.add(flags);
                    return S;
                }
            };
            Connected p = connect(rig, 7, null, events);
            Call enable = new Call();
            enable.assertInline(p.server().controlSocket(WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET,
                WSK_EVENT_DISCONNECT, enable.irp()), S);
            Call disconnect = new Call();
            assertEquals(P, p.client().disconnect(null, 0, disconnect.irp()));
            rig.runUntil(() -> !disconnects.isEmpty(), 5, "disconnect event at the server");
            assertEquals(0, disconnects.get(0) & WSK_FLAG_ABORTIVE, "graceful: " + disconnects);
            int chunk = 64 << 10;
            int total = 8 * chunk;
            List<Call> sends = new ArrayList<>();
            List<ByteBuffer> buffers = new ArrayList<>();
            for (int k = 0; k < 8; k++) {
                ByteBuffer b = ByteBuffer.allocateDirect(chunk);
                for (int i = 0; i < chunk; i++) {
                    b.put(i, WskTestSockets.pattern((long) k * chunk + i));
                }
                buffers.add(b);
                Call c = new Call();
                assertEquals(P, p.server().send(new WskBuf().set(b, 0, chunk), 0, c.irp()));
                sends.add(c);
            }
            long got = 0;
            while (got < total) {
                Receive r = new Receive(p.client(), chunk, 0);
                rig.await(r.call, 5, "client receive at " + got);
                r.call.assertCompleted(S);
                assertTrue(r.call.information() > 0, "no end of stream before the server's disconnect");
                for (int i = 0; i < (int) r.call.information(); i++) {
                    assertEquals(WskTestSockets.pattern(got + i), r.memory.get(i), "byte " + (got + i));
                }
                got += r.call.information();
            }
            assertEquals(total, got);
            rig.runUntil(() -> sends.stream().allMatch(Call::done), 5, "server sends");
            for (Call c : sends) {
                c.assertCompleted(S);
            }
            rig.runUntil(disconnect::done, 5, "the client's disconnect (its FIN acknowledged)");
            disconnect.assertCompleted(S);
            Call serverDisconnect = new Call();
            p.server().disconnect(null, 0, serverDisconnect.irp());
            rig.runUntil(serverDisconnect::done, 5, "both closed");
            serverDisconnect.assertCompleted(S);
            Receive end = new Receive(p.client(), 100, 0);
            rig.await(end.call, 5, "end of stream");
            end.call.assertCompleted(S);
            assertEquals(0, end.call.information(), "0 bytes: the peer closed");
            assertEquals(1, disconnects.size(), "one disconnect event");
            Call close = new Call();
            close.assertInline(p.client().closeSocket(close.irp()), S);
            close.assertInline(p.server().closeSocket(close.irp()), S);
            close.assertInline(p.listener().closeSocket(close.irp()), S);
            assertEquals(8, buffers.size());
        }
    }

    @Test
    void waitAllCompletesOnlyWhenTheBufferIsFull_pfnWskReceive() {
        try (RingRig rig = new RingRig(dir)) {
            Connected p = connect(rig, 7, null, null);
            Receive r = new Receive(p.client(), 10, WSK_FLAG_WAITALL);
            assertEquals(P, r.returned);
            send(rig, p.server(), "012345");
            rig.runFor(100);
            assertFalse(r.call.done(), "6 of 10 bytes");
            send(rig, p.server(), "6789abc");
            rig.await(r.call, 5, "waitall");
            r.call.assertCompleted(S);
            assertEquals("0123456789", r.text());
            Receive rest = new Receive(p.client(), 10, 0);
            rest.call.assertInline(rest.returned, S);
            assertEquals("abc", rest.text());
        }
    }

    @Test
    void waitAllCompletesWithWhatItHasWhenThePeerDisconnects_pfnWskReceive() {
        try (RingRig rig = new RingRig(dir)) {
            Connected p = connect(rig, 7, null, null);
            Receive r = new Receive(p.client(), 100, WSK_FLAG_WAITALL);
            send(rig, p.server(), "partial");
            Call d = new Call();
            p.server().disconnect(null, 0, d.irp());
            rig.await(r.call, 5, "waitall");
            r.call.assertCompleted(S);
            assertEquals("partial", r.text());
        }
    }

    @Test
    void drainDiscardsDataUntilThePeerDisconnects_pfnWskReceive() {
        try (RingRig rig = new RingRig(dir)) {
            Connected p = connect(rig, 7, null, null);
            Receive r = new Receive(p.client(), 0, WSK_FLAG_DRAIN);
            assertEquals(P, r.returned);
            send(rig, p.server(), "discard me");
            rig.runFor(50);
            assertFalse(r.call.done());
            Call d = new Call();
            p.server().disconnect(null, 0, d.irp());
            rig.await(r.call, 5, "drain");
            r.call.assertCompleted(S);
            assertEquals(0, r.call.information());
            Call q = new Call();
            q.assertInline(p.client().controlSocket(WskIoctl, SIO_WSK_QUERY_RECEIVE_BACKLOG, 0, 0, q.irp()), S);
            assertEquals(0, q.information(), "nothing left queued");
        }
    }

    // ------------------------------------------------------------------ accept

    @Test
    void queuedAcceptTakesTheConnectionBeforeTheAcceptEvent_pfnWskAcceptEvent() {
        try (RingRig rig = new RingRig(dir)) {
            AtomicInteger events = new AtomicInteger();
            WskClientListenDispatch dispatch = new WskClientListenDispatch() {
                @Override
                public NtStatus wskAcceptEvent(Object ctx, int flags, SocketAddressV4 local, SocketAddressV4 remote,
                                          WskSocket acceptSocket) {
                    events.incrementAndGet();
                    assertEquals(new SocketAddressV4(RingRig.B_IP, 7), local);
                    assertEquals(RingRig.A_IP, remote.ip());
                    return S;
                }
            };
            WskSocket l = listener(rig, rig.wskB, 7, dispatch);
            Call enable = new Call();
            enable.assertInline(l.controlSocket(WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, WSK_EVENT_ACCEPT,
                enable.irp()), S);
            Call accept = new Call();
            assertEquals(P, l.accept(accept.irp()));
            connectClient(rig, 7);
            rig.await(accept, 5, "accept");
            accept.assertCompleted(S);
            assertEquals(0, events.get(), "the queued WskAccept took it");
            connectClient(rig, 7);
            rig.runUntil(() -> events.get() == 1, 5, "accept event");
        }
    }

    @Test
    void acceptEventReturningRequestNotAcceptedResetsTheConnection() {
        try (RingRig rig = new RingRig(dir)) {
            WskClientListenDispatch refuse = new WskClientListenDispatch() {
            };
            WskSocket l = listener(rig, rig.wskB, 7, refuse);
            Call enable = new Call();
            enable.assertInline(l.controlSocket(WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, WSK_EVENT_ACCEPT,
                enable.irp()), S);
            WskSocket c = connectClient(rig, 7);
            Receive r = new Receive(c, 10, 0);
            rig.await(r.call, 5, "reset");
            r.call.assertCompleted(NtStatus.STATUS_CONNECTION_RESET);
        }
    }

    @Test
    void acceptOfAConnectionAlreadyWaitingCompletesInlineWithItsData() {
        try (RingRig rig = new RingRig(dir)) {
            WskSocket l = listener(rig, rig.wskB, 7, null);
            WskSocket c = connectClient(rig, 7);
            send(rig, c, "early data");
            rig.runFor(50);
            Call accept = new Call();
            accept.assertInline(l.accept(accept.irp()), S);
            Receive r = new Receive(accept.socket(), 100, 0);
            r.call.assertInline(r.returned, S);
            assertEquals("early data", r.text());
            Call a = new Call();
            a.assertInline(accept.socket().getRemoteAddress(a.irp()), S);
            assertEquals(RingRig.A_IP, ((SocketAddressV4) a.object()).ip());
        }
    }

    @Test
    void wskAcceptFillsLocalAddressAndRemoteAddress_queuedAndWaitingConnections_wskAccept() {
        try (RingRig rig = new RingRig(dir)) {
            WskSocket l = listener(rig, rig.wskB, 7, null);
            // A WskAccept queued before the connection arrives (pending, then completed by the handshake).
            SocketAddressV4Out local = new SocketAddressV4Out();
            SocketAddressV4Out remote = new SocketAddressV4Out();
            Call queued = new Call();
            assertEquals(P, l.accept(0, null, null, local, remote, queued.irp()));
            WskSocket c1 = connectClient(rig, 7);
            rig.await(queued, 5, "queued accept");
            queued.assertCompleted(S);
            assertEquals(RingRig.B_IP, local.ip());
            assertEquals(7, local.port());
            assertEquals(RingRig.A_IP, remote.ip());
            assertEquals(localPortOf(c1), remote.port(), "the peer's own port");
            // A connection already waiting: WskAccept completes inline with the addresses filled; one
            // out-parameter may be left out (both are optional).
            WskSocket c2 = connectClient(rig, 7);
            rig.runFor(50);
            SocketAddressV4Out remote2 = new SocketAddressV4Out();
            Call inline = new Call();
            inline.assertInline(l.accept(0, null, null, null, remote2, inline.irp()), S);
            assertEquals(RingRig.A_IP, remote2.ip());
            assertEquals(localPortOf(c2), remote2.port());
        }
    }

    private static int localPortOf(WskSocket s) {
        Call a = new Call();
        a.assertInline(s.getLocalAddress(a.irp()), S);
        return ((SocketAddressV4) a.object()).port();
    }

    @Test
    void closingTheListenerStopsListeningAndResetsConnectionsNobodyAccepted() {
        try (RingRig rig = new RingRig(dir)) {
            WskSocket l = listener(rig, rig.wskB, 7, null);
            WskSocket waiting = connectClient(rig, 7);
            Receive r = new Receive(waiting, 10, 0);
            Call close = new Call();
            close.assertInline(l.closeSocket(close.irp()), S);
            rig.await(r.call, 5, "backlog reset");
            r.call.assertCompleted(NtStatus.STATUS_CONNECTION_RESET);
            WskSocket s = socket(rig.wskA, WSK_FLAG_CONNECTION_SOCKET, null);
            bind(s, SocketAddressV4.ANY);
            Call refused = new Call();
            s.connect(B7, refused.irp());
            rig.await(refused, 5, "refused");
            refused.assertCompleted(NtStatus.STATUS_CONNECTION_REFUSED);
            // The port is free again for a new listener.
            listener(rig, rig.wskB, 7, null);
        }
    }

    @Test
    void streamSocketsListenWithWskListenAndConnectWithWskConnect() {
        try (RingRig rig = new RingRig(dir)) {
            WskClientStreamDispatch none = new WskClientStreamDispatch() {
            };
            WskSocket l = socket(rig.wskB, WSK_FLAG_STREAM_SOCKET, none);
            bind(l, new SocketAddressV4(0, 8080));
            Call listen = new Call();
            assertEquals(P, l.listen(listen.irp()));
            rig.await(listen, 5, "listen");
            listen.assertCompleted(S);
            Call accept = new Call();
            l.accept(accept.irp());
            WskSocket c = socket(rig.wskA, WSK_FLAG_STREAM_SOCKET, none);
            bind(c, SocketAddressV4.ANY);
            Call connect = new Call();
            c.connect(new SocketAddressV4(RingRig.B_IP, 8080), connect.irp());
            rig.runUntil(() -> accept.done() && connect.done(), 5, "connect");
            connect.assertCompleted(S);
            accept.assertCompleted(S);
            Call x = new Call();
            x.assertInline(c.listen(x.irp()), NtStatus.STATUS_INVALID_DEVICE_STATE);
            x.assertInline(l.connect(B7, x.irp()), NtStatus.STATUS_INVALID_DEVICE_STATE);
        }
    }

    // ------------------------------------------------------------------ arguments, options, addresses

    @Test
    void socketArgumentsTheStackDoesNotSupportAreRefused() {
        try (RingRig rig = new RingRig(dir)) {
            Call c = new Call();
            c.assertInline(rig.wskA.socket(23, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, null, null,
                c.irp()), NtStatus.STATUS_NOT_SUPPORTED);
            c.assertInline(rig.wskA.socket(AF_INET, 2, 17, WSK_FLAG_DATAGRAM_SOCKET, null, null, c.irp()),
                NtStatus.STATUS_NOT_SUPPORTED);
            c.assertInline(rig.wskA.socket(AF_INET, SOCK_STREAM, IPPROTO_TCP, 0, null, null, c.irp()),
                NtStatus.STATUS_NOT_SUPPORTED);
            c.assertInline(rig.wskA.socket(AF_INET, SOCK_STREAM, IPPROTO_TCP, 3, null, null, c.irp()),
                NtStatus.STATUS_INVALID_PARAMETER);
            WskClientListenDispatch listenOnly = new WskClientListenDispatch() {
            };
            c.assertInline(rig.wskA.socket(AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, null,
                listenOnly, c.irp()), NtStatus.STATUS_INVALID_PARAMETER);
            WskSocket l = socket(rig.wskA, WSK_FLAG_LISTEN_SOCKET, null);
            WskSocket s = socket(rig.wskA, WSK_FLAG_CONNECTION_SOCKET, null);
            WskBuf buf = new WskBuf().set(direct("x"), 0, 1);
            c.assertInline(l.send(buf, 0, c.irp()), NtStatus.STATUS_NOT_SUPPORTED);
            c.assertInline(l.receive(buf, 0, c.irp()), NtStatus.STATUS_NOT_SUPPORTED);
            c.assertInline(l.connect(B7, c.irp()), NtStatus.STATUS_NOT_SUPPORTED);
            c.assertInline(l.listen(c.irp()), NtStatus.STATUS_NOT_SUPPORTED);
            c.assertInline(s.accept(c.irp()), NtStatus.STATUS_NOT_SUPPORTED);
            c.assertInline(s.listen(c.irp()), NtStatus.STATUS_NOT_SUPPORTED);
            c.assertInline(s.send(buf, 0, c.irp()), NtStatus.STATUS_INVALID_DEVICE_STATE);
            c.assertInline(s.receive(buf, 0, c.irp()), NtStatus.STATUS_INVALID_DEVICE_STATE);
            c.assertInline(s.disconnect(null, 0, c.irp()), NtStatus.STATUS_INVALID_DEVICE_STATE);
        }
    }

    @Test
    void bindAndAddressQueriesReportTheirFailures_pfnWskBind_pfnWskGetLocalAddress() {
        try (RingRig rig = new RingRig(dir)) {
            WskSocket s = socket(rig.wskA, WSK_FLAG_CONNECTION_SOCKET, null);
            Call c = new Call();
            c.assertInline(s.getLocalAddress(c.irp()), NtStatus.STATUS_INVALID_DEVICE_STATE);
            c.assertInline(s.getRemoteAddress(c.irp()), NtStatus.STATUS_INVALID_DEVICE_STATE);
            c.assertInline(s.bind(SocketAddressV4.of("10.12.0.9", 0), c.irp()), NtStatus.STATUS_INVALID_ADDRESS);
            c.assertInline(s.bind(new SocketAddressV4(RingRig.A_IP, 5000), c.irp()), S);
            c.assertInline(s.bind(SocketAddressV4.ANY, c.irp()), NtStatus.STATUS_INVALID_DEVICE_STATE);
            c.assertInline(s.getLocalAddress(c.irp()), S);
            assertEquals(new SocketAddressV4(RingRig.A_IP, 5000), c.object());
            c.assertInline(s.getRemoteAddress(c.irp()), NtStatus.STATUS_INVALID_DEVICE_STATE);
            WskSocket t = socket(rig.wskA, WSK_FLAG_CONNECTION_SOCKET, null);
            c.assertInline(t.bind(new SocketAddressV4(0, 5000), c.irp()), NtStatus.STATUS_SHARING_VIOLATION);
            c.assertInline(t.bind(SocketAddressV4.ANY, c.irp()), S);
            c.assertInline(t.getLocalAddress(c.irp()), S);
            int port = ((SocketAddressV4) c.object()).port();
            assertTrue(port >= 49152 && port <= 65535, "port chosen at bind: " + port);
            c.assertInline(s.closeSocket(c.irp()), S);
            WskSocket u = socket(rig.wskA, WSK_FLAG_CONNECTION_SOCKET, null);
            c.assertInline(u.bind(new SocketAddressV4(0, 5000), c.irp()), S); // free again after close
        }
    }

    @Test
    void socketOptionsSetGetAndRefuseWhatIsNotSupported_pfnWskControlSocket() {
        try (RingRig rig = new RingRig(dir)) {
            Connected p = connect(rig, 7, null, null);
            WskSocket s = p.client();
            Call c = new Call();
            c.assertInline(s.controlSocket(WskSetOption, 0x1234, SOL_SOCKET, 1, c.irp()), NtStatus.STATUS_NOT_SUPPORTED);
            c.assertInline(s.controlSocket(WskSetOption, TCP_NODELAY, 99, 1, c.irp()), NtStatus.STATUS_NOT_SUPPORTED);
            c.assertInline(s.controlSocket(WskIoctl, 0x4F0000FF, 0, 0, c.irp()), NtStatus.STATUS_NOT_SUPPORTED);
            c.assertInline(s.controlSocket(7, TCP_NODELAY, IPPROTO_TCP, 1, c.irp()), NtStatus.STATUS_INVALID_PARAMETER);
            c.assertInline(s.controlSocket(WskSetOption, TCP_NODELAY, IPPROTO_TCP, 1, c.irp()), S);
            c.assertInline(s.controlSocket(WskGetOption, TCP_NODELAY, IPPROTO_TCP, 0, c.irp()), S);
            assertEquals(1, c.information());
            c.assertInline(s.controlSocket(WskSetOption, SO_KEEPALIVE, SOL_SOCKET, 1, c.irp()), S);
            c.assertInline(s.controlSocket(WskSetOption, TCP_KEEPIDLE, IPPROTO_TCP, 30, c.irp()), S);
            c.assertInline(s.controlSocket(WskSetOption, TCP_KEEPINTVL, IPPROTO_TCP, 5, c.irp()), S);
            c.assertInline(s.controlSocket(WskSetOption, TCP_KEEPCNT, IPPROTO_TCP, 3, c.irp()), S);
            c.assertInline(s.controlSocket(WskSetOption, TCP_KEEPCNT, IPPROTO_TCP, 0, c.irp()),
                NtStatus.STATUS_INVALID_PARAMETER);
            c.assertInline(s.controlSocket(WskGetOption, TCP_KEEPIDLE, IPPROTO_TCP, 0, c.irp()), S);
            assertEquals(30, c.information());
            c.assertInline(s.controlSocket(WskGetOption, TCP_KEEPCNT, IPPROTO_TCP, 0, c.irp()), S);
            assertEquals(3, c.information());
            c.assertInline(s.controlSocket(WskSetOption, TCP_FASTOPEN, IPPROTO_TCP, 1, c.irp()),
                NtStatus.STATUS_INVALID_DEVICE_STATE);
            c.assertInline(s.controlSocket(WskIoctl, SIO_WSK_QUERY_IDEAL_SEND_BACKLOG, 0, 0, c.irp()), S);
            assertTrue(c.information() >= 16 << 10 && c.information() <= rig.a.config().tcp().sendBufferBytes()
                && Long.bitCount(c.information()) == 1, "ideal send backlog " + c.information());
            // Events: a connection socket has no accept event; disable one event at a time.
            c.assertInline(s.controlSocket(WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, WSK_EVENT_ACCEPT, c.irp()),
                NtStatus.STATUS_INVALID_PARAMETER);
            c.assertInline(s.controlSocket(WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, WSK_EVENT_RECEIVE, c.irp()),
                NtStatus.STATUS_INVALID_PARAMETER); // no connection dispatch given
            c.assertInline(s.controlSocket(WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET,
                WSK_EVENT_DISABLE | WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT, c.irp()), NtStatus.STATUS_INVALID_PARAMETER);
            // Flags a call does not know.
            WskBuf buf = new WskBuf().set(direct("x"), 0, 1);
            c.assertInline(s.send(buf, 0x100, c.irp()), NtStatus.STATUS_NOT_SUPPORTED);
            c.assertInline(s.receive(buf, 0x100, c.irp()), NtStatus.STATUS_NOT_SUPPORTED);
            c.assertInline(s.receive(buf, WSK_FLAG_WAITALL | WSK_FLAG_DRAIN, c.irp()), NtStatus.STATUS_INVALID_PARAMETER);
            // Without an IRP on the dispatch thread the status is the whole answer.
            assertEquals(S, s.controlSocket(WskSetOption, TCP_NODELAY, IPPROTO_TCP, 0, null));
        }
    }

    @Test
    void sendBacklogEventFollowsTheIdealBacklogAsTheWindowOpens_pfnWskSendBacklogEvent() {
        try (RingRig rig = new RingRig(dir)) {
            List<Long> reported = new ArrayList<>();
            WskClientConnectionDispatch events = new WskClientConnectionDispatch() {
                @Override
                public NtStatus wskSendBacklogEvent(Object socketContext, long idealBacklogSize) {
                    assertEquals("client", socketContext);
                    reported.add(idealBacklogSize);
                    return S;
                }
            };
            Connected p = connect(rig, 7, events, null);
            p.client().setContext("client");
            Call c = new Call();
            c.assertInline(p.client().controlSocket(WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET,
                WSK_EVENT_SEND_BACKLOG, c.irp()), S);
            Receive drain = new Receive(p.server(), 1 << 16, WSK_FLAG_DRAIN);
            int total = 4 << 20;
            ByteBuffer data = ByteBuffer.allocateDirect(1 << 20);
            for (int sent = 0; sent < total; sent += data.capacity()) {
                Call send = new Call();
                p.client().send(new WskBuf().set(data, 0, data.capacity()), 0, send.irp());
                rig.await(send, 10, "send");
                send.assertCompleted(S);
            }
            assertFalse(reported.isEmpty(), "the window opened: WskSendBacklogEvent raised");
            long last = reported.get(reported.size() - 1);
            assertTrue(last > 16 << 10, "the ideal backlog grew with the window: " + reported);
            for (long v : reported) {
                assertTrue(v >= 16 << 10 && v <= rig.a.config().tcp().sendBufferBytes() && Long.bitCount(v) == 1,
                    "a power of two within the send buffer: " + reported);
            }
            c.assertInline(p.client().controlSocket(WskIoctl, SIO_WSK_QUERY_IDEAL_SEND_BACKLOG, 0, 0, c.irp()), S);
            assertEquals(last, c.information(), "the query answers what the event said");
            assertFalse(drain.call.done(), "draining until the client disconnects");
        }
    }

    @Test
    void addressSharingFollowsSoReuseAddrAndSoExclusiveAddrUse_pfnWskBind() {
        try (RingRig rig = new RingRig(dir)) {
            listener(rig, rig.wskB, 7, null);
            listener(rig, rig.wskB, 8, null);
            Call c = new Call();
            WskSocket first = socket(rig.wskA, WSK_FLAG_CONNECTION_SOCKET, null);
            bind(first, new SocketAddressV4(0, 40001));
            WskSocket plain = socket(rig.wskA, WSK_FLAG_CONNECTION_SOCKET, null);
            c.assertInline(plain.bind(new SocketAddressV4(0, 40001), c.irp()), NtStatus.STATUS_SHARING_VIOLATION);
            WskSocket sharing = socket(rig.wskA, WSK_FLAG_CONNECTION_SOCKET, null);
            c.assertInline(sharing.controlSocket(WskSetOption, SO_REUSEADDR, SOL_SOCKET, 1, c.irp()), S);
            c.assertInline(sharing.controlSocket(WskSetOption, SO_EXCLUSIVEADDRUSE, SOL_SOCKET, 1, c.irp()),
                NtStatus.STATUS_INVALID_PARAMETER);
            c.assertInline(sharing.bind(new SocketAddressV4(0, 40001), c.irp()), S);
            c.assertInline(sharing.controlSocket(WskSetOption, SO_REUSEADDR, SOL_SOCKET, 0, c.irp()),
                NtStatus.STATUS_INVALID_DEVICE_STATE);
            // Both connect from port 40001, to different servers: the stack allows it for the sharing socket.
            Call one = new Call();
            Call two = new Call();
            first.connect(new SocketAddressV4(RingRig.B_IP, 7), one.irp());
            rig.await(one, 5, "first connect");
            one.assertCompleted(S);
            sharing.connect(new SocketAddressV4(RingRig.B_IP, 8), two.irp());
            rig.await(two, 5, "second connect from the same port");
            two.assertCompleted(S);
            c.assertInline(sharing.getLocalAddress(c.irp()), S);
            assertEquals(40001, ((SocketAddressV4) c.object()).port());
            // An exclusive holder keeps everyone out, even sockets that ask to share.
            WskSocket exclusive = socket(rig.wskA, WSK_FLAG_CONNECTION_SOCKET, null);
            c.assertInline(exclusive.controlSocket(WskSetOption, SO_EXCLUSIVEADDRUSE, SOL_SOCKET, 1, c.irp()), S);
            c.assertInline(exclusive.controlSocket(WskGetOption, SO_EXCLUSIVEADDRUSE, SOL_SOCKET, 0, c.irp()), S);
            assertEquals(1, c.information());
            bind(exclusive, new SocketAddressV4(0, 40002));
            WskSocket intruder = socket(rig.wskA, WSK_FLAG_CONNECTION_SOCKET, null);
            c.assertInline(intruder.controlSocket(WskSetOption, SO_REUSEADDR, SOL_SOCKET, 1, c.irp()), S);
            c.assertInline(intruder.bind(new SocketAddressV4(0, 40002), c.irp()), NtStatus.STATUS_ACCESS_DENIED);
            WskSocket plainIntruder = socket(rig.wskA, WSK_FLAG_CONNECTION_SOCKET, null);
            c.assertInline(plainIntruder.bind(new SocketAddressV4(0, 40002), c.irp()), NtStatus.STATUS_SHARING_VIOLATION);
            // And an exclusive socket does not join a port in use.
            WskSocket late = socket(rig.wskA, WSK_FLAG_CONNECTION_SOCKET, null);
            c.assertInline(late.controlSocket(WskSetOption, SO_EXCLUSIVEADDRUSE, SOL_SOCKET, 1, c.irp()), S);
            c.assertInline(late.bind(new SocketAddressV4(0, 40001), c.irp()), NtStatus.STATUS_SHARING_VIOLATION);
        }
    }

    @Test
    void receiveBufferTimestampsAndMaxRetransmitOptions_pfnWskControlSocket() {
        try (RingRig rig = new RingRig(dir)) {
            listener(rig, rig.wskB, 7, null);
            WskSocket s = socket(rig.wskA, WSK_FLAG_CONNECTION_SOCKET, null);
            Call c = new Call();
            c.assertInline(s.controlSocket(WskGetOption, SO_RCVBUF, SOL_SOCKET, 0, c.irp()), S);
            assertEquals(rig.a.config().tcp().receiveBufferBytes(), c.information(), "the stack's by default");
            c.assertInline(s.controlSocket(WskSetOption, SO_RCVBUF, SOL_SOCKET, 0, c.irp()),
                NtStatus.STATUS_INVALID_PARAMETER);
            c.assertInline(s.controlSocket(WskSetOption, SO_RCVBUF, SOL_SOCKET, 8192, c.irp()), S);
            c.assertInline(s.controlSocket(WskGetOption, SO_RCVBUF, SOL_SOCKET, 0, c.irp()), S);
            assertEquals(8192, c.information());
            c.assertInline(s.controlSocket(WskSetOption, TCP_TIMESTAMPS, IPPROTO_TCP, 0, c.irp()), S);
            c.assertInline(s.controlSocket(WskGetOption, TCP_TIMESTAMPS, IPPROTO_TCP, 0, c.irp()), S);
            assertEquals(0, c.information());
            c.assertInline(s.controlSocket(WskSetOption, TCP_MAXRT, IPPROTO_TCP, -1, c.irp()),
                NtStatus.STATUS_INVALID_PARAMETER);
            c.assertInline(s.controlSocket(WskSetOption, TCP_MAXRT, IPPROTO_TCP, 3, c.irp()), S);
            c.assertInline(s.controlSocket(WskGetOption, TCP_MAXRT, IPPROTO_TCP, 0, c.irp()), S);
            assertEquals(3, c.information());
            bind(s, SocketAddressV4.ANY);
            Call connect = new Call();
            s.connect(new SocketAddressV4(RingRig.B_IP, 7), connect.irp());
            rig.await(connect, 5, "connect");
            connect.assertCompleted(S);
            c.assertInline(s.controlSocket(WskSetOption, TCP_TIMESTAMPS, IPPROTO_TCP, 1, c.irp()),
                NtStatus.STATUS_INVALID_DEVICE_STATE);
            c.assertInline(s.controlSocket(WskSetOption, SO_RCVBUF, SOL_SOCKET, 16384, c.irp()), S);
        }
    }

    // ------------------------------------------------------------------ threads and IRP rules

    @Test
    void callsFromAnotherThreadReturnPendingAndCompleteOnTheDispatchThread() throws Exception {
        try (RingRig rig = new RingRig(dir)) {
            Connected p = connect(rig, 7, null, null);
            ByteBuffer b = direct("from another thread");
            Call send = new Call();
            Call create = new Call();
            NtStatus[] returned = new NtStatus[2];
            Thread other = new Thread(() -> {
                returned[0] = p.client().send(new WskBuf().set(b, 0, b.capacity()), 0, send.irp());
                returned[1] = rig.wskA.socket(AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, null, null,
                    create.irp());
            });
            other.start();
            other.join();
            assertEquals(P, returned[0]);
            assertEquals(P, returned[1]);
            assertTrue(send.irp.pending() && create.irp.pending());
            rig.runUntil(() -> send.done() && create.done(), 5, "queued calls");
            send.assertCompleted(S);
            create.assertCompleted(S);
            assertSame(Thread.currentThread(), send.completedOn);
            assertSame(Thread.currentThread(), create.completedOn);
            Receive r = new Receive(p.server(), 100, 0);
            rig.await(r.call, 5, "receive");
            assertEquals("from another thread", r.text());
            assertThrows(IllegalStateException.class, () -> {
                Thread t = new Thread(() -> rig.wskA.dispatch());
                Throwable[] failure = new Throwable[1];
                t.setUncaughtExceptionHandler((th, e) -> failure[0] = e);
                t.start();
                t.join();
                if (failure[0] instanceof IllegalStateException e) {
                    throw e;
                }
            }, "dispatch() belongs to the dispatch thread");
        }
    }

    @Test
    void anIrpServesOneCallAtATime_ioReuseIrp() {
        try (RingRig rig = new RingRig(dir)) {
            Connected p = connect(rig, 7, null, null);
            Receive r = new Receive(p.client(), 10, 0);
            assertEquals(P, r.returned);
            Irp busy = r.call.irp;
            assertThrows(IllegalStateException.class, busy::reuse, "reuse while in progress");
            assertThrows(IllegalStateException.class,
                () -> p.client().receive(new WskBuf().set(direct("x"), 0, 1), 0, busy), "second call on a busy IRP");
            Call done = new Call();
            done.assertInline(p.client().getLocalAddress(done.irp()), S);
            assertThrows(IllegalStateException.class, () -> p.client().getLocalAddress(done.irp),
                "a completed IRP must be reused first");
            done.assertInline(p.client().getLocalAddress(done.irp()), S);
        }
    }

    private static WskSocket connectClient(RingRig rig, int port) {
        WskSocket c = socket(rig.wskA, WSK_FLAG_CONNECTION_SOCKET, null);
        bind(c, SocketAddressV4.ANY);
        Call connect = new Call();
        c.connect(new SocketAddressV4(RingRig.B_IP, port), connect.irp());
        rig.await(connect, 5, "connect");
        connect.assertCompleted(S);
        return c;
    }
}
