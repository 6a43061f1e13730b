package io.fastpath.wsk;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * An I/O request packet: caller-owned, allocated once and reused for call after call (IoReuseIrp), so the
 * request path allocates nothing. A WSK call takes an IRP, returns STATUS_SUCCESS, STATUS_PENDING or a
 * failure, and completes the IRP with that same status in every case; the {@link IrpCompletionRoutine}
 * runs exactly once per call.
 *
 * <p>Life cycle: new or {@link #reuse() reused} → in progress (handed to a call) → completed. Handing an IRP
 * that is still in progress to another call is a programming error (Windows would bug-check) and throws
 * {@link IllegalStateException}; so does reusing it before it completed. A completed IRP must be reused
 * before the next call.
 *
 * <p>Threads: the provider fills the status and runs the routine on its dispatch thread; {@link #completed()},
 * {@link #pending()} and {@link #cancel()} may be called from any thread.
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
    private IrpCompletionRoutine routine;
    private Object context;
    @SuppressWarnings("unused") // accessed through STATE
    private volatile int state;
    private volatile boolean pendingReturned;
    volatile boolean cancelRequested;

    // ---- the request's parameters (the IO_STACK_LOCATION), written by the call, read on the dispatch thread
    int op;
    WskSocket socket;
    WskProvider provider;
    long bufferAddress;
    int bufferLength;
    boolean hasBuffer;
    int flags;
    SocketAddressV4 address;
    SocketAddressV4 address2;
    /** WskAccept's LocalAddress / RemoteAddress out-parameters (optional). */
    SocketAddressV4Out localOut;
    SocketAddressV4Out remoteOut;
    Object requestContext;
    WskClientDispatch requestDispatch;
    int family;
    int type;
    int protocol;
    int controlCode;
    int level;
    long value;
    // ---- progress while pending
    long progress;
    boolean submitted;
    Irp next;
    boolean queuedForCancel;

    /** IoSetCompletionRoutine: what runs when the IRP completes, with its context. */
    public Irp setCompletionRoutine(IrpCompletionRoutine completionRoutine, Object completionContext) {
        this.routine = completionRoutine;
        this.context = completionContext;
        return this;
    }

    public IoStatus ioStatus() {
        return ioStatus;
    }

    /** True when the call that took this IRP returned STATUS_PENDING (Irp->PendingReturned). */
    public boolean pending() {
        return pendingReturned;
    }

    /** True once the IRP completed (its status is final and the routine has run or is running). */
    public boolean completed() {
        return (int) STATE.getVolatile(this) == COMPLETED;
    }

    /** True while a call holds the IRP. */
    public boolean inProgress() {
        return (int) STATE.getVolatile(this) == IN_PROGRESS;
    }

    /**
     * IoReuseIrp: makes a completed (or new) IRP ready for the next call; status becomes STATUS_SUCCESS,
     * Information 0. The completion routine and its context stay.
     *
     * @throws IllegalStateException while a call still holds the IRP
     */
    public Irp reuse() {
        if ((int) STATE.getVolatile(this) == IN_PROGRESS) {
            throw new IllegalStateException("IRP still in progress: it cannot be reused before it completes");
        }
        ioStatus.set(WskStatus.STATUS_SUCCESS, 0, null);
        pendingReturned = false;
        cancelRequested = false;
        clearParameters();
        STATE.setVolatile(this, READY);
        return this;
    }

    /**
     * IoCancelIrp: asks the provider to cancel the pending request. Accepts, receives and sends that have not
     * reached the stack yet complete with STATUS_CANCELLED (a receive keeps the bytes it already has in
     * Information); so do connects (WskConnect, WskConnectEx, WskSocketConnect: the attempt is reset when the
     * stack answers, see WskSocket); requests the stack is already carrying out (data in the send buffer,
     * disconnect) run to their end. Any thread.
     *
     * @return true if the IRP was in progress and the cancel was passed on
     */
    public boolean cancel() {
        if ((int) STATE.getVolatile(this) != IN_PROGRESS) {
            return false;
        }
        cancelRequested = true;
        WskProvider p = provider;
        if (p != null) {
            p.requestCancel(this);
        }
        return true;
    }

    // ------------------------------------------------------------------------------------ provider side

    /** Claims the IRP for a call. */
    void begin(int operation) {
        if (!STATE.compareAndSet(this, READY, IN_PROGRESS)) {
            throw new IllegalStateException((int) STATE.getVolatile(this) == IN_PROGRESS
                ? "IRP already in progress: one IRP serves one call at a time"
                : "IRP completed: call reuse() (IoReuseIrp) before handing it to another call");
        }
        clearParameters();
        this.op = operation;
        this.pendingReturned = false;
        this.cancelRequested = false;
    }

    void markPending() {
        pendingReturned = true;
    }

    /** Fills the status and marks the IRP completed; returns the routine to run (or null). */
    IrpCompletionRoutine finish(int status, long information, Object object) {
        ioStatus.set(status, information, object);
        next = null;
        socket = null;
        STATE.setVolatile(this, COMPLETED);
        return routine;
    }

    Object context() {
        return context;
    }

    boolean hasRoutine() {
        return routine != null;
    }

    private void clearParameters() {
        op = 0;
        socket = null;
        bufferAddress = 0;
        bufferLength = 0;
        hasBuffer = false;
        flags = 0;
        address = null;
        address2 = null;
        localOut = null;
        remoteOut = null;
        requestContext = null;
        requestDispatch = null;
        family = 0;
        type = 0;
        protocol = 0;
        controlCode = 0;
        level = 0;
        value = 0;
        progress = 0;
        submitted = false;
        next = null;
        queuedForCancel = false;
    }

    @Override
    public String toString() {
        int s = (int) STATE.getVolatile(this);
        return "Irp[" + (s == READY ? "ready" : s == IN_PROGRESS ? "in progress" : "completed " + ioStatus) + "]";
    }
}
