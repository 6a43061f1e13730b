package io.fastpath.stack.tcp;

import io.fastpath.stack.tcp.protocol.ConnectRequestFlyweight;
import io.fastpath.stack.tcp.protocol.ConnectionRequestFlyweight;
import io.fastpath.stack.tcp.protocol.EventType;
import io.fastpath.stack.tcp.protocol.ListenRequestFlyweight;
import io.fastpath.stack.tcp.protocol.RequestType;
import io.fastpath.stack.tcp.protocol.SendRequestFlyweight;
import io.fastpath.stack.tcp.protocol.SlotFlyweight;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.agrona.BitUtil;
import org.agrona.concurrent.MessageHandler;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.ringbuffer.ManyToOneRingBuffer;
import org.agrona.concurrent.ringbuffer.RingBufferDescriptor;

/**
 * One application's view of {@link TcpService}: its own request rings and its own event ring. The connections
 * it opens or accepts, and the ports it listens on, are its own: their events come to this client only, and
 * requests from another client about them are refused ({@code DropReason.REQUEST_REFUSED}). Several clients
 * (a WSK provider, a TDI provider, a raw user) share one stack without seeing each other's events.
 *
 * <p>Requests travel in three ways (docs/architecture.md, "TcpService protocol"):
 * <ul>
 * <li>Requests that start something (connect, listen, send, options) are records on the request ring
 *     ({@code tryClaim} → flyweight → {@code commit}); a full ring refuses them: the method returns false and the
 *     caller reports STATUS_INSUFFICIENT_RESOURCES.</li>
 * <li>Releases go on a ring of their own with room for a release of every descriptor the stack can hand over,
 *     and a release is admitted only against a descriptor this client was handed (a credit): so a legitimate
 *     release always finds room and never fails. More releases in flight than descriptors held are refused
 *     at once and counted ({@code RELEASE_REFUSED}).</li>
 * <li>Controls (shutdown, abort, accept or reject a held SYN, stop listening) go on the request ring, in order
 *     with the requests before them; when it is full they set a flag per connection slot (or a bit per port)
 *     and queue the slot once on a ring with room for every slot, so they cannot be lost either. While such a
 *     control waits, requests that start something are refused, so nothing overtakes it, and the poll thread
 *     carries it out only after every request queued before it.</li>
 * <li>On the stack's bound poll thread between duty cycles ({@link TcpService#bindPollThread}: a provider that
 *     dispatches on the poll thread), any of these is a direct call into the service instead, as long as nothing
 *     of this client waits on its request or release ring (so nothing is overtaken) and no side-path control
 *     waits ({@code direct()}); inside a duty cycle, and from any other thread, they take the rings.</li>
 * </ul>
 *
 * <p>Received data is handed over as descriptors this client records in its own {@link HeldDescriptors} (its
 * budget: {@code TcpService.clientBudget}); when it cannot take more (event ring full, budget used up) it is
 * stalled and its connections wait on its own list until the application makes room. {@link #close} ends the
 * client: its connections are reset, its listeners stop and its descriptors go back to the pool.
 *
 * <p>Threads: the request methods from any thread (no locks: each thread encodes with flyweights of its own);
 * {@link #pollEvents} from one application thread; everything else on the stack's poll thread.
 */
public final class TcpServiceClient implements TcpClient {
    /** Control flags per connection slot on the side path. */
    static final int CONTROL_ACCEPT = 1;
    static final int CONTROL_REJECT = 2;
    static final int CONTROL_SHUTDOWN = 4;
    static final int CONTROL_ABORT = 8;

    private static final int REQUEST_BATCH = 256;
    private static final int RELEASE_BATCH = 1024;
    /** Urgent bytes carried in one event (the stack marks one byte per urgent pointer, RFC 6093). */
    static final int URGENT_MAX = 32;

    /** Request encoders, one set per application thread (the flyweights hold a position). */
    private static final ThreadLocal<Encoders> ENCODERS = ThreadLocal.withInitial(Encoders::new);

    /** One thread's request encoders; {@code thread} is final, so a racy read of the cache below is safe. */
    private static final class Encoders {
        final Thread thread = Thread.currentThread();
        final ConnectRequestFlyweight connect = new ConnectRequestFlyweight();
        final ListenRequestFlyweight listen = new ListenRequestFlyweight();
        final SendRequestFlyweight send = new SendRequestFlyweight();
        final ConnectionRequestFlyweight connection = new ConnectionRequestFlyweight();
        final SlotFlyweight slot = new SlotFlyweight();
    }

