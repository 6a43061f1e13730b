package io.fastpath.stack.ip;

import io.fastpath.stack.wire.Ipv4Address;

/**
 * Static IPv4 routes of a host: the local subnet (on-link) and an optional default gateway.
 * {@link #nextHop} returns the address to resolve with ARP, or {@link #NO_ROUTE} (later reported as
 * STATUS_NETWORK_UNREACHABLE).
 */
public final class Routes {
    /** 0.0.0.0 is never a next hop. */
    public static final int NO_ROUTE = 0;

    private final int localAddress;
    private final int prefixLength;
    private final int netmask;
    private final int gateway;

    /**
     * @param gateway 0 for none; otherwise it must be on the local subnet
     */
    public Routes(int localAddress, int prefixLength, int gateway) {
        if (prefixLength < 1 || prefixLength > 32) {
            throw new IllegalArgumentException("prefix length must be 1..32: " + prefixLength);
        }
        this.localAddress = localAddress;
        this.prefixLength = prefixLength;
        this.netmask = Ipv4Address.netmask(prefixLength);
        if (gateway != 0 && !onLink(gateway)) {
            throw new IllegalArgumentException("gateway " + Ipv4Address.format(gateway) + " is not on "
                + Ipv4Address.format(localAddress) + "/" + prefixLength);
        }
        this.gateway = gateway;
    }

    public boolean onLink(int address) {
        return (address & netmask) == (localAddress & netmask);
    }

    /** The subnet's directed broadcast address. */
    public int broadcast() {
        return localAddress | ~netmask;
    }

    /** Next hop towards {@code destination}: itself when on-link, else the gateway, else NO_ROUTE. */
    public int nextHop(int destination) {
        if (onLink(destination) && destination != broadcast() && destination != (localAddress & netmask)) {
            return destination;
        }
        if (!onLink(destination) && gateway != 0) {
            return gateway;
        }
        return NO_ROUTE;
    }

    public int localAddress() {
        return localAddress;
    }

    public int prefixLength() {
        return prefixLength;
    }

    public int gateway() {
        return gateway;
    }
}
