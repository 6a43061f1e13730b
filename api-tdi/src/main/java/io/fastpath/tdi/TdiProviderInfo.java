package io.fastpath.tdi;

/** TDI_PROVIDER_INFO (TDI_QUERY_PROVIDER_INFO). StartTime in 100 ns units since the Unix epoch. */
public record TdiProviderInfo(int version, int maxSendSize, int maxConnectionUserData, int maxDatagramSize,
                              int serviceFlags, int minimumLookaheadData, int maximumLookaheadData,
                              int numberOfResources, long startTime) {
}
