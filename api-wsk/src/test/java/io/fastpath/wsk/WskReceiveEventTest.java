package io.fastpath.wsk;

import static io.fastpath.wsk.Wsk.SIO_WSK_QUERY_RECEIVE_BACKLOG;
import static io.fastpath.wsk.Wsk.SOL_SOCKET;
import static io.fastpath.wsk.Wsk.SO_WSK_EVENT_CALLBACK;
import static io.fastpath.wsk.Wsk.WSK_EVENT_ACCEPT;
import static io.fastpath.wsk.Wsk.WSK_EVENT_DISABLE;
import static io.fastpath.wsk.Wsk.WSK_EVENT_DISCONNECT;
import static io.fastpath.wsk.Wsk.WSK_EVENT_RECEIVE;
import static io.fastpath.wsk.Wsk.WSK_FLAG_ABORTIVE;
import static io.fastpath.wsk.Wsk.WSK_FLAG_CONNECTION_SOCKET;
import static io.fastpath.wsk.Wsk.WskIoctl;
import static io.fastpath.wsk.Wsk.WskSetOption;
import static io.fastpath.wsk.WskTestSockets.bind;
import static io.fastpath.wsk.WskTestSockets.connect;
import static io.fastpath.wsk.WskTestSockets.send;
import static io.fastpath.wsk.WskTestSockets.socket;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.provider.NtStatus;
import io.fastpath.stack.tcp.TcpConfig;
import io.fastpath.wsk.WskTestSockets.Connected;
import io.fastpath.wsk.WskTestSockets.Receive;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import io.fastpath.provider.SizeT;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * WskReceiveEvent and WskDisconnectEvent (PFN_WSK_RECEIVE_EVENT, PFN_WSK_DISCONNECT_EVENT, PFN_WSK_RELEASE_DATA_INDICATION_LIST):
 * data lent in place as a chain over the received mbufs; SUCCESS consumes (all or BytesAccepted), PENDING keeps
 * the chain until WskRelease, STATUS_DATA_NOT_ACCEPTED leaves it for a WskReceive; pending WskReceives come first.
 */
class WskReceiveEventTest {
    private static final NtStatus S = NtStatus.STATUS_SUCCESS;

    @TempDir
    Path dir;

    /** Records every indication; answers with {@link #answer}. */
    static final class Recorder implements WskClientConnectionDispatch {
        final StringBuilder text = new StringBuilder();
        final List<WskDataIndication> kept = new ArrayList<>();
        final List<Integer> disconnects = new ArrayList<>();
        int events;
        int nullIndications;
        int lastFlags;
        NtStatus answer = S;
        long accept = -1;

        @Override
        public NtStatus wskReceiveEvent(Object socketContext, int flags, WskDataIndication dataIndication,
                                   long bytesIndicated, SizeT bytesAccepted) {
            if (dataIndication == null) {
                nullIndications++;
                return S;
            }
            events++;
            lastFlags = flags;
            String chain = read(dataIndication);
            assertEquals(bytesIndicated, chain.length(), "BytesIndicated = the chain's bytes");
            if (answer == S) {
                long n = accept >= 0 ? Math.min(accept, bytesIndicated) : bytesIndicated;
                bytesAccepted.set(n);
                text.append(chain, 0, (int) n);
            } else if (answer == NtStatus.STATUS_PENDING) {
                kept.add(dataIndication);
                text.append(chain);
            }
            return answer;
        }

        @Override
        public NtStatus wskDisconnectEvent(Object socketContext, int flags) {
            disconnects.add(flags);
            return S;
        }
    }

    static String read(WskDataIndication chain) {
        StringBuilder b = new StringBuilder();
        for (WskDataIndication i = chain; i != null; i = i.next()) {
            WskBuf buf = i.buffer();
            UnsafeBuffer view = new UnsafeBuffer(buf.address() + buf.offset(), buf.length());
            b.append(view.getStringWithoutLengthAscii(0, buf.length()));
        }
        return b.toString();
    }

    private static void enable(WskSocket s, int events) {
        Call c = new Call();
        c.assertInline(s.controlSocket(WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, events, c.irp()), S);
    }

    /** SIO_WSK_QUERY_RECEIVE_BACKLOG: the bytes the socket holds for a WskReceive. */
    private static long backlog(WskSocket s) {
        Call q = new Call();
        q.assertInline(s.controlSocket(WskIoctl, SIO_WSK_QUERY_RECEIVE_BACKLOG, 0, 0, q.irp()), S);
        return q.information();
    }

