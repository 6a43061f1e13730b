package io.fastpath.provider;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.LockSupport;
import org.agrona.BufferUtil;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Verifier mode (Driver Verifier's checks, issue 11): runs only in the "verify" surefire execution, a JVM started
 * with {@code -Dfastpath.verify=true} and small thresholds (holdMs=200, irpMs=300, handlerUs=20000: see the pom).
 */
@Tag("verify")
class VerifierTest {
    private static final NtStatus SUCCESS = NtStatus.STATUS_SUCCESS;
    private final List<String> reports = new ArrayList<>();

    @BeforeEach
    void recordReports() {
        Verifier.sink((kind, message) -> {
            synchronized (reports) {
                reports.add(kind + ": " + message);
            }
        });
    }

    @AfterEach
    void restoreSink() {
        Verifier.sink(null);
    }

    private List<String> reportsOf(Verifier.Report kind, String containing) {
        List<String> out = new ArrayList<>();
        synchronized (reports) {
            for (String r : reports) {
                if (r.startsWith(kind + ":") && r.contains(containing)) {
                    out.add(r);
                }
            }
        }
        return out;
    }

    @Test
    void thisJvmRunsInVerifierMode() {
        assertTrue(Verifier.ENABLED, "the verify execution must start its JVM with -Dfastpath.verify=true");
        assertEquals(200_000_000L, Verifier.HOLD_NS, "the pom's holdMs");
    }

    @Test
    void aSecondCompletionIsReportedWithBothCallSites() {
        TestIrp irp = new TestIrp();
        irp.begin(null);
        long before = Verifier.count(Verifier.Report.SECOND_COMPLETION);
        assertTrue(completeFirst(irp));
        assertFalse(completeSecond(irp), "the CAS still refuses it");
        assertEquals(SUCCESS, irp.ioStatus().status(), "the first completion stands");
        assertEquals(before + 1, Verifier.count(Verifier.Report.SECOND_COMPLETION));
        List<String> r = reportsOf(Verifier.Report.SECOND_COMPLETION, "completeSecond");
        assertEquals(1, r.size(), reports.toString());
        assertTrue(r.get(0).contains("completeFirst"), "the first completion's stack too: " + r.get(0));
    }

    private static boolean completeFirst(TestIrp irp) {
        return irp.complete(SUCCESS, 0, null);
    }

    private static boolean completeSecond(TestIrp irp) {
        return irp.complete(NtStatus.STATUS_CANCELLED, 0, null);
    }

    @Test
    void aDeferredCompletionOvertakenByAnotherIsNotASecondCompletion() {
        IrpCompleter<TestIrp> completer = new IrpCompleter<>(Throwable::printStackTrace, 0);
        TestIrp irp = new TestIrp();
        irp.setCompletionRoutine((i, c) -> { }, null);
        irp.begin(null);
        assertFalse(completer.complete(irp, SUCCESS, 0, null), "deferred (depth 0)");
        assertTrue(irp.complete(NtStatus.STATUS_CANCELLED, 0, null), "a close cancels it first");
        long before = Verifier.count(Verifier.Report.SECOND_COMPLETION);
        completer.runDeferred();
        assertEquals(before, Verifier.count(Verifier.Report.SECOND_COMPLETION));
    }

    @Test
    void anIrpNeverCompletedIsReportedWhenItsProviderCloses() {
        CancelRoutine<TestIrp> provider = i -> { };
        CancelRoutine<TestIrp> otherProvider = i -> { };
        TestIrp lost = new TestIrp();
        TestIrp done = new TestIrp();
        TestIrp others = new TestIrp();
        lost.begin(provider);
        done.begin(provider);
        others.begin(otherProvider);
        assertTrue(done.complete(SUCCESS, 0, null));
        assertEquals(1, Verifier.providerClosed(provider, "test provider"), "only the one still in progress");
        assertEquals(1, reportsOf(Verifier.Report.NEVER_COMPLETED, "test provider").size(), reports.toString());
        assertEquals(0, Verifier.providerClosed(provider, "test provider"), "reported once");
        assertEquals(1, Verifier.providerClosed(otherProvider, "other provider"));
    }

    @Test
    void anIrpInProgressLongerThanTheThresholdIsReportedOnce() {
        TestIrp irp = new TestIrp();
        CancelRoutine<TestIrp> provider = i -> { };
        irp.begin(provider);
        String name = Verifier.describe(irp);
        Verifier.checkOverdue(System.nanoTime());
        assertEquals(0, reportsOf(Verifier.Report.IRP_OVERDUE, name).size(), "not yet");
        Verifier.checkOverdue(System.nanoTime() + Verifier.IRP_NS + 1_000_000);
        Verifier.checkOverdue(System.nanoTime() + Verifier.IRP_NS + 2_000_000);
        assertEquals(1, reportsOf(Verifier.Report.IRP_OVERDUE, name).size(), reports.toString());
        assertTrue(irp.complete(SUCCESS, 0, null));
        assertEquals(0, Verifier.providerClosed(provider, "p"), "completed: no longer tracked");
    }

    @Test
    void aChainHeldLongerThanTheThresholdIsReportedOnceByTheDispatchLoop() {
        Object held = new Object() {
            @Override
            public String toString() {
                return "held-chain";
            }
        };
        Object returned = new Object() {
            @Override
            public String toString() {
                return "returned-chain";
            }
        };
        Verifier.chainHeld(held, "test chain");
        Verifier.chainHeld(returned, "test chain");
        Verifier.chainReturned(returned);
        DispatchLoop loop = new DispatchLoop("verifier-test", Throwable::printStackTrace, () -> 0);
        long until = System.nanoTime() + 3 * Verifier.HOLD_NS + 500_000_000L;
        while (reportsOf(Verifier.Report.HELD_TOO_LONG, "held-chain").isEmpty() && System.nanoTime() < until) {
            loop.dispatch();
            LockSupport.parkNanos(1_000_000);
        }
        for (int i = 0; i < 100; i++) {
            loop.dispatch();
            LockSupport.parkNanos(1_000_000);
        }
        assertEquals(1, reportsOf(Verifier.Report.HELD_TOO_LONG, "held-chain").size(), reports.toString());
        assertEquals(0, reportsOf(Verifier.Report.HELD_TOO_LONG, "returned-chain").size());
        Verifier.chainReturned(held);
    }

    /** A routine that blocks the dispatch thread. */
    static final class SlowRoutine implements IoCompletionRoutine<TestIrp> {
        @Override
        public void onComplete(TestIrp irp, Object context) {
            LockSupport.parkNanos(Verifier.HANDLER_NS + 30_000_000L);
        }
    }

    @Test
    void aSlowCompletionRoutineIsReportedWithItsClass() {
        IrpCompleter<TestIrp> completer = new IrpCompleter<>(Throwable::printStackTrace, 16);
        TestIrp fast = new TestIrp();
        fast.setCompletionRoutine((i, c) -> { }, null);
        fast.begin(null);
        completer.complete(fast, SUCCESS, 0, null);
        assertEquals(0, reportsOf(Verifier.Report.SLOW_HANDLER, "").size(), reports.toString());
        TestIrp slow = new TestIrp();
        slow.setCompletionRoutine(new SlowRoutine(), null);
        slow.begin(null);
        completer.complete(slow, SUCCESS, 0, null);
        assertEquals(1, reportsOf(Verifier.Report.SLOW_HANDLER, SlowRoutine.class.getName()).size(),
            reports.toString());
    }

    @Test
    void aReturnedDescriptorIsPoisonedBeforeItsReleaseAndOnlyItsOwnBytes() {
        // One mbuf backing two descriptors around an urgent byte (TcpService: the stack splits a segment so).
        ByteBuffer mbuf = ByteBuffer.allocateDirect(64);
        long base = BufferUtil.address(mbuf);
        UnsafeBuffer bytes = new UnsafeBuffer(mbuf);
        for (int i = 0; i < 64; i++) {
            bytes.putByte(i, (byte) i);
        }
        DescriptorQueue q = new DescriptorQueue(4);
        q.add(base, base, 10);           // bytes 0..9
        q.add(base, base + 11, 20);      // bytes 11..30; byte 10 was the urgent byte
        List<String> seenAtRelease = new ArrayList<>();
        DescriptorReleaser releaser = (handle, m, length) -> {
            // What the stack would see as soon as the release is published: already poisoned.
            seenAtRelease.add(length + ":" + bytes.getByte(length == 10 ? 0 : 11));
        };
        long poisoned = Verifier.count(Verifier.Report.POISONED);
        q.consume(1, 10, releaser);
        assertEquals(List.of("10:" + Verifier.POISON), seenAtRelease);
        for (int i = 0; i < 10; i++) {
            assertEquals(Verifier.POISON, bytes.getByte(i), "byte " + i);
        }
        assertEquals(10, bytes.getByte(10), "the urgent byte is not the descriptor's");
        for (int i = 11; i < 64; i++) {
            assertEquals((byte) i, bytes.getByte(i), "the other descriptor's bytes (and beyond) stay: " + i);
        }
        q.releaseAll(1, releaser);
        for (int i = 11; i < 31; i++) {
            assertEquals(Verifier.POISON, bytes.getByte(i), "byte " + i);
        }
        assertEquals(31, bytes.getByte(31));
        assertEquals(poisoned + 2, Verifier.count(Verifier.Report.POISONED));
    }
}
