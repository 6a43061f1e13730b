package io.fastpath.stack.device;

import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.Port;
import io.fastpath.dpdk.PortStats;

/**
 * Base of the port decorators (capture, fault injection): everything but the bursts and close goes to the
 * wrapped port. A decorator reports no transmit offloads ({@link Port#txOffloads()} = 0), so the stack
 * fills in every checksum itself and what the decorator sees is what goes on the wire. Public so that
 * applications and tests can write their own (a router with a smaller MTU, a host sharing the wire).
 */
public abstract class PortDecorator implements Port {
    protected final Port delegate;

    protected PortDecorator(Port delegate) {
        this.delegate = delegate;
    }

    @Override
    public String name() {
        return delegate.name();
    }

    @Override
    public int portId() {
        return delegate.portId();
    }

    @Override
    public long macAddress() {
        return delegate.macAddress();
    }

    @Override
    public int mtu() {
        return delegate.mtu();
    }

    @Override
    public long txOffloadCapabilities() {
        return delegate.txOffloadCapabilities();
    }

    @Override
    public long rxOffloadCapabilities() {
        return delegate.rxOffloadCapabilities();
    }

    @Override
    public int descriptorMbufs() {
        return delegate.descriptorMbufs();
    }

    @Override
    public PktmbufPool pool() {
        return delegate.pool();
    }

    /** The wrapped port's counters. */
    @Override
    public PortStats stats(PortStats into) {
        return delegate.stats(into);
    }

    @Override
    public boolean linkUp() {
        return delegate.linkUp();
    }
}
