package io.fastpath.stack.shard;

import io.fastpath.clock.TscNanoClock;
import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.Port;
import io.fastpath.stack.Stack;
import io.fastpath.stack.StackConfig;
import io.fastpath.stack.StackRunner;
import io.fastpath.stack.counters.StackCounters;
import io.fastpath.stack.tcp.LocalPorts;
import io.fastpath.stack.tcp.TcpService;
import java.util.List;
import java.util.function.IntFunction;
import java.util.function.Supplier;
import java.util.function.ToLongFunction;
import java.util.function.IntSupplier;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.NanoClock;

/**
 * One host on a port with N queues: N {@link Stack} shards, shard q on queue q, each with its own poll thread
 * ({@link #start}) or driven by the caller ({@link #doWork}, invoker mode). Shared nothing on the data path:
 * each connection lives on exactly one shard, the one {@link #owner()} names. What the shards share is in the
 * {@link ShardGroup}: one local port table (a listener's port, an ephemeral port: one host), the owner function,
 * and the inbound rings over which a shard hands another the frames of its flows and the neighbours it learned.
 *
 * <p>Listening means listening on every shard (a SYN lands on the shard its flow belongs to); a connection opened
 * on shard q gets an ephemeral port whose flow belongs to q. Correctness does not depend on the port spreading
 * flows the way {@link #owner()} says: a segment that arrives on another queue is forwarded (counted as
 * {@code queue <q> forwarded frames}); with RSS that matches the owner function nothing is.
 *
 * <p>Counters: each shard has its own counters file ({@link StackConfig#forShard}), labels
 * {@code <name>: queue <q> <what>}; {@link #sum} adds one counter over the shards.
 *
 * <p>Thread: build, start and close from one thread; each shard's calls as for a {@link Stack}.
 */
public final class StackShards implements AutoCloseable {
    private final Stack[] stacks;
    private final ShardGroup group;
    private StackRunner[] runners;
    private boolean closed;

    /** Shard q on {@code queues[q]}, with the default clock ({@link TscNanoClock#defaultClock()}, shared). */
    public StackShards(Port[] queues, StackConfig config, FlowOwner owner) {
        this(queues, config, owner, TscNanoClock.defaultClock());
    }

    /** Shard q on {@code queues[q]} (each a queue pair of one port, or anything that behaves like one). */
    public StackShards(Port[] queues, StackConfig config, FlowOwner owner, NanoClock clock) {
        int n = queues.length;
        this.group = new ShardGroup(n, n == 1 ? FlowOwner.SINGLE : owner, config.ringCapacity());
        this.stacks = new Stack[n];
        try {
            for (int q = 0; q < n; q++) {
                stacks[q] = new Stack(queues[q], config.forShard(q, n), clock, group);
            }
        } catch (RuntimeException e) {
            for (Stack s : stacks) {
                if (s != null) {
                    s.close();
                }
            }
            throw e;
        }
    }

    /** One shard per queue of {@code port}, owning flows as the port's RSS spreads them ({@link #ownerOf}). */
    public static StackShards open(EthDevPort port, StackConfig config) {
        Port[] queues = new Port[port.queues()];
        for (int q = 0; q < queues.length; q++) {
            queues[q] = port.queue(q);
        }
        return new StackShards(queues, config, ownerOf(port));
    }

    /**
     * The owner function for a port: Toeplitz with the port's RSS key and redirection table where the PMD tells
     * them, else Microsoft's key and entry i to queue i % N (a virtual PMD spreads flows its own way; what lands
     * elsewhere is forwarded).
     */
    public static FlowOwner ownerOf(EthDevPort port) {
        return port.queues() == 1 ? FlowOwner.SINGLE
            : new RssFlowOwner(port.queues(), port.rssKey(), port.redirectionTable());
    }

    public int shards() {
        return stacks.length;
    }

    /** Shard {@code q}'s stack. */
    public Stack shard(int q) {
        return stacks[q];
    }

    public FlowOwner owner() {
        return group.owner();
    }

    /**
     * Every shard's {@link TcpService}, in shard order (each made with its shard id): what the providers'
     * sharded factories take ({@code WskProvider.register(shards)}, {@code TdiProvider.open(shards)},
     * {@code NdkAdapter.open(shards, info)}).
     */
    public List<TcpService> tcpServices() {
        TcpService[] services = new TcpService[stacks.length];
        for (int q = 0; q < stacks.length; q++) {
            services[q] = stacks[q].tcpService();
        }
        return List.of(services);
    }

    public ShardGroup group() {
        return group;
    }

    /** The one local port table of all shards. */
    public LocalPorts ports() {
        return group.ports();
    }

    /** Starts one poll thread per shard. */
    public void start(Supplier<IdleStrategy> idle) {
        start(idle, q -> null);
    }

    /**
     * Starts one poll thread per shard; {@code alongside.apply(q)}, if not null, runs on shard q's poll thread in
     * each duty cycle after the stack's work (an application on the poll thread, a provider's dispatch).
     */
    public void start(Supplier<IdleStrategy> idle, IntFunction<IntSupplier> alongside) {
        if (runners != null || closed) {
            throw new IllegalStateException("already started or closed");
        }
        StackRunner[] started = new StackRunner[stacks.length];
        try {
            for (int q = 0; q < stacks.length; q++) {
                IntSupplier work = alongside.apply(q);
                started[q] = work == null ? StackRunner.start(stacks[q], idle.get())
                    : StackRunner.start(stacks[q], idle.get(), work);
            }
        } catch (RuntimeException e) {
            for (StackRunner r : started) {
                if (r != null) {
                    r.close();
                }
            }
            throw e;
        }
        runners = started;
    }

    /** Invoker mode: one duty cycle of every shard, in order, on the calling (EAL-registered) thread. */
    public int doWork() {
        int work = 0;
        for (Stack s : stacks) {
            work += s.doWork();
        }
        return work;
    }

    /** One counter summed over the shards, e.g. {@code sum(c -> c.rxFrames.get())}. */
    public long sum(ToLongFunction<StackCounters> counter) {
        long total = 0;
        for (Stack s : stacks) {
            total += counter.applyAsLong(s.counters());
        }
        return total;
    }

    /**
     * Stops the shards (their poll threads, or in invoker mode each shard's {@code onClose} on the calling
     * thread), frees what was still forwarded between them, and closes their counters. The port is the caller's.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (runners != null) {
            for (StackRunner r : runners) {
                r.close();
            }
            for (StackRunner r : runners) {
                try {
                    r.thread().join(5_000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        } else {
            for (Stack s : stacks) {
                s.onClose();
            }
        }
        for (Stack s : stacks) {
            s.freeForwarded();
        }
        for (Stack s : stacks) {
            s.close();
        }
    }
}
