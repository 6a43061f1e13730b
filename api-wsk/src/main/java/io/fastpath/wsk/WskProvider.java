package io.fastpath.wsk;

import io.fastpath.provider.CancelQueue;
import io.fastpath.provider.ClientPump;
import io.fastpath.provider.DescriptorReleaser;
import io.fastpath.provider.DispatchedProvider;
import io.fastpath.provider.HeldCompletions;
import io.fastpath.provider.IrpCompleter;
import io.fastpath.provider.NativeCopier;
import io.fastpath.provider.NtStatus;
import io.fastpath.provider.ObjectPool;
import io.fastpath.provider.PortTable;
import io.fastpath.provider.RequestQueue;
import io.fastpath.provider.Verifier;
import io.fastpath.provider.WorkList;
import io.fastpath.stack.Stack;
import io.fastpath.stack.tcp.TcpEventHandler;
import io.fastpath.stack.tcp.TcpService;
import io.fastpath.stack.shard.FlowOwner;
import io.fastpath.stack.shard.StackShards;
import io.fastpath.stack.tcp.TcpClient;
import java.util.List;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import java.util.function.IntSupplier;
import org.agrona.collections.Int2ObjectHashMap;
import org.agrona.collections.Long2ObjectHashMap;

/**
 * The WSK provider NPI over one {@link Stack} (WskRegister + WskCaptureProviderNPI in one step:
 * {@link #register}). It creates sockets ({@link #socket}, {@link #socketConnect}) and serves every socket
 * call, completion and event callback of that stack.
 *
 * <p><b>Threads.</b> The stack runs on its own poll thread (a {@code StackRunner}); the provider talks to it
 * only through the stack's {@link TcpService} rings. Everything the provider does - IRP completion routines,
 * event callbacks, the work of every socket call - happens on one <em>dispatch thread</em>: the thread that
 * registered the provider and calls {@link #dispatch()} in its loop (invoker mode: tests, embedding), or the
 * thread {@link #startDispatcherThread} starts. A socket call made on the dispatch thread (including from a
 * completion routine or callback) runs at once and may complete inline; a call from any other thread is
 * queued to the dispatch thread through a many-to-one queue and returns STATUS_PENDING. Either way the IRP
 * completes exactly once, on the dispatch thread.
 *
 * <p><b>Buffers.</b> Send and receive buffers are the caller's native memory, named by {@link WskBuf}; they
 * must stay valid until the IRP completes. Received data arrives as zero-copy descriptors over mbufs: a
 * WskReceive copies out of them (one copy), a receive event lends them in place (zero copy); the provider
 * returns each descriptor to the stack once it is consumed or released.
 *
 * <p><b>Allocation.</b> Per call and per packet: none in steady state (IRPs are the caller's, queues are
 * intrusive, maps are primitive-keyed, indication links are pooled). Per connection: none in steady state
 * either: a connection or stream socket goes back to a pool when its WskCloseSocket completes and serves a
 * later WskSocket call or accept (as a Windows provider's lookaside list would), and addresses are kept as
 * numbers (SocketAddressV4 objects are made when asked for, once per distinct address: an accept event's remote
 * address is one per accepted connection). So a socket object must not be used after its close completed: it
 * may be someone else's socket by then (in verifier mode closed sockets are not reused, and such a call fails
 * with STATUS_FILE_FORCED_CLOSED). Listen sockets are not pooled.
 */
public final class WskProvider extends DispatchedProvider {
    static final int OP_SOCKET = 1;
    static final int OP_SOCKET_CONNECT = 2;
    static final int OP_BIND = 3;
    static final int OP_LISTEN = 4;
    static final int OP_ACCEPT = 5;
    static final int OP_CONNECT = 6;
    static final int OP_CONNECT_EX = 7;
    static final int OP_SEND = 8;
    static final int OP_RECEIVE = 9;
    static final int OP_DISCONNECT = 10;
    static final int OP_CLOSE = 11;
    static final int OP_GET_LOCAL = 12;
    static final int OP_GET_REMOTE = 13;
    static final int OP_CONTROL = 14;
    static final int OP_INSPECT_COMPLETE = 15;

