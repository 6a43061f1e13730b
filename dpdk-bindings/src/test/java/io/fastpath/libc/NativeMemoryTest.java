package io.fastpath.libc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** memcpy through the critical downcall: every byte lands, in pieces across {@link NativeMemory#MAX_PIECE}. */
class NativeMemoryTest {
    @Test
    void copiesEveryByteAndNothingBeyondAcrossPieceBoundaries() {
        Random random = new Random(4711);
        int[] lengths = {0, 1, NativeMemory.MIN_COPY, NativeMemory.MAX_PIECE - 1, NativeMemory.MAX_PIECE,
            NativeMemory.MAX_PIECE + 1, 3 * NativeMemory.MAX_PIECE + 12_345};
        try (Arena arena = Arena.ofConfined()) {
            for (int length : lengths) {
                byte[] data = new byte[length];
                random.nextBytes(data);
                MemorySegment source = arena.allocate(length + 64);
                MemorySegment destination = arena.allocate(length + 64);
                MemorySegment.copy(data, 0, source, ValueLayout.JAVA_BYTE, 7, length);
                destination.fill((byte) 0x5A);
                NativeMemory.copy(destination.address() + 3, source.address() + 7, length);
                byte[] copied = new byte[length];
                MemorySegment.copy(destination, ValueLayout.JAVA_BYTE, 3, copied, 0, length);
                assertArrayEquals(data, copied, "length " + length);
                for (long i = 0; i < 3; i++) {
                    assertEquals((byte) 0x5A, destination.get(ValueLayout.JAVA_BYTE, i), "before, length " + length);
                }
                for (long i = 3 + length; i < length + 64; i++) {
                    assertEquals((byte) 0x5A, destination.get(ValueLayout.JAVA_BYTE, i), "beyond, length " + length);
                }
            }
        }
    }
}
