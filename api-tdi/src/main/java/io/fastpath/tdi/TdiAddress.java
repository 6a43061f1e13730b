package io.fastpath.tdi;

import io.fastpath.provider.IrpQueue;
import io.fastpath.stack.wire.Ipv4Address;

/**
 * A transport address object: a local IPv4 address and TCP port (the file object ZwCreateFile opens with a
 * TdiTransportAddress EA), opened by {@link TdiProvider#openAddress}. Event handlers are set on it
 * (TDI_SET_EVENT_HANDLER); connection endpoints associated with it connect from its port or listen on it.
 * The port is listened on while a ClientEventConnect handler is set or a TDI_LISTEN is pending.
 *
 * <p>Thread: the provider's dispatch thread.
 */
public final class TdiAddress {
    final TdiProvider provider;
    final int ip;
    final int port;
    boolean closed;
    int associated;

    TdiEvents.ClientEventConnect connectHandler;
    Object connectContext;
    TdiEvents.ClientEventDisconnect disconnectHandler;
    Object disconnectContext;
    TdiEvents.ClientEventError errorHandler;
    Object errorContext;
    TdiEvents.ClientEventReceive receiveHandler;
    Object receiveContext;
    TdiEvents.ClientEventReceive receiveExpeditedHandler;
    Object receiveExpeditedContext;
    TdiEvents.ClientEventChainedReceive chainedHandler;
    Object chainedContext;
    TdiEvents.ClientEventChainedReceive chainedExpeditedHandler;
    Object chainedExpeditedContext;
    TdiEvents.ClientEventSendPossible sendPossibleHandler;
    Object sendPossibleContext;

    /** Endpoints with a TDI_LISTEN pending, first come first served. */
    final java.util.ArrayDeque<TdiConnection> listens = new java.util.ArrayDeque<>();
    /** 0 = not listening, 1 = listen asked of the stack, 2 = listening. */
    int listenState;
    /** TDI_SET_EVENT_HANDLER(CONNECT) IRPs waiting for the stack's listen outcome. */
    final IrpQueue<Irp> listenWaiters = new IrpQueue<>();

    TdiAddress(TdiProvider provider, int ip, int port) {
        this.provider = provider;
        this.ip = ip;
        this.port = port;
    }

    public int ip() {
        return ip;
    }

    /** The port: the one asked for, or the ephemeral one chosen for port 0. */
    public int port() {
        return port;
    }

    public TdiProvider provider() {
        return provider;
    }

    /** ZwClose: stops listening, frees the port; endpoints keep their connections. Dispatch thread. */
    public void close() {
        provider.closeAddress(this);
    }

    @Override
    public String toString() {
        return "TdiAddress[" + Ipv4Address.format(ip) + ":" + port + (closed ? " closed" : "") + "]";
    }
}
