package io.fastpath.stack.arp;

/**
 * The neighbour cache (RFC 826, RFC 1122 §2.3.2.1): IPv4 address → MAC, with resolution state, expiry and
 * retries. Open addressing with linear probing over fixed arrays; no allocation after construction.
 *
 * <p>An entry is INCOMPLETE while we wait for a reply (requests re-sent every {@code retryIntervalNs}, at most
 * {@code maxRequests} times, then the resolution fails: the caller reports the destination as unreachable)
 * and REACHABLE for {@code lifetimeNs} after the last reply. Up to {@link #PENDING_PER_ENTRY} frames may wait
 * on an INCOMPLETE entry (RFC 1122 says to keep at least one).
 *
 * <p>Thread: the poll thread only. Time is a parameter ({@code nowNs}); nothing here reads a clock.
 */
public final class ArpTable {
    public static final int FREE = 0;
    public static final int INCOMPLETE = 1;
    public static final int REACHABLE = 2;
    public static final int PENDING_PER_ENTRY = 32;

    private final int mask;
    private final int[] ip;
    private final long[] mac;
    private final byte[] state;
    private final long[] expiresNs;
    private final long[] nextRequestNs;
    private final int[] requestsSent;
    private final long[] pending;
    private final int[] pendingCount;
    private final long lifetimeNs;
    private final long retryIntervalNs;
    private final int maxRequests;
    private int size;

    public ArpTable(int capacity, long lifetimeNs, long retryIntervalNs, int maxRequests) {
        if (Integer.bitCount(capacity) != 1) {
            throw new IllegalArgumentException("capacity must be a power of two: " + capacity);
        }
        this.mask = capacity - 1;
        this.ip = new int[capacity];
        this.mac = new long[capacity];
        this.state = new byte[capacity];
        this.expiresNs = new long[capacity];
        this.nextRequestNs = new long[capacity];
        this.requestsSent = new int[capacity];
        this.pending = new long[capacity * PENDING_PER_ENTRY];
        this.pendingCount = new int[capacity];
        this.lifetimeNs = lifetimeNs;
        this.retryIntervalNs = retryIntervalNs;
        this.maxRequests = maxRequests;
    }

    public int capacity() {
        return mask + 1;
    }

    public int size() {
        return size;
    }

    private static int hash(int address) {
        int h = address * 0x9E3779B9;
        return h ^ (h >>> 16);
    }

    /** Slot of {@code address}, or -1. */
    public int find(int address) {
        int i = hash(address) & mask;
        for (int probes = 0; probes <= mask; probes++, i = (i + 1) & mask) {
            if (state[i] == FREE) {
                return -1;
            }
            if (ip[i] == address) {
                return i;
            }
        }
        return -1;
    }

    /** The MAC for a REACHABLE, unexpired entry, or -1. */
    public long lookup(int address, long nowNs) {
        int slot = find(address);
        if (slot < 0 || state[slot] != REACHABLE || nowNs - expiresNs[slot] >= 0) {
            return -1;
        }
        return mac[slot];
    }

    /**
     * RFC 826 merge: if we know the sender, update it. Returns the slot updated, or -1.
     */
    public int update(int address, long hardware, long nowNs) {
        int slot = find(address);
        if (slot >= 0) {
            mac[slot] = hardware;
            state[slot] = REACHABLE;
            expiresNs[slot] = nowNs + lifetimeNs;
        }
        return slot;
    }

    /** Inserts or updates a REACHABLE entry; returns its slot, or -1 when the table is full. */
    public int learn(int address, long hardware, long nowNs) {
        int slot = update(address, hardware, nowNs);
        if (slot >= 0) {
            return slot;
        }
        slot = insert(address);
        if (slot >= 0) {
            mac[slot] = hardware;
            state[slot] = REACHABLE;
            expiresNs[slot] = nowNs + lifetimeNs;
        }
        return slot;
    }

