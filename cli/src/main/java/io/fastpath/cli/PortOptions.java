package io.fastpath.cli;

import io.fastpath.dpdk.Eal;
import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.Port;
import io.fastpath.stack.Stack;
import io.fastpath.stack.StackConfig;
import io.fastpath.stack.StackRunner;
import io.fastpath.stack.device.PcapPort;
import io.fastpath.stack.shard.StackShards;
import io.fastpath.stack.tcp.TcpConfig;
import io.fastpath.stack.wire.Ipv4Address;
import io.fastpath.stack.wire.MacAddress;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.agrona.concurrent.IdleStrategy;

/**
 * The port flags every command shares: {@code --vdev|--pci --ip [--gw] [--mac] [--pcap] [--name] [--idle]
 * [--queues N]}, the
 * EAL flags {@code [--pci ADDR]... [--huge|--no-huge] [--huge-dir DIR] [--socket-mem MB,MB] [--lcores MAP]
 * [--eal "ARGS"]}, and the stack they bring up: either on its own poll thread ({@link #start()}) or driven by
 * the caller's thread ({@link #open()}, invoker mode, for commands that use TCP: TcpLayer is poll-thread only).
 *
 * <p>{@code --queues N} (default 1): the port gets N rx/tx queue pairs ({@code qpairs=N} is added to a
 * net_af_packet vdev; net_tap and NICs take the count from the configuration) and the host N stack shards
 * ({@link StackShards}), shard q on queue q; {@link #stack} is shard 0 and {@link #shards()} all of them.
 * {@link #start()} gives each shard its own poll thread; {@link #open()} leaves them to the caller
 * ({@code shards().doWork()}) or to {@link #startShards}.
 */
final class PortOptions implements AutoCloseable {
    static final Set<String> WITH_VALUE = Set.of("--vdev", "--ip", "--gw", "--mac", "--pcap", "--name", "--idle",
        "--eal", "--pci", "--lcores", "--socket-mem", "--huge-dir", "--queues");
    /** Most queue pairs {@code --queues} takes. */
    static final int MAX_QUEUES = 16;
    /** Port switches: force hugepages or ordinary memory (default: hugepages if the machine has them). */
    static final Set<String> SWITCHES = Set.of("--huge", "--no-huge");
    /** Mbufs for ARP/ICMP only. */
    static final int SMALL_POOL = 8191;
    /** Mbufs for TCP: receive queues hold received mbufs until the application consumes them. */
    static final int TCP_POOL = 32767;

    final String vdev;
    /** PCI devices EAL may probe ({@code -a}); without {@code --vdev} the port is the first of them. */
    final List<String> pci;
    final Eal.Args ealArgs;
    StackConfig config;
    private final StackConfig.Builder builder;
    private final boolean macGiven;
    final String pcap;
    final String idle;
    final String eal;
    private final int poolSize;
    private PktmbufPool pool;
    private Port port;
    private Stack stack;
    private StackShards shards;
    final int queues;
    private StackRunner runner;
    /** Invoker mode: the thread that called {@link #open()} drives the stack and must close it. */
    private Thread invoker;
    private boolean registered;

    PortOptions(Flags flags) {
        this(flags, null, SMALL_POOL);
    }

