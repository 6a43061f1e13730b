package io.fastpath.stack.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.stack.NtStatus;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * One TcpService client's view for the direct-path tests: its connection, the bytes it received (released at once,
 * or kept), each receive's text in order, its send completions and its listen's status. As a Runnable it polls its
 * events (a rig's pump calls it).
 */
class RecordingClient implements TcpEventHandler, Runnable {
    final TcpServiceClient client;
    long handle;
    final ByteArrayOutputStream received = new ByteArrayOutputStream();
    final List<String> order = new ArrayList<>();
    final List<long[]> held = new ArrayList<>();
    final List<Long> completed = new ArrayList<>();
    boolean release = true;
    int listenStatus = -1;
    /** Runs inside onReceive (a completion routine that makes a request). */
    Runnable onData;

    RecordingClient(TcpServiceClient client) {
        this.client = client;
    }

    @Override
    public void run() {
        poll();
    }

    void poll() {
        client.pollEvents(this);
    }

    @Override
    public void onListenComplete(int port, int status) {
        listenStatus = status;
    }

    @Override
    public void onConnectComplete(long requestId, long h, int status) {
        assertEquals(NtStatus.STATUS_SUCCESS, status);
        handle = h;
    }

    @Override
    public void onAccepted(int listenPort, long h, int remoteIp, int remotePort) {
        handle = h;
    }

    @Override
    public void onReceive(long h, long mbuf, long address, int length) {
        byte[] bytes = new byte[length];
        new UnsafeBuffer(address, length).getBytes(0, bytes);
        received.writeBytes(bytes);
        order.add(new String(bytes, StandardCharsets.US_ASCII));
        if (release) {
            assertTrue(client.release(h, mbuf, length));
        } else {
            held.add(new long[] {h, mbuf, length});
        }
        if (onData != null) {
            onData.run();
        }
    }

    @Override
    public void onSendComplete(long requestId, long h, int bytes, int status) {
        assertEquals(NtStatus.STATUS_SUCCESS, status);
        completed.add(requestId);
    }

    @Override
    public void onPeerClosed(long h) {
    }

    @Override
    public void onClosed(long h, int status) {
    }

    String text() {
        return received.toString(StandardCharsets.US_ASCII);
    }
}
