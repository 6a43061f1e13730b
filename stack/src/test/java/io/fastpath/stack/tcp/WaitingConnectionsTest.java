package io.fastpath.stack.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * {@link WaitingConnections} (device-free): a slow client's waiting connections are offered room in turn, and a
 * resume offers only as many as the room the application made.
 */
class WaitingConnectionsTest {
    /**
     * A client at its descriptor budget returns one descriptor per poll; two busy connections wait. Each resume
     * offers the one freed place to the connection at the front, which takes it and is refused at its next
     * segment (to the back): both make progress, in turn. Before, both were offered in slot order every time and
     * the first (a place in the table, so a remote peer's choice) took every freed place.
     */
    @Test
    void twoBusyConnectionsOfASlowClientMakeProgressInTurn() {
        WaitingConnections waiting = new WaitingConnections(64);
        int budget = 100;
        int[] held = {budget};
        int[] taken = new int[64];
        WaitingConnections.Reoffer busy = slot -> {
            // Busy: takes every place there is, and waits again when refused.
            while (held[0] < budget) {
                held[0]++;
                taken[slot]++;
            }
            waiting.stall(slot, true, 0, held[0]);
        };
        waiting.stall(3, true, 0, held[0]);
        waiting.stall(40, true, 0, held[0]);
        for (int poll = 0; poll < 1000; poll++) {
            held[0]--; // the application returns one descriptor
            assertTrue(waiting.roomMade(0, held[0]));
            assertEquals(1, waiting.resume(busy, 0, held[0]), "one place freed, one connection offered");
        }
        assertEquals(500, taken[3], "the connection in the lower slot");
        assertEquals(500, taken[40], "the connection in the higher slot");
        assertEquals(1000, waiting.reoffered());
    }

    /**
     * A thousand connections wait on a full event ring; the application reads one RECEIVE record's worth. The
     * poll offers one connection, not all thousand; and in turn each is offered once in a thousand such polls.
     */
    @Test
    void aResumeOffersAsManyConnectionsAsTheRoomMade() {
        int n = 1000;
        WaitingConnections waiting = new WaitingConnections(n);
        long[] consumer = {0};
        Set<Integer> offered = new HashSet<>();
        WaitingConnections.Reoffer refusedAgain = slot -> {
            offered.add(slot);
            waiting.stall(slot, false, consumer[0], 0);
        };
        for (int slot = n - 1; slot >= 0; slot--) {
            waiting.stall(slot, false, consumer[0], 0);
        }
        assertTrue(!waiting.roomMade(consumer[0], 0), "no room made yet");
        for (int poll = 0; poll < n; poll++) {
            consumer[0] += WaitingConnections.RECEIVE_RECORD;
            assertTrue(waiting.roomMade(consumer[0], 0));
            long before = waiting.reoffered();
            waiting.resume(refusedAgain, consumer[0], 0);
            assertEquals(1, waiting.reoffered() - before, "poll " + poll + ": one record of room, one offer");
        }
        assertEquals(n, offered.size(), "every waiting connection offered once, in turn");
        // Room for ten: ten offers.
        consumer[0] += 10L * WaitingConnections.RECEIVE_RECORD;
        long before = waiting.reoffered();
        waiting.resume(refusedAgain, consumer[0], 0);
        assertEquals(10, waiting.reoffered() - before);
        assertEquals(n, waiting.count());
    }

    /** Room made and not used by the connections offered (they had no data left) carries the rest on. */
    @Test
    void roomLeftOverOffersTheRestAtTheNextPoll() {
        WaitingConnections waiting = new WaitingConnections(8);
        int[] offers = {0};
        WaitingConnections.Reoffer nothingLeft = slot -> offers[0]++; // takes nothing, not refused
        for (int slot = 0; slot < 4; slot++) {
            waiting.stall(slot, true, 0, 10);
        }
        waiting.resume(nothingLeft, 0, 9); // one returned: one offered, room remains
        assertTrue(waiting.stalled() && waiting.roomMade(0, 9), "the rest still wait, the room is still there");
        waiting.resume(nothingLeft, 0, 9);
        waiting.resume(nothingLeft, 0, 9);
        waiting.resume(nothingLeft, 0, 9);
        assertEquals(4, offers[0]);
        assertEquals(0, waiting.count());
        assertTrue(!waiting.stalled());
    }
}
