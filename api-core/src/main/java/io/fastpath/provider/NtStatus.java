package io.fastpath.provider;

/**
 * An NTSTATUS value as ntstatus.h defines it: its 32-bit {@link #code()}, its {@link #name()} and the message
 * text of the header ({@link #message()}). One interned instance per value ({@link #of} never allocates for a
 * value defined here), so {@code ==} compares two of them.
 *
 * <p>The layout of the code (ntdef.h): bits 31-30 the severity (0 success, 1 informational, 2 warning,
 * 3 error), bit 29 customer, bits 27-16 facility, bits 15-0 the code. {@link #isSuccess()} is NT_SUCCESS
 * (severity success or informational), {@link #isError()} NT_ERROR.
 *
 * <p>The stack reports outcomes as ints ({@link io.fastpath.stack.NtStatus}; it does not depend on this
 * module); the values it names are built from its constants, so each number stands once in the tree.
 * Messages follow [MS-ERREF] 2.3.1 (the ntstatus.h MessageText), with the %hs insert of STATUS_IO_TIMEOUT and
 * STATUS_DEVICE_NOT_READY left out.
 */
public final class NtStatus {
    private static final int SLOTS = 128;
    private static final NtStatus[] TABLE = new NtStatus[SLOTS];
    private static int defined;

