package io.fastpath.tdi;

import io.fastpath.provider.Endpoint;
import io.fastpath.provider.NtStatus;
import io.fastpath.provider.SendPump;
import io.fastpath.provider.TimerWheel;
import io.fastpath.stack.wire.Ipv4Address;
import org.agrona.DirectBuffer;

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
 * <p>Thread: the provider's dispatch thread. The connection's handle, received descriptors, send pump and
 * disconnect sequence are its api-core {@link Endpoint}; receiving and the receive indications are
 * {@link TdiReceiver}'s. Received data it holds is in mbufs (zero copy); expedited bytes are kept in a small native
 * buffer of the receiver's.
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
    private static final int KNOWN_SEND_FLAGS = Tdi.TDI_SEND_EXPEDITED | Tdi.TDI_SEND_PARTIAL
        | Tdi.TDI_SEND_NO_RESPONSE_EXPECTED | Tdi.TDI_SEND_NON_BLOCKING | Tdi.TDI_SEND_AND_DISCONNECT;

    final TdiProvider provider;
    final long id;
    /** On the provider's work list now (written by that list only, dispatch thread). */
    boolean onWorkList;
    Object context;
    TdiAddress address;
    private boolean closed;

    int state = IDLE;
    /** Bumped each time the endpoint starts or ends a connection: stale completions are recognised by it. */
    int incarnation;
    int remoteIp;
    int remotePort;
    private int listenFlags;
    boolean disconnectIndicated;
    private boolean abortAcknowledgeable;
    private boolean sendNotReady;

    private Irp connectIrp;
    /** The request slot of the pending TDI_CONNECT: the stack's answer for an older slot is not this connect's. */
    private int connectSlot = -1;
    private Irp listenIrp;
    /** ACCEPTING: the TDI_LISTEN (flags 0), TDI_ACCEPT or ClientEventConnect accept IRP waiting for the handshake. */
    private Irp acceptIrp;
    /** The accept IRP came from ClientEventConnect: it completes after the round's indications. */
    private boolean acceptFromEvent;
    /** Connected; the accept IRP from ClientEventConnect completes SUCCESS after the round's indications. */
    private Irp deferredAccept;
    /** An accept IRP with connect data, completed once the stack took the data ({@link #sendConnectData}). */
    private Irp acceptAwaitingData;
    private boolean acceptAwaitingDataFromEvent;
    /** The internal TDI_SEND of accept connect data (allocated when first needed, then reused). */
    private Irp connectDataSend;
    private IoCompletionRoutine connectDataSent;
    private Irp releaseIrp;
    /** The connection: handle (in the provider's map), received descriptors, send pump, disconnect sequence. */
    final Endpoint<Irp, TdiConnection> ep;
    private final SendPump<Irp> sends;
    private final TdiReceiver receiver;
    /** The stack's request ring position after this endpoint's last CONNECT ({@link #completeEndedConnect}). */
    private long connectRecordPosition;

    /** The connection's timer on the provider's wheel ({@link TimerWheel#NONE}: none). */
    long timer = TimerWheel.NONE;
    private boolean connectTimer;

    // TDI_CONNECTION_INFO counters
    private long transmittedTsdus;
    private long transmissionErrors;
    private long throughput;

    TdiConnection(TdiProvider provider, long id, Object context) {
        this.provider = provider;
        this.ep = new Endpoint<>(provider.tcp, provider.releaser, provider.copier, provider.byHandle, this, 16,
            MAX_SENDS_IN_STACK, this::submit);
        this.id = id;
        this.context = context;
        this.sends = ep.sends();
        this.receiver = new TdiReceiver(this, ep);
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
        return receiver.expeditedLength;
    }

    /** The stack's connection handle (0: none). */
    long handle() {
        return ep.handle();
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
            case Tdi.TDI_RECEIVE -> receiver.receive(irp);
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

    /** The endpoint gives up its pending TDI_CONNECT (idle again; the stack's late answer is reset). */
    private void endConnect(int status) {
        Irp c = connectIrp;
        connectIrp = null;
        connectSlot = -1;
        provider.cancelTimer(this);
        state = IDLE;
        incarnation++;
        completeEndedConnect(c, status);
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
        remoteIp = ip;
        remotePort = port;
        ep.attach(newHandle); // mapped, and a fresh disconnect sequence
        receiver.reset();
        disconnectIndicated = false;
        abortAcknowledgeable = false;
        sendNotReady = false;
        provider.openConnections++;
    }

    private int listen(Irp irp) {
        if (address == null || state != IDLE || address.closed) {
            return complete(irp, NtStatus.STATUS_INVALID_CONNECTION.code(), 0);
        }
        if (irp.flags() != 0 && irp.flags() != Tdi.TDI_QUERY_ACCEPT) {
            return complete(irp, NtStatus.STATUS_INVALID_PARAMETER.code(), 0);
        }
        incarnation++;
        irp.incarnation = incarnation;
        abortAcknowledgeable = false; // an earlier ABORT indication is not acknowledged any more
        state = LISTENING;
        listenIrp = irp;
        listenFlags = irp.flags();
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
        remoteIp = ip;
        remotePort = port;
        ep.attach(h); // to hear the request's end (onClosed) and its onAccepted
    }

    /** SYN-ACK for the held request; {@code irp} completes when the handshake did (or fails if it cannot). */
    private void startAccept(Irp irp, boolean fromEvent) {
        state = ACCEPTING;
        acceptIrp = irp;
        acceptFromEvent = fromEvent;
        provider.acceptRequest(ep.handle());
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
        attach(ep.handle(), remoteIp, remotePort);
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
            deferredAccept = irp;
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
                int status = done.ioStatus().code();
                if (status == NtStatus.STATUS_SUCCESS.code()) {
                    completeAccept(a, acceptAwaitingDataFromEvent);
                    provider.schedule(this); // a peer's FIN held back for the accept is indicated after it
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
        long h = ep.handle();
        boolean offered = state == OFFERED;
        ep.unmap();
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
        ep.clearHandle();
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
        if (state != CONNECTED || ep.localReleased()) {
            return complete(irp, NtStatus.STATUS_INVALID_CONNECTION.code(), 0);
        }
        if ((irp.flags() & ~KNOWN_SEND_FLAGS) != 0) {
            return complete(irp, NtStatus.STATUS_NOT_SUPPORTED.code(), 0);
        }
        if (irp.bufferLength() < 0 || irp.bufferLength() > 0 && irp.bufferAddress() == 0) {
            return complete(irp, NtStatus.STATUS_INVALID_PARAMETER.code(), 0);
        }
        if ((irp.flags() & Tdi.TDI_SEND_NON_BLOCKING) != 0 && !sends.isEmpty()) {
            sendNotReady = true;
            return complete(irp, NtStatus.STATUS_DEVICE_NOT_READY.code(), 0);
        }
        if ((irp.flags() & Tdi.TDI_SEND_AND_DISCONNECT) != 0) {
            ep.shutdownAfterSends();
        }
        if (irp.bufferLength() == 0) {
            int status = complete(irp, NtStatus.STATUS_SUCCESS.code(), 0);
            pumpSends();
            return status;
        }
        irp.incarnation = incarnation;
        irp.markPending();
        sends.add(irp);
        pumpSends();
        return NtStatus.STATUS_PENDING.code();
    }

    /** Queued sends to the stack (at most MAX_SENDS_IN_STACK at a time), then a FIN a release asked for. */
    private void pumpSends() {
        if (state == CONNECTED) {
            ep.pumpSends();
        }
    }

    /** The send pump's hand-over: a TDI_SEND (urgent for TDI_SEND_EXPEDITED), tracked by its request slot. */
    private int submit(Irp irp, boolean drained) {
        int slot = provider.track(irp, this);
        long h = ep.handle();
        boolean ok = (irp.flags() & Tdi.TDI_SEND_EXPEDITED) != 0
            ? provider.tcp.sendUrgent(h, slot, irp.bufferAddress(), irp.bufferLength())
            : provider.tcp.send(h, slot, irp.bufferAddress(), irp.bufferLength());
        if (!ok) {
            provider.untrack(slot);
            provider.schedule(this); // the request ring is full: try again next round
            return SendPump.STOP;
        }
        return SendPump.SUBMITTED;
    }

    void onSendComplete(Irp irp, int bytes, int status) {
        boolean mine = irp.incarnation == incarnation && sends.remove(irp);
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
            if (sendNotReady && sends.isEmpty() && state == CONNECTED) {
                sendNotReady = false;
                receiver.indicateSendPossible();
            }
        }
    }

    // ---------------------------------------------------------------- receive (TdiReceiver)

    void onReceive(long mbuf, long at, int length) {
        receiver.onReceive(mbuf, at, length);
    }

    void onUrgentData(DirectBuffer buffer, int offset, int length) {
        receiver.onUrgentData(buffer, offset, length);
    }

    void onPeerClosed() {
        ep.onPeerClosed();
        provider.schedule(this);
    }

    void doWork() {
        if (state == CONNECTED) {
            pumpSends();
            receiver.deliver();
        }
    }

    // ---------------------------------------------------------------- disconnect

    private int disconnect(Irp irp) {
        int flags = irp.flags();
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
                provider.cancelledConnections++;
                endConnect(NtStatus.STATUS_CANCELLED.code());
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
        }
        if (abort) {
            provider.localDisconnects++;
            abortConnection(NtStatus.STATUS_CANCELLED.code());
            return complete(irp, NtStatus.STATUS_SUCCESS.code(), 0);
        }
        if (releaseIrp != null || ep.localReleased() && ep.stackClosed()) {
            return complete(irp, NtStatus.STATUS_INVALID_CONNECTION.code(), 0);
        }
        provider.localDisconnects++;
        releaseIrp = irp;
        irp.incarnation = incarnation;
        if (!ep.localReleased()) {
            ep.shutdownAfterSends();
            pumpSends();
        }
        long wait = irp.timeout < 0 ? -irp.timeout * 100 : TdiProvider.DEFAULT_DISCONNECT_TIMEOUT_NS;
        connectTimer = false;
        provider.setTimer(this, provider.now() + wait);
        if (ep.stackClosed()) {
            return finish();
        }
        return pending(irp);
    }

    /** RST; every request on the connection completes with {@code status}; the endpoint is idle again. */
    private void abortConnection(int status) {
        ep.abort(); // a control: a full request ring cannot lose it
        for (Irp s = sends.pollInStack(); s != null; s = sends.pollInStack()) {
            s.cancelled = true; // completes when the stack gives the buffer back
        }
        detach(status);
    }

    /** Ends the connection on this endpoint: pending requests complete with {@code status}. */
    private void detach(int status) {
        ep.unmap();
        provider.cancelTimer(this);
        incarnation++;
        state = IDLE;
        ep.releaseAll();
        provider.openConnections--;
        receiver.detach(status); // an orderly end (SUCCESS) completes receives with TDI_GRACEFUL_DISC
        Irp r;
        while ((r = sends.pollWaiting()) != null) {
            complete(r, status, 0);
        }
        if (releaseIrp != null) {
            Irp rel = releaseIrp;
            releaseIrp = null;
            complete(rel, status, 0);
        }
        ep.clearHandle();
        completeDeferredAccept(deferredAccept, false); // it connected: SUCCESS, before any indication of the end
    }

    /** The accept IRP waits for the stack to take its connect data (it completes before any end is indicated). */
    boolean acceptAwaitsConnectData() {
        return acceptAwaitingData != null;
    }

    /** Completes the accept IRP from ClientEventConnect now if it still waits for the round's end. */
    void completeDeferredAccept() {
        completeDeferredAccept(deferredAccept, false);
    }

    /** Completes the connected endpoint's accept IRP from ClientEventConnect ({@code polled}: off the queue). */
    void completeDeferredAccept(Irp irp, boolean polled) {
        if (irp != null && irp == deferredAccept) {
            deferredAccept = null;
            if (!polled) {
                provider.undeferAccept(irp);
            }
            complete(irp, NtStatus.STATUS_SUCCESS.code(), 0);
        }
    }

    /** The stack is done with the connection. */
    void onStackClosed(int status) {
        if (state == OFFERED || state == ACCEPTING) {
            // The held request ended: the peer gave up (RST), or it waited too long (STATUS_IO_TIMEOUT).
            dropRequest(false, status);
            return;
        }
        ep.onStackClosed(status == NtStatus.STATUS_SUCCESS.code());
        if (state != CONNECTED) {
            return;
        }
        if (status == NtStatus.STATUS_SUCCESS.code()) {
            // Closed both ways: the data still queued goes first, then the endpoint is idle.
            ep.unmap();
            receiver.deliver();
            if (state == CONNECTED && ep.receivedBytes() == 0 && disconnectIndicated) {
                finish();
            }
            return;
        }
        // Reset, timed out, aborted by the stack: ABORT indication, the endpoint is idle at once.
        for (Irp s = sends.pollInStack(); s != null; s = sends.pollInStack()) {
            s.incarnation = -1; // the stack completes it with its status
        }
        detach(status);
        provider.remoteDisconnects++;
        if (status == NtStatus.STATUS_IO_TIMEOUT.code()) {
            provider.sessionTimeouts++;
        }
        abortAcknowledgeable = true;
        receiver.indicateDisconnect(Tdi.TDI_DISCONNECT_ABORT);
    }

    /** Orderly end (both FINs through, data taken): what completing the release returned, or SUCCESS. */
    int finish() {
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
            provider.sessionTimeouts++;
            endConnect(NtStatus.STATUS_REQUEST_TIMED_OUT.code());
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
            case Tdi.TDI_RECEIVE -> receiver.cancel(irp);
            case Tdi.TDI_SEND -> {
                if (sends.removeWaiting(irp)) {
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
                    provider.cancelledConnections++;
                    endConnect(NtStatus.STATUS_CANCELLED.code());
                }
            }
        }
    }

    void closeInternal() {
        if (closed) {
            return;
        }
        switch (state) {
            case CONNECTING -> endConnect(NtStatus.STATUS_CANCELLED.code());
            case LISTENING -> cancelListen(NtStatus.STATUS_CANCELLED.code());
            case OFFERED, ACCEPTING -> dropRequest(true, NtStatus.STATUS_CANCELLED.code());
            case CONNECTED -> abortConnection(NtStatus.STATUS_CANCELLED.code());
        }
        if (address != null) {
            address.associated--;
            address = null;
        }
        closed = true;
    }

    TdiConnectionInfo info() {
        return new TdiConnectionInfo(state, 0, transmittedTsdus, receiver.receivedTsdus, transmissionErrors,
            receiver.expeditedBytesDropped, throughput, 0,
            provider.sendBufferBytes, provider.receiveBufferBytes, false, state == IDLE ? 0 : remoteIp,
            state == IDLE ? 0 : remotePort);
    }

    @Override
    public String toString() {
        return "TdiConnection[" + id + " state=" + state + (state == IDLE ? "" : " "
            + Ipv4Address.format(remoteIp) + ":" + remotePort) + "]";
    }
}
