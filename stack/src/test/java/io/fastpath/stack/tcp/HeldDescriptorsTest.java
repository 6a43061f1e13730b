package io.fastpath.stack.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** {@link HeldDescriptors}' handover tokens (device-free). */
class HeldDescriptorsTest {
    /** A token of 0 would make the descriptor the bare mbuf address: the counter skips it when it wraps. */
    @Test
    void noDescriptorEqualsItsMbufAddressAcrossTheTokenWrap() {
        HeldDescriptors held = new HeldDescriptors(4);
        long mbuf = 0x7f00_1234_5680L;
        held.nextToken((char) 0xFFFD);
        int[] released = {0};
        for (int k = 0; k < 8; k++) {
            long descriptor = held.hold(1, mbuf, 100);
            assertNotEquals(mbuf, descriptor, "handover " + k + " around the wrap");
            assertEquals(mbuf, TcpServiceClient.mbufAddress(descriptor));
            assertTrue(held.release(1, descriptor, 100, (h, m, n) -> released[0]++));
        }
        assertEquals(8, released[0]);
        assertEquals(0, held.count());
    }
}
