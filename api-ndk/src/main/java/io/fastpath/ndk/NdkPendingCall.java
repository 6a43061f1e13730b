package io.fastpath.ndk;

/**
 * The pending asynchronous call of a listener or connector (NdkListen, NdkConnect, NdkCompleteConnect, NdkAccept,
 * NdkDisconnect): its completion and request context, one call at a time. Dispatch thread.
 */
final class NdkPendingCall {
    private NdkRequestCompletion completion;
    private Object context;

    /** The call returned STATUS_PENDING: {@code c} runs with {@code requestContext} when it ends. */
    void start(NdkRequestCompletion c, Object requestContext) {
        completion = c;
        context = requestContext;
    }

    boolean pending() {
        return completion != null;
    }

    /** Ends the call with {@code status} through the adapter; cleared first, so the completion may start the next. */
    void finish(NdkAdapter adapter, int status) {
        NdkRequestCompletion c = completion;
        Object ctx = context;
        completion = null;
        context = null;
        adapter.complete(c, ctx, status);
    }
}
