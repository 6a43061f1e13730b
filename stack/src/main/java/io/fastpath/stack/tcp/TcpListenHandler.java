package io.fastpath.stack.tcp;

/** Decides what to do with a connection that completed its handshake on a listening port (poll thread). */
@FunctionalInterface
public interface TcpListenHandler {
    /** Returns the handler for the new connection, or null to refuse it (the peer gets a RST). */
    TcpHandler onAccept(TcpConnection connection);
}
