package io.fastpath.tdi;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * An I/O request packet for a TDI request: caller-owned, allocated once and reused (IoReuseIrp), so the request
 * path allocates nothing. A {@code TdiBuildXxx} helper ({@link TdiBuild}) fills the request (minor function,
 * file object, completion routine, parameters); {@link TdiProvider#callDriver} (IoCallDriver) submits it and
 * returns STATUS_SUCCESS, STATUS_PENDING or a failure; the IRP completes exactly once with that status (or, when
 * pending, a later one) and its {@link IoCompletionRoutine} runs once, on the provider's dispatch thread.
 *
 * <p>Life cycle: ready (new or {@link #reuse() reused}; a TdiBuild helper reuses it) → in progress → completed.
 * Submitting an IRP still in progress throws {@link IllegalStateException} (Windows would bug-check).
 *
 * <p>Threads: built and submitted on any thread; {@link #completed()} and {@link #pending()} from any thread.
 */
public final class Irp {
    static final int READY = 0;
    static final int IN_PROGRESS = 1;
    static final int COMPLETED = 2;

    private static final VarHandle STATE;

    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(Irp.class, "state", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final IoStatus ioStatus = new IoStatus();
    IoCompletionRoutine routine;
    Object context;
    @SuppressWarnings("unused") // through STATE
    private volatile int state;
    private volatile boolean pendingReturned;

    // ---- the IO_STACK_LOCATION: filled by TdiBuild, read on the dispatch thread
    int minorFunction;
    /** The file object: a {@link TdiAddress} or a {@link TdiConnection}. */
    Object fileObject;
    int flags;
    /** TDI time-out: negative 100 ns units, or {@link Tdi#TIMEOUT_DEFAULT}. */
    long timeout;
    long bufferAddress;
    int bufferLength;
    TdiConnectionInformation requestInfo;
    TdiConnectionInformation returnInfo;
    TdiAddress address;
    int eventType;
    Object eventHandler;
    Object eventContext;
    int queryType;
    // ---- progress while pending
    int done;
    Irp next;

    /** IoSetCompletionRoutine. */
    public Irp setCompletionRoutine(IoCompletionRoutine completionRoutine, Object completionContext) {
        this.routine = completionRoutine;
        this.context = completionContext;
        return this;
    }

    public IoStatus ioStatus() {
        return ioStatus;
    }

    /** Irp->PendingReturned: the submission returned STATUS_PENDING. */
    public boolean pending() {
        return pendingReturned;
    }

    public boolean completed() {
        return (int) STATE.getVolatile(this) == COMPLETED;
    }

    public boolean inProgress() {
        return (int) STATE.getVolatile(this) == IN_PROGRESS;
    }

    /** The request's minor function (TDI_SEND, ...), as built. */
    public int minorFunction() {
        return minorFunction;
    }

    /** IoReuseIrp: ready for the next request; the completion routine stays. */
    public Irp reuse() {
        if ((int) STATE.getVolatile(this) == IN_PROGRESS) {
            throw new IllegalStateException("IRP still in progress: it cannot be reused before it completes");
        }
        ioStatus.set(TdiStatus.STATUS_SUCCESS, 0, null);
        pendingReturned = false;
        minorFunction = 0;
        fileObject = null;
        flags = 0;
        timeout = 0;
        bufferAddress = 0;
        bufferLength = 0;
        requestInfo = null;
        returnInfo = null;
        address = null;
        eventType = 0;
        eventHandler = null;
        eventContext = null;
        queryType = 0;
        done = 0;
        next = null;
        STATE.setVolatile(this, READY);
        return this;
    }

    // ------------------------------------------------------------------------ provider side

    void begin() {
        if (!STATE.compareAndSet(this, READY, IN_PROGRESS)) {
            throw new IllegalStateException((int) STATE.getVolatile(this) == IN_PROGRESS
                ? "IRP already in progress: one IRP serves one request at a time"
                : "IRP completed: build it again (TdiBuildXxx / reuse()) before submitting it");
        }
        pendingReturned = false;
        done = 0;
        next = null;
    }

    void markPending() {
        pendingReturned = true;
    }

    IoCompletionRoutine finish(int status, long information, Object object) {
        ioStatus.set(status, information, object);
        next = null;
        STATE.setVolatile(this, COMPLETED);
        return routine;
    }

    @Override
    public String toString() {
        int s = (int) STATE.getVolatile(this);
        return "Irp[minor=" + minorFunction + " " + (s == READY ? "ready" : s == IN_PROGRESS ? "in progress"
            : "completed " + ioStatus) + "]";
    }
}
