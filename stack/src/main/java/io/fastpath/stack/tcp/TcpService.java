package io.fastpath.stack.tcp;

import io.fastpath.stack.NtStatus;
import io.fastpath.stack.counters.DropReason;
import io.fastpath.stack.counters.StackCounters;
import java.nio.ByteBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.collections.Long2LongHashMap;
import org.agrona.concurrent.ControlledMessageHandler;
import org.agrona.concurrent.MessageHandler;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.ringbuffer.ManyToOneRingBuffer;
import org.agrona.concurrent.ringbuffer.OneToOneRingBuffer;
import org.agrona.concurrent.ringbuffer.RingBufferDescriptor;

/**
 * TCP for application threads. Requests (listen, connect, send, shutdown, abort, release) enter through an
 * Agrona many-to-one ring and are carried out on the poll thread; outcomes come back through a one-to-one ring
 * to the one application thread that calls {@link #pollEvents}. Received data crosses as descriptors over the
 * mbufs it arrived in (zero copy): the application releases each with {@link #release}, and until it does
 * the bytes count against the connection's receive window, so a slow reader slows its peer instead of
 * exhausting the pool.
 *
 * <p>Descriptors are checked (issue 10 item 6): the service records every mbuf it hands over, with the
 * connection and the length; a release is honoured only for a recorded mbuf and the connection it went to,
 * exactly once per handover, with the recorded length (the caller's is not trusted). Anything else (an unknown
 * mbuf, a second release, another connection's handle) is refused and counted as
 * {@link DropReason#RELEASE_REFUSED}: no free, no window change. One mbuf can be handed over twice (urgent data
 * splits a segment around its urgent byte, with the mbuf's reference count raised): it is then released twice.
 * The record is a primitive map sized for the whole pool at start, with a chain per mbuf (no allocation).
 * What the application still holds when the stack closes is freed by {@link #close}.
 *
 * <p>Sends name native memory ({@code address}, {@code length}) that must stay valid until
 * {@link TcpEventHandler#onSendComplete}: the poll thread copies it into the send buffer as space frees up.
 *
 * <p>Thread: request methods from any thread; {@link #pollEvents} from one; {@link #poll} on the poll thread.
 */
public final class TcpService implements TcpHandler, HandoverReceiver {
    private static final int CONNECT = 1;
    private static final int LISTEN = 2;
    private static final int SEND = 3;
    private static final int SHUTDOWN = 4;
    private static final int ABORT = 5;
    private static final int RELEASE = 6;
    private static final int CONNECT_WITH_DATA = 7;
    private static final int NODELAY = 8;
    private static final int STOP_LISTENING = 9;
    private static final int KEEPALIVE = 10;
    private static final int SEND_URGENT = 11;
    private static final int OPTIONS = 12;
    private static final int ACCEPT_REQUEST = 13;
    private static final int REJECT_REQUEST = 14;

    private static final int EV_CONNECTED = 1;
    private static final int EV_ACCEPTED = 2;
    private static final int EV_RECEIVE = 3;
    private static final int EV_SEND_COMPLETE = 4;
    private static final int EV_PEER_CLOSED = 5;
    private static final int EV_CLOSED = 6;
    private static final int EV_LISTEN = 7;
    private static final int EV_URGENT = 8;
    private static final int EV_FIN_ACKED = 9;
    private static final int EV_SEND_BACKLOG = 10;
    private static final int EV_CONNECT_REQUEST = 11;
    private static final int MIN_IDEAL_BACKLOG = 16 << 10;
    /** Urgent bytes carried in one event (the stack marks one byte per urgent pointer, RFC 6093). */
    private static final int URGENT_MAX = 32;

    private static final int SENDS_PER_CONNECTION = 16;