    private static final int QUEUE_CAPACITY = 4096;
    /** Inline completions nest (a routine starts a call that completes inline...); beyond this they wait. */
    private static final int MAX_COMPLETION_DEPTH = 16;

    /** This provider's own client of the stack's TcpService: its connections' events come to it alone. */
    final TcpClient tcp;
    private final ClientPump pump;
    final int stackAddress;
    final int sendBufferBytes;
    final int receiveBufferBytes;
    final boolean timestamps;
    private final Consumer<Throwable> errorHandler;
    private volatile boolean closed;
    /** Dispatching on the stack's poll thread ({@link #pollThreadAgent}); close() asks it to let go. */
    private volatile boolean detachRequested;
    private volatile boolean detached;
    /** WSK_FLAG_AT_DISPATCH_LEVEL while callbacks run on the stack's poll thread, else 0. */
    int eventFlags;

    private final RequestQueue<Object> requests = new RequestQueue<>(QUEUE_CAPACITY);
    private final Consumer<Object> requestConsumer = this::onRequest;

    final Long2ObjectHashMap<WskSocket> byId = new Long2ObjectHashMap<>();
    final Long2ObjectHashMap<WskSocket> byHandle = new Long2ObjectHashMap<>();
    final Int2ObjectHashMap<WskSocket> listeners = new Int2ObjectHashMap<>();
    final Int2ObjectHashMap<WskSocket> listenPending = new Int2ObjectHashMap<>();
    /** Connection requests (held SYNs) a conditional-accept listener is deciding on, by stack handle. */
    final Long2ObjectHashMap<WskSocket> inspecting = new Long2ObjectHashMap<>();
    final PortTable ports;
    private long nextSocketId = 1;

    private final IrpCompleter<Irp> completer;
    final CancelQueue<Irp> cancels;
    /** Cancelled ConnectEx IRPs waiting for the stack to take their CONNECT records ({@link #completeWhenRequestsTaken}). */
    private final HeldCompletions<Irp> cancelledConnects;
    private final HeldCompletions.Completion<Irp> completion = (irp, status) -> complete(irp, status, 0, null);
    private final WorkList<WskSocket> work = new WorkList<>(new WorkList.Flag<>() {
        @Override
        public boolean isSet(WskSocket s) {
            return s.onWorkList;
        }

        @Override
        public void set(WskSocket s, boolean on) {
            s.onWorkList = on;
        }
    });
    private final Consumer<WskSocket> doWork = WskSocket::doWork;

    private final ObjectPool<WskDataIndication> indications = new ObjectPool<>(WskDataIndication::new, 256, 0);
    /**
     * Connection and stream sockets whose close completed, for later WskSocket calls and accepts (as Windows'
     * provider takes its socket contexts from lookaside lists): a connection costs no allocation in steady state.
     * A closed socket joins the pool at the end of the dispatch round its close completed in (code up the call
     * stack may still look at it until then). Not in verifier mode: there a closed socket stays closed, so a
     * call on it after its close fails with STATUS_FILE_FORCED_CLOSED instead of reaching a newer socket.
     */
    private final ObjectPool<WskSocket> spareSockets = new ObjectPool<>(() -> null, 64, 0);
    /** The pool's depth (a lookaside list's): sockets closed beyond it in a burst are left to the GC. */
    static final int MAX_SPARE_SOCKETS = 1024;
    private WskSocket[] retired = new WskSocket[16];
    private int retiredCount;

    final NativeCopier copier = new NativeCopier();
    final DescriptorReleaser releaser = this::releaseDescriptor;
    /** For controlSocket calls without an IRP (dispatch thread only; they always complete inline). */
    final Irp scratch = new Irp();

