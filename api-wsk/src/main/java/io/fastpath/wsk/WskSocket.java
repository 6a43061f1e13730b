package io.fastpath.wsk;

import static io.fastpath.wsk.WskProvider.OP_ACCEPT;
import static io.fastpath.wsk.WskProvider.OP_BIND;
import static io.fastpath.wsk.WskProvider.OP_CLOSE;
import static io.fastpath.wsk.WskProvider.OP_CONNECT;
import static io.fastpath.wsk.WskProvider.OP_CONNECT_EX;
import static io.fastpath.wsk.WskProvider.OP_CONTROL;
import static io.fastpath.wsk.WskProvider.OP_DISCONNECT;
import static io.fastpath.wsk.WskProvider.OP_INSPECT_COMPLETE;
import static io.fastpath.wsk.WskProvider.OP_GET_LOCAL;
import static io.fastpath.wsk.WskProvider.OP_GET_REMOTE;
import static io.fastpath.wsk.WskProvider.OP_LISTEN;
import static io.fastpath.wsk.WskProvider.OP_RECEIVE;
import static io.fastpath.wsk.WskProvider.OP_SEND;
import static io.fastpath.wsk.WskProvider.OP_SOCKET_CONNECT;

import io.fastpath.provider.DescriptorQueue;
import io.fastpath.provider.Verifier;
import io.fastpath.provider.IrpQueue;
import io.fastpath.provider.NtStatus;
import io.fastpath.stack.tcp.TcpSocketOptions;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import org.agrona.collections.MutableLong;

/**
 * A WSK socket (WSK_SOCKET with its provider dispatch table) over one stack connection or listening port.
 * Created by {@link WskProvider#socket}, {@link WskProvider#socketConnect}, or by an accept. Its category -
 * listen, connection or stream - decides which calls it supports; the others return STATUS_NOT_SUPPORTED.
 *
 * <p>Every call takes a caller-owned {@link Irp}, returns STATUS_SUCCESS, STATUS_PENDING or a failure, and
 * completes the IRP with that status (see {@link WskProvider} for threads). Once the connection is reset,
 * times out or is aborted, or once the socket is closed, every call but {@link #closeSocket} fails with
 * STATUS_FILE_FORCED_CLOSED.
 *
 * <p>Buffers: {@link WskBuf}s name the caller's native memory, which must stay valid until the IRP
 * completes. Received data is held as the stack's zero-copy descriptors until a WskReceive copies it out or
 * a receive event consumes or keeps it; the bytes held count against the connection's receive window.
 */
public final class WskSocket {
    static final int CREATED = 0;
    static final int BOUND = 1;
    static final int LISTENING = 2;
    static final int CONNECTING = 3;
    static final int CONNECTED = 4;
    /** Closed both ways in good order (both FINs acknowledged). */
    static final int DISCONNECTED = 5;
    /** Reset, timed out or aborted. */
    static final int DEAD = 6;

    /** Send IRPs handed to TcpService at once per socket (it holds 16); the rest wait here. */
    private static final int MAX_SENDS_IN_STACK = 8;
    private static final int MAX_BACKLOG = 128;
    private static final int MAX_PORT_RETRIES = 16;
    private static final int MAX_CONNECT_EX_BYTES = 65_535;
    private static final int LISTENER_EVENTS = Wsk.WSK_EVENT_ACCEPT | Wsk.WSK_EVENT_RECEIVE | Wsk.WSK_EVENT_DISCONNECT
        | Wsk.WSK_EVENT_SEND_BACKLOG;
    private static final int CONNECTION_EVENTS = Wsk.WSK_EVENT_RECEIVE | Wsk.WSK_EVENT_DISCONNECT
        | Wsk.WSK_EVENT_SEND_BACKLOG;

    final WskProvider provider;
    final long id;
    private final int category;
    private Object context;
    private WskClientDispatch dispatch;

    int state = CREATED;
    private boolean closed;
    private SocketAddressV4 local;
    private SocketAddressV4 remote;
    private boolean wildcardPort;
    private boolean ownsPort;
    private int port;
    private long handle;
    private int events;
    private boolean receiveEventsSuspended;
    private boolean indicating;
    private final MutableLong bytesAccepted = new MutableLong();

    // options (applied to the connection once there is one)
    private boolean noDelay;
    private boolean fastOpen;
    private boolean keepAlive;
    private long keepIdleSeconds = 7200;
    private long keepIntervalSeconds = 1;
    private long keepCount = 10;
    private int receiveBufferBytes;        // SO_RCVBUF, 0 = the stack's
    private long maxRetransmitSeconds;     // TCP_MAXRT, 0 = the retry counts only
    private int timestamps = -1;           // TCP_TIMESTAMPS: -1 = the stack's choice, 0 off, 1 on
    private boolean reuseAddress;          // SO_REUSEADDR
    private boolean exclusiveAddress;      // SO_EXCLUSIVEADDRUSE

    // listening
    private final IrpQueue<Irp> acceptIrps = new IrpQueue<>();
    private WskSocket backlogHead;
    private WskSocket backlogTail;
    private WskSocket nextInBacklog;
    private int backlogCount;
    private WskSocket listener;
    private Irp listenIrp;
    /** SO_CONDITIONAL_ACCEPT: connection requests go through WskInspectEvent first. */
    private boolean conditionalAccept;
    private int inspectSerial;
    /** Connection requests (held SYNs) whose inspection was pended (WskInspectPend), by stack handle. */
    private org.agrona.collections.Long2ObjectHashMap<WskInspectId> pendedRequests;
    private int listenRetries;

    // connecting
    private Irp connectIrp;
    private boolean connectInFlight;
    /** The stack's request ring position after the last CONNECT was submitted ({@link #completeCancelledConnect}). */
    private long connectRecordPosition;
    private int connectRetries;

    // data
    private final DescriptorQueue rx;
    private final IrpQueue<Irp> receiveIrps = new IrpQueue<>();
    private final IrpQueue<Irp> sendIrps = new IrpQueue<>();
    private int submittedSends;
    private boolean peerClosed;
    private boolean disconnectRequested;
    private boolean finPosted;
    private boolean disconnectIndicated;
    /** The stack's ideal send backlog for this connection (0: not reported yet). */
    private int idealSendBacklog;
    private boolean abortIssued;
    /** A pending connect was cancelled (IoCancelIrp): the stack's answer for it ends the attempt. */
    private boolean connectCancelled;
    private boolean stackClosed;
    private Irp disconnectIrp;
    private Irp abortIrp;
    private Irp closeIrp;
    private boolean forgotten;
    private boolean needOptions;
    private boolean noDelayTouched;
    private boolean keepAliveTouched;

    WskSocket(WskProvider provider, long id, int category, Object context, WskClientDispatch dispatch) {
        this.provider = provider;
        this.id = id;
        this.category = category;
        this.context = context;
        this.dispatch = dispatch;
        this.rx = new DescriptorQueue(category == Wsk.WSK_FLAG_LISTEN_SOCKET ? 4 : 64);
    }

    // ================================================================================ public calls

    /**
     * WskBind: binds to a local address: the stack's address or 0.0.0.0, and a port or 0 (a free port from
     * 49152-65535 is chosen now). A listen socket starts listening, and the IRP completes when the stack
     * listens. STATUS_INVALID_ADDRESS (not our address), STATUS_SHARING_VIOLATION (port in use),
     * STATUS_INVALID_DEVICE_STATE (already bound).
     */
    public int bind(SocketAddressV4 localAddress, Irp irp) {
        Irp i = start(irp, OP_BIND);
        i.address = localAddress;
        return provider.submit(i);
    }

    /** WskListen (stream sockets): starts listening on the bound port; completes when the stack listens. */
    public int listen(Irp irp) {
        return provider.submit(start(irp, OP_LISTEN));
    }

    /** WskAccept with no context or dispatch for the new socket. */
    public int accept(Irp irp) {
        return accept(0, null, null, irp);
    }

    /**
     * WskAccept: takes the next connection of a listening socket: at once if one is waiting, else PENDING
     * until one arrives (queued accepts take connections before the accept event does). Completes with
     * Information = the new connection {@link WskSocket}, whose events start disabled.
     */
    public int accept(int flags, Object acceptSocketContext, WskClientConnectionDispatch acceptSocketDispatch, Irp irp) {
        return accept(flags, acceptSocketContext, acceptSocketDispatch, null, null, irp);
    }

