package io.fastpath.stack.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.Mbuf;
import io.fastpath.dpdk.MbufArray;
import io.fastpath.dpdk.Native;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.Port;
import io.fastpath.dpdk.RingPair;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The fault injector over a real ring pair: frames carry a sequence number (bytes 14..17) and a pattern
 * derived from it, so every frame that arrives can be checked against what was sent. Transmit faults are
 * injected on A and seen raw on B; receive faults are sent raw from A and injected on B.
 */
class FaultInjectorTest {
    private static final int BURST = 32;
    private static final int SEQ_OFFSET = 14;
    private static PktmbufPool pool;
    private static int round;

    private RingPair pair;
    private int baseline;
    private final List<FaultInjector> injectors = new ArrayList<>();
    /** Injectors a test closed itself (their ports are closed: no draining them). */
    private final List<FaultInjector> closedInjectors = new ArrayList<>();
    private final MbufArray burst = new MbufArray(64);

    @BeforeAll
    static void createPool() {
        pool = PktmbufPool.create("faultinj", 8191, 0, PktmbufPool.DEFAULT_DATA_ROOM);
    }

    @AfterAll
    static void freePool() {
        pool.close();
    }

    @BeforeEach
    void up() {
        baseline = pool.inUseCount();
        pair = ring(1024);
    }

    private static RingPair ring(int size) {
        return RingPair.create("fi" + (round++), size, pool, pool, EthDevPort.Config.defaults());
    }

    @AfterEach
    void down() {
        boolean aClosed = false;
        boolean bClosed = false;
        for (FaultInjector f : injectors) {
            aClosed |= f.portId() == pair.a().portId() && closed(f);
            bClosed |= f.portId() == pair.b().portId() && closed(f);
        }
        // The ring PMD does not free what is left in its rings: drain them, then free what the injectors hold.
        if (!aClosed) {
            drain(pair.a());
        }
        if (!bClosed) {
            drain(pair.b());
        }
        for (FaultInjector f : injectors) {
            f.close();
        }
        pair.close();
        assertEquals(baseline, pool.inUseCount(), "every mbuf back in the pool");
    }

    private boolean closed(FaultInjector f) {
        return closedInjectors.contains(f);
    }

    private FaultInjector track(FaultInjector f) {
        injectors.add(f);
        return f;
    }

    private static void drain(Port port) {
        MbufArray b = new MbufArray(BURST);
        for (int n; (n = port.receive(b, BURST)) > 0; ) {
            b.freeAll(n);
        }
    }

    // ------------------------------------------------------------------------------------------- helpers

    /** The frame for {@code seq}: 60..259 bytes, sequence number at 14, a seq-derived pattern after it. */
    static byte[] frame(int seq) {
        byte[] f = new byte[60 + Math.floorMod(seq * 7, 200)];
        ByteBuffer b = ByteBuffer.wrap(f);
        b.put(new byte[] {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1});
        b.putShort((short) 0x88B5); // IEEE 802 local experimental ethertype
        b.putInt(seq);
        for (int i = b.position(); i < f.length; i++) {
            f[i] = (byte) (seq * 31 + i);
        }
        return f;
    }

    static int seqOf(byte[] frame) {
        return ByteBuffer.wrap(frame).getInt(SEQ_OFFSET);
    }

    private static void fill(long m, byte[] frame) {
        MemorySegment.copy(frame, 0, MemorySegment.ofAddress(Mbuf.dataAddress(m)).reinterpret(frame.length),
            ValueLayout.JAVA_BYTE, 0, frame.length);
        Mbuf.setLength(m, frame.length);
    }

    private static byte[] read(long m) {
        return MemorySegment.ofAddress(Mbuf.dataAddress(m)).reinterpret(Mbuf.dataLen(m))
            .toArray(ValueLayout.JAVA_BYTE);
    }

    /** Offers frames {@code first..first+count)} to {@code port} in one burst; all must be taken. */
    private void send(Port port, int first, int count) {
        assertTrue(pool.allocBulk(burst, 0, count));
        for (int i = 0; i < count; i++) {
            fill(burst.get(i), frame(first + i));
        }
        assertEquals(count, port.transmit(burst, 0, count), "a fault injector takes every frame");
    }

