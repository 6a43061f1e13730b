package io.fastpath.netty;

import io.fastpath.stack.NtStatus;
import io.netty.channel.AbstractServerChannel;
import io.netty.channel.ChannelPromise;
import io.netty.channel.EventLoop;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoRegistration;
import io.netty.channel.socket.ServerSocketChannel;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.ArrayDeque;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;

/**
 * A listening port of a fastpath stack as a Netty {@link ServerSocketChannel}. {@code bind} asks the stack to listen
 * (and waits on the event loop, running the stack, for its answer); each connection the stack accepts is read as a
 * {@link FastpathSocketChannel}, as Netty's acceptor expects. Children must use the same
 * {@link FastpathEventLoopGroup}: their connection belongs to this stack.
 *
 * <p>With several queues ({@code --queues N}) the channel lives on one loop (its home) and listens on every shard: a
 * SYN lands on the shard its flow belongs to, that shard's loop makes the child channel and hands it here for the
 * pipeline (Netty's acceptor), and the group registers it back on that shard's loop ({@link
 * FastpathEventLoopGroup#register}). {@code bind} returns once every shard listens; {@code close} stops every shard's
 * listener and lets go of the port once all have.
 */
public final class FastpathServerSocketChannel extends AbstractServerChannel implements ServerSocketChannel {
    private final FastpathServerSocketChannelConfig config = new FastpathServerSocketChannelConfig(this);
    private final Handle ioHandle = new Handle();
    private FastpathIoHandler io;
    private IoRegistration registration;
    /** Read by the shards' loops when they accept (a closed server's connections are reset). */
    private volatile boolean open = true;
    private boolean listening;
    /** Read by the shards' loops at shutdown. */
    private volatile int port;
    private InetSocketAddress local;
    private final ArrayDeque<FastpathSocketChannel> accepted = new ArrayDeque<>();
    private boolean readPending;
    private boolean drainQueued;
    /** Each shard's answer to this channel's listen ({@link NtStatus#STATUS_PENDING} until it comes). */
    private volatile AtomicIntegerArray shardStatus;
    private static final long LISTEN_WAIT_NS = TimeUnit.SECONDS.toNanos(2);

    public FastpathServerSocketChannel() {
    }

    @Override
    public FastpathServerSocketChannelConfig config() {
        return config;
    }

    @Override
    public boolean isOpen() {
        return open;
    }

    @Override
    public boolean isActive() {
        return open && listening;
    }

    @Override
    public InetSocketAddress localAddress() {
        return (InetSocketAddress) super.localAddress();
    }

    @Override
    public InetSocketAddress remoteAddress() {
        return null;
    }

    @Override
    protected SocketAddress localAddress0() {
        return local;
    }

    @Override
    protected boolean isCompatible(EventLoop loop) {
        return loop instanceof IoEventLoop l && l.isCompatible(Handle.class);
    }

    @Override
    protected void doRegister(ChannelPromise promise) {
        ((IoEventLoop) eventLoop()).register(ioHandle).addListener(f -> {
            if (f.isSuccess()) {
                registration = (IoRegistration) f.getNow();
                io = registration.attachment();
                promise.setSuccess();
            } else {
                promise.setFailure(f.cause());
            }
        });
    }

    @Override
    protected void doDeregister() {
        IoRegistration r = registration;
        if (r != null) {
            registration = null;
            r.cancel();
        }
    }

    @Override
    protected void doBind(SocketAddress localAddress) throws Exception {
        if (listening) {
            throw new java.nio.channels.AlreadyBoundException(); // as NIO: a second port would be held and lost
        }
        InetSocketAddress a = (InetSocketAddress) localAddress;
        // Stops queued for this shard by a close made just before (its last one lets the port go) come first.
        io.runShardRequestsNow();
        int p = LocalBinds.take(io, a, config.isReuseAddress());
        if (!io.claimListenPort(p, this)) {
            // SO_REUSEADDR let the port be shared with its connections; a second listener would split (or steal)
            // its SYNs: refused, as Linux refuses a second listen without SO_REUSEPORT.
            io.stack.ports().free(p);
            throw new BindException("address already in use: " + a + " has a listener (SO_REUSEADDR shares a port"
                + " with connections, not with another listener; " + Status.name(NtStatus.STATUS_SHARING_VIOLATION)
                + ")");
        }
        port = p;
        int status;
        try {
            status = listenEverywhere(p);
        } catch (RuntimeException | Error e) {
            stopEverywhere(p); // a duty cycle that threw while the bind waited: the port and listens go too
            throw e;
        }
        if (status != NtStatus.STATUS_SUCCESS && status != NtStatus.STATUS_PENDING) {
            stopEverywhere(p);
            throw new BindException("listen on port " + p + " failed (" + Status.name(status) + ")");
        }
        listening = true;
        local = Status.socketAddress(io.stackAddress(), p);
    }

    /**
     * Asks every shard to listen on {@code p} (this loop's at once, the others on their loops) and waits, running
     * this loop's stack, until all have answered; from inside an event it cannot wait: PENDING, and a failure
     * closes the channel later ({@link #listenFailed}).
     */
    private int listenEverywhere(int p) {
        int n = io.shards();
        AtomicIntegerArray statuses = new AtomicIntegerArray(n);
        for (int q = 0; q < n; q++) {
            statuses.set(q, NtStatus.STATUS_PENDING);
        }
        shardStatus = statuses;
        long options = config.socketOptions();
        for (int q = 0; q < n; q++) {
            FastpathIoHandler shard = io.shard(q);
            if (!shard.requestOnShard(() -> shard.listenShard(this, p, options))) {
                statuses.set(q, NtStatus.STATUS_INVALID_DEVICE_STATE);
            }
        }
        if (io.inEvents()) {
            return listenStatus(statuses);
        }
        long deadline = System.nanoTime() + LISTEN_WAIT_NS;
        int status;
        while ((status = listenStatus(statuses)) == NtStatus.STATUS_PENDING) {
            if (System.nanoTime() - deadline > 0) {
                return NtStatus.STATUS_IO_TIMEOUT;
            }
            io.runOnce();
            if (n > 1) {
                Thread.onSpinWait();
            }
        }
        return status;
    }

