package io.fastpath.provider;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.agrona.BufferUtil;
import org.junit.jupiter.api.Test;

/** The default run: verifier mode is off, so nothing is poisoned, tracked or reported (see VerifierTest). */
class VerifierOffTest {
    @Test
    void offByDefaultAndSilent() {
        assertFalse(Verifier.ENABLED, "the default test execution runs without -Dfastpath.verify");
        List<String> reports = new ArrayList<>();
        Verifier.sink((kind, message) -> reports.add(kind + ": " + message));
        try {
            TestIrp irp = new TestIrp();
            irp.begin(null);
            assertTrue(irp.complete(NtStatus.STATUS_SUCCESS, 0, null));
            assertFalse(irp.complete(NtStatus.STATUS_CANCELLED, 0, null));
            ByteBuffer b = ByteBuffer.allocateDirect(8);
            b.put(0, (byte) 7);
            DescriptorQueue q = new DescriptorQueue(4);
            q.add(1, BufferUtil.address(b), 8);
            q.releaseAll(1, (h, m, l) -> { });
            assertEquals(7, b.get(0), "not poisoned");
            assertEquals(List.of(), reports);
            assertEquals(0, Verifier.count(Verifier.Report.SECOND_COMPLETION));
        } finally {
            Verifier.sink(null);
        }
    }
}