    private final TcpLayer tcp;
    private final ManyToOneRingBuffer requests;
    private final OneToOneRingBuffer events;
    private final UnsafeBuffer requestScratch = new UnsafeBuffer(new byte[64]);
    /** Connect requests carry up to this many bytes of the SYN's data (a SYN holds at most one segment). */
    public static final int MAX_SYN_DATA = 2048;
    private final UnsafeBuffer eventScratch = new UnsafeBuffer(new byte[64 + MAX_SYN_DATA]);
    private final UnsafeBuffer synDataView = new UnsafeBuffer(0, 0);
    private final MessageHandler requestHandler = this::onRequest;
    private final MessageHandler eventDecoder = this::onEvent;
    private TcpEventHandler target;
    // Pending sends per connection slot: a small ring of (address, length, offset, request id).
    private final long[] sendAddress;
    private final int[] sendLength;
    private final int[] sendOffset;
    private final long[] sendRequest;
    private final int[] sendFirst;
    private final int[] sendCount;
    /** A shutdown asked for while sends were still queued here: the FIN goes after them. */
    private final boolean[] shutdownAfterSends;
    /** The queued send at this position is urgent data (MSG_OOB; TDI_SEND_EXPEDITED). */
    private final boolean[] sendUrgent;
    private final UnsafeBuffer urgentView = new UnsafeBuffer(0, 0);
    /** The ideal send backlog last posted per connection slot (0: none yet). */
    private final int[] idealBacklog;
    private final UnsafeBuffer source = new UnsafeBuffer(0, 0);
    private boolean backlogged;
    /**
     * Events that found the event ring full, oldest first, moved over as the application makes room (poll
     * thread only: written and read there). While it holds any, every new event queues behind them and data
     * stays in the connections, so the application sees events in order. Lost only when this is full too.
     */
    private final OneToOneRingBuffer overflow;
    private int overflowCount;
    private final ControlledMessageHandler mover = this::moveOverflow;
    private final TcpListenHandler acceptor = new TcpListenHandler() {
        @Override
        public TcpHandler onAccept(TcpConnection c) {
            return accept(c);
        }

        @Override
        public void onConnectRequest(TcpConnection c, long synDataAddress, int synDataLength) {
            connectRequest(c, synDataAddress, synDataLength);
        }
    };
    private int acceptingPort;

    private static final long NOT_HELD = -1;
    private final StackCounters counters;
    /** Descriptors the application holds: mbuf address to the first of its entries in the arrays below. */
    private final Long2LongHashMap held;
    private int heldCount;
    private final long[] heldMbuf;
    /** The next entry for the same mbuf, or -1. */
    private final int[] heldNext;
    private final long[] heldHandle;
    private final int[] heldLength;
    private final int[] freeEntries;
    private int freeEntryCount;

    /**
     * @param ringBytes size of the request and event rings
     * @param maxHeld the most descriptors the application can hold at once (the pool's size is always enough)
     */
    public TcpService(TcpLayer tcp, int ringBytes, StackCounters counters, int maxHeld) {
        this.tcp = tcp;
        this.counters = counters;
        this.held = new Long2LongHashMap(Math.max(16, maxHeld * 2), 0.6f, NOT_HELD);
        this.heldMbuf = new long[maxHeld];
        this.heldNext = new int[maxHeld];
        this.heldHandle = new long[maxHeld];
        this.heldLength = new int[maxHeld];
        this.freeEntries = new int[maxHeld];
        for (int e = 0; e < maxHeld; e++) {
            freeEntries[e] = maxHeld - 1 - e;
        }
        this.freeEntryCount = maxHeld;
        int bytes = ringBytes + RingBufferDescriptor.TRAILER_LENGTH;
        this.requests = new ManyToOneRingBuffer(new UnsafeBuffer(ByteBuffer.allocateDirect(bytes)));
        this.events = new OneToOneRingBuffer(new UnsafeBuffer(ByteBuffer.allocateDirect(bytes)));
        this.overflow = new OneToOneRingBuffer(new UnsafeBuffer(ByteBuffer.allocateDirect(bytes)));
        int slots = tcp.config().maxConnections() * SENDS_PER_CONNECTION;
        this.sendAddress = new long[slots];
        this.sendLength = new int[slots];
        this.sendOffset = new int[slots];
        this.sendRequest = new long[slots];
        this.sendUrgent = new boolean[slots];
        this.sendFirst = new int[tcp.config().maxConnections()];
        this.sendCount = new int[tcp.config().maxConnections()];
        this.shutdownAfterSends = new boolean[tcp.config().maxConnections()];
        this.idealBacklog = new int[tcp.config().maxConnections()];
    }

