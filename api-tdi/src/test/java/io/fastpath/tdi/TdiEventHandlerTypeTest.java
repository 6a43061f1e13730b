package io.fastpath.tdi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import io.fastpath.provider.NtStatus;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * TDI_SET_EVENT_HANDLER in both forms: the typed builders ({@code TdiBuild.setConnectEventHandler} ...) build the
 * request for their event type, and the Windows-shaped {@code TdiBuild.setEventHandler(..., eventType, Object
 * handler, ...)} refuses a handler of the wrong interface, or an event type TCP has not, with
 * STATUS_INVALID_PARAMETER (TDI_BAD_EVENT_TYPE), leaving the handler already set in place.
 */
class TdiEventHandlerTypeTest {
    private static final NtStatus S = NtStatus.STATUS_SUCCESS;
    private static final NtStatus INVALID = NtStatus.STATUS_INVALID_PARAMETER;

    private static final TdiEvents.ClientEventConnect CONNECT = (c, ip, port, dl, d, ol, o, out) ->
        NtStatus.STATUS_CONNECTION_REFUSED;
    private static final TdiEvents.ClientEventDisconnect DISCONNECT = (c, cc, flags) -> S;
    private static final TdiEvents.ClientEventError ERROR = (c, status) -> S;
    private static final TdiEvents.ClientEventReceive RECEIVE = (c, cc, f, bi, ba, tsdu, out) -> S;
    private static final TdiEvents.ClientEventChainedReceive CHAINED = (c, cc, f, l, o, tsdu) -> S;
    private static final TdiEvents.ClientEventSendPossible SEND_POSSIBLE = (c, cc, b) -> S;

    @TempDir
    Path dir;

    @Test
    void typedBuildersSetTheirEventType() {
        try (TdiRig rig = new TdiRig(dir)) {
            TdiAddress address = rig.tdiA.openAddress(0, 5401);
            Map<Integer, Irp> built = new LinkedHashMap<>();
            built.put(Tdi.TDI_EVENT_DISCONNECT,
                TdiBuild.setDisconnectEventHandler(new Irp(), address, null, null, DISCONNECT, "x"));
            built.put(Tdi.TDI_EVENT_ERROR, TdiBuild.setErrorEventHandler(new Irp(), address, null, null, ERROR, "x"));
            built.put(Tdi.TDI_EVENT_RECEIVE,
                TdiBuild.setReceiveEventHandler(new Irp(), address, null, null, RECEIVE, "x"));
            built.put(Tdi.TDI_EVENT_RECEIVE_EXPEDITED,
                TdiBuild.setReceiveExpeditedEventHandler(new Irp(), address, null, null, RECEIVE, "x"));
            built.put(Tdi.TDI_EVENT_CHAINED_RECEIVE,
                TdiBuild.setChainedReceiveEventHandler(new Irp(), address, null, null, CHAINED, "x"));
            built.put(Tdi.TDI_EVENT_CHAINED_RECEIVE_EXPEDITED,
                TdiBuild.setChainedReceiveExpeditedEventHandler(new Irp(), address, null, null, CHAINED, "x"));
            built.put(Tdi.TDI_EVENT_SEND_POSSIBLE,
                TdiBuild.setSendPossibleEventHandler(new Irp(), address, null, null, SEND_POSSIBLE, "x"));
            built.put(Tdi.TDI_EVENT_CONNECT,
                TdiBuild.setConnectEventHandler(new Irp(), address, null, null, CONNECT, "x"));
            built.forEach((type, irp) -> {
                assertEquals(Tdi.TDI_SET_EVENT_HANDLER, irp.minorFunction);
                assertEquals(type, irp.eventType, "event type " + type);
                assertEquals("x", irp.eventContext);
                rig.tdiA.callDriver(irp);
            });
            rig.runUntil(() -> built.values().stream().allMatch(Irp::completed), 5, "handlers set");
            built.forEach((type, irp) -> assertSame(NtStatus.STATUS_SUCCESS, irp.ioStatus().status(),
                "event type " + type));
        }
    }

    @Test
    void theGenericFormRefusesAHandlerOfTheWrongInterface() {
        try (TdiRig rig = new TdiRig(dir)) {
            TdiAddress address = rig.tdiA.openAddress(0, 5402);
            Object[][] wrong = {
                {Tdi.TDI_EVENT_CONNECT, DISCONNECT},
                {Tdi.TDI_EVENT_DISCONNECT, SEND_POSSIBLE},
                {Tdi.TDI_EVENT_ERROR, RECEIVE},
                {Tdi.TDI_EVENT_RECEIVE, CHAINED},
                {Tdi.TDI_EVENT_RECEIVE_EXPEDITED, ERROR},
                {Tdi.TDI_EVENT_CHAINED_RECEIVE, RECEIVE},
                {Tdi.TDI_EVENT_CHAINED_RECEIVE_EXPEDITED, "not a handler"},
                {Tdi.TDI_EVENT_SEND_POSSIBLE, DISCONNECT},
                {4, RECEIVE}, // TDI_EVENT_RECEIVE_DATAGRAM: no datagrams here
                {42, DISCONNECT},
            };
            for (Object[] w : wrong) {
                Req r = TdiRig.setEvent(rig.tdiA, address, (Integer) w[0], w[1], null);
                r.assertInline(INVALID);
            }
            // A refused handler leaves the one set before in place; null (typed form too) clears it.
            TdiRig.setEvent(rig.tdiA, address, Tdi.TDI_EVENT_DISCONNECT, DISCONNECT, null).assertInline(S);
            TdiRig.setEvent(rig.tdiA, address, Tdi.TDI_EVENT_DISCONNECT, ERROR, null).assertInline(INVALID);
            assertSame(DISCONNECT, address.disconnectHandler);
            Req clear = new Req();
            TdiBuild.setDisconnectEventHandler(clear.irp, address, clear.routine, null, null, null);
            clear.call(rig.tdiA);
            clear.assertInline(S);
            assertNull(address.disconnectHandler);
        }
    }
}
