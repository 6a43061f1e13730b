package io.fastpath.stack.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.stack.NtStatus;
import io.fastpath.stack.counters.DropReason;
import io.fastpath.stack.wire.Ipv4Address;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.agrona.BufferUtil;
import org.agrona.DirectBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A peer cannot flood a client's event ring with urgent data: each one-byte URG segment leaves the stream (no
 * window is charged), so before the fix every one became an URGENT event, the ring and its overflow filled, and
 * the send completions and the close of the client's other connections were lost (TCP_EVENT_LOST).
 */
class TcpServiceUrgentFloodTest {
    private static final int A_IP = Ipv4Address.parse("10.17.0.1");
    private static final int B_IP = Ipv4Address.parse("10.17.0.2");
    private static final int PORT = 7100;
    private static final int FLOOD = 1500;

    @TempDir
    Path dir;

    /** What one client saw. */
    private static final class Seen implements TcpEventHandler {
        final List<Long> accepted = new ArrayList<>();
        final List<Long> connected = new ArrayList<>();
        final List<Long> sendCompleted = new ArrayList<>();
        final List<Long> closed = new ArrayList<>();
        int urgent;
        boolean listening;

        @Override
        public void onListenComplete(int port, int status) {
            listening = status == NtStatus.STATUS_SUCCESS;
        }

        @Override
        public void onConnectComplete(long requestId, long handle, int status) {
            assertEquals(NtStatus.STATUS_SUCCESS, status);
            connected.add(handle);
        }

        @Override
        public void onAccepted(int listenPort, long handle, int remoteIp, int remotePort) {
            accepted.add(handle);
        }

        @Override
        public void onUrgentData(long handle, DirectBuffer buffer, int offset, int length) {
            urgent++;
        }

        @Override
        public void onReceive(long handle, long mbuf, long address, int length) {
        }

        @Override
        public void onSendComplete(long requestId, long handle, int bytes, int status) {
            assertEquals(NtStatus.STATUS_SUCCESS, status, "send " + requestId);
            sendCompleted.add(requestId);
        }

        @Override
        public void onPeerClosed(long handle) {
        }

        @Override
        public void onClosed(long handle, int status) {
            closed.add(handle);
        }
    }

    @Test
    void urgentFloodOnOneConnectionLosesNoEventOfAnother_rfc6093() {
        try (TcpServiceRig rig = new TcpServiceRig(dir, "tsuf", A_IP, B_IP, 0)) {
            // A small event ring (4 KiB: about 170 URGENT events, as many in the overflow behind it).
            TcpServiceClient server = rig.server.tcpService().newClient(1 << 16, 4096);
            TcpServiceClient peer = rig.peer.tcpService().newClient();
            Seen s = new Seen();
            Seen p = new Seen();
            boolean[] serverReads = {true};
            rig.polled.add(() -> {
                if (serverReads[0]) {
                    server.pollEvents(s);
                }
            });
            rig.polled.add(() -> peer.pollEvents(p));
            assertTrue(server.listen(PORT));
            rig.pumpUntil(() -> s.listening, "listening");
            assertTrue(peer.connect(1, B_IP, PORT, 0));
            assertTrue(peer.connect(2, B_IP, PORT, 0));
            rig.pumpUntil(() -> p.connected.size() == 2 && s.accepted.size() == 2, "two connections");
            long flooded = p.connected.get(0);
            assertTrue(peer.noDelay(flooded, true));
            // The server's application stops reading its events while the peer floods one connection with
            // one-byte urgent segments, each its own segment with the urgent pointer moved on.
            serverReads[0] = false;
            ByteBuffer one = ByteBuffer.allocateDirect(1).put(0, (byte) 'U');
            long oneAddress = BufferUtil.address(one);
            for (int k = 0; k < FLOOD; k++) {
                long id = 100 + k;
                assertTrue(peer.sendUrgent(flooded, id, oneAddress, 1));
                rig.pumpUntil(() -> p.sendCompleted.contains(id), "urgent send " + id);
                rig.pumpOnce();
                rig.pumpOnce();
            }
            // The other connection: the server sends on it and aborts it, all while it does not read.
            long other = s.accepted.get(1);
            ByteBuffer data = ByteBuffer.allocateDirect(1000);
            for (int k = 0; k < 5; k++) {
                assertTrue(server.send(other, 10 + k, BufferUtil.address(data), 1000));
            }
            rig.pumpFor(50);
            assertTrue(server.abort(other));
            rig.pumpFor(50);
            serverReads[0] = true;
            int urgentBefore = s.urgent;
            server.pollEvents(s);
            int unreadUrgent = s.urgent - urgentBefore;
            rig.pumpUntil(() -> s.sendCompleted.size() == 5 && s.closed.contains(other),
                () -> "every completion of the other connection: " + s.sendCompleted + " closed " + s.closed, 10);
            assertEquals(1, unreadUrgent, "one urgent event unread per connection, never more");
            assertEquals(0, rig.server.counters().drop(DropReason.TCP_EVENT_LOST).get(), "no event lost");
            assertTrue(rig.server.counters().drop(DropReason.TCP_URGENT_LOST).get() > FLOOD / 2,
                "the urgent bytes beyond one unread are dropped and counted");
            server.close();
            peer.close();
            rig.pumpUntil(() -> server.isClosed() && peer.isClosed(), "clients closed");
            // The stack copies from the raw addresses until the sends complete: their buffers stay reachable.
            Reference.reachabilityFence(one);
            Reference.reachabilityFence(data);
        }
    }
}
