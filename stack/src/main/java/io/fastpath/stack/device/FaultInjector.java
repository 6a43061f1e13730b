package io.fastpath.stack.device;

import static io.fastpath.dpdk.Native.ALL;

import io.fastpath.dpdk.Layouts;
import io.fastpath.dpdk.Mbuf;
import io.fastpath.dpdk.MbufArray;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.Port;
import io.fastpath.dpdk.PortStats;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

/**
 * A port decorator that drops, duplicates, reorders and corrupts frames at random, separately on receive and
 * on transmit, for loss-recovery tests (smoltcp's {@code FaultInjector} is the model, netem the inspiration).
 *
 * <pre>{@code
 * Port port = FaultInjector.builder(ring).seed(42).rxDrop(0.05).txDrop(0.05).txReorder(0.02)
 *     .txDuplicate(0.01).rxCorrupt(0.001).build();
 * }</pre>
 *
 * <p>Faults, each with its own probability in parts per million, drawn per frame in this order:
 * <ul>
 *   <li><b>drop</b>: the frame is freed (on transmit it still counts as taken, as a lossy wire would);
 *   <li><b>corrupt</b>: one random bit of one random byte after the 14-byte Ethernet header is flipped, so the
 *       IPv4 or TCP checksum catches it. On receive the PMD's checksum-good flags are cleared; on transmit a
 *       port doing checksum offload recomputes over the corrupted bytes (the receiver then sees bad data with
 *       a good checksum). Frames of 14 bytes or fewer are left alone;
 *   <li><b>duplicate</b>: a copy of the frame as sent (corruption included) follows it, in an mbuf from
 *       {@link #pool()}; skipped for multi-segment frames or when the pool is empty;
 *   <li><b>reorder</b>: the frame is held back and released right after the next 1..{@code reorderSpan}
 *       frames of the same direction, or after {@code maxHoldCycles} duty cycles at most, whichever comes
 *       first; skipped when all {@code maxHeld} slots of that direction are in use.
 * </ul>
 * A probability of 0 costs no random draw. Each direction has its own generator, split from the seed, so a
 * direction's pattern depends only on the seed and the frames offered in that direction.
 *
 * <p>Duty cycle: one call to {@link #receive} (the stack's agent calls it exactly once per {@code doWork}).
 * Held frames of both directions age then; transmit frames held past their limit are sent from there, so a
 * sender that has gone quiet does not keep a frame back for ever.
 *
 * <p>Port semantics are kept: {@link #receive} returns n frames in {@code pkts[0..n)}; {@link #transmit}
 * returns how many frames of {@code pkts[from..from+count)} it took, always a prefix, and leaves the rest with
 * the caller exactly as they were (a corruption already applied to a frame the port then refuses is undone).
 * Frames the wrapped port refuses that the decorator made or held itself are kept for the next cycle (held
 * frames) or freed (duplicates).
 *
 * <p>No allocation per frame: the held slots, the transmit staging array, the receive queue and the
 * generators are made once by {@link Builder#build}.
 *
 * <p>Thread: the poll thread only, like the port it wraps. Ownership: frames it holds or has queued are its
 * own until it hands them on; {@link #close()} frees them, then closes the wrapped port.
 */
public final class FaultInjector extends PortDecorator {
    /** Probabilities are parts of this. */
    public static final int PPM = 1_000_000;
    /** Most frames the wrapped port is asked for in one receive. */
    private static final int RX_BURST = 256;
    /** Transmit staging beyond the held slots: frames staged before the wrapped port is called. */
    private static final int TX_STAGE = 256;
    private static final int GARBAGE = 64;
    private static final int ETHERNET_HEADER = 14;
    // rte_mbuf_core.h: RTE_MBUF_F_RX_IP_CKSUM_MASK, RTE_MBUF_F_RX_L4_CKSUM_MASK, RTE_MBUF_F_RX_OUTER_L4_CKSUM_MASK
    private static final long RX_CKSUM_FLAGS = (1L << 4) | (1L << 7) | (1L << 3) | (1L << 8) | (1L << 21) | (1L << 22);
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED;
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED;

    /** What a staged transmit entry is, which decides what happens when the wrapped port refuses it. */
    private static final byte CALLER = 0;
    private static final byte COPY = 1;
    private static final byte RELEASED = 2;

