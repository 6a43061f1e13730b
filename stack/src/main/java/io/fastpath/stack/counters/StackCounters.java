package io.fastpath.stack.counters;

import java.io.File;
import java.nio.MappedByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.agrona.IoUtil;
import org.agrona.concurrent.AtomicBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.AtomicCounter;
import org.agrona.concurrent.status.ConcurrentCountersManager;
import org.agrona.concurrent.status.CountersReader;

/**
 * The stack's counters, in an Agrona counters file another process can read while the stack runs
 * ({@code bin/fastpath stat}, like AeronStat). The file is memory-mapped: a 64-byte header (magic, version,
 * metadata length, values length), then Agrona's metadata and values buffers.
 *
 * <p>Thread: the poll thread increments (release stores from a single writer, no atomic read-modify-write); readers in any process.
 */
public final class StackCounters implements AutoCloseable {
    public static final int MAGIC = 0x46504354; // "FPCT"
    public static final int VERSION = 1;
    static final int HEADER_LENGTH = 64;
    static final int MAX_COUNTERS = 256;
    static final int METADATA_LENGTH = MAX_COUNTERS * CountersReader.METADATA_LENGTH;
    static final int VALUES_LENGTH = MAX_COUNTERS * CountersReader.COUNTER_LENGTH;

    private final MappedByteBuffer mapped;
    private final Path file;
    private final ConcurrentCountersManager manager;
    private final List<AtomicCounter> all = new ArrayList<>();

    public final AtomicCounter rxFrames;
    public final AtomicCounter rxBytes;
    public final AtomicCounter txFrames;
    public final AtomicCounter txBytes;
    public final AtomicCounter arpRequestsReceived;
    public final AtomicCounter arpRepliesReceived;
    public final AtomicCounter arpRequestsSent;
    public final AtomicCounter arpRepliesSent;
    public final AtomicCounter arpResolutionFailures;
    public final AtomicCounter arpProbesSent;
    public final AtomicCounter arpEntriesEvicted;
    public final AtomicCounter icmpEchoRequestsReceived;
    public final AtomicCounter icmpEchoRepliesSent;
    public final AtomicCounter icmpEchoRequestsSent;
    public final AtomicCounter icmpEchoRepliesReceived;
    public final AtomicCounter rawFramesDelivered;
    public final AtomicCounter rawFramesHeld;
    public final AtomicCounter noRoute;
    public final AtomicCounter tcpSegmentsReceived;
    public final AtomicCounter tcpSegmentsSent;
    public final AtomicCounter tcpRetransmits;
    public final AtomicCounter tcpFastRetransmits;
    public final AtomicCounter tcpTimeouts;
    public final AtomicCounter tcpResetsSent;
    public final AtomicCounter tcpResetsReceived;
    public final AtomicCounter tcpActiveOpens;
    public final AtomicCounter tcpPassiveOpens;
    public final AtomicCounter tcpChallengeAcks;
    public final AtomicCounter tcpOutOfOrder;
    public final AtomicCounter tcpConnections;
    public final AtomicCounter tcpFastOpenSynDataSent;
    public final AtomicCounter tcpFastOpenSynDataAccepted;
    public final AtomicCounter tcpFastOpenFallbacks;
    public final AtomicCounter tcpFastOpenCookiesSent;
    public final AtomicCounter tcpMemoryHeldMbufs;
    public final AtomicCounter tcpWindowProbes;
    public final AtomicCounter txBackPressure;
    public final AtomicCounter icmpFragmentationNeeded;
    public final AtomicCounter tcpPathMtuReductions;
    public final AtomicCounter tcpPathMtuIgnored;
    public final AtomicCounter tcpChallengeAcksSuppressed;
    public final AtomicCounter tcpOutOfWindowAcksSuppressed;
    public final AtomicCounter tcpMemoryLimitMbufs;
    public final AtomicCounter tcpOutOfOrderPruned;
    public final AtomicCounter tcpCollapsedMbufs;
    public final AtomicCounter tcpSynCookiesSent;
    public final AtomicCounter tcpSynCookiesValidated;
    public final AtomicCounter tcpSynCookiesFailed;
    public final AtomicCounter tcpListenOverflows;
    public final AtomicCounter tcpHalfOpenEvicted;
    public final AtomicCounter tcpListenDrops;
    public final AtomicCounter tcpTimeWait;
    public final AtomicCounter tcpTimeWaitOverflows;
    public final AtomicCounter tcpRackLost;
    public final AtomicCounter tcpTailLossProbes;
    public final AtomicCounter tcpDsacksReceived;
    public final AtomicCounter tcpRecoveriesUndone;
    public final AtomicCounter ipFragmentsReceived;
    public final AtomicCounter ipReassembled;
    public final AtomicCounter ipReassemblyTimeouts;
    public final AtomicCounter ipReassemblyOverlaps;
    public final AtomicCounter ipReassemblyEvicted;
    public final AtomicCounter ipReassemblyTooBig;
    public final AtomicCounter ipReassemblyFailed;
    public final AtomicCounter ipReassemblyHeld;
    public final AtomicCounter icmpTimeExceededSent;
    /** Frames that arrived on this shard's queue but belong to another shard's flow, handed to it (zero copy). */
    public final AtomicCounter forwardedFrames;
    private final AtomicCounter[] drops = new AtomicCounter[DropReason.values().length];

