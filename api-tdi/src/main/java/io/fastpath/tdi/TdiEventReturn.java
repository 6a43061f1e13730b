package io.fastpath.tdi;

/**
 * The out-parameters of a client event handler (provider-owned, reset before each call, read right after it):
 * ClientEventConnect's ConnectionContext and AcceptIrp, ClientEventReceive's BytesTaken and IoRequestPacket.
 */
public final class TdiEventReturn {
    private int bytesTaken;
    private Irp irp;
    private Object connectionContext;

    TdiEventReturn() {
    }

    void reset() {
        bytesTaken = 0;
        irp = null;
        connectionContext = null;
    }

    /** ClientEventReceive: *BytesTaken. */
    public TdiEventReturn bytesTaken(int bytes) {
        this.bytesTaken = bytes;
        return this;
    }

    /** ClientEventReceive: *IoRequestPacket (a TDI_RECEIVE); ClientEventConnect: *AcceptIrp (a TDI_ACCEPT). */
    public TdiEventReturn irp(Irp request) {
        this.irp = request;
        return this;
    }

    /** ClientEventConnect: the same as {@link #irp}. */
    public TdiEventReturn acceptIrp(Irp accept) {
        return irp(accept);
    }

    /** ClientEventConnect: *ConnectionContext for the endpoint that takes the connection. */
    public TdiEventReturn connectionContext(Object context) {
        this.connectionContext = context;
        return this;
    }

    int bytesTaken() {
        return bytesTaken;
    }

    Irp irp() {
        return irp;
    }

    Object connectionContext() {
        return connectionContext;
    }
}
