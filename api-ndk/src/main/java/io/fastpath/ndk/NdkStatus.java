package io.fastpath.ndk;

import io.fastpath.stack.NtStatus;

/**
 * The NTSTATUS values NDK uses that {@link NtStatus} does not define (same Windows values), and
 * {@link #name(int)} for all of them.
 */
public final class NdkStatus {
    /** NdkCompleteConnect / NdkAccept on a connector in the wrong state. */
    public static final int STATUS_CONNECTION_INVALID = 0xC000023A;
    /** NdkGetConnectionData: the private-data buffer is too small (the length is updated). */
    public static final int STATUS_BUFFER_TOO_SMALL = 0xC0000023;
    /** Private data longer than the adapter allows, or a message longer than MaxTransferLength. */
    public static final int STATUS_INVALID_BUFFER_SIZE = 0xC0000206;
    /** A request flushed because its connector or QP was closed. */
    public static final int STATUS_CANCELLED = 0xC0000120;
    /** The QP's connection ended while receives were posted. */
    public static final int STATUS_CONNECTION_DISCONNECTED = 0xC000020C;

    private NdkStatus() {
    }

    public static String name(int status) {
        return switch (status) {
            case STATUS_CONNECTION_INVALID -> "STATUS_CONNECTION_INVALID";
            case STATUS_BUFFER_TOO_SMALL -> "STATUS_BUFFER_TOO_SMALL";
            case STATUS_INVALID_BUFFER_SIZE -> "STATUS_INVALID_BUFFER_SIZE";
            case STATUS_CANCELLED -> "STATUS_CANCELLED";
            case STATUS_CONNECTION_DISCONNECTED -> "STATUS_CONNECTION_DISCONNECTED";
            default -> NtStatus.name(status);
        };
    }
}
