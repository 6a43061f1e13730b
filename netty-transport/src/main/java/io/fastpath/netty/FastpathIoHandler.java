package io.fastpath.netty;

import io.fastpath.dpdk.Eal;
import io.fastpath.stack.NtStatus;
import io.fastpath.stack.Stack;
import io.fastpath.stack.shard.FlowOwner;
import io.fastpath.stack.shard.StackShards;
import io.fastpath.stack.tcp.DirectEventTaker;
import io.fastpath.stack.tcp.LocalPorts;
import io.fastpath.stack.tcp.TcpEventHandler;
import io.fastpath.stack.tcp.TcpService;
import io.fastpath.stack.tcp.TcpServiceClient;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoHandle;
import io.netty.channel.IoHandler;
import io.netty.channel.IoHandlerContext;
import io.netty.channel.IoOps;
import io.netty.channel.IoRegistration;
import io.netty.util.concurrent.ThreadAwareExecutor;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;
import java.util.ArrayList;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import org.agrona.collections.Int2ObjectHashMap;
import org.agrona.collections.Long2ObjectHashMap;

/**
 * The {@link IoHandler} of a {@link FastpathEventLoopGroup}'s event loop: the stack's poll thread. Each
 * {@link #run} is one duty cycle of the stack ({@code Stack.doWork}: receive, TCP, timers, transmit) followed by the
 * events of this handler's {@link TcpServiceClient} (connects, accepts, zero-copy data, send completions, closes),
 * which it hands to the channels; Netty then runs its tasks and scheduled tasks, and calls {@code run} again. It
 * never blocks; idle for a while, it yields the core each idle turn ({@link #IDLE_TURNS_BEFORE_YIELD}).
 *
 * <p>With several queues ({@code --queues N}) the group has N event loops, and handler q is shard q's poll thread
 * ({@link StackShards}): its stack, its {@link TcpServiceClient}, its connections. A listening channel listens on
 * every shard ({@link #listenShard}); a connection a shard accepts becomes a channel of that shard's loop, handed to
 * its server channel's loop for Netty's acceptor and registered back on this loop.
 *
 * <p>Thread: everything on the event loop thread, except {@link #wakeup} (nothing to wake: the loop spins).
 * Buffers: each received segment becomes one {@link MbufByteBuf} over its mbuf, owned by the pipeline until its
 * last {@code release()}, which returns the mbuf to the stack.
 */
public final class FastpathIoHandler implements IoHandler, TcpEventHandler {
    private static final InternalLogger LOG = InternalLoggerFactory.getInstance(FastpathIoHandler.class);
    /** How long a bind waits for the stack to answer its listen request. */
    private static final long LISTEN_WAIT_NS = TimeUnit.SECONDS.toNanos(2);
    /** How long a shutting-down loop lets its connections close gracefully before it resets them. */
    private static final long CLOSE_GRACE_NS = TimeUnit.SECONDS.toNanos(1);
    /**
     * Idle turns in a row (no work, no task waiting) after which each further idle turn yields the core
     * ({@link Thread#yield}): some 100 µs of spinning, longer than a ping-pong's round trip, so a loop with a core of
     * its own answers as fast as before (and, alone on it, still spins at 100 %), while loops that share a core
     * hand it over instead of each spinning out its whole time slice while the other has the work.
     */
    static final int IDLE_TURNS_BEFORE_YIELD = 1_000;

    private final FastpathIoHandlerFactory factory;
    /** This handler's shard (0 with one queue). */
    final int shard;
    final Stack stack;
    final TcpServiceClient client;
    /** Received buffers go back through this (made once: no allocation per buffer). */
    final MbufByteBuf.Releaser releaser;
    private final ThreadAwareExecutor executor;
    /** The event loop this handler runs in (Netty gives the loop itself as the executor). */
    final IoEventLoop loop;

