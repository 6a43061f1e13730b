package io.fastpath.ndk;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.fastpath.provider.NtStatus;

/**
 * A test's request completion: records the status, how often it ran (must be exactly once per PENDING call)
 * and whether the call returned PENDING before it ran.
 */
final class Call implements NdkRequestCompletion {
    int completions;
    int status = Integer.MIN_VALUE;
    boolean pendingReturned;
    boolean completedInsideCall;
    private boolean inCall;
    Object context;

    @Override
    public void complete(Object requestContext, int s) {
        completions++;
        status = s;
        context = requestContext;
        if (inCall) {
            completedInsideCall = true;
        }
    }

    /** Wraps a call: {@code call.start(() -> connector.connect(..., call, ctx))}. Returns the call's status. */
    int start(java.util.function.IntSupplier call) {
        inCall = true;
        try {
            int r = call.getAsInt();
            pendingReturned = r == NtStatus.STATUS_PENDING.code();
            return r;
        } finally {
            inCall = false;
        }
    }

    boolean done() {
        return completions > 0;
    }

    /** Completed exactly once, after the call returned PENDING, with {@code expected}. */
    void assertCompleted(int expected) {
        assertEquals(1, completions, "completions");
        assertEquals(false, completedInsideCall, "completed inside the call");
        assertEquals(true, pendingReturned, "the call returned PENDING");
        assertEquals(NtStatus.name(expected), NtStatus.name(status));
    }
}
