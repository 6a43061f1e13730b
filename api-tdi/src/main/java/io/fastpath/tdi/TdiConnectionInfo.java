package io.fastpath.tdi;

/**
 * TDI_CONNECTION_INFO (TDI_QUERY_CONNECTION_INFO): State, Event, TransmittedTsdus, ReceivedTsdus,
 * TransmissionErrors, ReceiveErrors, Throughput (bytes sent), Delay (0: not measured), SendBufferSize,
 * ReceiveBufferSize, Unreliable (false), plus the remote address of the connection (0 when none).
 */
public record TdiConnectionInfo(int state, int event, long transmittedTsdus, long receivedTsdus,
                                long transmissionErrors, long receiveErrors, long throughput, long delay,
                                int sendBufferSize, int receiveBufferSize, boolean unreliable, int remoteIp,
                                int remotePort) {
}