    /** Connections by handle, from connect or accept until the stack reports them closed. */
    private final Long2ObjectHashMap<FastpathSocketChannel> connections = new Long2ObjectHashMap<>();
    /** Connects waiting for their outcome, by request id. */
    private final Long2ObjectHashMap<FastpathSocketChannel> connects = new Long2ObjectHashMap<>();
    /** Server channels listening on this shard, by port (their own loop may be another shard's). */
    private final Int2ObjectHashMap<FastpathServerSocketChannel> listeners = new Int2ObjectHashMap<>();
    /** Channels that read in this turn (a readComplete each) and channels with queued input to hand on. */
    private final ArrayList<FastpathSocketChannel> readThisTurn = new ArrayList<>();
    private final ArrayList<Object> toDrain = new ArrayList<>();
    private final ArrayList<FastpathSocketChannel> toFlush = new ArrayList<>();
    /** Channels whose send backlog made them unwritable: re-checked each turn (acknowledgements shrink it). */
    private final ArrayList<FastpathSocketChannel> backlogged = new ArrayList<>();
    private long nextRequest;
    /** Duty cycles and events that threw (logged; the loop goes on). */
    private volatile long failures;
    private boolean inEvents;
    private boolean destroyed;
    /** Idle turns in a row ({@link #IDLE_TURNS_BEFORE_YIELD}). */
    private int idleTurns;
    /** Closed channels whose connection waits in FIN-WAIT-2 for the peer's FIN: reset after the FIN time-out. */
    private final Orphans orphans = new Orphans();
    private final long finTimeoutNs;
    /** Orphaned connections reset by the FIN time-out (event loop thread; tests and diagnostics read it). */
    private volatile long finTimeouts;

    FastpathIoHandler(FastpathIoHandlerFactory factory, int shard, ThreadAwareExecutor executor) {
        this.factory = factory;
        this.shard = shard;
        this.stack = factory.stacks[shard];
        this.client = factory.clients[shard];
        this.releaser = client::release;
        this.executor = executor;
        this.loop = executor instanceof IoEventLoop l ? l : null;
        this.finTimeoutNs = factory.finTimeoutNs;
    }

    // ================================================================ IoHandler

    @Override
    public void initialize() {
        Eal.shared().registerThread();
        // This thread runs the stack's duty cycles from now on: what the channels ask between them (sends,
        // releases, connects, closes) is carried out by direct calls instead of request records read a duty cycle
        // later (docs/architecture.md, "Direct requests"). From any other thread they still take the rings.
        stack.bindPollThread();
        stack.skipIdleClockReads(true); // the loop spins: idle duty cycles may share a clock reading (clockStale below)
        // And the client's events skip the event ring: kept in a plain queue on this thread, they are delivered by
        // the pollEvents that follows every duty cycle here (run, runOnce), ahead of anything on the ring
        // (docs/architecture.md, "Direct events").
        Thread loopThread = Thread.currentThread();
        client.directEvents(new DirectEventTaker() {
            @Override
            public boolean eventsOnThisThread() {
                return Thread.currentThread() == loopThread && !destroyed;
            }

            @Override
            public void takeDirectEvents() {
                // Nothing now: this loop's pollEvents comes right after the duty cycle and takes them.
            }
        });
    }

    @Override
    public int run(IoHandlerContext context) {
        int work = 0;
        try {
            work += stack.doWork();
        } catch (RuntimeException | Error e) {
            failed("a fastpath stack duty cycle", e);
        }
        // The channels' sends and releases of this turn leave in one transmit burst when the turn's events are done
        // (TcpService.holdOutput), not one burst each.
        TcpService service = stack.tcpService();
        boolean held = service.holdOutput();
        int handled = 0;
        try {
            handled += pollEvents();
            handled += runShardRequests();
            if (!orphans.isEmpty()) {
                handled += expireOrphans();
            }
        } finally {
            try {
                service.releaseOutput(held);
            } catch (RuntimeException | Error e) {
                failed("the turn's output", e);
            }
        }
        if (handled > 0) {
            stack.workedBetweenCycles(); // the pipelines' time: the next duty cycle reads the clock
        }
        work += handled;
        if (context == null || !context.canBlock()) {
            stack.clockStale(); // the event loop runs its tasks before the next turn
        }
        if (work > 0 || context == null || !context.canBlock()) {
            idleTurns = 0;
        } else if (++idleTurns > IDLE_TURNS_BEFORE_YIELD) {
            Thread.yield();
            stack.clockStale(); // the yield may have been a pause: the next duty cycle reads the clock
        }
        return work;
    }

