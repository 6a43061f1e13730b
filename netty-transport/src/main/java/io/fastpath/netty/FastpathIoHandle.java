package io.fastpath.netty;

import io.netty.channel.IoHandle;
import io.netty.channel.IoEvent;
import io.netty.channel.IoRegistration;

/**
 * What a fastpath channel registers with its event loop's {@link FastpathIoHandler}. The handler does not send
 * {@link IoEvent}s: it calls the channels directly with the stack's events (connects, accepts, data, closes), on
 * the event loop thread. The registration's attachment is the handler, which the channel keeps.
 */
interface FastpathIoHandle extends IoHandle {
    @Override
    default void handle(IoRegistration registration, IoEvent ioEvent) {
        // Nothing arrives this way: the handler calls the channel itself.
    }

    /** Closes the channel (never throws). */
    @Override
    void close();
}
