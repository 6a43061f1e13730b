package io.fastpath.stack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.Mbuf;
import io.fastpath.dpdk.MbufArray;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.Port;
import io.fastpath.dpdk.RingPair;
import io.fastpath.stack.counters.StackCounters;
import io.fastpath.stack.device.PortDecorator;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link TxBatch}'s transmit counters: frames and bytes count what the port took, also when it takes only part of
 * a burst and the rest waits for the next flush (the bytes are summed as frames are queued, not at the flush).
 */
class TxBatchTest {
    @TempDir
    Path dir;

    /** A port that takes at most {@code limit} frames per burst. */
    private static final class Stingy extends PortDecorator {
        int limit;

        Stingy(Port delegate) {
            super(delegate);
        }

        @Override
        public int receive(MbufArray pkts, int max) {
            return delegate.receive(pkts, max);
        }

        @Override
        public int transmit(MbufArray pkts, int from, int count) {
            return delegate.transmit(pkts, from, Math.min(count, limit));
        }

        @Override
        public void close() {
        }
    }

    @Test
    void framesAndBytesCountWhatThePortTookAcrossPartialBursts() {
        Random random = new Random(13);
        try (PktmbufPool pool = PktmbufPool.create("txbatch", 1023, 0, PktmbufPool.DEFAULT_DATA_ROOM);
             RingPair pair = RingPair.create("txbatch", 1024, pool, pool, EthDevPort.Config.defaults());
             StackCounters counters = new StackCounters(dir.resolve("tx.counters"), "tx")) {
            Stingy port = new Stingy(pair.a());
            TxBatch batch = new TxBatch(port, counters, null);
            MbufArray rx = new MbufArray(64);
            MbufArray scratch = new MbufArray(1);
            long queuedBytes = 0;
            long[] received = {0, 0}; // frames and bytes received so far (receiveAll adds to them)
            for (int round = 0; round < 2_000; round++) {
                int frames = 1 + random.nextInt(TxBatch.TX_BATCH / 2);
                for (int i = 0; i < frames && batch.canTransmit(); i++) {
                    long m = pool.allocOne(0, scratch);
                    assertNotEquals(0L, m);
                    int length = 60 + random.nextInt(1_400);
                    Mbuf.setLength(m, length);
                    batch.transmit(m);
                    queuedBytes += length;
                }
                port.limit = random.nextInt(4) == 0 ? TxBatch.TX_BATCH : random.nextInt(3);
                batch.flush();
                receiveAll(pair.b(), rx, received);
                assertEquals(received[0], counters.txFrames.get(), "round " + round);
                assertEquals(received[1], counters.txBytes.get(), "round " + round);
            }
            port.limit = TxBatch.TX_BATCH;
            batch.flush();
            receiveAll(pair.b(), rx, received);
            assertEquals(queuedBytes, received[1], "every frame left in the end");
            assertEquals(received[0], counters.txFrames.get());
            assertEquals(received[1], counters.txBytes.get());
        }
    }

    /** Receives and frees every frame waiting at {@code port}, adding to {@code totals} its frames and bytes. */
    private static void receiveAll(Port port, MbufArray rx, long[] totals) {
        int n;
        while ((n = port.receive(rx, 64)) > 0) {
            for (int i = 0; i < n; i++) {
                totals[0]++;
                totals[1] += Mbuf.pktLen(rx.get(i));
            }
            rx.freeAll(n);
        }
    }
}
