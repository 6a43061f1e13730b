package io.fastpath.wsk;

import static io.fastpath.wsk.Wsk.IPPROTO_TCP;
import static io.fastpath.wsk.Wsk.SOL_SOCKET;
import static io.fastpath.wsk.Wsk.SO_KEEPALIVE;
import static io.fastpath.wsk.Wsk.SO_WSK_EVENT_CALLBACK;
import static io.fastpath.wsk.Wsk.TCP_NODELAY;
import static io.fastpath.wsk.Wsk.WSK_EVENT_RECEIVE;
import static io.fastpath.wsk.Wsk.WSK_FLAG_CONNECTION_SOCKET;
import static io.fastpath.wsk.Wsk.WSK_FLAG_WAITALL;
import static io.fastpath.wsk.Wsk.WskGetOption;
import static io.fastpath.wsk.Wsk.WskSetOption;
import static io.fastpath.wsk.WskTestSockets.bind;
import static io.fastpath.wsk.WskTestSockets.connect;
import static io.fastpath.wsk.WskTestSockets.listener;
import static io.fastpath.wsk.WskTestSockets.send;
import static io.fastpath.wsk.WskTestSockets.socket;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.provider.NtStatus;
import io.fastpath.wsk.WskTestSockets.Connected;
import io.fastpath.wsk.WskTestSockets.Receive;

