package io.fastpath.stack.tcp;

/**
 * A {@link TcpServiceClient}'s event thread when it may be the stack's bound poll thread (a provider that
 * dispatches there: docs/architecture.md, "Direct events"). While {@link #eventsOnThisThread} holds on the poll
 * thread, the client's events are kept in a plain queue instead of being encoded onto its event ring, and right
 * after the stack's duty cycle the stack asks the taker to {@link #takeDirectEvents take} them: the provider
 * runs a dispatch round there, whose {@link TcpServiceClient#pollEvents} calls the handler for each, in order,
 * ahead of anything on the ring.
 *
 * <p>Thread: both methods on the stack's bound poll thread.
 */
public interface DirectEventTaker {
    /** Whether the client's events are taken on the calling thread (the provider dispatches on it). */
    boolean eventsOnThisThread();

    /**
     * Events wait in the client's direct queue and the stack is between duty cycles: take them now, through
     * {@link TcpServiceClient#pollEvents}, or leave them (a provider inside its own round, or closing: they wait
     * for its next {@code pollEvents}). Requests made from the handlers are direct calls.
     */
    void takeDirectEvents();
}
