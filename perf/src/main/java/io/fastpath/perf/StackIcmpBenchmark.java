package io.fastpath.perf;

import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.Mbuf;
import io.fastpath.dpdk.MbufArray;
import io.fastpath.stack.Stack;
import io.fastpath.stack.StackConfig;
import io.fastpath.stack.counters.StackCounters;
import io.fastpath.stack.wire.ArpPacket;
import io.fastpath.stack.wire.EthernetFrame;
import io.fastpath.stack.wire.IcmpPacket;
import io.fastpath.stack.wire.Ipv4Address;
import io.fastpath.stack.wire.Ipv4Packet;
import io.fastpath.stack.wire.MacAddress;
import io.fastpath.stack.wire.WireError;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.agrona.concurrent.UnsafeBuffer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What the stack adds on top of {@link RingPairBurstBenchmark}: a {@link Stack} on port B, driven in invoker
 * mode. One operation: port A transmits {@code burst} requests, {@code stack.doWork()} runs one duty cycle
 * (receive, answer each request in place in its own mbuf, transmit), port A receives the answers.
 *
 * <ul>
 *   <li>{@link #icmpEcho}: 64-byte ICMP echo requests (RFC 792) from 10.77.0.2 to the stack's 10.77.0.1, with
 *       correct IPv4 and ICMP checksums, so the stack verifies both, turns each into a reply and sends it.
 *   <li>{@link #arpRequest}: 60-byte broadcast ARP who-has for the stack's address (RFC 826); the stack
 *       refreshes the sender in its cache and answers in place.
 * </ul>
 *
 * <p>The answers come back in the same mbufs, which are turned into requests again by copying the 64-byte
 * template over them (one small memcpy a frame, part of the score; the floor has no such copy). Nothing is
 * allocated or freed in the loop; the stack's only allocation (its start-up gratuitous ARP) happens in set-up.
 * Every trial checks that the stack answered everything and dropped nothing, so a score never hides a drop
 * path.
 *
 * <p>Thread: the JMH worker thread is both the peer and the stack's poll thread.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@State(Scope.Thread)
@Fork(value = 3, jvmArgsAppend = {
    "--enable-native-access=ALL-UNNAMED", "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED",
    "-Dagrona.disable.bounds.checks=true"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class StackIcmpBenchmark extends AllocationTracked {
    static final int STACK_IP = Ipv4Address.parse("10.77.0.1");
    static final int PEER_IP = Ipv4Address.parse("10.77.0.2");
    static final long PEER_MAC = 0x02_00_00_4D_00_02L;
    static final int ECHO_FRAME_LENGTH = 64;
    /** Ethernet's minimum without FCS: what an ARP request looks like on receive. */
    static final int ARP_FRAME_LENGTH = 60;
    private static final int ECHO_IDENTIFIER = 0x4D42;
    /** 64 - 14 (Ethernet) - 20 (IPv4) - 8 (ICMP). */
    private static final int ECHO_DATA_LENGTH = ECHO_FRAME_LENGTH - EthernetFrame.HEADER_LENGTH
        - Ipv4Packet.MIN_HEADER_LENGTH - IcmpPacket.HEADER_LENGTH;

    @Param({"1", "32"})
    int burst;

    private RingRig rig;
    private EthDevPort a;
    private Stack stack;
    private Path countersFile;
    private MbufArray echoFrames;
    private MbufArray arpFrames;
    private final UnsafeBuffer frame = new UnsafeBuffer(0, 0);
    private final UnsafeBuffer echoTemplate = new UnsafeBuffer(new byte[ECHO_FRAME_LENGTH]);
    private final UnsafeBuffer arpTemplate = new UnsafeBuffer(new byte[ARP_FRAME_LENGTH]);

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        if (burst > Stack.BURST) {
            throw new IllegalArgumentException("one duty cycle receives at most " + Stack.BURST + " frames");
        }
        rig = new RingRig("stackbench");
        a = rig.a();
        // tmpfs when there is one: the counters are a mapped file the stack writes on every frame.
        Path shm = Path.of("/dev/shm");
        countersFile = Files.isDirectory(shm) ? Files.createTempFile(shm, "fastpath-bench-", ".counters")
            : Files.createTempFile("fastpath-bench-", ".counters");
        stack = new Stack(rig.b(), StackConfig.builder().name("bench").address(STACK_IP, 24)
            .countersFile(countersFile).build());
        // The first duty cycle starts the stack: it announces itself with a gratuitous ARP. Off the clock.
        stack.doWork();
        if (RingRig.drain(a) != 1) {
            throw new IllegalStateException("expected the stack's gratuitous ARP on port A");
        }
        buildEchoRequest(echoTemplate, stack.mac());
        buildArpRequest(arpTemplate);
        echoFrames = rig.allocate(burst);
        arpFrames = rig.allocate(burst);
        // One round of each outside the measurement, checked in full.
        checkEchoReplies(echoRound(echoFrames));
        checkArpReplies(arpRound(arpFrames));
        resetCountersBaseline();
    }

    @Benchmark
    public int icmpEcho() {
        return echoRound(echoFrames);
    }

    @Benchmark
    public int arpRequest() {
        return arpRound(arpFrames);
    }

    private int echoRound(MbufArray frames) {
        return round(frames, echoTemplate, ECHO_FRAME_LENGTH);
    }

    private int arpRound(MbufArray frames) {
        return round(frames, arpTemplate, ARP_FRAME_LENGTH);
    }

    /** Re-arms every mbuf as a request, sends the burst, runs one duty cycle, takes the answers back. */
    private int round(MbufArray frames, UnsafeBuffer template, int length) {
        final int n = burst;
        for (int i = 0; i < n; i++) {
            long m = frames.get(i);
            frame.wrap(Mbuf.dataAddress(m), length);
            frame.putBytes(0, template, 0, length);
            Mbuf.setLength(m, length);
        }
        int sent = a.transmit(frames, 0, n);
        int work = stack.doWork();
        int back = a.receive(frames, n);
        if ((sent != n) | (back != n)) {
            throw RingRig.lost("stack round trip (sent " + sent + ", stack work " + work + ")", n, back);
        }
        return work;
    }

    // ------------------------------------------------------------------------------------------ frames

    /** 64-byte echo request peer → stack, both checksums correct; the data is a counting pattern. */
    private static void buildEchoRequest(UnsafeBuffer into, long stackMac) {
        EthernetFrame ethernet = new EthernetFrame().wrap(into, 0, ECHO_FRAME_LENGTH);
        ethernet.writeHeader(stackMac, PEER_MAC, EthernetFrame.ETHERTYPE_IPV4);
        Ipv4Packet ip = new Ipv4Packet().wrap(into, ethernet.payloadOffset(), ethernet.payloadLength());
        int icmpLength = IcmpPacket.HEADER_LENGTH + ECHO_DATA_LENGTH;
        ip.writeHeader(Ipv4Packet.DEFAULT_TTL, Ipv4Packet.PROTOCOL_ICMP, PEER_IP, STACK_IP, icmpLength, 0x1234);
        IcmpPacket icmp = new IcmpPacket().wrap(into, ip.payloadOffset(), icmpLength);
        icmp.type(IcmpPacket.TYPE_ECHO_REQUEST).code(0).identifier(ECHO_IDENTIFIER).sequenceNumber(1);
        for (int i = 0; i < ECHO_DATA_LENGTH; i++) {
            into.putByte(icmp.payloadOffset() + i, (byte) (0x10 + i));
        }
        icmp.fillChecksum();
        if (ip.check() != WireError.OK || icmp.check() != WireError.OK) {
            throw new IllegalStateException("echo request template does not verify");
        }
    }

    /** 60-byte broadcast who-has STACK_IP tell PEER_IP, zero-padded. */
    private static void buildArpRequest(UnsafeBuffer into) {
        into.setMemory(0, ARP_FRAME_LENGTH, (byte) 0);
        EthernetFrame ethernet = new EthernetFrame().wrap(into, 0, ARP_FRAME_LENGTH);
        ethernet.writeHeader(MacAddress.BROADCAST, PEER_MAC, EthernetFrame.ETHERTYPE_ARP);
        new ArpPacket().wrap(into, ethernet.payloadOffset(), ArpPacket.LENGTH)
            .write(ArpPacket.OPERATION_REQUEST, PEER_MAC, PEER_IP, MacAddress.ZERO, STACK_IP);
    }

    // ------------------------------------------------------------------------------------------ checks

    private void checkEchoReplies(int work) {
        EthernetFrame ethernet = new EthernetFrame();
        Ipv4Packet ip = new Ipv4Packet();
        IcmpPacket icmp = new IcmpPacket();
        for (int i = 0; i < burst; i++) {
            long m = echoFrames.get(i);
            int length = Mbuf.dataLen(m);
            frame.wrap(Mbuf.dataAddress(m), length);
            ethernet.wrap(frame, 0, length);
            ip.wrap(frame, ethernet.payloadOffset(), ethernet.payloadLength());
            require(length == ECHO_FRAME_LENGTH && ethernet.destination() == PEER_MAC
                && ethernet.source() == stack.mac() && ip.check() == WireError.OK
                && ip.source() == STACK_IP && ip.destination() == PEER_IP, "echo reply headers", work);
            icmp.wrap(frame, ip.payloadOffset(), ip.payloadLength());
            require(icmp.check() == WireError.OK && icmp.type() == IcmpPacket.TYPE_ECHO_REPLY
                && icmp.identifier() == ECHO_IDENTIFIER, "echo reply ICMP", work);
        }
    }

    private void checkArpReplies(int work) {
        EthernetFrame ethernet = new EthernetFrame();
        ArpPacket arp = new ArpPacket();
        for (int i = 0; i < burst; i++) {
            long m = arpFrames.get(i);
            int length = Mbuf.dataLen(m);
            frame.wrap(Mbuf.dataAddress(m), length);
            ethernet.wrap(frame, 0, length);
            arp.wrap(frame, ethernet.payloadOffset(), ethernet.payloadLength());
            require(ethernet.destination() == PEER_MAC && arp.check() == WireError.OK
                && arp.operation() == ArpPacket.OPERATION_REPLY && arp.senderProtocolAddress() == STACK_IP
                && arp.senderHardwareAddress() == stack.mac() && arp.targetHardwareAddress() == PEER_MAC,
                "ARP reply", work);
        }
    }

    private static void require(boolean condition, String what, int work) {
        if (!condition) {
            throw new IllegalStateException(what + " not as expected (duty cycle work " + work + ")");
        }
    }

    private long repliesBaseline;

    private void resetCountersBaseline() {
        StackCounters c = stack.counters();
        repliesBaseline = c.icmpEchoRepliesSent.get() + c.arpRepliesSent.get();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        StackCounters c = stack.counters();
        long drops = c.totalDrops();
        long replies = c.icmpEchoRepliesSent.get() + c.arpRepliesSent.get() - repliesBaseline;
        long requests = c.icmpEchoRequestsReceived.get() + c.arpRequestsReceived.get();
        stack.onClose();
        stack.close();
        echoFrames.freeAll(burst);
        arpFrames.freeAll(burst);
        rig.close();
        try {
            Files.deleteIfExists(countersFile);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (drops != 0 || replies <= 0 || requests - 2L * burst != replies) {
            throw new IllegalStateException("stack dropped " + drops + " frames; " + requests + " requests, "
                + replies + " replies after set-up");
        }
    }
}
