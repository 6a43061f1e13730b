package io.fastpath.stack.wire;

import java.nio.ByteOrder;

import org.agrona.MutableDirectBuffer;

/**
 * Flyweight over an IPv4 header (RFC 791 §3.1), with the TOS octet read as DSCP and ECN (RFC 2474,
 * RFC 3168).
 *
 * <pre>
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |Version|  IHL  |   DSCP    |ECN|          Total Length         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |         Identification        |Flags|      Fragment Offset    |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Time to Live |    Protocol   |         Header Checksum       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                       Source Address                          |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                    Destination Address                        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                    Options                    |    Padding    |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   Flags: bit 0 reserved (zero), bit 1 DF, bit 2 MF.
 * </pre>
 *
 * <p>The memory belongs to the caller; this class only views {@code [offset, offset + length)} of it, where
 * {@code length} is what the link layer delivered. That may exceed the total length because Ethernet pads
 * short frames to 60 octets, so {@link #payloadLength()} is taken from the total length, never from
 * {@code length}. Options are not interpreted; they are skipped and their length reported.
 * Not thread-safe; preallocate one per agent and rewrap.
 */
public final class Ipv4Packet {
    private static final ByteOrder NETWORK = ByteOrder.BIG_ENDIAN;

    public static final int VERSION_IHL_OFFSET = 0;
    public static final int DSCP_ECN_OFFSET = 1;
    public static final int TOTAL_LENGTH_OFFSET = 2;
    public static final int IDENTIFICATION_OFFSET = 4;
    public static final int FLAGS_FRAGMENT_OFFSET_OFFSET = 6;
    public static final int TTL_OFFSET = 8;
    public static final int PROTOCOL_OFFSET = 9;
    public static final int HEADER_CHECKSUM_OFFSET = 10;
    public static final int SOURCE_OFFSET = 12;
    public static final int DESTINATION_OFFSET = 16;
    public static final int OPTIONS_OFFSET = 20;

    /** Header without options: IHL 5. */
    public static final int MIN_HEADER_LENGTH = 20;
    /** IHL is four bits: at most 15 words. */
    public static final int MAX_HEADER_LENGTH = 60;
    public static final int VERSION = 4;

    /** Don't Fragment, in the 16-bit flags/fragment-offset word. */
    public static final int FLAG_DF = 0x4000;
    /** More Fragments, in the 16-bit flags/fragment-offset word. */
    public static final int FLAG_MF = 0x2000;
    /** Fragment offset, in 8-octet units, in the 16-bit flags/fragment-offset word. */
    public static final int FRAGMENT_OFFSET_MASK = 0x1FFF;

    /** Assigned Internet Protocol Numbers (IANA). */
    public static final int PROTOCOL_ICMP = 1;
    public static final int PROTOCOL_TCP = 6;
    public static final int PROTOCOL_UDP = 17;

    /** TTL for datagrams we originate; Linux's default, and RFC 1700's recommendation. */
    public static final int DEFAULT_TTL = 64;

    private MutableDirectBuffer buffer;
    private int offset;
    private int length;

    public Ipv4Packet wrap(MutableDirectBuffer buffer, int offset, int length) {
        this.buffer = buffer;
        this.offset = offset;
        this.length = length;
        return this;
    }

    /**
     * Validates a received header (RFC 1122 §3.2.1.1-§3.2.1.2) and returns the first failure, in this order:
     * fewer than 20 octets ({@link WireError#TRUNCATED}); version not 4 ({@link WireError#BAD_VERSION});
     * IHL below 5 or past the end ({@link WireError#BAD_HEADER_LENGTH}); total length below the header or
     * past the end ({@link WireError#BAD_TOTAL_LENGTH}); header checksum wrong ({@link WireError#BAD_CHECKSUM});
     * a fragment ({@link WireError#FRAGMENT}: a valid header, for the caller to reassemble, as the stack does with
     * {@code io.fastpath.stack.ip.Ipv4Reassembly}).
     */
    public WireError check() {
        return check(false);
    }

