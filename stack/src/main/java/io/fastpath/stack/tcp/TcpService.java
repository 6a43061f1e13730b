package io.fastpath.stack.tcp;

import io.fastpath.stack.NtStatus;
import io.fastpath.stack.counters.Budget;
import io.fastpath.stack.counters.DropReason;
import io.fastpath.stack.counters.StackCounters;
import io.fastpath.stack.tcp.protocol.ConnectRequestFlyweight;
import io.fastpath.stack.tcp.protocol.ConnectionRequestFlyweight;
import io.fastpath.stack.tcp.protocol.EventType;
import io.fastpath.stack.tcp.protocol.ListenRequestFlyweight;
import io.fastpath.stack.tcp.protocol.RequestType;
import io.fastpath.stack.tcp.protocol.SendRequestFlyweight;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicReference;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * TCP for application threads. Each application is a {@link TcpServiceClient} ({@link #newClient}) with rings
 * of its own: requests (listen, connect, send, shutdown, abort, release, ...) are typed records
 * ({@code io.fastpath.stack.tcp.protocol}) carried out on the poll thread, and outcomes go back on the event
 * ring of the client that owns the connection or listener. The request methods and {@link #pollEvents} here
 * are those of a default client, made when first used. Received data crosses as descriptors over the mbufs it
 * arrived in (zero copy): the client releases each, and until it does the bytes count against the connection's
 * receive window, so a slow reader slows its peer instead of exhausting the pool.
 *
 * <p>Descriptors are checked (issue 10 item 6): each client records every mbuf handed over to it, with the
 * connection, the length and a handover token carried in the descriptor ({@link HeldDescriptors}); a release is
 * honoured only for a recorded mbuf, from the client, for the connection it went to and for that handover,
 * exactly once, with the recorded length (the caller's is not trusted). Anything else (an unknown mbuf, a second
 * release, another connection's handle, an earlier handover of a recycled mbuf) is refused and counted as
 * {@link DropReason#RELEASE_REFUSED}: no free, no window change. Each client has its own table and budget
 * ({@link #clientBudget}); a client whose application stops taking data is <em>stalled</em>: its connections
 * wait on its own list, get at most half the receive memory while other clients share the stack, and cost its
 * poll two comparisons until it makes room. What the applications still hold when the stack closes is freed by {@link #close}.
 *
 * <p>Shards (issue 12): with N stacks per port, each stack's service is made with its shard id, which every handle
 * it hands out carries ({@link #SHARD_SHIFT}: the layout); a handle of another shard is refused and counted like
 * another client's. {@link ShardedTcpClient} routes an application's requests to the handle's shard.
 *
 * <p>Sends name native memory ({@code address}, {@code length}) that must stay valid until
 * {@link TcpEventHandler#onSendComplete}: the poll thread copies it into the send buffer as space frees up.
 *
 * <p>Thread: request methods from any thread; {@link #pollEvents} from one; {@link #poll} on the poll thread.
 */
public final class TcpService {
    /**
     * The most SYN data a CONNECT_REQUEST event (conditional accept) copies for the listener's decision (a SYN
     * holds at most one segment). CONNECT requests carry a pointer to their data, not a copy.
     */
    public static final int MAX_SYN_DATA = 2048;
    /** The request ring's size unless asked otherwise: room for about 20,000 sends. */
    public static final int DEFAULT_REQUEST_RING_BYTES = 1 << 20;
    /** At most this many clients open at once per stack (a closed client frees its place). */
    public static final int MAX_CLIENTS = 127;
    /**
     * Handle layout. A connection handle is {@code generation << 32 | shard << 24 | slot}:
     * <pre>
     *  63                              32 31 30 29      24 23                      0
     * +----------------------------------+-----+----------+-------------------------+
     * |  generation (TcpConnection)      | 0 0 |  shard   |  slot (connection table) |
     * +----------------------------------+-----+----------+-------------------------+
     * </pre>
     * The generation and slot are the TcpLayer's ({@code TcpConnection.handle()}); the shard is this service's
     * ({@link #shard()}), added to every handle an event carries and checked (then taken off) on every request and
     * release, so a handle from another shard's service is refused and counted like another client's. Shard 0's
     * handles are exactly the TcpLayer's. No handle is 0 (generations start at 1): 0 means "no connection".
     */
    public static final int SHARD_SHIFT = 24;
    /** At most this many shards (6 bits of the handle). */
    public static final int MAX_SHARDS = 64;
    /** The shard's bits in a handle. */
    public static final long SHARD_MASK = (long) (MAX_SHARDS - 1) << SHARD_SHIFT;
    /** The most connections one shard's table may have: the slot has the 24 bits below the shard. */
    public static final int MAX_CONNECTIONS = 1 << SHARD_SHIFT;
    private static final int MIN_IDEAL_BACKLOG = 16 << 10;
    private static final int SENDS_PER_CONNECTION = 16;

    private final TcpLayer tcp;
    private final int shard;
    /** {@code shard << SHARD_SHIFT}: or-ed into every handle an event carries. */
    final long shardBits;
    private final int eventRingBytes;
    private final int maxHeld;
    private final AtomicReference<TcpServiceClient[]> clients = new AtomicReference<>(new TcpServiceClient[0]);
    private volatile TcpServiceClient defaultClient;

    // Decoders of the request records (poll thread).
    private final ConnectRequestFlyweight connectIn = new ConnectRequestFlyweight();
    private final ListenRequestFlyweight listenIn = new ListenRequestFlyweight();
    private final SendRequestFlyweight sendIn = new SendRequestFlyweight();
    private final ConnectionRequestFlyweight connectionIn = new ConnectionRequestFlyweight();
    private final UnsafeBuffer source = new UnsafeBuffer(0, 0);

    // Pending sends per connection slot: a small ring of (address, length, offset, request id).
    private final long[] sendAddress;
    private final int[] sendLength;
    private final int[] sendOffset;
    private final long[] sendRequest;
    private final int[] sendFirst;
    private final int[] sendCount;
    /** A shutdown asked for while sends were still queued here: the FIN goes after them. */
    private final boolean[] shutdownAfterSends;
    /** The queued send at this position is urgent data (MSG_OOB; TDI_SEND_EXPEDITED). */
    private final boolean[] sendUrgent;
    /** The ideal send backlog last posted per connection slot (0: none yet). */
    private final int[] idealBacklog;

    private final StackCounters counters;
    private final HeldDescriptors.Releaser stackRelease;

    /**
     * The thread that drives this stack's duty cycles for good ({@link #bindPollThread}), or null. A request a
     * client makes on this thread between two duty cycles is carried out at once by a direct call ({@link #direct})
     * instead of a record on the client's request ring. Written by that thread (a plain field: another thread
     * either reads null or a thread that is not its own, and goes through the ring either way).
     */
    private Thread pollThread;
    /** Closed by its stack ({@link #close}): events are no longer kept for a direct call. */
    private boolean closed;
    /** True while the bound thread is inside a duty cycle (TCP input, the clients' polls): no direct calls then. */
    private boolean inCycle;
    /**
     * Open {@link #holdOutput} brackets of the bound thread (a provider's dispatch round): while any is open, the
     * output a direct request makes due waits for the outermost {@link #releaseOutput}, so the sends of one round
     * leave in one transmit burst. Bound thread only.
     */
    private int outputHeld;
    /** The stack's output between duty cycles (TCP output, then the transmit burst), or null (tests: none). */
    private Runnable outputBetweenCycles;
    /** Outputs run between duty cycles (tests, diagnostics; bound thread). */
    private long directOutputs;

    /**
     * @param ringBytes size of each client's event ring (and at least that of its request ring)
     * @param maxHeld the most descriptors one client can hold at once (the pool's size is always enough); each
     *     client's own table has room for this many, of which it may use {@link #clientBudget}
     */
    public TcpService(TcpLayer tcp, int ringBytes, StackCounters counters, int maxHeld) {
        this(tcp, ringBytes, counters, maxHeld, 0);
    }

    /**
     * The service of one shard of a port (issue 12): its handles carry {@code shard} ({@link #SHARD_SHIFT}), so
     * a sharded client ({@link ShardedTcpClient}) routes a request to the handle's shard without a lookup.
     *
     * @param shard 0 to {@link #MAX_SHARDS} - 1
     */
    public TcpService(TcpLayer tcp, int ringBytes, StackCounters counters, int maxHeld, int shard) {
        if (shard < 0 || shard >= MAX_SHARDS) {
            throw new IllegalArgumentException("shard " + shard + " not in 0.." + (MAX_SHARDS - 1));
        }
        if (tcp.config().maxConnections() > MAX_CONNECTIONS) {
            throw new IllegalArgumentException("at most " + MAX_CONNECTIONS + " connections per shard");
        }
        this.shard = shard;
        this.shardBits = (long) shard << SHARD_SHIFT;
        this.tcp = tcp;
        this.counters = counters;
        this.eventRingBytes = ringBytes;
        this.maxHeld = maxHeld;
        this.stackRelease = tcp::release;
        int connections = tcp.config().maxConnections();
        int slots = connections * SENDS_PER_CONNECTION;
        this.sendAddress = new long[slots];
        this.sendLength = new int[slots];
        this.sendOffset = new int[slots];
        this.sendRequest = new long[slots];
        this.sendUrgent = new boolean[slots];
        this.sendFirst = new int[connections];
        this.sendCount = new int[connections];
        this.shutdownAfterSends = new boolean[connections];
        this.idealBacklog = new int[connections];
    }

    /** Whether a handle has the shape of one (bits 30 and 31 clear): another shard's such is refused and counted. */
    static boolean wellFormed(long handle) {
        return (handle & 0xC000_0000L) == 0;
    }

    /** This service's shard: the one its handles carry (0 for a stack of one shard). */
    public int shard() {
        return shard;
    }

    /** The shard a handle (from any shard's events) names: see {@link #SHARD_SHIFT}. */
    public static int shardOf(long handle) {
        return (int) (handle >>> SHARD_SHIFT) & (MAX_SHARDS - 1);
    }

    /** The stack's own IPv4 address (what a connect from local address 0 uses). */
    public int localAddress() {
        return tcp.ip.address();
    }

    // ================================================================ clients (any thread)

    /** A new client with rings of the default sizes (any thread; allocates: call at start-up). */
    public TcpServiceClient newClient() {
        return newClient(Math.max(DEFAULT_REQUEST_RING_BYTES, eventRingBytes), eventRingBytes);
    }

    /** A new client with its own request and event rings of the given sizes (rounded up to powers of two). */
    public TcpServiceClient newClient(int requestRingBytes, int eventRingBytes) {
        while (true) {
            TcpServiceClient[] current = clients.get();
            if (current.length == MAX_CLIENTS) {
                throw new IllegalStateException("at most " + MAX_CLIENTS + " TcpService clients per stack");
            }
            TcpServiceClient client = new TcpServiceClient(this, freeId(current), requestRingBytes, eventRingBytes,
                tcp.config().maxConnections(), maxHeld);
            TcpServiceClient[] next = Arrays.copyOf(current, current.length + 1);
            next[current.length] = client;
            if (clients.compareAndSet(current, next)) {
                return client;
            }
        }
    }

    /**
     * The most descriptors one client may hold now: alone on the stack, as many as the pool has mbufs (the TCP
     * memory budget stops it first); beside other clients, half the stack's receive memory, so that one client
     * that stops returning descriptors leaves the other half to the others (see {@link HandoverReceiver#stalled}).
     */
    int clientBudget() {
        return clients.get().length > 1 ? Math.min(maxHeld, Math.max(16, tcp.rx.memLimit / 2)) : maxHeld;
    }

    /** The smallest id no open client has. */
    private static int freeId(TcpServiceClient[] open) {
        for (int id = 0; ; id++) {
            boolean taken = false;
            for (TcpServiceClient c : open) {
                taken |= c.id == id;
            }
            if (!taken) {
                return id;
            }
        }
    }

    /** Clients open now (any thread). */
    public int clientCount() {
        return clients.get().length;
    }

    /** The client behind this class's own request methods and {@link #pollEvents} (made when first used). */
    public TcpServiceClient defaultClient() {
        TcpServiceClient c = defaultClient;
        return c != null ? c : makeDefaultClient();
    }

    private TcpServiceClient makeDefaultClient() {
        TcpServiceClient made = newClient();
        // Another thread may have made one at the same moment: the first published wins. The loser was never
        // seen by anyone: it leaves the clients at once (it would halve the winner's budget and keep its rings).
        TcpServiceClient won = (TcpServiceClient) DEFAULT.compareAndExchange(this, null, made);
        if (won == null) {
            return made;
        }
        made.close();
        remove(made);
        made.closeDone();
        return won;
    }

    /** Takes {@code client} out of the open clients (any thread). */
    private void remove(TcpServiceClient client) {
        while (true) {
            TcpServiceClient[] current = clients.get();
            int at = 0;
            TcpServiceClient[] next = new TcpServiceClient[Math.max(0, current.length - 1)];
            boolean found = false;
            for (TcpServiceClient c : current) {
                if (c == client) {
                    found = true;
                } else if (at < next.length) {
                    next[at++] = c;
                }
            }
            if (!found || clients.compareAndSet(current, next)) {
                return;
            }
        }
    }

    private static final java.lang.invoke.VarHandle DEFAULT;

    static {
        try {
            DEFAULT = java.lang.invoke.MethodHandles.lookup().findVarHandle(TcpService.class, "defaultClient",
                TcpServiceClient.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    // ================================================================ the default client's requests

    /** {@link TcpServiceClient#connect(long, int, int, int)} on the default client. */
    public boolean connect(long requestId, int remoteIp, int remotePort, int localPort) {
        return defaultClient().connect(requestId, remoteIp, remotePort, localPort);
    }

    /** {@link TcpServiceClient#connect(long, int, int, int, long, int, boolean)} on the default client. */
    public boolean connect(long requestId, int remoteIp, int remotePort, int localPort, long address, int length,
                           boolean fastOpen) {
        return defaultClient().connect(requestId, remoteIp, remotePort, localPort, address, length, fastOpen);
    }

    /** {@link TcpServiceClient#connect(long, int, int, int, int, long, int, boolean)} on the default client. */
    public boolean connect(long requestId, int localIp, int localPort, int remoteIp, int remotePort, long address,
                           int length, boolean fastOpen) {
        return defaultClient().connect(requestId, localIp, localPort, remoteIp, remotePort, address, length,
            fastOpen);
    }

    /** {@link TcpServiceClient#connect(long, int, int, int, int, long, int, boolean, long)}, default client. */
    public boolean connect(long requestId, int localIp, int localPort, int remoteIp, int remotePort, long address,
                           int length, boolean fastOpen, long socketOptions) {
        return defaultClient().connect(requestId, localIp, localPort, remoteIp, remotePort, address, length,
            fastOpen, socketOptions);
    }

    /** TCP_NODELAY for a connection (default client). */
    public boolean noDelay(long handle, boolean on) {
        return defaultClient().noDelay(handle, on);
    }

    /** SO_KEEPALIVE with TCP_KEEPIDLE / TCP_KEEPINTVL / TCP_KEEPCNT for a connection (default client). */
    public boolean keepAlive(long handle, boolean on, long idleNs, long intervalNs, int count) {
        return defaultClient().keepAlive(handle, on, idleNs, intervalNs, count);
    }

    /** Stops listening on a port (default client; connections already accepted go on). */
    public boolean stopListening(int port) {
        return defaultClient().stopListening(port);
    }

    /** Listens on a port; accepted connections arrive as onAccepted (default client). */
    public boolean listen(int port) {
        return defaultClient().listen(port);
    }

    /** Listens on a port; its connections get {@code socketOptions} (default client). */
    public boolean listen(int port, long socketOptions) {
        return defaultClient().listen(port, socketOptions);
    }

    /** Conditional accept: answer a held SYN with a SYN-ACK (default client). */
    public boolean acceptRequest(long handle) {
        return defaultClient().acceptRequest(handle);
    }

    /** Conditional accept: refuse a held SYN with a RST (default client). */
    public boolean rejectRequest(long handle) {
        return defaultClient().rejectRequest(handle);
    }

    /** SO_RCVBUF and TCP_MAXRT for an open connection (default client). */
    public boolean options(long handle, long socketOptions) {
        return defaultClient().options(handle, socketOptions);
    }

    /**
     * Sends native memory (default client); the memory stays valid, and its owner reachable, until
     * onSendComplete ({@link TcpServiceClient#send}).
     */
    public boolean send(long handle, long requestId, long address, int length) {
        return defaultClient().send(handle, requestId, address, length);
    }

    /**
     * Sends urgent data (default client); as for {@link #send}, the memory stays valid, and its owner reachable,
     * until onSendComplete.
     */
    public boolean sendUrgent(long handle, long requestId, long address, int length) {
        return defaultClient().sendUrgent(handle, requestId, address, length);
    }

    /** Graceful close of our direction (default client). */
    public boolean shutdown(long handle) {
        return defaultClient().shutdown(handle);
    }

    /** Abortive close (default client). */
    public boolean abort(long handle) {
        return defaultClient().abort(handle);
    }

    /** Returns a received mbuf (default client); see {@link TcpServiceClient#release}. */
    public boolean release(long handle, long mbuf, int length) {
        return defaultClient().release(handle, mbuf, length);
    }

    /** Delivers the default client's events to {@code handler} (one application thread). Returns how many. */
    public int pollEvents(TcpEventHandler handler) {
        return defaultClient().pollEvents(handler);
    }

    /**
     * Whether the stack's TCP memory is short: at least three quarters of its mbuf budget is held (receive
     * queues, out-of-order stores, buffers applications hold). Providers tell their applications to return
     * zero-copy buffers soon (WSK: WSK_FLAG_RELEASE_ASAP). Any thread.
     */
    public boolean memoryPressure() {
        return tcp.memoryPressure();
    }

    // ================================================================ poll thread

    /**
     * Declares the calling thread the one that runs this stack's duty cycles from now on ({@code StackRunner}'s
     * thread, or an invoker-mode loop that runs stacks and providers on one thread). Requests its clients make on
     * this thread outside a duty cycle are then direct calls ({@link #direct}). A stack is bound to one thread at
     * a time: call again only from a new thread once the previous one neither runs duty cycles nor makes requests
     * any more (a stopped runner).
     */
    public void bindPollThread() {
        pollThread = Thread.currentThread();
        outputHeld = 0;
    }

    /**
     * The stack's output between duty cycles: TCP output of the connections direct requests marked, then the
     * transmit burst ({@code Stack} gives it, at construction). Run by {@link #outputAfterDirect} and
     * {@link #releaseOutput}, on the bound thread, bracketed as a duty cycle (requests made from inside it take
     * the rings).
     */
    public void outputBetweenCycles(Runnable output) {
        this.outputBetweenCycles = output;
    }

    /**
     * Holds the output of direct requests until the matching {@link #releaseOutput} (a provider's dispatch round
     * on the bound thread: many sends, one transmit burst). Does nothing on another thread. Returns whether it
     * held (pass it to {@link #releaseOutput}).
     */
    public boolean holdOutput() {
        if (pollThread != Thread.currentThread()) {
            return false;
        }
        outputHeld++;
        return true;
    }

    /**
     * Ends a {@link #holdOutput} bracket ({@code held}: what it returned); the outermost one sends what direct
     * requests made due meanwhile, at once, unless the bound thread is inside a duty cycle (then that cycle's
     * own output sends it).
     */
    public void releaseOutput(boolean held) {
        if (held && outputHeld > 0 && --outputHeld == 0) {
            outputNow();
        }
    }

    /** After a direct request: its segment (data, FIN, SYN, window update) leaves now, unless output is held. */
    void outputAfterDirect() {
        if (outputHeld == 0) {
            outputNow();
        }
    }

    private void outputNow() {
        if (!Budget.ENABLED && outputBetweenCycles != null && !inCycle && tcp.outputDue()
            && pollThread == Thread.currentThread()) {
            directOutputs++;
            outputBetweenCycles.run();
        }
    }

    /** Outputs run between duty cycles so far (bound thread; tests). */
    public long directOutputs() {
        return directOutputs;
    }

    /** No thread is bound any more (a duty cycle on another thread: see {@code Stack.doWork}). */
    public void unbindPollThread() {
        pollThread = null;
        spillDirectEvents(); // kept for a direct call on the old thread: the ring delivers them now
    }

    /** Moves every client's kept events onto its ring. */
    private int spillDirectEvents() {
        int work = 0;
        for (TcpServiceClient c : clients.get()) {
            work += c.events.spillDirectEvents();
        }
        return work;
    }

    /** The stack has closed this service: nothing is kept for a direct call any more. */
    boolean closed() {
        return closed;
    }

    /** The bound poll thread, or null ({@link #bindPollThread}). */
    public Thread pollThread() {
        return pollThread;
    }

    /** The stack begins a duty cycle (the bound thread); until {@link #endCycle}, requests go through the rings. */
    public void beginCycle() {
        inCycle = true;
    }

    /** Inside a duty cycle (or closed for good): requests take the rings. */
    public boolean inCycle() {
        return inCycle;
    }

    /** The stack's duty cycle is over: requests of the bound thread are direct calls again. */
    public void endCycle() {
        inCycle = false;
    }

    /**
     * Whether a request made now may be carried out by a direct call: the caller is the bound poll thread and
     * the stack is between duty cycles (so the call never re-enters TCP input or a client's poll). The client
     * adds its own conditions (nothing of its own queued on a ring that the call would overtake). Off with the
     * stage budget ({@code -Dfastpath.budget=true}), whose marks belong inside a duty cycle.
     */
    boolean direct() {
        return !Budget.ENABLED && pollThread == Thread.currentThread() && !inCycle;
    }

    /** Whether the calling thread is the bound poll thread ({@link #bindPollThread}). */
    boolean onBoundThread() {
        return pollThread == Thread.currentThread();
    }

    /**
     * Right after a duty cycle (the bound thread, {@code Stack.doWork}): the clients whose events were kept for a
     * direct call ({@link DirectEventTaker}) take them now, so their handlers run between duty cycles, where
     * requests they make are direct calls, and the output those make is held until the taker's round ends.
     */
    public int takeDirectEvents() {
        if (inCycle) {
            return 0;
        }
        if (pollThread != Thread.currentThread()) {
            return spillDirectEvents(); // unbound meanwhile: what was kept goes onto the rings
        }
        int work = 0;
        for (TcpServiceClient c : clients.get()) {
            if (c.events.directPending()) {
                work += c.events.takeDirect();
            }
        }
        return work;
    }

    /** Carries out every client's queued requests (poll thread, each duty cycle). */
    public int poll() {
        TcpServiceClient[] all = clients.get();
        int work = 0;
        for (TcpServiceClient c : all) {
            if (c.closeRequested()) {
                closeClient(c);
                work++;
            } else {
                work += c.poll();
            }
        }
        return work;
    }

    /**
     * Ends a client ({@link TcpServiceClient#close}, poll thread): the releases it sent before are honoured, its
     * connections are reset (their queued sends fail), its listeners stop, every descriptor it still holds goes
     * back to the pool, and its place among the clients is free again. Its other queued requests are dropped.
     */
    private void closeClient(TcpServiceClient client) {
        client.takeReleases();
        int connections = tcp.config().maxConnections();
        for (int slot = 0; slot < connections; slot++) {
            TcpConnection c = tcp.connectionAt(slot);
            if (c != null && c.handover == client.side) {
                tcp.abort(c);
            }
        }
        int[] ports = new int[tcp.listening.listeners.size()];
        int n = 0;
        for (Listeners.Listener l : tcp.listening.listeners.values()) {
            if (l.handler == client.side) {
                ports[n++] = l.port;
            }
        }
        for (int k = 0; k < n; k++) {
            tcp.stopListening(ports[k]);
        }
        client.held.releaseAll(stackRelease);
        remove(client);
        DEFAULT.compareAndExchange(this, client, null);
        client.closeDone();
    }

    /** The connection {@code handle} names if {@code client} owns it, else null. */
    private TcpConnection owned(TcpServiceClient client, long handle) {
        if ((handle & SHARD_MASK) != shardBits) {
            if (wellFormed(handle)) {
                counters.drop(DropReason.REQUEST_REFUSED).incrementRelease(); // another shard's handle
            }
            return null; // else it names nothing (as an unknown handle of this shard)
        }
        TcpConnection c = tcp.connection(handle & ~SHARD_MASK);
        if (c == null) {
            return null;
        }
        if (c.handover != client.side) {
            counters.drop(DropReason.REQUEST_REFUSED).incrementRelease();
            return null;
        }
        return c;
    }

    void onRequest(TcpServiceClient client, int type, MutableDirectBuffer b, int i) {
        switch (type) {
            case RequestType.SEND, RequestType.SEND_URGENT -> {
                SendRequestFlyweight r = sendIn.wrap(b, i);
                send(client, type == RequestType.SEND_URGENT, r.handle(), r.requestId(), r.address(), r.length());
            }
            case RequestType.CONNECT -> {
                ConnectRequestFlyweight r = connectIn.wrap(b, i);
                connect(client, r.requestId(), r.localIp(), r.localPort(), r.remoteIp(), r.remotePort(),
                    r.dataAddress(), r.dataLength(), r.fastOpen(), r.socketOptions());
            }
            case RequestType.LISTEN -> {
                ListenRequestFlyweight r = listenIn.wrap(b, i);
                listen(client, r.port(), r.socketOptions());
            }
            case RequestType.STOP_LISTENING -> stopListening(client, listenIn.wrap(b, i).port());
            case RequestType.SHUTDOWN -> applyControl(client, connectionIn.wrap(b, i).handle(),
                TcpServiceClient.CONTROL_SHUTDOWN);
            case RequestType.ABORT -> applyControl(client, connectionIn.wrap(b, i).handle(),
                TcpServiceClient.CONTROL_ABORT);
            case RequestType.ACCEPT_REQUEST -> applyControl(client, connectionIn.wrap(b, i).handle(),
                TcpServiceClient.CONTROL_ACCEPT);
            case RequestType.REJECT_REQUEST -> applyControl(client, connectionIn.wrap(b, i).handle(),
                TcpServiceClient.CONTROL_REJECT);
            case RequestType.NO_DELAY -> {
                ConnectionRequestFlyweight r = connectionIn.wrap(b, i);
                noDelay(client, r.handle(), r.enable());
            }
            case RequestType.KEEP_ALIVE -> {
                ConnectionRequestFlyweight r = connectionIn.wrap(b, i);
                keepAlive(client, r.handle(), r.enable(), r.idleNs(), r.intervalNs(), r.count());
            }
            case RequestType.OPTIONS -> {
                ConnectionRequestFlyweight r = connectionIn.wrap(b, i);
                options(client, r.handle(), r.socketOptions());
            }
            default -> {
            }
        }
    }

    // The requests themselves (poll thread): from a record ({@link #onRequest}) or a direct call ({@link #direct}).

    /** Queues a send for a connection {@code client} owns and moves what fits into its send buffer. */
    void send(TcpServiceClient client, boolean urgent, long handle, long requestId, long address, int length) {
        TcpConnection c = owned(client, handle);
        if (c == null) {
            client.events.postSendRefused(requestId, handle, NtStatus.STATUS_INVALID_CONNECTION);
            return;
        }
        int slot = c.index;
        if (sendCount[slot] == SENDS_PER_CONNECTION) {
            client.events.postSendRefused(requestId, handle, NtStatus.STATUS_INSUFFICIENT_RESOURCES);
            return;
        }
        int at = slot * SENDS_PER_CONNECTION + (sendFirst[slot] + sendCount[slot]) % SENDS_PER_CONNECTION;
        sendAddress[at] = address;
        sendLength[at] = length;
        sendOffset[at] = 0;
        sendRequest[at] = requestId;
        sendUrgent[at] = urgent;
        sendCount[slot]++;
        pump(client, c);
    }

    /** Opens a connection for {@code client} (its data, if any, is copied into the send buffer here). */
    void connect(TcpServiceClient client, long requestId, int localIp, int localPort, int remoteIp, int remotePort,
                 long dataAddress, int dataLength, boolean fastOpen, long socketOptions) {
        source.wrap(dataAddress, Math.max(dataLength, 1));
        int status = tcp.connect(localIp, localPort, remoteIp, remotePort, client.side, source, 0, dataLength,
            fastOpen, socketOptions);
        if (status == NtStatus.STATUS_PENDING) {
            TcpConnection c = tcp.lastConnection();
            c.handover = client.side;
            c.requestTag = requestId;
        } else {
            client.events.postConnected(requestId, 0, status);
        }
    }

    void listen(TcpServiceClient client, int port, long socketOptions) {
        client.events.postListen(port, tcp.listen(0, port, client.side, socketOptions));
    }

    void noDelay(TcpServiceClient client, long handle, boolean on) {
        TcpConnection c = owned(client, handle);
        if (c != null) {
            c.noDelay(on);
        }
    }

    void keepAlive(TcpServiceClient client, long handle, boolean on, long idleNs, long intervalNs, int count) {
        TcpConnection c = owned(client, handle);
        if (c != null) {
            c.keepAlive(on, idleNs, intervalNs, count);
        }
    }

    void options(TcpServiceClient client, long handle, long socketOptions) {
        TcpConnection c = owned(client, handle);
        if (c != null) {
            tcp.setOptions(c, socketOptions);
        }
    }

    /** Accept, reject, shutdown and abort, in that order, for a connection {@code client} owns. */
    void applyControl(TcpServiceClient client, long handle, int flags) {
        TcpConnection c = owned(client, handle);
        if (c == null) {
            return;
        }
        if ((flags & TcpServiceClient.CONTROL_ACCEPT) != 0) {
            tcp.acceptRequest(c);
        }
        if ((flags & TcpServiceClient.CONTROL_REJECT) != 0) {
            if (c.deferred && c.state == TcpState.SYN_RECEIVED) {
                // A rejected request gets no onClosed: its queued sends fail now (as a close would), before the slot is reused.
                failSends(client, c, NtStatus.STATUS_CONNECTION_ABORTED);
            }
            tcp.rejectRequest(c);
            return;
        }
        if ((flags & TcpServiceClient.CONTROL_SHUTDOWN) != 0 && c.state != TcpState.CLOSED) {
            if (sendCount[c.index] > 0) {
                shutdownAfterSends[c.index] = true; // FIN after the data asked for before it
            } else {
                c.shutdown();
            }
        }
        if ((flags & TcpServiceClient.CONTROL_ABORT) != 0 && c.state != TcpState.CLOSED) {
            c.abort();
        }
    }

    /** Stops a listener {@code client} owns. */
    void stopListening(TcpServiceClient client, int port) {
        // The listener table is the one record of who listens where: its handler is the owning client's side.
        Listeners.Listener l = port > 0 && port <= 65535 ? tcp.listening.listeners.get(port) : null;
        if (l == null) {
            return;
        }
        if (l.handler != client.side) {
            counters.drop(DropReason.REQUEST_REFUSED).incrementRelease();
            return;
        }
        tcp.stopListening(port);
    }




    /**
     * Honours a release of a descriptor {@code client} holds (same connection, same handover), with the recorded
     * length; refuses (and counts) any other. Returns whether it was honoured.
     */
    boolean onRelease(TcpServiceClient client, long handle, long descriptor, int lengthHint) {
        if ((handle & SHARD_MASK) == shardBits
            && client.held.release(handle & ~SHARD_MASK, descriptor, lengthHint, stackRelease)) {
            return true;
        }
        counters.drop(DropReason.RELEASE_REFUSED).incrementRelease();
        return false;
    }

    /** Offers a waiting connection's data again if {@code client} still owns the connection in {@code slot}. */
    void resumeReceive(TcpServiceClient client, int slot) {
        TcpConnection c = tcp.connectionAt(slot);
        if (c != null && c.handover == client.side) {
            tcp.resumeReceive(c);
        }
    }

    /** Side-path controls a client refused for another shard's handle, counted here. */
    void countRefusedRequests(long n) {
        counters.drop(DropReason.REQUEST_REFUSED).getAndAddRelease(n);
    }

    /** Releases a client refused before they reached the ring (too many in flight), counted here. */
    void countRefusedReleases(long n) {
        counters.drop(DropReason.RELEASE_REFUSED).getAndAddRelease(n);
    }

    void countLostEvent() {
        tcp.countLostEvent();
    }

    void countLostUrgent() {
        counters.drop(DropReason.TCP_URGENT_LOST).incrementRelease();
    }


    /** Descriptors handed to the applications and not yet released (poll thread; tests, diagnostics). */
    public int heldDescriptors() {
        int n = 0;
        for (TcpServiceClient c : clients.get()) {
            n += c.held.count();
        }
        return n;
    }

    /**
     * Frees every mbuf the applications still hold (poll thread, at stack close: after it nobody could return
     * them); a later release of one is refused.
     */
    public void close() {
        closed = true;
        spillDirectEvents(); // the providers' close reads the rings
        for (TcpServiceClient c : clients.get()) {
            c.held.releaseAll(stackRelease);
        }
    }

    /** A connection opened for a client: no ideal backlog posted yet. */
    void opened(TcpConnection c) {
        idealBacklog[c.index] = 0;
        shutdownAfterSends[c.index] = false;
    }

    /** Moves pending send requests into the send buffer as far as it has room. */
    void pump(TcpServiceClient client, TcpConnection c) {
        int slot = c.index;
        while (sendCount[slot] > 0) {
            int at = slot * SENDS_PER_CONNECTION + sendFirst[slot];
            int remaining = sendLength[at] - sendOffset[at];
            if (remaining > 0) {
                source.wrap(sendAddress[at] + sendOffset[at], remaining);
                int n;
                if (sendUrgent[at]) {
                    // The urgent pointer must mark the request's last byte: wait until all of it fits.
                    if (remaining > c.sendSpace() && remaining <= tcp.config().sendBufferBytes()) {
                        return;
                    }
                    n = c.sendUrgent(source, 0, remaining);
                } else {
                    n = c.send(source, 0, remaining);
                }
                sendOffset[at] += n;
                if (n < remaining) {
                    return;
                }
            }
            client.events.postSendComplete(sendRequest[at], c.handle(), sendLength[at], NtStatus.STATUS_SUCCESS);
            sendFirst[slot] = (sendFirst[slot] + 1) % SENDS_PER_CONNECTION;
            sendCount[slot]--;
        }
        if (shutdownAfterSends[slot]) {
            shutdownAfterSends[slot] = false;
            c.shutdown();
        }
    }

    void failSends(TcpServiceClient client, TcpConnection c, int status) {
        int slot = c.index;
        while (sendCount[slot] > 0) {
            int at = slot * SENDS_PER_CONNECTION + sendFirst[slot];
            client.events.postSendComplete(sendRequest[at], c.eventHandle(), sendOffset[at], status);
            sendFirst[slot] = (sendFirst[slot] + 1) % SENDS_PER_CONNECTION;
            sendCount[slot]--;
        }
        sendFirst[slot] = 0;
        shutdownAfterSends[slot] = false;
    }

    /** Posts the ideal send backlog when it changed: cwnd rounded up to a power of two, clamped. */
    void postIdealBacklog(TcpServiceClient client, TcpConnection c) {
        int limit = tcp.config().sendBufferBytes();
        int cwnd = Math.max(c.congestionWindow(), 1);
        int ideal = Math.min(Math.max(Integer.highestOneBit(cwnd - 1) << 1, MIN_IDEAL_BACKLOG), limit);
        if (ideal != idealBacklog[c.index]) {
            idealBacklog[c.index] = ideal;
            client.events.postConnectionEvent(EventType.SEND_BACKLOG, c.handle(), ideal);
        }
    }
}
