package io.fastpath.wsk;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import org.agrona.BufferUtil;

/**
 * WSK_BUF: {@code length} bytes at {@code address + offset} of native memory (the MDL of the Windows
 * structure is a native address here). Mutable and reusable; a call copies the three fields when it starts, so
 * the WskBuf object may be reused at once, but the memory it names must stay valid until the IRP completes.
 *
 * <p>A WskBuf set from a direct {@link ByteBuffer} or a {@link MemorySegment} keeps that object (its owner), and
 * a call hands the owner to its IRP with the address, which holds it until the IRP completes: the memory cannot
 * be freed by a GC under the stack (a direct buffer's memory is freed when the buffer is collected, which can
 * happen as soon as its address was taken). Set from a raw address, the caller keeps the owner reachable.
 */
public final class WskBuf {
    private long address;
    private long offset;
    private int length;
    /** The object that owns the memory (a direct ByteBuffer, a MemorySegment), or null for a raw address. */
    private Object owner;

    public WskBuf() {
    }

    public WskBuf(long address, long offset, int length) {
        set(address, offset, length);
    }

    /**
     * Points at {@code length} bytes at native {@code address + offset}. Whatever owns that memory must stay
     * valid, and reachable, until the IRP of the call that takes this WskBuf completes (keep it in a field, or
     * end its scope with {@link java.lang.ref.Reference#reachabilityFence}).
     */
    public WskBuf set(long newAddress, long newOffset, int newLength) {
        return set(null, newAddress, newOffset, newLength);
    }

    private WskBuf set(Object newOwner, long newAddress, long newOffset, int newLength) {
        if (newLength < 0 || newOffset < 0) {
            throw new IllegalArgumentException("negative offset or length: " + newOffset + ", " + newLength);
        }
        this.owner = newOwner;
        this.address = newAddress;
        this.offset = newOffset;
        this.length = newLength;
        return this;
    }

    /** Points into a direct ByteBuffer, which this WskBuf and the IRP of a call that takes it keep reachable. */
    public WskBuf set(ByteBuffer direct, int newOffset, int newLength) {
        if (!direct.isDirect()) {
            throw new IllegalArgumentException("WSK buffers are native memory: use a direct ByteBuffer");
        }
        if (newOffset + (long) newLength > direct.capacity()) {
            throw new IndexOutOfBoundsException(newOffset + "+" + newLength + " > " + direct.capacity());
        }
        return set(direct, BufferUtil.address(direct), newOffset, newLength);
    }

    /**
     * Points into a native memory segment, which this WskBuf and the IRP of a call that takes it keep reachable
     * (so an automatic arena's memory stays); an arena closed explicitly must stay open until the IRP completes.
     */
    public WskBuf set(MemorySegment segment, long newOffset, int newLength) {
        if (!segment.isNative()) {
            throw new IllegalArgumentException("WSK buffers are native memory: use a native segment");
        }
        if (newOffset + newLength > segment.byteSize()) {
            throw new IndexOutOfBoundsException(newOffset + "+" + newLength + " > " + segment.byteSize());
        }
        return set(segment, segment.address(), newOffset, newLength);
    }

    /** The memory's owner (a direct ByteBuffer, a MemorySegment), or null: set from a raw address. */
    Object owner() {
        return owner;
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
