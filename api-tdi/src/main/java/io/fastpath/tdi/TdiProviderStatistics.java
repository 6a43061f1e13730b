package io.fastpath.tdi;

/**
 * TDI_PROVIDER_STATISTICS (TDI_QUERY_PROVIDER_STATISTICS), the members a TCP transport can fill: Version,
 * OpenConnections, ConnectionsAfterNoRetry (connects that succeeded), LocalDisconnects, RemoteDisconnects,
 * SessionTimeouts, CancelledConnections, NoListenFailures (offers refused), DataFramesSent / DataFrameBytesSent
 * (TDI_SENDs), DataFramesReceived / DataFrameBytesReceived (receive indications and TDI_RECEIVEs).
 */
public record TdiProviderStatistics(int version, long openConnections, long connectionsAfterNoRetry,
                                    long localDisconnects, long remoteDisconnects, long sessionTimeouts,
                                    long cancelledConnections, long noListenFailures, long dataFramesSent,
                                    long dataFrameBytesSent, long dataFramesReceived, long dataFrameBytesReceived) {
}
