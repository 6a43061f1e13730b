package io.fastpath.netty;

import io.fastpath.stack.NtStatus;
import io.fastpath.stack.tcp.TcpService;
import io.netty.buffer.ByteBuf;
import io.netty.channel.AbstractChannel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelMetadata;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.ChannelPromise;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.EventLoop;
import io.netty.channel.FileRegion;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoRegistration;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.ChannelInputShutdownReadComplete;
import io.netty.channel.socket.ServerSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.util.concurrent.Future;
import io.netty.util.internal.StringUtil;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.AlreadyConnectedException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ConnectionPendingException;
import java.nio.channels.UnresolvedAddressException;
import java.nio.channels.WritableByteChannel;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;

/**
 * A TCP connection of a fastpath stack as a Netty {@link SocketChannel}: made by {@code Bootstrap.connect} or
 * accepted by a {@link FastpathServerSocketChannel}. Everything runs on its event loop, the stack's poll thread.
 *
 * <p>Reads: each segment the stack hands over becomes one {@code channelRead} of a {@link ByteBuf} over its mbuf
 * (zero copy, {@link MbufByteBuf}); a turn of the loop ends with one {@code channelReadComplete}. With auto-read off
 * the buffers wait (their bytes still count against the window) until {@code read()}.
 *
 * <p>Writes: each flushed {@link ByteBuf} is one send request naming its memory; the stack copies it once into the
 * connection's send buffer as room frees up and then completes it, and only then does the write's promise complete
 * and the buffer go back. Heap buffers are first copied to a direct one, as Netty's epoll transport does. At most
 * {@value #MAX_IN_FLIGHT} sends per connection are with the stack at once; the rest wait in Netty's outbound
 * buffer. A {@link FileRegion} (there is no sendfile: no file descriptor to send to) is read, once it is the
 * head, in chunks of {@value InFlightSends#REGION_CHUNK} bytes into direct buffers, each sent as above; its promise
 * sees each chunk's progress and completes with the last.
 *
 * <p>Writability follows the whole send backlog: the bytes in Netty's outbound buffer (not yet copied by the stack)
 * plus the bytes in the connection's send buffer that the peer has not acknowledged yet (read from the stack on
 * this thread, its poll thread). Netty's own flag covers the first; user-defined writability bit
 * {@value #BACKLOG_WRITABILITY_BIT} turns false when the sum passes the high water mark and true again once it is
 * below the low one, so a peer that stops acknowledging makes the channel unwritable even when every write has
 * been copied. While the bit is false the event loop re-reads the backlog each turn.
 */
public final class FastpathSocketChannel extends AbstractChannel implements SocketChannel {
    private static final ChannelMetadata METADATA = new ChannelMetadata(false, 16);
    /** Sends per connection handed to the stack at once (it queues 16 per connection). */
    static final int MAX_IN_FLIGHT = 8;
    /** The user-defined writability bit (Netty allows 1 to 31) that the stack's send buffer drives. */
    static final int BACKLOG_WRITABILITY_BIT = 31;

    private final FastpathSocketChannelConfig config;
    private final Handle ioHandle = new Handle();
    private FastpathIoHandler io;
    private IoRegistration registration;

    /** The stack's connection: 0 until connected; kept after close until the stack reports it closed. */
    private long handle;
    /** Written by whichever thread Netty closes the channel on (its loop's, or another group's that refused it). */
    private volatile boolean open = true;
    /** The close's work on the loop (the stack's close, the input released) is done. */
    private boolean closedOnLoop;
    private boolean active;
    private boolean inputShutdown;
    private boolean outputShutdown;
    private boolean stackClosed;
    /** Its place on its loop's {@link Orphans} once closed in FIN-WAIT-2 ({@link FastpathIoHandler#orphaned}). */
    final Orphans.Node orphanNode = new Orphans.Node(this);
    private InetSocketAddress local;
    private InetSocketAddress remote;
    /** The local port this channel took in the stack's port table (bind or connect), freed when it closes. */
    private final LocalBinds localPort = new LocalBinds();

    private ChannelPromise connectPromise;
    /** The connect request with the stack, until its outcome (0: none). */
    private long connectRequest;
    private Future<?> connectTimeout;
    private ByteBuf fastOpenData;

    private final ArrayDeque<ByteBuf> input = new ArrayDeque<>();
    private boolean readPending;
    private boolean readThisTurn;
    private boolean drainQueued;
    private boolean peerClosedPending;
    private boolean closeAfterInput;

