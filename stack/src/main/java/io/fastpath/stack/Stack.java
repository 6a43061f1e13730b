package io.fastpath.stack;

import io.fastpath.clock.TscNanoClock;
import io.fastpath.dpdk.Mbuf;
import io.fastpath.dpdk.MbufArray;
import io.fastpath.dpdk.Port;
import io.fastpath.stack.arp.ArpTable;
import io.fastpath.stack.counters.Budget;
import io.fastpath.stack.counters.DropReason;
import io.fastpath.stack.counters.StackCounters;
import io.fastpath.stack.ip.Ipv4Reassembly;
import io.fastpath.stack.ip.Routes;
import io.fastpath.stack.shard.FlowOwner;
import io.fastpath.stack.shard.ShardGroup;
import io.fastpath.stack.tcp.LocalPorts;
import io.fastpath.stack.tcp.TcpLayer;
import io.fastpath.stack.tcp.TcpService;
import io.fastpath.stack.wire.ArpPacket;
import io.fastpath.stack.wire.Checksum;
import io.fastpath.stack.wire.EthernetFrame;
import io.fastpath.stack.wire.IcmpPacket;
import io.fastpath.stack.wire.Ipv4Address;
import io.fastpath.stack.wire.Ipv4Packet;
import io.fastpath.stack.wire.MacAddress;
import io.fastpath.stack.wire.TcpSegment;
import io.fastpath.stack.wire.WireError;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.MessageHandler;
import org.agrona.concurrent.ringbuffer.ManyToOneRingBuffer;

/**
 * A host's Ethernet/ARP/IPv4/ICMP stack on one port queue: a busy-poll {@link Agent}.
 *
 * <p>{@link #doWork()} receives a burst, reads the clock (every cycle; in a spin loop that says so, only when the
 * cycle has work and every fourth idle cycle: {@link #skipIdleClockReads}), handles every frame (ARP answers and
 * learning,
 * ICMP echo replies built in place in the received mbuf), runs the commands application threads queued,
 * runs ARP retries and expiry, then transmits and frees in bulk. Drive it with an Agrona {@code AgentRunner}
 * ({@link StackRunner}) or call {@code doWork()} yourself (invoker mode: tests, embedding).
 *
 * <p>Threads: {@code doWork}, {@code onStart}, {@code onClose} on the poll thread. {@link #ping},
 * {@link #releaseFrame} from any thread (they enter through a many-to-one ring); {@link #pollEvents} and
 * {@link #pollFrames} from one application thread (one-to-one rings).
 *
 * <p>Buffers: a received mbuf is the stack's; it is either transmitted again (ARP/ICMP replies), freed at the
 * end of the duty cycle, or handed to the application as a descriptor ({@link #pollFrames}) and freed when
 * released. A malformed frame is counted by reason and freed; nothing a frame contains can throw out of
 * {@code doWork}.
 *
 * <p>Shards: with a {@link ShardGroup} of several, this stack is one shard ({@link StackConfig#shard()}) on its
 * own queue of the port. A TCP segment (or an ICMP error about a TCP flow) of a flow the group's
 * {@link FlowOwner} gives to another shard is handed, mbuf and all, to that shard's inbound ring and processed
 * there as if received ({@code forwarded frames}); neighbours learned or refreshed from ARP are told to every
 * shard (each shard re-confirms the STALE neighbours it uses with its own unicast probes, and the answer
 * refreshes them all); ARP and ICMP echo are answered by whichever shard receives them. With one shard none of
 * this runs (one compare).
 */
public final class Stack implements Agent, AutoCloseable {
    public static final int BURST = 32;
    /** sizeof(struct rte_mbuf): part of what every held mbuf costs. */
    private static final int MBUF_HEADER_BYTES = 128;
    private static final long RX_L4_CKSUM_MASK = (1L << 3) | (1L << 8);
    private static final long RX_L4_CKSUM_GOOD = 1L << 8;
    private static final long RX_IP_CKSUM_MASK = (1L << 4) | (1L << 7);
    private static final long RX_IP_CKSUM_GOOD = 1L << 7;
    private static final int ARP_POLL_INTERVAL_NS = 1_000_000;

    private static final int ECHO_ID_SHARDED = 0xE000;

    private final Port port;
    private final StackConfig config;
    private final StackCounters counters;
    private final NanoClock clock;
    private final long mac;
    private final int address;
    private final Routes routes;
    private final ArpTable arp;
    private final int echoIdentifier;
    private final int mtu;

    private final MbufArray rx = new MbufArray(BURST);
    /** Frames sent and mbufs freed in a duty cycle, in bulk at its end; buffer allocation. */
    private final TxBatch out;

    private final UnsafeBuffer frame = new UnsafeBuffer(0, 0);
    private final EthernetFrame ethernet = new EthernetFrame();
    private final Ipv4Packet ip = new Ipv4Packet();
    private final IcmpPacket icmp = new IcmpPacket();
    // Separate views for the output path: TCP transmits while the input path's views are in use.
    private final UnsafeBuffer txFrame = new UnsafeBuffer(0, 0);
    private final Ipv4Packet txIp = new Ipv4Packet();
    private final IcmpPacket txIcmp = new IcmpPacket();
    private final TcpSegment txTcp = new TcpSegment();
    private final TcpLayer tcp;
    private final TcpService tcpService;
    /** IPv4 fragments held until their datagram is whole (RFC 1122 §3.3.2). */
    private final Ipv4Reassembly reassembly;
    /** Diagnostic stage timestamps ({@link Budget}); null unless {@code -Dfastpath.budget=true}. */
    private final Budget budget = Budget.ENABLED ? new Budget() : null;

    /** Commands in, outcomes and raw frames out: the rings application threads use. */
    private final AppRings app;
    /** ARP in and out, and the frames parked on resolutions. */
    private final ArpIo arpIo;