    /**
     * As {@link #check()}; {@code checksumVerified}: the NIC has verified the header checksum already
     * ({@code RTE_MBUF_F_RX_IP_CKSUM_GOOD}), so it is not summed again.
     */
    public WireError check(boolean checksumVerified) {
        if (length < MIN_HEADER_LENGTH) {
            return WireError.TRUNCATED;
        }
        if (version() != VERSION) {
            return WireError.BAD_VERSION;
        }
        final int headerLength = headerLength();
        if (headerLength < MIN_HEADER_LENGTH || headerLength > length) {
            return WireError.BAD_HEADER_LENGTH;
        }
        final int totalLength = totalLength();
        if (totalLength < headerLength || totalLength > length) {
            return WireError.BAD_TOTAL_LENGTH;
        }
        int verify = checksumVerified ? 0 : headerLength == MIN_HEADER_LENGTH
            ? Checksum.finish(fixedHeaderSum(0xFFFF_FFFFL)) : Checksum.checksum(buffer, offset, headerLength);
        if (verify != 0) {
            return WireError.BAD_CHECKSUM;
        }
        if ((flagsAndFragmentOffset() & (FLAG_MF | FRAGMENT_OFFSET_MASK)) != 0) {
            return WireError.FRAGMENT;
        }
        return WireError.OK;
    }

    public MutableDirectBuffer buffer() {
        return buffer;
    }

    public int offset() {
        return offset;
    }

    public int length() {
        return length;
    }

    public int version() {
        return (buffer.getByte(offset + VERSION_IHL_OFFSET) & 0xFF) >>> 4;
    }

    public Ipv4Packet version(int version) {
        final int index = offset + VERSION_IHL_OFFSET;
        buffer.putByte(index, (byte) ((version << 4) | (buffer.getByte(index) & 0x0F)));
        return this;
    }

    /** Internet Header Length in 32-bit words. */
    public int ihl() {
        return buffer.getByte(offset + VERSION_IHL_OFFSET) & 0x0F;
    }

    /** Sets the Internet Header Length in 32-bit words (5..15). */
    public Ipv4Packet ihl(int words) {
        final int index = offset + VERSION_IHL_OFFSET;
        buffer.putByte(index, (byte) ((buffer.getByte(index) & 0xF0) | (words & 0x0F)));
        return this;
    }

    /** Header length in octets, options included: IHL * 4. */
    public int headerLength() {
        return ihl() << 2;
    }

    public int dscp() {
        return (buffer.getByte(offset + DSCP_ECN_OFFSET) & 0xFF) >>> 2;
    }

    public Ipv4Packet dscp(int dscp) {
        final int index = offset + DSCP_ECN_OFFSET;
        buffer.putByte(index, (byte) ((dscp << 2) | (buffer.getByte(index) & 0x03)));
        return this;
    }

    public int ecn() {
        return buffer.getByte(offset + DSCP_ECN_OFFSET) & 0x03;
    }

    public Ipv4Packet ecn(int ecn) {
        final int index = offset + DSCP_ECN_OFFSET;
        buffer.putByte(index, (byte) ((buffer.getByte(index) & 0xFC) | (ecn & 0x03)));
        return this;
    }

    /** Datagram length in octets, header and data. */
    public int totalLength() {
        return buffer.getShort(offset + TOTAL_LENGTH_OFFSET, NETWORK) & 0xFFFF;
    }

    public Ipv4Packet totalLength(int totalLength) {
        buffer.putShort(offset + TOTAL_LENGTH_OFFSET, (short) totalLength, NETWORK);
        return this;
    }

    public int identification() {
        return buffer.getShort(offset + IDENTIFICATION_OFFSET, NETWORK) & 0xFFFF;
    }

