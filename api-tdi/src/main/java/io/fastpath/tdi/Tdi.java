package io.fastpath.tdi;

/** TDI constants as tdikrnl.h / tdi.h name them: request codes, event types, flags, query types. */
public final class Tdi {
    // ---- IRP_MJ_INTERNAL_DEVICE_CONTROL minor functions (tdikrnl.h)
    public static final int TDI_ASSOCIATE_ADDRESS = 0x01;
    public static final int TDI_DISASSOCIATE_ADDRESS = 0x02;
    public static final int TDI_CONNECT = 0x03;
    public static final int TDI_LISTEN = 0x04;
    public static final int TDI_ACCEPT = 0x05;
    public static final int TDI_DISCONNECT = 0x06;
    public static final int TDI_SEND = 0x07;
    public static final int TDI_RECEIVE = 0x08;
    public static final int TDI_SET_EVENT_HANDLER = 0x0B;
    public static final int TDI_QUERY_INFORMATION = 0x0C;

    // ---- event types (TDI_SET_EVENT_HANDLER)
    public static final int TDI_EVENT_CONNECT = 0;
    public static final int TDI_EVENT_DISCONNECT = 1;
    public static final int TDI_EVENT_ERROR = 2;
    public static final int TDI_EVENT_RECEIVE = 3;
    public static final int TDI_EVENT_RECEIVE_EXPEDITED = 5;
    public static final int TDI_EVENT_SEND_POSSIBLE = 6;
    public static final int TDI_EVENT_CHAINED_RECEIVE = 7;
    public static final int TDI_EVENT_CHAINED_RECEIVE_EXPEDITED = 9;

    // ---- TDI_LISTEN flags
    public static final int TDI_QUERY_ACCEPT = 0x00000001;

    // ---- TDI_DISCONNECT flags (and ClientEventDisconnect's DisconnectFlags)
    public static final int TDI_DISCONNECT_WAIT = 0x0001;
    public static final int TDI_DISCONNECT_ABORT = 0x0002;
    public static final int TDI_DISCONNECT_RELEASE = 0x0004;

    // ---- TDI_SEND flags
    public static final int TDI_SEND_EXPEDITED = 0x0020;
    public static final int TDI_SEND_PARTIAL = 0x0040;
    public static final int TDI_SEND_NO_RESPONSE_EXPECTED = 0x0080;
    public static final int TDI_SEND_NON_BLOCKING = 0x0100;
    public static final int TDI_SEND_AND_DISCONNECT = 0x0200;

    // ---- TDI_RECEIVE flags and the ReceiveFlags of receive indications
    public static final int TDI_RECEIVE_TRUNCATED = 0x0002;
    public static final int TDI_RECEIVE_FRAGMENT = 0x0004;
    public static final int TDI_RECEIVE_PARTIAL = 0x0010;
    public static final int TDI_RECEIVE_NORMAL = 0x0020;
    public static final int TDI_RECEIVE_EXPEDITED = 0x0040;
    public static final int TDI_RECEIVE_PEEK = 0x0080;
    public static final int TDI_RECEIVE_NO_RESPONSE_EXP = 0x0100;
    public static final int TDI_RECEIVE_COPY_LOOKAHEAD = 0x0200;
    public static final int TDI_RECEIVE_ENTIRE_MESSAGE = 0x0400;
    public static final int TDI_RECEIVE_AT_DISPATCH_LEVEL = 0x0800;

    // ---- TDI_QUERY_INFORMATION types
    public static final int TDI_QUERY_PROVIDER_INFO = 2;
    public static final int TDI_QUERY_ADDRESS_INFO = 3;
    public static final int TDI_QUERY_CONNECTION_INFO = 4;
    public static final int TDI_QUERY_PROVIDER_STATISTICS = 5;

    // ---- TDI_PROVIDER_INFO.ServiceFlags
    public static final int TDI_SERVICE_CONNECTION_MODE = 0x00000001;
    public static final int TDI_SERVICE_ORDERLY_RELEASE = 0x00000002;
    public static final int TDI_SERVICE_EXPEDITED_DATA = 0x00000008;
    public static final int TDI_SERVICE_DELAYED_ACCEPTANCE = 0x00000200;
    public static final int TDI_SERVICE_FORCE_ACCESS_CHECK = 0x00000400;
    public static final int TDI_SERVICE_NO_ZERO_LENGTH = 0x00008000;

    /** TDI version 2.0 (TDI_PROVIDER_INFO.Version). */
    public static final int TDI_VERSION = 0x0200;

    /** A NULL time-out (PLARGE_INTEGER NULL): the transport's default. */
    public static final long TIMEOUT_DEFAULT = 0;

    private Tdi() {
    }

    /** A relative time-out as TDI takes it: a negative count of 100 ns units. */
    public static long relativeTimeout(long millis) {
        return -millis * 10_000L;
    }
}
