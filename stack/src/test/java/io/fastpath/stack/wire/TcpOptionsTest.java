package io.fastpath.stack.wire;

import static io.fastpath.stack.wire.Packets.buffer;
import static io.fastpath.stack.wire.Packets.hex;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

class TcpOptionsTest {
    private final TcpOptions options = new TcpOptions();

    private WireError parse(String hex) {
        final UnsafeBuffer buffer = buffer(hex); // exact size: a read past the region would throw
        return options.parse(buffer, 0, buffer.capacity());
    }

    @Test
    void emptyRegionIsOkWithNothingPresent() {
        assertEquals(WireError.OK, parse(""));
        assertFalse(options.hasMss());
        assertFalse(options.hasWindowScale());
        assertFalse(options.sackPermitted());
        assertFalse(options.hasTimestamps());
        assertEquals(0, options.sackBlockCount());
    }

    @Test
    void unknownOptionIsSkippedByItsLength_rfc9293_s3_1_MUST6() {
        // Kind 30 (MPTCP, RFC 8684) of length 6, then MSS.
        assertEquals(WireError.OK, parse("1e06aabbccdd" + "020405b4"));
        assertTrue(options.hasMss());
        assertEquals(1460, options.mss());
    }

    @Test
    void zeroLengthIsBadOption_rfc9293_s3_1_MUST7() {
        assertEquals(WireError.BAD_OPTION, parse("1e00" + "020405b4"));
        assertFalse(options.hasMss());
    }

    @Test
    void lengthOneIsBadOption_rfc9293_s3_1_MUST7() {
        assertEquals(WireError.BAD_OPTION, parse("0201" + "0000"));
    }

    @Test
    void optionRunningPastTheRegionIsBadOption_rfc9293_s3_1_MUST7() {
        assertEquals(WireError.BAD_OPTION, parse("080a" + "0000000100"));
        assertEquals(WireError.BAD_OPTION, parse("01" + "0206" + "05b400"));
    }

    @Test
    void kindWithoutRoomForItsLengthOctetIsBadOption_rfc9293_s3_1_MUST7() {
        assertEquals(WireError.BAD_OPTION, parse("010101" + "02"));
    }

    @Test
    void badOptionClearsWhatWasParsedBeforeIt() {
        assertEquals(WireError.BAD_OPTION, parse("020405b4" + "0402" + "0300"));
        assertFalse(options.hasMss());
        assertFalse(options.sackPermitted());
    }

    @Test
    void endOfOptionListStopsParsing_rfc9293_s3_2() {
        // Anything after End of Option List is padding, even if it looks malformed.
        assertEquals(WireError.OK, parse("020405b4" + "00" + "0300ffff"));
        assertEquals(1460, options.mss());
        assertFalse(options.hasWindowScale());
    }

    @Test
    void knownKindWithTheWrongLengthIsSkipped_rfc9293_s3_1() {
        assertEquals(WireError.OK, parse("020605b40000" + "030403ff" + "0403ff" + "0402"));
        assertFalse(options.hasMss());
        assertFalse(options.hasWindowScale());
        assertTrue(options.sackPermitted());
    }

    @Test
    void windowScaleIsReportedRawForTheCallerToClamp_rfc7323_s2_3() {
        assertEquals(WireError.OK, parse("03030f" + "00"));
        assertEquals(15, options.windowScale());
    }

    @Test
    void sackBlocksAreParsedAfterTimestamps_rfc2018_s3() {
        // The usual Linux layout: NOP NOP TS, NOP NOP SACK with three blocks (3 * 8 + 2 = 26 octets).
        assertEquals(WireError.OK, parse("0101080a0000000100000002" + "0101051a"
            + "000003e8000007d0" + "00000bb800000fa0" + "ffffff00000000ff"));
        assertTrue(options.hasTimestamps());
        assertEquals(1, options.tsVal());
        assertEquals(2, options.tsEcr());
        assertEquals(3, options.sackBlockCount());
        assertEquals(1000, options.sackLeft(0));
        assertEquals(2000, options.sackRight(0));
        assertEquals(3000, options.sackLeft(1));
        assertEquals(4000, options.sackRight(1));
        assertEquals(0xffffff00, options.sackLeft(2)); // blocks may wrap the sequence space
        assertEquals(0xff, options.sackRight(2));
    }

    @Test
    void sackWithPartialBlockIsSkipped_rfc2018_s3() {
        assertEquals(WireError.OK, parse("050600000001" + "0101"));
        assertEquals(0, options.sackBlockCount());
    }

    @Test
    void parseForgetsThePreviousSegment() {
        assertEquals(WireError.OK, parse("020405b4" + "0402" + "0101"));
        assertEquals(WireError.OK, parse("01010101"));
        assertFalse(options.hasMss());
        assertFalse(options.sackPermitted());
    }

