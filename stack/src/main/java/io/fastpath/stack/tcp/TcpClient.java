package io.fastpath.stack.tcp;

import io.fastpath.stack.shard.FlowOwner;
import java.util.List;

/**
 * What a provider needs of the stack's TCP: the requests and events of one application, whether its connections
 * live on one {@link TcpService} ({@link TcpServiceClient}) or on the shards of a port ({@link ShardedTcpClient}).
 * Handles come from this client's events; every request naming one goes to the shard the handle carries
 * ({@link TcpService#shardOf}). See {@link TcpServiceClient} for what each request does.
 *
 * <p>Threads: as {@link TcpServiceClient}; a sharded client also wants {@link #listen} and {@link #pollEvents}
 * on one thread (the provider's dispatch thread), since it merges the shards' listen outcomes there.
 */
public interface TcpClient {
    /**
     * A client over {@code shards} (shard {@code i}'s service at index {@code i}, each made with its shard id):
     * with one shard, that service's own {@link TcpServiceClient} (today's path, nothing in between); with more, a
     * {@link ShardedTcpClient} routing by {@code owner}. Allocates: call at start-up.
     */
    static TcpClient open(List<TcpService> shards, FlowOwner owner) {
        if (shards.size() == 1 && shards.get(0).shard() == 0) {
            return shards.get(0).newClient();
        }
        return new ShardedTcpClient(shards, owner);
    }

    /**
     * Opens a connection from {@code localIp} (0 = the stack's):{@code localPort} (0 = ephemeral). The data at
     * {@code address} is read later (up to onConnectComplete): its owner must stay reachable until then.
     */
    boolean connect(long requestId, int localIp, int localPort, int remoteIp, int remotePort, long address,
                    int length, boolean fastOpen, long socketOptions);

    /** As above with the default options. */
    default boolean connect(long requestId, int localIp, int localPort, int remoteIp, int remotePort, long address,
                            int length, boolean fastOpen) {
        return connect(requestId, localIp, localPort, remoteIp, remotePort, address, length, fastOpen,
            TcpSocketOptions.DEFAULTS);
    }

    /**
     * A position after the last connect's record (and the requests before it on its ring): {@link #requestsTaken}
     * says when the stack has read it. Sharded, the position names its shard too ({@link #positionShard}).
     */
    long requestPosition();

    /** True once the stack has taken every request before {@code position} ({@link #requestPosition()}). */
    boolean requestsTaken(long position);

    /** Which shard's ring a {@link #requestPosition()} is on: positions of one shard only compare (0 unsharded). */
    default int positionShard(long position) {
        return 0;
    }

    /** Listens on a port (on every shard); one onListenComplete follows. */
    boolean listen(int port, long socketOptions);

    default boolean listen(int port) {
        return listen(port, TcpSocketOptions.DEFAULTS);
    }

    /** Stops listening on a port (on every shard). */
    boolean stopListening(int port);

    /**
     * Sends the native memory at {@code address}, read until onSendComplete: the memory must stay valid and its
     * owner (a direct ByteBuffer, an arena) reachable until then ({@link TcpServiceClient#send}).
     */
    boolean send(long handle, long requestId, long address, int length);

    /** As {@link #send}, as urgent data. */
    boolean sendUrgent(long handle, long requestId, long address, int length);

    boolean noDelay(long handle, boolean on);

    boolean keepAlive(long handle, boolean on, long idleNs, long intervalNs, int count);

    boolean options(long handle, long socketOptions);

    boolean shutdown(long handle);

    boolean abort(long handle);

    boolean acceptRequest(long handle);

    boolean rejectRequest(long handle);

    /** Returns a received mbuf to the shard it came from. */
    boolean release(long handle, long mbuf, int length);

    /** Whether a shard's TCP memory is short. */
    boolean memoryPressure();

    /** Delivers events to {@code handler} (one application thread). Returns how many. */
    int pollEvents(TcpEventHandler handler);

    /** Ends the client on every shard ({@link TcpServiceClient#close}). */
    void close();

    /** False from {@link #close} on. */
    boolean isOpen();

    /** True once every shard has carried out {@link #close}. */
    boolean isClosed();
}
