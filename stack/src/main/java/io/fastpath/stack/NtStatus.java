package io.fastpath.stack;

/**
 * NTSTATUS values as the Windows documents name them (ntstatus.h). The stack reports outcomes with these so
 * the WSK, TDI and NDK shapes can pass them through unchanged.
 */
public final class NtStatus {
    public static final int STATUS_SUCCESS = 0x00000000;
    public static final int STATUS_PENDING = 0x00000103;
    public static final int STATUS_INSUFFICIENT_RESOURCES = 0xC000009A;
    public static final int STATUS_IO_TIMEOUT = 0xC00000B5;
    public static final int STATUS_CONNECTION_REFUSED = 0xC0000236;
    public static final int STATUS_NETWORK_UNREACHABLE = 0xC000023C;
    public static final int STATUS_HOST_UNREACHABLE = 0xC000023D;

    private NtStatus() {
    }

    /** The documented name of a status, e.g. {@code STATUS_HOST_UNREACHABLE}. */
    public static String name(int status) {
        return switch (status) {
            case STATUS_SUCCESS -> "STATUS_SUCCESS";
            case STATUS_PENDING -> "STATUS_PENDING";
            case STATUS_INSUFFICIENT_RESOURCES -> "STATUS_INSUFFICIENT_RESOURCES";
            case STATUS_IO_TIMEOUT -> "STATUS_IO_TIMEOUT";
            case STATUS_CONNECTION_REFUSED -> "STATUS_CONNECTION_REFUSED";
            case STATUS_NETWORK_UNREACHABLE -> "STATUS_NETWORK_UNREACHABLE";
            case STATUS_HOST_UNREACHABLE -> "STATUS_HOST_UNREACHABLE";
            default -> String.format("0x%08X", status);
        };
    }
}