    /** Creates (or replaces) the counters file; the stack is named in every counter's label. */
    public StackCounters(Path file, String stackName) {
        this(file, stackName, -1);
    }

    /**
     * Creates (or replaces) the counters file of one shard of a stack: every label reads
     * {@code <name>: queue <q> <what>} ({@code queue} < 0: {@code <name>: <what>}, a stack with one queue).
     */
    public StackCounters(Path file, String stackName, int queue) {
        // The label prefix: "<name>: " or "<name>: queue <q> ".
        stackName = queue < 0 ? stackName + ": " : stackName + ": queue " + queue + " ";
        this.file = file;
        File f = file.toFile();
        File parent = f.getParentFile();
        if (parent != null && !parent.isDirectory() && !parent.mkdirs()) {
            throw new IllegalStateException("cannot create " + parent);
        }
        IoUtil.deleteIfExists(f);
        this.mapped = IoUtil.mapNewFile(f, HEADER_LENGTH + METADATA_LENGTH + VALUES_LENGTH);
        AtomicBuffer header = new UnsafeBuffer(mapped, 0, HEADER_LENGTH);
        header.putInt(4, VERSION);
        header.putInt(8, METADATA_LENGTH);
        header.putInt(12, VALUES_LENGTH);
        this.manager = new ConcurrentCountersManager(
            new UnsafeBuffer(mapped, HEADER_LENGTH, METADATA_LENGTH),
            new UnsafeBuffer(mapped, HEADER_LENGTH + METADATA_LENGTH, VALUES_LENGTH));
        rxFrames = counter(stackName, "rx frames");
        rxBytes = counter(stackName, "rx bytes");
        txFrames = counter(stackName, "tx frames");
        txBytes = counter(stackName, "tx bytes");
        arpRequestsReceived = counter(stackName, "arp requests received");
        arpRepliesReceived = counter(stackName, "arp replies received");
        arpRequestsSent = counter(stackName, "arp requests sent");
        arpRepliesSent = counter(stackName, "arp replies sent");
        arpResolutionFailures = counter(stackName, "arp resolutions failed (host unreachable)");
        arpProbesSent = counter(stackName, "arp unicast probes sent (stale neighbour re-confirmed)");
        arpEntriesEvicted = counter(stackName, "arp entries evicted (table full: one never confirmed by a reply to us, or confirmed longest ago)");
        icmpEchoRequestsReceived = counter(stackName, "icmp echo requests received");
        icmpEchoRepliesSent = counter(stackName, "icmp echo replies sent");
        icmpEchoRequestsSent = counter(stackName, "icmp echo requests sent");
        icmpEchoRepliesReceived = counter(stackName, "icmp echo replies received");
        rawFramesDelivered = counter(stackName, "raw frames delivered to the application");
        rawFramesHeld = counter(stackName, "raw frames held by the application now");
        noRoute = counter(stackName, "sends with no route (network unreachable)");
        tcpSegmentsReceived = counter(stackName, "tcp segments received");
        tcpSegmentsSent = counter(stackName, "tcp segments sent");
        tcpRetransmits = counter(stackName, "tcp segments retransmitted");
        tcpFastRetransmits = counter(stackName, "tcp fast retransmits (loss recovery entered)");
        tcpTimeouts = counter(stackName, "tcp retransmission timeouts");
        tcpResetsSent = counter(stackName, "tcp resets sent");
        tcpResetsReceived = counter(stackName, "tcp resets received");
        tcpActiveOpens = counter(stackName, "tcp active opens");
        tcpPassiveOpens = counter(stackName, "tcp passive opens");
        tcpChallengeAcks = counter(stackName, "tcp challenge acks (RFC 5961)");
        tcpOutOfOrder = counter(stackName, "tcp out-of-order segments");
        tcpConnections = counter(stackName, "tcp connections now");
        tcpFastOpenSynDataSent = counter(stackName, "tcp fast open: SYNs sent with data");
        tcpFastOpenSynDataAccepted = counter(stackName, "tcp fast open: SYN data accepted (server)");
        tcpFastOpenFallbacks = counter(stackName, "tcp fast open: SYN data not acknowledged, resent");
        tcpFastOpenCookiesSent = counter(stackName, "tcp fast open: cookies sent (server)");
        tcpChallengeAcksSuppressed = counter(stackName, "tcp challenge acks not sent: rate limit (RFC 5961 §7)");
        tcpOutOfWindowAcksSuppressed = counter(stackName, "tcp acks for out-of-window segments not sent: rate limit");
        icmpFragmentationNeeded = counter(stackName, "icmp fragmentation needed received (RFC 1191)");
        tcpPathMtuReductions = counter(stackName, "tcp path mtu: mss lowered (RFC 1191)");
        tcpPathMtuIgnored = counter(stackName, "tcp path mtu: icmp ignored (no connection, sequence outside, too small)");
        txBackPressure = counter(stackName, "tx: port busy, tcp held back (back-pressure, not loss)");
        tcpWindowProbes = counter(stackName, "tcp zero-window probes sent (persist timer)");
        tcpMemoryHeldMbufs = counter(stackName, "tcp memory: mbufs held now (queues, out of order, lent)");
        tcpMemoryLimitMbufs = counter(stackName, "tcp memory: limit in mbufs (pool less the reserve)");
        tcpOutOfOrderPruned = counter(stackName, "tcp memory: out-of-order segments pruned");
        tcpCollapsedMbufs = counter(stackName, "tcp memory: mbufs saved by collapsing tiny segments");
        tcpSynCookiesSent = counter(stackName, "tcp syn cookies sent");
        tcpSynCookiesValidated = counter(stackName, "tcp syn cookies validated (connection made)");
        tcpSynCookiesFailed = counter(stackName, "tcp syn cookies failed (forged or stale ACK, reset)");
        tcpListenOverflows = counter(stackName, "tcp half-open queue overflows (SYN found the backlog full)");
        tcpHalfOpenEvicted = counter(stackName, "tcp half-open entries dropped for a newer SYN (cookies off)");
        tcpListenDrops = counter(stackName, "tcp SYNs dropped (listener)");
        tcpTimeWait = counter(stackName, "tcp time-wait records now");
        tcpTimeWaitOverflows = counter(stackName, "tcp time-wait records dropped (table full, oldest)");
        tcpRackLost = counter(stackName, "tcp segments deemed lost by RACK (RFC 8985)");
        tcpTailLossProbes = counter(stackName, "tcp tail loss probes sent (RFC 8985 s7)");
        tcpDsacksReceived = counter(stackName, "tcp D-SACKs received (RFC 2883)");
        tcpRecoveriesUndone = counter(stackName, "tcp spurious recoveries undone after D-SACK (RFC 3708)");
        forwardedFrames = counter(stackName, "forwarded frames (to the flow's owner shard)");
        ipFragmentsReceived = counter(stackName, "ipv4 fragments received (ReasmReqds)");
        ipReassembled = counter(stackName, "ipv4 datagrams reassembled (ReasmOKs)");
        ipReassemblyTimeouts = counter(stackName, "ipv4 reassembly: datagrams timed out (ReasmTimeout)");
        ipReassemblyOverlaps = counter(stackName, "ipv4 reassembly: datagrams dropped for overlaps (ReasmOverlaps)");
        ipReassemblyEvicted = counter(stackName, "ipv4 reassembly: oldest incomplete datagrams evicted (limits)");
        ipReassemblyTooBig = counter(stackName, "ipv4 reassembly: datagrams too big for one mbuf or too many fragments");
        ipReassemblyFailed = counter(stackName, "ipv4 reassembly: datagrams dropped, malformed or no mbuf");
        ipReassemblyHeld = counter(stackName, "ipv4 reassembly: fragments held now (mbufs)");
        icmpTimeExceededSent = counter(stackName, "icmp time exceeded sent (reassembly timed out, RFC 1122 s3.3.2)");
        for (DropReason reason : DropReason.values()) {
            drops[reason.ordinal()] = counter(stackName, "drop " + reason.label());
        }
        // Readers check the magic last: the file is complete once it is there.
        header.putIntVolatile(0, MAGIC);
    }

