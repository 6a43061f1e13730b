package io.fastpath.wsk;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import org.agrona.BufferUtil;

/**
 * WSK_BUF: {@code length} bytes at {@code address + offset} of native memory (the MDL of the Windows
 * structure is a native address here). Mutable and reusable; a call copies the three fields when it starts, so
 * the WskBuf object may be reused at once, but the memory it names must stay valid until the IRP completes.
 */
public final class WskBuf {
    private long address;
    private long offset;
    private int length;

    public WskBuf() {
    }

    public WskBuf(long address, long offset, int length) {
        set(address, offset, length);
    }

    /** Points at {@code length} bytes at native {@code address + offset}. */
    public WskBuf set(long newAddress, long newOffset, int newLength) {
        if (newLength < 0 || newOffset < 0) {
            throw new IllegalArgumentException("negative offset or length: " + newOffset + ", " + newLength);
        }
        this.address = newAddress;
        this.offset = newOffset;
        this.length = newLength;
        return this;
    }

    /** Points into a direct ByteBuffer. */
    public WskBuf set(ByteBuffer direct, int newOffset, int newLength) {
        if (!direct.isDirect()) {
            throw new IllegalArgumentException("WSK buffers are native memory: use a direct ByteBuffer");
        }
        if (newOffset + (long) newLength > direct.capacity()) {
            throw new IndexOutOfBoundsException(newOffset + "+" + newLength + " > " + direct.capacity());
        }
        return set(BufferUtil.address(direct), newOffset, newLength);
    }

    /** Points into a native memory segment. */
    public WskBuf set(MemorySegment segment, long newOffset, int newLength) {
        if (!segment.isNative()) {
            throw new IllegalArgumentException("WSK buffers are native memory: use a native segment");
        }
        if (newOffset + newLength > segment.byteSize()) {
            throw new IndexOutOfBoundsException(newOffset + "+" + newLength + " > " + segment.byteSize());
        }
        return set(segment.address(), newOffset, newLength);
    }

    public long address() {
        return address;
    }

    public long offset() {
        return offset;
    }

    public int length() {
        return length;
    }

    @Override
    public String toString() {
        return "WskBuf[0x" + Long.toHexString(address) + "+" + offset + ", " + length + "]";
    }
}