    private final TcpEventHandler events = new TcpEventHandler() {
        @Override
        public void onConnectComplete(long requestId, long handle, int status) {
            WskSocket s = byId.get(requestId);
            if (s == null) {
                pump.dropConnectOutcome(handle, status);
            } else {
                s.onConnectComplete(handle, status);
            }
        }

        @Override
        public void onListenComplete(int port, int status) {
            WskSocket s = listenPending.remove(port);
            if (s == null) {
                pump.dropListenOutcome(port, status, listeners.containsKey(port));
            } else {
                s.onListenComplete(port, status);
            }
        }

        @Override
        public void onConnectRequest(int listenPort, long handle, int remoteIp, int remotePort,
                                     org.agrona.DirectBuffer synData, int offset, int length) {
            WskSocket listener = listeners.get(listenPort);
            if (listener == null) {
                decideRequest(handle, false);
                return;
            }
            listener.onConnectRequest(handle, remoteIp, remotePort);
        }

        @Override
        public void onAccepted(int listenPort, long handle, int remoteIp, int remotePort) {
            WskSocket listener = listeners.get(listenPort);
            if (listener == null) {
                abort(handle);
                return;
            }
            listener.onAccepted(handle, remoteIp, remotePort);
        }

        @Override
        public void onReceive(long handle, long mbuf, long address, int length) {
            WskSocket s = byHandle.get(handle);
            if (s == null) {
                if (Verifier.ENABLED) {
                    Verifier.poison(address, length);
                }
                releaseDescriptor(handle, mbuf, length);
                return;
            }
            s.onReceive(mbuf, address, length);
        }

        @Override
        public void onSendComplete(long requestId, long handle, int bytes, int status) {
            WskSocket s = byId.get(requestId);
            if (s != null) {
                s.sender.onSendComplete(bytes, status);
            }
        }

        @Override
        public void onShutdownComplete(long handle) {
            WskSocket s = byHandle.get(handle);
            if (s != null) {
                s.sender.onShutdownComplete();
            }
        }

        @Override
        public void onIdealSendBacklog(long handle, int bytes) {
            WskSocket s = byHandle.get(handle);
            if (s != null) {
                s.sender.onIdealSendBacklog(bytes);
            }
        }

        @Override
        public void onPeerClosed(long handle) {
            WskSocket s = byHandle.get(handle);
            if (s != null) {
                s.onPeerClosed();
            }
        }

        @Override
        public void onClosed(long handle, int status) {
            WskSocket s = byHandle.remove(handle);
            if (s != null) {
                s.onStackClosed(status);
                return;
            }
            WskSocket listener = inspecting.remove(handle);
            if (listener != null) {
                listener.onRequestAborted(handle); // a held SYN's peer gave up, or nobody decided in time
            }
        }
    };

    private WskProvider(Stack stack, List<TcpService> shards, FlowOwner owner, Consumer<Throwable> errorHandler) {
        super(stack, "fastpath-wsk-" + stack.config().name(), errorHandler);
        this.pump = shards == null ? new ClientPump(stack.tcpService(), events) : new ClientPump(shards, owner, events);
        pump.takeEventsDirectly(loop); // on the stack's bound poll thread, events by direct call
        this.tcp = pump.client();
        this.cancelledConnects = new HeldCompletions<>(tcp);
        this.ports = new PortTable(stack.ports()); // one table per stack, shared with its other providers and TCP
        this.stackAddress = stack.address();
        this.sendBufferBytes = stack.config().tcp().sendBufferBytes();
        this.receiveBufferBytes = stack.config().tcp().receiveBufferBytes();
        this.timestamps = stack.config().tcp().timestamps();
        this.errorHandler = errorHandler;
        this.completer = new IrpCompleter<>(errorHandler, MAX_COMPLETION_DEPTH);
        this.cancels = new CancelQueue<>(loop, this::cancelNow);
    }

