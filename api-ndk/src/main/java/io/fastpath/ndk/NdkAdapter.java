package io.fastpath.ndk;

import io.fastpath.provider.ClientPump;
import io.fastpath.provider.DescriptorReleaser;
import io.fastpath.provider.DispatchLoop;
import io.fastpath.provider.IdleMode;
import io.fastpath.provider.NtStatus;
import io.fastpath.provider.PortTable;
import io.fastpath.provider.RequestQueue;
import io.fastpath.provider.TimerWheel;
import io.fastpath.stack.Stack;
import io.fastpath.stack.tcp.TcpEventHandler;
import io.fastpath.stack.tcp.TcpService;
import io.fastpath.stack.shard.FlowOwner;
import io.fastpath.stack.shard.StackShards;
import io.fastpath.stack.tcp.TcpClient;
import java.util.List;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.agrona.collections.Int2ObjectHashMap;
import org.agrona.collections.Long2ObjectHashMap;

/**
 * An NDK adapter (the provider side of NdkOpenAdapter) over one {@link Stack}: it creates listeners,
 * connectors, shared endpoints and QPs, answers NdkQueryAdapterInfo, and runs MPA v2 (RFC 5044, RFC 6581)
 * connection setup on the stack's TCP through {@link TcpService}.
 *
 * <p><b>Threads.</b> The stack runs on its own poll thread (a {@code StackRunner}); the adapter talks to it
 * only through TcpService's rings. Every completion and event callback, and the work of every NDK call, happens
 * on the adapter's <em>dispatch thread</em>: the thread that opened it and calls {@link #dispatch()} in its loop
 * (invoker mode), or the thread {@link #startDispatcherThread} starts. Calls on the dispatch thread (including
 * from completions and callbacks) run at once. From any other thread, the asynchronous calls (listen, connect,
 * connectWithSharedEndpoint, accept, completeConnect, disconnect) and the QP's send/postReceive are queued to
 * the dispatch thread and return STATUS_PENDING / STATUS_SUCCESS (their outcome arrives through the completion
 * or the QP handler; private data is copied first); the synchronous calls (reject, getConnectionData, the
 * address getters, controlConnectEvents, the closes) throw {@link IllegalStateException} there — run them
 * through {@link #execute}.
 *
 * <p><b>Completions.</b> An asynchronous call returns STATUS_PENDING and its completion runs exactly once,
 * later, from {@code dispatch()} (never inside the call); any other return value is final and no completion
 * follows. Exceptions thrown by completions and callbacks go to the error handler.
 *
 * <p><b>Buffers.</b> Private data is copied when a call starts. Received bytes stay in the stack's mbufs until
 * parsed: handshake frames are copied into a per-connector buffer, QP messages straight into the posted
 * receive's memory; each mbuf goes back to the stack as soon as its bytes are consumed.
 */
public final class NdkAdapter implements AutoCloseable {

    private final Stack stack;
    /** This adapter's own client of the stack's TcpService: its connections' events come to it alone. */
    final TcpClient tcp;
    private final ClientPump pump;
    final int stackAddress;
    private final NdkAdapterInfo info;
    private final Consumer<Throwable> errorHandler;
    private final DispatchLoop loop;
    private volatile boolean closed;
    /** Set first thing in {@link #close}: from then on calls are no longer queued. */
    private volatile boolean closing;
    private final RequestQueue<Runnable> tasks = new RequestQueue<>(1024);
    private final ArrayDeque<Runnable> deferred = new ArrayDeque<>();
    final Long2ObjectHashMap<NdkConnector> byHandle = new Long2ObjectHashMap<>();
    private final Long2ObjectHashMap<NdkConnector> byRequest = new Long2ObjectHashMap<>();
    private final Int2ObjectHashMap<NdkListener> listeners = new Int2ObjectHashMap<>();
    private final TimerWheel<NdkConnector> timers = new TimerWheel<>(System.nanoTime(), NdkAdapter::expired);
    final PortTable ports;
    final DescriptorReleaser releaser = this::release;
    private long nextRequestId = 1;
    private long malformedFrames;
    private long crcErrors;
    private int lastMalformed;
    private long refusedBacklog;