    @Test
    void writersRoundTripFourSackBlocks_rfc2018_s3() {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[36]);
        final int[] left = {1, 3, 5, 0x8000_0000};
        final int[] right = {2, 4, 6, 0x8000_0010};
        int at = TcpOptions.writeNop(buffer, 0);
        at = TcpOptions.writeNop(buffer, at);
        at = TcpOptions.writeSackBlocks(buffer, at, left, right, 4);
        assertEquals(36, at);
        assertEquals(WireError.OK, options.parse(buffer, 0, 36));
        assertEquals(4, options.sackBlockCount());
        for (int block = 0; block < 4; block++) {
            assertEquals(left[block], options.sackLeft(block));
            assertEquals(right[block], options.sackRight(block));
        }
    }

    @Test
    void writePaddingZeroFillsToAWordBoundary_rfc9293_s3_1() {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[10]);
        buffer.setMemory(0, 10, (byte) 0xEE);
        int at = TcpOptions.writeWindowScale(buffer, 2, 7);
        at = TcpOptions.writePadding(buffer, 2, at);
        assertEquals(6, at);
        assertEquals("eeee03030700eeeeeeee", hex(buffer));
        assertEquals(6, TcpOptions.writePadding(buffer, 2, 6));
    }

    @Test
    void writeEndOfOptionListWritesKindZero_rfc9293_s3_2() {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[1]);
        buffer.putByte(0, (byte) 0xEE);
        assertEquals(1, TcpOptions.writeEndOfOptionList(buffer, 0));
        assertEquals("00", hex(buffer));
    }

    @Test
    void toStringListsWhatIsPresent() {
        parse("020405b4" + "0402" + "080a" + "ac1aac35" + "00000000" + "01" + "030307");
        assertEquals("TcpOptions{mss=1460 ws=7 sackPermitted ts=2887429173/0 }", options.toString());
    }

    /**
     * The aligned-timestamps shortcut of {@link TcpOptions#parse(org.agrona.DirectBuffer, int, int)} finds what the
     * option-by-option walk finds: random 12-byte regions (half of them with the NOP, NOP, timestamps prefix, some
     * with the prefix at another place or a near miss of it), regions of other lengths, at random offsets.
     */
    @Test
    void alignedTimestampsShortcutAgreesWithTheWalk() {
        java.util.Random random = new java.util.Random(1308);
        UnsafeBuffer b = new UnsafeBuffer(new byte[64]);
        TcpOptions fast = new TcpOptions();
        TcpOptions walk = new TcpOptions();
        int shortcuts = 0;
        for (int round = 0; round < 200_000; round++) {
            byte[] bytes = new byte[64];
            random.nextBytes(bytes);
            b.putBytes(0, bytes);
            int offset = random.nextInt(20);
            int length = random.nextInt(4) == 0 ? random.nextInt(41) : 12;
            switch (random.nextInt(4)) {
                case 0, 1 -> b.putInt(offset, TcpOptions.ALIGNED_TIMESTAMPS_PREFIX, java.nio.ByteOrder.BIG_ENDIAN);
                case 2 -> b.putInt(offset, TcpOptions.ALIGNED_TIMESTAMPS_PREFIX ^ (1 << random.nextInt(32)),
                    java.nio.ByteOrder.BIG_ENDIAN);
                default -> {
                }
            }
            if (length == 12 && b.getInt(offset, java.nio.ByteOrder.BIG_ENDIAN) == TcpOptions.ALIGNED_TIMESTAMPS_PREFIX) {
                shortcuts++;
            }
            String where = "round " + round;
            assertEquals(walk.parseEach(b, offset, length), fast.parse(b, offset, length), where);
            assertEquals(walk.hasTimestamps(), fast.hasTimestamps(), where);
            assertEquals(walk.tsVal(), fast.tsVal(), where);
            assertEquals(walk.tsEcr(), fast.tsEcr(), where);
            assertEquals(walk.hasMss(), fast.hasMss(), where);
            assertEquals(walk.mss(), fast.mss(), where);
            assertEquals(walk.hasWindowScale(), fast.hasWindowScale(), where);
            assertEquals(walk.windowScale(), fast.windowScale(), where);
            assertEquals(walk.sackPermitted(), fast.sackPermitted(), where);
            assertEquals(walk.sackBlockCount(), fast.sackBlockCount(), where);
            for (int i = 0; i < walk.sackBlockCount(); i++) {
                assertEquals(walk.sackLeft(i), fast.sackLeft(i), where);
                assertEquals(walk.sackRight(i), fast.sackRight(i), where);
            }
            assertEquals(walk.hasFastOpen(), fast.hasFastOpen(), where);
            assertEquals(walk.fastOpenCookieOffset(), fast.fastOpenCookieOffset(), where);
            assertEquals(walk.fastOpenCookieLength(), fast.fastOpenCookieLength(), where);
            // fast keeps what this round parsed: the next round's parse, shortcut or walk, must clear all of it.
        }
        assertTrue(shortcuts > 50_000, "the shortcut ran " + shortcuts + " times");
    }

    /** The shortcut clears what an earlier segment's options left (MSS, window scale, SACK blocks, a cookie). */
    @Test
    void alignedTimestampsShortcutLeavesNothingOfTheSegmentBefore() {
        UnsafeBuffer b = new UnsafeBuffer(new byte[64]);
        TcpOptions o = new TcpOptions();
        byte[] before = java.util.HexFormat.of().parseHex(
            "020405b4" + "030307" + "0402" + "01" + "050a" + "00000001" + "00000009" + "2206" + "01020304" + "0000");
        b.putBytes(0, before);
        o.parse(b, 0, before.length);
        assertTrue(o.hasMss() && o.hasWindowScale() && o.sackPermitted() && o.sackBlockCount() == 1 && o.hasFastOpen(),
            o.toString());
        b.putInt(0, TcpOptions.ALIGNED_TIMESTAMPS_PREFIX, java.nio.ByteOrder.BIG_ENDIAN);
        b.putInt(4, 7, java.nio.ByteOrder.BIG_ENDIAN);
        b.putInt(8, 3, java.nio.ByteOrder.BIG_ENDIAN);
        o.parse(b, 0, 12);
        assertTrue(o.hasTimestamps());
        assertEquals(7, o.tsVal());
        assertEquals(3, o.tsEcr());
        assertFalse(o.hasMss(), "MSS of the segment before");
        assertFalse(o.hasWindowScale(), "window scale of the segment before");
        assertFalse(o.sackPermitted(), "SACK-permitted of the segment before");
        assertEquals(0, o.sackBlockCount(), "SACK blocks of the segment before");
        assertFalse(o.hasFastOpen(), "a cookie of the segment before");
    }
}
