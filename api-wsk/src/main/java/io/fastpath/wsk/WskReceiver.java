package io.fastpath.wsk;

import io.fastpath.provider.DescriptorQueue;
import io.fastpath.provider.Endpoint;
import io.fastpath.provider.IrpQueue;
import io.fastpath.provider.NtStatus;
import io.fastpath.provider.Verifier;

/**
 * A WSK connection's receive side: WskReceive IRPs filled from the endpoint's descriptors in order, then
 * WskReceiveEvent with what is left (lent as a WskDataIndication chain over the same memory: returning
 * STATUS_PENDING keeps it until WskRelease), and WskDisconnectEvent for the peer's FIN. Dispatch thread.
 */
final class WskReceiver {
    private final WskSocket socket;
    private final WskProvider provider;
    private final Endpoint<Irp, WskSocket> ep;
    private final DescriptorQueue rx;
    private final IrpQueue<Irp> receiveIrps = new IrpQueue<>();
    private final io.fastpath.provider.SizeT bytesAccepted = new io.fastpath.provider.SizeT();
    /** A callback did not take all: no receive event until the application posts a WskReceive. */
    private boolean suspended;
    boolean indicating;
    private boolean disconnectIndicated;

    WskReceiver(WskSocket socket, Endpoint<Irp, WskSocket> ep) {
        this.socket = socket;
        this.provider = socket.provider;
        this.ep = ep;
        this.rx = ep.received();
    }

    /** A renewed socket's receive side (every receive completed and every descriptor returned at its close). */
    void reset() {
        suspended = false;
        indicating = false;
        disconnectIndicated = false;
    }

    /** WskReceive on a connected socket (flags checked). */
    int receive(Irp irp) {
        if (suspended) {
            suspended = false;
            provider.schedule(socket);
        }
        if (irp.bufferLength() == 0 && (irp.flags() & Wsk.WSK_FLAG_DRAIN) == 0) {
            return provider.complete(irp, NtStatus.STATUS_SUCCESS.code(), 0, null);
        }
        if (receiveIrps.isEmpty() && !indicating && fill(irp)) {
            return provider.complete(irp, NtStatus.STATUS_SUCCESS.code(), irp.progress, null);
        }
        receiveIrps.add(irp);
        irp.markPending();
        return NtStatus.STATUS_PENDING.code();
    }

    /** Copies queued data into a receive IRP; true when it is done. */
    private boolean fill(Irp irp) {
        if ((irp.flags() & Wsk.WSK_FLAG_DRAIN) != 0) {
            ep.releaseAll();
            return ep.peerReleased();
        }
        irp.progress += ep.copyTo(irp.bufferAddress() + irp.progress, (int) (irp.bufferLength() - irp.progress), false);
        if (irp.progress == irp.bufferLength() || rx.isEmpty() && ep.peerReleased()) {
            return true;
        }
        return (irp.flags() & Wsk.WSK_FLAG_WAITALL) == 0 && irp.progress > 0;
    }

    /** Fills pending receive IRPs in order, then offers what is left to the receive event. */
    void deliver() {
        if (socket.closed || indicating || socket.listener != null) {
            return;
        }
        Irp irp;
        while ((irp = receiveIrps.peek()) != null) {
            if (!fill(irp)) {
                return;
            }
            receiveIrps.poll();
            provider.complete(irp, NtStatus.STATUS_SUCCESS.code(), irp.progress, null);
            if (socket.closed || indicating) {
                return;
            }
        }
        indicate();
    }

