package io.fastpath.tdi;

import io.fastpath.provider.CancelQueue;
import io.fastpath.provider.ClientPump;
import io.fastpath.provider.HeldCompletions;
import io.fastpath.provider.RequestQueue;
import io.fastpath.provider.WorkList;
import io.fastpath.provider.DescriptorReleaser;
import io.fastpath.provider.DispatchedProvider;
import io.fastpath.provider.IrpCompleter;
import io.fastpath.provider.Verifier;
import io.fastpath.provider.IrpQueue;
import io.fastpath.provider.NativeCopier;
import io.fastpath.provider.NtStatus;
import io.fastpath.provider.PortTable;
import io.fastpath.provider.TimerWheel;
import io.fastpath.stack.Stack;
import io.fastpath.stack.tcp.TcpService;
import io.fastpath.stack.shard.FlowOwner;
import io.fastpath.stack.shard.StackShards;
import io.fastpath.stack.tcp.TcpClient;
import java.util.List;
import io.fastpath.stack.tcp.TcpSocketOptions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.agrona.collections.Int2ObjectHashMap;
import org.agrona.collections.Long2ObjectHashMap;

/**
 * The TDI transport over one {@link Stack}: the device object requests are sent to ({@link #callDriver},
 * IoCallDriver), the opener of address objects and connection endpoints, and the caller of client event
 * handlers.
 *
 * <p><b>Threads.</b> The stack runs on its own poll thread; the provider talks to it only through the stack's
 * {@link TcpService} rings. Everything the provider does - the work of every request, IRP completion routines,
 * event handlers - happens on one <em>dispatch thread</em>: the thread that opened the provider and calls
 * {@link #dispatch()} in its loop (invoker mode), or the thread {@link #startDispatcherThread} starts. A request
 * submitted on the dispatch thread (also from a routine or handler) runs at once and may complete inline; one
 * from another thread is queued to the dispatch thread and returns STATUS_PENDING. Opening and closing address
 * objects and endpoints happen on the dispatch thread.
 *
 * <p><b>Buffers.</b> Send and receive MDLs are the caller's native memory, valid until the IRP completes.
 * Received data stays in the mbufs it arrived in: receive indications lend it in place (zero copy), a
 * TDI_RECEIVE copies out of it, and a chained receive the client keeps (STATUS_PENDING) stays in its mbufs until
 * {@link #returnChainedReceives}. Held data counts against the connection's receive window.
 *
 * <p><b>Allocation.</b> None per request or per packet in steady state (IRPs are the caller's, queues are
 * intrusive, maps primitive-keyed, TSDU descriptors pooled), also none per connection offered.
 *
 * <p><b>Connection offers</b> are held SYNs (the stack's conditional accept): an address object listens with
 * {@link TcpSocketOptions#withConditionalAccept}, every SYN waits unanswered until the provider has offered it
 * (TDI_LISTEN, ClientEventConnect) and decided: accepted (SYN-ACK; the IRP completes when the handshake did)
 * or refused (RST for the SYN: the peer's connect fails with "connection refused").
 */
public final class TdiProvider extends DispatchedProvider {
    /** The request queue's size and how many requests one round takes (package-visible for a test). */
    static final int QUEUE_CAPACITY = 4096;
    private static final int MAX_COMPLETION_DEPTH = 16;
    /** TDI_DISCONNECT with a NULL time-out: the transport default, under one second. */
    static final long DEFAULT_DISCONNECT_TIMEOUT_NS = TimeUnit.MILLISECONDS.toNanos(900);
    /** A TDI_QUERY_ACCEPT offer neither accepted nor rejected within this is rejected. */
    static final long OFFER_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(1);
    /**
     * Listeners hold SYNs for a decision (conditional accept) and, with reuse address, may listen again on a port
     * connections of an earlier listener still use.
     */
    static final long LISTEN_OPTIONS = TcpSocketOptions.withConditionalAccept(TcpSocketOptions.of(null, 0, 0, true));

