package io.fastpath.stack.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link ReceivePath#connectionLimit} is memoised per connection (docs/perf/budget.md, issue 13): whatever the
 * order in which a connection's receive limit and the stack's truesize change, it answers what the formula it
 * replaced, {@code max(8, 2 * receiveLimit / truesize)}, answers for the values of the moment, and so do the
 * receive space and window computed from it.
 */
class ReceivePathLimitTest {
    @TempDir
    Path dir;
    private TcpRig rig;

    @AfterEach
    void down() {
        if (rig != null) {
            rig.close();
        }
    }

    private static int formula(int receiveLimit, int truesize) {
        return Math.max(8, (int) (2L * receiveLimit / truesize));
    }

    @Test
    void memoisedLimitMatchesTheFormulaAsLimitsChange() {
        rig = new TcpRig(dir, TcpConfig.defaults()).connect();
        ReceivePath rx = rig.layer.rx;
        int truesize = rx.memTruesize;
        TcpConnection c = rig.c;
        int receiveLimit = c.receiveLimit;
        TcpConnection other = new TcpConnection(null, 1);
        SplittableRandom random = new SplittableRandom(13);
        int[] truesizes = {256, 2048 + 128 + 256, 4096, 65536, 1 << 20};
        int[] limits = {0, 1, 1000, 65535, 1 << 20, 16 << 20, Integer.MAX_VALUE};
        for (int i = 0; i < 200_000; i++) {
            switch (random.nextInt(4)) {
                case 0 -> c.receiveLimit = random.nextBoolean() ? limits[random.nextInt(limits.length)]
                    : random.nextInt(Integer.MAX_VALUE);
                case 1 -> rx.memTruesize = random.nextBoolean() ? truesizes[random.nextInt(truesizes.length)]
                    : 256 + random.nextInt(1 << 20);
                case 2 -> other.receiveLimit = random.nextInt(1 << 24);
                default -> {
                }
            }
            assertEquals(formula(c.receiveLimit, rx.memTruesize), rx.connectionLimit(c),
                "receiveLimit " + c.receiveLimit + ", truesize " + rx.memTruesize);
            assertEquals(formula(other.receiveLimit, rx.memTruesize), rx.connectionLimit(other),
                "other: receiveLimit " + other.receiveLimit + ", truesize " + rx.memTruesize);
        }
        c.receiveLimit = receiveLimit;
        rx.memTruesize = truesize;
    }

    @Test
    void receiveSpaceAndWindowFollowTheFormula() {
        rig = new TcpRig(dir, TcpConfig.defaults()).connect();
        ReceivePath rx = rig.layer.rx;
        int truesize = rx.memTruesize;
        TcpConnection c = rig.c;
        int receiveLimit = c.receiveLimit;
        SplittableRandom random = new SplittableRandom(7);
        for (int i = 0; i < 50_000; i++) {
            c.receiveLimit = 1 + random.nextInt(4 << 20);
            rx.memTruesize = 256 + random.nextInt(8192);
            c.heldMbufs = random.nextInt(64);
            c.heldBytes = random.nextInt(c.receiveLimit + 1);
            int free = c.receiveLimit - c.receiveQueue.bytes() - c.receiveQueue.outOfOrderBytes() - c.heldBytes;
            long memoryFree = (long) (formula(c.receiveLimit, rx.memTruesize) - ReceivePath.charged(c)) * c.mss;
            int expected = (int) Math.min(free, Math.max(0, memoryFree));
            assertEquals(expected, rx.freeReceiveSpace(c));
            assertEquals(Math.max(Math.max(expected, 0), c.rcvAdvertisedEdge - c.rcvNxt), rx.receiveWindow(c));
        }
        c.heldMbufs = 0;
        c.heldBytes = 0;
        c.receiveLimit = receiveLimit;
        rx.memTruesize = truesize;
    }
}
