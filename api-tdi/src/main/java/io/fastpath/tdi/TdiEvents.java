package io.fastpath.tdi;

import io.fastpath.provider.NtStatus;

/**
 * The client event handlers a TDI client registers on an address object with TDI_SET_EVENT_HANDLER
 * ({@link TdiBuild#setEventHandler}, or its typed forms such as {@link TdiBuild#setConnectEventHandler}), one
 * interface per event type. Every handler runs on the provider's
 * dispatch thread, one at a time, and may submit requests ({@link TdiProvider#callDriver}); receive
 * indications carry {@link Tdi#TDI_RECEIVE_AT_DISPATCH_LEVEL} because they run inside the provider's receive
 * path and must not block. Out-parameters (BytesTaken, IoRequestPacket, ConnectionContext, AcceptIrp) are set
 * on the provider-owned {@link TdiEventReturn} passed in.
 */
public final class TdiEvents {
    private TdiEvents() {
    }

    /**
     * TDI_EVENT_CONNECT: a remote node offers a connection to this address. Its SYN is held (no SYN-ACK yet) while
     * the handler decides.
     */
    @FunctionalInterface
    public interface ClientEventConnect {
        /**
         * @param remoteIp the offering node's IPv4 address (TDI_ADDRESS_IP)
         * @param remotePort its port
         * @param userDataLength bytes of connect data: the data the SYN carried (TCP Fast Open), else 0
         * @param userData native address of a copy of the connect data (valid during the call), or 0; it is not
         *     acknowledged: the peer sends it again after the handshake, as the connection's first data
         * @param optionsLength OptionsLength: bytes of the offer's transport-specific option string; always 0
         *     here, because a TCP connection offer carries none ("zero implies no option string")
         * @param options Options: native address of the option string, 0 (NULL) when {@code optionsLength} is 0
         * @param out set {@link TdiEventReturn#acceptIrp} (a TDI_ACCEPT built on an idle endpoint associated with
         *     this address) and {@link TdiEventReturn#connectionContext}
         * @return STATUS_MORE_PROCESSING_REQUIRED with an accept IRP to accept (the SYN-ACK goes; the IRP completes
         *     once the handshake completed); STATUS_CONNECTION_REFUSED or STATUS_INSUFFICIENT_RESOURCES to refuse
         *     (RST for the SYN: the peer's connect fails with connection refused)
         */
        NtStatus clientEventConnect(Object tdiEventContext, int remoteIp, int remotePort, int userDataLength,
                                    long userData, int optionsLength, long options, TdiEventReturn out);
    }

    /** TDI_EVENT_DISCONNECT: the peer released (TDI_DISCONNECT_RELEASE) or aborted (TDI_DISCONNECT_ABORT). */
    @FunctionalInterface
    public interface ClientEventDisconnect {
        NtStatus clientEventDisconnect(Object tdiEventContext, Object connectionContext, int disconnectFlags);
    }

    /** TDI_EVENT_ERROR: an error on the address object that no request reports. */
    @FunctionalInterface
    public interface ClientEventError {
        NtStatus clientEventError(Object tdiEventContext, NtStatus status);
    }

    /**
     * TDI_EVENT_RECEIVE / TDI_EVENT_RECEIVE_EXPEDITED: {@code bytesIndicated} bytes at {@code tsdu} (contiguous,
     * read-only, valid during the call) out of {@code bytesAvailable}. Return STATUS_SUCCESS with
     * {@link TdiEventReturn#bytesTaken}; STATUS_MORE_PROCESSING_REQUIRED with {@link TdiEventReturn#irp} (a
     * TDI_RECEIVE for the rest, after bytesTaken); or STATUS_DATA_NOT_ACCEPTED (kept for a TDI_RECEIVE).
     */
    @FunctionalInterface
    public interface ClientEventReceive {
        NtStatus clientEventReceive(Object tdiEventContext, Object connectionContext, int receiveFlags,
                                    int bytesIndicated, int bytesAvailable, long tsdu, TdiEventReturn out);
    }

    /**
     * TDI_EVENT_CHAINED_RECEIVE / TDI_EVENT_CHAINED_RECEIVE_EXPEDITED: the whole TSDU as a read-only chain over
     * the received buffers, {@code receiveLength} bytes from {@code startingOffset}; {@code tsdu} is also the
     * TsduDescriptor. STATUS_SUCCESS: consumed, the buffers go back at once; STATUS_PENDING: the client keeps
     * them until {@link TdiProvider#returnChainedReceives}; STATUS_DATA_NOT_ACCEPTED: kept for a TDI_RECEIVE.
     */
    @FunctionalInterface
    public interface ClientEventChainedReceive {
        NtStatus clientEventChainedReceive(Object tdiEventContext, Object connectionContext, int receiveFlags,
                                           int receiveLength, int startingOffset, Tsdu tsdu);
    }

    /** TDI_EVENT_SEND_POSSIBLE: a TDI_SEND_NON_BLOCKING send that failed with DEVICE_NOT_READY may go now. */
    @FunctionalInterface
    public interface ClientEventSendPossible {
        NtStatus clientEventSendPossible(Object tdiEventContext, Object connectionContext, int bytesAvailable);
    }
}