    private final PktmbufPool pool;
    private final Direction rx;
    private final Direction tx;
    private final int reorderSpan;
    private final int maxHoldCycles;

    private final MbufArray rxIn = new MbufArray(RX_BURST);
    private final MbufArray ready;
    private int readyHead;
    private int readyCount;

    private final MbufArray stage;
    private final byte[] stageKind;
    /** Byte offset (in the frame) of a corruption to undo if the port refuses the frame, or -1. */
    private final int[] stageFlipAt;
    private final byte[] stageFlipMask;
    private int stageCount;
    private int txTaken;

    private final MbufArray garbage = new MbufArray(GARBAGE);
    private int garbageCount;
    private final MbufArray copyScratch = new MbufArray(1);
    private int flipAt;
    private byte flipMask;
    private boolean closed;

    private FaultInjector(Builder b) {
        super(b.port);
        this.pool = b.port.pool();
        SplittableRandom root = new SplittableRandom(b.seed);
        this.rx = new Direction(b.rxDrop, b.rxCorrupt, b.rxDuplicate, b.rxReorder, b.maxHeld, root.split());
        this.tx = new Direction(b.txDrop, b.txCorrupt, b.txDuplicate, b.txReorder, b.maxHeld, root.split());
        this.reorderSpan = b.reorderSpan;
        this.maxHoldCycles = b.maxHoldCycles;
        this.ready = new MbufArray(2 * RX_BURST + b.maxHeld);
        int stageCapacity = TX_STAGE + b.maxHeld + 2;
        this.stage = new MbufArray(stageCapacity);
        this.stageKind = new byte[stageCapacity];
        this.stageFlipAt = new int[stageCapacity];
        this.stageFlipMask = new byte[stageCapacity];
    }

    /** Starts a builder over {@code port}: all probabilities 0 (a transparent wrapper), seed 1. */
    public static Builder builder(Port port) {
        return new Builder(port);
    }

    // ---------------------------------------------------------------------------------------------- receive

    @Override
    public int receive(MbufArray pkts, int max) {
        dutyCycle();
        int room = ready.capacity() - readyCount - rx.heldCount;
        // Each frame received yields at most itself and a copy; frames already held need a place too.
        int ask = Math.min(Math.min(max - readyCount, RX_BURST), room / 2);
        if (ask > 0) {
            int n = delegate.receive(rxIn, ask);
            for (int i = 0; i < n; i++) {
                arrived(rxIn.get(i));
            }
        }
        int out = Math.min(max, readyCount);
        for (int i = 0; i < out; i++) {
            pkts.set(i, ready.get(readyHead));
            readyHead = (readyHead + 1) % ready.capacity();
        }
        readyCount -= out;
        freeGarbage();
        return out;
    }

    private void arrived(long m) {
        Direction d = rx;
        if (d.chance(d.dropPpm)) {
            d.dropped++;
            discard(m);
            return;
        }
        if (d.chance(d.corruptPpm) && corrupt(m, d.random)) {
            Mbuf.olFlags(m, Mbuf.olFlags(m) & ~RX_CKSUM_FLAGS);
            d.corrupted++;
        }
        boolean duplicate = d.chance(d.duplicatePpm);
        boolean reorder = d.chance(d.reorderPpm);
        if (reorder && d.hold(m, 1 + d.random.nextInt(reorderSpan), maxHoldCycles)) {
            d.reordered++;
        } else {
            enqueue(m);
            countDownHeld(d);
        }
        if (duplicate) {
            long copy = copyOf(m);
            if (copy != 0) {
                enqueue(copy);
                d.duplicated++;
            }
        }
    }

    /** Releases, into the receive queue or the staging array, held frames of {@code d} due after this one. */
    private void countDownHeld(Direction d) {
        if (d.heldCount == 0) {
            return;
        }
        for (int s = 0; s < d.held.capacity(); s++) {
            long m = d.held.get(s);
            if (m != 0 && --d.framesLeft[s] <= 0) {
                d.release(s);
                if (d == rx) {
                    enqueue(m);
                } else {
                    stage(m, RELEASED);
                }
            }
        }
    }

