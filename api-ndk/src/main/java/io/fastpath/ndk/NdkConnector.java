package io.fastpath.ndk;

import io.fastpath.provider.DescriptorQueue;
import io.fastpath.provider.NtStatus;
import io.fastpath.provider.PortTable;
import io.fastpath.provider.TimerWheel;
import io.fastpath.stack.tcp.TcpSocketOptions;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import org.agrona.MutableDirectBuffer;
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

    // FPDU receive phases
    private static final int RX_HEADER = 0;
    private static final int RX_WAIT_RECEIVE = 1;
    private static final int RX_BODY = 2;
    private static final int RX_TRAILER = 3;

    private final NdkAdapter adapter;
    final boolean passive;
    int state;
    private long handle;
    private boolean hasHandle;
    long requestId;
    private NdkQp qp;
    /** The QP this connection's sends came from: their completions arrive even after the QP was unbound. */
    private NdkQp sendQp;
    private NdkListener listener;
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
    private int peerIrd;
    private int peerOrd;
    private boolean peerKnown;
    private final byte[] peerPrivateData = new byte[MpaFrame.MAX_CONSUMER_PRIVATE_DATA];
    private int peerPrivateDataLength;
    /** The status calls report once the connection died under the consumer (CONNECTION_ABORTED). */
    private int deathStatus = NtStatus.STATUS_INVALID_DEVICE_STATE.code();
    private NdkRequestCompletion completion;
    private Object completionContext;
    private NdkDisconnectEventCallback disconnectCallback;
    private Object disconnectContext;
    private boolean disconnectEventDone;
    private boolean localDisconnect;
    private boolean peerClosed;
    private boolean tcpClosed;
    /** The connector's timer on the adapter's wheel ({@link TimerWheel#NONE}: none). */
    long timer = TimerWheel.NONE;

    private final UnsafeBuffer control = new UnsafeBuffer(ByteBuffer.allocateDirect(CONTROL_RTR_OFFSET + 16));
    private int requestLength;

    // received bytes: descriptors over mbufs, consumed in order
    private final DescriptorQueue received = new DescriptorQueue(8);
    private final UnsafeBuffer srcView = new UnsafeBuffer(0, 0);
    private final UnsafeBuffer dstView = new UnsafeBuffer(0, 0);
    private final UnsafeBuffer handshake = new UnsafeBuffer(new byte[MpaFrame.MAX_FRAME_LENGTH]);
    private int handshakeLength;
    private final MpaFrame frame = new MpaFrame();
    private int rxPhase = RX_HEADER;
    private int rxHeaderBytes;
    private int rxHeader;
    private int rxUlpdu;
    private int rxDone;
    private int rxSkip;
    private boolean pumping;
    /** CRC in use on this connection: either side's MPA request/reply had C set (RFC 5044 §7.1). */
    private boolean crc;
    private final java.util.zip.CRC32C rxCrc = new java.util.zip.CRC32C();
    private final java.util.zip.CRC32C txCrc = new java.util.zip.CRC32C();
    /** Received bytes pass through here on their way to rxCrc (mbuf memory has no ByteBuffer view). */
    private final byte[] crcScratch = new byte[512];
    /** Bytes copied or skipped now belong to the FPDU's CRC (ULPDU and pad). */
    private boolean rxCrcActive;
    private int rxCrcField;
    private boolean pumpAgain;
    private boolean pumpScheduled;
    private final Runnable scheduledPump = this::runScheduledPump;

    NdkConnector(NdkAdapter adapter, boolean passive) {
        this.adapter = adapter;
        this.passive = passive;
        this.state = passive ? AWAIT_REQUEST : IDLE;
    }

    long handle() {
        return handle;
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
        return received.count();
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
        this.completion = completion;
        this.completionContext = requestContext;
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
                handle = h;
                hasHandle = true;
                adapter.mapHandle(h, this);
                adapter.abort(h);
            } else {
                releasePort();
            }
            return;
        }
        if (status == NtStatus.STATUS_SUCCESS.code()) {
            handle = h;
            hasHandle = true;
            adapter.mapHandle(h, this);
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
        if (!adapter.tcp.send(handle, REQUEST_RTR, control.addressOffset() + CONTROL_RTR_OFFSET, length)) {
            return NtStatus.STATUS_INSUFFICIENT_RESOURCES;
        }
        disconnectCallback = disconnectEvent;
        disconnectContext = disconnectEventContext;
        this.completion = completion;
        this.completionContext = requestContext;
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
        if (!adapter.tcp.send(handle, REQUEST_REPLY, control.addressOffset(), length)) {
            return NtStatus.STATUS_INSUFFICIENT_RESOURCES;
        }
        listener.decided(this);
        this.qp = qp;
        this.sendQp = qp;
        qp.connector = this;
        disconnectCallback = disconnectEvent;
        disconnectContext = disconnectEventContext;
        this.completion = completion;
        this.completionContext = requestContext;
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
        if (!adapter.tcp.send(handle, REQUEST_REPLY, control.addressOffset(), length)) {
            return NtStatus.STATUS_INSUFFICIENT_RESOURCES;
        }
        adapter.shutdown(handle);
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
        return hasHandle || state == CONNECTING ? new SockAddrIn(localIp, localPort) : null;
    }

    /** NdkGetPeerAddress: the peer's address, or null (STATUS_INVALID_DEVICE_STATE) before connecting. */
    public SockAddrIn getPeerAddress() {
        adapter.checkThread();
        return hasHandle || state == CONNECTING ? new SockAddrIn(remoteIp, remotePort) : null;
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
        if (state == DEAD && tcpClosed && deathStatus == NtStatus.STATUS_CONNECTION_ABORTED.code()) {
            state = CLOSED;
            return NtStatus.STATUS_SUCCESS;
        }
        if (state != ESTABLISHED && state != CONNECTED) {
            return NtStatus.STATUS_INVALID_DEVICE_STATE;
        }
        if (completion == null) {
            return NtStatus.STATUS_INVALID_PARAMETER;
        }
        if (!adapter.tcp.shutdown(handle)) {
            return NtStatus.STATUS_INSUFFICIENT_RESOURCES;
        }
        // ESTABLISHED and CONNECTED imply the TCP connection is still open (onTcpClosed leaves both).
        localDisconnect = true;
        this.completion = completion;
        this.completionContext = requestContext;
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
        if (hasHandle && !tcpClosed) {
            adapter.abort(handle);
        }
        releaseAll();
        flushAndUnbindQp(); // the connection ends here for the QP (NDK_FN_DISCONNECT: the QP is flushed)
        adapter.disarm(this);
        if (completion != null) {
            finish(NtStatus.STATUS_CANCELLED.code());
        }
        return NtStatus.STATUS_SUCCESS;
    }

    // ================================================================ events from the adapter

    void onAccepted(NdkListener l, long h, int localPort, int remoteIp, int remotePort) {
        this.listener = l;
        this.handle = h;
        this.hasHandle = true;
        this.localIp = adapter.stackAddress;
        this.localPort = localPort;
        this.remoteIp = remoteIp;
        this.remotePort = remotePort;
        adapter.arm(this, adapter.info().connectTimeoutNs());
    }

    /** The listener will not take this request: reset the connection (the initiator sees REFUSED). */
    void refuse() {
        state = DEAD;
        adapter.abort(handle);
    }

    void onReceive(long mbuf, long address, int length) {
        if (state == CLOSED || tcpClosed) {
            adapter.release(handle, mbuf, length);
            return;
        }
        received.add(mbuf, address, length);
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
        peerClosed = true;
        switch (state) {
            case AWAIT_REQUEST -> {
                state = DEAD;
                adapter.abort(handle);
            }
            case AWAIT_REPLY, ACCEPTING, COMPLETING, REQUEST_RECEIVED, CONNECTED -> {
                adapter.abort(handle); // the handshake cannot finish: reset, and onTcpClosed reports it
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
        tcpClosed = true;
        adapter.unmapHandle(handle);
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
                adapter.abort(handle);
                fail(NtStatus.STATUS_IO_TIMEOUT.code());
            }
            case ACCEPTING -> {
                adapter.abort(handle);
                fail(NtStatus.STATUS_IO_TIMEOUT.code());
            }
            case AWAIT_REQUEST -> {
                adapter.abort(handle); // a TCP connection that never sent its MPA request
                state = DEAD;
            }
            default -> {
            }
        }
    }

    /** The pending call fails with {@code status}; the connector is dead. */
    private void fail(int status) {
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

    private void fireDisconnectEvent() {
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

    private void finish(int status) {
        NdkRequestCompletion c = completion;
        Object ctx = completionContext;
        completion = null;
        completionContext = null;
        adapter.disarm(this);
        adapter.complete(c, ctx, status);
    }

    private void unbindQp() {
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

    // ================================================================ the byte stream

    /**
     * Parses what arrived at the next {@code dispatch()} round, so that completions never run inside the call
     * that made parsing possible (a posted receive, an accept).
     */
    void schedulePump() {
        if (!pumpScheduled) {
            pumpScheduled = true;
            adapter.later(scheduledPump);
        }
    }

    private void runScheduledPump() {
        pumpScheduled = false;
        pump();
    }

    /** Parses what arrived, as far as the state allows (re-entrant calls fold into the running one). */
    void pump() {
        if (pumping) {
            pumpAgain = true;
            return;
        }
        pumping = true;
        try {
            do {
                pumpAgain = false;
                step();
            } while (pumpAgain);
        } finally {
            pumping = false;
        }
        if (state == ESTABLISHED && peerClosed && received.count() == 0 && rxPhase == RX_HEADER) {
            fireDisconnectEvent();
        }
    }

    private void step() {
        while (received.count() > 0) {
            switch (state) {
                case AWAIT_REQUEST -> {
                    if (!readHandshake(true)) {
                        return;
                    }
                }
                case AWAIT_REPLY -> {
                    if (!readHandshake(false)) {
                        return;
                    }
                }
                case ACCEPTING, ESTABLISHED, DISCONNECTING -> {
                    if (!readFpdu()) {
                        return;
                    }
                }
                default -> {
                    if (state == DEAD || state == CLOSED) {
                        releaseAll();
                    }
                    return; // CONNECTED / COMPLETING: the responder does not send before our RTR
                }
            }
        }
    }

    /** Reads one MPA request or reply; returns false when it needs more bytes or the state changed. */
    private boolean readHandshake(boolean request) {
        int need = handshakeLength < MpaFrame.HEADER_LENGTH ? MpaFrame.HEADER_LENGTH - handshakeLength
            : MpaFrame.HEADER_LENGTH + (handshake.getShort(MpaFrame.PD_LENGTH_OFFSET, java.nio.ByteOrder.BIG_ENDIAN)
            & 0xFFFF) - handshakeLength;
        handshakeLength += copyOut(handshake, handshakeLength, need);
        // The adapter's MaxCallerData / MaxCalleeData bound what it accepts as well as what it sends.
        int r = frame.parse(handshake, 0, handshakeLength, request,
            request ? adapter.info().maxCallerData() : adapter.info().maxCalleeData());
        if (r == 0) {
            return received.count() > 0;
        }
        if (r < 0) {
            adapter.countMalformed(r);
            if (request) {
                if (r != MpaFrame.ERR_BAD_KEY && r != MpaFrame.ERR_PD_LENGTH && handshakeLength >= MpaFrame.HEADER_LENGTH) {
                    // An MPA request we cannot serve (markers, revision, RTR model, private data above
                    // MaxCallerData): say so with a reject.
                    int length = MpaFrame.emit(control, 0, false, true, 0, 0, null, 0, 0);
                    if (adapter.tcp.send(handle, REQUEST_REPLY, control.addressOffset(), length)) {
                        adapter.shutdown(handle);
                    } else {
                        adapter.abort(handle); // no room for the reply: a reset says no as well
                    }
                } else {
                    adapter.abort(handle);
                }
                state = DEAD;
                adapter.disarm(this);
            } else {
                adapter.abort(handle);
                fail(NtStatus.STATUS_CONNECTION_ABORTED.code());
            }
            releaseAll();
            return false;
        }
        peerIrd = frame.ird();
        peerOrd = frame.ord();
        peerPrivateDataLength = frame.privateDataLength();
        handshake.getBytes(frame.privateDataOffset(), peerPrivateData, 0, peerPrivateDataLength);
        peerKnown = true;
        handshakeLength = 0;
        // RFC 5044 §7.1: "if the C flag is set in either the MPA Request or Reply, CRC MUST be used". The
        // responder's reply carries C when either side asked (accept()).
        crc = adapter.info().crcWanted() || frame.crc();
        if (request) {
            state = REQUEST_RECEIVED;
            adapter.disarm(this);
            listener.offer(this);
            return false;
        }
        if (frame.rejected()) {
            adapter.shutdown(handle);
            fail(NtStatus.STATUS_CONNECTION_REFUSED.code());
            return false;
        }
        state = CONNECTED;
        finish(NtStatus.STATUS_SUCCESS.code());
        return false;
    }

    /** Reads FPDUs; returns false when it needs bytes or a posted receive, or the state changed. */
    private boolean readFpdu() {
        switch (rxPhase) {
            case RX_HEADER -> {
                while (rxHeaderBytes < MpaFrame.FPDU_HEADER_LENGTH) {
                    int b = readByte();
                    if (b < 0) {
                        return false;
                    }
                    rxHeader = (rxHeader << 8) | b;
                    rxHeaderBytes++;
                }
                rxUlpdu = rxHeader & 0xFFFF;
                rxHeader = 0;
                rxHeaderBytes = 0;
                rxDone = 0;
                rxSkip = MpaFrame.fpduLength(rxUlpdu) - MpaFrame.FPDU_HEADER_LENGTH - rxUlpdu;
                if (crc) {
                    rxCrc.reset();
                    rxCrc.update(rxUlpdu >>> 8);
                    rxCrc.update(rxUlpdu);
                    rxCrcActive = true;
                }
                if (state == ACCEPTING) {
                    if (rxUlpdu != 0) {
                        // the initiator's first message must be the zero-length RTR (RFC 6581 §4)
                        adapter.countMalformed(MpaFrame.ERR_RTR_MODEL);
                        adapter.abort(handle);
                        fail(NtStatus.STATUS_CONNECTION_ABORTED.code());
                        return false;
                    }
                    rxPhase = RX_TRAILER;
                } else {
                    rxPhase = RX_WAIT_RECEIVE;
                }
                return true;
            }
            case RX_WAIT_RECEIVE -> {
                if (qp == null || !qp.receivePosted()) {
                    return false; // held until a receive is posted: the TCP window closes meanwhile
                }
                rxPhase = RX_BODY;
                return true;
            }
            case RX_BODY -> {
                int capacity = qp.receiveCapacity();
                if (rxDone < capacity) {
                    int want = Math.min(rxUlpdu, capacity) - rxDone;
                    if (want > 0) {
                        dstView.wrap(qp.receiveAddress(), capacity);
                        int n = copyOut(dstView, rxDone, want);
                        rxDone += n;
                        if (n < want) {
                            return false;
                        }
                    }
                }
                if (rxDone < rxUlpdu) {
                    int n = skip(rxUlpdu - rxDone);
                    rxDone += n;
                    if (rxDone < rxUlpdu) {
                        return false;
                    }
                }
                rxPhase = RX_TRAILER;
                return true;
            }
            default -> { // RX_TRAILER: pad (part of the CRC'd bytes), then the CRC field
                if (rxSkip > MpaFrame.FPDU_CRC_LENGTH) {
                    rxSkip -= skip(rxSkip - MpaFrame.FPDU_CRC_LENGTH);
                    if (rxSkip > MpaFrame.FPDU_CRC_LENGTH) {
                        return false;
                    }
                }
                rxCrcActive = false;
                while (rxSkip > 0) {
                    int b = readByte();
                    if (b < 0) {
                        return false;
                    }
                    // RFC 5044 §4.1 via RFC 3720 §B.4: the CRC32c's least significant byte comes first
                    rxCrcField |= b << (8 * (MpaFrame.FPDU_CRC_LENGTH - rxSkip));
                    rxSkip--;
                }
                int field = rxCrcField;
                rxCrcField = 0;
                rxPhase = RX_HEADER;
                if (crc && field != (int) rxCrc.getValue()) {
                    crcMismatch(); // not checked when CRC is off: the field "MUST NOT be checked" (RFC 5044 §4.1)
                    return false;
                }
                if (state == ACCEPTING) {
                    state = ESTABLISHED;
                    finish(NtStatus.STATUS_SUCCESS.code());
                } else {
                    int capacity = qp.receiveCapacity();
                    qp.completeReceive(rxUlpdu > capacity ? NtStatus.STATUS_BUFFER_OVERFLOW.code() : NtStatus.STATUS_SUCCESS.code(),
                        Math.min(rxUlpdu, capacity));
                }
                return true;
            }
        }
    }

    /**
     * An FPDU's CRC did not match: the connection is reset and ends here. The receive holding the damaged
     * message completes with STATUS_DATA_ERROR, the other posted receives with STATUS_CANCELLED; the connector
     * is dead (STATUS_CONNECTION_ABORTED) and the disconnect event fires. Counted ({@link NdkAdapter#crcErrors}).
     */
    private void crcMismatch() {
        adapter.countCrcError();
        adapter.abort(handle);
        releaseAll();
        if (state == ACCEPTING) { // the initiator's RTR
            fail(NtStatus.STATUS_CONNECTION_ABORTED.code());
            return;
        }
        boolean disconnecting = state == DISCONNECTING;
        NdkQp bound = qp;
        state = DEAD;
        deathStatus = NtStatus.STATUS_CONNECTION_ABORTED.code();
        unbindQp();
        if (bound != null) {
            if (bound.receivePosted()) {
                bound.completeReceive(NtStatus.STATUS_DATA_ERROR.code(), 0);
            }
            bound.flushReceives();
        }
        if (disconnecting) {
            finish(NtStatus.STATUS_CONNECTION_ABORTED.code());
        } else {
            fireDisconnectEvent();
        }
    }

    /** Feeds {@code k} received bytes at the current position to the FPDU's CRC while it is being summed. */
    private void crcReceived(int k) {
        if (rxCrcActive) {
            MpaFrame.update(rxCrc, srcView, received.headOffset(), k, crcScratch);
        }
    }

    private int readByte() {
        if (received.count() == 0) {
            return -1;
        }
        srcView.wrap(received.address(0), received.length(0));
        int b = srcView.getByte(received.headOffset()) & 0xFF;
        advance(1);
        return b;
    }

    /** Copies up to {@code n} bytes to {@code dst} at {@code offset}; returns how many. */
    private int copyOut(MutableDirectBuffer dst, int offset, int n) {
        int done = 0;
        while (done < n && received.count() > 0) {
            int k = Math.min(n - done, received.headRemaining());
            srcView.wrap(received.address(0), received.length(0));
            dst.putBytes(offset + done, srcView, received.headOffset(), k);
            crcReceived(k);
            done += k;
            advance(k);
        }
        return done;
    }

    private int skip(int n) {
        int done = 0;
        while (done < n && received.count() > 0) {
            int k = Math.min(n - done, received.headRemaining());
            srcView.wrap(received.address(0), received.length(0));
            crcReceived(k);
            done += k;
            advance(k);
        }
        return done;
    }

    private void advance(int k) {
        received.consume(handle, k, adapter.releaser);
    }

    private void releaseAll() {
        received.releaseAll(handle, adapter.releaser);
    }

    @Override
    public String toString() {
        return "NdkConnector[" + (passive ? "passive" : "active") + " state " + state + " "
            + new SockAddrIn(localIp, localPort) + " -> " + new SockAddrIn(remoteIp, remotePort) + "]";
    }
}