    // Shards (see the class comment): shardCount 1 leaves all of it unused.
    private final int shard;
    private final int shardCount;
    private final FlowOwner owner;
    private final ShardGroup group;
    private final ManyToOneRingBuffer inbound;
    private final UnsafeBuffer shardScratch = new UnsafeBuffer(new byte[16]);
    private final MessageHandler inboundHandler = this::onInbound;
    private final MessageHandler inboundFree = (type, buffer, index, length) -> {
        if (type == ShardGroup.FORWARDED_FRAME) {
            free(buffer.getLong(index));
        }
    };

    private long nowNs;
    /** The receive burst's prefetch (where the next frame's data most likely is). */
    private final RxPrefetch prefetch;
    private long nextArpPollNs;
    private int ipIdentification;
    private boolean started;

    /**
     * With the default clock, {@link TscNanoClock#defaultClock()}: the TSC where the CPU declares it constant and
     * non-stop and the kernel lists it as a clocksource (about 11 ns a read against 28 for {@code System.nanoTime()}
     * on kvm-clock), {@code System.nanoTime()} otherwise (this project's VMs: their kernels do not trust the TSC) or
     * with {@code -Dfastpath.clock=system}; {@code -Dfastpath.clock=tsc} forces the TSC. Both read
     * {@code System.nanoTime()}'s nanoseconds (docs/architecture.md, "Time").
     */
    public Stack(Port port, StackConfig config) {
        this(port, config, TscNanoClock.defaultClock());
    }

    /** With a clock of your own (tests that step time). */
    public Stack(Port port, StackConfig config, NanoClock clock) {
        this(port, config, clock, ShardGroup.single());
    }

    /**
     * Shard {@code config.shard()} of a group ({@link io.fastpath.stack.shard.StackShards} builds them): {@code
     * port} is that shard's queue of the port, the group's local ports, owner function and inbound rings are
     * shared.
     */
    public Stack(Port port, StackConfig config, NanoClock clock, ShardGroup group) {
        if (group.shards() != config.shards()) {
            throw new IllegalArgumentException("config says " + config.shards() + " shards, the group has "
                + group.shards());
        }
        this.shard = config.shard();
        this.shardCount = config.shards();
        this.group = group;
        this.owner = group.owner();
        this.inbound = shardCount > 1 ? group.inbound(shard) : null;
        this.port = port;
        this.config = config;
        this.clock = clock;
        this.prefetch = new RxPrefetch(MBUF_HEADER_BYTES + port.pool().dataRoom());
        this.mac = config.mac();
        this.address = config.address();
        this.routes = new Routes(config.address(), config.prefixLength(), config.gateway());
        this.arp = new ArpTable(config.arpCapacity(), config.arpLifetimeNs(), config.arpRetryIntervalNs(),
            config.arpMaxRequests());
        // One shard of several: the identifier names the shard, so a reply that lands on another queue comes back.
        this.echoIdentifier = shardCount > 1 ? ECHO_ID_SHARDED | (shard << 6) | (port.portId() & 0x3F)
            : 0xF000 | (port.portId() & 0xFFF);
        this.mtu = Math.min(port.mtu(), port.pool().dataRoom() - 128 - EthernetFrame.HEADER_LENGTH);
        this.counters = new StackCounters(config.countersFile(), config.name(), shardCount > 1 ? shard : -1);
        this.out = new TxBatch(port, counters, budget);
        this.app = new AppRings(this, config, counters);
        this.arpIo = new ArpIo(this, out, counters, arp, mac, address, shardCount, frame, ethernet, txFrame);
        if (shard == 0) {
            // Files of queues this host does not have (an earlier run with more queues) would be read by
            // `fastpath stat` as ours and added into the sums: they go. Shard 0's file is the configured one.
            for (int q = Math.max(1, shardCount); ; q++) {
                java.io.File stale = StackConfig.shardCountersFile(config.countersFile(), q).toFile();
                if (!stale.exists() || !stale.delete()) {
                    break;
                }
            }
        }
        MbufIpOutput ipOutput = new MbufIpOutput(this, port, routes, counters, mac, address, mtu);
        this.tcp = new TcpLayer(config.tcp(), ipOutput,
            new io.fastpath.stack.tcp.IsnGenerator(), clock.nanoTime(), group.ports(), owner, shard,
            group.fastOpenKeys());
        if (Budget.ENABLED) {
            tcp.budget(budget);
        }
        // TCP may hold the pool less a reserve for receiving (the PMD refills its ring from the pool), ARP,
        // ICMP, ACKs and resets: a peer that fills its windows with tiny or out-of-order segments must not
        // take the stack off the network.
        // The reserve also covers what the port holds (descriptors filled ahead of traffic), the transmit batch
        // and the mempool caches, so TCP at its limit still leaves room to receive and answer.
        // Shards share the pool: each budgets its share of it.
        int poolSize = (port.pool().availableCount() + port.pool().inUseCount()) / shardCount;
        int portHolds = port.descriptorMbufs() + 2 * TxBatch.TX_BATCH + 256;
        // Reassembly holds received mbufs too (at most an eighth of this shard's share): TCP leaves it that room,
        // so a fragment flood and full windows together do not eat the reserve for ACKs, ARP and ICMP.
        int reassemblyMbufs = Math.max(1, Math.min(config.reassemblyMaxMbufs(), poolSize / 8));
        int reserve = Math.min(config.tcpMemoryReserveMbufs() + portHolds + reassemblyMbufs, poolSize / 2);
        int limit = config.tcpMemoryLimitMbufs() > 0 ? Math.min(config.tcpMemoryLimitMbufs(), poolSize - reserve)
            : poolSize - reserve;
        this.tcp.configureMemory(port.pool().dataRoom() + MBUF_HEADER_BYTES,
            port.pool().dataRoom() - (int) io.fastpath.dpdk.Layouts.PKTMBUF_HEADROOM, limit);
        this.reassembly = new Ipv4Reassembly(ipOutput, counters, config.reassemblyMaxDatagrams(),
            config.reassemblyMaxFragments(), reassemblyMbufs,
            config.reassemblyTimeoutNs(), port.pool().dataRoom() - (int) io.fastpath.dpdk.Layouts.PKTMBUF_HEADROOM);
        this.reassembly.onTimedOut(this::reassemblyTimeExceeded);
        // The application can never hold more descriptors than the pool has mbufs.
        this.tcpService = new TcpService(tcp, config.ringCapacity(), counters,
            port.pool().availableCount() + port.pool().inUseCount(), config.shard());
        this.tcpService.outputBetweenCycles(this::outputBetweenCycles);
    }