    private final InFlightSends inFlight = new InFlightSends();
    private boolean writeQueued;
    private final ChannelOutboundBuffer.MessageProcessor submitter = this::submit;
    private final ChunkTarget regionTarget = new ChunkTarget();
    /** On the event loop's list of channels whose backlog it re-reads each turn (FastpathIoHandler's). */
    boolean backlogWatched;
    /** Options on the live connection. */
    final FastpathConnectionOptions options = new FastpathConnectionOptions(this);

    /** A channel for {@code Bootstrap.channel(FastpathSocketChannel.class)}. */
    public FastpathSocketChannel() {
        super(null);
        this.config = new FastpathSocketChannelConfig(this);
    }

    /** An accepted connection. */
    FastpathSocketChannel(FastpathServerSocketChannel parent, FastpathIoHandler io, long handle,
                          InetSocketAddress local, InetSocketAddress remote) {
        super(parent);
        this.config = new FastpathSocketChannelConfig(this);
        this.io = io;
        this.handle = handle;
        this.local = local;
        this.remote = remote;
        this.active = true;
        // Netty's sockets start with TCP_NODELAY; child options may change it once the acceptor applies them.
        io.client.noDelay(handle, true);
    }

    // ================================================================ Channel

    @Override
    public FastpathSocketChannelConfig config() {
        return config;
    }

    @Override
    public ChannelMetadata metadata() {
        return METADATA;
    }

    @Override
    public boolean isOpen() {
        return open;
    }

    @Override
    public boolean isActive() {
        return open && active;
    }

    @Override
    public ServerSocketChannel parent() {
        return (ServerSocketChannel) super.parent();
    }

    @Override
    public InetSocketAddress localAddress() {
        return (InetSocketAddress) super.localAddress();
    }

    @Override
    public InetSocketAddress remoteAddress() {
        return (InetSocketAddress) super.remoteAddress();
    }

    @Override
    protected SocketAddress localAddress0() {
        return local;
    }

    @Override
    protected SocketAddress remoteAddress0() {
        return remote;
    }

    /**
     * A fastpath loop for a new channel; for an accepted one, any loop: it can only live on the loop of the shard
     * that accepted it, and {@link #doRegister} refuses every other with a message saying so (Netty's own refusal
     * names only the loop's class).
     */
    @Override
    protected boolean isCompatible(EventLoop loop) {
        return io != null && parent() != null || loop instanceof IoEventLoop l && l.isCompatible(Handle.class);
    }

    @Override
    protected AbstractUnsafe newUnsafe() {
        return new FastpathUnsafe();
    }

