package io.fastpath.stack.counters;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class BudgetTest {
    private static void passAll(Budget b, int from) {
        for (int p = from; p <= Budget.TX; p++) {
            b.mark(p);
        }
    }

    @Test
    void offUnlessTheSystemPropertySaysSo() {
        assertFalse(Budget.ENABLED, "tests run without -Dfastpath.budget=true: the hooks are compiled away");
    }

    @Test
    void aCycleThatPassesEveryPointIsCountedInEveryStage() {
        Budget b = new Budget();
        b.beginCycle(System.nanoTime());
        passAll(b, Budget.PARSED);
        b.endCycle();
        assertEquals(1, b.cycles());
        for (int s = 0; s < Budget.STAGES.length - 1; s++) {
            assertTrue(b.percentileNs(s, 50) >= 5, Budget.STAGES[s]);
            assertTrue(b.meanNs(s) >= 0, Budget.STAGES[s]);
        }
        assertTrue(b.meanNs(Budget.STAGES.length - 2) >= b.meanNs(Budget.PARSED), "the cycle spans its stages");
    }

    @Test
    void aCycleThatMissesAPointIsNotCounted() {
        Budget b = new Budget();
        b.beginCycle(System.nanoTime());
        b.mark(Budget.PARSED);
        b.mark(Budget.HANDOVER); // a pure ACK: no send, no output
        b.endCycle();
        assertEquals(0, b.cycles());
    }

    @Test
    void marksOutsideACycleAreIgnoredAndResetForgetsAtTheNextCycle() {
        Budget b = new Budget();
        passAll(b, Budget.PARSED);
        b.endCycle();
        assertEquals(0, b.cycles());
        b.beginCycle(System.nanoTime());
        passAll(b, Budget.PARSED);
        b.endCycle();
        assertEquals(1, b.cycles());
        b.reset();
        assertEquals(1, b.cycles(), "honoured by the poll thread, at the next cycle");
        b.beginCycle(System.nanoTime());
        b.endCycle();
        assertEquals(0, b.cycles());
    }
}
