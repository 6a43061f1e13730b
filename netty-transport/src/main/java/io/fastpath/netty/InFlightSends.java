package io.fastpath.netty;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.util.ReferenceCountUtil;
import java.nio.ByteBuffer;
import org.agrona.BufferUtil;

/**
 * The write path's bookkeeping (and its backlog writability bit) of one {@link FastpathSocketChannel}: the flushed buffers handed to the stack as send
 * requests and not completed yet, oldest first, in a fixed ring of {@value FastpathSocketChannel#MAX_IN_FLIGHT}
 * (each holds one reference of its own until its completion). They are the head of Netty's outbound buffer in the
 * same order, so a pass over the flushed messages skips as many as are in flight. Event loop only; no allocation.
 */
final class InFlightSends {
    private final ByteBuf[] ring = new ByteBuf[FastpathSocketChannel.MAX_IN_FLIGHT];
    private int first;
    private int count;
    /** Flushed messages seen in this pass over Netty's outbound buffer. */
    private int seen;
    /** The backlog bit is false: the event loop checks the backlog each turn until it is true again. */
    private boolean backlogUnwritable;

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
        if (seen < count) {
            seen++;
            return true;
        }
        return false;
    }

    /** Records a buffer the stack accepted a send of: retains it until {@link #completeOldest()}. */
    void add(ByteBuf buf) {
        ring[(first + count) % ring.length] = buf.retain();
        count++;
        seen++;
    }

    /** Releases the oldest send's reference (the stack no longer reads it); false when none is in flight. */
    boolean completeOldest() {
        if (count == 0) {
            return false;
        }
        ByteBuf buf = ring[first];
        ring[first] = null;
        first = (first + 1) % ring.length;
        count--;
        buf.release();
        return true;
    }

    /** Releases every send still in flight (the stack closed the connection or went away). */
    void releaseAll() {
        while (completeOldest()) {
            // each releases one
        }
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
     * empties): nothing to send, their promises complete in order. Only with no send in flight, which would be
     * the head.
     */
    static void removeEmptyHeads(ChannelOutboundBuffer in) {
        while (in.current() instanceof ByteBuf b && !b.isReadable()) {
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
