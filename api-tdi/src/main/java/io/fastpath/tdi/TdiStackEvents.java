package io.fastpath.tdi;

import io.fastpath.provider.NtStatus;
import io.fastpath.provider.Verifier;
import io.fastpath.stack.tcp.TcpEventHandler;
import io.fastpath.stack.tcp.TcpService;
import java.nio.ByteBuffer;
import org.agrona.BufferUtil;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The stack's events for a {@link TdiProvider}, on its dispatch thread: connect and listen outcomes, connection
 * offers (held SYNs: a pending TDI_LISTEN or ClientEventConnect decides), data and urgent data, send
 * completions, the peer's FIN and the end of a connection, each routed to its connection endpoint.
 */
final class TdiStackEvents implements TcpEventHandler {
    private final TdiProvider p;
    /** ClientEventConnect's UserData: a native copy of the SYN's data, valid during the call. */
    private final ByteBuffer synData = ByteBuffer.allocateDirect(TcpService.MAX_SYN_DATA);
    private final UnsafeBuffer synDataCopy = new UnsafeBuffer(synData);
    private final long synDataAddress = BufferUtil.address(synData);

    TdiStackEvents(TdiProvider provider) {
        this.p = provider;
    }
    @Override
    public void onConnectComplete(long requestId, long handle, int status) {
        int slot = (int) requestId;
        Irp irp = p.untrack(slot);
        TdiConnection c = p.trackedConnectionOf(slot);
        if (irp == null || c == null || !c.connectPending(irp, slot)) {
            p.pump.dropConnectOutcome(handle, status); // cancelled, timed out or aborted meanwhile
        } else {
            c.onConnectComplete(handle, status);
        }
    }

    @Override
    public void onListenComplete(int port, int status) {
        TdiAddress a = p.listenPending.remove(port);
        if (a == null) {
            p.pump.dropListenOutcome(port, status, p.listening.containsKey(port));
        } else {
            p.onListenOutcome(a, status);
        }
    }

    @Override
    public void onConnectRequest(int listenPort, long handle, int remoteIp, int remotePort, DirectBuffer data,
                                 int offset, int length) {
        TdiAddress a = p.listening.get(listenPort);
        if (a == null || a.closed) {
            p.refuse(handle);
            return;
        }
        offer(a, handle, remoteIp, remotePort, data, offset, length);
    }

    @Override
    public void onAccepted(int listenPort, long handle, int remoteIp, int remotePort) {
        // Fast Open data in the SYN (synDataBytes of the other variant) was not taken: the peer sends it
        // again as ordinary data, so the connection starts like any other.
        if (p.byHandle.get(handle) instanceof TdiConnection c && c.acceptPending()) {
            c.onAccepted();
        } else {
            p.abort(handle); // given up meanwhile (cancelled, aborted, closed, timed out)
        }
    }

    @Override
    public void onReceive(long handle, long mbuf, long address, int length) {
        if (p.byHandle.get(handle) instanceof TdiConnection c) {
            c.onReceive(mbuf, address, length);
        } else {
            if (Verifier.ENABLED) {
                Verifier.poison(address, length);
            }
            p.releaseDescriptor(handle, mbuf, length);
        }
    }

    @Override
    public void onUrgentData(long handle, DirectBuffer buffer, int offset, int length) {
        if (p.byHandle.get(handle) instanceof TdiConnection c) {
            c.onUrgentData(buffer, offset, length);
        }
    }

    @Override
    public void onSendComplete(long requestId, long handle, int bytes, int status) {
        int slot = (int) requestId;
        TdiConnection c = p.trackedConnectionOf(slot);
        Irp irp = p.untrack(slot);
        if (irp != null && c != null) {
            c.onSendComplete(irp, bytes, status);
        }
    }

    @Override
    public void onPeerClosed(long handle) {
        if (p.byHandle.get(handle) instanceof TdiConnection c) {
            c.onPeerClosed();
        }
    }

    @Override
    public void onClosed(long handle, int status) {
        // Also a held request that ended before it was accepted: the peer gave up (RST) or it waited too long.
        if (p.byHandle.remove(handle) instanceof TdiConnection c) {
            c.onStackClosed(status);
        }
    }

    /**
     * A held SYN (no SYN-ACK yet) on a p.listening address: a pending TDI_LISTEN takes it, else ClientEventConnect
     * decides (connect data: a copy of the SYN's Fast Open data), else it is refused.
     */
    private void offer(TdiAddress a, long handle, int remoteIp, int remotePort, DirectBuffer data, int offset,
                       int length) {
        TdiConnection listener;
        while ((listener = a.listens.poll()) != null && listener.state != TdiConnection.LISTENING) {
            // an endpoint whose listen ended meanwhile
        }
        if (listener != null) {
            listener.takeRequest(handle, remoteIp, remotePort);
            // That was the last TDI_LISTEN and no connect handler is set: the port stops p.listening (SYNs now are
            // refused); the next TDI_LISTEN listens again, also while this connection uses the port.
            p.stopListeningIfIdle(a);
            return;
        }
        TdiEvents.ClientEventConnect h = a.connectHandler;
        if (h == null) {
            p.refuse(handle);
            return;
        }
        int userData = Math.min(length, synDataCopy.capacity());
        if (userData > 0) {
            synDataCopy.putBytes(0, data, offset, userData);
        }
        TdiEventReturn out = p.eventReturn;
        out.reset();
        int status;
        try {
            // TCP carries no option string with an offer: OptionsLength 0, Options NULL
            status = h.clientEventConnect(a.connectContext, remoteIp, remotePort, userData,
                userData > 0 ? synDataAddress : 0, 0, 0, out).code();
        } catch (Throwable t) {
            p.errorHandler.accept(t);
            status = NtStatus.STATUS_INSUFFICIENT_RESOURCES.code();
        }
        if (status != NtStatus.STATUS_MORE_PROCESSING_REQUIRED.code()) {
            p.refuse(handle); // STATUS_CONNECTION_REFUSED, STATUS_INSUFFICIENT_RESOURCES, anything else
            return;
        }
        Irp accept = out.irp();
        Object context = out.connectionContext();
        if (accept == null || accept.minorFunction != Tdi.TDI_ACCEPT
            || !(accept.fileObject instanceof TdiConnection c) || c.address != a
            || c.state != TdiConnection.IDLE || !accept.ready()) {
            p.refuse(handle);
            p.failHandedBack(accept, NtStatus.STATUS_INVALID_CONNECTION.code());
            p.raiseError(a, NtStatus.STATUS_INVALID_CONNECTION.code());
            return;
        }
        if (!p.connectDataFits(accept)) {
            p.refuse(handle);
            p.failHandedBack(accept, NtStatus.STATUS_INVALID_PARAMETER.code());
            p.raiseError(a, NtStatus.STATUS_INVALID_PARAMETER.code());
            return;
        }
        accept.begin(p);
        accept.markPending();
        if (context != null) {
            c.context = context;
        }
        c.acceptRequest(handle, remoteIp, remotePort, accept);
    }
}
