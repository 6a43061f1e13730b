package io.fastpath.stack.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.stack.NtStatus;
import io.fastpath.stack.Stack;
import io.fastpath.stack.counters.DropReason;
import io.fastpath.stack.wire.Ipv4Address;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.agrona.BufferUtil;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 11 item 2: several {@link TcpServiceClient}s on one stack, and a control path that cannot lose a
 * release. Two stacks over a ring pair in invoker mode: the test thread runs both duty cycles and is every
 * client's event thread, so it can stop polling (or stop the stack) at will.
 */
class TcpServiceClientsTest {
    private static final int A_IP = Ipv4Address.parse("10.14.0.1");
    private static final int B_IP = Ipv4Address.parse("10.14.0.2");

    @TempDir
    Path dir;
    private TcpServiceRig rig;
    private PktmbufPool pool;
    private Stack peer;
    private Stack server;
    private int baseline;

    @BeforeEach
    void up() {
        rig = new TcpServiceRig(dir, "tscl", A_IP, B_IP, 0);
        pool = rig.pool;
        peer = rig.peer;
        server = rig.server;
        baseline = rig.baseline;
    }

    @AfterEach
    void down() {
        rig.close();
    }

    /** What one client saw. */
    private static class Seen implements TcpEventHandler, Runnable {
        final TcpServiceClient client;
        final List<Integer> listens = new ArrayList<>();
        final Set<Long> accepted = new HashSet<>();
        final List<Integer> acceptPorts = new ArrayList<>();
        final Set<Long> connected = new HashSet<>();
        final List<long[]> held = new ArrayList<>(); // handle, mbuf, length
        final List<Long> foreign = new ArrayList<>(); // events about handles this client does not own
        long bytes;
        boolean release = true;

        Seen(TcpServiceClient client) {
            this.client = client;
        }

        @Override
        public void run() {
            client.pollEvents(this);
        }

        boolean mine(long handle) {
            return accepted.contains(handle) || connected.contains(handle);
        }

        @Override
        public void onListenComplete(int port, int status) {
            listens.add(status);
        }

        @Override
        public void onConnectComplete(long requestId, long handle, int status) {
            assertEquals(NtStatus.STATUS_SUCCESS, status);
            connected.add(handle);
        }

        @Override
        public void onAccepted(int listenPort, long handle, int remoteIp, int remotePort) {
            accepted.add(handle);
            acceptPorts.add(listenPort);
        }

        @Override
        public void onReceive(long handle, long mbuf, long address, int length) {
            if (!mine(handle)) {
                foreign.add(handle);
            }
            bytes += length;
            if (release) {
                assertTrue(client.release(handle, mbuf, length));
            } else {
                held.add(new long[] {handle, mbuf, length});
            }
        }

        @Override
        public void onSendComplete(long requestId, long handle, int bytes, int status) {
            if (!mine(handle)) {
                foreign.add(handle);
            }
        }

        @Override
        public void onPeerClosed(long handle) {
            if (!mine(handle)) {
                foreign.add(handle);
            }
        }

        @Override
        public void onClosed(long handle, int status) {
            if (!mine(handle)) {
                foreign.add(handle);
            }
        }
    }

    @Test
    void twoClientsOnOneStackEachSeeOnlyTheirOwnConnectionsAndPorts_issue11_item2() {
        Seen x = new Seen(server.tcpService().newClient());
        Seen y = new Seen(server.tcpService().newClient());
        Seen p = new Seen(peer.tcpService().newClient());
        rig.polled.addAll(List.of(x, y, p));
        assertTrue(x.client.listen(7));
        assertTrue(y.client.listen(8));
        assertTrue(y.client.listen(7)); // taken by x
        rig.pumpUntil(() -> x.listens.size() == 1 && y.listens.size() == 2, "listens");
        assertEquals(List.of(NtStatus.STATUS_SUCCESS), x.listens);
        assertEquals(List.of(NtStatus.STATUS_SUCCESS, NtStatus.STATUS_SHARING_VIOLATION), y.listens);

        for (int i = 0; i < 5; i++) {
            assertTrue(p.client.connect(i, B_IP, i < 3 ? 7 : 8, 0));
        }
        rig.pumpUntil(() -> p.connected.size() == 5 && x.accepted.size() + y.accepted.size() == 5, "connections");
        assertEquals(List.of(7, 7, 7), x.acceptPorts);
        assertEquals(List.of(8, 8), y.acceptPorts);

        ByteBuffer data = ByteBuffer.allocateDirect(10_000);
        for (long h : p.connected) {
            assertTrue(p.client.send(h, 1, BufferUtil.address(data), data.capacity()));
        }
        rig.pumpUntil(() -> x.bytes == 30_000 && y.bytes == 20_000, "data to both clients");
        Reference.reachabilityFence(data); // the stack copied from its address until here
        assertTrue(x.foreign.isEmpty() && y.foreign.isEmpty(), "no client saw another's events");

        // A client cannot touch another's connection or listener: refused and counted, nothing happens.
        long refused = server.counters().drop(DropReason.REQUEST_REFUSED).get();
        long xs = x.accepted.iterator().next();
        assertTrue(y.client.abort(xs));
        assertTrue(y.client.stopListening(7));
        rig.pumpFor(20);
        assertEquals(refused + 2, server.counters().drop(DropReason.REQUEST_REFUSED).get());
        assertTrue(server.tcp().connection(xs) != null, "x's connection is still open");
        assertTrue(p.client.connect(9, B_IP, 7, 0));
        rig.pumpUntil(() -> x.accepted.size() == 4, "x still listens on 7");

        // Closes go to their owners only.
        for (long h : p.connected) {
            assertTrue(p.client.abort(h));
        }
        rig.pumpFor(50);
        assertTrue(x.foreign.isEmpty() && y.foreign.isEmpty(), "no client saw another's closes");
        assertEquals(0, server.tcpService().heldDescriptors());
    }

