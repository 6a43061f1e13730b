package io.fastpath.stack.device;

import io.fastpath.dpdk.Mbuf;
import io.fastpath.dpdk.MbufArray;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.Port;
import io.fastpath.dpdk.PortStats;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * A port decorator that writes every frame received and sent to a pcap file (libpcap format, microsecond
 * timestamps, LINKTYPE_ETHERNET), readable by tshark and Wireshark. Frames are copied into a 1 MiB buffer
 * written out when full and on close; when the decorator is not used, nothing costs anything.
 *
 * <p>Thread: the poll thread (like the port it wraps).
 */
public final class PcapPort extends PortDecorator {
    private static final int MAGIC_MICROS = 0xA1B2C3D4;
    private static final int LINKTYPE_ETHERNET = 1;
    private static final int SNAPLEN = 65535;
    private static final int RECORD_HEADER = 16;

    private final FileChannel channel;
    private final ByteBuffer buffer = ByteBuffer.allocateDirect(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
    private final UnsafeBuffer view = new UnsafeBuffer(buffer);
    private final UnsafeBuffer mbufData = new UnsafeBuffer(0, 0);
    private long frames;

    public PcapPort(Port delegate, Path file) {
        super(delegate);
        try {
            this.channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write pcap file " + file, e);
        }
        buffer.putInt(MAGIC_MICROS).putShort((short) 2).putShort((short) 4).putInt(0).putInt(0)
            .putInt(SNAPLEN).putInt(LINKTYPE_ETHERNET);
        drain();
    }

    private void record(long m) {
        long nowMicros = System.currentTimeMillis() * 1000 + (System.nanoTime() / 1000) % 1000;
        int length = Mbuf.pktLen(m);
        if (buffer.remaining() < RECORD_HEADER + length) {
            drain();
        }
        int at = buffer.position();
        buffer.putInt((int) (nowMicros / 1_000_000)).putInt((int) (nowMicros % 1_000_000)).putInt(length)
            .putInt(length);
        int written = 0;
        for (long seg = m; seg != 0 && written < length; seg = Mbuf.next(seg)) {
            int n = Math.min(Mbuf.dataLen(seg), length - written);
            mbufData.wrap(Mbuf.dataAddress(seg), n);
            view.putBytes(at + RECORD_HEADER + written, mbufData, 0, n);
            written += n;
        }
        buffer.position(at + RECORD_HEADER + length);
        frames++;
    }

    private void drain() {
        buffer.flip();
        try {
            while (buffer.hasRemaining()) {
                channel.write(buffer);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("pcap write failed", e);
        } finally {
            buffer.clear();
        }
    }

    /** Frames written so far. */
    public long frames() {
        return frames;
    }

    @Override
    public int receive(MbufArray pkts, int max) {
        int n = delegate.receive(pkts, max);
        for (int i = 0; i < n; i++) {
            record(pkts.get(i));
        }
        return n;
    }

    @Override
    public int transmit(MbufArray pkts, int from, int count) {
        // Record before: once the PMD has a frame it may free it at any time.
        for (int i = 0; i < count; i++) {
            record(pkts.get(from + i));
        }
        return delegate.transmit(pkts, from, count);
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
