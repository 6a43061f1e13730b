package io.fastpath.ndk;

import io.fastpath.provider.NtStatus;
import io.fastpath.provider.PortTable;
import java.util.ArrayDeque;

/**
 * An NDK listener (NdkCreateListener): listens on a TCP port of the stack and hands each MPA connect request to
 * its connect-event callback as a new {@link NdkConnector}, which the consumer accepts or rejects. Connect
 * events can be paused (NdkControlConnectEvents): requests then wait, up to the adapter's connect backlog;
 * requests beyond the backlog (undecided + waiting) are refused with a TCP reset, which the initiator sees
 * as STATUS_CONNECTION_REFUSED. Threads: {@link #listen} from any thread, the rest on the dispatch thread.
 */
public final class NdkListener {
    private static final int IDLE = 0;
    private static final int LISTEN_PENDING = 1;
    private static final int LISTENING = 2;
    private static final int CLOSED = 3;

    private final NdkAdapter adapter;
    private final NdkConnectEventCallback callback;
    private final Object callbackContext;
    private final ArrayDeque<NdkConnector> waiting = new ArrayDeque<>();
    private int state = IDLE;
    private int port;
    private boolean autoPort;
    private int portTries;
    private boolean paused;
    /** Requests delivered and not yet accepted or rejected, plus those waiting. */
    private int undecided;
    private final NdkPendingCall call = new NdkPendingCall();

    NdkListener(NdkAdapter adapter, NdkConnectEventCallback callback, Object callbackContext) {
        this.adapter = adapter;
        this.callback = callback;
        this.callbackContext = callbackContext;
    }

    /**
     * NdkListen. STATUS_PENDING, then the completion with STATUS_SUCCESS or the stack's status
     * (STATUS_SHARING_VIOLATION: the port is in use by something else on the stack). Inline:
     * STATUS_INVALID_ADDRESS (not the stack's address nor 0), STATUS_SHARING_VIOLATION (port used by another
     * listener or shared endpoint of this adapter), STATUS_TOO_MANY_ADDRESSES (port 0 and 49152–65535 all in
     * use), STATUS_INSUFFICIENT_RESOURCES (the adapter's listener limit, or the stack's request ring full),
     * STATUS_INVALID_DEVICE_STATE (already listening or closed).
     */
    public NtStatus listen(SockAddrIn address, NdkRequestCompletion completion, Object requestContext) {
        if (!adapter.onDispatchThread()) {
            return adapter.defer(completion, requestContext, () -> listen(address, completion, requestContext));
        }
        if (state != IDLE) {
            return NtStatus.STATUS_INVALID_DEVICE_STATE;
        }
        if (address == null || completion == null) {
            return NtStatus.STATUS_INVALID_PARAMETER;
        }
        if (address.ip() != 0 && address.ip() != adapter.stackAddress) {
            return NtStatus.STATUS_INVALID_ADDRESS;
        }
        if (adapter.listenerCount() >= adapter.info().maxListeners()) {
            return NtStatus.STATUS_INSUFFICIENT_RESOURCES;
        }
        autoPort = address.port() == 0;
        int p = adapter.ports.choose(address.port());
        if (p < 0) {
            return NtStatus.of(p); // STATUS_TOO_MANY_ADDRESSES, STATUS_SHARING_VIOLATION
        }
        if (!adapter.tcp.listen(p)) {
            adapter.ports.free(p);
            return NtStatus.STATUS_INSUFFICIENT_RESOURCES;
        }
        port = p;
        portTries = 1;
        adapter.addListener(p, this);
        call.start(completion, requestContext);
        state = LISTEN_PENDING;
        return NtStatus.STATUS_PENDING;
    }