    @Override
    protected void doRegister(ChannelPromise promise) {
        if (io != null && eventLoop() != io.loop) {
            // An accepted connection registered through another group (group(boss, worker) with a worker that is
            // not this one): its stack, its events and its buffers are its shard's loop's. Netty then closes it
            // (doClose, which hands the close to that loop).
            promise.setFailure(new IllegalStateException("a fastpath connection can only live on the event loop of"
                + " the stack shard it belongs to (an accepted one: the shard that accepted it), not on another loop ("
                + eventLoop().getClass().getSimpleName() + "): give ServerBootstrap the same FastpathEventLoopGroup as"
                + " parent and child group (group(g) or group(g, g))"));
            return;
        }
        ((IoEventLoop) eventLoop()).register(ioHandle).addListener(f -> {
            if (!f.isSuccess()) {
                promise.setFailure(f.cause());
                return;
            }
            IoRegistration r = (IoRegistration) f.getNow();
            FastpathIoHandler h = r.attachment();
            if (io != null && io != h) {
                r.cancel();
                promise.setFailure(new IllegalStateException("an accepted connection lives on the loop of the stack"
                    + " shard that accepted it: use the same FastpathEventLoopGroup as parent and child group"
                    + " (group(g) or group(g, g)), and register it through the group (its register picks that loop)"));
                return;
            }
            registration = r;
            io = h;
            promise.setSuccess();
            if (!input.isEmpty()) {
                queueDrain();
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
        localPort.bind(io, (InetSocketAddress) localAddress, config.isReuseAddress());
        localChanged();
    }

    @SuppressWarnings("deprecation") // Netty's only way to forget the local address it cached
    private void localChanged() {
        local = Status.socketAddress(io.stackAddress(), localPort.port);
        invalidateLocalAddress(); // Netty keeps the address it read last
    }

    @Override
    protected void doDisconnect() {
        doClose();
    }

    @Override
    protected void doClose() {
        open = false; // Netty checks isOpen() as soon as doClose returns
        if (io != null && !io.inEventLoop() && io.runOnLoop(this::closeOnLoop)) {
            // Netty closes an accepted channel whose registration failed on the loop it tried (another group's):
            // the connection, its input and its buffers are its shard loop's, so the rest happens there.
            return;
        }
        closeOnLoop();
    }

    /** Closes the connection and releases what the channel holds, once. Its loop (or after its loop is gone). */
    private void closeOnLoop() {
        if (closedOnLoop) {
            return;
        }
        closedOnLoop = true;
        if (connectTimeout != null) {
            connectTimeout.cancel(false);
            connectTimeout = null;
        }
        ChannelPromise p = connectPromise;
        if (p != null) {
            connectPromise = null;
            p.tryFailure(new ClosedChannelException());
        }
        if (connectRequest == 0 || stackClosed) {
            // Else a connect is with the stack, whose record may carry the Fast Open data's address, read when the
            // stack takes it (a connect that queued on the request ring): the data goes at the connect's outcome.
            releaseFastOpenData();
        }
        releaseInput();
        inFlight.dropPendingChunk(); // read, never handed over: Netty fails the region with the rest
        if (handle != 0 && !stackClosed) {
            if (config.getSoLinger() == 0) {
                io.client.abort(handle);
            } else if (!outputShutdown) {
                io.client.shutdown(handle); // FIN after the sends already with the stack
            } else if (orphanNode.finAcknowledged) {
                io.orphaned(this); // half-closed before, FIN acknowledged: nobody reads what the peer may send
            }
        } else if (handle == 0 && connectRequest == 0) {
            freePort(); // a connect in flight keeps its port until its outcome (the handler aborts it then)
        }
    }

    @Override
    protected void doShutdownOutput() {
        if (!outputShutdown) {
            outputShutdown = true;
            inFlight.dropPendingChunk();
            if (handle != 0 && !stackClosed) {
                io.client.shutdown(handle);
            }
        }
    }

    @Override
    protected void doBeginRead() {
        readPending = true;
        if (!input.isEmpty() || peerClosedPending) {
            queueDrain();
        }
    }

    void autoReadCleared() {
        readPending = false;
    }

    @Override
    protected Object filterOutboundMessage(Object msg) {
        if (msg instanceof ByteBuf buf) {
            if (buf.isDirect() && (buf.hasMemoryAddress() || buf.nioBufferCount() == 1)) {
                return buf;
            }
            return InFlightSends.directCopy(alloc(), buf);
        }
        if (msg instanceof FileRegion) {
            return msg;
        }
        throw new UnsupportedOperationException("unsupported message type: " + StringUtil.simpleClassName(msg)
            + " (expected: ByteBuf or FileRegion)");
    }

    @Override
    protected void doWrite(ChannelOutboundBuffer in) throws Exception {
        if (handle == 0 || stackClosed || outputShutdown) {
            return;
        }
        if (inFlight.isEmpty()) {
            inFlight.removeEmptyHeads(in);
        }
        inFlight.startPass();
        // The sends of one flush leave in one transmit burst (and small ones coalesce, as their request records did
        // when one duty cycle read them all): on the loop thread they are direct calls, each of which would
        // otherwise output at once. Inside the loop's turn of events the output is held already (a nested count).
        TcpService service = io.stack.tcpService();
        boolean held = service.holdOutput();
        try {
            in.forEachFlushedMessage(submitter);
        } finally {
            service.releaseOutput(held);
        }
        Throwable failure = inFlight.reportRegionFailure();
        if (failure != null) {
            // As Netty's own transports: a write that failed part-way fails the channel's output (close, for an
            // IOException with auto-close; else shutdownOutput) through flush0's handleWriteError. Nothing behind the
            // region goes: after the response head and part of a file, a next write would desync the peer's stream.
            throw failure instanceof Exception e ? e : new IOException(failure);
        }
        checkSendBacklog();
    }

    /**
     * Ends the file region at the head once every chunk of it completed: its write succeeds and the empty writes
     * behind it complete. True when it did.
     */
    private boolean endRegionIfDone(ChannelOutboundBuffer in) {
        if (!inFlight.regionDone()) {
            return false;
        }
        inFlight.endRegion();
        in.remove();
        inFlight.removeEmptyHeads(in);
        return true;
    }

    /**
     * Moves the backlog writability bit: Netty's pending bytes plus the unacknowledged bytes in the stack's send
     * buffer against the water marks (a write partly copied counts in both until it completes). Returns whether the
     * channel must still be watched (the bit is false). Event loop.
     */
    boolean checkSendBacklog() {
        ChannelOutboundBuffer out = unsafe().outboundBuffer();
        if (out == null || !open || handle == 0 || stackClosed) {
            return inFlight.clearBacklog(out);
        }
        long backlog = out.totalPendingWriteBytes() + Math.max(0, io.stack.tcp().sendQueued(handle))
            + inFlight.regionBytesHeld();
        if (inFlight.updateBacklog(out, backlog, config.getWriteBufferHighWaterMark(),
            config.getWriteBufferLowWaterMark())) {
            io.watchBacklog(this);
        }
        return inFlight.backlogUnwritable();
    }

    /** Hands the next flushed buffer not yet with the stack to it; false to stop. */
    private boolean submit(Object msg) {
        if (inFlight.skipInFlight()) {
            return true;
        }
        if (msg instanceof FileRegion r) {
            return submitRegion(r);
        }
        if (inFlight.isFull()) {
            return false;
        }
        ByteBuf buf = (ByteBuf) msg;
        int length = buf.readableBytes();
        if (length == 0) {
            return false; // an empty write completes when it reaches the head, after the sends before it
        }
        long address = InFlightSends.address(buf);
        if (!io.client.send(handle, 0, address, length)) {
            // The request ring is full (or a control waits): try again at the end of this turn.
            if (!writeQueued) {
                writeQueued = true;
                io.flushLater(this);
            }
            return false;
        }
        inFlight.add(buf);
        return true;
    }

    /**
     * Hands the next chunks of a file region to the stack: the region starts once it is the head with nothing in
     * flight; each chunk is read from it into a direct buffer ({@link InFlightSends#REGION_CHUNK} bytes). True once
     * all of it has been handed over (the pass goes on with the messages behind it).
     */
    private boolean submitRegion(FileRegion r) {
        if (inFlight.region() != r) {
            if (r.transferred() >= r.count() || !inFlight.startRegion(r)) {
                return false; // nothing left to send: completed at the head; else it waits to become the head
            }
        }
        while (inFlight.wantsChunk()) {
            ByteBuf chunk = inFlight.takePendingChunk();
            if (chunk == null) {
                try {
                    chunk = readChunk(r);
                } catch (Throwable t) {
                    inFlight.failRegion(t); // doWrite fails the output after this pass
                    return false;
                }
                inFlight.chunkRead(chunk);
            }
            if (!io.client.send(handle, 0, InFlightSends.address(chunk), chunk.readableBytes())) {
                inFlight.keepPendingChunk(chunk);
                if (!writeQueued) {
                    writeQueued = true;
                    io.flushLater(this);
                }
                return false;
            }
            boolean last = r.transferred() >= r.count();
            inFlight.addChunk(chunk, last);
            if (last) {
                return true;
            }
        }
        return false;
    }

    /** The region's next bytes, read into a fresh direct buffer (released if the read fails). */
    private ByteBuf readChunk(FileRegion r) throws IOException {
        int n = (int) Math.min(r.count() - r.transferred(), InFlightSends.REGION_CHUNK);
        ByteBuf chunk = alloc().directBuffer(n, n);
        try {
            regionTarget.target = chunk.internalNioBuffer(0, n);
            while (regionTarget.target.hasRemaining()) {
                if (r.transferTo(regionTarget, r.transferred()) <= 0) {
                    throw new EOFException("file region " + r + " gave no bytes at " + r.transferred() + " of "
                        + r.count() + " (file shorter than the region?)");
                }
            }
            chunk.writerIndex(n);
            return chunk;
        } catch (Throwable t) {
            chunk.release();
            throw t;
        } finally {
            regionTarget.target = null;
        }
    }

    /** What a file region is transferred to: the chunk being filled, never more than it holds. */
    private static final class ChunkTarget implements WritableByteChannel {
        ByteBuffer target;

        @Override
        public int write(ByteBuffer src) {
            int n = Math.min(src.remaining(), target.remaining());
            int limit = src.limit();
            src.limit(src.position() + n);
            target.put(src);
            src.limit(limit);
            return n;
        }

        @Override
        public boolean isOpen() {
            return true;
        }

        @Override
        public void close() {
        }
    }

    void retryWrite() {
        writeQueued = false;
        if (isActive()) {
            ((FastpathUnsafe) unsafe()).flushNow();
        }
    }

    // ================================================================ SocketChannel

    @Override
    public boolean isInputShutdown() {
        return inputShutdown || !isActive();
    }

    @Override
    public ChannelFuture shutdownInput() {
        return shutdownInput(newPromise());
    }

    @Override
    public ChannelFuture shutdownInput(ChannelPromise promise) {
        if (eventLoop().inEventLoop()) {
            shutdownInput0(promise);
        } else {
            eventLoop().execute(() -> shutdownInput0(promise));
        }
        return promise;
    }

    private void shutdownInput0(ChannelPromise promise) {
        inputShutdown = true;
        releaseInput(); // data arriving from now on is dropped (released) on arrival
        promise.setSuccess();
    }

    @Override
    public boolean isOutputShutdown() {
        return outputShutdown || !isActive();
    }

    @Override
    public ChannelFuture shutdownOutput() {
        return shutdownOutput(newPromise());
    }

    @Override
    public ChannelFuture shutdownOutput(ChannelPromise promise) {
        if (eventLoop().inEventLoop()) {
            ((AbstractUnsafe) unsafe()).shutdownOutput(promise);
        } else {
            eventLoop().execute(() -> ((AbstractUnsafe) unsafe()).shutdownOutput(promise));
        }
        return promise;
    }

    @Override
    public boolean isShutdown() {
        return isInputShutdown() && isOutputShutdown() || !isActive();
    }

    @Override
    public ChannelFuture shutdown() {
        return shutdown(newPromise());
    }

    @Override
    public ChannelFuture shutdown(ChannelPromise promise) {
        ChannelFuture output = shutdownOutput();
        output.addListener(f -> shutdownInput(newPromise()).addListener(g -> {
            if (!f.isSuccess()) {
                promise.tryFailure(f.cause());
            } else if (!g.isSuccess()) {
                promise.tryFailure(g.cause());
            } else {
                promise.trySuccess();
            }
        }));
        return promise;
    }

    // ================================================================ the stack's events (event loop)

    void connectComplete(long connection, int status) {
        connectRequest = 0;
        releaseFastOpenData();
        ChannelPromise promise = connectPromise;
        connectPromise = null;
        if (connectTimeout != null) {
            connectTimeout.cancel(false);
            connectTimeout = null;
        }
        if (status == NtStatus.STATUS_SUCCESS) {
            handle = connection;
            if (!open || promise == null || promise.isDone()) {
                io.client.abort(connection); // closed or timed out meanwhile; CLOSED follows
                return;
            }
            local = Status.socketAddress(io.stackAddress(), localPort.port);
            active = true;
            if (!config.isTcpNoDelay()) {
                io.client.noDelay(connection, false);
            } else {
                io.client.noDelay(connection, true);
            }
            if (config.isKeepAlive()) {
                options.applyKeepAlive();
            }
            boolean promiseSet = promise.trySuccess();
            pipeline().fireChannelActive();
            if (!promiseSet) {
                unsafe().close(unsafe().voidPromise());
            } else if (((FastpathUnsafe) unsafe()).hasFlushed()) {
                ((FastpathUnsafe) unsafe()).flushNow();
            }
        } else {
            freePort();
            if (promise != null) {
                promise.tryFailure(Status.connectFailure(status, remote));
            }
        }
    }

    void received(long mbuf, long address, int length) {
        ByteBuf buf = MbufByteBuf.wrap(config.getAllocator(), io.releaser, handle, mbuf, address, length);
        if (!open || inputShutdown) {
            buf.release();
            return;
        }
        if (readPending && input.isEmpty() && isRegistered()) {
            read(buf);
        } else {
            input.add(buf);
        }
    }

    private void read(ByteBuf buf) {
        if (!readThisTurn) {
            readThisTurn = true;
            io.readThisTurn(this);
        }
        pipeline().fireChannelRead(buf);
    }

    /** Hands queued input on while reading is wanted (end of a turn). */
    void drain() {
        drainQueued = false;
        while (readPending && open && !input.isEmpty()) {
            read(input.poll());
        }
        if (input.isEmpty() && open) {
            if (peerClosedPending) {
                peerClosedPending = false;
                inputClosed();
            } else if (closeAfterInput) {
                unsafe().close(unsafe().voidPromise());
            }
        }
    }

    private void queueDrain() {
        if (!drainQueued && io != null) {
            drainQueued = true;
            io.drainLater(this);
        }
    }

    /** The end of a turn in which this channel read. */
    void finishRead() {
        if (!readThisTurn) {
            return;
        }
        readThisTurn = false;
        if (!config.isAutoRead()) {
            readPending = false;
        }
        pipeline().fireChannelReadComplete();
    }

    void peerClosed() {
        if (!input.isEmpty()) {
            peerClosedPending = true; // after the data before the FIN
            return;
        }
        inputClosed();
    }

    private void inputClosed() {
        if (!open || inputShutdown) {
            return;
        }
        finishRead();
        if (config.isAllowHalfClosure()) {
            inputShutdown = true;
            pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
            pipeline().fireUserEventTriggered(ChannelInputShutdownReadComplete.INSTANCE);
        } else {
            unsafe().close(unsafe().voidPromise());
        }
    }

    void idealSendBacklog(int bytes) {
        // Writability follows the actual backlog (checkSendBacklog); the ideal one (the congestion window rounded
        // up) is a hint for how much to keep queued, which Netty's water marks leave to the application.
    }

    void sendComplete(int status) {
        int completed = inFlight.completeOldest();
        if (completed == InFlightSends.NONE) {
            return; // our reference released: the stack no longer reads it
        }
        ChannelOutboundBuffer out = unsafe().outboundBuffer();
        if (out == null || !open) {
            return; // closed or output shut down: Netty failed and released the message already
        }
        if (completed == InFlightSends.CHUNK) {
            if (status == NtStatus.STATUS_SUCCESS) {
                out.progress(inFlight.completedBytes());
            } else {
                inFlight.failRegion(Status.closed(status));
            }
            endRegionIfDone(out);
            if (out.isEmpty()) {
                checkSendBacklog();
                return;
            }
            // The region's next chunks, or the messages behind it; after a failed chunk, doWrite fails the output.
            ((FastpathUnsafe) unsafe()).flushNow();
            return;
        }
        // Entries cancelled before their flush (emptied by Netty, never sent) may sit before the completed send.
        inFlight.removeEmptyHeads(out);
        if (status == NtStatus.STATUS_SUCCESS) {
            out.remove();
            if (inFlight.isEmpty()) {
                inFlight.removeEmptyHeads(out);
            }
            if (!out.isEmpty()) {
                ((FastpathUnsafe) unsafe()).flushNow(); // checks the backlog after submitting
            } else {
                checkSendBacklog(); // the bytes moved into the stack's send buffer
            }
        } else {
            out.remove(Status.closed(status));
        }
    }

    void connectionClosed(int status) {
        stackClosed = true;
        freePort();
        inFlight.releaseAll();
        if (!open) {
            return;
        }
        boolean graceful = status == NtStatus.STATUS_SUCCESS;
        if (graceful && !input.isEmpty()) {
            closeAfterInput = true; // hand on what arrived first
            queueDrain();
            return;
        }
        if (!isRegistered()) {
            // Accepted, reset before the acceptor registered it (on another shard's loop meanwhile, with several
            // queues): no pipeline to tell yet; its registration then fails and the acceptor drops it.
            closeFromLoop();
            return;
        }
        if (!graceful && status != NtStatus.STATUS_CONNECTION_ABORTED) {
            pipeline().fireExceptionCaught(Status.closed(status));
        }
        unsafe().close(unsafe().voidPromise());
    }

    /** The handler of the loop this channel lives (or will live) on; null before a client channel registers. */
    FastpathIoHandler handler() {
        return io;
    }

    /**
     * Closes the channel from the event loop (loop shutdown, listener close): through Netty when registered; an
     * accepted channel not registered yet has no event loop for Netty's close, so it is closed directly (a later
     * registration then fails with ClosedChannelException).
     */
    void closeFromLoop() {
        if (isRegistered()) {
            unsafe().close(unsafe().voidPromise());
        } else {
            doClose();
        }
    }

    /** Whether the stack reported the connection closed (or closed itself). */
    boolean isStackClosed() {
        return stackClosed;
    }

    /** The stack closed under the channel (event loop shutdown): nothing it lent is valid any more. */
    void stackClosed() {
        stackClosed = true;
        inFlight.releaseAll();
        releaseFastOpenData(); // a connect's outcome that never came
    }

    private void releaseInput() {
        ByteBuf b;
        while ((b = input.poll()) != null) {
            b.release();
        }
    }

    private void releaseFastOpenData() {
        if (fastOpenData != null) {
            fastOpenData.release();
            fastOpenData = null;
        }
    }

    private void freePort() {
        localPort.free(io);
    }

    // ================================================================ connect

    private void connect0(InetSocketAddress remoteAddress, SocketAddress localAddress, ChannelPromise promise)
        throws Exception {
        if (remoteAddress.isUnresolved()) {
            throw new UnresolvedAddressException();
        }
        int remoteIp = Status.ipv4(remoteAddress.getAddress());
        boolean took = localPort.connect(io, (InetSocketAddress) localAddress, remoteIp, remoteAddress,
            config.isReuseAddress());
        if (took) {
            localChanged();
        }
        long dataAddress = 0;
        int dataLength = 0;
        boolean fastOpen = config.isTcpFastOpenConnect();
        if (fastOpen) {
            // As epoll: the first message written before connect rides in the SYN.
            ChannelOutboundBuffer out = unsafe().outboundBuffer();
            out.addFlush();
            if (out.current() instanceof ByteBuf first && first.isReadable()) {
                ByteBuf direct = first.isDirect() ? first.retainedDuplicate() : InFlightSends.directCopy(alloc(), first.retain());
                fastOpenData = direct;
                dataAddress = InFlightSends.address(direct);
                dataLength = direct.readableBytes();
            }
        }
        remote = remoteAddress;
        long id = io.connect(this, localPort.port, remoteIp, remoteAddress.getPort(), dataAddress, dataLength, fastOpen,
            config.socketOptions());
        if (id == 0) {
            releaseFastOpenData();
            if (took) {
                freePort(); // the port this connect took goes with it
            }
            throw new IOException("connect refused by the stack's request ring (full)");
        }
        connectRequest = id;
        if (dataLength > 0) {
            // The stack copied the data when it took the request; the write is done as far as Netty is concerned.
            unsafe().outboundBuffer().remove();
        }
        connectPromise = promise;
        int timeout = config.getConnectTimeoutMillis();
        if (timeout > 0) {
            connectTimeout = eventLoop().schedule(() -> {
                ChannelPromise p = connectPromise;
                if (p != null && !p.isDone()) {
                    connectPromise = null;
                    if (p.tryFailure(new ConnectTimeoutException("connection timed out after " + timeout + " ms: "
                        + remoteAddress))) {
                        unsafe().close(unsafe().voidPromise());
                    }
                }
            }, timeout, TimeUnit.MILLISECONDS);
        }
        promise.addListener(f -> {
            if (f.isCancelled()) {
                if (connectTimeout != null) {
                    connectTimeout.cancel(false);
                }
                connectPromise = null;
                unsafe().close(unsafe().voidPromise());
            }
        });
    }

    private final class FastpathUnsafe extends AbstractUnsafe {
        @Override
        public void connect(SocketAddress remoteAddress, SocketAddress localAddress, ChannelPromise promise) {
            if (!promise.setUncancellable() || !ensureOpen(promise)) {
                return;
            }
            if (connectPromise != null) {
                promise.setFailure(new ConnectionPendingException());
                return;
            }
            if (active) {
                promise.setFailure(new AlreadyConnectedException());
                return;
            }
            try {
                connect0((InetSocketAddress) remoteAddress, localAddress, promise);
            } catch (Throwable t) {
                promise.tryFailure(annotateConnectException(t, remoteAddress));
                closeIfClosed();
            }
        }

        void flushNow() {
            flush0();
        }

        boolean hasFlushed() {
            ChannelOutboundBuffer out = outboundBuffer();
            return out != null && !out.isEmpty();
        }
    }

    /** What the channel registers with its event loop's {@link FastpathIoHandler}. */
    private final class Handle implements FastpathIoHandle {
        @Override
        public void close() {
            unsafe().close(unsafe().voidPromise());
        }
    }

    /** Received buffers waiting for the pipeline (not registered yet, or auto-read off); event loop, or tests. */
    int queuedInput() {
        return input.size();
    }

    /** The stack's handle of the connection (0 before it is connected); event loop, or tests. */
    long handle() {
        return handle;
    }

    @Override
    public String toString() {
        return super.toString() + (handle != 0 ? " handle=" + Long.toHexString(handle) : "");
    }
}