    /** This provider's own client of the stack's TcpService: its connections' events come to it alone. */
    final TcpClient tcp;
    final ClientPump pump;
    final int stackAddress;
    final int sendBufferBytes;
    final int receiveBufferBytes;
    /**
     * How long an accepted request may take to complete its handshake: the stack's SYN-ACK retransmissions and a
     * second for the peer. The stack reports no end for a request that fails after it was accepted (the peer's
     * RST, or its ACK never came), so the accept IRP waits at most this long.
     */
    final long handshakeLimitNs;
    final Consumer<Throwable> errorHandler;
    private final long startTime = System.currentTimeMillis() * 10_000L;
    private volatile boolean closed;

    private final RequestQueue<Object> requests = new RequestQueue<>(QUEUE_CAPACITY);
    private final Consumer<Object> requestConsumer = this::onRequest;

    final Long2ObjectHashMap<Object> byHandle = new Long2ObjectHashMap<>();
    final Int2ObjectHashMap<TdiAddress> listening = new Int2ObjectHashMap<>();
    final Int2ObjectHashMap<TdiAddress> listenPending = new Int2ObjectHashMap<>();
    private final List<TdiAddress> addresses = new ArrayList<>();
    private final List<TdiConnection> connections = new ArrayList<>();
    private final PortTable ports;
    private long nextId = 1;

    // Requests the stack carries (connects, sends), by the request id given to TcpService.
    private Irp[] tracked = new Irp[256];
    private TdiConnection[] trackedConnection = new TdiConnection[256];
    private int[] freeSlots = new int[256];
    private int freeCount;

    private final IrpCompleter<Irp> completer;
    final CancelQueue<Irp> cancels;
    final DescriptorReleaser releaser = this::releaseDescriptor;
    final NativeCopier copier = new NativeCopier();
    /** Accept IRPs from ClientEventConnect: they complete after the round's indications. */
    private final IrpQueue<Irp> acceptsToComplete = new IrpQueue<>();
    /** Given-up TDI_CONNECTs waiting for the stack to take their CONNECT records ({@link #completeWhenRequestsTaken}). */
    private final HeldCompletions<Irp> endedConnects;
    private final HeldCompletions.Completion<Irp> completion = (irp, status) -> complete(irp, status, 0, null);
    private final WorkList<TdiConnection> work = new WorkList<>(new WorkList.Flag<>() {
        @Override
        public boolean isSet(TdiConnection c) {
            return c.onWorkList;
        }

        @Override
        public void set(TdiConnection c, boolean on) {
            c.onWorkList = on;
        }
    });
    private final Consumer<TdiConnection> doWork = TdiConnection::doWork;
    private final TimerWheel<TdiConnection> timers = new TimerWheel<>(System.nanoTime(), TdiConnection::onTimer);
    /**
     * The clock as this round first read it ({@link #now()}); a round reads it only if it needs it: a round with no
     * timer set and no request that sets one reads no clock (a {@code System.nanoTime()} per round was a visible
     * part of the round trip: docs/perf/apis.md, "Provider per-event work").
     */
    private long nowNs = System.nanoTime();
    /** {@link #nowNs} was read in this round. */
    private boolean clockRead;


    /** TSDU descriptors: their pool, the chains clients keep and their returns. */
    final TdiChains chains = new TdiChains(this);

    final TdiEventReturn eventReturn = new TdiEventReturn();

    // TDI_PROVIDER_STATISTICS
    long openConnections;
    long connectsSucceeded;
    long localDisconnects;
    long remoteDisconnects;
    long sessionTimeouts;
    long cancelledConnections;
    long offersRefused;
    long sendsDone;
    long bytesSent;
    long receivesDone;
    long bytesReceived;

    private final TdiStackEvents events = new TdiStackEvents(this);

    private TdiProvider(Stack stack, List<TcpService> shards, FlowOwner owner, Consumer<Throwable> errorHandler) {
        super(stack, "fastpath-tdi-" + stack.config().name(), errorHandler);
        this.pump = shards == null ? new ClientPump(stack.tcpService(), events) : new ClientPump(shards, owner, events);
        pump.takeEventsDirectly(loop); // on the stack's bound poll thread, events by direct call
        this.tcp = pump.client();
        this.endedConnects = new HeldCompletions<>(tcp);
        this.ports = new PortTable(stack.ports()); // one table per stack, shared with its other providers and TCP
        this.stackAddress = stack.address();
        this.sendBufferBytes = stack.config().tcp().sendBufferBytes();
        this.receiveBufferBytes = stack.config().tcp().receiveBufferBytes();
        this.handshakeLimitNs = handshakeLimit(stack.config().tcp());
        this.errorHandler = errorHandler;
        this.completer = new IrpCompleter<>(errorHandler, MAX_COMPLETION_DEPTH);
        this.cancels = new CancelQueue<>(loop, this::cancelNow);
        for (int i = tracked.length - 1; i >= 0; i--) {
            freeSlots[freeCount++] = i;
        }
    }

