package io.fastpath.stack.tcp;

/**
 * What a connection tells its owner. Every method runs on the poll thread, inside the stack's duty cycle
 * (the "dispatch level" of the Windows documents): it must not block.
 */
public interface TcpHandler {
    /**
     * A connect that returned STATUS_PENDING completed: STATUS_SUCCESS, or why it failed
     * (STATUS_CONNECTION_REFUSED, STATUS_HOST_UNREACHABLE, STATUS_IO_TIMEOUT, ...). Called exactly once.
     */
    default void onConnectComplete(TcpConnection connection, int status) {
    }

    /**
     * In-order data, in place in the received mbuf: {@code length} bytes at native {@code address}, valid
     * during the call. Return how many bytes were consumed (0..length); the rest stays queued (shrinking
     * the receive window) and is offered again after {@link TcpConnection#resumeReceive()} or when send
     * space frees up.
     */
    int onReceive(TcpConnection connection, long address, int length);

    /**
     * Urgent data (RFC 9293 §3.8.5; what the Windows APIs call expedited): the byte the peer's urgent pointer
     * marks (the BSD and Linux reading, RFC 6093), at {@code address}, valid during the call. It is taken out
     * of the normal stream, as Linux does without SO_OOBINLINE.
     */
    default void onUrgentData(TcpConnection connection, long address, int length) {
    }

    /** Send-buffer space became free (after an acknowledgement). */
    default void onSendSpace(TcpConnection connection, int freeBytes) {
    }

    /**
     * The peer acknowledged our FIN: every byte we sent arrived (FIN-WAIT-1 to FIN-WAIT-2, or CLOSING to
     * TIME-WAIT). In LAST-ACK the same moment is {@link #onClosed} with STATUS_SUCCESS instead.
     */
    default void onFinAcked(TcpConnection connection) {
    }

    /** The peer sent FIN: no more data will come (half-close; we may still send). */
    default void onPeerClosed(TcpConnection connection) {
    }

    /**
     * The connection is gone: STATUS_SUCCESS after an orderly close both ways, STATUS_CONNECTION_RESET when
     * the peer reset it, STATUS_CONNECTION_ABORTED when we aborted, STATUS_IO_TIMEOUT when retransmissions
     * ran out. Last call; the connection object is reused afterwards.
     */
    default void onClosed(TcpConnection connection, int status) {
    }
}
