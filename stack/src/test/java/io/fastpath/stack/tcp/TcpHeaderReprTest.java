package io.fastpath.stack.tcp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.fastpath.stack.wire.TcpOptions;
import io.fastpath.stack.wire.TcpSegment;
import io.fastpath.stack.wire.WireError;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

/** Golden bytes for the headers TCP sends (RFC 9293 §3.1 header, RFC 7323 / 2018 / 7413 options). */
class TcpHeaderReprTest {
    private final TcpHeaderRepr h = new TcpHeaderRepr();
    private final UnsafeBuffer buffer = new UnsafeBuffer(new byte[128]);

    private byte[] emit() {
        int length = h.headerLength();
        int end = h.emit(buffer, 0, length);
        assertEquals(length, end, "emit ends where headerLength says");
        byte[] bytes = new byte[length];
        buffer.getBytes(0, bytes);
        return bytes;
    }

    private static byte[] bytes(int... values) {
        byte[] b = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            b[i] = (byte) values[i];
        }
        return b;
    }

    private void header(int flags) {
        h.clearOptions();
        h.sourcePort = 0x1234;
        h.destinationPort = 80;
        h.seq = 0x01020304;
        h.ack = flags == TcpSegment.SYN ? 0 : 0x0A0B0C0D;
        h.flags = flags;
        h.window = 0xFFFF;
    }

    @Test
    void synWithEveryOptionHasLinuxLayout_rfc9293_s3_1_rfc7323_rfc2018() {
        header(TcpSegment.SYN);
        h.mss = 1460;
        h.sackPermitted = true;
        h.timestamps = true;
        h.tsVal = 0x11223344;
        h.tsEcr = 0;
        h.windowScale = 7;
        assertArrayEquals(bytes(
            0x12, 0x34, 0x00, 0x50, 0x01, 0x02, 0x03, 0x04, 0, 0, 0, 0, 0xA0, 0x02, 0xFF, 0xFF, 0, 0, 0, 0,
            0x02, 0x04, 0x05, 0xB4,                                  // MSS 1460
            0x04, 0x02, 0x08, 0x0A, 0x11, 0x22, 0x33, 0x44, 0, 0, 0, 0, // SACK-permitted, timestamps
            0x01, 0x03, 0x03, 0x07), emit());                        // NOP, window scale 7
    }

    @Test
    void synWithoutTimestampsPadsSackPermittedWithNops() {
        header(TcpSegment.SYN | TcpSegment.ACK);
        h.mss = 536;
        h.sackPermitted = true;
        assertArrayEquals(bytes(
            0x12, 0x34, 0x00, 0x50, 0x01, 0x02, 0x03, 0x04, 0x0A, 0x0B, 0x0C, 0x0D, 0x70, 0x12, 0xFF, 0xFF, 0, 0, 0, 0,
            0x02, 0x04, 0x02, 0x18, 0x01, 0x01, 0x04, 0x02), emit());
    }

    @Test
    void fastOpenCookieFollowsTheAlignedOptions_rfc7413_s4_1_1() {
        header(TcpSegment.SYN);
        h.mss = 1460;
        h.fastOpen = true;
        h.cookie = bytes(1, 2, 3, 4, 5, 6, 7, 8);
        h.cookieLength = 8;
        byte[] out = emit();
        assertEquals(20 + 4 + 12, out.length);
        assertArrayEquals(bytes(0x01, 0x01, 0x22, 0x0A, 1, 2, 3, 4, 5, 6, 7, 8), java.util.Arrays.copyOfRange(out, 24, 36));
    }

    @Test
    void dataSegmentCarriesTimestampsThenSackBlocks_rfc2018_s3() {
        header(TcpSegment.ACK);
        h.timestamps = true;
        h.tsVal = 5;
        h.tsEcr = 6;
        h.sackBlocks = 2;
        h.sackLeft[0] = 100;
        h.sackRight[0] = 200;
        h.sackLeft[1] = 300;
        h.sackRight[1] = 400;
        byte[] out = emit();
        assertEquals(20 + 12 + 4 + 16, out.length);
        TcpSegment seg = new TcpSegment();
        seg.wrap(buffer, 0, out.length);
        TcpOptions options = new TcpOptions();
        assertEquals(WireError.OK, options.parse(seg));
        assertEquals(5, options.tsVal());
        assertEquals(6, options.tsEcr());
        assertEquals(2, options.sackBlockCount());
    }

    @Test
    void urgentPointerIsWrittenOnlyWithUrg_rfc6093() {
        header(TcpSegment.ACK | TcpSegment.URG);
        h.urgentPointer = 0x0102;
        byte[] out = emit();
        assertEquals(0x01, out[18]);
        assertEquals(0x02, out[19]);
        header(TcpSegment.ACK);
        out = emit();
        assertEquals(0, out[18]);
        assertEquals(0, out[19]);
    }
    /**
     * The old emit: TcpSegment's field writes, then each option (issue 13 made emit write the fixed header, and
     * a data segment's timestamps, as 8-byte words). The reference for the randomised comparison below.
     */
    private static int referenceEmit(TcpHeaderRepr h, UnsafeBuffer buffer, int offset, int length) {
        TcpSegment segment = new TcpSegment();
        segment.wrap(buffer, offset, length);
        segment.writeHeader(h.sourcePort, h.destinationPort, h.seq, h.ack, h.flags, h.window, h.optionsLength());
        if ((h.flags & TcpSegment.URG) != 0) {
            segment.urgentPointer(h.urgentPointer);
        }
        int start = offset + TcpSegment.MIN_HEADER_LENGTH;
        int at = start;
        if ((h.flags & TcpSegment.SYN) != 0) {
            at = TcpOptions.writeMss(buffer, at, h.mss);
            if (h.sackPermitted && h.timestamps) {
                at = TcpOptions.writeSackPermitted(buffer, at);
                at = TcpOptions.writeTimestamps(buffer, at, h.tsVal, h.tsEcr);
            } else if (h.timestamps) {
                at = TcpOptions.writeNop(buffer, at);
                at = TcpOptions.writeNop(buffer, at);
                at = TcpOptions.writeTimestamps(buffer, at, h.tsVal, h.tsEcr);
            } else if (h.sackPermitted) {
                at = TcpOptions.writeNop(buffer, at);
                at = TcpOptions.writeNop(buffer, at);
                at = TcpOptions.writeSackPermitted(buffer, at);
            }
            if (h.windowScale >= 0) {
                at = TcpOptions.writeNop(buffer, at);
                at = TcpOptions.writeWindowScale(buffer, at, h.windowScale);
            }
            at = TcpOptions.writePadding(buffer, start, at);
            if (h.fastOpen) {
                at = TcpOptions.writeNop(buffer, at);
                at = TcpOptions.writeNop(buffer, at);
                at = TcpOptions.writeFastOpen(buffer, at, h.cookie, h.cookieLength);
            }
        } else {
            if (h.timestamps) {
                at = TcpOptions.writeNop(buffer, at);
                at = TcpOptions.writeNop(buffer, at);
                at = TcpOptions.writeTimestamps(buffer, at, h.tsVal, h.tsEcr);
            }
            if (h.sackBlocks > 0) {
                at = TcpOptions.writeNop(buffer, at);
                at = TcpOptions.writeNop(buffer, at);
                at = TcpOptions.writeSackBlocks(buffer, at, h.sackLeft, h.sackRight, h.sackBlocks);
            }
        }
        return at;
    }

    @Test
    void emitWritesWhatFieldByFieldWritesWrote() {
        java.util.SplittableRandom random = new java.util.SplittableRandom(9293);
        UnsafeBuffer actual = new UnsafeBuffer(new byte[128]);
        UnsafeBuffer expected = new UnsafeBuffer(new byte[128]);
        byte[] cookie = new byte[16];
        for (int i = 0; i < 100_000; i++) {
            h.clearOptions();
            h.sourcePort = random.nextInt(1 << 17);
            h.destinationPort = random.nextInt(1 << 17);
            h.seq = random.nextInt();
            h.ack = random.nextInt();
            h.flags = random.nextInt(256);
            h.window = random.nextInt(1 << 17);
            h.urgentPointer = random.nextInt(1 << 17);
            h.timestamps = random.nextInt(4) > 0;
            h.tsVal = random.nextInt();
            h.tsEcr = random.nextInt();
            if ((h.flags & TcpSegment.SYN) != 0) {
                h.mss = random.nextInt(65536);
                h.sackPermitted = random.nextBoolean();
                h.windowScale = random.nextInt(16) - 1;
                h.fastOpen = random.nextInt(4) == 0;
                if (h.fastOpen) {
                    random.nextBytes(cookie);
                    h.cookie = cookie;
                    h.cookieLength = random.nextBoolean() ? 0 : 4 + 2 * random.nextInt(7);
                }
            } else if (random.nextInt(3) == 0) {
                h.sackBlocks = 1 + random.nextInt(h.timestamps ? 3 : 4);
                for (int b = 0; b < h.sackBlocks; b++) {
                    h.sackLeft[b] = random.nextInt();
                    h.sackRight[b] = random.nextInt();
                }
            }
            int offset = random.nextInt(8);
            int length = h.headerLength() + random.nextInt(20);
            byte fill = (byte) random.nextInt();
            actual.setMemory(0, 128, fill);
            expected.setMemory(0, 128, fill);
            assertEquals(referenceEmit(h, expected, offset, length), h.emit(actual, offset, length), "end, " + i);
            for (int b = 0; b < 128; b++) {
                assertEquals(expected.getByte(b), actual.getByte(b), "byte " + b + " of header " + i + ", flags "
                    + h.flags + ", timestamps " + h.timestamps + ", sack blocks " + h.sackBlocks);
            }
        }
    }
}
