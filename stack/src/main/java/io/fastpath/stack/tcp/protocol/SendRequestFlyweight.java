package io.fastpath.stack.tcp.protocol;

import org.agrona.MutableDirectBuffer;

/**
 * {@link RequestType#SEND} and {@link RequestType#SEND_URGENT}: bytes of native memory, valid until the send
 * completes. Native byte order, 8-byte aligned.
 *
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                  Connection Handle (generation | slot)         |  0
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                          Request Id                           |  8
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                       Address (native memory)                 | 16
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                            Length                             | 24
 *  +---------------------------------------------------------------+
 * </pre>
 */
public final class SendRequestFlyweight extends Flyweight {
    public static final int HANDLE_OFFSET = 0;
    public static final int REQUEST_ID_OFFSET = 8;
    public static final int ADDRESS_OFFSET = 16;
    public static final int LENGTH_OFFSET = 24;
    public static final int LENGTH = 28;

    public SendRequestFlyweight wrap(MutableDirectBuffer buffer, int offset) {
        wrapAt(buffer, offset);
        return this;
    }

    public long handle() {
        return buffer.getLong(offset + HANDLE_OFFSET);
    }

    public SendRequestFlyweight handle(long value) {
        buffer.putLong(offset + HANDLE_OFFSET, value);
        return this;
    }

    public long requestId() {
        return buffer.getLong(offset + REQUEST_ID_OFFSET);
    }

    public SendRequestFlyweight requestId(long value) {
        buffer.putLong(offset + REQUEST_ID_OFFSET, value);
        return this;
    }

    public long address() {
        return buffer.getLong(offset + ADDRESS_OFFSET);
    }

    public SendRequestFlyweight address(long value) {
        buffer.putLong(offset + ADDRESS_OFFSET, value);
        return this;
    }

    public int length() {
        return buffer.getInt(offset + LENGTH_OFFSET);
    }

    public SendRequestFlyweight length(int value) {
        buffer.putInt(offset + LENGTH_OFFSET, value);
        return this;
    }
}
