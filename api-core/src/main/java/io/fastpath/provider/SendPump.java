package io.fastpath.provider;

/**
 * The sends of one connection on their way to the stack: the IRPs waiting here, and the ones handed to the
 * stack (at most {@code maxInStack} at a time, so one connection cannot fill the request ring) and not answered
 * yet. Both queues are linked through the IRPs: no allocation.
 *
 * <p>Order: IRPs are handed over in the order they were queued, and the stack answers a connection's sends in
 * the order it took them, so {@link #completeOldest()} matches a completion to its IRP; an API that carries
 * its own request id may match with {@link #remove(Irp)} instead.
 *
 * <p>Dispatch thread only.
 *
 * @param <I> the API's IRP type
 */
public final class SendPump<I extends Irp<I>> {
    /** {@link Submitter#submit}: the IRP went to the stack; it is answered later ({@link #completeOldest()}). */
    public static final int SUBMITTED = 0;
    /** {@link Submitter#submit}: the submitter took the IRP off the pump for good (a FIN, an empty send). */
    public static final int TAKEN = 1;
    /** {@link Submitter#submit}: not now (the request ring is full, or the IRP waits for the ones before it). */
    public static final int STOP = 2;

    /** Hands one IRP to the stack: the API's own request shape (send, urgent send, FIN after the sends). */
    @FunctionalInterface
    public interface Submitter<I> {
        /**
         * @param irp the oldest waiting IRP
         * @param drained true when no earlier send is still in the stack
         * @return {@link #SUBMITTED}, {@link #TAKEN} or {@link #STOP}
         */
        int submit(I irp, boolean drained);
    }

    private final IrpQueue<I> waiting = new IrpQueue<>();
    private final IrpQueue<I> inStack = new IrpQueue<>();
    private final int maxInStack;
    private final Submitter<I> submitter;

    public SendPump(int maxInStack, Submitter<I> submitter) {
        this.maxInStack = maxInStack;
        this.submitter = submitter;
    }

    /** Queues a send behind the others; {@link #pump()} hands it over. */
    public void add(I irp) {
        waiting.add(irp);
    }

    /**
     * Hands waiting IRPs to the stack while there is room, in order. Returns false when the submitter stopped
     * with IRPs left (the caller decides whether to try again next round).
     */
    public boolean pump() {
        I irp;
        while ((irp = waiting.peek()) != null && inStack.size() < maxInStack) {
            int r = submitter.submit(irp, inStack.isEmpty());
            if (r == STOP) {
                return false;
            }
            if (waiting.peek() == irp) { // a submitter's completion routine may have emptied the pump meanwhile
                waiting.poll();
                if (r == SUBMITTED) {
                    inStack.add(irp);
                }
            }
        }
        return true;
    }

    /** The stack answered the oldest send it holds: that IRP, taken off the pump (null when none is there). */
    public I completeOldest() {
        return inStack.poll();
    }

    /** Takes {@code irp} off the pump wherever it is; false when it is not here. */
    public boolean remove(I irp) {
        return waiting.remove(irp) || inStack.remove(irp);
    }

    /** Takes {@code irp} off the waiting queue (a cancel: sends in the stack cannot be withdrawn). */
    public boolean removeWaiting(I irp) {
        return waiting.remove(irp);
    }

    /** The oldest IRP not handed over yet, taken off the pump (to fail it), or null. */
    public I pollWaiting() {
        return waiting.poll();
    }

    /** The oldest IRP in the stack, taken off the pump (the stack will not answer for it), or null. */
    public I pollInStack() {
        return inStack.poll();
    }

    public boolean waitingEmpty() {
        return waiting.isEmpty();
    }

    /** Sends the stack holds and has not answered for. */
    public int inStack() {
        return inStack.size();
    }

    /** Nothing waiting and nothing in the stack. */
    public boolean isEmpty() {
        return waiting.isEmpty() && inStack.isEmpty();
    }
}
