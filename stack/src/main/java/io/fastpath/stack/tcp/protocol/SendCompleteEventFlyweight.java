package io.fastpath.stack.tcp.protocol;

import org.agrona.MutableDirectBuffer;

/**
 * {@link EventType#SEND_COMPLETE}: a send request's bytes are in the send buffer, or why not. Native byte
 * order, 8-byte aligned.
 *
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                          Request Id                           |  0
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                  Connection Handle (generation | slot)         |  8
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                        Bytes Taken                            | 16
 *  +---------------------------------------------------------------+
 *  |                        Status (NTSTATUS)                      | 20
 *  +---------------------------------------------------------------+
 * </pre>
 */
public final class SendCompleteEventFlyweight extends Flyweight {
    public static final int REQUEST_ID_OFFSET = 0;
    public static final int HANDLE_OFFSET = 8;
    public static final int BYTES_OFFSET = 16;
    public static final int STATUS_OFFSET = 20;
    public static final int LENGTH = 24;

    public SendCompleteEventFlyweight wrap(MutableDirectBuffer buffer, int offset) {
        wrapAt(buffer, offset);
        return this;
    }

    public long requestId() {
        return buffer.getLong(offset + REQUEST_ID_OFFSET);
    }

    public SendCompleteEventFlyweight requestId(long value) {
        buffer.putLong(offset + REQUEST_ID_OFFSET, value);
        return this;
    }

    public long handle() {
        return buffer.getLong(offset + HANDLE_OFFSET);
    }

    public SendCompleteEventFlyweight handle(long value) {
        buffer.putLong(offset + HANDLE_OFFSET, value);
        return this;
    }

    public int bytes() {
        return buffer.getInt(offset + BYTES_OFFSET);
    }

    public SendCompleteEventFlyweight bytes(int value) {
        buffer.putInt(offset + BYTES_OFFSET, value);
        return this;
    }

    public int status() {
        return buffer.getInt(offset + STATUS_OFFSET);
    }

    public SendCompleteEventFlyweight status(int value) {
        buffer.putInt(offset + STATUS_OFFSET, value);
        return this;
    }
}
