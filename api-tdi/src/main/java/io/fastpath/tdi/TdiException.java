package io.fastpath.tdi;

import io.fastpath.provider.NtStatus;

/** An open (ZwCreateFile) that failed, with its NTSTATUS. */
public final class TdiException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final int status;

    public TdiException(int status, String message) {
        super(NtStatus.name(status) + ": " + message);
        this.status = status;
    }

    public int status() {
        return status;
    }
}
