package io.fastpath.stack.tcp;

import io.fastpath.stack.NtStatus;
import io.fastpath.stack.shard.FlowOwner;
import java.util.List;
import org.agrona.DirectBuffer;
import org.agrona.collections.Int2IntHashMap;
import org.agrona.collections.IntArrayList;
import org.agrona.collections.Long2LongHashMap;
import org.agrona.collections.LongArrayList;

/**
 * One application over the N shards of a port (issue 12): a {@link TcpServiceClient} per shard's
 * {@link TcpService}, and the routing between them, so a provider reaches any connection without knowing its
 * shard.
 * <ul>
 * <li>A request or release naming a handle goes to the shard in the handle's bits ({@link TcpService#shardOf}):
 *     no lookup. A handle naming no shard of this client goes to shard 0, which refuses and counts it.</li>
 * <li>A connect from a given local port goes to the shard that owns the flow ({@link FlowOwner}); from an
 *     ephemeral port to the shards in turn (the shard's TCP picks a port its flow maps back to it).</li>
 * <li>A listen goes to every shard (a connection may arrive on any); it succeeds only if every shard's does,
 *     else the shards that opened the port close it again and the first failure is what the application hears,
 *     in one onListenComplete. A stop goes to every shard.</li>
 * <li>{@link #pollEvents} polls each shard's event ring, starting one further each call (fair).</li>
 * </ul>
 *
 * <p>Threads: requests from any thread, except {@link #listen} and {@link #stopListening} which, like
 * {@link #pollEvents}, run on the one event thread (the provider's dispatch thread): they share the listen
 * outcomes being merged. The connect turn and the last connect's shard are plain fields: another thread's connect may move them, which changes
 * the spread, never the routing of a handle. No allocation per request or event (listen outcomes are merged in
 * primitive maps sized by the ports listened on).
 */
public final class ShardedTcpClient implements TcpClient {
    /** The position's low bits name its shard ({@link #requestPosition}). */
    private static final int POSITION_SHARD_BITS = 6;
    private static final long POSITION_SHARD_MASK = (1L << POSITION_SHARD_BITS) - 1;
    /**
     * At most this many made-up ring-full answers wait for a shard's earlier answers ({@link #synthesized}). A
     * listen that could take the list past it is refused (false, as for a full ring; providers fail it with
     * STATUS_INSUFFICIENT_RESOURCES) and counted ({@link #listensRefused}): a caller spinning listen while a
     * stalled shard's ring is full cannot grow it (nor {@link #early}, fed by the other shards' answers to those
     * listens) without end.
     */
    static final int MAX_SYNTHESIZED = 256;

    private final TcpServiceClient[] shards;
    private final FlowOwner owner;
    private final int localAddress;
    private final long allShards;
    private int nextConnect;
    private int lastConnectShard;
    private int nextPoll;

    // Listen outcomes being merged (event thread): per port, the shards that answered and those that opened it.
    private final Long2LongHashMap listenAnswered = new Long2LongHashMap(0);
    private final Long2LongHashMap listenOpened = new Long2LongHashMap(0);
    private final Int2IntHashMap listenFailure = new Int2IntHashMap(NtStatus.STATUS_SUCCESS);
    /** Answers for a port's next listen that came before its current one was complete: port, shard, status. */
    private final LongArrayList early = new LongArrayList();
    /** Per port and shard ({@link #portShard}): listen requests on the shard's ring whose answer has not come. */
    private final Long2LongHashMap owed = new Long2LongHashMap(0);
    /**
     * Failures made up for a shard whose ring was full (port, shard, status), each waiting for the real answers the
     * shard owes to earlier listens on the port ({@link #synthesizedAfter}: how many more): a shard's answers are
     * taken in the order of its listens, so a made-up one must not be taken for an earlier listen's.
     */
    private final LongArrayList synthesized = new LongArrayList(MAX_SYNTHESIZED, Long.MIN_VALUE);
    private final IntArrayList synthesizedAfter = new IntArrayList(MAX_SYNTHESIZED, Integer.MIN_VALUE);
    /** Listens refused because {@link #synthesized} was at its bound. */
    private long listensRefused;
    /** Per port: listens asked and not yet complete (they complete in the order asked). */
    private final Int2IntHashMap listensOpen = new Int2IntHashMap(0);
    /**
     * Per port: how many of the oldest open listens a stopListening followed. Such a listen that fails on some shard
     * is not undone there: the application's stop, behind it on every shard's ring, closes what it opened, and a stop
     * sent when it completes could close a newer listen's port (the application's next listen, after its stop).
     */
    private final Int2IntHashMap listensStopped = new Int2IntHashMap(0);
    private final Relay relay = new Relay();