    // ================================================================ requests (any thread)

    private boolean offer(int type, int length) {
        synchronized (requestScratch) {
            return requests.write(type, requestScratch, 0, length);
        }
    }

    /** Opens a connection (any thread); the outcome arrives as onConnectComplete(requestId, ...). */
    public boolean connect(long requestId, int remoteIp, int remotePort, int localPort) {
        synchronized (requestScratch) {
            requestScratch.putLong(0, requestId);
            requestScratch.putInt(8, remoteIp);
            requestScratch.putInt(12, remotePort);
            requestScratch.putInt(16, localPort);
            return requests.write(CONNECT, requestScratch, 0, 20);
        }
    }

    /**
     * Opens a connection that sends {@code length} bytes of native memory at {@code address} once connected,
     * or in the SYN with {@code fastOpen} and a cached cookie (RFC 7413). The memory must stay valid until
     * onConnectComplete. STATUS_BUFFER_OVERFLOW for more than the send buffer holds.
     */
    public boolean connect(long requestId, int remoteIp, int remotePort, int localPort, long address, int length,
                           boolean fastOpen) {
        return connect(requestId, 0, localPort, remoteIp, remotePort, address, length, fastOpen,
            TcpSocketOptions.DEFAULTS);
    }

    /**
     * As {@link #connect(long, int, int, int, long, int, boolean)} from a given local address: 0 = the
     * stack's; any other address than the stack's fails with STATUS_INVALID_ADDRESS. {@code length} may be 0.
     */
    public boolean connect(long requestId, int localIp, int localPort, int remoteIp, int remotePort, long address,
                           int length, boolean fastOpen) {
        return connect(requestId, localIp, localPort, remoteIp, remotePort, address, length, fastOpen,
            TcpSocketOptions.DEFAULTS);
    }

    /** As above, with per-connection options ({@link TcpSocketOptions#of}). */
    public boolean connect(long requestId, int localIp, int localPort, int remoteIp, int remotePort, long address,
                           int length, boolean fastOpen, long socketOptions) {
        synchronized (requestScratch) {
            requestScratch.putLong(40, socketOptions);
            requestScratch.putInt(36, localIp);
            requestScratch.putLong(0, requestId);
            requestScratch.putInt(8, remoteIp);
            requestScratch.putInt(12, remotePort);
            requestScratch.putInt(16, localPort);
            requestScratch.putLong(20, address);
            requestScratch.putInt(28, length);
            requestScratch.putInt(32, fastOpen ? 1 : 0);
            return requests.write(CONNECT_WITH_DATA, requestScratch, 0, 48);
        }
    }

    /** TCP_NODELAY for a connection. */
    public boolean noDelay(long handle, boolean on) {
        synchronized (requestScratch) {
            requestScratch.putLong(0, handle);
            requestScratch.putInt(8, on ? 1 : 0);
            return requests.write(NODELAY, requestScratch, 0, 12);
        }
    }

    /** SO_KEEPALIVE with TCP_KEEPIDLE / TCP_KEEPINTVL / TCP_KEEPCNT for a connection. */
    public boolean keepAlive(long handle, boolean on, long idleNs, long intervalNs, int count) {
        synchronized (requestScratch) {
            requestScratch.putLong(0, handle);
            requestScratch.putInt(8, on ? 1 : 0);
            requestScratch.putLong(12, idleNs);
            requestScratch.putLong(20, intervalNs);
            requestScratch.putInt(28, count);
            return requests.write(KEEPALIVE, requestScratch, 0, 32);
        }
    }

    /** Stops listening on a port (connections already accepted go on). */
    public boolean stopListening(int port) {
        synchronized (requestScratch) {
            requestScratch.putInt(0, port);
            return requests.write(STOP_LISTENING, requestScratch, 0, 4);
        }
    }

