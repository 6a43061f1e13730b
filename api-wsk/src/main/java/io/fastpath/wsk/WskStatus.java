package io.fastpath.wsk;

import io.fastpath.stack.NtStatus;

/**
 * The NTSTATUS values WSK needs beyond the stack's {@link NtStatus} (values from ntstatus.h), and one
 * {@link #name} for all of them.
 */
public final class WskStatus {
    public static final int STATUS_SUCCESS = NtStatus.STATUS_SUCCESS;
    public static final int STATUS_PENDING = NtStatus.STATUS_PENDING;
    /** The IRP was cancelled (WskCloseSocket, IoCancelIrp, an abortive disconnect for sends). */
    public static final int STATUS_CANCELLED = 0xC0000120;
    /** An operation, flag or option this socket does not support. */
    public static final int STATUS_NOT_SUPPORTED = 0xC00000BB;
    /** The socket is no longer functional: close it. */
    public static final int STATUS_FILE_FORCED_CLOSED = 0xC00000B6;
    /** From WskAcceptEvent: the application does not take the connection (WSK closes it). */
    public static final int STATUS_REQUEST_NOT_ACCEPTED = 0xC00000D0;
    /** From WskReceiveEvent: the application took none of the data (it stays queued for WskReceive). */
    public static final int STATUS_DATA_NOT_ACCEPTED = 0xC000021B;
    /** Bind to a port another socket holds with SO_EXCLUSIVEADDRUSE (WSAEACCES). */
    public static final int STATUS_ACCESS_DENIED = 0xC0000022;

    private WskStatus() {
    }

    /** The documented name of a status, e.g. {@code STATUS_CANCELLED}, or its hex value. */
    public static String name(int status) {
        return switch (status) {
            case STATUS_CANCELLED -> "STATUS_CANCELLED";
            case STATUS_NOT_SUPPORTED -> "STATUS_NOT_SUPPORTED";
            case STATUS_FILE_FORCED_CLOSED -> "STATUS_FILE_FORCED_CLOSED";
            case STATUS_REQUEST_NOT_ACCEPTED -> "STATUS_REQUEST_NOT_ACCEPTED";
            case STATUS_DATA_NOT_ACCEPTED -> "STATUS_DATA_NOT_ACCEPTED";
            case STATUS_ACCESS_DENIED -> "STATUS_ACCESS_DENIED";
            default -> NtStatus.name(status);
        };
    }
}