    /** Receives everything {@code port} has, copying and freeing each frame, until it has nothing twice. */
    private void collect(Port port, List<byte[]> into) {
        collect(port, into, 2);
    }

    private void collect(Port port, List<byte[]> into, int idleCalls) {
        for (int idle = 0; idle < idleCalls; ) {
            int n = port.receive(burst, BURST);
            idle = n == 0 ? idle + 1 : 0;
            for (int i = 0; i < n; i++) {
                into.add(read(burst.get(i)));
            }
            burst.freeAll(n);
        }
    }

    /** Sends frames 0..total) through {@code sender} in bursts and collects at {@code receiver} after each. */
    private List<byte[]> run(Port sender, Port receiver, int total) {
        List<byte[]> arrived = new ArrayList<>();
        for (int seq = 0; seq < total; seq += BURST) {
            send(sender, seq, Math.min(BURST, total - seq));
            collect(receiver, arrived, 1);
        }
        return arrived;
    }

    /** Duty cycles for {@code injector}'s transmit side: receives on it, expecting nothing. */
    private void cycles(FaultInjector injector, int n) {
        for (int i = 0; i < n; i++) {
            int got = injector.receive(burst, BURST);
            burst.freeAll(got);
            assertEquals(0, got);
        }
    }

    private static int[] seqs(List<byte[]> frames) {
        return frames.stream().mapToInt(FaultInjectorTest::seqOf).toArray();
    }

    private static void assertIntact(byte[] frame) {
        assertArrayEquals(frame(seqOf(frame)), frame, "frame " + seqOf(frame) + " arrived as sent");
    }

    // --------------------------------------------------------------------------------------------- tests

    @Test
    void allProbabilitiesZeroIsTransparentBothWays() {
        FaultInjector txSide = track(FaultInjector.builder(pair.a()).seed(7).build());
        FaultInjector rxSide = track(FaultInjector.builder(pair.b()).seed(7).build());
        List<byte[]> arrived = run(txSide, rxSide, 1000);
        assertEquals(1000, arrived.size());
        for (int i = 0; i < 1000; i++) {
            assertArrayEquals(frame(i), arrived.get(i), "frame " + i);
        }
        assertEquals(0, txSide.droppedTx() + txSide.duplicatedTx() + txSide.reorderedTx() + txSide.corruptedTx()
            + rxSide.droppedRx() + rxSide.duplicatedRx() + rxSide.reorderedRx() + rxSide.corruptedRx());
    }

    @Test
    void txDropAllDeliversNothingAndFreesEveryFrame() {
        FaultInjector f = track(FaultInjector.builder(pair.a()).txDrop(1.0).build());
        List<byte[]> arrived = run(f, pair.b(), 500);
        assertEquals(0, arrived.size());
        assertEquals(500, f.droppedTx());
        assertEquals(baseline, pool.inUseCount(), "dropped frames are freed at once");
    }

    @Test
    void rxDropAllReceivesNothingAndFreesEveryFrame() {
        FaultInjector f = track(FaultInjector.builder(pair.b()).rxDrop(1.0).build());
        List<byte[]> arrived = run(pair.a(), f, 500);
        assertEquals(0, arrived.size());
        assertEquals(500, f.droppedRx());
        assertEquals(baseline, pool.inUseCount());
    }

    /** Binomial(10 000, 0.1): mean 1 000 drops, sigma 30; 6 sigma either side never fails by chance. */
    @Test
    void tenPercentDropIsBinomialAndTheSameSeedDropsTheSameFrames() {
        BitSet first = deliveredWithTxDrop(42);
        BitSet second = deliveredWithTxDrop(42);
        BitSet otherSeed = deliveredWithTxDrop(43);
        int delivered = first.cardinality();
        assertTrue(delivered >= 9000 - 180 && delivered <= 9000 + 180, delivered + " of 10000 delivered");
        assertEquals(first, second, "same seed, same frames dropped");
        assertNotEquals(first, otherSeed, "another seed, another pattern");
        BitSet rx = deliveredWithRxDrop(42);
        assertTrue(rx.cardinality() >= 9000 - 180 && rx.cardinality() <= 9000 + 180);
        assertEquals(rx, deliveredWithRxDrop(42));
    }

