package io.fastpath.stack.tcp.protocol;

import org.agrona.MutableDirectBuffer;

/**
 * {@link EventType#LISTEN}: a listen request completed. Native byte order.
 *
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                             Port                              |  0
 *  +---------------------------------------------------------------+
 *  |                        Status (NTSTATUS)                      |  4
 *  +---------------------------------------------------------------+
 * </pre>
 */
public final class ListenEventFlyweight extends Flyweight {
    public static final int PORT_OFFSET = 0;
    public static final int STATUS_OFFSET = 4;
    public static final int LENGTH = 8;

    public ListenEventFlyweight wrap(MutableDirectBuffer buffer, int offset) {
        wrapAt(buffer, offset);
        return this;
    }

    public int port() {
        return buffer.getInt(offset + PORT_OFFSET);
    }

    public ListenEventFlyweight port(int value) {
        buffer.putInt(offset + PORT_OFFSET, value);
        return this;
    }

    public int status() {
        return buffer.getInt(offset + STATUS_OFFSET);
    }

    public ListenEventFlyweight status(int value) {
        buffer.putInt(offset + STATUS_OFFSET, value);
        return this;
    }
}
