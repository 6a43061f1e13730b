package io.fastpath.stack.tcp.protocol;

import org.agrona.MutableDirectBuffer;

/**
 * {@link EventType#ACCEPTED} (a listener accepted a connection; SYN Data Length: Fast Open bytes that follow as
 * receive events) and {@link EventType#CONNECT_REQUEST} (a conditional listener holds a SYN; a copy of its
 * data follows at {@link #SYN_DATA_OFFSET}). Native byte order, 8-byte aligned.
 *
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                  Connection Handle (generation | slot)         |  0
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                          Listen Port                          |  8
 *  +---------------------------------------------------------------+
 *  |                        Remote Address                         | 12
 *  +---------------------------------------------------------------+
 *  |                          Remote Port                          | 16
 *  +---------------------------------------------------------------+
 *  |                        SYN Data Length                        | 20
 *  +---------------------------------------------------------------+
 *  |              SYN Data (CONNECT_REQUEST only)                 ...| 24
 *  +---------------------------------------------------------------+
 * </pre>
 */
public final class AcceptedEventFlyweight extends Flyweight {
    public static final int HANDLE_OFFSET = 0;
    public static final int LISTEN_PORT_OFFSET = 8;
    public static final int REMOTE_IP_OFFSET = 12;
    public static final int REMOTE_PORT_OFFSET = 16;
    public static final int SYN_DATA_LENGTH_OFFSET = 20;
    public static final int SYN_DATA_OFFSET = 24;
    public static final int LENGTH = 24;

    public AcceptedEventFlyweight wrap(MutableDirectBuffer buffer, int offset) {
        wrapAt(buffer, offset);
        return this;
    }

    public long handle() {
        return buffer.getLong(offset + HANDLE_OFFSET);
    }

    public AcceptedEventFlyweight handle(long value) {
        buffer.putLong(offset + HANDLE_OFFSET, value);
        return this;
    }

    public int listenPort() {
        return buffer.getInt(offset + LISTEN_PORT_OFFSET);
    }

    public AcceptedEventFlyweight listenPort(int value) {
        buffer.putInt(offset + LISTEN_PORT_OFFSET, value);
        return this;
    }

    public int remoteIp() {
        return buffer.getInt(offset + REMOTE_IP_OFFSET);
    }

    public AcceptedEventFlyweight remoteIp(int value) {
        buffer.putInt(offset + REMOTE_IP_OFFSET, value);
        return this;
    }

    public int remotePort() {
        return buffer.getInt(offset + REMOTE_PORT_OFFSET);
    }

    public AcceptedEventFlyweight remotePort(int value) {
        buffer.putInt(offset + REMOTE_PORT_OFFSET, value);
        return this;
    }

    public int synDataLength() {
        return buffer.getInt(offset + SYN_DATA_LENGTH_OFFSET);
    }

    public AcceptedEventFlyweight synDataLength(int value) {
        buffer.putInt(offset + SYN_DATA_LENGTH_OFFSET, value);
        return this;
    }
}
