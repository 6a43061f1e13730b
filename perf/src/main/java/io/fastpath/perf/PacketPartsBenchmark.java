package io.fastpath.perf;

import io.fastpath.stack.wire.Checksum;
import io.fastpath.stack.wire.EthernetFrame;
import io.fastpath.stack.wire.Ipv4Address;
import io.fastpath.stack.wire.Ipv4Packet;
import io.fastpath.stack.wire.TcpOptions;
import io.fastpath.stack.wire.TcpSegment;
import io.fastpath.stack.wire.WireError;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import org.agrona.concurrent.UnsafeBuffer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The parts of one 64-byte TCP round trip that can be isolated from devices and threads (docs/perf/budget.md),
 * on the frame the ping-pong sends: Ethernet, a 20-byte IPv4 header, a TCP header with the timestamps option
 * (32 bytes: what an established connection sends) and 64 bytes of data, 130 bytes in all, in off-heap memory
 * as in an mbuf.
 *
 * <ul>
 *   <li>{@link #parse}: what the stack does to a received frame before TCP takes it, and TCP's own checks:
 *       Ethernet length, the IPv4 header (with its checksum), the TCP header with its checksum over the
 *       pseudo-header (the ring PMD verifies nothing), the options.
 *   <li>{@link #checksumTcp}: the TCP checksum alone (pseudo-header and 96 bytes), as written on send.
 *   <li>{@link #buildFrame}: what the send path writes: the TCP header and timestamps, the 64 bytes of data
 *       copied in, the TCP checksum, the IPv4 header (with its checksum) and the Ethernet header.
 * </ul>
 *
 * <p>Each returns a value (JMH consumes it). Nothing is allocated: {@code -prof gc} shows 0 B/op.
 * Thread: the JMH worker.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@State(Scope.Thread)
@Fork(value = 2, jvmArgsAppend = {
    "--enable-native-access=ALL-UNNAMED", "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED",
    "-Dagrona.disable.bounds.checks=true"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class PacketPartsBenchmark extends AllocationTracked {
    static final int SOURCE = Ipv4Address.parse("10.78.0.2");
    static final int DESTINATION = Ipv4Address.parse("10.78.0.1");
    static final int DATA = 64;
    static final int TCP_HEADER = TcpSegment.MIN_HEADER_LENGTH + 12;
    static final int SEGMENT = TCP_HEADER + DATA;
    static final int IP_OFFSET = EthernetFrame.HEADER_LENGTH;
    static final int TCP_OFFSET = IP_OFFSET + Ipv4Packet.MIN_HEADER_LENGTH;
    static final int FRAME = TCP_OFFSET + SEGMENT;

    private final UnsafeBuffer received = new UnsafeBuffer(ByteBuffer.allocateDirect(256));
    private final UnsafeBuffer out = new UnsafeBuffer(ByteBuffer.allocateDirect(256));
    private final UnsafeBuffer message = new UnsafeBuffer(ByteBuffer.allocateDirect(DATA));
    private final EthernetFrame ethernet = new EthernetFrame();
    private final Ipv4Packet ip = new Ipv4Packet();
    private final TcpSegment tcp = new TcpSegment();
    private final TcpOptions options = new TcpOptions();
    private final EthernetFrame txEthernet = new EthernetFrame();
    private final Ipv4Packet txIp = new Ipv4Packet();
    private final TcpSegment txTcp = new TcpSegment();
    private int sequence;

    @Setup
    public void setUp() {
        for (int i = 0; i < DATA; i++) {
            message.putByte(i, (byte) i);
        }
        build(received, 1);
        if (parse() != WireError.OK.ordinal()) {
            throw new IllegalStateException("the template frame does not parse");
        }
    }

    /** Writes the ping-pong's data segment into {@code buffer}; returns the TCP checksum. */
    private int build(UnsafeBuffer buffer, int seq) {
        txEthernet.wrap(buffer, 0, FRAME);
        txIp.wrap(buffer, IP_OFFSET, FRAME - IP_OFFSET);
        txTcp.wrap(buffer, TCP_OFFSET, SEGMENT);
        txTcp.writeHeader(49152, 7, seq, 1000, TcpSegment.ACK | TcpSegment.PSH, 65535, 12);
        int index = txTcp.optionsOffset();
        index += TcpOptions.writeNop(buffer, index);
        index += TcpOptions.writeNop(buffer, index);
        TcpOptions.writeTimestamps(buffer, index, seq, seq - 1);
        buffer.putBytes(TCP_OFFSET + TCP_HEADER, message, 0, DATA);
        txTcp.fillChecksum(SOURCE, DESTINATION);
        txIp.writeHeader(Ipv4Packet.DEFAULT_TTL, Ipv4Packet.PROTOCOL_TCP, SOURCE, DESTINATION, SEGMENT, seq & 0xFFFF);
        txEthernet.writeHeader(0x02_00_00_4E_00_01L, 0x02_00_00_4E_00_02L, EthernetFrame.ETHERTYPE_IPV4);
        return txTcp.checksum();
    }

    @Benchmark
    public int parse() {
        ethernet.wrap(received, 0, FRAME);
        if (ethernet.check() != WireError.OK || ethernet.etherType() != EthernetFrame.ETHERTYPE_IPV4) {
            return -1;
        }
        ip.wrap(received, ethernet.payloadOffset(), ethernet.payloadLength());
        WireError error = ip.check();
        if (error != WireError.OK) {
            return error.ordinal();
        }
        tcp.wrap(received, ip.payloadOffset(), ip.totalLength() - ip.headerLength());
        error = tcp.check(ip.source(), ip.destination(), true);
        if (error != WireError.OK) {
            return error.ordinal();
        }
        return options.parse(tcp).ordinal() + tcp.payloadLength() - DATA;
    }

    @Benchmark
    public int checksumTcp() {
        return Checksum.finish(Checksum.partialSum(received, TCP_OFFSET, SEGMENT,
            Checksum.pseudoHeaderSum(SOURCE, DESTINATION, Ipv4Packet.PROTOCOL_TCP, SEGMENT)));
    }

    @Benchmark
    public int buildFrame() {
        return build(out, ++sequence);
    }
}
