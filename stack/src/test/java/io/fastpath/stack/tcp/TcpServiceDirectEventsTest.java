package io.fastpath.stack.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.stack.Stack;
import io.fastpath.stack.counters.DropReason;
import io.fastpath.stack.wire.Ipv4Address;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.agrona.BufferUtil;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Direct events (docs/architecture.md, "Direct events"): a client whose {@link DirectEventTaker} takes its events
 * on the stack's bound poll thread gets them by direct call right after the stack's duty cycle, not through its
 * event ring; they never overtake an event on the ring, what was kept goes onto the ring in order when the taker
 * stops taking them on this thread, the descriptor budget holds as with the ring, and a handler's request made
 * from inside a directly delivered event is a direct call. Two stacks over a ring pair, both bound to the test
 * thread, as the API benchmarks run them.
 */
class TcpServiceDirectEventsTest {
    private static final int A_IP = Ipv4Address.parse("10.16.0.1");
    private static final int B_IP = Ipv4Address.parse("10.16.0.2");
    private static final int PORT = 7;
    /** The server stack's TCP receive memory (mbufs): with a second client, each may hold half. */
    private static final int MEMORY_LIMIT = 64;

    @TempDir
    Path dir;
    private TcpServiceRig rig;
    private Stack peer;
    private Stack server;
    private final List<ByteBuffer> keep = new ArrayList<>();

    @BeforeEach
    void up() {
        rig = new TcpServiceRig(dir, "tsde", A_IP, B_IP, MEMORY_LIMIT);
        peer = rig.peer;
        server = rig.server;
        peer.bindPollThread();
        server.bindPollThread();
    }

    @AfterEach
    void down() {
        rig.close();
    }

    /** A client and what it saw; as a taker it takes its events on the test thread unless told otherwise. */
    private static final class Side extends RecordingClient implements DirectEventTaker {
        /** As a taker: whether it takes its events on this thread, and whether it takes them when asked. */
        boolean here = true;
        boolean busy;
        int takes;
        /** Whether the rig's pump polls this client (off: only the stack's direct delivery and explicit polls). */
        boolean rigPolls = true;

        Side(TcpServiceClient client) {
            super(client);
        }

        @Override
        public void run() {
            if (rigPolls) {
                poll();
            }
        }

        @Override
        public boolean eventsOnThisThread() {
            return here;
        }

        @Override
        public void takeDirectEvents() {
            if (!busy) {
                takes++;
                client.pollEvents(this);
            }
        }
    }

    private Side serverSide;
    private Side peerSide;

    /** A connection from a ring client on the peer to a direct-event client on the server. */
    private void connect() {
        serverSide = new Side(server.tcpService().newClient());
        serverSide.client.directEvents(serverSide);
        peerSide = new Side(peer.tcpService().newClient());
        rig.polled.add(peerSide);
        rig.polled.add(serverSide); // as a provider's rounds do: ACCEPTED always takes the ring
        assertTrue(serverSide.client.listen(PORT));
        assertTrue(peerSide.client.connect(1, B_IP, PORT, 0));
        rig.pumpUntil(() -> serverSide.handle != 0 && peerSide.handle != 0, "connected");
        assertTrue(peerSide.client.noDelay(peerSide.handle, true)); // each send its own segment
        rig.pumpFor(20);
        serverSide.rigPolls = false; // from now on only the stack's direct delivery and the test's own polls
    }

    private boolean send(Side side, String s, long requestId) {
        ByteBuffer b = ByteBuffer.allocateDirect(s.length());
        for (int i = 0; i < s.length(); i++) {
            b.put(i, (byte) s.charAt(i));
        }
        keep.add(b); // valid until the test ends
        return side.client.send(side.handle, requestId, BufferUtil.address(b), s.length());
    }

    /** Sends {@code s} from the peer and runs both stacks until the server's stack took it in. */
    private void peerSends(String s, long requestId) {
        long before = server.counters().rxFrames.get();
        assertTrue(send(peerSide, s, requestId));
        rig.pumpUntil(() -> server.counters().rxFrames.get() > before, "the segment at the server");
    }

    @Test
    void eventsAreDeliveredByTheStackRightAfterItsDutyCycle() {
        connect();
        long direct = serverSide.client.directEventsDelivered();
        assertTrue(direct >= 1, "the listen's outcome by direct call: " + direct);
        int takes = serverSide.takes;
        long before = server.counters().rxFrames.get();
        assertTrue(send(peerSide, "x", 1));
        peer.doWork(); // the peer's send left at once (a direct request); this is its next cycle
        server.doWork();
        assertTrue(server.counters().rxFrames.get() > before);
        assertEquals("x", serverSide.text(), "delivered inside the server's doWork, after its cycle");
        assertEquals(takes + 1, serverSide.takes, "the stack asked the taker once");
        assertEquals(direct + 1, serverSide.client.directEventsDelivered(), "the RECEIVE by direct call");
        assertEquals(0, server.tcpService().heldDescriptors(), "released from the handler (a direct release)");
    }

    /**
     * Events kept for a direct call when another thread starts driving the stack (which unbinds it) go onto the
     * ring at once: the last event of a connection was lost until another event came (review finding).
     */
    @Test
    void eventsKeptWhenAnotherThreadDrivesTheStackGoOntoTheRing() throws Exception {
        connect();
        serverSide.busy = true; // the taker is in a round of its own whenever asked: what comes stays kept
        peerSends("kept", 1);
        assertEquals("", serverSide.text(), "kept, not delivered");
        Thread other = new Thread(server::doWork, "another poll thread");
        other.start();
        other.join();
        serverSide.busy = false;
        serverSide.poll(); // off the bound thread now: from the ring, as an own-thread provider reads it
        assertEquals("kept", serverSide.text());
        rig.pumpUntil(() -> server.tcpService().heldDescriptors() == 0, "the release (a ring record now) taken");
    }

