package io.fastpath.stack.device;

import io.fastpath.dpdk.Mbuf;
import io.fastpath.dpdk.MbufArray;
import io.fastpath.dpdk.Port;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * A port decorator that writes every frame received and sent to a pcap file (libpcap format, microsecond
 * timestamps, LINKTYPE_ETHERNET), readable by tshark and Wireshark while the stack runs.
 *
 * <p>Frames are copied into a 1 MiB direct buffer; the buffer goes to the file when it is full, when its
 * oldest frame has waited {@code flushIntervalNs} (100 ms by default; checked on every receive burst, that is
 * every duty cycle), on {@link #flush} and on {@link #close}. So the file lags the wire by at most the interval,
 * and a process killed outright (SIGKILL) loses at most its last interval: a written buffer is in the kernel's
 * page cache. No allocation per frame, one clock read per frame, one {@code write} per flush.
 *
 * <p>Thread: the poll thread (like the port it wraps).
 */
public final class PcapPort extends PortDecorator {
    /** How long a captured frame may wait in memory by default. */
    public static final long DEFAULT_FLUSH_INTERVAL_NS = TimeUnit.MILLISECONDS.toNanos(100);
    private static final int MAGIC_MICROS = 0xA1B2C3D4;
    private static final int LINKTYPE_ETHERNET = 1;
    private static final int SNAPLEN = 65535;
    private static final int RECORD_HEADER = 16;

    private final FileChannel channel;
    private final ByteBuffer buffer = ByteBuffer.allocateDirect(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
    private final UnsafeBuffer view = new UnsafeBuffer(buffer);
    private final UnsafeBuffer mbufData = new UnsafeBuffer(0, 0);
    private final long flushIntervalNs;
    /** Wall-clock time at {@link #baseNanoTime}, in ns since the epoch: timestamps cost one nanoTime. */
    private final long baseEpochNs;
    private final long baseNanoTime;
    /** nanoTime of the oldest frame still in the buffer (meaningful while the buffer holds any). */
    private long oldestPendingNs;
    private boolean pending;
    private boolean failed;
    private long frames;
    private long flushes;
    /** Where each frame of the transmit burst being recorded starts in the buffer. */
    private final int[] recordStart = new int[256];

    public PcapPort(Port delegate, Path file) {
        this(delegate, file, DEFAULT_FLUSH_INTERVAL_NS);
    }

    /** With the longest time a captured frame may wait before it is written to the file. */
    public PcapPort(Port delegate, Path file, long flushIntervalNs) {
        super(delegate);
        if (flushIntervalNs < 0) {
            throw new IllegalArgumentException("flush interval " + flushIntervalNs);
        }
        this.flushIntervalNs = flushIntervalNs;
        try {
            this.channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write pcap file " + file, e);
        }
        this.baseNanoTime = System.nanoTime();
        this.baseEpochNs = System.currentTimeMillis() * 1_000_000L;
        buffer.putInt(MAGIC_MICROS).putShort((short) 2).putShort((short) 4).putInt(0).putInt(0)
            .putInt(SNAPLEN).putInt(LINKTYPE_ETHERNET);
        drain();
    }

    private void record(long m) {
        if (failed) {
            return;
        }
        long now = System.nanoTime();
        long micros = (baseEpochNs + (now - baseNanoTime)) / 1000;
        int length = Mbuf.pktLen(m);
        int captured = Math.min(length, SNAPLEN);
        if (buffer.remaining() < RECORD_HEADER + captured) {
            drain();
        }
        if (!pending) {
            pending = true;
            oldestPendingNs = now;
        }
        int at = buffer.position();
        buffer.putInt((int) (micros / 1_000_000)).putInt((int) (micros % 1_000_000)).putInt(captured)
            .putInt(length);
        int written = 0;
        for (long seg = m; seg != 0 && written < captured; seg = Mbuf.next(seg)) {
            int n = Math.min(Mbuf.dataLen(seg), captured - written);
            mbufData.wrap(Mbuf.dataAddress(seg), n);
            view.putBytes(at + RECORD_HEADER + written, mbufData, 0, n);
            written += n;
        }
        buffer.position(at + RECORD_HEADER + captured);
        frames++;
    }

    /** Whether a write failed: capture stopped, the port goes on. */
    public boolean failed() {
        return failed;
    }

    /** Writes the buffer out when its oldest frame has waited the interval (a clock read only while pending). */
    private void flushIfDue() {
        if (pending && System.nanoTime() - oldestPendingNs >= flushIntervalNs) {
            drain();
        }
    }

    private void drain() {
        buffer.flip();
        try {
            while (buffer.hasRemaining()) {
                channel.write(buffer);
            }
            flushes++;
        } catch (IOException e) {
            // A full disk (traffic a peer sends fills it) must not take the poll loop down: stop capturing.
            if (!failed) {
                failed = true;
                System.err.println("fastpath: pcap capture stopped: " + e);
            }
        } finally {
            buffer.clear();
            pending = false;
        }
    }

    /** Writes what is buffered to the file now (poll thread, or once the poll thread stopped). */
    public void flush() {
        drain();
    }

    /** Frames captured so far (written or still buffered). */
    public long frames() {
        return frames;
    }

    /** Writes to the file so far (the header's included). */
    public long flushes() {
        return flushes;
    }

    @Override
    public int receive(MbufArray pkts, int max) {
        int n = delegate.receive(pkts, max);
        for (int i = 0; i < n; i++) {
            record(pkts.get(i));
        }
        flushIfDue();
        return n;
    }

    @Override
    public int transmit(MbufArray pkts, int from, int count) {
        // Record before: once the PMD has a frame it may free it at any time.
        long flushesBefore = flushes;
        for (int i = 0; i < count; i++) {
            if (i < recordStart.length) {
                recordStart[i] = buffer.position();
            }
            record(pkts.get(from + i));
        }
        int sent = delegate.transmit(pkts, from, count);
        if (sent < count && sent < recordStart.length && flushes == flushesBefore) {
            // The port kept the rest (the stack offers them again): take them back out of the capture.
            buffer.position(recordStart[sent]);
            frames -= count - sent;
            pending = buffer.position() > 0;
        }
        return sent;
    }

    /** Writes what is buffered and closes the file, then the port. */
    @Override
    public void close() {
        try {
            drain();
            channel.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            delegate.close();
        }
    }
}
