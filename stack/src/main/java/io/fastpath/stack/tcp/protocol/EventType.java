package io.fastpath.stack.tcp.protocol;

/**
 * Message types of a client's event ring (the poll thread to the client's application thread): the Agrona
 * ring's {@code msgTypeId}, naming the flyweight that reads the record.
 */
public final class EventType {
    /** {@link ConnectedEventFlyweight}. */
    public static final int CONNECTED = 1;
    /** {@link AcceptedEventFlyweight}. */
    public static final int ACCEPTED = 2;
    /** {@link AcceptedEventFlyweight} with the SYN's data after it (conditional accept). */
    public static final int CONNECT_REQUEST = 3;
    /** {@link ReceiveEventFlyweight}. */
    public static final int RECEIVE = 4;
    /** {@link SendCompleteEventFlyweight}. */
    public static final int SEND_COMPLETE = 5;
    /** {@link ConnectionEventFlyweight}. */
    public static final int PEER_CLOSED = 6;
    /** {@link ConnectionEventFlyweight}: value = status. */
    public static final int CLOSED = 7;
    /** {@link ConnectionEventFlyweight}: our FIN was acknowledged. */
    public static final int FIN_ACKED = 8;
    /** {@link ConnectionEventFlyweight}: value = ideal send backlog in bytes. */
    public static final int SEND_BACKLOG = 9;
    /** {@link ConnectionEventFlyweight}: value = urgent byte count, the bytes after it. */
    public static final int URGENT = 10;
    /** {@link ListenEventFlyweight}. */
    public static final int LISTEN = 11;

    private EventType() {
    }
}