    /** Listens on a port; accepted connections arrive as onAccepted. */
    public boolean listen(int port) {
        return listen(port, TcpSocketOptions.DEFAULTS);
    }

    /** Listens on a port; its connections get {@code socketOptions} ({@link TcpSocketOptions#of}). */
    public boolean listen(int port, long socketOptions) {
        synchronized (requestScratch) {
            requestScratch.putInt(0, port);
            requestScratch.putLong(4, socketOptions);
            return requests.write(LISTEN, requestScratch, 0, 12);
        }
    }

    /** Conditional accept: answer a held SYN (onConnectRequest) with a SYN-ACK; onAccepted follows. */
    public boolean acceptRequest(long handle) {
        synchronized (requestScratch) {
            requestScratch.putLong(0, handle);
            return requests.write(ACCEPT_REQUEST, requestScratch, 0, 8);
        }
    }

    /** Conditional accept: refuse a held SYN with a RST (the peer's connect is refused); no onClosed follows. */
    public boolean rejectRequest(long handle) {
        synchronized (requestScratch) {
            requestScratch.putLong(0, handle);
            return requests.write(REJECT_REQUEST, requestScratch, 0, 8);
        }
    }

    /** SO_RCVBUF and TCP_MAXRT for an open connection ({@link TcpSocketOptions#of}; timestamps ignored). */
    public boolean options(long handle, long socketOptions) {
        synchronized (requestScratch) {
            requestScratch.putLong(0, handle);
            requestScratch.putLong(8, socketOptions);
            return requests.write(OPTIONS, requestScratch, 0, 16);
        }
    }

    /** Sends {@code length} bytes of native memory at {@code address} (valid until onSendComplete). */
    public boolean send(long handle, long requestId, long address, int length) {
        synchronized (requestScratch) {
            requestScratch.putLong(0, handle);
            requestScratch.putLong(8, requestId);
            requestScratch.putLong(16, address);
            requestScratch.putInt(24, length);
            return requests.write(SEND, requestScratch, 0, 28);
        }
    }

    /**
     * Sends {@code length} bytes as urgent data (TCP's MSG_OOB, what the Windows APIs call expedited): queued
     * after the sends before it, the urgent pointer marks the last of them. At most the send buffer's size.
     */
    public boolean sendUrgent(long handle, long requestId, long address, int length) {
        synchronized (requestScratch) {
            requestScratch.putLong(0, handle);
            requestScratch.putLong(8, requestId);
            requestScratch.putLong(16, address);
            requestScratch.putInt(24, length);
            return requests.write(SEND_URGENT, requestScratch, 0, 28);
        }
    }

    /** Graceful close of our direction (FIN after queued data). */
    public boolean shutdown(long handle) {
        synchronized (requestScratch) {
            requestScratch.putLong(0, handle);
            return requests.write(SHUTDOWN, requestScratch, 0, 8);
        }
    }

    /** Abortive close (RST). */
    public boolean abort(long handle) {
        synchronized (requestScratch) {
            requestScratch.putLong(0, handle);
            return requests.write(ABORT, requestScratch, 0, 8);
        }
    }

    /**
     * Returns a received mbuf (from onReceive, with the handle it came with) to the stack. The stack reopens
     * the window by the length it recorded; {@code length} only tells apart two descriptors of one mbuf (urgent
     * data splits one). A release of an mbuf the application does not hold is refused and counted, never a double
     * free.
     */
    public boolean release(long handle, long mbuf, int length) {
        synchronized (requestScratch) {
            requestScratch.putLong(0, handle);
            requestScratch.putLong(8, mbuf);
            requestScratch.putInt(16, length);
            return requests.write(RELEASE, requestScratch, 0, 20);
        }
    }

    /** Delivers outcomes to {@code handler} (one application thread). Returns how many. */
    public int pollEvents(TcpEventHandler handler) {
        target = handler;
        return events.read(eventDecoder);
    }

