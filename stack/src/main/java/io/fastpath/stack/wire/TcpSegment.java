package io.fastpath.stack.wire;

import java.nio.ByteOrder;

import org.agrona.MutableDirectBuffer;

/**
 * Flyweight over a TCP header (RFC 9293 §3.1); options are read with {@link TcpOptions}.
 *
 * <pre>
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |          Source Port          |       Destination Port        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                        Sequence Number                        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                    Acknowledgment Number                      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Data |       |C|E|U|A|P|R|S|F|                               |
 * | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
 * |       |       |R|E|G|K|H|T|N|N|                               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |           Checksum            |         Urgent Pointer        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                           [Options]                           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                             Data ...                          :
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * </pre>
 *
 * <p>The memory belongs to the caller; this class only views {@code [offset, offset + length)} of it, where
 * {@code length} must be the IP payload length ({@link Ipv4Packet#payloadLength()}): it is the TCP length of
 * the pseudo-header and bounds the data. Sequence and acknowledgment numbers are returned as raw
 * {@code int}s; compare them modulo 2<sup>32</sup> (RFC 9293 §3.4). Not thread-safe; preallocate and rewrap.
 */
public final class TcpSegment {
    private static final ByteOrder NETWORK = ByteOrder.BIG_ENDIAN;

    public static final int SOURCE_PORT_OFFSET = 0;
    public static final int DESTINATION_PORT_OFFSET = 2;
    public static final int SEQUENCE_NUMBER_OFFSET = 4;
    public static final int ACKNOWLEDGMENT_NUMBER_OFFSET = 8;
    /** Data offset in the high nibble; the low nibble is reserved and sent as zero. */
    public static final int DATA_OFFSET_OFFSET = 12;
    public static final int FLAGS_OFFSET = 13;
    public static final int WINDOW_OFFSET = 14;
    public static final int CHECKSUM_OFFSET = 16;
    public static final int URGENT_POINTER_OFFSET = 18;
    public static final int OPTIONS_OFFSET = 20;

    public static final int MIN_HEADER_LENGTH = 20;
    /** Data offset is four bits: at most 15 words, so at most 40 octets of options. */
    public static final int MAX_HEADER_LENGTH = 60;
    public static final int MAX_OPTIONS_LENGTH = MAX_HEADER_LENGTH - MIN_HEADER_LENGTH;

    /** Control bits, in the flags octet (RFC 9293 §3.1; ECE and CWR from RFC 3168 §6.1). */
    public static final int FIN = 0x01;
    public static final int SYN = 0x02;
    public static final int RST = 0x04;
    public static final int PSH = 0x08;
    public static final int ACK = 0x10;
    public static final int URG = 0x20;
    public static final int ECE = 0x40;
    public static final int CWR = 0x80;

    private MutableDirectBuffer buffer;
    private int offset;
    private int length;

    public TcpSegment wrap(MutableDirectBuffer buffer, int offset, int length) {
        this.buffer = buffer;
        this.offset = offset;
        this.length = length;
        return this;
    }

    /**
     * Validates a received segment against the addresses of the datagram that carried it:
     * {@link WireError#TRUNCATED} if shorter than 20 octets; {@link WireError#BAD_HEADER_LENGTH} if the data
     * offset is below 5 words or past the end; {@link WireError#BAD_CHECKSUM} if the checksum over the
     * pseudo-header, header and data does not verify (RFC 9293 §3.1, MUST-2/MUST-3); else OK.
     * Options are checked separately by {@link TcpOptions#parse(TcpSegment)}.
     */
    public WireError check(int sourceAddress, int destinationAddress) {
        return check(sourceAddress, destinationAddress, true);
    }