    /**
     * The release path cannot fail: the event thread stops, a foreign thread returns every descriptor the
     * client holds while the stack does not run (and its request ring is full), and every release is taken;
     * then nothing is lost (the stack takes them all), nothing leaks (the pool is back where it was).
     */
    @Test
    void aForeignThreadReturnsEveryHeldDescriptorWhileTheEventThreadIsStopped_nothingLostNothingLeaked()
        throws Exception {
        Seen s = new Seen(server.tcpService().newClient());
        Seen p = new Seen(peer.tcpService().newClient());
        rig.polled.addAll(List.of(s, p));
        s.release = false; // the application keeps everything it is handed
        assertTrue(s.client.listen(7));
        int connections = 4;
        for (int i = 0; i < connections; i++) {
            assertTrue(p.client.connect(i, B_IP, 7, 0));
        }
        rig.pumpUntil(() -> p.connected.size() == connections && s.accepted.size() == connections, "connections");
        ByteBuffer data = ByteBuffer.allocateDirect(4 << 20);
        for (long h : p.connected) {
            for (int k = 0; k < 4; k++) {
                assertTrue(p.client.send(h, k, BufferUtil.address(data), 1 << 20));
            }
        }
        // Until the windows and the stack's TCP memory are full of mbufs the application holds.
        long last = -1;
        long stableSince = System.nanoTime();
        while (System.nanoTime() - stableSince < TimeUnit.MILLISECONDS.toNanos(200)) {
            rig.pumpOnce();
            if (s.held.size() != last) {
                last = s.held.size();
                stableSince = System.nanoTime();
            }
        }
        int held = s.held.size();
        assertTrue(held > 2048, "more held than the old shared 64 KiB request ring could return at once: " + held);
        assertEquals(held, server.tcpService().heldDescriptors());
        assertTrue(pool.inUseCount() - baseline >= held);

        // The event thread stops; so does the stack. The request ring fills up with something else.
        int filled = 0;
        while (s.client.noDelay(s.accepted.iterator().next(), true)) {
            filled++;
        }
        assertTrue(filled > 0);
        boolean[] all = {true};
        Thread foreign = new Thread(() -> {
            for (long[] d : s.held) {
                all[0] &= s.client.release(d[0], d[1], (int) d[2]);
            }
        });
        foreign.start();
        foreign.join();
        assertTrue(all[0], "every release was taken with the stack stopped and the request ring full");
        assertFalse(s.client.release(s.held.get(0)[0], s.held.get(0)[1], (int) s.held.get(0)[2]),
            "a release beyond what the client holds is refused at once");
        s.held.clear();
        s.release = true;
        for (long h : p.connected) {
            assertTrue(p.client.abort(h));
        }
        rig.pumpUntil(() -> server.tcpService().heldDescriptors() == 0, "the stack took every release");
        rig.pumpFor(100);
        assertEquals(1, server.counters().drop(DropReason.RELEASE_REFUSED).get(), "only the extra one refused");
        assertEquals(0, server.tcpService().heldDescriptors());
        assertEquals(baseline, pool.inUseCount(), "no mbuf leaked");
        Reference.reachabilityFence(data); // the stack copied from its address until the aborts
    }