    private final TcpService service;
    /**
     * The encoders of the thread that last made a request: a provider makes nearly all of its requests on its
     * dispatch thread, so this spares the ThreadLocal lookup. Plain field, racy on purpose: a thread uses it only
     * when it names that thread, else it takes its own from {@link #ENCODERS} and puts them here.
     */
    private Encoders lastEncoders;
    /** Small id, the smallest no other open client of the service has (diagnostics). */
    final int id;
    /** {@link #OPEN}, {@link #CLOSING} (asked for, any thread) or {@link #CLOSED} (done, poll thread). */
    private final AtomicInteger closeState = new AtomicInteger();
    private static final int OPEN = 0;
    private static final int CLOSING = 1;
    private static final int CLOSED = 2;

    // ---------------------------------------------------------------- application threads to the poll thread
    private final ManyToOneRingBuffer requests;
    /** Releases, with their credit (one CAS a release). */
    private final ReleaseRing releases;
    /** Controls that found the request ring full, and what they hold back. */
    private final ControlSidePath sidePath;
    private final AtomicLong releasesRefused = new AtomicLong();

    // ---------------------------------------------------------------- the poll thread to the application thread
    /** This client's events, and those waiting for room on their ring. */
    final ClientEvents events;

    // ---------------------------------------------------------------- poll thread only
    /** Its connections' and listeners' callbacks: the connection's handover (and handler) is this. */
    final Side side = new Side();
    private final MessageHandler requestHandler;
    private final ReleaseRing.Consumer releaseHandler;
    private final WaitingConnections.Reoffer reoffer = this::reoffer;
    private long refusedFolded;
    /** The descriptors this client holds (its own table and budget). */
    final HeldDescriptors held;
    /** Connections whose data waits for this client to make room (it is stalled while any do). */
    private final WaitingConnections waiting;

    TcpServiceClient(TcpService service, int id, int requestRingBytes, int eventRingBytes, int maxConnections,
                     int maxHeld) {
        this.service = service;
        this.id = id;
        this.requests = new ManyToOneRingBuffer(ring(requestRingBytes));
        this.releases = new ReleaseRing(maxHeld);
        this.held = new HeldDescriptors(maxHeld);
        this.waiting = new WaitingConnections(maxConnections);
        this.sidePath = new ControlSidePath(this, service, requests, new ManyToOneRingBuffer(
            ring(Math.max(64, maxConnections) * SlotFlyweight.RECORD_LENGTH)), maxConnections);
        this.events = new ClientEvents(service, ring(eventRingBytes), ring(eventRingBytes), maxConnections);
        this.requestHandler = (type, buffer, index, length) -> service.onRequest(this, type, buffer, index);
        this.releaseHandler = (handle, descriptor, length) -> service.onRelease(this, handle, descriptor, length);
    }

    private static UnsafeBuffer ring(int bytes) {
        int capacity = BitUtil.findNextPositivePowerOfTwo(Math.max(bytes, 1024));
        return new UnsafeBuffer(ByteBuffer.allocateDirect(capacity + RingBufferDescriptor.TRAILER_LENGTH));
    }

    // ================================================================ requests (any thread)

    /** Opens a connection; the outcome arrives as onConnectComplete(requestId, ...). False: no room, try later. */
    public boolean connect(long requestId, int remoteIp, int remotePort, int localPort) {
        return connect(requestId, 0, localPort, remoteIp, remotePort, 0, 0, false, TcpSocketOptions.DEFAULTS);
    }

    /**
     * Opens a connection that sends {@code length} bytes of native memory at {@code address} once connected,
     * or in the SYN with {@code fastOpen} and a cached cookie (RFC 7413). The memory must stay valid, and its
     * owner reachable (as for {@link #send}), until onConnectComplete. STATUS_BUFFER_OVERFLOW for more than the
     * send buffer holds.
     */
    public boolean connect(long requestId, int remoteIp, int remotePort, int localPort, long address, int length,
                           boolean fastOpen) {
        return connect(requestId, 0, localPort, remoteIp, remotePort, address, length, fastOpen,
            TcpSocketOptions.DEFAULTS);
    }

    /** As above from a given local address (0 = the stack's). {@code length} may be 0. */
    public boolean connect(long requestId, int localIp, int localPort, int remoteIp, int remotePort, long address,
                           int length, boolean fastOpen) {
        return connect(requestId, localIp, localPort, remoteIp, remotePort, address, length, fastOpen,
            TcpSocketOptions.DEFAULTS);
    }