    /**
     * @param services shard {@code i}'s service at index {@code i}, each made with its shard id
     * @param owner    the port's flow-to-shard function (the same the shards steer segments by)
     */
    public ShardedTcpClient(List<TcpService> services, FlowOwner owner) {
        int n = services.size();
        if (n < 1 || n > TcpService.MAX_SHARDS) {
            throw new IllegalArgumentException(n + " shards: 1 to " + TcpService.MAX_SHARDS);
        }
        for (int i = 0; i < n; i++) {
            if (services.get(i).shard() != i) {
                throw new IllegalArgumentException("the service at index " + i + " is shard "
                    + services.get(i).shard());
            }
        }
        this.owner = java.util.Objects.requireNonNull(owner);
        this.shards = new TcpServiceClient[n];
        try {
            for (int i = 0; i < n; i++) {
                shards[i] = services.get(i).newClient();
            }
        } catch (RuntimeException e) {
            // One shard had no room for another client: the places taken on the others are given back.
            for (TcpServiceClient made : shards) {
                if (made != null) {
                    made.close();
                }
            }
            throw e;
        }
        this.localAddress = services.get(0).localAddress();
        this.allShards = n == 64 ? -1L : (1L << n) - 1;
    }

    /** How many shards. */
    public int shardCount() {
        return shards.length;
    }

    /** Shard {@code i}'s own client (tests, diagnostics). */
    public TcpServiceClient shard(int i) {
        return shards[i];
    }

    /** The client of the shard a handle names (shard 0, which refuses it, for a shard this client lacks). */
    private TcpServiceClient on(long handle) {
        int s = TcpService.shardOf(handle);
        return s < shards.length ? shards[s] : shards[0];
    }

    // ================================================================ requests

    @Override
    public boolean connect(long requestId, int localIp, int localPort, int remoteIp, int remotePort, long address,
                           int length, boolean fastOpen, long socketOptions) {
        int s;
        if (localPort != 0) {
            s = owner.shardOf(localIp != 0 ? localIp : localAddress, localPort, remoteIp, remotePort);
            if (s < 0 || s >= shards.length) {
                throw new IllegalStateException("flow owner named shard " + s + " of " + shards.length);
            }
        } else {
            s = nextConnect;
            nextConnect = s + 1 == shards.length ? 0 : s + 1;
        }
        lastConnectShard = s;
        return shards[s].connect(requestId, localIp, localPort, remoteIp, remotePort, address, length, fastOpen,
            socketOptions);
    }

    /** The last connect's shard's request position, with the shard in the low bits. */
    @Override
    public long requestPosition() {
        int s = lastConnectShard;
        return shards[s].requestPosition() << POSITION_SHARD_BITS | s;
    }

    @Override
    public boolean requestsTaken(long position) {
        return shards[positionShard(position)].requestsTaken(position >>> POSITION_SHARD_BITS);
    }

    @Override
    public int positionShard(long position) {
        return (int) (position & POSITION_SHARD_MASK);
    }

    /**
     * Listens on every shard. False (nothing asked) when shard 0's ring is full; when a later shard's is, that
     * shard and those after it count as having answered STATUS_INSUFFICIENT_RESOURCES (in their turn: after their
     * answers to earlier listens on the port), so the listen fails as a whole once the others answered. Also false
     * (nothing asked, counted in {@link #listensRefused}) while {@link #MAX_SYNTHESIZED} made-up answers could be
     * reached by this one. Event thread.
     */
    @Override
    public boolean listen(int port, long socketOptions) {
        if (synthesized.size() > MAX_SYNTHESIZED - shards.length) {
            listensRefused++;
            return false;
        }
        if (!shards[0].listen(port, socketOptions)) {
            return false;
        }
        owed.put(portShard(port, 0), owed.get(portShard(port, 0)) + 1);
        listensOpen.put(port, listensOpen.get(port) + 1);
        for (int s = 1; s < shards.length; s++) {
            if (!shards[s].listen(port, socketOptions)) {
                for (int t = s; t < shards.length; t++) {
                    synthesize(port, t, NtStatus.STATUS_INSUFFICIENT_RESOURCES);
                }
                break;
            }
            owed.put(portShard(port, s), owed.get(portShard(port, s)) + 1);
        }
        return true;
    }