    private void onEvent(int type, MutableDirectBuffer b, int i, int length) {
        switch (type) {
            case EV_CONNECTED -> target.onConnectComplete(b.getLong(i), b.getLong(i + 8), b.getInt(i + 16));
            case EV_ACCEPTED -> target.onAccepted(b.getInt(i), b.getLong(i + 4), b.getInt(i + 12), b.getInt(i + 16),
                b.getInt(i + 20));
            case EV_URGENT -> {
                urgentView.wrap(b, i + 12, b.getInt(i + 8));
                target.onUrgentData(b.getLong(i), urgentView, 0, b.getInt(i + 8));
            }
            case EV_RECEIVE -> target.onReceive(b.getLong(i), b.getLong(i + 8), b.getLong(i + 16), b.getInt(i + 24));
            case EV_SEND_COMPLETE -> target.onSendComplete(b.getLong(i), b.getLong(i + 8), b.getInt(i + 16),
                b.getInt(i + 20));
            case EV_PEER_CLOSED -> target.onPeerClosed(b.getLong(i));
            case EV_FIN_ACKED -> target.onShutdownComplete(b.getLong(i));
            case EV_SEND_BACKLOG -> target.onIdealSendBacklog(b.getLong(i), b.getInt(i + 8));
            case EV_CONNECT_REQUEST -> {
                urgentView.wrap(b, i + 24, b.getInt(i + 20));
                target.onConnectRequest(b.getInt(i), b.getLong(i + 4), b.getInt(i + 12), b.getInt(i + 16), urgentView,
                    0, b.getInt(i + 20));
            }
            case EV_CLOSED -> target.onClosed(b.getLong(i), b.getInt(i + 8));
            case EV_LISTEN -> target.onListenComplete(b.getInt(i), b.getInt(i + 4));
            default -> {
            }
        }
    }

    // ================================================================ poll thread

    /** Carries out queued requests (poll thread, each duty cycle). */
    public int poll() {
        int work = requests.read(requestHandler, 256);
        if (overflowCount > 0) {
            work += overflow.controlledRead(mover);
        }
        if (backlogged && overflowCount == 0) {
            // The event ring was full: offer held-back data again now that the application read some.
            backlogged = false;
            tcp.resumeAllHandedOver();
        }
        return work;
    }

    private ControlledMessageHandler.Action moveOverflow(int type, MutableDirectBuffer b, int i, int length) {
        if (events.write(type, b, i, length)) {
            overflowCount--;
            return ControlledMessageHandler.Action.CONTINUE;
        }
        return ControlledMessageHandler.Action.ABORT;
    }

