package io.fastpath.perf;

import io.fastpath.stack.NtStatus;
import io.fastpath.stack.tcp.TcpConnection;
import io.fastpath.stack.tcp.TcpHandler;
import io.fastpath.stack.tcp.TcpLayer;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A discard server (RFC 863) on a fastpath stack: consumes everything at once (the mbufs go back to the pool
 * in the same duty cycle), answers the peer's FIN with its own, and publishes the bytes received. With
 * {@code verify}, each connection's stream is checked byte by byte against {@link BulkSender}'s pattern
 * ({@link StreamVerifier}, created at accept, never per segment); the first mismatch is kept for
 * {@link #check}.
 *
 * <p>Thread: the server stack's poll thread; {@link #bytes}, {@link #accepted}, {@link #closed},
 * {@link #check} from any.
 */
final class DiscardServer implements TcpHandler {
    private final boolean verify;
    private long total;
    private final AtomicLong bytes = new AtomicLong();
    private volatile long verified;
    private volatile int accepted;
    private volatile int closed;
    private volatile int abnormalCloses;
    private volatile String failure;

    DiscardServer() {
        this(false);
    }

    DiscardServer(boolean verify) {
        this.verify = verify;
    }

    /** Listens on {@code port} (poll thread); returns the NTSTATUS of the listen. */
    int listen(TcpLayer tcp, int port) {
        return tcp.listen(0, port, connection -> {
            accepted++;
            if (verify) {
                connection.attachment(new StreamVerifier());
            }
            return this;
        });
    }

    @Override
    public int onReceive(TcpConnection c, long address, int length) {
        if (verify && c.attachment() instanceof StreamVerifier v) {
            long bad = v.check(address, length);
            if (bad >= 0 && failure == null) {
                failure = "stream from port " + c.remotePort() + ": byte " + bad + " is not the pattern's";
            }
            verified += length;
        }
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

    /** Bytes checked against the pattern (0 without {@code verify}). */
    long verifiedBytes() {
        return verified;
    }

    /** Throws if a verified byte was wrong. */
    void check() {
        String f = failure;
        if (f != null) {
            throw new IllegalStateException("discard server: " + f);
        }
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
