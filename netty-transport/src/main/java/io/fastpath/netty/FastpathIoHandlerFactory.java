package io.fastpath.netty;

import io.fastpath.dpdk.Eal;
import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.Port;
import io.fastpath.stack.Stack;
import io.fastpath.stack.StackConfig;
import io.fastpath.stack.device.PcapPort;
import io.fastpath.stack.shard.FlowOwner;
import io.fastpath.stack.shard.StackShards;
import io.fastpath.stack.tcp.TcpConfig;
import io.fastpath.stack.tcp.TcpServiceClient;
import io.fastpath.stack.wire.Ipv4Address;
import io.netty.channel.IoHandler;
import io.netty.channel.IoHandlerFactory;
import io.netty.util.concurrent.ThreadAwareExecutor;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Opens EAL, the port and the stack (or, with several queues, one stack shard per queue) when the group is
 * built (so that a bad device fails there), and makes the handler of each of the group's event loops: the
 * k-th loop Netty makes is shard k's poll thread.
 */
final class FastpathIoHandlerFactory implements IoHandlerFactory {
    private static final InternalLogger LOG = InternalLoggerFactory.getInstance(FastpathIoHandlerFactory.class);
    private static final AtomicInteger NAMES = new AtomicInteger();

    /** The settings of {@link FastpathEventLoopGroup.Builder}. */
    record Settings(String vdev, String ip, String gateway, int queues, List<String> eal, String pcap, String name,
                    int poolSize, TcpConfig tcp, Port port, long finTimeoutNs) {
    }

    final Stack[] stacks;
    final TcpServiceClient[] clients;
    final FastpathIoHandler[] handlers;
    final FlowOwner owner;
    private final StackShards shards;
    private final PktmbufPool pool;
    private final Port port;
    /** The server channel listening on each port, across the shards: one per port, SO_REUSEADDR or not. */
    final java.util.concurrent.atomic.AtomicReferenceArray<FastpathServerSocketChannel> listening =
        new java.util.concurrent.atomic.AtomicReferenceArray<>(65536);
    /** Where the next search for an ephemeral port starts, with several shards ({@link FastpathIoHandler#allocatePort}). */
    final AtomicInteger portCursor = new AtomicInteger();
    /** Handlers made so far (Netty makes the loops one after another on the group's constructing thread). */
    private int made;
    /** Handlers made and not yet destroyed: the last one to go closes the stacks and the port. */
    private final AtomicInteger live = new AtomicInteger();
    private boolean closed;

    /** The stack's name was made up here: its counters file goes when it closes (nobody can ask for it). */
    private boolean generatedName;
    /** {@link FastpathEventLoopGroup.Builder#finTimeout}. */
    long finTimeoutNs = FastpathEventLoopGroup.DEFAULT_FIN_TIMEOUT.toNanos();

    private FastpathIoHandlerFactory(Stack stack, PktmbufPool pool, Port port) {
        this(new Stack[] {stack}, null, FlowOwner.SINGLE, pool, port);
    }

    private FastpathIoHandlerFactory(StackShards shards, PktmbufPool pool, Port port) {
        this(stacksOf(shards), shards, shards.owner(), pool, port);
    }

    private FastpathIoHandlerFactory(Stack[] stacks, StackShards shards, FlowOwner owner, PktmbufPool pool, Port port) {
        this.stacks = stacks;
        this.shards = shards;
        this.owner = owner;
        this.clients = new TcpServiceClient[stacks.length];
        for (int q = 0; q < stacks.length; q++) {
            clients[q] = stacks[q].tcpService().newClient();
        }
        this.handlers = new FastpathIoHandler[stacks.length];
        this.pool = pool;
        this.port = port;
    }

    private static Stack[] stacksOf(StackShards shards) {
        Stack[] stacks = new Stack[shards.shards()];
        for (int q = 0; q < stacks.length; q++) {
            stacks[q] = shards.shard(q);
        }
        return stacks;
    }

