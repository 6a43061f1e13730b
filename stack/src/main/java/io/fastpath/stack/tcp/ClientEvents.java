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
    }

    /** Delivers waiting events to {@code handler} (the client's event thread). Returns how many. */
    int poll(TcpEventHandler handler) {
        target = handler;
        return events.read(eventDecoder);
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
        return overflowCount > 0 ? -1 : events.tryClaim(EventType.RECEIVE, ReceiveEventFlyweight.LENGTH);
    }

    void commitReceive(int i, long handle, long mbuf, long address, int length) {
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
        int i = claimEvent(EventType.CONNECTED, ConnectedEventFlyweight.LENGTH);
        if (i >= 0) {
            connectedOut.wrap(claimed.buffer(), i).requestId(requestId).handle(handle == 0 ? 0 : handle | shardBits)
                .status(status);
            claimed.commit(i);
        }
    }
    void postListen(int port, int status) {
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
        int i = claimEvent(EventType.SEND_COMPLETE, SendCompleteEventFlyweight.LENGTH);
        if (i >= 0) {
            sendCompleteOut.wrap(claimed.buffer(), i).requestId(requestId).handle(handle).bytes(bytes).status(status);
            claimed.commit(i);
        }
    }
    void postConnectionEvent(int type, long handle, int value) {
        int i = claimEvent(type, ConnectionEventFlyweight.LENGTH);
        if (i >= 0) {
            connectionOut.wrap(claimed.buffer(), i).handle(handle | shardBits).value(value);
            claimed.commit(i);
        }
    }
    void postAccepted(int type, TcpConnection c, int synDataLength, long synDataAddress) {
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
