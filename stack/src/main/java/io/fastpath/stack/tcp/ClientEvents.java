package io.fastpath.stack.tcp;

import io.fastpath.stack.tcp.protocol.AcceptedEventFlyweight;
import io.fastpath.stack.tcp.protocol.ConnectedEventFlyweight;
import io.fastpath.stack.tcp.protocol.ConnectionEventFlyweight;
import io.fastpath.stack.tcp.protocol.EventType;
import io.fastpath.stack.tcp.protocol.ListenEventFlyweight;
import io.fastpath.stack.tcp.protocol.ReceiveEventFlyweight;
import io.fastpath.stack.tcp.protocol.SendCompleteEventFlyweight;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.ControlledMessageHandler;
import org.agrona.concurrent.MessageHandler;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.ringbuffer.OneToOneRingBuffer;
import org.agrona.concurrent.ringbuffer.RingBuffer;

/**
 * The poll thread's half of a {@link TcpServiceClient}'s way back: its event ring (typed records, written with
 * {@code tryClaim}/{@code commit} by the flyweights of {@code io.fastpath.stack.tcp.protocol}, read and decoded
 * into a {@link TcpEventHandler} by the application's event thread) and the events waiting for room on it.
 *
 * <p>Threads: the post methods, {@link #moveWaiting} and the receive claim on the poll thread; {@link #poll} on
 * the client's one event thread.
 */
final class ClientEvents {
    private final TcpService service;
    /** The service's shard bits, or-ed into every handle an event carries ({@link TcpService#SHARD_SHIFT}). */
    private final long shardBits;
    private final OneToOneRingBuffer events;
    // ---------------------------------------------------------------- event thread
    private final UnsafeBuffer dataView = new UnsafeBuffer(0, 0);
    private final MessageHandler eventDecoder = this::onEvent;
    private TcpEventHandler target;
    private final ConnectedEventFlyweight connectedIn = new ConnectedEventFlyweight();
    private final AcceptedEventFlyweight acceptedIn = new AcceptedEventFlyweight();
    private final ReceiveEventFlyweight receiveIn = new ReceiveEventFlyweight();
    private final SendCompleteEventFlyweight sendCompleteIn = new SendCompleteEventFlyweight();
    private final ConnectionEventFlyweight connectionIn = new ConnectionEventFlyweight();
    private final ListenEventFlyweight listenIn = new ListenEventFlyweight();
    // ---------------------------------------------------------------- poll thread
    /**
     * Events that found the event ring full, oldest first, moved over as the application makes room. While it
     * holds any, every new event queues behind them and data stays in the connections, so the application
     * sees events in order. Lost (and counted) only when this is full too.
     */
    private final OneToOneRingBuffer overflow;
    private int overflowCount;
    private final ControlledMessageHandler mover = this::moveOverflow;
    private RingBuffer claimed;
    private final ConnectedEventFlyweight connectedOut = new ConnectedEventFlyweight();
    private final AcceptedEventFlyweight acceptedOut = new AcceptedEventFlyweight();
    private final ReceiveEventFlyweight receiveOut = new ReceiveEventFlyweight();
    private final SendCompleteEventFlyweight sendCompleteOut = new SendCompleteEventFlyweight();
    private final ConnectionEventFlyweight connectionOut = new ConnectionEventFlyweight();
    private final ListenEventFlyweight listenOut = new ListenEventFlyweight();
    private final UnsafeBuffer source = new UnsafeBuffer(0, 0);
    // ---------------------------------------------------------------- direct events (bound poll thread only)
    /** Who takes the events on the poll thread itself, or null (docs/architecture.md, "Direct events"). */
    private volatile DirectEventTaker taker;
    /**
     * Events kept for a direct call, oldest first: one record of {@link #DIRECT_STRIDE} longs per event in one
     * plain array (type, handle, two longs, two ints packed in one), so a record is one or two cache lines. Used only while the ring and the overflow are empty, so they are older than anything on the ring;
     * the first event that may not go here moves them onto the ring first ({@link #spillDirect}), so order holds.
     * At most {@link #directCapacity}: the ring, empty when the first was kept, always has room for all of them.
     */
    private final int directCapacity;
    private final long[] direct;
    private static final int DIRECT_STRIDE = 5;
    private int directFirst;
    private int directCount;
    /** Events delivered by direct call so far (bound thread; tests, diagnostics). */
    private long directDelivered;
    /** Per connection slot: the connection whose URGENT event was posted last, and the ring position after it. */
    private final long[] urgentHandle;
    private final long[] urgentUnreadUntil;

