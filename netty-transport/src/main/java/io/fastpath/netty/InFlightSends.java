package io.fastpath.netty;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.FileRegion;
import io.netty.util.ReferenceCountUtil;
import java.nio.ByteBuffer;
import org.agrona.BufferUtil;

/**
 * The write path's bookkeeping (and its backlog writability bit) of one {@link FastpathSocketChannel}: the flushed buffers handed to the stack as send
 * requests and not completed yet, oldest first, in a fixed ring of {@value FastpathSocketChannel#MAX_IN_FLIGHT}
 * (each holds one reference of its own until its completion). They are the head of Netty's outbound buffer in the
 * same order, so a pass over the flushed messages skips as many as are in flight. Event loop only; no allocation
 * for buffers.
 *
 * <p>A {@link FileRegion} goes as chunks: it is read only once it is the head of the outbound buffer (everything
 * before it completed), {@value #REGION_CHUNK} bytes at a time into direct buffers of the channel's allocator, at
 * most {@value #REGION_CHUNKS} of them with the stack at once; each completed chunk is Netty's write progress, the
 * last one removes the region. Messages behind the region are handed over once all of it has been read.
 */
final class InFlightSends {
    /** Bytes of a file region read into one chunk. */
    static final int REGION_CHUNK = 64 * 1024;
    /** Chunks of a file region with the stack at once (its read-ahead beyond the stack's send buffer). */
    static final int REGION_CHUNKS = 2;

    /** What {@link #completeOldest} completed. */
    static final int NONE = 0;
    static final int MESSAGE = 1;
    static final int CHUNK = 2;

    private final ByteBuf[] ring = new ByteBuf[FastpathSocketChannel.MAX_IN_FLIGHT];
    /** The entry is a chunk of {@link #region}, not a message of its own. */
    private final boolean[] chunk = new boolean[FastpathSocketChannel.MAX_IN_FLIGHT];
    private int first;
    private int count;
    /** Flushed messages seen in this pass over Netty's outbound buffer. */
    private int seen;
    /** The backlog bit is false: the event loop checks the backlog each turn until it is true again. */
    private boolean backlogUnwritable;

    /** The file region being sent (the head of the outbound buffer), or null. */
    private FileRegion region;
    /** Its chunks with the stack. */
    private int regionChunks;
    /** Every byte of it has been read and handed over. */
    private boolean regionRead;
    /** Why it failed (reading it, or a chunk's send), or null; no more chunks go once set. */
    private Throwable regionFailure;
    /** The failure was handed to the channel (which fails its output), once. */
    private boolean regionFailureReported;
    /** Bytes of the region read and not yet completed by the stack (chunks with it and a pending one). */
    private long regionBytesHeld;
    /** A chunk read but refused by the stack's request ring: it goes first next time. */
    private ByteBuf pendingChunk;
    /** Bytes of the chunk {@link #completeOldest} last completed. */
    private int completedBytes;

    boolean isEmpty() {
        return count == 0;
    }

    boolean isFull() {
        return count == ring.length;
    }

    /** Starts a pass over the flushed messages. */
    void startPass() {
        seen = 0;
    }

    /** Whether the next flushed message of this pass is with the stack already (then counted as seen). */
    boolean skipInFlight() {
        int messages = count - regionChunks + (region != null && regionRead ? 1 : 0);
        if (seen < messages) {
            seen++;
            return true;
        }
        return false;
    }

    /** Records a buffer the stack accepted a send of: retains it until {@link #completeOldest()}. */
    void add(ByteBuf buf) {
        int at = (first + count) % ring.length;
        ring[at] = buf.retain();
        chunk[at] = false;
        count++;
        seen++;
    }

    /**
     * Releases the oldest send's reference (the stack no longer reads it): {@link #MESSAGE}, {@link #CHUNK} of the
     * region (its length in {@link #completedBytes()}), or {@link #NONE} when none is in flight.
     */
    int completeOldest() {
        if (count == 0) {
            return NONE;
        }
        ByteBuf buf = ring[first];
        boolean wasChunk = chunk[first];
        ring[first] = null;
        first = (first + 1) % ring.length;
        count--;
        if (wasChunk) {
            regionChunks--;
            completedBytes = buf.readableBytes();
            regionBytesHeld -= completedBytes;
        }
        buf.release();
        return wasChunk ? CHUNK : MESSAGE;
    }

    int completedBytes() {
        return completedBytes;
    }

    /** Releases every send still in flight and forgets the region (the stack closed the connection or went away). */
    void releaseAll() {
        while (completeOldest() != NONE) {
            // each releases one
        }
        dropPendingChunk();
        region = null;
        regionChunks = 0;
        regionRead = false;
        regionFailure = null;
        regionFailureReported = false;
        regionBytesHeld = 0;
    }

    // ------------------------------------------------------------------------------------------ file regions

    /** The region being sent, or null. */
    FileRegion region() {
        return region;
    }

    /**
     * Starts sending {@code r}, which must be the head of the outbound buffer with nothing in flight; false when it
     * cannot start yet (sends before it are still with the stack).
     */
    boolean startRegion(FileRegion r) {
        if (count != 0 || region != null) {
            return false;
        }
        region = r;
        regionChunks = 0;
        regionRead = false;
        regionFailure = null;
        regionFailureReported = false;
        regionBytesHeld = 0;
        return true;
    }

