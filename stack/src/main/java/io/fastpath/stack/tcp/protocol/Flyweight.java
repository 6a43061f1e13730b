package io.fastpath.stack.tcp.protocol;

import org.agrona.MutableDirectBuffer;

/**
 * A view over one record of a {@link io.fastpath.stack.tcp.TcpService} ring: the record's body at
 * {@code offset} in {@code buffer} (after Agrona's record header, so 8-byte aligned). Wrapped, never copied;
 * one instance per thread and role, reused for every record.
 */
public abstract class Flyweight {
    protected MutableDirectBuffer buffer;
    protected int offset;

    protected final void wrapAt(MutableDirectBuffer buffer, int offset) {
        this.buffer = buffer;
        this.offset = offset;
    }

    public final MutableDirectBuffer buffer() {
        return buffer;
    }

    public final int offset() {
        return offset;
    }
}
