package io.fastpath.stack.ip;

import io.fastpath.stack.counters.StackCounters;
import io.fastpath.stack.wire.EthernetFrame;
import io.fastpath.stack.wire.Ipv4Packet;
import io.fastpath.stack.wire.TcpSegment;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * A device-free {@link IpOutput} over plain native memory (a {@link java.lang.foreign.Arena}): TCP runs on it
 * with no EAL, no mempool and no port, so a test can feed it crafted segments and see exactly what it sends.
 *
 * <h2>Buffers</h2>
 * A fixed number of buffers of {@link #BUFFER_BYTES} bytes each, carved from one native allocation. A handle is
 * the address of a buffer's header (never 0):
 * <pre>
 *  handle + 0   int   reference count (0 = free)
 *  handle + 4   int   data length (bytes written, for the test's own use)
 *  handle + 64        data: {@link #DATA_ROOM} bytes; a transmitted segment starts {@link #HEADROOM} bytes in,
 *                     after room for the Ethernet and IPv4 headers
 * </pre>
 * {@link #allocate} takes one (reference count 1) or returns 0 when all are in use; {@link #free} drops a
 * reference and returns the buffer at 0; freeing a free buffer throws (a double free is a bug in the code under
 * test). {@link #inUse} counts buffers not returned, for leak checks after each test.
 *
 * <h2>Receiving</h2>
 * {@link #allocateSegment} gives a buffer whose segment area ({@link #segmentAddress}) the test fills (with the
 * {@code wire} flyweights over {@link #segment}); it then calls {@code TcpLayer.input(buffer,
 * segmentAddress(buffer), length, source, destination, false, now)}, which consumes the buffer.
 *
 * <h2>Transmitting</h2>
 * {@link #transmitTcp} fills the TCP checksum in software (as a port without offload would) and hands the buffer
 * to the {@link Sink} given at construction, which owns it from then on and must {@link #free} it (the default
 * sink frees it at once). No IPv4 or Ethernet header is written: the sink sees the TCP segment only.
 *
 * <p>Routing: every destination is reachable (the next hop is the destination). {@link #canTransmit} follows
 * {@link #transmitBlocked(boolean)}, so back-pressure can be simulated. Thread: the test thread only; not
 * thread-safe.
 */
public final class NativePackets implements IpOutput, AutoCloseable {
    /** Bytes of each buffer's header, before its data. */
    public static final int HEADER_BYTES = 64;
    /** Bytes of data each buffer holds. */
    public static final int DATA_ROOM = 2048;
    public static final int BUFFER_BYTES = HEADER_BYTES + DATA_ROOM;
    /** Room before a transmitted segment for the headers an IP layer would write (Ethernet and IPv4). */
    public static final int HEADROOM = EthernetFrame.HEADER_LENGTH + Ipv4Packet.MIN_HEADER_LENGTH;
    private static final int REFCNT_OFFSET = 0;
    private static final int LENGTH_OFFSET = 4;

    /** Receives each transmitted segment; owns {@code buffer} from then on (it must free it). */
    @FunctionalInterface
    public interface Sink {
        void onSegment(long buffer, int source, int destination, int segmentLength);
    }

    private final Arena arena = Arena.ofConfined();
    private final UnsafeBuffer memory;
    private final long base;
    private final int capacity;
    private final long[] free;
    private int freeCount;
    private final int address;
    private final int mtu;
    private final StackCounters counters;
    private final Sink sink;
    private final UnsafeBuffer view = new UnsafeBuffer(0, 0);
    private final TcpSegment tcp = new TcpSegment();
    private boolean transmitBlocked;

    /**
     * @param buffers how many buffers (all allocated now, in one native block)
     * @param address our IPv4 address
     * @param mtu the link MTU (at most {@link #DATA_ROOM} - {@link #HEADROOM} + 20)
     * @param counters where TCP counts
     * @param sink what happens to transmitted segments (null: they are freed at once)
     */
    public NativePackets(int buffers, int address, int mtu, StackCounters counters, Sink sink) {
        if (mtu - Ipv4Packet.MIN_HEADER_LENGTH + HEADROOM > DATA_ROOM) {
            throw new IllegalArgumentException("mtu " + mtu + " does not fit a " + DATA_ROOM + "-byte buffer");
        }
        MemorySegment block = arena.allocate((long) buffers * BUFFER_BYTES, 64);
        block.fill((byte) 0);
        this.memory = new UnsafeBuffer(block.address(), Math.toIntExact(block.byteSize()));
        this.base = block.address();
        this.capacity = buffers;
        this.free = new long[buffers];
        for (int i = buffers - 1; i >= 0; i--) {
            free[freeCount++] = base + (long) i * BUFFER_BYTES;
        }
        this.address = address;
        this.mtu = mtu;
        this.counters = counters;
        this.sink = sink != null ? sink : (buffer, source, destination, length) -> free(buffer);
    }

    // ------------------------------------------------------------------------------------- PacketMemory

    @Override
    public long allocate() {
        if (freeCount == 0) {
            return 0;
        }
        long buffer = free[--freeCount];
        int at = offset(buffer);
        memory.putInt(at + REFCNT_OFFSET, 1);
        memory.putInt(at + LENGTH_OFFSET, 0);
        return buffer;
    }

    @Override
    public void free(long buffer) {
        int at = offset(buffer);
        int refcnt = memory.getInt(at + REFCNT_OFFSET);
        if (refcnt <= 0) {
            throw new IllegalStateException("buffer 0x" + Long.toHexString(buffer) + " freed twice");
        }
        memory.putInt(at + REFCNT_OFFSET, refcnt - 1);
        if (refcnt == 1) {
            free[freeCount++] = buffer;
        }
    }

    @Override
    public long dataAddress(long buffer) {
        offset(buffer);
        return buffer + HEADER_BYTES;
    }

    @Override
    public void retain(long buffer) {
        int at = offset(buffer);
        memory.putInt(at + REFCNT_OFFSET, checkedRefcnt(buffer, at) + 1);
    }

    @Override
    public void unretain(long buffer) {
        int at = offset(buffer);
        int refcnt = checkedRefcnt(buffer, at);
        if (refcnt < 2) {
            throw new IllegalStateException("unretain of an unshared buffer 0x" + Long.toHexString(buffer));
        }
        memory.putInt(at + REFCNT_OFFSET, refcnt - 1);
    }

    /** The buffer's reference count (0 when it is free). */
    public int refcnt(long buffer) {
        return memory.getInt(offset(buffer) + REFCNT_OFFSET);
    }

    /** Buffers allocated and not yet freed. */
    public int inUse() {
        return capacity - freeCount;
    }

    public int capacity() {
        return capacity;
    }

    // ------------------------------------------------------------------------------------------ IpOutput

    @Override
    public long segmentAddress(long buffer) {
        return dataAddress(buffer) + HEADROOM;
    }

    @Override
    public void transmitTcp(long buffer, int source, int destination, int segmentLength) {
        tcp.wrap(segment(buffer, segmentLength), 0, segmentLength);
        tcp.fillChecksum(source, destination);
        memory.putInt(offset(buffer) + LENGTH_OFFSET, HEADROOM + segmentLength);
        sink.onSegment(buffer, source, destination, segmentLength);
    }

    @Override
    public boolean canTransmit() {
        return !transmitBlocked;
    }

    /** Makes {@link #canTransmit} answer false (a full port) until called with false. */
    public void transmitBlocked(boolean blocked) {
        this.transmitBlocked = blocked;
    }

    @Override
    public int nextHop(int destination) {
        return destination;
    }

    @Override
    public int address() {
        return address;
    }

    @Override
    public int mtu() {
        return mtu;
    }

    @Override
    public StackCounters counters() {
        return counters;
    }

    // ------------------------------------------------------------------------------------------- helpers

    /** A fresh buffer for a received segment of {@code length} bytes (written at {@link #segmentAddress}). */
    public long allocateSegment(int length) {
        if (HEADROOM + length > DATA_ROOM) {
            throw new IllegalArgumentException("segment of " + length + " bytes does not fit");
        }
        long buffer = allocate();
        if (buffer == 0) {
            throw new IllegalStateException("all " + capacity + " buffers in use");
        }
        memory.putInt(offset(buffer) + LENGTH_OFFSET, HEADROOM + length);
        return buffer;
    }

    /**
     * A view of {@code length} bytes of the buffer's segment area (shared: valid until the next call). Wrap a
     * {@link TcpSegment} over it at offset 0 to write or read the segment.
     */
    public UnsafeBuffer segment(long buffer, int length) {
        view.wrap(segmentAddress(buffer), length);
        return view;
    }

    /** Frees the native memory. Buffers still held become invalid. */
    @Override
    public void close() {
        arena.close();
    }

    private int offset(long buffer) {
        long at = buffer - base;
        if (at < 0 || at >= (long) capacity * BUFFER_BYTES || at % BUFFER_BYTES != 0) {
            throw new IllegalArgumentException("not a buffer of this pool: 0x" + Long.toHexString(buffer));
        }
        return (int) at;
    }

    private int checkedRefcnt(long buffer, int at) {
        int refcnt = memory.getInt(at + REFCNT_OFFSET);
        if (refcnt <= 0) {
            throw new IllegalStateException("buffer 0x" + Long.toHexString(buffer) + " is free");
        }
        return refcnt;
    }
}