    /**
     * Registers a WSK client with the stack and returns its provider. The calling thread becomes the dispatch
     * thread (call {@link #dispatch()} in its loop) until {@link #startDispatcherThread} hands the role to a
     * thread of its own. The provider is a TcpService client of its own, so other providers (TDI,
     * NDK, another WSK) can share the stack.
     */
    public static WskProvider register(Stack stack) {
        return register(stack, Throwable::printStackTrace);
    }

    /** As {@link #register(Stack)}, with a handler for exceptions thrown by completion routines and callbacks. */
    public static WskProvider register(Stack stack, Consumer<Throwable> errorHandler) {
        return new WskProvider(Objects.requireNonNull(stack), null, null, Objects.requireNonNull(errorHandler));
    }

    /** Over every shard of a port ({@link StackShards}): as {@link #register(Stack, List, FlowOwner)}. */
    public static WskProvider register(StackShards shards) {
        return register(shards.shard(0), shards.tcpServices(), shards.owner());
    }

    /**
     * Registers a WSK client over the shards of a port (issue 12): {@code stack} is shard 0's (the port's address,
     * configuration and port table), {@code shards} every shard's {@link TcpService} in shard order (each made
     * with its shard id), {@code owner} the port's flow-to-shard function. Sockets reach their connections on
     * whichever shard they live; listening sockets listen on every shard; connects go to the flow's owner (from
     * a bound port) or to the shards in turn (ephemeral). One shard: exactly {@link #register(Stack)}.
     */
    public static WskProvider register(Stack stack, List<TcpService> shards, FlowOwner owner) {
        return register(stack, shards, owner, Throwable::printStackTrace);
    }

    /** As {@link #register(Stack, List, FlowOwner)}, with a handler for exceptions of routines and callbacks. */
    public static WskProvider register(Stack stack, List<TcpService> shards, FlowOwner owner,
                                       Consumer<Throwable> errorHandler) {
        return new WskProvider(Objects.requireNonNull(stack), List.copyOf(shards), Objects.requireNonNull(owner),
            Objects.requireNonNull(errorHandler));
    }

    // ================================================================================ WSK_PROVIDER_DISPATCH

    /**
     * WskSocket: creates a socket. {@code flags} is its category: WSK_FLAG_LISTEN_SOCKET,
     * WSK_FLAG_CONNECTION_SOCKET or WSK_FLAG_STREAM_SOCKET; {@code dispatch} its event callbacks (a
     * {@link WskClientListenDispatch}, {@link WskClientConnectionDispatch} or {@link WskClientStreamDispatch},
     * or null); events start disabled. Completes with Information = the new {@link WskSocket}.
     *
     * @return STATUS_SUCCESS (inline on the dispatch thread), STATUS_PENDING (from another thread),
     *     STATUS_NOT_SUPPORTED (not AF_INET/SOCK_STREAM/IPPROTO_TCP, or a basic or datagram socket),
     *     STATUS_INVALID_PARAMETER (unknown category, or a dispatch of the wrong kind)
     */
    public NtStatus socket(int addressFamily, int socketType, int protocol, int flags, Object socketContext,
                      WskClientDispatch dispatch, Irp irp) {
        Irp i = start(irp, OP_SOCKET);
        i.family = addressFamily;
        i.type = socketType;
        i.protocol = protocol;
        i.flags(flags);
        i.requestContext = socketContext;
        i.requestDispatch = dispatch;
        return submit(i);
    }

    /**
     * WskSocketConnect: creates a connection socket, binds it to {@code localAddress} (wildcards allowed) and
     * connects it to {@code remoteAddress}; completes when connected with Information = the socket. If the
     * connect fails the socket is closed and the IRP carries the reason (STATUS_CONNECTION_REFUSED, ...).
     * {@code flags} is reserved (0).
     */
    public NtStatus socketConnect(int socketType, int protocol, SocketAddressV4 localAddress,
                                  SocketAddressV4 remoteAddress, int flags, Object socketContext,
                                  WskClientConnectionDispatch dispatch, Irp irp) {
        Irp i = start(irp, OP_SOCKET_CONNECT);
        i.family = Wsk.AF_INET;
        i.type = socketType;
        i.protocol = protocol;
        i.address = localAddress;
        i.address2 = remoteAddress;
        i.flags(flags);
        i.requestContext = socketContext;
        i.requestDispatch = dispatch;
        return submit(i);
    }

