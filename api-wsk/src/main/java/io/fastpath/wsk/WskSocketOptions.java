package io.fastpath.wsk;

import io.fastpath.provider.NtStatus;
import io.fastpath.stack.tcp.TcpSocketOptions;
import java.util.concurrent.TimeUnit;

/**
 * A WSK socket's options (WskControlSocket WskSetOption / WskGetOption), kept until there is a connection to
 * apply them to; a listener's carry over to the connections it accepts, as in Winsock. Dispatch thread.
 */
final class WskSocketOptions {
    boolean noDelay;
    boolean fastOpen;
    boolean keepAlive;
    long keepIdleSeconds = 7200;
    long keepIntervalSeconds = 1;
    long keepCount = 10;
    int receiveBufferBytes;        // SO_RCVBUF, 0 = the stack's
    long maxRetransmitSeconds;     // TCP_MAXRT, 0 = the retry counts only
    int timestamps = -1;           // TCP_TIMESTAMPS: -1 = the stack's choice, 0 off, 1 on
    boolean reuseAddress;          // SO_REUSEADDR
    boolean exclusiveAddress;      // SO_EXCLUSIVEADDRUSE
    /** SO_CONDITIONAL_ACCEPT: connection requests go through WskInspectEvent first. */
    boolean conditionalAccept;
    boolean noDelayTouched;
    boolean keepAliveTouched;

    /** The defaults again (a renewed socket). */
    void reset() {
        noDelay = false;
        fastOpen = false;
        keepAlive = false;
        keepIdleSeconds = 7200;
        keepIntervalSeconds = 1;
        keepCount = 10;
        receiveBufferBytes = 0;
        maxRetransmitSeconds = 0;
        timestamps = -1;
        reuseAddress = false;
        exclusiveAddress = false;
        conditionalAccept = false;
        noDelayTouched = false;
        keepAliveTouched = false;
    }

    /** Options set on a listener carry over to its connections, as in Winsock. */
    void inherit(WskSocketOptions l) {
        noDelay = l.noDelay;
        keepAlive = l.keepAlive;
        keepIdleSeconds = l.keepIdleSeconds;
        keepIntervalSeconds = l.keepIntervalSeconds;
        keepCount = l.keepCount;
        receiveBufferBytes = l.receiveBufferBytes;
        maxRetransmitSeconds = l.maxRetransmitSeconds;
        timestamps = l.timestamps;
    }

    /** The options the stack applies to the socket's connection(s) (TcpSocketOptions). */
    long socketOptions() {
        return TcpSocketOptions.of(timestamps < 0 ? null : timestamps == 1, receiveBufferBytes,
            maxRetransmitSeconds * 1000, reuseAddress);
    }

    /** A listener's options: its connections' options, and conditional accept (held SYNs) when asked for. */
    long listenOptions() {
        long options = socketOptions();
        return conditionalAccept ? TcpSocketOptions.withConditionalAccept(options) : options;
    }

    /** Hands the options to connection {@code handle}; false when a request found the ring full (retry). */
    boolean apply(WskProvider provider, long handle) {
        boolean ok = true;
        if (receiveBufferBytes != 0 || maxRetransmitSeconds != 0) {
            ok = provider.tcp.options(handle, socketOptions());
        }
        if (noDelay || noDelayTouched) {
            ok &= provider.tcp.noDelay(handle, noDelay);
        }
        if (keepAlive || keepAliveTouched) {
            ok &= provider.tcp.keepAlive(handle, keepAlive, TimeUnit.SECONDS.toNanos(keepIdleSeconds),
                TimeUnit.SECONDS.toNanos(keepIntervalSeconds), (int) keepCount);
        }
        return ok;
    }

