package io.fastpath.stack;

import io.fastpath.dpdk.Mbuf;
import io.fastpath.stack.counters.DropReason;
import io.fastpath.stack.counters.StackCounters;
import java.nio.ByteBuffer;
import org.agrona.collections.LongHashSet;
import org.agrona.concurrent.MessageHandler;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.ringbuffer.ManyToOneRingBuffer;
import org.agrona.concurrent.ringbuffer.OneToOneRingBuffer;
import org.agrona.concurrent.ringbuffer.RingBufferDescriptor;

/**
 * {@link Stack}'s rings to and from application threads: commands in (pings, releases of held frames; any
 * thread, a many-to-one ring), outcomes out (echo replies, sends that failed) and raw frames out as descriptors
 * (one application thread each, one-to-one rings), and the set of frames the application holds.
 */
final class AppRings {
    private static final int CMD_PING = 1;
    private static final int CMD_RELEASE = 2;
    private static final int EVT_ECHO_REPLY = 1;
    private static final int EVT_SEND_FAILED = 2;
    private static final int FRAME_DESCRIPTOR = 1;

    private final Stack stack;
    private final StackCounters counters;
    private final int maxHeldFrames;
    private final ManyToOneRingBuffer commands;
    private final OneToOneRingBuffer events;
    private final OneToOneRingBuffer frames;
    private final UnsafeBuffer eventScratch = new UnsafeBuffer(new byte[32]);
    private final UnsafeBuffer frameScratch = new UnsafeBuffer(new byte[32]);
    private final UnsafeBuffer commandScratch = new UnsafeBuffer(new byte[32]);
    private final MessageHandler commandHandler = this::onCommand;
    private final LongHashSet heldFrames;

    AppRings(Stack stack, StackConfig config, StackCounters counters) {
        this.stack = stack;
        this.counters = counters;
        this.maxHeldFrames = config.maxHeldFrames();
        this.heldFrames = new LongHashSet(config.maxHeldFrames() * 2);
        int ringBytes = config.ringCapacity() + RingBufferDescriptor.TRAILER_LENGTH;
        this.commands = new ManyToOneRingBuffer(new UnsafeBuffer(ByteBuffer.allocateDirect(ringBytes)));
        this.events = new OneToOneRingBuffer(new UnsafeBuffer(ByteBuffer.allocateDirect(ringBytes)));
        this.frames = new OneToOneRingBuffer(new UnsafeBuffer(ByteBuffer.allocateDirect(ringBytes)));
    }

    /** Runs up to {@code limit} queued commands (poll thread). */
    int readCommands(int limit) {
        return commands.read(commandHandler, limit);
    }

    private void onCommand(int type, org.agrona.MutableDirectBuffer buffer, int index, int length) {
        if (type == CMD_PING) {
            stack.sendPing(buffer.getInt(index), buffer.getInt(index + 4), buffer.getInt(index + 8));
        } else if (type == CMD_RELEASE) {
            long m = buffer.getLong(index);
            // A stale or double release is refused, never a double free.
            if (heldFrames.remove(m)) {
                stack.free(m);
                counters.rawFramesHeld.setRelease(heldFrames.size());
            } else {
                counters.drop(DropReason.RELEASE_REFUSED).incrementRelease();
            }
        }
    }

    /** {@link Stack#ping} (any thread). */
    boolean ping(int destination, int sequence, int payloadLength) {
        synchronized (commandScratch) {
            commandScratch.putInt(0, destination);
            commandScratch.putInt(4, sequence);
            commandScratch.putInt(8, payloadLength);
            return commands.write(CMD_PING, commandScratch, 0, 12);
        }
    }

    /** {@link Stack#releaseFrame} (any thread). */
    boolean releaseFrame(long mbuf) {
        synchronized (commandScratch) {
            commandScratch.putLong(0, mbuf);
            return commands.write(CMD_RELEASE, commandScratch, 0, 8);
        }
    }

    /** An echo reply to one of our pings (poll thread). */
    void echoReply(int source, int sequence, long rttNs) {
        eventScratch.putInt(0, source);
        eventScratch.putInt(4, sequence);
        eventScratch.putLong(8, rttNs);
        events.write(EVT_ECHO_REPLY, eventScratch, 0, 16);
    }

    /** A frame we built will not leave (poll thread). */
    void sendFailed(int destination, int sequence, int status) {
        eventScratch.putInt(0, destination);
        eventScratch.putInt(4, sequence);
        eventScratch.putInt(8, status);
        events.write(EVT_SEND_FAILED, eventScratch, 0, 12);
    }

    private final MessageHandler[] eventDecoder = new MessageHandler[1];
    private StackEventHandler eventTarget;
    private FrameHandler frameTarget;

    /** {@link Stack#pollEvents} (one application thread). */
    int pollEvents(StackEventHandler handler) {
        eventTarget = handler;
        if (eventDecoder[0] == null) {
            eventDecoder[0] = (type, buffer, index, length) -> {
                if (type == EVT_ECHO_REPLY) {
                    eventTarget.onEchoReply(buffer.getInt(index), buffer.getInt(index + 4), buffer.getLong(index + 8));
                } else if (type == EVT_SEND_FAILED) {
                    eventTarget.onSendFailed(buffer.getInt(index), buffer.getInt(index + 4), buffer.getInt(index + 8));
                }
            };
        }
        return events.read(eventDecoder[0]);
    }

    private final MessageHandler frameDecoder = (type, buffer, index, length) -> {
        long m = buffer.getLong(index);
        if (frameTarget.onFrame(m, buffer.getLong(index + 8), buffer.getInt(index + 20), buffer.getInt(index + 16),
            buffer.getInt(index + 24))) {
            releaseFrame(m);
        }
    };

    /** {@link Stack#pollFrames} (one application thread). */
    int pollFrames(FrameHandler handler) {
        frameTarget = handler;
        return frames.read(frameDecoder);
    }

    /**
     * Hands a raw frame to the application as a descriptor (poll thread): its payload from {@code payloadStart}
     * to {@code end}, offsets from the data start.
     */
    void deliverRaw(long m, int protocol, int payloadStart, int end) {
        if (heldFrames.size() >= maxHeldFrames) {
            stack.drop(m, DropReason.RAW_RING_FULL);
            return;
        }
        frameScratch.putLong(0, m);
        frameScratch.putLong(8, Mbuf.dataAddress(m));
        frameScratch.putInt(16, payloadStart);
        frameScratch.putInt(20, end);
        frameScratch.putInt(24, protocol);
        if (!frames.write(FRAME_DESCRIPTOR, frameScratch, 0, 28)) {
            stack.drop(m, DropReason.RAW_RING_FULL);
            return;
        }
        heldFrames.add(m);
        counters.rawFramesDelivered.incrementRelease();
        counters.rawFramesHeld.setRelease(heldFrames.size());
    }

    /** Frees the frames the application still holds (poll thread, on close). */
    void freeHeld() {
        LongHashSet.LongIterator it = heldFrames.iterator();
        while (it.hasNext()) {
            stack.free(it.nextValue());
        }
        heldFrames.clear();
    }
}
