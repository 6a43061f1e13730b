package io.fastpath.stack.adversarial;

import io.fastpath.stack.tcp.TcpConnection;
import io.fastpath.stack.tcp.TcpHandler;
import io.fastpath.stack.tcp.TcpListenHandler;
import java.io.ByteArrayOutputStream;
import java.util.LinkedHashMap;
import java.util.Map;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The application on the device under test (packetimpact's DUT side): a listener that keeps, per remote port,
 * every byte the stack delivered in order, whether the peer closed, and how the connection ended; it can
 * echo, or stop consuming (the window then closes). Poll thread only (the test thread drives the stack).
 */
final class DutServer implements TcpListenHandler {
    final Map<Integer, Accepted> byRemotePort = new LinkedHashMap<>();
    boolean echo;
    boolean consume = true;
    /** Answer the peer's FIN with ours (an echo server's manners). */
    boolean closeOnPeerFin;

    @Override
    public TcpHandler onAccept(TcpConnection connection) {
        Accepted a = new Accepted(connection);
        byRemotePort.put(connection.remotePort(), a);
        connection.noDelay(true);
        return a;
    }

    Accepted get(int remotePort) {
        return byRemotePort.get(remotePort);
    }

    /** One accepted connection, as the application saw it. */
    final class Accepted implements TcpHandler, DeviceUnderTest.Connection {
        final TcpConnection connection;
        final ByteArrayOutputStream received = new ByteArrayOutputStream();
        private final UnsafeBuffer view = new UnsafeBuffer(0, 0);
        boolean peerClosed;
        Integer closeStatus;

        Accepted(TcpConnection connection) {
            this.connection = connection;
        }

        @Override
        public int onReceive(TcpConnection c, long address, int length) {
            if (!consume) {
                return 0;
            }
            view.wrap(address, length);
            byte[] bytes = new byte[length];
            view.getBytes(0, bytes);
            received.writeBytes(bytes);
            if (echo) {
                c.send(address, length);
            }
            return length;
        }

        @Override
        public void onPeerClosed(TcpConnection c) {
            peerClosed = true;
            if (closeOnPeerFin) {
                c.shutdown();
            }
        }

        @Override
        public void onClosed(TcpConnection c, int status) {
            closeStatus = status;
        }

        @Override
        public boolean open() {
            return closeStatus == null;
        }

        @Override
        public boolean reset() {
            return closeStatus != null && closeStatus == io.fastpath.stack.NtStatus.STATUS_CONNECTION_RESET;
        }

        @Override
        public String text() {
            return received.toString(java.nio.charset.StandardCharsets.ISO_8859_1);
        }

        @Override
        public boolean peerClosed() {
            return peerClosed;
        }

        @Override
        public String state() {
            return open() ? io.fastpath.stack.tcp.TcpState.name(connection.state()) : "CLOSED";
        }

        @Override
        public void shutdown() {
            connection.shutdown();
        }

        @Override
        public int send(byte[] bytes) {
            return connection.send(new UnsafeBuffer(bytes), 0, bytes.length);
        }

        @Override
        public int receiveQueued() {
            return connection.receiveQueued();
        }
    }
}
