package io.fastpath.wsk;

import io.fastpath.provider.NtStatus;
import io.fastpath.provider.SizeT;

/** WSK_CLIENT_CONNECTION_DISPATCH: events of a connection-oriented socket. */
public interface WskClientConnectionDispatch extends WskClientDispatch {
    /**
     * WskReceiveEvent: data arrived (and no WskReceive was waiting for it). {@code dataIndication} is a chain
     * over the received mbufs, {@code bytesIndicated} their total; null means the socket is no longer
     * functional. Return:
     * <ul>
     *   <li>STATUS_SUCCESS: consumed {@code bytesAccepted} bytes (preset to all of them); if fewer, the rest
     *       stays queued and no more receive events come until a WskReceive is posted;</li>
     *   <li>STATUS_PENDING: keeps the whole chain until {@link WskSocket#release(WskDataIndication)};</li>
     *   <li>STATUS_DATA_NOT_ACCEPTED: took nothing; the data stays queued for a WskReceive, and receive events
     *       stop until one is posted.</li>
     * </ul>
     * Flags: WSK_FLAG_RELEASE_ASAP when the queued data fills half the receive buffer.
     */
    default NtStatus wskReceiveEvent(Object socketContext, int flags, WskDataIndication dataIndication,
                                long bytesIndicated, SizeT bytesAccepted) {
        return NtStatus.STATUS_DATA_NOT_ACCEPTED;
    }

    /**
     * WskDisconnectEvent: the peer disconnected: gracefully (flags 0: no more data will come, we may still
     * send) or abortively (WSK_FLAG_ABORTIVE: reset or timed out; the socket is dead). Return STATUS_SUCCESS.
     */
    default NtStatus wskDisconnectEvent(Object socketContext, int flags) {
        return NtStatus.STATUS_SUCCESS;
    }

    /**
     * WskSendBacklogEvent: the ideal send backlog changed (the bytes to keep queued to fill the path: the
     * congestion window rounded up to a power of two, 16 KiB to the send buffer). Raised on the connection's
     * first report and on every change, when WSK_EVENT_SEND_BACKLOG is enabled.
     */
    default NtStatus wskSendBacklogEvent(Object socketContext, long idealBacklogSize) {
        return NtStatus.STATUS_SUCCESS;
    }
}
