package io.fastpath.netty;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.util.IllegalReferenceCountException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Every accessor of the zero-copy receive buffer against a heap copy of the same bytes, and its release. */
class MbufByteBufTest {
    private static final int LENGTH = 1000;

    private record Release(long connection, long mbuf, int length) {
    }

    @Test
    void readsEveryWidthInBothByteOrdersLikeAHeapBufferOfTheSameBytes() {
        try (Arena arena = Arena.ofConfined()) {
            byte[] bytes = new byte[LENGTH];
            new Random(7).nextBytes(bytes);
            MemorySegment memory = arena.allocate(LENGTH);
            MemorySegment.copy(bytes, 0, memory, ValueLayout.JAVA_BYTE, 0, LENGTH);
            List<Release> released = new ArrayList<>();
            ByteBuf buf = MbufByteBuf.wrap(ByteBufAllocator.DEFAULT,
                (c, m, n) -> released.add(new Release(c, m, n)), 42, 0xABC, memory.address(), LENGTH);
            ByteBuf heap = Unpooled.wrappedBuffer(bytes);
            assertEquals(LENGTH, buf.readableBytes());
            assertEquals(LENGTH, buf.capacity());
            assertTrue(buf.isDirect());
            for (int i = 0; i + 8 <= LENGTH; i += 3) {
                assertEquals(heap.getByte(i), buf.getByte(i));
                assertEquals(heap.getShort(i), buf.getShort(i));
                assertEquals(heap.getShortLE(i), buf.getShortLE(i));
                assertEquals(heap.getUnsignedMedium(i), buf.getUnsignedMedium(i));
                assertEquals(heap.getUnsignedMediumLE(i), buf.getUnsignedMediumLE(i));
                assertEquals(heap.getInt(i), buf.getInt(i));
                assertEquals(heap.getIntLE(i), buf.getIntLE(i));
                assertEquals(heap.getLong(i), buf.getLong(i));
                assertEquals(heap.getLongLE(i), buf.getLongLE(i));
            }
            assertThrows(IndexOutOfBoundsException.class, () -> buf.getInt(LENGTH - 3));

            // Bulk reads into every kind of destination.
            byte[] toArray = new byte[LENGTH];
            buf.getBytes(0, toArray);
            assertArrayEquals(bytes, toArray);
            ByteBuf pooledDirect = PooledByteBufAllocator.DEFAULT.directBuffer(LENGTH);
            pooledDirect.writeBytes(buf, 0, LENGTH);
            assertEquals(heap, pooledDirect);
            ByteBuffer nio = ByteBuffer.allocateDirect(LENGTH);
            buf.getBytes(0, nio);
            assertEquals(LENGTH, nio.position());
            assertEquals(ByteBuffer.wrap(bytes), nio.flip());
            assertEquals(heap.slice(10, 90), buf.nioBuffer(10, 90).order(java.nio.ByteOrder.BIG_ENDIAN) == null
                ? null : Unpooled.wrappedBuffer(buf.nioBuffer(10, 90)));
            ByteBuf copy = buf.copy(5, 100);
            assertEquals(heap.slice(5, 100), copy);
            copy.release();
            CompositeByteBuf composite = Unpooled.compositeBuffer().addComponent(true, buf.retainedSlice(0, 500))
                .addComponent(true, Unpooled.wrappedBuffer(bytes, 500, 500));
            assertEquals(heap, composite);
            composite.release();
            assertEquals(ByteBufUtil.hexDump(heap, 0, 64), ByteBufUtil.hexDump(buf, 0, 64));

            // Writes land in the memory (a handler may rewrite a request in place).
            buf.setInt(0, 0x01020304);
            buf.setLongLE(8, 0x1122334455667788L);
            buf.setMedium(20, 0xA0B0C0);
            buf.setBytes(100, "fastpath".getBytes(StandardCharsets.US_ASCII));
            buf.setBytes(200, pooledDirect, 0, 16);
            assertEquals(0x01020304, memory.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.BIG_ENDIAN), 0));
            assertEquals(0x1122334455667788L, memory.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(
                java.nio.ByteOrder.LITTLE_ENDIAN), 8));
            assertEquals((byte) 0xA0, memory.get(ValueLayout.JAVA_BYTE, 20));
            assertEquals("fastpath", buf.toString(100, 8, StandardCharsets.US_ASCII));
            assertEquals(heap.slice(0, 16), buf.slice(200, 16));
            assertThrows(UnsupportedOperationException.class, () -> buf.capacity(LENGTH + 1));
            pooledDirect.release();

            // The last release returns the mbuf, once; the object is recycled for the next segment.
            buf.retain();
            assertTrue(!buf.release());
            assertEquals(List.of(), released);
            assertTrue(buf.release());
            assertEquals(List.of(new Release(42, 0xABC, LENGTH)), released);
            assertThrows(IllegalReferenceCountException.class, buf::release);
            assertEquals(1, released.size(), "a second release does not reach the stack");

            ByteBuf next = MbufByteBuf.wrap(ByteBufAllocator.DEFAULT, (c, m, n) -> released.add(new Release(c, m, n)),
                43, 0xDEF, memory.address() + 10, 20);
            assertEquals(20, next.readableBytes());
            assertEquals(0, next.readerIndex());
            assertEquals(memory.get(ValueLayout.JAVA_BYTE, 10), next.getByte(0));
            assertFalse(next.hasArray());
            next.release();
            assertEquals(new Release(43, 0xDEF, 20), released.get(1));
            assertSame(released.get(1).getClass(), Release.class);
        }
    }
}