    /** One duty cycle: held frames age; those past their limit go on their way. */
    private void dutyCycle() {
        if (rx.heldCount > 0) {
            for (int s = 0; s < rx.held.capacity(); s++) {
                long m = rx.held.get(s);
                if (m != 0 && --rx.cyclesLeft[s] <= 0) {
                    rx.release(s);
                    enqueue(m);
                }
            }
        }
        if (tx.heldCount > 0) {
            for (int s = 0; s < tx.held.capacity(); s++) {
                long m = tx.held.get(s);
                if (m != 0 && --tx.cyclesLeft[s] <= 0) {
                    tx.release(s);
                    stage(m, RELEASED);
                }
            }
            flushStage();
        }
    }

    private void enqueue(long m) {
        ready.set((readyHead + readyCount) % ready.capacity(), m);
        readyCount++;
    }

    // --------------------------------------------------------------------------------------------- transmit

    /**
     * Frames are staged and offered to the wrapped port in one burst; before a frame is dropped or held the
     * stage is flushed, so that a frame this method frees or keeps is never one it then has to report as not
     * taken.
     */
    @Override
    public int transmit(MbufArray pkts, int from, int count) {
        Direction d = tx;
        txTaken = 0;
        for (int i = 0; i < count; i++) {
            long m = pkts.get(from + i);
            boolean drop = d.chance(d.dropPpm);
            boolean corrupt = !drop && d.chance(d.corruptPpm);
            boolean duplicate = !drop && d.chance(d.duplicatePpm);
            boolean reorder = !drop && d.chance(d.reorderPpm) && d.heldCount < d.held.capacity();
            if (drop || reorder || stageCount + 2 + d.heldCount > stage.capacity()) {
                if (!flushStage()) {
                    return finishTransmit();
                }
            }
            if (drop) {
                d.dropped++;
                discard(m);
                txTaken++;
                continue;
            }
            int at = -1;
            byte mask = 0;
            if (corrupt && corrupt(m, d.random)) {
                at = flipAt;
                mask = flipMask;
            }
            long copy = duplicate ? copyOf(m) : 0;
            if (reorder) {
                d.hold(m, 1 + d.random.nextInt(reorderSpan), maxHoldCycles);
                d.reordered++;
                txTaken++;
                if (at >= 0) {
                    d.corrupted++;
                }
            } else {
                stage(m, CALLER);
                stageFlipAt[stageCount - 1] = at;
                stageFlipMask[stageCount - 1] = mask;
                countDownHeld(d);
            }
            if (copy != 0) {
                stage(copy, COPY);
            }
        }
        flushStage();
        return finishTransmit();
    }

    private int finishTransmit() {
        freeGarbage();
        return txTaken;
    }

    private void stage(long m, byte kind) {
        stage.set(stageCount, m);
        stageKind[stageCount] = kind;
        stageFlipAt[stageCount] = -1;
        stageCount++;
    }

    /**
     * Offers the staged frames to the wrapped port. Of those it refuses, the caller's get their corruption
     * undone and stay the caller's; held frames go back to be held for one more cycle; copies are freed.
     *
     * @return whether the port took them all
     */
    private boolean flushStage() {
        int n = stageCount;
        if (n == 0) {
            return true;
        }
        stageCount = 0;
        int sent = delegate.transmit(stage, 0, n);
        for (int i = 0; i < n; i++) {
            long m = stage.get(i);
            byte kind = stageKind[i];
            if (i < sent) {
                if (kind == CALLER) {
                    txTaken++;
                    if (stageFlipAt[i] >= 0) {
                        tx.corrupted++;
                    }
                } else if (kind == COPY) {
                    tx.duplicated++;
                }
            } else if (kind == CALLER) {
                if (stageFlipAt[i] >= 0) {
                    flip(m, stageFlipAt[i], stageFlipMask[i]);
                }
            } else if (kind == COPY) {
                discard(m);
            } else {
                tx.hold(m, 1, 1); // its slot was freed when it was staged
            }
        }
        return sent == n;
    }

    // ------------------------------------------------------------------------------------------------ faults

    /** Flips one random bit after the Ethernet header of the first segment; leaves it in flipAt/flipMask. */
    private boolean corrupt(long m, SplittableRandom random) {
        int length = Mbuf.dataLen(m);
        if (length <= ETHERNET_HEADER) {
            return false;
        }
        flipAt = ETHERNET_HEADER + random.nextInt(length - ETHERNET_HEADER);
        flipMask = (byte) (1 << random.nextInt(8));
        flip(m, flipAt, flipMask);
        return true;
    }

