package io.fastpath.wsk;

/**
 * IO_STATUS_BLOCK: how an {@link Irp} ended. {@link #status()} is the NTSTATUS, {@link #information()} the
 * byte count of a send or receive, {@link #informationObject()} the pointer-sized result some calls return
 * through Information (the new {@link WskSocket} of WskSocket/WskAccept/WskSocketConnect, the
 * {@link SocketAddressV4} of WskGetLocalAddress/WskGetRemoteAddress).
 *
 * <p>Written by the provider before the completion routine runs; read it in the routine or after
 * {@link Irp#completed()} turned true.
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

    public int status() {
        return status;
    }

    public long information() {
        return information;
    }

    /** The object result (socket or address), or null. */
    public Object informationObject() {
        return informationObject;
    }

    @Override
    public String toString() {
        return WskStatus.name(status) + " information=" + information
            + (informationObject != null ? " " + informationObject : "");
    }
}
