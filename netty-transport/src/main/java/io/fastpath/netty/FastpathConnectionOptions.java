package io.fastpath.netty;

/**
 * The options of a {@link FastpathSocketChannel}'s live connection: what {@link FastpathSocketChannelConfig} sets
 * after the connection exists goes to the stack from here (on the channel's event loop), and the stack's buffer
 * sizes stand in for options left unset. A part of its channel, made with it.
 */
final class FastpathConnectionOptions {
    private final FastpathSocketChannel ch;

    FastpathConnectionOptions(FastpathSocketChannel channel) {
        this.ch = channel;
    }

    void applyNoDelay() {
        if (ch.handle() != 0 && !ch.isStackClosed() && ch.isOpen()) {
            runOnLoop(() -> ch.handler().client.noDelay(ch.handle(), ch.config().isTcpNoDelay()));
        }
    }

    void applyKeepAlive() {
        if (ch.handle() != 0 && !ch.isStackClosed() && ch.isOpen()) {
            runOnLoop(() -> ch.handler().client.keepAlive(ch.handle(), ch.config().isKeepAlive(),
                FastpathSocketChannelConfig.KEEPALIVE_IDLE_NS, FastpathSocketChannelConfig.KEEPALIVE_INTERVAL_NS,
                FastpathSocketChannelConfig.KEEPALIVE_COUNT));
        }
    }

    void applyOptions() {
        if (ch.handle() != 0 && !ch.isStackClosed() && ch.isOpen()) {
            runOnLoop(() -> ch.handler().client.options(ch.handle(), ch.config().socketOptions()));
        }
    }

    private void runOnLoop(Runnable r) {
        if (!ch.isRegistered() || ch.eventLoop().inEventLoop()) {
            r.run(); // request methods are thread-safe; before registration we are on the acceptor's loop
        } else {
            ch.eventLoop().execute(r);
        }
    }

    int stackSendBuffer() {
        FastpathIoHandler io = ch.handler();
        return io != null ? io.stack.config().tcp().sendBufferBytes() : 0;
    }

    int stackReceiveBuffer() {
        FastpathIoHandler io = ch.handler();
        return io != null ? io.stack.config().tcp().receiveBufferBytes() : 0;
    }
}
