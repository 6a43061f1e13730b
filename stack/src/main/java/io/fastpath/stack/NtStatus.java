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
    public static final int STATUS_INVALID_PARAMETER = 0xC000000D;
    public static final int STATUS_BUFFER_OVERFLOW = 0x80000005;
    public static final int STATUS_SHARING_VIOLATION = 0xC0000043;
    public static final int STATUS_INVALID_CONNECTION = 0xC0000140;
    public static final int STATUS_INVALID_ADDRESS = 0xC0000141;
    public static final int STATUS_INVALID_DEVICE_STATE = 0xC0000184;
    public static final int STATUS_TOO_MANY_ADDRESSES = 0xC0000209;
    public static final int STATUS_ADDRESS_ALREADY_EXISTS = 0xC000020A;
    public static final int STATUS_CONNECTION_RESET = 0xC000020D;
    public static final int STATUS_CONNECTION_ABORTED = 0xC0000241;
    /** Data read back did not match what was sent (a verifying client's verdict). */
    public static final int STATUS_DATA_ERROR = 0xC000003E;

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
            case STATUS_INVALID_PARAMETER -> "STATUS_INVALID_PARAMETER";
            case STATUS_BUFFER_OVERFLOW -> "STATUS_BUFFER_OVERFLOW";
            case STATUS_SHARING_VIOLATION -> "STATUS_SHARING_VIOLATION";
            case STATUS_INVALID_CONNECTION -> "STATUS_INVALID_CONNECTION";
            case STATUS_INVALID_ADDRESS -> "STATUS_INVALID_ADDRESS";
            case STATUS_INVALID_DEVICE_STATE -> "STATUS_INVALID_DEVICE_STATE";
            case STATUS_TOO_MANY_ADDRESSES -> "STATUS_TOO_MANY_ADDRESSES";
            case STATUS_ADDRESS_ALREADY_EXISTS -> "STATUS_ADDRESS_ALREADY_EXISTS";
            case STATUS_CONNECTION_RESET -> "STATUS_CONNECTION_RESET";
            case STATUS_CONNECTION_ABORTED -> "STATUS_CONNECTION_ABORTED";
            case STATUS_DATA_ERROR -> "STATUS_DATA_ERROR";
            default -> String.format("0x%08X", status);
        };
    }
}
