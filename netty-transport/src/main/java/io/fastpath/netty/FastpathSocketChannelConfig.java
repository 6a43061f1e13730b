package io.fastpath.netty;

import static io.netty.channel.ChannelOption.ALLOW_HALF_CLOSURE;
import static io.netty.channel.ChannelOption.IP_TOS;
import static io.netty.channel.ChannelOption.SO_KEEPALIVE;
import static io.netty.channel.ChannelOption.SO_LINGER;
import static io.netty.channel.ChannelOption.SO_RCVBUF;
import static io.netty.channel.ChannelOption.SO_REUSEADDR;
import static io.netty.channel.ChannelOption.SO_SNDBUF;
import static io.netty.channel.ChannelOption.TCP_NODELAY;

import io.fastpath.stack.tcp.TcpSocketOptions;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.ChannelOption;
import io.netty.channel.DefaultChannelConfig;
import io.netty.channel.MessageSizeEstimator;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.socket.SocketChannelConfig;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The configuration of a {@link FastpathSocketChannel}. TCP_NODELAY and SO_KEEPALIVE change a live connection
 * (a request to the stack); SO_RCVBUF applies at connect and, for a live connection, as an options request;
 * SO_REUSEADDR applies at connect. SO_SNDBUF is kept but the send buffer is the stack's ({@code TcpConfig}); IP_TOS
 * is kept but not sent (the stack writes TOS 0). SO_LINGER 0 makes close abortive (RST), as with sockets; any other
 * value closes gracefully without blocking. Defaults as Netty's sockets: TCP_NODELAY on.
 */
public final class FastpathSocketChannelConfig extends DefaultChannelConfig implements SocketChannelConfig {
    /** Keep-alive timing when SO_KEEPALIVE is on: Linux's defaults (tcp_keepalive_time, _intvl, _probes). */
    static final long KEEPALIVE_IDLE_NS = TimeUnit.SECONDS.toNanos(7200);
    static final long KEEPALIVE_INTERVAL_NS = TimeUnit.SECONDS.toNanos(75);
    static final int KEEPALIVE_COUNT = 9;

    private final FastpathSocketChannel channel;
    private volatile boolean tcpNoDelay = true;
    private volatile boolean keepAlive;
    private volatile int receiveBuffer;
    private volatile int sendBuffer;
    private volatile int soLinger = -1;
    private volatile boolean reuseAddress;
    private volatile int trafficClass;
    private volatile boolean allowHalfClosure;
    private volatile boolean fastOpenConnect;

    FastpathSocketChannelConfig(FastpathSocketChannel channel) {
        super(channel);
        this.channel = channel;
    }

    @Override
    public Map<ChannelOption<?>, Object> getOptions() {
        return getOptions(super.getOptions(), SO_RCVBUF, SO_SNDBUF, TCP_NODELAY, SO_KEEPALIVE, SO_REUSEADDR,
            SO_LINGER, IP_TOS, ALLOW_HALF_CLOSURE, FastpathChannelOption.TCP_FASTOPEN_CONNECT);
    }

    @SuppressWarnings("unchecked")
    @Override
    public <T> T getOption(ChannelOption<T> option) {
        if (option == SO_RCVBUF) {
            return (T) Integer.valueOf(getReceiveBufferSize());
        }
        if (option == SO_SNDBUF) {
            return (T) Integer.valueOf(getSendBufferSize());
        }
        if (option == TCP_NODELAY) {
            return (T) Boolean.valueOf(isTcpNoDelay());
        }
        if (option == SO_KEEPALIVE) {
            return (T) Boolean.valueOf(isKeepAlive());
        }
        if (option == SO_REUSEADDR) {
            return (T) Boolean.valueOf(isReuseAddress());
        }
        if (option == SO_LINGER) {
            return (T) Integer.valueOf(getSoLinger());
        }
        if (option == IP_TOS) {
            return (T) Integer.valueOf(getTrafficClass());
        }
        if (option == ALLOW_HALF_CLOSURE) {
            return (T) Boolean.valueOf(isAllowHalfClosure());
        }
        if (option == FastpathChannelOption.TCP_FASTOPEN_CONNECT) {
            return (T) Boolean.valueOf(isTcpFastOpenConnect());
        }
        return super.getOption(option);
    }

    @Override
    public <T> boolean setOption(ChannelOption<T> option, T value) {
        validate(option, value);
        if (option == SO_RCVBUF) {
            setReceiveBufferSize((Integer) value);
        } else if (option == SO_SNDBUF) {
            setSendBufferSize((Integer) value);
        } else if (option == TCP_NODELAY) {
            setTcpNoDelay((Boolean) value);
        } else if (option == SO_KEEPALIVE) {
            setKeepAlive((Boolean) value);
        } else if (option == SO_REUSEADDR) {
            setReuseAddress((Boolean) value);
        } else if (option == SO_LINGER) {
            setSoLinger((Integer) value);
        } else if (option == IP_TOS) {
            setTrafficClass((Integer) value);
        } else if (option == ALLOW_HALF_CLOSURE) {
            setAllowHalfClosure((Boolean) value);
        } else if (option == FastpathChannelOption.TCP_FASTOPEN_CONNECT) {
            setTcpFastOpenConnect((Boolean) value);
        } else {
            return super.setOption(option, value);
        }
        return true;
    }

