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

import io.fastpath.provider.Endpoint;
import io.fastpath.provider.NtStatus;
import io.fastpath.provider.SendPump;
import java.util.Objects;

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
 * completes (the IRP holds a WskBuf's ByteBuffer or MemorySegment until then). Received data is held as the
 * stack's zero-copy descriptors (the connection's api-core
 * {@link Endpoint}) until a WskReceive copies it out or a receive event consumes or keeps it; the bytes held
 * count against the connection's receive window. The endpoint also pumps the sends and sequences the
 * disconnect; this class translates WSK's calls and events onto it. Bind and listen: {@link WskBinding};
 * accept: {@link WskAcceptQueue}; connect: {@link WskConnector}; send and disconnect: {@link WskSender};
 * receive: {@link WskReceiver}; options: {@link WskSocketOptions}.
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
    static final int LISTENER_EVENTS = Wsk.WSK_EVENT_ACCEPT | Wsk.WSK_EVENT_RECEIVE | Wsk.WSK_EVENT_DISCONNECT
        | Wsk.WSK_EVENT_SEND_BACKLOG;
    static final int CONNECTION_EVENTS = Wsk.WSK_EVENT_RECEIVE | Wsk.WSK_EVENT_DISCONNECT
        | Wsk.WSK_EVENT_SEND_BACKLOG;

    final WskProvider provider;
    /** This incarnation's id (the key of the provider's socket map and of its requests to the stack). */
    long id;
    /** On the provider's work list now (written by that list only, dispatch thread). */
    boolean onWorkList;
    private int category;
    private Object context;
    WskClientDispatch dispatch;

    int state = CREATED;
    boolean closed;
    // Addresses as numbers (nothing allocated per connection); as SocketAddressV4 objects only when asked for.
    /** Bound: {@link #localIp} (0 while bound to the wildcard and not connected) and {@link #port}. */
    boolean hasLocal;
    int localIp;
    /** Connecting or connected to {@link #remoteIp}:{@link #remotePort}. */
    boolean hasRemote;
    int remoteIp;
    int remotePort;
    private SocketAddressV4 localAddress;
    private SocketAddressV4 remoteAddress;
    boolean wildcardPort;
    boolean ownsPort;
    int port;
    int events;
    final WskSocketOptions options = new WskSocketOptions();
    private boolean needOptions;
    final WskBinding binding;
    private final WskConnector connector;

    // listening
    WskAcceptQueue accepts;
    /** The listener whose backlog holds this connection (not handed out yet), or null. */
    WskSocket listener;

    // the connection: handle, received descriptors, send pump, disconnect sequence
    final Endpoint<Irp, WskSocket> ep;
    private final SendPump<Irp> sends;
    private final WskReceiver receiver;
    final WskSender sender;
    boolean disconnectRequested;
    /** The stack's ideal send backlog for this connection (0: not reported yet). */
    int idealSendBacklog;
    /** A graceful WskDisconnect waiting for its FIN's acknowledgement, and an abortive one (see {@link WskSender}). */
    Irp disconnectIrp;
    Irp abortIrp;
    private Irp closeIrp;
    private boolean forgotten;

    WskSocket(WskProvider provider, long id, int category, Object context, WskClientDispatch dispatch) {
        this.provider = provider;
        this.id = id;
        this.category = category;
        this.context = context;
        this.dispatch = dispatch;
        this.ep = new Endpoint<>(provider.tcp, provider.releaser, provider.copier, provider.byHandle, this,
            category == Wsk.WSK_FLAG_LISTEN_SOCKET ? 4 : 64, MAX_SENDS_IN_STACK, this::submit);
        this.sends = ep.sends();
        this.receiver = new WskReceiver(this, ep);
        this.sender = new WskSender(this, ep);
        this.binding = new WskBinding(this);
        this.connector = new WskConnector(this);
    }

    /**
     * Makes a socket whose close completed new again for another WskSocket call or accept (the provider's
     * socket pool, {@link WskProvider#newSocket}): a new id, no state, no options, no events, no addresses.
     */
    void renew(long newId, int newCategory, Object newContext, WskClientDispatch newDispatch) {
        id = newId;
        category = newCategory;
        context = newContext;
        dispatch = newDispatch;
        state = CREATED;
        closed = false;
        hasLocal = false;
        localIp = 0;
        hasRemote = false;
        remoteIp = 0;
        remotePort = 0;
        wildcardPort = false;
        ownsPort = false;
        port = 0;
        events = 0;
        options.reset();
        needOptions = false;
        binding.reset();
        connector.reset();
        listener = null;
        receiver.reset();
        disconnectRequested = false;
        idealSendBacklog = 0;
        disconnectIrp = null;
        abortIrp = null;
        closeIrp = null;
        forgotten = false;
    }

    /** The send pump's hand-over of one IRP ({@link WskSender#submit}). */
    private int submit(Irp irp, boolean drained) {
        return sender.submit(irp, drained);
    }

    /** A pooled socket keeps nothing of its last owner's alive (its context and dispatch table). */
    void dropReferences() {
        context = null;
        dispatch = null;
    }

    /**
     * Whether this closed socket can be renewed now: a connection socket (listen and stream sockets are not
     * pooled: a stream socket's WskListen answer may still be on its way), off the work list, and its endpoint
     * holding nothing (every descriptor and send given back).
     */
    boolean reusable() {
        return forgotten && category == Wsk.WSK_FLAG_CONNECTION_SOCKET && accepts == null && !onWorkList
            && !connector.connectInFlight && ep.resetForReuse();
    }

    // ---------------------------------------------------------------- addresses

    void setLocal(int ip, int localPort) {
        hasLocal = true;
        localIp = ip;
        port = localPort;
    }

    void clearLocal() {
        hasLocal = false;
        localIp = 0;
        port = 0;
    }

    /** The local address (null when unbound), made once per distinct address. */
    SocketAddressV4 local() {
        if (!hasLocal) {
            return null;
        }
        SocketAddressV4 a = localAddress;
        if (a == null || a.ip() != localIp || a.port() != port) {
            a = new SocketAddressV4(localIp, port);
            localAddress = a;
        }
        return a;
    }

    /** Connecting to {@code to}: the caller's object serves as the remote address. */
    void setRemote(SocketAddressV4 to) {
        setRemote(to.ip(), to.port());
        remoteAddress = to;
    }

    void setRemote(int ip, int remotePortNumber) {
        hasRemote = true;
        remoteIp = ip;
        remotePort = remotePortNumber;
    }

    void clearRemote() {
        hasRemote = false;
        remoteIp = 0;
        remotePort = 0;
    }

    /** The remote address (null when none), made once per distinct address. */
    SocketAddressV4 remote() {
        if (!hasRemote) {
            return null;
        }
        SocketAddressV4 a = remoteAddress;
        if (a == null || a.ip() != remoteIp || a.port() != remotePort) {
            a = new SocketAddressV4(remoteIp, remotePort);
            remoteAddress = a;
        }
        return a;
    }

    // ================================================================================ public calls

    /**
     * WskBind: binds to a local address: the stack's address or 0.0.0.0, and a port or 0 (a free port from
     * 49152-65535 is chosen now). A listen socket starts listening, and the IRP completes when the stack
     * listens. STATUS_INVALID_ADDRESS (not our address), STATUS_SHARING_VIOLATION (port in use),
     * STATUS_INVALID_DEVICE_STATE (already bound).
     */
    public NtStatus bind(SocketAddressV4 localAddress, Irp irp) {
        Irp i = start(irp, OP_BIND);
        i.address = localAddress;
        return provider.submit(i);
    }

    /** WskListen (stream sockets): starts listening on the bound port; completes when the stack listens. */
    public NtStatus listen(Irp irp) {
        return provider.submit(start(irp, OP_LISTEN));
    }

    /** WskAccept with no context or dispatch for the new socket. */
    public NtStatus accept(Irp irp) {
        return accept(0, null, null, irp);
    }

    /**
     * WskAccept: takes the next connection of a listening socket: at once if one is waiting, else PENDING
     * until one arrives (queued accepts take connections before the accept event does). Completes with
     * Information = the new connection {@link WskSocket}, whose events start disabled.
     */
    public NtStatus accept(int flags, Object acceptSocketContext, WskClientConnectionDispatch acceptSocketDispatch,
                           Irp irp) {
        return accept(flags, acceptSocketContext, acceptSocketDispatch, null, null, irp);
    }

    /**
     * WskAccept with its LocalAddress and RemoteAddress out-parameters (each optional, may be null): on success
     * they hold the accepted connection's local and remote transport addresses before the IRP completes.
     */
    public NtStatus accept(int flags, Object acceptSocketContext, WskClientConnectionDispatch acceptSocketDispatch,
                      SocketAddressV4Out localAddress, SocketAddressV4Out remoteAddress, Irp irp) {
        Irp i = start(irp, OP_ACCEPT);
        i.flags(flags);
        i.requestContext = acceptSocketContext;
        i.requestDispatch = acceptSocketDispatch;
        i.localOut = localAddress;
        i.remoteOut = remoteAddress;
        return provider.submit(i);
    }

    /**
     * WskConnect: connects a bound socket. Completes with STATUS_SUCCESS once the handshake is done, or
     * STATUS_CONNECTION_REFUSED, STATUS_IO_TIMEOUT, STATUS_HOST_UNREACHABLE, STATUS_NETWORK_UNREACHABLE, ...
     * STATUS_INVALID_DEVICE_STATE when not bound or already connecting/connected.
     */
    public NtStatus connect(SocketAddressV4 remoteAddress, Irp irp) {
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
    public NtStatus connectEx(SocketAddressV4 remoteAddress, WskBuf buffer, int flags, Irp irp) {
        Irp i = start(irp, OP_CONNECT_EX);
        i.address = remoteAddress;
        buffer(i, buffer);
        i.flags(flags);
        return provider.submit(i);
    }

    /**
     * WskSend: completes when every byte is in the stack's send buffer (Information = bytes), so the caller
     * may reuse its buffer then. Flags: WSK_FLAG_NODELAY (accepted; the stack has no per-send push yet, use
     * TCP_NODELAY); others STATUS_NOT_SUPPORTED. STATUS_INVALID_DEVICE_STATE when not connected or after
     * WskDisconnect.
     */
    public NtStatus send(WskBuf buffer, int flags, Irp irp) {
        Objects.requireNonNull(buffer, "buffer"); // before start(): a refused call leaves the IRP as it was
        Irp i = start(irp, OP_SEND);
        buffer(i, buffer);
        i.flags(flags);
        return provider.submit(i);
    }

    /**
     * WskReceive: completes with Information = bytes as soon as there are any (WSK_FLAG_WAITALL: when the
     * buffer is full, or on disconnect or cancel, with what it has); <b>0 bytes means the peer closed its
     * side</b>. WSK_FLAG_DRAIN discards data until the peer closes. A zero-length receive completes at once
     * and lets receive events flow again after a callback did not take all the data. After a reset the
     * pending receives complete with STATUS_CONNECTION_RESET.
     */
    public NtStatus receive(WskBuf buffer, int flags, Irp irp) {
        Objects.requireNonNull(buffer, "buffer"); // before start(): a refused call leaves the IRP as it was
        Irp i = start(irp, OP_RECEIVE);
        buffer(i, buffer);
        i.flags(flags);
        return provider.submit(i);
    }

    /**
     * WskDisconnect. Graceful (flags 0): sends {@code buffer} (may be null) after the data already queued,
     * then FIN; receiving goes on (half-close); the IRP completes when the peer has acknowledged our FIN (or the
     * connection closed both ways). Abortive (WSK_FLAG_ABORTIVE, buffer null): resets the
     * connection, cancels pending sends, and completes when the stack has dropped the connection.
     */
    public NtStatus disconnect(WskBuf buffer, int flags, Irp irp) {
        Irp i = start(irp, OP_DISCONNECT);
        buffer(i, buffer);
        i.flags(flags);
        return provider.submit(i);
    }

    /**
     * WskCloseSocket: cancels the pending IRPs (STATUS_CANCELLED), stops listening, resets the connection
     * unless it is closed both ways, and completes once the stack has returned every send it held. Chains kept
     * from receive events stay valid until released. Afterwards every call fails with
     * STATUS_FILE_FORCED_CLOSED, until the provider hands this object out again for a later WskSocket call or
     * accept (connection and stream sockets are pooled): do not use a socket after its close completed.
     */
    public NtStatus closeSocket(Irp irp) {
        return provider.submit(start(irp, OP_CLOSE));
    }

    /**
     * WskInspectComplete: the decision on a connection request a WskInspectEvent pended: WskInspectAccept or
     * WskInspectReject. STATUS_SUCCESS; STATUS_INVALID_PARAMETER (another action, or no pended request by that
     * id: it was decided already, or the peer gave up: WskAbortEvent); STATUS_NOT_SUPPORTED (not a listener).
     */
    public NtStatus inspectComplete(WskInspectId inspectId, int action, Irp irp) {
        Irp i = start(irp, OP_INSPECT_COMPLETE);
        i.requestContext = inspectId;
        i.value = action;
        return provider.submit(i);
    }

    /** WskGetLocalAddress: Information = the bound {@link SocketAddressV4}; STATUS_INVALID_DEVICE_STATE if unbound. */
    public NtStatus getLocalAddress(Irp irp) {
        return provider.submit(start(irp, OP_GET_LOCAL));
    }

    /** WskGetRemoteAddress: Information = the peer's address; STATUS_INVALID_DEVICE_STATE if not connected. */
    public NtStatus getRemoteAddress(Irp irp) {
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
    public NtStatus controlSocket(int requestType, int controlCode, int level, long inputValue, Irp irp) {
        Irp i;
        if (irp == null) {
            if (!provider.onDispatchThread()) {
                return NtStatus.STATUS_INVALID_PARAMETER;
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
    public NtStatus release(WskDataIndication dataIndication) {
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
        return "WskSocket[" + id + " " + stateName() + (hasLocal ? " " + local() : "")
            + (hasRemote ? " -> " + remote() : "") + (closed ? " closed" : "") + "]";
    }

    /** The connection's state as the provider sees it (diagnostics and tests). */
    String describe() {
        return this + " handle=" + Long.toHexString(ep.handle()) + " mapped="
            + (ep.hasHandle() && provider.byHandle.get(ep.handle()) == this) + " localReleased=" + ep.localReleased()
            + " peerReleased=" + ep.peerReleased() + " stackClosed=" + ep.stackClosed() + " abortIssued="
            + ep.abortIssued() + " received=" + ep.receivedBytes() + " disconnectIrp=" + (disconnectIrp != null)
            + " sendsWaiting=" + !sends.waitingEmpty() + " sendsInStack=" + sends.inStack() + " onWorkList="
            + onWorkList + " disconnectRequested=" + disconnectRequested;
    }

    private String stateName() {
        return new String[] {"created", "bound", "listening", "connecting", "connected", "disconnected", "dead"}[state];
    }

    private Irp start(Irp irp, int op) {
        Objects.requireNonNull(irp, "irp");
        irp.begin(op, provider);
        irp.socket = this;
        return irp;
    }

    private static void buffer(Irp irp, WskBuf buffer) {
        if (buffer != null) {
            irp.buffer(buffer.address() + buffer.offset(), buffer.length(), buffer.owner());
        }
    }

    // ================================================================================ dispatch thread

    int execute(Irp irp) {
        if (closed && irp.op != OP_CLOSE || state == DEAD && irp.op != OP_CLOSE) {
            return complete(irp, NtStatus.STATUS_FILE_FORCED_CLOSED.code());
        }
        boolean listenSocket = category == Wsk.WSK_FLAG_LISTEN_SOCKET;
        boolean connectionSocket = category == Wsk.WSK_FLAG_CONNECTION_SOCKET;
        return switch (irp.op) {
            case OP_BIND -> binding.bindIrp(irp);
            case OP_LISTEN -> binding.listen(irp);
            case OP_ACCEPT -> connectionSocket ? complete(irp, NtStatus.STATUS_NOT_SUPPORTED.code()) : doAccept(irp);
            case OP_CONNECT, OP_CONNECT_EX -> listenSocket ? complete(irp, NtStatus.STATUS_NOT_SUPPORTED.code())
                : connector.connect(irp);
            case OP_SEND -> listenSocket ? complete(irp, NtStatus.STATUS_NOT_SUPPORTED.code()) : sender.doSend(irp);
            case OP_RECEIVE -> listenSocket ? complete(irp, NtStatus.STATUS_NOT_SUPPORTED.code()) : doReceive(irp);
            case OP_DISCONNECT -> listenSocket ? complete(irp, NtStatus.STATUS_NOT_SUPPORTED.code())
                : sender.doDisconnect(irp);
            case OP_CLOSE -> doClose(irp);
            case OP_GET_LOCAL -> hasLocal ? complete(irp, NtStatus.STATUS_SUCCESS.code(), 0, local())
                : complete(irp, NtStatus.STATUS_INVALID_DEVICE_STATE.code());
            case OP_GET_REMOTE -> hasRemote && (state == CONNECTED || state == DISCONNECTED)
                ? complete(irp, NtStatus.STATUS_SUCCESS.code(), 0, remote()) : complete(irp, NtStatus.STATUS_INVALID_DEVICE_STATE.code());
            case OP_CONTROL -> options.control(this, irp);
            case OP_INSPECT_COMPLETE -> connectionSocket ? complete(irp, NtStatus.STATUS_NOT_SUPPORTED.code())
                : complete(irp, accepts().inspectComplete(irp));
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

    private WskAcceptQueue accepts() {
        if (accepts == null) {
            accepts = new WskAcceptQueue(this);
        }
        return accepts;
    }

    // ---------------------------------------------------------------- bind, listen, accept, connect

    void onListenComplete(int listenPort, int status) {
        binding.onListenComplete(listenPort, status);
    }

    /** WskSocketConnect on a fresh socket: bind, then connect with the caller's IRP. */
    int socketConnect(Irp irp) {
        return connector.socketConnect(irp);
    }

    void onConnectComplete(long newHandle, int status) {
        connector.onConnectComplete(newHandle, status);
    }

    /** Hands the socket's options to its connection; what finds the request ring full is retried (doWork). */
    void applyOptions() {
        if (ep.hasHandle() && !ep.stackClosed() && !options.apply(provider, ep.handle())) {
            needOptions = true;
            provider.schedule(this);
        }
    }

    private int doAccept(Irp irp) {
        if (irp.flags() != 0 || irp.requestDispatch != null && !(irp.requestDispatch instanceof WskClientConnectionDispatch)) {
            return complete(irp, NtStatus.STATUS_INVALID_PARAMETER.code());
        }
        if (state != LISTENING) {
            return complete(irp, NtStatus.STATUS_INVALID_DEVICE_STATE.code());
        }
        return accepts().accept(irp);
    }

    /** The stack completed a handshake on our port. */
    void onAccepted(long newHandle, int remoteIp, int remotePort) {
        WskSocket s = provider.newSocket(Wsk.WSK_FLAG_CONNECTION_SOCKET, null, null);
        s.state = CONNECTED;
        s.setLocal(provider.stackAddress, port);
        s.setRemote(remoteIp, remotePort);
        s.options.inherit(options); // options set on the listener carry over to its connections, as in Winsock
        s.ep.attach(newHandle);
        s.applyOptions();
        accepts().admit(s); // with conditional accept, the inspection said yes before the SYN-ACK went out
    }

    /** Conditional accept: the stack holds a SYN for this listener (see {@link WskAcceptQueue#onConnectRequest}). */
    void onConnectRequest(long handle, int remoteIp, int remotePort) {
        accepts().onConnectRequest(handle, remoteIp, remotePort);
    }

    /** A held request ended before a decision took it (the peer gave up, or it waited too long). */
    void onRequestAborted(long handle) {
        if (accepts != null) {
            accepts.onRequestAborted(handle);
        }
    }

    // ---------------------------------------------------------------- receive

    private int doReceive(Irp irp) {
        int flags = irp.flags();
        if ((flags & ~(Wsk.WSK_FLAG_WAITALL | Wsk.WSK_FLAG_DRAIN)) != 0) {
            return complete(irp, NtStatus.STATUS_NOT_SUPPORTED.code());
        }
        if ((flags & Wsk.WSK_FLAG_WAITALL) != 0 && (flags & Wsk.WSK_FLAG_DRAIN) != 0) {
            return complete(irp, NtStatus.STATUS_INVALID_PARAMETER.code());
        }
        if (state != CONNECTED && state != DISCONNECTED) {
            return complete(irp, NtStatus.STATUS_INVALID_DEVICE_STATE.code());
        }
        return receiver.receive(irp);
    }

    /** A descriptor from the event ring: straight into the endpoint's queue (returned at once after the close). */
    void onReceive(long mbuf, long address, int length) {
        if (closed) {
            ep.refuse(mbuf, address, length);
            return;
        }
        ep.onReceive(mbuf, address, length);
        if (listener == null) {
            provider.schedule(this); // batched: one pass after this round's events
        }
    }

    void onPeerClosed() {
        ep.onPeerClosed();
        if (closed || listener != null) {
            return; // a socket not handed out yet raises it once it is (doWork)
        }
        receiver.deliver(); // the data before the FIN first
        receiver.raiseGracefulDisconnect();
    }

    // ---------------------------------------------------------------- the connection ends

    void onStackClosed(int status) {
        boolean success = status == NtStatus.STATUS_SUCCESS.code();
        ep.onStackClosed(success);
        state = success ? DISCONNECTED : DEAD;
        if (listener != null) {
            if (!success) {
                listener.accepts.remove(this);
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
        if (success) {
            receiver.deliver();
            sender.cancelUnsubmittedSends(NtStatus.STATUS_INVALID_DEVICE_STATE.code());
        } else {
            boolean aborted = ep.abortIssued();
            int sendStatus = aborted ? NtStatus.STATUS_CANCELLED.code() : status;
            ep.releaseAll();
            receiver.completeAll(status);
            sender.cancelUnsubmittedSends(sendStatus);
            Irp irp;
            while ((irp = sends.pollInStack()) != null) {
                complete(irp, sendStatus, 0, null);
            }
            if (graceful != null) {
                complete(graceful, sendStatus);
                graceful = null;
            }
        }
        if (graceful != null) {
            complete(graceful, NtStatus.STATUS_SUCCESS.code());
        }
        if (abortive != null) {
            complete(abortive, NtStatus.STATUS_SUCCESS.code());
        }
        if (!success && !ep.abortIssued() && !closed) {
            receiver.raiseAbortiveDisconnect(); // the peer reset (or the connection timed out): tell whoever listens
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
        if (accepts != null) {
            accepts.cancelAccepts();
        }
        receiver.completeAll(NtStatus.STATUS_CANCELLED.code());
        sender.cancelUnsubmittedSends(NtStatus.STATUS_CANCELLED.code());
        Irp i;
        if ((i = connector.connectIrp) != null) {
            connector.connectIrp = null;
            connector.completeCancelled(i);
        }
        if ((i = binding.listenIrp) != null) {
            binding.listenIrp = null; // the provider still maps the port to us; the stack's answer is undone then
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
        if (accepts != null) {
            accepts.close();
        }
        if (listener != null) {
            listener.accepts.remove(this);
        }
        if (ep.abortAtClose()) {
            ep.abort(); // WskCloseSocket aborts a connection not closed both ways
        }
        if (!receiver.indicating) {
            ep.releaseAll();
        }
        if (ownsPort) {
            provider.ports.free(port);
            ownsPort = false;
        }
        closeIrp = irp;
        maybeFinishClose();
    }

    void maybeFinishClose() {
        if (!closed || forgotten || connector.connectInFlight || !ep.quiescent()) {
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
        if (forgotten) {
            return;
        }
        forgotten = true;
        provider.byId.remove(id);
        ep.unmap();
        provider.retire(this);
    }

    /** Provider shutdown: whatever is still outstanding completes now. */
    void finishForcibly() {
        Irp irp;
        while ((irp = sends.pollWaiting()) != null || (irp = sends.pollInStack()) != null) {
            complete(irp, NtStatus.STATUS_CANCELLED.code(), 0, null);
        }
        connector.connectInFlight = false;
        ep.onStackClosed(false);
        maybeFinishClose();
        forget();
    }

    /** IoCancelIrp for one of our IRPs (dispatch thread). */
    void cancel(Irp irp) {
        if (irp == connector.connectIrp) {
            connector.cancel(irp);
        } else if (accepts != null && accepts.cancel(irp) || receiver.cancel(irp)) {
            return;
        } else if (sends.removeWaiting(irp)) {
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
            sender.pump();
            receiver.deliver();
            receiver.raiseGracefulDisconnect();
        }
    }
}
