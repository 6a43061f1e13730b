package io.fastpath.provider;

/**
 * How one request on an {@link Irp} ended, as {@link Irp#asStage()} delivers it: a copy of the IRP's
 * {@link IoStatus} taken when the IRP completed. The IRP's own status block is reused (IoReuseIrp) by the next
 * request; this copy is not, so it stays true whatever the IRP does next.
 *
 * <p>A failure status is an outcome like any other: the stage completes normally with it, never exceptionally.
 *
 * @param status            IoStatus.Status
 * @param information       IoStatus.Information as a number (the byte count of a send or receive)
 * @param informationObject IoStatus.Information as an object (a new socket, an address, a query record), or null
 */
public record IoResult(NtStatus status, long information, Object informationObject) {
    static IoResult of(IoStatus ioStatus) {
        return new IoResult(ioStatus.status(), ioStatus.information(), ioStatus.informationObject());
    }

    /** NT_SUCCESS(Status). */
    public boolean isSuccess() {
        return status.isSuccess();
    }

    @Override
    public String toString() {
        return status.name() + " information=" + information
            + (informationObject != null ? " " + informationObject : "");
    }
}
