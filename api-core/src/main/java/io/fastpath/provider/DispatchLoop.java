package io.fastpath.provider;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.IntSupplier;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.AgentRunner;

/**
 * Who runs a provider: the one <em>dispatch thread</em> on which every completion routine, event callback and
 * request of a provider (WSK, TDI, NDK) runs, and the loop that drives it.
 *
 * <p>Two modes, as Aeron's threading modes: <b>invoker</b> (the default: the thread that made the provider owns
 * it and calls the provider's {@code dispatch()} in its own loop - tests, embedding) and <b>own thread</b>
 * ({@link #startThread}: an {@link AgentRunner} loops {@code dispatch()} with an idle strategy). A provider may
 * also be driven by another agent (the stack's poll thread): {@link #handOff()} then {@link #adopt()} from that
 * agent's {@code onStart}.
 *
 * <p>{@link #dispatch()} runs one round: it checks the thread and refuses re-entry (a routine or callback calling
 * {@code dispatch()}), which would run completions inside completions.
 *
 * <p><b>Lifecycle</b>, lock-free: one state word moved by compare-and-set, so that two racing starts, or a start
 * racing {@link #beginClose()}, have exactly one winner and the loser gets the exception it would get one call
 * later:
 * <pre>
 *   INVOKER --startThread--> STARTING --> THREAD --stopThread--> INVOKER
 *   INVOKER --handOffToAgent--> STARTING --> AGENT
 *   INVOKER | THREAD | AGENT --beginClose--> CLOSING --closed--> CLOSED
 * </pre>
 * STARTING lasts only while the winner sets up the new owner (no blocking), so a closer meeting it spins.
 */
public final class DispatchLoop {
    private final String roleName;
    private final Consumer<Throwable> errors;
    private final IntSupplier round;
    private volatile Thread owner = Thread.currentThread();
    private boolean dispatching;