    // ---- success (severity 0)
    public static final NtStatus STATUS_SUCCESS = define(io.fastpath.stack.NtStatus.STATUS_SUCCESS,
        "STATUS_SUCCESS", "The operation completed successfully.");
    public static final NtStatus STATUS_PENDING = define(io.fastpath.stack.NtStatus.STATUS_PENDING,
        "STATUS_PENDING", "The operation that was requested is pending completion.");
    // ---- informational (severity 1)
    /** A TDI_RECEIVE returns expedited (urgent) data: all of it. */
    public static final NtStatus STATUS_RECEIVE_EXPEDITED = define(0x40000010, "STATUS_RECEIVE_EXPEDITED",
        "{Expedited Data Received} The network transport returned data to its client that was marked as expedited"
            + " by the remote system.");
    /** A TDI_RECEIVE returns part of the expedited data waiting; the rest follows in the next receive. */
    public static final NtStatus STATUS_RECEIVE_PARTIAL_EXPEDITED = define(0x40000011,
        "STATUS_RECEIVE_PARTIAL_EXPEDITED", "{Partial Expedited Data Received} The network transport returned"
            + " partial data to its client and this data was marked as expedited by the remote system. The remaining"
            + " data will be sent later.");
    // ---- warning (severity 2)
    public static final NtStatus STATUS_BUFFER_OVERFLOW = define(io.fastpath.stack.NtStatus.STATUS_BUFFER_OVERFLOW,
        "STATUS_BUFFER_OVERFLOW", "{Buffer Overflow} The data was too large to fit into the specified buffer.");
    // ---- error (severity 3)
    public static final NtStatus STATUS_INVALID_PARAMETER = define(
        io.fastpath.stack.NtStatus.STATUS_INVALID_PARAMETER, "STATUS_INVALID_PARAMETER",
        "An invalid parameter was passed to a service or function.");
    /** A request the object cannot take (a connection request on an address object, an unknown minor code). */
    public static final NtStatus STATUS_INVALID_DEVICE_REQUEST = define(0xC0000010, "STATUS_INVALID_DEVICE_REQUEST",
        "The specified request is not a valid operation for the target device.");
    /** From ClientEventConnect / ClientEventReceive: an IRP is returned for the transport to complete. */
    public static final NtStatus STATUS_MORE_PROCESSING_REQUIRED = define(0xC0000016,
        "STATUS_MORE_PROCESSING_REQUIRED", "{Still Busy} The specified I/O request packet (IRP) cannot be disposed"
            + " of because the I/O operation is not complete.");
    /** Bind to a port another socket holds with SO_EXCLUSIVEADDRUSE (WSAEACCES). */
    public static final NtStatus STATUS_ACCESS_DENIED = define(0xC0000022, "STATUS_ACCESS_DENIED",
        "{Access Denied} A process has requested access to an object but has not been granted those access"
            + " rights.");
    /** NdkGetConnectionData: the private-data buffer is too small (the length is updated). */
    public static final NtStatus STATUS_BUFFER_TOO_SMALL = define(0xC0000023, "STATUS_BUFFER_TOO_SMALL",
        "{Buffer Too Small} The buffer is too small to contain the entry. No information has been written to the"
            + " buffer.");
    /** Data read back did not match what was sent (a verifying client's verdict). */
    public static final NtStatus STATUS_DATA_ERROR = define(io.fastpath.stack.NtStatus.STATUS_DATA_ERROR,
        "STATUS_DATA_ERROR", "{Data Error} An error occurred in reading or writing data.");
    /**
     * TDI ClientEventError: expedited bytes arrived while the connection's expedited buffer was full; the
     * dropped bytes count in TDI_CONNECTION_INFO.ReceiveErrors.
     */
    public static final NtStatus STATUS_DATA_OVERRUN = define(0xC000003C, "STATUS_DATA_OVERRUN",
        "{Data Overrun} A data overrun error occurred.");
    public static final NtStatus STATUS_SHARING_VIOLATION = define(
        io.fastpath.stack.NtStatus.STATUS_SHARING_VIOLATION, "STATUS_SHARING_VIOLATION",
        "A file cannot be opened because the share access flags are incompatible.");
    public static final NtStatus STATUS_INSUFFICIENT_RESOURCES = define(
        io.fastpath.stack.NtStatus.STATUS_INSUFFICIENT_RESOURCES, "STATUS_INSUFFICIENT_RESOURCES",
        "Insufficient system resources exist to complete the API.");
    /** TDI_SEND with TDI_SEND_NON_BLOCKING while a send is outstanding (ClientEventSendPossible follows). */
    public static final NtStatus STATUS_DEVICE_NOT_READY = define(0xC00000A3, "STATUS_DEVICE_NOT_READY",
        "{Drive Not Ready} The drive is not ready for use; its door may be open.");
    public static final NtStatus STATUS_IO_TIMEOUT = define(io.fastpath.stack.NtStatus.STATUS_IO_TIMEOUT,
        "STATUS_IO_TIMEOUT", "{Device Timeout} The specified I/O operation was not completed before the time-out"
            + " period expired.");
    /**
     * The TDI documents' STATUS_REQUEST_TIMED_OUT (TDI_DISCONNECT, TDI_CONNECT time-outs): ntstatus.h has no such
     * name and tdistat.h maps TDI_TIMED_OUT to STATUS_IO_TIMEOUT, so it is that value (the same instance).
     */
    public static final NtStatus STATUS_REQUEST_TIMED_OUT = STATUS_IO_TIMEOUT;
    /** The socket is no longer functional: close it (WSK). */
    public static final NtStatus STATUS_FILE_FORCED_CLOSED = define(0xC00000B6, "STATUS_FILE_FORCED_CLOSED",
        "The specified file has been closed by another process.");
    /** An operation, flag or option the object does not support. */
    public static final NtStatus STATUS_NOT_SUPPORTED = define(0xC00000BB, "STATUS_NOT_SUPPORTED",
        "The request is not supported.");
    /** From WskAcceptEvent: the application does not take the connection (WSK closes it). */
    public static final NtStatus STATUS_REQUEST_NOT_ACCEPTED = define(0xC00000D0, "STATUS_REQUEST_NOT_ACCEPTED",
        "No more connections can be made to this remote computer at this time because the computer has already"
            + " accepted the maximum number of connections.");
    /** The IRP or request was cancelled (IoCancelIrp, closing, an abortive disconnect, a flushed QP). */
    public static final NtStatus STATUS_CANCELLED = define(0xC0000120, "STATUS_CANCELLED",
        "The I/O request was canceled.");
    public static final NtStatus STATUS_INVALID_CONNECTION = define(
        io.fastpath.stack.NtStatus.STATUS_INVALID_CONNECTION, "STATUS_INVALID_CONNECTION",
        "The connection handle that was given to the transport was invalid.");
    public static final NtStatus STATUS_INVALID_ADDRESS = define(io.fastpath.stack.NtStatus.STATUS_INVALID_ADDRESS,
        "STATUS_INVALID_ADDRESS", "The address handle that was given to the transport was invalid.");
    public static final NtStatus STATUS_INVALID_DEVICE_STATE = define(
        io.fastpath.stack.NtStatus.STATUS_INVALID_DEVICE_STATE, "STATUS_INVALID_DEVICE_STATE",
        "The device is not in a valid state to perform this request.");
    /** Private data longer than the adapter allows, or a message longer than MaxTransferLength (NDK). */
    public static final NtStatus STATUS_INVALID_BUFFER_SIZE = define(0xC0000206, "STATUS_INVALID_BUFFER_SIZE",
        "The size of the buffer is invalid for the specified operation.");
    public static final NtStatus STATUS_TOO_MANY_ADDRESSES = define(
        io.fastpath.stack.NtStatus.STATUS_TOO_MANY_ADDRESSES, "STATUS_TOO_MANY_ADDRESSES",
        "The transport address could not be opened because all the available addresses are in use.");
    public static final NtStatus STATUS_ADDRESS_ALREADY_EXISTS = define(
        io.fastpath.stack.NtStatus.STATUS_ADDRESS_ALREADY_EXISTS, "STATUS_ADDRESS_ALREADY_EXISTS",
        "The transport address could not be opened because it already exists.");
    /** The address object was closed under a request (TDI). */
    public static final NtStatus STATUS_ADDRESS_CLOSED = define(0xC000020B, "STATUS_ADDRESS_CLOSED",
        "The transport address is now closed.");
    /** The QP's connection ended while receives were posted (NDK). */
    public static final NtStatus STATUS_CONNECTION_DISCONNECTED = define(0xC000020C,
        "STATUS_CONNECTION_DISCONNECTED", "The transport connection is now disconnected.");
    public static final NtStatus STATUS_CONNECTION_RESET = define(io.fastpath.stack.NtStatus.STATUS_CONNECTION_RESET,
        "STATUS_CONNECTION_RESET", "The transport connection has been reset.");
    /** From a receive event or handler: the client took none of the data; it stays for a receive request. */
    public static final NtStatus STATUS_DATA_NOT_ACCEPTED = define(0xC000021B, "STATUS_DATA_NOT_ACCEPTED",
        "{Data Not Accepted} The TDI client could not handle the data received during an indication.");
    public static final NtStatus STATUS_CONNECTION_REFUSED = define(
        io.fastpath.stack.NtStatus.STATUS_CONNECTION_REFUSED, "STATUS_CONNECTION_REFUSED",
        "The transport-connection attempt was refused by the remote system.");
    /** The peer closed its side (TDI_GRACEFUL_DISC): a TDI_RECEIVE after the peer's FIN. */
    public static final NtStatus STATUS_GRACEFUL_DISCONNECT = define(0xC0000237, "STATUS_GRACEFUL_DISCONNECT",
        "The transport connection was gracefully closed.");
    /** NdkCompleteConnect / NdkAccept on a connector in the wrong state. */
    public static final NtStatus STATUS_CONNECTION_INVALID = define(0xC000023A, "STATUS_CONNECTION_INVALID",
        "An operation was attempted on a nonexistent transport connection.");
    public static final NtStatus STATUS_NETWORK_UNREACHABLE = define(
        io.fastpath.stack.NtStatus.STATUS_NETWORK_UNREACHABLE, "STATUS_NETWORK_UNREACHABLE",
        "The remote network is not reachable by the transport.");
    public static final NtStatus STATUS_HOST_UNREACHABLE = define(io.fastpath.stack.NtStatus.STATUS_HOST_UNREACHABLE,
        "STATUS_HOST_UNREACHABLE", "The remote system is not reachable by the transport.");
    public static final NtStatus STATUS_CONNECTION_ABORTED = define(
        io.fastpath.stack.NtStatus.STATUS_CONNECTION_ABORTED, "STATUS_CONNECTION_ABORTED",
        "The transport connection was aborted by the local system.");

