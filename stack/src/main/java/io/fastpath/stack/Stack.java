package io.fastpath.stack;

import io.fastpath.dpdk.Mbuf;
import io.fastpath.dpdk.MbufArray;
import io.fastpath.dpdk.Port;
import io.fastpath.stack.arp.ArpTable;
import io.fastpath.stack.counters.Budget;
import io.fastpath.stack.counters.DropReason;
import io.fastpath.stack.counters.StackCounters;
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
import java.nio.ByteBuffer;
import org.agrona.collections.LongHashSet;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.SystemNanoClock;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.MessageHandler;
import org.agrona.concurrent.ringbuffer.ManyToOneRingBuffer;
import org.agrona.concurrent.ringbuffer.OneToOneRingBuffer;
import org.agrona.concurrent.ringbuffer.RingBuffer;
import org.agrona.concurrent.ringbuffer.RingBufferDescriptor;

/**
 * A host's Ethernet/ARP/IPv4/ICMP stack on one port queue: a busy-poll {@link Agent}.
 *
 * <p>{@link #doWork()} reads the clock once, receives a burst, handles every frame (ARP answers and learning,
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
    private static final int TX_BATCH = 64;
    /** sizeof(struct rte_mbuf): part of what every held mbuf costs. */
    private static final int MBUF_HEADER_BYTES = 128;
    private static final long RX_L4_CKSUM_MASK = (1L << 3) | (1L << 8);
    private static final long RX_L4_CKSUM_GOOD = 1L << 8;
    private static final long RX_IP_CKSUM_MASK = (1L << 4) | (1L << 7);
    private static final long RX_IP_CKSUM_GOOD = 1L << 7;
    private static final int ARP_POLL_INTERVAL_NS = 1_000_000;

    private static final int ECHO_ID_SHARDED = 0xE000;
    private static final int CMD_PING = 1;
    private static final int CMD_RELEASE = 2;
    private static final int EVT_ECHO_REPLY = 1;
    private static final int EVT_SEND_FAILED = 2;
    private static final int FRAME_DESCRIPTOR = 1;

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
    private final MbufArray tx = new MbufArray(TX_BATCH);
    private final MbufArray toFree = new MbufArray(TX_BATCH);
    private final MbufArray alloc = new MbufArray(1);
    /** The thread {@link #allocCache} belongs to, and its lcore's cache of the pool (0: none). */
    private Thread cacheThread;
    private long allocCache;
    private int txCount;
    private boolean draining;
    private int freeCount;

    private final UnsafeBuffer frame = new UnsafeBuffer(0, 0);
    private final EthernetFrame ethernet = new EthernetFrame();
    private final ArpPacket arpPacket = new ArpPacket();
    private final Ipv4Packet ip = new Ipv4Packet();
    private final IcmpPacket icmp = new IcmpPacket();
    // Separate views for the output path: TCP transmits while the input path's views are in use.
    private final UnsafeBuffer txFrame = new UnsafeBuffer(0, 0);
    private final Ipv4Packet txIp = new Ipv4Packet();
    private final IcmpPacket txIcmp = new IcmpPacket();
    private final TcpSegment txTcp = new TcpSegment();
    private final TcpLayer tcp;
    private final TcpService tcpService;
    /** Diagnostic stage timestamps ({@link Budget}); null unless {@code -Dfastpath.budget=true}. */
    private final Budget budget = Budget.ENABLED ? new Budget() : null;

    private final ManyToOneRingBuffer commands;
    private final OneToOneRingBuffer events;
    private final OneToOneRingBuffer frames;
    private final UnsafeBuffer eventScratch = new UnsafeBuffer(new byte[32]);
    private final UnsafeBuffer frameScratch = new UnsafeBuffer(new byte[32]);
    private final UnsafeBuffer commandScratch = new UnsafeBuffer(new byte[32]);
    private final MessageHandler commandHandler = this::onCommand;
    private final LongHashSet heldFrames;
    private final ArpTable.Actions arpActions = new ArpTable.Actions() {
        @Override
        public void sendRequest(int target) {
            sendArp(ArpPacket.OPERATION_REQUEST, MacAddress.BROADCAST, 0L, target);
        }

        @Override
        public void sendProbe(int target, long hardware) {
            // Linux's unicast probe: Ethernet destination the known MAC, target hardware address zero.
            counters.arpProbesSent.incrementRelease();
            sendArp(ArpPacket.OPERATION_REQUEST, hardware, 0L, target);
        }

        @Override
        public void resolutionFailed(int slot, int target) {
            onResolutionFailed(slot, target);
        }
    };

    // Shards (see the class comment): shardCount 1 leaves all of it unused.
    private final int shard;
    private final int shardCount;
    private final FlowOwner owner;
    private final ShardGroup group;
    private final org.agrona.concurrent.ringbuffer.ManyToOneRingBuffer inbound;
    private final UnsafeBuffer shardScratch = new UnsafeBuffer(new byte[16]);
    private final MessageHandler inboundHandler = this::onInbound;
    private final MessageHandler inboundFree = (type, buffer, index, length) -> {
        if (type == ShardGroup.FORWARDED_FRAME) {
            free(buffer.getLong(index));
        }
    };

    private long nowNs;
    /**
     * Data offset from the mbuf of the last frame received: {@code sizeof(struct rte_mbuf)} + private area +
     * headroom, 256 for the pools fastpath creates.
     */
    private int rxDataOffset = 256;
    private static final int MAX_PREFETCH_OFFSET = 512;
    /** Lines of data {@link #prefetchReceived} touches, at most this many. */
    private static final int PREFETCH_DATA_LINES = 3;
    /**
     * End of the last frame's buffer, from its mbuf ({@code buf_addr + buf_len - m}): the data lines touched stay
     * below it. A pool with a small data room has elements shorter than offset + 3 lines; a touch past the end
     * reads the next element, or past the pool's memory. Until a frame teaches it: our own pool's, without a
     * private area (which only moves the end further).
     */
    private int rxBufferEnd;
    /** How many data lines at {@link #rxDataOffset} lie below {@link #rxBufferEnd}. */
    private int rxDataLines;
    /** Where {@link #prefetchReceived} leaves its loads' sum, so that the JIT keeps them. */
    private long prefetchSink;
    private long nextArpPollNs;
    private int ipIdentification;
    private boolean started;

    public Stack(Port port, StackConfig config) {
        this(port, config, new SystemNanoClock());
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
        this.rxBufferEnd = MBUF_HEADER_BYTES + port.pool().dataRoom();
        this.rxDataLines = dataLinesInBuffer(rxDataOffset, rxBufferEnd);
        this.mac = config.mac();
        this.address = config.address();
        this.routes = new Routes(config.address(), config.prefixLength(), config.gateway());
        this.arp = new ArpTable(config.arpCapacity(), config.arpLifetimeNs(), config.arpRetryIntervalNs(),
            config.arpMaxRequests());
        // One shard of several: the identifier names the shard, so a reply that lands on another queue comes back.
        this.echoIdentifier = shardCount > 1 ? ECHO_ID_SHARDED | (shard << 6) | (port.portId() & 0x3F)
            : 0xF000 | (port.portId() & 0xFFF);
        this.mtu = Math.min(port.mtu(), port.pool().dataRoom() - 128 - EthernetFrame.HEADER_LENGTH);
        this.heldFrames = new LongHashSet(config.maxHeldFrames() * 2);
        int ringBytes = config.ringCapacity() + RingBufferDescriptor.TRAILER_LENGTH;
        this.commands = new ManyToOneRingBuffer(new UnsafeBuffer(ByteBuffer.allocateDirect(ringBytes)));
        this.events = new OneToOneRingBuffer(new UnsafeBuffer(ByteBuffer.allocateDirect(ringBytes)));
        this.frames = new OneToOneRingBuffer(new UnsafeBuffer(ByteBuffer.allocateDirect(ringBytes)));
        this.counters = new StackCounters(config.countersFile(), config.name(), shardCount > 1 ? shard : -1);
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
        this.tcp = new TcpLayer(config.tcp(), new MbufIpOutput(this, port, routes, counters, mac, address, mtu),
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
        int portHolds = port.descriptorMbufs() + 2 * TX_BATCH + 256;
        int reserve = Math.min(config.tcpMemoryReserveMbufs() + portHolds, poolSize / 2);
        int limit = config.tcpMemoryLimitMbufs() > 0 ? Math.min(config.tcpMemoryLimitMbufs(), poolSize - reserve)
            : poolSize - reserve;
        this.tcp.configureMemory(port.pool().dataRoom() + MBUF_HEADER_BYTES,
            port.pool().dataRoom() - (int) io.fastpath.dpdk.Layouts.PKTMBUF_HEADROOM, limit);
        // The application can never hold more descriptors than the pool has mbufs.
        this.tcpService = new TcpService(tcp, config.ringCapacity(), counters,
            port.pool().availableCount() + port.pool().inUseCount(), config.shard());
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
            sendArp(ArpPacket.OPERATION_REQUEST, MacAddress.BROADCAST, 0L, address);
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
        tcpService.beginCycle();
        try {
            return dutyCycle();
        } finally {
            tcpService.endCycle();
        }
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

    private int dutyCycle() {
        if (!started) {
            onStart();
        }
        nowNs = clock.nanoTime();
        int work = 0;
        int received = port.receive(rx, BURST);
        if (Budget.ENABLED && received > 0) {
            budget.beginCycle(nowNs);
        }
        if (received > 0) {
            prefetchReceived(received);
        }
        for (int i = 0; i < received; i++) {
            input(rx.get(i));
        }
        work += received;
        if (inbound != null) {
            work += inbound.read(inboundHandler, 2 * BURST);
        }
        work += commands.read(commandHandler, 64);
        work += tcpService.poll();
        work += tcp.poll(nowNs);
        if (nowNs - nextArpPollNs >= 0) {
            nextArpPollNs = nowNs + ARP_POLL_INTERVAL_NS;
            work += arp.poll(nowNs, arpActions);
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

    /**
     * Starts the cache misses of the burst's frames all at once: each frame's mbuf header and the first three
     * lines of its data (Ethernet, IPv4 and TCP headers and the first bytes of payload) at the data offset of
     * the last frame received. With a peer on another CPU (the ring PMD, or a NIC that wrote the frame) none of
     * those lines is in this CPU's cache, and read in program order they are two misses one after the other:
     * the header gives the data address, the data comes after. Loaded together they overlap (docs/perf/budget.md,
     * "The tail"). The offset is only a guess (clamped into the mbuf's own buffer); a wrong guess costs loads.
     */
    private void prefetchReceived(int received) {
        long sum = 0;
        int offset = rxDataOffset;
        int lines = rxDataLines;
        for (int i = 0; i < received; i++) {
            long m = rx.get(i);
            sum += Mbuf.touchLines(m, 1) + Mbuf.touchLines(m + offset, lines);
        }
        prefetchSink = sum;
    }

    /** Cache lines from {@code offset} on whose first byte lies below {@code bufferEnd}, at most three. */
    static int dataLinesInBuffer(long offset, long bufferEnd) {
        long inside = bufferEnd - offset;
        return inside <= 0 ? 0 : (int) Math.min((inside - 1) / 64 + 1, PREFETCH_DATA_LINES);
    }

    /** One past the last byte, from the mbuf, that {@link #prefetchReceived} touches in a frame's data (tests). */
    int prefetchDataEnd() {
        return rxDataLines == 0 ? rxDataOffset : rxDataOffset + ((rxDataLines - 1) << 6) + 1;
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
        long offset = data - m;
        if (offset >= 0 && offset <= MAX_PREFETCH_OFFSET) {
            long end = Mbuf.bufAddr(m) + Mbuf.bufLen(m) - m; // bufLen shares the header line with dataOff
            if (offset != rxDataOffset || end != rxBufferEnd) {
                // Where the next frame's data most likely is, and how far its buffer goes (prefetchReceived).
                rxDataOffset = (int) offset;
                rxBufferEnd = Math.clamp(end, 0, Integer.MAX_VALUE);
                rxDataLines = dataLinesInBuffer(offset, end);
            }
        }
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
            case EthernetFrame.ETHERTYPE_ARP -> arpInput(m);
            case EthernetFrame.ETHERTYPE_IPV4 -> ipInput(m, MacAddress.isBroadcast(destination));
            default -> drop(m, DropReason.UNSUPPORTED_ETHERTYPE);
        }
    }

    /** RFC 826 "Packet Reception", with the merge flag; we answer only for our own address. */
    private void arpInput(long m) {
        arpPacket.wrap(frame, ethernet.payloadOffset(), ethernet.payloadLength());
        if (arpPacket.check() != WireError.OK) {
            drop(m, DropReason.ARP_MALFORMED);
            return;
        }
        int operation = arpPacket.operation();
        int senderIp = arpPacket.senderProtocolAddress();
        long senderMac = arpPacket.senderHardwareAddress();
        int targetIp = arpPacket.targetProtocolAddress();
        if (operation == ArpPacket.OPERATION_REQUEST) {
            counters.arpRequestsReceived.incrementRelease();
        } else if (operation == ArpPacket.OPERATION_REPLY) {
            counters.arpRepliesReceived.incrementRelease();
        }
        boolean valid = senderIp != 0 && senderIp != address && !MacAddress.isMulticast(senderMac);
        int slot = valid ? arp.update(senderIp, senderMac, nowNs) : -1;
        if (slot >= 0 && shardCount > 1) {
            shareNeighbour(senderIp, senderMac);
        }
        if (slot >= 0) {
            // The merge may have completed a resolution (INCOMPLETE to REACHABLE): what waited for it goes now,
            // even when the packet was not for us, or it would stay parked in a REACHABLE entry for good
            // (mbufs leaked, a SYN never sent; found by ReceivePathFuzzTest).
            releaseParked(slot);
        }
        if (targetIp != address) {
            drop(m, DropReason.ARP_NOT_FOR_US);
            return;
        }
        if (valid && slot < 0) {
            slot = arp.learn(senderIp, senderMac, nowNs);
            if (slot >= 0 && shardCount > 1) {
                shareNeighbour(senderIp, senderMac);
            }
        }
        if (slot >= 0) {
            releaseParked(slot);
        }
        if (operation == ArpPacket.OPERATION_REQUEST && senderIp != 0 && !MacAddress.isMulticast(senderMac)) {
            // Answer in the same mbuf: swap sender and target, fill our MAC, send back.
            arpPacket.write(ArpPacket.OPERATION_REPLY, mac, address, senderMac, senderIp);
            ethernet.writeHeader(senderMac, mac, EthernetFrame.ETHERTYPE_ARP);
            counters.arpRepliesSent.incrementRelease();
            transmit(m);
            return;
        }
        free(m);
    }

    private void ipInput(long m, boolean linkBroadcast) {
        ip.wrap(frame, ethernet.payloadOffset(), ethernet.payloadLength());
        // The NIC may have verified the header checksum already (RTE_MBUF_F_RX_IP_CKSUM_GOOD).
        WireError error = ip.check((Mbuf.olFlags(m) & RX_IP_CKSUM_MASK) == RX_IP_CKSUM_GOOD);
        if (error != WireError.OK) {
            drop(m, switch (error) {
                case BAD_VERSION -> DropReason.IP_BAD_VERSION;
                case BAD_HEADER_LENGTH -> DropReason.IP_BAD_HEADER_LENGTH;
                case BAD_TOTAL_LENGTH -> DropReason.IP_BAD_TOTAL_LENGTH;
                case BAD_CHECKSUM -> DropReason.IP_BAD_CHECKSUM;
                case FRAGMENT -> DropReason.IP_FRAGMENT;
                default -> DropReason.IP_TRUNCATED;
            });
            return;
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
            deliverRaw(m, protocol);
        } else {
            drop(m, DropReason.IP_UNSUPPORTED_PROTOCOL);
        }
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
            eventScratch.putInt(0, ip.source());
            eventScratch.putInt(4, icmp.sequenceNumber());
            eventScratch.putLong(8, nowNs - sentNs);
            events.write(EVT_ECHO_REPLY, eventScratch, 0, 16);
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
    private void shareNeighbour(int ipAddress, long hardware) {
        shardScratch.putInt(0, ipAddress);
        shardScratch.putLong(8, hardware);
        for (int q = 0; q < shardCount; q++) {
            if (q != shard) {
                group.inbound(q).write(ShardGroup.NEIGHBOUR, shardScratch, 0, 16);
            }
        }
    }

    private void onInbound(int type, org.agrona.MutableDirectBuffer buffer, int index, int length) {
        if (type == ShardGroup.FORWARDED_FRAME) {
            long m = buffer.getLong(index);
            classify(m, Mbuf.dataLen(m));
        } else if (type == ShardGroup.NEIGHBOUR) {
            int slot = arp.learn(buffer.getInt(index), buffer.getLong(index + 8), nowNs);
            if (slot >= 0) {
                releaseParked(slot);
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
            flushFree();
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

    private void deliverRaw(long m, int protocol) {
        if (heldFrames.size() >= config.maxHeldFrames()) {
            drop(m, DropReason.RAW_RING_FULL);
            return;
        }
        frameScratch.putLong(0, m);
        frameScratch.putLong(8, Mbuf.dataAddress(m));
        frameScratch.putInt(16, ethernet.payloadOffset() + ip.headerLength());
        frameScratch.putInt(20, ethernet.payloadOffset() + ip.totalLength());
        frameScratch.putInt(24, protocol);
        if (!frames.write(FRAME_DESCRIPTOR, frameScratch, 0, 28)) {
            drop(m, DropReason.RAW_RING_FULL);
            return;
        }
        heldFrames.add(m);
        counters.rawFramesDelivered.incrementRelease();
        counters.rawFramesHeld.setRelease(heldFrames.size());
    }

    // ------------------------------------------------------------------------------------------ output

    /** Builds and sends (or parks for ARP) an ICMP echo request. */
    private void sendPing(int destination, int sequence, int payloadLength) {
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

    /** Sends a frame whose Ethernet destination is still to be filled in, once ARP knows the next hop. */
    void resolveAndSend(long m, int nextHop) {
        long neighbour = arp.resolve(nextHop, nowNs);
        if (neighbour >= 0) {
            MacAddress.put(txFrame(m), EthernetFrame.DESTINATION_OFFSET, neighbour);
            transmit(m);
            return;
        }
        int slot = arp.startResolution(nextHop, nowNs);
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

    /** A neighbour answered: send what waited for it. */
    private void releaseParked(int slot) {
        int n = arp.parkedCount(slot);
        if (n == 0) {
            return;
        }
        long neighbour = arp.mac(slot);
        for (int i = 0; i < n; i++) {
            long m = arp.parked(slot, i);
            MacAddress.put(txFrame(m), EthernetFrame.DESTINATION_OFFSET, neighbour);
            transmit(m);
        }
        arp.clearParked(slot);
    }

    /** RFC 1122 §2.3.2.2: the frames waiting on a failed resolution are discarded; pings learn why. */
    private void onResolutionFailed(int slot, int target) {
        counters.arpResolutionFailures.incrementRelease();
        int n = arp.parkedCount(slot);
        for (int i = 0; i < n; i++) {
            long m = arp.parked(slot, i);
            reportUnsent(m, NtStatus.STATUS_HOST_UNREACHABLE);
            drop(m, DropReason.ARP_UNRESOLVED);
        }
        arp.clearParked(slot);
    }

    /** Tells the application that a frame we built will not leave (for a ping: its sequence number). */
    private void reportUnsent(long m, int status) {
        UnsafeBuffer f = txFrame(m);
        txIp.wrap(f, EthernetFrame.HEADER_LENGTH, f.capacity() - EthernetFrame.HEADER_LENGTH);
        if (txIp.protocol() == Ipv4Packet.PROTOCOL_ICMP) {
            txIcmp.wrap(f, txIp.payloadOffset(), IcmpPacket.HEADER_LENGTH);
            sendFailed(txIp.destination(), txIcmp.sequenceNumber(), status);
        } else if (txIp.protocol() == Ipv4Packet.PROTOCOL_TCP) {
            txTcp.wrap(f, txIp.payloadOffset(), TcpSegment.MIN_HEADER_LENGTH);
            tcp.onUnreachable(txIp.destination(), txTcp.destinationPort(), txTcp.sourcePort(), status);
        }
    }

    private void sendFailed(int destination, int sequence, int status) {
        eventScratch.putInt(0, destination);
        eventScratch.putInt(4, sequence);
        eventScratch.putInt(8, status);
        events.write(EVT_SEND_FAILED, eventScratch, 0, 12);
    }

    private void sendArp(int operation, long ethernetDestination, long targetMac, int targetIp) {
        long m = allocate();
        if (m == 0) {
            return;
        }
        int length = EthernetFrame.HEADER_LENGTH + ArpPacket.LENGTH;
        frame.wrap(Mbuf.dataAddress(m), 60);
        frame.setMemory(length, 60 - length, (byte) 0);
        ethernet.wrap(frame, 0, 60);
        ethernet.writeHeader(ethernetDestination, mac, EthernetFrame.ETHERTYPE_ARP);
        arpPacket.wrap(frame, EthernetFrame.HEADER_LENGTH, ArpPacket.LENGTH);
        arpPacket.write(operation, mac, address, targetMac, targetIp);
        Mbuf.setLength(m, 60);
        if (operation == ArpPacket.OPERATION_REQUEST) {
            counters.arpRequestsSent.incrementRelease();
        } else {
            counters.arpRepliesSent.incrementRelease();
        }
        transmit(m);
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
        cacheThread = null;
        allocCache = 0;
    }

    /** The pool cache allocations take from (0: none, the pool's rings); for tests. */
    long allocCache() {
        return allocCache;
    }

    long allocate() {
        Thread thread = Thread.currentThread();
        if (thread != cacheThread) {
            // The first allocation on a (new) poll thread: find its lcore's cache of the pool, once (see
            // lcoreChanged for a thread whose lcore changes). A virtual thread moves between carriers (each with
            // its own lcore id, if any): no cache for it.
            cacheThread = thread;
            allocCache = thread.isVirtual() ? 0 : port.pool().localCache();
        }
        if (!port.pool().allocBulk(alloc, 0, 1, allocCache)) {
            counters.drop(DropReason.TX_NO_MBUF).incrementRelease();
            return 0;
        }
        return alloc.get(0);
    }

    /**
     * Whether one more frame fits in this duty cycle's transmit batch (flushing to the port first when it is
     * full). TCP asks before it builds a segment, so a port that cannot keep up holds TCP back instead of
     * dropping segments TCP counted as sent.
     */
    boolean canTransmit() {
        if (txCount < TX_BATCH) {
            return true;
        }
        flushTx();
        if (txCount < TX_BATCH) {
            return true;
        }
        counters.txBackPressure.incrementRelease();
        return false;
    }

    private void transmit(long m) {
        if (txCount == TX_BATCH) {
            flushTx();
            if (txCount == TX_BATCH) {
                // Still full after a retry: the port cannot keep up; this frame is lost (TCP resends).
                counters.drop(DropReason.TX_RING_FULL).incrementRelease();
                free(m);
                return;
            }
        }
        tx.set(txCount++, m);
    }

    void free(long m) {
        if (freeCount == TX_BATCH) {
            flushFree();
        }
        toFree.set(freeCount++, m);
    }

    private void drop(long m, DropReason reason) {
        counters.drop(reason).incrementRelease();
        free(m);
    }

    private void flush() {
        flushTx();
        flushFree();
    }

    private void flushTx() {
        if (txCount == 0) {
            return;
        }
        long bytes = 0;
        for (int i = 0; i < txCount; i++) {
            bytes += Mbuf.pktLen(tx.get(i));
        }
        int sent = port.transmit(tx, 0, txCount);
        if (Budget.ENABLED) {
            budget.mark(Budget.TX);
        }
        int left = txCount - sent;
        for (int i = sent; i < txCount; i++) {
            bytes -= Mbuf.pktLen(tx.get(i));
        }
        counters.txFrames.getAndAddRelease(sent);
        counters.txBytes.getAndAddRelease(bytes);
        if (left > 0 && !draining) {
            // The port's queue is full: keep the rest for the next duty cycle (back-pressure, not loss).
            for (int i = 0; i < left; i++) {
                tx.set(i, tx.get(sent + i));
            }
            txCount = left;
            return;
        }
        if (left > 0) {
            counters.drop(DropReason.TX_RING_FULL).getAndAddRelease(left);
            tx.freeRange(sent, left);
        }
        txCount = 0;
    }

    private void flushFree() {
        if (freeCount > 0) {
            toFree.freeAll(freeCount);
            freeCount = 0;
        }
    }

    // ------------------------------------------------------------------------------------------ commands

    private void onCommand(int type, org.agrona.MutableDirectBuffer buffer, int index, int length) {
        if (type == CMD_PING) {
            sendPing(buffer.getInt(index), buffer.getInt(index + 4), buffer.getInt(index + 8));
        } else if (type == CMD_RELEASE) {
            long m = buffer.getLong(index);
            // A stale or double release is refused, never a double free.
            if (heldFrames.remove(m)) {
                free(m);
                counters.rawFramesHeld.setRelease(heldFrames.size());
            } else {
                counters.drop(DropReason.RELEASE_REFUSED).incrementRelease();
            }
        }
    }

    /**
     * Queues an ICMP echo request to {@code destination} (any thread). The reply, or the reason it could not
     * be sent, arrives through {@link #pollEvents}.
     *
     * @return false if the command ring is full (try again)
     */
    public boolean ping(int destination, int sequence, int payloadLength) {
        synchronized (commandScratch) {
            commandScratch.putInt(0, destination);
            commandScratch.putInt(4, sequence);
            commandScratch.putInt(8, payloadLength);
            return commands.write(CMD_PING, commandScratch, 0, 12);
        }
    }

    /** Hands a frame received through {@link #pollFrames} back to the stack (any thread). */
    public boolean releaseFrame(long mbuf) {
        synchronized (commandScratch) {
            commandScratch.putLong(0, mbuf);
            return commands.write(CMD_RELEASE, commandScratch, 0, 8);
        }
    }

    private final MessageHandler[] eventDecoder = new MessageHandler[1];
    private StackEventHandler eventTarget;
    private FrameHandler frameTarget;

    /** Delivers queued outcomes to {@code handler} (one application thread). Returns how many. */
    public int pollEvents(StackEventHandler handler) {
        eventTarget = handler;
        if (eventDecoder[0] == null) {
            eventDecoder[0] = (type, buffer, index, length) -> {
                if (type == EVT_ECHO_REPLY) {
                    eventTarget.onEchoReply(buffer.getInt(index), buffer.getInt(index + 4), buffer.getLong(index + 8));
                } else if (type == EVT_SEND_FAILED) {
                    eventTarget.onSendFailed(buffer.getInt(index), buffer.getInt(index + 4), buffer.getInt(index + 8));
                }
            };
        }
        return events.read(eventDecoder[0]);
    }

    private final MessageHandler frameDecoder = (type, buffer, index, length) -> {
        long m = buffer.getLong(index);
        if (frameTarget.onFrame(m, buffer.getLong(index + 8), buffer.getInt(index + 20), buffer.getInt(index + 16),
            buffer.getInt(index + 24))) {
            releaseFrame(m);
        }
    };

    /**
     * Delivers raw IPv4 frames of the protocols enabled with {@link StackConfig.Builder#rawProtocol} as
     * descriptors: zero copies (one application thread). Returns how many.
     */
    public int pollFrames(FrameHandler handler) {
        frameTarget = handler;
        return frames.read(frameDecoder);
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
        draining = true;
        tcpService.beginCycle(); // for good: requests after this go to the rings, which nobody reads any more
        // Requests already queued (above all releases of mbufs the application handed back) are honoured.
        tcpService.poll();
        commands.read(commandHandler, Integer.MAX_VALUE);
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
        LongHashSet.LongIterator it = heldFrames.iterator();
        while (it.hasNext()) {
            free(it.nextValue());
        }
        heldFrames.clear();
        flush();
    }

    @Override
    public void close() {
        counters.close();
    }
}