    /**
     * WskAccept with its LocalAddress and RemoteAddress out-parameters (each optional, may be null): on success
     * they hold the accepted connection's local and remote transport addresses before the IRP completes.
     */
    public int accept(int flags, Object acceptSocketContext, WskClientConnectionDispatch acceptSocketDispatch,
                      SocketAddressV4Out localAddress, SocketAddressV4Out remoteAddress, Irp irp) {
        Irp i = start(irp, OP_ACCEPT);
        i.flags = flags;
        i.requestContext = acceptSocketContext;
        i.requestDispatch = acceptSocketDispatch;
        i.localOut = localAddress;
        i.remoteOut = remoteAddress;
        return provider.submit(i);
    }

    /** Fills WskAccept's optional address out-parameters from the accepted socket {@code s}. */
    private static void acceptAddresses(Irp irp, WskSocket s) {
        if (irp.localOut != null) {
            irp.localOut.set(s.local);
        }
        if (irp.remoteOut != null) {
            irp.remoteOut.set(s.remote);
        }
    }

    /**
     * WskConnect: connects a bound socket. Completes with STATUS_SUCCESS once the handshake is done, or
     * STATUS_CONNECTION_REFUSED, STATUS_IO_TIMEOUT, STATUS_HOST_UNREACHABLE, STATUS_NETWORK_UNREACHABLE, ...
     * STATUS_INVALID_DEVICE_STATE when not bound or already connecting/connected.
     */
    public int connect(SocketAddressV4 remoteAddress, Irp irp) {
        Irp i = start(irp, OP_CONNECT);
        i.address = remoteAddress;
        return provider.submit(i);
    }

    /**
     * WskConnectEx: connects and sends {@code buffer} (may be null): with TCP_FASTOPEN set and a cookie cached
     * for the server the data rides in the SYN (RFC 7413), else it follows the handshake. The buffer may be
     * reused when the IRP completes (Information = bytes handed over). STATUS_BUFFER_OVERFLOW above 65,535
     * bytes, STATUS_INVALID_PARAMETER when {@code flags} ≠ 0, STATUS_INVALID_DEVICE_STATE when not bound.
     */
    public int connectEx(SocketAddressV4 remoteAddress, WskBuf buffer, int flags, Irp irp) {
        Irp i = start(irp, OP_CONNECT_EX);
        i.address = remoteAddress;
        buffer(i, buffer);
        i.flags = flags;
        return provider.submit(i);
    }

    /**
     * WskSend: completes when every byte is in the stack's send buffer (Information = bytes), so the caller
     * may reuse its buffer then. Flags: WSK_FLAG_NODELAY (accepted; the stack has no per-send push yet, use
     * TCP_NODELAY); others STATUS_NOT_SUPPORTED. STATUS_INVALID_DEVICE_STATE when not connected or after
     * WskDisconnect.
     */
    public int send(WskBuf buffer, int flags, Irp irp) {
        Irp i = start(irp, OP_SEND);
        buffer(i, Objects.requireNonNull(buffer, "buffer"));
        i.flags = flags;
        return provider.submit(i);
    }

    /**
     * WskReceive: completes with Information = bytes as soon as there are any (WSK_FLAG_WAITALL: when the
     * buffer is full, or on disconnect or cancel, with what it has); <b>0 bytes means the peer closed its
     * side</b>. WSK_FLAG_DRAIN discards data until the peer closes. A zero-length receive completes at once
     * and lets receive events flow again after a callback did not take all the data. After a reset the
     * pending receives complete with STATUS_CONNECTION_RESET.
     */
    public int receive(WskBuf buffer, int flags, Irp irp) {
        Irp i = start(irp, OP_RECEIVE);
        buffer(i, Objects.requireNonNull(buffer, "buffer"));
        i.flags = flags;
        return provider.submit(i);
    }

    /**
     * WskDisconnect. Graceful (flags 0): sends {@code buffer} (may be null) after the data already queued,
     * then FIN; receiving goes on (half-close); the IRP completes when the peer has acknowledged our FIN (or the
     * connection closed both ways). Abortive (WSK_FLAG_ABORTIVE, buffer null): resets the
     * connection, cancels pending sends, and completes when the stack has dropped the connection.
     */
    public int disconnect(WskBuf buffer, int flags, Irp irp) {
        Irp i = start(irp, OP_DISCONNECT);
        buffer(i, buffer);
        i.flags = flags;
        return provider.submit(i);
    }

    /**
     * WskCloseSocket: cancels the pending IRPs (STATUS_CANCELLED), stops listening, resets the connection
     * unless it is closed both ways, and completes once the stack has returned every send it held. Chains kept
     * from receive events stay valid until released. Afterwards every call fails with
     * STATUS_FILE_FORCED_CLOSED.
     */
    public int closeSocket(Irp irp) {
        return provider.submit(start(irp, OP_CLOSE));
    }

    /**
     * WskInspectComplete: the decision on a connection request a WskInspectEvent pended: WskInspectAccept or
     * WskInspectReject. STATUS_SUCCESS; STATUS_INVALID_PARAMETER (another action, or no pended request by that
     * id: it was decided already, or the peer gave up: WskAbortEvent); STATUS_NOT_SUPPORTED (not a listener).
     */
    public int inspectComplete(WskInspectId inspectId, int action, Irp irp) {
        Irp i = start(irp, OP_INSPECT_COMPLETE);
        i.requestContext = inspectId;
        i.value = action;
        return provider.submit(i);
    }

    /** WskGetLocalAddress: Information = the bound {@link SocketAddressV4}; STATUS_INVALID_DEVICE_STATE if unbound. */
    public int getLocalAddress(Irp irp) {
        return provider.submit(start(irp, OP_GET_LOCAL));
    }

    /** WskGetRemoteAddress: Information = the peer's address; STATUS_INVALID_DEVICE_STATE if not connected. */
    public int getRemoteAddress(Irp irp) {
        return provider.submit(start(irp, OP_GET_REMOTE));
    }

    /**
     * WskControlSocket with a scalar input: {@code requestType} WskSetOption, WskGetOption (Information = the
     * value) or WskIoctl (Information = the result). Supported: SOL_SOCKET SO_WSK_EVENT_CALLBACK (value = an
     * event mask, or WSK_EVENT_DISABLE | one event), SO_KEEPALIVE, SO_RCVBUF, SO_REUSEADDR, SO_EXCLUSIVEADDRUSE,
     * SO_CONDITIONAL_ACCEPT; IPPROTO_TCP TCP_NODELAY, TCP_FASTOPEN (before connecting), TCP_KEEPIDLE,
     * TCP_KEEPINTVL (seconds), TCP_KEEPCNT, TCP_MAXRT (seconds), TCP_TIMESTAMPS (before connecting); IOCTLs
     * SIO_WSK_QUERY_RECEIVE_BACKLOG, SIO_WSK_QUERY_IDEAL_SEND_BACKLOG. Anything else: STATUS_NOT_SUPPORTED.
     * {@code irp} may be null on the dispatch thread (the call always completes inline).
     */
    public int controlSocket(int requestType, int controlCode, int level, long inputValue, Irp irp) {
        Irp i;
        if (irp == null) {
            if (!provider.onDispatchThread()) {
                return NtStatus.STATUS_INVALID_PARAMETER.code();
            }
            i = provider.scratch;
            i.reuse();
        } else {
            i = irp;
        }
        start(i, OP_CONTROL);
        i.type = requestType;
        i.controlCode = controlCode;
        i.level = level;
        i.value = inputValue;
        return provider.submit(i);
    }

    /** WskRelease: gives back a chain a receive event kept; see {@link WskProvider#release}. */
    public int release(WskDataIndication dataIndication) {
        return provider.release(dataIndication);
    }

    /** The socket context given at creation (or set by an accept). */
    public Object context() {
        return context;
    }

    /** Sets the socket context (AcceptSocketContext, from inside WskAcceptEvent). Dispatch thread. */
    public void setContext(Object value) {
        this.context = value;
    }

    /** Sets the event callbacks (AcceptSocketDispatch, from inside WskAcceptEvent). Dispatch thread. */
    public void setDispatch(WskClientConnectionDispatch value) {
        this.dispatch = value;
    }

    /** WSK_FLAG_LISTEN_SOCKET, WSK_FLAG_CONNECTION_SOCKET or WSK_FLAG_STREAM_SOCKET. */
    public int category() {
        return category;
    }

    @Override
    public String toString() {
        return "WskSocket[" + id + " " + stateName() + (local != null ? " " + local : "")
            + (remote != null ? " -> " + remote : "") + (closed ? " closed" : "") + "]";
    }

    private String stateName() {
        return switch (state) {
            case CREATED -> "created";
            case BOUND -> "bound";
            case LISTENING -> "listening";
            case CONNECTING -> "connecting";
            case CONNECTED -> "connected";
            case DISCONNECTED -> "disconnected";
            default -> "dead";
        };
    }