    public Ipv4Packet identification(int identification) {
        buffer.putShort(offset + IDENTIFICATION_OFFSET, (short) identification, NETWORK);
        return this;
    }

    /** The raw 16-bit word: flags in the top three bits ({@link #FLAG_DF}, {@link #FLAG_MF}), then the offset. */
    public int flagsAndFragmentOffset() {
        return buffer.getShort(offset + FLAGS_FRAGMENT_OFFSET_OFFSET, NETWORK) & 0xFFFF;
    }

    public Ipv4Packet flagsAndFragmentOffset(int value) {
        buffer.putShort(offset + FLAGS_FRAGMENT_OFFSET_OFFSET, (short) value, NETWORK);
        return this;
    }

    public boolean dontFragment() {
        return (flagsAndFragmentOffset() & FLAG_DF) != 0;
    }

    public boolean moreFragments() {
        return (flagsAndFragmentOffset() & FLAG_MF) != 0;
    }

    /** Fragment offset in units of 8 octets. */
    public int fragmentOffset() {
        return flagsAndFragmentOffset() & FRAGMENT_OFFSET_MASK;
    }

    public int ttl() {
        return buffer.getByte(offset + TTL_OFFSET) & 0xFF;
    }

    public Ipv4Packet ttl(int ttl) {
        buffer.putByte(offset + TTL_OFFSET, (byte) ttl);
        return this;
    }

    public int protocol() {
        return buffer.getByte(offset + PROTOCOL_OFFSET) & 0xFF;
    }

    public Ipv4Packet protocol(int protocol) {
        buffer.putByte(offset + PROTOCOL_OFFSET, (byte) protocol);
        return this;
    }

    public int headerChecksum() {
        return buffer.getShort(offset + HEADER_CHECKSUM_OFFSET, NETWORK) & 0xFFFF;
    }

    public Ipv4Packet headerChecksum(int checksum) {
        buffer.putShort(offset + HEADER_CHECKSUM_OFFSET, (short) checksum, NETWORK);
        return this;
    }

    public int source() {
        return buffer.getInt(offset + SOURCE_OFFSET, NETWORK);
    }

    public Ipv4Packet source(int address) {
        buffer.putInt(offset + SOURCE_OFFSET, address, NETWORK);
        return this;
    }

    public int destination() {
        return buffer.getInt(offset + DESTINATION_OFFSET, NETWORK);
    }

    public Ipv4Packet destination(int address) {
        buffer.putInt(offset + DESTINATION_OFFSET, address, NETWORK);
        return this;
    }

    /** Absolute buffer index of the options, if any. */
    public int optionsOffset() {
        return offset + OPTIONS_OFFSET;
    }

    /** Octets of options and padding: {@code headerLength() - 20}. */
    public int optionsLength() {
        return headerLength() - MIN_HEADER_LENGTH;
    }

    /** Absolute buffer index of the first payload octet, after any options. */
    public int payloadOffset() {
        return offset + headerLength();
    }

    /** {@code totalLength() - headerLength()}: excludes link-layer padding. */
    public int payloadLength() {
        return totalLength() - headerLength();
    }

    /**
     * The header checksum this header should carry (RFC 791 §3.1: the checksum field counts as zero), over
     * {@link #headerLength()} octets. The field itself is not read, so it need not be zeroed first.
     */
    public int computeHeaderChecksum() {
        if (headerLength() == MIN_HEADER_LENGTH) {
            return Checksum.finish(fixedHeaderSum(0xFFFF_0000L));
        }
        final int sum = Checksum.partialSum(buffer, offset, HEADER_CHECKSUM_OFFSET, 0);
        final int from = offset + HEADER_CHECKSUM_OFFSET + 2;
        return Checksum.finish(Checksum.partialSum(buffer, from, headerLength() - HEADER_CHECKSUM_OFFSET - 2, sum));
    }