    @Test
    void aRequestFromInsideADirectlyDeliveredEventIsADirectCallAndItsCompletionFollows() {
        connect();
        TcpServiceClient c = serverSide.client;
        long[] positions = {-1, -1};
        serverSide.onData = () -> {
            positions[0] = c.requestPosition();
            assertTrue(send(serverSide, "echo", 42)); // the server answers from inside the event
            positions[1] = c.requestPosition();
        };
        long outputs = server.tcpService().directOutputs();
        peerSends("q", 1);
        assertEquals(positions[0], positions[1], "a direct call, not a record on the request ring");
        assertTrue(server.tcpService().directOutputs() > outputs, "its segment left between duty cycles");
        rig.pumpUntil(() -> peerSide.text().equals("echo"), "the echo at the peer");
        rig.pumpUntil(() -> serverSide.completed.size() == 1, "the echo's completion");
        assertEquals(List.of(42L), serverSide.completed);
    }

    @Test
    void directEventsNeverOvertakeEventsOnTheRingAndMoveOntoItInOrder() {
        connect();
        TcpServiceClient c = serverSide.client;
        // Not taken on this thread: the RECEIVE goes onto the ring.
        serverSide.here = false;
        peerSends("a", 1);
        long direct = c.directEventsDelivered();
        // Taken here again, but the ring holds an event: the next ones queue behind it on the ring.
        serverSide.here = true;
        peerSends("b", 2);
        assertEquals("", serverSide.text(), "nothing delivered: the stack does not read the ring");
        serverSide.poll();
        assertEquals(List.of("a", "b"), serverSide.order, "ring events in order");
        assertEquals(direct, c.directEventsDelivered(), "both through the ring");
        // Ring empty: kept for a direct call. A busy taker leaves it (a provider inside its own round).
        serverSide.busy = true;
        peerSends("c", 3);
        assertEquals(List.of("a", "b"), serverSide.order, "kept, not taken");
        // The taker moves off this thread: the next event may not be kept, so the kept one goes onto the ring
        // first, then the new one behind it.
        serverSide.here = false;
        peerSends("d", 4);
        serverSide.busy = false;
        serverSide.poll();
        assertEquals(List.of("a", "b", "c", "d"), serverSide.order, "kept event first, moved onto the ring");
        assertEquals(direct, c.directEventsDelivered(), "c and d both came through the ring");
        // Kept again, then the stack finds the taker off this thread after its cycle: moved onto the ring.
        serverSide.here = true;
        serverSide.busy = true;
        peerSends("e", 5);
        serverSide.here = false;
        server.doWork();
        serverSide.busy = false;
        serverSide.here = true;
        serverSide.poll();
        assertEquals(List.of("a", "b", "c", "d", "e"), serverSide.order);
        assertEquals(direct, c.directEventsDelivered());
        // And a pollEvents on this thread delivers what was kept before the ring: kept f, then g on the ring
        // behind nothing (f is not on the ring), so g is kept too; one poll, in order.
        serverSide.busy = true;
        peerSends("f", 6);
        peerSends("g", 7);
        serverSide.busy = false;
        serverSide.poll();
        assertEquals(List.of("a", "b", "c", "d", "e", "f", "g"), serverSide.order);
        assertEquals(direct + 2, c.directEventsDelivered(), "f and g by direct call");
        assertEquals("abcdefg", serverSide.text());
    }

    @Test
    void aClientThatKeepsItsDataIsHeldToItsBudgetAsWithTheRing() {
        connect();
        // A second client on the server stack: each may hold half the receive memory (TcpService.clientBudget).
        TcpServiceClient other = server.tcpService().newClient();
        int budget = server.tcpService().clientBudget();
        assertEquals(MEMORY_LIMIT / 2, budget);
        serverSide.release = false;
        int messages = budget + 20;
        StringBuilder all = new StringBuilder();
        for (int k = 0; k < messages; k++) {
            String s = Character.toString('A' + k % 26);
            all.append(s);
            assertTrue(send(peerSide, s, 100 + k));
            rig.pumpOnce();
        }
        rig.pumpFor(50);
        assertEquals(budget, serverSide.held.size(), "held up to the budget and no further");
        assertEquals(budget, server.tcpService().heldDescriptors());
        assertTrue(serverSide.client.stalled(), "stalled: its connection waits");
        assertTrue(serverSide.client.directEventsDelivered() >= budget, "the data came by direct call");
        // Room made: releasing lets the rest come.
        serverSide.release = true;
        for (long[] d : serverSide.held) {
            assertTrue(serverSide.client.release(d[0], d[1], (int) d[2]));
        }
        serverSide.held.clear();
        rig.pumpUntil(() -> serverSide.received.size() == messages, "the rest after room was made");
        assertEquals(all.toString(), serverSide.text(), "every byte once, in order");
        assertEquals(0, server.counters().drop(DropReason.RELEASE_REFUSED).get());
        assertEquals(0, server.counters().drop(DropReason.TCP_EVENT_LOST).get());
        other.close();
    }
}
