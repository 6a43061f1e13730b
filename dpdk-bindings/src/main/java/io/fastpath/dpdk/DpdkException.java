package io.fastpath.dpdk;

/** A DPDK call failed; carries the error number and DPDK's text for it. */
public final class DpdkException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final int errno;

    public DpdkException(String operation, int errno) {
        super(operation + " failed: " + Native.strerror(errno) + " (errno " + Math.abs(errno) + ")");
        this.errno = Math.abs(errno);
    }

    /** The positive error number. */
    public int errno() {
        return errno;
    }
}