    /**
     * Dispatches until the socket holds {@code bytes} for a WskReceive: the data has reached the socket, so
     * an event it was going to raise has been raised (no fixed window, which a loaded machine can miss).
     */
    private static void awaitBacklog(RingRig rig, WskSocket s, long bytes) {
        rig.runUntil(() -> backlog(s) == bytes, 5, bytes + " bytes queued on the socket");
    }

    @Test
    void receiveEventLendsTheDataInPlaceAndSuccessConsumesIt() {
        try (RingRig rig = new RingRig(dir)) {
            Recorder r = new Recorder();
            Connected p = connect(rig, 7, r, null);
            enable(p.client(), WSK_EVENT_RECEIVE);
            send(rig, p.server(), "hello ");
            send(rig, p.server(), "world");
            rig.runUntil(() -> r.text.length() == 11, 5, "indications");
            assertEquals("hello world", r.text.toString());
            Call q = new Call();
            q.assertInline(p.client().controlSocket(WskIoctl, SIO_WSK_QUERY_RECEIVE_BACKLOG, 0, 0, q.irp()), S);
            assertEquals(0, q.information(), "consumed: nothing queued");
            // Disabled: the data waits for a WskReceive.
            enable(p.client(), WSK_EVENT_DISABLE | WSK_EVENT_RECEIVE);
            int before = r.events;
            send(rig, p.server(), "later");
            awaitBacklog(rig, p.client(), 5);
            assertEquals(before, r.events);
            Receive rcv = new Receive(p.client(), 100, 0);
            rcv.call.assertInline(rcv.returned, S);
            assertEquals("later", rcv.text());
        }
    }

    @Test
    void pendingKeepsTheChainUntilWskReleaseAndASecondReleaseIsRefused() throws Exception {
        try (RingRig rig = new RingRig(dir)) {
            Recorder r = new Recorder();
            r.answer = NtStatus.STATUS_PENDING;
            Connected p = connect(rig, 7, r, null);
            enable(p.client(), WSK_EVENT_RECEIVE);
            send(rig, p.server(), "kept data");
            rig.runUntil(() -> r.kept.size() == 1, 5, "indication");
            WskDataIndication chain = r.kept.get(0);
            // Still ours after more traffic: the mbufs have not been reused.
            send(rig, p.server(), "more");
            rig.runUntil(() -> r.kept.size() == 2, 5, "second indication");
            assertEquals("kept data", read(chain));
            if (chain.next() != null) {
                assertEquals(NtStatus.STATUS_INVALID_PARAMETER, p.client().release(chain.next()), "not a chain head");
            }
            assertEquals(S, p.client().release(chain));
            assertEquals(NtStatus.STATUS_INVALID_PARAMETER, p.client().release(chain), "released twice");
            assertEquals(NtStatus.STATUS_INVALID_PARAMETER, p.client().release(null));
            // WskRelease from another thread is queued to the dispatch thread.
            WskDataIndication second = r.kept.get(1);
            NtStatus[] status = {null};
            Thread t = new Thread(() -> status[0] = rig.wskA.release(second));
            t.start();
            t.join();
            assertEquals(S, status[0]);
            rig.runFor(50);
            assertEquals("kept datamore", r.text.toString());
        }
    }

    /**
     * Issue 10: an application holding zero-copy indications is told before the pool runs dry. With the stack's
     * TCP memory at three quarters of its budget (64 mbufs here), indications carry WSK_FLAG_RELEASE_ASAP ("the
     * WSK subsystem requests that the WSK application release the data indication as soon as possible"),
     * though the socket itself holds far less than half its receive buffer; once released, the flag is gone.
     */
    @Test
    void heldIndicationsUnderStackMemoryPressureAreAskedBackWithReleaseAsap_issue10() {
        try (RingRig rig = new RingRig(dir, TcpConfig.defaults().withTimeWait(TimeUnit.MILLISECONDS.toNanos(50)),
            false, 64)) {
            Recorder r = new Recorder();
            r.answer = NtStatus.STATUS_PENDING;
            Connected p = connect(rig, 7, r, null);
            enable(p.client(), WSK_EVENT_RECEIVE);
            boolean asked = false;
            for (int i = 0; i < 56 && !asked; i++) {
                int before = r.kept.size();
                send(rig, p.server(), "chunk" + i);
                rig.runUntil(() -> r.kept.size() > before, 5, "indication " + before);
                asked = (r.lastFlags & Wsk.WSK_FLAG_RELEASE_ASAP) != 0;
                assertTrue(asked || r.kept.size() < 48, "asked by the time 48 of 64 are held: " + r.kept.size());
            }
            assertTrue(asked, "RELEASE_ASAP came");
            assertTrue(r.kept.size() >= 40, "not before the stack was short: " + r.kept.size());
            for (WskDataIndication chain : r.kept) {
                assertEquals(S, p.client().release(chain));
            }
            r.kept.clear();
            // The releases reach A's stack through its release ring; wait until it has taken them back.
            rig.runUntil(() -> !rig.a.tcpService().memoryPressure(), 5, "the stack took the releases");
            r.answer = S;
            send(rig, p.server(), "after");
            rig.runUntil(() -> r.text.toString().endsWith("after"), 5, "indication after the release");
            assertEquals(0, r.lastFlags & Wsk.WSK_FLAG_RELEASE_ASAP, "no longer short");
        }
    }