    /** With TCP tunables ({@code null}: the defaults) and a pool of {@code poolSize} mbufs. */
    PortOptions(Flags flags, TcpConfig tcp, int poolSize) {
        this.pci = flags.all("--pci");
        if (pci.isEmpty() && !flags.has("--vdev")) {
            throw new UsageException("missing --vdev (or --pci for a NIC)");
        }
        this.vdev = flags.get("--vdev");
        this.poolSize = poolSize;
        this.ealArgs = ealArgs(flags);
        this.macGiven = flags.has("--mac");
        this.builder = StackConfig.builder().name(flags.get("--name", "fastpath"));
        try {
            builder.cidr(flags.required("--ip"));
            if (flags.has("--gw")) {
                builder.gateway(Ipv4Address.parse(flags.get("--gw")));
            }
            if (flags.has("--mac")) {
                builder.mac(MacAddress.parse(flags.get("--mac")));
            }
            if (tcp != null) {
                builder.tcp(tcp);
            }
            this.config = builder.build();
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
        this.pcap = flags.get("--pcap");
        this.idle = flags.get("--idle", "spin");
        if (!idle.equals("spin") && !idle.equals("backoff")) {
            throw new UsageException("--idle is spin or backoff, got '" + idle + "'");
        }
        this.eal = flags.get("--eal");
        this.queues = flags.intValue("--queues", 1);
        if (queues < 1 || queues > MAX_QUEUES) {
            throw new UsageException("--queues must be 1.." + MAX_QUEUES + ", got " + queues);
        }
        if (queues > 1 && pcap != null) {
            throw new UsageException("--pcap with --queues > 1: not yet (capture one queue's port with --queues 1)");
        }
    }

    /** All shards with {@code --queues N > 1}, else null (the one stack is {@link #stack}). */
    StackShards shards() {
        return shards;
    }

    /**
     * After {@link #open()}: gives every shard its own poll thread, {@code alongside.apply(q)} (if not null)
     * running in shard q's duty cycle; the calling thread no longer drives them.
     */
    void startShards(java.util.function.IntFunction<java.util.function.IntSupplier> alongside) {
        shards.start(() -> idle.equals("spin") ? StackRunner.busySpin() : StackRunner.backoff(), alongside);
    }

    /** The EAL arguments the flags ask for: hugepages, PCI allow-list, lcores, socket memory, extra args. */
    static Eal.Args ealArgs(Flags flags) {
        Eal.Args args = Eal.Args.defaults();
        try {
            if (flags.has("--huge") && flags.has("--no-huge")) {
                throw new UsageException("--huge and --no-huge contradict each other");
            }
            if (flags.has("--huge")) {
                args.memory(Eal.Args.Memory.HUGEPAGES);
            } else if (flags.has("--no-huge")) {
                args.memory(Eal.Args.Memory.NO_HUGE);
            }
            if (flags.has("--huge-dir")) {
                args.hugeDir(Path.of(flags.get("--huge-dir")));
            }
            if (flags.has("--socket-mem")) {
                args.socketMem(flags.get("--socket-mem"));
            }
            if (flags.has("--lcores")) {
                args.lcores(flags.get("--lcores"));
            }
            for (String device : flags.all("--pci")) {
                args.pci(device);
            }
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
        String extra = flags.get("--eal");
        if (extra != null && !extra.isBlank()) {
            for (String a : extra.trim().split("\\s+")) {
                args.add(a);
            }
        }
        return args;
    }

    /**
     * For start-up lines: {@code ; eal: hugepages 512 MiB (...)} or {@code ; eal: no hugepages (--no-huge, ...)},
     * and the PCI devices allowed.
     */
    String ealSummary() {
        Eal e = Eal.shared();
        return "; eal: " + e.memory() + (pci.isEmpty() ? ", no pci" : ", pci " + String.join(" ", pci));
    }
    /** Initialises EAL, opens the port, starts the stack on its poll thread. */
    Stack start() {
        Stack s = create();
        try {
            if (shards != null) {
                startShards(q -> null);
                return s;
            }
            runner = StackRunner.start(s, idle.equals("spin") ? StackRunner.busySpin() : StackRunner.backoff());
            return s;
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /**
     * Initialises EAL, opens the port and creates the stack without a poll thread: the calling thread is
     * registered with EAL (mempool caches) and becomes the poll thread. It drives the stack with
     * {@code stack.doWork()} and {@link #idleStrategy()}, makes every TCP call between duty cycles, and calls
     * {@link #close()} itself (which runs {@code stack.onClose()} before the port closes).
     */
    Stack open() {
        Stack s = create();
        try {
            Eal.shared().registerThread();
            registered = true;
            invoker = Thread.currentThread();
            return s;
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /** The idle strategy {@code --idle} asks for, for an invoker-mode loop. */
    IdleStrategy idleStrategy() {
        return idle.equals("spin") ? new BusySpinIdleStrategy() : new BackoffIdleStrategy(100, 10, 1_000, 100_000);
    }

    private Stack create() {
        Eal.init(ealArgs);
        pool = PktmbufPool.create(config.name() + "_pool", poolSize);
        try {
            EthDevPort.Config portConfig = EthDevPort.Config.defaults().withQueues(queues);
            EthDevPort ethdev = vdev != null ? EthDevPort.openVdev(EthDevPort.vdevWithQueues(vdev, queues), pool, portConfig)
                : EthDevPort.openDevice(pci.get(0), pool, portConfig);
            if (vdev == null && !macGiven) {
                // A NIC: the stack answers on the NIC's own address (a tap's kernel side owns its MAC, a NIC's
                // does not), so the switch sees one MAC per port.
                config = builder.mac(ethdev.macAddress()).build();
            }
            port = pcap != null ? new PcapPort(ethdev, Path.of(pcap)) : ethdev;
            if (queues > 1) {
                shards = StackShards.open(ethdev, config);
                stack = shards.shard(0);
                return stack;
            }
            stack = new Stack(port, config);
            return stack;
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /**
     * Stops the stack (its poll thread, or in invoker mode {@code stack.onClose()} on the calling thread, which
     * must be the invoker), then closes the port and the pool. Idempotent.
     */
    @Override
    public void close() {
        if (shards != null) {
            if (invoker != null && Thread.currentThread() != invoker) {
                throw new IllegalStateException("an invoker-mode stack closes on its own thread");
            }
            shards.close();
            shards = null;
            stack = null;
        }
        if (runner != null) {
            runner.close();
            runner = null;
        } else if (stack != null && invoker != null) {
            if (Thread.currentThread() != invoker) {
                throw new IllegalStateException("an invoker-mode stack closes on its own thread");
            }
            stack.onClose();
        }
        if (stack != null) {
            stack.close();
            stack = null;
        }
        if (port != null) {
            port.close();
            port = null;
        }
        if (pool != null) {
            pool.close();
            pool = null;
        }
        if (registered) {
            registered = false;
            Eal.shared().unregisterThread();
        }
        invoker = null;
    }
}
