package io.fastpath.stack.tcp.protocol;

import org.agrona.MutableDirectBuffer;

/**
 * {@link EventType#RECEIVE}: data handed over in the mbuf it arrived in (zero copy); the client holds the mbuf
 * until it releases it. Native byte order, 8-byte aligned.
 *
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                  Connection Handle (generation | slot)         |  0
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                        Mbuf Address                           |  8
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                 Data Address (inside the mbuf)                | 16
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                            Length                             | 24
 *  +---------------------------------------------------------------+
 * </pre>
 */
public final class ReceiveEventFlyweight extends Flyweight {
    public static final int HANDLE_OFFSET = 0;
    public static final int MBUF_OFFSET = 8;
    public static final int ADDRESS_OFFSET = 16;
    public static final int LENGTH_OFFSET = 24;
    public static final int LENGTH = 28;

    public ReceiveEventFlyweight wrap(MutableDirectBuffer buffer, int offset) {
        wrapAt(buffer, offset);
        return this;
    }

    public long handle() {
        return buffer.getLong(offset + HANDLE_OFFSET);
    }

    public ReceiveEventFlyweight handle(long value) {
        buffer.putLong(offset + HANDLE_OFFSET, value);
        return this;
    }

    public long mbuf() {
        return buffer.getLong(offset + MBUF_OFFSET);
    }

    public ReceiveEventFlyweight mbuf(long value) {
        buffer.putLong(offset + MBUF_OFFSET, value);
        return this;
    }

    public long address() {
        return buffer.getLong(offset + ADDRESS_OFFSET);
    }

    public ReceiveEventFlyweight address(long value) {
        buffer.putLong(offset + ADDRESS_OFFSET, value);
        return this;
    }

    public int length() {
        return buffer.getInt(offset + LENGTH_OFFSET);
    }

    public ReceiveEventFlyweight length(int value) {
        buffer.putInt(offset + LENGTH_OFFSET, value);
        return this;
    }
}
