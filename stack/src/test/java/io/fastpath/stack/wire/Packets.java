package io.fastpath.stack.wire;

import java.util.HexFormat;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Golden packets for the wire tests, and hex helpers. The bytes were built with scapy 2.5 using the field
 * values a Linux 6.x host sends (ARP who-has, {@code ping} with its 16-octet timeval and 0x10.. pattern,
 * {@code connect()} SYN with Linux's option order) and its checksums were recomputed independently by scapy.
 */
final class Packets {
    private Packets() {
    }

    /** 52:54:00:12:34:56 / 10.0.0.1 asks who-has 10.0.0.2. Ethernet header + 28-octet ARP, unpadded. */
    static final String ARP_REQUEST_FRAME =
        "ffffffffffff" + "525400123456" + "0806"
            + "0001" + "0800" + "06" + "04" + "0001"
            + "525400123456" + "0a000001"
            + "000000000000" + "0a000002";

    /** Linux {@code ping -c1 10.0.0.2}: Ethernet, IPv4 (id 0x4d2a, DF, TTL 64), ICMP echo id 0x1c46 seq 1. */
    static final String PING_FRAME =
        "020000000002" + "525400123456" + "0800"
            // IPv4: checksum 0xd97c
            + "45000054" + "4d2a4000" + "4001d97c" + "0a000001" + "0a000002"
            // ICMP echo request: checksum 0x86ad, 16-octet timeval then 0x10..0x37
            + "0800" + "86ad" + "1c46" + "0001"
            + "00f1536500000000" + "40e2010000000000"
            + "101112131415161718191a1b1c1d1e1f" + "202122232425262728292a2b2c2d2e2f" + "3031323334353637";

    /** ICMP checksum of the echo reply to {@link #PING_FRAME}, as scapy computes it from scratch. */
    static final int PING_REPLY_ICMP_CHECKSUM = 0x8ead;

    /**
     * Linux {@code connect()} SYN 10.0.0.1:44312 to 10.0.0.2:80, ISN 0x3a1b2c4d, window 64240, options MSS 1460,
     * SACK permitted, timestamps (2887429173, 0), NOP, window scale 7. IP checksum 0x26ba, TCP checksum 0xcceb.
     */
    static final String SYN_FRAME =
        "020000000002" + "525400123456" + "0800"
            + "4500003c" + "00004000" + "400626ba" + "0a000001" + "0a000002"
            + "ad18" + "0050" + "3a1b2c4d" + "00000000" + "a002" + "faf0" + "cceb" + "0000"
            + "020405b4" + "0402" + "080aac1aac3500000000" + "01" + "030307";

    /** IPv4 datagram (no Ethernet): PSH|ACK with options NOP, NOP, TS (2887429200, 1234567) and 5 data octets. */
    static final String DATA_SEGMENT_DATAGRAM =
        "45000039" + "1a2b4000" + "40060c92" + "0a000001" + "0a000002"
            + "ad18" + "0050" + "3a1b2c4e" + "7f000002" + "8018" + "01f6" + "5b0c" + "0000"
            + "0101080aac1aac500012d687"
            + "68656c6c6f";

    static final int HOST_A_IP = 0x0A00_0001;
    static final int HOST_B_IP = 0x0A00_0002;
    static final long HOST_A_MAC = 0x5254_0012_3456L;
    static final long HOST_B_MAC = 0x0200_0000_0002L;

    /** A buffer over exactly these bytes, so Agrona's bounds checks catch any read past the end. */
    static UnsafeBuffer buffer(String hex) {
        return new UnsafeBuffer(HexFormat.of().parseHex(hex));
    }

    /** A buffer over exactly these bytes. */
    static UnsafeBuffer buffer(byte[] bytes) {
        return new UnsafeBuffer(bytes);
    }

    static String hex(DirectBuffer buffer, int offset, int length) {
        final byte[] bytes = new byte[length];
        buffer.getBytes(offset, bytes);
        return HexFormat.of().formatHex(bytes);
    }

    static String hex(DirectBuffer buffer) {
        return hex(buffer, 0, buffer.capacity());
    }

    /** Copies {@code hex} to a fresh buffer of exactly {@code capacity} octets, zero-filled after it. */
    static UnsafeBuffer padded(String hex, int capacity) {
        final byte[] bytes = new byte[capacity];
        final byte[] data = HexFormat.of().parseHex(hex);
        System.arraycopy(data, 0, bytes, 0, data.length);
        return new UnsafeBuffer(bytes);
    }

    /** Copies {@code hex} to offset {@code shift} of a fresh buffer that ends exactly where the bytes end. */
    static UnsafeBuffer shifted(String hex, int shift) {
        final byte[] data = HexFormat.of().parseHex(hex);
        final byte[] bytes = new byte[shift + data.length];
        System.arraycopy(data, 0, bytes, shift, data.length);
        return new UnsafeBuffer(bytes);
    }
}