    private Irp start(Irp irp, int op) {
        Objects.requireNonNull(irp, "irp");
        irp.begin(op, provider);
        irp.socket = this;
        return irp;
    }

    private static void buffer(Irp irp, WskBuf buffer) {
        if (buffer != null) {
            irp.hasBuffer = true;
            irp.bufferAddress = buffer.address() + buffer.offset();
            irp.bufferLength = buffer.length();
        }
    }

    // ================================================================================ dispatch thread

    int execute(Irp irp) {
        if (closed && irp.op != OP_CLOSE || state == DEAD && irp.op != OP_CLOSE) {
            return complete(irp, NtStatus.STATUS_FILE_FORCED_CLOSED.code());
        }
        return switch (irp.op) {
            case OP_BIND -> doBind(irp);
            case OP_LISTEN -> doListen(irp);
            case OP_ACCEPT -> doAccept(irp);
            case OP_CONNECT, OP_CONNECT_EX -> doConnect(irp);
            case OP_SEND -> doSend(irp);
            case OP_RECEIVE -> doReceive(irp);
            case OP_DISCONNECT -> doDisconnect(irp);
            case OP_CLOSE -> doClose(irp);
            case OP_GET_LOCAL -> local != null ? complete(irp, NtStatus.STATUS_SUCCESS.code(), 0, local)
                : complete(irp, NtStatus.STATUS_INVALID_DEVICE_STATE.code());
            case OP_GET_REMOTE -> remote != null && (state == CONNECTED || state == DISCONNECTED)
                ? complete(irp, NtStatus.STATUS_SUCCESS.code(), 0, remote) : complete(irp, NtStatus.STATUS_INVALID_DEVICE_STATE.code());
            case OP_CONTROL -> doControl(irp);
            case OP_INSPECT_COMPLETE -> doInspectComplete(irp);
            default -> complete(irp, NtStatus.STATUS_INVALID_PARAMETER.code());
        };
    }

    private int complete(Irp irp, int status) {
        return provider.complete(irp, status, 0, null);
    }

    private int complete(Irp irp, int status, long information, Object object) {
        return provider.complete(irp, status, information, object);
    }

    private static int pending(Irp irp) {
        irp.markPending();
        return NtStatus.STATUS_PENDING.code();
    }

    // ---------------------------------------------------------------- bind, listen, accept

    private int doBind(Irp irp) {
        int status = bindAddress(irp.address);
        if (status != NtStatus.STATUS_SUCCESS.code()) {
            return complete(irp, status);
        }
        if (category == Wsk.WSK_FLAG_LISTEN_SOCKET) {
            return startListen(irp);
        }
        return complete(irp, NtStatus.STATUS_SUCCESS.code());
    }

    private int bindAddress(SocketAddressV4 address) {
        if (address == null) {
            return NtStatus.STATUS_INVALID_PARAMETER.code();
        }
        if (state != CREATED) {
            return NtStatus.STATUS_INVALID_DEVICE_STATE.code();
        }
        if (address.ip() != 0 && address.ip() != provider.stackAddress) {
            return NtStatus.STATUS_INVALID_ADDRESS.code();
        }
        boolean wildcard = address.port() == 0;
        int p;
        if (wildcard) {
            p = provider.ports.allocate(exclusiveAddress);
            if (p == 0) {
                return NtStatus.STATUS_TOO_MANY_ADDRESSES.code();
            }
        } else {
            // Held with SO_EXCLUSIVEADDRUSE: a socket asking to share is denied, any other finds it in use; a
            // port held without it is shared only by sockets asking to (SO_REUSEADDR) and not for exclusive use.
            p = address.port();
            int status = provider.ports.bind(p, reuseAddress, exclusiveAddress);
            if (status != NtStatus.STATUS_SUCCESS.code()) {
                return status;
            }
        }
        ownsPort = true;
        wildcardPort = wildcard;
        port = p;
        local = new SocketAddressV4(address.ip(), p);
        state = BOUND;
        return NtStatus.STATUS_SUCCESS.code();
    }

    private void unbind() {
        if (ownsPort) {
            provider.ports.free(port);
            ownsPort = false;
        }
        port = 0;
        local = null;
        wildcardPort = false;
        state = CREATED;
    }

    private int doListen(Irp irp) {
        if (category != Wsk.WSK_FLAG_STREAM_SOCKET) {
            return complete(irp, NtStatus.STATUS_NOT_SUPPORTED.code());
        }
        if (state != BOUND || listenIrp != null) {
            return complete(irp, NtStatus.STATUS_INVALID_DEVICE_STATE.code());
        }
        return startListen(irp);
    }

    private int startListen(Irp irp) {
        if (provider.listenPending.containsKey(port) || provider.listeners.containsKey(port)) {
            // Another socket sharing the port (SO_REUSEADDR) listens on it already: one listener a port.
            if (category == Wsk.WSK_FLAG_LISTEN_SOCKET) {
                unbind();
            }
            return complete(irp, NtStatus.STATUS_SHARING_VIOLATION.code());
        }
        if (!provider.tcp.listen(port, listenOptions())) {
            if (category == Wsk.WSK_FLAG_LISTEN_SOCKET) {
                unbind();
            }
            return complete(irp, NtStatus.STATUS_INSUFFICIENT_RESOURCES.code());
        }
        listenIrp = irp;
        listenRetries = 0;
        provider.listenPending.put(port, this);
        return pending(irp);
    }

    void onListenComplete(int listenPort, int status) {
        Irp irp = listenIrp;
        listenIrp = null;
        if (closed || irp == null) {
            if (status == NtStatus.STATUS_SUCCESS.code()) {
                provider.stopListening(listenPort);
            }
            return;
        }
        if (status == NtStatus.STATUS_SUCCESS.code()) {
            state = LISTENING;
            provider.listeners.put(port, this);
            complete(irp, NtStatus.STATUS_SUCCESS.code());
            return;
        }
        if (wildcardPort && status == NtStatus.STATUS_SHARING_VIOLATION.code() && listenRetries < MAX_PORT_RETRIES) {
            // The stack still uses the port we chose (a connection in TIME-WAIT): take another.
            int p = provider.ports.allocate(exclusiveAddress);
            if (p != 0 && !provider.tcp.listen(p, listenOptions())) {
                provider.ports.free(p);
            } else if (p != 0) {
                int retries = listenRetries + 1;
                provider.ports.free(port);
                port = p;
                local = new SocketAddressV4(local.ip(), p);
                listenIrp = irp;
                listenRetries = retries;
                provider.listenPending.put(p, this);
                return;
            }
        }
        if (category == Wsk.WSK_FLAG_LISTEN_SOCKET) {
            unbind();
        }
        complete(irp, status);
    }

    private int doAccept(Irp irp) {
        if (category == Wsk.WSK_FLAG_CONNECTION_SOCKET) {
            return complete(irp, NtStatus.STATUS_NOT_SUPPORTED.code());
        }
        if (irp.flags != 0 || irp.requestDispatch != null && !(irp.requestDispatch instanceof WskClientConnectionDispatch)) {
            return complete(irp, NtStatus.STATUS_INVALID_PARAMETER.code());
        }
        if (state != LISTENING) {
            return complete(irp, NtStatus.STATUS_INVALID_DEVICE_STATE.code());
        }
        WskSocket s = backlogHead;
        if (s != null) {
            backlogHead = s.nextInBacklog;
            if (backlogHead == null) {
                backlogTail = null;
            }
            backlogCount--;
            s.nextInBacklog = null;
            s.listener = null;
            s.context = irp.requestContext;
            s.dispatch = irp.requestDispatch;
            acceptAddresses(irp, s);
            provider.schedule(s); // data or a FIN that came while it waited
            return complete(irp, NtStatus.STATUS_SUCCESS.code(), 0, s);
        }
        acceptIrps.add(irp);
        return pending(irp);
    }

    /** The stack completed a handshake on our port. */
    void onAccepted(long newHandle, int remoteIp, int remotePort) {
        WskSocket s = provider.newSocket(Wsk.WSK_FLAG_CONNECTION_SOCKET, null, null);
        s.state = CONNECTED;
        s.handle = newHandle;
        s.port = port;
        s.local = new SocketAddressV4(provider.stackAddress, port);
        s.remote = new SocketAddressV4(remoteIp, remotePort);
        // Options set on the listener carry over to its connections, as in Winsock.
        s.noDelay = noDelay;
        s.keepAlive = keepAlive;
        s.keepIdleSeconds = keepIdleSeconds;
        s.keepIntervalSeconds = keepIntervalSeconds;
        s.keepCount = keepCount;
        s.receiveBufferBytes = receiveBufferBytes;
        s.maxRetransmitSeconds = maxRetransmitSeconds;
        s.timestamps = timestamps;
        provider.byHandle.put(newHandle, s);
        s.applyOptions();
        admit(s); // with conditional accept, the inspection said yes before the SYN-ACK went out
    }