    private AtomicCounter counter(String prefix, String label) {
        AtomicCounter c = manager.newCounter(prefix + label);
        all.add(c);
        return c;
    }

    /** The counter for a drop reason. */
    public AtomicCounter drop(DropReason reason) {
        return drops[reason.ordinal()];
    }

    /** Sum of all drop counters. */
    public long totalDrops() {
        long sum = 0;
        for (AtomicCounter c : drops) {
            sum += c.get();
        }
        return sum;
    }

    public Path file() {
        return file;
    }

    /** A reader over this process's counters (tests, the exit report). */
    public CountersReader reader() {
        return manager;
    }

    /** Lines {@code label = value} of every non-zero counter, or all with {@code includeZero}. */
    public static List<String> format(CountersReader reader, boolean includeZero) {
        List<String> lines = new ArrayList<>();
        reader.forEach((value, id, label) -> {
            if (includeZero || value != 0) {
                lines.add(String.format("%14d  %s", value, label));
            }
        });
        return lines;
    }

    /**
     * The shards' counters summed: for each {@code <name>: queue <q> <what>} label of the shards' files, one line
     * {@code <name>: <what>} with the total over the queues (zero totals only with {@code includeZero}).
     */
    public static List<String> formatSum(List<CountersReader> shards, boolean includeZero) {
        java.util.LinkedHashMap<String, Long> totals = new java.util.LinkedHashMap<>();
        java.util.regex.Pattern queue = java.util.regex.Pattern.compile(": queue \\d+ ");
        for (CountersReader reader : shards) {
            reader.forEach((value, id, label) -> {
                String summed = queue.matcher(label).replaceFirst(": ");
                totals.merge(summed, value, Long::sum);
            });
        }
        List<String> lines = new ArrayList<>();
        totals.forEach((label, value) -> {
            if (includeZero || value != 0) {
                lines.add(String.format("%14d  %s", value, label));
            }
        });
        return lines;
    }

    /** Maps a counters file written by a running (or finished) stack, read-only use. */
    public static CountersReader open(Path file) {
        MappedByteBuffer buffer = IoUtil.mapExistingFile(file.toFile(), "fastpath counters");
        UnsafeBuffer header = new UnsafeBuffer(buffer, 0, HEADER_LENGTH);
        if (header.getIntVolatile(0) != MAGIC) {
            throw new IllegalStateException(file + " is not a fastpath counters file (or is still being created)");
        }
        int metadataLength = header.getInt(8);
        int valuesLength = header.getInt(12);
        return new CountersReader(new UnsafeBuffer(buffer, HEADER_LENGTH, metadataLength),
            new UnsafeBuffer(buffer, HEADER_LENGTH + metadataLength, valuesLength));
    }

    @Override
    public void close() {
        // Counters stay allocated in the file, so `fastpath stat` can still read the final values. The mapping
        // is left to the GC: unmapping here would turn a late read of a counter into a JVM crash.
        mapped.force();
    }
}
