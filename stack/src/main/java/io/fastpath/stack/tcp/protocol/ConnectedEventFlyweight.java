package io.fastpath.stack.tcp.protocol;

import org.agrona.MutableDirectBuffer;

/**
 * {@link EventType#CONNECTED}: a connect request completed. Native byte order, 8-byte aligned.
 *
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                          Request Id                           |  0
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |              Connection Handle (0 when it failed)             |  8
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                        Status (NTSTATUS)                      | 16
 *  +---------------------------------------------------------------+
 * </pre>
 */
public final class ConnectedEventFlyweight extends Flyweight {
    public static final int REQUEST_ID_OFFSET = 0;
    public static final int HANDLE_OFFSET = 8;
    public static final int STATUS_OFFSET = 16;
    public static final int LENGTH = 20;

    public ConnectedEventFlyweight wrap(MutableDirectBuffer buffer, int offset) {
        wrapAt(buffer, offset);
        return this;
    }

    public long requestId() {
        return buffer.getLong(offset + REQUEST_ID_OFFSET);
    }

    public ConnectedEventFlyweight requestId(long value) {
        buffer.putLong(offset + REQUEST_ID_OFFSET, value);
        return this;
    }

    public long handle() {
        return buffer.getLong(offset + HANDLE_OFFSET);
    }

    public ConnectedEventFlyweight handle(long value) {
        buffer.putLong(offset + HANDLE_OFFSET, value);
        return this;
    }

    public int status() {
        return buffer.getInt(offset + STATUS_OFFSET);
    }

    public ConnectedEventFlyweight status(int value) {
        buffer.putInt(offset + STATUS_OFFSET, value);
        return this;
    }
}
