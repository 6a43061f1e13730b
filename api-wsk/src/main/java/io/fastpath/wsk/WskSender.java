package io.fastpath.wsk;

import static io.fastpath.wsk.WskProvider.OP_DISCONNECT;

import io.fastpath.provider.Endpoint;
import io.fastpath.provider.NtStatus;
import io.fastpath.provider.SendPump;

/**
 * A WSK connection's send side: WskSend IRPs queued on the endpoint's {@link SendPump} and handed to the stack
 * in order, and WskDisconnect (graceful: a FIN behind the queued sends; abortive: a reset). A part of its
 * {@link WskSocket}, which keeps the disconnect state its close and teardown share
 * ({@link WskSocket#disconnectIrp}, {@link WskSocket#abortIrp}). Dispatch thread.
 */
final class WskSender {
    private final WskSocket s;
    private final WskProvider provider;
    private final Endpoint<Irp, WskSocket> ep;
    private final SendPump<Irp> sends;

    WskSender(WskSocket socket, Endpoint<Irp, WskSocket> ep) {
        this.s = socket;
        this.provider = socket.provider;
        this.ep = ep;
        this.sends = ep.sends();
    }

    int doSend(Irp irp) {
        if ((irp.flags() & ~Wsk.WSK_FLAG_NODELAY) != 0) {
            return complete(irp, NtStatus.STATUS_NOT_SUPPORTED.code());
        }
        return queueSend(irp);
    }

    private int queueSend(Irp irp) {
        if (s.state != WskSocket.CONNECTED || s.disconnectRequested || ep.abortIssued()) {
            return complete(irp, NtStatus.STATUS_INVALID_DEVICE_STATE.code());
        }
        s.disconnectRequested = irp.op == OP_DISCONNECT;
        sends.add(irp);
        pending(irp);
        pump();
        return NtStatus.STATUS_PENDING.code();
    }

    /** Hands queued sends to the stack, at most MAX_SENDS_IN_STACK at a time, in order; then the FIN. */
    void pump() {
        if (!ep.sendsBlocked()) {
            sends.pump();
        }
    }

    /** The send pump's hand-over of one IRP: its buffer to the stack; a graceful WskDisconnect's FIN once first. */
    int submit(Irp irp, boolean drained) {
        if (irp.op == OP_DISCONNECT && !(irp.hasBuffer && irp.bufferLength() > 0)) {
            if (!drained) {
                return SendPump.STOP;
            }
            postShutdown(irp); // every byte before it is in the send buffer: now the FIN can follow them
            return SendPump.TAKEN;
        }
        if (!provider.tcp.send(ep.handle(), s.id, irp.bufferAddress(), irp.bufferLength())) {
            provider.schedule(s);
            return SendPump.STOP;
        }
        return SendPump.SUBMITTED;
    }

    private void postShutdown(Irp irp) {
        s.disconnectIrp = irp;
        ep.shutdown();
    }

    void onSendComplete(int bytes, int status) {
        Irp irp = sends.completeOldest();
        if (irp == null) {
            return;
        }
        int result = status;
        if (result != NtStatus.STATUS_SUCCESS.code() && (ep.abortIssued() || s.closed)) {
            result = NtStatus.STATUS_CANCELLED.code();
        }
        if (irp.op == OP_DISCONNECT && result == NtStatus.STATUS_SUCCESS.code() && s.closed) {
            complete(irp, NtStatus.STATUS_CANCELLED.code(), bytes, null); // WskCloseSocket came first: no FIN
        } else if (irp.op == OP_DISCONNECT && result == NtStatus.STATUS_SUCCESS.code()) {
            postShutdown(irp); // the final buffer is in: FIN next; the IRP waits for the FIN's acknowledgement
        } else {
            complete(irp, result, bytes, null);
        }
        if (!s.closed) {
            pump();
        }
        s.maybeFinishClose();
    }

    int doDisconnect(Irp irp) {
        if ((irp.flags() & ~Wsk.WSK_FLAG_ABORTIVE) != 0) {
            return complete(irp, NtStatus.STATUS_NOT_SUPPORTED.code());
        }
        if ((irp.flags() & Wsk.WSK_FLAG_ABORTIVE) == 0) {
            return queueSend(irp); // graceful: behind the queued sends, then FIN
        }
        if (irp.hasBuffer) {
            return complete(irp, NtStatus.STATUS_INVALID_PARAMETER.code());
        }
        if (s.state == WskSocket.DISCONNECTED) {
            return complete(irp, NtStatus.STATUS_SUCCESS.code());
        }
        if (s.state != WskSocket.CONNECTED || s.abortIrp != null) {
            return complete(irp, NtStatus.STATUS_INVALID_DEVICE_STATE.code());
        }
        // Own the abort before any completion routine runs: a routine may close the socket or abort again.
        s.abortIrp = irp;
        pending(irp);
        Irp graceful = s.disconnectIrp;
        s.disconnectIrp = null;
        cancelUnsubmittedSends(NtStatus.STATUS_CANCELLED.code());
        if (graceful != null) {
            complete(graceful, NtStatus.STATUS_CANCELLED.code());
        }
        if (!s.closed) {
            ep.abort();
        }
        return NtStatus.STATUS_PENDING.code();
    }

    /** Sends the stack has not taken complete with {@code status}; the ones it holds it answers for. */
    void cancelUnsubmittedSends(int status) {
        Irp irp;
        while ((irp = sends.pollWaiting()) != null) {
            complete(irp, status, 0, null);
        }
    }

    /** The peer acknowledged our FIN: a graceful WskDisconnect is done (receiving may go on: half-close). */
    void onShutdownComplete() {
        Irp graceful = s.disconnectIrp;
        if (graceful != null && ep.localReleased() && !s.closed) {
            s.disconnectIrp = null;
            complete(graceful, NtStatus.STATUS_SUCCESS.code());
        }
    }

    /** The stack's ideal send backlog changed: WskSendBacklogEvent, when enabled. */
    void onIdealSendBacklog(int bytes) {
        s.idealSendBacklog = bytes;
        if (s.closed || s.listener != null || s.state != WskSocket.CONNECTED) {
            return;
        }
        if ((s.events & Wsk.WSK_EVENT_SEND_BACKLOG) != 0 && s.dispatch instanceof WskClientConnectionDispatch d) {
            try {
                d.wskSendBacklogEvent(s.context(), bytes);
            } catch (Throwable t) {
                provider.onError(t);
            }
        }
    }

    private int complete(Irp irp, int status) {
        return provider.complete(irp, status, 0, null);
    }

    private int complete(Irp irp, int status, long information, Object object) {
        return provider.complete(irp, status, information, object);
    }

    private static int pending(Irp irp) {
        irp.markPending();
        return NtStatus.STATUS_PENDING.code();
    }
}