    @Test
    void dataNotAcceptedLeavesTheDataForWskReceiveAndStopsEventsUntilOneIsPosted() {
        try (RingRig rig = new RingRig(dir)) {
            Recorder r = new Recorder();
            r.answer = NtStatus.STATUS_DATA_NOT_ACCEPTED;
            Connected p = connect(rig, 7, r, null);
            enable(p.client(), WSK_EVENT_RECEIVE);
            send(rig, p.server(), "abc");
            rig.runUntil(() -> r.events == 1, 5, "indication");
            send(rig, p.server(), "def");
            awaitBacklog(rig, p.client(), 6);
            assertEquals(1, r.events, "no more events until a WskReceive");
            Receive rcv = new Receive(p.client(), 100, 0);
            rcv.call.assertInline(rcv.returned, S);
            assertEquals("abcdef", rcv.text(), "the refused data and what came after, in order");
            r.answer = S;
            send(rig, p.server(), "ghi");
            rig.runUntil(() -> r.events == 2, 5, "events flow again");
            assertEquals("ghi", r.text.toString());
        }
    }

    @Test
    void successWithFewerBytesAcceptedLeavesTheRestForWskReceive() {
        try (RingRig rig = new RingRig(dir)) {
            Recorder r = new Recorder();
            r.accept = 3;
            Connected p = connect(rig, 7, r, null);
            enable(p.client(), WSK_EVENT_RECEIVE);
            send(rig, p.server(), "abcdef");
            rig.runUntil(() -> r.events == 1, 5, "indication");
            assertEquals("abc", r.text.toString());
            send(rig, p.server(), "gh");
            awaitBacklog(rig, p.client(), 5);
            assertEquals(1, r.events, "events wait for a WskReceive");
            Receive rcv = new Receive(p.client(), 100, 0);
            rcv.call.assertInline(rcv.returned, S);
            assertEquals("defgh", rcv.text());
        }
    }

    @Test
    void aPendingWskReceiveTakesDataBeforeTheReceiveEvent() {
        try (RingRig rig = new RingRig(dir)) {
            Recorder r = new Recorder();
            Connected p = connect(rig, 7, r, null);
            enable(p.client(), WSK_EVENT_RECEIVE);
            Receive rcv = new Receive(p.client(), 100, 0);
            assertEquals(NtStatus.STATUS_PENDING, rcv.returned);
            send(rig, p.server(), "for the irp");
            rig.await(rcv.call, 5, "receive");
            assertEquals("for the irp", rcv.text());
            assertEquals(0, r.events);
            send(rig, p.server(), "for the event");
            rig.runUntil(() -> r.events == 1, 5, "event");
            assertEquals("for the event", r.text.toString());
        }
    }

    @Test
    void enablingReceiveEventsIndicatesDataAlreadyQueued() {
        try (RingRig rig = new RingRig(dir)) {
            Recorder r = new Recorder();
            Connected p = connect(rig, 7, r, null);
            send(rig, p.server(), "waiting");
            awaitBacklog(rig, p.client(), 7);
            assertEquals(0, r.events, "events start disabled");
            enable(p.client(), WSK_EVENT_RECEIVE);
            rig.runUntil(() -> r.events == 1, 5, "indication");
            assertEquals("waiting", r.text.toString());
        }
    }

    @Test
    void disconnectEventReportsAGracefulCloseAfterTheData() {
        try (RingRig rig = new RingRig(dir)) {
            Recorder r = new Recorder();
            Connected p = connect(rig, 7, r, null);
            enable(p.client(), WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT);
            send(rig, p.server(), "last words");
            Call d = new Call();
            p.server().disconnect(null, 0, d.irp());
            rig.runUntil(() -> r.disconnects.size() == 1, 5, "disconnect event");
            assertEquals(List.of(0), r.disconnects, "graceful: no ABORTIVE flag");
            assertEquals("last words", r.text.toString(), "the data came first");
            // After a graceful peer close we may still send.
            send(rig, p.client(), "answer");
            Receive rcv = new Receive(p.server(), 100, 0);
            rig.await(rcv.call, 5, "answer");
            assertEquals("answer", rcv.text());
        }
    }

