package io.fastpath.perf;

import io.fastpath.stack.NtStatus;
import io.fastpath.stack.tcp.TcpConnection;
import io.fastpath.stack.tcp.TcpHandler;
import java.nio.ByteBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The measuring side of a TCP ping-pong on a fastpath stack: on connect it turns Nagle off and sends one
 * {@code size}-byte message; each time the whole message has come back it records the round trip
 * ({@code System.nanoTime()} just before {@code send}, and again when the last echoed byte is handed to
 * {@link #onReceive}) and sends the next one from inside the callback. So the time includes everything an
 * application would see: the rest of this duty cycle (segment built and transmitted at its end), the peer's
 * receive, echo and transmit, and our receive up to the callback. The ping-pong goes on at the same pace
 * after the measured round trips (the recorder throws those away) until the harness calls {@link #stop}.
 *
 * <p>Each message carries its sequence number in its first 8 bytes and the echo is checked against it.
 * Nothing is allocated per message. Thread: the client stack's poll thread.
 */
final class PingPongClient implements TcpHandler {
    private final RttRecorder recorder;
    private final int size;
    private final UnsafeBuffer message;
    private final UnsafeBuffer view = new UnsafeBuffer(0, 0);
    private TcpConnection connection;
    private long sequence;
    private long sentAtNs;
    private int pending;
    private boolean stopped;
    private volatile int closeStatus = -1;

    PingPongClient(RttRecorder recorder, int size) {
        if (size < 8) {
            throw new IllegalArgumentException("message size must be at least 8: " + size);
        }
        this.recorder = recorder;
        this.size = size;
        this.message = new UnsafeBuffer(ByteBuffer.allocateDirect(size));
        for (int i = 8; i < size; i++) {
            message.putByte(i, (byte) i);
        }
    }

    @Override
    public void onConnectComplete(TcpConnection c, int status) {
        if (status != NtStatus.STATUS_SUCCESS) {
            recorder.fail("connect: " + NtStatus.name(status));
            return;
        }
        connection = c;
        c.noDelay(true);
        sendNext();
    }

    private void sendNext() {
        message.putLong(0, ++sequence);
        pending = size;
        sentAtNs = System.nanoTime();
        int n = connection.send(message, 0, size);
        if (n != size) {
            recorder.fail("send took " + n + " of " + size + " bytes");
        }
    }

    @Override
    public int onReceive(TcpConnection c, long address, int length) {
        if (pending == size && length >= 8) {
            view.wrap(address, length);
            if (view.getLong(0) != sequence) {
                recorder.fail("echo of message " + sequence + " came back as " + view.getLong(0));
                return length;
            }
        }
        if (length > pending) {
            recorder.fail("received " + length + " bytes, expected at most " + pending);
            return length;
        }
        pending -= length;
        if (pending == 0) {
            long now = System.nanoTime();
            recorder.record(now - sentAtNs, now);
            if (!stopped) {
                sendNext();
            }
        }
        return length;
    }

    /** Sends nothing more once the message in flight is back, and closes the connection (poll thread). */
    void stop() {
        stopped = true;
        connection.shutdown();
    }

    @Override
    public void onPeerClosed(TcpConnection c) {
        c.shutdown();
    }

    @Override
    public void onClosed(TcpConnection c, int status) {
        closeStatus = status;
        if (!stopped) {
            recorder.fail("connection closed: " + NtStatus.name(status));
        }
    }

    /** The connection (poll thread, once connected). */
    TcpConnection connection() {
        return connection;
    }

    /** The status the connection closed with, or -1 while it is open. */
    int closeStatus() {
        return closeStatus;
    }
}