    private NdkAdapter(Stack stack, List<TcpService> shards, FlowOwner owner, NdkAdapterInfo info,
                       Consumer<Throwable> errorHandler) {
        this.stack = stack;
        this.pump = shards == null ? new ClientPump(stack.tcpService(), new Events())
            : new ClientPump(shards, owner, new Events());
        this.tcp = pump.client();
        this.ports = new PortTable(stack.ports()); // one table per stack, shared with its other providers and TCP
        this.stackAddress = stack.address();
        this.info = info;
        this.errorHandler = errorHandler;
        this.loop = new DispatchLoop("ndk-dispatch", errorHandler, this::round);
        pump.takeEventsDirectly(loop); // on the stack's bound poll thread, events by direct call
    }

    /** NdkOpenAdapter: the calling thread becomes the dispatch thread. Uncaught callback errors are printed. */
    public static NdkAdapter open(Stack stack, NdkAdapterInfo info) {
        return open(stack, info, Throwable::printStackTrace);
    }

    public static NdkAdapter open(Stack stack, NdkAdapterInfo info, Consumer<Throwable> errorHandler) {
        return new NdkAdapter(Objects.requireNonNull(stack), null, null, Objects.requireNonNull(info),
            Objects.requireNonNull(errorHandler));
    }

    /** Over every shard of a port ({@link StackShards}): as {@link #open(Stack, List, FlowOwner, NdkAdapterInfo)}. */
    public static NdkAdapter open(StackShards shards, NdkAdapterInfo info) {
        return open(shards.shard(0), shards.tcpServices(), shards.owner(), info);
    }

    /**
     * NdkOpenAdapter over the shards of a port (issue 12): {@code stack} is shard 0's (the port's address and
     * port table), {@code shards} every shard's {@link TcpService} in shard order (each made with its shard id),
     * {@code owner} the port's flow-to-shard function. Listeners listen on every shard; connectors' connections
     * are reached on whichever shard they live. One shard: exactly {@link #open(Stack, NdkAdapterInfo)}.
     */
    public static NdkAdapter open(Stack stack, List<TcpService> shards, FlowOwner owner, NdkAdapterInfo info) {
        return open(stack, shards, owner, info, Throwable::printStackTrace);
    }

    /** As {@link #open(Stack, List, FlowOwner, NdkAdapterInfo)}, with a handler for callback exceptions. */
    public static NdkAdapter open(Stack stack, List<TcpService> shards, FlowOwner owner, NdkAdapterInfo info,
                                  Consumer<Throwable> errorHandler) {
        return new NdkAdapter(Objects.requireNonNull(stack), List.copyOf(shards), Objects.requireNonNull(owner),
            Objects.requireNonNull(info), Objects.requireNonNull(errorHandler));
    }

    /** NdkQueryAdapterInfo. */
    public NdkAdapterInfo queryAdapterInfo() {
        return info;
    }

    NdkAdapterInfo info() {
        return info;
    }

    /** NdkCreateListener (any thread). */
    public NdkListener createListener(NdkConnectEventCallback connectEvent, Object connectEventContext) {
        return new NdkListener(this, Objects.requireNonNull(connectEvent), connectEventContext);
    }

    /** NdkCreateConnector (any thread). */
    public NdkConnector createConnector() {
        return new NdkConnector(this, false);
    }

    /** NdkCreateQp (any thread; minimal: message send/receive, see {@link NdkQp}). */
    public NdkQp createQp(NdkQpHandler handler) {
        return new NdkQp(this, Objects.requireNonNull(handler));
    }