    private BitSet deliveredWithTxDrop(long seed) {
        FaultInjector f = track(FaultInjector.builder(pair.a()).seed(seed).txDrop(0.1).build());
        return delivered(run(f, pair.b(), 10_000), f.droppedTx());
    }

    private BitSet deliveredWithRxDrop(long seed) {
        FaultInjector f = track(FaultInjector.builder(pair.b()).seed(seed).rxDrop(0.1).build());
        return delivered(run(pair.a(), f, 10_000), f.droppedRx());
    }

    private static BitSet delivered(List<byte[]> arrived, long dropped) {
        BitSet seen = new BitSet();
        int last = -1;
        for (byte[] frame : arrived) {
            int seq = seqOf(frame);
            assertTrue(seq > last, "in order");
            last = seq;
            assertIntact(frame);
            seen.set(seq);
        }
        assertEquals(10_000 - dropped, seen.cardinality(), "the counter counts what went missing");
        return seen;
    }

    @Test
    void txReorderDeliversEveryFrameOnceButOutOfOrder() {
        FaultInjector f = track(FaultInjector.builder(pair.a()).seed(5).txReorder(0.2).reorderSpan(4)
            .maxHoldCycles(3).build());
        List<byte[]> arrived = run(f, pair.b(), 3000);
        assertTrue(f.heldTx() > 0 || f.reorderedTx() > 0);
        cycles(f, 3);
        collect(pair.b(), arrived);
        assertEquals(0, f.heldTx(), "nothing held past maxHoldCycles");
        assertReorderedButComplete(arrived, 3000, f.reorderedTx());
    }

    @Test
    void rxReorderDeliversEveryFrameOnceButOutOfOrder() {
        FaultInjector f = track(FaultInjector.builder(pair.b()).seed(5).rxReorder(0.2).reorderSpan(4)
            .maxHoldCycles(3).build());
        List<byte[]> arrived = run(pair.a(), f, 3000);
        collect(f, arrived, 4); // idle duty cycles release what is still held
        assertEquals(0, f.heldRx());
        assertReorderedButComplete(arrived, 3000, f.reorderedRx());
    }

    private static void assertReorderedButComplete(List<byte[]> arrived, int total, long reordered) {
        assertTrue(reordered > total / 10 && reordered < total * 3 / 10, reordered + " frames held back");
        int[] seqs = seqs(arrived);
        int inversions = 0;
        for (int i = 1; i < seqs.length; i++) {
            if (seqs[i] < seqs[i - 1]) {
                inversions++;
            }
        }
        assertTrue(inversions > total / 20, inversions + " frames arrived after a later one");
        int[] sorted = seqs.clone();
        Arrays.sort(sorted);
        assertEquals(total, sorted.length, "none lost, none duplicated");
        for (int i = 0; i < total; i++) {
            assertEquals(i, sorted[i]);
        }
        arrived.forEach(FaultInjectorTest::assertIntact);
    }

    @Test
    void heldFrameIsReleasedAfterTheNextFramesOrAfterMaxHoldCycles() {
        // reorderSpan 1: a held frame goes right after the next frame.
        FaultInjector f = track(FaultInjector.builder(pair.a()).txReorder(1.0).reorderSpan(1).maxHoldCycles(5)
            .maxHeld(1).build());
        List<byte[]> arrived = new ArrayList<>();
        send(f, 0, 1);
        collect(pair.b(), arrived);
        assertEquals(0, arrived.size(), "frame 0 held");
        assertEquals(1, f.heldTx());
        send(f, 1, 1); // the only slot is taken: frame 1 passes and releases frame 0 behind it
        collect(pair.b(), arrived);
        assertArrayEquals(new int[] {1, 0}, seqs(arrived));

        // With no traffic after it, a held frame waits maxHoldCycles duty cycles and no longer.
        arrived.clear();
        send(f, 2, 1);
        cycles(f, 4);
        collect(pair.b(), arrived);
        assertEquals(0, arrived.size(), "still held after 4 cycles");
        cycles(f, 1);
        collect(pair.b(), arrived);
        assertArrayEquals(new int[] {2}, seqs(arrived));
        assertEquals(0, f.heldTx());
        assertEquals(2, f.reorderedTx());
    }

