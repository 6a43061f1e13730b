package io.fastpath.tdi;

/**
 * IO_STATUS_BLOCK: how an {@link Irp} ended. {@link #status()} is the NTSTATUS, {@link #information()} the byte
 * count of a send or receive, {@link #informationObject()} the record a TDI_QUERY_INFORMATION returns.
 * Written before the completion routine runs.
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

    /** The query result record (TdiProviderInfo, TdiAddressInfo, ...) or null. */
    public Object informationObject() {
        return informationObject;
    }

    @Override
    public String toString() {
        return TdiStatus.name(status) + " information=" + information
            + (informationObject != null ? " " + informationObject : "");
    }
}
