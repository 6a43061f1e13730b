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
            assertEquals(1, waiting.resume(busy, budget - held[0]), "one place freed, one connection offered");
        }
        assertEquals(500, taken[3], "the connection in the lower slot");
        assertEquals(500, taken[40], "the connection in the higher slot");
        assertEquals(1000, waiting.reoffered());
    }

    /**
     * Ten places freed at a time and two busy connections: the one offered first takes all ten and is refused
     * again; the offers stop there and the other is first the next time. Before, both were offered every time in
     * the order they were refused, and the first took every freed place.
     */
    @Test
    void theConnectionNotReachedIsFirstNextTime() {
        WaitingConnections waiting = new WaitingConnections(64);
        int budget = 100;
        int[] held = {budget};
        int[] taken = new int[64];
        WaitingConnections.Reoffer busy = slot -> {
            while (held[0] < budget) {
                held[0]++;
                taken[slot]++;
            }
            waiting.stall(slot, true, 0, held[0]);
        };
        waiting.stall(7, true, 0, held[0]);
        waiting.stall(9, true, 0, held[0]);
        for (int poll = 0; poll < 100; poll++) {
            held[0] -= 10;
            assertEquals(1, waiting.resume(busy, budget - held[0]), "the room went to the first; no offer after it");
        }
        assertEquals(500, taken[7]);
        assertEquals(500, taken[9]);
    }

    /**
     * A thousand connections, one segment each, wait on a full event ring; the application reads one RECEIVE
     * record's worth per poll. Each poll offers one connection, not all thousand, and in turn every one is
     * served within a thousand polls.
     */
    @Test
    void aResumeOffersAsManyConnectionsAsTheRoomMade() {
        int n = 1000;
        WaitingConnections waiting = new WaitingConnections(n);
        long[] consumer = {0};
        long[] room = {0};
        Set<Integer> served = new HashSet<>();
        WaitingConnections.Reoffer oneSegment = slot -> {
            if (room[0] > 0) {
                room[0]--;
                served.add(slot);
            } else {
                waiting.stall(slot, false, consumer[0], 0);
            }
        };
        for (int slot = n - 1; slot >= 0; slot--) {
            waiting.stall(slot, false, consumer[0], 0);
        }
        assertTrue(!waiting.roomMade(consumer[0], 0), "no room made yet");
        for (int poll = 0; poll < n; poll++) {
            consumer[0] += WaitingConnections.RECEIVE_RECORD;
            room[0]++;
            assertTrue(waiting.roomMade(consumer[0], 0));
            long before = waiting.reoffered();
            waiting.resume(oneSegment, (int) room[0]);
            assertEquals(1, waiting.reoffered() - before, "poll " + poll + ": one record of room, one offer");
        }
        assertEquals(n, served.size(), "every waiting connection served once, in turn");
        assertEquals(0, waiting.count());
        assertTrue(!waiting.stalled());
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
        waiting.resume(nothingLeft, 1); // one returned: one offered, room remains
        assertTrue(waiting.stalled() && waiting.roomMade(0, 9), "the rest still wait, the room is still there");
        waiting.resume(nothingLeft, 1);
        waiting.resume(nothingLeft, 1);
        waiting.resume(nothingLeft, 1);
        assertEquals(4, offers[0]);
        assertEquals(0, waiting.count());
        assertTrue(!waiting.stalled());
    }
}
