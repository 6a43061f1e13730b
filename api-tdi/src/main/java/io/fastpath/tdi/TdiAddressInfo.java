package io.fastpath.tdi;

/** TDI_ADDRESS_INFO (TDI_QUERY_ADDRESS_INFO): ActivityCount (endpoints associated) and the IPv4 address. */
public record TdiAddressInfo(int activityCount, int ip, int port) {
}
