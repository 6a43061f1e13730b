package io.fastpath.stack.app;

import io.fastpath.stack.NtStatus;
import io.fastpath.stack.tcp.TcpConnection;
import io.fastpath.stack.tcp.TcpHandler;
import io.fastpath.stack.tcp.TcpLayer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Sends {@code total} bytes of a {@link TestStream} on one connection, reads the echo back and checks every
 * byte, then closes gracefully. Runs on the poll thread; {@link #done()} and {@link #status()} may be read
 * from any thread.
 */
public final class StreamClient implements TcpHandler {
    private final long seed;
    private final long total;
    private final UnsafeBuffer chunk = new UnsafeBuffer(new byte[16384]);
    private final UnsafeBuffer view = new UnsafeBuffer(0, 0);
    private long sent;
    private long received;
    private long startNs;
    private volatile long elapsedNs;
    private volatile int status = NtStatus.STATUS_PENDING;
    private volatile boolean done;
    private long mismatchAt = -1;

    public StreamClient(long seed, long total) {
        this.seed = seed;
        this.total = total;
    }

    /** Starts the connection; returns the connect's NTSTATUS (PENDING when under way). */
    public int connect(TcpLayer tcp, int remoteIp, int remotePort, long nowNs) {
        startNs = nowNs;
        int rc = tcp.connect(0, 0, remoteIp, remotePort, this);
        if (rc != NtStatus.STATUS_PENDING) {
            status = rc;
            done = true;
        }
        return rc;
    }

    @Override
    public void onConnectComplete(TcpConnection connection, int result) {
        if (result != NtStatus.STATUS_SUCCESS) {
            status = result;
            done = true;
            return;
        }
        connection.noDelay(true);
        fill(connection);
        if (total == 0) {
            connection.shutdown();
        }
    }

    private void fill(TcpConnection connection) {
        while (sent < total) {
            int n = (int) Math.min(chunk.capacity(), Math.min(total - sent, connection.sendSpace()));
            if (n <= 0) {
                return;
            }
            for (int i = 0; i < n; i++) {
                chunk.putByte(i, TestStream.at(seed, sent + i));
            }
            int taken = connection.send(chunk, 0, n);
            sent += taken;
            if (taken < n) {
                return;
            }
        }
    }

    @Override
    public void onSendSpace(TcpConnection connection, int freeBytes) {
        fill(connection);
    }

    @Override
    public int onReceive(TcpConnection connection, long address, int length) {
        view.wrap(address, length);
        for (int i = 0; i < length; i++) {
            if (view.getByte(i) != TestStream.at(seed, received + i) && mismatchAt < 0) {
                mismatchAt = received + i;
            }
        }
        received += length;
        if (received >= total) {
            connection.shutdown();
        }
        return length;
    }

    @Override
    public void onPeerClosed(TcpConnection connection) {
        connection.shutdown();
    }

    @Override
    public void onClosed(TcpConnection connection, int result) {
        elapsedNs = System.nanoTime() - startNs;
        if (result == NtStatus.STATUS_SUCCESS && (received != total || mismatchAt >= 0)) {
            result = NtStatus.STATUS_INVALID_PARAMETER;
        }
        status = result;
        done = true;
    }

    public boolean done() {
        return done;
    }

    /** STATUS_SUCCESS when every byte came back intact and the connection closed cleanly. */
    public int status() {
        return status;
    }

    public long received() {
        return received;
    }

    public long sent() {
        return sent;
    }

    /** First position whose echoed byte differed, or -1. */
    public long mismatchAt() {
        return mismatchAt;
    }

    public long elapsedNs() {
        return elapsedNs;
    }
}