    /**
     * NdkCreateSharedEndpoint: reserves a port from 49152–65535 on the stack's address; null when none is free
     * (STATUS_TOO_MANY_ADDRESSES).
     */
    public NdkSharedEndpoint createSharedEndpoint() {
        checkThread();
        int port = ports.allocate();
        if (port == 0) {
            return null;
        }
        return new NdkSharedEndpoint(this, port);
    }

    // ================================================================ dispatch

    /** One round: queued tasks, the stack's events, timers. Returns the work done. Dispatch thread only. */
    public int dispatch() {
        return loop.dispatch();
    }

    /** One round's work ({@link #dispatch()}, guarded by the loop). */
    private int round() {
        return pump.round(roundWork); // direct sends of this round leave together at its end
    }

    /** {@link #roundWork()}, made once (no allocation per round). */
    private final java.util.function.IntSupplier roundWork = this::roundWork;

    private int roundWork() {
        int work = 0;
        for (Runnable r; (r = deferred.poll()) != null; work++) {
            run(r);
        }
        for (Runnable r; (r = tasks.poll()) != null; work++) {
            if (closing && r instanceof QueuedCall q) {
                q.cancel(); // queued before close(): never started
            } else {
                run(r);
            }
        }
        work += pump.poll();
        if (timers.size() != 0) {
            // A round without timers reads no clock (a System.nanoTime() per round was a visible part of the round
            // trip: docs/perf/apis.md, "Provider per-event work"); arm() moves the wheel on before the next one.
            work += timers.poll(System.nanoTime());
        }
        return work;
    }

    private void run(Runnable r) {
        try {
            r.run();
        } catch (Throwable t) {
            onCallbackError(t);
        }
    }

    /** Runs {@code task} on the dispatch thread (any thread). False if the queue is full or the adapter closing. */
    public boolean execute(Runnable task) {
        return offer(Objects.requireNonNull(task));
    }

    private boolean offer(Runnable task) {
        return tasks.offer(task) == RequestQueue.QUEUED;
    }

    /**
     * A call queued from another thread: {@link #run} carries it out on the dispatch thread; {@link #cancel}
     * completes it with STATUS_CANCELLED instead when the adapter closed before it ran.
     */
    abstract static class QueuedCall implements Runnable {
        abstract void cancel();
    }

    /** Queues {@code call} (any thread). False if the queue is full or the adapter closing. */
    boolean queue(QueuedCall call) {
        return offer(call);
    }

    /** Whether the calling thread is the dispatch thread. */
    public boolean onDispatchThread() {
        return loop.onDispatchThread();
    }

    /** Starts a thread that dispatches (backoff idle strategy); it becomes the dispatch thread. */
    public void startDispatcherThread() {
        startDispatcherThread(IdleMode.BACKOFF);
    }

    public void startDispatcherThread(IdleMode idle) {
        loop.startThread(idle);
        loop.awaitStarted();
    }

    /**
     * A call made off the dispatch thread: runs {@code call} there and, if it did not return STATUS_PENDING,
     * completes with what it returned. The caller gets STATUS_PENDING (or STATUS_INSUFFICIENT_RESOURCES when
     * the queue is full or the adapter closing; STATUS_INVALID_PARAMETER without a completion).
     */
    NtStatus defer(NdkRequestCompletion completion, Object context, java.util.function.Supplier<NtStatus> call) {
        if (completion == null) {
            return NtStatus.STATUS_INVALID_PARAMETER;
        }
        boolean queued = offer(new QueuedCall() {
            @Override
            public void run() {
                NtStatus r = call.get();
                if (r != NtStatus.STATUS_PENDING) {
                    complete(completion, context, r);
                }
            }

            @Override
            void cancel() {
                complete(completion, context, NtStatus.STATUS_CANCELLED.code());
            }
        });
        return queued ? NtStatus.STATUS_PENDING : NtStatus.STATUS_INSUFFICIENT_RESOURCES;
    }

