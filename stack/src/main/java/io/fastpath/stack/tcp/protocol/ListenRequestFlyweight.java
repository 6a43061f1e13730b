package io.fastpath.stack.tcp.protocol;

import org.agrona.MutableDirectBuffer;

/**
 * {@link RequestType#LISTEN} and {@link RequestType#STOP_LISTENING} (options unused): a port of the stack's
 * address. Native byte order, 8-byte aligned.
 *
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                             Port                              |  0
 *  +---------------------------------------------------------------+
 *  |                           Reserved                            |  4
 *  +---------------------------------------------------------------+
 *  |     Socket Options for accepted connections (TcpSocketOptions) |  8
 *  |                                                               |
 *  +---------------------------------------------------------------+
 * </pre>
 */
public final class ListenRequestFlyweight extends Flyweight {
    public static final int PORT_OFFSET = 0;
    public static final int SOCKET_OPTIONS_OFFSET = 8;
    public static final int LENGTH = 16;

    public ListenRequestFlyweight wrap(MutableDirectBuffer buffer, int offset) {
        wrapAt(buffer, offset);
        return this;
    }

    public int port() {
        return buffer.getInt(offset + PORT_OFFSET);
    }

    public ListenRequestFlyweight port(int value) {
        buffer.putInt(offset + PORT_OFFSET, value);
        return this;
    }

    public long socketOptions() {
        return buffer.getLong(offset + SOCKET_OPTIONS_OFFSET);
    }

    public ListenRequestFlyweight socketOptions(long value) {
        buffer.putLong(offset + SOCKET_OPTIONS_OFFSET, value);
        return this;
    }
}
