package io.fastpath.stack.wire;

import java.nio.ByteOrder;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * The TCP options we understand, parsed from a segment's options region into preallocated fields, and static
 * writers for emitting them. RFC 9293 §3.1 and §3.2 define the format: a one-octet kind, and for every kind
 * but End of Option List and No-Operation a one-octet length that counts kind and length octets too.
 *
 * <pre>
 *  Kind  Length  Meaning                          Reference
 *   0      -     End of Option List               RFC 9293 §3.2
 *   1      -     No-Operation                     RFC 9293 §3.2
 *   2      4     Maximum Segment Size (16 bits)   RFC 9293 §3.7.1
 *   3      3     Window Scale (shift count)       RFC 7323 §2
 *   4      2     SACK Permitted                   RFC 2018 §2
 *   5   2+8n     SACK blocks (left, right edge)   RFC 2018 §3
 *   8     10     Timestamps (TSval, TSecr)        RFC 7323 §3
 * </pre>
 *
 * <p>Parsing is liberal where the RFCs allow it: unknown kinds are skipped by their length (MUST-6), and a
 * known kind with the wrong length is skipped too, as Linux does. An option whose length is below 2 or runs
 * past the region cannot be skipped safely and yields {@link WireError#BAD_OPTION} (MUST-7), never an
 * exception. One instance per agent, reused for every segment: {@link #parse} overwrites all fields.
 * Values are raw; e.g. a window scale above {@link #MAX_WINDOW_SCALE} is for the caller to clamp
 * (RFC 7323 §2.3).
 */
public final class TcpOptions {
    private static final ByteOrder NETWORK = ByteOrder.BIG_ENDIAN;

    public static final int KIND_END_OF_OPTION_LIST = 0;
    public static final int KIND_NO_OPERATION = 1;
    public static final int KIND_MSS = 2;
    public static final int KIND_WINDOW_SCALE = 3;
    public static final int KIND_SACK_PERMITTED = 4;
    public static final int KIND_SACK = 5;
    public static final int KIND_TIMESTAMPS = 8;
    /** TCP Fast Open cookie (RFC 7413 §4.1.1). */
    public static final int KIND_FAST_OPEN = 34;
    public static final int FAST_OPEN_MIN_COOKIE = 4;
    public static final int FAST_OPEN_MAX_COOKIE = 16;

    public static final int MSS_LENGTH = 4;
    public static final int WINDOW_SCALE_LENGTH = 3;
    public static final int SACK_PERMITTED_LENGTH = 2;
    public static final int TIMESTAMPS_LENGTH = 10;
    /** Kind and length octets that precede the SACK blocks. */
    public static final int SACK_HEADER_LENGTH = 2;
    public static final int SACK_BLOCK_LENGTH = 8;

    /** 40 octets of option space hold at most four SACK blocks (RFC 2018 §3). */
    public static final int MAX_SACK_BLOCKS = 4;
    /** RFC 7323 §2.3: a larger shift count MUST be treated as 14. */
    public static final int MAX_WINDOW_SCALE = 14;

    private boolean hasMss;
    private int mss;
    private boolean hasWindowScale;
    private int windowScale;
    private boolean sackPermitted;
    private boolean hasTimestamps;
    private int tsVal;
    private int tsEcr;
    private int sackBlockCount;
    private boolean hasFastOpen;
    private int fastOpenCookieOffset;
    private int fastOpenCookieLength;
    private final int[] sackLeft = new int[MAX_SACK_BLOCKS];
    private final int[] sackRight = new int[MAX_SACK_BLOCKS];

    /** Parses the options of a segment whose {@link TcpSegment#check(int, int)} returned OK. */
    public WireError parse(TcpSegment segment) {
        return parse(segment.buffer(), segment.optionsOffset(), segment.optionsLength());
    }

    /**
     * Parses {@code [offset, offset + length)}. Returns OK, or {@link WireError#BAD_OPTION} with every field
     * cleared. Reads nothing outside the range, whatever its contents.
     */
    public WireError parse(DirectBuffer buffer, int offset, int length) {
        if (length == ALIGNED_TIMESTAMPS_LENGTH && buffer.getInt(offset, NETWORK) == ALIGNED_TIMESTAMPS_PREFIX) {
            // The options of nearly every data segment and ACK of a connection with timestamps: NOP, NOP,
            // timestamps (RFC 7323 Appendix A's layout; what we and Linux send). What the loop below would find
            // in them, without walking it (Linux's tcp_parse_aligned_timestamp).
            clear();
            hasTimestamps = true;
            tsVal = buffer.getInt(offset + 4, NETWORK);
            tsEcr = buffer.getInt(offset + 8, NETWORK);
            return WireError.OK;
        }
        return parseEach(buffer, offset, length);
    }

    /** NOP, NOP, timestamps kind and length: the first word of the aligned timestamps option. */
    static final int ALIGNED_TIMESTAMPS_PREFIX = (KIND_NO_OPERATION << 24) | (KIND_NO_OPERATION << 16)
        | (KIND_TIMESTAMPS << 8) | TIMESTAMPS_LENGTH;
    static final int ALIGNED_TIMESTAMPS_LENGTH = 12;

    /** {@link #parse(DirectBuffer, int, int)} option by option, whatever the layout. */
    WireError parseEach(DirectBuffer buffer, int offset, int length) {
        clear();
        final int end = offset + length;
        int i = offset;
        while (i < end) {
            final int kind = buffer.getByte(i) & 0xFF;
            if (kind == KIND_END_OF_OPTION_LIST) {
                break; // The rest is padding (RFC 9293 §3.2).
            }
            if (kind == KIND_NO_OPERATION) {
                i++;
                continue;
            }
            if (end - i < 2) {
                clear();
                return WireError.BAD_OPTION;
            }
            final int optionLength = buffer.getByte(i + 1) & 0xFF;
            if (optionLength < 2 || optionLength > end - i) {
                clear();
                return WireError.BAD_OPTION;
            }
            switch (kind) {
                case KIND_MSS -> {
                    if (optionLength == MSS_LENGTH) {
                        hasMss = true;
                        mss = buffer.getShort(i + 2, NETWORK) & 0xFFFF;
                    }
                }
                case KIND_WINDOW_SCALE -> {
                    if (optionLength == WINDOW_SCALE_LENGTH) {
                        hasWindowScale = true;
                        windowScale = buffer.getByte(i + 2) & 0xFF;
                    }
                }
                case KIND_SACK_PERMITTED -> {
                    if (optionLength == SACK_PERMITTED_LENGTH) {
                        sackPermitted = true;
                    }
                }
                case KIND_TIMESTAMPS -> {
                    if (optionLength == TIMESTAMPS_LENGTH) {
                        hasTimestamps = true;
                        tsVal = buffer.getInt(i + 2, NETWORK);
                        tsEcr = buffer.getInt(i + 6, NETWORK);
                    }
                }
                case KIND_SACK -> parseSack(buffer, i, optionLength);
                case KIND_FAST_OPEN -> {
                    // RFC 7413 §4.1.1: empty (a cookie request) or a cookie of 4 to 16 bytes, even length.
                    int cookie = optionLength - 2;
                    if (cookie == 0 || cookie >= FAST_OPEN_MIN_COOKIE && cookie <= FAST_OPEN_MAX_COOKIE
                        && (cookie & 1) == 0) {
                        hasFastOpen = true;
                        fastOpenCookieOffset = i + 2;
                        fastOpenCookieLength = cookie;
                    }
                }
                default -> {
                    // Unknown kind: skipped by its length (RFC 9293 §3.1, MUST-6).
                }
            }
            i += optionLength;
        }
        return WireError.OK;
    }

    private void parseSack(DirectBuffer buffer, int index, int optionLength) {
        final int blocksLength = optionLength - SACK_HEADER_LENGTH;
        if (blocksLength == 0 || blocksLength % SACK_BLOCK_LENGTH != 0) {
            return;
        }
        final int count = Math.min(blocksLength / SACK_BLOCK_LENGTH, MAX_SACK_BLOCKS);
        int at = index + SACK_HEADER_LENGTH;
        for (int block = 0; block < count; block++, at += SACK_BLOCK_LENGTH) {
            sackLeft[block] = buffer.getInt(at, NETWORK);
            sackRight[block] = buffer.getInt(at + 4, NETWORK);
        }
        sackBlockCount = count;
    }

    private void clear() {
        hasMss = false;
        mss = 0;
        hasWindowScale = false;
        windowScale = 0;
        sackPermitted = false;
        hasTimestamps = false;
        tsVal = 0;
        tsEcr = 0;
        sackBlockCount = 0;
        hasFastOpen = false;
        fastOpenCookieOffset = 0;
        fastOpenCookieLength = 0;
    }

    /** A Fast Open option was present (a cookie request when {@link #fastOpenCookieLength()} is 0). */
    public boolean hasFastOpen() {
        return hasFastOpen;
    }

    /** Where the cookie starts in the parsed buffer. */
    public int fastOpenCookieOffset() {
        return fastOpenCookieOffset;
    }

    public int fastOpenCookieLength() {
        return fastOpenCookieLength;
    }

    /** Writes a Fast Open option: a cookie request ({@code length} 0) or {@code length} cookie bytes. */
    public static int writeFastOpen(MutableDirectBuffer buffer, int index, byte[] cookie, int length) {
        buffer.putByte(index, (byte) KIND_FAST_OPEN);
        buffer.putByte(index + 1, (byte) (2 + length));
        if (length > 0) {
            buffer.putBytes(index + 2, cookie, 0, length);
        }
        return index + 2 + length;
    }

    public boolean hasMss() {
        return hasMss;
    }

    /** The peer's MSS; meaningful only if {@link #hasMss()}, else RFC 9293 §3.7.1's default 536 applies. */
    public int mss() {
        return mss;
    }

    public boolean hasWindowScale() {
        return hasWindowScale;
    }

    /** The raw shift count; meaningful only if {@link #hasWindowScale()}. */
    public int windowScale() {
        return windowScale;
    }

    public boolean sackPermitted() {
        return sackPermitted;
    }

    public boolean hasTimestamps() {
        return hasTimestamps;
    }

    public int tsVal() {
        return tsVal;
    }

    public int tsEcr() {
        return tsEcr;
    }

    /** SACK blocks received, 0..{@link #MAX_SACK_BLOCKS}. */
    public int sackBlockCount() {
        return sackBlockCount;
    }

    /** Left edge of SACK block {@code block}, the first sequence number of the block (RFC 2018 §3). */
    public int sackLeft(int block) {
        return sackLeft[block];
    }

    /** Right edge of SACK block {@code block}, the sequence number just past the block. */
    public int sackRight(int block) {
        return sackRight[block];
    }

    // Writers: each writes one option at index and returns the index just after it. Callers pad the options
    // region to a multiple of four octets (RFC 9293 §3.1) with writePadding, or align with NOPs as Linux does.

    public static int writeEndOfOptionList(MutableDirectBuffer buffer, int index) {
        buffer.putByte(index, (byte) KIND_END_OF_OPTION_LIST);
        return index + 1;
    }

    public static int writeNop(MutableDirectBuffer buffer, int index) {
        buffer.putByte(index, (byte) KIND_NO_OPERATION);
        return index + 1;
    }

    public static int writeMss(MutableDirectBuffer buffer, int index, int mss) {
        buffer.putByte(index, (byte) KIND_MSS);
        buffer.putByte(index + 1, (byte) MSS_LENGTH);
        buffer.putShort(index + 2, (short) mss, NETWORK);
        return index + MSS_LENGTH;
    }

    public static int writeWindowScale(MutableDirectBuffer buffer, int index, int shiftCount) {
        buffer.putByte(index, (byte) KIND_WINDOW_SCALE);
        buffer.putByte(index + 1, (byte) WINDOW_SCALE_LENGTH);
        buffer.putByte(index + 2, (byte) shiftCount);
        return index + WINDOW_SCALE_LENGTH;
    }

    public static int writeSackPermitted(MutableDirectBuffer buffer, int index) {
        buffer.putByte(index, (byte) KIND_SACK_PERMITTED);
        buffer.putByte(index + 1, (byte) SACK_PERMITTED_LENGTH);
        return index + SACK_PERMITTED_LENGTH;
    }

    public static int writeTimestamps(MutableDirectBuffer buffer, int index, int tsVal, int tsEcr) {
        buffer.putByte(index, (byte) KIND_TIMESTAMPS);
        buffer.putByte(index + 1, (byte) TIMESTAMPS_LENGTH);
        buffer.putInt(index + 2, tsVal, NETWORK);
        buffer.putInt(index + 6, tsEcr, NETWORK);
        return index + TIMESTAMPS_LENGTH;
    }

    /**
     * Writes a SACK option with the first {@code count} (1..4) blocks of {@code left}/{@code right}; the
     * arrays are the caller's, preallocated. With timestamps on, only three blocks fit (RFC 2018 §3).
     */
    public static int writeSackBlocks(MutableDirectBuffer buffer, int index, int[] left, int[] right, int count) {
        buffer.putByte(index, (byte) KIND_SACK);
        buffer.putByte(index + 1, (byte) (SACK_HEADER_LENGTH + count * SACK_BLOCK_LENGTH));
        int at = index + SACK_HEADER_LENGTH;
        for (int block = 0; block < count; block++, at += SACK_BLOCK_LENGTH) {
            buffer.putInt(at, left[block], NETWORK);
            buffer.putInt(at + 4, right[block], NETWORK);
        }
        return at;
    }

    /**
     * Zero-fills from {@code index} up to the next multiple of four octets past {@code optionsOffset}: an
     * End of Option List followed by zero padding (RFC 9293 §3.1). Returns the aligned index.
     */
    public static int writePadding(MutableDirectBuffer buffer, int optionsOffset, int index) {
        while (((index - optionsOffset) & 3) != 0) {
            buffer.putByte(index++, (byte) 0);
        }
        return index;
    }

    /** For logs and tests; allocates. */
    @Override
    public String toString() {
        final StringBuilder text = new StringBuilder("TcpOptions{");
        if (hasMss) {
            text.append("mss=").append(mss).append(' ');
        }
        if (hasWindowScale) {
            text.append("ws=").append(windowScale).append(' ');
        }
        if (sackPermitted) {
            text.append("sackPermitted ");
        }
        if (hasTimestamps) {
            text.append("ts=").append(Integer.toUnsignedString(tsVal)).append('/')
                .append(Integer.toUnsignedString(tsEcr)).append(' ');
        }
        for (int block = 0; block < sackBlockCount; block++) {
            text.append("sack[").append(Integer.toUnsignedString(sackLeft[block])).append(',')
                .append(Integer.toUnsignedString(sackRight[block])).append(") ");
        }
        return text.append('}').toString();
    }
}
