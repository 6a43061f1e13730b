package io.fastpath.ndk;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

/** Golden bytes for MPA request/reply frames (RFC 5044 §7.1, RFC 6581 §3) and FPDUs (RFC 5044 §4). */
class MpaFrameTest {
    private static final HexFormat HEX = HexFormat.of();

    /** "MPA ID Req Frame", flags E, rev 2, PD_Length 7, IRD 0xC000|3 (P2P + zero-length send), ORD 5, "abc". */
    private static final String REQUEST = "4d504120494420526571204672616d65" + "10" + "02" + "0007" + "c003" + "0005"
        + "616263";

    private static UnsafeBuffer bytes(String hex) {
        return new UnsafeBuffer(HEX.parseHex(hex));
    }

    @Test
    void requestIsEmittedByteForByte_rfc5044_s7_1_rfc6581_s3() {
        UnsafeBuffer b = new UnsafeBuffer(new byte[64]);
        MemorySegment pd = MemorySegment.ofArray("abc".getBytes(StandardCharsets.US_ASCII));
        int n = MpaFrame.emit(b, 0, true, false, 3, 5, pd, 0, 3);
        assertEquals(27, n);
        byte[] out = new byte[n];
        b.getBytes(0, out);
        assertEquals(REQUEST, HEX.formatHex(out));
    }

    @Test
    void requestIsParsedIntoItsFields() {
        MpaFrame f = new MpaFrame();
        UnsafeBuffer b = bytes(REQUEST);
        assertEquals(27, f.parse(b, 0, 27, true, 508));
        assertTrue(f.request());
        assertEquals(MpaFrame.FLAG_ENHANCED, f.flags());
        assertEquals(2, f.revision());
        assertEquals(7, f.pdLength());
        assertEquals(3, f.ird());
        assertEquals(5, f.ord());
        assertEquals(MpaFrame.IRD_PEER_TO_PEER | MpaFrame.IRD_ZERO_LENGTH_SEND, f.irdControl());
        assertEquals(0, f.ordControl());
        assertEquals(3, f.privateDataLength());
        byte[] pd = new byte[3];
        b.getBytes(f.privateDataOffset(), pd);
        assertArrayEquals("abc".getBytes(StandardCharsets.US_ASCII), pd);
    }

    @Test
    void rejectReplyCarriesTheRejectFlagAndItsPrivateData() {
        UnsafeBuffer b = new UnsafeBuffer(new byte[64]);
        MemorySegment pd = MemorySegment.ofArray("no".getBytes(StandardCharsets.US_ASCII));
        int n = MpaFrame.emit(b, 0, false, true, 0, 0, pd, 0, 2);
        byte[] out = new byte[n];
        b.getBytes(0, out);
        assertEquals("4d504120494420526570204672616d65" + "30" + "02" + "0006" + "c000" + "0000" + "6e6f",
            HEX.formatHex(out));
        MpaFrame f = new MpaFrame();
        assertEquals(n, f.parse(b, 0, n, false, 508));
        assertTrue(f.rejected());
        assertEquals(2, f.privateDataLength());
    }

    @Test
    void everyTruncationAsksForMoreAndNeverFails() {
        MpaFrame f = new MpaFrame();
        UnsafeBuffer b = bytes(REQUEST);
        for (int n = 0; n < 27; n++) {
            assertEquals(0, f.parse(b, 0, n, true, 508), "truncated at " + n);
        }
    }

    @Test
    void aWrongKeyIsRefusedFromItsFirstWrongByte() {
        MpaFrame f = new MpaFrame();
        assertEquals(MpaFrame.ERR_BAD_KEY, f.parse(bytes("474554202f"), 0, 5, true, 508)); // "GET /"
        // a reply where a request is expected
        UnsafeBuffer b = bytes(REQUEST.replace("526571", "526570"));
        assertEquals(MpaFrame.ERR_BAD_KEY, f.parse(b, 0, 27, true, 508));
    }

