package io.fastpath.stack.tcp;

import io.fastpath.stack.wire.TcpOptions;
import io.fastpath.stack.wire.TcpSegment;
import java.nio.ByteOrder;
import org.agrona.MutableDirectBuffer;

/**
 * The header of a segment we send, as values (smoltcp's {@code TcpRepr}): ports, sequence and acknowledgment
 * numbers, flags, window, urgent pointer, and the options. {@link #optionsLength} is computed from the values
 * once, and {@link #emit} writes header and options in one pass with the layout below (RFC 9293 §3.1; options
 * RFC 7323, RFC 2018, RFC 7413), 4-byte aligned as Linux lays them out:
 *
 * <pre>
 * SYN, SYN-ACK: MSS(4) [SACK-permitted(2) TS(10) | NOP NOP TS(10) | NOP NOP SACK-permitted(2)]
 *               [NOP window-scale(3)] [NOP NOP Fast-Open(2 + cookie)]
 * other:        [NOP NOP TS(10)] [NOP NOP SACK(2 + 8 n)]
 * </pre>
 *
 * One instance per TCP layer, refilled for every segment (poll thread; nothing allocated).
 */
final class TcpHeaderRepr {
    private static final ByteOrder NETWORK = ByteOrder.BIG_ENDIAN;
    /** NOP, NOP, then the timestamps option's kind and length (RFC 7323 Appendix A's layout). */
    private static final long TIMESTAMPS_WORD = (TcpOptions.KIND_NO_OPERATION << 24) | (TcpOptions.KIND_NO_OPERATION << 16)
        | (TcpOptions.KIND_TIMESTAMPS << 8) | TcpOptions.TIMESTAMPS_LENGTH;
    int sourcePort;
    int destinationPort;
    int seq;
    int ack;
    int flags;
    int window;
    /** Meaningful with URG in {@link #flags}. */
    int urgentPointer;
    /** SYN only: the MSS we announce. */
    int mss;
    /** SYN only. */
    boolean sackPermitted;
    boolean timestamps;
    int tsVal;
    int tsEcr;
    /** SYN only: our window scale shift, or -1 for no window scale option. */
    int windowScale = -1;
    /** SYN only: a Fast Open option, with {@link #cookieLength} bytes of {@link #cookie} (0: a cookie request). */
    boolean fastOpen;
    byte[] cookie;
    int cookieLength;
    /** Not SYN: SACK blocks, the first of which may be a D-SACK (RFC 2883). */
    int sackBlocks;
    final int[] sackLeft = new int[4];
    final int[] sackRight = new int[4];

    private final TcpSegment segment = new TcpSegment();

    /** Clears the options (the caller then sets the fields of the next segment). */
    TcpHeaderRepr clearOptions() {
        mss = 0;
        sackPermitted = false;
        timestamps = false;
        windowScale = -1;
        fastOpen = false;
        cookie = null;
        cookieLength = 0;
        sackBlocks = 0;
        return this;
    }

    boolean syn() {
        return (flags & TcpSegment.SYN) != 0;
    }

    /** Bytes of options, a multiple of 4. */
    int optionsLength() {
        if (syn()) {
            int length = 4 + (sackPermitted || timestamps ? (timestamps ? 12 : 4) : 0) + (windowScale >= 0 ? 4 : 0);
            return length + (fastOpen ? 4 + cookieLength : 0);
        }
        return (timestamps ? 12 : 0) + (sackBlocks > 0 ? 4 + 8 * sackBlocks : 0);
    }

    int headerLength() {
        return TcpSegment.MIN_HEADER_LENGTH + optionsLength();
    }

    /**
     * Writes the header at {@code offset} of {@code buffer} (which holds header and payload, {@code length}
     * bytes), checksum zero. Returns the offset after the header, where the payload goes.
     */
    int emit(MutableDirectBuffer buffer, int offset, int length) {
        int optionsLength = optionsLength();
        segment.wrap(buffer, offset, length);
        // The fixed header in 8-byte words, so that the checksum's 8-byte loads right after (TcpSegment
        // computeChecksum) each find one store to forward from, not several smaller ones to wait for; the
        // same bytes as TcpSegment.writeHeader and urgentPointer (TcpHeaderReprTest compares them).
        long words = ((long) ((TcpSegment.MIN_HEADER_LENGTH + optionsLength) >>> 2 << 4 & 0xFF) << 24)
            | ((long) (flags & 0xFF) << 16) | (window & 0xFFFF);
        buffer.putLong(offset, ((long) (sourcePort & 0xFFFF) << 48) | ((long) (destinationPort & 0xFFFF) << 32)
            | (seq & 0xFFFF_FFFFL), NETWORK);
        buffer.putLong(offset + 8, ((long) ack << 32) | words, NETWORK);
        long checksumAndUrgent = (flags & TcpSegment.URG) != 0 ? urgentPointer & 0xFFFF : 0; // checksum zero
        int start = offset + TcpSegment.MIN_HEADER_LENGTH;
        int at = start;
        if (!syn() && timestamps) {
            // A data segment's or an ACK's timestamps (NOP, NOP, kind, length, TSval, TSecr) in two more words.
            buffer.putLong(offset + 16, checksumAndUrgent << 32 | TIMESTAMPS_WORD, NETWORK);
            buffer.putLong(offset + 24, ((long) tsVal << 32) | (tsEcr & 0xFFFF_FFFFL), NETWORK);
            at += 12;
            if (sackBlocks > 0) {
                at = TcpOptions.writeNop(buffer, at);
                at = TcpOptions.writeNop(buffer, at);
                at = TcpOptions.writeSackBlocks(buffer, at, sackLeft, sackRight, sackBlocks);
            }
            return at;
        }
        buffer.putInt(offset + 16, (int) checksumAndUrgent, NETWORK);
        if (syn()) {
            at = TcpOptions.writeMss(buffer, at, mss);
            if (sackPermitted && timestamps) {
                at = TcpOptions.writeSackPermitted(buffer, at);
                at = TcpOptions.writeTimestamps(buffer, at, tsVal, tsEcr);
            } else if (timestamps) {
                at = TcpOptions.writeNop(buffer, at);
                at = TcpOptions.writeNop(buffer, at);
                at = TcpOptions.writeTimestamps(buffer, at, tsVal, tsEcr);
            } else if (sackPermitted) {
                at = TcpOptions.writeNop(buffer, at);
                at = TcpOptions.writeNop(buffer, at);
                at = TcpOptions.writeSackPermitted(buffer, at);
            }
            if (windowScale >= 0) {
                at = TcpOptions.writeNop(buffer, at);
                at = TcpOptions.writeWindowScale(buffer, at, windowScale);
            }
            at = TcpOptions.writePadding(buffer, start, at);
            if (fastOpen) {
                at = TcpOptions.writeNop(buffer, at);
                at = TcpOptions.writeNop(buffer, at);
                at = TcpOptions.writeFastOpen(buffer, at, cookie, cookieLength);
            }
        } else {
            if (timestamps) {
                at = TcpOptions.writeNop(buffer, at);
                at = TcpOptions.writeNop(buffer, at);
                at = TcpOptions.writeTimestamps(buffer, at, tsVal, tsEcr);
            }
            if (sackBlocks > 0) {
                at = TcpOptions.writeNop(buffer, at);
                at = TcpOptions.writeNop(buffer, at);
                at = TcpOptions.writeSackBlocks(buffer, at, sackLeft, sackRight, sackBlocks);
            }
        }
        return at;
    }
}