    private void onRequest(int type, MutableDirectBuffer b, int i, int length) {
        switch (type) {
            case CONNECT -> {
                long requestId = b.getLong(i);
                int status = tcp.connect(0, b.getInt(i + 16), b.getInt(i + 8), b.getInt(i + 12), this);
                if (status == NtStatus.STATUS_PENDING) {
                    TcpConnection c = tcp.lastConnection();
                    c.handover = this;
                    c.requestTag = requestId;
                } else {
                    postConnected(requestId, 0, status);
                }
            }
            case CONNECT_WITH_DATA -> {
                long requestId = b.getLong(i);
                int dataLength = b.getInt(i + 28);
                UnsafeBuffer data = source;
                data.wrap(b.getLong(i + 20), Math.max(dataLength, 1));
                int status = tcp.connect(b.getInt(i + 36), b.getInt(i + 16), b.getInt(i + 8), b.getInt(i + 12), this,
                    data, 0,
                    dataLength, b.getInt(i + 32) != 0, b.getLong(i + 40));
                if (status == NtStatus.STATUS_PENDING) {
                    TcpConnection c = tcp.lastConnection();
                    c.handover = this;
                    c.requestTag = requestId;
                } else {
                    postConnected(requestId, 0, status);
                }
            }
            case NODELAY -> {
                TcpConnection c = tcp.connection(b.getLong(i));
                if (c != null) {
                    c.noDelay(b.getInt(i + 8) != 0);
                }
            }
            case KEEPALIVE -> {
                TcpConnection c = tcp.connection(b.getLong(i));
                if (c != null) {
                    c.keepAlive(b.getInt(i + 8) != 0, b.getLong(i + 12), b.getLong(i + 20), b.getInt(i + 28));
                }
            }
            case STOP_LISTENING -> tcp.stopListening(b.getInt(i));
            case ACCEPT_REQUEST, REJECT_REQUEST -> {
                TcpConnection c = tcp.connection(b.getLong(i));
                if (c != null) {
                    if (type == ACCEPT_REQUEST) {
                        tcp.acceptRequest(c);
                    } else {
                        tcp.rejectRequest(c);
                    }
                }
            }
            case OPTIONS -> {
                TcpConnection c = tcp.connection(b.getLong(i));
                if (c != null) {
                    tcp.setOptions(c, b.getLong(i + 8));
                }
            }
            case LISTEN -> {
                int port = b.getInt(i);
                int status = tcp.listen(0, port, acceptor, b.getLong(i + 4));
                eventScratch.putInt(0, port);
                eventScratch.putInt(4, status);
                post(EV_LISTEN, 8);
            }
            case SEND, SEND_URGENT -> {
                long handle = b.getLong(i);
                long requestId = b.getLong(i + 8);
                TcpConnection c = tcp.connection(handle);
                if (c == null) {
                    postSendComplete(requestId, handle, 0, NtStatus.STATUS_INVALID_CONNECTION);
                    return;
                }
                int slot = c.index;
                if (sendCount[slot] == SENDS_PER_CONNECTION) {
                    postSendComplete(requestId, handle, 0, NtStatus.STATUS_INSUFFICIENT_RESOURCES);
                    return;
                }
                int at = slot * SENDS_PER_CONNECTION + (sendFirst[slot] + sendCount[slot]) % SENDS_PER_CONNECTION;
                sendAddress[at] = b.getLong(i + 16);
                sendLength[at] = b.getInt(i + 24);
                sendOffset[at] = 0;
                sendRequest[at] = requestId;
                sendUrgent[at] = type == SEND_URGENT;
                sendCount[slot]++;
                pump(c);
            }
            case SHUTDOWN -> {
                TcpConnection c = tcp.connection(b.getLong(i));
                if (c != null) {
                    if (sendCount[c.index] > 0) {
                        shutdownAfterSends[c.index] = true; // FIN after the data asked for before it
                    } else {
                        c.shutdown();
                    }
                }
            }
            case ABORT -> {
                TcpConnection c = tcp.connection(b.getLong(i));
                if (c != null) {
                    c.abort();
                }
            }
            case RELEASE -> onRelease(b.getLong(i), b.getLong(i + 8), b.getInt(i + 16));
            default -> {
            }
        }
    }

    /** Honours a release of a descriptor the application holds, with the recorded length; refuses any other. */
    private void onRelease(long handle, long mbuf, int lengthHint) {
        long first = held.get(mbuf);
        int e = -1;
        int previous = -1;
        if (first != NOT_HELD) {
            // The caller's length only picks between two descriptors of one mbuf; the window uses ours.
            int p = -1;
            for (int at = (int) first; at >= 0; p = at, at = heldNext[at]) {
                if (heldHandle[at] == handle && (e < 0 || heldLength[at] == lengthHint)) {
                    e = at;
                    previous = p;
                }
            }
        }
        if (e < 0) {
            counters.drop(DropReason.RELEASE_REFUSED).incrementRelease();
            return;
        }
        if (previous >= 0) {
            heldNext[previous] = heldNext[e];
        } else if (heldNext[e] >= 0) {
            held.put(mbuf, heldNext[e]);
        } else {
            held.remove(mbuf);
        }
        int length = heldLength[e];
        heldMbuf[e] = 0;
        freeEntries[freeEntryCount++] = e;
        heldCount--;
        tcp.release(handle, mbuf, length);
    }

    /** Descriptors handed to the application and not yet released (poll thread; tests, diagnostics). */
    public int heldDescriptors() {
        return heldCount;
    }