    private final int code;
    private final String name;
    private final String message;

    private NtStatus(int code, String name, String message) {
        this.code = code;
        this.name = name;
        this.message = message;
    }

    private static NtStatus define(int code, String name, String message) {
        NtStatus s = new NtStatus(code, name, message);
        int slot = slot(code);
        while (TABLE[slot] != null) {
            if (TABLE[slot].code == code) {
                throw new ExceptionInInitializerError("NTSTATUS 0x" + Integer.toHexString(code) + " defined twice");
            }
            slot = (slot + 1) & (SLOTS - 1);
        }
        if (++defined > SLOTS / 2) {
            throw new ExceptionInInitializerError("NtStatus table too small");
        }
        TABLE[slot] = s;
        return s;
    }

    private static int slot(int code) {
        int h = code * 0x9E3779B9;
        return (h ^ (h >>> 16)) & (SLOTS - 1);
    }

    /**
     * The instance for {@code code}: an interned one (no allocation) for every value defined here, a new one
     * named by its hex value otherwise.
     */
    public static NtStatus of(int code) {
        NtStatus s = known(code);
        return s != null ? s : new NtStatus(code, hex(code), "");
    }

    /** The interned instance for {@code code}, or null when this class does not define it. */
    public static NtStatus known(int code) {
        for (int slot = slot(code); ; slot = (slot + 1) & (SLOTS - 1)) {
            NtStatus s = TABLE[slot];
            if (s == null || s.code == code) {
                return s;
            }
        }
    }

    /** The ntstatus.h name of {@code code}, e.g. {@code STATUS_CANCELLED}, or its hex value ({@code 0xC0001234}). */
    public static String name(int code) {
        NtStatus s = known(code);
        return s != null ? s.name : hex(code);
    }

    /** NT_SUCCESS: severity success or informational. */
    public static boolean isSuccess(int code) {
        return code >= 0;
    }

    /** NT_ERROR: severity error. */
    public static boolean isError(int code) {
        return code >>> 30 == 3;
    }

    private static String hex(int code) {
        return String.format("0x%08X", code);
    }

    /** The 32-bit NTSTATUS value. */
    public int code() {
        return code;
    }

    /** The ntstatus.h name, e.g. {@code STATUS_CONNECTION_REFUSED}. */
    public String name() {
        return name;
    }

    /** The ntstatus.h message text; empty for a value this class does not define. */
    public String message() {
        return message;
    }

    /** The severity field: 0 success, 1 informational, 2 warning, 3 error. */
    public int severity() {
        return code >>> 30;
    }

    public boolean isSuccess() {
        return isSuccess(code);
    }

    public boolean isError() {
        return isError(code);
    }

    /** True for {@code code} (an int status the stack or an IRP reports). */
    public boolean is(int otherCode) {
        return code == otherCode;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof NtStatus s && s.code == code;
    }

    @Override
    public int hashCode() {
        return code;
    }

    @Override
    public String toString() {
        return name;
    }
}
