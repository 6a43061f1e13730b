package io.fastpath.stack.shard;

/**
 * The Toeplitz hash NICs use for RSS (Microsoft's "RSS hashing functions"), computed in software so that
 * fastpath knows which queue a flow's segments arrive on: F-Stack and Seastar pick their local ports the same way.
 *
 * <p>For each set bit of the input, most significant first, the hash is XORed with the 32 bits of the key that
 * start at that bit's position. The IPv4/TCP input is source address, destination address, source port,
 * destination port (12 bytes, network order), as the NIC sees a received segment. Here a table per input byte
 * holds the XOR of the windows of each of its 256 values, so a hash is 12 table loads (built once per key).
 *
 * <p>Thread: immutable after construction; any thread. Allocates nothing per hash.
 */
public final class Toeplitz {
    private static final byte[] MICROSOFT_KEY = {
        (byte) 0x6d, (byte) 0x5a, (byte) 0x56, (byte) 0xda, (byte) 0x25, (byte) 0x5b, (byte) 0x0e, (byte) 0xc2,
        (byte) 0x41, (byte) 0x67, (byte) 0x25, (byte) 0x3d, (byte) 0x43, (byte) 0xa3, (byte) 0x8f, (byte) 0xb0,
        (byte) 0xd0, (byte) 0xca, (byte) 0x2b, (byte) 0xcb, (byte) 0xae, (byte) 0x7b, (byte) 0x30, (byte) 0xb4,
        (byte) 0x77, (byte) 0xcb, (byte) 0x2d, (byte) 0xa3, (byte) 0x80, (byte) 0x30, (byte) 0xf2, (byte) 0x0c,
        (byte) 0x6a, (byte) 0x42, (byte) 0xb7, (byte) 0x3b, (byte) 0xbe, (byte) 0xac, (byte) 0x01, (byte) 0xfa,
    };
    private static final int INPUT_BYTES = 12;

    private final byte[] key;
    /** table[i * 256 + b]: the hash contribution of byte value b at input position i. */
    private final int[] table = new int[INPUT_BYTES * 256];

    /** A hasher with this key (at least 16 bytes: 12 of input plus the 32-bit window). */
    public Toeplitz(byte[] key) {
        if (key.length < INPUT_BYTES + 4) {
            throw new IllegalArgumentException("a Toeplitz key for IPv4/TCP needs at least 16 bytes: " + key.length);
        }
        this.key = key.clone();
        for (int i = 0; i < INPUT_BYTES; i++) {
            for (int b = 0; b < 256; b++) {
                int h = 0;
                for (int bit = 0; bit < 8; bit++) {
                    if ((b & (0x80 >>> bit)) != 0) {
                        h ^= window(this.key, i * 8 + bit);
                    }
                }
                table[i * 256 + b] = h;
            }
        }
    }

    /** The 40-byte key of Microsoft's RSS verification suite, which many PMDs use by default (a copy). */
    public static byte[] microsoftKey() {
        return MICROSOFT_KEY.clone();
    }

    /** A hasher with {@link #microsoftKey()}. */
    public static Toeplitz microsoft() {
        return new Toeplitz(MICROSOFT_KEY);
    }

    /** The key (a copy). */
    public byte[] key() {
        return key.clone();
    }

    /** The 32 key bits starting at bit {@code position} (bit 0 = the first byte's most significant bit). */
    private static int window(byte[] key, int position) {
        int h = 0;
        for (int i = 0; i < 32; i++) {
            int p = position + i;
            int bit = p / 8 < key.length ? (key[p / 8] >>> (7 - p % 8)) & 1 : 0;
            h = (h << 1) | bit;
        }
        return h;
    }

    /** The hash of a received IPv4/TCP segment from {@code srcIp:srcPort} to {@code dstIp:dstPort}. */
    public int hashIpv4Tcp(int srcIp, int dstIp, int srcPort, int dstPort) {
        return word(0, srcIp) ^ word(4, dstIp) ^ table[8 * 256 + ((srcPort >>> 8) & 0xFF)]
            ^ table[9 * 256 + (srcPort & 0xFF)] ^ table[10 * 256 + ((dstPort >>> 8) & 0xFF)]
            ^ table[11 * 256 + (dstPort & 0xFF)];
    }

    /** The hash of an IPv4 packet (addresses only: fragments, non-TCP). */
    public int hashIpv4(int srcIp, int dstIp) {
        return word(0, srcIp) ^ word(4, dstIp);
    }

    private int word(int at, int value) {
        return table[at * 256 + (value >>> 24)] ^ table[(at + 1) * 256 + ((value >>> 16) & 0xFF)]
            ^ table[(at + 2) * 256 + ((value >>> 8) & 0xFF)] ^ table[(at + 3) * 256 + (value & 0xFF)];
    }

    /** The hash of any input, bit by bit, as the specification states it (tests, other input shapes). */
    public static int hash(byte[] key, byte[] input) {
        int h = 0;
        for (int i = 0; i < input.length * 8; i++) {
            if ((input[i / 8] & (0x80 >>> (i % 8))) != 0) {
                h ^= window(key, i);
            }
        }
        return h;
    }
}