    ClientEvents(TcpService service, UnsafeBuffer eventRing, UnsafeBuffer overflowRing, int maxConnections) {
        this.service = service;
        this.shardBits = service.shardBits;
        this.urgentHandle = new long[maxConnections];
        this.urgentUnreadUntil = new long[maxConnections];
        this.events = new OneToOneRingBuffer(eventRing);
        this.overflow = new OneToOneRingBuffer(overflowRing);
        // Each kept event needs at most one ring record (a RECEIVE or SEND_COMPLETE: under 64 bytes with header).
        this.directCapacity = Math.min(DIRECT_MAX, events.capacity() / (2 * DIRECT_RECORD_ROOM));
        this.direct = new long[directCapacity * DIRECT_STRIDE];
    }

    /** The most events kept for a direct call at once. */
    static final int DIRECT_MAX = 64;
    /** Ring room one kept event may need when it is moved onto the ring (the largest direct type's record). */
    private static final int DIRECT_RECORD_ROOM = 64;

    /** Events on the calling (bound poll) thread are kept for a direct call to {@code taker} (null: never). */
    void directTaker(DirectEventTaker taker) {
        this.taker = taker;
    }

    /**
     * Whether the event being posted may be kept for a direct call: a taker on this thread, which is the stack's
     * bound poll thread, nothing on the ring or in the overflow (it would be overtaken), and room in the queue.
     */
    private boolean keepDirect() {
        DirectEventTaker t = taker;
        // The cheap, local checks first: the ring's consumer position is written by the event thread (a cross-core
        // read when the provider runs on a thread of its own), so it is read only when the taker is here.
        if (t == null || directCount == directCapacity || overflowCount > 0 || service.closed()
            || !service.onBoundThread() || !t.eventsOnThisThread()) {
            return false;
        }
        return events.producerPosition() == events.consumerPosition();
    }

    private void keep(int type, long handle, long a, long b, int c, int d) {
        int slot = directFirst + directCount; // both below directCapacity: a compare, not a division
        int at = (slot >= directCapacity ? slot - directCapacity : slot) * DIRECT_STRIDE;
        long[] r = direct;
        r[at] = type;
        r[at + 1] = handle;
        r[at + 2] = a;
        r[at + 3] = b;
        r[at + 4] = (long) c << 32 | d & 0xFFFF_FFFFL;
        directCount++;
    }

    /** Events wait for a direct call (poll thread). */
    boolean directPending() {
        return directCount > 0;
    }

    /** Events delivered by direct call so far (bound thread). */
    long directDelivered() {
        return directDelivered;
    }

    /**
     * After the duty cycle (bound thread): the taker takes the kept events, or, when it no longer takes them on
     * this thread (its provider moved to a thread of its own), they move onto the ring, in order.
     */
    int takeDirect() {
        if (directCount == 0) {
            return 0;
        }
        DirectEventTaker t = taker;
        if (t == null || !t.eventsOnThisThread()) {
            spillDirect();
            return 1;
        }
        long before = directDelivered;
        t.takeDirectEvents();
        return directDelivered != before || directCount == 0 ? 1 : 0; // a taker already in its round took none
    }

    /** Moves the kept events onto the ring (the stack is unbound, driven by another thread, or closing). */
    int spillDirectEvents() {
        if (directCount == 0) {
            return 0;
        }
        spillDirect();
        return 1;
    }

