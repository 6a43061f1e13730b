package io.fastpath.tdi;

import io.fastpath.stack.NtStatus;

/**
 * The NTSTATUS values TDI needs beyond the stack's {@link NtStatus} (values from ntstatus.h / tdistat.h), and
 * one {@link #name} for all of them.
 */
public final class TdiStatus {
    public static final int STATUS_SUCCESS = NtStatus.STATUS_SUCCESS;
    public static final int STATUS_PENDING = NtStatus.STATUS_PENDING;
    /** From ClientEventConnect / ClientEventReceive: an IRP is returned for the transport to complete. */
    public static final int STATUS_MORE_PROCESSING_REQUIRED = 0xC0000016;
    /** From a receive handler: the client took none of the data; it stays for a TDI_RECEIVE. */
    public static final int STATUS_DATA_NOT_ACCEPTED = 0xC000021B;
    /** TDI_SEND with TDI_SEND_NON_BLOCKING while a send is outstanding (ClientEventSendPossible follows). */
    public static final int STATUS_DEVICE_NOT_READY = 0xC00000A3;
    /** A request cancelled (by TDI_DISCONNECT ABORT, by closing, by IoCancelIrp). */
    public static final int STATUS_CANCELLED = 0xC0000120;
    public static final int STATUS_NOT_SUPPORTED = 0xC00000BB;
    /** A request the object cannot take (a connection request on an address object, an unknown minor code). */
    public static final int STATUS_INVALID_DEVICE_REQUEST = 0xC0000010;
    /**
     * TDI_DISCONNECT (and TDI_CONNECT) time-out. The TDI documents name it STATUS_REQUEST_TIMED_OUT; ntstatus.h
     * has no such name and tdistat.h maps TDI_TIMED_OUT to STATUS_IO_TIMEOUT, so this is its value.
     */
    public static final int STATUS_REQUEST_TIMED_OUT = NtStatus.STATUS_IO_TIMEOUT;
    /** The peer closed its side (TDI_GRACEFUL_DISC): a TDI_RECEIVE after the peer's FIN. */
    public static final int STATUS_GRACEFUL_DISCONNECT = 0xC0000237;
    /** The address object was closed under a request. */
    public static final int STATUS_ADDRESS_CLOSED = 0xC000020B;
    /** A TDI_RECEIVE returns expedited (urgent) data: all of it (a success status, as AFD reads it: MSG_OOB). */
    public static final int STATUS_RECEIVE_EXPEDITED = 0x40000010;
    /** A TDI_RECEIVE returns part of the expedited data waiting; the rest follows in the next receive. */
    public static final int STATUS_RECEIVE_PARTIAL_EXPEDITED = 0x40000011;
    /**
     * ClientEventError: expedited bytes arrived while the connection's expedited buffer was full (the client
     * neither took nor read what waits); the dropped bytes count in TDI_CONNECTION_INFO.ReceiveErrors.
     */
    public static final int STATUS_DATA_OVERRUN = 0xC000003C;
    public static final int STATUS_BUFFER_OVERFLOW = NtStatus.STATUS_BUFFER_OVERFLOW;
    public static final int STATUS_INVALID_CONNECTION = NtStatus.STATUS_INVALID_CONNECTION;
    public static final int STATUS_INVALID_PARAMETER = NtStatus.STATUS_INVALID_PARAMETER;
    public static final int STATUS_INSUFFICIENT_RESOURCES = NtStatus.STATUS_INSUFFICIENT_RESOURCES;
    public static final int STATUS_CONNECTION_REFUSED = NtStatus.STATUS_CONNECTION_REFUSED;
    public static final int STATUS_CONNECTION_RESET = NtStatus.STATUS_CONNECTION_RESET;
    public static final int STATUS_CONNECTION_ABORTED = NtStatus.STATUS_CONNECTION_ABORTED;

    private TdiStatus() {
    }

    /** The documented name of a status, e.g. {@code STATUS_DATA_NOT_ACCEPTED}, or its hex value. */
    public static String name(int status) {
        return switch (status) {
            case STATUS_MORE_PROCESSING_REQUIRED -> "STATUS_MORE_PROCESSING_REQUIRED";
            case STATUS_RECEIVE_EXPEDITED -> "STATUS_RECEIVE_EXPEDITED";
            case STATUS_RECEIVE_PARTIAL_EXPEDITED -> "STATUS_RECEIVE_PARTIAL_EXPEDITED";
            case STATUS_DATA_NOT_ACCEPTED -> "STATUS_DATA_NOT_ACCEPTED";
            case STATUS_DEVICE_NOT_READY -> "STATUS_DEVICE_NOT_READY";
            case STATUS_CANCELLED -> "STATUS_CANCELLED";
            case STATUS_NOT_SUPPORTED -> "STATUS_NOT_SUPPORTED";
            case STATUS_INVALID_DEVICE_REQUEST -> "STATUS_INVALID_DEVICE_REQUEST";
            case STATUS_GRACEFUL_DISCONNECT -> "STATUS_GRACEFUL_DISCONNECT";
            case STATUS_ADDRESS_CLOSED -> "STATUS_ADDRESS_CLOSED";
            case STATUS_DATA_OVERRUN -> "STATUS_DATA_OVERRUN";
            case STATUS_REQUEST_TIMED_OUT -> "STATUS_REQUEST_TIMED_OUT (STATUS_IO_TIMEOUT)";
            default -> NtStatus.name(status);
        };
    }
}