    /** WskSetOption on socket {@code s}: the status. */
    int set(WskSocket s, int level, int option, long value) {
        if (level == Wsk.SOL_SOCKET) {
            switch (option) {
                case Wsk.SO_WSK_EVENT_CALLBACK:
                    return setEvents(s, (int) value);
                case Wsk.SO_KEEPALIVE:
                    keepAlive = value != 0;
                    keepAliveTouched = true;
                    s.applyOptions();
                    return NtStatus.STATUS_SUCCESS.code();
                case Wsk.SO_RCVBUF:
                    if (value <= 0 || value > Integer.MAX_VALUE) {
                        return NtStatus.STATUS_INVALID_PARAMETER.code();
                    }
                    receiveBufferBytes = (int) Math.min(value, s.provider.receiveBufferBytes);
                    s.applyOptions();
                    return NtStatus.STATUS_SUCCESS.code();
                case Wsk.SO_REUSEADDR:
                case Wsk.SO_EXCLUSIVEADDRUSE:
                    if (s.state != WskSocket.CREATED) {
                        return NtStatus.STATUS_INVALID_DEVICE_STATE.code(); // before WskBind
                    }
                    boolean on = value != 0;
                    if (on && (option == Wsk.SO_REUSEADDR ? exclusiveAddress : reuseAddress)) {
                        return NtStatus.STATUS_INVALID_PARAMETER.code(); // the two exclude each other
                    }
                    if (option == Wsk.SO_REUSEADDR) {
                        reuseAddress = on;
                    } else {
                        exclusiveAddress = on;
                    }
                    return NtStatus.STATUS_SUCCESS.code();
                case Wsk.SO_CONDITIONAL_ACCEPT:
                    if (s.category() == Wsk.WSK_FLAG_CONNECTION_SOCKET) {
                        return NtStatus.STATUS_NOT_SUPPORTED.code();
                    }
                    if (s.state != WskSocket.CREATED) {
                        return NtStatus.STATUS_INVALID_DEVICE_STATE.code(); // before WskBind, as in Winsock
                    }
                    conditionalAccept = value != 0;
                    return NtStatus.STATUS_SUCCESS.code();
                default:
                    return NtStatus.STATUS_NOT_SUPPORTED.code();
            }
        }
        if (level != Wsk.IPPROTO_TCP) {
            return NtStatus.STATUS_NOT_SUPPORTED.code();
        }
        boolean connecting = s.state == WskSocket.CONNECTING || s.state == WskSocket.CONNECTED
            || s.state == WskSocket.DISCONNECTED;
        switch (option) {
            case Wsk.TCP_NODELAY:
                noDelay = value != 0;
                noDelayTouched = true;
                s.applyOptions();
                return NtStatus.STATUS_SUCCESS.code();
            case Wsk.TCP_FASTOPEN:
                if (connecting) {
                    return NtStatus.STATUS_INVALID_DEVICE_STATE.code(); // set it before WskConnectEx
                }
                fastOpen = value != 0;
                return NtStatus.STATUS_SUCCESS.code();
            case Wsk.TCP_MAXRT:
                if (value < 0 || value > 0xFFFF_FFFFL / 1000) {
                    return NtStatus.STATUS_INVALID_PARAMETER.code();
                }
                maxRetransmitSeconds = value;
                s.applyOptions();
                return NtStatus.STATUS_SUCCESS.code();
            case Wsk.TCP_TIMESTAMPS:
                if (connecting) {
                    return NtStatus.STATUS_INVALID_DEVICE_STATE.code(); // negotiated in the SYN
                }
                timestamps = value != 0 ? 1 : 0;
                return NtStatus.STATUS_SUCCESS.code();
            case Wsk.TCP_KEEPIDLE:
            case Wsk.TCP_KEEPINTVL:
            case Wsk.TCP_KEEPCNT:
                if (value <= 0 || value > Integer.MAX_VALUE) {
                    return NtStatus.STATUS_INVALID_PARAMETER.code();
                }
                if (option == Wsk.TCP_KEEPIDLE) {
                    keepIdleSeconds = value;
                } else if (option == Wsk.TCP_KEEPINTVL) {
                    keepIntervalSeconds = value;
                } else {
                    keepCount = value;
                }
                if (keepAlive) {
                    s.applyOptions();
                }
                return NtStatus.STATUS_SUCCESS.code();
            default:
                return NtStatus.STATUS_NOT_SUPPORTED.code();
        }
    }

    /** WskGetOption: the option's value, or -1 when not supported. */
    long get(WskSocket s, int level, int option) {
        if (level == Wsk.SOL_SOCKET) {
            return switch (option) {
                case Wsk.SO_KEEPALIVE -> keepAlive ? 1 : 0;
                case Wsk.SO_CONDITIONAL_ACCEPT -> conditionalAccept ? 1 : 0;
                case Wsk.SO_RCVBUF -> receiveBufferBytes != 0 ? receiveBufferBytes : s.provider.receiveBufferBytes;
                case Wsk.SO_REUSEADDR -> reuseAddress ? 1 : 0;
                case Wsk.SO_EXCLUSIVEADDRUSE -> exclusiveAddress ? 1 : 0;
                case Wsk.SO_WSK_EVENT_CALLBACK -> s.events;
                default -> -1;
            };
        }
        if (level != Wsk.IPPROTO_TCP) {
            return -1;
        }
        return switch (option) {
            case Wsk.TCP_NODELAY -> noDelay ? 1 : 0;
            case Wsk.TCP_FASTOPEN -> fastOpen ? 1 : 0;
            case Wsk.TCP_KEEPIDLE -> keepIdleSeconds;
            case Wsk.TCP_KEEPINTVL -> keepIntervalSeconds;
            case Wsk.TCP_KEEPCNT -> keepCount;
            case Wsk.TCP_MAXRT -> maxRetransmitSeconds;
            case Wsk.TCP_TIMESTAMPS -> timestamps < 0 ? (s.provider.timestamps ? 1 : 0) : timestamps;
            default -> -1;
        };
    }