    /**
     * WskRelease: gives back a data indication chain a receive event kept (returned STATUS_PENDING for). Any
     * thread. STATUS_INVALID_PARAMETER for anything but the first link of a chain still kept: a second release
     * is detected while the indication object is not reused; once the pool has handed it to a newer chain, a
     * stale release cannot be told apart and releases that chain.
     */
    public NtStatus release(WskDataIndication dataIndication) {
        if (dataIndication == null || !dataIndication.claimForRelease()) {
            return NtStatus.STATUS_INVALID_PARAMETER;
        }
        if (loop.onDispatchThread()) {
            releaseChain(dataIndication);
            return NtStatus.STATUS_SUCCESS;
        }
        switch (requests.offer(dataIndication)) {
            case RequestQueue.CLOSED -> releaseAfterClose(dataIndication);
            case RequestQueue.FULL -> {
                dataIndication.state(WskDataIndication.RETAINED);
                return NtStatus.STATUS_INSUFFICIENT_RESOURCES;
            }
            default -> {
            }
        }
        return NtStatus.STATUS_SUCCESS;
    }

    /**
     * After close the provider no longer dispatches, and its client's close gave every descriptor back to the
     * stack: the chain only goes back to the verifier (no poisoning: the memory is the pool's again).
     */
    private void releaseAfterClose(WskDataIndication chain) {
        if (Verifier.ENABLED) {
            Verifier.chainReturned(chain);
        }
        for (WskDataIndication i = chain; i != null; i = i.next) {
            tcp.release(i.handle, i.mbuf, i.descriptorLength); // refused at once once the client is closed
        }
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
        int work = requests.drain(requestConsumer, QUEUE_CAPACITY);
        work += cancels.drain();
        work += pump.poll();
        work += cancelledConnects.completeTaken(completion);
        work += runWork();
        work += completer.runDeferred();
        if (retiredCount > 0 && completer.deferredCount() == 0) {
            recycleRetired(); // not while a deferred completion (a close's, maybe) has yet to run its routine
        }
        return work;
    }

    /** A socket's close completed: it may serve a later WskSocket call or accept (see {@link #spareSockets}). */
    void retire(WskSocket s) {
        if (Verifier.ENABLED || closed || retiredCount == MAX_SPARE_SOCKETS) {
            return; // past the pool's depth (rounds with deferred completions recycle nothing): left to the GC
        }
        if (retiredCount == retired.length) {
            retired = java.util.Arrays.copyOf(retired, retiredCount * 2);
        }
        retired[retiredCount++] = s;
    }

    /** Pools the retired sockets that hold nothing any more; the others wait for a later round. */
    private void recycleRetired() {
        int kept = 0;
        for (int i = 0; i < retiredCount; i++) {
            WskSocket s = retired[i];
            retired[i] = null;
            if (s.reusable()) {
                if (spareSockets.spare() < MAX_SPARE_SOCKETS) {
                    s.dropReferences(); // the last owner's context and dispatch table are not kept alive
                    spareSockets.release(s);
                }
            } else if (s.category() != Wsk.WSK_FLAG_LISTEN_SOCKET && s.onWorkList) {
                retired[kept++] = s; // its last pass on the work list runs first (it does nothing once closed)
            }
        }
        retiredCount = kept;
    }

    /** Sockets in the pool now (tests). */
    int spareSockets() {
        return spareSockets.spare();
    }