    /**
     * Conditional accept: the stack holds a SYN for this listener (no SYN-ACK yet). WskInspectEvent decides:
     * accept lets the handshake go on (the connection then arrives as onAccepted), reject answers the SYN with
     * a RST (the peer's connect is refused), pend waits for WskInspectComplete.
     */
    void onConnectRequest(long handle, int remoteIp, int remotePort) {
        if (closed || !conditionalAccept || !(dispatch instanceof WskClientListenDispatch inspector)) {
            provider.decideRequest(handle, !closed);
            return;
        }
        WskInspectId id = new WskInspectId(handle, ++inspectSerial);
        provider.inspecting.put(handle, this);
        int action;
        try {
            action = inspector.wskInspectEvent(context, new SocketAddressV4(provider.stackAddress, port),
                new SocketAddressV4(remoteIp, remotePort), id);
        } catch (Throwable t) {
            provider.onError(t);
            action = Wsk.WskInspectReject;
        }
        if (action == Wsk.WskInspectPend && !closed) {
            if (pendedRequests == null) {
                pendedRequests = new org.agrona.collections.Long2ObjectHashMap<>();
            }
            pendedRequests.put(handle, id);
            return;
        }
        decideRequest(handle, action == Wsk.WskInspectAccept && !closed);
    }

    private void decideRequest(long handle, boolean accept) {
        provider.inspecting.remove(handle);
        provider.decideRequest(handle, accept);
    }

    /** A held request ended before a decision took it (the peer gave up, or it waited too long). */
    void onRequestAborted(long handle) {
        WskInspectId id = pendedRequests == null ? null : pendedRequests.remove(handle);
        if (id != null && !closed && dispatch instanceof WskClientListenDispatch d) {
            try {
                d.wskAbortEvent(context, id);
            } catch (Throwable t) {
                provider.onError(t);
            }
        }
    }

    private int doInspectComplete(Irp irp) {
        if (category == Wsk.WSK_FLAG_CONNECTION_SOCKET) {
            return complete(irp, NtStatus.STATUS_NOT_SUPPORTED.code());
        }
        int action = (int) irp.value;
        if (action != Wsk.WskInspectAccept && action != Wsk.WskInspectReject) {
            return complete(irp, NtStatus.STATUS_INVALID_PARAMETER.code());
        }
        WskInspectId id = (WskInspectId) irp.requestContext;
        WskInspectId pended = id == null || pendedRequests == null ? null : pendedRequests.get(id.key());
        if (pended == null || !pended.equals(id)) {
            return complete(irp, NtStatus.STATUS_INVALID_PARAMETER.code());
        }
        pendedRequests.remove(id.key());
        decideRequest(id.key(), action == Wsk.WskInspectAccept);
        return complete(irp, NtStatus.STATUS_SUCCESS.code());
    }

    /** A connection the listener accepts: a queued WskAccept takes it, else the accept event, else the backlog. */
    private void admit(WskSocket s) {
        Irp irp = acceptIrps.poll();
        if (irp != null) {
            s.context = irp.requestContext;
            s.dispatch = irp.requestDispatch;
            acceptAddresses(irp, s);
            complete(irp, NtStatus.STATUS_SUCCESS.code(), 0, s);
            return;
        }
        if ((events & Wsk.WSK_EVENT_ACCEPT) != 0 && dispatch instanceof WskClientListenDispatch events0) {
            s.dispatch = dispatch instanceof WskClientConnectionDispatch ? dispatch : null;
            int result;
            try {
                result = events0.wskAcceptEvent(context, provider.eventFlags, s.local, s.remote, s);
            } catch (Throwable t) {
                provider.onError(t);
                result = NtStatus.STATUS_REQUEST_NOT_ACCEPTED.code();
            }
            if (result == NtStatus.STATUS_SUCCESS.code() && !s.closed) {
                // Receive and disconnect events enabled on the listener carry over (WSK, SO_WSK_EVENT_CALLBACK).
                if (s.dispatch instanceof WskClientConnectionDispatch) {
                    s.events |= events & CONNECTION_EVENTS;
                }
                provider.schedule(s);
            } else if (result != NtStatus.STATUS_SUCCESS.code()) {
                s.closeInternal(null);
            }
            return;
        }
        if (backlogCount >= MAX_BACKLOG || closed) {
            s.closeInternal(null);
            return;
        }
        s.listener = this;
        if (backlogTail == null) {
            backlogHead = s;
        } else {
            backlogTail.nextInBacklog = s;
        }
        backlogTail = s;
        backlogCount++;
    }

    private void removeFromBacklog(WskSocket s) {
        WskSocket previous = null;
        for (WskSocket i = backlogHead; i != null; previous = i, i = i.nextInBacklog) {
            if (i == s) {
                if (previous == null) {
                    backlogHead = i.nextInBacklog;
                } else {
                    previous.nextInBacklog = i.nextInBacklog;
                }
                if (backlogTail == i) {
                    backlogTail = previous;
                }
                i.nextInBacklog = null;
                i.listener = null;
                backlogCount--;
                return;
            }
        }
    }

    // ---------------------------------------------------------------- connect

    private int doConnect(Irp irp) {
        if (category == Wsk.WSK_FLAG_LISTEN_SOCKET) {
            return complete(irp, NtStatus.STATUS_NOT_SUPPORTED.code());
        }
        if (irp.op == OP_CONNECT_EX) {
            if (irp.bufferLength > MAX_CONNECT_EX_BYTES) {
                return complete(irp, NtStatus.STATUS_BUFFER_OVERFLOW.code());
            }
            if (irp.flags != 0) {
                return complete(irp, NtStatus.STATUS_INVALID_PARAMETER.code());
            }
        }
        SocketAddressV4 to = irp.address;
        if (to == null || to.ip() == 0 || to.port() == 0) {
            return complete(irp, NtStatus.STATUS_INVALID_PARAMETER.code());
        }
        if (state != BOUND || listenIrp != null) {
            return complete(irp, NtStatus.STATUS_INVALID_DEVICE_STATE.code());
        }
        return startConnect(irp, to);
    }

    /** WskSocketConnect on a fresh socket: bind, then connect with the caller's IRP. */
    int socketConnect(Irp irp) {
        int status = bindAddress(irp.address);
        if (status == NtStatus.STATUS_SUCCESS.code() && (irp.address2.ip() == 0 || irp.address2.port() == 0)) {
            status = NtStatus.STATUS_INVALID_PARAMETER.code();
        }
        if (status != NtStatus.STATUS_SUCCESS.code()) {
            closeInternal(null);
            return complete(irp, status);
        }
        irp.socket = this;
        return startConnect(irp, irp.address2);
    }

    private int startConnect(Irp irp, SocketAddressV4 to) {
        state = CONNECTING;
        remote = to;
        connectIrp = irp;
        connectRetries = 0;
        if (!issueConnect()) {
            state = BOUND;
            remote = null;
            connectIrp = null;
            if (irp.op == OP_SOCKET_CONNECT) {
                closeInternal(null);
            }
            return complete(irp, NtStatus.STATUS_INSUFFICIENT_RESOURCES.code());
        }
        return pending(irp);
    }

    private boolean issueConnect() {
        Irp irp = connectIrp;
        boolean queued;
        if (irp.op == OP_CONNECT_EX) {
            queued = provider.tcp.connect(id, 0, port, remote.ip(), remote.port(), irp.bufferAddress,
                irp.bufferLength, fastOpen, socketOptions());
        } else {
            queued = provider.tcp.connect(id, 0, port, remote.ip(), remote.port(), 0, 0, false, socketOptions());
        }
        connectInFlight = queued;
        if (queued) {
            connectRecordPosition = provider.tcp.requestPosition();
        }
        return queued;
    }

