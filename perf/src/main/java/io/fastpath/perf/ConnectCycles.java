package io.fastpath.perf;

import io.fastpath.stack.NtStatus;
import io.fastpath.stack.tcp.TcpConnection;
import io.fastpath.stack.tcp.TcpHandler;
import io.fastpath.stack.tcp.TcpLayer;
import java.nio.ByteBuffer;
import org.HdrHistogram.Histogram;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Connection cycles on a fastpath stack, one at a time: connect, one {@code size}-byte request, its echo,
 * close (we close first, so the TIME-WAIT is ours), and the next connect in the duty cycle after that. Each cycle's
 * time from the connect call to the last byte of the echo goes into the {@link RttRecorder}, so the recorder
 * gives both the latency to the first response and, over the measured cycles, the cycles per second.
 *
 * <p>{@code fastOpen}: the request goes with the connect ({@code TcpLayer.connect} with data, what
 * WskConnectEx does; RFC 7413: the first SYN asks for a cookie, later SYNs carry the data); otherwise it is
 * sent when the connect completes. Thread: the client stack's poll thread.
 *
 * <p>The phases of every cycle are also kept apart ({@link #phases}): the handshake (connect call to its
 * completion), the close (the response's last byte to onClosed: our FIN, the server's FIN and the ACKs) and the
 * gap to the next connect call, which the recorder's latency does not see but the cycle rate does.
 */
final class ConnectCycles implements TcpHandler {
    private final TcpLayer tcp;
    private final int serverIp;
    private final int serverPort;
    private final RttRecorder recorder;
    private final boolean fastOpen;
    private final int size;
    private final UnsafeBuffer message;
    private long startedNs;
    private long respondedNs;
    private long closedNs;
    /** Handshake, close and gap of each cycle, ns (poll thread; read once the cycles are idle). */
    final Histogram connectPhase = new Histogram(RttRecorder.HIGHEST_NS, 3);
    final Histogram closePhase = new Histogram(RttRecorder.HIGHEST_NS, 3);
    final Histogram gapPhase = new Histogram(RttRecorder.HIGHEST_NS, 3);
    private int pending;
    private boolean wantNext;
    private volatile boolean stopped;
    private volatile boolean idle;
    private volatile long cycles;

    ConnectCycles(TcpLayer tcp, int serverIp, int serverPort, RttRecorder recorder, boolean fastOpen, int size) {
        this.tcp = tcp;
        this.serverIp = serverIp;
        this.serverPort = serverPort;
        this.recorder = recorder;
        this.fastOpen = fastOpen;
        this.size = size;
        this.message = new UnsafeBuffer(ByteBuffer.allocateDirect(size));
        for (int i = 0; i < size; i++) {
            message.putByte(i, (byte) i);
        }
    }

    /** Starts the next cycle (poll thread). */
    void next() {
        if (stopped) {
            idle = true;
            return;
        }
        pending = size;
        startedNs = System.nanoTime();
        if (closedNs != 0) {
            gapPhase.recordValue(Math.min(startedNs - closedNs, RttRecorder.HIGHEST_NS));
        }
        int status = fastOpen ? tcp.connect(0, 0, serverIp, serverPort, this, message, 0, size, true)
            : tcp.connect(0, 0, serverIp, serverPort, this);
        if (status != NtStatus.STATUS_PENDING) {
            recorder.fail("connect: " + NtStatus.name(status) + " after " + cycles + " cycles, " + tcp.describe().lines().limit(6).toList());
            idle = true;
        }
    }

    @Override
    public void onConnectComplete(TcpConnection c, int status) {
        if (status != NtStatus.STATUS_SUCCESS) {
            recorder.fail("connect completed with " + NtStatus.name(status));
            idle = true;
            return;
        }
        connectPhase.recordValue(Math.min(System.nanoTime() - startedNs, RttRecorder.HIGHEST_NS));
        c.noDelay(true);
        if (!fastOpen && c.send(message, 0, size) != size) {
            recorder.fail("send took less than " + size + " bytes");
        }
    }

    @Override
    public int onReceive(TcpConnection c, long address, int length) {
        if (length > pending) {
            recorder.fail("received " + length + " bytes, expected at most " + pending);
            return length;
        }
        pending -= length;
        if (pending == 0) {
            long now = System.nanoTime();
            recorder.record(now - startedNs, now);
            respondedNs = now;
            c.shutdown();
        }
        return length;
    }

    @Override
    public void onPeerClosed(TcpConnection c) {
        c.shutdown();
    }

    @Override
    public void onClosed(TcpConnection c, int status) {
        if (status != NtStatus.STATUS_SUCCESS) {
            recorder.fail("cycle closed with " + NtStatus.name(status));
            idle = true;
            return;
        }
        closedNs = System.nanoTime();
        closePhase.recordValue(Math.min(closedNs - respondedNs, RttRecorder.HIGHEST_NS));
        cycles++;
        wantNext = true; // not from inside onClosed: the connection slot is still being released
    }

    /** The client poll thread's duty cycle: the stack's, then the next connect if a cycle ended in it. */
    int doWork(io.fastpath.stack.Stack stack) {
        int work = stack.doWork();
        if (wantNext) {
            wantNext = false;
            next();
            work++;
        }
        return work;
    }

    /** Starts no more cycles; the one in flight completes (any thread). */
    void stop() {
        stopped = true;
    }

    /** Whether the last cycle has ended after {@link #stop} (or the cycles failed). */
    boolean idle() {
        return idle;
    }

    /** The phases' percentiles (µs) and the cycles over 1 ms in each, for the JSON record. */
    void phases(Json r) {
        phase(r, "handshake", connectPhase);
        phase(r, "close", closePhase);
        phase(r, "gap", gapPhase);
    }

    private static void phase(Json r, String name, Histogram h) {
        long over = h.getCountBetweenValues(1_000_000, Long.MAX_VALUE / 2);
        r.field(name + "_p50_us", h.getValueAtPercentile(50) / 1e3).field(name + "_p99_us",
                h.getValueAtPercentile(99) / 1e3).field(name + "_p999_us", h.getValueAtPercentile(99.9) / 1e3)
            .field(name + "_mean_us", h.getMean() / 1e3).field(name + "_over_1ms", over);
        System.out.printf("   %s: p50 %.2f us  p99 %.2f  p99.9 %.2f  mean %.2f  over 1 ms: %d of %d%n", name,
            h.getValueAtPercentile(50) / 1e3, h.getValueAtPercentile(99) / 1e3, h.getValueAtPercentile(99.9) / 1e3,
            h.getMean() / 1e3, over, h.getTotalCount());
    }

    /**
     * Involuntary context switches of this process's threads by name (Linux: /proc/self/task/N/status; a Java
     * thread's OS name is its name cut to 15 characters): a busy-polling thread that lost its CPU to another
     * runnable thread. Empty where /proc is not there.
     */
    static java.util.Map<String, Long> involuntarySwitches() {
        return switches("nonvoluntary_ctxt_switches:");
    }

    /** Voluntary context switches by thread name (a thread that sleeps or waits wakes up this often). */
    static java.util.Map<String, Long> voluntarySwitches() {
        return switches("voluntary_ctxt_switches:");
    }

    private static java.util.Map<String, Long> switches(String field) {
        java.util.Map<String, Long> byName = new java.util.TreeMap<>();
        java.nio.file.Path tasks = java.nio.file.Path.of("/proc/self/task");
        try (java.util.stream.Stream<java.nio.file.Path> all = java.nio.file.Files.list(tasks)) {
            for (java.nio.file.Path t : all.toList()) {
                String name = null;
                long switches = -1;
                try {
                    for (String line : java.nio.file.Files.readAllLines(t.resolve("status"))) {
                        if (line.startsWith("Name:")) {
                            name = line.substring(5).trim();
                        } else if (line.startsWith(field)) {
                            switches = Long.parseLong(line.substring(field.length()).trim());
                        }
                    }
                } catch (java.io.IOException | RuntimeException e) {
                    continue; // the thread ended meanwhile
                }
                if (name != null && switches >= 0) {
                    byName.merge(name, switches, Long::sum);
                }
            }
        } catch (java.io.IOException e) {
            return byName;
        }
        return byName;
    }

    long cycles() {
        return cycles;
    }
}
