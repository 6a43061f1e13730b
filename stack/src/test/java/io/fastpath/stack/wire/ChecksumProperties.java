package io.fastpath.stack.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteOrder;

import net.jqwik.api.Assume;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.agrona.concurrent.UnsafeBuffer;

class ChecksumProperties {
    /** RFC 1071 §1 read literally: 16-bit big-endian words, odd octet padded, end-around carry each step. */
    static int naiveChecksum(byte[] bytes, int offset, int length) {
        int sum = 0;
        for (int i = 0; i < length; i += 2) {
            final int high = bytes[offset + i] & 0xFF;
            final int low = i + 1 < length ? bytes[offset + i + 1] & 0xFF : 0;
            sum += (high << 8) | low;
            sum = (sum & 0xFFFF) + (sum >>> 16);
        }
        return ~sum & 0xFFFF;
    }

    @Property
    void checksumEqualsNaiveReference_rfc1071(@ForAll @Size(max = 200) byte[] bytes,
                                             @ForAll @IntRange(max = 9) int skip) {
        Assume.that(skip <= bytes.length);
        // Exact-size buffer: bounds checks catch any read past the range.
        final UnsafeBuffer buffer = new UnsafeBuffer(bytes);
        assertEquals(naiveChecksum(bytes, skip, bytes.length - skip), Checksum.checksum(buffer, skip, bytes.length - skip));
    }

    /** RFC 1071's sum read literally from an unsigned 32-bit start: big-endian words, carries folded at the end. */
    static int naivePartialSum(byte[] bytes, int offset, int length, int initialSum) {
        long sum = initialSum & 0xFFFF_FFFFL;
        for (int i = 0; i < length; i += 2) {
            final int high = bytes[offset + i] & 0xFF;
            final int low = i + 1 < length ? bytes[offset + i + 1] & 0xFF : 0;
            sum += (high << 8) | low;
        }
        while ((sum >>> 16) != 0) {
            sum = (sum & 0xFFFF) + (sum >>> 16);
        }
        return (int) sum;
    }

    /**
     * The unrolled little-endian loop (32 and 8 bytes a step, byte-swapped at the end) against the literal sum:
     * ranges of every length and start up to segment sizes, any starting sum, and all-ones data (whose sum
     * folds to 0xFFFF, the one's complement zero that must not turn into 0).
     */
    @Property
    void partialSumEqualsNaiveReferenceForLongRangesAndAnyStart_rfc1071(
            @ForAll @Size(max = 3000) byte[] bytes, @ForAll @IntRange(max = 40) int skip, @ForAll int initialSum,
            @ForAll boolean allOnes) {
        Assume.that(skip <= bytes.length);
        if (allOnes) {
            java.util.Arrays.fill(bytes, (byte) 0xFF);
        }
        final UnsafeBuffer buffer = new UnsafeBuffer(bytes);
        assertEquals(naivePartialSum(bytes, skip, bytes.length - skip, initialSum),
            Checksum.partialSum(buffer, skip, bytes.length - skip, initialSum));
    }

    @Property
    void partialSumContinuesAcrossAnEvenSplit_rfc1071_s2(@ForAll @Size(max = 200) byte[] bytes,
                                                         @ForAll @IntRange(max = 100) int halfSplit) {
        final int split = Math.min(2 * halfSplit, bytes.length & ~1);
        final UnsafeBuffer buffer = new UnsafeBuffer(bytes);
        final int first = Checksum.partialSum(buffer, 0, split, 0);
        final int both = Checksum.partialSum(buffer, split, bytes.length - split, first);
        assertEquals(Checksum.partialSum(buffer, 0, bytes.length, 0), both);
    }

    @Property
    void pseudoHeaderSumEqualsSumOfItsTwelveOctets_rfc9293_s3_1(@ForAll int source, @ForAll int destination,
                                                                @ForAll @IntRange(max = 255) int protocol,
                                                                @ForAll @IntRange(max = 65535) int length) {
        final UnsafeBuffer pseudo = new UnsafeBuffer(new byte[12]);
        pseudo.putInt(0, source, ByteOrder.BIG_ENDIAN);
        pseudo.putInt(4, destination, ByteOrder.BIG_ENDIAN);
        pseudo.putByte(9, (byte) protocol);
        pseudo.putShort(10, (short) length, ByteOrder.BIG_ENDIAN);
        assertEquals(Checksum.finish(Checksum.partialSum(pseudo, 0, 12, 0)),
            Checksum.finish(Checksum.pseudoHeaderSum(source, destination, protocol, length)));
    }

    /**
     * Data with a checksum word at index 0; one other word changes. Eqn. 3 matches recomputation except in
     * the one case one's complement cannot avoid: new data all zero gives -0 (0x0000) instead of 0xFFFF.
     */
    @Property
    void incrementalUpdateEqualsFullRecomputation_rfc1624_s3(@ForAll @Size(min = 2, max = 100) short[] words,
                                                             @ForAll @IntRange(max = 99) int changed,
                                                             @ForAll short newWord) {
        final UnsafeBuffer data = new UnsafeBuffer(new byte[2 + 2 * words.length]);
        for (int i = 0; i < words.length; i++) {
            data.putShort(2 + 2 * i, words[i], ByteOrder.BIG_ENDIAN);
        }
        final int at = 2 + 2 * (changed % words.length);
        final int checksum = Checksum.checksum(data, 2, data.capacity() - 2);
        final int oldWord = data.getShort(at, ByteOrder.BIG_ENDIAN) & 0xFFFF;
        data.putShort(at, newWord, ByteOrder.BIG_ENDIAN);

        final int incremental = Checksum.update(checksum, oldWord, newWord & 0xFFFF);
        final int recomputed = Checksum.checksum(data, 2, data.capacity() - 2);
        if (Checksum.partialSum(data, 2, data.capacity() - 2, 0) == 0) {
            assertEquals(0xFFFF, recomputed);
            assertEquals(0x0000, incremental);
        } else {
            assertEquals(recomputed, incremental);
        }
    }

    @Property
    void incrementalUpdateOf32BitFieldEqualsFullRecomputation_rfc1624_s3(@ForAll @Size(min = 20, max = 20) byte[] header,
                                                                         @ForAll int newAddress) {
        final UnsafeBuffer buffer = new UnsafeBuffer(header);
        buffer.putByte(0, (byte) 0x45); // never all zero, so the -0 case cannot arise
        final Ipv4Packet ip = new Ipv4Packet().wrap(buffer, 0, 20).fillHeaderChecksum();
        final int checksum = ip.headerChecksum();
        final int oldAddress = ip.destination();
        ip.destination(newAddress);
        assertEquals(ip.computeHeaderChecksum(), Checksum.update32(checksum, oldAddress, newAddress));
    }
}