    /**
     * Completes a cancelled ConnectEx STATUS_CANCELLED, once: at once, or, while its CONNECT record still waits
     * in the stack's request ring (it points at the caller's buffer), as soon as the stack has taken it (within
     * a duty cycle; the data is copied then). The caller owns the buffer again when the IRP completes, so the
     * stack must not read it afterwards.
     */
    private void completeCancelledConnect(Irp irp) {
        if (irp.op == OP_CONNECT_EX && irp.bufferLength > 0 && connectInFlight
            && !provider.tcp.requestsTaken(connectRecordPosition)) {
            provider.completeWhenRequestsTaken(irp, connectRecordPosition);
        } else {
            complete(irp, NtStatus.STATUS_CANCELLED.code());
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
    private void cancelConnect(Irp irp) {
        if (irp.op == OP_SOCKET_CONNECT) {
            closeInternal(null); // completes the IRP STATUS_CANCELLED; a late handshake is reset
            return;
        }
        connectIrp = null;
        connectCancelled = true;
        if (!connectInFlight) {
            // the stack's answer already came (a port retry found the ring full): nothing is left there
            connectCancelled = false;
            state = BOUND;
            remote = null;
        }
        completeCancelledConnect(irp);
    }

    void onConnectComplete(long newHandle, int status) {
        connectInFlight = false;
        Irp irp = connectIrp;
        if (connectCancelled && !closed) {
            connectCancelled = false;
            if (status == NtStatus.STATUS_SUCCESS.code()) {
                state = CONNECTED;
                handle = newHandle;
                provider.byHandle.put(newHandle, this);
                abortNow(); // no late completion: the cancelled attempt's connection is reset
            } else {
                state = BOUND;
                remote = null;
            }
            return;
        }
        if (closed || irp == null) {
            connectIrp = null;
            if (status == NtStatus.STATUS_SUCCESS.code()) {
                handle = newHandle;
                provider.byHandle.put(newHandle, this);
                abortNow();
            }
            maybeFinishClose();
            return;
        }
        if (status == NtStatus.STATUS_SUCCESS.code()) {
            connectIrp = null;
            state = CONNECTED;
            handle = newHandle;
            provider.byHandle.put(newHandle, this);
            if (local.ip() == 0) {
                local = new SocketAddressV4(provider.stackAddress, port);
            }
            applyOptions();
            long information = irp.op == OP_CONNECT_EX ? irp.bufferLength : 0;
            complete(irp, NtStatus.STATUS_SUCCESS.code(), information, irp.op == OP_SOCKET_CONNECT ? this : null);
            return;
        }
        if (wildcardPort && connectRetries < MAX_PORT_RETRIES
            && (status == NtStatus.STATUS_SHARING_VIOLATION.code() || status == NtStatus.STATUS_ADDRESS_ALREADY_EXISTS.code())) {
            // The stack still holds the port we chose (TIME-WAIT): choose another, as a wildcard bind allows.
            int p = provider.ports.allocate();
            if (p != 0) {
                connectRetries++;
                provider.ports.free(port);
                port = p;
                local = new SocketAddressV4(local.ip(), p);
                if (issueConnect()) {
                    return;
                }
                status = NtStatus.STATUS_INSUFFICIENT_RESOURCES.code();
            }
        }
        connectIrp = null;
        state = BOUND;
        remote = null;
        if (irp.op == OP_SOCKET_CONNECT) {
            closeInternal(null);
        }
        complete(irp, status);
    }

    /** A listener's options: its connections' options, and conditional accept (held SYNs) when asked for. */
    private long listenOptions() {
        long options = socketOptions();
        return conditionalAccept ? TcpSocketOptions.withConditionalAccept(options) : options;
    }

    /** The options the stack applies to this socket's connection(s) (TcpSocketOptions). */
    private long socketOptions() {
        return TcpSocketOptions.of(timestamps < 0 ? null : timestamps == 1, receiveBufferBytes,
            maxRetransmitSeconds * 1000, reuseAddress);
    }

    /** Hands the socket's options to its connection; what finds the request ring full is retried (doWork). */
    private void applyOptions() {
        if (handle == 0 || stackClosed) {
            return;
        }
        boolean ok = true;
        if (receiveBufferBytes != 0 || maxRetransmitSeconds != 0) {
            ok = provider.tcp.options(handle, socketOptions());
        }
        if (noDelay || noDelayTouched) {
            ok &= provider.tcp.noDelay(handle, noDelay);
        }
        if (keepAlive || keepAliveTouched) {
            ok &= applyKeepAlive();
        }
        if (!ok) {
            needOptions = true;
            provider.schedule(this);
        }
    }

    private boolean applyKeepAlive() {
        if (handle != 0 && !stackClosed) {
            return provider.tcp.keepAlive(handle, keepAlive, TimeUnit.SECONDS.toNanos(keepIdleSeconds),
                TimeUnit.SECONDS.toNanos(keepIntervalSeconds), (int) keepCount);
        }
        return true;
    }

    // ---------------------------------------------------------------- send, disconnect

    private int doSend(Irp irp) {
        if (category == Wsk.WSK_FLAG_LISTEN_SOCKET) {
            return complete(irp, NtStatus.STATUS_NOT_SUPPORTED.code());
        }
        if ((irp.flags & ~Wsk.WSK_FLAG_NODELAY) != 0) {
            return complete(irp, NtStatus.STATUS_NOT_SUPPORTED.code());
        }
        if (state != CONNECTED || disconnectRequested || abortIssued) {
            return complete(irp, NtStatus.STATUS_INVALID_DEVICE_STATE.code());
        }
        sendIrps.add(irp);
        pending(irp);
        pump();
        return NtStatus.STATUS_PENDING.code();
    }

    /** Hands queued sends to the stack, at most MAX_SENDS_IN_STACK at a time, in order; then the FIN. */
    private void pump() {
        if (handle == 0 || stackClosed || abortIssued) {
            return;
        }
        for (Irp irp = sendIrps.peek(); irp != null && submittedSends < MAX_SENDS_IN_STACK; irp = sendIrps.next(irp)) {
            if (irp.submitted) {
                continue;
            }
            if (irp.op == OP_DISCONNECT) {
                if (irp.hasBuffer && irp.bufferLength > 0) {
                    if (!provider.tcp.send(handle, id, irp.bufferAddress, irp.bufferLength)) {
                        provider.schedule(this);
                        return;
                    }
                    irp.submitted = true;
                    submittedSends++;
                } else if (irp == sendIrps.peek()) {
                    // Every byte before it is in the send buffer: now the FIN can follow them.
                    sendIrps.poll();
                    postShutdown(irp);
                }
                return;
            }
            if (!provider.tcp.send(handle, id, irp.bufferAddress, irp.bufferLength)) {
                provider.schedule(this);
                return;
            }
            irp.submitted = true;
            submittedSends++;
        }
    }

    private void postShutdown(Irp irp) {
        finPosted = true;
        disconnectIrp = irp;
        provider.tcp.shutdown(handle); // a control: it cannot be lost to a full ring
    }

    void onSendComplete(int bytes, int status) {
        Irp irp = sendIrps.peek();
        if (irp == null || !irp.submitted) {
            return;
        }
        sendIrps.poll();
        submittedSends--;
        int result = status;
        if (result != NtStatus.STATUS_SUCCESS.code() && (abortIssued || closed)) {
            result = NtStatus.STATUS_CANCELLED.code();
        }
        if (irp.op == OP_DISCONNECT && result == NtStatus.STATUS_SUCCESS.code() && closed) {
            complete(irp, NtStatus.STATUS_CANCELLED.code(), bytes, null); // WskCloseSocket came first: no FIN
        } else if (irp.op == OP_DISCONNECT && result == NtStatus.STATUS_SUCCESS.code()) {
            postShutdown(irp); // the final buffer is in: FIN next; the IRP waits for the FIN's acknowledgement
        } else {
            complete(irp, result, bytes, null);
        }
        if (!closed) {
            pump();
        }
        maybeFinishClose();
    }

    private int doDisconnect(Irp irp) {
        if (category == Wsk.WSK_FLAG_LISTEN_SOCKET) {
            return complete(irp, NtStatus.STATUS_NOT_SUPPORTED.code());
        }
        if ((irp.flags & ~Wsk.WSK_FLAG_ABORTIVE) != 0) {
            return complete(irp, NtStatus.STATUS_NOT_SUPPORTED.code());
        }
        if ((irp.flags & Wsk.WSK_FLAG_ABORTIVE) != 0) {
            if (irp.hasBuffer) {
                return complete(irp, NtStatus.STATUS_INVALID_PARAMETER.code());
            }
            if (state == DISCONNECTED) {
                return complete(irp, NtStatus.STATUS_SUCCESS.code());
            }
            if (state != CONNECTED || abortIrp != null) {
                return complete(irp, NtStatus.STATUS_INVALID_DEVICE_STATE.code());
            }
            // Own the abort before any completion routine runs: a routine may close the socket or abort again.
            abortIrp = irp;
            pending(irp);
            Irp graceful = disconnectIrp;
            disconnectIrp = null;
            cancelUnsubmittedSends(NtStatus.STATUS_CANCELLED.code());
            if (graceful != null) {
                complete(graceful, NtStatus.STATUS_CANCELLED.code());
            }
            if (!closed) {
                abortNow();
            }
            return NtStatus.STATUS_PENDING.code();
        }
        if (state != CONNECTED || disconnectRequested || abortIssued) {
            return complete(irp, NtStatus.STATUS_INVALID_DEVICE_STATE.code());
        }
        disconnectRequested = true;
        sendIrps.add(irp);
        pending(irp);
        pump();
        return NtStatus.STATUS_PENDING.code();
    }

    private void cancelUnsubmittedSends(int status) {
        // Submitted sends are a prefix of the queue: keep them (the stack answers for them), fail the rest.
        Irp last = null;
        for (Irp i = sendIrps.peek(); i != null && i.submitted; i = sendIrps.next(i)) {
            last = i;
        }
        Irp rest = last == null ? sendIrps.peek() : sendIrps.next(last);
        while (rest != null) {
            Irp next = sendIrps.next(rest);
            // A routine may close the socket, which completes the sends still queued: skip those (the verifier
            // reported the second completion this loop used to attempt).
            if (sendIrps.remove(rest)) {
                complete(rest, status, 0, null);
            }
            rest = next;
        }
    }

    private void abortNow() {
        abortIssued = true;
        provider.tcp.abort(handle); // a control: it cannot be lost to a full ring
    }

    // ---------------------------------------------------------------- receive

    private int doReceive(Irp irp) {
        if (category == Wsk.WSK_FLAG_LISTEN_SOCKET) {
            return complete(irp, NtStatus.STATUS_NOT_SUPPORTED.code());
        }
        int flags = irp.flags;
        if ((flags & ~(Wsk.WSK_FLAG_WAITALL | Wsk.WSK_FLAG_DRAIN)) != 0) {
            return complete(irp, NtStatus.STATUS_NOT_SUPPORTED.code());
        }
        if ((flags & Wsk.WSK_FLAG_WAITALL) != 0 && (flags & Wsk.WSK_FLAG_DRAIN) != 0) {
            return complete(irp, NtStatus.STATUS_INVALID_PARAMETER.code());
        }
        if (state != CONNECTED && state != DISCONNECTED) {
            return complete(irp, NtStatus.STATUS_INVALID_DEVICE_STATE.code());
        }
        if (receiveEventsSuspended) {
            receiveEventsSuspended = false;
            provider.schedule(this);
        }
        if (irp.bufferLength == 0 && (flags & Wsk.WSK_FLAG_DRAIN) == 0) {
            return complete(irp, NtStatus.STATUS_SUCCESS.code(), 0, null);
        }
        if (receiveIrps.isEmpty() && !indicating && fill(irp)) {
            return complete(irp, NtStatus.STATUS_SUCCESS.code(), irp.progress, null);
        }
        receiveIrps.add(irp);
        return pending(irp);
    }

    /** Copies queued data into a receive IRP; true when it is done. */
    private boolean fill(Irp irp) {
        if ((irp.flags & Wsk.WSK_FLAG_DRAIN) != 0) {
            releaseAll();
            return peerClosed;
        }
        while (irp.progress < irp.bufferLength && !rx.isEmpty()) {
            int n = (int) Math.min(rx.headRemaining(), irp.bufferLength - irp.progress);
            provider.copy(rx.address(0) + rx.headOffset(), irp.bufferAddress + irp.progress, n);
            irp.progress += n;
            if (rx.consumeHead(n)) {
                releaseHead();
            }
        }
        if (irp.progress == irp.bufferLength || rx.isEmpty() && peerClosed) {
            return true;
        }
        return (irp.flags & Wsk.WSK_FLAG_WAITALL) == 0 && irp.progress > 0;
    }

    private void releaseHead() {
        if (Verifier.ENABLED) {
            Verifier.poison(rx.address(0), rx.length(0));
        }
        provider.releaseDescriptor(handle, rx.mbuf(0), rx.length(0));
        rx.dropHead();
    }

    private void releaseAll() {
        while (!rx.isEmpty()) {
            releaseHead();
        }
    }

    void onReceive(long mbuf, long address, int length) {
        if (closed) {
            if (Verifier.ENABLED) {
                Verifier.poison(address, length);
            }
            provider.releaseDescriptor(handle, mbuf, length);
            return;
        }
        rx.add(mbuf, address, length);
        if (listener == null) {
            provider.schedule(this); // batched: one pass after this round's events
        }
    }

    /** The peer acknowledged our FIN: a graceful WskDisconnect is done (receiving may go on: half-close). */
    void onShutdownComplete() {
        Irp graceful = disconnectIrp;
        if (graceful != null && finPosted && !closed) {
            disconnectIrp = null;
            complete(graceful, NtStatus.STATUS_SUCCESS.code());
        }
    }

    /** The stack's ideal send backlog changed: WskSendBacklogEvent, when enabled. */
    void onIdealSendBacklog(int bytes) {
        idealSendBacklog = bytes;
        if (closed || listener != null || state != CONNECTED) {
            return;
        }
        if ((events & Wsk.WSK_EVENT_SEND_BACKLOG) != 0 && dispatch instanceof WskClientConnectionDispatch d) {
            try {
                d.wskSendBacklogEvent(context, bytes);
            } catch (Throwable t) {
                provider.onError(t);
            }
        }
    }

    void onPeerClosed() {
        peerClosed = true;
        if (closed || listener != null) {
            return; // a socket not handed out yet raises it once it is (doWork)
        }
        deliver(); // the data before the FIN first
        raiseGracefulDisconnect();
    }

    /** WskDisconnectEvent for the peer's FIN, once, when enabled (also for a socket accepted after the FIN). */
    private void raiseGracefulDisconnect() {
        if (peerClosed && !disconnectIndicated && !closed && listener == null
            && (events & Wsk.WSK_EVENT_DISCONNECT) != 0 && dispatch instanceof WskClientConnectionDispatch d) {
            disconnectIndicated = true;
            try {
                d.wskDisconnectEvent(context, provider.eventFlags);
            } catch (Throwable t) {
                provider.onError(t);
            }
        }
    }

    /** Fills pending receive IRPs in order, then offers what is left to the receive event. */
    private void deliver() {
        if (closed || indicating || listener != null) {
            return;
        }
        Irp irp;
        while ((irp = receiveIrps.peek()) != null) {
            if (!fill(irp)) {
                return;
            }
            receiveIrps.poll();
            complete(irp, NtStatus.STATUS_SUCCESS.code(), irp.progress, null);
            if (closed || indicating) {
                return;
            }
        }
        indicate();
    }

    private void indicate() {
        if ((events & Wsk.WSK_EVENT_RECEIVE) == 0 || receiveEventsSuspended || rx.isEmpty()
            || !(dispatch instanceof WskClientConnectionDispatch d)) {
            return;
        }
        int n = rx.count();
        WskDataIndication head = null;
        WskDataIndication tail = null;
        for (int i = 0; i < n; i++) {
            WskDataIndication link = provider.acquireIndication();
            int offset = i == 0 ? rx.headOffset() : 0;
            link.handle = handle;
            link.mbuf = rx.mbuf(i);
            link.descriptorLength = rx.length(i);
            link.socket = this;
            link.chainHead = i == 0;
            link.next = null;
            link.mutableBuffer().set(rx.address(i), offset, rx.length(i) - offset);
            link.state(WskDataIndication.INDICATED);
            if (tail == null) {
                head = link;
            } else {
                tail.next = link;
            }
            tail = link;
        }
        long indicated = rx.bytes();
        // RELEASE_ASAP when this socket holds half its receive buffer, or when the stack's TCP memory runs short
        // (issue 10: applications holding zero-copy buffers are told before the pool runs dry).
        int flags = indicated >= provider.receiveBufferBytes / 2 || provider.tcp.memoryPressure()
            ? Wsk.WSK_FLAG_RELEASE_ASAP : 0;
        bytesAccepted.set(indicated);
        int result;
        indicating = true;
        long start = Verifier.ENABLED ? Verifier.handlerStart() : 0;
        try {
            result = d.wskReceiveEvent(context, flags | provider.eventFlags, head, indicated, bytesAccepted);
        } catch (Throwable t) {
            provider.onError(t);
            result = NtStatus.STATUS_DATA_NOT_ACCEPTED.code();
        } finally {
            indicating = false;
        }
        if (Verifier.ENABLED) {
            Verifier.handlerDone(start, d, "WskReceiveEvent");
        }
        if (result == NtStatus.STATUS_PENDING.code()) {
            // The application keeps the chain: the descriptors are its own until WskRelease.
            for (int i = 0; i < n; i++) {
                rx.dropHead();
            }
            if (Verifier.ENABLED) {
                Verifier.chainHeld(head, "WSK data indication chain");
            }
            for (WskDataIndication link = head; link != null; link = link.next) {
                link.state(WskDataIndication.RETAINED);
            }
        } else {
            long take = result == NtStatus.STATUS_SUCCESS.code() ? Math.max(0, Math.min(bytesAccepted.get(), indicated)) : 0;
            consume(take);
            WskDataIndication link = head;
            while (link != null) {
                WskDataIndication next = link.next;
                provider.freeIndication(link);
                link = next;
            }
            if (take < indicated) {
                receiveEventsSuspended = true; // until the application posts a WskReceive
            }
        }
        if (closed) {
            releaseAll();
        } else if (!receiveIrps.isEmpty()) {
            provider.schedule(this); // a receive posted from inside the callback
        }
    }

    private void consume(long bytes) {
        long left = bytes;
        while (left > 0 && !rx.isEmpty()) {
            int n = (int) Math.min(rx.headRemaining(), left);
            left -= n;
            if (rx.consumeHead(n)) {
                releaseHead();
            }
        }
    }

    // ---------------------------------------------------------------- the connection ends

    void onStackClosed(int status) {
        stackClosed = true;
        if (status == NtStatus.STATUS_SUCCESS.code()) {
            peerClosed = true;
            state = DISCONNECTED;
        } else {
            state = DEAD;
        }
        if (listener != null) {
            if (status != NtStatus.STATUS_SUCCESS.code()) {
                WskSocket l = listener;
                l.removeFromBacklog(this);
                closeInternal(null);
            }
            return;
        }
        if (closed) {
            maybeFinishClose();
            return;
        }
        Irp graceful = disconnectIrp;
        disconnectIrp = null;
        Irp abortive = abortIrp;
        abortIrp = null;
        if (status == NtStatus.STATUS_SUCCESS.code()) {
            deliver();
            cancelUnsubmittedSends(NtStatus.STATUS_INVALID_DEVICE_STATE.code());
            if (graceful != null) {
                complete(graceful, NtStatus.STATUS_SUCCESS.code());
            }
            if (abortive != null) {
                complete(abortive, NtStatus.STATUS_SUCCESS.code());
            }
            return;
        }
        releaseAll();
        Irp irp;
        while ((irp = receiveIrps.poll()) != null) {
            complete(irp, status, irp.progress, null);
        }
        cancelUnsubmittedSends(abortIssued ? NtStatus.STATUS_CANCELLED.code() : status);
        while ((irp = sendIrps.poll()) != null) {
            submittedSends--;
            complete(irp, abortIssued ? NtStatus.STATUS_CANCELLED.code() : status, 0, null);
        }
        submittedSends = 0;
        if (graceful != null) {
            complete(graceful, abortIssued ? NtStatus.STATUS_CANCELLED.code() : status);
        }
        if (abortive != null) {
            complete(abortive, NtStatus.STATUS_SUCCESS.code());
        }
        if (!abortIssued && !closed && dispatch instanceof WskClientConnectionDispatch d) {
            // The peer reset (or the connection timed out): tell whoever listens.
            try {
                if ((events & Wsk.WSK_EVENT_DISCONNECT) != 0) {
                    d.wskDisconnectEvent(context, Wsk.WSK_FLAG_ABORTIVE | provider.eventFlags);
                } else if ((events & Wsk.WSK_EVENT_RECEIVE) != 0) {
                    d.wskReceiveEvent(context, provider.eventFlags, null, 0, bytesAccepted);
                }
            } catch (Throwable t) {
                provider.onError(t);
            }
        }
    }

    // ---------------------------------------------------------------- close and cancel

    private int doClose(Irp irp) {
        if (closed) {
            return complete(irp, NtStatus.STATUS_FILE_FORCED_CLOSED.code());
        }
        closeInternal(irp);
        if (closeIrp == irp) {
            return pending(irp);
        }
        return NtStatus.STATUS_SUCCESS.code();
    }

    /**
     * Closes the socket: cancels its IRPs, stops listening, resets the connection unless closed both ways,
     * returns held data. {@code irp} (may be null) completes now or once the stack answered for what it holds.
     */
    void closeInternal(Irp irp) {
        if (closed) {
            return;
        }
        closed = true;
        Irp i;
        while ((i = acceptIrps.poll()) != null) {
            complete(i, NtStatus.STATUS_CANCELLED.code());
        }
        while ((i = receiveIrps.poll()) != null) {
            complete(i, NtStatus.STATUS_CANCELLED.code(), i.progress, null);
        }
        cancelUnsubmittedSends(NtStatus.STATUS_CANCELLED.code());
        if ((i = connectIrp) != null) {
            connectIrp = null;
            completeCancelledConnect(i);
        }
        if ((i = listenIrp) != null) {
            listenIrp = null; // the provider still maps the port to us; the stack's answer is undone then
            complete(i, NtStatus.STATUS_CANCELLED.code());
        }
        if ((i = disconnectIrp) != null) {
            disconnectIrp = null;
            complete(i, NtStatus.STATUS_CANCELLED.code());
        }
        if ((i = abortIrp) != null) {
            abortIrp = null;
            complete(i, NtStatus.STATUS_CANCELLED.code());
        }
        if (state == LISTENING) {
            provider.listeners.remove(port);
            provider.stopListening(port);
        }
        WskSocket s;
        while ((s = backlogHead) != null) {
            backlogHead = s.nextInBacklog;
            s.nextInBacklog = null;
            s.listener = null;
            s.closeInternal(null);
        }
        backlogTail = null;
        backlogCount = 0;
        if (pendedRequests != null) {
            // Requests still being inspected are refused (RST for their SYNs).
            pendedRequests.forEach((handle, id) -> decideRequest(handle, false));
            pendedRequests.clear();
        }
        if (listener != null) {
            listener.removeFromBacklog(this);
        }
        if (handle != 0 && !stackClosed && !abortIssued && !(finPosted && peerClosed)) {
            abortNow(); // WskCloseSocket aborts a connection not closed both ways
        }
        if (!indicating) {
            releaseAll();
        }
        if (ownsPort) {
            provider.ports.free(port);
            ownsPort = false;
        }
        closeIrp = irp;
        if (readyToFinish()) {
            forget();
            closeIrp = null;
            if (irp != null) {
                complete(irp, NtStatus.STATUS_SUCCESS.code());
            }
        }
    }

    private boolean readyToFinish() {
        return submittedSends == 0 && !connectInFlight && (!abortIssued || stackClosed || handle == 0);
    }

    private void maybeFinishClose() {
        if (!closed || forgotten || !readyToFinish()) {
            return;
        }
        forget();
        Irp irp = closeIrp;
        closeIrp = null;
        if (irp != null) {
            complete(irp, NtStatus.STATUS_SUCCESS.code());
        }
    }

    private void forget() {
        forgotten = true;
        provider.byId.remove(id);
        if (handle != 0 && provider.byHandle.get(handle) == this) {
            provider.byHandle.remove(handle);
        }
    }

    /** Provider shutdown: whatever is still outstanding completes now. */
    void finishForcibly() {
        Irp irp;
        while ((irp = sendIrps.poll()) != null) {
            complete(irp, NtStatus.STATUS_CANCELLED.code(), 0, null);
        }
        submittedSends = 0;
        connectInFlight = false;
        stackClosed = true;
        maybeFinishClose();
        forget();
    }

    /** IoCancelIrp for one of our IRPs (dispatch thread). */
    void cancel(Irp irp) {
        if (irp == connectIrp) {
            cancelConnect(irp);
        } else if (acceptIrps.remove(irp)) {
            complete(irp, NtStatus.STATUS_CANCELLED.code());
        } else if (receiveIrps.remove(irp)) {
            complete(irp, NtStatus.STATUS_CANCELLED.code(), irp.progress, null);
        } else if (!irp.submitted && sendIrps.remove(irp)) {
            if (irp.op == OP_DISCONNECT) {
                disconnectRequested = false;
            }
            complete(irp, NtStatus.STATUS_CANCELLED.code());
        }
    }

    /** Retries options that found the ring full; moves sends along; serves receives and events (dispatch thread). */
    void doWork() {
        if (needOptions && !closed) {
            needOptions = false;
            applyOptions(); // schedules again if the ring is still full
        }
        if (!closed) {
            pump();
            deliver();
            raiseGracefulDisconnect();
        }
    }

    // ---------------------------------------------------------------- options

    private int doControl(Irp irp) {
        int status;
        long out = 0;
        switch (irp.type) {
            case Wsk.WskSetOption -> status = setOption(irp.level, irp.controlCode, irp.value);
            case Wsk.WskGetOption -> {
                out = getOption(irp.level, irp.controlCode);
                status = out < 0 ? NtStatus.STATUS_NOT_SUPPORTED.code() : NtStatus.STATUS_SUCCESS.code();
                out = Math.max(out, 0);
            }
            case Wsk.WskIoctl -> {
                out = ioctl(irp.controlCode);
                status = out == -1 ? NtStatus.STATUS_NOT_SUPPORTED.code()
                    : out == -2 ? NtStatus.STATUS_INVALID_DEVICE_STATE.code() : NtStatus.STATUS_SUCCESS.code();
                out = Math.max(out, 0);
            }
            default -> status = NtStatus.STATUS_INVALID_PARAMETER.code();
        }
        return complete(irp, status, out, null);
    }

    private int setOption(int level, int option, long value) {
        if (level == Wsk.SOL_SOCKET) {
            switch (option) {
                case Wsk.SO_WSK_EVENT_CALLBACK:
                    return setEvents((int) value);
                case Wsk.SO_KEEPALIVE:
                    keepAlive = value != 0;
                    keepAliveTouched = true;
                    applyOptions();
                    return NtStatus.STATUS_SUCCESS.code();
                case Wsk.SO_RCVBUF:
                    if (value <= 0 || value > Integer.MAX_VALUE) {
                        return NtStatus.STATUS_INVALID_PARAMETER.code();
                    }
                    receiveBufferBytes = (int) Math.min(value, provider.receiveBufferBytes);
                    applyOptions();
                    return NtStatus.STATUS_SUCCESS.code();
                case Wsk.SO_REUSEADDR:
                case Wsk.SO_EXCLUSIVEADDRUSE:
                    if (state != CREATED) {
                        return NtStatus.STATUS_INVALID_DEVICE_STATE.code(); // before WskBind
                    }
                    boolean on = value != 0;
                    if (on && (option == Wsk.SO_REUSEADDR ? exclusiveAddress : reuseAddress)) {
                        return NtStatus.STATUS_INVALID_PARAMETER.code(); // the two exclude each other
                    }
                    if (option == Wsk.SO_REUSEADDR) {
                        reuseAddress = on;
                    } else {
                        exclusiveAddress = on;
                    }
                    return NtStatus.STATUS_SUCCESS.code();
                case Wsk.SO_CONDITIONAL_ACCEPT:
                    if (category == Wsk.WSK_FLAG_CONNECTION_SOCKET) {
                        return NtStatus.STATUS_NOT_SUPPORTED.code();
                    }
                    if (state != CREATED) {
                        return NtStatus.STATUS_INVALID_DEVICE_STATE.code(); // before WskBind, as in Winsock
                    }
                    conditionalAccept = value != 0;
                    return NtStatus.STATUS_SUCCESS.code();
                default:
                    return NtStatus.STATUS_NOT_SUPPORTED.code();
            }
        }
        if (level != Wsk.IPPROTO_TCP) {
            return NtStatus.STATUS_NOT_SUPPORTED.code();
        }
        switch (option) {
            case Wsk.TCP_NODELAY:
                noDelay = value != 0;
                noDelayTouched = true;
                applyOptions();
                return NtStatus.STATUS_SUCCESS.code();
            case Wsk.TCP_FASTOPEN:
                if (state == CONNECTING || state == CONNECTED || state == DISCONNECTED) {
                    return NtStatus.STATUS_INVALID_DEVICE_STATE.code(); // set it before WskConnectEx
                }
                fastOpen = value != 0;
                return NtStatus.STATUS_SUCCESS.code();
            case Wsk.TCP_MAXRT:
                if (value < 0 || value > 0xFFFF_FFFFL / 1000) {
                    return NtStatus.STATUS_INVALID_PARAMETER.code();
                }
                maxRetransmitSeconds = value;
                applyOptions();
                return NtStatus.STATUS_SUCCESS.code();
            case Wsk.TCP_TIMESTAMPS:
                if (state == CONNECTING || state == CONNECTED || state == DISCONNECTED) {
                    return NtStatus.STATUS_INVALID_DEVICE_STATE.code(); // negotiated in the SYN
                }
                timestamps = value != 0 ? 1 : 0;
                return NtStatus.STATUS_SUCCESS.code();
            case Wsk.TCP_KEEPIDLE:
            case Wsk.TCP_KEEPINTVL:
            case Wsk.TCP_KEEPCNT:
                if (value <= 0 || value > Integer.MAX_VALUE) {
                    return NtStatus.STATUS_INVALID_PARAMETER.code();
                }
                if (option == Wsk.TCP_KEEPIDLE) {
                    keepIdleSeconds = value;
                } else if (option == Wsk.TCP_KEEPINTVL) {
                    keepIntervalSeconds = value;
                } else {
                    keepCount = value;
                }
                if (keepAlive) {
                    applyOptions();
                }
                return NtStatus.STATUS_SUCCESS.code();
            default:
                return NtStatus.STATUS_NOT_SUPPORTED.code();
        }
    }

    private int setEvents(int mask) {
        int allowed = switch (category) {
            case Wsk.WSK_FLAG_LISTEN_SOCKET, Wsk.WSK_FLAG_STREAM_SOCKET -> LISTENER_EVENTS;
            default -> CONNECTION_EVENTS;
        };
        if ((mask & Wsk.WSK_EVENT_DISABLE) != 0) {
            int event = mask & ~Wsk.WSK_EVENT_DISABLE;
            if (Integer.bitCount(event) != 1 || (event & allowed) == 0) {
                return NtStatus.STATUS_INVALID_PARAMETER.code(); // disable one event at a time
            }
            events &= ~event;
            return NtStatus.STATUS_SUCCESS.code();
        }
        if (mask == 0 || (mask & ~allowed) != 0) {
            return NtStatus.STATUS_INVALID_PARAMETER.code();
        }
        if ((mask & Wsk.WSK_EVENT_ACCEPT) != 0 && !(dispatch instanceof WskClientListenDispatch)) {
            return NtStatus.STATUS_INVALID_PARAMETER.code();
        }
        if ((mask & CONNECTION_EVENTS) != 0 && category != Wsk.WSK_FLAG_LISTEN_SOCKET
            && !(dispatch instanceof WskClientConnectionDispatch)) {
            return NtStatus.STATUS_INVALID_PARAMETER.code();
        }
        events |= mask;
        if ((mask & (Wsk.WSK_EVENT_RECEIVE | Wsk.WSK_EVENT_DISCONNECT)) != 0) {
            provider.schedule(this); // data already queued, or a FIN already in, is indicated on the next round
        }
        return NtStatus.STATUS_SUCCESS.code();
    }

    /** The option's value, or -1 when not supported. */
    private long getOption(int level, int option) {
        if (level == Wsk.SOL_SOCKET) {
            return switch (option) {
                case Wsk.SO_KEEPALIVE -> keepAlive ? 1 : 0;
                case Wsk.SO_CONDITIONAL_ACCEPT -> conditionalAccept ? 1 : 0;
                case Wsk.SO_RCVBUF -> receiveBufferBytes != 0 ? receiveBufferBytes : provider.receiveBufferBytes;
                case Wsk.SO_REUSEADDR -> reuseAddress ? 1 : 0;
                case Wsk.SO_EXCLUSIVEADDRUSE -> exclusiveAddress ? 1 : 0;
                case Wsk.SO_WSK_EVENT_CALLBACK -> events;
                default -> -1;
            };
        }
        if (level != Wsk.IPPROTO_TCP) {
            return -1;
        }
        return switch (option) {
            case Wsk.TCP_NODELAY -> noDelay ? 1 : 0;
            case Wsk.TCP_FASTOPEN -> fastOpen ? 1 : 0;
            case Wsk.TCP_KEEPIDLE -> keepIdleSeconds;
            case Wsk.TCP_KEEPINTVL -> keepIntervalSeconds;
            case Wsk.TCP_KEEPCNT -> keepCount;
            case Wsk.TCP_MAXRT -> maxRetransmitSeconds;
            case Wsk.TCP_TIMESTAMPS -> timestamps < 0 ? (provider.timestamps ? 1 : 0) : timestamps;
            default -> -1;
        };
    }

    /** The IOCTL's result, -1 when not supported, -2 when not valid in this state. */
    private long ioctl(int code) {
        return switch (code) {
            case Wsk.SIO_WSK_QUERY_RECEIVE_BACKLOG -> state == CONNECTED || state == DISCONNECTED ? rx.bytes() : -2;
            case Wsk.SIO_WSK_QUERY_IDEAL_SEND_BACKLOG -> state == CONNECTED
                ? (idealSendBacklog != 0 ? idealSendBacklog : provider.sendBufferBytes) : -2;
            default -> -1;
        };
    }
}