    /**
     * A direct request's output (TcpService, "Direct requests"): on the bound thread between duty cycles, the
     * connections it marked are output and the transmit burst goes to the port now instead of at the next duty
     * cycle's end. Bracketed as a duty cycle, so a request made from inside (a raw handler's callback) takes the
     * ring. The clock is read again (never backwards): a segment leaving a provider round after the duty cycle
     * carries its own send time into RTT samples, RACK and its timestamp, not the cycle's (review finding).
     */
    private void outputBetweenCycles() {
        if (!started) {
            return; // before the first duty cycle (its ARP announcement goes first)
        }
        advanceTime();
        clockReadSinceCycle = true;
        tcpService.beginCycle();
        try {
            tcp.outputBetweenCycles(nowNs);
            flush();
        } finally {
            tcpService.endCycle();
        }
    }

    @Override
    public String roleName() {
        return "fastpath-stack-" + config.name();
    }

    /** Announces the stack with a gratuitous ARP (RFC 5227 §3 announcement). */
    @Override
    public void onStart() {
        nowNs = clock.nanoTime();
        nextArpPollNs = nowNs;
        if (shard == 0) {
            arpIo.sendArp(ArpPacket.OPERATION_REQUEST, MacAddress.BROADCAST, 0L, address);
        }
        flush();
        started = true;
    }

    @Override
    public int doWork() {
        Thread bound = tcpService.pollThread();
        if (bound != null && bound != Thread.currentThread()) {
            tcpService.unbindPollThread(); // another thread drives the stack now: no direct requests any more
        }
        boolean outer = tcpService.inCycle(); // a nested doWork, or one after close, leaves the mark as it found it
        tcpService.beginCycle();
        int work;
        try {
            work = dutyCycle();
        } finally {
            if (!outer) {
                tcpService.endCycle();
            }
        }
        if (!outer) {
            // Events kept for a provider on this thread: taken now, outside the cycle (docs, "Direct events").
            int events = tcpService.takeDirectEvents();
            if (events > 0) {
                workedBetweenCycles(); // its handlers took time the next idle cycle should see
            }
            work += events;
        }
        return work;
    }

    /**
     * Declares the calling thread the one that runs this stack's duty cycles ({@link StackRunner} does, on its
     * thread; an invoker-mode loop that runs stacks and API providers on one thread may): TcpService requests it
     * makes between duty cycles are then carried out by direct calls instead of request records
     * ({@code TcpService.bindPollThread}). A duty cycle run by another thread undoes it.
     */
    public void bindPollThread() {
        tcpService.bindPollThread();
    }

    /** Reads the clock into {@link #nowNs}, never backwards: a clock may step back (a TSC after a restore). */
    private void advanceTime() {
        long now = clock.nanoTime();
        if (now - nowNs > 0) {
            nowNs = now;
        }
    }

    /**
     * Idle duty cycles in a row that may run on the clock of an earlier one when the driver spins
     * ({@link #skipIdleClockReads}; docs/architecture.md, "Time"): a cycle that receives a frame reads the clock
     * before handling it, one that takes a request or has output due reads it before its timers and output; one
     * that finds nothing reads it only when this many idle cycles ran since the last read, or after
     * {@link #clockStale} or {@link #workedBetweenCycles}. Its timers and ARP polls then run at most three idle
     * cycles late.
     */
    static final int IDLE_CYCLES_PER_CLOCK_READ = 4;
    /** Whether idle cycles may skip the clock read ({@link #skipIdleClockReads}; poll thread). */
    private boolean skipIdleClockReads;
    /** Idle cycles that may still skip the clock read (poll thread). */
    private int idleCyclesUntilClock;
    /** Whether this duty cycle has read the clock (poll thread). */
    private boolean timedThisCycle;
    /** Whether a direct output read the clock since the last duty cycle began (poll thread). */
    private boolean clockReadSinceCycle;
    /** Clock reads by duty cycles so far (poll thread; tests). */
    private long cycleClockReads;

    /** Reads the clock for this duty cycle if it has not yet. */
    private void timeThisCycle() {
        if (!timedThisCycle) {
            timedThisCycle = true;
            cycleClockReads++;
            idleCyclesUntilClock = IDLE_CYCLES_PER_CLOCK_READ - 1;
            advanceTime();
        }
    }

    /**
     * The driver runs duty cycles back to back in a spin loop (busy-spin {@link StackRunner}, the Netty transport's
     * event loop, the benchmarks' loops): an idle cycle may then read the clock only every fourth time, and run its
     * timers at most three idle cycles late, which is nanoseconds there. Off by default: every cycle reads the clock,
     * which is right for a loop that pauses or does other work between {@code doWork()} calls (a test harness, a
     * parking idle strategy). A spinning driver that does pause now and then calls {@link #clockStale} after it.
     * Poll thread, or before the poll thread starts.
     */
    public void skipIdleClockReads(boolean on) {
        skipIdleClockReads = on;
        idleCyclesUntilClock = 0;
    }

    /**
     * The driver paused since the last duty cycle (parked, yielded, slept): the next cycle reads the clock even if
     * it is idle ({@link #skipIdleClockReads}). The Netty transport calls it when it yields or its event loop has
     * tasks to run. Poll thread.
     */
    public void clockStale() {
        idleCyclesUntilClock = 0;
    }

