package io.fastpath.provider;

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
 */
public final class DispatchLoop {
    private final String roleName;
    private final Consumer<Throwable> errors;
    private final IntSupplier round;
    private volatile Thread owner = Thread.currentThread();
    private boolean dispatching;
    private AgentRunner runner;

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

    /** True while an own thread ({@link #startThread}) runs. */
    public synchronized boolean hasThread() {
        return runner != null;
    }

    /** {@link #startThread(IdleMode)} with {@link IdleMode#BACKOFF}. */
    public void startThread() {
        startThread(IdleMode.BACKOFF);
    }

    /**
     * Own-thread mode: starts a thread that loops the round; it becomes the dispatch thread (until then
     * {@link #onDispatchThread()} is false everywhere, so calls from other threads queue). Call from the current
     * dispatch thread.
     */
    public synchronized void startThread(IdleMode idle) {
        checkThread("start the dispatcher from the dispatch thread");
        if (runner != null) {
            throw new IllegalStateException("dispatcher already running");
        }
        owner = null;
        runner = new AgentRunner(idle.newStrategy(), errors::accept, null, new Agent() {
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
        AgentRunner.startOnThread(runner);
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
        AgentRunner r;
        synchronized (this) {
            r = runner;
            runner = null;
        }
        if (r != null) {
            r.close();
            owner = null;
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
