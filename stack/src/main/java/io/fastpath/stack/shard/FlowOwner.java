package io.fastpath.stack.shard;

/**
 * Which shard owns a TCP flow: the one whose queue RSS (or fastpath's software steering) delivers the flow's
 * segments to. Every shard and every provider uses the same function, so a segment that lands on another
 * queue can be handed to its owner, and an outgoing connection can pick a local port its owner will see.
 */
@FunctionalInterface
public interface FlowOwner {
    /** The owning shard, 0 to shards - 1, of the flow localIp:localPort - remoteIp:remotePort. */
    int shardOf(int localIp, int localPort, int remoteIp, int remotePort);

    /** One shard: everything is shard 0's. */
    FlowOwner SINGLE = (localIp, localPort, remoteIp, remotePort) -> 0;
}
