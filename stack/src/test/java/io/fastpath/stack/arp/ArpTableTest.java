package io.fastpath.stack.arp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The neighbour state machine with a stepped clock, no device: REACHABLE → STALE → DELAY → PROBE (RFC 1122
 * §2.3.2.1 unicast poll, Linux net/core/neighbour.c) → REACHABLE or INCOMPLETE.
 */
class ArpTableTest {
    private static final long MS = 1_000_000L;
    private static final long S = 1_000_000_000L;
    private static final long LIFETIME = 60 * S;
    private static final long RETRY = 1 * S;
    private static final int IP = 0x0A000002;
    private static final long MAC = 0x02_00_00_00_00_02L;

    private final ArpTable table = new ArpTable(16, LIFETIME, RETRY, 3);
    private final Recorder actions = new Recorder();

    private static final class Recorder implements ArpTable.Actions {
        final List<Integer> broadcasts = new ArrayList<>();
        final List<long[]> probes = new ArrayList<>();
        final List<Integer> failures = new ArrayList<>();
        final List<Long> failedFrames = new ArrayList<>();

        @Override
        public void sendRequest(int address) {
            broadcasts.add(address);
        }

        @Override
        public void sendProbe(int address, long hardware) {
            probes.add(new long[] {address, hardware});
        }

        @Override
        public void resolutionFailed(int address, long[] frames, int count) {
            failures.add(address);
            for (int i = 0; i < count; i++) {
                failedFrames.add(frames[i]);
            }
        }
    }

    /** Polls every millisecond from {@code from} to {@code to} as the stack does. */
    private void run(long from, long to) {
        for (long t = from; t <= to; t += MS) {
            table.poll(t, actions);
        }
    }

    @Test
    void expiredEntryIsStaleAndStillResolves_rfc1122_s2_3_2_1() {
        table.learn(IP, MAC, 0);
        assertEquals(ArpTable.REACHABLE, table.stateOf(IP, LIFETIME - 1));
        table.poll(LIFETIME, actions);
        assertEquals(ArpTable.STALE, table.stateOf(IP, LIFETIME));
        assertEquals(MAC, table.resolve(IP, LIFETIME), "a STALE entry's MAC is used at once");
        assertEquals(ArpTable.DELAY, table.stateOf(IP, LIFETIME), "first use starts validation");
        assertTrue(actions.broadcasts.isEmpty() && actions.probes.isEmpty(), "nothing sent yet");
    }

    @Test
    void expiredEntryResolvesEvenBeforeThePollMarksItStale() {
        table.learn(IP, MAC, 0);
        assertEquals(MAC, table.resolve(IP, LIFETIME + 5 * MS));
        assertEquals(ArpTable.DELAY, table.stateOf(IP, LIFETIME + 5 * MS));
    }

    @Test
    void validationSendsUnicastProbesToTheKnownMacAfterTheDelay_linuxDelayFirstProbeTime() {
        table.learn(IP, MAC, 0);
        long used = LIFETIME + 10 * MS;
        table.resolve(IP, used);
        run(used, used + table.delayNs() - MS);
        assertTrue(actions.probes.isEmpty(), "no probe during DELAY");
        run(used + table.delayNs(), used + table.delayNs());
        assertEquals(1, actions.probes.size());
        assertEquals(IP, (int) actions.probes.get(0)[0]);
        assertEquals(MAC, actions.probes.get(0)[1], "probe goes to the known MAC");
        assertEquals(ArpTable.PROBE, table.stateOf(IP, used + table.delayNs()));
        assertEquals(MAC, table.resolve(IP, used + table.delayNs()), "frames still go to the known MAC");
        long t = used + table.delayNs();
        run(t + MS, t + 2 * RETRY);
        assertEquals(3, actions.probes.size(), "one probe per retry interval, 3 in all");
        assertTrue(actions.broadcasts.isEmpty(), "no broadcast while probing");
        assertEquals(5 * S, table.delayNs(), "Linux's default delay_first_probe_time");
    }

