package io.fastpath.stack.ip;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.stack.counters.DropReason;
import io.fastpath.stack.counters.StackCounters;
import io.fastpath.stack.wire.Ipv4Address;
import io.fastpath.stack.wire.Ipv4Packet;
import io.fastpath.stack.wire.WireError;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link Ipv4Reassembly} without a device: fragments are built in {@link NativePackets} buffers (a 14-byte link
 * header, then IPv4), fed in some order, and the whole datagram compared byte for byte with what was cut up.
 * Every test ends with every buffer back ({@link #leakCheck}).
 */
class Ipv4ReassemblyTest {
    private static final int LINK = 14;
    private static final int PEER = Ipv4Address.parse("10.0.0.1");
    private static final int US = Ipv4Address.parse("10.0.0.2");
    private static final long SECOND = 1_000_000_000L;
    private static final long TIMEOUT = 30 * SECOND;

    @TempDir
    Path dir;
    private StackCounters counters;
    private NativePackets packets;
    private Ipv4Reassembly reassembly;
    private final UnsafeBuffer view = new UnsafeBuffer(0, 0);
    private final Ipv4Packet ip = new Ipv4Packet();
    private long now = 5 * SECOND;

    @BeforeEach
    void rig() {
        counters = new StackCounters(dir.resolve("r.counters"), "r");
        packets = new NativePackets(600, US, 1500, counters, null);
        reassembly = new Ipv4Reassembly(packets, counters, 8, 64, 256, TIMEOUT, NativePackets.DATA_ROOM);
    }

    @AfterEach
    void leakCheck() {
        reassembly.close();
        assertEquals(0, packets.inUse(), "every buffer back");
        packets.close();
        counters.close();
    }

    private void limits(int datagrams, int fragments, int buffers, int bufferBytes) {
        reassembly = new Ipv4Reassembly(packets, counters, datagrams, fragments, buffers, TIMEOUT, bufferBytes);
    }

    // ------------------------------------------------------------------------------------------ building

    /** A datagram's payload: bytes that differ from position to position (and from datagram to datagram). */
    private static byte[] payload(int length, int seed) {
        byte[] b = new byte[length];
        for (int i = 0; i < length; i++) {
            b[i] = (byte) (i * 7 + seed + (i >>> 8));
        }
        return b;
    }

    /** One fragment of {@code whole}: payload [start, end), MF unless it ends the datagram. */
    private long fragment(int id, byte[] whole, int start, int end) {
        return fragment(PEER, id, whole, start, end, end < whole.length);
    }

    private long fragment(int source, int id, byte[] whole, int start, int end, boolean more) {
        long b = packets.allocate();
        assertNotEquals(0, b, "test pool exhausted");
        view.wrap(packets.dataAddress(b), LINK + 20 + end - start);
        for (int i = 0; i < LINK; i++) {
            view.putByte(i, (byte) (0xE0 + i)); // a recognisable link header
        }
        ip.wrap(view, LINK, 20 + end - start);
        ip.writeHeader(64, Ipv4Packet.PROTOCOL_TCP, source, US, end - start, id);
        ip.flagsAndFragmentOffset((more ? Ipv4Packet.FLAG_MF : 0) | (start >>> 3)).fillHeaderChecksum();
        view.putBytes(LINK + 20, whole, start, end - start);
        return b;
    }

    /** Fragments of {@code size} payload bytes (a multiple of 8) covering the datagram, in order. */
    private List<Long> cut(int id, byte[] whole, int size) {
        List<Long> parts = new ArrayList<>();
        for (int at = 0; at < whole.length; at += size) {
            parts.add(fragment(id, whole, at, Math.min(whole.length, at + size)));
        }
        return parts;
    }

    /** Feeds fragments; returns the whole datagram's buffer (from the last call that returned one) or 0. */
    private long feed(List<Long> fragments) {
        long whole = 0;
        for (long f : fragments) {
            long w = reassembly.input(f, LINK, now);
            if (w != 0) {
                assertEquals(0, whole, "a datagram completed twice");
                whole = w;
            }
        }
        return whole;
    }

    /** Checks the whole datagram against {@code expected} and frees it. */
    private void assertWhole(long whole, int id, byte[] expected) {
        assertNotEquals(0, whole, "datagram not reassembled");
        view.wrap(packets.dataAddress(whole), LINK + 20 + expected.length);
        for (int i = 0; i < LINK; i++) {
            assertEquals((byte) (0xE0 + i), view.getByte(i), "link header copied");
        }
        ip.wrap(view, LINK, 20 + expected.length);
        assertEquals(WireError.OK, ip.check(), "a whole, unfragmented datagram with a valid checksum: " + ip);
        assertEquals(20 + expected.length, ip.totalLength());
        assertEquals(id, ip.identification());
        assertEquals(PEER, ip.source());
        assertEquals(Ipv4Packet.PROTOCOL_TCP, ip.protocol());
        byte[] got = new byte[expected.length];
        view.getBytes(LINK + 20, got);
        assertArrayEquals(expected, got);
        packets.free(whole);
    }

    private long dropped(DropReason reason) {
        return counters.drop(reason).get();
    }

    // ------------------------------------------------------------------------------------------ orders

    @Test
    void fragmentsInOrderMakeTheDatagram_rfc791_s3_2() {
        byte[] d = payload(1000, 1);
        long whole = feed(cut(7, d, 256));
        assertWhole(whole, 7, d);
        assertEquals(1, counters.ipReassembled.get());
        assertEquals(4, counters.ipFragmentsReceived.get());
        assertEquals(0, reassembly.buffersHeld());
        assertEquals(0, reassembly.datagramsInProgress());
        assertEquals(0, counters.totalDrops());
    }

    @Test
    void fragmentsInReverseOrderMakeTheDatagram_rfc791_s3_2() {
        byte[] d = payload(1480, 2);
        List<Long> parts = cut(8, d, 576 - 20 - 4);
        Collections.reverse(parts);
        assertWhole(feed(parts), 8, d);
    }

    @Test
    void eightByteFragmentsOfAMaximalDatagramInOneBuffer_rfc791_s3_2() {
        byte[] d = payload(NativePackets.DATA_ROOM - LINK - 20, 3);
        limits(8, 512, 512, NativePackets.DATA_ROOM);
        // 2014 bytes in 8-byte pieces: 252 fragments.
        List<Long> parts = new ArrayList<>();
        for (int at = 0; at < d.length; at += 8) {
            parts.add(fragment(9, d, at, Math.min(d.length, at + 8)));
            if (parts.size() == 100) {
                assertEquals(0, feed(parts));
                parts.clear();
            }
        }
        assertWhole(feed(parts), 9, d);
    }

    /** Many random datagrams, fragment sizes and orders, with exact duplicates mixed in (seeded: repeatable). */
    @Test
    void anyOrderWithDuplicatesMakesTheSameDatagram_rfc791_s3_2() {
        limits(8, 256, 512, NativePackets.DATA_ROOM); // 8-byte pieces of 1,908 bytes: 239 fragments
        Random random = new Random(0x5EED);
        int duplicates = 0;
        for (int round = 0; round < 2000; round++) {
            byte[] d = payload(9 + random.nextInt(1900), round);
            int size = 8 * (1 + random.nextInt((d.length - 1) / 8)); // two pieces at least
            int[][] pieces = new int[(d.length + size - 1) / size][];
            for (int i = 0, at = 0; at < d.length; i++, at += size) {
                pieces[i] = new int[] {at, Math.min(d.length, at + size)};
            }
            List<int[]> order = new ArrayList<>(List.of(pieces));
            Collections.shuffle(order, random);
            int id = round & 0xFFFF;
            long whole = 0;
            for (int i = 0; i < order.size(); i++) {
                int[] p = order.get(i);
                long w = reassembly.input(fragment(id, d, p[0], p[1]), LINK, now);
                if (i < order.size() - 1 && random.nextInt(4) == 0) {
                    // A repeat of a fragment already in (before the datagram completes): dropped alone.
                    int[] again = order.get(random.nextInt(i + 1));
                    assertEquals(0, reassembly.input(fragment(id, d, again[0], again[1]), LINK, now));
                    duplicates++;
                }
                if (w != 0) {
                    assertEquals(order.size() - 1, i, "complete only with the last piece");
                    whole = w;
                }
            }
            assertWhole(whole, id, d);
            assertEquals(0, reassembly.buffersHeld());
            now += 1000;
        }
        assertEquals(2000, counters.ipReassembled.get());
        assertEquals(duplicates, dropped(DropReason.IP_FRAGMENT_DUPLICATE));
        assertEquals(duplicates, counters.totalDrops());
    }

    @Test
    void interleavedDatagramsAreKeptApartBySourceAndIdentification_rfc791_s3_2() {
        byte[] a = payload(300, 4);
        byte[] b = payload(300, 5);
        int other = Ipv4Address.parse("10.0.0.9");
        long a1 = fragment(PEER, 1, a, 0, 160, true);
        long b1 = fragment(other, 1, b, 0, 160, true); // same id, another source
        long c1 = fragment(PEER, 2, b, 0, 160, true); // same source, another id
        assertEquals(0, feed(List.of(a1, b1, c1)));
        assertEquals(3, reassembly.datagramsInProgress());
        assertWhole(reassembly.input(fragment(PEER, 1, a, 160, 300, false), LINK, now), 1, a);
        long wb = reassembly.input(fragment(other, 1, b, 160, 300, false), LINK, now);
        assertNotEquals(0, wb);
        packets.free(wb);
        assertWhole(reassembly.input(fragment(PEER, 2, b, 160, 300, false), LINK, now), 2, b);
    }

    // ------------------------------------------------------------------------------------------ hostile input

    @Test
    void duplicateFragmentIsDroppedAloneAndTheDatagramCompletes_rfc5722_erratum3089() {
        byte[] d = payload(48, 6);
        assertEquals(0, reassembly.input(fragment(3, d, 0, 16), LINK, now));
        assertEquals(0, reassembly.input(fragment(3, d, 0, 16), LINK, now));
        assertEquals(0, reassembly.input(fragment(3, d, 8, 16), LINK, now)); // within one held
        assertEquals(2, dropped(DropReason.IP_FRAGMENT_DUPLICATE));
        assertEquals(1, reassembly.buffersHeld());
        assertEquals(0, reassembly.input(fragment(3, d, 16, 32), LINK, now));
        assertWhole(reassembly.input(fragment(3, d, 32, 48), LINK, now), 3, d);
    }

    @Test
    void overlappingFragmentsDropTheWholeDatagram_rfc8900_s3_rfc5722_s4() {
        byte[] d = payload(64, 7);
        assertEquals(0, reassembly.input(fragment(4, d, 0, 24), LINK, now));
        assertEquals(0, reassembly.input(fragment(4, d, 40, 64), LINK, now));
        // [16, 32) overlaps [0, 24) without lying within it: the datagram goes, held fragments and this one.
        assertEquals(0, reassembly.input(fragment(4, d, 16, 32), LINK, now));
        assertEquals(1, counters.ipReassemblyOverlaps.get());
        assertEquals(3, dropped(DropReason.IP_FRAGMENT_OVERLAP));
        assertEquals(0, reassembly.buffersHeld());
        assertEquals(0, reassembly.datagramsInProgress());
        // What comes after starts afresh and never completes from the rest alone (the first part is gone).
        assertEquals(0, reassembly.input(fragment(4, d, 24, 40), LINK, now));
        assertEquals(0, counters.ipReassembled.get());
    }

    @Test
    void overlapCoveringAHeldFragmentDropsTheDatagram_rfc8900_s3() {
        byte[] d = payload(64, 8);
        assertEquals(0, reassembly.input(fragment(5, d, 8, 16), LINK, now));
        assertEquals(0, reassembly.input(fragment(5, d, 0, 32), LINK, now)); // a superset of a held one
        assertEquals(1, counters.ipReassemblyOverlaps.get());
        assertEquals(0, reassembly.buffersHeld());
    }

    @Test
    void malformedFragmentsAreDropped_rfc791_s3_2() {
        byte[] d = payload(100, 9);
        // Not a multiple of 8 and not the last.
        assertEquals(0, reassembly.input(fragment(PEER, 6, d, 0, 12, true), LINK, now));
        // Two last fragments with different ends: the datagram goes.
        assertEquals(0, reassembly.input(fragment(PEER, 7, d, 0, 16, true), LINK, now));
        assertEquals(0, reassembly.input(fragment(PEER, 7, d, 24, 40, false), LINK, now));
        assertEquals(0, reassembly.input(fragment(PEER, 7, d, 40, 48, false), LINK, now));
        // Data past the end a last fragment set.
        assertEquals(0, reassembly.input(fragment(PEER, 8, d, 16, 40, false), LINK, now));
        assertEquals(0, reassembly.input(fragment(PEER, 8, d, 40, 48, true), LINK, now));
        // An empty fragment.
        assertEquals(0, reassembly.input(fragment(PEER, 9, d, 40, 40, true), LINK, now));
        // Past 65,535 octets: offset 8184 * 8 + 100.
        long far = fragment(PEER, 10, d, 0, 100, false);
        view.wrap(packets.dataAddress(far), LINK + 120);
        ip.wrap(view, LINK, 120).flagsAndFragmentOffset(8184).fillHeaderChecksum();
        assertEquals(0, reassembly.input(far, LINK, now));
        assertEquals(1 + 3 + 2 + 1 + 1, dropped(DropReason.IP_FRAGMENT_MALFORMED));
        assertEquals(0, reassembly.buffersHeld());
        assertEquals(0, counters.ipReassembled.get());
    }

    @Test
    void incompleteDatagramTimesOutAndItsBuffersAreFreed_rfc1122_s3_3_2() {
        byte[] d = payload(600, 10);
        List<Long> parts = cut(11, d, 200);
        packets.free(parts.remove(parts.size() - 1)); // the last never comes
        assertEquals(0, feed(parts));
        assertEquals(2, reassembly.buffersHeld());
        assertEquals(2 + 0, packets.inUse());
        assertEquals(0, reassembly.poll(now + TIMEOUT - 1));
        assertEquals(2, reassembly.buffersHeld());
        assertEquals(1, reassembly.poll(now + TIMEOUT));
        assertEquals(0, reassembly.buffersHeld());
        assertEquals(0, packets.inUse());
        assertEquals(1, counters.ipReassemblyTimeouts.get());
        assertEquals(2, dropped(DropReason.IP_FRAGMENT_TIMEOUT));
        assertEquals(0, counters.ipReassemblyHeld.get());
        // The late last fragment alone starts a new datagram, which never completes either.
        assertEquals(0, reassembly.input(fragment(11, d, 400, 600), LINK, now + TIMEOUT));
        assertEquals(0, reassembly.poll(now + TIMEOUT + 1));
        assertEquals(1, reassembly.poll(now + 2 * TIMEOUT));
    }

    @Test
    void aTimedOutDatagramsFirstFragmentGoesToTheListenerForIcmpTimeExceeded_rfc1122_s3_3_2() {
        List<long[]> heard = new ArrayList<>();
        reassembly.onTimedOut((first, ipOffset) -> heard.add(new long[] {first, ipOffset}));
        byte[] d = payload(600, 22);
        long first = fragment(30, d, 0, 200);
        assertEquals(0, feed(List.of(first, fragment(30, d, 200, 400))));
        // No first fragment: nobody to tell (RFC 1122 §3.3.2 asks for the ICMP only once fragment zero came).
        assertEquals(0, reassembly.input(fragment(31, d, 200, 400), LINK, now));
        assertEquals(2, reassembly.poll(now + TIMEOUT));
        assertEquals(1, heard.size());
        assertEquals(first, heard.get(0)[0]);
        assertEquals(LINK, heard.get(0)[1]);
        assertEquals(2, dropped(DropReason.IP_FRAGMENT_TIMEOUT), "the others freed and counted");
        assertEquals(1, packets.inUse(), "the first fragment is the listener's now");
        view.wrap(packets.dataAddress(first), LINK + 220);
        ip.wrap(view, LINK, 220);
        assertEquals(30, ip.identification());
        packets.free(first);
    }

    @Test
    void eachDatagramTimesOutOnItsOwnDeadline_rfc1122_s3_3_2() {
        byte[] d = payload(32, 11);
        assertEquals(0, reassembly.input(fragment(1, d, 0, 16), LINK, now));
        assertEquals(0, reassembly.input(fragment(2, d, 0, 16), LINK, now + 10 * SECOND));
        assertEquals(1, reassembly.poll(now + TIMEOUT));
        assertEquals(1, reassembly.datagramsInProgress());
        assertEquals(0, reassembly.poll(now + TIMEOUT + 9 * SECOND));
        // The younger one still completes before its own deadline.
        assertWhole(reassembly.input(fragment(2, d, 16, 32), LINK, now + TIMEOUT + 9 * SECOND), 2, d);
        assertEquals(0, reassembly.poll(now + 3 * TIMEOUT));
    }

    @Test
    void aFullTableEvictsTheOldestIncompleteDatagram() {
        limits(4, 64, 256, NativePackets.DATA_ROOM);
        byte[] d = payload(32, 12);
        for (int id = 1; id <= 4; id++) {
            assertEquals(0, reassembly.input(fragment(id, d, 0, 16), LINK, now + id));
        }
        assertEquals(0, reassembly.input(fragment(5, d, 0, 16), LINK, now + 5)); // id 1 is the oldest
        assertEquals(1, counters.ipReassemblyEvicted.get());
        assertEquals(1, dropped(DropReason.IP_FRAGMENT_EVICTED));
        assertEquals(4, reassembly.datagramsInProgress());
        // id 1's second half starts a new entry (evicting id 2); ids 3, 4, 5 still complete.
        assertEquals(0, reassembly.input(fragment(1, d, 16, 32), LINK, now + 6));
        assertEquals(2, counters.ipReassemblyEvicted.get());
        for (int id = 3; id <= 5; id++) {
            assertWhole(reassembly.input(fragment(id, d, 16, 32), LINK, now + 7), id, d);
        }
    }

    @Test
    void aFloodOfDistinctIdentificationsNeverHoldsMoreThanTheLimitNorLocksOthersOut() {
        limits(64, 64, 100, NativePackets.DATA_ROOM);
        byte[] junk = payload(2000, 13);
        int max = 0;
        for (int i = 0; i < 5000; i++) {
            // An attacker's first fragments, each of a datagram that never completes, 3 of 4 of them 2 pieces.
            int id = i & 0xFFFF;
            assertEquals(0, reassembly.input(fragment(PEER, id, junk, 0, 64, true), LINK, now + i));
            if ((i & 3) != 0) {
                assertEquals(0, reassembly.input(fragment(PEER, id, junk, 128, 192, true), LINK, now + i));
            }
            max = Math.max(max, reassembly.buffersHeld());
            assertTrue(packets.inUse() <= 100, "buffers held " + packets.inUse());
        }
        assertEquals(100, max);
        assertTrue(counters.ipReassemblyEvicted.get() > 4900, "evictions " + counters.ipReassemblyEvicted.get());
        // A legitimate datagram whose fragments arrive together is reassembled in the middle of the flood.
        byte[] d = payload(1400, 14);
        int other = Ipv4Address.parse("10.0.0.7");
        long first = reassembly.input(fragment(other, 77, d, 0, 704, true), LINK, now + 6000);
        assertEquals(0, first);
        assertEquals(0, reassembly.input(fragment(PEER, 40000, junk, 0, 64, true), LINK, now + 6001));
        long whole = reassembly.input(fragment(other, 77, d, 704, 1400, false), LINK, now + 6002);
        assertNotEquals(0, whole);
        view.wrap(packets.dataAddress(whole), LINK + 1420);
        byte[] got = new byte[1400];
        view.getBytes(LINK + 20, got);
        assertArrayEquals(d, got);
        packets.free(whole);
        // Everything the flood left times out.
        reassembly.poll(now + 6002 + TIMEOUT);
        assertEquals(0, reassembly.buffersHeld());
    }

    /**
     * One sender starting new datagrams as fast as it can evicts only its own once it holds an eighth of the table:
     * another sender's datagram whose pieces come far apart still completes (review finding: the oldest of all
     * went, so such a flood killed every slow sender's datagrams).
     */
    @Test
    void oneSourceFloodingNewDatagramsEvictsOnlyItsOwn() {
        limits(64, 64, 1024, NativePackets.DATA_ROOM);
        byte[] d = payload(1400, 17);
        int other = Ipv4Address.parse("10.0.0.7");
        assertEquals(0, reassembly.input(fragment(other, 77, d, 0, 704, true), LINK, now));
        byte[] junk = payload(2000, 18);
        for (int i = 0; i < 5000; i++) {
            assertEquals(0, reassembly.input(fragment(PEER, i & 0xFFFF, junk, 0, 64, true), LINK, now + 1 + i));
        }
        assertTrue(counters.ipReassemblyEvicted.get() > 4900, "evictions " + counters.ipReassemblyEvicted.get());
        long whole = reassembly.input(fragment(other, 77, d, 704, 1400, false), LINK, now + 6000);
        assertNotEquals(0, whole, "the slow sender's datagram survived the flood");
        view.wrap(packets.dataAddress(whole), LINK + 1420);
        byte[] got = new byte[1400];
        view.getBytes(LINK + 20, got);
        assertArrayEquals(d, got);
        packets.free(whole);
        reassembly.poll(now + 6000 + TIMEOUT);
        assertEquals(0, reassembly.buffersHeld());
    }

    @Test
    void aDatagramTooBigForOneBufferIsDroppedAsSoonAsThatIsKnown() {
        limits(8, 64, 256, 1514);
        byte[] d = payload(1600, 15); // 14 + 20 + 1600 > 1514
        assertEquals(0, reassembly.input(fragment(20, d, 0, 800), LINK, now));
        assertEquals(1, reassembly.buffersHeld());
        assertEquals(0, reassembly.input(fragment(20, d, 800, 1600), LINK, now));
        assertEquals(1, counters.ipReassemblyTooBig.get());
        assertEquals(2, dropped(DropReason.IP_FRAGMENT_TOO_BIG));
        assertEquals(0, reassembly.buffersHeld());
        // One that fits exactly: 14 + 20 + 1480.
        byte[] fits = payload(1480, 16);
        assertWhole(feed(cut(21, fits, 744)), 21, fits);
    }

    @Test
    void tooManyFragmentsDropTheDatagram() {
        limits(8, 4, 256, NativePackets.DATA_ROOM);
        byte[] d = payload(80, 17);
        List<Long> parts = cut(22, d, 16); // five fragments
        assertEquals(0, feed(parts));
        assertEquals(1, counters.ipReassemblyTooBig.get());
        assertEquals(5, dropped(DropReason.IP_FRAGMENT_TOO_BIG));
        assertEquals(0, reassembly.buffersHeld());
    }

    @Test
    void noBufferForTheWholeDatagramDropsItCounted() {
        packets.close();
        packets = new NativePackets(2, US, 1500, counters, null);
        reassembly = new Ipv4Reassembly(packets, counters, 8, 64, 256, TIMEOUT, NativePackets.DATA_ROOM);
        byte[] d = payload(32, 18);
        assertEquals(0, feed(cut(23, d, 16)));
        assertEquals(2, dropped(DropReason.IP_FRAGMENT_NO_BUFFER));
        assertEquals(1, counters.ipReassemblyFailed.get());
        assertEquals(0, packets.inUse());
    }

    @Test
    void firstFragmentsIpOptionsAreKept_rfc791_s3_2() {
        byte[] d = payload(40, 19);
        long first = packets.allocate();
        view.wrap(packets.dataAddress(first), LINK + 24 + 16);
        ip.wrap(view, LINK, 24 + 16);
        ip.writeHeader(64, Ipv4Packet.PROTOCOL_TCP, PEER, US, 16, 24).ihl(6);
        view.putInt(LINK + 20, 0x01010100); // NOP, NOP, NOP, EOL
        ip.totalLength(24 + 16).flagsAndFragmentOffset(Ipv4Packet.FLAG_MF).fillHeaderChecksum();
        view.putBytes(LINK + 24, d, 0, 16);
        assertEquals(0, reassembly.input(first, LINK, now));
        long whole = reassembly.input(fragment(24, d, 16, 40), LINK, now);
        assertNotEquals(0, whole);
        view.wrap(packets.dataAddress(whole), LINK + 24 + 40);
        ip.wrap(view, LINK, 64);
        assertEquals(WireError.OK, ip.check());
        assertEquals(24, ip.headerLength());
        assertEquals(64, ip.totalLength());
        assertEquals(0x01010100, view.getInt(LINK + 20));
        byte[] got = new byte[40];
        view.getBytes(LINK + 24, got);
        assertArrayEquals(d, got);
        packets.free(whole);
    }

    @Test
    void pollIsFreeWhileNothingIsInProgress() {
        assertEquals(0, reassembly.poll(Long.MAX_VALUE / 2));
        byte[] d = payload(32, 20);
        assertWhole(feed(cut(25, d, 16)), 25, d);
        assertEquals(0, reassembly.poll(now + 2 * TIMEOUT));
        assertEquals(0, counters.ipReassemblyTimeouts.get());
    }

    // ------------------------------------------------------------------------------------------ allocation

    /** Steady state: fragments in, the whole datagram out and freed, over and over: no allocation (as ZeroAllocationTest). */
    @Test
    void reassemblyAllocatesNothing() {
        final com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        byte[] d = payload(1400, 21);
        long[] parts = new long[3];
        int rounds = 20_000;
        long sink = 0;
        for (int pass = 0; pass < 2; pass++) {
            long before = threads.getCurrentThreadAllocatedBytes();
            for (int r = 0; r < rounds; r++) {
                int id = r & 0xFFFF;
                parts[0] = fragmentFast(id, d, 0, 512);
                parts[1] = fragmentFast(id, d, 1024, 1400);
                parts[2] = fragmentFast(id, d, 512, 1024);
                long whole = 0;
                for (long p : parts) {
                    whole |= reassembly.input(p, LINK, now);
                }
                sink += packets.dataAddress(whole) & 1;
                packets.free(whole);
                reassembly.poll(now);
                now += 1000;
            }
            long allocated = threads.getCurrentThreadAllocatedBytes() - before;
            if (pass == 1) {
                assertTrue(allocated < rounds, allocated + " bytes allocated in " + rounds + " rounds (" + sink + ")");
            }
        }
        assertEquals(2L * rounds, counters.ipReassembled.get());
    }

    /** As {@link #fragment}, without assertions that may box. */
    private long fragmentFast(int id, byte[] whole, int start, int end) {
        long b = packets.allocate();
        view.wrap(packets.dataAddress(b), LINK + 20 + end - start);
        ip.wrap(view, LINK, 20 + end - start);
        ip.writeHeader(64, Ipv4Packet.PROTOCOL_TCP, PEER, US, end - start, id);
        ip.flagsAndFragmentOffset((end < whole.length ? Ipv4Packet.FLAG_MF : 0) | (start >>> 3)).fillHeaderChecksum();
        view.putBytes(LINK + 20, whole, start, end - start);
        return b;
    }
}