    /**
     * Delivers the kept events by direct call, oldest first (the event thread): those kept when this began and
     * those the handlers' requests keep meanwhile (a send's completion), as a ring read takes the records written
     * while it reads; at most twice the queue's size, so handlers that keep making events cannot hold it here.
     */
    private int deliverDirect(TcpEventHandler handler) {
        int n = 0;
        long[] r = direct;
        for (int limit = 2 * directCapacity; n < limit && directCount > 0; n++) {
            int at = directFirst * DIRECT_STRIDE;
            directFirst = directFirst + 1 == directCapacity ? 0 : directFirst + 1;
            directCount--;
            directDelivered++;
            long handle = r[at + 1];
            long a = r[at + 2];
            int c = (int) (r[at + 4] >>> 32);
            int d = (int) r[at + 4];
            switch ((int) r[at]) {
                case EventType.RECEIVE -> handler.onReceive(handle, a, r[at + 3], c);
                case EventType.SEND_COMPLETE -> handler.onSendComplete(a, handle, c, d);
                case EventType.CONNECTED -> handler.onConnectComplete(a, handle, c);
                case EventType.LISTEN -> handler.onListenComplete(c, d);
                case EventType.PEER_CLOSED -> handler.onPeerClosed(handle);
                case EventType.FIN_ACKED -> handler.onShutdownComplete(handle);
                case EventType.SEND_BACKLOG -> handler.onIdealSendBacklog(handle, c);
                case EventType.CLOSED -> handler.onClosed(handle, c);
                default -> {
                }
            }
        }
        return n;
    }

    /**
     * Moves the kept events onto the ring, oldest first (poll thread): before an event that may not be kept is
     * posted, and when the taker no longer takes them on this thread. They fit: the ring was empty when the first
     * was kept, nothing else went on it since, and {@link #directCapacity} records fit in half of it.
     */
    private void spillDirect() {
        long[] r = direct;
        while (directCount > 0) {
            int at = directFirst * DIRECT_STRIDE;
            directFirst = directFirst + 1 == directCapacity ? 0 : directFirst + 1;
            directCount--;
            int type = (int) r[at];
            long handle = r[at + 1];
            long a = r[at + 2];
            int c = (int) (r[at + 4] >>> 32);
            int d = (int) r[at + 4];
            switch (type) {
                case EventType.RECEIVE -> {
                    int i = events.tryClaim(EventType.RECEIVE, ReceiveEventFlyweight.LENGTH);
                    if (i < 0) {
                        service.countLostEvent(); // cannot happen (the room argument above); counted if it did
                    } else {
                        receiveOut.wrap(events.buffer(), i).handle(handle).mbuf(a).address(r[at + 3]).length(c);
                        events.commit(i);
                    }
                }
                case EventType.SEND_COMPLETE -> ringSendComplete(a, handle, c, d);
                case EventType.CONNECTED -> ringConnected(a, handle, c);
                case EventType.LISTEN -> ringListen(c, d);
                default -> ringConnectionEvent(type, handle, c);
            }
        }
    }

    /** Delivers waiting events to {@code handler} (the client's event thread). Returns how many. */
    int poll(TcpEventHandler handler) {
        int n = 0;
        if (directCount > 0 && service.onBoundThread()) {
            n = deliverDirect(handler); // older than anything on the ring
        }
        target = handler;
        return n + events.read(eventDecoder);
    }

    /** Whether events wait for room on the ring (new ones queue behind them). */
    boolean waiting() {
        return overflowCount > 0;
    }

    /** Moves waiting events onto the ring as far as the application made room. Returns how many moved. */
    int moveWaiting() {
        return overflowCount > 0 ? overflow.controlledRead(mover) : 0;
    }

    /** RECEIVE events the ring has room for now (poll thread). */
    int freeReceiveRecords() {
        long used = events.producerPosition() - events.consumerPosition();
        return (int) Math.max(0, (events.capacity() - used) / WaitingConnections.RECEIVE_RECORD);
    }

    /** How far the application has read the ring (it made room since when this moved). */
    long consumerPosition() {
        return events.consumerPosition();
    }

    /** Room for a RECEIVE on the ring itself (data never waits here: it stays in its connection), or -1. */
    int claimReceive() {
        if (keepDirect()) {
            return DIRECT_INDEX;
        }
        spillDirect();
        return overflowCount > 0 ? -1 : events.tryClaim(EventType.RECEIVE, ReceiveEventFlyweight.LENGTH);
    }

    /** {@link #claimReceive}'s answer when the RECEIVE is kept for a direct call (no ring index is this large). */
    static final int DIRECT_INDEX = Integer.MAX_VALUE;

    void commitReceive(int i, long handle, long mbuf, long address, int length) {
        if (i == DIRECT_INDEX) {
            keep(EventType.RECEIVE, handle | shardBits, mbuf, address, length, 0);
            return;
        }
        receiveOut.wrap(events.buffer(), i).handle(handle | shardBits).mbuf(mbuf).address(address).length(length);
        events.commit(i);
    }

