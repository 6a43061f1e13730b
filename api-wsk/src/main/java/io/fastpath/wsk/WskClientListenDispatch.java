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
}