    /**
     * Opens the TDI transport over a stack. The calling thread becomes the dispatch thread (call
     * {@link #dispatch()} in its loop) until {@link #startDispatcherThread} hands the role to a thread of its own.
     * The provider is a TcpService client of its own, so other providers (WSK, NDK, another TDI) can share the
     * stack.
     */
    public static TdiProvider open(Stack stack) {
        return open(stack, Throwable::printStackTrace);
    }

    /** As {@link #open(Stack)}, with a handler for exceptions thrown by completion routines and event handlers. */
    public static TdiProvider open(Stack stack, Consumer<Throwable> errorHandler) {
        return new TdiProvider(Objects.requireNonNull(stack), null, null, Objects.requireNonNull(errorHandler));
    }

    /** Over every shard of a port ({@link StackShards}): as {@link #open(Stack, List, FlowOwner)}. */
    public static TdiProvider open(StackShards shards) {
        return open(shards.shard(0), shards.tcpServices(), shards.owner());
    }

    /**
     * Opens the TDI transport over the shards of a port (issue 12): {@code stack} is shard 0's (the port's
     * address, configuration and port table), {@code shards} every shard's {@link TcpService} in shard order (each
     * made with its shard id), {@code owner} the port's flow-to-shard function. Connections are reached on
     * whichever shard they live; listening addresses listen on every shard. One shard: exactly {@link #open(Stack)}.
     */
    public static TdiProvider open(Stack stack, List<TcpService> shards, FlowOwner owner) {
        return open(stack, shards, owner, Throwable::printStackTrace);
    }

    /** As {@link #open(Stack, List, FlowOwner)}, with a handler for exceptions of routines and event handlers. */
    public static TdiProvider open(Stack stack, List<TcpService> shards, FlowOwner owner,
                                   Consumer<Throwable> errorHandler) {
        return new TdiProvider(Objects.requireNonNull(stack), List.copyOf(shards), Objects.requireNonNull(owner),
            Objects.requireNonNull(errorHandler));
    }

    // ================================================================================ objects

    /**
     * ZwCreateFile with a TdiTransportAddress EA: opens an address object on {@code ip} (0 = the stack's address)
     * and {@code port} (0 = a free port from 49152-65535). Dispatch thread.
     *
     * @throws TdiException STATUS_INVALID_ADDRESS (not the stack's address), STATUS_ADDRESS_ALREADY_EXISTS
     *     (another address object has the port), STATUS_TOO_MANY_ADDRESSES (no free ephemeral port)
     */
    public TdiAddress openAddress(int ip, int port) {
        checkThread();
        if (closed) {
            throw new TdiException(NtStatus.STATUS_INVALID_PARAMETER, "provider closed");
        }
        if (ip != 0 && ip != stackAddress) {
            throw new TdiException(NtStatus.STATUS_INVALID_ADDRESS, "not this stack's address");
        }
        if (port < 0 || port > 65535) {
            throw new TdiException(NtStatus.STATUS_INVALID_PARAMETER, "port " + port);
        }
        int p = port;
        if (p == 0) {
            p = ports.allocate();
            if (p == 0) {
                throw new TdiException(NtStatus.STATUS_TOO_MANY_ADDRESSES, "no free ephemeral port");
            }
        } else if (ports.choose(p) < 0) {
            throw new TdiException(NtStatus.STATUS_ADDRESS_ALREADY_EXISTS, "port " + p + " has an address object");
        }
        TdiAddress a = new TdiAddress(this, ip == 0 ? stackAddress : ip, p);
        addresses.add(a);
        return a;
    }

