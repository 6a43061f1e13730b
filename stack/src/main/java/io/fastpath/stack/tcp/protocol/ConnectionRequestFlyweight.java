package io.fastpath.stack.tcp.protocol;

import org.agrona.MutableDirectBuffer;

/**
 * A request about one connection: {@link RequestType#SHUTDOWN}, {@link RequestType#ABORT},
 * {@link RequestType#ACCEPT_REQUEST}, {@link RequestType#REJECT_REQUEST} (the handle only,
 * {@link #HANDLE_LENGTH} bytes), {@link RequestType#NO_DELAY} (enable), {@link RequestType#KEEP_ALIVE}
 * (enable, idle, interval, count), {@link RequestType#OPTIONS} (socket options). Native byte order, 8-byte
 * aligned.
 *
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                  Connection Handle (generation | slot)         |  0
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                     Enable (0 or 1)                           |  8
 *  +---------------------------------------------------------------+
 *  |                     Keepalive Probe Count                     | 12
 *  +---------------------------------------------------------------+
 *  |                 Socket Options (TcpSocketOptions)             | 16
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                     Keepalive Idle (ns)                       | 24
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                     Keepalive Interval (ns)                   | 32
 *  |                                                               |
 *  +---------------------------------------------------------------+
 * </pre>
 */
public final class ConnectionRequestFlyweight extends Flyweight {
    public static final int HANDLE_OFFSET = 0;
    public static final int ENABLE_OFFSET = 8;
    public static final int COUNT_OFFSET = 12;
    public static final int SOCKET_OPTIONS_OFFSET = 16;
    public static final int IDLE_NS_OFFSET = 24;
    public static final int INTERVAL_NS_OFFSET = 32;
    /** Shutdown, abort, accept and reject carry the handle only. */
    public static final int HANDLE_LENGTH = 8;
    public static final int LENGTH = 40;

    public ConnectionRequestFlyweight wrap(MutableDirectBuffer buffer, int offset) {
        wrapAt(buffer, offset);
        return this;
    }

    public long handle() {
        return buffer.getLong(offset + HANDLE_OFFSET);
    }

    public ConnectionRequestFlyweight handle(long value) {
        buffer.putLong(offset + HANDLE_OFFSET, value);
        return this;
    }

    public boolean enable() {
        return buffer.getInt(offset + ENABLE_OFFSET) != 0;
    }

    public ConnectionRequestFlyweight enable(boolean value) {
        buffer.putInt(offset + ENABLE_OFFSET, value ? 1 : 0);
        return this;
    }

    public int count() {
        return buffer.getInt(offset + COUNT_OFFSET);
    }

    public ConnectionRequestFlyweight count(int value) {
        buffer.putInt(offset + COUNT_OFFSET, value);
        return this;
    }

    public long socketOptions() {
        return buffer.getLong(offset + SOCKET_OPTIONS_OFFSET);
    }

    public ConnectionRequestFlyweight socketOptions(long value) {
        buffer.putLong(offset + SOCKET_OPTIONS_OFFSET, value);
        return this;
    }

    public long idleNs() {
        return buffer.getLong(offset + IDLE_NS_OFFSET);
    }

    public ConnectionRequestFlyweight idleNs(long value) {
        buffer.putLong(offset + IDLE_NS_OFFSET, value);
        return this;
    }

    public long intervalNs() {
        return buffer.getLong(offset + INTERVAL_NS_OFFSET);
    }

    public ConnectionRequestFlyweight intervalNs(long value) {
        buffer.putLong(offset + INTERVAL_NS_OFFSET, value);
        return this;
    }
}
