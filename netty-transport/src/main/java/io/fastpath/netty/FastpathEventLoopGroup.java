package io.fastpath.netty;

import io.fastpath.dpdk.Port;
import io.fastpath.stack.Stack;
import io.fastpath.stack.tcp.TcpConfig;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelPromise;
import io.netty.channel.IoEventLoop;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ThreadFactory;
import io.netty.util.concurrent.DefaultThreadFactory;

/**
 * A Netty {@link io.netty.channel.EventLoopGroup} whose event loop is a fastpath stack's poll thread: each turn of
 * the loop runs one duty cycle of the stack ({@link FastpathIoHandler#run}) and then Netty's tasks and scheduled
 * tasks. The loop never blocks (busy poll), so its thread spins at 100 % of a core; after some 100 µs without work it
 * yields the core each idle turn (at once back when no other thread wants it), so that loops sharing a core hand it
 * over instead of waiting out each other's time slices.
 *
 * <p>One event loop per port queue: {@code --queues N} ({@link Builder#queues}) opens the port with N rx/tx queue
 * pairs and N stack shards ({@link io.fastpath.stack.shard.StackShards}: a connection lives on the shard its flow
 * hashes to under the port's RSS), and the group has N event loops, loop k being shard k's poll thread. The
 * application does not change: {@link #next()} goes round the loops; a server channel listens on every shard and
 * each accepted channel is registered on the loop of the shard that accepted it ({@link #register(Channel)}); a
 * client channel on loop k connects from an ephemeral port whose flow RSS gives back to shard k. Channels:
 * {@link FastpathServerSocketChannel} and {@link FastpathSocketChannel}.
 *
 * <pre>{@code
 * EventLoopGroup group = FastpathEventLoopGroup.fromArgs("--vdev", "net_tap0,iface=fp0", "--ip", "10.0.0.2/24");
 * new ServerBootstrap().group(group).channel(FastpathServerSocketChannel.class)...
 * }</pre>
 *
 * <p>The port, its mempool and the stack are opened when the group is made (so a bad {@code --vdev} fails here)
 * and closed by {@link #shutdownGracefully()}, after every connection of the group has been closed.
 */
public final class FastpathEventLoopGroup extends MultiThreadIoEventLoopGroup {
    /** The default of {@link Builder#finTimeout}: Linux's {@code net.ipv4.tcp_fin_timeout}. */
    public static final java.time.Duration DEFAULT_FIN_TIMEOUT = java.time.Duration.ofSeconds(60);
    /** The longest {@link Builder#finTimeout}: a day. */
    public static final java.time.Duration MAX_FIN_TIMEOUT = java.time.Duration.ofDays(1);

    /** The port flags of the command line, each with a value. */
    public static final List<String> PORT_FLAGS = List.of("--vdev", "--ip", "--gw", "--queues", "--eal", "--pcap");

    private final FastpathIoHandlerFactory factory;

    private FastpathEventLoopGroup(FastpathIoHandlerFactory factory, ThreadFactory threads) {
        super(factory.queues(), threads, factory);
        this.factory = factory;
        // Netty starts a loop's thread with its first task; a shard's loop must poll its queue from the start,
        // channel or not: another shard's connection's segments may arrive on it (RSS, or a peer that does not
        // hash), and ARP is answered on every queue.
        for (io.netty.util.concurrent.EventExecutor loop : this) {
            loop.execute(() -> { });
        }
    }