    void onListenComplete(int status) {
        if (state == CLOSED) {
            if (status == NtStatus.STATUS_SUCCESS.code()) {
                adapter.stopListening(port);
            }
            adapter.removeListener(port, this);
            adapter.ports.free(port);
            return;
        }
        if (status == NtStatus.STATUS_SUCCESS.code()) {
            state = LISTENING;
            finish(status);
            deliverWaiting(); // events resumed (or never paused) while the listen was pending
            return;
        }
        adapter.removeListener(port, this);
        adapter.ports.free(port);
        if (status == NtStatus.STATUS_SHARING_VIOLATION.code() && autoPort
            && portTries <= PortTable.EPHEMERAL_LAST - PortTable.EPHEMERAL_FIRST) {
            // Something else on the stack holds this port: try the next free one.
            int p = adapter.ports.allocate();
            if (p != 0 && !adapter.tcp.listen(p)) {
                adapter.ports.free(p);
            } else if (p != 0) {
                adapter.addListener(p, this);
                port = p;
                portTries++;
                return;
            }
            status = p == 0 ? NtStatus.STATUS_TOO_MANY_ADDRESSES.code() : NtStatus.STATUS_INSUFFICIENT_RESOURCES.code();
        }
        state = IDLE;
        port = 0;
        finish(status);
    }

    private void finish(int status) {
        call.finish(adapter, status);
    }

    /** NdkGetListenerLocalAddress: the address listened on (port 0 resolved), or null before listening. */
    public SockAddrIn getListenerLocalAddress() {
        adapter.checkThread();
        return state == LISTENING ? new SockAddrIn(adapter.stackAddress, port) : null;
    }

    /**
     * NdkControlConnectEvents: {@code pause} holds connect events back (requests wait, up to the backlog);
     * resuming delivers those that waited, in order (at once, or when a pending listen completes).
     * STATUS_SUCCESS, in any state.
     */
    public NtStatus controlConnectEvents(boolean pause) {
        adapter.checkThread();
        paused = pause;
        deliverWaiting();
        return NtStatus.STATUS_SUCCESS;
    }

    /** Delivers the requests that waited, in order, unless paused (a callback may pause again). */
    private void deliverWaiting() {
        while (!paused && !waiting.isEmpty() && state == LISTENING) {
            NdkConnector c = waiting.poll();
            if (c.waitingForDecision()) {
                deliver(c);
            }
        }
    }

    /** A connect request arrived on a TCP connection this listener accepted. */
    void offer(NdkConnector c) {
        if (state != LISTENING) {
            c.refuse();
            return;
        }
        if (undecided >= adapter.info().connectBacklog()) {
            adapter.countRefusedBacklog();
            c.refuse();
            return;
        }
        undecided++;
        if (paused) {
            waiting.add(c);
        } else {
            deliver(c);
        }
    }

    private void deliver(NdkConnector c) {
        try {
            callback.onConnectEvent(callbackContext, c);
        } catch (Throwable t) {
            adapter.onCallbackError(t);
        }
    }

    /** A request this listener counted was accepted, rejected or lost its connection. */
    void decided(NdkConnector c) {
        undecided--;
        waiting.remove(c);
    }

    boolean listening() {
        return state == LISTENING;
    }

    /**
     * NdkCloseListener: stops listening; requests not yet delivered are refused (TCP reset); connectors
     * already delivered stay the consumer's. Synchronous: STATUS_SUCCESS.
     */
    public NtStatus close() {
        adapter.checkThread();
        if (state == CLOSED) {
            return NtStatus.STATUS_SUCCESS;
        }
        int was = state;
        state = CLOSED;
        for (NdkConnector c; (c = waiting.poll()) != null; ) {
            undecided--;
            c.refuse();
        }
        if (was == LISTENING) {
            adapter.stopListening(port);
            adapter.removeListener(port, this);
            adapter.ports.free(port);
        } else if (was == LISTEN_PENDING) {
            // the stack still answers: onListenComplete cleans up
            finish(NtStatus.STATUS_CANCELLED.code());
        }
        return NtStatus.STATUS_SUCCESS;
    }
}