    private static void flip(long m, int offset, byte mask) {
        long address = Mbuf.dataAddress(m) + offset;
        ALL.set(ValueLayout.JAVA_BYTE, address, (byte) (ALL.get(ValueLayout.JAVA_BYTE, address) ^ mask));
    }

    /** A single-segment copy of {@code m} (data and offload metadata), or 0 when it cannot be made. */
    private long copyOf(long m) {
        if (Mbuf.nbSegs(m) != 1 || !pool.allocBulk(copyScratch, 0, 1)) {
            return 0;
        }
        long copy = copyScratch.get(0);
        int length = Mbuf.dataLen(m);
        if (length > Mbuf.bufLen(copy) - Mbuf.dataOff(copy)) {
            discard(copy);
            return 0;
        }
        MemorySegment.copy(ALL, Mbuf.dataAddress(m), ALL, Mbuf.dataAddress(copy), length);
        Mbuf.setLength(copy, length);
        Mbuf.port(copy, Mbuf.port(m));
        long ownBits = Layouts.MBUF_F_EXTERNAL | Layouts.MBUF_F_INDIRECT;
        Mbuf.olFlags(copy, (Mbuf.olFlags(m) & ~ownBits) | (Mbuf.olFlags(copy) & ownBits));
        ALL.set(INT, copy + Layouts.MBUF_PACKET_TYPE, Mbuf.packetType(m));
        ALL.set(LONG, copy + Layouts.MBUF_TX_OFFLOAD, ALL.get(LONG, m + Layouts.MBUF_TX_OFFLOAD));
        return copy;
    }

    private void discard(long m) {
        if (garbageCount == GARBAGE) {
            freeGarbage();
        }
        garbage.set(garbageCount++, m);
    }

    private void freeGarbage() {
        if (garbageCount > 0) {
            garbage.freeAll(garbageCount);
            garbageCount = 0;
        }
    }

    // ---------------------------------------------------------------------------------------------- counters

    public long droppedRx() {
        return rx.dropped;
    }

    public long droppedTx() {
        return tx.dropped;
    }

    public long duplicatedRx() {
        return rx.duplicated;
    }

    public long duplicatedTx() {
        return tx.duplicated;
    }

    /** Received frames held back to be delivered late. */
    public long reorderedRx() {
        return rx.reordered;
    }

    /** Transmitted frames held back to be sent late. */
    public long reorderedTx() {
        return tx.reordered;
    }

    public long corruptedRx() {
        return rx.corrupted;
    }

    public long corruptedTx() {
        return tx.corrupted;
    }

    /** Received frames held back right now. */
    public int heldRx() {
        return rx.heldCount;
    }

    /** Frames to transmit held back right now. */
    public int heldTx() {
        return tx.heldCount;
    }

    // ------------------------------------------------------------------------------------------- delegation

    @Override
    public PktmbufPool pool() {
        return pool;
    }

    /** Frees the frames it holds or has queued, then closes the wrapped port. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            rx.freeHeld();
            tx.freeHeld();
            for (; readyCount > 0; readyCount--) {
                discard(ready.get(readyHead));
                readyHead = (readyHead + 1) % ready.capacity();
            }
            freeGarbage();
        } finally {
            delegate.close();
        }
    }

    @Override
    public String toString() {
        return "FaultInjector[" + delegate.name() + " rx " + rx + ", tx " + tx + ", reorderSpan " + reorderSpan
            + ", maxHoldCycles " + maxHoldCycles + "]";
    }

    // ------------------------------------------------------------------------------------------------ state

    /** One direction's probabilities, generator, held frames and counters. */
    private static final class Direction {
        final int dropPpm;
        final int corruptPpm;
        final int duplicatePpm;
        final int reorderPpm;
        final SplittableRandom random;
        /** Held frames by slot, 0 for a free slot; released in slot order when several fall due together. */
        final MbufArray held;
        final int[] framesLeft;
        final int[] cyclesLeft;
        int heldCount;
        long dropped;
        long corrupted;
        long duplicated;
        long reordered;

