package io.fastpath.clock;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.math.BigInteger;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.SystemNanoClock;
import org.junit.jupiter.api.Test;

/**
 * The TSC clock: monotonic per thread while two threads race its anchors, at System.nanoTime()'s rate and origin,
 * brought back onto System.nanoTime() by its anchors when its first rate is wrong, and the system clock where the
 * property asks for it. No speed here: perf/ClockBenchmark measures the read.
 */
class TscNanoClockTest {
    @Test
    void monotonicPerThreadWhileTwoThreadsRaceShortAnchors() throws Exception {
        assumeTrue(TscNanoClock.supported(), "no constant, nonstop TSC here");
        // 20 µs anchors: a new one every few thousand reads, installed by whichever thread crosses first.
        TscNanoClock clock = TscNanoClock.calibrate(2_000_000, 20_000);
        assertNotNull(clock);
        int reads = 3_000_000;
        AtomicReference<String> failure = new AtomicReference<>();
        CountDownLatch start = new CountDownLatch(1);
        Runnable reader = () -> {
            try {
                start.await();
            } catch (InterruptedException e) {
                return;
            }
            long previous = clock.nanoTime();
            for (int i = 0; i < reads; i++) {
                long now = clock.nanoTime();
                if (now < previous) {
                    failure.compareAndSet(null, "read " + i + " went back " + (previous - now) + " ns");
                    return;
                }
                previous = now;
            }
        };
        long generation0 = clock.anchor().generation;
        Thread a = new Thread(reader, "clock-a");
        Thread b = new Thread(reader, "clock-b");
        a.start();
        b.start();
        start.countDown();
        a.join();
        b.join();
        assertEquals(null, failure.get());
        long anchors = clock.anchor().generation - generation0;
        assertTrue(anchors > 100, "the readers crossed many anchors: " + anchors);
        long[] p = pair(clock);
        long offset = p[0] - p[1];
        assertTrue(Math.abs(offset) < 1_000_000, "still on System.nanoTime(): " + offset + " ns");
    }

    @Test
    void sharedClockHasSystemNanoTimesOriginAndRate() throws Exception {
        assumeTrue(TscNanoClock.supported(), "no constant, nonstop TSC here");
        TscNanoClock clock = TscNanoClock.shared();
        assertNotNull(clock);
        long[] p0 = pair(clock);
        Thread.sleep(300);
        long[] p1 = pair(clock);
        long c0 = p0[0];
        long s0 = p0[1];
        long c1 = p1[0];
        long s1 = p1[1];
        double ratio = (double) (c1 - c0) / (s1 - s0);
        assertTrue(Math.abs(ratio - 1) < 1e-3, "rate against System.nanoTime(): " + ratio);
        assertTrue(Math.abs(c1 - s1) < 1_000_000, "origin: " + (c1 - s1) + " ns from System.nanoTime()");
        double ghz = 1 / clock.nanosPerTick();
        assertTrue(ghz > 0.05 && ghz < 20, "TSC " + ghz + " GHz");
    }

    @Test
    void anchorsBringAWrongFirstRateBackOntoSystemNanoTime() throws Exception {
        assumeTrue(TscNanoClock.supported(), "no constant, nonstop TSC here");
        TscNanoClock calibrated = TscNanoClock.calibrate(2_000_000, 10_000_000);
        assertNotNull(calibrated);
        double rate = calibrated.nanosPerTick();
        long span = (long) (10_000_000 / rate); // 10 ms anchors
        // A first anchor 5 % fast: without new anchors it is 15 ms ahead after 300 ms.
        long tick = TscNanoClock.ticks();
        long ns = System.nanoTime();
        TscNanoClock clock = new TscNanoClock(tick, ns, tick, ns, rate * 1.05, span);
        long previous = clock.nanoTime();
        long c0 = 0;
        long s0 = 0;
        long end = System.nanoTime() + 300_000_000;
        long first = System.nanoTime();
        while (System.nanoTime() < end) {
            Thread.sleep(1);
            long now = clock.nanoTime();
            assertTrue(now >= previous, "went back " + (previous - now) + " ns");
            previous = now;
            if (c0 == 0 && System.nanoTime() - first > 100_000_000) {
                long[] p = pair(clock);
                c0 = p[0];
                s0 = p[1];
            }
        }
        long[] p1 = pair(clock);
        long c1 = p1[0];
        long s1 = p1[1];
        assertTrue(Math.abs(c1 - s1) < 500_000, "offset from System.nanoTime(): " + (c1 - s1) + " ns");
        double ratio = (double) (c1 - c0) / (s1 - s0);
        assertTrue(Math.abs(ratio - 1) < 5e-3, "rate over the last 200 ms: " + ratio);
    }