    /**
     * Shard {@code shard} answers this listen with {@code status} without having been asked: at once if it owes no
     * answer to an earlier listen on the port, else right after the last of those (see {@link #realAnswer}).
     */
    private void synthesize(int port, int shard, int status) {
        int before = (int) owed.get(portShard(port, shard));
        if (before == 0) {
            answer(port, shard, status);
        } else {
            synthesized.addLong(encode(port, shard, status));
            synthesizedAfter.addInt(before);
        }
    }

    /** A shard's real answer to its oldest open listen on the port, then the made-up answers due after it. */
    private void realAnswer(int port, int shard, int status) {
        long key = portShard(port, shard);
        long left = owed.get(key) - 1;
        if (left > 0) {
            owed.put(key, left);
        } else {
            owed.remove(key);
        }
        answer(port, shard, status);
        for (int i = 0; i < synthesized.size(); ) {
            long e = synthesized.getLong(i);
            if ((int) (e >>> 48) == port && ((int) (e >>> 32) & 0xFFFF) == shard) {
                int after = synthesizedAfter.getInt(i) - 1;
                if (after == 0) {
                    synthesized.removeAt(i);
                    synthesizedAfter.removeAt(i);
                    answer(port, shard, (int) e);
                    continue;
                }
                synthesizedAfter.setInt(i, after);
            }
            i++;
        }
    }

    /** Listens refused because too many made-up ring-full answers were waiting (event thread's view). */
    public long listensRefused() {
        return listensRefused;
    }

    /** Made-up ring-full answers waiting for a shard's earlier answers (tests, diagnostics; event thread). */
    int synthesizedWaiting() {
        return synthesized.size();
    }

    private static long portShard(int port, int shard) {
        return (long) port << POSITION_SHARD_BITS | shard;
    }

    /** Stops listening on every shard. Event thread (it takes part in merging the port's listen outcomes). */
    @Override
    public boolean stopListening(int port) {
        int open = listensOpen.get(port);
        if (open > 0) {
            listensStopped.put(port, open); // every listen open now: the application stopped what it opens
        }
        boolean all = true;
        for (TcpServiceClient c : shards) {
            all &= c.stopListening(port);
        }
        return all;
    }

    @Override
    public boolean send(long handle, long requestId, long address, int length) {
        return on(handle).send(handle, requestId, address, length);
    }

    @Override
    public boolean sendUrgent(long handle, long requestId, long address, int length) {
        return on(handle).sendUrgent(handle, requestId, address, length);
    }

    @Override
    public boolean noDelay(long handle, boolean on) {
        return on(handle).noDelay(handle, on);
    }

    @Override
    public boolean keepAlive(long handle, boolean on, long idleNs, long intervalNs, int count) {
        return on(handle).keepAlive(handle, on, idleNs, intervalNs, count);
    }

    @Override
    public boolean options(long handle, long socketOptions) {
        return on(handle).options(handle, socketOptions);
    }

    @Override
    public boolean shutdown(long handle) {
        return on(handle).shutdown(handle);
    }

    @Override
    public boolean abort(long handle) {
        return on(handle).abort(handle);
    }

    @Override
    public boolean acceptRequest(long handle) {
        return on(handle).acceptRequest(handle);
    }

    @Override
    public boolean rejectRequest(long handle) {
        return on(handle).rejectRequest(handle);
    }

    @Override
    public boolean release(long handle, long mbuf, int length) {
        return on(handle).release(handle, mbuf, length);
    }

    @Override
    public boolean memoryPressure() {
        for (TcpServiceClient c : shards) {
            if (c.memoryPressure()) {
                return true;
            }
        }
        return false;
    }

    @Override
    public void close() {
        for (TcpServiceClient c : shards) {
            c.close();
        }
    }

    @Override
    public boolean isOpen() {
        for (TcpServiceClient c : shards) {
            if (!c.isOpen()) {
                return false;
            }
        }
        return true;
    }

    @Override
    public boolean isClosed() {
        for (TcpServiceClient c : shards) {
            if (!c.isClosed()) {
                return false;
            }
        }
        return true;
    }

    // ================================================================ events (event thread)

    @Override
    public int pollEvents(TcpEventHandler handler) {
        int n = shards.length;
        int start = nextPoll;
        nextPoll = start + 1 == n ? 0 : start + 1;
        relay.target = handler;
        int work = 0;
        for (int k = 0, s = start; k < n; k++, s = s + 1 == n ? 0 : s + 1) {
            relay.shard = s;
            work += shards[s].pollEvents(relay);
        }
        return work;
    }