    /**
     * Starts resolving {@code address} (an INCOMPLETE entry whose first request is due now), or returns the
     * existing entry's slot. -1 when the table is full.
     */
    public int startResolution(int address, long nowNs) {
        int slot = find(address);
        if (slot >= 0) {
            if (state[slot] == REACHABLE && nowNs - expiresNs[slot] >= 0) {
                beginIncomplete(slot, nowNs);
            }
            return slot;
        }
        slot = insert(address);
        if (slot >= 0) {
            beginIncomplete(slot, nowNs);
        }
        return slot;
    }

    private void beginIncomplete(int slot, long nowNs) {
        state[slot] = INCOMPLETE;
        mac[slot] = 0;
        requestsSent[slot] = 0;
        nextRequestNs[slot] = nowNs;
    }

    private int insert(int address) {
        if (size > (mask + 1) * 3 / 4) {
            return -1;
        }
        int i = hash(address) & mask;
        while (state[i] != FREE) {
            i = (i + 1) & mask;
        }
        ip[i] = address;
        pendingCount[i] = 0;
        size++;
        return i;
    }

    /** Parks a frame (mbuf) on an INCOMPLETE entry; false when its queue is full. */
    public boolean park(int slot, long mbuf) {
        int n = pendingCount[slot];
        if (n == PENDING_PER_ENTRY) {
            return false;
        }
        pending[slot * PENDING_PER_ENTRY + n] = mbuf;
        pendingCount[slot] = n + 1;
        return true;
    }

    /** Frames parked on a slot; read them with {@link #parked}, then {@link #clearParked}. */
    public int parkedCount(int slot) {
        return pendingCount[slot];
    }

    public long parked(int slot, int index) {
        return pending[slot * PENDING_PER_ENTRY + index];
    }

    public void clearParked(int slot) {
        pendingCount[slot] = 0;
    }

    public int state(int slot) {
        return state[slot];
    }

    public int address(int slot) {
        return ip[slot];
    }

    public long mac(int slot) {
        return mac[slot];
    }

    /** Receives what the periodic scan decides. */
    public interface Actions {
        /** Send (another) ARP request for this address. */
        void sendRequest(int address);

        /** Resolution failed after every retry: drop what is parked, report unreachable. */
        void resolutionFailed(int slot, int address);
    }

    /**
     * Retries and expiry: re-sends due requests, fails resolutions that ran out of retries (then frees the
     * entry), forgets REACHABLE entries long expired. Returns the work done.
     */
    public int poll(long nowNs, Actions actions) {
        int work = 0;
        for (int i = 0; i <= mask; i++) {
            byte s = state[i];
            if (s == INCOMPLETE && nowNs - nextRequestNs[i] >= 0) {
                if (requestsSent[i] >= maxRequests) {
                    actions.resolutionFailed(i, ip[i]);
                    remove(i);
                } else {
                    requestsSent[i]++;
                    nextRequestNs[i] = nowNs + retryIntervalNs;
                    actions.sendRequest(ip[i]);
                }
                work++;
            } else if (s == REACHABLE && nowNs - expiresNs[i] >= lifetimeNs) {
                remove(i);
                work++;
            }
        }
        return work;
    }

    /** Removes a slot, re-seating the probe chain behind it (backward-shift deletion). */
    private void remove(int slot) {
        state[slot] = FREE;
        pendingCount[slot] = 0;
        size--;
        int i = (slot + 1) & mask;
        while (state[i] != FREE) {
            int address = ip[i];
            int home = hash(address) & mask;
            // Move i into the hole if its home is not cyclically in (hole, i].
            if (((i - home) & mask) >= ((i - slot) & mask)) {
                moveSlot(i, slot);
                slot = i;
            }
            i = (i + 1) & mask;
        }
    }

    private void moveSlot(int from, int to) {
        ip[to] = ip[from];
        mac[to] = mac[from];
        state[to] = state[from];
        expiresNs[to] = expiresNs[from];
        nextRequestNs[to] = nextRequestNs[from];
        requestsSent[to] = requestsSent[from];
        pendingCount[to] = pendingCount[from];
        System.arraycopy(pending, from * PENDING_PER_ENTRY, pending, to * PENDING_PER_ENTRY, PENDING_PER_ENTRY);
        state[from] = FREE;
        pendingCount[from] = 0;
    }
}
