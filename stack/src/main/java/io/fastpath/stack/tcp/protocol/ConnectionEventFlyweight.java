package io.fastpath.stack.tcp.protocol;

import org.agrona.MutableDirectBuffer;

/**
 * An event about one connection: {@link EventType#PEER_CLOSED}, {@link EventType#FIN_ACKED},
 * {@link EventType#CLOSED} (value: the status), {@link EventType#SEND_BACKLOG} (value: bytes) and
 * {@link EventType#URGENT} (value: the urgent byte count; the bytes follow at {@link #DATA_OFFSET}). Native
 * byte order, 8-byte aligned.
 *
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                  Connection Handle (generation | slot)         |  0
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |               Value (status, bytes or urgent length)          |  8
 *  +---------------------------------------------------------------+
 *  |                    Urgent Data (URGENT only)                 ...| 12
 *  +---------------------------------------------------------------+
 * </pre>
 */
public final class ConnectionEventFlyweight extends Flyweight {
    public static final int HANDLE_OFFSET = 0;
    public static final int VALUE_OFFSET = 8;
    public static final int DATA_OFFSET = 12;
    public static final int LENGTH = 12;

    public ConnectionEventFlyweight wrap(MutableDirectBuffer buffer, int offset) {
        wrapAt(buffer, offset);
        return this;
    }

    public long handle() {
        return buffer.getLong(offset + HANDLE_OFFSET);
    }

    public ConnectionEventFlyweight handle(long value) {
        buffer.putLong(offset + HANDLE_OFFSET, value);
        return this;
    }

    public int value() {
        return buffer.getInt(offset + VALUE_OFFSET);
    }

    public ConnectionEventFlyweight value(int value) {
        buffer.putInt(offset + VALUE_OFFSET, value);
        return this;
    }
}
