package io.fastpath.stack.tcp.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

/**
 * Every accessor of every TcpService record writes and reads its own field at its documented offset (no getter
 * wired to another field's setter), at an offset other than 0 in the buffer.
 */
class ProtocolFlyweightTest {
    private static final int AT = 24;
    private final UnsafeBuffer buffer = new UnsafeBuffer(ByteBuffer.allocateDirect(256));

    @Test
    void connectRequest() {
        ConnectRequestFlyweight f = new ConnectRequestFlyweight().wrap(buffer, AT).requestId(0x0102030405060708L)
            .remoteIp(11).remotePort(12).localIp(13).localPort(14).dataAddress(0x1516171819L).dataLength(20)
            .fastOpen(true).socketOptions(0x2122232425L);
        assertEquals(0x0102030405060708L, buffer.getLong(AT + ConnectRequestFlyweight.REQUEST_ID_OFFSET));
        assertEquals(11, buffer.getInt(AT + ConnectRequestFlyweight.REMOTE_IP_OFFSET));
        assertEquals(12, buffer.getInt(AT + ConnectRequestFlyweight.REMOTE_PORT_OFFSET));
        assertEquals(13, buffer.getInt(AT + ConnectRequestFlyweight.LOCAL_IP_OFFSET));
        assertEquals(14, buffer.getInt(AT + ConnectRequestFlyweight.LOCAL_PORT_OFFSET));
        assertEquals(0x1516171819L, buffer.getLong(AT + ConnectRequestFlyweight.DATA_ADDRESS_OFFSET));
        assertEquals(20, buffer.getInt(AT + ConnectRequestFlyweight.DATA_LENGTH_OFFSET));
        assertEquals(ConnectRequestFlyweight.FAST_OPEN_FLAG, buffer.getInt(AT + ConnectRequestFlyweight.FLAGS_OFFSET));
        assertEquals(0x2122232425L, buffer.getLong(AT + ConnectRequestFlyweight.SOCKET_OPTIONS_OFFSET));
        ConnectRequestFlyweight r = new ConnectRequestFlyweight().wrap(buffer, AT);
        assertEquals(0x0102030405060708L, r.requestId());
        assertEquals(11, r.remoteIp());
        assertEquals(12, r.remotePort());
        assertEquals(13, r.localIp());
        assertEquals(14, r.localPort());
        assertEquals(0x1516171819L, r.dataAddress());
        assertEquals(20, r.dataLength());
        assertTrue(r.fastOpen());
        assertEquals(0x2122232425L, r.socketOptions());
        assertFalse(f.fastOpen(false).fastOpen());
        assertEquals(ConnectRequestFlyweight.LENGTH, ConnectRequestFlyweight.SOCKET_OPTIONS_OFFSET + 8);
    }

    @Test
    void listenSendConnectionReleaseAndSlotRequests() {
        ListenRequestFlyweight l = new ListenRequestFlyweight().wrap(buffer, AT).port(7).socketOptions(-2L);
        assertEquals(7, buffer.getInt(AT + ListenRequestFlyweight.PORT_OFFSET));
        assertEquals(-2L, buffer.getLong(AT + ListenRequestFlyweight.SOCKET_OPTIONS_OFFSET));
        assertEquals(7, l.port());
        assertEquals(-2L, l.socketOptions());

        SendRequestFlyweight s = new SendRequestFlyweight().wrap(buffer, AT).handle(31).requestId(32).address(33)
            .length(34);
        assertEquals(31, buffer.getLong(AT + SendRequestFlyweight.HANDLE_OFFSET));
        assertEquals(32, buffer.getLong(AT + SendRequestFlyweight.REQUEST_ID_OFFSET));
        assertEquals(33, buffer.getLong(AT + SendRequestFlyweight.ADDRESS_OFFSET));
        assertEquals(34, buffer.getInt(AT + SendRequestFlyweight.LENGTH_OFFSET));
        assertEquals(31, s.handle());
        assertEquals(32, s.requestId());
        assertEquals(33, s.address());
        assertEquals(34, s.length());

        ConnectionRequestFlyweight c = new ConnectionRequestFlyweight().wrap(buffer, AT).handle(41).enable(true)
            .count(43).socketOptions(44).idleNs(45).intervalNs(46);
        assertEquals(41, buffer.getLong(AT + ConnectionRequestFlyweight.HANDLE_OFFSET));
        assertEquals(1, buffer.getInt(AT + ConnectionRequestFlyweight.ENABLE_OFFSET));
        assertEquals(43, buffer.getInt(AT + ConnectionRequestFlyweight.COUNT_OFFSET));
        assertEquals(44, buffer.getLong(AT + ConnectionRequestFlyweight.SOCKET_OPTIONS_OFFSET));
        assertEquals(45, buffer.getLong(AT + ConnectionRequestFlyweight.IDLE_NS_OFFSET));
        assertEquals(46, buffer.getLong(AT + ConnectionRequestFlyweight.INTERVAL_NS_OFFSET));
        assertEquals(41, c.handle());
        assertTrue(c.enable());
        assertEquals(43, c.count());
        assertEquals(44, c.socketOptions());
        assertEquals(45, c.idleNs());
        assertEquals(46, c.intervalNs());

        ReleaseRequestFlyweight r = new ReleaseRequestFlyweight().wrap(buffer, AT).handle(51).mbuf(52).length(53);
        assertEquals(51, buffer.getLong(AT + ReleaseRequestFlyweight.HANDLE_OFFSET));
        assertEquals(52, buffer.getLong(AT + ReleaseRequestFlyweight.MBUF_OFFSET));
        assertEquals(53, buffer.getInt(AT + ReleaseRequestFlyweight.LENGTH_OFFSET));
        assertEquals(51, r.handle());
        assertEquals(52, r.mbuf());
        assertEquals(53, r.length());
        // Agrona's 8-byte header plus the body, aligned to 8: the ring is sized in these.
        assertEquals(ReleaseRequestFlyweight.RECORD_LENGTH, (8 + ReleaseRequestFlyweight.LENGTH + 7) & ~7);
        assertEquals(SlotFlyweight.RECORD_LENGTH, (8 + SlotFlyweight.LENGTH + 7) & ~7);

        SlotFlyweight slot = new SlotFlyweight().wrap(buffer, AT).slot(61);
        assertEquals(61, buffer.getInt(AT + SlotFlyweight.SLOT_OFFSET));
        assertEquals(61, slot.slot());
    }

