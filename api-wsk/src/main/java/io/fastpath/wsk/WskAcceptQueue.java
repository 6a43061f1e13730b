package io.fastpath.wsk;

import io.fastpath.provider.IrpQueue;
import io.fastpath.provider.NtStatus;
import java.util.ArrayDeque;
import org.agrona.collections.Long2ObjectHashMap;

/**
 * What a listening WSK socket does with connections: queued WskAccept IRPs, the backlog of connections nobody
 * took yet, and conditional accept (WskInspectEvent, WskInspectComplete, WskAbortEvent) for held SYNs. A queued
 * WskAccept takes a connection first, then the accept event, then the backlog. Dispatch thread.
 */
final class WskAcceptQueue {
    private static final int MAX_BACKLOG = 128;

    private final WskSocket owner;
    private final WskProvider provider;
    private final IrpQueue<Irp> acceptIrps = new IrpQueue<>();
    /** Connections accepted and not taken yet, oldest first (each with {@link WskSocket#listener} set). */
    private final ArrayDeque<WskSocket> backlog = new ArrayDeque<>(MAX_BACKLOG);
    private int inspectSerial;
    /** Connection requests (held SYNs) whose inspection was pended (WskInspectPend), by stack handle. */
    private Long2ObjectHashMap<WskInspectId> pendedRequests;

    WskAcceptQueue(WskSocket owner) {
        this.owner = owner;
        this.provider = owner.provider;
    }

    /** WskAccept on a listening socket: a waiting connection at once, else pending until one arrives. */
    int accept(Irp irp) {
        WskSocket s = backlog.poll();
        if (s != null) {
            s.listener = null;
            s.setContext(irp.requestContext);
            s.dispatch = irp.requestDispatch;
            acceptAddresses(irp, s);
            provider.schedule(s); // data or a FIN that came while it waited
            return provider.complete(irp, NtStatus.STATUS_SUCCESS.code(), 0, s);
        }
        acceptIrps.add(irp);
        irp.markPending();
        return NtStatus.STATUS_PENDING.code();
    }

    /** Fills WskAccept's optional address out-parameters from the accepted socket {@code s}. */
    private static void acceptAddresses(Irp irp, WskSocket s) {
        if (irp.localOut != null) {
            irp.localOut.set(s.localIp, s.port);
        }
        if (irp.remoteOut != null) {
            irp.remoteOut.set(s.remoteIp, s.remotePort);
        }
    }

    /** A connection the listener accepts: a queued WskAccept takes it, else the accept event, else the backlog. */
    void admit(WskSocket s) {
        Irp irp = acceptIrps.poll();
        if (irp != null) {
            s.setContext(irp.requestContext);
            s.dispatch = irp.requestDispatch;
            acceptAddresses(irp, s);
            provider.complete(irp, NtStatus.STATUS_SUCCESS.code(), 0, s);
            return;
        }
        WskClientDispatch dispatch = owner.dispatch;
        if ((owner.events & Wsk.WSK_EVENT_ACCEPT) != 0 && dispatch instanceof WskClientListenDispatch events0) {
            s.dispatch = dispatch instanceof WskClientConnectionDispatch ? dispatch : null;
            int result;
            try {
                result = events0.wskAcceptEvent(owner.context(), provider.eventFlags, s.local(), s.remote(), s).code();
            } catch (Throwable t) {
                provider.onError(t);
                result = NtStatus.STATUS_REQUEST_NOT_ACCEPTED.code();
            }
            if (result == NtStatus.STATUS_SUCCESS.code() && !s.closed) {
                // Receive and disconnect events enabled on the listener carry over (WSK, SO_WSK_EVENT_CALLBACK).
                if (s.dispatch instanceof WskClientConnectionDispatch) {
                    s.events |= owner.events & WskSocket.CONNECTION_EVENTS;
                }
                provider.schedule(s);
            } else if (result != NtStatus.STATUS_SUCCESS.code()) {
                s.closeInternal(null);
            }
            return;
        }
        if (backlog.size() >= MAX_BACKLOG || owner.closed) {
            s.closeInternal(null);
            return;
        }
        s.listener = owner;
        backlog.add(s);
    }

