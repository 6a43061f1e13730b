package io.fastpath.wsk;

import io.fastpath.provider.NtStatus;

/**
 * A WSK socket's local address: WskBind (a port of the stack's PortTable, SO_REUSEADDR / SO_EXCLUSIVEADDRUSE;
 * an ephemeral port for port 0) and, for listen and stream sockets, WskListen: the stack listens, with another
 * ephemeral port when the stack still uses the chosen one. Dispatch thread.
 */
final class WskBinding {
    private static final int MAX_PORT_RETRIES = 16;

    private final WskSocket s;
    private final WskProvider provider;
    Irp listenIrp;
    private int listenRetries;

    WskBinding(WskSocket socket) {
        this.s = socket;
        this.provider = socket.provider;
    }

    /** A renewed socket's binding: no listen in progress. */
    void reset() {
        listenIrp = null;
        listenRetries = 0;
    }

    boolean listening() {
        return listenIrp != null;
    }

    int bindIrp(Irp irp) {
        int status = bind(irp.address);
        if (status != NtStatus.STATUS_SUCCESS.code()) {
            return provider.complete(irp, status, 0, null);
        }
        if (s.category() == Wsk.WSK_FLAG_LISTEN_SOCKET) {
            return startListen(irp);
        }
        return provider.complete(irp, NtStatus.STATUS_SUCCESS.code(), 0, null);
    }

    int bind(SocketAddressV4 address) {
        if (address == null) {
            return NtStatus.STATUS_INVALID_PARAMETER.code();
        }
        if (s.state != WskSocket.CREATED) {
            return NtStatus.STATUS_INVALID_DEVICE_STATE.code();
        }
        if (address.ip() != 0 && address.ip() != provider.stackAddress) {
            return NtStatus.STATUS_INVALID_ADDRESS.code();
        }
        boolean wildcard = address.port() == 0;
        int p;
        if (wildcard) {
            p = provider.ports.allocate(s.options.exclusiveAddress);
            if (p == 0) {
                return NtStatus.STATUS_TOO_MANY_ADDRESSES.code();
            }
        } else {
            // Held with SO_EXCLUSIVEADDRUSE: a socket asking to share is denied, any other finds it in use; a
            // s.port held without it is shared only by sockets asking to (SO_REUSEADDR) and not for exclusive use.
            p = address.port();
            int status = provider.ports.bind(p, s.options.reuseAddress, s.options.exclusiveAddress);
            if (status != NtStatus.STATUS_SUCCESS.code()) {
                return status;
            }
        }
        s.ownsPort = true;
        s.wildcardPort = wildcard;
        s.setLocal(address.ip(), p);
        s.state = WskSocket.BOUND;
        return NtStatus.STATUS_SUCCESS.code();
    }

    private void unbind() {
        if (s.ownsPort) {
            provider.ports.free(s.port);
            s.ownsPort = false;
        }
        s.clearLocal();
        s.wildcardPort = false;
        s.state = WskSocket.CREATED;
    }

    int listen(Irp irp) {
        if (s.category() != Wsk.WSK_FLAG_STREAM_SOCKET) {
            return provider.complete(irp, NtStatus.STATUS_NOT_SUPPORTED.code(), 0, null);
        }
        if (s.state != WskSocket.BOUND || listenIrp != null) {
            return provider.complete(irp, NtStatus.STATUS_INVALID_DEVICE_STATE.code(), 0, null);
        }
        return startListen(irp);
    }

    private int startListen(Irp irp) {
        if (provider.listenPending.containsKey(s.port) || provider.listeners.containsKey(s.port)) {
            // Another socket sharing the s.port (SO_REUSEADDR) listens on it already: one listener a s.port.
            return failListen(irp, NtStatus.STATUS_SHARING_VIOLATION.code());
        }
        if (!provider.tcp.listen(s.port, s.options.listenOptions())) {
            return failListen(irp, NtStatus.STATUS_INSUFFICIENT_RESOURCES.code());
        }
        listenIrp = irp;
        listenRetries = 0;
        provider.listenPending.put(s.port, s);
        irp.markPending();
        return NtStatus.STATUS_PENDING.code();
    }

    private int failListen(Irp irp, int status) {
        if (s.category() == Wsk.WSK_FLAG_LISTEN_SOCKET) {
            unbind();
        }
        return provider.complete(irp, status, 0, null);
    }

    void onListenComplete(int listenPort, int status) {
        Irp irp = listenIrp;
        listenIrp = null;
        if (s.closed || irp == null) {
            if (status == NtStatus.STATUS_SUCCESS.code()) {
                provider.stopListening(listenPort);
            }
            return;
        }
        if (status == NtStatus.STATUS_SUCCESS.code()) {
            s.state = WskSocket.LISTENING;
            provider.listeners.put(s.port, s);
            provider.complete(irp, NtStatus.STATUS_SUCCESS.code(), 0, null);
            return;
        }
        if (s.wildcardPort && status == NtStatus.STATUS_SHARING_VIOLATION.code() && listenRetries < MAX_PORT_RETRIES) {
            // The stack still uses the s.port we chose (a connection in TIME-WAIT): take another.
            int p = provider.ports.allocate(s.options.exclusiveAddress);
            if (p != 0 && !provider.tcp.listen(p, s.options.listenOptions())) {
                provider.ports.free(p);
            } else if (p != 0) {
                int retries = listenRetries + 1;
                provider.ports.free(s.port);
                s.setLocal(s.localIp, p);
                listenIrp = irp;
                listenRetries = retries;
                provider.listenPending.put(p, s);
                return;
            }
        }
        failListen(irp, status);
    }
}
