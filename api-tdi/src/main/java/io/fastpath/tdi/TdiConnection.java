package io.fastpath.tdi;

import io.fastpath.provider.DescriptorQueue;
import io.fastpath.provider.IrpQueue;
import io.fastpath.provider.NtStatus;
import io.fastpath.provider.TimerWheel;
import io.fastpath.provider.Verifier;
import io.fastpath.stack.wire.Ipv4Address;
import java.nio.ByteBuffer;
import org.agrona.BufferUtil;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * A connection endpoint (the file object ZwCreateFile opens with a TdiConnectionContext EA), opened by
 * {@link TdiProvider#openConnection} with the client's connection context, which every event on it hands back.
 * Associated with one address object (TDI_ASSOCIATE_ADDRESS), it carries one TCP connection at a time, made by
 * TDI_CONNECT, TDI_LISTEN or a ClientEventConnect accept; after a disconnect it is idle and may be used again.
 *
 * <p>States: idle → connecting / listening → (offered, with TDI_QUERY_ACCEPT) → accepting → connected → idle.
 * Offered and accepting endpoints carry a request the stack holds (a SYN): offered waits for TDI_ACCEPT or
 * TDI_DISCONNECT (refused), accepting for the handshake that the SYN-ACK started.
 *
 * <p>Thread: the provider's dispatch thread. Received data it holds is in mbufs (zero copy); expedited bytes are
 * kept in a small native buffer of its own.
 */
public final class TdiConnection {
    static final int IDLE = 0;
    static final int CONNECTING = 1;
    static final int LISTENING = 2;
    static final int OFFERED = 3;
    static final int CONNECTED = 4;
    /** A held request was accepted (SYN-ACK sent): {@link #acceptIrp} completes when the handshake did. */
    static final int ACCEPTING = 5;

    private static final int MAX_SENDS_IN_STACK = 8;
    private static final int EXPEDITED_BYTES = 64;
    private static final int KNOWN_SEND_FLAGS = Tdi.TDI_SEND_EXPEDITED | Tdi.TDI_SEND_PARTIAL
        | Tdi.TDI_SEND_NO_RESPONSE_EXPECTED | Tdi.TDI_SEND_NON_BLOCKING | Tdi.TDI_SEND_AND_DISCONNECT;

    final TdiProvider provider;
    final long id;
    Object context;
    TdiAddress address;
    private boolean closed;

    int state = IDLE;
    /** Bumped each time the endpoint starts or ends a connection: stale completions are recognised by it. */
    int incarnation;
    long handle;
    int remoteIp;
    int remotePort;
    private int listenFlags;
    private boolean localReleased;
    private boolean peerReleased;
    private boolean disconnectIndicated;
    private boolean stackClosed;
    private boolean abortAcknowledgeable;
    private boolean shutdownAfterSends;
    private boolean sendNotReady;

    private Irp connectIrp;
    /** The request slot of the pending TDI_CONNECT: the stack's answer for an older slot is not this connect's. */
    private int connectSlot = -1;
    private Irp listenIrp;
    /** ACCEPTING: the TDI_LISTEN (flags 0), TDI_ACCEPT or ClientEventConnect accept IRP waiting for the handshake. */
    private Irp acceptIrp;
    /** The accept IRP came from ClientEventConnect: it completes after the round's indications. */
    private boolean acceptFromEvent;
    /** An accept IRP with connect data, completed once the stack took the data ({@link #sendConnectData}). */
    private Irp acceptAwaitingData;
    private boolean acceptAwaitingDataFromEvent;
    /** The internal TDI_SEND of accept connect data (allocated when first needed, then reused). */
    private Irp connectDataSend;
    private IoCompletionRoutine connectDataSent;
    private Irp releaseIrp;
    private final IrpQueue<Irp> receives = new IrpQueue<>();
    private final IrpQueue<Irp> expeditedReceives = new IrpQueue<>();
    private final IrpQueue<Irp> waitingSends = new IrpQueue<>();
    private final IrpQueue<Irp> sendsInStack = new IrpQueue<>();

    private final DescriptorQueue data = new DescriptorQueue(16);
    private boolean blocked;
    private final UnsafeBuffer expedited;
    private final long expeditedAddress;
    private int expeditedLength;
    private boolean expeditedBlocked;
    /** Expedited bytes dropped because {@link #EXPEDITED_BYTES} were already waiting (ReceiveErrors). */
    private long expeditedBytesDropped;
    /** ClientEventError(STATUS_DATA_OVERRUN) went out for the current overrun; set again once a byte fits. */
    private boolean overrunReported;
    /** The stack's request ring position after this endpoint's last CONNECT ({@link #completeEndedConnect}). */
    private long connectRecordPosition;
    private boolean delivering;

    /** The connection's timer on the provider's wheel ({@link TimerWheel#NONE}: none). */
    long timer = TimerWheel.NONE;
    private boolean connectTimer;

    // TDI_CONNECTION_INFO counters
    private long transmittedTsdus;
    private long receivedTsdus;
    private long transmissionErrors;
    private long throughput;

    TdiConnection(TdiProvider provider, long id, Object context) {
        this.provider = provider;
        this.id = id;
        this.context = context;
        ByteBuffer b = ByteBuffer.allocateDirect(EXPEDITED_BYTES);
        this.expedited = new UnsafeBuffer(b);
        this.expeditedAddress = BufferUtil.address(b);
    }

    public Object context() {
        return context;
    }

    public TdiAddress address() {
        return address;
    }

    public TdiProvider provider() {
        return provider;
    }

    /** True while the endpoint carries an accepted or connected connection (not a TDI_QUERY_ACCEPT offer). */
    public boolean connected() {
        return state == CONNECTED;
    }

    /** True when nothing is going on: the endpoint may connect, listen or be disassociated. */
    public boolean idle() {
        return state == IDLE;
    }

    /** Expedited bytes received and not yet taken (for tests and diagnostics). */
    int expeditedLength() {
        return expeditedLength;
    }

    public int remoteIp() {
        return remoteIp;
    }

    public int remotePort() {
        return remotePort;
    }

    /** ZwClose: aborts a connection, cancels pending requests, disassociates. Dispatch thread. */
    public void close() {
        provider.closeConnection(this);
    }

    // ================================================================================ requests

    int execute(Irp irp) {
        if (closed) {
            return complete(irp, NtStatus.STATUS_INVALID_CONNECTION.code(), 0);
        }
        return switch (irp.minorFunction) {
            case Tdi.TDI_ASSOCIATE_ADDRESS -> associate(irp);
            case Tdi.TDI_DISASSOCIATE_ADDRESS -> disassociate(irp);
            case Tdi.TDI_CONNECT -> connect(irp);
            case Tdi.TDI_LISTEN -> listen(irp);
            case Tdi.TDI_ACCEPT -> accept(irp);
            case Tdi.TDI_SEND -> send(irp);
            case Tdi.TDI_RECEIVE -> receive(irp);
            case Tdi.TDI_DISCONNECT -> disconnect(irp);
            case Tdi.TDI_QUERY_INFORMATION -> provider.query(irp, null, this);
            default -> complete(irp, NtStatus.STATUS_INVALID_DEVICE_REQUEST.code(), 0);
        };
    }

    private int complete(Irp irp, int status, long information) {
        return provider.complete(irp, status, information, null);
    }

    private int pending(Irp irp) {
        irp.markPending();
        return NtStatus.STATUS_PENDING.code();
    }

    private int associate(Irp irp) {
        TdiAddress a = irp.address;
        if (a == null || a.closed || a.provider != provider) {
            return complete(irp, NtStatus.STATUS_INVALID_ADDRESS.code(), 0);
        }
        if (address != null) {
            return complete(irp, NtStatus.STATUS_INVALID_CONNECTION.code(), 0); // already associated
        }
        address = a;
        a.associated++;
        return complete(irp, NtStatus.STATUS_SUCCESS.code(), 0);
    }

    private int disassociate(Irp irp) {
        if (address == null || state != IDLE) {
            return complete(irp, NtStatus.STATUS_INVALID_CONNECTION.code(), 0);
        }
        address.associated--;
        address = null;
        return complete(irp, NtStatus.STATUS_SUCCESS.code(), 0);
    }

    private int connect(Irp irp) {
        if (address == null || state != IDLE || address.closed) {
            return complete(irp, NtStatus.STATUS_INVALID_CONNECTION.code(), 0);
        }
        TdiConnectionInformation to = irp.requestInfo;
        if (to == null || to.remoteIp() == 0 || to.remotePort() <= 0 || to.remotePort() > 65535 || irp.timeout > 0) {
            return complete(irp, NtStatus.STATUS_INVALID_PARAMETER.code(), 0);
        }
        incarnation++;
        irp.incarnation = incarnation;
        int slot = provider.track(irp, this);
        // Connect data (UserData) goes with TCP Fast Open: in the SYN once a cookie is cached, else right after the
        // handshake (RFC 7413); the memory must stay valid until the IRP completes.
        int userDataLength = to.userData() != 0 ? to.userDataLength() : 0;
        if (!provider.tcp.connect(slot, address.ip, address.port, to.remoteIp(), to.remotePort(), to.userData(),
            userDataLength, userDataLength > 0)) {
            provider.untrack(slot);
            return complete(irp, NtStatus.STATUS_INSUFFICIENT_RESOURCES.code(), 0);
        }
        connectRecordPosition = provider.tcp.requestPosition();
        state = CONNECTING;
        connectIrp = irp;
        connectSlot = slot;
        abortAcknowledgeable = false; // an earlier ABORT indication is not acknowledged any more
        remoteIp = to.remoteIp();
        remotePort = to.remotePort();
        if (irp.timeout < 0) {
            connectTimer = true;
            provider.setTimer(this, provider.now() + -irp.timeout * 100);
        }
        return pending(irp);
    }

    /**
     * Completes a TDI_CONNECT the endpoint gave up (cancelled, aborted, timed out, closed): at once, or, while its
     * CONNECT record still waits in the stack's request ring pointing at the connect data, as soon as the stack
     * has taken it (within a duty cycle; the data is copied then), so the caller's buffer is never read after
     * the IRP completed.
     */
    private void completeEndedConnect(Irp irp, int status) {
        TdiConnectionInformation to = irp.requestInfo;
        if (to != null && to.userData() != 0 && to.userDataLength() > 0
            && !provider.tcp.requestsTaken(connectRecordPosition)) {
            provider.completeWhenRequestsTaken(irp, status, connectRecordPosition);
        } else {
            complete(irp, status, 0);
        }
    }

    boolean connectPending(Irp irp) {
        return state == CONNECTING && connectIrp == irp && irp.incarnation == incarnation;
    }

    /** The stack's answer for request {@code slot} is the pending connect's (not a cancelled one's, same IRP). */
    boolean connectPending(Irp irp, int slot) {
        return connectPending(irp) && slot == connectSlot;
    }

    void onConnectComplete(long newHandle, int status) {
        Irp irp = connectIrp;
        connectIrp = null;
        connectSlot = -1;
        provider.cancelTimer(this);
        if (status == NtStatus.STATUS_SUCCESS.code()) {
            attach(newHandle, remoteIp, remotePort);
            provider.connectsSucceeded++;
            fillReturn(irp);
        } else {
            state = IDLE;
        }
        complete(irp, status, 0);
    }

    private void fillReturn(Irp irp) {
        if (irp.returnInfo != null) {
            irp.returnInfo.remoteAddress(remoteIp, remotePort);
        }
    }

    private void attach(long newHandle, int ip, int port) {
        state = CONNECTED;
        handle = newHandle;
        remoteIp = ip;
        remotePort = port;
        localReleased = false;
        peerReleased = false;
        disconnectIndicated = false;
        stackClosed = false;
        abortAcknowledgeable = false;
        shutdownAfterSends = false;
        sendNotReady = false;
        blocked = false;
        expeditedBlocked = false;
        expeditedLength = 0;
        expeditedBytesDropped = 0; // TDI_CONNECTION_INFO.ReceiveErrors and the overrun report are per connection
        overrunReported = false;
        provider.byHandle.put(newHandle, this);
        provider.openConnections++;
    }

    private int listen(Irp irp) {
        if (address == null || state != IDLE || address.closed) {
            return complete(irp, NtStatus.STATUS_INVALID_CONNECTION.code(), 0);
        }
        if (irp.flags != 0 && irp.flags != Tdi.TDI_QUERY_ACCEPT) {
            return complete(irp, NtStatus.STATUS_INVALID_PARAMETER.code(), 0);
        }
        incarnation++;
        irp.incarnation = incarnation;
        abortAcknowledgeable = false; // an earlier ABORT indication is not acknowledged any more
        state = LISTENING;
        listenIrp = irp;
        listenFlags = irp.flags;
        address.listens.add(this);
        provider.ensureListening(address);
        return state == LISTENING ? pending(irp) : NtStatus.STATUS_PENDING.code();
    }

    void cancelListen(int status) {
        if (state == LISTENING) {
            Irp irp = listenIrp;
            listenIrp = null;
            state = IDLE;
            if (address != null) {
                address.listens.remove(this);
                provider.stopListeningIfUnused(address); // the last TDI_LISTEN and no connect handler
            }
            irp.markPending();
            complete(irp, status, 0);
        }
    }

    /**
     * A pending TDI_LISTEN takes a held request (SYN). Flags 0: it is accepted and the listen completes once the
     * handshake did. TDI_QUERY_ACCEPT: the listen completes now; TDI_ACCEPT accepts, TDI_DISCONNECT refuses, and
     * neither within about a second refuses too.
     */
    void takeRequest(long h, int ip, int port) {
        Irp irp = listenIrp;
        listenIrp = null;
        hold(h, ip, port);
        if ((listenFlags & Tdi.TDI_QUERY_ACCEPT) != 0) {
            state = OFFERED;
            connectTimer = false;
            provider.setTimer(this, provider.now() + TdiProvider.OFFER_TIMEOUT_NS);
            fillReturn(irp);
            complete(irp, NtStatus.STATUS_SUCCESS.code(), 0);
        } else {
            startAccept(irp, false);
        }
    }

    /** ClientEventConnect returned MORE_PROCESSING_REQUIRED with an accept IRP for this endpoint. */
    void acceptRequest(long h, int ip, int port, Irp accept) {
        incarnation++;
        accept.incarnation = incarnation;
        abortAcknowledgeable = false;
        hold(h, ip, port);
        startAccept(accept, true);
    }

    private void hold(long h, int ip, int port) {
        handle = h;
        remoteIp = ip;
        remotePort = port;
        provider.byHandle.put(h, this); // to hear the request's end (onClosed) and its onAccepted
    }

    /** SYN-ACK for the held request; {@code irp} completes when the handshake did (or fails if it cannot). */
    private void startAccept(Irp irp, boolean fromEvent) {
        state = ACCEPTING;
        acceptIrp = irp;
        acceptFromEvent = fromEvent;
        provider.acceptRequest(handle);
        connectTimer = false;
        provider.setTimer(this, provider.now() + provider.handshakeLimitNs);
    }

    boolean acceptPending() {
        return state == ACCEPTING;
    }

    /** The stack's onAccepted for the request this endpoint accepted: connected. */
    void onAccepted() {
        Irp irp = acceptIrp;
        acceptIrp = null;
        provider.cancelTimer(this);
        attach(handle, remoteIp, remotePort);
        fillReturn(irp);
        provider.schedule(this);
        TdiConnectionInformation info = irp.requestInfo;
        if (info != null && info.userData() != 0 && info.userDataLength() > 0) {
            sendConnectData(irp, info);
            return;
        }
        completeAccept(irp, acceptFromEvent);
    }

    private void completeAccept(Irp irp, boolean fromEvent) {
        if (fromEvent) {
            // Receives that follow at once are indicated (in order) before the accept IRP's routine runs.
            provider.deferAccept(irp);
        } else {
            complete(irp, NtStatus.STATUS_SUCCESS.code(), 0);
        }
    }

    /**
     * Connect data in the accept IRP's RequestConnectionInformation: "the transport notifies the remote node of
     * the acceptance, transmitting any connect data that its client supplied in the accept IRP" (ClientEventConnect).
     * The stack sends no data in a SYN-ACK, so it goes as the stream's first bytes, ahead of every TDI_SEND (the
     * same place a fastpath client's unacknowledged TDI_CONNECT data takes). The accept completes once the stack
     * took the bytes, so the client may reuse its buffer then; if the connection dies first, with its status.
     */
    private void sendConnectData(Irp accept, TdiConnectionInformation info) {
        if (connectDataSend == null) {
            connectDataSend = new Irp();
            connectDataSent = (done, ctx) -> {
                Irp a = acceptAwaitingData;
                acceptAwaitingData = null;
                int status = done.ioStatus().status();
                if (status == NtStatus.STATUS_SUCCESS.code()) {
                    completeAccept(a, acceptAwaitingDataFromEvent);
                } else {
                    complete(a, status, 0);
                }
            };
        }
        acceptAwaitingData = accept;
        acceptAwaitingDataFromEvent = acceptFromEvent;
        provider.callDriver(TdiBuild.send(connectDataSend, this, connectDataSent, null, info.userData(), 0,
            info.userDataLength()));
    }

    /**
     * Ends a held request on this endpoint (offered or accepting): refused (RST for its SYN), or, once accepted,
     * aborted; {@code status} != 0 completes a waiting accept IRP with it. The endpoint is idle.
     */
    private void dropRequest(boolean refuse, int status) {
        long h = handle;
        boolean offered = state == OFFERED;
        provider.byHandle.remove(h);
        provider.cancelTimer(this);
        if (refuse) {
            if (offered) {
                provider.refuse(h);
            } else {
                provider.abort(h); // the SYN-ACK is out: RST (and again if the handshake completes)
            }
        }
        Irp irp = acceptIrp;
        acceptIrp = null;
        handle = 0;
        state = IDLE;
        incarnation++;
        if (irp != null && status != 0) {
            complete(irp, status, 0);
        }
    }

    /** TDI_ACCEPT of a TDI_QUERY_ACCEPT offer: SYN-ACK; completes when the handshake did. */
    private int accept(Irp irp) {
        if (state != OFFERED) {
            return complete(irp, NtStatus.STATUS_INVALID_CONNECTION.code(), 0);
        }
        if (!provider.connectDataFits(irp)) {
            return complete(irp, NtStatus.STATUS_INVALID_PARAMETER.code(), 0); // the offer stays
        }
        provider.cancelTimer(this);
        irp.incarnation = incarnation;
        startAccept(irp, false);
        return pending(irp);
    }

    // ---------------------------------------------------------------- send

    private int send(Irp irp) {
        if (state != CONNECTED || localReleased) {
            return complete(irp, NtStatus.STATUS_INVALID_CONNECTION.code(), 0);
        }
        if ((irp.flags & ~KNOWN_SEND_FLAGS) != 0) {
            return complete(irp, NtStatus.STATUS_NOT_SUPPORTED.code(), 0);
        }
        if (irp.bufferLength < 0 || irp.bufferLength > 0 && irp.bufferAddress == 0) {
            return complete(irp, NtStatus.STATUS_INVALID_PARAMETER.code(), 0);
        }
        if ((irp.flags & Tdi.TDI_SEND_NON_BLOCKING) != 0 && (!waitingSends.isEmpty() || !sendsInStack.isEmpty())) {
            sendNotReady = true;
            return complete(irp, NtStatus.STATUS_DEVICE_NOT_READY.code(), 0);
        }
        if ((irp.flags & Tdi.TDI_SEND_AND_DISCONNECT) != 0) {
            localReleased = true;
            shutdownAfterSends = true;
        }
        if (irp.bufferLength == 0) {
            int status = complete(irp, NtStatus.STATUS_SUCCESS.code(), 0);
            pumpSends();
            return status;
        }
        irp.incarnation = incarnation;
        irp.markPending();
        waitingSends.add(irp);
        pumpSends();
        return NtStatus.STATUS_PENDING.code();
    }

    private void pumpSends() {
        while (state == CONNECTED && !waitingSends.isEmpty() && sendsInStack.size() < MAX_SENDS_IN_STACK) {
            Irp irp = waitingSends.peek();
            int slot = provider.track(irp, this);
            boolean ok = (irp.flags & Tdi.TDI_SEND_EXPEDITED) != 0
                ? provider.tcp.sendUrgent(handle, slot, irp.bufferAddress, irp.bufferLength)
                : provider.tcp.send(handle, slot, irp.bufferAddress, irp.bufferLength);
            if (!ok) {
                provider.untrack(slot);
                provider.schedule(this); // the request ring is full: try again next round
                return;
            }
            waitingSends.poll();
            sendsInStack.add(irp);
        }
        if (state == CONNECTED && shutdownAfterSends && waitingSends.isEmpty()) {
            provider.tcp.shutdown(handle); // a control: a full ring cannot lose it
            shutdownAfterSends = false;
        }
    }

    void onSendComplete(Irp irp, int bytes, int status) {
        boolean mine = irp.incarnation == incarnation && sendsInStack.remove(irp);
        int result = irp.cancelled ? NtStatus.STATUS_CANCELLED.code() : status;
        if (status == NtStatus.STATUS_SUCCESS.code()) {
            transmittedTsdus++;
            throughput += bytes;
            provider.sendsDone++;
            provider.bytesSent += bytes;
        } else {
            transmissionErrors++;
        }
        complete(irp, result, bytes);
        if (mine) {
            pumpSends();
            if (sendNotReady && waitingSends.isEmpty() && sendsInStack.isEmpty() && state == CONNECTED) {
                sendNotReady = false;
                TdiAddress a = address;
                if (a != null && a.sendPossibleHandler != null) {
                    try {
                        a.sendPossibleHandler.clientEventSendPossible(a.sendPossibleContext, context,
                            provider.sendBufferBytes);
                    } catch (Throwable t) {
                        provider.onError(t);
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------- receive

    private int receive(Irp irp) {
        boolean expeditedOnly = (irp.flags & Tdi.TDI_RECEIVE_EXPEDITED) != 0
            && (irp.flags & Tdi.TDI_RECEIVE_NORMAL) == 0;
        if (state != CONNECTED) {
            return complete(irp, NtStatus.STATUS_INVALID_CONNECTION.code(), 0);
        }
        if (irp.bufferLength < 0 || irp.bufferLength > 0 && irp.bufferAddress == 0) {
            return complete(irp, NtStatus.STATUS_INVALID_PARAMETER.code(), 0);
        }
        boolean peek = (irp.flags & Tdi.TDI_RECEIVE_PEEK) != 0;
        irp.incarnation = incarnation;
        if (expeditedOnly) {
            if (expeditedReceives.isEmpty() && expeditedLength > 0) {
                return completeExpedited(irp, peek);
            }
            if (expeditedLength == 0 && peerReleased && disconnectIndicated) {
                return complete(irp, NtStatus.STATUS_GRACEFUL_DISCONNECT.code(), 0);
            }
            expeditedReceives.add(irp);
            return pending(irp);
        }
        if (acceptsBoth(irp) && expeditedLength > 0 && expeditedReceives.isEmpty() && receives.isEmpty()) {
            return completeExpedited(irp, peek); // expedited data goes before normal data
        }
        if (receives.isEmpty() && data.bytes() > 0) {
            return completeNormal(irp, peek);
        }
        if (receives.isEmpty() && peerReleased && disconnectIndicated) {
            return complete(irp, NtStatus.STATUS_GRACEFUL_DISCONNECT.code(), 0);
        }
        receives.add(irp);
        return pending(irp);
    }

    private int completeNormal(Irp irp, boolean peek) {
        long before = data.bytes();
        int n = data.copyTo(provider.copier, irp.bufferAddress, irp.bufferLength, peek, handle, provider.releaser);
        receivedTsdus++;
        provider.receivesDone++;
        provider.bytesReceived += peek ? 0 : n;
        if (data.bytes() == 0) {
            blocked = false;
            provider.schedule(this); // a FIN behind the data, or a closed connection to finish
        }
        int status = peek && before > n ? NtStatus.STATUS_BUFFER_OVERFLOW.code() : NtStatus.STATUS_SUCCESS.code();
        return complete(irp, status, n);
    }

    /** Flags 0, or NORMAL and EXPEDITED both: either kind of data will do (the TDI_RECEIVE document). */
    private static boolean acceptsBoth(Irp irp) {
        int kinds = irp.flags & (Tdi.TDI_RECEIVE_NORMAL | Tdi.TDI_RECEIVE_EXPEDITED);
        return kinds == 0 || kinds == (Tdi.TDI_RECEIVE_NORMAL | Tdi.TDI_RECEIVE_EXPEDITED);
    }

    private int completeExpedited(Irp irp, boolean peek) {
        int n = Math.min(expeditedLength, irp.bufferLength);
        provider.copy(expeditedAddress, irp.bufferAddress, n);
        int status = n < expeditedLength ? NtStatus.STATUS_RECEIVE_PARTIAL_EXPEDITED.code()
            : NtStatus.STATUS_RECEIVE_EXPEDITED.code();
        if (!peek) {
            takeExpedited(n);
        }
        return complete(irp, status, n);
    }

    private void takeExpedited(int n) {
        expedited.putBytes(0, expedited, n, expeditedLength - n);
        expeditedLength -= n;
        if (expeditedLength == 0) {
            expeditedBlocked = false;
        }
    }

    void onReceive(long mbuf, long at, int length) {
        data.add(mbuf, at, length);
        if (state == CONNECTED) {
            deliver();
        }
    }

    /**
     * Urgent bytes from the stack (one per urgent pointer). Up to {@link #EXPEDITED_BYTES} wait for the client;
     * past that (the client refuses or does not read them) the newer bytes are dropped, never silently: they
     * count in TDI_CONNECTION_INFO.ReceiveErrors and ClientEventError(STATUS_DATA_OVERRUN) tells the client
     * once per overrun.
     */
    void onUrgentData(DirectBuffer buffer, int offset, int length) {
        int n = Math.min(length, EXPEDITED_BYTES - expeditedLength);
        expedited.putBytes(expeditedLength, buffer, offset, n);
        expeditedLength += n;
        if (n < length) {
            expeditedBytesDropped += length - n;
            if (!overrunReported) {
                overrunReported = true;
                provider.raiseError(address, NtStatus.STATUS_DATA_OVERRUN.code());
            }
        } else {
            overrunReported = false;
        }
        if (state == CONNECTED) {
            deliver();
        }
    }

    void onPeerClosed() {
        peerReleased = true;
        provider.schedule(this);
    }

    void doWork() {
        if (state == CONNECTED) {
            pumpSends();
            deliver();
        }
    }

    /** Offers queued data: pending TDI_RECEIVEs first, then the chained or plain receive handler. */
    private void deliver() {
        if (delivering) {
            provider.schedule(this);
            return;
        }
        delivering = true;
        try {
            int inc = incarnation;
            deliverExpedited(inc);
            deliverNormal(inc);
            if (inc != incarnation || state != CONNECTED) {
                return;
            }
            if (data.bytes() == 0) {
                blocked = false;
                if (peerReleased && !disconnectIndicated) {
                    indicateRelease();
                }
                if (inc == incarnation && stackClosed && state == CONNECTED) {
                    finish();
                }
            }
        } finally {
            delivering = false;
        }
    }

    private void deliverNormal(int inc) {
        while (state == CONNECTED && inc == incarnation && data.bytes() > 0) {
            Irp r = receives.poll();
            if (r != null) {
                completeNormal(r, (r.flags & Tdi.TDI_RECEIVE_PEEK) != 0);
                continue;
            }
            TdiAddress a = address;
            if (blocked || a == null) {
                return;
            }
            if (a.chainedHandler != null) {
                indicateChained(a, inc);
            } else if (a.receiveHandler != null) {
                indicateReceive(a, inc);
            } else {
                return;
            }
        }
    }

    private void indicateChained(TdiAddress a, int inc) {
        Tsdu t = provider.chains.acquire();
        t.handle = handle;
        t.connection = this;
        int n = data.count();
        for (int i = 0; i < n; i++) {
            t.add(data.mbuf(i), data.address(i), data.length(i));
        }
        t.startingOffset = data.headOffset();
        int length = (int) data.bytes();
        while (data.count() > 0) {
            data.dropHead(); // the TSDU holds them now
        }
        t.state(Tsdu.INDICATED);
        int status;
        long start = Verifier.ENABLED ? Verifier.handlerStart() : 0;
        try {
            status = a.chainedHandler.clientEventChainedReceive(a.chainedContext, context,
                Tdi.TDI_RECEIVE_NORMAL | Tdi.TDI_RECEIVE_ENTIRE_MESSAGE | Tdi.TDI_RECEIVE_AT_DISPATCH_LEVEL,
                length, t.startingOffset, t);
        } catch (Throwable e) {
            provider.onError(e);
            status = NtStatus.STATUS_DATA_NOT_ACCEPTED.code();
        }
        if (Verifier.ENABLED) {
            Verifier.handlerDone(start, a.chainedHandler, "ClientEventChainedReceive");
        }
        if (status == NtStatus.STATUS_PENDING.code()) {
            provider.chains.hold(t);
            countReceived(length);
        } else if (status == NtStatus.STATUS_SUCCESS.code()) {
            provider.chains.release(t);
            countReceived(length);
        } else if (inc == incarnation && state == CONNECTED) {
            // STATUS_DATA_NOT_ACCEPTED: back in the queue (nothing arrived meanwhile) for a TDI_RECEIVE
            for (int i = 0; i < t.count; i++) {
                data.add(t.mbuf[i], t.address[i], t.length[i]);
            }
            data.consumeHead(t.startingOffset);
            blocked = true;
            provider.chains.free(t);
        } else {
            provider.chains.release(t);
        }
    }

    private void countReceived(int length) {
        receivedTsdus++;
        provider.receivesDone++;
        provider.bytesReceived += length;
    }

    private void indicateReceive(TdiAddress a, int inc) {
        int indicated = data.headRemaining();
        int available = (int) Math.min(data.bytes(), Integer.MAX_VALUE);
        TdiEventReturn out = provider.eventReturn;
        out.reset();
        int flags = Tdi.TDI_RECEIVE_NORMAL | Tdi.TDI_RECEIVE_AT_DISPATCH_LEVEL
            | (indicated == available ? Tdi.TDI_RECEIVE_ENTIRE_MESSAGE : 0);
        int status;
        long start = Verifier.ENABLED ? Verifier.handlerStart() : 0;
        try {
            status = a.receiveHandler.clientEventReceive(a.receiveContext, context, flags, indicated, available,
                data.headAddress(), out);
        } catch (Throwable e) {
            provider.onError(e);
            status = NtStatus.STATUS_DATA_NOT_ACCEPTED.code();
        }
        if (Verifier.ENABLED) {
            Verifier.handlerDone(start, a.receiveHandler, "ClientEventReceive");
        }
        Irp irp = out.irp();
        if (inc != incarnation || state != CONNECTED) {
            // The handler ended the connection (ABORT) or it died meanwhile: an IRP it handed back is not dropped.
            if (status == NtStatus.STATUS_MORE_PROCESSING_REQUIRED.code()) {
                provider.failHandedBack(irp, NtStatus.STATUS_CANCELLED.code());
            }
            return;
        }
        int taken = Math.max(0, Math.min(out.bytesTaken(), indicated));
        if (status == NtStatus.STATUS_SUCCESS.code() || status == NtStatus.STATUS_MORE_PROCESSING_REQUIRED.code()) {
            data.consume(handle, taken, provider.releaser);
            if (taken > 0) {
                countReceived(taken);
            }
        }
        if (status == NtStatus.STATUS_MORE_PROCESSING_REQUIRED.code() && acceptableReceive(irp, false)) {
            irp.begin(provider);
            irp.markPending();
            irp.incarnation = incarnation;
            receives.addFirst(irp); // filled from the rest at once
        } else if (status != NtStatus.STATUS_SUCCESS.code() || taken < indicated) {
            blocked = true; // until TDI_RECEIVEs take what is left
            if (status == NtStatus.STATUS_MORE_PROCESSING_REQUIRED.code()) {
                provider.failHandedBack(irp, NtStatus.STATUS_INVALID_CONNECTION.code());
                provider.raiseError(a, NtStatus.STATUS_INVALID_PARAMETER.code());
            }
        }
    }

    private boolean acceptableReceive(Irp irp, boolean expeditedOnly) {
        if (irp == null || irp.minorFunction != Tdi.TDI_RECEIVE || irp.fileObject != this || !irp.ready()) {
            return false;
        }
        boolean exp = (irp.flags & Tdi.TDI_RECEIVE_EXPEDITED) != 0 && (irp.flags & Tdi.TDI_RECEIVE_NORMAL) == 0;
        return exp == expeditedOnly && irp.bufferLength >= 0;
    }

    private void deliverExpedited(int inc) {
        while (state == CONNECTED && inc == incarnation && expeditedLength > 0) {
            Irp r = expeditedReceives.poll();
            if (r == null && receives.peek() != null && acceptsBoth(receives.peek())) {
                r = receives.poll(); // a receive for either kind takes expedited data first
            }
            if (r != null) {
                completeExpedited(r, (r.flags & Tdi.TDI_RECEIVE_PEEK) != 0);
                continue;
            }
            TdiAddress a = address;
            if (expeditedBlocked || a == null) {
                return;
            }
            int flags = Tdi.TDI_RECEIVE_EXPEDITED | Tdi.TDI_RECEIVE_ENTIRE_MESSAGE | Tdi.TDI_RECEIVE_AT_DISPATCH_LEVEL;
            if (a.chainedExpeditedHandler != null) {
                Tsdu t = provider.chains.acquire();
                t.handle = handle;
                t.connection = this;
                t.expedited = true;
                int n = expeditedLength;
                provider.copy(expeditedAddress, t.expeditedAddress, n);
                t.add(0, t.expeditedAddress, n);
                expeditedLength = 0;
                t.state(Tsdu.INDICATED);
                int status;
                try {
                    status = a.chainedExpeditedHandler.clientEventChainedReceive(a.chainedExpeditedContext, context,
                        flags, n, 0, t);
                } catch (Throwable e) {
                    provider.onError(e);
                    status = NtStatus.STATUS_DATA_NOT_ACCEPTED.code();
                }
                if (status == NtStatus.STATUS_PENDING.code()) {
                    provider.chains.hold(t);
                } else if (status == NtStatus.STATUS_SUCCESS.code() || inc != incarnation) {
                    provider.chains.free(t);
                } else {
                    provider.copy(t.expeditedAddress, expeditedAddress, n);
                    expeditedLength = n;
                    expeditedBlocked = true;
                    provider.chains.free(t);
                }
            } else if (a.receiveExpeditedHandler != null) {
                TdiEventReturn out = provider.eventReturn;
                out.reset();
                int n = expeditedLength;
                int status;
                try {
                    status = a.receiveExpeditedHandler.clientEventReceive(a.receiveExpeditedContext, context, flags,
                        n, n, expeditedAddress, out);
                } catch (Throwable e) {
                    provider.onError(e);
                    status = NtStatus.STATUS_DATA_NOT_ACCEPTED.code();
                }
                Irp irp = out.irp();
                if (inc != incarnation || state != CONNECTED) {
                    if (status == NtStatus.STATUS_MORE_PROCESSING_REQUIRED.code()) {
                        provider.failHandedBack(irp, NtStatus.STATUS_CANCELLED.code());
                    }
                    return;
                }
                int taken = Math.max(0, Math.min(out.bytesTaken(), n));
                if (status == NtStatus.STATUS_SUCCESS.code() || status == NtStatus.STATUS_MORE_PROCESSING_REQUIRED.code()) {
                    takeExpedited(taken);
                }
                if (status == NtStatus.STATUS_MORE_PROCESSING_REQUIRED.code() && acceptableReceive(irp, true)) {
                    irp.begin(provider);
                    irp.markPending();
                    irp.incarnation = incarnation;
                    expeditedReceives.addFirst(irp);
                } else if (status != NtStatus.STATUS_SUCCESS.code() || taken < n) {
                    if (status == NtStatus.STATUS_MORE_PROCESSING_REQUIRED.code()) {
                        provider.failHandedBack(irp, NtStatus.STATUS_INVALID_CONNECTION.code());
                        provider.raiseError(a, NtStatus.STATUS_INVALID_PARAMETER.code());
                    }
                    expeditedBlocked = expeditedLength > 0;
                    if (!expeditedBlocked) {
                        return;
                    }
                }
            } else {
                return;
            }
        }
    }

    private void indicateRelease() {
        disconnectIndicated = true;
        for (Irp r; (r = receives.poll()) != null; ) {
            complete(r, NtStatus.STATUS_GRACEFUL_DISCONNECT.code(), 0);
        }
        if (expeditedLength == 0) {
            for (Irp r; (r = expeditedReceives.poll()) != null; ) {
                complete(r, NtStatus.STATUS_GRACEFUL_DISCONNECT.code(), 0); // nothing more comes after the peer's FIN
            }
        }
        if (!localReleased) {
            provider.remoteDisconnects++;
            indicateDisconnect(Tdi.TDI_DISCONNECT_RELEASE);
        }
    }

    private void indicateDisconnect(int flags) {
        TdiAddress a = address;
        if (a != null && a.disconnectHandler != null) {
            try {
                a.disconnectHandler.clientEventDisconnect(a.disconnectContext, context, flags);
            } catch (Throwable t) {
                provider.onError(t);
            }
        }
    }

    // ---------------------------------------------------------------- disconnect

    private int disconnect(Irp irp) {
        int flags = irp.flags;
        if ((flags & Tdi.TDI_DISCONNECT_ABORT) != 0 && (flags & Tdi.TDI_DISCONNECT_RELEASE) != 0
            || irp.timeout > 0) {
            return complete(irp, NtStatus.STATUS_INVALID_PARAMETER.code(), 0);
        }
        // No option: TDI_DISCONNECT_ABORT, the default.
        boolean abort = (flags & Tdi.TDI_DISCONNECT_RELEASE) == 0;
        switch (state) {
            case IDLE -> {
                if (abortAcknowledgeable) {
                    abortAcknowledgeable = false; // acknowledges an abortive ClientEventDisconnect
                    return complete(irp, NtStatus.STATUS_SUCCESS.code(), 0);
                }
                return complete(irp, NtStatus.STATUS_INVALID_CONNECTION.code(), 0);
            }
            case CONNECTING -> {
                if (!abort) {
                    return complete(irp, NtStatus.STATUS_INVALID_CONNECTION.code(), 0);
                }
                Irp c = connectIrp;
                connectIrp = null;
                connectSlot = -1;
                provider.cancelTimer(this);
                state = IDLE;
                incarnation++; // the stack's late answer is reset
                provider.cancelledConnections++;
                completeEndedConnect(c, NtStatus.STATUS_CANCELLED.code());
                return complete(irp, NtStatus.STATUS_SUCCESS.code(), 0);
            }
            case LISTENING -> {
                cancelListen(NtStatus.STATUS_CANCELLED.code());
                provider.cancelledConnections++;
                return complete(irp, NtStatus.STATUS_SUCCESS.code(), 0);
            }
            case OFFERED -> {
                // Rejects a TDI_QUERY_ACCEPT offer: RST for the SYN, the peer's connect is refused.
                dropRequest(true, 0);
                return complete(irp, NtStatus.STATUS_SUCCESS.code(), 0);
            }
            case ACCEPTING -> {
                // The SYN-ACK is out: the connection is reset, the accept IRP completes STATUS_CANCELLED.
                provider.cancelledConnections++;
                dropRequest(true, NtStatus.STATUS_CANCELLED.code());
                return complete(irp, NtStatus.STATUS_SUCCESS.code(), 0);
            }
            default -> {
            }
        }
        if (abort) {
            provider.localDisconnects++;
            abortConnection(NtStatus.STATUS_CANCELLED.code());
            return complete(irp, NtStatus.STATUS_SUCCESS.code(), 0);
        }
        if (releaseIrp != null || localReleased && stackClosed) {
            return complete(irp, NtStatus.STATUS_INVALID_CONNECTION.code(), 0);
        }
        provider.localDisconnects++;
        releaseIrp = irp;
        irp.incarnation = incarnation;
        if (!localReleased) {
            localReleased = true;
            shutdownAfterSends = true;
            pumpSends();
        }
        long wait = irp.timeout < 0 ? -irp.timeout * 100 : TdiProvider.DEFAULT_DISCONNECT_TIMEOUT_NS;
        connectTimer = false;
        provider.setTimer(this, provider.now() + wait);
        if (stackClosed) {
            return finish();
        }
        return pending(irp);
    }

    /** RST; every request on the connection completes with {@code status}; the endpoint is idle again. */
    private void abortConnection(int status) {
        provider.abort(handle); // retried while the stack's request ring is full
        for (Irp s = sendsInStack.poll(); s != null; s = sendsInStack.poll()) {
            s.cancelled = true; // completes when the stack gives the buffer back
        }
        detach(status);
    }

    /** Ends the connection on this endpoint: pending requests complete with {@code status}. */
    private void detach(int status) {
        provider.byHandle.remove(handle);
        provider.cancelTimer(this);
        long h = handle;
        incarnation++;
        state = IDLE;
        data.releaseAll(h, provider.releaser);
        expeditedLength = 0;
        provider.openConnections--;
        // An orderly end (SUCCESS) completes receives, normal or expedited, with TDI_GRACEFUL_DISC.
        int receiveStatus = status == NtStatus.STATUS_SUCCESS.code() ? NtStatus.STATUS_GRACEFUL_DISCONNECT.code() : status;
        Irp r;
        while ((r = receives.poll()) != null) {
            complete(r, receiveStatus, 0);
        }
        while ((r = expeditedReceives.poll()) != null) {
            complete(r, receiveStatus, 0);
        }
        while ((r = waitingSends.poll()) != null) {
            complete(r, status, 0);
        }
        if (releaseIrp != null) {
            Irp rel = releaseIrp;
            releaseIrp = null;
            complete(rel, status, 0);
        }
        handle = 0;
    }

    /** The stack is done with the connection. */
    void onStackClosed(int status) {
        if (state == OFFERED || state == ACCEPTING) {
            // The held request ended: the peer gave up (RST), or it waited too long (STATUS_IO_TIMEOUT).
            dropRequest(false, status);
            return;
        }
        stackClosed = true;
        if (state != CONNECTED) {
            return;
        }
        if (status == NtStatus.STATUS_SUCCESS.code()) {
            // Closed both ways: the data still queued goes first, then the endpoint is idle.
            peerReleased = true;
            provider.byHandle.remove(handle);
            deliver();
            if (state == CONNECTED && data.bytes() == 0 && disconnectIndicated) {
                finish();
            }
            return;
        }
        // Reset, timed out, aborted by the stack: ABORT indication, the endpoint is idle at once.
        for (Irp s = sendsInStack.poll(); s != null; s = sendsInStack.poll()) {
            s.incarnation = -1; // the stack completes it with its status
        }
        detach(status);
        provider.remoteDisconnects++;
        if (status == NtStatus.STATUS_IO_TIMEOUT.code()) {
            provider.sessionTimeouts++;
        }
        abortAcknowledgeable = true;
        indicateDisconnect(Tdi.TDI_DISCONNECT_ABORT);
    }

    /**
     * Orderly end: both FINs are through and the data was taken. Returns what completing the pending release
     * returned (STATUS_PENDING if deferred), or SUCCESS.
     */
    private int finish() {
        Irp rel = releaseIrp;
        releaseIrp = null;
        detach(NtStatus.STATUS_SUCCESS.code());
        if (rel != null) {
            return complete(rel, NtStatus.STATUS_SUCCESS.code(), 0);
        }
        return NtStatus.STATUS_SUCCESS.code();
    }

    void onTimer() {
        timer = TimerWheel.NONE; // expired
        if (state == OFFERED) {
            // Neither TDI_ACCEPT nor TDI_DISCONNECT came for the offer: refused (RST for the SYN).
            dropRequest(true, 0);
        } else if (state == ACCEPTING) {
            // The handshake did not complete in time: the accept fails. A backstop: the stack normally reports
            // the request's end itself (onStackClosed: the peer's RST, or our SYN-ACK retransmissions spent).
            provider.sessionTimeouts++;
            dropRequest(true, NtStatus.STATUS_IO_TIMEOUT.code());
        } else if (connectTimer && state == CONNECTING) {
            Irp c = connectIrp;
            connectIrp = null;
            connectSlot = -1;
            state = IDLE;
            incarnation++;
            provider.sessionTimeouts++;
            completeEndedConnect(c, NtStatus.STATUS_REQUEST_TIMED_OUT.code());
        } else if (releaseIrp != null && state == CONNECTED) {
            // The peer did not finish its side in time: the release fails and the connection is reset.
            Irp rel = releaseIrp;
            releaseIrp = null;
            provider.sessionTimeouts++;
            abortConnection(NtStatus.STATUS_CANCELLED.code());
            complete(rel, NtStatus.STATUS_REQUEST_TIMED_OUT.code(), 0);
        }
    }

    /** IoCancelIrp on the dispatch thread: requests still waiting here complete STATUS_CANCELLED. */
    void cancel(Irp irp) {
        switch (irp.minorFunction) {
            case Tdi.TDI_RECEIVE -> {
                if (receives.remove(irp) || expeditedReceives.remove(irp)) {
                    complete(irp, NtStatus.STATUS_CANCELLED.code(), 0);
                }
            }
            case Tdi.TDI_SEND -> {
                if (waitingSends.remove(irp)) {
                    complete(irp, NtStatus.STATUS_CANCELLED.code(), 0);
                }
            }
            case Tdi.TDI_LISTEN, Tdi.TDI_ACCEPT -> {
                if (state == LISTENING && listenIrp == irp) {
                    cancelListen(NtStatus.STATUS_CANCELLED.code());
                } else if (state == ACCEPTING && acceptIrp == irp) {
                    provider.cancelledConnections++;
                    dropRequest(true, NtStatus.STATUS_CANCELLED.code());
                }
            }
            case Tdi.TDI_CONNECT -> {
                if (connectPending(irp)) {
                    connectIrp = null;
                    connectSlot = -1;
                    provider.cancelTimer(this);
                    state = IDLE;
                    incarnation++; // the stack's late answer is reset
                    provider.cancelledConnections++;
                    completeEndedConnect(irp, NtStatus.STATUS_CANCELLED.code());
                }
            }
            default -> {
            }
        }
    }

    void closeInternal() {
        if (closed) {
            return;
        }
        switch (state) {
            case CONNECTING -> {
                Irp c = connectIrp;
                connectIrp = null;
                connectSlot = -1;
                state = IDLE;
                incarnation++;
                provider.cancelTimer(this);
                completeEndedConnect(c, NtStatus.STATUS_CANCELLED.code());
            }
            case LISTENING -> cancelListen(NtStatus.STATUS_CANCELLED.code());
            case OFFERED, ACCEPTING -> dropRequest(true, NtStatus.STATUS_CANCELLED.code());
            case CONNECTED -> abortConnection(NtStatus.STATUS_CANCELLED.code());
            default -> {
            }
        }
        if (address != null) {
            address.associated--;
            address = null;
        }
        closed = true;
    }

    TdiConnectionInfo info() {
        return new TdiConnectionInfo(state, 0, transmittedTsdus, receivedTsdus, transmissionErrors,
            expeditedBytesDropped, throughput, 0,
            provider.sendBufferBytes, provider.receiveBufferBytes, false, state == IDLE ? 0 : remoteIp,
            state == IDLE ? 0 : remotePort);
    }

    @Override
    public String toString() {
        return "TdiConnection[" + id + " state=" + state + (state == IDLE ? "" : " "
            + Ipv4Address.format(remoteIp) + ":" + remotePort) + "]";
    }
}
