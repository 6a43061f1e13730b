package io.fastpath.stack.wire;

import java.nio.ByteOrder;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * IPv4 addresses as an {@code int} holding the 32 bits in network order, first octet highest
 * ({@code 10.0.0.1} is {@code 0x0A00_0001}), so they compare with {@code ==} and key primitive maps.
 */
public final class Ipv4Address {
    private static final ByteOrder NETWORK = ByteOrder.BIG_ENDIAN;

    /** Octets in an IPv4 address. */
    public static final int LENGTH = 4;
    /** {@code 0.0.0.0}: "this host" as a source (RFC 1122 §3.2.1.3). */
    public static final int ANY = 0;
    /** {@code 255.255.255.255}: limited broadcast (RFC 919, RFC 1122 §3.2.1.3). */
    public static final int BROADCAST = 0xFFFF_FFFF;

    private Ipv4Address() {
    }

    public static int get(DirectBuffer buffer, int index) {
        return buffer.getInt(index, NETWORK);
    }

    public static void put(MutableDirectBuffer buffer, int index, int address) {
        buffer.putInt(index, address, NETWORK);
    }

    /**
     * The netmask for a prefix length: {@code 24} gives {@code 255.255.255.0}.
     *
     * @throws IllegalArgumentException unless {@code 0 <= prefixLength <= 32}
     */
    public static int netmask(int prefixLength) {
        if (prefixLength < 0 || prefixLength > 32) {
            throw new IllegalArgumentException("IPv4 prefix length must be 0..32: " + prefixLength);
        }
        // A shift by 32 is a shift by 0 in Java, so /0 needs its own case.
        return prefixLength == 0 ? 0 : -1 << (32 - prefixLength);
    }

    /** True if {@code a} and {@code b} share their first {@code prefixLength} bits. */
    public static boolean sameSubnet(int a, int b, int prefixLength) {
        return ((a ^ b) & netmask(prefixLength)) == 0;
    }

    /** Class D, {@code 224.0.0.0/4} (RFC 1112 §4). */
    public static boolean isMulticast(int address) {
        return (address & 0xF000_0000) == 0xE000_0000;
    }

    /**
     * Parses a dotted quad, {@code "10.0.0.1"}: exactly four decimal octets 0..255. Leading zeros are
     * refused, because {@code inet_aton} would read {@code "010"} as octal 8 and we must not disagree silently.
     *
     * @throws IllegalArgumentException if {@code text} is not a dotted quad
     */
    public static int parse(CharSequence text) {
        if (text == null) {
            throw new IllegalArgumentException("IPv4 address is null");
        }
        final int length = text.length();
        int address = 0;
        int octets = 0;
        int i = 0;
        while (true) {
            final int start = i;
            int value = 0;
            while (i < length && text.charAt(i) >= '0' && text.charAt(i) <= '9') {
                value = value * 10 + (text.charAt(i) - '0');
                i++;
                if (i - start > 3) {
                    throw invalid(text, "octet has more than three digits");
                }
            }
            if (i == start) {
                throw invalid(text, "expected a decimal octet at position " + start);
            }
            if (i - start > 1 && text.charAt(start) == '0') {
                throw invalid(text, "octet has a leading zero");
            }
            if (value > 255) {
                throw invalid(text, "octet " + value + " is above 255");
            }
            address = (address << 8) | value;
            octets++;
            if (octets == LENGTH) {
                if (i != length) {
                    throw invalid(text, "unexpected text after the fourth octet");
                }
                return address;
            }
            if (i == length || text.charAt(i) != '.') {
                throw invalid(text, "expected four octets separated by '.'");
            }
            i++;
        }
    }

    /** {@code "10.0.0.1"}. Allocates; for logs and tests only. */
    public static String format(int address) {
        return (address >>> 24) + "." + ((address >>> 16) & 0xFF) + "." + ((address >>> 8) & 0xFF) + "." + (address & 0xFF);
    }

    private static IllegalArgumentException invalid(CharSequence text, String why) {
        return new IllegalArgumentException("not an IPv4 dotted quad (" + why + "): \"" + text + "\"");
    }
}