    /** The client's events, then queued input handed on, writes retried and each read turn completed. */
    private int pollEvents() {
        int work = 0;
        if (!inEvents) {
            inEvents = true;
            try {
                work = client.pollEvents(this);
            } catch (RuntimeException | Error e) {
                failed("a fastpath event", e);
            } finally {
                inEvents = false;
            }
        }
        // Each list is cleared even if a callback throws: the poll thread never dies of a channel's failure.
        try {
            for (int i = 0; i < toDrain.size(); i++) {
                Object o = toDrain.get(i);
                if (o instanceof FastpathSocketChannel c) {
                    c.drain();
                } else {
                    ((FastpathServerSocketChannel) o).drain();
                }
                work++;
            }
        } catch (RuntimeException | Error e) {
            failed("handing on queued input", e);
        } finally {
            toDrain.clear();
        }
        try {
            for (int i = 0; i < toFlush.size(); i++) {
                toFlush.get(i).retryWrite();
            }
        } catch (RuntimeException | Error e) {
            failed("a write retry", e);
        } finally {
            toFlush.clear();
        }
        // Swap-remove the channels whose backlog fell below the low water mark (or that closed).
        for (int i = backlogged.size() - 1; i >= 0; i--) {
            FastpathSocketChannel c = backlogged.get(i);
            boolean keep;
            try {
                keep = c.checkSendBacklog();
            } catch (RuntimeException | Error e) {
                keep = false;
                failed("a send backlog check", e);
            }
            if (!keep) {
                c.backlogWatched = false;
                int last = backlogged.size() - 1;
                backlogged.set(i, backlogged.get(last));
                backlogged.remove(last);
            }
        }
        try {
            for (int i = 0; i < readThisTurn.size(); i++) {
                readThisTurn.get(i).finishRead();
            }
        } catch (RuntimeException | Error e) {
            failed("completing a read turn", e);
        } finally {
            readThisTurn.clear();
        }
        return work;
    }

    private void failed(String what, Throwable e) {
        failures++;
        LOG.error(what + " failed; the loop goes on", e);
    }

    @Override
    public void prepareToDestroy() {
        // Graceful shutdown: every connection and listener of this loop closes (FINs go out in the quiet period).
        for (FastpathServerSocketChannel s : new ArrayList<>(listeners.values())) {
            if (s.home() == this) {
                s.unsafe().close(s.unsafe().voidPromise());
            } else {
                stopListening(s, s.port()); // its own loop closes it (and may be shutting down as well)
            }
        }
        for (FastpathSocketChannel c : new ArrayList<>(connections.values())) {
            if (c.isOpen()) {
                c.closeFromLoop();
            }
        }
        for (FastpathSocketChannel c : new ArrayList<>(connects.values())) {
            if (c.isOpen()) {
                c.closeFromLoop();
            }
        }
    }

    @Override
    public void destroy() {
        if (destroyed) {
            return;
        }
        destroyed = true;
        try {
            finishCloses();
            stack.onClose(); // frees what the stack and the channels still hold
        } finally {
            for (FastpathSocketChannel c : connections.values()) {
                c.stackClosed();
            }
            for (FastpathSocketChannel c : connects.values()) {
                c.stackClosed(); // connects without an outcome: what they kept for the stack goes
            }
            connections.clear();
            connects.clear();
            orphans.clear();
            factory.handlerDestroyed();
            Eal.shared().unregisterThread();
        }
    }

    /**
     * The closes of prepareToDestroy need duty cycles to reach the wire (FIN after queued data) and the peers'
     * answers: the loop keeps running the stack for up to {@link #CLOSE_GRACE_NS} while connections remain (the
     * stack's, not only the channels'), then resets what is left, so that no peer waits on a connection whose stack
     * is gone.
     */
    private void finishCloses() {
        long deadline = System.nanoTime() + CLOSE_GRACE_NS;
        // Connections the stack still has but never handed over (a handshake finishing as the loop stops) are
        // waited for too: their accept comes in, finds the listener closed, and is reset.
        while ((!connections.isEmpty() || stack.tcp().connectionCount() > 0) && System.nanoTime() - deadline < 0) {
            run(null);
        }
        if (!connections.isEmpty()) {
            long[] left = new long[connections.size()];
            int n = 0;
            for (Long2ObjectHashMap<FastpathSocketChannel>.KeyIterator it = connections.keySet().iterator();
                 it.hasNext(); ) {
                left[n++] = it.nextLong();
            }
            for (int i = 0; i < n; i++) {
                client.abort(left[i]);
            }
            for (int i = 0; i < 64; i++) {
                run(null); // the RSTs go out
            }
        }
    }

    @Override
    public IoRegistration register(IoHandle handle) {
        if (!(handle instanceof FastpathIoHandle)) {
            throw new IllegalArgumentException("not a fastpath channel: " + handle);
        }
        return new Registration(handle);
    }

