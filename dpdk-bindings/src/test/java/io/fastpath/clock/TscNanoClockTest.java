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
    /** This machine's TSC rate in ns per tick, calibrated with anchors of {@code spanNs} (skips without a TSC). */
    private static double calibratedRate(long spanNs) throws Exception {
        assumeTrue(TscNanoClock.available(), "no TSC here");
        TscNanoClock calibrated = TscNanoClock.calibrate(2_000_000, spanNs);
        assertNotNull(calibrated);
        return calibrated.nanosPerTick();
    }

    @Test
    void monotonicPerThreadWhileTwoThreadsRaceShortAnchors() throws Exception {
        assumeTrue(TscNanoClock.available(), "no TSC here");
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
        assumeTrue(TscNanoClock.available(), "no TSC here");
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
        double rate = calibratedRate(10_000_000);
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
    void anAnchorsEndValueDoesNotOverflowAtTheLargestProduct() {
        long span = 1L << 32;
        TscNanoClock.Anchor a = anchor(1_000, 5_000_000, TscNanoClock.MAX_PRODUCT / span, span);
        long expected = BigInteger.valueOf(span).multiply(BigInteger.valueOf(a.mult)).shiftRight(TscNanoClock.SHIFT)
            .longValue() + a.ns0;
        assertEquals(expected, a.end());
    }

    /** A 1 s anchor at 0.5 ns a tick on time, then a pause of 600 s: the next anchor starts on System.nanoTime(). */
    @Test
    void aLongGapStartsTheNextAnchorOnSystemNanoTimeNotOnTheOldSlope() {
        long span = 2_000_000_000L;
        // The old anchor 1000 ppm fast (correcting a clock that was behind): its line is 0.6 s ahead after 600 s.
        TscNanoClock.Anchor old = anchor(1_000_000, 9_000_000_000L, 0.5 * 1.001, span, 0.5);
        long tick = old.tsc0 + 1_200_000_000_000L;
        long sys = old.ns0 + 600_000_000_000L;
        TscNanoClock.Anchor n = TscNanoClock.following(old, tick, sys, span);
        assertEquals(tick, n.tsc0);
        assertEquals(sys, n.ns0, "on System.nanoTime() after the gap");
        assertEquals(0.5, n.rate, 1e-9);
        assertEquals(0.5, (double) n.mult / (1L << TscNanoClock.SHIFT), 1e-6, "at the rate, not slewing");
        assertEquals(old.generation + 1, n.generation);
    }

    /** Just past the end of an anchor that ran ahead: it starts at the old end value and slews back onto the line. */
    @Test
    void aClockAheadStartsAtTheOldEndAndSlowsOntoSystemNanoTime() {
        long span = 2_000_000_000L;
        TscNanoClock.Anchor old = anchor(1_000_000, 9_000_000_000L, 0.5, span);
        long tick = old.tsc0 + span + 200;
        long sys = old.end() - 300_000; // the clock is 0.3 ms ahead
        TscNanoClock.Anchor n = TscNanoClock.following(old, tick, sys, span);
        assertEquals(old.end(), n.ns0, "never below what the old anchor returned");
        assertEquals(0.5, n.rate, 1e-4);
        assertEquals(sys + n.rate * span, n.end(), 2, "on System.nanoTime()'s line at the end of the new anchor");
        assertTrue(n.mult < old.mult, "slower");
    }

    /** Behind by 2 ms: the new anchor steps forward onto System.nanoTime(). */
    @Test
    void aClockBehindStepsOntoSystemNanoTime() {
        long span = 2_000_000_000L;
        TscNanoClock.Anchor old = anchor(1_000_000, 9_000_000_000L, 0.5, span);
        long tick = old.tsc0 + span + 200;
        long sys = old.end() + 2_000_000;
        TscNanoClock.Anchor n = TscNanoClock.following(old, tick, sys, span);
        assertEquals(sys, n.ns0);
        assertEquals(0.5, n.rate, 1e-4);
        assertEquals(sys + n.rate * span, n.end(), 2);
    }

    /**
     * The counter went back 2 s (a restored snapshot): the new anchor starts at the sample's tick on
     * System.nanoTime(), at the old rate from a new base (the rate since the old base is meaningless now).
     */
    @Test
    void aCounterThatWentBackStartsAnAnchorAtTheNewTickOnSystemNanoTime() {
        long span = 2_000_000_000L;
        TscNanoClock.Anchor old = anchor(10_000_000_000L, 9_000_000_000L, 0.5, span);
        long tick = old.tsc0 - 4_000_000_000L;
        long sys = old.ns0 + 300_000_000;
        TscNanoClock.Anchor n = TscNanoClock.following(old, tick, sys, span);
        assertEquals(tick, n.tsc0);
        assertEquals(sys, n.ns0);
        assertEquals(0.5, n.rate, 1e-12);
        assertEquals(tick, n.baseTsc);
        assertEquals(sys, n.baseNs);
        assertEquals(sys + 0.5 * span, n.end(), 2);
        // And never below the old start, even when System.nanoTime() is (a sample from a clock behind).
        TscNanoClock.Anchor low = TscNanoClock.following(old, tick, old.ns0 - 1_000, span);
        assertEquals(old.ns0, low.ns0);
    }

    /** For samples past the end of anchors ahead of or behind System.nanoTime(): never below the old end value. */
    @Test
    void aNewAnchorNeverStartsBelowTheOldEndValue() {
        java.util.Random random = new java.util.Random(7);
        long span = 2_000_000_000L;
        for (int i = 0; i < 100_000; i++) {
            double rate = 0.25 + random.nextDouble();
            TscNanoClock.Anchor old = anchor(random.nextLong(1L << 50), random.nextLong(1L << 50),
                rate * (0.5 + random.nextDouble() * 1.5), span);
            long tick = old.tsc0 + span + random.nextLong(1L << 40);
            long sys = old.end() + random.nextLong(-100_000_000, 100_000_000);
            TscNanoClock.Anchor n = TscNanoClock.following(old, tick, sys, span);
            assertTrue(n.ns0 >= old.end(), "start " + n.ns0 + " below the old end " + old.end());
            assertTrue(n.ns0 >= sys, "start below System.nanoTime()");
        }
    }

    /**
     * A clock whose anchor lies 1 s of ticks ahead of the counter (as after a counter that went back): it makes a new
     * anchor and runs on System.nanoTime() instead of reading the anchor's start until the counter catches up.
     */
    @Test
    void aCounterBehindTheAnchorMakesANewAnchorInsteadOfFreezing() throws Exception {
        double rate = calibratedRate(1_000_000_000);
        long span = (long) (1_000_000_000 / rate);
        long tick = TscNanoClock.ticks();
        long ns = System.nanoTime();
        TscNanoClock clock = new TscNanoClock(tick - span, ns - 1_000_000_000, tick + span, ns, rate, span);
        long c0 = clock.nanoTime();
        Thread.sleep(20);
        long[] p = pair(clock);
        assertTrue(p[0] - c0 > 15_000_000, "the clock moved on: " + (p[0] - c0) + " ns in 20 ms");
        assertTrue(Math.abs(p[0] - p[1]) < 1_000_000, "on System.nanoTime(): " + (p[0] - p[1]) + " ns");
        assertTrue(clock.anchor().generation > 0, "a new anchor");
    }

    private static TscNanoClock.Anchor anchor(long tsc0, long ns0, double nsPerTick, long span) {
        return anchor(tsc0, ns0, nsPerTick, span, nsPerTick);
    }

    /** An anchor of slope {@code nsPerTick} whose base lies 10 spans back on a line of slope {@code rate}. */
    private static TscNanoClock.Anchor anchor(long tsc0, long ns0, double nsPerTick, long span, double rate) {
        return new TscNanoClock.Anchor(tsc0, ns0, TscNanoClock.fixed(nsPerTick), span, 3, tsc0 - 10 * span,
            ns0 - (long) (10 * span * rate), rate);
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
        if (TscNanoClock.available()) {
            assertTrue(TscNanoClock.select(" TSC ") == TscNanoClock.shared(), "tsc forces the shared TSC clock");
        } else {
            assertThrows(IllegalArgumentException.class, () -> TscNanoClock.select("tsc"));
        }
        NanoClock auto = TscNanoClock.select(null);
        if (TscNanoClock.supported()) {
            assertInstanceOf(TscNanoClock.class, auto);
            assertTrue(auto == TscNanoClock.select("auto"), "one shared instance");
        } else {
            assertInstanceOf(SystemNanoClock.class, auto);
        }
    }

    @Test
    void needsTheKernelToListTscAsAClocksource() throws Exception {
        assertTrue(TscNanoClock.listsTsc("tsc hpet acpi_pm \n"));
        assertTrue(TscNanoClock.listsTsc("kvm-clock tsc\n"));
        assertFalse(TscNanoClock.listsTsc("kvm-clock \n"));
        assertFalse(TscNanoClock.listsTsc("tsc-early hpet\n"));
        assertFalse(TscNanoClock.listsTsc(""));
        java.nio.file.Path file = java.nio.file.Path.of("/sys/devices/system/clocksource/clocksource0/"
            + "available_clocksource");
        if (!java.nio.file.Files.exists(file) || !TscNanoClock.listsTsc(java.nio.file.Files.readString(file))) {
            // Here (a Firecracker VM booted with tsc=unstable, kvm-clock only) whatever the CPU flags say.
            assertFalse(TscNanoClock.supported(), "the kernel does not trust the TSC here");
            assertInstanceOf(SystemNanoClock.class, TscNanoClock.select("auto"));
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