    /** As above, with per-connection options ({@link TcpSocketOptions#of}). */
    public boolean connect(long requestId, int localIp, int localPort, int remoteIp, int remotePort, long address,
                           int length, boolean fastOpen, long socketOptions) {
        if (direct()) {
            service.connect(this, requestId, localIp, localPort, remoteIp, remotePort, address, length, fastOpen,
                socketOptions);
            service.outputAfterDirect();
            return true;
        }
        int index = claimRequest(RequestType.CONNECT, ConnectRequestFlyweight.LENGTH);
        if (index < 0) {
            return false;
        }
        encoders().connect.wrap(requests.buffer(), index)
            .requestId(requestId)
            .remoteIp(remoteIp)
            .remotePort(remotePort)
            .localIp(localIp)
            .localPort(localPort)
            .dataAddress(address)
            .dataLength(length)
            .fastOpen(fastOpen)
            .socketOptions(socketOptions);
        requests.commit(index);
        return true;
    }

    /**
     * The request ring's position after every request submitted so far: once {@link #requestsTaken} says the
     * stack has taken up to it, the stack has carried those requests out as far as reading them goes (a
     * CONNECT's data is copied into the send buffer when its record is taken), so memory they point at is no
     * longer read. Any thread.
     */
    public long requestPosition() {
        return requests.producerPosition();
    }

    /** True once the stack has taken every request before {@code position} ({@link #requestPosition()}). */
    public boolean requestsTaken(long position) {
        return requests.consumerPosition() >= position;
    }

    /** Listens on a port; accepted connections arrive as onAccepted (to this client only). */
    public boolean listen(int port) {
        return listen(port, TcpSocketOptions.DEFAULTS);
    }

    /** Listens on a port; its connections get {@code socketOptions} ({@link TcpSocketOptions#of}). */
    public boolean listen(int port, long socketOptions) {
        if (direct()) {
            service.listen(this, port, socketOptions);
            return true;
        }
        int index = claimRequest(RequestType.LISTEN, ListenRequestFlyweight.LENGTH);
        if (index < 0) {
            return false;
        }
        encoders().listen.wrap(requests.buffer(), index).port(port).socketOptions(socketOptions);
        requests.commit(index);
        return true;
    }

    /**
     * Sends {@code length} bytes of native memory at {@code address}. The memory must stay valid until
     * onSendComplete, and so must whatever owns it stay reachable: a direct ByteBuffer's memory is freed when
     * the buffer is collected, which can happen as soon as its address was taken (keep it in a field, or end
     * its scope with {@link java.lang.ref.Reference#reachabilityFence}).
     */
    public boolean send(long handle, long requestId, long address, int length) {
        return send(RequestType.SEND, handle, requestId, address, length);
    }

    /**
     * Sends {@code length} bytes as urgent data (TCP's MSG_OOB, what the Windows APIs call expedited): queued
     * after the sends before it, the urgent pointer marks the last of them. At most the send buffer's size. The
     * memory must stay valid, and its owner reachable, until onSendComplete (as for {@link #send}).
     */
    public boolean sendUrgent(long handle, long requestId, long address, int length) {
        return send(RequestType.SEND_URGENT, handle, requestId, address, length);
    }

    private boolean send(int type, long handle, long requestId, long address, int length) {
        if (direct()) {
            service.send(this, type == RequestType.SEND_URGENT, handle, requestId, address, length);
            service.outputAfterDirect();
            return true;
        }
        int index = claimRequest(type, SendRequestFlyweight.LENGTH);
        if (index < 0) {
            return false;
        }
        encoders().send.wrap(requests.buffer(), index)
            .handle(handle)
            .requestId(requestId)
            .address(address)
            .length(length);
        requests.commit(index);
        return true;
    }

    /** TCP_NODELAY for a connection. */
    public boolean noDelay(long handle, boolean on) {
        if (direct()) {
            service.noDelay(this, handle, on);
            return true;
        }
        int index = claimRequest(RequestType.NO_DELAY, ConnectionRequestFlyweight.LENGTH);
        if (index < 0) {
            return false;
        }
        encoders().connection.wrap(requests.buffer(), index).handle(handle).enable(on);
        requests.commit(index);
        return true;
    }