    @Override
    public void wakeup() {
        // The loop never blocks: nothing to wake.
    }

    @Override
    public boolean isCompatible(Class<? extends IoHandle> handleType) {
        return FastpathIoHandle.class.isAssignableFrom(handleType);
    }

    /** A channel's registration: its attachment is this handler. */
    private final class Registration implements IoRegistration {
        private final IoHandle handle;
        private boolean valid = true;

        Registration(IoHandle handle) {
            this.handle = handle;
        }

        @SuppressWarnings("unchecked")
        @Override
        public <T> T attachment() {
            return (T) FastpathIoHandler.this;
        }

        @Override
        public long submit(IoOps ops) {
            return 0; // no interest ops: the handler calls the channels with the stack's events
        }

        @Override
        public boolean isValid() {
            return valid;
        }

        @Override
        public boolean cancel() {
            if (!valid) {
                return false;
            }
            valid = false;
            handle.unregistered();
            return true;
        }
    }

    /** How many duty cycles or events threw so far (each logged); any thread. */
    long failures() {
        return failures;
    }

    // ================================================================ what the channels ask (event loop thread)

    boolean inEventLoop() {
        return executor.isExecutorThread(Thread.currentThread());
    }

    int stackAddress() {
        return stack.address();
    }

    /** Submits a connect; the outcome comes to {@code channel.connectComplete}. Returns the request id or 0. */
    long connect(FastpathSocketChannel channel, int localPort, int remoteIp, int remotePort, long dataAddress,
                 int dataLength, boolean fastOpen, long socketOptions) {
        long id = ++nextRequest;
        if (!client.connect(id, 0, localPort, remoteIp, remotePort, dataAddress, dataLength, fastOpen,
            socketOptions)) {
            return 0;
        }
        connects.put(id, channel);
        return id;
    }

    /** The shards of the group (1 with one queue). */
    int shards() {
        return factory.handlers.length;
    }

    /** Shard {@code q}'s handler (this one's group). */
    FastpathIoHandler shard(int q) {
        return factory.handlers[q];
    }

    /**
     * Listens that other loops' binds ask of this shard. Not Netty tasks: a loop waiting in a bind for every
     * shard's answer runs no tasks, so two loops binding at once would each wait for the other's (both failing
     * after LISTEN_WAIT_NS); these are taken every turn and also while this loop itself waits in a bind.
     */
    private final java.util.concurrent.ConcurrentLinkedQueue<Runnable> shardRequests =
        new java.util.concurrent.ConcurrentLinkedQueue<>();

    /** Runs {@code request} on this shard's loop, at once when called there; false if that loop is shutting down. */
    boolean requestOnShard(Runnable request) {
        if (inEventLoop()) {
            request.run();
            return true;
        }
        if (loop != null && loop.isShuttingDown()) {
            return false;
        }
        shardRequests.add(request); // a bind allocates a node: not on a per-packet path
        return true;
    }

    /** Runs what other loops asked of this shard so far (this handler's loop: a bind, before it takes a port). */
    int runShardRequestsNow() {
        return runShardRequests();
    }

    private int runShardRequests() {
        int n = 0;
        for (Runnable r; !shardRequests.isEmpty() && (r = shardRequests.poll()) != null; n++) {
            try {
                r.run();
            } catch (RuntimeException | Error e) {
                failed("a listen asked by another loop", e);
            }
        }
        return n;
    }

    /** Runs {@code task} on this handler's loop (at once when called there); false if the loop has terminated. */
    boolean runOnLoop(Runnable task) {
        if (inEventLoop()) {
            task.run();
            return true;
        }
        try {
            loop.execute(task);
            return true;
        } catch (RejectedExecutionException e) {
            return false; // the loop is gone, and its stack with it
        }
    }

    /**
     * A port of the ephemeral range for a connection to {@code remoteIp:remotePort} from this loop, taken in the
     * stack's port table; 0 when none is free. With several shards, one whose flow the port's RSS gives back to this
     * shard (about 1 in N), so that the peer's answers arrive on this loop's queue. The search goes on from where
     * the group's last one stopped ({@link FastpathIoHandlerFactory#portCursor}: one cursor for every loop and bind, so that a port
     * just let go, its 4-tuple maybe in TIME-WAIT, is not chosen again soon) and looks at each port of the range at
     * most once, a free port before its flow's hash: a nearly full table costs one pass (it cost a pass per port
     * tried, every port of other shards taken and let go again), a sparse one about N ports.
     */
    int allocatePort(int remoteIp, int remotePort) {
        return allocatePort(true, remoteIp, remotePort);
    }