        Direction(int dropPpm, int corruptPpm, int duplicatePpm, int reorderPpm, int maxHeld,
                  SplittableRandom random) {
            this.dropPpm = dropPpm;
            this.corruptPpm = corruptPpm;
            this.duplicatePpm = duplicatePpm;
            this.reorderPpm = reorderPpm;
            this.random = random;
            this.held = new MbufArray(maxHeld);
            this.framesLeft = new int[maxHeld];
            this.cyclesLeft = new int[maxHeld];
            for (int s = 0; s < maxHeld; s++) {
                held.set(s, 0);
            }
        }

        boolean chance(int ppm) {
            return ppm > 0 && (ppm >= PPM || random.nextInt(PPM) < ppm);
        }

        /** Holds {@code m} in a free slot; false when there is none. */
        boolean hold(long m, int frames, int cycles) {
            if (heldCount == held.capacity()) {
                return false;
            }
            for (int s = 0; ; s++) {
                if (held.get(s) == 0) {
                    held.set(s, m);
                    framesLeft[s] = frames;
                    cyclesLeft[s] = cycles;
                    heldCount++;
                    return true;
                }
            }
        }

        void release(int slot) {
            held.set(slot, 0);
            heldCount--;
        }

        void freeHeld() {
            for (int s = 0; s < held.capacity(); s++) {
                if (held.get(s) != 0) {
                    held.freeRange(s, 1);
                    release(s);
                }
            }
        }

        @Override
        public String toString() {
            return "drop " + dropPpm + " corrupt " + corruptPpm + " duplicate " + duplicatePpm + " reorder "
                + reorderPpm + " ppm";
        }
    }

    /** Fault probabilities per direction (fractions 0..1, kept as parts per million), seed and hold limits. */
    public static final class Builder {
        private final Port port;
        private long seed = 1;
        private int rxDrop;
        private int txDrop;
        private int rxCorrupt;
        private int txCorrupt;
        private int rxDuplicate;
        private int txDuplicate;
        private int rxReorder;
        private int txReorder;
        private int reorderSpan = 3;
        private int maxHoldCycles = 8;
        private int maxHeld = 32;

        private Builder(Port port) {
            if (port == null) {
                throw new NullPointerException("port");
            }
            this.port = port;
        }

        /** The seed of both directions' generators: the same seed and traffic give the same faults. */
        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        public Builder rxDrop(double probability) {
            rxDrop = ppm("rxDrop", probability);
            return this;
        }

        public Builder txDrop(double probability) {
            txDrop = ppm("txDrop", probability);
            return this;
        }

        public Builder rxCorrupt(double probability) {
            rxCorrupt = ppm("rxCorrupt", probability);
            return this;
        }

        public Builder txCorrupt(double probability) {
            txCorrupt = ppm("txCorrupt", probability);
            return this;
        }

        public Builder rxDuplicate(double probability) {
            rxDuplicate = ppm("rxDuplicate", probability);
            return this;
        }

        public Builder txDuplicate(double probability) {
            txDuplicate = ppm("txDuplicate", probability);
            return this;
        }

        public Builder rxReorder(double probability) {
            rxReorder = ppm("rxReorder", probability);
            return this;
        }

        public Builder txReorder(double probability) {
            txReorder = ppm("txReorder", probability);
            return this;
        }

        /** A held frame is released after the next 1..{@code frames} frames of its direction (default 3). */
        public Builder reorderSpan(int frames) {
            reorderSpan = positive("reorderSpan", frames);
            return this;
        }

        /** ... or after this many duty cycles at most (default 8). */
        public Builder maxHoldCycles(int cycles) {
            maxHoldCycles = positive("maxHoldCycles", cycles);
            return this;
        }

        /** Frames held at once per direction (default 32); a frame drawn for reordering beyond it passes. */
        public Builder maxHeld(int frames) {
            if (frames < 1 || frames > 4096) {
                throw new IllegalArgumentException("maxHeld must be 1..4096, was " + frames);
            }
            maxHeld = frames;
            return this;
        }

        public FaultInjector build() {
            return new FaultInjector(this);
        }

        private static int ppm(String what, double probability) {
            if (!(probability >= 0 && probability <= 1)) {
                throw new IllegalArgumentException(what + " must be a probability 0..1, was " + probability);
            }
            return (int) Math.round(probability * PPM);
        }

        private static int positive(String what, int value) {
            if (value < 1) {
                throw new IllegalArgumentException(what + " must be at least 1, was " + value);
            }
            return value;
        }
    }
}