    /**
     * Runs this provider on the stack's own poll thread: pass the returned duty cycle (each call runs one round
     * and returns the work done; the first call, on the poll thread, makes that thread the dispatch thread) to
     * {@code StackRunner.start(stack, idle, provider.pollThreadAgent())}. Each duty cycle then runs the stack and
     * this provider's {@link #dispatch()} back to back: completions and event callbacks run on the poll thread
     * (the "dispatch level" of the Windows documents: event flags carry WSK_FLAG_AT_DISPATCH_LEVEL) and must not
     * block; calls from other threads are queued to it. Call once, from the current dispatch thread, before the
     * runner starts; {@link #close()} detaches the provider from the poll thread first.
     */
    public IntSupplier pollThreadAgent() {
        loop.handOffToAgent("provider already has a dispatch thread"); // until the poll thread runs, calls queue
        return new IntSupplier() {
            private boolean started;

            @Override
            public int getAsInt() {
                if (detachRequested) {
                    detached = true;
                    return 0;
                }
                if (!started) {
                    started = true;
                    eventFlags = Wsk.WSK_FLAG_AT_DISPATCH_LEVEL;
                    loop.adopt();
                }
                return dispatch();
            }

            @Override
            public String toString() {
                return "fastpath-wsk-" + stack.config().name();
            }
        };
    }

    /**
     * WskDeregister: stops the dispatcher thread (if any), then, on the calling thread, closes every socket
     * still open (pending IRPs complete with STATUS_CANCELLED, live connections are reset, listeners stop) and
     * returns the data the provider still holds to the stack. Later calls fail with STATUS_FILE_FORCED_CLOSED.
     * Call it before stopping the stack's runner.
     */
    @Override
    public void close() {
        if (loop.dispatching() && loop.onDispatchThread()) {
            throw new IllegalStateException("close() from a completion routine or callback: call it outside dispatch()");
        }
        if (!loop.beginClose()) {
            return; // closed, or another thread closes it
        }
        loop.stopThread();
        if (loop.closingFromAgent()) {
            // Ask the poll thread to stop dispatching, and wait until it has (or is not running at all).
            // The poll thread answers within one duty cycle; if it never does (its runner was closed before the
            // provider, against the documented order), the stack no longer polls and nothing else dispatches.
            detachRequested = true;
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (!detached && System.nanoTime() < until) {
                LockSupport.parkNanos(100_000);
            }
            eventFlags = 0;
        }
        loop.adopt();
        requests.drain(requestConsumer, Integer.MAX_VALUE);
        cancels.drain();
        closed = true;
        requests.close(); // waits for a call from another thread that is queuing
        requests.drain(requestConsumer, Integer.MAX_VALUE);
        List<WskSocket> all = new ArrayList<>(byId.values());
        for (WskSocket s : all) {
            s.closeInternal(null);
        }
        // The stack answers the resets and returns what was in flight: send completions, closes, data.
        pump.settle(() -> runWork() + completer.runDeferred());
        // The stack resets what is left, stops the listeners and takes back every descriptor; only once it has
        // are the IRPs still with it completed: their buffers' owners go with the completion, and a send the stack
        // still copied from (a peer opening its window late) would read freed memory.
        pump.closeAndAwait();
        for (WskSocket s : new ArrayList<>(byId.values())) {
            s.finishForcibly();
        }
        completer.runDeferred();
        if (Verifier.ENABLED) {
            Verifier.providerClosed(cancels, "WSK provider of " + stack.config().name());
        }
        loop.closed();
    }

    // ================================================================================ internals

    private Irp start(Irp irp, int op) {
        Objects.requireNonNull(irp, "irp");
        irp.begin(op, this);
        return irp;
    }

    /** Runs the call now on the dispatch thread, or queues it there. */
    NtStatus submit(Irp irp) {
        if (loop.onDispatchThread()) {
            return NtStatus.of(execute(irp));
        }
        irp.markPending();
        // close() closes the queue, then drains it for the last time: an IRP is either queued before that
        // drain or completed here, never stranded.
        int queued = requests.offer(irp);
        if (queued != RequestQueue.QUEUED) {
            // Nobody else has the IRP: complete it here, on the caller's thread.
            int status = queued == RequestQueue.CLOSED ? (irp.op == OP_SOCKET || irp.op == OP_SOCKET_CONNECT
                ? NtStatus.STATUS_INVALID_DEVICE_STATE.code() : NtStatus.STATUS_FILE_FORCED_CLOSED.code())
                : NtStatus.STATUS_INSUFFICIENT_RESOURCES.code();
            if (irp.complete(status, 0, null)) {
                irp.runCompletionRoutine(errorHandler);
            }
            return NtStatus.STATUS_PENDING;
        }
        return NtStatus.STATUS_PENDING;
    }

