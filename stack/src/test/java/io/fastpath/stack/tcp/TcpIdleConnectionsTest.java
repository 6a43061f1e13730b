package io.fastpath.stack.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.fastpath.stack.NtStatus;
import io.fastpath.stack.app.EchoServer;
import io.fastpath.stack.counters.StackCounters;
import io.fastpath.stack.ip.NativePackets;
import io.fastpath.stack.wire.Ipv4Address;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayDeque;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Many idle connections cost the duty cycle nothing: two {@link TcpLayer}s wired back to back in memory (no EAL),
 * 10,000 connections opened, data echoed on each, then left alone. Once the delayed ACKs and retransmission
 * timers of that exchange have run out, the timer wheel holds no timer at all (one connection's timer is armed
 * only while one of its deadlines is set), so {@link TcpLayer#poll} has nothing to scan, however many
 * connections are open; and the server made one set of buffers per connection (slots are used once each here).
 */
class TcpIdleConnectionsTest {
    private static final int SERVER_IP = Ipv4Address.parse("10.78.0.1");
    private static final int CLIENT_IP = Ipv4Address.parse("10.78.0.2");
    private static final int PORT = 7100;
    private static final int CONNECTIONS = 10_000;
    private static final int BATCH = 500;
    private static final long MS = 1_000_000L;

    @TempDir
    Path dir;

    /** One direction of the wire: segments copied into the receiver's buffers, delivered in order. */
    private static final class Link {
        final ArrayDeque<long[]> queue = new ArrayDeque<>();
        NativePackets from;
        NativePackets to;
        TcpLayer receiver;

        void onSegment(long buffer, int source, int destination, int length) {
            long copy = to.allocateSegment(length);
            to.segment(copy, length).putBytes(0, from.segment(buffer, length), 0, length);
            from.free(buffer);
            queue.add(new long[] {copy, source, destination, length});
        }

        int deliver(long now) {
            int n = 0;
            for (long[] s; (s = queue.poll()) != null; n++) {
                receiver.input(s[0], to.segmentAddress(s[0]), (int) s[3], (int) s[1], (int) s[2], false, now);
            }
            return n;
        }
    }

    /** The client side: sends {@code hello} once connected and checks that the same bytes come back. */
    private static final class Client implements TcpHandler {
        final UnsafeBuffer hello = new UnsafeBuffer(ByteBuffer.allocateDirect(8));
        final UnsafeBuffer got = new UnsafeBuffer(0, 0);
        int connected;
        int failed;
        long echoed;
        int wrong;
        int closedAbnormally;

        Client() {
            hello.putLong(0, 0x66617374_70617468L); // "fastpath"
        }

        @Override
        public void onConnectComplete(TcpConnection connection, int status) {
            if (status != NtStatus.STATUS_SUCCESS) {
                failed++;
                return;
            }
            connected++;
            connection.send(hello, 0, 8);
        }

        @Override
        public int onReceive(TcpConnection connection, long address, int length) {
            got.wrap(address, length);
            for (int i = 0; i < length; i++) {
                wrong += got.getByte(i) == hello.getByte(i % 8) ? 0 : 1;
            }
            echoed += length;
            return length;
        }

        @Override
        public void onClosed(TcpConnection connection, int status) {
            closedAbnormally += status == NtStatus.STATUS_SUCCESS ? 0 : 1;
        }
    }

    @Test
    void tenThousandIdleConnectionsLeaveNoTimerArmed() {
        TcpConfig config = TcpConfig.defaults().withMaxConnections(CONNECTIONS + 16).withBuffers(4096, 4096)
            .withOutOfOrderSegments(4).withListenBacklog(BATCH * 2);
        try (StackCounters serverCounters = new StackCounters(dir.resolve("s.counters"), "s");
             StackCounters clientCounters = new StackCounters(dir.resolve("c.counters"), "c")) {
            Link toServer = new Link();
            Link toClient = new Link();
            NativePackets serverPackets = new NativePackets(4 * BATCH + 64, SERVER_IP, 1500, serverCounters,
                toClient::onSegment);
            NativePackets clientPackets = new NativePackets(4 * BATCH + 64, CLIENT_IP, 1500, clientCounters,
                toServer::onSegment);
            long now = 1_000 * MS;
            TcpLayer server = new TcpLayer(config, serverPackets, now);
            TcpLayer client = new TcpLayer(config, clientPackets, now);
            toServer.from = clientPackets;
            toServer.to = serverPackets;
            toServer.receiver = server;
            toClient.from = serverPackets;
            toClient.to = clientPackets;
            toClient.receiver = client;
            EchoServer echo = new EchoServer();
            assertEquals(NtStatus.STATUS_SUCCESS, echo.listen(server, PORT));
            Client app = new Client();

            for (int opened = 0; opened < CONNECTIONS; ) {
                for (int i = 0; i < BATCH && opened < CONNECTIONS; i++, opened++) {
                    assertEquals(NtStatus.STATUS_PENDING, client.connect(0, 0, SERVER_IP, PORT, app));
                }
                now += MS;
                pump(client, server, toServer, toClient, now);
            }
            // Let every delayed ACK and retransmission timer of the exchange run out (RTO 1 s at most here).
            for (int i = 0; i < 3_000; i++) {
                now += MS;
                pump(client, server, toServer, toClient, now);
            }
            String report = "connected " + app.connected + " failed " + app.failed + " echoed " + app.echoed
                + " wrong " + app.wrong + " server accepted " + echo.accepted() + " timers armed server "
                + server.timersArmed() + " client " + client.timersArmed();
            assertEquals(CONNECTIONS, app.connected, report);
            assertEquals(0, app.failed, report);
            assertEquals(8L * CONNECTIONS, app.echoed, report);
            assertEquals(0, app.wrong, report);
            assertEquals(CONNECTIONS, server.countInState(TcpState.ESTABLISHED), report);
            assertEquals(CONNECTIONS, client.countInState(TcpState.ESTABLISHED), report);
            assertEquals(0, server.timersArmed(), report);
            assertEquals(0, client.timersArmed(), report);
            assertEquals(CONNECTIONS, server.slotsWithBuffers(), "one set of buffers per slot used: " + report);

            // Idle: a thousand 1 ms duty cycles do no work on either side (nothing is scanned per connection).
            long sentBefore = serverCounters.tcpSegmentsSent.get() + clientCounters.tcpSegmentsSent.get();
            int work = 0;
            for (int i = 0; i < 1_000; i++) {
                now += MS;
                work += server.poll(now) + client.poll(now) + server.flush(now) + client.flush(now);
            }
            assertEquals(0, work, "idle duty cycles found work: " + report);
            assertEquals(sentBefore, serverCounters.tcpSegmentsSent.get() + clientCounters.tcpSegmentsSent.get());
            assertEquals(0, app.closedAbnormally + echo.abnormalCloses(), report);
            server.close();
            client.close();
            serverPackets.close();
            clientPackets.close();
        }
    }

    @Test
    void preallocationMakesEverySlotsBuffersUpFrontOtherwiseFirstUseDoes() {
        TcpConfig config = TcpConfig.defaults().withMaxConnections(100).withBuffers(4096, 4096);
        try (StackCounters counters = new StackCounters(dir.resolve("p.counters"), "p");
             NativePackets packets = new NativePackets(64, SERVER_IP, 1500, counters, null)) {
            TcpLayer lazy = new TcpLayer(config, packets, 0);
            assertEquals(0, lazy.slotsWithBuffers());
            assertEquals(NtStatus.STATUS_PENDING, lazy.connect(0, 0, CLIENT_IP, PORT, new Client()));
            assertEquals(1, lazy.slotsWithBuffers(), "the first connection made its slot's buffers");
            lazy.close();
            TcpLayer eager = new TcpLayer(config.withPreallocation(true), packets, 0);
            assertEquals(100, eager.slotsWithBuffers());
            eager.close();
        }
    }

    private static void pump(TcpLayer client, TcpLayer server, Link toServer, Link toClient, long now) {
        int moved;
        do {
            client.poll(now);
            server.poll(now);
            client.flush(now);
            server.flush(now);
            moved = toServer.deliver(now) + toClient.deliver(now);
            client.flush(now);
            server.flush(now);
        } while (moved > 0);
    }
}