    /**
     * Urgent data: a peer can send it at will (each one-byte URG segment leaves the stream, so nothing counts
     * against the window), so it must not crowd out the events that complete requests. It goes on the ring only
     * when the ring has room and no event waits (never into the overflow), and at most one URGENT event per
     * connection is unread: a later urgent byte while one is is dropped and counted (TCP_URGENT_LOST), as an
     * urgent pointer moving on before the reader took the byte it marked (RFC 6093 §4: one urgent byte at a time).
     */
    void postUrgent(long handle, long address, int n) {
        spillDirect(); // urgent data and accepts always take the ring: what was kept goes before them
        int slot = (int) handle;
        if (overflowCount > 0 || slot < 0 || slot >= urgentHandle.length
            || urgentHandle[slot] == handle && events.consumerPosition() < urgentUnreadUntil[slot]) {
            service.countLostUrgent();
            return;
        }
        int i = events.tryClaim(EventType.URGENT, ConnectionEventFlyweight.LENGTH + n);
        if (i < 0) {
            service.countLostUrgent();
            return;
        }
        connectionOut.wrap(events.buffer(), i).handle(handle | shardBits).value(n);
        source.wrap(address, n);
        events.buffer().putBytes(i + ConnectionEventFlyweight.DATA_OFFSET, source, 0, n);
        events.commit(i);
        urgentHandle[slot] = handle;
        urgentUnreadUntil[slot] = events.producerPosition();
    }

    private void onEvent(int type, MutableDirectBuffer b, int i, int length) {
        switch (type) {
            case EventType.RECEIVE -> {
                ReceiveEventFlyweight e = receiveIn.wrap(b, i);
                target.onReceive(e.handle(), e.mbuf(), e.address(), e.length());
            }
            case EventType.SEND_COMPLETE -> {
                SendCompleteEventFlyweight e = sendCompleteIn.wrap(b, i);
                target.onSendComplete(e.requestId(), e.handle(), e.bytes(), e.status());
            }
            case EventType.CONNECTED -> {
                ConnectedEventFlyweight e = connectedIn.wrap(b, i);
                target.onConnectComplete(e.requestId(), e.handle(), e.status());
            }
            case EventType.ACCEPTED -> {
                AcceptedEventFlyweight e = acceptedIn.wrap(b, i);
                target.onAccepted(e.listenPort(), e.handle(), e.remoteIp(), e.remotePort(), e.synDataLength());
            }
            case EventType.CONNECT_REQUEST -> {
                AcceptedEventFlyweight e = acceptedIn.wrap(b, i);
                int n = e.synDataLength();
                dataView.wrap(b, i + AcceptedEventFlyweight.SYN_DATA_OFFSET, n);
                target.onConnectRequest(e.listenPort(), e.handle(), e.remoteIp(), e.remotePort(), dataView, 0, n);
            }
            case EventType.URGENT -> {
                ConnectionEventFlyweight e = connectionIn.wrap(b, i);
                int n = e.value();
                dataView.wrap(b, i + ConnectionEventFlyweight.DATA_OFFSET, n);
                target.onUrgentData(e.handle(), dataView, 0, n);
            }
            case EventType.PEER_CLOSED -> target.onPeerClosed(connectionIn.wrap(b, i).handle());
            case EventType.FIN_ACKED -> target.onShutdownComplete(connectionIn.wrap(b, i).handle());
            case EventType.SEND_BACKLOG -> {
                ConnectionEventFlyweight e = connectionIn.wrap(b, i);
                target.onIdealSendBacklog(e.handle(), e.value());
            }
            case EventType.CLOSED -> {
                ConnectionEventFlyweight e = connectionIn.wrap(b, i);
                target.onClosed(e.handle(), e.value());
            }
            case EventType.LISTEN -> {
                ListenEventFlyweight e = listenIn.wrap(b, i);
                target.onListenComplete(e.port(), e.status());
            }
            default -> {
            }
        }
    }
    private ControlledMessageHandler.Action moveOverflow(int type, MutableDirectBuffer b, int i, int length) {
        if (events.write(type, b, i, length)) {
            overflowCount--;
            return ControlledMessageHandler.Action.CONTINUE;
        }
        return ControlledMessageHandler.Action.ABORT;
    }
    /** Room for an event: on the event ring, or behind the events already waiting; -1 when both are full. */
    private int claimEvent(int type, int length) {
        if (overflowCount == 0) {
            int index = events.tryClaim(type, length);
            if (index >= 0) {
                claimed = events;
                return index;
            }
        }
        int index = overflow.tryClaim(type, length);
        if (index >= 0) {
            overflowCount++;
            claimed = overflow;
            return index;
        }
        service.countLostEvent();
        return -1;
    }
    void postConnected(long requestId, long handle, int status) {
        long h = handle == 0 ? 0 : handle | shardBits;
        if (keepDirect()) {
            keep(EventType.CONNECTED, h, requestId, 0, status, 0);
            return;
        }
        spillDirect();
        ringConnected(requestId, h, status);
    }