    /** ZwCreateFile with a TdiConnectionContext EA: opens a connection endpoint with the client's context. */
    public TdiConnection openConnection(Object connectionContext) {
        checkThread();
        if (closed) {
            throw new TdiException(NtStatus.STATUS_INVALID_PARAMETER, "provider closed");
        }
        TdiConnection c = new TdiConnection(this, nextId++, connectionContext);
        connections.add(c);
        return c;
    }

    void closeAddress(TdiAddress a) {
        checkThread();
        if (a.closed) {
            return;
        }
        a.closed = true;
        for (TdiConnection c; (c = a.listens.poll()) != null; ) {
            c.cancelListen(NtStatus.STATUS_ADDRESS_CLOSED.code());
        }
        for (Irp i; (i = a.listenWaiters.poll()) != null; ) {
            complete(i, NtStatus.STATUS_ADDRESS_CLOSED.code(), 0, null);
        }
        if (a.listenState != 0) {
            stopListening(a.port);
            listening.remove(a.port);
            listenPending.remove(a.port);
            a.listenState = 0;
        }
        ports.free(a.port);
        addresses.remove(a);
    }

    void closeConnection(TdiConnection c) {
        checkThread();
        c.closeInternal();
        connections.remove(c);
    }

    // ================================================================================ requests

    /**
     * IoCallDriver: submits an IRP a {@link TdiBuild} helper set up. Returns STATUS_SUCCESS or a failure when
     * the request completed inline (its routine has run), STATUS_PENDING when it completes later; either way the
     * IRP completes exactly once on the dispatch thread. From another thread the request is queued and the call
     * returns STATUS_PENDING.
     *
     * @throws IllegalStateException if the IRP is still in progress or was not built again after completing
     */
    public NtStatus callDriver(Irp irp) {
        irp.begin(this); // NullPointerException for a null IRP
        if (loop.onDispatchThread()) {
            return NtStatus.of(execute(irp));
        }
        irp.markPending();
        int queued = requests.offer(irp);
        if (queued != RequestQueue.QUEUED) {
            // close() closed the queue before its last drain: an IRP is queued before it or completed here.
            if (irp.complete(queued == RequestQueue.CLOSED ? NtStatus.STATUS_CANCELLED.code()
                : NtStatus.STATUS_INSUFFICIENT_RESOURCES.code(), 0, null)) {
                irp.runCompletionRoutine(errorHandler);
            }
        }
        return NtStatus.STATUS_PENDING;
    }



    /**
     * TdiReturnChainedReceives: gives back {@code count} TSDU descriptors a chained receive handler kept
     * (returned STATUS_PENDING for). Any thread. STATUS_INVALID_PARAMETER if any of them was not kept or was
     * already returned (those are skipped; the others are returned).
     */
    public NtStatus returnChainedReceives(Tsdu[] descriptors, int count) {
        return chains.returnChainedReceives(descriptors, count);
    }

    /** Chained receives clients keep right now (STATUS_PENDING, not yet returned). */
    public int heldChainedReceives() {
        return chains.held();
    }

    boolean isClosed() {
        return closed;
    }

    private int execute(Irp irp) {
        if (closed) {
            return complete(irp, NtStatus.STATUS_CANCELLED.code(), 0, null);
        }
        Object f = irp.fileObject;
        if (f instanceof TdiConnection c) {
            if (c.provider != this) {
                return complete(irp, NtStatus.STATUS_INVALID_PARAMETER.code(), 0, null);
            }
            return c.execute(irp);
        }
        if (f instanceof TdiAddress a && a.provider == this) {
            return switch (irp.minorFunction) {
                case Tdi.TDI_SET_EVENT_HANDLER -> setEventHandler(a, irp);
                case Tdi.TDI_QUERY_INFORMATION -> query(irp, a, null);
                default -> complete(irp, NtStatus.STATUS_INVALID_DEVICE_REQUEST.code(), 0, null);
            };
        }
        return complete(irp, NtStatus.STATUS_INVALID_PARAMETER.code(), 0, null);
    }