    @Test
    void replyToAProbeMakesTheEntryReachableAgain() {
        table.learn(IP, MAC, 0);
        long used = LIFETIME + 1;
        table.resolve(IP, used);
        long probeAt = used + table.delayNs();
        run(probeAt, probeAt);
        assertEquals(1, actions.probes.size());
        long replyAt = probeAt + 3 * MS;
        assertTrue(table.update(IP, MAC, replyAt) >= 0);
        assertEquals(ArpTable.REACHABLE, table.stateOf(IP, replyAt));
        run(replyAt, replyAt + 10 * RETRY);
        assertEquals(1, actions.probes.size(), "no more probes once confirmed");
        assertEquals(ArpTable.REACHABLE, table.stateOf(IP, replyAt + LIFETIME - 1));
        assertEquals(MAC, table.resolve(IP, replyAt + LIFETIME - 1));
    }

    @Test
    void unansweredProbesFallBackToBroadcastResolutionThenFailure() {
        table.learn(IP, MAC, 0);
        long used = LIFETIME + 1;
        table.resolve(IP, used);
        long probeAt = used + table.delayNs();
        run(probeAt, probeAt + 3 * RETRY);
        assertEquals(3, actions.probes.size());
        assertEquals(ArpTable.INCOMPLETE, table.stateOf(IP, probeAt + 3 * RETRY));
        assertEquals(-1, table.resolve(IP, probeAt + 3 * RETRY), "INCOMPLETE: frames park or fail as before");
        assertEquals(1, actions.broadcasts.size(), "broadcast resolution begins at once");
        long incompleteAt = probeAt + 3 * RETRY;
        int slot = table.find(IP);
        assertTrue(table.park(slot, 0x1234L));
        run(incompleteAt + MS, incompleteAt + 3 * RETRY);
        assertEquals(3, actions.broadcasts.size());
        assertEquals(List.of(IP), actions.failures, "no answer: resolution fails (host unreachable)");
        assertEquals(-1, table.find(IP));
        assertEquals(0, table.size());
    }

    @Test
    void unusedStaleEntryIsForgotten() {
        table.learn(IP, MAC, 0);
        run(LIFETIME - MS, LIFETIME + MS);
        assertEquals(ArpTable.STALE, table.stateOf(IP, LIFETIME + MS));
        table.poll(2 * LIFETIME - 1, actions);
        assertEquals(1, table.size());
        table.poll(2 * LIFETIME, actions);
        assertEquals(0, table.size(), "STALE and unused for a lifetime: gone");
        assertEquals(-1, table.lookup(IP, 2 * LIFETIME));
        assertTrue(actions.probes.isEmpty() && actions.broadcasts.isEmpty(), "an unused entry costs no traffic");
    }

    @Test
    void arpFromTheNeighbourRefreshesAStaleEntry() {
        table.learn(IP, MAC, 0);
        run(LIFETIME, LIFETIME);
        long other = 0x02_00_00_00_00_99L;
        table.update(IP, other, LIFETIME + S);
        assertEquals(ArpTable.REACHABLE, table.stateOf(IP, LIFETIME + S));
        assertEquals(other, table.resolve(IP, LIFETIME + S), "the merge updates the MAC, as before");
    }

    @Test
    void shortLifetimeShortensTheDelay() {
        ArpTable shortLived = new ArpTable(16, S, 100 * MS, 3);
        assertEquals(S, shortLived.delayNs());
    }

    @Test
    void tableStaysBoundedAndStaleEntriesDoNotGrowIt() {
        for (int i = 0; i < 100; i++) {
            table.learn(IP + i, MAC + i, 0);
        }
        int full = table.size();
        assertTrue(full <= table.capacity() * 3 / 4 + 1, "bounded: " + full);
        run(LIFETIME, LIFETIME);
        for (int i = 0; i < 100; i++) {
            table.resolve(IP + i, LIFETIME + 1);
        }
        assertEquals(full, table.size(), "validation makes no new entries");
        long t = LIFETIME + 1 + table.delayNs();
        run(t, t + 3 * RETRY + 3 * RETRY + MS);
        assertEquals(3 * full, actions.probes.size());
        assertEquals(full, actions.failures.size());
        assertEquals(0, table.size());
    }