    /** SO_KEEPALIVE with TCP_KEEPIDLE / TCP_KEEPINTVL / TCP_KEEPCNT for a connection. */
    public boolean keepAlive(long handle, boolean on, long idleNs, long intervalNs, int count) {
        if (direct()) {
            service.keepAlive(this, handle, on, idleNs, intervalNs, count);
            return true;
        }
        int index = claimRequest(RequestType.KEEP_ALIVE, ConnectionRequestFlyweight.LENGTH);
        if (index < 0) {
            return false;
        }
        encoders().connection.wrap(requests.buffer(), index)
            .handle(handle)
            .enable(on)
            .idleNs(idleNs)
            .intervalNs(intervalNs)
            .count(count);
        requests.commit(index);
        return true;
    }

    /** SO_RCVBUF and TCP_MAXRT for an open connection ({@link TcpSocketOptions#of}; timestamps ignored). */
    public boolean options(long handle, long socketOptions) {
        if (direct()) {
            service.options(this, handle, socketOptions);
            return true;
        }
        int index = claimRequest(RequestType.OPTIONS, ConnectionRequestFlyweight.LENGTH);
        if (index < 0) {
            return false;
        }
        encoders().connection.wrap(requests.buffer(), index).handle(handle).socketOptions(socketOptions);
        requests.commit(index);
        return true;
    }

    /** The calling thread's request encoders. */
    private Encoders encoders() {
        Encoders e = lastEncoders;
        if (e != null && e.thread == Thread.currentThread()) {
            return e;
        }
        e = ENCODERS.get();
        lastEncoders = e;
        return e;
    }

    /**
     * Whether this request may be a direct call into the service instead of a record (docs/architecture.md,
     * "Direct requests"): the caller is the stack's bound poll thread between two duty cycles
     * ({@link TcpService#direct}), the client is open, no side-path control waits (it must not be overtaken), and
     * the request ring is empty (nothing of this client queued before it: order is kept). Otherwise the request
     * takes the ring as from any other thread.
     */
    private boolean direct() {
        return service.direct() && sidePath.pending() == 0 && closeState.get() == OPEN
            && requests.producerPosition() == requests.consumerPosition();
    }

    /** Room on the request ring for a request that starts something, or -1 (full, a control waits, closed). */
    private int claimRequest(int type, int length) {
        if (sidePath.pending() > 0 || closeState.get() != OPEN) {
            return -1; // a control waits on the side path: nothing may overtake it
        }
        return requests.tryClaim(type, length);
    }

    /** Graceful close of our direction (FIN after queued data). Cannot fail; always true. */
    public boolean shutdown(long handle) {
        return control(RequestType.SHUTDOWN, CONTROL_SHUTDOWN, handle);
    }

    /** Abortive close (RST). Cannot fail; always true. */
    public boolean abort(long handle) {
        return control(RequestType.ABORT, CONTROL_ABORT, handle);
    }

    /** Conditional accept: answer a held SYN (onConnectRequest) with a SYN-ACK; onAccepted follows. Always true. */
    public boolean acceptRequest(long handle) {
        return control(RequestType.ACCEPT_REQUEST, CONTROL_ACCEPT, handle);
    }

    /** Conditional accept: refuse a held SYN with a RST; no onClosed follows. Always true. */
    public boolean rejectRequest(long handle) {
        return control(RequestType.REJECT_REQUEST, CONTROL_REJECT, handle);
    }

    /** Stops listening on a port this client listens on (connections already accepted go on). Always true. */
    public boolean stopListening(int port) {
        if (closeState.get() != OPEN) {
            return false; // its listeners stop with it
        }
        if (direct()) {
            service.stopListening(this, port);
            return true;
        }
        if (sidePath.pending() == 0) {
            int index = requests.tryClaim(RequestType.STOP_LISTENING, ListenRequestFlyweight.LENGTH);
            if (index >= 0) {
                encoders().listen.wrap(requests.buffer(), index).port(port).socketOptions(0);
                requests.commit(index);
                return true;
            }
        }
        return sidePath.stopListening(port);
    }

    private boolean control(int type, int flag, long handle) {
        if (closeState.get() != OPEN) {
            return false; // its connections are reset with it
        }
        if (direct()) {
            service.applyControl(this, handle, flag);
            service.outputAfterDirect();
            return true;
        }
        if (sidePath.pending() == 0) {
            int index = requests.tryClaim(type, ConnectionRequestFlyweight.HANDLE_LENGTH);
            if (index >= 0) {
                encoders().connection.wrap(requests.buffer(), index).handle(handle);
                requests.commit(index);
                return true;
            }
        }
        return sidePath.control(flag, handle);
    }

    /** The calling thread's slot encoder (the side path's). */
    SlotFlyweight slotEncoder() {
        return encoders().slot;
    }