    /** Whether another chunk of the region may be read and handed over now (at most {@link #REGION_CHUNKS}). */
    boolean wantsChunk() {
        return region != null && !regionRead && regionFailure == null && regionChunks < REGION_CHUNKS;
    }

    /** Bytes of the region read and not yet completed by the stack: part of the channel's send backlog. */
    long regionBytesHeld() {
        return regionBytesHeld;
    }

    /** Takes the chunk the request ring refused last time, or null. */
    ByteBuf takePendingChunk() {
        ByteBuf c = pendingChunk;
        pendingChunk = null;
        return c;
    }

    /** Keeps a chunk the request ring refused, to go first next time. */
    void keepPendingChunk(ByteBuf c) {
        pendingChunk = c;
    }

    /** Releases a chunk read but never handed over (the channel closed or shut its output down). */
    void dropPendingChunk() {
        if (pendingChunk != null) {
            regionBytesHeld -= pendingChunk.readableBytes();
            pendingChunk.release();
            pendingChunk = null;
        }
    }

    /** Counts a chunk just read into the bytes held (before it is handed over or kept pending). */
    void chunkRead(ByteBuf c) {
        regionBytesHeld += c.readableBytes();
    }

    /** Records a chunk the stack accepted (its reference is handed over: released on completion). */
    void addChunk(ByteBuf c, boolean last) {
        int at = (first + count) % ring.length;
        ring[at] = c;
        chunk[at] = true;
        count++;
        regionChunks++;
        if (last) {
            regionRead = true;
            seen++;
        }
    }

    /** The region failed (reading it, or a chunk's send): nothing more of it, nor behind it, goes. */
    void failRegion(Throwable cause) {
        if (regionFailure == null) {
            regionFailure = cause;
        }
        dropPendingChunk();
    }

    /** The region's failure, the first time it is asked for (the channel then fails its output); else null. */
    Throwable reportRegionFailure() {
        if (regionFailure == null || regionFailureReported) {
            return null;
        }
        regionFailureReported = true;
        return regionFailure;
    }

    /** Whether all of the region was read and every chunk of it completed without a failure. */
    boolean regionDone() {
        return region != null && regionRead && regionChunks == 0 && regionFailure == null;
    }

    /** Forgets the region ({@link #regionDone()}: the channel removes it from the outbound buffer). */
    void endRegion() {
        region = null;
        regionRead = false;
    }

    boolean backlogUnwritable() {
        return backlogUnwritable;
    }

    /** Sets the backlog bit true again (the connection is gone or not there yet); false: nothing to watch. */
    boolean clearBacklog(ChannelOutboundBuffer out) {
        if (backlogUnwritable && out != null) {
            out.setUserDefinedWritability(FastpathSocketChannel.BACKLOG_WRITABILITY_BIT, true);
        }
        backlogUnwritable = false;
        return false;
    }

    /**
     * Moves the backlog bit for a backlog of {@code backlog} bytes against the water marks; true when it turned
     * false just now (the event loop must start watching the channel).
     */
    boolean updateBacklog(ChannelOutboundBuffer out, long backlog, int highWaterMark, int lowWaterMark) {
        if (!backlogUnwritable) {
            if (backlog > highWaterMark) {
                backlogUnwritable = true;
                out.setUserDefinedWritability(FastpathSocketChannel.BACKLOG_WRITABILITY_BIT, false);
                return true;
            }
        } else if (backlog < lowWaterMark) {
            backlogUnwritable = false;
            out.setUserDefinedWritability(FastpathSocketChannel.BACKLOG_WRITABILITY_BIT, true);
        }
        return false;
    }

    /**
     * Completes the empty writes at the head of the outbound buffer (and drops cancelled entries, which Netty
     * empties): nothing to send, their promises complete in order. A file region with nothing left to transfer
     * is one, unless it is the region being sent. Only with no send in flight, which would be the head.
     */
    void removeEmptyHeads(ChannelOutboundBuffer in) {
        for (Object head; (head = in.current()) instanceof ByteBuf b && !b.isReadable()
            || head instanceof FileRegion r && r != region && r.transferred() >= r.count(); ) {
            in.remove();
        }
    }

    /** A direct copy of a heap (or composite) buffer, which it releases, as Netty's epoll transport does. */
    static ByteBuf directCopy(ByteBufAllocator alloc, ByteBuf buf) {
        int n = buf.readableBytes();
        ByteBuf direct = alloc.directBuffer(n);
        direct.writeBytes(buf, buf.readerIndex(), n);
        ReferenceCountUtil.safeRelease(buf);
        return direct;
    }

    /**
     * The native address of a direct buffer's readable bytes, without allocating: the buffer's own address when
     * Netty has Unsafe, else the address field of its (cached) internal NIO view, read by Agrona.
     */
    static long address(ByteBuf buf) {
        if (buf instanceof MbufByteBuf m) {
            return m.addressOf(buf.readerIndex()); // a received segment echoed back: straight from its mbuf
        }
        if (buf.unwrap() instanceof MbufByteBuf m && buf.capacity() == m.capacity()) {
            return m.addressOf(buf.readerIndex()); // the same, behind a leak-aware wrapper
        }
        if (buf.hasMemoryAddress()) {
            return buf.memoryAddress() + buf.readerIndex();
        }
        ByteBuffer nio = buf.internalNioBuffer(buf.readerIndex(), buf.readableBytes());
        return BufferUtil.address(nio) + nio.position();
    }
}
