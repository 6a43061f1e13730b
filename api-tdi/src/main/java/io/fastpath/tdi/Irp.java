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
    /** The endpoint's connection this request belongs to (see {@link TdiConnection#incarnation}). */
    int incarnation;
    /** Set when a local abort cancelled a send the stack still holds: it completes STATUS_CANCELLED. */
    boolean cancelled;
    /** The provider the IRP was submitted to (for {@link #cancel()}). */
    volatile TdiProvider provider;

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

    /**
     * IoCancelIrp: asks the transport to cancel the request (any thread). A pending TDI_RECEIVE, TDI_LISTEN,
     * TDI_CONNECT, a TDI_SEND not yet handed to the stack and a TDI_SET_EVENT_HANDLER waiting for the listen
     * complete with STATUS_CANCELLED; what the stack already carries (bytes of a send in its buffer, a
     * disconnect) runs to its end.
     *
     * @return true if the IRP was in progress and the cancel was passed on
     */
    public boolean cancel() {
        TdiProvider p = provider;
        if (!inProgress() || p == null) {
            return false;
        }
        p.requestCancel(this);
        return true;
    }

    /** The request's minor function (TDI_SEND, ...), as built. */
    public int minorFunction() {
        return minorFunction;
    }

    /** IoReuseIrp: ready for the next request; the completion routine stays. */
    public Irp reuse() {
        if ((int) STATE.getVolatile(this) == IN_PROGRESS) {
            throw misuse(IN_PROGRESS, true);
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

    /** Built and not submitted: the only state in which an IRP may be taken (also one a handler hands back). */
    boolean ready() {
        return (int) STATE.getVolatile(this) == READY;
    }

    void begin() {
        if (!STATE.compareAndSet(this, READY, IN_PROGRESS)) {
            throw misuse((int) STATE.getVolatile(this), false);
        }
        pendingReturned = false;
        done = 0;
        next = null;
        cancelled = false;
    }

    /** Kept out of the hot methods: their code then holds no string constants to resolve late. */
    private static IllegalStateException misuse(int state, boolean reusing) {
        if (reusing) {
            return new IllegalStateException("IRP still in progress: it cannot be reused before it completes");
        }
        return new IllegalStateException(state == IN_PROGRESS
            ? "IRP already in progress: one IRP serves one request at a time"
            : "IRP completed: build it again (TdiBuildXxx / reuse()) before submitting it");
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
