package io.fastpath.stack.tcp;

/** Decides what to do with a connection that completed its handshake on a listening port (poll thread). */
@FunctionalInterface
public interface TcpListenHandler {
    /** Returns the handler for the new connection, or null to refuse it (the peer gets a RST). */
    TcpHandler onAccept(TcpConnection connection);

    /**
     * Conditional accept (a listener with {@link TcpSocketOptions#withConditionalAccept}): a SYN arrived and
     * is held unanswered until {@link TcpLayer#acceptRequest} (the handshake goes on; {@link #onAccept} follows
     * when it completes) or {@link TcpLayer#rejectRequest} (RST: the peer's connect is refused). Set the
     * connection's handler here to hear {@code onClosed} if the peer gives up (RST) or the decision takes longer
     * than {@link TcpLayer#CONDITIONAL_ACCEPT_LIMIT_NS} (the request is dropped). Data in the SYN (Fast Open):
     * {@code synDataLength} bytes at {@code synDataAddress}, valid during the call, for the decision only: it is
     * not acknowledged, and the peer sends it again after the handshake.
     */
    default void onConnectRequest(TcpConnection connection, long synDataAddress, int synDataLength) {
    }
}
