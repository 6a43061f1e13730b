package io.fastpath.stack.ip;

import io.fastpath.stack.counters.DropReason;
import io.fastpath.stack.counters.StackCounters;
import io.fastpath.stack.wire.Ipv4Packet;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * IPv4 reassembly (RFC 791 §3.2, RFC 1122 §3.3.2: a host MUST reassemble): fragments are held as the buffers
 * they arrived in, keyed by (source, destination, protocol, identification), until the datagram is whole; then
 * their payloads are copied, once, into one fresh buffer behind the first fragment's link and IPv4 headers (total
 * length set, MF and offset cleared, header checksum recomputed), which goes on through IPv4 input as if it had
 * arrived in one piece.
 *
 * <p>Read first: RFC 791 §3.2 (the reassembly procedure), RFC 815 (holes: here the fragments are kept as
 * intervals, a datagram is complete when the last fragment is in and the intervals cover it), RFC 1122 §3.3.2,
 * RFC 5722 §4 with erratum 3089 and RFC 8900 §3 (overlapping fragments are an attack: the datagram is dropped).
 * Behaviour follows Linux's net/ipv4/ip_fragment.c where the RFCs leave a choice:
 * <ul>
 *   <li>a fragment that lies wholly within one already held is a duplicate: dropped alone, the datagram kept
 *       (Linux's IPFRAG_DUP); any other overlap drops the whole datagram (Linux 4.20+, "ip: discard IPv4
 *       datagrams with overlapping segments"), counted in {@code ipv4 reassembly: overlaps};</li>
 *   <li>a fragment other than the last whose data is not a multiple of 8 octets, an empty one, one that ends past
 *       65,535 octets, a second last fragment with another end, or data past a known end: malformed (Linux drops
 *       the datagram for the last three; so do we, for all of them).</li>
 * </ul>
 *
 * <h2>Bounds (a hostile peer's view)</h2>
 * Everything is sized at construction: at most {@code maxDatagrams} datagrams in progress, {@code maxFragments}
 * fragments each, {@code maxBuffers} buffers held over all of them. A fragment that needs room that is not
 * there (a new datagram with the table full, a buffer over the limit) evicts the <em>oldest</em> incomplete
 * datagram: a flood of fragments that never complete cannot lock out reassembly for others, nor take more of the
 * pool than {@code maxBuffers} (Linux refuses new datagrams above ipfrag_high_thresh instead, so a flood there
 * locks legitimate fragments out until its queues time out). A datagram whose fragments would exceed
 * {@code maxFragments}, or whose reassembly would not fit one buffer ({@code bufferBytes} from the data
 * address), is dropped as soon as that is known. An incomplete datagram is dropped {@code timeoutNs} after its
 * first fragment arrived (RFC 1122 §3.3.2: a fixed time-out).
 *
 * <p>Costs: a fragment's datagram is found by a scan of the table (64 slots by default: fragments are off the
 * TCP fast path), its overlap check scans the datagram's fragments. {@link #poll} is two compares while
 * nothing expires: it scans the table only once the earliest deadline has passed. No allocation after
 * construction.
 *
 * <p>Thread: the poll thread. Buffers: a fragment given to {@link #input} belongs to this class from then on
 * (held, or freed through {@link PacketMemory#free} and counted by its {@link DropReason}); the whole datagram
 * it returns belongs to the caller. {@link #close} frees everything held.
 */
public final class Ipv4Reassembly {
    /** Defaults: datagrams in progress, fragments each, buffers held over all of them, time-out. */
    public static final int DEFAULT_MAX_DATAGRAMS = 64;
    public static final int DEFAULT_MAX_FRAGMENTS = 64;
    public static final int DEFAULT_MAX_BUFFERS = 1024;
    public static final long DEFAULT_TIMEOUT_NS = 30_000_000_000L;

    /**
     * Told of a datagram that timed out with its first fragment in: RFC 1122 §3.3.2 has the host send ICMP Time
     * Exceeded (code 1, fragment reassembly time exceeded) to the source then, as Linux's ip_expire does.
     */
    @FunctionalInterface
    public interface TimedOut {
        /**
         * {@code firstFragment} (its IPv4 header {@code ipOffset} bytes from its data address, at least 8 bytes
         * of payload behind it) is the callee's from now on: it may build the ICMP message in it, or free it.
         */
        void onTimedOut(long firstFragment, int ipOffset);
    }

    /** The largest IPv4 datagram (RFC 791: a 16-bit total length). */
    private static final int MAX_DATAGRAM = 65_535;

    private final PacketMemory memory;
    private final StackCounters counters;
    private final int maxDatagrams;
    private final int maxFragments;
    private final int maxBuffers;
    private final long timeoutNs;
    private final int bufferBytes;
    private TimedOut timedOut;

    // One datagram per slot. inUse[i] false: the slot is free.
    private final boolean[] inUse;
    private final int[] source;
    private final int[] destination;
    /** protocol << 16 | identification. */
    private final int[] protocolAndId;
    private final long[] createdNs;
    /** Where each datagram's IPv4 header starts in its fragments' buffers (the link header's length). */
    private final int[] ipOffsets;
    /** Payload length, once the last fragment (MF clear) is in; -1 before. */
    private final int[] totalPayload;
    /** Payload bytes held (the fragments never overlap, so the datagram is whole when this reaches its length). */
    private final int[] heldBytes;
    private final int[] fragmentCount;
    /** The largest payload end seen (a fragment ending past a known last fragment's end is malformed). */
    private final int[] maxEnd;

    // Fragments of slot i at [i * maxFragments, i * maxFragments + fragmentCount[i]), in arrival order.
    private final long[] fragmentBuffer;
    /** Payload start and end (octets into the datagram's payload) of each fragment. */
    private final int[] fragmentStart;
    private final int[] fragmentEnd;
    /** Where the fragment's payload starts, from its buffer's data address (link and IP headers before it). */
    private final int[] fragmentDataOffset;

    private int datagrams;
    private int buffersHeld;
    /** No datagram expires before this (a lower bound: removals leave it early, the next scan corrects it). */
    private long nextExpiryNs = Long.MAX_VALUE;

    private final UnsafeBuffer in = new UnsafeBuffer(0, 0);
    private final UnsafeBuffer out = new UnsafeBuffer(0, 0);
    private final Ipv4Packet ip = new Ipv4Packet();

    /**
     * @param memory where fragments are freed and the whole datagram's buffer comes from
     * @param counters where reassembly counts (datagram counters, and a drop reason per fragment freed)
     * @param maxDatagrams datagrams in progress at once (1..4096)
     * @param maxFragments fragments held per datagram (1..8192)
     * @param maxBuffers buffers held over all datagrams (at least 1)
     * @param timeoutNs how long an incomplete datagram is kept after its first fragment
     * @param bufferBytes bytes a buffer holds from its data address: the largest frame a whole datagram may become
     */
    public Ipv4Reassembly(PacketMemory memory, StackCounters counters, int maxDatagrams, int maxFragments,
                          int maxBuffers, long timeoutNs, int bufferBytes) {
        if (maxDatagrams < 1 || maxDatagrams > 4096 || maxFragments < 1 || maxFragments > 8192 || maxBuffers < 1
            || timeoutNs <= 0 || bufferBytes < Ipv4Packet.MIN_HEADER_LENGTH) {
            throw new IllegalArgumentException("reassembly limits: " + maxDatagrams + " datagrams, " + maxFragments
                + " fragments, " + maxBuffers + " buffers, " + timeoutNs + " ns, " + bufferBytes + " bytes");
        }
        this.memory = memory;
        this.counters = counters;
        this.maxDatagrams = maxDatagrams;
        this.maxFragments = maxFragments;
        this.maxBuffers = maxBuffers;
        this.timeoutNs = timeoutNs;
        this.bufferBytes = bufferBytes;
        inUse = new boolean[maxDatagrams];
        source = new int[maxDatagrams];
        destination = new int[maxDatagrams];
        protocolAndId = new int[maxDatagrams];
        createdNs = new long[maxDatagrams];
        totalPayload = new int[maxDatagrams];
        ipOffsets = new int[maxDatagrams];
        heldBytes = new int[maxDatagrams];
        fragmentCount = new int[maxDatagrams];
        maxEnd = new int[maxDatagrams];
        int all = Math.multiplyExact(maxDatagrams, maxFragments);
        fragmentBuffer = new long[all];
        fragmentStart = new int[all];
        fragmentEnd = new int[all];
        fragmentDataOffset = new int[all];
    }

    /**
     * A received fragment: {@code buffer}'s IPv4 header, at {@code ipOffset} from its data address, has been
     * checked (version, lengths, checksum) and is for us; MF is set or the offset is not zero.
     *
     * @return 0 if the fragment is held (or was dropped, counted); else a fresh buffer holding the whole
     *     datagram, its IPv4 header at {@code ipOffset} behind a copy of the first fragment's first
     *     {@code ipOffset} bytes (the link header), its frame {@code ipOffset + totalLength} bytes long: the
     *     caller sets the buffer's length and owns it
     */
    public long input(long buffer, int ipOffset, long nowNs) {
        counters.ipFragmentsReceived.incrementRelease();
        long data = memory.dataAddress(buffer);
        in.wrap(data + ipOffset, Ipv4Packet.MAX_HEADER_LENGTH);
        ip.wrap(in, 0, Ipv4Packet.MAX_HEADER_LENGTH);
        int headerLength = ip.headerLength();
        int payload = ip.totalLength() - headerLength;
        int word = ip.flagsAndFragmentOffset();
        int start = (word & Ipv4Packet.FRAGMENT_OFFSET_MASK) << 3;
        int end = start + payload;
        boolean last = (word & Ipv4Packet.FLAG_MF) == 0;
        int src = ip.source();
        int dst = ip.destination();
        int key = ip.protocol() << 16 | ip.identification();

        int slot = find(src, dst, key);
        // RFC 791 §3.2: every fragment but the last carries a multiple of 8 octets; none is empty, none ends
        // past the largest datagram.
        if (payload == 0 || (!last && (payload & 7) != 0) || end + headerLength > MAX_DATAGRAM) {
            return malformed(slot, buffer);
        }
        if (slot >= 0) {
            int known = totalPayload[slot];
            if (last ? (known >= 0 && known != end) || maxEnd[slot] > end : known >= 0 && end > known) {
                return malformed(slot, buffer);
            }
            int base = slot * maxFragments;
            for (int i = base, n = base + fragmentCount[slot]; i < n; i++) {
                int s = fragmentStart[i];
                int e = fragmentEnd[i];
                if (start >= s && end <= e) {
                    // Wholly within one we hold: a duplicate (a router or the sender repeated it).
                    counters.drop(DropReason.IP_FRAGMENT_DUPLICATE).incrementRelease();
                    memory.free(buffer);
                    return 0;
                }
                if (start < e && s < end) {
                    counters.ipReassemblyOverlaps.incrementRelease();
                    discard(slot, DropReason.IP_FRAGMENT_OVERLAP);
                    counters.drop(DropReason.IP_FRAGMENT_OVERLAP).incrementRelease();
                    memory.free(buffer);
                    return 0;
                }
            }
            if (fragmentCount[slot] == maxFragments) {
                return tooBig(slot, buffer);
            }
        }
        // The whole datagram must fit one buffer: link header, an IP header (at least this one's), the payload.
        if (ipOffset + headerLength + Math.max(end, slot >= 0 ? maxEnd[slot] : 0) > bufferBytes) {
            return tooBig(slot, buffer);
        }
        if (slot < 0) {
            if (datagrams == maxDatagrams) {
                evictFor(src, -1);
            }
            slot = claim(src, dst, key, nowNs);
            ipOffsets[slot] = ipOffset;
        }
        if (buffersHeld == maxBuffers) {
            evictFor(src, slot);
            if (buffersHeld == maxBuffers) {
                // This datagram itself holds every buffer the limit allows.
                return tooBig(slot, buffer);
            }
        }
        int at = slot * maxFragments + fragmentCount[slot]++;
        fragmentBuffer[at] = buffer;
        fragmentStart[at] = start;
        fragmentEnd[at] = end;
        fragmentDataOffset[at] = ipOffset + headerLength;
        heldBytes[slot] += payload;
        maxEnd[slot] = Math.max(maxEnd[slot], end);
        if (last) {
            totalPayload[slot] = end;
        }
        buffersHeld++;
        counters.ipReassemblyHeld.setRelease(buffersHeld);
        if (totalPayload[slot] >= 0 && heldBytes[slot] == totalPayload[slot]) {
            return complete(slot, ipOffset);
        }
        return 0;
    }

    /**
     * Drops datagrams whose time is up (RFC 1122 §3.3.2), freeing their fragments: two compares unless the
     * earliest deadline has passed. Returns how many were dropped.
     */
    public int poll(long nowNs) {
        if (datagrams == 0 || nowNs - nextExpiryNs < 0) {
            return 0;
        }
        int expired = 0;
        long next = Long.MAX_VALUE;
        for (int slot = 0; slot < maxDatagrams; slot++) {
            if (!inUse[slot]) {
                continue;
            }
            long deadline = createdNs[slot] + timeoutNs;
            if (nowNs - deadline >= 0) {
                counters.ipReassemblyTimeouts.incrementRelease();
                expire(slot);
                expired++;
            } else if (deadline - next < 0 || next == Long.MAX_VALUE) {
                next = deadline;
            }
        }
        nextExpiryNs = next;
        return expired;
    }

    /** Who hears of datagrams that time out with their first fragment in (null: nobody, the fragment is freed). */
    public void onTimedOut(TimedOut listener) {
        this.timedOut = listener;
    }

    /** Datagrams in progress. */
    public int datagramsInProgress() {
        return datagrams;
    }

    /** Fragment buffers held over all datagrams in progress. */
    public int buffersHeld() {
        return buffersHeld;
    }

    public int maxBuffers() {
        return maxBuffers;
    }

    public int maxDatagrams() {
        return maxDatagrams;
    }

    public long timeoutNs() {
        return timeoutNs;
    }

    /** Frees every fragment held (the stack is closing; poll thread, last). Nothing is counted as a drop. */
    public void close() {
        for (int slot = 0; slot < maxDatagrams; slot++) {
            if (inUse[slot]) {
                int base = slot * maxFragments;
                for (int i = base, n = base + fragmentCount[slot]; i < n; i++) {
                    memory.free(fragmentBuffer[i]);
                }
                release(slot);
            }
        }
    }

    // ------------------------------------------------------------------------------------------ internals

    private int find(int src, int dst, int key) {
        if (datagrams == 0) {
            return -1;
        }
        for (int slot = 0; slot < maxDatagrams; slot++) {
            if (inUse[slot] && protocolAndId[slot] == key && source[slot] == src && destination[slot] == dst) {
                return slot;
            }
        }
        return -1;
    }

    private int claim(int src, int dst, int key, long nowNs) {
        for (int slot = 0; slot < maxDatagrams; slot++) {
            if (!inUse[slot]) {
                inUse[slot] = true;
                source[slot] = src;
                destination[slot] = dst;
                protocolAndId[slot] = key;
                createdNs[slot] = nowNs;
                totalPayload[slot] = -1;
                heldBytes[slot] = 0;
                fragmentCount[slot] = 0;
                maxEnd[slot] = 0;
                datagrams++;
                long deadline = nowNs + timeoutNs;
                if (nextExpiryNs == Long.MAX_VALUE || deadline - nextExpiryNs < 0) {
                    nextExpiryNs = deadline;
                }
                return slot;
            }
        }
        throw new IllegalStateException("no free slot with " + datagrams + " of " + maxDatagrams + " in use");
    }

    /**
     * Makes room for a datagram of {@code src}: evicts that source's own oldest datagram in progress when it already
     * holds an eighth of the table or more (one sender flooding new datagrams then only evicts its own), else the
     * oldest of all; never {@code keep}. One scan of the table.
     */
    private void evictFor(int src, int keep) {
        int oldest = -1;
        int oldestOfSource = -1;
        int ofSource = 0;
        for (int slot = 0; slot < maxDatagrams; slot++) {
            if (!inUse[slot] || slot == keep) {
                continue;
            }
            if (oldest < 0 || createdNs[slot] - createdNs[oldest] < 0) {
                oldest = slot;
            }
            if (source[slot] == src) {
                ofSource++;
                if (oldestOfSource < 0 || createdNs[slot] - createdNs[oldestOfSource] < 0) {
                    oldestOfSource = slot;
                }
            }
        }
        if (oldestOfSource >= 0 && ofSource >= Math.max(1, maxDatagrams / 8)) {
            oldest = oldestOfSource;
        }
        if (oldest >= 0) {
            counters.ipReassemblyEvicted.incrementRelease();
            discard(oldest, DropReason.IP_FRAGMENT_EVICTED);
        }
    }

    private long malformed(int slot, long buffer) {
        counters.ipReassemblyFailed.incrementRelease();
        if (slot >= 0) {
            discard(slot, DropReason.IP_FRAGMENT_MALFORMED);
        }
        counters.drop(DropReason.IP_FRAGMENT_MALFORMED).incrementRelease();
        memory.free(buffer);
        return 0;
    }

    private long tooBig(int slot, long buffer) {
        counters.ipReassemblyTooBig.incrementRelease();
        if (slot >= 0) {
            discard(slot, DropReason.IP_FRAGMENT_TOO_BIG);
        }
        counters.drop(DropReason.IP_FRAGMENT_TOO_BIG).incrementRelease();
        memory.free(buffer);
        return 0;
    }

    /** A time-out: the first fragment, if it came, to the listener; the rest freed and counted. */
    private void expire(int slot) {
        int base = slot * maxFragments;
        int n = fragmentCount[slot];
        long first = 0;
        for (int i = base; i < base + n; i++) {
            if (fragmentStart[i] == 0 && timedOut != null && first == 0) {
                first = fragmentBuffer[i];
            } else {
                memory.free(fragmentBuffer[i]);
            }
        }
        counters.drop(DropReason.IP_FRAGMENT_TIMEOUT).getAndAddRelease(first != 0 ? n - 1 : n);
        int ipOffset = ipOffsets[slot];
        release(slot);
        if (first != 0) {
            timedOut.onTimedOut(first, ipOffset);
        }
    }

    /** Frees a datagram's fragments, each counted as a drop for {@code reason}, and the slot. */
    private void discard(int slot, DropReason reason) {
        int base = slot * maxFragments;
        int n = fragmentCount[slot];
        for (int i = base; i < base + n; i++) {
            memory.free(fragmentBuffer[i]);
        }
        if (n > 0) {
            counters.drop(reason).getAndAddRelease(n);
        }
        release(slot);
    }

    private void release(int slot) {
        buffersHeld -= fragmentCount[slot];
        fragmentCount[slot] = 0;
        inUse[slot] = false;
        datagrams--;
        counters.ipReassemblyHeld.setRelease(buffersHeld);
    }

    /**
     * Copies the datagram into a fresh buffer: the first fragment's link and IPv4 headers (options included:
     * RFC 791 §3.2 keeps the first fragment's), then each fragment's payload at its offset.
     */
    private long complete(int slot, int ipOffset) {
        int base = slot * maxFragments;
        int n = fragmentCount[slot];
        int first = -1;
        for (int i = base; i < base + n; i++) {
            if (fragmentStart[i] == 0) {
                first = i;
                break;
            }
        }
        int payload = totalPayload[slot];
        // Complete means the payload is covered from 0, so the first fragment is here.
        int headerEnd = fragmentDataOffset[first];
        if (headerEnd + payload > bufferBytes) {
            counters.ipReassemblyTooBig.incrementRelease();
            discard(slot, DropReason.IP_FRAGMENT_TOO_BIG);
            return 0;
        }
        long whole = memory.allocate();
        if (whole == 0) {
            counters.ipReassemblyFailed.incrementRelease();
            discard(slot, DropReason.IP_FRAGMENT_NO_BUFFER);
            return 0;
        }
        out.wrap(memory.dataAddress(whole), headerEnd + payload);
        in.wrap(memory.dataAddress(fragmentBuffer[first]), headerEnd);
        out.putBytes(0, in, 0, headerEnd);
        for (int i = base; i < base + n; i++) {
            int length = fragmentEnd[i] - fragmentStart[i];
            in.wrap(memory.dataAddress(fragmentBuffer[i]) + fragmentDataOffset[i], length);
            out.putBytes(headerEnd + fragmentStart[i], in, 0, length);
            memory.free(fragmentBuffer[i]);
        }
        release(slot);
        ip.wrap(out, ipOffset, headerEnd - ipOffset + payload);
        ip.totalLength(headerEnd - ipOffset + payload)
            .flagsAndFragmentOffset(ip.flagsAndFragmentOffset() & Ipv4Packet.FLAG_DF)
            .fillHeaderChecksum();
        counters.ipReassembled.incrementRelease();
        return whole;
    }
}
