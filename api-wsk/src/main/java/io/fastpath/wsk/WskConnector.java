package io.fastpath.wsk;

import static io.fastpath.wsk.WskProvider.OP_CONNECT_EX;
import static io.fastpath.wsk.WskProvider.OP_SOCKET_CONNECT;

import io.fastpath.provider.NtStatus;

/**
 * A WSK socket's WskConnect / WskConnectEx / WskSocketConnect: the CONNECT request (with TCP Fast Open data for
 * ConnectEx), another ephemeral port when the stack still holds the chosen one, and IoCancelIrp of a pending
 * connect (the attempt is ended when the stack answers). Dispatch thread.
 */
final class WskConnector {
    private static final int MAX_PORT_RETRIES = 16;
    private static final int MAX_CONNECT_EX_BYTES = 65_535;

    private final WskSocket s;
    private final WskProvider provider;
    Irp connectIrp;
    boolean connectInFlight;
    /** The stack's request ring position after the last CONNECT was submitted ({@link #completeCancelled}). */
    private long connectRecordPosition;
    private int connectRetries;
    /** A pending connect was cancelled (IoCancelIrp): the stack's answer for it ends the attempt. */
    private boolean connectCancelled;

    WskConnector(WskSocket socket) {
        this.s = socket;
        this.provider = socket.provider;
    }

    /** WskConnect / WskConnectEx on a bound socket. */
    int connect(Irp irp) {
        if (irp.op == OP_CONNECT_EX) {
            if (irp.bufferLength() > MAX_CONNECT_EX_BYTES) {
                return provider.complete(irp, NtStatus.STATUS_BUFFER_OVERFLOW.code(), 0, null);
            }
            if (irp.flags() != 0) {
                return provider.complete(irp, NtStatus.STATUS_INVALID_PARAMETER.code(), 0, null);
            }
        }
        SocketAddressV4 to = irp.address;
        if (to == null || to.ip() == 0 || to.port() == 0) {
            return provider.complete(irp, NtStatus.STATUS_INVALID_PARAMETER.code(), 0, null);
        }
        if (s.state != WskSocket.BOUND || s.binding.listening()) {
            return provider.complete(irp, NtStatus.STATUS_INVALID_DEVICE_STATE.code(), 0, null);
        }
        return startConnect(irp, to);
    }

    /** WskSocketConnect on a fresh socket: bind, then connect with the caller's IRP. */
    int socketConnect(Irp irp) {
        int status = s.binding.bind(irp.address);
        if (status == NtStatus.STATUS_SUCCESS.code() && (irp.address2.ip() == 0 || irp.address2.port() == 0)) {
            status = NtStatus.STATUS_INVALID_PARAMETER.code();
        }
        if (status != NtStatus.STATUS_SUCCESS.code()) {
            s.closeInternal(null);
            return provider.complete(irp, status, 0, null);
        }
        irp.socket = s;
        return startConnect(irp, irp.address2);
    }

    private int startConnect(Irp irp, SocketAddressV4 to) {
        s.state = WskSocket.CONNECTING;
        s.setRemote(to);
        connectIrp = irp;
        connectRetries = 0;
        if (!issueConnect()) {
            s.state = WskSocket.BOUND;
            s.clearRemote();
            connectIrp = null;
            if (irp.op == OP_SOCKET_CONNECT) {
                s.closeInternal(null);
            }
            return provider.complete(irp, NtStatus.STATUS_INSUFFICIENT_RESOURCES.code(), 0, null);
        }
        irp.markPending();
        return NtStatus.STATUS_PENDING.code();
    }

    private boolean issueConnect() {
        Irp irp = connectIrp;
        boolean ex = irp.op == OP_CONNECT_EX;
        connectInFlight = provider.tcp.connect(s.id, 0, s.port, s.remoteIp, s.remotePort,
            ex ? irp.bufferAddress() : 0, ex ? irp.bufferLength() : 0, ex && s.options.fastOpen, s.options.socketOptions());
        if (connectInFlight) {
            connectRecordPosition = provider.tcp.requestPosition();
        }
        return connectInFlight;
    }

