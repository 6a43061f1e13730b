package io.fastpath.stack.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.dpdk.MbufArray;
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
 * Issue 11 review findings on {@link TcpService}'s clients: one stalled client does not starve the others nor
 * cost the poll thread work per connection (a); a release names its handover, not just its mbuf (b); the listener
 * table is the one record of who listens where (c); a client closes (d). Two stacks over a ring pair in invoker
 * mode: the test thread runs both duty cycles and every client's event thread.
 */
class TcpServiceStallTest {
    private static final int A_IP = Ipv4Address.parse("10.15.0.1");
    private static final int B_IP = Ipv4Address.parse("10.15.0.2");
    /** The server stack's TCP receive memory (mbufs): small, so that one stalled client could fill it. */
    private static final int MEMORY_LIMIT = 400;

    @TempDir
    Path dir;
    private TcpServiceRig rig;
    private PktmbufPool pool;
    private Stack peer;
    private Stack server;
    private int baseline;

    @BeforeEach
    void up() {
        rig = new TcpServiceRig(dir, "tsst", A_IP, B_IP, MEMORY_LIMIT);
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
        final Set<Long> accepted = new HashSet<>();
        final List<Long> connected = new ArrayList<>();
        final List<long[]> held = new ArrayList<>(); // handle, descriptor, length
        final List<Long> closed = new ArrayList<>();
        final List<Integer> listens = new ArrayList<>();
        long bytes;
        boolean release = true;

        Seen(TcpServiceClient client) {
            this.client = client;
        }

        @Override
        public void run() {
            client.pollEvents(this);
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
        }

        @Override
        public void onReceive(long handle, long mbuf, long address, int length) {
            bytes += length;
            if (release) {
                assertTrue(client.release(handle, mbuf, length));
            } else {
                held.add(new long[] {handle, mbuf, length});
            }
        }

        @Override
        public void onSendComplete(long requestId, long handle, int bytes, int status) {
        }

        @Override
        public void onPeerClosed(long handle) {
        }

        @Override
        public void onClosed(long handle, int status) {
            closed.add(handle);
        }
    }

