package io.fastpath.stack.wire;

import java.nio.ByteOrder;

import org.agrona.MutableDirectBuffer;

/**
 * Flyweight over an ARP packet (RFC 826) for Ethernet hardware and IPv4 protocol addresses, the only
 * combination we speak; {@link #check()} answers {@link WireError#UNSUPPORTED} for any other.
 *
 * <pre>
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   Hardware type (ar$hrd = 1)  | Protocol type (ar$pro=0x0800) |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | HW len (6)    | Proto len (4) |      Operation (ar$op)        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |            Sender hardware address (ar$sha) ...               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |     ... sender hardware       | Sender protocol addr (ar$spa) |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   ... sender protocol         | Target hardware addr (ar$tha) |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                  ... target hardware address                  |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                Target protocol address (ar$tpa)               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * </pre>
 *
 * <p>The memory belongs to the caller; this class only views {@code [offset, offset + length)} of it, where
 * {@code length} is the Ethernet payload length (it may include padding after the 28 octets).
 * Not thread-safe; preallocate one per agent and rewrap.
 */
public final class ArpPacket {
    private static final ByteOrder NETWORK = ByteOrder.BIG_ENDIAN;

    public static final int HARDWARE_TYPE_OFFSET = 0;
    public static final int PROTOCOL_TYPE_OFFSET = 2;
    public static final int HARDWARE_LENGTH_OFFSET = 4;
    public static final int PROTOCOL_LENGTH_OFFSET = 5;
    public static final int OPERATION_OFFSET = 6;
    public static final int SENDER_HARDWARE_ADDRESS_OFFSET = 8;
    public static final int SENDER_PROTOCOL_ADDRESS_OFFSET = 14;
    public static final int TARGET_HARDWARE_ADDRESS_OFFSET = 18;
    public static final int TARGET_PROTOCOL_ADDRESS_OFFSET = 24;
    /** Octets in an Ethernet/IPv4 ARP packet. */
    public static final int LENGTH = 28;

    /** ar$hrd for Ethernet (IANA ARP parameters; RFC 826 "ares_hrd$Ethernet"). */
    public static final int HARDWARE_TYPE_ETHERNET = 1;
    public static final int OPERATION_REQUEST = 1;
    public static final int OPERATION_REPLY = 2;

    private MutableDirectBuffer buffer;
    private int offset;
    private int length;

    public ArpPacket wrap(MutableDirectBuffer buffer, int offset, int length) {
        this.buffer = buffer;
        this.offset = offset;
        this.length = length;
        return this;
    }