    /** One shard's listen outcome for {@code port}; the last shard's completes the listen. */
    private void answer(int port, int shard, int status) {
        if ((listenAnswered.get(port) & 1L << shard) != 0) {
            // The shard answers the port's next listen before the others answered this one: it waits its turn.
            early.addLong(encode(port, shard, status));
            return;
        }
        if (apply(port, shard, status)) {
            replayEarly(port);
        }
    }

    /** Takes a shard's answer to the port's open listen; true when it completed the listen (and told the target). */
    private boolean apply(int port, int shard, int status) {
        long bit = 1L << shard;
        long answered = listenAnswered.get(port) | bit;
        if (status == NtStatus.STATUS_SUCCESS) {
            listenOpened.put(port, listenOpened.get(port) | bit);
        } else if (listenFailure.get(port) == NtStatus.STATUS_SUCCESS) {
            listenFailure.put(port, status);
        }
        if (answered != allShards) {
            listenAnswered.put(port, answered);
            return false;
        }
        listenAnswered.remove(port);
        long opened = listenOpened.remove(port);
        int failure = listenFailure.remove(port);
        boolean stopped = countDown(listensStopped, port);
        countDown(listensOpen, port);
        if (failure != NtStatus.STATUS_SUCCESS && !stopped) {
            // Not on every shard: the shards that opened the port close it again (a TcpServiceClient takes a stop
            // whatever its ring holds; it refuses one only once closing, and its close stops its listeners).
            for (long bits = opened; bits != 0; bits &= bits - 1) {
                shards[Long.numberOfTrailingZeros(bits)].stopListening(port);
            }
        }
        relay.target.onListenComplete(port, failure);
        return true;
    }

    /**
     * Answers that waited for {@code port}'s previous listen to complete, in order: each shard's earliest one
     * whose shard has not answered the open listen yet; after a listen completes, from the start again.
     */
    private void replayEarly(int port) {
        for (int i = 0; i < early.size(); ) {
            long e = early.getLong(i);
            int shard = (int) (e >>> 32) & 0xFFFF;
            if ((int) (e >>> 48) == port && (listenAnswered.get(port) & 1L << shard) == 0) {
                early.removeAt(i);
                if (apply(port, shard, (int) e)) {
                    i = 0;
                }
            } else {
                i++;
            }
        }
    }

    /** Takes one off the port's count; whether there was one. */
    private static boolean countDown(Int2IntHashMap counts, int port) {
        int n = counts.get(port);
        if (n == 0) {
            return false;
        }
        if (n == 1) {
            counts.remove(port);
        } else {
            counts.put(port, n - 1);
        }
        return true;
    }

    private static long encode(int port, int shard, int status) {
        return (long) port << 48 | (long) shard << 32 | (status & 0xFFFF_FFFFL);
    }

    /** Passes every event on to the application's handler, merging the shards' listen outcomes. */
    private final class Relay implements TcpEventHandler {
        TcpEventHandler target;
        int shard;

        @Override
        public void onConnectComplete(long requestId, long handle, int status) {
            target.onConnectComplete(requestId, handle, status);
        }

        @Override
        public void onListenComplete(int port, int status) {
            realAnswer(port, shard, status);
        }

        @Override
        public void onConnectRequest(int listenPort, long handle, int remoteIp, int remotePort, DirectBuffer synData,
                                     int offset, int length) {
            target.onConnectRequest(listenPort, handle, remoteIp, remotePort, synData, offset, length);
        }

        @Override
        public void onAccepted(int listenPort, long handle, int remoteIp, int remotePort) {
            target.onAccepted(listenPort, handle, remoteIp, remotePort);
        }

        @Override
        public void onAccepted(int listenPort, long handle, int remoteIp, int remotePort, int synDataBytes) {
            target.onAccepted(listenPort, handle, remoteIp, remotePort, synDataBytes);
        }

        @Override
        public void onUrgentData(long handle, DirectBuffer buffer, int offset, int length) {
            target.onUrgentData(handle, buffer, offset, length);
        }

        @Override
        public void onReceive(long handle, long mbuf, long address, int length) {
            target.onReceive(handle, mbuf, address, length);
        }

        @Override
        public void onSendComplete(long requestId, long handle, int bytes, int status) {
            target.onSendComplete(requestId, handle, bytes, status);
        }

        @Override
        public void onShutdownComplete(long handle) {
            target.onShutdownComplete(handle);
        }

        @Override
        public void onIdealSendBacklog(long handle, int bytes) {
            target.onIdealSendBacklog(handle, bytes);
        }

        @Override
        public void onPeerClosed(long handle) {
            target.onPeerClosed(handle);
        }

        @Override
        public void onClosed(long handle, int status) {
            target.onClosed(handle, status);
        }
    }
}
