package io.fastpath.stack.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.util.SplittableRandom;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

/**
 * The send buffer's ring: what goes in comes out at its sequence numbers, across the ring's end, through both
 * copies (the JIT's below {@code NativeMemory.MIN_COPY} bytes, memcpy from there) and from heap and native
 * sources; a source range outside the application's buffer is refused, as {@code putBytes} refuses it.
 */
class SendBufferTest {
    private static final int CAPACITY = 4096;

    private static byte streamByte(long k) {
        return (byte) (k * 131 + (k >>> 8) + 3);
    }

    @Test
    void bytesComeOutAtTheirSequenceNumbersAcrossTheRingsEndThroughBothCopies() {
        SendBuffer b = new SendBuffer(CAPACITY);
        int iss = 1_000_000_123; // a sequence number far from any multiple of the capacity
        b.reset(iss);
        UnsafeBuffer nativeSource = new UnsafeBuffer(ByteBuffer.allocateDirect(CAPACITY));
        UnsafeBuffer heapSource = new UnsafeBuffer(new byte[CAPACITY]);
        UnsafeBuffer nativeOut = new UnsafeBuffer(ByteBuffer.allocateDirect(CAPACITY + 64));
        UnsafeBuffer heapOut = new UnsafeBuffer(new byte[CAPACITY + 64]);
        SplittableRandom random = new SplittableRandom(13);
        long written = 0;
        long sent = 0;
        for (int round = 0; round < 2_000; round++) {
            // Sizes on both sides of the memcpy threshold, up to the whole ring.
            int n = switch (round % 4) {
                case 0 -> 1 + random.nextInt(64);
                case 1 -> 500 + random.nextInt(30);
                case 2 -> 1 + random.nextInt(CAPACITY);
                default -> CAPACITY;
            };
            UnsafeBuffer src = round % 3 == 0 ? heapSource : nativeSource;
            int offset = random.nextInt(8);
            n = Math.min(n, CAPACITY - offset);
            for (int i = 0; i < n; i++) {
                src.putByte(offset + i, streamByte(written + i));
            }
            int took = b.write(src, offset, n);
            assertEquals(Math.min(n, b.capacity() - (int) (written - sent)), took);
            written += took;
            // Read back a random range of what is queued, then acknowledge part of it.
            int queued = (int) (written - sent);
            if (queued > 0) {
                int from = random.nextInt(queued);
                int len = 1 + random.nextInt(queued - from);
                UnsafeBuffer out = round % 5 == 0 ? heapOut : nativeOut;
                int at = 1 + random.nextInt(63);
                b.copy(iss + (int) (sent + from), len, out, at);
                for (int i = 0; i < len; i++) {
                    assertEquals(streamByte(sent + from + i), out.getByte(at + i),
                        "round " + round + ", stream byte " + (sent + from + i));
                }
                int acked = random.nextInt(queued + 1);
                b.acknowledge(iss + (int) (sent + acked));
                sent += acked;
            }
        }
    }

    @Test
    void aWriteIntoAnEmptiedBufferStartsAtTheRingsFirstByte() {
        SendBuffer b = new SendBuffer(CAPACITY);
        int iss = 1_000_000_123;
        b.reset(iss);
        UnsafeBuffer src = new UnsafeBuffer(ByteBuffer.allocateDirect(256));
        UnsafeBuffer out = new UnsafeBuffer(ByteBuffer.allocateDirect(256));
        for (int message = 0; message < 100; message++) {
            for (int i = 0; i < 100; i++) {
                src.putByte(i, streamByte(message * 100L + i));
            }
            assertEquals(100, b.write(src, 0, 100));
            // A request/response connection: every message at the same place, not one further on each time.
            assertEquals(0, b.slot(b.head()), "message " + message);
            b.copy(b.head(), 100, out, 0);
            for (int i = 0; i < 100; i++) {
                assertEquals(streamByte(message * 100L + i), out.getByte(i));
            }
            b.acknowledge(b.tail());
        }
        // Not empty: a write appends after what is queued.
        assertEquals(100, b.write(src, 0, 100));
        b.acknowledge(b.head() + 40);
        assertEquals(40, b.slot(b.head()));
        assertEquals(100, b.write(src, 0, 100));
        assertEquals(100, b.slot(b.head() + 60));
    }

    @Test
    void aSourceRangeBeyondTheApplicationsBufferIsRefused() {
        SendBuffer b = new SendBuffer(CAPACITY);
        b.reset(0);
        UnsafeBuffer src = new UnsafeBuffer(ByteBuffer.allocateDirect(1024));
        assertThrows(IndexOutOfBoundsException.class, () -> b.write(src, 512, 1024));
        assertEquals(0, b.length());
    }
}