    /** WskControlSocket: WskSetOption, WskGetOption or WskIoctl; completes the IRP. */
    int control(WskSocket s, Irp irp) {
        int status;
        long out = 0;
        switch (irp.type) {
            case Wsk.WskSetOption -> status = set(s, irp.level, irp.controlCode, irp.value);
            case Wsk.WskGetOption -> {
                out = get(s, irp.level, irp.controlCode);
                status = out < 0 ? NtStatus.STATUS_NOT_SUPPORTED.code() : NtStatus.STATUS_SUCCESS.code();
                out = Math.max(out, 0);
            }
            case Wsk.WskIoctl -> {
                out = ioctl(s, irp.controlCode);
                status = out == -1 ? NtStatus.STATUS_NOT_SUPPORTED.code()
                    : out == -2 ? NtStatus.STATUS_INVALID_DEVICE_STATE.code() : NtStatus.STATUS_SUCCESS.code();
                out = Math.max(out, 0);
            }
            default -> status = NtStatus.STATUS_INVALID_PARAMETER.code();
        }
        return s.provider.complete(irp, status, out, null);
    }

    /** The IOCTL's result, -1 when not supported, -2 when not valid in this state. */
    private static long ioctl(WskSocket s, int code) {
        return switch (code) {
            case Wsk.SIO_WSK_QUERY_RECEIVE_BACKLOG -> s.state == WskSocket.CONNECTED || s.state == WskSocket.DISCONNECTED
                ? s.ep.receivedBytes() : -2;
            case Wsk.SIO_WSK_QUERY_IDEAL_SEND_BACKLOG -> s.state == WskSocket.CONNECTED
                ? (s.idealSendBacklog != 0 ? s.idealSendBacklog : s.provider.sendBufferBytes) : -2;
            default -> -1;
        };
    }

    /** SO_WSK_EVENT_CALLBACK: enables an event mask, or disables one event (WSK_EVENT_DISABLE | event). */
    static int setEvents(WskSocket s, int mask) {
        int allowed = switch (s.category()) {
            case Wsk.WSK_FLAG_LISTEN_SOCKET, Wsk.WSK_FLAG_STREAM_SOCKET -> WskSocket.LISTENER_EVENTS;
            default -> WskSocket.CONNECTION_EVENTS;
        };
        if ((mask & Wsk.WSK_EVENT_DISABLE) != 0) {
            int event = mask & ~Wsk.WSK_EVENT_DISABLE;
            if (Integer.bitCount(event) != 1 || (event & allowed) == 0) {
                return NtStatus.STATUS_INVALID_PARAMETER.code(); // disable one event at a time
            }
            s.events &= ~event;
            return NtStatus.STATUS_SUCCESS.code();
        }
        if (mask == 0 || (mask & ~allowed) != 0) {
            return NtStatus.STATUS_INVALID_PARAMETER.code();
        }
        if ((mask & Wsk.WSK_EVENT_ACCEPT) != 0 && !(s.dispatch instanceof WskClientListenDispatch)) {
            return NtStatus.STATUS_INVALID_PARAMETER.code();
        }
        if ((mask & WskSocket.CONNECTION_EVENTS) != 0 && s.category() != Wsk.WSK_FLAG_LISTEN_SOCKET
            && !(s.dispatch instanceof WskClientConnectionDispatch)) {
            return NtStatus.STATUS_INVALID_PARAMETER.code();
        }
        s.events |= mask;
        if ((mask & (Wsk.WSK_EVENT_RECEIVE | Wsk.WSK_EVENT_DISCONNECT)) != 0) {
            s.provider.schedule(s); // data already queued, or a FIN already in, is indicated on the next round
        }
        return NtStatus.STATUS_SUCCESS.code();
    }
}
