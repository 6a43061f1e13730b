package io.fastpath.wsk;

/** WSK_CLIENT_LISTEN_DISPATCH: events of a listening socket. */
public interface WskClientListenDispatch extends WskClientDispatch {
    /**
     * WskAcceptEvent: a connection arrived and no WskAccept was waiting for it. Return STATUS_SUCCESS to take
     * {@code acceptSocket} (set its context and dispatch with {@link WskSocket#setContext} and
     * {@link WskSocket#setDispatch} before returning: AcceptSocketContext / AcceptSocketDispatch), or
     * STATUS_REQUEST_NOT_ACCEPTED to have WSK close it (the peer gets a reset). The addresses are valid
     * during the call only. Receive/disconnect events enabled on the listener carry over to a socket taken here.
     */
    default int wskAcceptEvent(Object socketContext, int flags, SocketAddressV4 localAddress,
                               SocketAddressV4 remoteAddress, WskSocket acceptSocket) {
        return WskStatus.STATUS_REQUEST_NOT_ACCEPTED;
    }

    /**
     * WskInspectEvent (conditional accept, SO_CONDITIONAL_ACCEPT set on the listener): a connection request
     * arrived; decide before the application sees it. Return WskInspectAccept (it goes on to a queued WskAccept,
     * the accept event or the backlog), WskInspectReject (the peer gets a reset) or WskInspectPend (decide
     * later with {@link WskSocket#inspectComplete}). The default rejects. fastpath's TCP has already completed
     * the handshake when this runs (Windows holds the SYN); data the peer sends meanwhile waits for the socket.
     */
    default int wskInspectEvent(Object socketContext, SocketAddressV4 localAddress, SocketAddressV4 remoteAddress,
                                WskInspectId inspectId) {
        return Wsk.WskInspectReject;
    }

    /**
     * WskAbortEvent: the peer abandoned (reset) a connection request whose inspection was pended; its
     * {@code inspectId} is no longer valid. Return STATUS_SUCCESS.
     */
    default int wskAbortEvent(Object socketContext, WskInspectId inspectId) {
        return WskStatus.STATUS_SUCCESS;
    }
}