    private int setEventHandler(TdiAddress a, Irp irp) {
        if (a.closed) {
            return complete(irp, NtStatus.STATUS_ADDRESS_CLOSED.code(), 0, null);
        }
        Object h = irp.eventHandler;
        Object ctx = irp.eventContext;
        switch (irp.eventType) {
            case Tdi.TDI_EVENT_CONNECT -> {
                if (h != null && !(h instanceof TdiEvents.ClientEventConnect)) {
                    break;
                }
                a.connectHandler = (TdiEvents.ClientEventConnect) h;
                a.connectContext = ctx;
                if (h == null) {
                    stopListeningIfIdle(a);
                    return complete(irp, NtStatus.STATUS_SUCCESS.code(), 0, null);
                }
                ensureListening(a);
                if (a.listenState == 2) {
                    return complete(irp, NtStatus.STATUS_SUCCESS.code(), 0, null);
                }
                irp.markPending();
                a.listenWaiters.add(irp);
                return NtStatus.STATUS_PENDING.code();
            }
            case Tdi.TDI_EVENT_DISCONNECT -> {
                if (h != null && !(h instanceof TdiEvents.ClientEventDisconnect)) {
                    break;
                }
                a.disconnectHandler = (TdiEvents.ClientEventDisconnect) h;
                a.disconnectContext = ctx;
                return complete(irp, NtStatus.STATUS_SUCCESS.code(), 0, null);
            }
            case Tdi.TDI_EVENT_ERROR -> {
                if (h != null && !(h instanceof TdiEvents.ClientEventError)) {
                    break;
                }
                a.errorHandler = (TdiEvents.ClientEventError) h;
                a.errorContext = ctx;
                return complete(irp, NtStatus.STATUS_SUCCESS.code(), 0, null);
            }
            case Tdi.TDI_EVENT_RECEIVE, Tdi.TDI_EVENT_RECEIVE_EXPEDITED -> {
                if (h != null && !(h instanceof TdiEvents.ClientEventReceive)) {
                    break;
                }
                if (irp.eventType == Tdi.TDI_EVENT_RECEIVE) {
                    a.receiveHandler = (TdiEvents.ClientEventReceive) h;
                    a.receiveContext = ctx;
                } else {
                    a.receiveExpeditedHandler = (TdiEvents.ClientEventReceive) h;
                    a.receiveExpeditedContext = ctx;
                }
                return complete(irp, NtStatus.STATUS_SUCCESS.code(), 0, null);
            }
            case Tdi.TDI_EVENT_CHAINED_RECEIVE, Tdi.TDI_EVENT_CHAINED_RECEIVE_EXPEDITED -> {
                if (h != null && !(h instanceof TdiEvents.ClientEventChainedReceive)) {
                    break;
                }
                if (irp.eventType == Tdi.TDI_EVENT_CHAINED_RECEIVE) {
                    a.chainedHandler = (TdiEvents.ClientEventChainedReceive) h;
                    a.chainedContext = ctx;
                } else {
                    a.chainedExpeditedHandler = (TdiEvents.ClientEventChainedReceive) h;
                    a.chainedExpeditedContext = ctx;
                }
                return complete(irp, NtStatus.STATUS_SUCCESS.code(), 0, null);
            }
            case Tdi.TDI_EVENT_SEND_POSSIBLE -> {
                if (h != null && !(h instanceof TdiEvents.ClientEventSendPossible)) {
                    break;
                }
                a.sendPossibleHandler = (TdiEvents.ClientEventSendPossible) h;
                a.sendPossibleContext = ctx;
                return complete(irp, NtStatus.STATUS_SUCCESS.code(), 0, null);
            }
            default -> {
            }
        }
        return complete(irp, NtStatus.STATUS_INVALID_PARAMETER.code(), 0, null); // TDI_BAD_EVENT_TYPE
    }

