package io.fastpath.wsk;

import io.fastpath.stack.wire.Ipv4Address;

/**
 * A caller-owned SOCKADDR_IN the provider writes into: WskAccept's optional LocalAddress and RemoteAddress
 * out-parameters. Reusable; written on the dispatch thread before the IRP completes, so it is valid once the
 * completion has been seen.
 */
public final class SocketAddressV4Out {
    private int ip;
    private int port;

    void set(int ipAddress, int portNumber) {
        ip = ipAddress;
        port = portNumber;
    }

    public int ip() {
        return ip;
    }

    public int port() {
        return port;
    }

    @Override
    public String toString() {
        return Ipv4Address.format(ip) + ":" + port;
    }
}