    /**
     * Application work ran on the poll thread since the last duty cycle (an agent beside the stack, a provider's
     * round, a Netty turn's handlers): the next cycle reads the clock even if it is idle, unless a direct output
     * (which reads it) ran since the last cycle. {@link StackRunner} calls it for its agents, the stack itself for
     * the direct events it hands over, the Netty transport for its turn's events. Poll thread.
     */
    public void workedBetweenCycles() {
        if (!clockReadSinceCycle) {
            idleCyclesUntilClock = 0;
        }
    }

    /** Clock reads made by duty cycles so far (poll thread; tests). */
    long cycleClockReads() {
        return cycleClockReads;
    }

    private int dutyCycle() {
        if (!started) {
            onStart();
        }
        long budgetStartNs = Budget.ENABLED ? System.nanoTime() : 0; // the budget's stamps are System.nanoTime's
        int work = 0;
        timedThisCycle = false;
        clockReadSinceCycle = false;
        int received = port.receive(rx, BURST);
        if (received > 0 || !skipIdleClockReads || --idleCyclesUntilClock < 0) {
            timeThisCycle(); // every frame is handled at a fresh time; an idle cycle of a spin loop now and then
        }
        if (Budget.ENABLED && received > 0) {
            budget.beginCycle(budgetStartNs);
        }
        if (received > 0) {
            prefetch.prefetchReceived(rx, received);
        }
        for (int i = 0; i < received; i++) {
            input(rx.get(i));
        }
        work += received;
        if (inbound != null) {
            work += inbound.read(inboundHandler, 2 * BURST);
        }
        work += app.readCommands(64);
        work += tcpService.poll();
        if (work > 0 || tcp.outputDue()) {
            // Requests taken (on the last reading), or segments made due between cycles (a TcpConnection call on
            // this thread): their timers and output at a fresh time.
            timeThisCycle();
        }
        work += tcp.poll(nowNs);
        work += reassembly.poll(nowNs);
        if (nowNs - nextArpPollNs >= 0) {
            nextArpPollNs = nowNs + ARP_POLL_INTERVAL_NS;
            work += arp.poll(nowNs, arpIo.arpActions);
        }
        if (Budget.ENABLED) {
            budget.mark(Budget.OUTPUT);
        }
        work += tcp.flush(nowNs);
        flush();
        if (Budget.ENABLED) {
            budget.endCycle();
        }
        return work;
    }

    // ------------------------------------------------------------------------------------------ input

    /** One past the last byte, from the mbuf, that the prefetch touches in a frame's data (tests). */
    int prefetchDataEnd() {
        return prefetch.prefetchDataEnd();
    }

    private void input(long m) {
        int length = Mbuf.dataLen(m);
        counters.rxFrames.incrementRelease();
        counters.rxBytes.getAndAddRelease(length);
        classify(m, length);
    }

    /** A received frame, or one another shard forwarded (counted there): Ethernet onwards. */
    private void classify(long m, int length) {
        if (Mbuf.nbSegs(m) != 1) {
            drop(m, DropReason.MULTI_SEGMENT);
            return;
        }
        long data = Mbuf.dataAddress(m);
        prefetch.learn(m, data);
        frame.wrap(data, length);
        ethernet.wrap(frame, 0, length);
        if (ethernet.check() != WireError.OK) {
            drop(m, DropReason.ETHERNET_TRUNCATED);
            return;
        }
        long destination = ethernet.destination();
        if (destination != mac && !MacAddress.isBroadcast(destination)) {
            drop(m, DropReason.NOT_FOR_US);
            return;
        }
        switch (ethernet.etherType()) {
            case EthernetFrame.ETHERTYPE_ARP -> arpIo.arpInput(m, nowNs);
            case EthernetFrame.ETHERTYPE_IPV4 -> ipInput(m, MacAddress.isBroadcast(destination));
            default -> drop(m, DropReason.UNSUPPORTED_ETHERTYPE);
        }
    }

    private void ipInput(long m, boolean linkBroadcast) {
        ip.wrap(frame, ethernet.payloadOffset(), ethernet.payloadLength());
        // The NIC may have verified the header checksum already (RTE_MBUF_F_RX_IP_CKSUM_GOOD).
        WireError error = ip.check((Mbuf.olFlags(m) & RX_IP_CKSUM_MASK) == RX_IP_CKSUM_GOOD);
        if (error != WireError.OK) {
            if (error == WireError.FRAGMENT) {
                m = reassemble(m, linkBroadcast);
                if (m == 0) {
                    return; // held until the rest arrives, or dropped (counted)
                }
                // The whole datagram, in a fresh mbuf the views now cover: on as if it had come in one piece.
            } else {
                drop(m, switch (error) {
                    case BAD_VERSION -> DropReason.IP_BAD_VERSION;
                    case BAD_HEADER_LENGTH -> DropReason.IP_BAD_HEADER_LENGTH;
                    case BAD_TOTAL_LENGTH -> DropReason.IP_BAD_TOTAL_LENGTH;
                    case BAD_CHECKSUM -> DropReason.IP_BAD_CHECKSUM;
                    default -> DropReason.IP_TRUNCATED;
                });
                return;
            }
        }
        int destination = ip.destination();
        if (destination != address) {
            drop(m, DropReason.IP_NOT_FOR_US);
            return;
        }
        int source = ip.source();
        // RFC 1122 §3.2.1.3: a host discards datagrams from broadcast, multicast or its own address, and
        // unicast datagrams that came in a link-layer broadcast.
        if (source == address || source == -1 || Ipv4Address.isMulticast(source) || source == routes.broadcast()
            || linkBroadcast) {
            drop(m, DropReason.IP_BAD_SOURCE);
            return;
        }
        int protocol = ip.protocol();
        if (protocol == Ipv4Packet.PROTOCOL_TCP) {
            if (shardCount > 1 && ip.totalLength() - ip.headerLength() >= 4) {
                int at = ethernet.payloadOffset() + ip.headerLength();
                int remotePort = frame.getShort(at, java.nio.ByteOrder.BIG_ENDIAN) & 0xFFFF;
                int localPort = frame.getShort(at + 2, java.nio.ByteOrder.BIG_ENDIAN) & 0xFFFF;
                int o = owner.shardOf(destination, localPort, source, remotePort);
                if (o != shard) {
                    forward(m, o);
                    return;
                }
            }
            // The NIC may have verified the TCP checksum already (RTE_MBUF_F_RX_L4_CKSUM_GOOD).
            boolean verified = (Mbuf.olFlags(m) & RX_L4_CKSUM_MASK) == RX_L4_CKSUM_GOOD;
            if (Budget.ENABLED) {
                budget.mark(Budget.PARSED);
            }
            tcp.input(m, Mbuf.dataAddress(m) + ethernet.payloadOffset() + ip.headerLength(),
                ip.totalLength() - ip.headerLength(), source, destination, verified, nowNs);
        } else if (protocol == Ipv4Packet.PROTOCOL_ICMP) {
            icmpInput(m);
        } else if (config.rawProtocols()[protocol]) {
            app.deliverRaw(m, protocol, ethernet.payloadOffset() + ip.headerLength(),
                ethernet.payloadOffset() + ip.totalLength());
        } else {
            drop(m, DropReason.IP_UNSUPPORTED_PROTOCOL);
        }
    }