    @Test
    void unsupportedOrImpossibleHeadersAreRefusedWithAReason() {
        MpaFrame f = new MpaFrame();
        String key = REQUEST.substring(0, 32);
        String rest = "c003000561626364";
        assertEquals(MpaFrame.ERR_MARKERS_REQUIRED, f.parse(bytes(key + "90020008" + rest), 0, 28, true, 508));
        assertEquals(28, f.parse(bytes(key + "50020008" + rest), 0, 28, true, 508)); // C: honoured, not refused
        assertTrue(f.crc());
        assertEquals(MpaFrame.ERR_REJECT_IN_REQUEST, f.parse(bytes(key + "30020008" + rest), 0, 28, true, 508));
        assertEquals(MpaFrame.ERR_REVISION, f.parse(bytes(key + "10010008" + rest), 0, 28, true, 508));
        assertEquals(MpaFrame.ERR_NOT_ENHANCED, f.parse(bytes(key + "00020008" + rest), 0, 28, true, 508));
        assertEquals(MpaFrame.ERR_PD_LENGTH, f.parse(bytes(key + "10020201"), 0, 20, true, 508)); // 513
        assertEquals(MpaFrame.ERR_NO_IRD_ORD, f.parse(bytes(key + "10020002c003"), 0, 22, true, 508));
        assertEquals(MpaFrame.ERR_PRIVATE_DATA_TOO_LONG, f.parse(bytes(key + "10020008" + rest), 0, 28, true, 3));
        assertEquals(MpaFrame.ERR_RTR_MODEL, f.parse(bytes(key + "10020008" + "0003000561626364"), 0, 28, true, 508));
        for (int e = -1; e >= -11; e--) {
            assertFalse(MpaFrame.describe(e).startsWith("error"), "described: " + e);
        }
    }

    @Test
    void reservedFlagBitsAreIgnoredOnReceiveAndSentAsZero_rfc5044_s7_1() {
        MpaFrame f = new MpaFrame();
        String key = REQUEST.substring(0, 32);
        assertEquals(28, f.parse(bytes(key + "1f020008" + "c003000561626364"), 0, 28, true, 508));
        assertEquals(MpaFrame.FLAG_ENHANCED, f.flags());
        assertEquals(4, f.privateDataLength());
        UnsafeBuffer b = new UnsafeBuffer(new byte[64]);
        MpaFrame.emit(b, 0, false, true, 1, 1, null, 0, 0);
        assertEquals(0, b.getByte(MpaFrame.FLAGS_OFFSET) & MpaFrame.FLAGS_RESERVED);
    }

    @Test
    void maximumPrivateDataIs508BytesAfterTheIrdOrdWords_rfc5044_s7_1() {
        UnsafeBuffer b = new UnsafeBuffer(new byte[MpaFrame.MAX_FRAME_LENGTH]);
        MemorySegment pd = MemorySegment.ofArray(new byte[508]);
        int n = MpaFrame.emit(b, 0, true, false, 1, 1, pd, 0, 508);
        assertEquals(532, n);
        assertEquals(512, b.getShort(MpaFrame.PD_LENGTH_OFFSET, java.nio.ByteOrder.BIG_ENDIAN));
        assertEquals(532, new MpaFrame().parse(b, 0, n, true, 508));
        assertThrows(IllegalArgumentException.class, () -> MpaFrame.emit(b, 0, true, false, 1, 1, pd, 0, 509));
        assertThrows(IllegalArgumentException.class, () -> MpaFrame.emit(b, 0, true, false, 16384, 1, pd, 0, 0));
    }

    @Test
    void fpduIsLengthUlpduPadAndZeroCrc_rfc5044_s4() {
        assertEquals(8, MpaFrame.fpduLength(0));
        assertEquals(8, MpaFrame.fpduLength(1));
        assertEquals(8, MpaFrame.fpduLength(2));
        assertEquals(12, MpaFrame.fpduLength(3));
        UnsafeBuffer b = new UnsafeBuffer(new byte[16]);
        b.setMemory(0, 16, (byte) 0xEE);
        b.putBytes(2, "hey".getBytes(StandardCharsets.US_ASCII));
        int n = MpaFrame.emitFpdu(b, 0, 3);
        byte[] out = new byte[n];
        b.getBytes(0, out);
        assertEquals("0003" + "686579" + "000000" + "00000000", HEX.formatHex(out));
        assertEquals("0000" + "0000" + "00000000", HEX.formatHex(java.util.Arrays.copyOf(out, 0))
            + emitted(0));
    }