    /**
     * Frees every mbuf the application still holds (poll thread, at stack close: after it nobody could return
     * them); a later release of one is refused.
     */
    public void close() {
        for (int e = 0; e < heldMbuf.length; e++) {
            if (heldMbuf[e] != 0) {
                long mbuf = heldMbuf[e];
                heldMbuf[e] = 0;
                freeEntries[freeEntryCount++] = e;
                heldCount--;
                tcp.release(heldHandle[e], mbuf, heldLength[e]);
            }
        }
        held.clear();
    }

    /** A conditional listener holds a SYN: the application decides (acceptRequest / rejectRequest). */
    private void connectRequest(TcpConnection c, long synDataAddress, int synDataLength) {
        c.handover = this;
        c.handler = this; // to hear onClosed if the peer gives up or nobody decides in time
        int n = Math.min(synDataLength, MAX_SYN_DATA);
        eventScratch.putInt(0, c.localPort());
        eventScratch.putLong(4, c.handle());
        eventScratch.putInt(12, c.remoteIp());
        eventScratch.putInt(16, c.remotePort());
        eventScratch.putInt(20, n);
        if (n > 0) {
            synDataView.wrap(synDataAddress, n);
            eventScratch.putBytes(24, synDataView, 0, n);
        }
        post(EV_CONNECT_REQUEST, 24 + n);
    }

    private TcpHandler accept(TcpConnection c) {
        c.handover = this;
        idealBacklog[c.index] = 0;
        eventScratch.putInt(0, c.localPort());
        eventScratch.putLong(4, c.handle());
        eventScratch.putInt(12, c.remoteIp());
        eventScratch.putInt(16, c.remotePort());
        eventScratch.putInt(20, c.synDataLength);
        post(EV_ACCEPTED, 24);
        postIdealBacklog(c);
        return this;
    }

    /** Moves pending send requests into the send buffer as far as it has room. */
    private void pump(TcpConnection c) {
        int slot = c.index;
        while (sendCount[slot] > 0) {
            int at = slot * SENDS_PER_CONNECTION + sendFirst[slot];
            int remaining = sendLength[at] - sendOffset[at];
            if (remaining > 0) {
                source.wrap(sendAddress[at] + sendOffset[at], remaining);
                int n;
                if (sendUrgent[at]) {
                    // The urgent pointer must mark the request's last byte: wait until all of it fits.
                    if (remaining > c.sendSpace() && remaining <= tcp.config().sendBufferBytes()) {
                        return;
                    }
                    n = c.sendUrgent(source, 0, remaining);
                } else {
                    n = c.send(source, 0, remaining);
                }
                sendOffset[at] += n;
                if (n < remaining) {
                    return;
                }
            }
            postSendComplete(sendRequest[at], c.handle(), sendLength[at], NtStatus.STATUS_SUCCESS);
            sendFirst[slot] = (sendFirst[slot] + 1) % SENDS_PER_CONNECTION;
            sendCount[slot]--;
        }
        if (shutdownAfterSends[slot]) {
            shutdownAfterSends[slot] = false;
            c.shutdown();
        }
    }

    private void failSends(TcpConnection c, int status) {
        int slot = c.index;
        while (sendCount[slot] > 0) {
            int at = slot * SENDS_PER_CONNECTION + sendFirst[slot];
            postSendComplete(sendRequest[at], c.eventHandle(), sendOffset[at], status);
            sendFirst[slot] = (sendFirst[slot] + 1) % SENDS_PER_CONNECTION;
            sendCount[slot]--;
        }
        sendFirst[slot] = 0;
        shutdownAfterSends[slot] = false;
    }

    @Override
    public void onConnectComplete(TcpConnection c, int status) {
        postConnected(c.requestTag, status == NtStatus.STATUS_SUCCESS ? c.handle() : 0, status);
        if (status == NtStatus.STATUS_SUCCESS) {
            idealBacklog[c.index] = 0;
            postIdealBacklog(c);
        }
    }