    static FastpathIoHandlerFactory open(Settings s) {
        if (s.queues() < 1 || s.queues() > io.fastpath.stack.tcp.TcpService.MAX_SHARDS) {
            throw new IllegalArgumentException("--queues must be 1.." + io.fastpath.stack.tcp.TcpService.MAX_SHARDS
                + ", got " + s.queues());
        }
        if (s.queues() > 1 && s.pcap() != null) {
            throw new IllegalArgumentException("--pcap with --queues > 1: not yet (capture with --queues 1)");
        }
        if (s.queues() > 1 && s.port() != null
            && !(s.port() instanceof EthDevPort e && e.queues() == s.queues())) {
            throw new IllegalArgumentException("--queues " + s.queues() + " with a port of your own: give an"
                + " EthDevPort with " + s.queues() + " queue pairs (EthDevPort.Config.withQueues)");
        }
        Eal.Args args = Eal.Args.defaults();
        for (String a : s.eal()) {
            args.add(a);
        }
        Eal.init(args);
        // DPDK object names are short (a mempool's at most 26 characters).
        String shortName = "fpn" + ProcessHandle.current().pid() % 100000 + "n" + NAMES.incrementAndGet();
        String name = s.name() != null ? s.name() : shortName;
        StackConfig.Builder config = StackConfig.builder().name(name).cidr(s.ip());
        if (s.gateway() != null) {
            config.gateway(Ipv4Address.parse(s.gateway()));
        }
        if (s.tcp() != null) {
            config.tcp(s.tcp());
        }
        StackConfig built = config.build();
        PktmbufPool pool = null;
        Port port = s.port();
        Port opened = null;
        try {
            if (port == null) {
                pool = PktmbufPool.create((name.length() <= 20 ? name : shortName) + "_pool", s.poolSize());
                EthDevPort ethdev = EthDevPort.openVdev(EthDevPort.vdevWithQueues(s.vdev(), s.queues()), pool,
                    EthDevPort.Config.defaults().withQueues(s.queues()));
                opened = s.pcap() != null ? new PcapPort(ethdev, Path.of(s.pcap())) : ethdev;
                port = opened;
            } else if (s.pcap() != null) {
                throw new IllegalArgumentException("--pcap with a port of your own: wrap it in a PcapPort");
            }
            FastpathIoHandlerFactory f = s.queues() == 1 ? new FastpathIoHandlerFactory(new Stack(port, built), pool, opened)
                : new FastpathIoHandlerFactory(StackShards.open((EthDevPort) port, built), pool, opened);
            f.generatedName = s.name() == null;
            f.finTimeoutNs = s.finTimeoutNs();
            return f;
        } catch (RuntimeException | Error e) {
            if (opened != null) {
                opened.close();
            }
            if (pool != null) {
                pool.close();
            }
            throw e;
        }
    }

    int queues() {
        return stacks.length;
    }

    /** The shards (null with one queue). */
    StackShards shards() {
        return shards;
    }

    Stack stack(int q) {
        return stacks[q];
    }

    long finTimeouts() {
        long sum = 0;
        for (FastpathIoHandler h : handlers) {
            if (h != null) {
                sum += h.finTimeouts();
            }
        }
        return sum;
    }

    long failures() {
        long sum = 0;
        for (FastpathIoHandler h : handlers) {
            if (h != null) {
                sum += h.failures();
            }
        }
        return sum;
    }

    @Override
    public IoHandler newHandler(ThreadAwareExecutor ioExecutor) {
        if (made == handlers.length) {
            throw new IllegalStateException("one event loop per fastpath stack shard (--queues "
                + handlers.length + ")");
        }
        int q = made++;
        FastpathIoHandler h = new FastpathIoHandler(this, q, ioExecutor);
        handlers[q] = h;
        live.incrementAndGet();
        return h;
    }

    /**
     * A handler's loop ended (after its stack's onClose, on that loop): the last one closes what the shards
     * forwarded each other and nobody processed, the stacks, the port and the pool.
     */
    void handlerDestroyed() {
        if (live.decrementAndGet() == 0) {
            close();
        }
    }

    /** Closes the stacks, the port and the pool (after every stack's onClose). */
    synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (shards != null) {
            for (Stack st : stacks) {
                st.freeForwarded();
            }
        }
        for (Stack st : stacks) {
            st.close();
            if (generatedName) {
                try {
                    java.nio.file.Files.deleteIfExists(st.config().countersFile());
                } catch (java.io.IOException e) {
                    LOG.debug("counters file left behind", e);
                }
            }
        }
        if (port != null) {
            port.close();
        }
        if (pool != null) {
            pool.close();
        }
    }

    /** The group could not be made: nothing ever ran the stacks. */
    void closeUnused() {
        close();
    }
}
