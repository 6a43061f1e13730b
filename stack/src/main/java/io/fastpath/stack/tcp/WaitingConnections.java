package io.fastpath.stack.tcp;

/**
 * The connections whose received data waits for one {@link TcpServiceClient} to make room: a handover it could
 * not take (its event ring full, or its descriptor budget used up) leaves the data in the connection, and the
 * connection goes on this list once. The client is then <em>stalled</em>; a poll of a stalled client compares
 * two numbers (the ring's consumer position, the descriptors held) with those at the stall, and only when the
 * application made the kind of room that was missing are the waiting connections offered their data again,
 * each once. So a client that stops reading costs the poll thread nothing per connection.
 *
 * <p>Thread: the stack's poll thread. No allocation: arrays sized for the connection table.
 */
final class WaitingConnections {
    private final int[] slots;
    private final boolean[] listed;
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

    WaitingConnections(int maxConnections) {
        this.slots = new int[maxConnections];
        this.listed = new boolean[maxConnections];
    }

    /**
     * A handover to the client was refused: {@code c} waits (once), and the client is stalled as of the event
     * ring's {@code ringConsumerPosition} and {@code heldCount} descriptors held.
     */
    void stall(TcpConnection c, boolean forBudget, long ringConsumerPosition, int heldCount) {
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
        if (!listed[c.index]) {
            listed[c.index] = true;
            slots[count++] = c.index;
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

    /** Offers each waiting connection's data again (if the client still owns it); returns how many waited. */
    int resume(TcpService service, TcpServiceClient client) {
        stalled = false;
        onRing = false;
        onBudget = false;
        int n = count;
        count = 0;
        for (int k = 0; k < n; k++) {
            int slot = slots[k];
            listed[slot] = false;
            service.resumeReceive(client, slot);
        }
        return n;
    }

    int count() {
        return count;
    }

    /** Handovers refused so far. */
    long refused() {
        return refused;
    }
}
