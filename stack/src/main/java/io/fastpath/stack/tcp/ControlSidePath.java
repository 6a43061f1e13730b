package io.fastpath.stack.tcp;

import io.fastpath.stack.tcp.protocol.RequestType;
import io.fastpath.stack.tcp.protocol.SlotFlyweight;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.MessageHandler;
import org.agrona.concurrent.ringbuffer.ManyToOneRingBuffer;

/**
 * A {@link TcpServiceClient}'s side path for controls (shutdown, abort, accept or reject a held SYN, stop
 * listening) that found its request ring full: a flag per connection slot (or a bit per port), the slot queued
 * once on a ring with room for every slot, so no control is lost. While such a control waits, requests that
 * start something are refused ({@link #pending}), and the poll thread carries it out only after every request
 * queued before it. Controls from any thread; {@link #poll} on the poll thread.
 */
final class ControlSidePath {
    private static final VarHandle LONGS = MethodHandles.arrayElementVarHandle(long[].class);
    private static final int PORT_WORDS = 65536 / 64;

    private final TcpServiceClient client;
    private final TcpService service;
    /** The client's request ring (its positions only: what must be carried out before a control). */
    private final ManyToOneRingBuffer requests;

    // ---------------------------------------------------------------- application threads to the poll thread
    private final ManyToOneRingBuffer controlSlots;
    /** Per connection slot: generation << 32 | CONTROL_* flags pending on the side path. */
    private final long[] control;
    /** A bit per port: stop listening pending on the side path. */
    private final long[] stopPorts = new long[PORT_WORDS];
    private final AtomicBoolean stopsPending = new AtomicBoolean();
    /** Side-path controls not yet carried out: while any, requests that start something are refused. */
    private final AtomicInteger sidePathPending = new AtomicInteger();
    /** The request ring's producer position when the last side-path control was made. */
    private final AtomicLong sidePathPosition = new AtomicLong();
    /** Side-path controls refused for another shard's handle (counted by the poll thread). */
    private final AtomicLong controlsRefused = new AtomicLong();
    private long controlsRefusedFolded;

    // ---------------------------------------------------------------- poll thread only
    private final MessageHandler slotCollector = this::collectSlot;
    private final SlotFlyweight slotOut = new SlotFlyweight();
    private final int[] collected;
    private int collectedCount;
    private final int[] deferred;
    private final long[] deferredWord;
    private int deferredCount;
    private final long[] deferredStops = new long[PORT_WORDS];
    private boolean stopsDeferred;
    private int sidePathTaken;

    ControlSidePath(TcpServiceClient client, TcpService service, ManyToOneRingBuffer requests,
                    ManyToOneRingBuffer controlSlots, int maxConnections) {
        this.client = client;
        this.service = service;
        this.requests = requests;
        this.controlSlots = controlSlots;
        this.control = new long[maxConnections];
        this.collected = new int[maxConnections];
        this.deferred = new int[maxConnections];
        this.deferredWord = new long[maxConnections];
    }

    /** Side-path controls not yet carried out (any thread). */
    int pending() {
        return sidePathPending.get();
    }

    /** Whether {@link #poll} has anything to do (poll thread). */
    boolean hasWork() {
        return sidePathPending.get() > 0 || deferredCount > 0 || stopsDeferred;
    }

    /** Stop listening on {@code port} by the side path (any thread; the request ring had no room). */
    boolean stopListening(int port) {
        if (port <= 0 || port > 65535) {
            return true; // names no listener: nothing to do
        }
        noteSidePathPosition();
        sidePathPending.incrementAndGet();
        long bit = 1L << port;
        long before = (long) LONGS.getAndBitwiseOr(stopPorts, port >>> 6, bit);
        if ((before & bit) != 0) {
            sidePathPending.decrementAndGet(); // already pending
        }
        stopsPending.set(true);
        return true;
    }

