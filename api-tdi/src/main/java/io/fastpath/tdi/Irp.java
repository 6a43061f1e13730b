package io.fastpath.tdi;

/**
 * An I/O request packet for a TDI request: caller-owned, allocated once and reused (IoReuseIrp), so the request
 * path allocates nothing. A {@code TdiBuildXxx} helper ({@link TdiBuild}) fills the request (minor function,
 * file object, completion routine, parameters); {@link TdiProvider#callDriver} (IoCallDriver) submits it and
 * returns STATUS_SUCCESS, STATUS_PENDING or a failure; the IRP completes exactly once with that status (or, when
 * pending, a later one) and its {@link IoCompletionRoutine} runs once, on the provider's dispatch thread.
 *
 * <p>The life cycle, status block, routines and {@link #cancel()} (IoCancelIrp) are the shared
 * {@link io.fastpath.provider.Irp}'s; this class adds the TDI request's parameters. Ready (new or
 * {@link #reuse() reused}; a TdiBuild helper reuses it) → in progress → completed. Submitting an IRP still in
 * progress throws {@link IllegalStateException} (Windows would bug-check).
 *
 * <p>IoCancelIrp: a pending TDI_RECEIVE, TDI_LISTEN, TDI_CONNECT, a TDI_SEND not yet handed to the stack and a
 * TDI_SET_EVENT_HANDLER waiting for the listen complete with STATUS_CANCELLED; what the stack already carries
 * (bytes of a send in its buffer, a disconnect) runs to its end.
 *
 * <p>Threads: built and submitted on any thread; {@link #completed()} and {@link #pending()} from any thread.
 */
public final class Irp extends io.fastpath.provider.Irp<Irp> {
    // ---- the IO_STACK_LOCATION: filled by TdiBuild, read on the dispatch thread
    // (the buffer and the flags are the shared Irp's: bufferAddress(), bufferLength(), flags())
    int minorFunction;
    /** The file object: a {@link TdiAddress} or a {@link TdiConnection}. */
    Object fileObject;
    /** TDI time-out: negative 100 ns units, or {@link Tdi#TIMEOUT_DEFAULT}. */
    long timeout;
    TdiConnectionInformation requestInfo;
    TdiConnectionInformation returnInfo;
    TdiAddress address;
    int eventType;
    Object eventHandler;
    Object eventContext;
    int queryType;
    // ---- progress while pending
    int done;
    /** The endpoint's connection this request belongs to (see {@link TdiConnection#incarnation}). */
    int incarnation;
    /** The status a given-up TDI_CONNECT completes with once the stack took its request (TdiProvider). */
    int endStatus;
    /** Set when a local abort cancelled a send the stack still holds: it completes STATUS_CANCELLED. */
    boolean cancelled;
    /** The provider the IRP was submitted to. */
    volatile TdiProvider provider;

    /** The request's minor function (TDI_SEND, ...), as built. */
    public int minorFunction() {
        return minorFunction;
    }

    /** TdiBuild: the request's buffer and flags. */
    void parameters(long address, int length, int requestFlags) {
        setBuffer(address, length);
        setFlags(requestFlags);
    }

    /** TdiBuild: the request's flags. */
    void flags(int requestFlags) {
        setFlags(requestFlags);
    }

    /** Claims the IRP for a request of {@code p} (IoCallDriver, or an IRP a handler hands back). */
    void begin(TdiProvider p) {
        begin(p.cancels);
        // A release write: the dispatch thread sees it through the request queue that carries the IRP; a cancel
        // drained before it is visible finds no provider (cancelNow ignores it) and is carried out once the request
        // has run (TdiProvider.onRequest checks cancelRequested), so no full fence is needed here.
        PROVIDER.setRelease(this, p);
    }

    private static final java.lang.invoke.VarHandle PROVIDER;

    static {
        try {
            PROVIDER = java.lang.invoke.MethodHandles.lookup().findVarHandle(Irp.class, "provider", TdiProvider.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    @Override
    protected void onBegin() {
        done = 0;
        cancelled = false;
    }

    @Override
    protected void clearParameters() {
        minorFunction = 0;
        fileObject = null;
        timeout = 0;
        requestInfo = null;
        returnInfo = null;
        address = null;
        eventType = 0;
        eventHandler = null;
        eventContext = null;
        queryType = 0;
        done = 0;
    }

    @Override
    public String toString() {
        return "Irp[minor=" + minorFunction + " " + stateText() + "]";
    }
}