    /** The packed per-connection options the stack takes at connect ({@link TcpSocketOptions}). */
    long socketOptions() {
        return TcpSocketOptions.of(null, receiveBuffer, 0, reuseAddress);
    }

    @Override
    public boolean isTcpNoDelay() {
        return tcpNoDelay;
    }

    @Override
    public FastpathSocketChannelConfig setTcpNoDelay(boolean on) {
        tcpNoDelay = on;
        channel.options.applyNoDelay();
        return this;
    }

    @Override
    public int getSoLinger() {
        return soLinger;
    }

    @Override
    public FastpathSocketChannelConfig setSoLinger(int seconds) {
        soLinger = seconds;
        return this;
    }

    @Override
    public int getSendBufferSize() {
        return sendBuffer > 0 ? sendBuffer : channel.options.stackSendBuffer();
    }

    @Override
    public FastpathSocketChannelConfig setSendBufferSize(int bytes) {
        sendBuffer = bytes;
        return this;
    }

    @Override
    public int getReceiveBufferSize() {
        return receiveBuffer > 0 ? receiveBuffer : channel.options.stackReceiveBuffer();
    }

    @Override
    public FastpathSocketChannelConfig setReceiveBufferSize(int bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("SO_RCVBUF " + bytes);
        }
        receiveBuffer = bytes;
        channel.options.applyOptions();
        return this;
    }

    @Override
    public boolean isKeepAlive() {
        return keepAlive;
    }

    @Override
    public FastpathSocketChannelConfig setKeepAlive(boolean on) {
        keepAlive = on;
        channel.options.applyKeepAlive();
        return this;
    }

    @Override
    public int getTrafficClass() {
        return trafficClass;
    }

    @Override
    public FastpathSocketChannelConfig setTrafficClass(int value) {
        trafficClass = value;
        return this;
    }

    @Override
    public boolean isReuseAddress() {
        return reuseAddress;
    }

    @Override
    public FastpathSocketChannelConfig setReuseAddress(boolean on) {
        reuseAddress = on;
        return this;
    }

    @Override
    public FastpathSocketChannelConfig setPerformancePreferences(int connectionTime, int latency, int bandwidth) {
        return this;
    }

    @Override
    public boolean isAllowHalfClosure() {
        return allowHalfClosure;
    }

    @Override
    public FastpathSocketChannelConfig setAllowHalfClosure(boolean on) {
        allowHalfClosure = on;
        return this;
    }

    public boolean isTcpFastOpenConnect() {
        return fastOpenConnect;
    }

    public FastpathSocketChannelConfig setTcpFastOpenConnect(boolean on) {
        fastOpenConnect = on;
        return this;
    }

    @Override
    public FastpathSocketChannelConfig setConnectTimeoutMillis(int millis) {
        super.setConnectTimeoutMillis(millis);
        return this;
    }

    @Override
    @Deprecated
    public FastpathSocketChannelConfig setMaxMessagesPerRead(int n) {
        super.setMaxMessagesPerRead(n);
        return this;
    }

    @Override
    public FastpathSocketChannelConfig setWriteSpinCount(int n) {
        super.setWriteSpinCount(n);
        return this;
    }

    @Override
    public FastpathSocketChannelConfig setAllocator(ByteBufAllocator allocator) {
        super.setAllocator(allocator);
        return this;
    }

    @Override
    public FastpathSocketChannelConfig setRecvByteBufAllocator(RecvByteBufAllocator allocator) {
        super.setRecvByteBufAllocator(allocator);
        return this;
    }

    @Override
    public FastpathSocketChannelConfig setAutoRead(boolean autoRead) {
        super.setAutoRead(autoRead);
        return this;
    }

    @Override
    public FastpathSocketChannelConfig setAutoClose(boolean autoClose) {
        super.setAutoClose(autoClose);
        return this;
    }

    @Override
    public FastpathSocketChannelConfig setMessageSizeEstimator(MessageSizeEstimator estimator) {
        super.setMessageSizeEstimator(estimator);
        return this;
    }

    @Override
    public FastpathSocketChannelConfig setWriteBufferWaterMark(WriteBufferWaterMark mark) {
        super.setWriteBufferWaterMark(mark);
        return this;
    }

    @Override
    protected void autoReadCleared() {
        channel.autoReadCleared();
    }
}