    /** A CONTROL_* {@code flag} for {@code handle} by the side path (any thread; the request ring had no room). */
    boolean control(int flag, long handle) {
        if ((handle & TcpService.SHARD_MASK) != service.shardBits) {
            if (TcpService.wellFormed(handle)) {
                // Another shard's handle: refused and counted (by the poll thread, which the pending count wakes).
                // Pending first: the poll thread subtracts what it folds in, and must never see the refusal alone.
                sidePathPending.incrementAndGet();
                controlsRefused.incrementAndGet();
            }
            return true;
        }
        int slot = (int) (handle & ~TcpService.SHARD_MASK);
        if (slot < 0 || slot >= control.length) {
            return true; // names no connection: the poll thread would ignore it too
        }
        int generation = (int) (handle >>> 32);
        noteSidePathPosition();
        sidePathPending.incrementAndGet();
        while (true) {
            long word = (long) LONGS.getVolatile(control, slot);
            int flags = (int) word;
            int pendingGeneration = (int) (word >>> 32);
            long next;
            if (flags == 0 || pendingGeneration == generation) {
                next = ((long) generation << 32) | ((flags | flag) & 0xFFFF_FFFFL);
            } else if (generation - pendingGeneration > 0) {
                // The slot was reused: the older connection is closed, its controls are moot.
                next = ((long) generation << 32) | flag;
            } else {
                sidePathPending.decrementAndGet();
                return true; // for a connection older than one already pending: it is closed
            }
            if (LONGS.compareAndSet(control, slot, word, next)) {
                if (flags != 0) {
                    sidePathPending.decrementAndGet(); // the slot is queued already
                    return true;
                }
                int index = controlSlots.tryClaim(RequestType.CONTROL_SLOT, SlotFlyweight.LENGTH);
                if (index < 0) {
                    // Cannot happen: each slot is on the ring at most once and the ring holds every slot.
                    throw new IllegalStateException("control slot ring full");
                }
                client.slotEncoder().wrap(controlSlots.buffer(), index).slot(slot);
                controlSlots.commit(index);
                return true;
            }
        }
    }

    /** Every request committed before a side-path control is carried out before it. */
    private void noteSidePathPosition() {
        long position = requests.producerPosition();
        long seen;
        while ((seen = sidePathPosition.get()) < position && !sidePathPosition.compareAndSet(seen, position)) {
            Thread.onSpinWait();
        }
    }

    private void collectSlot(int type, MutableDirectBuffer b, int i, int length) {
        collected[collectedCount++] = slotOut.wrap(b, i).slot();
    }

    /** Takes side-path controls; carries them out once every request queued before them has been. */
    int poll() {
        // Slots are taken off their ring first and their flags only after the read (and its room) is over,
        // so a slot is never on the ring twice.
        long refusedControls = controlsRefused.get();
        if (refusedControls != controlsRefusedFolded) {
            service.countRefusedRequests(refusedControls - controlsRefusedFolded);
            sidePathTaken += (int) (refusedControls - controlsRefusedFolded);
            controlsRefusedFolded = refusedControls;
        }
        collectedCount = 0;
        controlSlots.read(slotCollector, collected.length);
        for (int k = 0; k < collectedCount; k++) {
            int slot = collected[k];
            long word = (long) LONGS.getAndSet(control, slot, 0L);
            sidePathTaken++;
            if ((int) word == 0) {
                continue;
            }
            long previous = deferredWord[slot];
            if ((int) previous == 0) {
                deferred[deferredCount++] = slot;
                deferredWord[slot] = word;
            } else if ((int) ((word >>> 32) - (previous >>> 32)) > 0) {
                deferredWord[slot] = word; // a newer connection in the slot
            } else if (word >>> 32 == previous >>> 32) {
                deferredWord[slot] = previous | (word & 0xFFFF_FFFFL);
            }
        }
        if (stopsPending.getAndSet(false)) {
            for (int w = 0; w < PORT_WORDS; w++) {
                long bits = (long) LONGS.getAndSet(stopPorts, w, 0L);
                if (bits != 0) {
                    deferredStops[w] |= bits;
                    sidePathTaken += Long.bitCount(bits);
                    stopsDeferred = true;
                }
            }
        }
        // Read after taking the flags: at least the position of every control taken.
        if (requests.consumerPosition() < sidePathPosition.get()) {
            return collectedCount;
        }
        int work = deferredCount;
        for (int k = 0; k < deferredCount; k++) {
            int slot = deferred[k];
            long word = deferredWord[slot];
            deferredWord[slot] = 0;
            service.applyControl(client, (word & 0xFFFF_FFFF_0000_0000L) | service.shardBits | slot, (int) word);
        }
        deferredCount = 0;
        if (stopsDeferred) {
            stopsDeferred = false;
            for (int w = 0; w < PORT_WORDS; w++) {
                long bits = deferredStops[w];
                deferredStops[w] = 0;
                while (bits != 0) {
                    int bit = Long.numberOfTrailingZeros(bits);
                    bits &= bits - 1;
                    service.stopListening(client, (w << 6) | bit);
                    work++;
                }
            }
        }
        sidePathPending.addAndGet(-sidePathTaken);
        sidePathTaken = 0;
        return work;
    }
}
