package io.fastpath.netty;

import io.fastpath.stack.tcp.TcpServiceClient;
import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.AbstractReferenceCountedByteBuf;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.util.Recycler;
import io.netty.util.internal.PlatformDependent;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.GatheringByteChannel;
import java.nio.channels.ScatteringByteChannel;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Received data, zero copy: a {@link ByteBuf} over the bytes of one TCP segment where they arrived, inside their
 * mbuf. The pipeline owns it; its last {@code release()} returns the mbuf to the stack
 * ({@link TcpServiceClient#release}, any thread), which reopens the receive window by it, and the object goes back
 * to a recycler: a received segment allocates nothing once warm. Until its release the bytes count against the
 * connection's window, so a handler that keeps buffers slows its peer down, and one that leaks them shows up in
 * Netty's {@code ResourceLeakDetector} (every buffer is tracked at the detector's level) and in the stack's held
 * descriptors ({@code TcpService.heldDescriptors()}).
 *
 * <p>Reads and writes go through an Agrona {@link UnsafeBuffer} over the memory (bounds checked when Agrona's
 * checks are on). Its capacity is the segment's length and cannot grow: a decoder that accumulates copies it into
 * a buffer of its own (and releases this one), as with any fixed-size buffer. An NIO view is made only when a caller
 * asks for one.
 */
@SuppressWarnings("restricted") // the NIO view over the lent memory; the JVM runs with native access
final class MbufByteBuf extends AbstractReferenceCountedByteBuf {
    private static final Recycler<MbufByteBuf> RECYCLER = new Recycler<>() {
        @Override
        protected MbufByteBuf newObject(Handle<MbufByteBuf> handle) {
            return new MbufByteBuf(handle);
        }
    };

    /** Where a buffer's mbuf goes back: {@link TcpServiceClient#release}. */
    @FunctionalInterface
    interface Releaser {
        boolean release(long connection, long mbuf, int length);
    }

    private final Recycler.Handle<MbufByteBuf> recyclerHandle;
    private final UnsafeBuffer view = new UnsafeBuffer(0, 0);
    private ByteBufAllocator alloc;
    private Releaser releaser;
    private long connection;
    private long mbuf;
    private long address;
    private int length;
    /** The whole segment as an NIO buffer, made on first request (internalNioBuffer, nioBuffer). */
    private ByteBuffer nio;

    private MbufByteBuf(Recycler.Handle<MbufByteBuf> recyclerHandle) {
        super(0);
        this.recyclerHandle = recyclerHandle;
    }

    /** A tracked buffer over {@code length} bytes at {@code address} in {@code mbuf} (event loop thread). */
    static ByteBuf wrap(ByteBufAllocator alloc, Releaser releaser, long connection, long mbuf, long address,
                        int length) {
        MbufByteBuf b = RECYCLER.get();
        b.alloc = alloc;
        b.releaser = releaser;
        b.connection = connection;
        b.mbuf = mbuf;
        b.address = address;
        b.length = length;
        b.view.wrap(address, length);
        b.maxCapacity(length);
        b.resetRefCnt();
        b.setIndex(0, length);
        b.markReaderIndex();
        b.markWriterIndex();
        return LeakTracking.track(b);
    }

    @Override
    protected void deallocate() {
        Releaser r = releaser;
        long m = mbuf;
        int n = length;
        releaser = null;
        alloc = null;
        nio = null;
        mbuf = 0;
        view.wrap(0, 0);
        // Refused only for more releases than descriptors held: cannot happen for a buffer released once (counted
        // by the stack as RELEASE_REFUSED if it did).
        r.release(connection, m, n);
        recyclerHandle.recycle(this);
    }

    // ================================================================ what the buffer is

    @Override
    public int capacity() {
        return length;
    }

    @Override
    public ByteBuf capacity(int newCapacity) {
        if (newCapacity != length) {
            throw new UnsupportedOperationException("a received segment's buffer has a fixed capacity of " + length);
        }
        return this;
    }

    @Override
    public ByteBufAllocator alloc() {
        return alloc;
    }

    @Override
    @Deprecated
    public ByteOrder order() {
        return ByteOrder.BIG_ENDIAN;
    }

    @Override
    public ByteBuf unwrap() {
        return null;
    }

    @Override
    public boolean isDirect() {
        return true;
    }

    @Override
    public boolean isContiguous() {
        return true;
    }

    @Override
    public boolean hasArray() {
        return false;
    }

    @Override
    public byte[] array() {
        throw new UnsupportedOperationException("direct buffer");
    }

    @Override
    public int arrayOffset() {
        throw new UnsupportedOperationException("direct buffer");
    }

    /** Only when Netty uses Unsafe itself: its code then reads the address with Unsafe, which is right here. */
    @Override
    public boolean hasMemoryAddress() {
        return PlatformDependent.hasUnsafe();
    }

    @Override
    public long memoryAddress() {
        ensureAccessible();
        if (!hasMemoryAddress()) {
            throw new UnsupportedOperationException("Netty runs without Unsafe: use the NIO view");
        }
        return address;
    }

    /** The native address of byte {@code index} (for the send path; any Netty mode). */
    long addressOf(int index) {
        ensureAccessible();
        return address + index;
    }

    // ================================================================ primitives (big-endian, and LE variants)

    @Override
    protected byte _getByte(int index) {
        return view.getByte(index);
    }

    @Override
    protected short _getShort(int index) {
        return view.getShort(index, ByteOrder.BIG_ENDIAN);
    }

    @Override
    protected short _getShortLE(int index) {
        return view.getShort(index, ByteOrder.LITTLE_ENDIAN);
    }

    @Override
    protected int _getUnsignedMedium(int index) {
        return (view.getByte(index) & 0xFF) << 16 | (view.getByte(index + 1) & 0xFF) << 8
            | view.getByte(index + 2) & 0xFF;
    }

    @Override
    protected int _getUnsignedMediumLE(int index) {
        return view.getByte(index) & 0xFF | (view.getByte(index + 1) & 0xFF) << 8
            | (view.getByte(index + 2) & 0xFF) << 16;
    }

    @Override
    protected int _getInt(int index) {
        return view.getInt(index, ByteOrder.BIG_ENDIAN);
    }

    @Override
    protected int _getIntLE(int index) {
        return view.getInt(index, ByteOrder.LITTLE_ENDIAN);
    }

    @Override
    protected long _getLong(int index) {
        return view.getLong(index, ByteOrder.BIG_ENDIAN);
    }

    @Override
    protected long _getLongLE(int index) {
        return view.getLong(index, ByteOrder.LITTLE_ENDIAN);
    }

    @Override
    protected void _setByte(int index, int value) {
        view.putByte(index, (byte) value);
    }

    @Override
    protected void _setShort(int index, int value) {
        view.putShort(index, (short) value, ByteOrder.BIG_ENDIAN);
    }

    @Override
    protected void _setShortLE(int index, int value) {
        view.putShort(index, (short) value, ByteOrder.LITTLE_ENDIAN);
    }

    @Override
    protected void _setMedium(int index, int value) {
        view.putByte(index, (byte) (value >>> 16));
        view.putByte(index + 1, (byte) (value >>> 8));
        view.putByte(index + 2, (byte) value);
    }

    @Override
    protected void _setMediumLE(int index, int value) {
        view.putByte(index, (byte) value);
        view.putByte(index + 1, (byte) (value >>> 8));
        view.putByte(index + 2, (byte) (value >>> 16));
    }

    @Override
    protected void _setInt(int index, int value) {
        view.putInt(index, value, ByteOrder.BIG_ENDIAN);
    }

    @Override
    protected void _setIntLE(int index, int value) {
        view.putInt(index, value, ByteOrder.LITTLE_ENDIAN);
    }

    @Override
    protected void _setLong(int index, long value) {
        view.putLong(index, value, ByteOrder.BIG_ENDIAN);
    }

    @Override
    protected void _setLongLE(int index, long value) {
        view.putLong(index, value, ByteOrder.LITTLE_ENDIAN);
    }

    // ================================================================ bulk

    @Override
    public ByteBuf getBytes(int index, ByteBuf dst, int dstIndex, int length) {
        checkDstIndex(index, length, dstIndex, dst.capacity());
        if (dst.hasArray()) {
            view.getBytes(index, dst.array(), dst.arrayOffset() + dstIndex, length);
        } else if (dst.nioBufferCount() > 0) {
            for (ByteBuffer bb : dst.nioBuffers(dstIndex, length)) {
                int n = bb.remaining();
                view.getBytes(index, bb, n);
                index += n;
            }
        } else {
            dst.setBytes(dstIndex, this, index, length);
        }
        return this;
    }

    @Override
    public ByteBuf getBytes(int index, byte[] dst, int dstIndex, int length) {
        checkDstIndex(index, length, dstIndex, dst.length);
        view.getBytes(index, dst, dstIndex, length);
        return this;
    }

    @Override
    public ByteBuf getBytes(int index, ByteBuffer dst) {
        int n = dst.remaining();
        checkIndex(index, n);
        view.getBytes(index, dst, n);
        return this;
    }

    @Override
    public ByteBuf getBytes(int index, OutputStream out, int length) throws IOException {
        checkIndex(index, length);
        byte[] chunk = new byte[Math.min(length, 8192)];
        while (length > 0) {
            int n = Math.min(length, chunk.length);
            view.getBytes(index, chunk, 0, n);
            out.write(chunk, 0, n);
            index += n;
            length -= n;
        }
        return this;
    }

    @Override
    public int getBytes(int index, GatheringByteChannel out, int length) throws IOException {
        checkIndex(index, length);
        return length == 0 ? 0 : out.write(nioBuffer(index, length));
    }

    @Override
    public int getBytes(int index, FileChannel out, long position, int length) throws IOException {
        checkIndex(index, length);
        return length == 0 ? 0 : out.write(nioBuffer(index, length), position);
    }

    @Override
    public ByteBuf setBytes(int index, ByteBuf src, int srcIndex, int length) {
        checkSrcIndex(index, length, srcIndex, src.capacity());
        if (src.hasArray()) {
            view.putBytes(index, src.array(), src.arrayOffset() + srcIndex, length);
        } else if (src.nioBufferCount() > 0) {
            for (ByteBuffer bb : src.nioBuffers(srcIndex, length)) {
                int n = bb.remaining();
                view.putBytes(index, bb, bb.position(), n);
                index += n;
            }
        } else {
            src.getBytes(srcIndex, this, index, length);
        }
        return this;
    }

    @Override
    public ByteBuf setBytes(int index, byte[] src, int srcIndex, int length) {
        checkSrcIndex(index, length, srcIndex, src.length);
        view.putBytes(index, src, srcIndex, length);
        return this;
    }

    @Override
    public ByteBuf setBytes(int index, ByteBuffer src) {
        int n = src.remaining();
        checkIndex(index, n);
        view.putBytes(index, src, src.position(), n);
        src.position(src.position() + n);
        return this;
    }

    @Override
    public int setBytes(int index, InputStream in, int length) throws IOException {
        checkIndex(index, length);
        byte[] chunk = new byte[length];
        int n = in.read(chunk, 0, length);
        if (n > 0) {
            view.putBytes(index, chunk, 0, n);
        }
        return n;
    }

    @Override
    public int setBytes(int index, ScatteringByteChannel in, int length) throws IOException {
        checkIndex(index, length);
        return in.read(nioBuffer(index, length));
    }

    @Override
    public int setBytes(int index, FileChannel in, long position, int length) throws IOException {
        checkIndex(index, length);
        return in.read(nioBuffer(index, length), position);
    }

    @Override
    public ByteBuf copy(int index, int length) {
        checkIndex(index, length);
        ByteBuf copy = alloc.directBuffer(length, maxCapacity());
        copy.writeBytes(this, index, length);
        return copy;
    }

    // ================================================================ NIO views (made when asked)

    private ByteBuffer whole() {
        ByteBuffer b = nio;
        if (b == null) {
            b = MemorySegment.ofAddress(address).reinterpret(length).asByteBuffer();
            nio = b;
        }
        return b;
    }

    @Override
    public int nioBufferCount() {
        return 1;
    }

    @Override
    public ByteBuffer nioBuffer(int index, int length) {
        checkIndex(index, length);
        return whole().slice(index, length);
    }

    @Override
    public ByteBuffer internalNioBuffer(int index, int length) {
        checkIndex(index, length);
        return whole().clear().position(index).limit(index + length);
    }

    @Override
    public ByteBuffer[] nioBuffers(int index, int length) {
        return new ByteBuffer[] {nioBuffer(index, length)};
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
    }
}