    int query(Irp irp, TdiAddress a, TdiConnection c) {
        Object result = switch (irp.queryType) {
            case Tdi.TDI_QUERY_PROVIDER_INFO -> new TdiProviderInfo(Tdi.TDI_VERSION, sendBufferBytes, 0, 0,
                Tdi.TDI_SERVICE_CONNECTION_MODE | Tdi.TDI_SERVICE_ORDERLY_RELEASE | Tdi.TDI_SERVICE_EXPEDITED_DATA
                    | Tdi.TDI_SERVICE_DELAYED_ACCEPTANCE | Tdi.TDI_SERVICE_NO_ZERO_LENGTH,
                1, stack.config().tcp().receiveBufferBytes(), stack.config().tcp().maxConnections(), startTime);
            case Tdi.TDI_QUERY_PROVIDER_STATISTICS -> new TdiProviderStatistics(Tdi.TDI_VERSION, openConnections,
                connectsSucceeded, localDisconnects, remoteDisconnects, sessionTimeouts, cancelledConnections,
                offersRefused, sendsDone, bytesSent, receivesDone, bytesReceived);
            case Tdi.TDI_QUERY_ADDRESS_INFO -> {
                TdiAddress of = a != null ? a : c.address;
                yield of == null ? null : new TdiAddressInfo(of.associated, of.ip, of.port);
            }
            case Tdi.TDI_QUERY_CONNECTION_INFO -> c == null ? null : c.info();
            default -> null;
        };
        if (result == null) {
            int status = irp.queryType == Tdi.TDI_QUERY_ADDRESS_INFO && c != null ? NtStatus.STATUS_INVALID_CONNECTION.code()
                : NtStatus.STATUS_INVALID_PARAMETER.code();
            return complete(irp, status, 0, null);
        }
        return complete(irp, NtStatus.STATUS_SUCCESS.code(), 0, result);
    }

    // ================================================================================ dispatch thread

    /** One round's work ({@link #dispatch()}, guarded by the loop). */
    @Override
    protected int round() {
        return pump.round(roundWork); // direct sends of this round leave together at its end
    }

    /** {@link #roundWork()}, made once (no allocation per round). */
    private final java.util.function.IntSupplier roundWork = this::roundWork;

    private int roundWork() {
        clockRead = false;
        int work = requests.drain(requestConsumer, QUEUE_CAPACITY);
        work += chains.takeReturns(false);
        work += cancels.drain();
        work += pump.poll();
        work += endedConnects.completeTaken(completion);
        work += runTimers();
        work += runWork();
        work += completeAccepts();
        work += completer.runDeferred();
        return work;
    }

    /**
     * Closes the transport: stops the dispatcher thread, then on the calling thread aborts every connection
     * (pending IRPs complete STATUS_CANCELLED), closes every address and returns the data still held to the
     * stack. Call before stopping the stack's runner.
     */
    @Override
    public void close() {
        if (!loop.beginClose()) {
            return; // closed, or another thread closes it
        }
        loop.stopThread();
        loop.adopt();
        requests.drain(requestConsumer, Integer.MAX_VALUE);
        chains.takeReturns(false);
        for (TdiConnection c : new ArrayList<>(connections)) {
            c.closeInternal();
        }
        for (TdiAddress a : new ArrayList<>(addresses)) {
            closeAddress(a);
        }
        closed = true;
        requests.close(); // waits for a call from another thread that is queuing
        pump.settle(() -> drainClosing() + completer.runDeferred());
        byHandle.clear();
        // The stack resets what is left, stops the listeners and takes back every descriptor; only once it has
        // are the IRPs still with it completed, so a caller told STATUS_CANCELLED may reuse its memory at once.
        pump.closeAndAwait();
        for (int i = 0; i < tracked.length; i++) {
            Irp irp = tracked[i];
            if (irp != null && irp.inProgress()) {
                tracked[i] = null;
                complete(irp, NtStatus.STATUS_CANCELLED.code(), 0, null);
            }
        }
        completer.runDeferred();
        if (Verifier.ENABLED) {
            Verifier.providerClosed(cancels, "TDI provider of " + stack.config().name());
        }
        loop.closed();
    }

    /**
     * close()'s drains once closed is set, on the one closing thread (the loop's state admits one); late chain
     * returns drain the lock-free return stack themselves ({@link TdiChains}).
     */
    private int drainClosing() {
        return requests.drain(requestConsumer, Integer.MAX_VALUE) + chains.takeReturns(true);
    }


    private void onRequest(Object request) {
        if (request instanceof Irp irp) {
            execute(irp);
            if (irp.cancelRequested() && irp.inProgress()) {
                cancelNow(irp); // IoCancelIrp arrived before the queued call ran: it found nothing to cancel then
            }
        }
    }

