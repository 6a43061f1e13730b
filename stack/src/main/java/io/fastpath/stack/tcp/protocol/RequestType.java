package io.fastpath.stack.tcp.protocol;

/**
 * Message types of the request rings (application threads to the poll thread): the Agrona ring's
 * {@code msgTypeId}, naming the flyweight that reads the record.
 */
public final class RequestType {
    /** {@link ConnectRequestFlyweight}. */
    public static final int CONNECT = 1;
    /** {@link ListenRequestFlyweight}. */
    public static final int LISTEN = 2;
    /** {@link ListenRequestFlyweight} (options unused). */
    public static final int STOP_LISTENING = 3;
    /** {@link SendRequestFlyweight}. */
    public static final int SEND = 4;
    /** {@link SendRequestFlyweight}: urgent data (MSG_OOB). */
    public static final int SEND_URGENT = 5;
    /** {@link ConnectionRequestFlyweight}, handle only: FIN after queued sends. */
    public static final int SHUTDOWN = 6;
    /** {@link ConnectionRequestFlyweight}, handle only: RST. */
    public static final int ABORT = 7;
    /** {@link ConnectionRequestFlyweight}, handle only: conditional accept, answer a held SYN. */
    public static final int ACCEPT_REQUEST = 8;
    /** {@link ConnectionRequestFlyweight}, handle only: conditional accept, refuse a held SYN. */
    public static final int REJECT_REQUEST = 9;
    /** {@link ConnectionRequestFlyweight}: enable. */
    public static final int NO_DELAY = 10;
    /** {@link ConnectionRequestFlyweight}: enable, idle, interval, count. */
    public static final int KEEP_ALIVE = 11;
    /** {@link ConnectionRequestFlyweight}: socket options. */
    public static final int OPTIONS = 12;
    /** {@link ReleaseRequestFlyweight} (on a client's release ring only). */
    public static final int RELEASE = 13;
    /** A connection slot with control flags pending (on a client's control ring only; {@link SlotFlyweight}). */
    public static final int CONTROL_SLOT = 14;

    private RequestType() {
    }
}
