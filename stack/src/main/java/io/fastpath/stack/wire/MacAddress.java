package io.fastpath.stack.wire;

import java.nio.ByteOrder;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * EUI-48 MAC addresses as a {@code long} holding the 48 bits in its low bits, first octet on the wire
 * highest ({@code 52:54:00:12:34:56} is {@code 0x5254_0012_3456L}), so they are compared with {@code ==} and
 * used as primitive map keys without allocation.
 */
public final class MacAddress {
    private static final ByteOrder NETWORK = ByteOrder.BIG_ENDIAN;

    /** Octets in a MAC address. */
    public static final int LENGTH = 6;
    /** {@code ff:ff:ff:ff:ff:ff}. */
    public static final long BROADCAST = 0xFFFF_FFFF_FFFFL;
    /** {@code 00:00:00:00:00:00}: the "unknown" target hardware address of an ARP request (RFC 826). */
    public static final long ZERO = 0L;
    /** Mask of the 48 address bits. */
    public static final long MASK = 0xFFFF_FFFF_FFFFL;

    /** The I/G bit: least significant bit of the first octet (IEEE 802-2014 §8.2). */
    private static final long GROUP_BIT = 1L << 40;

    private MacAddress() {
    }

    /** Reads the six octets at {@code index}. */
    public static long get(DirectBuffer buffer, int index) {
        return ((long) (buffer.getShort(index, NETWORK) & 0xFFFF) << 32)
            | (buffer.getInt(index + 2, NETWORK) & 0xFFFF_FFFFL);
    }

    /** Writes the low 48 bits of {@code mac} as six octets at {@code index}. */
    public static void put(MutableDirectBuffer buffer, int index, long mac) {
        buffer.putShort(index, (short) (mac >>> 32), NETWORK);
        buffer.putInt(index + 2, (int) mac, NETWORK);
    }

    /** True for group addresses, broadcast included: the I/G bit is set. */
    public static boolean isMulticast(long mac) {
        return (mac & GROUP_BIT) != 0;
    }

    public static boolean isBroadcast(long mac) {
        return (mac & MASK) == BROADCAST;
    }

    /**
     * Parses six two-digit hex octets separated by {@code ':'} or {@code '-'}, e.g. {@code "52:54:00:12:34:56"}.
     *
     * @throws IllegalArgumentException if {@code text} is not in that form
     */
    public static long parse(CharSequence text) {
        if (text == null || text.length() != 17) {
            throw new IllegalArgumentException("MAC address must be six hex octets like 52:54:00:12:34:56: " + text);
        }
        final char separator = text.charAt(2);
        if (separator != ':' && separator != '-') {
            throw new IllegalArgumentException("MAC address octets must be separated by ':' or '-': " + text);
        }
        long mac = 0;
        for (int octet = 0; octet < LENGTH; octet++) {
            final int at = octet * 3;
            if (octet > 0 && text.charAt(at - 1) != separator) {
                throw new IllegalArgumentException("MAC address octets must be separated by ':' or '-': " + text);
            }
            final int high = Character.digit(text.charAt(at), 16);
            final int low = Character.digit(text.charAt(at + 1), 16);
            if (high < 0 || low < 0) {
                throw new IllegalArgumentException("MAC address has a non-hex digit in octet " + (octet + 1) + ": " + text);
            }
            mac = (mac << 8) | (high << 4) | low;
        }
        return mac;
    }

    /** {@code "52:54:00:12:34:56"}: lower-case, colon-separated. Allocates; for logs and tests only. */
    public static String format(long mac) {
        final char[] chars = new char[17];
        for (int octet = 0; octet < LENGTH; octet++) {
            final int value = (int) (mac >>> (40 - 8 * octet)) & 0xFF;
            final int at = octet * 3;
            chars[at] = Character.forDigit(value >>> 4, 16);
            chars[at + 1] = Character.forDigit(value & 0xF, 16);
            if (octet < LENGTH - 1) {
                chars[at + 2] = ':';
            }
        }
        return new String(chars);
    }
}
