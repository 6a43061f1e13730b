package io.fastpath.perf;

import io.fastpath.stack.NtStatus;
import io.fastpath.stack.tcp.TcpConnection;
import io.fastpath.stack.tcp.TcpHandler;
import io.fastpath.stack.tcp.TcpLayer;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A discard server (RFC 863) on a fastpath stack: consumes everything at once (the mbufs go back to the pool
 * in the same duty cycle), answers the peer's FIN with its own, and publishes the bytes received.
 *
 * <p>Thread: the server stack's poll thread; {@link #bytes}, {@link #accepted}, {@link #closed} from any.
 */
final class DiscardServer implements TcpHandler {
    private long total;
    private final AtomicLong bytes = new AtomicLong();
    private volatile int accepted;
    private volatile int closed;
    private volatile int abnormalCloses;

    /** Listens on {@code port} (poll thread); returns the NTSTATUS of the listen. */
    int listen(TcpLayer tcp, int port) {
        return tcp.listen(0, port, connection -> {
            accepted++;
            return this;
        });
    }

    @Override
    public int onReceive(TcpConnection c, long address, int length) {
        total += length;
        bytes.lazySet(total);
        return length;
    }

    @Override
    public void onPeerClosed(TcpConnection c) {
        c.shutdown();
    }

    @Override
    public void onClosed(TcpConnection c, int status) {
        if (status != NtStatus.STATUS_SUCCESS) {
            abnormalCloses++;
        }
        closed++;
    }

    long bytes() {
        return bytes.get();
    }

    int accepted() {
        return accepted;
    }

    int closed() {
        return closed;
    }

    int abnormalCloses() {
        return abnormalCloses;
    }
}