    /**
     * As {@link #check(int, int)}, optionally without the checksum (the NIC verified it: the mbuf says
     * {@code RTE_MBUF_F_RX_L4_CKSUM_GOOD}).
     */
    public WireError check(int sourceAddress, int destinationAddress, boolean verifyChecksum) {
        if (length < MIN_HEADER_LENGTH) {
            return WireError.TRUNCATED;
        }
        final int headerLength = headerLength();
        if (headerLength < MIN_HEADER_LENGTH || headerLength > length) {
            return WireError.BAD_HEADER_LENGTH;
        }
        if (!verifyChecksum) {
            return WireError.OK;
        }
        final int pseudo = Checksum.pseudoHeaderSum(sourceAddress, destinationAddress, Ipv4Packet.PROTOCOL_TCP, length);
        if (Checksum.finish(Checksum.partialSum(buffer, offset, length, pseudo)) != 0) {
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

    public int sourcePort() {
        return buffer.getShort(offset + SOURCE_PORT_OFFSET, NETWORK) & 0xFFFF;
    }

    public TcpSegment sourcePort(int port) {
        buffer.putShort(offset + SOURCE_PORT_OFFSET, (short) port, NETWORK);
        return this;
    }

    public int destinationPort() {
        return buffer.getShort(offset + DESTINATION_PORT_OFFSET, NETWORK) & 0xFFFF;
    }

    public TcpSegment destinationPort(int port) {
        buffer.putShort(offset + DESTINATION_PORT_OFFSET, (short) port, NETWORK);
        return this;
    }

    public int sequenceNumber() {
        return buffer.getInt(offset + SEQUENCE_NUMBER_OFFSET, NETWORK);
    }

    public TcpSegment sequenceNumber(int sequenceNumber) {
        buffer.putInt(offset + SEQUENCE_NUMBER_OFFSET, sequenceNumber, NETWORK);
        return this;
    }

    public int acknowledgmentNumber() {
        return buffer.getInt(offset + ACKNOWLEDGMENT_NUMBER_OFFSET, NETWORK);
    }

    public TcpSegment acknowledgmentNumber(int acknowledgmentNumber) {
        buffer.putInt(offset + ACKNOWLEDGMENT_NUMBER_OFFSET, acknowledgmentNumber, NETWORK);
        return this;
    }

    /** Data offset in 32-bit words. */
    public int dataOffset() {
        return (buffer.getByte(offset + DATA_OFFSET_OFFSET) & 0xFF) >>> 4;
    }

    /** Sets the data offset in 32-bit words (5..15) and clears the reserved bits (RFC 9293 §3.1: must be zero). */
    public TcpSegment dataOffset(int words) {
        buffer.putByte(offset + DATA_OFFSET_OFFSET, (byte) (words << 4));
        return this;
    }

    /** Header length in octets, options included: data offset * 4. */
    public int headerLength() {
        return dataOffset() << 2;
    }

    /** The control bits octet; test with {@link #SYN}, {@link #ACK} and the other constants. */
    public int flags() {
        return buffer.getByte(offset + FLAGS_OFFSET) & 0xFF;
    }

    public TcpSegment flags(int flags) {
        buffer.putByte(offset + FLAGS_OFFSET, (byte) flags);
        return this;
    }

    /** True if every bit of {@code mask} is set. */
    public boolean hasFlags(int mask) {
        return (flags() & mask) == mask;
    }

    /** Window in octets before scaling (RFC 7323 §2.3: never scaled on a SYN). */
    public int window() {
        return buffer.getShort(offset + WINDOW_OFFSET, NETWORK) & 0xFFFF;
    }

    public TcpSegment window(int window) {
        buffer.putShort(offset + WINDOW_OFFSET, (short) window, NETWORK);
        return this;
    }

    public int checksum() {
        return buffer.getShort(offset + CHECKSUM_OFFSET, NETWORK) & 0xFFFF;
    }

    public TcpSegment checksum(int checksum) {
        buffer.putShort(offset + CHECKSUM_OFFSET, (short) checksum, NETWORK);
        return this;
    }

    public int urgentPointer() {
        return buffer.getShort(offset + URGENT_POINTER_OFFSET, NETWORK) & 0xFFFF;
    }

    public TcpSegment urgentPointer(int urgentPointer) {
        buffer.putShort(offset + URGENT_POINTER_OFFSET, (short) urgentPointer, NETWORK);
        return this;
    }

    /** Absolute buffer index of the options, if any. */
    public int optionsOffset() {
        return offset + OPTIONS_OFFSET;
    }

    public int optionsLength() {
        return headerLength() - MIN_HEADER_LENGTH;
    }

    /** Absolute buffer index of the first data octet. */
    public int payloadOffset() {
        return offset + headerLength();
    }

    /** Data octets: the segment length minus the header. SYN and FIN occupy sequence space but no octets. */
    public int payloadLength() {
        return length - headerLength();
    }

    /**
     * The checksum this segment should carry over the pseudo-header and {@link #length()} octets, whatever the
     * field holds now.
     */
    public int computeChecksum(int sourceAddress, int destinationAddress) {
        int sum = Checksum.pseudoHeaderSum(sourceAddress, destinationAddress, Ipv4Packet.PROTOCOL_TCP, length);
        if (length >= CHECKSUM_OFFSET + 2) {
            // One pass over the whole segment, field included, in the 8-byte words its writer stored (a load
            // that straddles two stores still in the store buffer waits for them), and the field taken out
            // again: adding its one's complement subtracts it. The sum is never zero (the pseudo-header holds
            // the protocol), so the folded result is the one the field left out would give (RFC 1071 §2).
            final int field = buffer.getShort(offset + CHECKSUM_OFFSET, NETWORK) & 0xFFFF;
            return Checksum.finish(Checksum.partialSum(buffer, offset, length, sum + (~field & 0xFFFF)));
        }
        sum = Checksum.partialSum(buffer, offset, CHECKSUM_OFFSET, sum);
        final int from = offset + CHECKSUM_OFFSET + 2;
        return Checksum.finish(Checksum.partialSum(buffer, from, length - CHECKSUM_OFFSET - 2, sum));
    }

    /** Fills the checksum once header, options and data are in place and the flyweight wraps exactly them. */
    public TcpSegment fillChecksum(int sourceAddress, int destinationAddress) {
        return checksum(computeChecksum(sourceAddress, destinationAddress));
    }

    /**
     * Writes the fixed 20 octets with a zero checksum and urgent pointer. Options (see {@link TcpOptions}'s
     * writers) go at {@link #optionsOffset()} and data after them; then {@link #fillChecksum(int, int)}.
     *
     * @param optionsLength octets of options, padding included: a multiple of 4, at most 40
     */
    public TcpSegment writeHeader(int sourcePort, int destinationPort, int sequenceNumber, int acknowledgmentNumber,
                                  int flags, int window, int optionsLength) {
        return sourcePort(sourcePort)
            .destinationPort(destinationPort)
            .sequenceNumber(sequenceNumber)
            .acknowledgmentNumber(acknowledgmentNumber)
            .dataOffset((MIN_HEADER_LENGTH + optionsLength) >>> 2)
            .flags(flags)
            .window(window)
            .checksum(0)
            .urgentPointer(0);
    }

    /** For logs and tests; allocates. */
    @Override
    public String toString() {
        if (length < MIN_HEADER_LENGTH) {
            return "TcpSegment{truncated, length=" + length + "}";
        }
        final StringBuilder flagText = new StringBuilder();
        final String[] names = {"FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"};
        for (int bit = 0; bit < names.length; bit++) {
            if ((flags() & (1 << bit)) != 0) {
                flagText.append(flagText.length() == 0 ? "" : "|").append(names[bit]);
            }
        }
        return "TcpSegment{" + sourcePort() + "->" + destinationPort() + " [" + flagText + "]"
            + " seq=" + Integer.toUnsignedString(sequenceNumber())
            + " ack=" + Integer.toUnsignedString(acknowledgmentNumber())
            + " win=" + window() + " headerLength=" + headerLength() + " length=" + length + "}";
    }
}