    /**
     * Returns a received mbuf (from onReceive, with the handle it came with) to the stack. The stack reopens
     * the window by the length it recorded; {@code length} only tells apart two descriptors of one mbuf (urgent
     * data splits one). Never fails for a descriptor this client holds (while no bogus release is in flight);
     * a release beyond what the client holds is refused (false) and counted, and a release of an mbuf it does
     * not hold is refused on the poll thread and counted, never a double free.
     */
    public boolean release(long handle, long mbuf, int length) {
        if (closeState.get() != OPEN) {
            return false; // the close returned every descriptor the client held
        }
        if (service.direct() && releases.isEmpty()) {
            // The poll thread between duty cycles, no release of this client queued before it: honoured (or
            // refused and counted) at once. It used no credit, so the next one granted is not given out.
            if (service.onRelease(this, handle, mbuf, length)) {
                releases.releasedDirectly();
            }
            service.outputAfterDirect(); // a window update the release made due
            return true;
        }
        if (!releases.offer(handle, mbuf, length)) {
            releasesRefused.incrementAndGet();
            return false; // more releases in flight than descriptors held: at least one is bogus
        }
        return true;
    }

    /**
     * Whether the stack's TCP memory is short (three quarters of its mbuf budget held): return zero-copy
     * buffers soon (WSK: WSK_FLAG_RELEASE_ASAP). Any thread.
     */
    public boolean memoryPressure() {
        return service.memoryPressure();
    }

    /** The mbuf address in a descriptor a RECEIVE event carried (its low 48 bits; above them, a handover token). */
    public static long mbufAddress(long descriptor) {
        return descriptor & HeldDescriptors.ADDRESS_MASK;
    }

    /**
     * Ends this client (any thread; a provider's close): requests, controls and releases are refused from now
     * on, and the stack's poll thread, at its next duty cycle, honours the releases sent before, resets the
     * client's connections, stops its listeners, returns every descriptor it still holds to the pool (so memory
     * an application still reads from a kept descriptor is no longer its) and frees its place for a new client.
     * {@link #isClosed} tells when that is done.
     */
    public void close() {
        closeState.compareAndSet(OPEN, CLOSING);
    }

    /** False from {@link #close} on. */
    public boolean isOpen() {
        return closeState.get() == OPEN;
    }

    /** True once the poll thread has carried out {@link #close}. */
    public boolean isClosed() {
        return closeState.get() == CLOSED;
    }

    boolean closeRequested() {
        return closeState.get() == CLOSING;
    }

    void closeDone() {
        closeState.set(CLOSED);
    }

    /** Honours the releases on the ring now (poll thread, at close). */
    void takeReleases() {
        releases.drain(releaseHandler, Integer.MAX_VALUE);
    }

    /** The service this client belongs to. */
    public TcpService service() {
        return service;
    }

    // ================================================================ events (one application thread)

    /** Delivers this client's events to {@code handler} (one application thread). Returns how many. */
    public int pollEvents(TcpEventHandler handler) {
        return events.poll(handler);
    }

    /**
     * Events by direct call (docs/architecture.md, "Direct events"): while {@code taker} says it takes this
     * client's events on the stack's bound poll thread, they are kept in a plain queue instead of the event ring,
     * and the stack asks the taker to take them right after its duty cycle; {@link #pollEvents} on that thread
     * delivers them first, in order. Null: the ring only (the default). Any thread, before or while running.
     */
    public void directEvents(DirectEventTaker taker) {
        events.directTaker(taker);
    }

    /** Events delivered by direct call so far (the bound thread; tests, diagnostics). */
    public long directEventsDelivered() {
        return events.directDelivered();
    }

    // ================================================================ poll thread

    /** Carries out this client's queued requests, releases and controls; moves waiting events (poll thread). */
    int poll() {
        int work = requests.read(requestHandler, REQUEST_BATCH);
        work += releases.drain(releaseHandler, RELEASE_BATCH); // a refused release gives its credit back there
        long refused = releasesRefused.get();
        if (refused != refusedFolded) {
            service.countRefusedReleases(refused - refusedFolded);
            refusedFolded = refused;
        }
        if (sidePath.hasWork()) {
            work += sidePath.poll();
        }
        work += events.moveWaiting();
        if (waiting.stalled()) {
            if (!events.waiting() && waiting.roomMade(events.consumerPosition(), held.count())) {
                int room = Math.min(events.freeReceiveRecords(), service.clientBudget() - held.count());
                work += waiting.resume(reoffer, room);
            } else {
                waiting.stillStalled();
            }
        }
        return work;
    }

