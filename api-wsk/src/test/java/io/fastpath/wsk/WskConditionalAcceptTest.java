package io.fastpath.wsk;

import static io.fastpath.wsk.Wsk.SOL_SOCKET;
import static io.fastpath.wsk.Wsk.SO_CONDITIONAL_ACCEPT;
import static io.fastpath.wsk.Wsk.SO_WSK_EVENT_CALLBACK;
import static io.fastpath.wsk.Wsk.WSK_EVENT_ACCEPT;
import static io.fastpath.wsk.Wsk.WSK_FLAG_ABORTIVE;
import static io.fastpath.wsk.Wsk.WSK_FLAG_CONNECTION_SOCKET;
import static io.fastpath.wsk.Wsk.WSK_FLAG_LISTEN_SOCKET;
import static io.fastpath.wsk.Wsk.WskGetOption;
import static io.fastpath.wsk.Wsk.WskInspectAccept;
import static io.fastpath.wsk.Wsk.WskInspectPend;
import static io.fastpath.wsk.Wsk.WskInspectReject;
import static io.fastpath.wsk.Wsk.WskSetOption;
import static io.fastpath.wsk.WskTestSockets.bind;
import static io.fastpath.wsk.WskTestSockets.send;
import static io.fastpath.wsk.WskTestSockets.socket;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.stack.NtStatus;
import io.fastpath.wsk.WskTestSockets.Receive;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Conditional accept (SO_CONDITIONAL_ACCEPT, WskInspectEvent, WskInspectComplete, WskAbortEvent) between two
 * stacks on a ring pair: each inspection outcome, decided at once or later, and a peer that gives up while
 * the decision is pending.
 */
class WskConditionalAcceptTest {
    private static final int S = NtStatus.STATUS_SUCCESS;

    @TempDir
    Path dir;

    /** Records inspections and aborts; answers with {@link #action}. */
    static final class Inspector implements WskClientListenDispatch {
        final List<WskInspectId> inspected = new ArrayList<>();
        final List<WskInspectId> aborted = new ArrayList<>();
        final List<WskSocket> accepted = new ArrayList<>();
        SocketAddressV4 lastRemote;
        int action;

        @Override
        public int wskInspectEvent(Object socketContext, SocketAddressV4 localAddress, SocketAddressV4 remoteAddress,
                                   WskInspectId inspectId) {
            assertEquals("listener", socketContext);
            lastRemote = remoteAddress;
            inspected.add(inspectId);
            return action;
        }

        @Override
        public int wskAbortEvent(Object socketContext, WskInspectId inspectId) {
            aborted.add(inspectId);
            return S;
        }

        @Override
        public int wskAcceptEvent(Object socketContext, int flags, SocketAddressV4 localAddress,
                                  SocketAddressV4 remoteAddress, WskSocket acceptSocket) {
            accepted.add(acceptSocket);
            return S;
        }
    }

    private static WskSocket conditionalListener(RingRig rig, Inspector inspector, int port) {
        WskSocket l = socket(rig.wskB, WSK_FLAG_LISTEN_SOCKET, inspector);
        l.setContext("listener");
        Call c = new Call();
        c.assertInline(l.controlSocket(WskSetOption, SO_CONDITIONAL_ACCEPT, SOL_SOCKET, 1, c.irp()), S);
        c.assertInline(l.controlSocket(WskGetOption, SO_CONDITIONAL_ACCEPT, SOL_SOCKET, 0, c.irp()), S);
        assertEquals(1, c.information());
        c.assertInline(l.controlSocket(WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, WSK_EVENT_ACCEPT, c.irp()), S);
        Call listen = new Call();
        assertEquals(NtStatus.STATUS_PENDING, l.bind(new SocketAddressV4(0, port), listen.irp()));
        rig.await(listen, 5, "listen");
        listen.assertCompleted(S);
        // Conditional accept is chosen before binding, as in Winsock.
        c.assertInline(l.controlSocket(WskSetOption, SO_CONDITIONAL_ACCEPT, SOL_SOCKET, 0, c.irp()),
            NtStatus.STATUS_INVALID_DEVICE_STATE);
        return l;
    }

    private static WskSocket client(RingRig rig, int port) {
        WskSocket c = socket(rig.wskA, WSK_FLAG_CONNECTION_SOCKET, null);
        bind(c, SocketAddressV4.ANY);
        Call connect = new Call();
        c.connect(new SocketAddressV4(RingRig.B_IP, port), connect.irp());
        rig.await(connect, 5, "connect");
        connect.assertCompleted(S);
        return c;
    }

    @Test
    void inspectAcceptHandsTheConnectionToTheAcceptEvent() {
        try (RingRig rig = new RingRig(dir)) {
            Inspector inspector = new Inspector();
            inspector.action = WskInspectAccept;
            conditionalListener(rig, inspector, 7);
            WskSocket c = client(rig, 7);
            rig.runUntil(() -> !inspector.accepted.isEmpty(), 5, "accept event after the inspection");
            assertEquals(1, inspector.inspected.size());
            assertEquals(RingRig.A_IP, inspector.lastRemote.ip());
            send(rig, c, "hello");
            Receive r = new Receive(inspector.accepted.get(0), 10, 0);
            rig.await(r.call, 5, "data");
            assertEquals("hello", r.text());
        }
    }