    @Test
    void probeChainsSurviveRemovalOfStaleEntries() {
        // Colliding entries in different states; removing some must leave the rest findable (backward shift).
        for (int i = 0; i < 12; i++) {
            table.learn(IP + i * 16, MAC + i, i % 2 == 0 ? 0 : LIFETIME);
        }
        // Two scans: an entry shifted back into a slot already scanned is seen by the next one.
        run(2 * LIFETIME, 2 * LIFETIME + MS);
        for (int i = 0; i < 12; i++) {
            long expected = i % 2 == 0 ? -1 : MAC + i;
            assertEquals(expected, table.lookup(IP + i * 16, 2 * LIFETIME), "entry " + i);
        }
    }

    /** Learns made-up senders until the table refuses one (RFC 826 merge of requests for us); how many it took. */
    private int fillByLearning(int first, long nowNs) {
        int n = 0;
        while (table.learn(first + n, MAC + n, nowNs + n) >= 0) {
            n++;
        }
        return n;
    }

    /** Resolves {@code address} and answers it as the neighbour would (a reply to our request: confirmed). */
    private void resolveAndConfirm(int address, long nowNs) {
        assertTrue(table.startResolution(address, nowNs) >= 0, "room to resolve " + address);
        assertTrue(table.update(address, MAC + address, nowNs, true) >= 0);
    }

    @Test
    void aResolutionOnATableFullOfLearnedSendersEvictsTheOldestOne_rfc826() {
        int learned = fillByLearning(IP + 100, 0);
        assertEquals(learned, table.size());
        int fresh = IP + 50;
        assertEquals(-1, table.learn(fresh, MAC, 10), "learning never evicts");
        int slot = table.startResolution(fresh, 10);
        assertTrue(slot >= 0, "a neighbour we must reach finds room");
        assertEquals(ArpTable.INCOMPLETE, table.state(slot));
        assertEquals(1, table.evictions());
        assertEquals(learned, table.size());
        assertEquals(ArpTable.FREE, table.stateOf(IP + 100, 10), "the sender learned first went");
        for (int i = 1; i < learned; i++) {
            assertEquals(ArpTable.REACHABLE, table.stateOf(IP + 100 + i, 10), "the others stay: " + i);
        }
        assertEquals(slot, table.find(fresh), "findable after the probe chain moved");
    }

    @Test
    void sendingToASpoofedSenderAndRefreshingItUnsolicitedDoesNotProtectIt() {
        // The review's bypass: learned from a request, sent to (our RST to its segment), refreshed by more requests.
        int learned = fillByLearning(IP + 100, 0);
        for (int i = 0; i < learned; i++) {
            assertTrue(table.resolve(IP + 100 + i, S) >= 0);
            table.update(IP + 100 + i, MAC + i, 2 * S); // unsolicited: refreshes, confirms nothing
        }
        assertTrue(table.startResolution(IP + 50, 3 * S) >= 0, "unconfirmed entries still make room");
        assertEquals(1, table.evictions());
    }

    @Test
    void neighboursConfirmedByARecentReplyAreNotEvictedButAreOnceTheConfirmationIsOld() {
        int confirmed = 0;
        while (table.size() <= table.capacity() * 3 / 4) {
            resolveAndConfirm(IP + 100 + confirmed, confirmed);
            confirmed++;
        }
        assertEquals(-1, table.startResolution(IP + 50, 2 * S), "every entry confirmed within the lifetime");
        assertEquals(0, table.evictions());
        // Unsolicited packets keep the lifetime going but not the confirmation: once the lifetime has passed since
        // its reply, the entry confirmed longest ago goes, though it is REACHABLE.
        for (int i = 0; i < confirmed; i++) {
            table.update(IP + 100 + i, MAC + i, LIFETIME - S);
        }
        long later = LIFETIME; // entry 0 was confirmed at 0, entry 1 at 1 ns: only entry 0 is old
        int slot = table.startResolution(IP + 50, later);
        assertTrue(slot >= 0);
        assertEquals(ArpTable.FREE, table.stateOf(IP + 100, later), "the entry confirmed longest ago went");
        assertEquals(ArpTable.REACHABLE, table.stateOf(IP + 101, later), "the others stay");
        assertEquals(-1, table.startResolution(IP + 51, later), "and no other is old yet");
    }