    /**
     * An IPv4 fragment (RFC 791 §3.2, RFC 1122 §3.3.2), its header checked: if it is for us, {@link Ipv4Reassembly}
     * holds it; the fragment that completes a datagram returns the whole of it in a fresh mbuf, which this method
     * wraps the input views around. Returns 0 when there is nothing to go on with.
     */
    private long reassemble(long m, boolean linkBroadcast) {
        int source = ip.source();
        if (ip.destination() != address) {
            drop(m, DropReason.IP_NOT_FOR_US);
            return 0;
        }
        if (source == address || source == -1 || Ipv4Address.isMulticast(source) || source == routes.broadcast()
            || linkBroadcast) {
            drop(m, DropReason.IP_BAD_SOURCE);
            return 0;
        }
        long whole = reassembly.input(m, ethernet.payloadOffset(), nowNs);
        if (whole != 0) {
            int ipAt = ethernet.payloadOffset();
            frame.wrap(Mbuf.dataAddress(whole), ipAt + Ipv4Packet.MIN_HEADER_LENGTH);
            int length = ipAt + (frame.getShort(ipAt + Ipv4Packet.TOTAL_LENGTH_OFFSET, java.nio.ByteOrder.BIG_ENDIAN)
                & 0xFFFF);
            Mbuf.setLength(whole, length);
            frame.wrap(Mbuf.dataAddress(whole), length);
            ethernet.wrap(frame, 0, length);
            ip.wrap(frame, ethernet.payloadOffset(), ethernet.payloadLength());
        }
        return whole;
    }

    /**
     * RFC 1122 §3.3.2, RFC 792: a datagram whose first fragment came timed out in reassembly; its source is told
     * with ICMP Time Exceeded, code 1, quoting the IP header and the first 8 data bytes, built in the first
     * fragment's own mbuf (as Linux's ip_expire does; at most one per datagram in progress per time-out).
     */
    private void reassemblyTimeExceeded(long m, int ipAt) {
        int headerLength = (frame(m).getByte(ipAt) & 0x0F) << 2;
        int quoted = headerLength + 8;
        int icmpLength = IcmpPacket.HEADER_LENGTH + quoted;
        int frameLength = ipAt + Ipv4Packet.MIN_HEADER_LENGTH + icmpLength;
        int destination = frame.getInt(ipAt + Ipv4Packet.SOURCE_OFFSET, java.nio.ByteOrder.BIG_ENDIAN);
        int nextHop = routes.nextHop(destination);
        // RFC 1122 §3.2.2: never about an ICMP error message, nor to a source that is no single host.
        int type = frame.getByte(ipAt + headerLength) & 0xFF;
        boolean aboutIcmpError = (frame.getByte(ipAt + 9) & 0xFF) == Ipv4Packet.PROTOCOL_ICMP
            && (type == 3 || type == 4 || type == 5 || type == 11 || type == 12);
        if (aboutIcmpError || destination == 0 || destination == -1 || destination >>> 28 == 0xE
            || nextHop == Routes.NO_ROUTE || frameLength > Mbuf.dataLen(m) + Mbuf.tailroom(m)) {
            drop(m, DropReason.IP_FRAGMENT_TIMEOUT);
            return;
        }
        frame.wrap(Mbuf.dataAddress(m), Math.max(frameLength, 60));
        // The quote moves back by the new IP and ICMP headers (28 bytes): last byte first, the ranges overlap.
        int to = ipAt + Ipv4Packet.MIN_HEADER_LENGTH + IcmpPacket.HEADER_LENGTH;
        for (int i = quoted - 1; i >= 0; i--) {
            frame.putByte(to + i, frame.getByte(ipAt + i));
        }
        ethernet.wrap(frame, 0, frameLength);
        ethernet.writeHeader(0L, mac, EthernetFrame.ETHERTYPE_IPV4);
        ip.wrap(frame, ipAt, frameLength - ipAt);
        ip.writeHeader(Ipv4Packet.DEFAULT_TTL, Ipv4Packet.PROTOCOL_ICMP, address, destination, icmpLength,
            ipIdentification++ & 0xFFFF);
        icmp.wrap(frame, ipAt + Ipv4Packet.MIN_HEADER_LENGTH, icmpLength);
        icmp.type(IcmpPacket.TYPE_TIME_EXCEEDED).code(IcmpPacket.CODE_REASSEMBLY_TIME_EXCEEDED);
        frame.putInt(ipAt + Ipv4Packet.MIN_HEADER_LENGTH + 4, 0); // unused
        icmp.fillChecksum();
        setFrameLength(m, frameLength);
        counters.icmpTimeExceededSent.incrementRelease();
        resolveAndSend(m, nextHop);
    }

