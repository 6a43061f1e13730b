package io.fastpath.stack.shard;

import io.fastpath.stack.tcp.FastOpenKeys;
import io.fastpath.stack.tcp.LocalPorts;
import java.nio.ByteBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.ringbuffer.ManyToOneRingBuffer;
import org.agrona.concurrent.ringbuffer.RingBufferDescriptor;

/**
 * What the shards of one port share: the one local port table ({@link LocalPorts}: a listener's port and an
 * ephemeral port are taken once for the whole host), the Fast Open cookie keys ({@link FastOpenKeys}), the
 * {@link FlowOwner} every shard and provider agrees on,
 * and one inbound ring per shard through which the others hand it what it owns: received frames of its flows
 * (the mbuf itself, zero copy: ownership moves with the record) and neighbours learned from ARP.
 *
 * <p>Thread: the rings are many-to-one (every shard's poll thread writes, the owner's reads); the rest is
 * immutable or thread-safe.
 */
public final class ShardGroup {
    /** Inbound record: a received frame (long mbuf) to be processed as if the owner had received it. */
    public static final int FORWARDED_FRAME = 1;
    /** Inbound record: a neighbour (int IPv4 address, long MAC) learned from ARP on another shard. */
    public static final int NEIGHBOUR = 2;

    private final int shards;
    private final FlowOwner owner;
    private final LocalPorts ports = new LocalPorts();
    private final FastOpenKeys fastOpenKeys = new FastOpenKeys();
    private final ManyToOneRingBuffer[] inbound;

    /**
     * @param ringBytes bytes of each shard's inbound ring (a power of two; 16 bytes a record)
     */
    public ShardGroup(int shards, FlowOwner owner, int ringBytes) {
        if (shards < 1) {
            throw new IllegalArgumentException("shards must be >= 1: " + shards);
        }
        if (owner instanceof RssFlowOwner rss && rss.shards() != shards) {
            throw new IllegalArgumentException("the flow owner spreads over " + rss.shards() + " shards, the port has "
                + shards);
        }
        this.shards = shards;
        this.owner = owner;
        this.inbound = new ManyToOneRingBuffer[shards];
        for (int q = 0; q < shards; q++) {
            inbound[q] = new ManyToOneRingBuffer(new UnsafeBuffer(
                ByteBuffer.allocateDirect(ringBytes + RingBufferDescriptor.TRAILER_LENGTH)));
        }
    }

    /** One shard: no rings used, the owner is {@link FlowOwner#SINGLE}. */
    public static ShardGroup single() {
        return new ShardGroup(1, FlowOwner.SINGLE, 1024);
    }

    public int shards() {
        return shards;
    }

    public FlowOwner owner() {
        return owner;
    }

    /** The local port table every shard (and every provider on any shard) takes ports from. */
    public LocalPorts ports() {
        return ports;
    }

    /**
     * The Fast Open cookie keys of the host (RFC 7413 §4.1.2): one for all shards, so that a cookie issued on one
     * shard is valid on the shard that owns the client's next flow.
     */
    public FastOpenKeys fastOpenKeys() {
        return fastOpenKeys;
    }

    /** Shard {@code q}'s inbound ring. */
    public ManyToOneRingBuffer inbound(int q) {
        return inbound[q];
    }
}