import io.fastpath.stack.app.EchoServer;
import io.fastpath.stack.tcp.TcpConfig;
import java.lang.management.ManagementFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntSupplier;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Socket objects come back to the provider when WskCloseSocket completes and serve later WskSocket calls and
 * accepts (Windows' WSK provider allocates its socket contexts from lookaside lists the same way): connection
 * cycles allocate nothing in steady state, and a reused socket starts as new.
 */
class WskSocketPoolTest {
    @TempDir
    Path dir;

    /**
     * WskSocket, bind, connect, 64 B request and its echo, graceful close, WskCloseSocket, thousands of times
     * through A's provider (dispatched on this thread; B's stack echoes): after warm-up, a window of cycles
     * allocates nothing. (Accepted sockets are pooled the same way: see the next test.)
     */
    @Test
    void connectionCyclesAllocateNothingOnTheDispatchThreadOnceWarm() {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        // The server is an EchoServer on B's poll thread, listening once B's rig is there.
        EchoServer echo = new EchoServer();
        AtomicReference<RingRig> made = new AtomicReference<>();
        AtomicInteger listened = new AtomicInteger(-1);
        IntSupplier listenOnB = () -> {
            RingRig r = made.get();
            if (r != null && listened.get() < 0) {
                listened.set(echo.listen(r.b.tcp(), 9));
            }
            return 0;
        };
        try (RingRig rig = new RingRig(dir, TcpConfig.defaults().withTimeWait(TimeUnit.MILLISECONDS.toNanos(50)),
            false, 0, listenOnB)) {
            made.set(rig);
            rig.runUntil(() -> listened.get() >= 0, 5, "B listens");
            assertEquals(NtStatus.STATUS_SUCCESS.code(), listened.get());
            WskConnectionCycles cycles = new WskConnectionCycles(rig, null, 9);
            // Warm-up: JIT, and the one-off growth of pools, maps and rings.
            cycles.run(3000, 10);
            // Per-cycle allocation would show in every window (1,000 cycles x even 8 bytes); something one-off
            // (a late JIT recompilation, a map resized) may land in one window: up to five, the last must be clean.
            List<Long> windows = new ArrayList<>();
            for (int w = 0; w < 5 && (windows.isEmpty() || windows.get(windows.size() - 1) != 0); w++) {
                long before = threads.getCurrentThreadAllocatedBytes();
                cycles.run(1000, 10);
                windows.add(threads.getCurrentThreadAllocatedBytes() - before);
            }
            System.out.printf("windows of 1,000 connection cycles, bytes allocated on the dispatch thread: %s%n",
                windows);
            assertEquals(0, windows.get(windows.size() - 1), "no allocation per connection: " + windows);
        }
    }

    /**
     * The same cycles with the server through B's provider too (WskAccept with address out-parameters, receive,
     * send, graceful disconnect, WskCloseSocket): both providers, dispatched on this thread, allocate nothing
     * per connection once warm.
     */
    @Test
    void acceptedConnectionCyclesAllocateNothingOnEitherProviderOnceWarm() {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        try (RingRig rig = new RingRig(dir)) {
            WskSocket l = listener(rig, rig.wskB, 10, null);
            WskConnectionCycles cycles = new WskConnectionCycles(rig, l, 10);
            cycles.run(3000, 10);
            List<Long> windows = new ArrayList<>();
            for (int w = 0; w < 5 && (windows.isEmpty() || windows.get(windows.size() - 1) != 0); w++) {
                long before = threads.getCurrentThreadAllocatedBytes();
                cycles.run(1000, 10);
                windows.add(threads.getCurrentThreadAllocatedBytes() - before);
            }
            System.out.printf("windows of 1,000 accepted connection cycles, bytes allocated on the dispatch thread:"
                + " %s%n", windows);
            assertEquals(0, windows.get(windows.size() - 1), "no allocation per connection: " + windows);
            assertEquals(RingRig.B_IP, cycles.lastAcceptedLocalIp);
            assertEquals(10, cycles.lastAcceptedLocalPort);
            assertTrue(cycles.lastAcceptedRemotePort >= 49152, "ephemeral: " + cycles.lastAcceptedRemotePort);
            assertSame(cycles.lastClient, cycles.lastClientBefore, "the client's socket object came back");
            assertSame(cycles.lastServer, cycles.lastServerBefore, "the accepted socket object came back");
        }
    }

    /**
     * A socket whose close completed stays closed (STATUS_FILE_FORCED_CLOSED) until the provider hands it out
     * again; then it starts as new: no context, dispatch, events, options, addresses or data of its last
     * connection, and it connects and carries only its new connection's bytes. The same for an accepted socket.
     */
    @Test
    void aReusedSocketCarriesNothingFromItsLastConnection() {
        try (RingRig rig = new RingRig(dir)) {
            WskClientConnectionDispatch events = new WskClientConnectionDispatch() {
            };
            Connected first = connect(rig, 11, events, null);
            WskSocket c = first.client();
            c.setContext("first");
            control(rig, c, WskSetOption, SOL_SOCKET, SO_KEEPALIVE, 1);
            control(rig, c, WskSetOption, IPPROTO_TCP, TCP_NODELAY, 1);
            control(rig, c, WskSetOption, SOL_SOCKET, SO_WSK_EVENT_CALLBACK, WSK_EVENT_RECEIVE);
            send(rig, c, "old bytes for the server");
            rig.runUntil(() -> first.server().ep.receivedBytes() > 0, 5, "the server holds the old bytes");
            close(rig, c);
            close(rig, first.server());
            rig.runFor(5); // the dispatch round after the closes pools the sockets
            assertEquals(1, rig.wskA.spareSockets());
            assertEquals(1, rig.wskB.spareSockets());
            Call stale = new Call();
            c.getLocalAddress(stale.irp());
            stale.assertCompleted(NtStatus.STATUS_FILE_FORCED_CLOSED); // closed, not handed out again yet

            WskSocket again = socket(rig.wskA, WSK_FLAG_CONNECTION_SOCKET, null);
            assertSame(c, again, "the pool's socket");
            assertEquals(0, rig.wskA.spareSockets());
            assertNull(again.context());
            assertNull(again.dispatch);
            assertEquals(0, again.events);
            assertEquals(WSK_FLAG_CONNECTION_SOCKET, again.category());
            assertEquals(0, control(rig, again, WskGetOption, SOL_SOCKET, SO_KEEPALIVE, 0));
            assertEquals(0, control(rig, again, WskGetOption, IPPROTO_TCP, TCP_NODELAY, 0));
            Call address = new Call();
            again.getLocalAddress(address.irp());
            address.assertCompleted(NtStatus.STATUS_INVALID_DEVICE_STATE); // not bound
            address = new Call();
            again.getRemoteAddress(address.irp());
            address.assertCompleted(NtStatus.STATUS_INVALID_DEVICE_STATE);
            Receive early = new Receive(again, 8, 0);
            assertEquals(NtStatus.STATUS_INVALID_DEVICE_STATE, early.returned); // not connected
            assertTrue(again.toString().contains("created"), again.toString());

            // Connect again: the accepted socket is the server's pooled one, and only new bytes flow.
            Call accept = new Call();
            SocketAddressV4Out acceptedRemote = new SocketAddressV4Out();
            assertEquals(NtStatus.STATUS_PENDING, first.listener().accept(0, "second", null, null, acceptedRemote,
                accept.irp()));
            bind(again, SocketAddressV4.ANY);
            Call connect = new Call();
            assertEquals(NtStatus.STATUS_PENDING, again.connect(new SocketAddressV4(RingRig.B_IP, 11), connect.irp()));
            rig.runUntil(() -> accept.done() && connect.done(), 5, "connect again");
            connect.assertCompleted(NtStatus.STATUS_SUCCESS);
            accept.assertCompleted(NtStatus.STATUS_SUCCESS);
            WskSocket server = accept.socket();
            assertSame(first.server(), server, "the server's pooled socket");
            assertEquals("second", server.context());
            Call local = new Call();
            again.getLocalAddress(local.irp());
            local.assertCompleted(NtStatus.STATUS_SUCCESS);
            SocketAddressV4 localAddress = (SocketAddressV4) local.object();
            assertEquals(RingRig.A_IP, localAddress.ip());
            assertEquals(localAddress.port(), acceptedRemote.port());
            Call remote = new Call();
            server.getRemoteAddress(remote.irp());
            remote.assertCompleted(NtStatus.STATUS_SUCCESS);
            assertEquals(localAddress, remote.object());
            assertEquals(0, server.ep.receivedBytes());
            assertEquals(0, again.ep.receivedBytes());
            send(rig, again, "new");
            Receive atServer = new Receive(server, 3, WSK_FLAG_WAITALL);
            rig.runUntil(atServer.call::done, 5, "the new bytes");
            assertEquals("new", atServer.text());
            send(rig, server, "echo");
            Receive atClient = new Receive(again, 64, 0);
            rig.runUntil(atClient.call::done, 5, "the reply");
            assertEquals("echo", atClient.text()); // no receive event took it: events start disabled
            close(rig, again);
            close(rig, server);
        }
    }

    private static long control(RingRig rig, WskSocket s, int type, int level, int option, long value) {
        Call c = new Call();
        c.assertInline(s.controlSocket(type, option, level, value, c.irp()), NtStatus.STATUS_SUCCESS);
        return c.information();
    }

    private static void close(RingRig rig, WskSocket s) {
        Call c = new Call();
        s.closeSocket(c.irp());
        rig.await(c, 5, "close");
        c.assertCompleted(NtStatus.STATUS_SUCCESS);
    }
}