    /**
     * The folded sum of a 20-octet header as five 32-bit words (RFC 1071 §2(B): wider words sum to the same
     * 16-bit result), the third word masked with {@code thirdWordMask} (0xFFFF0000 leaves the checksum field
     * out). Every datagram we send and nearly every one we receive has no options: this is what the generic
     * {@link Checksum#partialSum} loop computes for them, in five loads (docs/perf/budget.md).
     */
    private int fixedHeaderSum(long thirdWordMask) {
        long sum = (buffer.getInt(offset, NETWORK) & 0xFFFF_FFFFL)
            + (buffer.getInt(offset + IDENTIFICATION_OFFSET, NETWORK) & 0xFFFF_FFFFL)
            + (buffer.getInt(offset + TTL_OFFSET, NETWORK) & thirdWordMask)
            + (buffer.getInt(offset + SOURCE_OFFSET, NETWORK) & 0xFFFF_FFFFL)
            + (buffer.getInt(offset + DESTINATION_OFFSET, NETWORK) & 0xFFFF_FFFFL);
        return Checksum.fold(sum);
    }

    public Ipv4Packet fillHeaderChecksum() {
        return headerChecksum(computeHeaderChecksum());
    }

    /**
     * Swaps source and destination in place, to answer a datagram in the buffer it arrived in. The header
     * checksum is unchanged: one's complement addition is commutative.
     */
    public Ipv4Packet swapAddresses() {
        final int source = source();
        return source(destination()).destination(source);
    }

    /**
     * Writes a 20-octet header for a datagram we originate: no options, DSCP/ECN zero, DF set (we never
     * fragment; a too-big path answers with ICMP for PMTU discovery, RFC 1191), and a filled checksum.
     *
     * @param payloadLength octets after the header; the total length becomes {@code 20 + payloadLength}
     */
    public Ipv4Packet writeHeader(int ttl, int protocol, int source, int destination, int payloadLength,
                                  int identification) {
        // The five 32-bit words, with the checksum summed from the values in registers: no field is written
        // twice and nothing just written is read back (a load over several smaller stores still in the store
        // buffer waits for them: the field-by-field writes and fillHeaderChecksum cost that five times).
        final long word0 = ((VERSION << 4 | MIN_HEADER_LENGTH >>> 2) << 24) | ((MIN_HEADER_LENGTH + payloadLength) & 0xFFFF);
        final long word1 = ((long) (identification & 0xFFFF) << 16) | FLAG_DF;
        final long word2 = ((long) (ttl & 0xFF) << 24) | ((protocol & 0xFF) << 16);
        final long sum = word0 + word1 + word2 + (source & 0xFFFF_FFFFL) + (destination & 0xFFFF_FFFFL);
        final int checksum = Checksum.finish(Checksum.fold(sum));
        buffer.putInt(offset, (int) word0, NETWORK);
        buffer.putInt(offset + IDENTIFICATION_OFFSET, (int) word1, NETWORK);
        buffer.putInt(offset + TTL_OFFSET, (int) word2 | checksum, NETWORK);
        buffer.putInt(offset + SOURCE_OFFSET, source, NETWORK);
        buffer.putInt(offset + DESTINATION_OFFSET, destination, NETWORK);
        return this;
    }

    /** For logs and tests; allocates. */
    @Override
    public String toString() {
        final WireError error = check();
        if (error == WireError.TRUNCATED) {
            return "Ipv4Packet{truncated, length=" + length + "}";
        }
        return "Ipv4Packet{" + (error == WireError.OK ? "" : error + ", ")
            + "src=" + Ipv4Address.format(source()) + ", dst=" + Ipv4Address.format(destination())
            + ", proto=" + protocol() + ", ttl=" + ttl() + ", id=" + identification()
            + ", totalLength=" + totalLength() + ", headerLength=" + headerLength()
            + (dontFragment() ? ", DF" : "") + (moreFragments() ? ", MF" : "")
            + (fragmentOffset() != 0 ? ", fragOffset=" + fragmentOffset() : "") + "}";
    }
}