    private void icmpInput(long m) {
        icmp.wrap(frame, ip.payloadOffset(), ip.payloadLength());
        WireError error = icmp.check();
        if (error != WireError.OK) {
            drop(m, error == WireError.BAD_CHECKSUM ? DropReason.ICMP_BAD_CHECKSUM : DropReason.ICMP_MALFORMED);
            return;
        }
        int type = icmp.type();
        if (type == IcmpPacket.TYPE_ECHO_REQUEST && icmp.code() == 0) {
            counters.icmpEchoRequestsReceived.incrementRelease();
            if (ip.totalLength() > mtu) {
                drop(m, DropReason.ICMP_ECHO_TOO_BIG); // a reassembled request: the reply would need fragments
                return;
            }
            // RFC 1122 §3.2.2.6: reply with the same data; built in place, zero copies.
            icmp.toEchoReply();
            // Swapping addresses leaves the sum alone; only the TTL word changes (RFC 1624 update).
            ip.swapAddresses();
            int oldTtlWord = (ip.ttl() << 8) | Ipv4Packet.PROTOCOL_ICMP;
            ip.ttl(Ipv4Packet.DEFAULT_TTL);
            ip.headerChecksum(Checksum.update(ip.headerChecksum(), oldTtlWord,
                (Ipv4Packet.DEFAULT_TTL << 8) | Ipv4Packet.PROTOCOL_ICMP));
            ethernet.writeHeader(ethernet.source(), mac, EthernetFrame.ETHERTYPE_IPV4);
            // Trim Ethernet padding the request may have carried.
            setFrameLength(m, ethernet.payloadOffset() + ip.totalLength());
            counters.icmpEchoRepliesSent.incrementRelease();
            transmit(m);
        } else if (type == IcmpPacket.TYPE_ECHO_REPLY && shardCount > 1 && echoReplyShard(icmp.identifier()) >= 0
            && echoReplyShard(icmp.identifier()) != shard) {
            // The answer to another shard's ping: its events ring is where the application waits for it.
            forward(m, echoReplyShard(icmp.identifier()));
        } else if (type == IcmpPacket.TYPE_ECHO_REPLY && icmp.identifier() == echoIdentifier
            && icmp.payloadLength() >= 8) {
            counters.icmpEchoRepliesReceived.incrementRelease();
            long sentNs = frame.getLong(icmp.payloadOffset());
            app.echoReply(ip.source(), icmp.sequenceNumber(), nowNs - sentNs);
            free(m);
        } else if (type == IcmpPacket.TYPE_DESTINATION_UNREACHABLE && icmp.code() == IcmpPacket.CODE_FRAGMENTATION_NEEDED) {
            fragmentationNeeded(m);
        } else {
            drop(m, DropReason.ICMP_UNHANDLED);
        }
    }

    /**
     * RFC 1191 §4 (path MTU discovery): a router could not forward one of our datagrams (DF is always set) and
     * says the next hop's MTU. The ICMP message quotes our IP header and the first 8 bytes of TCP (ports and
     * sequence number), which TCP checks against the connection before it lowers its MSS (RFC 5927 §4.1).
     */
    private void fragmentationNeeded(long m) {
        int quoted = icmp.payloadOffset();
        int quotedLength = icmp.payloadLength();
        if (quotedLength < Ipv4Packet.MIN_HEADER_LENGTH + 8) {
            drop(m, DropReason.ICMP_MALFORMED);
            return;
        }
        int ihl = (frame.getByte(quoted) & 0x0F) * 4;
        int protocol = frame.getByte(quoted + 9) & 0xFF;
        int origSource = frame.getInt(quoted + 12, java.nio.ByteOrder.BIG_ENDIAN);
        int origDestination = frame.getInt(quoted + 16, java.nio.ByteOrder.BIG_ENDIAN);
        if (ihl < Ipv4Packet.MIN_HEADER_LENGTH || quotedLength < ihl + 8 || protocol != Ipv4Packet.PROTOCOL_TCP
            || origSource != address) {
            drop(m, DropReason.ICMP_UNHANDLED);
            return;
        }
        int origTotalLength = frame.getShort(quoted + 2, java.nio.ByteOrder.BIG_ENDIAN) & 0xFFFF;
        int nextHopMtu = frame.getShort(icmp.offset() + 6, java.nio.ByteOrder.BIG_ENDIAN) & 0xFFFF;
        int tcpAt = quoted + ihl;
        int localPort = frame.getShort(tcpAt, java.nio.ByteOrder.BIG_ENDIAN) & 0xFFFF;
        int remotePort = frame.getShort(tcpAt + 2, java.nio.ByteOrder.BIG_ENDIAN) & 0xFFFF;
        int seq = frame.getInt(tcpAt + 4, java.nio.ByteOrder.BIG_ENDIAN);
        if (shardCount > 1) {
            int o = owner.shardOf(origSource, localPort, origDestination, remotePort);
            if (o != shard) {
                forward(m, o);
                return;
            }
        }
        counters.icmpFragmentationNeeded.incrementRelease();
        tcp.onFragmentationNeeded(origDestination, remotePort, localPort, seq, nextHopMtu, origTotalLength);
        free(m);
    }

    // ------------------------------------------------------------------------------------------ shards

    /** Hands a received frame to the shard that owns its flow; the mbuf goes with it. */
    private void forward(long m, int to) {
        if (Integer.compareUnsigned(to, shardCount) >= 0) {
            drop(m, DropReason.SHARD_UNKNOWN); // a FlowOwner that does not fit the port: never an index out of range
            return;
        }
        shardScratch.putLong(0, m);
        if (group.inbound(to).write(ShardGroup.FORWARDED_FRAME, shardScratch, 0, 8)) {
            counters.forwardedFrames.incrementRelease();
        } else {
            drop(m, DropReason.SHARD_RING_FULL);
        }
    }

    /** Tells every other shard a neighbour learned here (one neighbour view); a full ring loses the news only. */
    void shareNeighbour(int ipAddress, long hardware) {
        shardScratch.putInt(0, ipAddress);
        shardScratch.putLong(8, hardware);
        for (int q = 0; q < shardCount; q++) {
            if (q != shard) {
                group.inbound(q).write(ShardGroup.NEIGHBOUR, shardScratch, 0, 16);
            }
        }
    }

