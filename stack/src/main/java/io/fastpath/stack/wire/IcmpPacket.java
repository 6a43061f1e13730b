package io.fastpath.stack.wire;

import java.nio.ByteOrder;

import org.agrona.MutableDirectBuffer;

/**
 * Flyweight over an ICMP message (RFC 792). The second word is the identifier and sequence number for echo
 * messages, and type-specific ("unused", a pointer, a next-hop MTU) for the others.
 *
 * <pre>
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |     Type      |     Code      |          Checksum             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |           Identifier          |        Sequence Number        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |     Data ...
 * +-+-+-+-+-
 * </pre>
 *
 * <p>The memory belongs to the caller; this class only views {@code [offset, offset + length)} of it, where
 * {@code length} must be the IP payload length ({@link Ipv4Packet#payloadLength()}), not the frame's rest:
 * the checksum covers exactly the ICMP message, and Ethernet padding would spoil it.
 * Not thread-safe; preallocate one per agent and rewrap.
 */
public final class IcmpPacket {
    private static final ByteOrder NETWORK = ByteOrder.BIG_ENDIAN;

    public static final int TYPE_OFFSET = 0;
    public static final int CODE_OFFSET = 1;
    public static final int CHECKSUM_OFFSET = 2;
    public static final int IDENTIFIER_OFFSET = 4;
    public static final int SEQUENCE_NUMBER_OFFSET = 6;
    /** The type-specific second word, for messages other than echo. */
    public static final int REST_OF_HEADER_OFFSET = 4;
    public static final int HEADER_LENGTH = 8;

    public static final int TYPE_ECHO_REPLY = 0;
    public static final int TYPE_DESTINATION_UNREACHABLE = 3;
    public static final int TYPE_ECHO_REQUEST = 8;
    public static final int TYPE_TIME_EXCEEDED = 11;
    /** Destination unreachable, code 4: fragmentation needed and DF set (RFC 792; next-hop MTU: RFC 1191 §4). */
    public static final int CODE_FRAGMENTATION_NEEDED = 4;
    /** Time exceeded, code 1: fragment reassembly time exceeded (RFC 792; RFC 1122 §3.3.2). */
    public static final int CODE_REASSEMBLY_TIME_EXCEEDED = 1;

    private MutableDirectBuffer buffer;
    private int offset;
    private int length;

    public IcmpPacket wrap(MutableDirectBuffer buffer, int offset, int length) {
        this.buffer = buffer;
        this.offset = offset;
        this.length = length;
        return this;
    }

    /**
     * {@link WireError#TRUNCATED} if shorter than the 8-octet header; {@link WireError#BAD_CHECKSUM} if the
     * checksum over the whole message, header and data, does not verify (RFC 792, "Checksum"); else OK.
     */
    public WireError check() {
        if (length < HEADER_LENGTH) {
            return WireError.TRUNCATED;
        }
        if (Checksum.checksum(buffer, offset, length) != 0) {
            return WireError.BAD_CHECKSUM;
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

    public int type() {
        return buffer.getByte(offset + TYPE_OFFSET) & 0xFF;
    }

    public IcmpPacket type(int type) {
        buffer.putByte(offset + TYPE_OFFSET, (byte) type);
        return this;
    }

    public int code() {
        return buffer.getByte(offset + CODE_OFFSET) & 0xFF;
    }

    public IcmpPacket code(int code) {
        buffer.putByte(offset + CODE_OFFSET, (byte) code);
        return this;
    }

    public int checksum() {
        return buffer.getShort(offset + CHECKSUM_OFFSET, NETWORK) & 0xFFFF;
    }

    public IcmpPacket checksum(int checksum) {
        buffer.putShort(offset + CHECKSUM_OFFSET, (short) checksum, NETWORK);
        return this;
    }

    public int identifier() {
        return buffer.getShort(offset + IDENTIFIER_OFFSET, NETWORK) & 0xFFFF;
    }

    public IcmpPacket identifier(int identifier) {
        buffer.putShort(offset + IDENTIFIER_OFFSET, (short) identifier, NETWORK);
        return this;
    }

    public int sequenceNumber() {
        return buffer.getShort(offset + SEQUENCE_NUMBER_OFFSET, NETWORK) & 0xFFFF;
    }

    public IcmpPacket sequenceNumber(int sequenceNumber) {
        buffer.putShort(offset + SEQUENCE_NUMBER_OFFSET, (short) sequenceNumber, NETWORK);
        return this;
    }

    /** The second header word as one value: zero ("unused") for destination unreachable and time exceeded. */
    public int restOfHeader() {
        return buffer.getInt(offset + REST_OF_HEADER_OFFSET, NETWORK);
    }

    public IcmpPacket restOfHeader(int value) {
        buffer.putInt(offset + REST_OF_HEADER_OFFSET, value, NETWORK);
        return this;
    }

    /** Absolute buffer index of the data after the 8-octet header. */
    public int payloadOffset() {
        return offset + HEADER_LENGTH;
    }

    public int payloadLength() {
        return length - HEADER_LENGTH;
    }

    /** The checksum this message should carry over {@link #length()} octets; the field itself is not read. */
    public int computeChecksum() {
        final int sum = Checksum.partialSum(buffer, offset, CHECKSUM_OFFSET, 0);
        final int from = offset + CHECKSUM_OFFSET + 2;
        return Checksum.finish(Checksum.partialSum(buffer, from, length - CHECKSUM_OFFSET - 2, sum));
    }

    public IcmpPacket fillChecksum() {
        return checksum(computeChecksum());
    }

    /**
     * Turns a checked echo request into its echo reply in place (RFC 792, "Echo or Echo Reply Message": the
     * addresses are reversed, the type becomes 0, and identifier, sequence number and data are returned
     * unchanged). Only the type octet is written, and the checksum is updated incrementally (RFC 1624 §3,
     * eqn. 3) so the data is never re-summed. The IP header is the caller's: {@link Ipv4Packet#swapAddresses()}.
     *
     * <p>If the incremental result is {@code 0x0000} the whole message is summed once more: that result
     * cannot tell all-zero data (whose checksum must be {@code 0xFFFF}) from data summing to {@code 0xFFFF}
     * (see {@link Checksum#update(int, int, int)}); it happens once in 65536 replies at most.
     *
     * @return false, and nothing written, if this is not an echo request
     */
    public boolean toEchoReply() {
        final int index = offset + TYPE_OFFSET;
        final int oldWord = buffer.getShort(index, NETWORK) & 0xFFFF;
        if (oldWord >>> 8 != TYPE_ECHO_REQUEST) {
            return false;
        }
        buffer.putByte(index, (byte) TYPE_ECHO_REPLY);
        final int newWord = (TYPE_ECHO_REPLY << 8) | (oldWord & 0xFF);
        final int checksum = Checksum.update(checksum(), oldWord, newWord);
        checksum(checksum != 0 ? checksum : computeChecksum());
        return true;
    }

    /** For logs and tests; allocates. */
    @Override
    public String toString() {
        if (length < HEADER_LENGTH) {
            return "IcmpPacket{truncated, length=" + length + "}";
        }
        return "IcmpPacket{type=" + type() + ", code=" + code() + ", checksum=0x" + Integer.toHexString(checksum())
            + ", id=" + identifier() + ", seq=" + sequenceNumber() + ", length=" + length + "}";
    }
}