    private void cancelNow(Irp irp) {
        if (irp.provider != this) {
            return;
        }
        if (irp.fileObject instanceof TdiConnection c) {
            c.cancel(irp);
        } else if (irp.fileObject instanceof TdiAddress a && a.listenWaiters.remove(irp)) {
            complete(irp, NtStatus.STATUS_CANCELLED.code(), 0, null);
        }
    }

    private void checkThread() {
        loop.checkThread("call on the provider's dispatch thread");
    }

    // ---------------------------------------------------------------- completion

    /**
     * Completes an IRP: fills IoStatus and runs its routine. Beyond 16 nested inline completions the IRP is marked
     * pending and completed in the next round: then STATUS_PENDING is returned, else {@code status}. Either way
     * the IRP must not be touched afterwards.
     */
    int complete(Irp irp, int status, long information, Object object) {
        if (completer.complete(irp, status, information, object)) {
            return status;
        }
        irp.markPending(); // the routine runs next round: the submission returns STATUS_PENDING
        return NtStatus.STATUS_PENDING.code();
    }

    void deferAccept(Irp accept) {
        acceptsToComplete.add(accept);
    }

    /** The connection ended before the round's end: its accept completes at once, off the queue. */
    void undeferAccept(Irp accept) {
        acceptsToComplete.remove(accept);
    }

    private int completeAccepts() {
        int work = 0;
        for (Irp i; (i = acceptsToComplete.poll()) != null; ) {
            ((TdiConnection) i.fileObject).completeDeferredAccept(i, true);
            work++;
        }
        return work;
    }

    void onError(Throwable t) {
        errorHandler.accept(t);
    }

    // ---------------------------------------------------------------- tracking of requests the stack carries

    int track(Irp irp, TdiConnection c) {
        if (freeCount == 0) {
            int n = tracked.length;
            tracked = Arrays.copyOf(tracked, n * 2);
            trackedConnection = Arrays.copyOf(trackedConnection, n * 2);
            freeSlots = Arrays.copyOf(freeSlots, n * 2);
            for (int i = n * 2 - 1; i >= n; i--) {
                freeSlots[freeCount++] = i;
            }
        }
        int slot = freeSlots[--freeCount];
        tracked[slot] = irp;
        trackedConnection[slot] = c;
        return slot;
    }

    Irp untrack(int slot) {
        if (slot < 0 || slot >= tracked.length || tracked[slot] == null) {
            return null;
        }
        Irp irp = tracked[slot];
        tracked[slot] = null;
        freeSlots[freeCount++] = slot;
        return irp;
    }

    TdiConnection trackedConnectionOf(int slot) {
        return slot >= 0 && slot < trackedConnection.length ? trackedConnection[slot] : null;
    }

    // ---------------------------------------------------------------- work list and timers

    void schedule(TdiConnection c) {
        work.schedule(c);
    }

    /** Connections' work, also work they schedule meanwhile, up to a bound per round. */
    private int runWork() {
        return work.run(doWork, 10_000);
    }

    private int runTimers() {
        // Without timers the wheel needs no time: setTimer() moves it on to the clock before it schedules the next.
        return timers.size() == 0 ? 0 : timers.poll(now());
    }

    /** (Re)arms the connection's one timer; {@link TdiConnection#onTimer} runs at the deadline. */
    void setTimer(TdiConnection c, long deadlineNs) {
        timers.cancel(c.timer);
        timers.catchUp(now()); // rounds without timers did not poll the wheel: its time moves on in one step
        c.timer = timers.schedule(c, deadlineNs);
    }

    void cancelTimer(TdiConnection c) {
        c.timer = timers.cancel(c.timer);
    }

    // ---------------------------------------------------------------- listening and offers

    void ensureListening(TdiAddress a) {
        if (a.listenState == 0) {
            a.listenState = 1;
            listenPending.put(a.port, a);
            // Refused while the ring is full or a stop (of this port, perhaps) waits on the side path.
            if (!tcp.listen(a.port, LISTEN_OPTIONS)) {
                listenPending.remove(a.port);
                onListenOutcome(a, NtStatus.STATUS_INSUFFICIENT_RESOURCES.code());
            }
        }
    }

    void stopListeningIfIdle(TdiAddress a) {
        if (a.listenState == 2 && a.connectHandler == null && a.listens.isEmpty()) {
            stopListening(a.port);
            listening.remove(a.port);
            a.listenState = 0;
        }
    }