    @Test
    void events() {
        ConnectedEventFlyweight c = new ConnectedEventFlyweight().wrap(buffer, AT).requestId(1).handle(2).status(3);
        assertEquals(1, buffer.getLong(AT + ConnectedEventFlyweight.REQUEST_ID_OFFSET));
        assertEquals(2, buffer.getLong(AT + ConnectedEventFlyweight.HANDLE_OFFSET));
        assertEquals(3, buffer.getInt(AT + ConnectedEventFlyweight.STATUS_OFFSET));
        assertEquals(1, c.requestId());
        assertEquals(2, c.handle());
        assertEquals(3, c.status());

        AcceptedEventFlyweight a = new AcceptedEventFlyweight().wrap(buffer, AT).handle(11).listenPort(12)
            .remoteIp(13).remotePort(14).synDataLength(15);
        assertEquals(11, buffer.getLong(AT + AcceptedEventFlyweight.HANDLE_OFFSET));
        assertEquals(12, buffer.getInt(AT + AcceptedEventFlyweight.LISTEN_PORT_OFFSET));
        assertEquals(13, buffer.getInt(AT + AcceptedEventFlyweight.REMOTE_IP_OFFSET));
        assertEquals(14, buffer.getInt(AT + AcceptedEventFlyweight.REMOTE_PORT_OFFSET));
        assertEquals(15, buffer.getInt(AT + AcceptedEventFlyweight.SYN_DATA_LENGTH_OFFSET));
        assertEquals(11, a.handle());
        assertEquals(12, a.listenPort());
        assertEquals(13, a.remoteIp());
        assertEquals(14, a.remotePort());
        assertEquals(15, a.synDataLength());

        ReceiveEventFlyweight r = new ReceiveEventFlyweight().wrap(buffer, AT).handle(21).mbuf(22).address(23)
            .length(24);
        assertEquals(21, buffer.getLong(AT + ReceiveEventFlyweight.HANDLE_OFFSET));
        assertEquals(22, buffer.getLong(AT + ReceiveEventFlyweight.MBUF_OFFSET));
        assertEquals(23, buffer.getLong(AT + ReceiveEventFlyweight.ADDRESS_OFFSET));
        assertEquals(24, buffer.getInt(AT + ReceiveEventFlyweight.LENGTH_OFFSET));
        assertEquals(21, r.handle());
        assertEquals(22, r.mbuf());
        assertEquals(23, r.address());
        assertEquals(24, r.length());

        SendCompleteEventFlyweight s = new SendCompleteEventFlyweight().wrap(buffer, AT).requestId(31).handle(32)
            .bytes(33).status(34);
        assertEquals(31, buffer.getLong(AT + SendCompleteEventFlyweight.REQUEST_ID_OFFSET));
        assertEquals(32, buffer.getLong(AT + SendCompleteEventFlyweight.HANDLE_OFFSET));
        assertEquals(33, buffer.getInt(AT + SendCompleteEventFlyweight.BYTES_OFFSET));
        assertEquals(34, buffer.getInt(AT + SendCompleteEventFlyweight.STATUS_OFFSET));
        assertEquals(31, s.requestId());
        assertEquals(32, s.handle());
        assertEquals(33, s.bytes());
        assertEquals(34, s.status());

        ConnectionEventFlyweight e = new ConnectionEventFlyweight().wrap(buffer, AT).handle(41).value(42);
        assertEquals(41, buffer.getLong(AT + ConnectionEventFlyweight.HANDLE_OFFSET));
        assertEquals(42, buffer.getInt(AT + ConnectionEventFlyweight.VALUE_OFFSET));
        assertEquals(41, e.handle());
        assertEquals(42, e.value());

        ListenEventFlyweight l = new ListenEventFlyweight().wrap(buffer, AT).port(51).status(52);
        assertEquals(51, buffer.getInt(AT + ListenEventFlyweight.PORT_OFFSET));
        assertEquals(52, buffer.getInt(AT + ListenEventFlyweight.STATUS_OFFSET));
        assertEquals(51, l.port());
        assertEquals(52, l.status());
    }
}