    /**
     * {@link WireError#TRUNCATED} if shorter than 28 octets; {@link WireError#UNSUPPORTED} unless it is
     * Ethernet/IPv4 (hrd 1, pro 0x0800, hln 6, pln 4) and a request or reply (RFC 826 "Packet Reception"
     * checks hrd and pro first; RARP and InARP operations belong to other protocols). Else OK.
     */
    public WireError check() {
        if (length < LENGTH) {
            return WireError.TRUNCATED;
        }
        if (hardwareType() != HARDWARE_TYPE_ETHERNET
            || protocolType() != EthernetFrame.ETHERTYPE_IPV4
            || hardwareLength() != MacAddress.LENGTH
            || protocolLength() != Ipv4Address.LENGTH) {
            return WireError.UNSUPPORTED;
        }
        final int operation = operation();
        if (operation != OPERATION_REQUEST && operation != OPERATION_REPLY) {
            return WireError.UNSUPPORTED;
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

    public int hardwareType() {
        return buffer.getShort(offset + HARDWARE_TYPE_OFFSET, NETWORK) & 0xFFFF;
    }

    public ArpPacket hardwareType(int hardwareType) {
        buffer.putShort(offset + HARDWARE_TYPE_OFFSET, (short) hardwareType, NETWORK);
        return this;
    }

    public int protocolType() {
        return buffer.getShort(offset + PROTOCOL_TYPE_OFFSET, NETWORK) & 0xFFFF;
    }

    public ArpPacket protocolType(int protocolType) {
        buffer.putShort(offset + PROTOCOL_TYPE_OFFSET, (short) protocolType, NETWORK);
        return this;
    }

    public int hardwareLength() {
        return buffer.getByte(offset + HARDWARE_LENGTH_OFFSET) & 0xFF;
    }

    public ArpPacket hardwareLength(int hardwareLength) {
        buffer.putByte(offset + HARDWARE_LENGTH_OFFSET, (byte) hardwareLength);
        return this;
    }

    public int protocolLength() {
        return buffer.getByte(offset + PROTOCOL_LENGTH_OFFSET) & 0xFF;
    }

    public ArpPacket protocolLength(int protocolLength) {
        buffer.putByte(offset + PROTOCOL_LENGTH_OFFSET, (byte) protocolLength);
        return this;
    }

    public int operation() {
        return buffer.getShort(offset + OPERATION_OFFSET, NETWORK) & 0xFFFF;
    }

    public ArpPacket operation(int operation) {
        buffer.putShort(offset + OPERATION_OFFSET, (short) operation, NETWORK);
        return this;
    }

    public long senderHardwareAddress() {
        return MacAddress.get(buffer, offset + SENDER_HARDWARE_ADDRESS_OFFSET);
    }

    public ArpPacket senderHardwareAddress(long mac) {
        MacAddress.put(buffer, offset + SENDER_HARDWARE_ADDRESS_OFFSET, mac);
        return this;
    }

    public int senderProtocolAddress() {
        return buffer.getInt(offset + SENDER_PROTOCOL_ADDRESS_OFFSET, NETWORK);
    }

    public ArpPacket senderProtocolAddress(int address) {
        buffer.putInt(offset + SENDER_PROTOCOL_ADDRESS_OFFSET, address, NETWORK);
        return this;
    }

    public long targetHardwareAddress() {
        return MacAddress.get(buffer, offset + TARGET_HARDWARE_ADDRESS_OFFSET);
    }

    public ArpPacket targetHardwareAddress(long mac) {
        MacAddress.put(buffer, offset + TARGET_HARDWARE_ADDRESS_OFFSET, mac);
        return this;
    }

    public int targetProtocolAddress() {
        return buffer.getInt(offset + TARGET_PROTOCOL_ADDRESS_OFFSET, NETWORK);
    }

    public ArpPacket targetProtocolAddress(int address) {
        buffer.putInt(offset + TARGET_PROTOCOL_ADDRESS_OFFSET, address, NETWORK);
        return this;
    }

    /**
     * Writes all 28 octets of an Ethernet/IPv4 request or reply. For a request the target hardware address
     * is unknown; RFC 826 leaves it unspecified, and like Linux we send {@link MacAddress#ZERO}.
     * To answer a request in place, pass the request's sender fields as the target: the arguments are read
     * before anything is written.
     */
    public ArpPacket write(int operation, long senderHardwareAddress, int senderProtocolAddress,
                           long targetHardwareAddress, int targetProtocolAddress) {
        return hardwareType(HARDWARE_TYPE_ETHERNET)
            .protocolType(EthernetFrame.ETHERTYPE_IPV4)
            .hardwareLength(MacAddress.LENGTH)
            .protocolLength(Ipv4Address.LENGTH)
            .operation(operation)
            .senderHardwareAddress(senderHardwareAddress)
            .senderProtocolAddress(senderProtocolAddress)
            .targetHardwareAddress(targetHardwareAddress)
            .targetProtocolAddress(targetProtocolAddress);
    }

    /** For logs and tests; allocates. */
    @Override
    public String toString() {
        if (check() != WireError.OK) {
            return "ArpPacket{" + check() + ", length=" + length + "}";
        }
        return "ArpPacket{op=" + (operation() == OPERATION_REQUEST ? "request" : "reply")
            + ", sha=" + MacAddress.format(senderHardwareAddress())
            + ", spa=" + Ipv4Address.format(senderProtocolAddress())
            + ", tha=" + MacAddress.format(targetHardwareAddress())
            + ", tpa=" + Ipv4Address.format(targetProtocolAddress()) + "}";
    }
}