    /** Binomial(5 000, 0.1): mean 500 copies, sigma 21. */
    @Test
    void txDuplicatesAreByteIdenticalAndFollowTheirOriginal() {
        FaultInjector f = track(FaultInjector.builder(pair.a()).seed(11).txDuplicate(0.1).build());
        assertDuplicates(run(f, pair.b(), 5000), f.duplicatedTx());
    }

    @Test
    void rxDuplicatesAreByteIdenticalAndFollowTheirOriginal() {
        FaultInjector f = track(FaultInjector.builder(pair.b()).seed(11).rxDuplicate(0.1).build());
        assertDuplicates(run(pair.a(), f, 5000), f.duplicatedRx());
    }

    private static void assertDuplicates(List<byte[]> arrived, long duplicated) {
        assertTrue(duplicated >= 500 - 126 && duplicated <= 500 + 126, duplicated + " duplicates");
        assertEquals(5000 + duplicated, arrived.size(), "the counter counts the extra frames");
        int expected = 0;
        for (int i = 0; i < arrived.size(); i++) {
            byte[] frame = arrived.get(i);
            assertIntact(frame);
            if (seqOf(frame) == expected - 1) {
                assertArrayEquals(arrived.get(i - 1), frame, "a copy right after its original");
            } else {
                assertEquals(expected++, seqOf(frame), "originals in order");
            }
        }
        assertEquals(5000, expected);
    }

    @Test
    void txCorruptionFlipsExactlyOneBitAfterTheEthernetHeader() {
        FaultInjector f = track(FaultInjector.builder(pair.a()).seed(3).txCorrupt(0.2).build());
        assertOneBitFlips(run(f, pair.b(), 3000), f.corruptedTx());
    }

    @Test
    void rxCorruptionFlipsExactlyOneBitAfterTheEthernetHeader() {
        FaultInjector f = track(FaultInjector.builder(pair.b()).seed(3).rxCorrupt(0.2).build());
        assertOneBitFlips(run(pair.a(), f, 3000), f.corruptedRx());
    }

    /** No drops or reordering here, so the n-th frame to arrive is frame n (its sequence number may be hit). */
    private static void assertOneBitFlips(List<byte[]> arrived, long corrupted) {
        assertEquals(3000, arrived.size());
        int damaged = 0;
        for (int seq = 0; seq < arrived.size(); seq++) {
            byte[] sent = frame(seq);
            byte[] got = arrived.get(seq);
            assertEquals(sent.length, got.length);
            int bits = 0;
            for (int i = 0; i < sent.length; i++) {
                int diff = Integer.bitCount((sent[i] ^ got[i]) & 0xFF);
                assertTrue(diff == 0 || i >= 14, "frame " + seq + ": byte " + i + " is in the Ethernet header");
                bits += diff;
            }
            assertTrue(bits <= 1, "frame " + seq + ": " + bits + " bits differ");
            damaged += bits;
        }
        assertEquals(corrupted, damaged, "the counter counts the damaged frames");
        assertTrue(corrupted > 3000 / 10 && corrupted < 3000 * 3 / 10, corrupted + " corrupted");
    }

    /**
     * A port that refuses part of a burst: the injector reports a prefix as taken and gives the rest back
     * untouched (its corruption undone), and copies it made of refused frames are freed.
     */
    @Test
    void refusedFramesStayTheCallersAndUntouched() {
        try (RingPair small = ring(64)) { // 63 slots
            FaultInjector f = FaultInjector.builder(small.a()).seed(9).txCorrupt(1.0).txDuplicate(0.5).build();
            MbufArray frames = new MbufArray(64);
            assertTrue(pool.allocBulk(frames, 0, 64));
            for (int i = 0; i < 64; i++) {
                fill(frames.get(i), frame(i));
            }
            int taken = f.transmit(frames, 0, 64);
            assertTrue(taken > 0 && taken < 64, taken + " taken");
            for (int i = taken; i < 64; i++) {
                assertArrayEquals(frame(i), read(frames.get(i)), "refused frame " + i + " as it was");
            }
            frames.freeRange(taken, 64 - taken);
            List<byte[]> arrived = new ArrayList<>();
            collect(small.b(), arrived);
            assertEquals(63, arrived.size(), "the ring was filled");
            assertEquals(taken, f.corruptedTx(), "only frames taken count as corrupted");
            assertEquals(63 - taken, f.duplicatedTx(), "only copies sent count as duplicates");
            f.close();
            assertEquals(baseline, pool.inUseCount());
        }
    }

