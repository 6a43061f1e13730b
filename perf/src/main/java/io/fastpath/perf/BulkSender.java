package io.fastpath.perf;

import io.fastpath.stack.NtStatus;
import io.fastpath.stack.tcp.TcpConnection;
import io.fastpath.stack.tcp.TcpHandler;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicLong;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The sending side of a bulk transfer on a fastpath stack, for any number of connections: keeps every
 * connection's send buffer full (on connect and on every {@link #onSendSpace}) from one 64 KiB chunk until
 * {@link #stop} is called, then closes each connection gracefully. Each stream continues through the chunk
 * where the last send stopped, so byte {@code k} of every stream is {@link #patternAt patternAt(k)} and a
 * receiver can check every byte ({@link StreamVerifier}). Publishes the bytes the peer has
 * acknowledged (written into send buffers minus still queued), so throughput can be measured at the sender
 * when the receiver is another process.
 *
 * <p>Nothing is allocated per send. Thread: the client stack's poll thread; {@link #ackedBytes},
 * {@link #connected}, {@link #closed} and {@link #failure} from any thread.
 */
final class BulkSender implements TcpHandler {
    private static final int CHUNK = 64 * 1024;

    /** Per-connection bookkeeping, kept in the connection's attachment. */
    private static final class Flow {
        long written;
        long acked;
    }

    private final UnsafeBuffer chunk = new UnsafeBuffer(ByteBuffer.allocateDirect(CHUNK));
    private final TcpConnection[] connections;
    private int connectionCount;
    private boolean stopping;
    private long ackedTotal;
    private final AtomicLong acked = new AtomicLong();
    private volatile int connected;
    private volatile int closed;
    private volatile int abnormalCloses;
    private volatile String failure;

    BulkSender(int maxConnections) {
        this.connections = new TcpConnection[maxConnections];
        for (int i = 0; i < CHUNK; i++) {
            chunk.putByte(i, patternAt(i));
        }
    }

    /** Byte {@code k} of every stream: period 256, so the 64 KiB chunk repeats it exactly. */
    static byte patternAt(long k) {
        return (byte) (k * 31 + 7);
    }

    @Override
    public void onConnectComplete(TcpConnection c, int status) {
        if (status != NtStatus.STATUS_SUCCESS) {
            failure = "connect: " + NtStatus.name(status);
            return;
        }
        c.attachment(new Flow());
        connections[connectionCount++] = c;
        connected = connectionCount;
        fill(c);
    }

    private void fill(TcpConnection c) {
        if (stopping) {
            return;
        }
        Flow flow = (Flow) c.attachment();
        int space;
        while ((space = c.sendSpace()) > 0) {
            int at = (int) (flow.written % CHUNK);
            int n = c.send(chunk, at, Math.min(space, CHUNK - at));
            if (n <= 0) {
                break;
            }
            flow.written += n;
        }
    }

    @Override
    public void onSendSpace(TcpConnection c, int freeBytes) {
        Flow flow = (Flow) c.attachment();
        if (flow == null) {
            return;
        }
        long nowAcked = flow.written - c.sendQueued();
        ackedTotal += nowAcked - flow.acked;
        flow.acked = nowAcked;
        acked.lazySet(ackedTotal);
        fill(c);
    }

    @Override
    public int onReceive(TcpConnection c, long address, int length) {
        return length; // the peer sends nothing; discard whatever it does
    }

    @Override
    public void onPeerClosed(TcpConnection c) {
        c.shutdown();
    }

    @Override
    public void onClosed(TcpConnection c, int status) {
        if (status != NtStatus.STATUS_SUCCESS) {
            abnormalCloses++;
            if (!stopping && failure == null) {
                failure = "connection closed while streaming: " + NtStatus.name(status);
            }
        }
        closed++;
    }

    /** Stops refilling and closes every connection after its queued data (poll thread). */
    void stop() {
        stopping = true;
        for (int i = 0; i < connectionCount; i++) {
            connections[i].shutdown();
        }
    }

    long ackedBytes() {
        return acked.get();
    }

    int connected() {
        return connected;
    }

    int closed() {
        return closed;
    }

    int abnormalCloses() {
        return abnormalCloses;
    }

    String failure() {
        return failure;
    }
}