    @Test
    void resolutionsInProgressAreNeverEvictedAndHoldAtMostHalfTheTable() {
        int learned = fillByLearning(IP + 100, 0);
        int made = 0;
        while (table.startResolution(IP + 300 + made, S) >= 0) {
            made++;
        }
        assertEquals(table.capacity() * 3 / 8, made, "resolutions in progress stop at half of the usable table");
        for (int i = 0; i < made; i++) {
            assertEquals(ArpTable.INCOMPLETE, table.stateOf(IP + 300 + i, S), "resolution " + i + " kept");
        }
        assertEquals(made, table.evictions(), "each made room by evicting a learned sender");
        assertEquals(learned - made, countReachable(IP + 100, learned, S), "the other senders stay");
    }

    private int countReachable(int first, int n, long nowNs) {
        int c = 0;
        for (int i = 0; i < n; i++) {
            c += table.stateOf(first + i, nowNs) == ArpTable.REACHABLE ? 1 : 0;
        }
        return c;
    }

    @Test
    void aFailedResolutionsCallbackMayStartAnotherOnAFullTableWithoutMovingThePollsSlots() {
        // Colliding addresses, so that a removal shifts entries: the failure's callback resolves another address
        // on a full table (an application connecting elsewhere as its connect fails); nothing may be lost.
        ArpTable t = new ArpTable(16, LIFETIME, RETRY, 1);
        List<Long> dropped = new ArrayList<>();
        ArpTable.Actions reentrant = new ArpTable.Actions() {
            int next = IP + 500;

            @Override
            public void sendRequest(int address) {
            }

            @Override
            public void sendProbe(int address, long hardware) {
            }

            @Override
            public void resolutionFailed(int address, long[] frames, int count) {
                for (int i = 0; i < count; i++) {
                    dropped.add(frames[i]);
                }
                int slot = t.startResolution(next++, 2 * RETRY);
                if (slot >= 0) {
                    t.park(slot, 0xF000L + next);
                }
            }
        };
        for (int i = 0; t.size() <= 11; i++) {
            int slot = t.startResolution(IP + 16 * i, 0); // same low bits: one probe chain
            assertTrue(t.park(slot, 0x100L + i));
        }
        while (t.size() <= t.capacity() * 3 / 4) {
            t.learn(IP + 1000 + t.size(), MAC, 0);
        }
        int before = t.size();
        t.poll(0, reentrant); // first requests
        t.poll(2 * RETRY, reentrant); // every resolution fails
        assertEquals(12, dropped.size(), "each parked frame reported once: " + dropped);
        assertEquals(12, new java.util.HashSet<>(dropped).size());
        int occupied = 0;
        for (int i = 0; i < t.capacity(); i++) {
            occupied += t.state(i) != ArpTable.FREE ? 1 : 0;
        }
        assertEquals(occupied, t.size(), "size matches the slots in use");
        assertTrue(t.size() <= before);
    }

    @Test
    void framesParkedOnAllEntriesStopAtTheTablesLimitAndComeBackWithTheirEntries() {
        ArpTable t = new ArpTable(1024, LIFETIME, RETRY, 3);
        int parked = 0;
        int[] slots = new int[200];
        for (int e = 0; e < slots.length; e++) {
            slots[e] = t.startResolution(IP + e, 0);
            for (int i = 0; i < ArpTable.PENDING_PER_ENTRY; i++) {
                parked += t.park(slots[e], 0x1000L + parked) ? 1 : 0;
            }
        }
        assertEquals(ArpTable.MAX_PARKED, parked, "a flood of resolutions pins at most MAX_PARKED mbufs");
        assertEquals(ArpTable.MAX_PARKED, t.parkedTotal());
        int n = t.parkedCount(slots[0]);
        t.clearParked(slots[0]);
        assertEquals(ArpTable.MAX_PARKED - n, t.parkedTotal());
        assertTrue(t.park(slots[199], 0x9999L), "room again");
        Recorder r = new Recorder();
        for (long at = 0; at <= 4 * RETRY; at += RETRY) {
            t.poll(at, r); // three requests unanswered: every resolution fails, its frames handed over
        }
        assertEquals(0, t.parkedTotal());
        assertEquals(ArpTable.MAX_PARKED - n + 1, r.failedFrames.size());
    }
}
