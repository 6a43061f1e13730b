package io.fastpath.stack.tcp;

/**
 * What {@link TcpService} reports to an application thread ({@link TcpService#pollEvents}). Connections are
 * named by handles ({@code long}: slot and generation, so a stale handle is detected, never misrouted).
 */
public interface TcpEventHandler {
    /** A connect request completed: STATUS_SUCCESS with the connection's handle, or why it failed (handle 0). */
    void onConnectComplete(long requestId, long handle, int status);

    /** A listen request completed (STATUS_SUCCESS, STATUS_SHARING_VIOLATION, ...). */
    default void onListenComplete(int port, int status) {
    }

    /**
     * Conditional accept (a listener with {@link TcpSocketOptions#withConditionalAccept}): a SYN waits for
     * {@link TcpService#acceptRequest} or {@link TcpService#rejectRequest}; {@code onClosed(handle, ...)} if the
     * peer gives up or nobody decides in time. {@code synData}: a copy of the Fast Open data the SYN carried
     * (at most {@link TcpService#MAX_SYN_DATA} bytes), valid during the call, for the decision: it is not
     * acknowledged, and the peer sends it again after the handshake.
     */
    default void onConnectRequest(int listenPort, long handle, int remoteIp, int remotePort,
                                  org.agrona.DirectBuffer synData, int offset, int length) {
    }

    /** A listener accepted a connection. */
    void onAccepted(int listenPort, long handle, int remoteIp, int remotePort);

    /**
     * A listener accepted a connection; {@code synDataBytes} > 0 when it came with Fast Open data in its SYN
     * (RFC 7413), which follows at once as onReceive, before the handshake completes. The default forwards
     * to {@link #onAccepted(int, long, int, int)}.
     */
    default void onAccepted(int listenPort, long handle, int remoteIp, int remotePort, int synDataBytes) {
        onAccepted(listenPort, handle, remoteIp, remotePort);
    }

    /**
     * Urgent data (MSG_OOB; the Windows APIs' expedited data), taken out of the normal stream: {@code length}
     * bytes (one per urgent pointer, RFC 6093) in {@code buffer}, valid during the call.
     */
    default void onUrgentData(long handle, org.agrona.DirectBuffer buffer, int offset, int length) {
    }

    /**
     * Data, zero copy: {@code length} bytes at {@code address} inside {@code mbuf}. The application owns the
     * mbuf until it calls {@link TcpService#release(long, long, int)}; until then the bytes count against
     * the connection's receive window.
     */
    void onReceive(long handle, long mbuf, long address, int length);

    /** A send request's bytes are all in the stack's send buffer (the caller may reuse its memory). */
    void onSendComplete(long requestId, long handle, int bytes, int status);

    /**
     * Our FIN was acknowledged: the graceful shutdown of our direction is complete (every byte sent arrived).
     * When the peer had closed first, {@link #onClosed} with STATUS_SUCCESS marks that moment instead.
     */
    default void onShutdownComplete(long handle) {
    }

    /**
     * The ideal send backlog changed (the WSK "ideal send backlog": how many bytes an application should
     * keep queued to fill the path, here the congestion window rounded up to a power of two, between 16 KiB
     * and the send buffer). Posted once when the connection opens and again whenever it changes.
     */
    default void onIdealSendBacklog(long handle, int bytes) {
    }

    /** The peer sent FIN and every byte before it was delivered. */
    void onPeerClosed(long handle);

    /** The connection is gone (STATUS_SUCCESS, STATUS_CONNECTION_RESET, STATUS_CONNECTION_ABORTED, ...). */
    void onClosed(long handle, int status);
}
