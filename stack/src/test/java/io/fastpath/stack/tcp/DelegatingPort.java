package io.fastpath.stack.tcp;

import io.fastpath.dpdk.MbufArray;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.Port;
import io.fastpath.dpdk.PortStats;

/**
 * A port that passes everything to another (tests' wire-side helpers extend it and override receive or
 * transmit). Closing it leaves the delegate open: the ring pair owns it.
 */
abstract class DelegatingPort implements Port {
    final Port delegate;

    DelegatingPort(Port delegate) {
        this.delegate = delegate;
    }

    @Override
    public int receive(MbufArray pkts, int max) {
        return delegate.receive(pkts, max);
    }

    @Override
    public int transmit(MbufArray pkts, int from, int count) {
        return delegate.transmit(pkts, from, count);
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
    public long txOffloads() {
        return delegate.txOffloads();
    }

    @Override
    public int descriptorMbufs() {
        return delegate.descriptorMbufs();
    }

    @Override
    public PktmbufPool pool() {
        return delegate.pool();
    }

    @Override
    public PortStats stats(PortStats into) {
        return delegate.stats(into);
    }

    @Override
    public boolean linkUp() {
        return delegate.linkUp();
    }

    @Override
    public void close() {
    }
}
