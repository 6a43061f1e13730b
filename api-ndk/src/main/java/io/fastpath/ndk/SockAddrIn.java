package io.fastpath.ndk;

import io.fastpath.stack.wire.Ipv4Address;

/** An IPv4 socket address (SOCKADDR_IN): address 0 = any / the stack's, port 0 = assign one. */
public record SockAddrIn(int ip, int port) {
    public SockAddrIn {
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port " + port);
        }
    }

    public static SockAddrIn of(String ip, int port) {
        return new SockAddrIn(Ipv4Address.parse(ip), port);
    }

    @Override
    public String toString() {
        return Ipv4Address.format(ip) + ":" + port;
    }
}
