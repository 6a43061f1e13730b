package io.fastpath.wsk;

import io.fastpath.provider.NtStatus;

/** WSK_CLIENT_LISTEN_DISPATCH: events of a listening socket. */
public interface WskClientListenDispatch extends WskClientDispatch {
    /**
     * WskAcceptEvent: a connection arrived and no WskAccept was waiting for it. Return STATUS_SUCCESS to take
     * {@code acceptSocket} (set its context and dispatch with {@link WskSocket#setContext} and
     * {@link WskSocket#setDispatch} before returning: AcceptSocketContext / AcceptSocketDispatch), or
     * STATUS_REQUEST_NOT_ACCEPTED to have WSK close it (the peer gets a reset). The addresses are valid
     * during the call only. Receive/disconnect events enabled on the listener carry over to a socket taken here.
     */
    default NtStatus wskAcceptEvent(Object socketContext, int flags, SocketAddressV4 localAddress,
                               SocketAddressV4 remoteAddress, WskSocket acceptSocket) {
        return NtStatus.STATUS_REQUEST_NOT_ACCEPTED;
    }

    /**
     * WskInspectEvent (conditional accept, SO_CONDITIONAL_ACCEPT set on the listener before WskBind): a SYN
     * arrived and the stack holds it unanswered until this decides. Return WskInspectAccept (the handshake goes
     * on; the connection then goes to a queued WskAccept, the accept event or the backlog), WskInspectReject (a
     * RST answers the SYN: the peer's connect is refused; the default) or WskInspectPend (decide later with
     * {@link WskSocket#inspectComplete}; a request held too long ends with {@link #wskAbortEvent}).
     */
    default int wskInspectEvent(Object socketContext, SocketAddressV4 localAddress, SocketAddressV4 remoteAddress,
                                WskInspectId inspectId) {
        return Wsk.WskInspectReject;
    }

    /**
     * WskAbortEvent: a connection request whose inspection was pended ended without a decision (the peer reset
     * it, or it was held longer than the stack holds a SYN); its {@code inspectId} is no longer valid. Return
     * STATUS_SUCCESS.
     */
    default NtStatus wskAbortEvent(Object socketContext, WskInspectId inspectId) {
        return NtStatus.STATUS_SUCCESS;
    }
}