    /** Where the group's next ephemeral search starts (tests). */
    java.util.concurrent.atomic.AtomicInteger portCursor() {
        return factory.portCursor;
    }

    /** A free port of the ephemeral range, whatever its flows (bind(0): the remote is not known yet); 0 if none. */
    int allocateAnyPort() {
        return allocatePort(false, 0, 0);
    }

    private int allocatePort(boolean ownFlow, int remoteIp, int remotePort) {
        LocalPorts ports = stack.ports();
        FlowOwner owner = factory.owner;
        if (owner == FlowOwner.SINGLE && !ownFlow) {
            return ports.allocate(false);
        }
        int local = stack.address();
        for (int tries = 0; tries < LocalPorts.EPHEMERAL_COUNT; tries++) {
            int port = LocalPorts.EPHEMERAL_FIRST
                + (factory.portCursor.getAndIncrement() & (LocalPorts.EPHEMERAL_COUNT - 1));
            // A port whose 4-tuple to this remote is still in TIME-WAIT (its channel let the port go when the
            // connection closed) is skipped, as the stack's own choice and Linux's do: the connect would be refused.
            if (!ports.inUse(port)
                && (!ownFlow || (owner == FlowOwner.SINGLE || owner.shardOf(local, port, remoteIp, remotePort) == shard)
                    && !stack.tcp().fourTupleBusy(remoteIp, remotePort, port))
                && ports.tryTake(port)) {
                return port;
            }
        }
        return 0;
    }

    /** The shard that owns the flow from local {@code localPort} to {@code remoteIp:remotePort}. */
    int ownerOf(int localPort, int remoteIp, int remotePort) {
        FlowOwner owner = factory.owner;
        return owner == FlowOwner.SINGLE ? 0 : owner.shardOf(stack.address(), localPort, remoteIp, remotePort);
    }

    /**
     * Listens on {@code port} on this shard for {@code server} (whose own loop may be another shard's): the answer
     * comes to {@code server.shardListened}. This handler's loop.
     */
    void listenShard(FastpathServerSocketChannel server, int port, long socketOptions) {
        if (!server.isOpen() || factory.listening.get(port) != server) {
            // Closed (or its port let go) while this request waited: a listener now would outlive its channel.
            server.shardListened(shard, NtStatus.STATUS_INVALID_DEVICE_STATE);
            return;
        }
        FastpathServerSocketChannel there = listeners.get(port);
        if (there != null && there != server) {
            server.shardListened(shard, NtStatus.STATUS_SHARING_VIOLATION); // never take over another's port
            return;
        }
        if (!client.listen(port, socketOptions)) {
            server.shardListened(shard, NtStatus.STATUS_INSUFFICIENT_RESOURCES);
            return;
        }
        listeners.put(port, server);
    }

    /**
     * Makes {@code server} the group's one listener on {@code port}; false if another channel listens there (its
     * SO_REUSEADDR shares the port with connections, as on Linux, not with a second listener). Any thread.
     */
    boolean claimListenPort(int port, FastpathServerSocketChannel server) {
        return factory.listening.compareAndSet(port, null, server);
    }

    /** {@code server} no longer listens on {@code port} on any shard. */
    void releaseListenPort(int port, FastpathServerSocketChannel server) {
        factory.listening.compareAndSet(port, server, null);
    }

    /** One turn of the stack and its events, for a loop that waits for the stack's answer (a bind). */
    void runOnce() {
        stack.doWork();
        pollEvents();
        runShardRequests(); // another loop's bind may wait for this shard while this loop waits for it
    }

    /** Whether the loop is inside an event (a handler that binds in channelRead): it cannot wait for answers. */
    boolean inEvents() {
        return inEvents;
    }

    /** Stops {@code channel}'s listener on this shard, if it still has it. This handler's loop. */
    void stopListening(FastpathServerSocketChannel channel, int port) {
        if (listeners.get(port) == channel) {
            listeners.remove(port);
            client.stopListening(port);
        }
    }

    void connected(long handle, FastpathSocketChannel channel) {
        connections.put(handle, channel);
    }

    void readThisTurn(FastpathSocketChannel channel) {
        readThisTurn.add(channel);
    }

