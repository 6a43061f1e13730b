package io.fastpath.ndk;

import io.fastpath.provider.Endpoint;
import io.fastpath.provider.NtStatus;
import io.fastpath.provider.PortTable;
import io.fastpath.provider.TimerWheel;
import io.fastpath.stack.tcp.TcpSocketOptions;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * An NDK connector (NdkCreateConnector, or handed to a listener's connect-event callback): one connection's
 * setup and teardown over MPA v2 on one TCP connection.
 *
 * <pre>
 *  initiator                                    responder
 *  connect ── TCP SYN/SYN-ACK/ACK + MPA request ──► connect event (NdkGetConnectionData)
 *          ◄──────────────── MPA reply ─────────── accept(qp, limits, private data)   [or reject: reply R=1]
 *  connect completes SUCCESS (or REFUSED)
 *  completeConnect ── zero-length FPDU (RTR) ──────► accept completes SUCCESS
 *  completes SUCCESS                                  ... QP messages both ways ...
 *  disconnect ── FIN ──► disconnect event; disconnect ── FIN ──► both disconnects complete
 * </pre>
 *
 * <p>Every asynchronous call returns STATUS_PENDING and completes exactly once, later, from
 * {@link NdkAdapter#dispatch()}; any other return value is the call's final outcome and no completion follows.
 * One asynchronous call at a time per connector. A connector is used for one connection: after it ended
 * (refused, rejected, disconnected, aborted) every call but the getters fails with
 * STATUS_INVALID_DEVICE_STATE / STATUS_CONNECTION_INVALID. Threads: see {@link NdkAdapter} (asynchronous calls
 * from any thread, the others on the dispatch thread).
 */
public final class NdkConnector {
    static final int IDLE = 0;
    static final int CONNECTING = 1;
    static final int AWAIT_REPLY = 2;
    static final int CONNECTED = 3;
    static final int COMPLETING = 4;
    static final int AWAIT_REQUEST = 10;
    static final int REQUEST_RECEIVED = 11;
    static final int ACCEPTING = 12;
    static final int ESTABLISHED = 20;
    static final int DISCONNECTING = 21;
    static final int DEAD = 30;
    static final int CLOSED = 31;

    static final long REQUEST_REPLY = -1;
    static final long REQUEST_RTR = -2;

    private static final int CONTROL_RTR_OFFSET = 544;
    private static final int RTR_LENGTH = MpaFrame.fpduLength(0);

    private final NdkAdapter adapter;
    final boolean passive;
    int state;
    long requestId;
    NdkQp qp;
    /** The QP this connection's sends came from: their completions arrive even after the QP was unbound. */
    private NdkQp sendQp;
    NdkListener listener;
    private NdkSharedEndpoint endpoint;
    private static final long SHARED_PORT = TcpSocketOptions.of(null, 0, 0, true);
    private int localIp;
    private int localPort;
    private boolean ownsPort;
    private int portTries;
    private int remoteIp;
    private int remotePort;
    private int ownInbound = -1;
    private int ownOutbound = -1;
    int peerIrd;
    int peerOrd;
    boolean peerKnown;
    final byte[] peerPrivateData = new byte[MpaFrame.MAX_CONSUMER_PRIVATE_DATA];
    int peerPrivateDataLength;
    /** The status calls report once the connection died under the consumer (CONNECTION_ABORTED). */
    int deathStatus = NtStatus.STATUS_INVALID_DEVICE_STATE.code();
    private final NdkPendingCall call = new NdkPendingCall();
    private NdkDisconnectEventCallback disconnectCallback;
    private Object disconnectContext;
    private boolean disconnectEventDone;
    private boolean localDisconnect;
    /** The connector's timer on the adapter's wheel ({@link TimerWheel#NONE}: none). */
    long timer = TimerWheel.NONE;

    final UnsafeBuffer control = new UnsafeBuffer(ByteBuffer.allocateDirect(CONTROL_RTR_OFFSET + 16));
    private int requestLength;

    /** The TCP connection: handle (in the adapter's map), received descriptors, disconnect sequence. */
    final Endpoint<?, NdkConnector> ep;
    /** The received byte stream: MPA handshake, then FPDUs into the QP's receives. */
    private final NdkStream stream;
    /** CRC in use on this connection: either side's MPA request/reply had C set (RFC 5044 §7.1). */
    boolean crc;
    private final java.util.zip.CRC32C txCrc = new java.util.zip.CRC32C();

    NdkConnector(NdkAdapter adapter, boolean passive) {
        this.adapter = adapter;
        this.passive = passive;
        this.state = passive ? AWAIT_REQUEST : IDLE;
        this.ep = new Endpoint<>(adapter.tcp, adapter.releaser, null, adapter.byHandle, this, 8, 0, null);
        this.stream = new NdkStream(this, adapter, ep);
    }

    long handle() {
        return ep.handle();
    }

    /** The TCP connection is this connector's: in the adapter's handle map, without Nagle (FPDUs go out at once). */
    private void attach(long h) {
        ep.attach(h);
        adapter.mapHandle(h, this);
    }

    /** Whether this connection's FPDUs carry a CRC32c (either side asked for it). */
    boolean crcInUse() {
        return crc;
    }

    boolean established() {
        return state == ESTABLISHED;
    }

    boolean waitingForDecision() {
        return state == REQUEST_RECEIVED;
    }

    /** Received mbufs not yet consumed (tests). */
    int descriptorsHeld() {
        return ep.received().count();
    }

    // ================================================================ NdkConnect

    /**
     * NdkConnect: connects {@code qp} from {@code source} (null or address 0 = the stack's; port 0 = a port
     * from 49152–65535) to {@code destination}, offering {@code inboundReadLimit}/{@code outboundReadLimit}
     * (ULONGs, read unsigned; capped to the adapter's maxima) and {@code privateDataLength} bytes of private data.
     *
     * <p>STATUS_PENDING, then the completion with STATUS_SUCCESS (the peer accepted: call
     * {@link #completeConnect}), STATUS_CONNECTION_REFUSED (no listener, the listener's backlog is full, or
     * the peer rejected: NdkGetConnectionData reads its private data), STATUS_IO_TIMEOUT (SYN retries spent, or
     * no MPA reply within the adapter's connect timeout), STATUS_HOST_UNREACHABLE, STATUS_NETWORK_UNREACHABLE,
     * STATUS_SHARING_VIOLATION (source port in use), STATUS_ADDRESS_ALREADY_EXISTS (that 4-tuple exists),
     * STATUS_INSUFFICIENT_RESOURCES (the stack's connection table is full), STATUS_CONNECTION_ABORTED (the reply
     * was not valid MPA v2). Inline: STATUS_INVALID_ADDRESS (source address not the stack's; destination 0),
     * STATUS_TOO_MANY_ADDRESSES (source port 0 and 49152–65535 all in use), STATUS_SHARING_VIOLATION (source
     * port held by a listener or shared endpoint of this adapter), STATUS_INVALID_BUFFER_SIZE (private data
     * above MaxCallerData), STATUS_INVALID_PARAMETER (no QP, QP in use, no completion),
     * STATUS_INVALID_DEVICE_STATE (connector already used), STATUS_INSUFFICIENT_RESOURCES (request ring full).
     */
    public NtStatus connect(NdkQp qp, SockAddrIn source, SockAddrIn destination, int inboundReadLimit,
                       int outboundReadLimit, MemorySegment privateData, int privateDataLength,
                       NdkRequestCompletion completion, Object requestContext) {
        if (!adapter.onDispatchThread()) {
            MemorySegment pd = NdkAdapter.copy(privateData, privateDataLength);
            return adapter.defer(completion, requestContext, () -> connect(qp, source, destination, inboundReadLimit,
                outboundReadLimit, pd, privateDataLength, completion, requestContext));
        }
        int status = checkConnect(qp, destination, privateData, privateDataLength, completion);
        if (status != NtStatus.STATUS_SUCCESS.code()) {
            return NtStatus.of(status);
        }
        int ip = source == null ? 0 : source.ip();
        int port = source == null ? 0 : source.port();
        if (ip != 0 && ip != adapter.stackAddress) {
            return NtStatus.STATUS_INVALID_ADDRESS;
        }
        boolean auto = port == 0;
        if (auto) {
            port = adapter.ports.allocate(); // taken here, let go if the connect does not start
            if (port == 0) {
                return NtStatus.STATUS_TOO_MANY_ADDRESSES;
            }
        } else if (adapter.ports.inUse(port)) {
            return NtStatus.STATUS_SHARING_VIOLATION;
        }
        return NtStatus.of(start(qp, port, auto, destination, inboundReadLimit, outboundReadLimit, privateData,
            privateDataLength, completion, requestContext));
    }

    /**
     * NdkConnectWithSharedEndpoint: as {@link #connect} from the shared endpoint's address. Inline
     * STATUS_INVALID_PARAMETER for a closed or foreign endpoint.
     */
    public NtStatus connectWithSharedEndpoint(NdkQp qp, NdkSharedEndpoint sharedEndpoint, SockAddrIn destination,
                                         int inboundReadLimit, int outboundReadLimit, MemorySegment privateData,
                                         int privateDataLength, NdkRequestCompletion completion,
                                         Object requestContext) {
        if (!adapter.onDispatchThread()) {
            MemorySegment pd = NdkAdapter.copy(privateData, privateDataLength);
            return adapter.defer(completion, requestContext, () -> connectWithSharedEndpoint(qp, sharedEndpoint,
                destination, inboundReadLimit, outboundReadLimit, pd, privateDataLength, completion, requestContext));
        }
        int status = checkConnect(qp, destination, privateData, privateDataLength, completion);
        if (status != NtStatus.STATUS_SUCCESS.code()) {
            return NtStatus.of(status);
        }
        if (sharedEndpoint == null || sharedEndpoint.closed()) {
            return NtStatus.STATUS_INVALID_PARAMETER;
        }
        endpoint = sharedEndpoint;
        return NtStatus.of(start(qp, sharedEndpoint.port(), false, destination, inboundReadLimit,
            outboundReadLimit, privateData, privateDataLength, completion, requestContext));
    }

    private int checkConnect(NdkQp qp, SockAddrIn destination, MemorySegment privateData, int privateDataLength,
                             NdkRequestCompletion completion) {
        if (state != IDLE) {
            return NtStatus.STATUS_INVALID_DEVICE_STATE.code();
        }
        if (qp == null || qp.connector != null || completion == null) {
            return NtStatus.STATUS_INVALID_PARAMETER.code();
        }
        if (privateDataLength < 0 || privateDataLength > adapter.info().maxCallerData()
            || (privateData == null ? privateDataLength > 0 : privateDataLength > privateData.byteSize())) {
            return NtStatus.STATUS_INVALID_BUFFER_SIZE.code();
        }
        if (destination == null || destination.ip() == 0 || destination.port() == 0) {
            return NtStatus.STATUS_INVALID_ADDRESS.code();
        }
        return NtStatus.STATUS_SUCCESS.code();
    }

    private int start(NdkQp qp, int port, boolean auto, SockAddrIn destination, int inboundReadLimit,
                      int outboundReadLimit, MemorySegment privateData, int privateDataLength,
                      NdkRequestCompletion completion, Object requestContext) {
        NdkAdapterInfo info = adapter.info();
        ownInbound = clamp(inboundReadLimit, info.maxInboundReadLimit());
        ownOutbound = clamp(outboundReadLimit, info.maxOutboundReadLimit());
        requestLength = MpaFrame.emit(control, 0, true, false, info.crcWanted(), ownInbound, ownOutbound, privateData,
            0, privateDataLength);
        localIp = adapter.stackAddress;
        localPort = port;
        remoteIp = destination.ip();
        remotePort = destination.port();
        ownsPort = auto;
        portTries = 1;
        if (!tcpConnect()) {
            if (auto) {
                adapter.ports.free(port);
            }
            ownsPort = false;
            endpoint = null;
            return NtStatus.STATUS_INSUFFICIENT_RESOURCES.code();
        }
        this.qp = qp;
        this.sendQp = qp;
        qp.connector = this;
        call.start(completion, requestContext);
        state = CONNECTING;
        adapter.arm(this, adapter.info().connectTimeoutNs());
        return NtStatus.STATUS_PENDING.code();
    }

    private boolean tcpConnect() {
        requestId = adapter.newRequestId(this);
        // A shared endpoint's connections share its local port: the stack then checks the 4-tuple only.
        long options = endpoint != null ? SHARED_PORT : TcpSocketOptions.DEFAULTS;
        if (!adapter.tcp.connect(requestId, 0, localPort, remoteIp, remotePort, control.addressOffset(),
            requestLength, false, options)) {
            adapter.forgetRequest(requestId);
            return false;
        }
        return true;
    }

    /**
     * Caps a consumer's read limit at the adapter's maximum. Both are ULONGs (NDK_FN_CONNECT, NDK_FN_ACCEPT):
     * compared unsigned, so ~0 (0xFFFFFFFF, "as many as you have") is capped to the maximum, not read as −1.
     */
    static int clamp(int requested, int max) {
        return Integer.compareUnsigned(requested, max) < 0 ? requested : max;
    }

    /** TcpService: the TCP connect ended. */
    void onTcpConnected(long h, int status) {
        adapter.forgetRequest(requestId);
        if (state != CONNECTING) {
            // timed out or closed meanwhile: the connection is not wanted
            if (status == NtStatus.STATUS_SUCCESS.code()) {
                attach(h);
                ep.abort();
            } else {
                releasePort();
            }
            return;
        }
        if (status == NtStatus.STATUS_SUCCESS.code()) {
            attach(h);
            state = AWAIT_REPLY;
            pump();
            return;
        }
        if (ownsPort && (status == NtStatus.STATUS_SHARING_VIOLATION.code()
            || status == NtStatus.STATUS_ADDRESS_ALREADY_EXISTS.code())
            && portTries <= PortTable.EPHEMERAL_LAST - PortTable.EPHEMERAL_FIRST) {
            // The stack uses the port we picked: pick the next free one.
            adapter.ports.free(localPort);
            int p = adapter.ports.allocate();
            if (p != 0) {
                localPort = p;
                portTries++;
                if (tcpConnect()) {
                    return;
                }
                adapter.ports.free(p);
                status = NtStatus.STATUS_INSUFFICIENT_RESOURCES.code();
            } else {
                status = NtStatus.STATUS_TOO_MANY_ADDRESSES.code();
            }
            ownsPort = false;
        }
        releasePort();
        unbindQp();
        state = DEAD;
        finish(status);
    }

    // ================================================================ NdkCompleteConnect

    /**
     * NdkCompleteConnect: the initiator's third step after a successful connect: sends the ready-to-receive
     * message (a zero-length FPDU, RFC 6581 §4) that completes the responder's accept, and arms the disconnect
     * event. STATUS_PENDING, then STATUS_SUCCESS (the QP may send), or the connection's failure. Inline:
     * STATUS_CONNECTION_INVALID (no successful connect to complete), STATUS_CONNECTION_ABORTED (the peer
     * reset the connection meanwhile), STATUS_INSUFFICIENT_RESOURCES (request ring full).
     */
    public NtStatus completeConnect(NdkDisconnectEventCallback disconnectEvent, Object disconnectEventContext,
                               NdkRequestCompletion completion, Object requestContext) {
        if (!adapter.onDispatchThread()) {
            return adapter.defer(completion, requestContext, () -> completeConnect(disconnectEvent,
                disconnectEventContext, completion, requestContext));
        }
        if (state == DEAD && deathStatus == NtStatus.STATUS_CONNECTION_ABORTED.code()) {
            return NtStatus.STATUS_CONNECTION_ABORTED;
        }
        if (state != CONNECTED || passive) {
            return NtStatus.STATUS_CONNECTION_INVALID;
        }
        if (completion == null) {
            return NtStatus.STATUS_INVALID_PARAMETER;
        }
        int length = MpaFrame.emitFpdu(control, CONTROL_RTR_OFFSET, 0, crc ? txCrc : null);
        if (!adapter.tcp.send(ep.handle(), REQUEST_RTR, control.addressOffset() + CONTROL_RTR_OFFSET, length)) {
            return NtStatus.STATUS_INSUFFICIENT_RESOURCES;
        }
        disconnectCallback = disconnectEvent;
        disconnectContext = disconnectEventContext;
        call.start(completion, requestContext);
        state = COMPLETING;
        return NtStatus.STATUS_PENDING;
    }

    // ================================================================ NdkAccept / NdkReject

    /**
     * NdkAccept: accepts the request this connector carries, binding {@code qp}, with this side's read limits
     * (ULONGs, read unsigned; capped to the adapter's maxima; the effective values are the minimum with the initiator's opposite
     * limit) and {@code privateDataLength} bytes of private data in the MPA reply. STATUS_PENDING, then
     * STATUS_SUCCESS when the initiator's NdkCompleteConnect arrived, STATUS_IO_TIMEOUT when it did not within
     * the adapter's complete-connect timeout (the connection is reset), STATUS_CONNECTION_ABORTED when the
     * initiator closed or reset first. Inline: STATUS_CONNECTION_INVALID (no request to accept),
     * STATUS_CONNECTION_ABORTED (the initiator went away meanwhile), STATUS_INVALID_BUFFER_SIZE (private
     * data above MaxCalleeData), STATUS_INVALID_PARAMETER, STATUS_INSUFFICIENT_RESOURCES.
     */
    public NtStatus accept(NdkQp qp, int inboundReadLimit, int outboundReadLimit, MemorySegment privateData,
                      int privateDataLength, NdkDisconnectEventCallback disconnectEvent,
                      Object disconnectEventContext, NdkRequestCompletion completion, Object requestContext) {
        if (!adapter.onDispatchThread()) {
            MemorySegment pd = NdkAdapter.copy(privateData, privateDataLength);
            return adapter.defer(completion, requestContext, () -> accept(qp, inboundReadLimit, outboundReadLimit, pd,
                privateDataLength, disconnectEvent, disconnectEventContext, completion, requestContext));
        }
        if (state == DEAD && deathStatus == NtStatus.STATUS_CONNECTION_ABORTED.code()) {
            return NtStatus.STATUS_CONNECTION_ABORTED;
        }
        if (state != REQUEST_RECEIVED) {
            return NtStatus.STATUS_CONNECTION_INVALID;
        }
        if (qp == null || qp.connector != null || completion == null) {
            return NtStatus.STATUS_INVALID_PARAMETER;
        }
        if (privateDataLength < 0 || privateDataLength > adapter.info().maxCalleeData()
            || (privateData == null ? privateDataLength > 0 : privateDataLength > privateData.byteSize())) {
            return NtStatus.STATUS_INVALID_BUFFER_SIZE;
        }
        NdkAdapterInfo info = adapter.info();
        ownInbound = clamp(inboundReadLimit, info.maxInboundReadLimit());
        ownOutbound = clamp(outboundReadLimit, info.maxOutboundReadLimit());
        int length = MpaFrame.emit(control, 0, false, false, crc, effectiveInbound(), effectiveOutbound(),
            privateData, 0, privateDataLength);
        if (!adapter.tcp.send(ep.handle(), REQUEST_REPLY, control.addressOffset(), length)) {
            return NtStatus.STATUS_INSUFFICIENT_RESOURCES;
        }
        listener.decided(this);
        this.qp = qp;
        this.sendQp = qp;
        qp.connector = this;
        disconnectCallback = disconnectEvent;
        disconnectContext = disconnectEventContext;
        call.start(completion, requestContext);
        state = ACCEPTING;
        adapter.arm(this, info.completeConnectTimeoutNs());
        schedulePump(); // bytes already here (never before our reply, from a correct peer) parse in dispatch()
        return NtStatus.STATUS_PENDING;
    }

    /**
     * NdkReject: refuses the request with an MPA reply whose reject flag is set, carrying
     * {@code privateDataLength} bytes of private data, then closes the TCP connection gracefully; the
     * initiator's connect completes with STATUS_CONNECTION_REFUSED. Synchronous: STATUS_SUCCESS;
     * STATUS_CONNECTION_INVALID (no request to reject); STATUS_INVALID_BUFFER_SIZE (above MaxCalleeData);
     * STATUS_INSUFFICIENT_RESOURCES (request ring full).
     */
    public NtStatus reject(MemorySegment privateData, int privateDataLength) {
        adapter.checkThread();
        if (state != REQUEST_RECEIVED) {
            return NtStatus.STATUS_CONNECTION_INVALID;
        }
        if (privateDataLength < 0 || privateDataLength > adapter.info().maxCalleeData()
            || (privateData == null ? privateDataLength > 0 : privateDataLength > privateData.byteSize())) {
            return NtStatus.STATUS_INVALID_BUFFER_SIZE;
        }
        int length = MpaFrame.emit(control, 0, false, true, 0, 0, privateData, 0, privateDataLength);
        if (!adapter.tcp.send(ep.handle(), REQUEST_REPLY, control.addressOffset(), length)) {
            return NtStatus.STATUS_INSUFFICIENT_RESOURCES;
        }
        ep.shutdown();
        listener.decided(this);
        state = DEAD;
        return NtStatus.STATUS_SUCCESS;
    }

    // ================================================================ queries

    private int effectiveInbound() {
        int own = ownInbound >= 0 ? ownInbound : adapter.info().maxInboundReadLimit();
        return Math.min(Math.min(own, adapter.info().maxInboundReadLimit()), peerOrd);
    }

    private int effectiveOutbound() {
        int own = ownOutbound >= 0 ? ownOutbound : adapter.info().maxOutboundReadLimit();
        return Math.min(Math.min(own, adapter.info().maxOutboundReadLimit()), peerIrd);
    }

    /**
     * NdkGetConnectionData: the effective read limits (inbound = min(own inbound, adapter MaxInboundReadLimit,
     * peer's outbound); outbound likewise) and the peer's private data (from its request, accept or reject).
     * With {@code privateData} null and {@code capacity} 0: STATUS_SUCCESS and the size in
     * {@code out.privateDataLength}. Otherwise copies up to {@code capacity} bytes: STATUS_SUCCESS if all
     * fit, else STATUS_BUFFER_TOO_SMALL (the required size in {@code out.privateDataLength}).
     * STATUS_INVALID_DEVICE_STATE before the peer's request or reply arrived; STATUS_INVALID_PARAMETER for
     * a {@code capacity} above the segment's size, or a read-only segment.
     */
    public NtStatus getConnectionData(NdkConnectionData out, MemorySegment privateData, int capacity) {
        adapter.checkThread();
        if (!peerKnown) {
            return NtStatus.STATUS_INVALID_DEVICE_STATE;
        }
        if (out == null || capacity < 0 || (privateData == null && capacity > 0)
            || (privateData != null && (capacity > privateData.byteSize() || privateData.isReadOnly()))) {
            return NtStatus.STATUS_INVALID_PARAMETER;
        }
        out.inboundReadLimit = effectiveInbound();
        out.outboundReadLimit = effectiveOutbound();
        out.privateDataLength = peerPrivateDataLength;
        if (privateData == null) {
            return NtStatus.STATUS_SUCCESS;
        }
        int n = Math.min(capacity, peerPrivateDataLength);
        MemorySegment.copy(peerPrivateData, 0, privateData, ValueLayout.JAVA_BYTE, 0, n);
        return capacity >= peerPrivateDataLength ? NtStatus.STATUS_SUCCESS : NtStatus.STATUS_BUFFER_TOO_SMALL;
    }

    /** NdkGetLocalAddress: this side's address, or null (STATUS_INVALID_DEVICE_STATE) before connecting. */
    public SockAddrIn getLocalAddress() {
        adapter.checkThread();
        return ep.hasHandle() || state == CONNECTING ? new SockAddrIn(localIp, localPort) : null;
    }

    /** NdkGetPeerAddress: the peer's address, or null (STATUS_INVALID_DEVICE_STATE) before connecting. */
    public SockAddrIn getPeerAddress() {
        adapter.checkThread();
        return ep.hasHandle() || state == CONNECTING ? new SockAddrIn(remoteIp, remotePort) : null;
    }

    // ================================================================ NdkDisconnect / close

    /**
     * NdkDisconnect: graceful. Queued messages go first, then FIN; completes (STATUS_PENDING, then
     * STATUS_SUCCESS) once the peer's side is closed too (its FIN arrived, or the connection ended). Inline
     * STATUS_SUCCESS when the peer already reset the connection; STATUS_INVALID_DEVICE_STATE when there is
     * no connection to disconnect (never connected, already disconnecting or disconnected).
     */
    public NtStatus disconnect(NdkRequestCompletion completion, Object requestContext) {
        if (!adapter.onDispatchThread()) {
            return adapter.defer(completion, requestContext, () -> disconnect(completion, requestContext));
        }
        if (state == DEAD && ep.stackClosed() && deathStatus == NtStatus.STATUS_CONNECTION_ABORTED.code()) {
            state = CLOSED;
            return NtStatus.STATUS_SUCCESS;
        }
        if (state != ESTABLISHED && state != CONNECTED) {
            return NtStatus.STATUS_INVALID_DEVICE_STATE;
        }
        if (completion == null) {
            return NtStatus.STATUS_INVALID_PARAMETER;
        }
        if (!adapter.tcp.shutdown(ep.handle())) {
            return NtStatus.STATUS_INSUFFICIENT_RESOURCES;
        }
        // ESTABLISHED and CONNECTED imply the TCP connection is still open (onTcpClosed leaves both).
        localDisconnect = true;
        call.start(completion, requestContext);
        state = DISCONNECTING;
        return NtStatus.STATUS_PENDING;
    }

    /**
     * NdkCloseConnector: resets a connection still open, completes a pending call with STATUS_CANCELLED,
     * flushes the QP's posted receives (STATUS_CANCELLED) and unbinds it. Sends still outstanding complete
     * (STATUS_CANCELLED) once the stack reports the connection closed. Synchronous: STATUS_SUCCESS.
     */
    public NtStatus close() {
        adapter.checkThread();
        if (state == CLOSED) {
            return NtStatus.STATUS_SUCCESS;
        }
        int was = state;
        state = CLOSED;
        if (was == REQUEST_RECEIVED && listener != null) {
            listener.decided(this);
        }
        if (ep.hasHandle() && !ep.stackClosed()) {
            ep.abort();
        }
        releaseAll();
        flushAndUnbindQp(); // the connection ends here for the QP (NDK_FN_DISCONNECT: the QP is flushed)
        adapter.disarm(this);
        if (call.pending()) {
            finish(NtStatus.STATUS_CANCELLED.code());
        }
        return NtStatus.STATUS_SUCCESS;
    }

    // ================================================================ events from the adapter

    void onAccepted(NdkListener l, long h, int localPort, int remoteIp, int remotePort) {
        this.listener = l;
        ep.attach(h); // mapped by the adapter already
        this.localIp = adapter.stackAddress;
        this.localPort = localPort;
        this.remoteIp = remoteIp;
        this.remotePort = remotePort;
        adapter.arm(this, adapter.info().connectTimeoutNs());
    }

    /** The listener will not take this request: reset the connection (the initiator sees REFUSED). */
    void refuse() {
        state = DEAD;
        ep.abort();
    }

    void onReceive(long mbuf, long address, int length) {
        if (state == CLOSED || ep.stackClosed()) {
            ep.refuse(mbuf, address, length);
            return;
        }
        ep.onReceive(mbuf, address, length); // straight from the event ring into the endpoint's queue
        pump();
    }

    void onSendComplete(long requestId, int status) {
        if (requestId == REQUEST_RTR) {
            if (state != COMPLETING) {
                return;
            }
            if (status == NtStatus.STATUS_SUCCESS.code()) {
                state = ESTABLISHED;
                finish(status);
                pump();
            } else {
                fail(NtStatus.STATUS_CONNECTION_ABORTED.code()); // the connection is going away (reset meanwhile)
            }
        } else if (requestId >= 0 && sendQp != null) {
            sendQp.onSendComplete(this, requestId, status);
        }
    }

    void onPeerClosed() {
        ep.onPeerClosed();
        switch (state) {
            case AWAIT_REQUEST -> {
                state = DEAD;
                ep.abort();
            }
            case AWAIT_REPLY, ACCEPTING, COMPLETING, REQUEST_RECEIVED, CONNECTED -> {
                ep.abort(); // the handshake cannot finish: reset, and onTcpClosed reports it
            }
            case DISCONNECTING -> {
                state = DEAD;
                flushAndUnbindQp(); // the QP may be closed or reused once the disconnect completed
                finish(NtStatus.STATUS_SUCCESS.code());
            }
            default -> pump(); // ESTABLISHED: the disconnect event fires once the stream is consumed
        }
    }

    void onTcpClosed(int status) {
        ep.onStackClosed(status == NtStatus.STATUS_SUCCESS.code());
        ep.unmap();
        if (sendQp != null) {
            // Sends whose request reached the stack after the connection closed complete there with
            // INVALID_CONNECTION, after this event and for a handle no longer mapped: flush them now.
            sendQp.flushSends(this);
        }
        releaseAll();
        releasePort();
        adapter.disarm(this);
        switch (state) {
            case AWAIT_REPLY -> fail(NtStatus.STATUS_CONNECTION_REFUSED.code());
            case ACCEPTING, COMPLETING -> fail(NtStatus.STATUS_CONNECTION_ABORTED.code());
            case CONNECTED -> die(NtStatus.STATUS_CONNECTION_ABORTED.code());
            case REQUEST_RECEIVED -> {
                listener.decided(this);
                die(NtStatus.STATUS_CONNECTION_ABORTED.code());
            }
            case ESTABLISHED -> {
                die(NtStatus.STATUS_CONNECTION_ABORTED.code());
                fireDisconnectEvent();
            }
            case DISCONNECTING -> {
                state = DEAD;
                flushAndUnbindQp();
                finish(NtStatus.STATUS_SUCCESS.code());
            }
            case AWAIT_REQUEST -> state = DEAD;
            default -> {
            }
        }
        unbindQp();
    }

    void onTimeout() {
        switch (state) {
            case CONNECTING -> {
                state = DEAD; // the TCP connect goes on; onTcpConnected resets it if it still succeeds
                unbindQp();
                finish(NtStatus.STATUS_IO_TIMEOUT.code());
            }
            case AWAIT_REPLY -> {
                ep.abort();
                fail(NtStatus.STATUS_IO_TIMEOUT.code());
            }
            case ACCEPTING -> {
                ep.abort();
                fail(NtStatus.STATUS_IO_TIMEOUT.code());
            }
            case AWAIT_REQUEST -> {
                ep.abort(); // a TCP connection that never sent its MPA request
                state = DEAD;
            }
            default -> {
            }
        }
    }

    /** The pending call fails with {@code status}; the connector is dead. */
    void fail(int status) {
        state = DEAD;
        unbindQp();
        finish(status);
    }

    private void die(int status) {
        state = DEAD;
        deathStatus = status;
        flushAndUnbindQp();
    }

    /**
     * The connection ended for the QP: unbinds it, then flushes the receives posted now (STATUS_CANCELLED);
     * receives its handler posts again from those completions stay posted on the unbound QP.
     */
    private void flushAndUnbindQp() {
        NdkQp bound = qp;
        unbindQp();
        if (bound != null) {
            bound.flushReceives();
        }
    }

    void fireDisconnectEvent() {
        if (disconnectEventDone || localDisconnect) {
            return;
        }
        disconnectEventDone = true;
        if (disconnectCallback != null) {
            try {
                disconnectCallback.onDisconnectEvent(disconnectContext);
            } catch (Throwable t) {
                adapter.onCallbackError(t);
            }
        }
    }

    void finish(int status) {
        adapter.disarm(this);
        call.finish(adapter, status);
    }

    void unbindQp() {
        if (qp != null && state != ESTABLISHED && state != DISCONNECTING) {
            qp.connector = null;
            qp = null;
        }
    }

    private void releasePort() {
        if (ownsPort) {
            ownsPort = false;
            adapter.ports.free(localPort);
        }
    }
    // ================================================================ the byte stream (NdkStream)

    /** Parses what arrived at the next {@code dispatch()} round (see {@link NdkStream#schedulePump}). */
    void schedulePump() {
        stream.schedulePump();
    }

    /** Parses what arrived, as far as the state allows. */
    void pump() {
        stream.pump();
    }

    private void releaseAll() {
        ep.releaseAll();
    }

    @Override
    public String toString() {
        return "NdkConnector[" + (passive ? "passive" : "active") + " state " + state + " "
            + new SockAddrIn(localIp, localPort) + " -> " + new SockAddrIn(remoteIp, remotePort) + "]";
    }
}
