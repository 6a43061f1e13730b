package io.fastpath.stack.wire;

import java.nio.ByteOrder;

import org.agrona.MutableDirectBuffer;

/**
 * Flyweight over an Ethernet II header (IEEE 802.3 §3.2.6 with the EtherType interpretation of
 * Length/Type). The preamble, SFD and FCS never reach us: the NIC strips them.
 *
 * <pre>
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                  Destination MAC address                      |
 * +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                               |                               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
 * |                    Source MAC address                         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |           EtherType           |  Payload (46..1500 octets,    |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+  zero-padded to 46)  ...      |
 * </pre>
 *
 * <p>The memory belongs to the caller (normally an mbuf); this class only views
 * {@code [offset, offset + length)} of it. {@link #check()} once on received frames; after {@link WireError#OK}
 * every accessor stays in range. Not thread-safe; preallocate one per agent and rewrap.
 */
public final class EthernetFrame {
    private static final ByteOrder NETWORK = ByteOrder.BIG_ENDIAN;

    public static final int DESTINATION_OFFSET = 0;
    public static final int SOURCE_OFFSET = 6;
    public static final int ETHERTYPE_OFFSET = 12;
    public static final int HEADER_LENGTH = 14;

    public static final int ETHERTYPE_IPV4 = 0x0800;
    public static final int ETHERTYPE_ARP = 0x0806;
    /** An IEEE 802.1Q tag; we do not strip tags in software, so such frames are the caller's to drop. */
    public static final int ETHERTYPE_VLAN = 0x8100;
    public static final int ETHERTYPE_IPV6 = 0x86DD;

    private MutableDirectBuffer buffer;
    private int offset;
    private int length;

    /** Views {@code length} bytes of {@code buffer} from {@code offset}: the whole frame, header included. */
    public EthernetFrame wrap(MutableDirectBuffer buffer, int offset, int length) {
        this.buffer = buffer;
        this.offset = offset;
        this.length = length;
        return this;
    }

    /** {@link WireError#TRUNCATED} if the frame is shorter than the 14-octet header, else OK. */
    public WireError check() {
        return length < HEADER_LENGTH ? WireError.TRUNCATED : WireError.OK;
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

    public long destination() {
        return MacAddress.get(buffer, offset + DESTINATION_OFFSET);
    }

    public EthernetFrame destination(long mac) {
        MacAddress.put(buffer, offset + DESTINATION_OFFSET, mac);
        return this;
    }

    public long source() {
        return MacAddress.get(buffer, offset + SOURCE_OFFSET);
    }

    public EthernetFrame source(long mac) {
        MacAddress.put(buffer, offset + SOURCE_OFFSET, mac);
        return this;
    }

    public int etherType() {
        return buffer.getShort(offset + ETHERTYPE_OFFSET, NETWORK) & 0xFFFF;
    }

    public EthernetFrame etherType(int etherType) {
        buffer.putShort(offset + ETHERTYPE_OFFSET, (short) etherType, NETWORK);
        return this;
    }

    /**
     * Writes the whole header: as two 8-byte stores (destination and the source's first two octets; the source and
     * the EtherType), which overlap on octets 6 and 7 and write the same values there. The frame's buffer holds
     * the 14 octets, as for the field-by-field writers.
     */
    public EthernetFrame writeHeader(long destination, long source, int etherType) {
        buffer.putLong(offset + DESTINATION_OFFSET, (destination << 16) | ((source >>> 32) & 0xFFFF), NETWORK);
        buffer.putLong(offset + SOURCE_OFFSET, (source << 16) | (etherType & 0xFFFF), NETWORK);
        return this;
    }

    /** Absolute buffer index of the first payload octet. */
    public int payloadOffset() {
        return offset + HEADER_LENGTH;
    }

    /** Octets after the header, including any padding to the 60-octet minimum frame; the L3 length decides. */
    public int payloadLength() {
        return length - HEADER_LENGTH;
    }

    /** For logs and tests; allocates. */
    @Override
    public String toString() {
        if (check() != WireError.OK) {
            return "EthernetFrame{truncated, length=" + length + "}";
        }
        return "EthernetFrame{dst=" + MacAddress.format(destination()) + ", src=" + MacAddress.format(source())
            + ", type=0x" + Integer.toHexString(etherType()) + ", length=" + length + "}";
    }
}