    @Test
    void inspectRejectResetsTheConnectionAndTheApplicationNeverSeesIt() {
        try (RingRig rig = new RingRig(dir)) {
            Inspector inspector = new Inspector();
            inspector.action = WskInspectReject;
            conditionalListener(rig, inspector, 7);
            WskSocket c = client(rig, 7);
            Receive r = new Receive(c, 10, 0);
            rig.await(r.call, 5, "reset");
            r.call.assertCompleted(NtStatus.STATUS_CONNECTION_RESET);
            assertEquals(1, inspector.inspected.size());
            assertTrue(inspector.accepted.isEmpty());
        }
    }

    @Test
    void inspectPendThenWskInspectCompleteAcceptsWithTheDataThatArrivedMeanwhile() {
        try (RingRig rig = new RingRig(dir)) {
            Inspector inspector = new Inspector();
            inspector.action = WskInspectPend;
            WskSocket l = conditionalListener(rig, inspector, 7);
            WskSocket c = client(rig, 7);
            rig.runUntil(() -> !inspector.inspected.isEmpty(), 5, "inspect event");
            send(rig, c, "early");
            rig.runFor(100);
            assertTrue(inspector.accepted.isEmpty(), "pended: not admitted yet");
            WskInspectId id = inspector.inspected.get(0);
            Call done = new Call();
            done.assertInline(l.inspectComplete(id, WskInspectPend, done.irp()), NtStatus.STATUS_INVALID_PARAMETER);
            done.assertInline(l.inspectComplete(id, WskInspectAccept, done.irp()), S);
            assertEquals(1, inspector.accepted.size(), "admitted to the accept event at once");
            // Decided already: the id is no longer valid.
            done.assertInline(l.inspectComplete(id, WskInspectReject, done.irp()), NtStatus.STATUS_INVALID_PARAMETER);
            Receive r = new Receive(inspector.accepted.get(0), 10, 0);
            rig.await(r.call, 5, "data held during the inspection");
            assertEquals("early", r.text());
        }
    }

    @Test
    void inspectPendThenRejectResetsThePeer() {
        try (RingRig rig = new RingRig(dir)) {
            Inspector inspector = new Inspector();
            inspector.action = WskInspectPend;
            WskSocket l = conditionalListener(rig, inspector, 7);
            WskSocket c = client(rig, 7);
            rig.runUntil(() -> !inspector.inspected.isEmpty(), 5, "inspect event");
            Receive r = new Receive(c, 10, 0);
            Call done = new Call();
            done.assertInline(l.inspectComplete(inspector.inspected.get(0), WskInspectReject, done.irp()), S);
            rig.await(r.call, 5, "reset");
            r.call.assertCompleted(NtStatus.STATUS_CONNECTION_RESET);
            assertTrue(inspector.accepted.isEmpty());
        }
    }

    @Test
    void aPeerThatResetsDuringAPendedInspectionRaisesTheAbortEvent() {
        try (RingRig rig = new RingRig(dir)) {
            Inspector inspector = new Inspector();
            inspector.action = WskInspectPend;
            WskSocket l = conditionalListener(rig, inspector, 7);
            WskSocket c = client(rig, 7);
            rig.runUntil(() -> !inspector.inspected.isEmpty(), 5, "inspect event");
            Call abort = new Call();
            c.disconnect(null, WSK_FLAG_ABORTIVE, abort.irp());
            rig.runUntil(() -> !inspector.aborted.isEmpty(), 5, "abort event");
            WskInspectId id = inspector.inspected.get(0);
            assertEquals(id, inspector.aborted.get(0));
            Call done = new Call();
            done.assertInline(l.inspectComplete(id, WskInspectAccept, done.irp()), NtStatus.STATUS_INVALID_PARAMETER);
            assertTrue(inspector.accepted.isEmpty());
        }
    }

    @Test
    void closingTheListenerResetsRequestsStillBeingInspected() {
        try (RingRig rig = new RingRig(dir)) {
            Inspector inspector = new Inspector();
            inspector.action = WskInspectPend;
            WskSocket l = conditionalListener(rig, inspector, 7);
            WskSocket c = client(rig, 7);
            rig.runUntil(() -> !inspector.inspected.isEmpty(), 5, "inspect event");
            Receive r = new Receive(c, 10, 0);
            Call close = new Call();
            int returned = l.closeSocket(close.irp());
            assertNotNull(WskStatus.name(returned));
            rig.await(r.call, 5, "reset");
            r.call.assertCompleted(NtStatus.STATUS_CONNECTION_RESET);
            rig.await(close, 5, "close");
            close.assertCompleted(S);
        }
    }

    @Test
    void connectionSocketsHaveNoConditionalAccept() {
        try (RingRig rig = new RingRig(dir)) {
            WskSocket c = socket(rig.wskA, WSK_FLAG_CONNECTION_SOCKET, null);
            Call call = new Call();
            call.assertInline(c.controlSocket(WskSetOption, SO_CONDITIONAL_ACCEPT, SOL_SOCKET, 1, call.irp()),
                WskStatus.STATUS_NOT_SUPPORTED);
            call.assertInline(c.inspectComplete(new WskInspectId(1, 1), WskInspectAccept, call.irp()),
                WskStatus.STATUS_NOT_SUPPORTED);
        }
    }
}