    @Test
    void aResetWithOnlyReceiveEventsEnabledIndicatesANullChain() {
        try (RingRig rig = new RingRig(dir)) {
            Recorder r = new Recorder();
            Connected p = connect(rig, 7, r, null);
            enable(p.client(), WSK_EVENT_RECEIVE);
            Call abort = new Call();
            p.server().disconnect(null, WSK_FLAG_ABORTIVE, abort.irp());
            rig.runUntil(() -> r.nullIndications == 1, 5, "null indication");
            assertEquals(0, r.events);
        }
    }

    @Test
    void listenerEventsCarryOverToSocketsTakenByTheAcceptEvent() {
        try (RingRig rig = new RingRig(dir)) {
            Recorder conn = new Recorder();
            List<WskSocket> taken = new ArrayList<>();
            WskClientStreamDispatch listen = new WskClientStreamDispatch() {
                @Override
                public NtStatus wskAcceptEvent(Object ctx, int flags, SocketAddressV4 local, SocketAddressV4 remote,
                                          WskSocket acceptSocket) {
                    acceptSocket.setDispatch(conn);
                    acceptSocket.setContext("conn");
                    taken.add(acceptSocket);
                    return S;
                }
            };
            // A listen socket's dispatch must be a listen dispatch; a stream dispatch is one.
            WskSocket l = socket(rig.wskB, Wsk.WSK_FLAG_LISTEN_SOCKET, listen);
            Call bind = new Call();
            l.bind(new SocketAddressV4(0, 7), bind.irp());
            rig.await(bind, 5, "listen");
            enable(l, WSK_EVENT_ACCEPT | WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT);
            WskSocket c = socket(rig.wskA, WSK_FLAG_CONNECTION_SOCKET, null);
            bind(c, SocketAddressV4.ANY);
            Call connect = new Call();
            c.connect(new SocketAddressV4(RingRig.B_IP, 7), connect.irp());
            rig.await(connect, 5, "connect");
            rig.runUntil(() -> taken.size() == 1, 5, "accept event");
            assertEquals("conn", taken.get(0).context());
            send(rig, c, "inherited");
            rig.runUntil(() -> conn.events == 1, 5, "receive event on the accepted socket");
            assertEquals("inherited", conn.text.toString());
            Call d = new Call();
            c.disconnect(null, 0, d.irp());
            rig.runUntil(() -> conn.disconnects.size() == 1, 5, "disconnect event on the accepted socket");
        }
    }

    /** One mebibyte through receive events, alternately consumed and kept (released a round later). */
    @Test
    void oneMebibyteThroughReceiveEventsConsumedOrKeptZeroCopy() {
        final int total = 1 << 20;
        try (RingRig rig = new RingRig(dir)) {
            long[] received = {0};
            long[] mismatches = {0};
            List<WskDataIndication> keep = new ArrayList<>();
            int[] turn = {0};
            WskClientConnectionDispatch checker = new WskClientConnectionDispatch() {
                @Override
                public NtStatus wskReceiveEvent(Object ctx, int flags, WskDataIndication chain, long bytes,
                                           SizeT accepted) {
                    for (WskDataIndication i = chain; i != null; i = i.next()) {
                        UnsafeBuffer view = new UnsafeBuffer(i.buffer().address() + i.buffer().offset(),
                            i.buffer().length());
                        for (int k = 0; k < view.capacity(); k++) {
                            if (view.getByte(k) != WskTestSockets.pattern(received[0] + k)) {
                                mismatches[0]++;
                            }
                        }
                        received[0] += view.capacity();
                    }
                    if ((turn[0]++ & 1) == 0) {
                        return S;
                    }
                    keep.add(chain);
                    return NtStatus.STATUS_PENDING;
                }
            };
            Connected p = connect(rig, 7, null, checker);
            enable(p.server(), WSK_EVENT_RECEIVE);
            ByteBuffer data = ByteBuffer.allocateDirect(total);
            for (int i = 0; i < total; i++) {
                data.put(i, WskTestSockets.pattern(i));
            }
            List<Call> sends = new ArrayList<>();
            for (int off = 0; off < total; off += 128 * 1024) {
                Call c = new Call();
                p.client().send(new WskBuf().set(data, off, 128 * 1024), 0, c.irp());
                sends.add(c);
            }
            rig.runUntil(() -> {
                for (WskDataIndication k : keep) {
                    assertEquals(S, rig.wskB.release(k));
                }
                keep.clear();
                return received[0] == total;
            }, 20, "1 MiB through events");
            assertEquals(0, mismatches[0]);
            for (Call c : sends) {
                c.assertCompleted(S);
            }
            assertTrue(turn[0] > 2, "several indications: " + turn[0]);
            assertFalse(rig.errors.size() > 0);
        }
    }

}