    /** Private data copied on the calling thread (cross-thread calls), or null. */
    static java.lang.foreign.MemorySegment copy(java.lang.foreign.MemorySegment data, int length) {
        if (data == null || length <= 0 || length > data.byteSize()) {
            return null;
        }
        return java.lang.foreign.MemorySegment.ofArray(
            data.asSlice(0, length).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
    }

    void checkThread() {
        loop.checkThread("NDK calls run on the adapter's dispatch thread (use execute())");
    }

    // ================================================================ internals for listeners and connectors

    void complete(NdkRequestCompletion completion, Object context, int status) {
        complete(completion, context, NtStatus.of(status));
    }

    void complete(NdkRequestCompletion completion, Object context, NtStatus status) {
        if (completion == null) {
            return;
        }
        try {
            completion.complete(context, status);
        } catch (Throwable t) {
            onCallbackError(t);
        }
    }

    void onCallbackError(Throwable t) {
        try {
            errorHandler.accept(t);
        } catch (Throwable ignored) {
            // the error handler itself failed: nothing more to do
        }
    }

    void later(Runnable r) {
        deferred.add(r);
    }

    // ================================================================ requests that must reach the stack

    /** Returns a received mbuf to the stack (the client's release ring has room for all held: cannot fail). */
    void release(long handle, long mbuf, int length) {
        tcp.release(handle, mbuf, length);
    }

    /** Resets a connection (a control: a full request ring cannot lose it). */
    void abort(long handle) {
        tcp.abort(handle);
    }

    /** Closes our direction of a connection (a control, like a reset). */
    void shutdown(long handle) {
        tcp.shutdown(handle);
    }

    /** Stops listening on a port (a control, like a reset). */
    void stopListening(int port) {
        tcp.stopListening(port);
    }

    int listenerCount() {
        return listeners.size();
    }

    void addListener(int port, NdkListener l) {
        listeners.put(port, l);
    }

    void removeListener(int port, NdkListener l) {
        if (listeners.get(port) == l) {
            listeners.remove(port);
        }
    }

    long newRequestId(NdkConnector c) {
        long id = nextRequestId++;
        byRequest.put(id, c);
        return id;
    }

    void forgetRequest(long id) {
        byRequest.remove(id);
    }

    void mapHandle(long handle, NdkConnector c) {
        byHandle.put(handle, c);
        tcp.noDelay(handle, true); // FPDUs go out at once (no Nagle), as iWARP implementations do
    }

    void unmapHandle(long handle) {
        byHandle.remove(handle);
    }

    /** (Re)arms the connector's one timer: {@link NdkConnector#onTimeout} runs {@code timeoutNs} from now. */
    void arm(NdkConnector c, long timeoutNs) {
        timers.cancel(c.timer);
        long now = System.nanoTime();
        timers.catchUp(now); // rounds without timers did not poll the wheel: its time moves on in one step
        c.timer = timers.schedule(c, now + timeoutNs);
    }

    void disarm(NdkConnector c) {
        c.timer = timers.cancel(c.timer);
    }

    private static void expired(NdkConnector c) {
        c.timer = TimerWheel.NONE;
        c.onTimeout();
    }

    void countMalformed(int error) {
        malformedFrames++;
        lastMalformed = error;
    }

    void countCrcError() {
        crcErrors++;
    }

    /** FPDUs whose CRC did not match (RFC 5044 §4.1; each reset its connection). */
    public long crcErrors() {
        return crcErrors;
    }

    void countRefusedBacklog() {
        refusedBacklog++;
    }

    /** MPA frames refused as malformed or unsupported (each closed its connection). */
    public long malformedFrames() {
        return malformedFrames;
    }

    /** The last malformed frame's {@code MpaFrame.ERR_*} code (0 if none). */
    public int lastMalformedError() {
        return lastMalformed;
    }

    /** Connect requests refused because a listener's backlog was full. */
    public long refusedBacklog() {
        return refusedBacklog;
    }

    /** Connections the adapter tracks (any state with a TCP connection). */
    public int connections() {
        return byHandle.size();
    }

    public Stack stack() {
        return stack;
    }

    /**
     * NdkCloseAdapter: refuses further calls from other threads, stops the dispatcher thread, closes every
     * listener and resets every connection, and gives the stack back the data it still held. Calls queued from
     * other threads that have not started complete with STATUS_CANCELLED (QP sends and receives through the
     * handler); tasks queued with {@link #execute} still run. Call before stopping the stack's runner.
     */
    @Override
    public void close() {
        if (closed || closing) {
            return;
        }
        boolean ownThread = loop.hasThread();
        if (!ownThread) {
            checkThread();
        }
        closing = true;
        tasks.close(); // later offers are refused; one in flight finishes first
        if (ownThread) {
            loop.stopThread();
            loop.adopt();
        }
        checkThread();
        for (NdkListener l : new ArrayList<>(listeners.values())) {
            l.close();
        }
        for (NdkConnector c : new ArrayList<>(byHandle.values())) {
            c.close();
        }
        for (NdkConnector c : new ArrayList<>(byRequest.values())) {
            c.close(); // connects still waiting for TCP: their completions run now (STATUS_CANCELLED)
        }
        // Let the stack answer (closes, data in flight) so every mbuf goes back.
        long start = System.nanoTime();
        long min = start + TimeUnit.MILLISECONDS.toNanos(20);
        long max = start + TimeUnit.MILLISECONDS.toNanos(500);
        for (long now = start; now < max && (byHandle.size() > 0 || now < min);
             now = System.nanoTime()) {
            if (dispatch() == 0) {
                Thread.yield();
            }
        }
        // What was queued before close() and not yet run: cancelled.
        for (Runnable r; (r = tasks.poll()) != null; ) {
            if (r instanceof QueuedCall q) {
                q.cancel();
            } else {
                run(r);
            }
        }
        pump.close(); // the stack resets what is left, stops the listeners and takes back every descriptor
        closed = true;
    }

    /** TcpService events, on the dispatch thread. */
    private final class Events implements TcpEventHandler {
        @Override
        public void onConnectComplete(long requestId, long handle, int status) {
            NdkConnector c = byRequest.get(requestId);
            if (c == null) {
                pump.dropConnectOutcome(handle, status);
            } else {
                c.onTcpConnected(handle, status);
            }
        }

        @Override
        public void onListenComplete(int port, int status) {
            NdkListener l = listeners.get(port);
            if (l != null) {
                l.onListenComplete(status);
            }
        }

        @Override
        public void onAccepted(int listenPort, long handle, int remoteIp, int remotePort) {
            NdkListener l = listeners.get(listenPort);
            if (l == null || !l.listening()) {
                abort(handle);
                return;
            }
            NdkConnector c = new NdkConnector(NdkAdapter.this, true);
            mapHandle(handle, c);
            c.onAccepted(l, handle, listenPort, remoteIp, remotePort);
        }

        @Override
        public void onReceive(long handle, long mbuf, long address, int length) {
            NdkConnector c = byHandle.get(handle);
            if (c == null) {
                release(handle, mbuf, length);
                return;
            }
            c.onReceive(mbuf, address, length);
        }

        @Override
        public void onSendComplete(long requestId, long handle, int bytes, int status) {
            NdkConnector c = byHandle.get(handle);
            if (c != null) {
                c.onSendComplete(requestId, status);
            }
        }

        @Override
        public void onPeerClosed(long handle) {
            NdkConnector c = byHandle.get(handle);
            if (c != null) {
                c.onPeerClosed();
            }
        }

        @Override
        public void onClosed(long handle, int status) {
            NdkConnector c = byHandle.get(handle);
            if (c != null) {
                c.onTcpClosed(status);
            }
        }
    }
}