    private void ringConnected(long requestId, long h, int status) {
        int i = claimEvent(EventType.CONNECTED, ConnectedEventFlyweight.LENGTH);
        if (i >= 0) {
            connectedOut.wrap(claimed.buffer(), i).requestId(requestId).handle(h).status(status);
            claimed.commit(i);
        }
    }
    void postListen(int port, int status) {
        if (keepDirect()) {
            keep(EventType.LISTEN, 0, 0, 0, port, status);
            return;
        }
        spillDirect();
        ringListen(port, status);
    }

    private void ringListen(int port, int status) {
        int i = claimEvent(EventType.LISTEN, ListenEventFlyweight.LENGTH);
        if (i >= 0) {
            listenOut.wrap(claimed.buffer(), i).port(port).status(status);
            claimed.commit(i);
        }
    }
    void postSendComplete(long requestId, long handle, int bytes, int status) {
        postSendCompleteAsGiven(requestId, handle | shardBits, bytes, status);
    }

    /** A send refused before it named a connection: its handle goes back as the application gave it. */
    void postSendRefused(long requestId, long handle, int status) {
        postSendCompleteAsGiven(requestId, handle, 0, status);
    }

    private void postSendCompleteAsGiven(long requestId, long handle, int bytes, int status) {
        if (keepDirect()) {
            keep(EventType.SEND_COMPLETE, handle, requestId, 0, bytes, status);
            return;
        }
        spillDirect();
        ringSendComplete(requestId, handle, bytes, status);
    }

    private void ringSendComplete(long requestId, long handle, int bytes, int status) {
        int i = claimEvent(EventType.SEND_COMPLETE, SendCompleteEventFlyweight.LENGTH);
        if (i >= 0) {
            sendCompleteOut.wrap(claimed.buffer(), i).requestId(requestId).handle(handle).bytes(bytes).status(status);
            claimed.commit(i);
        }
    }
    void postConnectionEvent(int type, long handle, int value) {
        if (keepDirect()) {
            keep(type, handle | shardBits, 0, 0, value, 0);
            return;
        }
        spillDirect();
        ringConnectionEvent(type, handle | shardBits, value);
    }

    private void ringConnectionEvent(int type, long h, int value) {
        int i = claimEvent(type, ConnectionEventFlyweight.LENGTH);
        if (i >= 0) {
            connectionOut.wrap(claimed.buffer(), i).handle(h).value(value);
            claimed.commit(i);
        }
    }
    void postAccepted(int type, TcpConnection c, int synDataLength, long synDataAddress) {
        spillDirect();
        int i = claimEvent(type, AcceptedEventFlyweight.LENGTH + (type == EventType.CONNECT_REQUEST
            ? synDataLength : 0));
        if (i >= 0) {
            AcceptedEventFlyweight e = acceptedOut.wrap(claimed.buffer(), i)
                .handle(c.handle() | shardBits)
                .listenPort(c.localPort())
                .remoteIp(c.remoteIp())
                .remotePort(c.remotePort())
                .synDataLength(synDataLength);
            if (type == EventType.CONNECT_REQUEST && synDataLength > 0) {
                source.wrap(synDataAddress, synDataLength);
                e.buffer().putBytes(i + AcceptedEventFlyweight.SYN_DATA_OFFSET, source, 0, synDataLength);
            }
            claimed.commit(i);
        }
    }
}