    private void onRequest(Object request) {
        if (request instanceof Irp irp) {
            execute(irp);
            if (irp.cancelRequested() && irp.inProgress()) {
                cancelNow(irp); // IoCancelIrp arrived before the queued call ran: it was dropped then
            }
        } else if (request instanceof WskDataIndication indication) {
            releaseChain(indication);
        }
    }

    private int execute(Irp irp) {
        if (closed) {
            return complete(irp, irp.op == OP_SOCKET || irp.op == OP_SOCKET_CONNECT
                ? NtStatus.STATUS_INVALID_DEVICE_STATE.code() : NtStatus.STATUS_FILE_FORCED_CLOSED.code(), 0, null);
        }
        return switch (irp.op) {
            case OP_SOCKET -> createSocket(irp);
            case OP_SOCKET_CONNECT -> socketConnectNow(irp);
            default -> irp.socket.execute(irp);
        };
    }

    private int createSocket(Irp irp) {
        int status = checkSocketArguments(irp.family, irp.type, irp.protocol, irp.flags(), irp.requestDispatch);
        if (status != NtStatus.STATUS_SUCCESS.code()) {
            return complete(irp, status, 0, null);
        }
        WskSocket s = newSocket(irp.flags(), irp.requestContext, irp.requestDispatch);
        return complete(irp, NtStatus.STATUS_SUCCESS.code(), 0, s);
    }

    private int socketConnectNow(Irp irp) {
        if (irp.flags() != 0) {
            return complete(irp, NtStatus.STATUS_INVALID_PARAMETER.code(), 0, null);
        }
        int status = checkSocketArguments(irp.family, irp.type, irp.protocol, Wsk.WSK_FLAG_CONNECTION_SOCKET,
            irp.requestDispatch);
        if (status == NtStatus.STATUS_SUCCESS.code() && (irp.address == null || irp.address2 == null)) {
            status = NtStatus.STATUS_INVALID_PARAMETER.code();
        }
        if (status != NtStatus.STATUS_SUCCESS.code()) {
            return complete(irp, status, 0, null);
        }
        WskSocket s = newSocket(Wsk.WSK_FLAG_CONNECTION_SOCKET, irp.requestContext, irp.requestDispatch);
        return s.socketConnect(irp);
    }

    private static int checkSocketArguments(int family, int type, int protocol, int category,
                                            WskClientDispatch dispatch) {
        if (family != Wsk.AF_INET || type != Wsk.SOCK_STREAM || protocol != Wsk.IPPROTO_TCP && protocol != 0) {
            return NtStatus.STATUS_NOT_SUPPORTED.code();
        }
        return switch (category) {
            case Wsk.WSK_FLAG_BASIC_SOCKET, Wsk.WSK_FLAG_DATAGRAM_SOCKET -> NtStatus.STATUS_NOT_SUPPORTED.code();
            case Wsk.WSK_FLAG_LISTEN_SOCKET -> dispatch == null || dispatch instanceof WskClientListenDispatch
                ? NtStatus.STATUS_SUCCESS.code() : NtStatus.STATUS_INVALID_PARAMETER.code();
            case Wsk.WSK_FLAG_CONNECTION_SOCKET -> dispatch == null || dispatch instanceof WskClientConnectionDispatch
                ? NtStatus.STATUS_SUCCESS.code() : NtStatus.STATUS_INVALID_PARAMETER.code();
            case Wsk.WSK_FLAG_STREAM_SOCKET -> dispatch == null || dispatch instanceof WskClientStreamDispatch
                ? NtStatus.STATUS_SUCCESS.code() : NtStatus.STATUS_INVALID_PARAMETER.code();
            default -> NtStatus.STATUS_INVALID_PARAMETER.code();
        };
    }