    private void onInbound(int type, org.agrona.MutableDirectBuffer buffer, int index, int length) {
        timeThisCycle();
        if (type == ShardGroup.FORWARDED_FRAME) {
            long m = buffer.getLong(index);
            classify(m, Mbuf.dataLen(m));
        } else if (type == ShardGroup.NEIGHBOUR) {
            int slot = arp.learn(buffer.getInt(index), buffer.getLong(index + 8), nowNs);
            if (slot >= 0) {
                arpIo.releaseParked(slot);
            }
        }
    }

    /**
     * Frees frames forwarded to this shard and not processed (call once every shard's poll thread has stopped,
     * after {@link #onClose}): none is lost when shards stop one after another.
     */
    public void freeForwarded() {
        if (inbound != null) {
            inbound.read(inboundFree, Integer.MAX_VALUE);
            out.flushFree();
        }
    }

    /** The shard whose ping an echo reply answers (identifier 0xE000 | shard << 6 | port), or -1. */
    private int echoReplyShard(int identifier) {
        if ((identifier & 0xF000) != ECHO_ID_SHARDED) {
            return -1;
        }
        int s = (identifier >>> 6) & 0x3F;
        return s < shardCount ? s : -1;
    }

    /** Which shard this stack is (0 of 1 for a stack with one queue). */
    public int shard() {
        return shard;
    }

    // ------------------------------------------------------------------------------------------ output

    /** Builds and sends (or parks for ARP) an ICMP echo request. */
    void sendPing(int destination, int sequence, int payloadLength) {
        int nextHop = routes.nextHop(destination);
        if (nextHop == Routes.NO_ROUTE) {
            counters.noRoute.incrementRelease();
            sendFailed(destination, sequence, NtStatus.STATUS_NETWORK_UNREACHABLE);
            return;
        }
        long m = allocate();
        if (m == 0) {
            sendFailed(destination, sequence, NtStatus.STATUS_INSUFFICIENT_RESOURCES);
            return;
        }
        int icmpLength = IcmpPacket.HEADER_LENGTH + Math.max(8, payloadLength);
        int frameLength = EthernetFrame.HEADER_LENGTH + Ipv4Packet.MIN_HEADER_LENGTH + icmpLength;
        if (frameLength > Math.min(Mbuf.tailroom(m), port.mtu() + EthernetFrame.HEADER_LENGTH)) {
            free(m);
            sendFailed(destination, sequence, NtStatus.STATUS_INSUFFICIENT_RESOURCES);
            return;
        }
        frame.wrap(Mbuf.dataAddress(m), frameLength);
        ethernet.wrap(frame, 0, frameLength);
        ethernet.writeHeader(0L, mac, EthernetFrame.ETHERTYPE_IPV4);
        ip.wrap(frame, EthernetFrame.HEADER_LENGTH, frameLength - EthernetFrame.HEADER_LENGTH);
        ip.writeHeader(Ipv4Packet.DEFAULT_TTL, Ipv4Packet.PROTOCOL_ICMP, address, destination, icmpLength,
            ipIdentification++ & 0xFFFF);
        icmp.wrap(frame, ip.payloadOffset(), icmpLength);
        icmp.type(IcmpPacket.TYPE_ECHO_REQUEST).code(0).identifier(echoIdentifier).sequenceNumber(sequence);
        int payload = icmp.payloadOffset();
        frame.putLong(payload, nowNs);
        for (int i = 8; i < icmpLength - IcmpPacket.HEADER_LENGTH; i++) {
            frame.putByte(payload + i, (byte) i);
        }
        icmp.fillChecksum();
        setFrameLength(m, frameLength);
        counters.icmpEchoRequestsSent.incrementRelease();
        resolveAndSend(m, nextHop);
    }

    /**
     * The MAC to send to {@code nextHop} now, or -1 when ARP does not know it yet (then nothing changed: {@link
     * #sendOnceResolved} starts the resolution). A STALE entry used here starts its validation, as in resolveAndSend.
     */
    long neighbour(int nextHop) {
        return arp.resolve(nextHop, nowNs);
    }

    /** Sends a frame whose Ethernet destination is still to be filled in, once ARP knows the next hop. */
    void resolveAndSend(long m, int nextHop) {
        long neighbour = arp.resolve(nextHop, nowNs);
        if (neighbour >= 0) {
            MacAddress.put(txFrame(m), EthernetFrame.DESTINATION_OFFSET, neighbour);
            transmit(m);
            return;
        }
        sendOnceResolved(m, nextHop);
    }

    /**
     * Parks a frame for a next hop {@link #neighbour} does not know (-1) and starts its resolution; the destination
     * is written when the answer comes. Dropped (ARP_QUEUE_FULL) when the hop's parking is full.
     */
    void sendOnceResolved(long m, int nextHop) {
        long evictions = arp.evictions();
        int slot = arp.startResolution(nextHop, nowNs);
        if (arp.evictions() != evictions) {
            counters.arpEntriesEvicted.incrementRelease();
        }
        if (slot < 0 || !arp.park(slot, m)) {
            reportUnsent(m, NtStatus.STATUS_INSUFFICIENT_RESOURCES);
            drop(m, DropReason.ARP_QUEUE_FULL);
            return;
        }
        // The first request goes out at once.
        nextArpPollNs = nowNs;
    }

    /** Sets the frame length, zero-padding to Ethernet's 60-byte minimum (the buffer has the room). */
    void setFrameLength(long m, int length) {
        if (length < 60) {
            frame.wrap(Mbuf.dataAddress(m), 60);
            frame.setMemory(length, 60 - length, (byte) 0);
            length = 60;
        }
        Mbuf.setLength(m, length);
    }

    private UnsafeBuffer txFrame(long m) {
        txFrame.wrap(Mbuf.dataAddress(m), Mbuf.dataLen(m));
        return txFrame;
    }

