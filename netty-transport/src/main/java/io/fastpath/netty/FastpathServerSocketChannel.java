package io.fastpath.netty;

import io.fastpath.stack.NtStatus;
import io.fastpath.stack.tcp.LocalPorts;
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

/**
 * A listening port of a fastpath stack as a Netty {@link ServerSocketChannel}. {@code bind} asks the stack to listen
 * (and waits on the event loop, running the stack, for its answer); each connection the stack accepts is read as a
 * {@link FastpathSocketChannel} on the same event loop, as Netty's acceptor expects. Children must use the same
 * {@link FastpathEventLoopGroup}: their connection belongs to this stack.
 */
public final class FastpathServerSocketChannel extends AbstractServerChannel implements ServerSocketChannel {
    private final FastpathServerSocketChannelConfig config = new FastpathServerSocketChannelConfig(this);
    private final Handle ioHandle = new Handle();
    private FastpathIoHandler io;
    private IoRegistration registration;
    private boolean open = true;
    private boolean listening;
    private int port;
    private InetSocketAddress local;
    private final ArrayDeque<FastpathSocketChannel> accepted = new ArrayDeque<>();
    private boolean readPending;
    private boolean drainQueued;

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
        InetSocketAddress a = (InetSocketAddress) localAddress;
        if (a.getAddress() != null && !a.getAddress().isAnyLocalAddress()
            && Status.ipv4(a.getAddress()) != io.stackAddress()) {
            throw new BindException("cannot assign requested address " + a + ": the stack is "
                + Status.ipv4(io.stackAddress()).getHostAddress());
        }
        int p = a.getPort();
        if (p == 0) {
            p = io.stack.ports().allocate(false);
            if (p == 0) {
                throw new BindException("no ephemeral port free (" + Status.name(NtStatus.STATUS_TOO_MANY_ADDRESSES)
                    + ")");
            }
        } else if (io.stack.ports().take(p, config.isReuseAddress(), false) != LocalPorts.TAKEN) {
            throw new BindException("address already in use: " + a + " ("
                + Status.name(NtStatus.STATUS_SHARING_VIOLATION) + ")");
        }
        int status = io.listen(this, p, config.socketOptions());
        if (status != NtStatus.STATUS_SUCCESS && status != NtStatus.STATUS_PENDING) {
            io.stack.ports().free(p);
            throw new BindException("listen on port " + p + " failed (" + Status.name(status) + ")");
        }
        port = p;
        listening = true;
        local = Status.socketAddress(io.stackAddress(), p);
    }

    @Override
    protected void doClose() {
        if (!open) {
            return;
        }
        open = false;
        if (listening) {
            listening = false;
            io.stopListening(this, port);
            io.stack.ports().free(port);
        }
        FastpathSocketChannel c;
        while ((c = accepted.poll()) != null) {
            c.closeFromLoop();
        }
    }

    @Override
    protected void doBeginRead() {
        readPending = true;
        if (!accepted.isEmpty()) {
            queueDrain();
        }
    }

    /** The stack refused the listen after bind returned (a bind made from inside an event). */
    void listenFailed(int status) {
        if (listening) {
            listening = false;
            io.stack.ports().free(port);
            pipeline().fireExceptionCaught(new BindException("listen on port " + port + " failed ("
                + Status.name(status) + ")"));
            unsafe().close(unsafe().voidPromise());
        }
    }

    void accepted(FastpathSocketChannel child) {
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
