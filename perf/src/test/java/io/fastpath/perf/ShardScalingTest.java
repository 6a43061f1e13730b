package io.fastpath.perf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.stack.shard.RssFlowOwner;
import io.fastpath.stack.tcp.TcpLayer;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The scaling bench's owner function: both hosts must give a flow to the same shard (the ring pair delivers a
 * frame on the queue it was sent on), which the symmetric RSS key does; and it must still spread the ephemeral
 * ports evenly. No DPDK, no threads.
 */
class ShardScalingTest {
    @Test
    void symmetricKeyGivesAFlowToTheSameShardOnBothHostsAndSpreadsThePorts() {
        for (int shards : new int[] {2, 4}) {
            RssFlowOwner owner = new RssFlowOwner(shards, ShardScaling.symmetricKey(), null);
            int[] perShard = new int[shards];
            for (int port = TcpLayer.EPHEMERAL_FIRST; port <= TcpLayer.EPHEMERAL_LAST; port++) {
                int client = owner.shardOf(ShardScaling.CLIENT_IP, port, ShardScaling.SERVER_IP, TcpHarness.ECHO_PORT);
                int server = owner.shardOf(ShardScaling.SERVER_IP, TcpHarness.ECHO_PORT, ShardScaling.CLIENT_IP, port);
                assertEquals(client, server, "port " + port);
                perShard[client]++;
            }
            int range = TcpLayer.EPHEMERAL_LAST - TcpLayer.EPHEMERAL_FIRST + 1;
            for (int q = 0; q < shards; q++) {
                assertTrue(Math.abs(perShard[q] - range / shards) < range / shards / 10,
                    shards + " shards: shard " + q + " owns " + perShard[q] + " of " + range);
            }
        }
    }

    @Test
    void microsoftsKeyIsNotSymmetric() {
        // Why the bench does not use the default: with it, the two hosts disagree about some flows.
        RssFlowOwner owner = new RssFlowOwner(2);
        int disagree = 0;
        for (int port = TcpLayer.EPHEMERAL_FIRST; port <= TcpLayer.EPHEMERAL_LAST; port++) {
            if (owner.shardOf(ShardScaling.CLIENT_IP, port, ShardScaling.SERVER_IP, TcpHarness.ECHO_PORT)
                != owner.shardOf(ShardScaling.SERVER_IP, TcpHarness.ECHO_PORT, ShardScaling.CLIENT_IP, port)) {
                disagree++;
            }
        }
        assertNotEquals(0, disagree);
    }

    @Test
    void medianOfOddAndEvenCountsIgnoresNaN() {
        assertEquals(2.0, ShardScaling.median(List.of(3.0, 1.0, 2.0)));
        assertEquals(2.5, ShardScaling.median(List.of(4.0, 1.0, 2.0, 3.0, Double.NaN)));
        assertTrue(Double.isNaN(ShardScaling.median(List.of())));
    }
}