    private UnsafeBuffer frame(long m) {
        frame.wrap(Mbuf.dataAddress(m), Mbuf.dataLen(m));
        return frame;
    }

    /** Tells the application that a frame we built will not leave (for a ping: its sequence number). */
    void reportUnsent(long m, int status) {
        UnsafeBuffer f = txFrame(m);
        txIp.wrap(f, EthernetFrame.HEADER_LENGTH, f.capacity() - EthernetFrame.HEADER_LENGTH);
        if (txIp.protocol() == Ipv4Packet.PROTOCOL_ICMP) {
            txIcmp.wrap(f, txIp.payloadOffset(), IcmpPacket.HEADER_LENGTH);
            // Only our own pings are the application's: an echo reply or a Time Exceeded we built is not.
            if (txIcmp.type() == IcmpPacket.TYPE_ECHO_REQUEST && txIcmp.identifier() == echoIdentifier) {
                sendFailed(txIp.destination(), txIcmp.sequenceNumber(), status);
            }
        } else if (txIp.protocol() == Ipv4Packet.PROTOCOL_TCP) {
            txTcp.wrap(f, txIp.payloadOffset(), TcpSegment.MIN_HEADER_LENGTH);
            tcp.onUnreachable(txIp.destination(), txTcp.destinationPort(), txTcp.sourcePort(), status);
        }
    }

    private void sendFailed(int destination, int sequence, int status) {
        app.sendFailed(destination, sequence, status);
    }

    /**
     * Tells the stack that the poll thread's lcore changed: call it on the poll thread after the thread registers
     * with EAL, unregisters, or registers again, when the application drives the stack itself (invoker mode)
     * and allocated on that thread before. The pool cache transmit buffers come from is the lcore's
     * ({@code rte_mempool_default_cache}), looked up on a thread's first allocation and kept while the same Java
     * thread polls: a lookup reads a thread-local symbol, too slow for every buffer. A different thread polling is
     * noticed without this call (it looks its own lcore's cache up); a change of lcore on the same thread is
     * not: after an unregister the stack would go on using the old lcore's cache, which is not thread-safe and
     * which the next thread to register may be given. {@link StackRunner}'s thread registers before its first
     * duty cycle and unregisters after its last, so it needs no call.
     */
    public void lcoreChanged() {
        out.lcoreChanged();
    }

    /** The pool cache allocations take from (0: none, the pool's rings); for tests. */
    long allocCache() {
        return out.allocCache();
    }

    long allocate() {
        return out.allocate();
    }

    /** Whether one more frame fits in this duty cycle's transmit batch ({@link TxBatch#canTransmit}). */
    boolean canTransmit() {
        return out.canTransmit();
    }

    /** Queues a finished frame, its Ethernet destination written, for this duty cycle's tx burst. */
    void transmit(long m) {
        out.transmit(m);
    }

    void free(long m) {
        out.free(m);
    }

    void drop(long m, DropReason reason) {
        out.drop(m, reason);
    }

    private void flush() {
        out.flush();
    }

    // ------------------------------------------------------------------------------------------ commands

    /**
     * Queues an ICMP echo request to {@code destination} (any thread). The reply, or the reason it could not
     * be sent, arrives through {@link #pollEvents}.
     *
     * @return false if the command ring is full (try again)
     */
    public boolean ping(int destination, int sequence, int payloadLength) {
        return app.ping(destination, sequence, payloadLength);
    }

    /** Hands a frame received through {@link #pollFrames} back to the stack (any thread). */
    public boolean releaseFrame(long mbuf) {
        return app.releaseFrame(mbuf);
    }

    /** Delivers queued outcomes to {@code handler} (one application thread). Returns how many. */
    public int pollEvents(StackEventHandler handler) {
        return app.pollEvents(handler);
    }

    /**
     * Delivers raw IPv4 frames of the protocols enabled with {@link StackConfig.Builder#rawProtocol} as
     * descriptors: zero copies (one application thread). Returns how many.
     */
    public int pollFrames(FrameHandler handler) {
        return app.pollFrames(handler);
    }

    // ------------------------------------------------------------------------------------------ accessors

    public Port port() {
        return port;
    }

    public StackConfig config() {
        return config;
    }

    public StackCounters counters() {
        return counters;
    }

    /** The TCP layer: listen, connect (poll thread: from handlers or in invoker mode). */
    public TcpLayer tcp() {
        return tcp;
    }

    /** The local ports held outside connections, one table shared by the providers and TCP (any thread). */
    public LocalPorts ports() {
        return tcp.ports();
    }

    /** TCP for application threads: requests through a ring, events and zero-copy data back. */
    public TcpService tcpService() {
        return tcpService;
    }

    public ArpTable arpTable() {
        return arp;
    }

    public long mac() {
        return mac;
    }

    public int address() {
        return address;
    }

    /** The stage timestamps, or null unless the JVM runs with {@code -Dfastpath.budget=true}. */
    public Budget budget() {
        return budget;
    }

    /** The poll thread's view of now, as of the current duty cycle. */
    public long nowNs() {
        return nowNs;
    }

    /** Frees the mbufs the stack still holds (parked for ARP, held by the application); poll thread, last. */
    @Override
    public void onClose() {
        out.drain();
        tcpService.beginCycle(); // for good: requests after this go to the rings, which nobody reads any more
        // Requests already queued (above all releases of mbufs the application handed back) are honoured.
        tcpService.poll();
        app.readCommands(Integer.MAX_VALUE);
        if (inbound != null) {
            inbound.read(inboundFree, Integer.MAX_VALUE);
        }
        flush();
        tcp.close();
        tcpService.close();
        for (int slot = 0; slot < arp.capacity(); slot++) {
            if (arp.state(slot) != ArpTable.FREE) {
                for (int i = 0; i < arp.parkedCount(slot); i++) {
                    free(arp.parked(slot, i));
                }
                arp.clearParked(slot);
            }
        }
        app.freeHeld();
        reassembly.close();
        flush();
    }

    @Override
    public void close() {
        counters.close();
    }
}