    /** A connection in the backlog went away (reset, or closed) before anyone took it. */
    void remove(WskSocket s) {
        if (backlog.remove(s)) {
            s.listener = null;
        }
    }

    /**
     * Conditional accept: the stack holds a SYN for this listener (no SYN-ACK yet). WskInspectEvent decides:
     * accept lets the handshake go on (the connection then arrives as onAccepted), reject answers the SYN with
     * a RST (the peer's connect is refused), pend waits for WskInspectComplete.
     */
    void onConnectRequest(long handle, int remoteIp, int remotePort) {
        boolean closed = owner.closed;
        if (closed || !owner.options.conditionalAccept
            || !(owner.dispatch instanceof WskClientListenDispatch inspector)) {
            provider.decideRequest(handle, !closed);
            return;
        }
        WskInspectId id = new WskInspectId(handle, ++inspectSerial);
        provider.inspecting.put(handle, owner);
        int action;
        try {
            action = inspector.wskInspectEvent(owner.context(), new SocketAddressV4(provider.stackAddress, owner.port),
                new SocketAddressV4(remoteIp, remotePort), id);
        } catch (Throwable t) {
            provider.onError(t);
            action = Wsk.WskInspectReject;
        }
        if (action == Wsk.WskInspectPend && !owner.closed) {
            if (pendedRequests == null) {
                pendedRequests = new Long2ObjectHashMap<>();
            }
            pendedRequests.put(handle, id);
            return;
        }
        decideRequest(handle, action == Wsk.WskInspectAccept && !owner.closed);
    }

    private void decideRequest(long handle, boolean accept) {
        provider.inspecting.remove(handle);
        provider.decideRequest(handle, accept);
    }

    /** A held request ended before a decision took it (the peer gave up, or it waited too long). */
    void onRequestAborted(long handle) {
        WskInspectId id = pendedRequests == null ? null : pendedRequests.remove(handle);
        if (id != null && !owner.closed && owner.dispatch instanceof WskClientListenDispatch d) {
            try {
                d.wskAbortEvent(owner.context(), id);
            } catch (Throwable t) {
                provider.onError(t);
            }
        }
    }

    /** WskInspectComplete: the status. */
    int inspectComplete(Irp irp) {
        int action = (int) irp.value;
        if (action != Wsk.WskInspectAccept && action != Wsk.WskInspectReject) {
            return NtStatus.STATUS_INVALID_PARAMETER.code();
        }
        WskInspectId id = (WskInspectId) irp.requestContext;
        WskInspectId pended = id == null || pendedRequests == null ? null : pendedRequests.get(id.key());
        if (pended == null || !pended.equals(id)) {
            return NtStatus.STATUS_INVALID_PARAMETER.code();
        }
        pendedRequests.remove(id.key());
        decideRequest(id.key(), action == Wsk.WskInspectAccept);
        return NtStatus.STATUS_SUCCESS.code();
    }

    /** IoCancelIrp of a queued WskAccept; false when it is not one. */
    boolean cancel(Irp irp) {
        if (acceptIrps.remove(irp)) {
            provider.complete(irp, NtStatus.STATUS_CANCELLED.code(), 0, null);
            return true;
        }
        return false;
    }

    /** The listener closes: queued accepts are cancelled (STATUS_CANCELLED). */
    void cancelAccepts() {
        Irp i;
        while ((i = acceptIrps.poll()) != null) {
            provider.complete(i, NtStatus.STATUS_CANCELLED.code(), 0, null);
        }
    }

    /** The listener closes: the backlog is closed, requests still being inspected are refused (RST). */
    void close() {
        WskSocket s;
        while ((s = backlog.poll()) != null) {
            s.listener = null;
            s.closeInternal(null);
        }
        if (pendedRequests != null) {
            pendedRequests.forEach((handle, id) -> decideRequest(handle, false));
            pendedRequests.clear();
        }
    }
}
