package io.fastpath.stack.wire;

import java.nio.ByteOrder;

import org.agrona.DirectBuffer;

/**
 * The internet checksum (RFC 1071): the 16-bit one's complement of the one's complement sum of the data
 * taken as 16-bit big-endian words.
 *
 * <p>Sums are carried as a <em>folded partial sum</em>: an {@code int} in {@code [0, 0xFFFF]}, not yet
 * complemented. Partial sums of separate ranges add up ({@link #partialSum(DirectBuffer, int, int, int)}
 * takes the previous sum), which is how the TCP pseudo-header is combined with the segment; every range but
 * the last must then have even length, because an odd range would shift the next one's bytes by one place.
 * {@link #finish(int)} complements a partial sum into the value written on the wire. To verify a received
 * checksum, sum the whole range including the checksum field: the result is {@code 0} when it is correct.
 *
 * <p>Stateless and allocation-free; reads only {@code [offset, offset + length)}.
 */
public final class Checksum {
    private static final ByteOrder NETWORK = ByteOrder.BIG_ENDIAN;

    private Checksum() {
    }

    /**
     * Internet checksum of {@code [offset, offset + length)}, ready to be written to the wire; an odd last
     * byte is padded with a zero octet (RFC 1071 §1). Over a range that already holds a correct checksum the
     * result is {@code 0}.
     */
    public static int checksum(DirectBuffer buffer, int offset, int length) {
        return finish(partialSum(buffer, offset, length, 0));
    }

    /**
     * Adds {@code [offset, offset + length)} to {@code initialSum} and returns the folded partial sum.
     * Words are read 64 bits at a time, in little-endian order, and summed as two 32-bit halves into four
     * accumulators (independent additions: the loop is not one chain of dependent adds); the 16-bit sum of
     * little-endian words is the byte-swapped sum of the big-endian ones (RFC 1071 §2(B)), and one's complement
     * addition is associative and commutative, so wider accumulators folded at the end give the same 16-bit sum
     * (§2(C)). The last 0-7 bytes are summed as big-endian words after it. {@code length} must be below
     * 2<sup>30</sup> so the accumulators cannot wrap.
     *
     * @param initialSum a previous partial sum (any {@code int}, taken as unsigned 32 bits), or {@code 0}
     */
    public static int partialSum(DirectBuffer buffer, int offset, int length, int initialSum) {
        int i = offset;
        final int end = offset + length;
        long sum = initialSum & 0xFFFF_FFFFL;
        if (end - i >= 8) {
            long s0 = 0;
            long s1 = 0;
            long s2 = 0;
            long s3 = 0;
            for (; end - i >= 32; i += 32) {
                final long w0 = buffer.getLong(i, ByteOrder.LITTLE_ENDIAN);
                final long w1 = buffer.getLong(i + 8, ByteOrder.LITTLE_ENDIAN);
                final long w2 = buffer.getLong(i + 16, ByteOrder.LITTLE_ENDIAN);
                final long w3 = buffer.getLong(i + 24, ByteOrder.LITTLE_ENDIAN);
                s0 += (w0 >>> 32) + (w0 & 0xFFFF_FFFFL);
                s1 += (w1 >>> 32) + (w1 & 0xFFFF_FFFFL);
                s2 += (w2 >>> 32) + (w2 & 0xFFFF_FFFFL);
                s3 += (w3 >>> 32) + (w3 & 0xFFFF_FFFFL);
            }
            for (; end - i >= 8; i += 8) {
                final long w = buffer.getLong(i, ByteOrder.LITTLE_ENDIAN);
                s0 += (w >>> 32) + (w & 0xFFFF_FFFFL);
            }
            // Each accumulator is below 2^59 (length < 2^30): their sum cannot wrap.
            final int little = fold(s0 + s1 + s2 + s3);
            sum += ((little & 0xFF) << 8) | (little >>> 8);
        }
        if (end - i >= 4) {
            sum += buffer.getInt(i, NETWORK) & 0xFFFF_FFFFL;
            i += 4;
        }
        if (end - i >= 2) {
            sum += buffer.getShort(i, NETWORK) & 0xFFFF;
            i += 2;
        }
        if (i < end) {
            sum += (buffer.getByte(i) & 0xFF) << 8;
        }
        return fold(sum);
    }

    /**
     * Partial sum of the IPv4 pseudo-header that TCP and UDP prepend to their checksum (RFC 9293 §3.1,
     * RFC 768): source, destination, zero octet and protocol, and the transport length in octets.
     */
    public static int pseudoHeaderSum(int source, int destination, int protocol, int length) {
        final long sum = (source >>> 16) + (source & 0xFFFF)
            + (destination >>> 16) + (destination & 0xFFFF)
            + (protocol & 0xFF) + (length & 0xFFFF);
        return fold(sum);
    }

    /** The checksum to write on the wire for a partial sum: its one's complement. */
    public static int finish(int partialSum) {
        return ~fold(partialSum & 0xFFFF_FFFFL) & 0xFFFF;
    }

    /**
     * RFC 1624 §3, eqn. 3: the new checksum after a 16-bit word covered by {@code checksum} changes from
     * {@code oldWord} to {@code newWord}, without re-summing the data: {@code HC' = ~(~HC + ~m + m')}.
     *
     * <p>One caveat of one's complement arithmetic: if the new data sum to zero the result is {@code 0x0000}
     * (-0) where a full recomputation gives {@code 0xFFFF}, and only a full recomputation can tell that
     * case from data summing to {@code 0xFFFF}. A result of {@code 0x0000} may therefore need recomputing
     * when the protocol cannot carry it; see {@link IcmpPacket#toEchoReply()}.
     */
    public static int update(int checksum, int oldWord, int newWord) {
        final long sum = (~checksum & 0xFFFF) + (~oldWord & 0xFFFF) + (newWord & 0xFFFF);
        return ~fold(sum) & 0xFFFF;
    }

    /** {@link #update(int, int, int)} for a 32-bit field such as an IPv4 address: both halves at once. */
    public static int update32(int checksum, int oldValue, int newValue) {
        final long sum = (~checksum & 0xFFFF)
            + (~oldValue >>> 16) + (~oldValue & 0xFFFF)
            + (newValue >>> 16) + (newValue & 0xFFFF);
        return ~fold(sum) & 0xFFFF;
    }

    /** Folds carries back into the low 16 bits (end-around carry, RFC 1071 §2(A)). Zero only if sum is 0. */
    static int fold(long sum) {
        sum = (sum & 0xFFFF_FFFFL) + (sum >>> 32);
        sum = (sum & 0xFFFF) + (sum >>> 16);
        sum = (sum & 0xFFFF) + (sum >>> 16);
        sum = (sum & 0xFFFF) + (sum >>> 16);
        return (int) sum;
    }
}
