package io.fastpath.wsk;

import io.fastpath.stack.wire.Ipv4Address;

/**
 * SOCKADDR_IN: an IPv4 address and a TCP port, both host order. Created by the caller (or once per socket by
 * the provider), never per packet. {@code ip} 0 is the wildcard address, {@code port} 0 the wildcard port.
 */
public record SocketAddressV4(int ip, int port) {
    /** 0.0.0.0:0, for binding to the wildcard. */
    public static final SocketAddressV4 ANY = new SocketAddressV4(0, 0);

    public SocketAddressV4 {
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port out of range: " + port);
        }
    }

    /** {@code a.b.c.d}, port. */
    public static SocketAddressV4 of(String ip, int port) {
        return new SocketAddressV4(Ipv4Address.parse(ip), port);
    }

    @Override
    public String toString() {
        return Ipv4Address.format(ip) + ":" + port;
    }
}
