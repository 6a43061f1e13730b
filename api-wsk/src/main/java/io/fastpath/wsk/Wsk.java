package io.fastpath.wsk;

/**
 * The constants of wsk.h, ws2def.h and ws2ipdef.h that the WSK shape uses, with their Windows names and values,
 * so that {@code import static io.fastpath.wsk.Wsk.*} reads like a WSK driver.
 */
public final class Wsk {
    // ------------------------------------------------------------------ address family, type, protocol, level
    public static final int AF_INET = 2;
    public static final int SOCK_STREAM = 1;
    public static final int IPPROTO_TCP = 6;
    public static final int SOL_SOCKET = 0xFFFF;

    // ------------------------------------------------------------------ socket categories (WskSocket Flags)
    public static final int WSK_FLAG_BASIC_SOCKET = 0x00000000;
    public static final int WSK_FLAG_LISTEN_SOCKET = 0x00000001;
    public static final int WSK_FLAG_CONNECTION_SOCKET = 0x00000002;
    public static final int WSK_FLAG_DATAGRAM_SOCKET = 0x00000004;
    public static final int WSK_FLAG_STREAM_SOCKET = 0x00000008;

    // ------------------------------------------------------------------ call and event flags
    /** WskDisconnect: reset instead of FIN; WskDisconnectEvent: the peer reset the connection. */
    public static final int WSK_FLAG_ABORTIVE = 0x00000001;
    /** WskReceiveEvent: give the buffers back soon if you keep them. */
    public static final int WSK_FLAG_RELEASE_ASAP = 0x00000002;
    public static final int WSK_FLAG_ENTIRE_MESSAGE = 0x00000004;
    public static final int WSK_FLAG_AT_DISPATCH_LEVEL = 0x00000008;
    /** WskSend: do not delay this send (Nagle). */
    public static final int WSK_FLAG_NODELAY = 0x00000002;
    /** WskReceive: complete only when the buffer is full, on disconnect, or on cancel. */
    public static final int WSK_FLAG_WAITALL = 0x00000002;
    /** WskReceive: discard data until the peer disconnects. */
    public static final int WSK_FLAG_DRAIN = 0x00000004;

    // ------------------------------------------------------------------ event callbacks (SO_WSK_EVENT_CALLBACK)
    public static final int WSK_EVENT_SEND_BACKLOG = 0x00000010;
    public static final int WSK_EVENT_RECEIVE = 0x00000040;
    public static final int WSK_EVENT_DISCONNECT = 0x00000080;
    public static final int WSK_EVENT_RECEIVE_FROM = 0x00000100;
    public static final int WSK_EVENT_ACCEPT = 0x00000200;
    public static final int WSK_EVENT_DISABLE = 0x80000000;

    // ------------------------------------------------------------------ WSK_INSPECT_ACTION (WskInspectEvent)
    public static final int WskInspectReject = 0;
    public static final int WskInspectAccept = 1;
    public static final int WskInspectPend = 2;

    // ------------------------------------------------------------------ WSK_CONTROL_SOCKET_TYPE
    public static final int WskSetOption = 0;
    public static final int WskGetOption = 1;
    public static final int WskIoctl = 2;

    // ------------------------------------------------------------------ socket options, SOL_SOCKET
    public static final int SO_REUSEADDR = 0x0004;
    public static final int SO_KEEPALIVE = 0x0008;
    public static final int SO_RCVBUF = 0x1002;
    public static final int SO_CONDITIONAL_ACCEPT = 0x3002;
    public static final int SO_EXCLUSIVEADDRUSE = ~SO_REUSEADDR;
    public static final int WSK_SO_BASE = 0x4000;
    public static final int SO_WSK_SECURITY = WSK_SO_BASE + 1;
    public static final int SO_WSK_EVENT_CALLBACK = WSK_SO_BASE + 2;

    // ------------------------------------------------------------------ socket options, IPPROTO_TCP
    public static final int TCP_NODELAY = 0x0001;
    public static final int TCP_KEEPALIVE = 3;
    /** Seconds of idleness before the first keepalive probe (same option as TCP_KEEPALIVE). */
    public static final int TCP_KEEPIDLE = TCP_KEEPALIVE;
    public static final int TCP_MAXRT = 5;
    public static final int TCP_TIMESTAMPS = 10;
    public static final int TCP_FASTOPEN = 15;
    public static final int TCP_KEEPCNT = 16;
    /** Seconds between keepalive probes. */
    public static final int TCP_KEEPINTVL = 17;

    // ------------------------------------------------------------------ IOCTLs (_WSAIOR/_WSAIOW(IOC_WSK, n))
    private static final int IOC_IN = 0x80000000;
    private static final int IOC_OUT = 0x40000000;
    public static final int IOC_WSK = 0x08000000 | 0x07000000;
    public static final int SIO_WSK_SET_REMOTE_ADDRESS = IOC_IN | IOC_WSK | 0x1;
    public static final int SIO_WSK_REGISTER_EXTENSION = IOC_IN | IOC_OUT | IOC_WSK | 0x2;
    public static final int SIO_WSK_QUERY_IDEAL_SEND_BACKLOG = IOC_OUT | IOC_WSK | 0x3;
    public static final int SIO_WSK_QUERY_RECEIVE_BACKLOG = IOC_OUT | IOC_WSK | 0x4;
    public static final int SIO_WSK_QUERY_INSPECT_ID = IOC_OUT | IOC_WSK | 0x5;

    private Wsk() {
    }
}