    WskSocket newSocket(int category, Object context, WskClientDispatch dispatch) {
        long id = nextSocketId++;
        WskSocket s;
        if (category != Wsk.WSK_FLAG_LISTEN_SOCKET && spareSockets.spare() > 0) {
            s = spareSockets.acquire();
            s.renew(id, category, context, dispatch);
        } else {
            s = new WskSocket(this, id, category, context, dispatch);
        }
        byId.put(s.id, s);
        return s;
    }

    /**
     * Completes an IRP: fills its status and runs its routine (now, or on the next dispatch round when inline
     * completions are nested too deep: the IRP then stays in progress until its routine runs). Returns {@code status}, so a call can end with {@code return complete(...)};
     * the IRP must not be touched after this (the routine may have reused it).
     */
    int complete(Irp irp, int status, long information, Object object) {
        completer.complete(irp, status, information, object);
        return status;
    }

    void onError(Throwable t) {
        errorHandler.accept(t);
    }

    // ---------------------------------------------------------------- cancellation

    private void cancelNow(Irp irp) {
        if (irp.provider != this) {
            return;
        }
        WskSocket s = irp.socket;
        if (s != null) {
            s.cancel(irp);
        }
    }

    /**
     * Completes {@code irp} STATUS_CANCELLED once the stack has taken its requests up to {@code position}
     * (a cancelled ConnectEx whose CONNECT record, pointing at the caller's buffer, is still in the ring).
     */
    void completeWhenRequestsTaken(Irp irp, long position) {
        cancelledConnects.hold(irp, NtStatus.STATUS_CANCELLED.code(), position);
    }

    // ---------------------------------------------------------------- socket work list

    void schedule(WskSocket s) {
        work.schedule(s);
    }

    private int runWork() {
        return work.runPass(doWork);
    }

    // ---------------------------------------------------------------- ports

    // ---------------------------------------------------------------- data

    /** Returns a receive descriptor to the stack (its release ring has room for every descriptor held). */
    void releaseDescriptor(long handle, long mbuf, int length) {
        tcp.release(handle, mbuf, length);
    }

    /** Resets a connection nobody will own (a control: it cannot be lost to a full ring). */
    void abort(long handle) {
        tcp.abort(handle);
    }

    /** Conditional accept: answers a held SYN (SYN-ACK or RST). */
    void decideRequest(long handle, boolean accept) {
        if (accept) {
            tcp.acceptRequest(handle);
        } else {
            tcp.rejectRequest(handle);
        }
    }

    /** Stops the stack listening on a port. */
    void stopListening(int port) {
        tcp.stopListening(port);
    }

    /** Copies {@code length} bytes of native memory. */
    void copy(long from, long to, int length) {
        copier.copy(from, to, length);
    }

    WskDataIndication acquireIndication() {
        return indications.acquire();
    }

    void freeIndication(WskDataIndication i) {
        i.next = null;
        i.socket = null;
        i.chainHead = false;
        i.state(WskDataIndication.FREE);
        indications.release(i);
    }

    /** Returns a kept chain's mbufs to the stack (dispatch thread). */
    void releaseChain(WskDataIndication head) {
        if (Verifier.ENABLED) {
            Verifier.chainReturned(head);
        }
        WskDataIndication i = head;
        while (i != null) {
            WskDataIndication next = i.next;
            if (Verifier.ENABLED) {
                Verifier.poison(i.buffer().address(), i.descriptorLength); // the whole descriptor, before release
            }
            releaseDescriptor(i.handle, i.mbuf, i.descriptorLength);
            freeIndication(i);
            i = next;
        }
    }

    boolean closed() {
        return closed;
    }
}
