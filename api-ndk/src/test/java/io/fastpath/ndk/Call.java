package io.fastpath.ndk;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.fastpath.provider.NtStatus;

/**
 * A test's request completion: records the status, how often it ran (must be exactly once per PENDING call)
 * and whether the call returned PENDING before it ran.
 */
final class Call implements NdkRequestCompletion {
    int completions;
    NtStatus status;
    boolean pendingReturned;
    boolean completedInsideCall;
    private boolean inCall;
    Object context;

    @Override
    public void complete(Object requestContext, NtStatus s) {
        completions++;
        status = s;
        context = requestContext;
        if (inCall) {
            completedInsideCall = true;
        }
    }

    /** Wraps a call: {@code call.start(() -> connector.connect(..., call, ctx))}. Returns the call's status. */
    NtStatus start(java.util.function.Supplier<NtStatus> call) {
        inCall = true;
        try {
            NtStatus r = call.get();
            pendingReturned = r == NtStatus.STATUS_PENDING;
            return r;
        } finally {
            inCall = false;
        }
    }

    boolean done() {
        return completions > 0;
    }

    /** Completed exactly once, after the call returned PENDING, with {@code expected}. */
    void assertCompleted(NtStatus expected) {
        assertEquals(1, completions, "completions");
        assertEquals(false, completedInsideCall, "completed inside the call");
        assertEquals(true, pendingReturned, "the call returned PENDING");
        assertEquals(expected, status);
    }
}
