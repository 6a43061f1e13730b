package io.fastpath.perf;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.util.SplittableRandom;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

/** The receivers' byte-by-byte check of bench's bulk streams, fed in pieces of every size. */
class StreamVerifierTest {
    private static UnsafeBuffer stream(int length) {
        UnsafeBuffer b = new UnsafeBuffer(ByteBuffer.allocateDirect(length));
        for (int i = 0; i < length; i++) {
            b.putByte(i, BulkSender.patternAt(i));
        }
        return b;
    }

    @Test
    void theSendersPatternPassesHoweverItIsSplit() {
        UnsafeBuffer s = stream(200_000);
        SplittableRandom random = new SplittableRandom(7);
        StreamVerifier v = new StreamVerifier();
        int at = 0;
        while (at < s.capacity()) {
            int n = Math.min(s.capacity() - at, 1 + random.nextInt(3000));
            assertEquals(-1, v.check(s.addressOffset() + at, n), "piece at " + at);
            at += n;
        }
        assertEquals(s.capacity(), v.position());
    }

    @Test
    void aWrongByteIsReportedAtItsStreamOffset() {
        for (int bad : new int[] {0, 7, 8, 31, 32, 33, 63, 255, 256, 1459, 1460, 4099, 8_979, 65_535, 65_536, 99_999}) {
            UnsafeBuffer s = stream(100_000);
            s.putByte(bad, (byte) (s.getByte(bad) ^ 0x10));
            StreamVerifier v = new StreamVerifier();
            long found = -1;
            for (int at = 0; at < s.capacity() && found < 0; at += 1460) {
                found = v.check(s.addressOffset() + at, Math.min(1460, s.capacity() - at));
            }
            assertEquals(bad, found);
        }
    }

    @Test
    void theSixtyFourKibChunkRepeatsThePattern() {
        // BulkSender and NioLoopback's writer send one 64 KiB chunk over and over: byte k of the stream is
        // chunk[k % 65536], which must equal patternAt(k) for the verifier to hold.
        for (long k : new long[] {0, 65_535, 65_536, 1L << 32, (1L << 40) + 12_345}) {
            assertEquals(BulkSender.patternAt(k % 65_536), BulkSender.patternAt(k), "byte " + k);
        }
    }
}
