package io.fastpath.provider;

import io.fastpath.stack.Stack;
import java.util.function.Consumer;

/**
 * What a provider (WSK, TDI) shares about who runs it: its {@link DispatchLoop}, the round it loops, and the calls
 * that choose the mode (invoker by default, or a dispatcher thread of its own). The provider's round and its
 * close stay its own; close starts with {@link DispatchLoop#beginClose()}, so a start racing it has one winner.
 */
public abstract class DispatchedProvider implements AutoCloseable {
    /** The stack the provider runs over. */
    protected final Stack stack;
    /** The provider's dispatch loop: its thread, mode and lifecycle state. */
    protected final DispatchLoop loop;

    /**
     * @param stack    the stack the provider runs over
     * @param roleName the dispatcher thread's name
     * @param errors   where what a round throws on the dispatcher thread goes
     */
    @SuppressWarnings("this-escape") // the loop calls round() only from dispatch(), after construction
    protected DispatchedProvider(Stack stack, String roleName, Consumer<Throwable> errors) {
        this.stack = stack;
        this.loop = new DispatchLoop(roleName, errors, this::round);
    }

    /** The stack the provider runs over. */
    public Stack stack() {
        return stack;
    }

    /** One round's work ({@link #dispatch()}, guarded by the loop), returning the work done. */
    protected abstract int round();

    /**
     * Runs one round of the provider on the dispatch thread: calls queued from other threads, the stack's events,
     * time-outs, deferred work and completions. Completion routines and event callbacks run inside this call.
     * Returns the work done (0 = idle).
     *
     * @throws IllegalStateException on a thread other than the dispatch thread, or when called from a
     *     completion routine or callback
     */
    public int dispatch() {
        return loop.dispatch();
    }

    /** Starts a thread of the provider's own that loops {@link #dispatch()} with a backoff idle strategy. */
    public void startDispatcherThread() {
        startDispatcherThread(IdleMode.BACKOFF);
    }

    /**
     * Starts a thread of the provider's own that loops {@link #dispatch()}; from then on every call made on other
     * threads is queued to it. Call from the current dispatch thread.
     *
     * @throws IllegalStateException off the dispatch thread, when a thread dispatches already, or once the
     *     provider is closing ("provider closed")
     */
    public void startDispatcherThread(IdleMode idle) {
        loop.startThread(idle); // until the new thread runs, every call queues
    }

    /** Closes the provider (its own close sequence, started by {@link DispatchLoop#beginClose()}). */
    @Override
    public abstract void close();

    /** True on the thread that runs completions and callbacks. */
    public boolean onDispatchThread() {
        return loop.onDispatchThread();
    }
}
