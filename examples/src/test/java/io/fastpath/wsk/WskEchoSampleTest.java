package io.fastpath.wsk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.examples.wsk.WskEchoClient;
import io.fastpath.examples.wsk.WskEchoServer;
import io.fastpath.stack.NtStatus;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Microsoft's WSK echo server sample and a WSK client, each over its own stack, joined by a DPDK ring pair:
 * the client sends 1 MiB in 64 KiB IRPs (more outstanding than the stack takes at once), checks every echoed
 * byte, disconnects gracefully, sees the server's 0-byte end, and both sides close cleanly.
 */
class WskEchoSampleTest {
    private static final int MIB = 1 << 20;

    @TempDir
    Path dir;

    @Test
    void echoSampleServerEchoesOneMebibyteToWskClient() {
        try (RingRig rig = new RingRig(dir)) {
            WskEchoServer server = new WskEchoServer(rig.wskB);
            server.start(7);
            rig.runUntil(server::listening, 5, "listen");
            WskEchoClient client = new WskEchoClient(rig.wskA, new SocketAddressV4(RingRig.B_IP, 7), MIB, 64 * 1024,
                2, 48 * 1024);
            long start = System.nanoTime();
            client.start();
            rig.runUntil(() -> client.done() && server.closed.get() == 1, 30, "echo");
            double seconds = (System.nanoTime() - start) / 1e9;
            assertEquals("STATUS_SUCCESS", String.valueOf(client.failure));
            assertEquals(MIB, client.received);
            assertEquals(-1, client.mismatchAt, "every echoed byte matches");
            assertEquals(MIB, client.sent);
            assertEquals(16, client.sendCompletions, "each send IRP completed once");
            assertTrue(client.sawEnd, "the server's close arrived as a 0-byte receive");
            assertTrue(client.disconnected);
            assertEquals(1, server.accepted.get());
            assertEquals(MIB, server.echoed.get());
            assertEquals(0, server.failures.get());
            assertEquals(0, rig.eventsLost(), "no TcpService event was lost");
            System.out.printf("WSK echo over ring pair: 1 MiB each way in %.3f s%n", seconds);
        }
    }

    /** The server's provider runs its own dispatcher thread; its socket calls cross threads through the queue. */
    @Test
    void echoServerOnItsOwnDispatcherThread() {
        try (RingRig rig = new RingRig(dir)) {
            rig.wskB.startDispatcherThread();
            WskEchoServer server = new WskEchoServer(rig.wskB);
            server.start(9);
            rig.runUntil(server::listening, 5, "listen");
            for (int i = 0; i < 3; i++) {
                WskEchoClient client = new WskEchoClient(rig.wskA, new SocketAddressV4(RingRig.B_IP, 9), 256 * 1024,
                    16 * 1024, 2, 32 * 1024);
                client.start();
                rig.runUntil(client::done, 30, "echo " + i);
                assertEquals("STATUS_SUCCESS", String.valueOf(client.failure));
                assertEquals(-1, client.mismatchAt);
                assertEquals(256 * 1024, client.received);
            }
            int expected = 3;
            rig.runUntil(() -> server.closed.get() == expected, 10, "server closes");
            assertEquals(3 * 256 * 1024, server.echoed.get());
            assertEquals(0, server.failures.get());
        }
    }
}
