package io.fastpath.provider;

/**
 * IO_STATUS_BLOCK: how an {@link Irp} ended. {@link #status()} is the NTSTATUS (interned: compare with
 * {@code ==} or {@link NtStatus#isSuccess()}; {@link #code()} is its raw 32-bit value),
 * {@link #information()} the byte count of a send or receive, {@link #informationObject()} the pointer-sized
 * result some requests return through Information (a new WSK socket, an address, a TDI query record).
 *
 * <p>Written by the provider (through {@link Irp}) before the completion routine runs; read it in the routine or
 * after {@link Irp#completed()} turned true.
 */
public final class IoStatus {
    private int status;
    private long information;
    private Object informationObject;

    void set(int newStatus, long newInformation, Object newObject) {
        this.status = newStatus;
        this.information = newInformation;
        this.informationObject = newObject;
    }

    /** IoStatus.Status, interned (no allocation for the values {@link NtStatus} defines). */
    public NtStatus status() {
        return NtStatus.of(status);
    }

    /** IoStatus.Status as its raw 32-bit NTSTATUS value. */
    public int code() {
        return status;
    }

    /** IoStatus.Information as a number. */
    public long information() {
        return information;
    }

    /** IoStatus.Information as an object (socket, address, query record), or null. */
    public Object informationObject() {
        return informationObject;
    }

    @Override
    public String toString() {
        return NtStatus.name(status) + " information=" + information
            + (informationObject != null ? " " + informationObject : "");
    }
}
