package io.fastpath.tdi;

import io.fastpath.provider.NtStatus;

/** An open (ZwCreateFile) that failed, with its NTSTATUS. */
public final class TdiException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final transient NtStatus status;

    public TdiException(NtStatus status, String message) {
        super(status.name() + ": " + message);
        this.status = status;
    }

    public NtStatus status() {
        return status;
    }
}
