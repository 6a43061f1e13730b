package io.fastpath.stack;

import io.fastpath.dpdk.Mbuf;
import io.fastpath.dpdk.MbufArray;

/**
 * The receive burst's prefetch for {@link Stack}: where the next frame's data most likely is (learned from the
 * last frame received) and how many of its lines to touch. Poll thread only.
 */
final class RxPrefetch {
    private static final int MAX_PREFETCH_OFFSET = 512;
    /** Lines of data {@link #prefetchReceived} touches, at most this many. */
    private static final int PREFETCH_DATA_LINES = 3;

    /**
     * Data offset from the mbuf of the last frame received: {@code sizeof(struct rte_mbuf)} + private area +
     * headroom, 256 for the pools fastpath creates.
     */
    private int rxDataOffset = 256;
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

    /** @param bufferEnd the end of our own pool's buffers, from the mbuf, until a frame teaches better */
    RxPrefetch(int bufferEnd) {
        this.rxBufferEnd = bufferEnd;
        this.rxDataLines = dataLinesInBuffer(rxDataOffset, rxBufferEnd);
    }

    /**
     * Starts the cache misses of the burst's frames all at once: each frame's mbuf header and the first three
     * lines of its data (Ethernet, IPv4 and TCP headers and the first bytes of payload) at the data offset of
     * the last frame received. With a peer on another CPU (the ring PMD, or a NIC that wrote the frame) none of
     * those lines is in this CPU's cache, and read in program order they are two misses one after the other:
     * the header gives the data address, the data comes after. Loaded together they overlap (docs/perf/budget.md,
     * "The tail"). The offset is only a guess (clamped into the mbuf's own buffer); a wrong guess costs loads.
     */
    void prefetchReceived(MbufArray rx, int received) {
        long sum = 0;
        int offset = rxDataOffset;
        int lines = rxDataLines;
        for (int i = 0; i < received; i++) {
            long m = rx.get(i);
            sum += Mbuf.touchLines(m, 1) + Mbuf.touchLines(m + offset, lines);
        }
        prefetchSink = sum;
    }

    /** Learns from a frame with its data at {@code data} where the next frame's data most likely is. */
    void learn(long m, long data) {
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
}
