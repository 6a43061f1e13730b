package io.fastpath.stack.arp;

/**
 * The neighbour cache (RFC 826, RFC 1122 §2.3.2.1): IPv4 address → MAC, with resolution state, expiry and
 * retries. Open addressing with linear probing over fixed arrays; no allocation after construction.
 *
 * <p>States, after Linux's neighbour code (net/core/neighbour.c, RFC 4861 §7.3 applied to ARP):
 * <ul>
 * <li>INCOMPLETE: we wait for a reply; broadcast requests re-sent every {@code retryIntervalNs}, at most
 *     {@code maxRequests} times, then the resolution fails (the caller reports the destination unreachable).
 *     Up to {@link #PENDING_PER_ENTRY} frames may wait on it (RFC 1122 says to keep at least one).
 * <li>REACHABLE: for {@code lifetimeNs} after the last ARP packet from the neighbour.
 * <li>STALE: the lifetime ran out. The MAC is still used (frames go out at once); the first use starts
 *     validation (DELAY). A STALE entry unused for another lifetime is forgotten.
 * <li>DELAY: used while STALE; frames still go to the known MAC. After {@link #delayNs()} (Linux's
 *     delay_first_probe_time, 5 s, or the lifetime when that is shorter) it becomes PROBE. An ARP packet from
 *     the neighbour in the meantime makes it REACHABLE.
 * <li>PROBE: RFC 1122 §2.3.2.1's "unicast poll": ARP requests to the known MAC (Linux's ucast_probes; here
 *     {@code maxRequests} of them), one every {@code retryIntervalNs}, frames still going to the known MAC. A
 *     reply makes it REACHABLE; no reply makes it INCOMPLETE (broadcast resolution, frames park or fail). Linux
 *     instead sends mcast_reprobes broadcasts (default 0) in PROBE and then fails; ours is Linux with
 *     mcast_reprobes = {@code maxRequests}, so a neighbour that changed its MAC without telling is found again.
 * </ul>
 * A busy neighbour's entry therefore never drops a frame just because its lifetime ran out (a 100,000-
 * connection run lost hundreds of frames when REACHABLE went straight back to INCOMPLETE). Validation adds no
 * trust: an ARP packet from the neighbour's address refreshes the entry exactly as before.
 *
 * <p><b>Room for the neighbours we need.</b> RFC 826 has a host learn the sender of every request for it, so
 * anyone on the link can fill the table with made-up senders (AttackReproductionTest's ARP flood), and keep
 * them fresh with more unsolicited packets. So an entry counts as <em>confirmed</em> only when a reply answers
 * our own request or probe (INCOMPLETE or PROBE), as Linux's neighbour code makes only solicited replies
 * REACHABLE; unsolicited packets still update the MAC and the lifetime (RFC 826's merge) but confirm nothing.
 * When the table is full, a resolution we start ({@link #startResolution}) evicts an entry never confirmed,
 * else one whose confirmation is older than the lifetime, the least recently refreshed or confirmed first;
 * learning never evicts. Entries being resolved or validated (INCOMPLETE, DELAY, PROBE), entries with frames
 * parked, and entries confirmed within the lifetime are never evicted, and resolutions in progress may hold at
 * most half of the table (a flood of SYNs from unused on-link addresses then cannot push out every idle
 * neighbour). Slots move when an entry goes (backward shift), so no eviction happens while {@link #poll} runs
 * (its callbacks may start resolutions). Linux keeps up to gc_thresh3 (1,024) entries, the default capacity
 * here ({@code StackConfig}), and garbage-collects unreferenced ones not updated for 5 s when over gc_thresh2.
 *
 * <p>{@link #poll} scans the table only when a deadline is due (the earliest is kept as entries change), not
 * every millisecond.
 *
 * <p>Thread: the poll thread only. Time is a parameter ({@code nowNs}); nothing here reads a clock.
 */
public final class ArpTable {
    public static final int FREE = 0;
    public static final int INCOMPLETE = 1;
    public static final int REACHABLE = 2;
    public static final int STALE = 3;
    public static final int DELAY = 4;
    public static final int PROBE = 5;
    /** Linux's delay_first_probe_time default. */
    public static final long DELAY_FIRST_PROBE_NS = 5_000_000_000L;
    public static final int PENDING_PER_ENTRY = 32;
    /**
     * Frames parked on all entries at once, at most: with 1,024 entries, 32 each on the up to 384 resolutions in
     * progress could pin 12,288 mbufs (a SYN flood from unused on-link addresses, each SYN-ACK and its
     * retransmissions parked); refusals count as {@code ARP_QUEUE_FULL} drops, {@link #parkedTotal} shows the level.
     */
    public static final int MAX_PARKED = 4096;