    /** CRC32c bit by bit (reflected polynomial 0x82F63B78, init and final XOR all ones), independent of CRC32C. */
    static int crc32c(byte[] data, int from, int to) {
        int c = 0xFFFFFFFF;
        for (int i = from; i < to; i++) {
            c ^= data[i] & 0xFF;
            for (int k = 0; k < 8; k++) {
                c = (c & 1) != 0 ? (c >>> 1) ^ 0x82F63B78 : c >>> 1;
            }
        }
        return ~c;
    }

    @Test
    void bitwiseCrc32cMatchesTheKnownVectors() {
        assertEquals(0xE3069283, crc32c("123456789".getBytes(StandardCharsets.US_ASCII), 0, 9)); // CRC catalogue check
        assertEquals(0x8A9136AA, crc32c(new byte[32], 0, 32)); // RFC 3720 §B.4: 32 zero bytes, sent "aa 36 91 8a"
    }

    @Test
    void fpduCrcIsCrc32cOfLengthUlpduAndPadLeastSignificantByteFirst_rfc5044_s4_1() {
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        // heap buffer with an offset (array path)
        UnsafeBuffer b = new UnsafeBuffer(new byte[32], 4, 16);
        b.setMemory(0, 16, (byte) 0xEE);
        b.putBytes(2, "hey".getBytes(StandardCharsets.US_ASCII));
        assertEquals(12, MpaFrame.emitFpdu(b, 0, 3, crc));
        byte[] out = new byte[12];
        b.getBytes(0, out);
        int expected = crc32c(out, 0, 8);
        assertEquals("0003" + "686579" + "000000", HEX.formatHex(out, 0, 8));
        String le = String.format("%02x%02x%02x%02x", expected & 0xFF, (expected >>> 8) & 0xFF, (expected >>> 16) & 0xFF,
            expected >>> 24);
        assertEquals(le, HEX.formatHex(out, 8, 12));
        assertEquals(expected, MpaFrame.getCrc(b, 8));
        // Golden bytes (computed with the bitwise CRC32c above; pinned so the wire format cannot drift).
        assertEquals("0003686579000000" + "41af9095", HEX.formatHex(out)); // CRC32c 0x9590AF41, LSB first
        assertEquals("41af9095", le);
        // The zero-length FPDU (the RTR message) and a 5-byte one: same value from a direct ByteBuffer at an
        // offset (in place) and from a bare native address (copied through a scratch array).
        for (int len : new int[] {0, 5, 1000}) {
            int total = MpaFrame.fpduLength(len);
            java.nio.ByteBuffer direct = java.nio.ByteBuffer.allocateDirect(total + 8);
            UnsafeBuffer d = new UnsafeBuffer(direct, 8, total);
            for (int i = 0; i < len; i++) {
                d.putByte(2 + i, (byte) (i * 7));
            }
            MpaFrame.emitFpdu(d, 0, len, crc);
            byte[] got = new byte[total];
            d.getBytes(0, got);
            assertEquals(crc32c(got, 0, total - 4), MpaFrame.getCrc(d, total - 4), "direct " + len);
            UnsafeBuffer raw = new UnsafeBuffer(d.addressOffset(), total);
            crc.reset();
            MpaFrame.update(crc, raw, 0, total - 4, new byte[3]);
            assertEquals(crc32c(got, 0, total - 4), (int) crc.getValue(), "scratch " + len);
        }
    }

    @Test
    void requestAndReplyCarryTheCFlagWhenAsked_rfc5044_s7_1() {
        UnsafeBuffer b = new UnsafeBuffer(new byte[64]);
        MpaFrame.emit(b, 0, true, false, true, 3, 5, null, 0, 0);
        assertEquals(MpaFrame.FLAG_ENHANCED | MpaFrame.FLAG_CRC, b.getByte(MpaFrame.FLAGS_OFFSET) & 0xFF);
        MpaFrame f = new MpaFrame();
        assertEquals(24, f.parse(b, 0, 24, true, 508));
        assertTrue(f.crc());
        MpaFrame.emit(b, 0, false, false, false, 3, 5, null, 0, 0);
        assertEquals(24, f.parse(b, 0, 24, false, 508));
        assertFalse(f.crc());
    }

    private static String emitted(int ulpdu) {
        UnsafeBuffer b = new UnsafeBuffer(new byte[16]);
        b.setMemory(0, 16, (byte) 0xEE);
        int n = MpaFrame.emitFpdu(b, 0, ulpdu);
        byte[] out = new byte[n];
        b.getBytes(0, out);
        return HEX.formatHex(out);
    }
}