    /**
     * The last TDI_LISTEN of an address without a connect handler was cancelled: it stops listening (connections of
     * the address may still use the port: the next listen reuses it).
     */
    void stopListeningIfUnused(TdiAddress a) {
        stopListeningIfIdle(a);
    }

    void onListenOutcome(TdiAddress a, int status) {
        if (status == NtStatus.STATUS_SUCCESS.code() && !a.closed) {
            a.listenState = 2;
            listening.put(a.port, a);
        } else {
            a.listenState = 0;
            if (status == NtStatus.STATUS_SUCCESS.code()) {
                stopListening(a.port);
            }
            for (TdiConnection c; (c = a.listens.poll()) != null; ) {
                c.cancelListen(status);
            }
        }
        for (Irp i; (i = a.listenWaiters.poll()) != null; ) {
            complete(i, status, 0, null);
        }
    }


    /**
     * An IRP a handler handed back (ClientEventConnect's accept IRP, a receive handler's TDI_RECEIVE) that cannot
     * be used: completed with {@code status} if it is ready (built and not submitted), else left alone.
     */
    void failHandedBack(Irp irp, int status) {
        if (irp != null && irp.ready()) {
            irp.begin(this);
            complete(irp, status, 0, null);
        }
    }

    /** Refuses a held request: RST for its SYN, the peer's connect fails (connection refused). */
    void refuse(long handle) {
        offersRefused++;
        byHandle.remove(handle);
        rejectRequest(handle);
    }

    void raiseError(TdiAddress a, int status) {
        if (a != null && a.errorHandler != null) {
            try {
                a.errorHandler.clientEventError(a.errorContext, NtStatus.of(status));
            } catch (Throwable t) {
                errorHandler.accept(t);
            }
        }
    }

    // ---------------------------------------------------------------- data

    /** Returns a descriptor (its client's release ring has room for every descriptor held: it cannot fail). */
    void releaseDescriptor(long handle, long mbuf, int length) {
        tcp.release(handle, mbuf, length);
    }

    /** RST for a connection of the stack: a control, so a full request ring cannot lose it. */
    void abort(long handle) {
        tcp.abort(handle);
    }

    /** Completes {@code irp} with {@code status} once the stack has taken its requests up to {@code position}. */
    void completeWhenRequestsTaken(Irp irp, int status, long position) {
        endedConnects.hold(irp, status, position);
    }

    /**
     * Connect data in an accept IRP must fit the send buffer, which is empty after the handshake and so takes it
     * at once: the accept then completes right after the handshake and never waits on the peer's window (where
     * it could not be cancelled). More is refused, STATUS_INVALID_PARAMETER.
     */
    boolean connectDataFits(Irp accept) {
        TdiConnectionInformation info = accept.requestInfo;
        return info == null || info.userData() == 0 || info.userDataLength() <= sendBufferBytes;
    }

    /** Conditional accept: SYN-ACK for a held request (a control, like an abort). */
    void acceptRequest(long handle) {
        tcp.acceptRequest(handle);
    }

    /** Conditional accept: RST for a held request's SYN (a control, like an abort). */
    void rejectRequest(long handle) {
        tcp.rejectRequest(handle);
    }

    /** Stops the stack listening on a port (a control, like an abort). */
    void stopListening(int port) {
        tcp.stopListening(port);
    }

    /** The stack's SYN-ACK retransmissions (RTO doubling up to its maximum) plus a second. */
    private static long handshakeLimit(io.fastpath.stack.tcp.TcpConfig config) {
        long total = TimeUnit.SECONDS.toNanos(1);
        long rto = config.initialRtoNs();
        for (int i = 0; i <= config.synRetries(); i++) {
            total += rto;
            rto = Math.min(rto * 2, config.maxRtoNs());
        }
        return total;
    }

    void copy(long from, long to, int length) {
        copier.copy(from, to, length);
    }










    /** The clock: inside a round, one reading per round (the first call reads it); outside, a fresh one. */
    long now() {
        if (!loop.dispatching()) {
            return System.nanoTime();
        }
        if (!clockRead) {
            nowNs = System.nanoTime();
            clockRead = true;
        }
        return nowNs;
    }
}
