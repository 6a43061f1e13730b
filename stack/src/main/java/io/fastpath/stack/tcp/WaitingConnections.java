package io.fastpath.stack.tcp;

import io.fastpath.stack.tcp.protocol.ReceiveEventFlyweight;
import org.agrona.BitUtil;
import org.agrona.concurrent.ringbuffer.RecordDescriptor;

/**
 * The connections whose received data waits for one {@link TcpServiceClient} to make room: a handover it could
 * not take (its event ring full, or its descriptor budget used up) leaves the data in the connection, and the
 * connection goes on this list once. The client is then <em>stalled</em>; a poll of a stalled client compares
 * two numbers (the ring's consumer position, the descriptors held) with those at the stall, and only when the
 * application made the kind of room that was missing are waiting connections offered their data again: in turn
 * (a queue: the one refused again goes to its back and the offers stop there, so no connection's place in the
 * connection table, and no peer, wins every time), and at most as many as the client has room for (free RECEIVE
 * records on its ring, descriptors left in its budget; at least one). So a client that stops reading costs the poll thread nothing
 * per connection, and a slow one a bounded amount per poll.
 *
 * <p>Thread: the stack's poll thread. No allocation: arrays sized for the connection table.
 */
final class WaitingConnections {
    /** Offers one waiting connection's data again ({@code TcpService.resumeReceive} for the client). */
    @FunctionalInterface
    interface Reoffer {
        void reoffer(int slot);
    }

    /** Ring bytes one RECEIVE event takes: reading that much off the ring makes room for one handover. */
    static final int RECEIVE_RECORD = BitUtil.align(RecordDescriptor.HEADER_LENGTH + ReceiveEventFlyweight.LENGTH,
        RecordDescriptor.ALIGNMENT);

    /** The waiting connections' slots, a queue (circular: each slot is on it at most once). */
    private final int[] slots;
    private final boolean[] listed;
    private int head;
    private int count;
    private boolean stalled;
    /** Refused for want of room on the event ring (reading events makes room) or of budget (releases). */
    private boolean onRing;
    private boolean onBudget;
    private long consumerPosition;
    private int held;
    /** Polls the client has stayed stalled through: from 2 on it made no room for a whole duty cycle. */
    private int polls;
    private long refused;
    private long reoffered;

    WaitingConnections(int maxConnections) {
        this.slots = new int[maxConnections];
        this.listed = new boolean[maxConnections];
    }

    /**
     * A handover to the client was refused: {@code c} waits (once), and the client is stalled as of the event
     * ring's {@code ringConsumerPosition} and {@code heldCount} descriptors held.
     */
    void stall(TcpConnection c, boolean forBudget, long ringConsumerPosition, int heldCount) {
        stall(c.index, forBudget, ringConsumerPosition, heldCount);
    }

    void stall(int slot, boolean forBudget, long ringConsumerPosition, int heldCount) {
        refused++;
        if (!stalled) {
            stalled = true;
            polls = 0;
            consumerPosition = ringConsumerPosition;
            held = heldCount;
        }
        if (forBudget) {
            onBudget = true;
        } else {
            onRing = true;
        }
        if (!listed[slot]) {
            listed[slot] = true;
            slots[(head + count) % slots.length] = slot;
            count++;
        }
    }

    boolean stalled() {
        return stalled;
    }

    /** Stalled through a whole duty cycle: its connections then get only half the receive memory. */
    boolean stalledForAdmission() {
        return stalled && polls >= 2;
    }

    /** Whether the application made the room that was missing (read events, or returned descriptors). */
    boolean roomMade(long ringConsumerPosition, int heldCount) {
        return onRing && ringConsumerPosition != consumerPosition || onBudget && heldCount < held;
    }

    /** A poll that found no room made. */
    void stillStalled() {
        if (polls < Integer.MAX_VALUE) {
            polls++;
        }
    }

    /**
     * Offers waiting connections their data again, from the front of the queue and at most {@code room} (the
     * handovers the client has room for now: free RECEIVE records on its ring, descriptors left in its budget; at
     * least one is offered), until one is refused again: it goes to the back and stalls the client as of now, and
     * the rest keep their places. When none was refused and some still wait, room may be left: they go on at the
     * next poll. Call when {@link #roomMade}. Returns how many were offered.
     */
    int resume(Reoffer reoffer, int room) {
        int n = Math.min(Math.max(1, room), count);
        boolean wasOnRing = onRing;
        boolean wasOnBudget = onBudget;
        long stallPosition = consumerPosition;
        int stallHeld = held;
        stalled = false;
        onRing = false;
        onBudget = false;
        // Stop at the first refusal: the room is used up (it is the client's, not a connection's), and those not
        // reached keep their place at the front, ahead of the one refused.
        int offered = 0;
        for (; offered < n && !stalled; offered++) {
            int slot = slots[head];
            head = (head + 1) % slots.length;
            count--;
            listed[slot] = false;
            reoffered++;
            reoffer.reoffer(slot);
        }
        if (count > 0 && !stalled) {
            stalled = true;
            polls = 0;
            onRing = wasOnRing;
            onBudget = wasOnBudget;
            consumerPosition = stallPosition;
            held = stallHeld;
        }
        return offered;
    }

    int count() {
        return count;
    }

    /** Handovers refused so far. */
    long refused() {
        return refused;
    }

    /** Waiting connections offered their data again so far (tests: the work a resume does). */
    long reoffered() {
        return reoffered;
    }
}