    /**
     * The clock and System.nanoTime() at one instant: a read bracketed by two System.nanoTime() reads less than 20 µs
     * apart (a preemption between two reads would otherwise look like a rate or offset error).
     */
    private static long[] pair(NanoClock clock) {
        for (int i = 0; ; i++) {
            long before = System.nanoTime();
            long c = clock.nanoTime();
            long after = System.nanoTime();
            if (after - before < 20_000 || i > 10_000) {
                return new long[] {c, before + (after - before) / 2};
            }
        }
    }

    @Test
    void extendsAnAnchorBeyondItsSpanWithoutOverflow() {
        TscNanoClock.Anchor a = new TscNanoClock.Anchor(1_000, 5_000_000, TscNanoClock.fixed(0.4771), 1L << 31, 0);
        for (long d : new long[] {0, 1, 12_345, (1L << 31) - 1, 1L << 36, 1L << 44, 3_000_000_000_000_000L}) {
            long expected = BigInteger.valueOf(d).multiply(BigInteger.valueOf(a.mult)).shiftRight(TscNanoClock.SHIFT)
                .longValue() + a.ns0;
            assertEquals(expected, TscNanoClock.extend(a, a.tsc0 + d), "d " + d);
        }
        assertEquals(a.ns0, TscNanoClock.extend(a, a.tsc0 - 50), "before the anchor: its start");
    }

    @Test
    void systemClockWhenThePropertySaysSo() {
        assertInstanceOf(SystemNanoClock.class, TscNanoClock.select("system"));
        assertInstanceOf(SystemNanoClock.class, TscNanoClock.select(" System "));
        String old = System.getProperty(TscNanoClock.PROPERTY);
        System.setProperty(TscNanoClock.PROPERTY, "system");
        try {
            assertInstanceOf(SystemNanoClock.class, TscNanoClock.select(System.getProperty(TscNanoClock.PROPERTY)));
        } finally {
            if (old == null) {
                System.clearProperty(TscNanoClock.PROPERTY);
            } else {
                System.setProperty(TscNanoClock.PROPERTY, old);
            }
        }
        assertThrows(IllegalArgumentException.class, () -> TscNanoClock.select("tsc-please"));
        NanoClock auto = TscNanoClock.select(null);
        if (TscNanoClock.supported()) {
            assertInstanceOf(TscNanoClock.class, auto);
            assertTrue(auto == TscNanoClock.select("auto"), "one shared instance");
        } else {
            assertInstanceOf(SystemNanoClock.class, auto);
        }
    }

    @Test
    void needsBothTscFlags() {
        assertTrue(TscNanoClock.hasFlags("flags\t\t: fpu tsc constant_tsc rep_good nonstop_tsc cpuid"));
        assertFalse(TscNanoClock.hasFlags("flags\t\t: fpu tsc constant_tsc rep_good cpuid"));
        assertFalse(TscNanoClock.hasFlags("flags\t\t: fpu tsc nonstop_tsc_x constant_tsc"));
        assertFalse(TscNanoClock.hasFlags("flags\t\t: fpu tsc"));
    }
}
