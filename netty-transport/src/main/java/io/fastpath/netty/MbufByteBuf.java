package io.fastpath.netty;

import io.fastpath.stack.tcp.TcpServiceClient;
import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.UnpooledDirectByteBuf;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;

/**
 * Received data, zero copy: a {@link ByteBuf} over the bytes of one TCP segment where they arrived, inside their
 * mbuf. The pipeline owns it; its last {@code release()} returns the mbuf to the stack
 * ({@link TcpServiceClient#release}, any thread), which reopens the receive window by it. Until then the bytes
 * count against the connection's window, so a handler that keeps buffers slows its peer down, and one that leaks
 * them shows up in Netty's {@code ResourceLeakDetector} (every buffer is tracked) and in the stack's held
 * descriptors ({@code TcpService.heldDescriptors()}).
 *
 * <p>Its capacity is the segment's length and cannot grow: a decoder that accumulates copies it into a buffer of
 * its own (and releases this one), as with any fixed-size buffer.
 */
final class MbufByteBuf extends UnpooledDirectByteBuf {
    private final TcpServiceClient client;
    private final long handle;
    private final long mbuf;
    private final int length;

    private MbufByteBuf(ByteBufAllocator alloc, ByteBuffer view, TcpServiceClient client, long handle, long mbuf,
                        int length) {
        super(alloc, view, length);
        this.client = client;
        this.handle = handle;
        this.mbuf = mbuf;
        this.length = length;
    }

    /** A tracked buffer over {@code length} bytes at {@code address} in {@code mbuf} (event loop thread). */
    @SuppressWarnings("restricted") // the stack lends this memory until release; the JVM runs with native access
    static ByteBuf wrap(ByteBufAllocator alloc, TcpServiceClient client, long handle, long mbuf, long address,
                        int length) {
        ByteBuffer view = MemorySegment.ofAddress(address).reinterpret(length).asByteBuffer();
        return LeakTracking.track(new MbufByteBuf(alloc, view, client, handle, mbuf, length));
    }

    @Override
    protected void deallocate() {
        super.deallocate(); // does not free the memory: the mbuf's
        if (!client.release(handle, mbuf, length)) {
            // Refused: more releases than descriptors held (cannot happen for a buffer released once). Counted
            // by the stack as RELEASE_REFUSED.
            return;
        }
    }

    @Override
    public ByteBuf capacity(int newCapacity) {
        if (newCapacity == capacity()) {
            return this;
        }
        throw new UnsupportedOperationException("a received segment's buffer has a fixed capacity of " + length);
    }

    /** Netty's leak-aware wrappers are made by its allocators: a subclass reaches the factory method. */
    private static final class LeakTracking extends AbstractByteBufAllocator {
        private LeakTracking() {
            super(true);
        }

        static ByteBuf track(ByteBuf buf) {
            return toLeakAwareBuffer(buf);
        }

        @Override
        protected ByteBuf newHeapBuffer(int initialCapacity, int maxCapacity) {
            throw new UnsupportedOperationException();
        }

        @Override
        protected ByteBuf newDirectBuffer(int initialCapacity, int maxCapacity) {
            throw new UnsupportedOperationException();
        }

        @Override
        public boolean isDirectBufferPooled() {
            return false;
        }

        @Override
        public CompositeByteBuf compositeBuffer(int maxNumComponents) {
            throw new UnsupportedOperationException();
        }
    }
}
