package io.fastpath.tdi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.provider.NtStatus;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The provider's lifecycle is lock-free (one state word in its DispatchLoop): a start of the dispatcher thread
 * racing close() on another thread, with an IRP submitted from a third, many times over.
 */
class TdiLifecycleRaceTest {
    private static final int ROUNDS = 150;

    @TempDir
    Path dir;

    /**
     * Each round: exactly one outcome for the start (it runs and close stops it, or it fails with
     * IllegalStateException as a start after close does), close returns (no deadlock), and the IRP submitted
     * meanwhile completes exactly once (none stranded in the request queue).
     */
    @Test
    void startDispatcherThreadRacingCloseHasOneWinnerAndStrandsNoIrp() throws Exception {
        try (TdiRig rig = new TdiRig(dir)) {
            int started = 0;
            int refused = 0;
            for (int i = 0; i < ROUNDS; i++) {
                TdiProvider p = TdiProvider.open(rig.a, rig.errors::add);
                TdiAddress address = p.openAddress(TdiRig.A_IP, 6000 + i);
                Req q = new Req();
                TdiBuild.queryInformation(q.irp, address, q.routine, null, Tdi.TDI_QUERY_ADDRESS_INFO);
                CountDownLatch go = new CountDownLatch(1);
                AtomicReference<Throwable> failed = new AtomicReference<>();
                Thread closer = new Thread(() -> {
                    try {
                        go.await();
                        p.close();
                    } catch (Throwable e) {
                        failed.set(e);
                    }
                });
                Thread submitter = new Thread(() -> {
                    try {
                        go.await();
                        q.call(p);
                    } catch (Throwable e) {
                        failed.set(e);
                    }
                });
                closer.start();
                submitter.start();
                go.countDown();
                try {
                    p.startDispatcherThread();
                    started++;
                } catch (IllegalStateException e) {
                    refused++;
                }
                closer.join(20_000);
                submitter.join(20_000);
                assertFalse(closer.isAlive(), "close() returned (round " + i + ")");
                assertFalse(submitter.isAlive(), "callDriver returned (round " + i + ")");
                assertEquals(null, failed.get());
                p.close(); // closed already: returns
                assertTrue(q.done(), "the IRP completed (round " + i + ")");
                assertEquals(1, q.completions, "exactly once (round " + i + ")");
                NtStatus s = q.status();
                assertTrue(s == NtStatus.STATUS_SUCCESS || s == NtStatus.STATUS_CANCELLED, "status " + s);
            }
            assertEquals(ROUNDS, started + refused, "one outcome per round");
            System.out.printf("start won %d, close won %d of %d rounds%n", started, refused, ROUNDS);
            rig.assertNoErrors();
        }
    }
}