    /** Pumps until {@code s} has been handed nothing new for 200 ms. */
    private void pumpUntilStill(Seen s) {
        long last = -1;
        long since = System.nanoTime();
        long deadline = since + TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() - since < TimeUnit.MILLISECONDS.toNanos(200)) {
            assertTrue(System.nanoTime() < deadline, "never settled");
            rig.pumpOnce();
            if (s.bytes != last) {
                last = s.bytes;
                since = System.nanoTime();
            }
        }
    }

    private List<Long> connect(Seen p, int port, int count) {
        int before = p.connected.size();
        for (int i = 0; i < count; i++) {
            assertTrue(p.client.connect(port * 100 + i, B_IP, port, 0));
        }
        rig.pumpUntil(() -> p.connected.size() == before + count, "connections to " + port);
        return new ArrayList<>(p.connected.subList(before, before + count));
    }

    /**
     * Review finding (a): a client whose application stops returning descriptors (a stalled WSK) must not stop
     * another client on the same stack (TDI) from receiving: each client has its own budget, and a stalled
     * client's connections get at most half the stack's receive memory. Before: the stalled client's held
     * descriptors filled the stack's whole TCP memory and the other client's data was refused for good.
     */
    @Test
    void aStalledClientDoesNotStopAnotherClientOnTheStackFromReceiving_reviewA() {
        Seen wsk = new Seen(server.tcpService().newClient());
        Seen tdi = new Seen(server.tcpService().newClient());
        Seen p = new Seen(peer.tcpService().newClient());
        rig.polled.addAll(List.of(wsk, tdi, p));
        wsk.release = false; // keeps every descriptor: stalled once its budget is used up
        assertTrue(wsk.client.listen(7));
        assertTrue(tdi.client.listen(8));
        rig.pumpUntil(() -> wsk.listens.size() == 1 && tdi.listens.size() == 1, "listens");
        List<Long> toWsk = connect(p, 7, 3);
        List<Long> toTdi = connect(p, 8, 1);
        ByteBuffer data = ByteBuffer.allocateDirect(1 << 20);
        for (long h : toWsk) {
            assertTrue(p.client.send(h, 1, BufferUtil.address(data), data.capacity()));
        }
        pumpUntilStill(wsk);

        long sent = 256 * 1024;
        assertTrue(p.client.send(toTdi.get(0), 2, BufferUtil.address(data), (int) sent));
        rig.pumpUntil(() -> tdi.bytes == sent, "the other client receives while one is stalled: " + tdi.bytes);
        assertFalse(tdi.client.stalled());
        int budget = server.tcpService().clientBudget();
        assertTrue(wsk.held.size() <= budget, wsk.held.size() + " held, budget " + budget);
        assertTrue(wsk.client.stalled(), "the keeping client is stalled");

        // The stalled client returns everything: its data flows again.
        for (long[] d : wsk.held) {
            assertTrue(wsk.client.release(d[0], d[1], (int) d[2]));
        }
        wsk.held.clear();
        wsk.release = true;
        // Segments dropped while it was stalled come again after the peer's retransmission time-out, which backed
        // off meanwhile: more time than the other steps on a loaded machine.
        rig.pumpUntil(() -> wsk.bytes == 3L << 20, () -> "the stalled client's data once it made room: " + wsk.bytes,
            60);
        assertEquals(0, server.counters().drop(DropReason.RELEASE_REFUSED).get());
        for (long h : p.connected) {
            assertTrue(p.client.abort(h));
        }
        rig.pumpUntil(() -> server.tcpService().heldDescriptors() == 0, "nothing held");
        Reference.reachabilityFence(data); // the stack copied from its address until here
    }

    /**
     * Review finding (a): a stalled client costs the poll thread O(1) per duty cycle: its refused connections
     * wait on its own list and are not offered again until the application makes room. Before: every duty
     * cycle rescanned every handed-over connection and each refused its handover again.
     */
    @Test
    void aStalledClientIsNotAskedAgainUntilItMakesRoom_reviewA() {
        Seen wsk = new Seen(server.tcpService().newClient());
        Seen tdi = new Seen(server.tcpService().newClient()); // beside another client: a budget of half the memory
        Seen p = new Seen(peer.tcpService().newClient());
        rig.polled.addAll(List.of(wsk, tdi, p));
        wsk.release = false;
        assertTrue(wsk.client.listen(7));
        List<Long> toWsk = connect(p, 7, 3);
        ByteBuffer data = ByteBuffer.allocateDirect(1 << 20);
        for (long h : toWsk) {
            assertTrue(p.client.send(h, 1, BufferUtil.address(data), data.capacity()));
        }
        pumpUntilStill(wsk);
        assertTrue(wsk.client.stalled());
        int waiting = wsk.client.waitingConnections();
        assertTrue(waiting >= 1 && waiting <= 3, "each refused connection waits once: " + waiting);
        long refused = wsk.client.refusedHandovers();
        rig.pumpFor(300); // thousands of duty cycles, the application still keeping everything
        assertEquals(refused, wsk.client.refusedHandovers(), "no handover offered to the stalled client meanwhile");
        assertEquals(waiting, wsk.client.waitingConnections());

        // One release makes room: the waiting connections are offered again, once each.
        long[] d = wsk.held.remove(0);
        assertTrue(wsk.client.release(d[0], d[1], (int) d[2]));
        rig.pumpUntil(() -> wsk.client.refusedHandovers() > refused, "offered again, and refused once the room is used");
        for (long[] h : wsk.held) {
            assertTrue(wsk.client.release(h[0], h[1], (int) h[2]));
        }
        wsk.held.clear();
        wsk.release = true;
        for (long h : p.connected) {
            assertTrue(p.client.abort(h));
        }
        rig.pumpUntil(() -> server.tcpService().heldDescriptors() == 0, "nothing held");
        Reference.reachabilityFence(data); // the stack copied from its address until the aborts
    }

    /**
     * Review finding (a), the other way to stall: a client whose application stops polling its event ring. Its
     * connections wait once each; the other client on the stack goes on receiving; once the application reads
     * its events again, its data flows.
     */
    @Test
    void aClientThatStopsPollingItsEventRingStallsAloneAndResumesWhenItReads_reviewA() {
        Seen wsk = new Seen(server.tcpService().newClient(1 << 16, 1024)); // a ring of about 30 events
        Seen tdi = new Seen(server.tcpService().newClient());
        Seen p = new Seen(peer.tcpService().newClient());
        rig.polled.addAll(List.of(wsk, tdi, p));
        assertTrue(wsk.client.listen(7));
        assertTrue(tdi.client.listen(8));
        rig.pumpUntil(() -> wsk.listens.size() == 1 && tdi.listens.size() == 1, "listens");
        List<Long> toWsk = connect(p, 7, 2);
        long toTdi = connect(p, 8, 1).get(0);
        rig.polled.remove(wsk); // its application stops reading events
        // Less than half the receive memory: it queues in the connections, nothing is dropped (see the test above
        // for a stalled client that holds more), so it all comes at once when the client reads again.
        int each = 64 * 1024;
        ByteBuffer data = ByteBuffer.allocateDirect(1 << 20);
        for (long h : toWsk) {
            assertTrue(p.client.send(h, 1, BufferUtil.address(data), each));
        }
        rig.pumpFor(300);
        assertTrue(wsk.client.stalled(), "its event ring is full");
        int waiting = wsk.client.waitingConnections();
        assertTrue(waiting >= 1 && waiting <= 2, "each refused connection waits once: " + waiting);
        long refused = wsk.client.refusedHandovers();
        long sent = 256 * 1024;
        assertTrue(p.client.send(toTdi, 2, BufferUtil.address(data), (int) sent));
        rig.pumpUntil(() -> tdi.bytes == sent, "the other client receives meanwhile: " + tdi.bytes);
        assertTrue(wsk.client.refusedHandovers() - refused <= 2 * 64,
            "not offered again each duty cycle while it does not read: " + (wsk.client.refusedHandovers() - refused));

        rig.polled.add(wsk); // reads again
        rig.pumpUntil(() -> wsk.bytes == 2L * each, "its data once it reads: " + wsk.bytes);
        assertFalse(wsk.client.stalled());
        for (long h : p.connected) {
            assertTrue(p.client.abort(h));
        }
        rig.pumpUntil(() -> server.tcpService().heldDescriptors() == 0, "nothing held");
        Reference.reachabilityFence(data); // the stack copied from its address until here
    }

    /**
     * Review finding (b): a release names its handover (a token in the descriptor), so a second release of an
     * mbuf that meanwhile came back from the pool and was handed over again, to the same client and connection,
     * is refused and counted instead of freeing the new handover's mbuf.
     */
    @Test
    void aReleaseOfAnEarlierHandoverOfARecycledMbufIsRefused_reviewB() {
        Seen s = new Seen(server.tcpService().newClient());
        Seen p = new Seen(peer.tcpService().newClient());
        rig.polled.addAll(List.of(s, p));
        s.release = false;
        assertTrue(s.client.listen(7));
        long h = connect(p, 7, 1).get(0);
        ByteBuffer data = ByteBuffer.allocateDirect(100);
        // Take most of the pool away, so that the few mbufs left come round again quickly.
        int spare = 64;
        int taken = pool.availableCount() - spare;
        MbufArray away = new MbufArray(taken);
        assertTrue(pool.allocBulk(away, 0, taken));
        java.util.Map<Long, long[]> released = new java.util.HashMap<>(); // mbuf address -> its earlier descriptor
        long[] earlier = null;
        long[] later = null;
        for (int attempt = 0; attempt < 2000 && later == null; attempt++) {
            assertTrue(p.client.send(h, attempt, BufferUtil.address(data), 100));
            rig.pumpUntil(() -> !s.held.isEmpty(), "data");
            long[] d = s.held.remove(0);
            earlier = released.get(TcpServiceClient.mbufAddress(d[1]));
            if (earlier != null) {
                later = d; // the pool gave an earlier handover's mbuf out again, to this connection
                break;
            }
            assertTrue(s.client.release(d[0], d[1], (int) d[2]));
            rig.pumpFor(1);
            released.put(TcpServiceClient.mbufAddress(d[1]), d);
        }
        away.freeAll(taken);
        assertTrue(later != null, "an mbuf came back from the pool to the same connection");
        assertEquals(earlier[0], later[0], "the same connection");
        assertNotEquals(earlier[1], later[1], "two handovers of one mbuf are two descriptors");
        int inUse = pool.inUseCount();
        assertTrue(s.client.release(earlier[0], earlier[1], (int) earlier[2])); // stale: refused on the poll thread
        rig.pumpFor(20);
        assertEquals(1, server.counters().drop(DropReason.RELEASE_REFUSED).get(), "the stale release refused");
        assertEquals(inUse, pool.inUseCount(), "the later handover's mbuf was not freed");
        assertEquals(1, server.tcpService().heldDescriptors());
        assertTrue(s.client.release(later[0], later[1], (int) later[2]));
        rig.pumpFor(20);
        assertEquals(0, server.tcpService().heldDescriptors());
        assertEquals(1, server.counters().drop(DropReason.RELEASE_REFUSED).get(), "the real release honoured");
        assertTrue(p.client.abort(h));
        rig.pumpFor(20);
    }

    /**
     * Review finding (c): who listens on a port is what the listener table says, nothing kept beside it. A
     * client's listener that the stack stopped (another user of the TCP layer took the port over) is no longer
     * the client's: its stopListening is refused and the other listener stays. Before: a port-owner byte kept
     * beside the table still named the client, and its stop removed the other user's listener.
     */
    @Test
    void stopListeningIsCheckedAgainstTheListenerTable_reviewC() {
        Seen s = new Seen(server.tcpService().newClient());
        Seen p = new Seen(peer.tcpService().newClient());
        rig.polled.addAll(List.of(s, p));
        assertTrue(s.client.listen(7));
        rig.pumpUntil(() -> s.listens.size() == 1, "listen");
        assertEquals(NtStatus.STATUS_SUCCESS, server.tcp().stopListening(7));
        List<TcpConnection> raw = new ArrayList<>();
        TcpListenHandler other = c -> {
            raw.add(c);
            return null; // refused: the peer gets a RST, enough to see who listens
        };
        assertEquals(NtStatus.STATUS_SUCCESS, server.tcp().listen(0, 7, other));
        long refused = server.counters().drop(DropReason.REQUEST_REFUSED).get();
        assertTrue(s.client.stopListening(7));
        rig.pumpFor(20);
        assertEquals(refused + 1, server.counters().drop(DropReason.REQUEST_REFUSED).get(), "not its listener");
        assertTrue(p.client.connect(1, B_IP, 7, 0));
        rig.pumpUntil(() -> raw.size() == 1, "the other listener still listens");
        assertEquals(NtStatus.STATUS_SUCCESS, server.tcp().stopListening(7));
        rig.pumpFor(20);
    }

    /**
     * Review finding (d): a closed client (its provider closed) frees its place, its connections are reset, its
     * listeners stop and every descriptor it held goes back to the pool. Before: clients were never removed.
     */
    @Test
    void aClosedClientResetsItsConnectionsStopsItsListenersAndReturnsItsDescriptors_reviewD() {
        Seen x = new Seen(server.tcpService().newClient());
        Seen other = new Seen(server.tcpService().newClient());
        Seen p = new Seen(peer.tcpService().newClient());
        rig.polled.addAll(List.of(x, other, p));
        x.release = false;
        assertTrue(x.client.listen(7));
        assertTrue(other.client.listen(8));
        rig.pumpUntil(() -> x.listens.size() == 1 && other.listens.size() == 1, "listens");
        List<Long> toX = connect(p, 7, 2);
        long toOther = connect(p, 8, 1).get(0);
        ByteBuffer data = ByteBuffer.allocateDirect(64 * 1024);
        for (long h : toX) {
            assertTrue(p.client.send(h, 1, BufferUtil.address(data), data.capacity()));
        }
        pumpUntilStill(x);
        assertTrue(x.held.size() > 0);
        assertEquals(x.held.size(), server.tcpService().heldDescriptors());
        int clients = server.tcpService().clientCount();

        x.client.close();
        assertFalse(x.client.isOpen());
        assertFalse(x.client.listen(9), "requests refused once closing");
        long[] kept = x.held.get(0);
        assertFalse(x.client.release(kept[0], kept[1], (int) kept[2]), "the close returns what it held");
        rig.pumpUntil(() -> x.client.isClosed(), "the poll thread closed the client");
        assertEquals(clients - 1, server.tcpService().clientCount(), "its place is free");
        assertEquals(0, server.tcpService().heldDescriptors(), "every descriptor it held is back");
        rig.pumpUntil(() -> p.closed.containsAll(toX), "its connections were reset");
        assertFalse(p.closed.contains(toOther), "another client's connection goes on");
        assertTrue(server.tcp().connection(toOther(other)) != null);
        // Its listener stopped: another client may listen on the port now.
        Seen y = new Seen(server.tcpService().newClient());
        rig.polled.add(y);
        assertTrue(y.client.listen(7));
        rig.pumpUntil(() -> y.listens.size() == 1, "listen");
        assertEquals(List.of(NtStatus.STATUS_SUCCESS), y.listens);
        assertEquals(0, server.counters().drop(DropReason.RELEASE_REFUSED).get());
        assertTrue(p.client.abort(toOther));
        rig.pumpFor(20);
        assertEquals(baseline, pool.inUseCount(), "nothing leaked");
        Reference.reachabilityFence(data); // the stack copied from its address until the resets
    }

    private static long toOther(Seen s) {
        return s.accepted.iterator().next();
    }

    /** Review finding (d): clients come and go: 1,000 made and closed on one stack (at most 127 open at once). */
    @Test
    void aThousandClientsMadeAndClosedOnOneStack_reviewD() {
        Seen p = new Seen(peer.tcpService().newClient());
        rig.polled.add(p);
        int clients = server.tcpService().clientCount();
        for (int i = 0; i < 1000; i++) {
            Seen c = new Seen(server.tcpService().newClient(4096, 4096));
            assertTrue(c.client.listen(7));
            rig.pumpUntil(() -> { c.client.pollEvents(c); return c.listens.size() == 1; }, "listen " + i);
            assertEquals(NtStatus.STATUS_SUCCESS, c.listens.get(0), "the port is free again: " + i);
            if (i % 100 == 0) {
                connect(p, 7, 1); // now and then with a connection to reset
            }
            c.client.close();
            rig.pumpUntil(() -> c.client.isClosed(), "closed " + i);
        }
        assertEquals(clients, server.tcpService().clientCount());
        rig.pumpFor(50);
        assertEquals(0, server.tcpService().heldDescriptors());
    }

}