    private void indicate() {
        if ((socket.events & Wsk.WSK_EVENT_RECEIVE) == 0 || suspended || rx.isEmpty()
            || !(socket.dispatch instanceof WskClientConnectionDispatch d)) {
            return;
        }
        int n = rx.count();
        WskDataIndication head = null;
        WskDataIndication tail = null;
        for (int i = 0; i < n; i++) {
            WskDataIndication link = provider.acquireIndication();
            int offset = i == 0 ? rx.headOffset() : 0;
            link.handle = ep.handle();
            link.mbuf = rx.mbuf(i);
            link.descriptorLength = rx.length(i);
            link.socket = socket;
            link.chainHead = i == 0;
            link.next = null;
            link.mutableBuffer().set(rx.address(i), offset, rx.length(i) - offset);
            link.state(WskDataIndication.INDICATED);
            if (tail == null) {
                head = link;
            } else {
                tail.next = link;
            }
            tail = link;
        }
        long indicated = rx.bytes();
        // RELEASE_ASAP when this socket holds half its receive buffer, or when the stack's TCP memory runs short
        // (issue 10: applications holding zero-copy buffers are told before the pool runs dry).
        int flags = indicated >= provider.receiveBufferBytes / 2 || provider.tcp.memoryPressure()
            ? Wsk.WSK_FLAG_RELEASE_ASAP : 0;
        bytesAccepted.set(indicated);
        int result;
        indicating = true;
        long start = Verifier.ENABLED ? Verifier.handlerStart() : 0;
        try {
            result = d.wskReceiveEvent(socket.context(), flags | provider.eventFlags, head, indicated, bytesAccepted).code();
        } catch (Throwable t) {
            provider.onError(t);
            result = NtStatus.STATUS_DATA_NOT_ACCEPTED.code();
        } finally {
            indicating = false;
        }
        if (Verifier.ENABLED) {
            Verifier.handlerDone(start, d, "WskReceiveEvent");
        }
        if (result == NtStatus.STATUS_PENDING.code()) {
            // The application keeps the chain: the descriptors are its own until WskRelease.
            for (int i = 0; i < n; i++) {
                rx.dropHead();
            }
            if (Verifier.ENABLED) {
                Verifier.chainHeld(head, "WSK data indication chain");
            }
            for (WskDataIndication link = head; link != null; link = link.next) {
                link.state(WskDataIndication.RETAINED);
            }
        } else {
            long take = result == NtStatus.STATUS_SUCCESS.code() ? Math.max(0, Math.min(bytesAccepted.get(), indicated)) : 0;
            ep.consume(take);
            WskDataIndication link = head;
            while (link != null) {
                WskDataIndication next = link.next;
                provider.freeIndication(link);
                link = next;
            }
            if (take < indicated) {
                suspended = true; // until the application posts a WskReceive
            }
        }
        if (socket.closed) {
            ep.releaseAll();
        } else if (!receiveIrps.isEmpty()) {
            provider.schedule(socket); // a receive posted from inside the callback
        }
    }

    /** WskDisconnectEvent for the peer's FIN, once, when enabled (also for a socket accepted after the FIN). */
    void raiseGracefulDisconnect() {
        if (ep.peerReleased() && !disconnectIndicated && !socket.closed && socket.listener == null
            && (socket.events & Wsk.WSK_EVENT_DISCONNECT) != 0
            && socket.dispatch instanceof WskClientConnectionDispatch d) {
            disconnectIndicated = true;
            try {
                d.wskDisconnectEvent(socket.context(), provider.eventFlags);
            } catch (Throwable t) {
                provider.onError(t);
            }
        }
    }

    /** The peer reset (or the connection timed out): WskDisconnectEvent(ABORTIVE), or an empty receive event. */
    void raiseAbortiveDisconnect() {
        if (socket.dispatch instanceof WskClientConnectionDispatch d) {
            try {
                if ((socket.events & Wsk.WSK_EVENT_DISCONNECT) != 0) {
                    d.wskDisconnectEvent(socket.context(), Wsk.WSK_FLAG_ABORTIVE | provider.eventFlags);
                } else if ((socket.events & Wsk.WSK_EVENT_RECEIVE) != 0) {
                    d.wskReceiveEvent(socket.context(), provider.eventFlags, null, 0, bytesAccepted);
                }
            } catch (Throwable t) {
                provider.onError(t);
            }
        }
    }

    /** Completes every pending receive with {@code status} and what it has. */
    void completeAll(int status) {
        Irp irp;
        while ((irp = receiveIrps.poll()) != null) {
            provider.complete(irp, status, irp.progress, null);
        }
    }

    /** IoCancelIrp of a pending WskReceive; false when it is not one. */
    boolean cancel(Irp irp) {
        if (receiveIrps.remove(irp)) {
            provider.complete(irp, NtStatus.STATUS_CANCELLED.code(), irp.progress, null);
            return true;
        }
        return false;
    }
}
