package io.fastpath.stack.tcp.protocol;

import org.agrona.MutableDirectBuffer;

/**
 * {@link RequestType#CONNECT}: open a connection, optionally with data to send once connected (or in the SYN
 * with Fast Open). Native byte order, 8-byte aligned.
 *
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                          Request Id                           |  0
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                        Remote Address                         |  8
 *  +---------------------------------------------------------------+
 *  |                          Remote Port                          | 12
 *  +---------------------------------------------------------------+
 *  |                  Local Address (0: the stack's)               | 16
 *  +---------------------------------------------------------------+
 *  |                  Local Port (0: an ephemeral one)             | 20
 *  +---------------------------------------------------------------+
 *  |                 Data Address (native memory)                  | 24
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                          Data Length                          | 32
 *  +-------------------------------------------------------------+-+
 *  |                           Reserved                          |F| 36  F: Fast Open
 *  +-------------------------------------------------------------+-+
 *  |                 Socket Options (TcpSocketOptions)             | 40
 *  |                                                               |
 *  +---------------------------------------------------------------+
 * </pre>
 */
public final class ConnectRequestFlyweight extends Flyweight {
    public static final int REQUEST_ID_OFFSET = 0;
    public static final int REMOTE_IP_OFFSET = 8;
    public static final int REMOTE_PORT_OFFSET = 12;
    public static final int LOCAL_IP_OFFSET = 16;
    public static final int LOCAL_PORT_OFFSET = 20;
    public static final int DATA_ADDRESS_OFFSET = 24;
    public static final int DATA_LENGTH_OFFSET = 32;
    public static final int FLAGS_OFFSET = 36;
    public static final int SOCKET_OPTIONS_OFFSET = 40;
    public static final int LENGTH = 48;
    public static final int FAST_OPEN_FLAG = 1;

    public ConnectRequestFlyweight wrap(MutableDirectBuffer buffer, int offset) {
        wrapAt(buffer, offset);
        return this;
    }

    public long requestId() {
        return buffer.getLong(offset + REQUEST_ID_OFFSET);
    }

    public ConnectRequestFlyweight requestId(long value) {
        buffer.putLong(offset + REQUEST_ID_OFFSET, value);
        return this;
    }

    public int remoteIp() {
        return buffer.getInt(offset + REMOTE_IP_OFFSET);
    }

    public ConnectRequestFlyweight remoteIp(int value) {
        buffer.putInt(offset + REMOTE_IP_OFFSET, value);
        return this;
    }

    public int remotePort() {
        return buffer.getInt(offset + REMOTE_PORT_OFFSET);
    }

    public ConnectRequestFlyweight remotePort(int value) {
        buffer.putInt(offset + REMOTE_PORT_OFFSET, value);
        return this;
    }

    public int localIp() {
        return buffer.getInt(offset + LOCAL_IP_OFFSET);
    }

    public ConnectRequestFlyweight localIp(int value) {
        buffer.putInt(offset + LOCAL_IP_OFFSET, value);
        return this;
    }

    public int localPort() {
        return buffer.getInt(offset + LOCAL_PORT_OFFSET);
    }

    public ConnectRequestFlyweight localPort(int value) {
        buffer.putInt(offset + LOCAL_PORT_OFFSET, value);
        return this;
    }

    public long dataAddress() {
        return buffer.getLong(offset + DATA_ADDRESS_OFFSET);
    }

    public ConnectRequestFlyweight dataAddress(long value) {
        buffer.putLong(offset + DATA_ADDRESS_OFFSET, value);
        return this;
    }

    public int dataLength() {
        return buffer.getInt(offset + DATA_LENGTH_OFFSET);
    }

    public ConnectRequestFlyweight dataLength(int value) {
        buffer.putInt(offset + DATA_LENGTH_OFFSET, value);
        return this;
    }

    public boolean fastOpen() {
        return (buffer.getInt(offset + FLAGS_OFFSET) & FAST_OPEN_FLAG) != 0;
    }

    public ConnectRequestFlyweight fastOpen(boolean value) {
        buffer.putInt(offset + FLAGS_OFFSET, value ? FAST_OPEN_FLAG : 0);
        return this;
    }

    public long socketOptions() {
        return buffer.getLong(offset + SOCKET_OPTIONS_OFFSET);
    }

    public ConnectRequestFlyweight socketOptions(long value) {
        buffer.putLong(offset + SOCKET_OPTIONS_OFFSET, value);
        return this;
    }
}
