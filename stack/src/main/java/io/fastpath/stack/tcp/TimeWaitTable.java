package io.fastpath.stack.tcp;

import org.agrona.collections.Long2LongHashMap;

/**
 * Connections in TIME-WAIT (RFC 9293 §3.6), kept as compact records instead of pooled connections: once the
 * application has been told a connection is closed and nothing of it remains queued, all TIME-WAIT needs is
 * its 4-tuple, RCV.NXT and SND.NXT (to ACK a retransmitted FIN), the timestamp state (TS.Recent and our
 * offset, for the ACK and for RFC 6191 reuse), the window to advertise, and the deadline.
 *
 * <p>Records live in parallel primitive arrays used as a ring in deadline order (every record gets the same
 * 2 MSL, and a restarted one moves to the tail), plus an index from the packed 4-tuple to the record. Per
 * record: 40 bytes of arrays and about 21 bytes of index (a {@link Long2LongHashMap} at load factor 0.8): about
 * 61 bytes, no objects, nothing allocated after construction. When the ring is full the oldest record goes.
 *
 * <p>Thread: the poll thread.
 */
final class TimeWaitTable {
    private static final int TS_OK = 1 << 8;
    private static final int LIVE = 1 << 9;
    private static final int SCALE_MASK = 0xFF;

    private final int capacity;
    private final long[] keys;
    private final int[] rcvNxt;
    private final int[] sndNxt;
    private final int[] tsRecent;
    private final int[] tsOffset;
    private final int[] window;
    /** Receive window scale (low 8 bits), TS_OK, LIVE (a record removed out of order stays as a dead slot). */
    private final int[] info;
    private final long[] deadline;
    private final Long2LongHashMap index;
    private int head;
    /** Slots between head and tail, dead ones included. */
    private int used;
    private int live;

    TimeWaitTable(int capacity) {
        this.capacity = Math.max(0, capacity);
        int n = Math.max(1, this.capacity);
        keys = new long[n];
        rcvNxt = new int[n];
        sndNxt = new int[n];
        tsRecent = new int[n];
        tsOffset = new int[n];
        window = new int[n];
        info = new int[n];
        deadline = new long[n];
        index = new Long2LongHashMap((int) (n / 0.8f) + 1, 0.8f, -1);
    }

    int capacity() {
        return capacity;
    }

    /** Records held now. */
    int size() {
        return live;
    }

    /** Bytes this table holds, arrays and index (what 100,000 records cost is in the tests). */
    long footprintBytes() {
        return (long) keys.length * (8 + 4 * 6 + 8) + (long) index.capacity() * 16;
    }

    /** The record for a packed 4-tuple ({@link TcpLayer#key}), or -1. */
    int find(long key) {
        return (int) index.get(key);
    }

    /**
     * Adds a record with this deadline (the latest so far). Returns true when the table was full and its oldest
     * live record was dropped to make room.
     */
    boolean add(long key, int rcvNext, int sndNext, boolean tsOk, int recent, int offset, int rcvWindow,
                int rcvScale, long deadlineNs) {
        boolean evicted = false;
        if (used == capacity) {
            evicted = removeHead();
        }
        int slot = (head + used) % capacity;
        used++;
        live++;
        keys[slot] = key;
        rcvNxt[slot] = rcvNext;
        sndNxt[slot] = sndNext;
        tsRecent[slot] = recent;
        tsOffset[slot] = offset;
        window[slot] = rcvWindow;
        info[slot] = LIVE | (tsOk ? TS_OK : 0) | (rcvScale & SCALE_MASK);
        deadline[slot] = deadlineNs;
        index.put(key, slot);
        return evicted;
    }

    /** Restarts a record's 2 MSL (a retransmitted FIN came): it moves to the tail with its new deadline. */
    void restart(int slot, long deadlineNs) {
        long key = keys[slot];
        int rn = rcvNxt[slot];
        int sn = sndNxt[slot];
        int tr = tsRecent[slot];
        int to = tsOffset[slot];
        int w = window[slot];
        int i = info[slot];
        remove(slot);
        add(key, rn, sn, (i & TS_OK) != 0, tr, to, w, i & SCALE_MASK, deadlineNs);
    }

    /** Removes a record (reused by a new SYN, RFC 6191). */
    void remove(int slot) {
        if ((info[slot] & LIVE) == 0) {
            return;
        }
        info[slot] &= ~LIVE;
        index.remove(keys[slot]);
        live--;
        while (used > 0 && (info[head] & LIVE) == 0) {
            head = (head + 1) % capacity;
            used--;
        }
    }

    /** Removes the records whose 2 MSL is over. Returns how many. */
    int expire(long nowNs) {
        int n = 0;
        while (used > 0 && ((info[head] & LIVE) == 0 || nowNs - deadline[head] >= 0)) {
            if ((info[head] & LIVE) != 0) {
                n++;
            }
            removeHead();
        }
        return n;
    }

    /** Drops every record (stack shutdown). */
    void clear() {
        index.clear();
        head = 0;
        used = 0;
        live = 0;
    }

    private boolean removeHead() {
        int slot = head;
        boolean wasLive = (info[slot] & LIVE) != 0;
        if (wasLive) {
            info[slot] &= ~LIVE;
            index.remove(keys[slot]);
            live--;
        }
        head = (head + 1) % capacity;
        used--;
        return wasLive;
    }

    long key(int slot) {
        return keys[slot];
    }

    int rcvNxt(int slot) {
        return rcvNxt[slot];
    }

    int sndNxt(int slot) {
        return sndNxt[slot];
    }

    boolean tsOk(int slot) {
        return (info[slot] & TS_OK) != 0;
    }

    int tsRecent(int slot) {
        return tsRecent[slot];
    }

    void tsRecent(int slot, int value) {
        tsRecent[slot] = value;
    }

    int tsOffset(int slot) {
        return tsOffset[slot];
    }

    int window(int slot) {
        return window[slot];
    }

    int rcvScale(int slot) {
        return info[slot] & SCALE_MASK;
    }

    long deadline(int slot) {
        return deadline[slot];
    }

    /** The slot of the i-th record from the oldest, dead ones included (diagnostics); -1 past the end. */
    int slotAt(int i) {
        return i < used ? (head + i) % capacity : -1;
    }

    boolean isLive(int slot) {
        return (info[slot] & LIVE) != 0;
    }
}