    private static final int INVOKER = 0;
    private static final int STARTING = 1;
    private static final int THREAD = 2;
    private static final int AGENT = 3;
    private static final int CLOSING = 4;
    private static final int CLOSED = 5;
    /**
     * A field of the loop, not an {@code AtomicInteger}: {@link #takesEventsHere()} reads it for every event the
     * stack posts on the dispatch thread, next to {@link #owner}, so one cache line serves both.
     */
    private volatile int state = INVOKER;
    private static final VarHandle STATE;

    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(DispatchLoop.class, "state", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
    /** The state {@link #beginClose()} moved from. */
    private volatile int closedFrom = INVOKER;
    /** The own thread's runner: set by the STARTING winner, taken by one {@link #stopThread()}. */
    private final AtomicReference<AgentRunner> runner = new AtomicReference<>();

    /**
     * @param roleName the own thread's name
     * @param errors   where what the round throws goes (own-thread mode)
     * @param round    the work of one dispatch round (the provider's queues, the stack's events, time-outs,
     *                 deferred completions), returning the work done
     */
    public DispatchLoop(String roleName, Consumer<Throwable> errors, IntSupplier round) {
        this.roleName = roleName;
        this.errors = errors;
        this.round = round;
    }

    /** True on the dispatch thread. */
    public boolean onDispatchThread() {
        return Thread.currentThread() == owner;
    }

    /** The dispatch thread, or null while it changes hands. */
    public Thread owner() {
        return owner;
    }

    /**
     * Whether the stack may keep this provider's events for a direct call on the calling thread
     * ({@link io.fastpath.stack.tcp.DirectEventTaker}): it is the dispatch thread and the provider is not closing.
     */
    public boolean takesEventsHere() {
        return Thread.currentThread() == owner && state < CLOSING;
    }

    /**
     * The stack, after its duty cycle, hands over events kept for a direct call: one round now, unless this is
     * not the dispatch thread, a round runs already (a routine that ran a duty cycle) or the provider is closing;
     * then they wait for the next round. Returns the work done.
     */
    public int dispatchForEvents() {
        if (Thread.currentThread() != owner || dispatching || state >= CLOSING) {
            return 0;
        }
        try {
            return dispatch();
        } catch (RuntimeException e) {
            // A routine or callback threw: it goes where the round's errors go, not out of the stack's duty cycle
            // (the other clients' events and the poll loop go on).
            errors.accept(e);
            return 1;
        }
    }

    /** True inside a round. */
    public boolean dispatching() {
        return dispatching;
    }

    /**
     * Runs one round on the dispatch thread (the provider's {@code dispatch()}); returns the work done (0 = idle).
     *
     * @throws IllegalStateException off the dispatch thread, or re-entered from a routine or callback
     */
    public int dispatch() {
        if (Thread.currentThread() != owner || dispatching) {
            throw misuse();
        }
        dispatching = true;
        try {
            if (Verifier.ENABLED) {
                Verifier.tick(System.nanoTime());
            }
            return round.getAsInt();
        } finally {
            dispatching = false;
        }
    }

    /** Kept out of {@link #dispatch()}: the hot method then holds no string constants. */
    private IllegalStateException misuse() {
        if (dispatching && Thread.currentThread() == owner) {
            return new IllegalStateException("dispatch() is not re-entrant: do not call it from a routine or callback");
        }
        return new IllegalStateException("dispatch() runs on the dispatch thread (" + owner + "), not "
            + Thread.currentThread());
    }

    /**
     * @throws IllegalStateException with {@code what} off the dispatch thread
     */
    public void checkThread(String what) {
        if (Thread.currentThread() != owner) {
            throw new IllegalStateException(what + " (dispatch thread " + owner + ", called on "
                + Thread.currentThread() + ")");
        }
    }

    /** True while an own thread ({@link #startThread}) runs (or is being started). */
    public boolean hasThread() {
        int s = state;
        return s == THREAD || (s == STARTING && runner.get() != null);
    }

    /** {@link #startThread(IdleMode)} with {@link IdleMode#BACKOFF}. */
    public void startThread() {
        startThread(IdleMode.BACKOFF);
    }

    /**
     * Own-thread mode: starts a thread that loops the round; it becomes the dispatch thread (until then
     * {@link #onDispatchThread()} is false everywhere, so calls from other threads queue). Call from the current
     * dispatch thread.
     *
     * @throws IllegalStateException off the dispatch thread, when a thread or agent dispatches already, or once
     *     {@link #beginClose() closing} ("provider closed")
     */
    public void startThread(IdleMode idle) {
        checkThread("start the dispatcher from the dispatch thread");
        claimStart("dispatcher already running");
        AgentRunner r = new AgentRunner(idle.newStrategy(), errors::accept, null, new Agent() {
            @Override
            public void onStart() {
                owner = Thread.currentThread();
            }

            @Override
            public int doWork() {
                return dispatch();
            }

            @Override
            public String roleName() {
                return roleName;
            }
        });
        runner.set(r);
        owner = null;
        try {
            AgentRunner.startOnThread(r);
        } catch (RuntimeException | Error e) {
            runner.set(null);
            owner = Thread.currentThread();
            state = INVOKER;
            throw e;
        }
        state = THREAD;
    }

    /**
     * Hands the role over to another agent (the stack's poll thread), which {@link #adopt()}s it in its first duty
     * cycle; until then no thread is the dispatch thread (every call queues). Once only, from the dispatch thread.
     *
     * @throws IllegalStateException off the dispatch thread, when a thread or agent dispatches already
     *     ({@code busy}), or once {@link #beginClose() closing} ("provider closed")
     */
    public void handOffToAgent(String busy) {
        checkThread("hand the provider over from its dispatch thread");
        claimStart(busy);
        owner = null;
        state = AGENT;
    }

    private boolean casState(int expected, int s) {
        return STATE.compareAndSet(this, expected, s);
    }

    /** INVOKER to STARTING, or the exception of the state that won. */
    private void claimStart(String busy) {
        if (!casState(INVOKER, STARTING)) {
            int s = state;
            throw new IllegalStateException(s == CLOSING || s == CLOSED ? "provider closed" : busy);
        }
    }

    /**
     * Starts closing: the one caller that gets true closes the provider (and calls {@link #closed()} at the end);
     * every other, and every later start, sees it closing. Waits out a start in progress (it does not block).
     */
    public boolean beginClose() {
        for (;;) {
            int s = state;
            if (s == CLOSING || s == CLOSED) {
                return false;
            }
            if (s == STARTING) {
                Thread.onSpinWait();
            } else if (casState(s, CLOSING)) {
                closedFrom = s;
                return true;
            }
        }
    }

    /** True when {@link #beginClose()} found the role handed to another agent ({@link #handOffToAgent}). */
    public boolean closingFromAgent() {
        return closedFrom == AGENT;
    }

    /** The closer is done ({@link #beginClose()}). */
    public void closed() {
        state = CLOSED;
    }

    /** True from {@link #beginClose()} on. */
    public boolean closing() {
        return state >= CLOSING;
    }

    /** Waits until the own thread has taken over (it sets itself as the owner when it starts). */
    public void awaitStarted() {
        while (owner == null) {
            Thread.onSpinWait();
        }
    }

    /**
     * Stops the own thread, if one runs, and waits for its last round. No thread is the dispatch thread then
     * until one {@link #adopt()}s the role.
     */
    public void stopThread() {
        while (state == STARTING) {
            Thread.onSpinWait(); // the runner is being set up: stop it once it is
        }
        AgentRunner r = runner.getAndSet(null);
        if (r != null) {
            r.close();
            owner = null;
            casState(THREAD, INVOKER);
        }
    }

    /** Gives the role up: until {@link #adopt()} runs, no thread is the dispatch thread (every call queues). */
    public void handOff() {
        owner = null;
    }

    /** The calling thread becomes the dispatch thread (from a driving agent's {@code onStart}, or to close). */
    public void adopt() {
        owner = Thread.currentThread();
    }
}