    /**
     * A group configured with the command line's port flags: {@code --vdev} (required), {@code --ip} (required,
     * address/prefix), {@code --gw}, {@code --queues} (event loops, one per queue), {@code --eal} (extra EAL arguments, space
     * separated) and {@code --pcap} (capture file). {@code --flag value} and {@code --flag=value} both work.
     */
    public static FastpathEventLoopGroup fromArgs(String... args) {
        return builder().args(args).build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The stack behind the first event loop (with one queue, the only one). Read it on its event loop. */
    public Stack stack() {
        return factory.stack(0);
    }

    /** Shard {@code q}'s stack: counters, ports, TCP diagnostics. Read it on {@link #loop loop(q)}. */
    public Stack stack(int q) {
        return factory.stack(q);
    }

    /** The stack shards with {@code --queues N > 1} (null with one queue): their counters, owner function, group. */
    public io.fastpath.stack.shard.StackShards shards() {
        return factory.shards();
    }

    /** The port queues, stack shards and event loops: {@code --queues}. */
    public int queues() {
        return factory.queues();
    }

    /** The event loop of shard {@code q} (its poll thread). */
    public IoEventLoop loop(int q) {
        return factory.handlers[q].loop;
    }

    /** Shard {@code q}'s handler (tests). */
    FastpathIoHandler handler(int q) {
        return factory.handlers[q];
    }

    /** The shard whose loop {@code loop} is, or -1 if it is not one of this group's. */
    public int shardOf(io.netty.channel.EventLoop loop) {
        for (int q = 0; q < factory.handlers.length; q++) {
            if (factory.handlers[q].loop == loop) {
                return q;
            }
        }
        return -1;
    }

    /**
     * Registers a channel: an accepted {@link FastpathSocketChannel} on the loop of the shard that accepted it
     * (what Netty's acceptor does with every child, {@code childGroup.register(child)}), any other on the next loop
     * ({@link #next()}, round-robin).
     */
    @SuppressWarnings("deprecation") // Netty's acceptor registers children through it
    @Override
    public ChannelFuture register(Channel channel) {
        IoEventLoop home = homeOf(channel);
        return home != null ? home.register(channel) : super.register(channel);
    }

    @SuppressWarnings("deprecation")
    @Override
    public ChannelFuture register(ChannelPromise promise) {
        IoEventLoop home = homeOf(promise.channel());
        return home != null ? home.register(promise) : super.register(promise);
    }

    @Deprecated
    @SuppressWarnings("deprecation")
    @Override
    public ChannelFuture register(Channel channel, ChannelPromise promise) {
        IoEventLoop home = homeOf(channel);
        return home != null ? home.register(channel, promise) : super.register(channel, promise);
    }

    private IoEventLoop homeOf(Channel channel) {
        if (channel instanceof FastpathSocketChannel c) {
            FastpathIoHandler h = c.handler();
            if (h != null && h.shards() == factory.handlers.length && factory.handlers[h.shard] == h) {
                return h.loop;
            }
        }
        return null;
    }

    /** Connections of closed channels reset because the peer did not close within {@link Builder#finTimeout}. */
    public long finTimeouts() {
        return factory.finTimeouts();
    }

    /** Duty cycles and stack events that threw (each is logged and the loop goes on): 0 in a healthy run. */
    public long failures() {
        return factory.failures();
    }

    /** Builder for a {@link FastpathEventLoopGroup}: the same settings as the command line's port flags. */
    public static final class Builder {
        private String vdev;
        private String ip;
        private String gateway;
        private int queues = 1;
        private String eal;
        private String pcap;
        private String name;
        private int poolSize = 32767;
        private TcpConfig tcp;
        private Port port;
        private ThreadFactory threads;
        private long finTimeoutNs = DEFAULT_FIN_TIMEOUT.toNanos();

        private Builder() {
        }

        /** Applies command-line port flags (see {@link FastpathEventLoopGroup#fromArgs}). */
        public Builder args(String... args) {
            Objects.requireNonNull(args, "args");
            for (int i = 0; i < args.length; i++) {
                String arg = args[i];
                String flag = arg;
                String value = null;
                int eq = arg.indexOf('=');
                if (arg.startsWith("--") && eq > 0) {
                    flag = arg.substring(0, eq);
                    value = arg.substring(eq + 1);
                }
                if (!PORT_FLAGS.contains(flag)) {
                    throw new IllegalArgumentException("unknown argument '" + arg + "' (port flags: " + PORT_FLAGS + ")");
                }
                if (value == null) {
                    if (i + 1 >= args.length) {
                        throw new IllegalArgumentException(flag + " needs a value");
                    }
                    value = args[++i];
                }
                switch (flag) {
                    case "--vdev" -> vdev(value);
                    case "--ip" -> ip(value);
                    case "--gw" -> gateway(value);
                    case "--queues" -> {
                        try {
                            queues(Integer.parseInt(value));
                        } catch (NumberFormatException e) {
                            throw new IllegalArgumentException("--queues must be a number, got '" + value + "'");
                        }
                    }
                    case "--eal" -> eal(value);
                    case "--pcap" -> pcap(value);
                    default -> throw new AssertionError(flag);
                }
            }
            return this;
        }

        /** The DPDK virtual device, e.g. {@code net_tap0,iface=fp0} or {@code net_af_packet0,iface=eth1}. */
        public Builder vdev(String value) {
            this.vdev = value;
            return this;
        }

        /** The stack's address with its prefix length, e.g. {@code 10.0.0.2/24}. */
        public Builder ip(String cidr) {
            this.ip = cidr;
            return this;
        }

        public Builder gateway(String address) {
            this.gateway = address;
            return this;
        }

        /**
         * Port queues (rx/tx queue pairs), one stack shard and one event loop each (default 1, at most 64). With
         * {@link #port} a port of your own, N > 1 needs an {@link io.fastpath.dpdk.EthDevPort} with N queues.
         */
        public Builder queues(int value) {
            if (value < 1 || value > io.fastpath.stack.tcp.TcpService.MAX_SHARDS) {
                throw new IllegalArgumentException("--queues must be 1.." + io.fastpath.stack.tcp.TcpService.MAX_SHARDS
                    + ", got " + value);
            }
            this.queues = value;
            return this;
        }

        /** Extra EAL arguments, space separated (EAL initialises once per JVM: the first group's win). */
        public Builder eal(String value) {
            this.eal = value;
            return this;
        }

        /** Writes every frame sent and received to this pcap file. */
        public Builder pcap(String path) {
            this.pcap = path;
            return this;
        }

        /**
         * The stack's name (counters file {@code /dev/shm/fastpath/<name>.counters} for {@code bin/fastpath stat},
         * mempool name), unique per JVM. Default: {@code fpn<pid>n<k>}, whose counters file is removed at shutdown.
         */
        public Builder name(String value) {
            this.name = value;
            return this;
        }

        /** Mbufs in the port's pool (default 32,767). */
        public Builder poolSize(int value) {
            this.poolSize = value;
            return this;
        }

        /** TCP tunables (default {@link TcpConfig#defaults()}). */
        public Builder tcp(TcpConfig value) {
            this.tcp = value;
            return this;
        }

        /**
         * A port opened by the caller (a ring pair, a port with a fault injector) instead of {@code --vdev}; the
         * group does not close it.
         */
        public Builder port(Port value) {
            this.port = value;
            return this;
        }

        /**
         * How long a connection whose channel was closed while the peer's side stays open (FIN-WAIT-2: our FIN was
         * acknowledged, the peer's FIN has not come) may wait for the peer before it is reset: Linux's
         * {@code tcp_fin_timeout} for orphaned sockets, 60 s by default. Without it a peer that never closes keeps
         * a connection slot for ever. A channel still open after {@code shutdownOutput()} (half-closed) is not
         * affected: it may read for as long as it likes. The orphan is reset (RST), where Linux lets it expire
         * silently, so that the peer learns at once that nobody is there.
         */
        public Builder finTimeout(java.time.Duration value) {
            if (value == null || value.isNegative() || value.isZero() || value.compareTo(MAX_FIN_TIMEOUT) > 0) {
                throw new IllegalArgumentException("finTimeout must be positive and at most " + MAX_FIN_TIMEOUT
                    + ", got " + value);
            }
            this.finTimeoutNs = value.toNanos();
            return this;
        }

        public Builder threadFactory(ThreadFactory value) {
            this.threads = value;
            return this;
        }

        public FastpathEventLoopGroup build() {
            if (port == null && vdev == null) {
                throw new IllegalArgumentException("missing --vdev");
            }
            if (ip == null) {
                throw new IllegalArgumentException("missing --ip");
            }
            List<String> ealArgs = new ArrayList<>();
            if (eal != null && !eal.isBlank()) {
                ealArgs.addAll(List.of(eal.trim().split("\\s+")));
            }
            FastpathIoHandlerFactory factory = FastpathIoHandlerFactory.open(new FastpathIoHandlerFactory.Settings(
                vdev, ip, gateway, queues, ealArgs, pcap, name, poolSize, tcp, port, finTimeoutNs));
            ThreadFactory t = threads != null ? threads : new DefaultThreadFactory("fastpath-netty");
            try {
                return new FastpathEventLoopGroup(factory, t);
            } catch (RuntimeException | Error e) {
                factory.closeUnused();
                throw e;
            }
        }
    }
}