    /** Queued input of {@code channel} (a socket or server channel) is handed on at the end of this turn. */
    void drainLater(Object channel) {
        toDrain.add(channel);
    }

    /** {@code channel}'s send backlog made it unwritable: checked again each turn until it is writable. */
    void watchBacklog(FastpathSocketChannel channel) {
        if (!channel.backlogWatched) {
            channel.backlogWatched = true;
            backlogged.add(channel);
        }
    }

    /** A write found the request ring full: tried again at the end of this turn. */
    void flushLater(FastpathSocketChannel channel) {
        toFlush.add(channel);
    }

    // ================================================================ the stack's events (event loop thread)

    @Override
    public void onConnectComplete(long requestId, long handle, int status) {
        FastpathSocketChannel c = connects.remove(requestId);
        if (c == null) {
            if (handle != 0) {
                client.abort(handle); // nobody wants it any more
            }
            return;
        }
        if (handle != 0) {
            connections.put(handle, c);
        }
        c.connectComplete(handle, status);
    }

    @Override
    public void onListenComplete(int port, int status) {
        FastpathServerSocketChannel s = status == NtStatus.STATUS_SUCCESS ? listeners.get(port)
            : listeners.remove(port);
        if (s != null) {
            s.shardListened(shard, status);
        }
    }

    @Override
    public void onAccepted(int listenPort, long handle, int remoteIp, int remotePort) {
        FastpathServerSocketChannel server = listeners.get(listenPort);
        if (server == null || !server.isOpen()) {
            client.abort(handle);
            return;
        }
        FastpathSocketChannel child = new FastpathSocketChannel(server, this, handle,
            Status.socketAddress(stack.address(), listenPort), Status.socketAddress(remoteIp, remotePort));
        connections.put(handle, child);
        server.accepted(child); // to the server's loop (Netty's acceptor), which registers it back on this one
    }

    @Override
    public void onReceive(long handle, long mbuf, long address, int length) {
        FastpathSocketChannel c = connections.get(handle);
        if (c == null) {
            client.release(handle, mbuf, length);
            return;
        }
        c.received(mbuf, address, length);
    }

    @Override
    public void onSendComplete(long requestId, long handle, int bytes, int status) {
        FastpathSocketChannel c = connections.get(handle);
        if (c != null) {
            c.sendComplete(status);
        }
    }

    @Override
    public void onShutdownComplete(long handle) {
        FastpathSocketChannel c = connections.get(handle);
        if (c != null && !c.orphanNode.finAcknowledged) {
            c.orphanNode.finAcknowledged = true;
            if (!c.isOpen() && !c.isStackClosed()) {
                orphaned(c); // FIN-WAIT-2 and closed: an orphan from now (else from its close)
            }
        }
    }

    /**
     * A closed channel's connection reached FIN-WAIT-2 (our FIN acknowledged, the peer's to come): it is reset if
     * the peer has not closed within the FIN time-out (Linux: an orphaned socket in FIN-WAIT-2, tcp_fin_timeout).
     */
    void orphaned(FastpathSocketChannel c) {
        orphans.add(c.orphanNode, stack.nowNs());
    }

    private int expireOrphans() {
        long now = stack.nowNs();
        int work = 0;
        for (FastpathSocketChannel c; (c = orphans.pollExpired(now, finTimeoutNs)) != null; ) {
            long handle = c.handle();
            if (handle != 0 && !c.isStackClosed() && connections.get(handle) == c) {
                // RST (Linux lets such an orphan expire silently, or resets it with TCP_LINGER2 < 0): the peer
                // learns at once that nobody is there. CLOSED follows and removes it.
                client.abort(handle);
                finTimeouts++;
                work++;
            }
        }
        return work;
    }

    /** Orphaned connections reset by the FIN time-out so far. */
    long finTimeouts() {
        return finTimeouts;
    }

    @Override
    public void onPeerClosed(long handle) {
        FastpathSocketChannel c = connections.get(handle);
        if (c != null) {
            c.peerClosed();
        }
    }

    @Override
    public void onIdealSendBacklog(long handle, int bytes) {
        FastpathSocketChannel c = connections.get(handle);
        if (c != null) {
            c.idealSendBacklog(bytes);
        }
    }

    @Override
    public void onClosed(long handle, int status) {
        FastpathSocketChannel c = connections.remove(handle);
        if (c != null) {
            orphans.remove(c.orphanNode);
            c.connectionClosed(status);
        }
    }
}
