package io.fastpath.netty;

import io.netty.channel.ChannelOption;

/** Options of fastpath channels beyond {@link ChannelOption}'s. */
public final class FastpathChannelOption {
    /**
     * Client side of TCP Fast Open (RFC 7413), as Netty's {@code EpollChannelOption.TCP_FASTOPEN_CONNECT}: the
     * first message written (not flushed) before {@code connect} travels in the SYN when the stack holds a cookie
     * for the server; without one it goes right after the handshake (and the SYN asks for a cookie).
     */
    public static final ChannelOption<Boolean> TCP_FASTOPEN_CONNECT =
        ChannelOption.valueOf(FastpathChannelOption.class, "TCP_FASTOPEN_CONNECT");

    private FastpathChannelOption() {
    }
}
