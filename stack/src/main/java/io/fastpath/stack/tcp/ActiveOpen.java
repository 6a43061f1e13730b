package io.fastpath.stack.tcp;

import io.fastpath.stack.NtStatus;
import io.fastpath.stack.counters.StackCounters;
import io.fastpath.stack.ip.IpOutput;
import io.fastpath.stack.shard.FlowOwner;
import org.agrona.DirectBuffer;

/**
 * The active open ({@link TcpLayer#connect}): checks the addresses and ports, takes a connection from the table,
 * and sends the SYN (RFC 9293 §3.10.1, OPEN call in CLOSED state; RFC 7413 §4.2 with Fast Open). Poll thread.
 */
final class ActiveOpen {
    private final TcpLayer layer;
    private final TcpConfig config;
    private final IpOutput ip;
    private final StackCounters counters;
    private final IsnGenerator isn;
    private final TimeWaitTable timeWait;
    private final FlowOwner owner;
    private final int shard;
    private ConnectionTable table;
    private Listeners listening;
    private TcpOutput tx;
    private TcpTimers timers;
    /** The connection the last successful {@link #connect} created. */
    TcpConnection lastConnection;

    ActiveOpen(TcpLayer layer) {
        this.layer = layer;
        this.config = layer.config;
        this.ip = layer.ip;
        this.counters = layer.counters;
        this.isn = layer.isn;
        this.timeWait = layer.timeWait;
        this.owner = layer.owner;
        this.shard = layer.shard;
    }

    void link() {
        table = layer.table;
        listening = layer.listening;
        tx = layer.tx;
        timers = layer.timers;
    }

    /** {@link TcpLayer#connect(int, int, int, int, TcpHandler, DirectBuffer, int, int, boolean, long)}. */
    int connect(int localIp, int localPort, int remoteIp, int remotePort, TcpHandler handler,
                DirectBuffer data, int offset, int length, boolean fastOpen, long socketOptions) {
        if (length > config.sendBufferBytes()) {
            return NtStatus.STATUS_BUFFER_OVERFLOW;
        }
        if (localIp != 0 && localIp != ip.address()) {
            return NtStatus.STATUS_INVALID_ADDRESS;
        }
        if (remotePort <= 0 || remotePort > 65535 || localPort < 0 || localPort > 65535 || remoteIp == 0) {
            return NtStatus.STATUS_INVALID_PARAMETER;
        }
        if (ip.nextHop(remoteIp) == 0) {
            counters.noRoute.incrementRelease();
            return NtStatus.STATUS_NETWORK_UNREACHABLE;
        }
        if (localPort != 0) {
            long k = TcpLayer.key(remoteIp, remotePort, localPort);
            if (table.connections.containsKey(k) || timeWait.find(k) >= 0) {
                return NtStatus.STATUS_ADDRESS_ALREADY_EXISTS;
            }
            if (listening.listeners.containsKey(localPort)
                || table.localPortUse[localPort] > 0 && !TcpSocketOptions.reuseAddress(socketOptions)) {
                return NtStatus.STATUS_SHARING_VIOLATION;
            }
            if (owner != FlowOwner.SINGLE && owner.shardOf(ip.address(), localPort, remoteIp, remotePort) != shard) {
                return NtStatus.STATUS_INVALID_ADDRESS;
            }
        } else {
            localPort = table.ephemeralPort(remoteIp, remotePort);
            if (localPort == 0) {
                return NtStatus.STATUS_TOO_MANY_ADDRESSES;
            }
        }
        TcpConnection c = table.allocateConnection();
        if (c == null) {
            table.releaseEphemeral(localPort);
            return NtStatus.STATUS_INSUFFICIENT_RESOURCES;
        }
        table.open(c, remoteIp, remotePort, localPort);
        layer.applyOptions(c, socketOptions, true);
        lastConnection = c;
        c.handler = handler;
        c.active = true;
        c.connectPending = true;
        c.iss = isn.isn(c.localIp, localPort, remoteIp, remotePort, layer.nowNs);
        c.sndUna = c.iss;
        c.sndNxt = c.iss + 1;
        c.sndMax = c.sndNxt;
        c.sendBuffer.reset(c.iss + 1);
        if (length > 0) {
            c.sendBuffer.write(data, offset, length);
        }
        c.fastOpen = fastOpen && config.fastOpen();
        c.state = TcpState.SYN_SENT;
        c.rcvScale = tx.receiveScale();
        counters.tcpActiveOpens.incrementRelease();
        tx.sendSyn(c, false);
        if (c.state == TcpState.SYN_SENT) {
            timers.armRetransmit(c);
        }
        return NtStatus.STATUS_PENDING;
    }
}