    /** Controls that find the request ring full take the side path, in order after the requests before them. */
    @Test
    void controlsThatFindTheRequestRingFullAreCarriedOutInOrder_issue11_item2() {
        Seen s = new Seen(server.tcpService().newClient(4096, 1 << 16));
        Seen p = new Seen(peer.tcpService().newClient());
        rig.polled.addAll(List.of(s, p));
        assertTrue(s.client.listen(7));
        assertTrue(p.client.connect(1, B_IP, 7, 0));
        rig.pumpUntil(() -> p.connected.size() == 1 && s.accepted.size() == 1, "connection");
        long h = s.accepted.iterator().next();
        // Stop listening and listen again on the same port, with the ring full between: the stop waits on the
        // side path, the listen is refused while it waits (it would overtake it), and goes once it is done.
        while (s.client.noDelay(h, true)) {
            Thread.onSpinWait();
        }
        assertTrue(s.client.stopListening(7));
        assertTrue(s.client.abort(h));
        assertFalse(s.client.listen(7), "nothing overtakes a waiting control");
        rig.pumpUntil(() -> s.client.sidePathPending() == 0, "side path done");
        assertTrue(server.tcp().connection(h) == null, "the abort was carried out");
        assertTrue(s.client.listen(7));
        rig.pumpUntil(() -> s.listens.size() == 2, "listen again");
        assertEquals(NtStatus.STATUS_SUCCESS, s.listens.get(1).intValue(), "the stop went before the new listen");
        rig.pumpFor(20);
    }

    /**
     * Review 11 finding 3: a send queued on a held request (conditional accept) that the client then rejects
     * fails (STATUS_CONNECTION_ABORTED, as a close would), and does not stay on the connection slot: the next connection there (another
     * client's) sends only its own data and gets only its own completions.
     */
    @Test
    void sendsQueuedOnARejectedRequestFailAndDoNotLeakToTheSlotsNextConnection() {
        List<long[]> aCompletes = new ArrayList<>(); // requestId, status
        List<Long> aRequests = new ArrayList<>();
        Seen a = new Seen(server.tcpService().newClient()) {
            @Override
            public void onConnectRequest(int listenPort, long handle, int remoteIp, int remotePort,
                                         org.agrona.DirectBuffer synData, int offset, int length) {
                aRequests.add(handle);
            }

            @Override
            public void onSendComplete(long requestId, long handle, int bytes, int status) {
                aCompletes.add(new long[] {requestId, status});
            }
        };
        List<Long> bCompletes = new ArrayList<>();
        Seen b = new Seen(server.tcpService().newClient()) {
            @Override
            public void onSendComplete(long requestId, long handle, int bytes, int status) {
                bCompletes.add(requestId);
            }
        };
        List<Integer> connects = new ArrayList<>();
        Seen p = new Seen(peer.tcpService().newClient()) {
            @Override
            public void onConnectComplete(long requestId, long handle, int status) {
                connects.add(status);
                if (status == NtStatus.STATUS_SUCCESS) {
                    connected.add(handle);
                }
            }
        };
        rig.polled.addAll(List.of(a, b, p));
        assertTrue(a.client.listen(7, TcpSocketOptions.withConditionalAccept(TcpSocketOptions.DEFAULTS)));
        assertTrue(b.client.listen(8));
        rig.pumpUntil(() -> a.listens.size() == 1 && b.listens.size() == 1, "listens");
        assertTrue(p.client.connect(1, B_IP, 7, 0));
        rig.pumpUntil(() -> aRequests.size() == 1, "connect request");
        long h = aRequests.get(0);
        ByteBuffer big = ByteBuffer.allocateDirect(256 * 1024 + 4096);
        assertTrue(a.client.send(h, 7, BufferUtil.address(big), big.capacity()));
        assertTrue(a.client.rejectRequest(h));
        rig.pumpUntil(() -> connects.size() == 1 && aCompletes.size() == 1, "refused, the send completed");
        Reference.reachabilityFence(big); // the stack may copy from its address until the send completes
        assertEquals(NtStatus.STATUS_CONNECTION_REFUSED, connects.get(0).intValue());
        assertEquals(7, aCompletes.get(0)[0]);
        assertEquals(NtStatus.STATUS_CONNECTION_ABORTED, (int) aCompletes.get(0)[1]);

        assertTrue(p.client.connect(2, B_IP, 8, 0));
        rig.pumpUntil(() -> b.accepted.size() == 1 && p.connected.size() == 1, "the next connection");
        ByteBuffer small = ByteBuffer.allocateDirect(10);
        assertTrue(b.client.send(b.accepted.iterator().next(), 9, BufferUtil.address(small), 10));
        rig.pumpUntil(() -> p.bytes >= 10 && !bCompletes.isEmpty(), "b's data");
        Reference.reachabilityFence(small);
        rig.pumpFor(50);
        assertEquals(List.of(9L), bCompletes, "b completes only its own send");
        assertEquals(10, p.bytes, "the peer gets only b's bytes");
        assertEquals(1, aCompletes.size(), "a's send completed once");
    }

}
