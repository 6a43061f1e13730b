package io.fastpath.stack.ip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.fastpath.stack.counters.StackCounters;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The device-free packet memory the TCP rigs run on: allocation, reference counts, misuse caught. */
class NativePacketsTest {
    @TempDir
    Path dir;

    @Test
    void buffersAreCountedAndReturnedAtTheirLastReference() {
        try (StackCounters counters = new StackCounters(dir.resolve("c"), "t");
             NativePackets packets = new NativePackets(2, 0x0A000001, 1500, counters, null)) {
            long a = packets.allocate();
            long b = packets.allocate();
            assertNotEquals(0, a);
            assertNotEquals(0, b);
            assertEquals(0, packets.allocate(), "all in use");
            assertEquals(2, packets.inUse());
            packets.retain(a);
            packets.free(a);
            assertEquals(1, packets.refcnt(a));
            assertEquals(2, packets.inUse(), "still referenced once");
            packets.free(a);
            packets.free(b);
            assertEquals(0, packets.inUse());
            assertThrows(IllegalStateException.class, () -> packets.free(a), "double free");
            assertThrows(IllegalArgumentException.class, () -> packets.free(a + 1), "not a handle");
        }
    }

    @Test
    void transmittedSegmentsGoToTheSinkAfterTheHeadroom() {
        long[] seen = new long[1];
        try (StackCounters counters = new StackCounters(dir.resolve("c"), "t");
             NativePackets packets = new NativePackets(4, 0x0A000001, 1500, counters, (m, src, dst, length) -> {
                 seen[0] = length;
             })) {
            long m = packets.allocate();
            assertEquals(packets.dataAddress(m) + NativePackets.HEADROOM, packets.segmentAddress(m));
            packets.segment(m, 20).setMemory(0, 20, (byte) 0);
            packets.segment(m, 20).putByte(12, (byte) 0x50); // data offset 5
            packets.transmitTcp(m, 0x0A000001, 0x0A000002, 20);
            assertEquals(20, seen[0]);
            assertEquals(1, packets.inUse(), "the sink owns the buffer");
            packets.free(m);
        }
    }
}