    /** Offers a waiting connection its data again (poll thread, {@link WaitingConnections#resume}). */
    private void reoffer(int slot) {
        service.resumeReceive(this, slot);
    }

    /** Whether a handover was refused and the application has not made room since (poll thread; tests). */
    boolean stalled() {
        return waiting.stalled();
    }

    /** Connections whose data waits for this client to make room (poll thread; tests). */
    int waitingConnections() {
        return waiting.count();
    }

    /** Handovers refused so far (poll thread; tests: a stalled client is not asked again until it made room). */
    long refusedHandovers() {
        return waiting.refused();
    }

    /** Side-path controls waiting (tests). */
    int sidePathPending() {
        return sidePath.pending();
    }

    /** The poll thread's side of the client: callbacks of its connections and listeners. */
    final class Side implements TcpHandler, HandoverReceiver, TcpListenHandler {
        TcpServiceClient client() {
            return TcpServiceClient.this;
        }

        /**
         * Stalled for admission: no room made for a whole duty cycle (a client that reads its events every cycle
         * but fills its ring within one is slow, not stalled), and not alone on the stack (it starves nobody).
         */
        @Override
        public boolean stalled() {
            return waiting.stalledForAdmission() && service.clientCount() > 1;
        }

        @Override
        public TcpHandler onAccept(TcpConnection c) {
            c.handover = this;
            service.opened(c);
            events.postAccepted(EventType.ACCEPTED, c, c.synDataLength, 0);
            service.postIdealBacklog(TcpServiceClient.this, c);
            return this;
        }

        /** A conditional listener holds a SYN: the application decides (acceptRequest / rejectRequest). */
        @Override
        public void onConnectRequest(TcpConnection c, long synDataAddress, int synDataLength) {
            c.handover = this;
            c.handler = this; // to hear onClosed if the peer gives up or nobody decides in time
            events.postAccepted(EventType.CONNECT_REQUEST, c, Math.min(synDataLength, TcpService.MAX_SYN_DATA),
                synDataAddress);
        }

        @Override
        public void onConnectComplete(TcpConnection c, int status) {
            events.postConnected(c.requestTag, status == io.fastpath.stack.NtStatus.STATUS_SUCCESS ? c.handle() : 0, status);
            if (status == io.fastpath.stack.NtStatus.STATUS_SUCCESS) {
                service.opened(c);
                service.postIdealBacklog(TcpServiceClient.this, c);
            }
        }

        @Override
        public int onReceive(TcpConnection c, long address, int length) {
            return 0; // not used: data leaves through the handover
        }

        @Override
        public boolean onHandover(TcpConnection c, long mbuf, long address, int length) {
            if (!held.canHold() || held.count() >= service.clientBudget()) {
                // the data stays in the connection and is offered again
                waiting.stall(c, true, events.consumerPosition(), held.count());
                return false;
            }
            int i = events.claimReceive();
            if (i < 0) {
                // also while events wait for room: they go first
                waiting.stall(c, false, events.consumerPosition(), held.count());
                return false;
            }
            long handle = c.handle();
            long descriptor = held.hold(handle, mbuf, length);
            // The credit for its release is there before the application can see the descriptor.
            releases.grant(1);
            events.commitReceive(i, handle, descriptor, address, length);
            return true;
        }

        @Override
        public void onUrgentData(TcpConnection c, long address, int length) {
            events.postUrgent(c.handle(), address, Math.min(length, URGENT_MAX));
        }

        @Override
        public void onSendSpace(TcpConnection c, int freeBytes) {
            service.pump(TcpServiceClient.this, c);
            service.postIdealBacklog(TcpServiceClient.this, c);
        }

        @Override
        public void onFinAcked(TcpConnection c) {
            events.postConnectionEvent(EventType.FIN_ACKED, c.handle(), 0);
        }

        @Override
        public void onPeerClosed(TcpConnection c) {
            events.postConnectionEvent(EventType.PEER_CLOSED, c.handle(), 0);
        }

        @Override
        public void onClosed(TcpConnection c, int status) {
            service.failSends(TcpServiceClient.this, c,
                status == io.fastpath.stack.NtStatus.STATUS_SUCCESS
                    ? io.fastpath.stack.NtStatus.STATUS_CONNECTION_ABORTED : status);
            events.postConnectionEvent(EventType.CLOSED, c.eventHandle(), status);
        }
    }
}
