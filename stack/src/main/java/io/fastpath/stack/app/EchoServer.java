package io.fastpath.stack.app;

import io.fastpath.stack.NtStatus;
import io.fastpath.stack.tcp.TcpConnection;
import io.fastpath.stack.tcp.TcpHandler;
import io.fastpath.stack.tcp.TcpLayer;

/**
 * A TCP echo server on the stack's connection API: what arrives is queued back out (one copy, from the
 * received mbuf into the send buffer); when the send buffer is full the rest waits in the receive queue and
 * the window closes, so a fast sender is held back by TCP itself. The peer's FIN is answered with ours.
 * Runs on the poll thread.
 */
public final class EchoServer implements TcpHandler {
    private long accepted;
    private long closed;
    private long bytes;
    private long resets;
    private long urgent;
    private final org.agrona.concurrent.UnsafeBuffer urgentView = new org.agrona.concurrent.UnsafeBuffer(0, 0);

    /** Listens on {@code port}; returns the NTSTATUS of the listen. */
    public int listen(TcpLayer tcp, int port) {
        return tcp.listen(0, port, connection -> {
            accepted++;
            connection.noDelay(true);
            return this;
        });
    }

    @Override
    public int onReceive(TcpConnection connection, long address, int length) {
        int n = connection.send(address, length);
        bytes += n;
        return n;
    }

    /** Urgent (expedited) data is echoed back as urgent data. */
    @Override
    public void onUrgentData(TcpConnection connection, long address, int length) {
        urgentView.wrap(address, length);
        connection.sendUrgent(urgentView, 0, length);
        urgent += length;
    }

    /** Urgent bytes echoed. */
    public long urgentEchoed() {
        return urgent;
    }

    @Override
    public void onSendSpace(TcpConnection connection, int freeBytes) {
        if (connection.receiveQueued() > 0) {
            connection.resumeReceive();
        }
    }

    @Override
    public void onPeerClosed(TcpConnection connection) {
        connection.shutdown();
    }

    @Override
    public void onClosed(TcpConnection connection, int status) {
        closed++;
        if (status != NtStatus.STATUS_SUCCESS) {
            resets++;
        }
    }

    public long accepted() {
        return accepted;
    }

    public long closed() {
        return closed;
    }

    public long bytesEchoed() {
        return bytes;
    }

    public long abnormalCloses() {
        return resets;
    }
}
