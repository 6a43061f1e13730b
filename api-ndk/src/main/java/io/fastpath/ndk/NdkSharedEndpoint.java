package io.fastpath.ndk;

/**
 * NdkCreateSharedEndpoint: a local address (the stack's, a port from 49152–65535 chosen at creation) that
 * connectors use through {@link NdkConnector#connectWithSharedEndpoint}. Dispatch thread only.
 *
 * <p>fastpath's TCP refuses a second connection from a local port that a live connection already uses
 * (STATUS_SHARING_VIOLATION), so one connection at a time goes through an endpoint.
 */
public final class NdkSharedEndpoint {
    private final NdkAdapter adapter;
    private final int port;
    private boolean closed;

    NdkSharedEndpoint(NdkAdapter adapter, int port) {
        this.adapter = adapter;
        this.port = port;
    }

    /** NdkGetSharedEndpointLocalAddress. */
    public SockAddrIn getLocalAddress() {
        return new SockAddrIn(adapter.stackAddress, port);
    }

    int port() {
        return port;
    }

    boolean closed() {
        return closed;
    }

    /** NdkCloseSharedEndpoint: frees the port (connections already made go on). */
    public void close() {
        adapter.checkThread();
        if (!closed) {
            closed = true;
            adapter.ports.free(port);
        }
    }
}
