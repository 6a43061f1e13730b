package io.fastpath.provider;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * An I/O request packet: caller-owned, allocated once and reused for request after request (IoReuseIrp), so
 * the request path allocates nothing. A request takes an IRP, returns STATUS_SUCCESS, STATUS_PENDING or a
 * failure, and the IRP completes exactly once; its {@link IoCompletionRoutine} then runs once, on the
 * provider's dispatch thread.
 *
 * <p>Each API subclasses this with its parameter block (the IO_STACK_LOCATION: {@code io.fastpath.wsk.Irp},
 * {@code io.fastpath.tdi.Irp}); the life cycle, the status block, the completion and cancel routines and the
 * queue link live here once.
 *
 * <p>Life cycle: ready (new or {@link #reuse() reused}) → in progress ({@link #begin}) → completed
 * ({@link #complete}). Handing an IRP still in progress to another request is a programming error (Windows
 * would bug-check) and throws {@link IllegalStateException}; so does reusing it before it completed. The move
 * to completed is a compare-and-set: of two threads completing the same IRP (a cancel racing a completion) one
 * wins and the other is told so; the routine runs once.
 *
 * <p>Threads: {@link #completed()}, {@link #pending()}, {@link #inProgress()} and {@link #cancel()} from any
 * thread; the rest on the provider's dispatch thread (or the caller's, before the IRP is handed over).
 *
 * <p>From Java: {@link #asStage()} gives the request's outcome as a {@link CompletionStage} of an
 * {@link IoResult}, for callers that would rather wait or chain than write a completion routine.
 *
 * @param <I> the API's IRP type (the subclass itself)
 */
public abstract class Irp<I extends Irp<I>> {
    static final int READY = 0;
    static final int IN_PROGRESS = 1;
    static final int COMPLETED = 2;
    /** Between winning {@link #complete} and publishing the status: neither in progress nor completed. */
    static final int COMPLETING = 3;

    private static final VarHandle STATE;
    private static final VarHandle CANCEL_QUEUED;
    // Release-mode writes of volatile fields, where a volatile write's full fence (a locked instruction on x86)
    // buys nothing: writes made before a CAS or a volatile write of the state that publishes them.
    private static final VarHandle PENDING_RETURNED;
    private static final VarHandle CANCEL_REQUESTED;
    private static final VarHandle CANCEL_ROUTINE;
    private static final VarHandle STAGE;
    private static final VarHandle INCARNATION;

    static {
        try {
            MethodHandles.Lookup l = MethodHandles.lookup();
            STATE = l.findVarHandle(Irp.class, "state", int.class);
            CANCEL_QUEUED = l.findVarHandle(Irp.class, "cancelQueued", boolean.class);
            PENDING_RETURNED = l.findVarHandle(Irp.class, "pendingReturned", boolean.class);
            CANCEL_REQUESTED = l.findVarHandle(Irp.class, "cancelRequested", boolean.class);
            CANCEL_ROUTINE = l.findVarHandle(Irp.class, "cancelRoutine", CancelRoutine.class);
            STAGE = l.findVarHandle(Irp.class, "stage", CompletableFuture.class);
            INCARNATION = l.findVarHandle(Irp.class, "incarnation", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final IoStatus ioStatus = new IoStatus();
    private IoCompletionRoutine<I> routine;
    private Object context;
    private volatile CancelRoutine<I> cancelRoutine;
    @SuppressWarnings("unused") // through STATE
    private volatile int state;
    private volatile boolean pendingReturned;
    private volatile boolean cancelRequested;
    /** {@link #asStage()}'s future for the current request; null unless asked for (the usual path allocates none). */
    private volatile CompletableFuture<IoResult> stage;
    /** The link of the {@link IrpQueue} holding the IRP (one at a time). */
    I next;
    /** Which request holds the IRP: {@link #begin} counts it up, so a cancel can name the request it meant. */
    volatile int incarnation;
    /** {@link CancelQueue}: the IRP is on it (at most once), its link, and the request the last cancel meant. */
    @SuppressWarnings("unused") // through CANCEL_QUEUED
    private volatile boolean cancelQueued;
    I cancelNext;
    volatile int cancelTarget;
    /** A completion put off by {@link IrpCompleter} (nested too deep): the result it will carry. */
    int deferredStatus;
    long deferredInformation;
    Object deferredObject;
    /** Verifier mode only: where the IRP last completed, for a report of a second completion. */
    private volatile Throwable verifyCompletedAt;
    // ---- the parameters every API's requests share (IO_STACK_LOCATION Parameters.*: the buffer, its Length and
    // the request's Flags); the API's own parameters are its subclass's. Written before the IRP is handed over.
    private long bufferAddress;
    private int bufferLength;
    private int flags;

    @SuppressWarnings("unchecked")
    private I self() {
        return (I) this;
    }

    /** IoSetCompletionRoutine: what runs when the IRP completes, with its context. */
    public final I setCompletionRoutine(IoCompletionRoutine<I> completionRoutine, Object completionContext) {
        this.routine = completionRoutine;
        this.context = completionContext;
        return self();
    }

    public final IoStatus ioStatus() {
        return ioStatus;
    }

    /** Irp->PendingReturned: the request that took this IRP returned STATUS_PENDING. */
    public final boolean pending() {
        return pendingReturned;
    }

    /** True once the IRP completed (its status is final and the routine has run or is running). */
    public final boolean completed() {
        return (int) STATE.getVolatile(this) == COMPLETED;
    }

    /** True while a request holds the IRP. */
    public final boolean inProgress() {
        return (int) STATE.getVolatile(this) == IN_PROGRESS;
    }

    /** Built (or reused) and not handed to a request yet. */
    public final boolean ready() {
        return (int) STATE.getVolatile(this) == READY;
    }

    /** Irp->Cancel: {@link #cancel()} was called while the request held the IRP. */
    public final boolean cancelRequested() {
        return cancelRequested;
    }

    /**
     * IoReuseIrp: makes a completed (or new) IRP ready for the next request; status becomes STATUS_SUCCESS,
     * Information 0, the parameters are cleared. The completion routine and its context stay.
     *
     * @throws IllegalStateException while a request still holds the IRP
     */
    public I reuse() {
        int s = (int) STATE.getVolatile(this);
        if (s == IN_PROGRESS || s == COMPLETING) {
            throw misuse(IN_PROGRESS, true);
        }
        ioStatus.set(NtStatus.STATUS_SUCCESS.code(), 0, null);
        // Not in progress: cancel() leaves the IRP alone, and the state's volatile write below publishes these.
        PENDING_RETURNED.setRelease(this, false);
        CANCEL_REQUESTED.setRelease(this, false);
        CANCEL_ROUTINE.setRelease(this, (CancelRoutine<I>) null);
        STAGE.setRelease(this, (CompletableFuture<IoResult>) null);
        next = null;
        clearBuffer();
        clearParameters();
        // Release, not volatile: it publishes the cleared fields to the next begin() (whose CAS acquires them) and to
        // readers of the state; nothing pairs a later read of this thread with it (cancel() and asStage() do nothing
        // with a ready IRP), so the full fence of a volatile write bought nothing.
        STATE.setRelease(this, READY);
        return self();
    }

    /**
     * IoCancelIrp: asks the provider to cancel the request (any thread). Whatever has not reached the point of
     * no return completes with STATUS_CANCELLED; what the stack already carries runs to its end (each API says
     * which requests are which).
     *
     * @return true if the IRP was in progress and the cancel was passed on
     */
    public final boolean cancel() {
        if ((int) STATE.getVolatile(this) != IN_PROGRESS) {
            return false;
        }
        cancelRequested = true;
        CancelRoutine<I> r = cancelRoutine;
        if (r != null) {
            r.cancel(self());
        }
        return true;
    }

    // ------------------------------------------------------------------------------------ provider side

    /**
     * Claims the IRP for a request (IoCallDriver): ready → in progress. {@code onCancel} is the request's cancel
     * routine (or null).
     *
     * @throws IllegalStateException if the IRP is in progress or completed and not reused
     */
    public final void begin(CancelRoutine<I> onCancel) {
        int s = (int) STATE.getVolatile(this);
        if (s != READY) {
            throw misuse(s, false);
        }
        // While ready the IRP is the caller's and cancel() leaves it alone, so everything a cancel reads is set
        // before the move to in progress: a cancel that sees in progress finds its flag kept and its routine. The
        // CAS below publishes them (a reader acquires the state first), so they are release writes, not fences.
        PENDING_RETURNED.setRelease(this, false);
        CANCEL_REQUESTED.setRelease(this, false);
        next = null;
        deferredObject = null;
        CANCEL_ROUTINE.setRelease(this, onCancel);
        INCARNATION.setRelease(this, (int) INCARNATION.get(this) + 1); // only the thread that begins writes it
        if (!STATE.compareAndSet(this, READY, IN_PROGRESS)) {
            throw misuse((int) STATE.getVolatile(this), false);
        }
        if (Verifier.ENABLED) {
            Verifier.irpBegun(this, onCancel);
        }
        onBegin();
    }

    /** {@link CancelQueue}: claims the IRP's place on the queue; false if it is queued already. */
    final boolean claimCancelLink() {
        return CANCEL_QUEUED.compareAndSet(this, false, true);
    }

    /** {@link CancelQueue}: off the queue (a later cancel queues it again). */
    final void releaseCancelLink() {
        CANCEL_QUEUED.setVolatile(this, false);
    }

    /** IoMarkIrpPending: the request returns STATUS_PENDING; the IRP completes later. */
    public final void markPending() {
        PENDING_RETURNED.setRelease(this, true); // published with the state when the IRP completes
    }

    /**
     * IoCompleteRequest without the routine: fills IoStatus and marks the IRP completed, if it was in progress.
     * Returns false (and changes nothing) when it was not: someone else completed it first (in {@link Verifier}
     * mode this is reported with both completions' stacks: check {@link #inProgress()} first where a race is
     * expected). Run the routine with
     * {@link #runCompletionRoutine} (or let {@link IrpCompleter} do both).
     */
    public final boolean complete(NtStatus status, long information, Object object) {
        return complete(status.code(), information, object);
    }

    /** {@link #complete(NtStatus, long, Object)} with the raw NTSTATUS value (the providers' hot path). */
    public final boolean complete(int status, long information, Object object) {
        // One of two racing completers wins the CAS; the status is written before the state says completed,
        // so a thread that sees completed() sees the status.
        if (!STATE.compareAndSet(this, IN_PROGRESS, COMPLETING)) {
            if (Verifier.ENABLED) {
                Verifier.irpCompletedAgain(this, verifyCompletedAt);
            }
            return false;
        }
        try {
            if (Verifier.ENABLED) {
                verifyCompletedAt = Verifier.irpCompleted(this);
            }
            ioStatus.set(status, information, object);
            next = null;
            // A cancel that read the routine before this still calls it: the routines allow for a completed IRP.
            CANCEL_ROUTINE.setRelease(this, (CancelRoutine<I>) null);
            onComplete();
        } finally {
            // A release write, not a volatile one: the CAS above is the completion's one full fence. It publishes
            // the status to whoever reads COMPLETED (an acquire), and for asStage()'s Dekker it is the completer's
            // write of the state: a stage written before an asStage() read the state as IN_PROGRESS is seen by the
            // read of the stage that follows the CAS (runCompletionRoutine); an asStage() that reads COMPLETING
            // waits for COMPLETED and completes the stage itself. A volatile write here cost a second locked
            // instruction per completion, which drains the store buffer (docs/perf/apis.md, "Provider per-event
            // work"). In a finally: whatever threw above, an asStage() spinning on COMPLETING never spins forever.
            STATE.setRelease(this, COMPLETED);
        }
        return true;
    }

    /**
     * Runs the completion routine (if any) on this thread; what it throws goes to {@code errors}. Then completes
     * the {@link #asStage() stage}, if one was asked for, with the status as it was when the IRP completed.
     */
    public final void runCompletionRoutine(java.util.function.Consumer<Throwable> errors) {
        IoCompletionRoutine<I> r = routine;
        CompletableFuture<IoResult> s = stage; // read after the state turned completed: see asStage()
        // The copy is taken before the routine runs: the routine may reuse the IRP for its next request.
        IoResult result = s == null ? null : IoResult.of(ioStatus);
        if (r != null) {
            long start = Verifier.ENABLED ? Verifier.handlerStart() : 0;
            try {
                r.onComplete(self(), context);
            } catch (Throwable t) {
                errors.accept(t);
            }
            if (Verifier.ENABLED) {
                Verifier.handlerDone(start, r, "completion routine");
            }
        }
        if (s != null) {
            s.complete(result); // its dependent stages run here; what they throw stays in their own stages
        }
    }

    /**
     * The current request's outcome as a {@link CompletionStage}, for callers who would rather wait for it or
     * chain on it than write a completion routine. Ask before or after handing the IRP to the request, from the
     * thread that owns the request; the stage then completes exactly once, when the IRP completes (inline or
     * later), with an {@link IoResult}: a copy of the IoStatus taken at completion, so reusing the IRP afterwards
     * does not change it. A failure status completes the stage normally; it never completes exceptionally.
     *
     * <p>With a completion routine too: the routine runs first and the stage completes after it, on the same
     * (dispatch) thread, as Windows runs the drivers' routines before it signals the waiting thread. A routine that
     * reuses the IRP and starts its next request does not disturb the stage: it carries the first request's
     * result, and the next request needs its own {@code asStage()}. Asked for only once the IRP has completed, the
     * stage is complete already.
     *
     * <p>Dependent actions added with the non-async methods run on the dispatch thread: keep them short, or use
     * the {@code *Async} forms. Blocking on the stage ({@code toCompletableFuture().join()}) is fine from any thread
     * other than the provider's dispatch thread, virtual threads included (the dispatch thread would wait for
     * itself).
     *
     * <p>Allocates (the future and its view) only when called; IoReuseIrp drops the stage.
     *
     * @return a stage the caller cannot complete itself
     */
    public final CompletionStage<IoResult> asStage() {
        CompletableFuture<IoResult> s = stage;
        if (s == null) {
            s = new CompletableFuture<>();
            stage = s;
        }
        // Dekker with complete()/runCompletionRoutine(): this writes the stage then reads the state, the completer
        // moves the state by CAS (IN_PROGRESS to COMPLETING) then reads the stage; of two volatile orders one sees
        // the other, so the stage completes (twice at worst: CompletableFuture keeps the first, equal, value). Seen
        // COMPLETING, the completer may have read the stage before this wrote it: wait for COMPLETED (the completer
        // only fills the status block meanwhile, no routine runs) and complete the stage here.
        int st;
        while ((st = (int) STATE.getVolatile(this)) == COMPLETING) {
            Thread.onSpinWait();
        }
        if (st == COMPLETED) {
            s.complete(IoResult.of(ioStatus));
        }
        return s.minimalCompletionStage();
    }

    /** Has a completion routine (a deferred completion matters only then). */
    public final boolean hasCompletionRoutine() {
        return routine != null;
    }

    /** The completion routine's context. */
    public final Object completionContext() {
        return context;
    }

    /** The request's buffer: the native address of its first byte (the MDL's system address; 0: none). */
    public final long bufferAddress() {
        return bufferAddress;
    }

    /** The request's buffer length in bytes (Parameters.*.Length). */
    public final int bufferLength() {
        return bufferLength;
    }

    /** The request's flags (Parameters.*.Flags: the API's TDI_SEND_*, WSK_FLAG_*, ...). */
    public final int flags() {
        return flags;
    }

    /** Sets the request's buffer (the API's request builders). */
    protected final void setBuffer(long address, int length) {
        bufferAddress = address;
        bufferLength = length;
    }

    /** Sets the request's flags (the API's request builders). */
    protected final void setFlags(int requestFlags) {
        flags = requestFlags;
    }

    /** Clears the shared parameters (buffer and flags); {@link #reuse()} does it before {@link #clearParameters()}. */
    protected final void clearBuffer() {
        bufferAddress = 0;
        bufferLength = 0;
        flags = 0;
    }

    /** Clears the API's parameter block ({@link #reuse()}). */
    protected abstract void clearParameters();

    /** The API's own resets when a request takes the IRP ({@link #begin}); by default none. */
    protected void onBegin() {
    }

    /** The API's own clean-up when the IRP completes (drop references the completed IRP should not hold). */
    protected void onComplete() {
    }

    /** Kept out of the hot methods: their code then holds no string constants to resolve late. */
    private static IllegalStateException misuse(int state, boolean reusing) {
        if (reusing) {
            return new IllegalStateException("IRP still in progress: it cannot be reused before it completes");
        }
        return new IllegalStateException(state == COMPLETED
            ? "IRP completed: reuse it (IoReuseIrp, or build it again) before handing it to another request"
            : "IRP already in progress: one IRP serves one request at a time");
    }

    /** The state in words, for the subclasses' toString. */
    protected final String stateText() {
        int s = (int) STATE.getVolatile(this);
        return s == READY ? "ready" : s == COMPLETED ? "completed " + ioStatus : "in progress";
    }

    @Override
    public String toString() {
        return "Irp[" + stateText() + "]";
    }
}
