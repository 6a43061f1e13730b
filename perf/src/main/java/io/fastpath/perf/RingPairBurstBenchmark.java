package io.fastpath.perf;

import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.Mbuf;
import io.fastpath.dpdk.MbufArray;
import io.fastpath.stack.wire.EthernetFrame;
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
 * The floor: what moving frames costs with no stack at all. One operation is a round trip of one burst over
 * the ring pair: A transmits {@code burst} frames, B receives them, B transmits them back, A receives them.
 * That is four {@code rte_eth_fp_ops} burst calls from Java (critical downcalls) and four ring operations.
 *
 * <p>The same {@code burst} mbufs travel for the whole trial: nothing is allocated or freed in the loop, so
 * the score is the burst machinery alone. Divide by {@code burst} for ns per frame (docs/perf/first-light.md
 * does). The frames are 64 bytes; the ring PMD moves pointers, so their size and content do not matter.
 *
 * <p>Thread: the JMH worker thread only.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@State(Scope.Thread)
@Fork(value = 3, jvmArgsAppend = {
    "--enable-native-access=ALL-UNNAMED", "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED",
    "-Dagrona.disable.bounds.checks=true"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class RingPairBurstBenchmark extends AllocationTracked {
    static final int FRAME_LENGTH = 64;
    /** IEEE 802 "local experimental" EtherType: nobody parses these frames. */
    private static final int ETHERTYPE_EXPERIMENTAL = 0x88B5;

    @Param({"1", "32"})
    int burst;

    private RingRig rig;
    private EthDevPort a;
    private EthDevPort b;
    private MbufArray frames;

    @Setup(Level.Trial)
    public void setUp() {
        rig = new RingRig("floor");
        a = rig.a();
        b = rig.b();
        frames = rig.allocate(burst);
        UnsafeBuffer frame = new UnsafeBuffer(0, 0);
        EthernetFrame ethernet = new EthernetFrame();
        for (int i = 0; i < burst; i++) {
            long m = frames.get(i);
            frame.wrap(Mbuf.dataAddress(m), FRAME_LENGTH);
            frame.setMemory(0, FRAME_LENGTH, (byte) 0);
            ethernet.wrap(frame, 0, FRAME_LENGTH).writeHeader(0x02_00_00_00_00_0BL, 0x02_00_00_00_00_0AL,
                ETHERTYPE_EXPERIMENTAL);
            frame.putInt(EthernetFrame.HEADER_LENGTH, i);
            Mbuf.setLength(m, FRAME_LENGTH);
        }
        // One round trip outside the measurement, so a broken rig fails here and not as a strange score.
        roundTrip();
    }

    @Benchmark
    public int roundTrip() {
        final int n = burst;
        final MbufArray pkts = frames;
        int sent = a.transmit(pkts, 0, n);
        int received = b.receive(pkts, n);
        int returned = b.transmit(pkts, 0, received);
        int back = a.receive(pkts, n);
        // Non-short-circuit: one predictable branch. Rings are lossless, so a miss means a broken rig.
        if ((sent != n) | (received != n) | (returned != n) | (back != n)) {
            throw RingRig.lost("ring round trip (sent " + sent + ", received " + received + ", returned " + returned
                + ")", n, back);
        }
        return back;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        frames.freeAll(burst);
        rig.close();
    }
}
