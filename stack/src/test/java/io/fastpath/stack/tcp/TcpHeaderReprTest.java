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
}
