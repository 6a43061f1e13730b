package io.fastpath.provider;

import io.fastpath.stack.shard.FlowOwner;
import io.fastpath.stack.tcp.DirectEventTaker;
import io.fastpath.stack.tcp.TcpClient;
import io.fastpath.stack.tcp.TcpEventHandler;
import io.fastpath.stack.tcp.TcpService;
import io.fastpath.stack.tcp.TcpServiceClient;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntSupplier;

/**
 * A provider's own client of the stack's {@link TcpService} (or of every shard's, issue 12: a
 * {@link io.fastpath.stack.tcp.ShardedTcpClient}) and the handler its events go to: each dispatch
 * round {@link #poll}s the client's event ring into the handler; {@link #settle} lets the stack answer what a
 * closing provider asked (resets, stopped listeners) and return what was in flight; {@link #close} ends the
 * client, which frees its place in the service and returns every descriptor it still held.
 *
 * <p>Thread: the provider's dispatch thread (or the thread closing the provider once nothing dispatches).
 */
public final class ClientPump implements AutoCloseable {
    /** How long {@link #settle} waits at most, and how many idle rounds in a row end it early. */
    public static final long SETTLE_NS = TimeUnit.SECONDS.toNanos(1);
    public static final int SETTLE_QUIET_ROUNDS = 20;

    private final TcpClient client;
    private final TcpEventHandler events;
    /** The stacks' services the client's requests go to, and whether this round holds each one's output. */
    private final TcpService[] services;
    private final boolean[] held;

    /** A client of one stack's service (one shard: today's path, the service's own {@link TcpServiceClient}). */
    public ClientPump(TcpService service, TcpEventHandler events) {
        this.client = service.newClient();
        this.events = events;
        this.services = new TcpService[] {service};
        this.held = new boolean[1];
    }

    /**
     * A client over the shards of a port ({@link TcpClient#open}): shard {@code i}'s service at index {@code i};
     * requests reach a connection on whichever shard it lives, listens cover every shard.
     */
    public ClientPump(List<TcpService> shards, FlowOwner owner, TcpEventHandler events) {
        this.client = TcpClient.open(shards, owner);
        this.events = events;
        this.services = shards.toArray(new TcpService[0]);
        this.held = new boolean[services.length];
    }

    /** The client (for requests: connect, listen, send, release, ...). */
    public TcpClient client() {
        return client;
    }

    /**
     * Events by direct call (docs/architecture.md, "Direct events"): while the provider dispatches on the stack's
     * bound poll thread ({@code loop}), its client's events skip the event ring and the stack runs a round of the
     * provider right after its duty cycle to take them. A sharded client keeps the rings (each shard has a poll
     * thread of its own). Call at start-up.
     */
    public void takeEventsDirectly(DispatchLoop loop) {
        if (client instanceof TcpServiceClient c) {
            c.directEvents(new DirectEventTaker() {
                @Override
                public boolean eventsOnThisThread() {
                    return loop.takesEventsHere();
                }

                @Override
                public void takeDirectEvents() {
                    loop.dispatchForEvents();
                }
            });
        }
    }

    /**
     * A dispatch round begins: on a stack's bound poll thread, the segments the round's direct requests make due
     * wait for {@link #endRound} and leave in one transmit burst ({@link TcpService#holdOutput}); on any other
     * thread nothing changes (requests take the rings).
     */
    public void beginRound() {
        for (int i = 0; i < services.length; i++) {
            held[i] = services[i].holdOutput();
        }
    }

    /** The round is over: what its direct requests made due leaves now ({@link TcpService#releaseOutput}). */
    public void endRound() {
        for (int i = 0; i < services.length; i++) {
            boolean h = held[i];
            held[i] = false;
            services[i].releaseOutput(h);
        }
    }

    /**
     * Runs one dispatch round's {@code work} between {@link #beginRound} and {@link #endRound}: the direct sends of
     * the round leave together at its end, also when the work throws. Returns the work done.
     */
    public int round(java.util.function.IntSupplier work) {
        beginRound();
        try {
            return work.getAsInt();
        } finally {
            endRound();
        }
    }

    /** Delivers the client's events to the handler. Returns how many. */
    public int poll() {
        return client.pollEvents(events);
    }

    /**
     * Polls events and runs {@code otherWork} (the provider's deferred work and completions) until
     * {@link #SETTLE_QUIET_ROUNDS} rounds in a row did nothing, or {@link #SETTLE_NS} passed.
     */
    public void settle(IntSupplier otherWork) {
        long deadline = System.nanoTime() + SETTLE_NS;
        int quiet = 0;
        while (quiet < SETTLE_QUIET_ROUNDS && System.nanoTime() < deadline) {
            int work = poll() + otherWork.getAsInt();
            if (work == 0) {
                quiet++;
                LockSupport.parkNanos(1_000_000);
            } else {
                quiet = 0;
            }
        }
    }

    /**
     * A connect's outcome for a request nobody waits for any more (cancelled, timed out, closed meanwhile): a
     * connection it opened is reset.
     */
    public void dropConnectOutcome(long handle, int status) {
        if (status == NtStatus.STATUS_SUCCESS.code() && handle != 0) {
            client.abort(handle);
        }
    }

    /**
     * A listen's outcome for a listener nobody waits for any more: a port it opened is closed again unless
     * {@code inUse} (another listener of the provider took it meanwhile).
     */
    public void dropListenOutcome(int port, int status, boolean inUse) {
        if (status == NtStatus.STATUS_SUCCESS.code() && !inUse) {
            client.stopListening(port);
        }
    }

    /** Ends the client ({@link TcpServiceClient#close}, on every shard): later requests and releases are refused. */
    @Override
    public void close() {
        client.close();
    }

    /**
     * Ends the client and waits, up to {@link #SETTLE_NS}, until every shard's poll thread has carried that out:
     * its connections reset, their queued sends dropped, so the stack reads and writes no memory a request of this
     * client named any more. A provider completes the IRPs still with the stack only after this (their buffers'
     * owners may go then). Does not wait on a shard's own poll thread (it would wait for itself; the close is
     * carried out in its next cycle), nor past the time limit (a stack whose poll thread stopped reads nothing
     * either). Returns whether the close is done.
     */
    public boolean closeAndAwait() {
        client.close();
        Thread self = Thread.currentThread();
        for (TcpService s : services) {
            if (s.pollThread() == self) {
                return client.isClosed();
            }
        }
        long deadline = System.nanoTime() + SETTLE_NS;
        while (!client.isClosed() && System.nanoTime() - deadline < 0) {
            LockSupport.parkNanos(100_000);
        }
        return client.isClosed();
    }
}