    /**
     * Completes a cancelled ConnectEx STATUS_CANCELLED, once: at once, or, while its CONNECT record still waits
     * in the stack's request ring (it points at the caller's buffer), as soon as the stack has taken it (within
     * a duty cycle; the data is copied then). The caller owns the buffer again when the IRP completes, so the
     * stack must not read it afterwards.
     */
    void completeCancelled(Irp irp) {
        if (irp.op == OP_CONNECT_EX && irp.bufferLength() > 0 && connectInFlight
            && !provider.tcp.requestsTaken(connectRecordPosition)) {
            provider.completeWhenRequestsTaken(irp, connectRecordPosition);
        } else {
            provider.complete(irp, NtStatus.STATUS_CANCELLED.code(), 0, null);
        }
    }

    /**
     * IoCancelIrp of a pending WskConnect / WskConnectEx / WskSocketConnect: the IRP completes STATUS_CANCELLED
     * now, once. The stack has no way to withdraw a SYN it is retrying, so the attempt is ended when the stack
     * answers: a handshake that completes anyway is reset at once (the peer sees a RST), a failure is dropped.
     * Until then the socket cannot connect again (STATUS_INVALID_DEVICE_STATE); afterwards a failed attempt
     * leaves it bound (it may connect again), a reset one dead (close it). A WskSocketConnect's socket was never
     * handed out: it is closed.
     */
    void cancel(Irp irp) {
        if (irp.op == OP_SOCKET_CONNECT) {
            s.closeInternal(null); // completes the IRP STATUS_CANCELLED; a late handshake is reset
            return;
        }
        connectIrp = null;
        connectCancelled = connectInFlight;
        if (!connectInFlight) {
            // the stack's answer already came (a port retry found the ring full): nothing is left there
            s.state = WskSocket.BOUND;
            s.clearRemote();
        }
        completeCancelled(irp);
    }

    /** A renewed socket's connector: no attempt, no retries. */
    void reset() {
        connectIrp = null;
        connectInFlight = false;
        connectRecordPosition = 0;
        connectRetries = 0;
        connectCancelled = false;
    }

    void onConnectComplete(long newHandle, int status) {
        connectInFlight = false;
        Irp irp = connectIrp;
        boolean success = status == NtStatus.STATUS_SUCCESS.code();
        if (connectCancelled && !s.closed || s.closed || irp == null) {
            boolean cancelled = connectCancelled && !s.closed;
            connectCancelled = false;
            connectIrp = null;
            if (success) {
                s.state = cancelled ? WskSocket.CONNECTED : s.state;
                s.ep.attach(newHandle);
                s.ep.abort(); // no late completion: the cancelled attempt's connection is reset
            } else if (cancelled) {
                s.state = WskSocket.BOUND;
                s.clearRemote();
            }
            s.maybeFinishClose();
            return;
        }
        if (success) {
            connectIrp = null;
            s.state = WskSocket.CONNECTED;
            s.ep.attach(newHandle);
            if (s.localIp == 0) {
                s.localIp = provider.stackAddress;
            }
            s.applyOptions();
            long information = irp.op == OP_CONNECT_EX ? irp.bufferLength() : 0;
            provider.complete(irp, NtStatus.STATUS_SUCCESS.code(), information, irp.op == OP_SOCKET_CONNECT ? s : null);
            return;
        }
        if (s.wildcardPort && connectRetries < MAX_PORT_RETRIES
            && (status == NtStatus.STATUS_SHARING_VIOLATION.code() || status == NtStatus.STATUS_ADDRESS_ALREADY_EXISTS.code())) {
            // The stack still holds the port we chose (TIME-WAIT): choose another, as a wildcard bind allows.
            int p = provider.ports.allocate();
            if (p != 0) {
                connectRetries++;
                provider.ports.free(s.port);
                s.setLocal(s.localIp, p);
                if (issueConnect()) {
                    return;
                }
                status = NtStatus.STATUS_INSUFFICIENT_RESOURCES.code();
            }
        }
        connectIrp = null;
        s.state = WskSocket.BOUND;
        s.clearRemote();
        if (irp.op == OP_SOCKET_CONNECT) {
            s.closeInternal(null);
        }
        provider.complete(irp, status, 0, null);
    }

}