    private final int mask;
    private final int[] ip;
    private final long[] mac;
    private final byte[] state;
    private final long[] expiresNs;
    private final long[] nextRequestNs;
    private final int[] requestsSent;
    private final long[] pending;
    private final int[] pendingCount;
    /** Frames parked on all entries ({@link #MAX_PARKED} at most). */
    private int parkedTotal;
    /** The frames of a resolution that failed, handed to {@link Actions#resolutionFailed} (poll thread). */
    private final long[] failed = new long[PENDING_PER_ENTRY];
    /** A reply answered our request or probe at {@link #confirmedNs} (else: never confirmed, evicted first). */
    private final boolean[] confirmed;
    private final long[] confirmedNs;
    private long evictions;
    /** No entry can be evicted before this time ({@link #evictOne}): the last scan found none. */
    private long noVictimBeforeNs;
    private boolean noVictimKnown;
    /** The earliest deadline {@link #poll} has to act on ({@link #due}); none while {@code !pollDue}. */
    private long nextPollNs;
    private boolean pollDue;
    /** Inside {@link #poll}: slot indexes must not move, so nothing is evicted. */
    private boolean polling;
    private final long lifetimeNs;
    private final long retryIntervalNs;
    private final int maxRequests;
    private final long delayNs;
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
        this.confirmed = new boolean[capacity];
        this.confirmedNs = new long[capacity];
        this.lifetimeNs = lifetimeNs;
        this.retryIntervalNs = retryIntervalNs;
        this.maxRequests = maxRequests;
        this.delayNs = Math.min(DELAY_FIRST_PROBE_NS, lifetimeNs);
    }

    /** How long a used STALE entry waits before its first unicast probe. */
    public long delayNs() {
        return delayNs;
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

    /**
     * The MAC to send to, or -1 (no entry, or INCOMPLETE): the output path's call. A REACHABLE entry whose
     * lifetime ran out is STALE; using a STALE entry starts its validation (DELAY, then unicast probes).
     */
    public long resolve(int address, long nowNs) {
        int slot = find(address);
        if (slot < 0) {
            return -1;
        }
        byte s = state[slot];
        if (s == REACHABLE) {
            if (nowNs - expiresNs[slot] < 0) {
                return mac[slot];
            }
            s = STALE;
        }
        if (s == STALE) {
            state[slot] = DELAY;
            nextRequestNs[slot] = nowNs + delayNs;
            requestsSent[slot] = 0;
            due(nextRequestNs[slot]);
        } else if (s != DELAY && s != PROBE) {
            return -1;
        }
        return mac[slot];
    }

    /** The MAC a usable entry (REACHABLE, STALE, DELAY, PROBE) holds, or -1; changes nothing (diagnostics). */
    public long lookup(int address, long nowNs) {
        int slot = find(address);
        if (slot < 0 || state[slot] == INCOMPLETE) {
            return -1;
        }
        return mac[slot];
    }

    /** The state of {@code address}'s entry as of {@code nowNs} (REACHABLE past its lifetime is STALE), or FREE. */
    public int stateOf(int address, long nowNs) {
        int slot = find(address);
        if (slot < 0) {
            return FREE;
        }
        if (state[slot] == REACHABLE && nowNs - expiresNs[slot] >= 0) {
            return STALE;
        }
        return state[slot];
    }

    /**
     * RFC 826 merge: if we know the sender, update it (an unsolicited packet: it confirms nothing). Returns the slot
     * updated, or -1.
     */
    public int update(int address, long hardware, long nowNs) {
        return update(address, hardware, nowNs, false);
    }

    /**
     * RFC 826 merge, {@code reply}: the packet is an ARP reply, which confirms the entry when we were resolving or
     * probing it (a reply to our own request). Returns the slot updated, or -1.
     */
    public int update(int address, long hardware, long nowNs, boolean reply) {
        int slot = find(address);
        if (slot >= 0) {
            byte s = state[slot];
            if (reply && (s == INCOMPLETE || s == PROBE)) {
                confirmed[slot] = true;
                confirmedNs[slot] = nowNs;
            }
            mac[slot] = hardware;
            state[slot] = REACHABLE;
            expiresNs[slot] = nowNs + lifetimeNs;
            due(expiresNs[slot]);
        }
        return slot;
    }

    /** Inserts or updates a REACHABLE entry; returns its slot, or -1 when the table is full. */
    public int learn(int address, long hardware, long nowNs) {
        int slot = update(address, hardware, nowNs);
        if (slot >= 0) {
            return slot;
        }
        slot = insert(address, false, nowNs);
        if (slot >= 0) {
            mac[slot] = hardware;
            state[slot] = REACHABLE;
            expiresNs[slot] = nowNs + lifetimeNs;
            confirmed[slot] = false;
            due(expiresNs[slot]);
            noVictimKnown = false;
        }
        return slot;
    }

    /**
     * Starts resolving {@code address} (an INCOMPLETE entry whose first request is due now), or returns the
     * existing entry's slot. When the table is full it evicts an entry not confirmed within the lifetime
     * ({@link #evictions()}); -1 when none can go.
     */
    public int startResolution(int address, long nowNs) {
        int slot = find(address);
        if (slot >= 0) {
            // An entry with a MAC (even STALE) is usable: resolve() returns it; only a new entry resolves.
            return slot;
        }
        slot = insert(address, true, nowNs);
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
        confirmed[slot] = false;
        due(nowNs);
    }

    /** {@link #poll} has something to do at {@code deadlineNs}. */
    private void due(long deadlineNs) {
        if (!pollDue || deadlineNs - nextPollNs < 0) {
            nextPollNs = deadlineNs;
            pollDue = true;
        }
    }

    /** Entries evicted so far to make room for a resolution. */
    public long evictions() {
        return evictions;
    }

    /** A new slot for {@code address}; when the table is full, only for a resolution we start (it may evict). */
    private int insert(int address, boolean resolving, long nowNs) {
        if (size > (mask + 1) * 3 / 4 && !(resolving && evictOne(nowNs))) {
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

    /** Parks a frame (mbuf) on an INCOMPLETE entry; false when its queue, or the table's, is full. */
    public boolean park(int slot, long mbuf) {
        int n = pendingCount[slot];
        if (n == PENDING_PER_ENTRY || parkedTotal == MAX_PARKED) {
            return false;
        }
        pending[slot * PENDING_PER_ENTRY + n] = mbuf;
        pendingCount[slot] = n + 1;
        parkedTotal++;
        return true;
    }

    /** Frames parked on all entries now. */
    public int parkedTotal() {
        return parkedTotal;
    }

    /** Frames parked on a slot; read them with {@link #parked}, then {@link #clearParked}. */
    public int parkedCount(int slot) {
        return pendingCount[slot];
    }

    public long parked(int slot, int index) {
        return pending[slot * PENDING_PER_ENTRY + index];
    }

    public void clearParked(int slot) {
        parkedTotal -= pendingCount[slot];
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
        /** Send (another) broadcast ARP request for this address. */
        void sendRequest(int address);

        /** Send an ARP request for this address to its known MAC (RFC 1122 §2.3.2.1 unicast poll). */
        void sendProbe(int address, long hardware);

        /**
         * Resolution failed after every retry: drop the {@code count} frames that waited for it (in {@code frames},
         * valid during the call), report unreachable. The entry is gone already.
         */
        void resolutionFailed(int address, long[] frames, int count);
    }

    /**
     * Retries and expiry: re-sends due requests, fails resolutions that ran out of retries (then frees the
     * entry), marks expired REACHABLE entries STALE, probes DELAY/PROBE entries (unicast), sends a PROBE entry
     * that got no answer back to INCOMPLETE, forgets STALE entries unused for a lifetime. Returns the work done.
     */
    public int poll(long nowNs, Actions actions) {
        if (!pollDue || nowNs - nextPollNs < 0) {
            return 0;
        }
        pollDue = false; // the scan (and whatever its callbacks change) sets the next deadline again
        polling = true;
        int work = 0;
        try {
            for (int i = 0; i <= mask; i++) {
                byte s = state[i];
                if (s == INCOMPLETE && nowNs - nextRequestNs[i] >= 0) {
                    work++;
                    if (requestsSent[i] >= maxRequests) {
                        int address = ip[i];
                        int n = pendingCount[i];
                        System.arraycopy(pending, i * PENDING_PER_ENTRY, failed, 0, n);
                        remove(i--); // look at the entry shifted into this slot too
                        actions.resolutionFailed(address, failed, n);
                        continue;
                    }
                    requestsSent[i]++;
                    nextRequestNs[i] = nowNs + retryIntervalNs;
                    actions.sendRequest(ip[i]);
                } else if (s == REACHABLE || s == STALE) {
                    if (nowNs - expiresNs[i] >= lifetimeNs) {
                        remove(i--);
                        work++;
                        continue;
                    }
                    if (s == REACHABLE && nowNs - expiresNs[i] >= 0) {
                        state[i] = STALE;
                    }
                } else if ((s == DELAY || s == PROBE) && nowNs - nextRequestNs[i] >= 0) {
                    if (s == PROBE && requestsSent[i] >= maxRequests) {
                        // The known MAC did not answer: resolve from scratch by broadcast (frames park from now).
                        beginIncomplete(i, nowNs);
                        requestsSent[i] = 1;
                        nextRequestNs[i] = nowNs + retryIntervalNs;
                        actions.sendRequest(ip[i]);
                    } else {
                        state[i] = PROBE;
                        requestsSent[i]++;
                        nextRequestNs[i] = nowNs + retryIntervalNs;
                        actions.sendProbe(ip[i], mac[i]);
                    }
                    work++;
                }
                s = state[i];
                if (s == INCOMPLETE || s == DELAY || s == PROBE) {
                    due(nextRequestNs[i]);
                } else if (s == REACHABLE) {
                    due(expiresNs[i]);
                } else if (s == STALE) {
                    due(expiresNs[i] + lifetimeNs);
                }
            }
        } finally {
            polling = false;
        }
        return work;
    }

    /**
     * Evicts the entry never confirmed, else the one confirmed longest ago beyond the lifetime (REACHABLE or STALE,
     * nothing parked), the least recently refreshed first among the unconfirmed; false when none may go, when
     * resolutions in progress already hold half of the table, or inside {@link #poll}. One scan of the table, and
     * none again before the time the last fruitless scan found (only a resolution we start on a full table comes
     * here, never a packet a neighbour sent).
     */
    private boolean evictOne(long nowNs) {
        if (polling || noVictimKnown && nowNs - noVictimBeforeNs < 0) {
            return false;
        }
        int victim = -1;
        boolean victimConfirmed = false;
        long victimAge = 0;
        int resolving = 0;
        long nextVictimNs = nowNs + retryIntervalNs; // in-progress entries change state within a retry
        for (int i = 0; i <= mask; i++) {
            byte s = state[i];
            if (s == INCOMPLETE) {
                resolving++;
                continue;
            }
            if (s != REACHABLE && s != STALE || pendingCount[i] != 0) {
                continue;
            }
            boolean c = confirmed[i];
            if (c && nowNs - confirmedNs[i] < lifetimeNs) {
                long at = confirmedNs[i] + lifetimeNs;
                if (at - nextVictimNs < 0) {
                    nextVictimNs = at;
                }
                continue; // confirmed by a reply to us within the lifetime
            }
            long age = c ? confirmedNs[i] : expiresNs[i];
            if (victim < 0 || !c && victimConfirmed || c == victimConfirmed && age - victimAge < 0) {
                victim = i;
                victimConfirmed = c;
                victimAge = age;
            }
        }
        if (victim < 0 || resolving >= (mask + 1) * 3 / 8) {
            // Nothing may go before nextVictimNs (only time ages confirmations; a new entry or a removal forgets
            // this); with half of the usable table resolving, look again in a millisecond.
            noVictimKnown = true;
            noVictimBeforeNs = victim < 0 ? nextVictimNs : nowNs + 1_000_000L;
            return false;
        }
        remove(victim);
        evictions++;
        return true;
    }

    /** Removes a slot, re-seating the probe chain behind it (backward-shift deletion). */
    private void remove(int slot) {
        noVictimKnown = false;
        state[slot] = FREE;
        parkedTotal -= pendingCount[slot]; // a failed resolution's frames were copied out first
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
        confirmed[to] = confirmed[from];
        confirmedNs[to] = confirmedNs[from];
        System.arraycopy(pending, from * PENDING_PER_ENTRY, pending, to * PENDING_PER_ENTRY, PENDING_PER_ENTRY);
        state[from] = FREE;
        pendingCount[from] = 0;
    }
}