    @Test
    void closeFreesHeldFramesThenClosesThePort() {
        FaultInjector tx = FaultInjector.builder(pair.a()).txReorder(1.0).reorderSpan(1000).maxHoldCycles(1000)
            .maxHeld(16).build();
        FaultInjector rx = FaultInjector.builder(pair.b()).rxReorder(1.0).reorderSpan(1000).maxHoldCycles(1000)
            .maxHeld(16).build();
        injectors.add(tx);
        injectors.add(rx);
        send(tx, 0, 16);
        assertEquals(0, tx.receive(burst, BURST));
        send(pair.a(), 100, 16);
        assertEquals(0, rx.receive(burst, BURST));
        assertEquals(16, tx.heldTx());
        assertEquals(16, rx.heldRx());
        assertEquals(baseline + 32, pool.inUseCount());
        drain(pair.a());
        drain(pair.b());
        tx.close();
        rx.close();
        closedInjectors.add(tx);
        closedInjectors.add(rx);
        assertEquals(baseline, pool.inUseCount(), "held frames freed");
        tx.close(); // a second close does nothing
    }

    @Test
    void builderRejectsImpossibleSettings() {
        FaultInjector.Builder b = FaultInjector.builder(pair.a());
        assertThrows(IllegalArgumentException.class, () -> b.txDrop(1.5));
        assertThrows(IllegalArgumentException.class, () -> b.rxCorrupt(-0.1));
        assertThrows(IllegalArgumentException.class, () -> b.rxReorder(Double.NaN));
        assertThrows(IllegalArgumentException.class, () -> b.reorderSpan(0));
        assertThrows(IllegalArgumentException.class, () -> b.maxHoldCycles(0));
        assertThrows(IllegalArgumentException.class, () -> b.maxHeld(0));
    }

    /**
     * Every fault on, both directions, many bursts: the thread allocates less than a byte per frame (the
     * JVM may allocate a little once, e.g. installing an OSR compilation). JMH is the real proof.
     */
    @Test
    void faultsAllocateNothingPerFrame() {
        FaultInjector tx = track(FaultInjector.builder(pair.a()).seed(1).txDrop(0.05).txCorrupt(0.05)
            .txDuplicate(0.05).txReorder(0.05).build());
        FaultInjector rx = track(FaultInjector.builder(pair.b()).seed(2).rxDrop(0.05).rxCorrupt(0.05)
            .rxDuplicate(0.05).rxReorder(0.05).build());
        MbufArray out = new MbufArray(BURST);
        MbufArray in = new MbufArray(BURST);
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        int rounds = 5_000;
        loop(tx, rx, out, in, rounds);
        long before = threads.getCurrentThreadAllocatedBytes();
        long frames = loop(tx, rx, out, in, rounds);
        long allocated = threads.getCurrentThreadAllocatedBytes() - before;
        assertTrue(allocated < frames, allocated + " bytes allocated for " + frames + " frames");
    }

    private static long loop(FaultInjector tx, FaultInjector rx, MbufArray out, MbufArray in, int rounds) {
        long frames = 0;
        for (int r = 0; r < rounds; r++) {
            if (!pool.allocBulk(out, 0, 16)) {
                throw new AssertionError("pool empty");
            }
            for (int i = 0; i < 16; i++) {
                long m = out.get(i);
                Mbuf.setLength(m, 64);
                for (int at = 0; at < 64; at += Long.BYTES) {
                    Native.ALL.set(ValueLayout.JAVA_LONG_UNALIGNED, Mbuf.dataAddress(m) + at, r * 0x0101010101010101L);
                }
            }
            int taken = tx.transmit(out, 0, 16);
            out.freeRange(taken, 16 - taken);
            frames += 16;
            int n = rx.receive(in, BURST);
            in.freeAll(n);
            in.freeAll(tx.receive(in, BURST));
        }
        return frames;
    }
}