    @Override
    public void onFinAcked(TcpConnection c) {
        eventScratch.putLong(0, c.handle());
        post(EV_FIN_ACKED, 8);
    }

    /** Posts the ideal send backlog when it changed: cwnd rounded up to a power of two, clamped. */
    private void postIdealBacklog(TcpConnection c) {
        int limit = tcp.config().sendBufferBytes();
        int cwnd = Math.max(c.congestionWindow(), 1);
        int ideal = Math.min(Math.max(Integer.highestOneBit(cwnd - 1) << 1, MIN_IDEAL_BACKLOG), limit);
        if (ideal != idealBacklog[c.index]) {
            idealBacklog[c.index] = ideal;
            eventScratch.putLong(0, c.handle());
            eventScratch.putInt(8, ideal);
            post(EV_SEND_BACKLOG, 12);
        }
    }

    /**
     * Whether the stack's TCP memory is short: at least three quarters of its mbuf budget is held (receive
     * queues, out-of-order stores, buffers applications hold). Providers tell their applications to return
     * zero-copy buffers soon (WSK: WSK_FLAG_RELEASE_ASAP). Any thread.
     */
    public boolean memoryPressure() {
        return tcp.memoryPressure();
    }

    @Override
    public int onReceive(TcpConnection c, long address, int length) {
        return 0; // not used: data leaves through the handover
    }

    @Override
    public boolean onHandover(TcpConnection c, long mbuf, long address, int length) {
        long handle = c.handle();
        eventScratch.putLong(0, handle);
        eventScratch.putLong(8, mbuf);
        eventScratch.putLong(16, address);
        eventScratch.putInt(24, length);
        if (freeEntryCount == 0 || overflowCount > 0 || !events.write(EV_RECEIVE, eventScratch, 0, 28)) {
            backlogged = true; // the data stays in the connection and is offered again
            return false;
        }
        int e = freeEntries[--freeEntryCount];
        heldMbuf[e] = mbuf;
        heldHandle[e] = handle;
        heldLength[e] = length;
        long first = held.put(mbuf, e);
        heldNext[e] = first == NOT_HELD ? -1 : (int) first;
        heldCount++;
        return true;
    }

    @Override
    public void onUrgentData(TcpConnection c, long address, int length) {
        int n = Math.min(length, URGENT_MAX);
        eventScratch.putLong(0, c.handle());
        eventScratch.putInt(8, n);
        urgentView.wrap(address, n);
        eventScratch.putBytes(12, urgentView, 0, n);
        post(EV_URGENT, 12 + n);
    }

    @Override
    public void onSendSpace(TcpConnection c, int freeBytes) {
        pump(c);
        postIdealBacklog(c);
    }

    @Override
    public void onPeerClosed(TcpConnection c) {
        eventScratch.putLong(0, c.handle());
        post(EV_PEER_CLOSED, 8);
    }

    @Override
    public void onClosed(TcpConnection c, int status) {
        failSends(c, status == NtStatus.STATUS_SUCCESS ? NtStatus.STATUS_CONNECTION_ABORTED : status);
        eventScratch.putLong(0, c.eventHandle());
        eventScratch.putInt(8, status);
        post(EV_CLOSED, 12);
    }

    private void postConnected(long requestId, long handle, int status) {
        eventScratch.putLong(0, requestId);
        eventScratch.putLong(8, handle);
        eventScratch.putInt(16, status);
        post(EV_CONNECTED, 20);
    }

    private void postSendComplete(long requestId, long handle, int bytes, int status) {
        eventScratch.putLong(0, requestId);
        eventScratch.putLong(8, handle);
        eventScratch.putInt(16, bytes);
        eventScratch.putInt(20, status);
        post(EV_SEND_COMPLETE, 24);
    }

    private void post(int type, int length) {
        if (overflowCount > 0 || !events.write(type, eventScratch, 0, length)) {
            if (overflow.write(type, eventScratch, 0, length)) {
                overflowCount++;
            } else {
                tcp.countLostEvent();
            }
        }
    }
}