    /** The first failure among the shards' answers, else PENDING while any is missing, else SUCCESS. */
    private static int listenStatus(AtomicIntegerArray statuses) {
        int result = NtStatus.STATUS_SUCCESS;
        for (int q = 0; q < statuses.length(); q++) {
            int s = statuses.get(q);
            if (s != NtStatus.STATUS_SUCCESS && s != NtStatus.STATUS_PENDING) {
                return s;
            }
            if (s == NtStatus.STATUS_PENDING) {
                result = NtStatus.STATUS_PENDING;
            }
        }
        return result;
    }

    /** Shard {@code shard}'s answer to the listen (that shard's loop). */
    void shardListened(int shard, int status) {
        AtomicIntegerArray statuses = shardStatus;
        if (statuses != null) {
            statuses.set(shard, status);
        }
        if (status != NtStatus.STATUS_SUCCESS) {
            if (eventLoop().inEventLoop()) {
                listenFailed(status);
            } else {
                try {
                    eventLoop().execute(() -> listenFailed(status));
                } catch (RejectedExecutionException e) {
                    // this channel's loop is gone: it closed the channel on its way out
                }
            }
        }
    }

    /**
     * Stops every shard's listener on {@code p} (each on its loop) and lets go of the port once all have, so that a
     * new bind of the port cannot reach a shard before its old listener is gone.
     */
    private void stopEverywhere(int p) {
        int n = io.shards();
        AtomicInteger remaining = new AtomicInteger(n);
        for (int q = 0; q < n; q++) {
            FastpathIoHandler shard = io.shard(q);
            Runnable stop = () -> {
                shard.stopListening(this, p);
                if (remaining.decrementAndGet() == 0) {
                    letGo(shard, p);
                }
            };
            // On the queue the bind's listens took (FIFO): a listen still queued there runs first, then this stop.
            if (!shard.requestOnShard(stop) && remaining.decrementAndGet() == 0) {
                letGo(shard, p); // that loop is going (its listeners with it)
            }
        }
    }

    /** No shard listens for this channel any more: another may listen on the port, then anyone may take it. */
    private void letGo(FastpathIoHandler shard, int p) {
        shard.releaseListenPort(p, this);
        shard.stack.ports().free(p);
    }

    /** The loop's handler this channel lives on. */
    FastpathIoHandler home() {
        return io;
    }

    /** The port it listens on (0 before bind). */
    int port() {
        return port;
    }

    @Override
    protected void doClose() {
        if (!open) {
            return;
        }
        open = false;
        if (listening) {
            listening = false;
            stopEverywhere(port);
        }
        FastpathSocketChannel c;
        while ((c = accepted.poll()) != null) {
            closeChild(c);
        }
    }

    /** Closes a child on its own loop (a shard's, maybe not this channel's). */
    private static void closeChild(FastpathSocketChannel c) {
        FastpathIoHandler shard = c.handler();
        if (!shard.runOnLoop(c::closeFromLoop)) {
            c.closeFromLoop(); // its loop is gone: nothing else touches it
        }
    }

    @Override
    protected void doBeginRead() {
        readPending = true;
        if (!accepted.isEmpty()) {
            queueDrain();
        }
    }

    /** A shard refused the listen after bind returned (a bind made from inside an event). This channel's loop. */
    void listenFailed(int status) {
        if (listening) {
            pipeline().fireExceptionCaught(new BindException("listen on port " + port + " failed ("
                + Status.name(status) + ")"));
            unsafe().close(unsafe().voidPromise()); // stops the other shards' listeners, frees the port
        }
    }

    /** A connection a shard accepted (on that shard's loop): queued here for the pipeline, on this loop. */
    void accepted(FastpathSocketChannel child) {
        if (child.handler() == io) {
            acceptedHere(child);
            return;
        }
        try {
            eventLoop().execute(() -> acceptedHere(child));
        } catch (RejectedExecutionException e) {
            child.closeFromLoop(); // this channel's loop is gone (the group is shutting down)
        }
    }

    private void acceptedHere(FastpathSocketChannel child) {
        if (!open) {
            closeChild(child);
            return;
        }
        accepted.add(child);
        if (readPending) {
            queueDrain();
        }
    }

    private void queueDrain() {
        if (!drainQueued) {
            drainQueued = true;
            io.drainLater(this);
        }
    }

    /** Hands accepted connections to the pipeline (ServerBootstrap's acceptor registers them). */
    void drain() {
        drainQueued = false;
        if (!readPending || !open || accepted.isEmpty()) {
            return;
        }
        FastpathSocketChannel c;
        while (readPending && (c = accepted.poll()) != null) {
            pipeline().fireChannelRead(c);
        }
        if (!config.isAutoRead()) {
            readPending = false;
        }
        pipeline().fireChannelReadComplete();
    }

    private final class Handle implements FastpathIoHandle {
        @Override
        public void close() {
            unsafe().close(unsafe().voidPromise());
        }
    }
}
