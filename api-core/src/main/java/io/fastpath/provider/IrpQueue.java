package io.fastpath.provider;

/**
 * A FIFO of IRPs linked through the IRPs themselves (an IRP sits in one queue at a time): no allocation.
 * Dispatch thread only.
 *
 * @param <I> the API's IRP type
 */
public final class IrpQueue<I extends Irp<I>> {
    private I head;
    private I tail;
    private int size;

    public void add(I irp) {
        irp.next = null;
        if (tail == null) {
            head = irp;
        } else {
            tail.next = irp;
        }
        tail = irp;
        size++;
    }

    /** Puts {@code irp} at the head (a request that goes back to the front of the line). */
    public void addFirst(I irp) {
        irp.next = head;
        head = irp;
        if (tail == null) {
            tail = irp;
        }
        size++;
    }

    public I peek() {
        return head;
    }

    /** The IRP after {@code irp} in this queue, or null (to walk the queue from {@link #peek()}). */
    public I next(I irp) {
        return irp.next;
    }

    public I poll() {
        I h = head;
        if (h != null) {
            head = h.next;
            if (head == null) {
                tail = null;
            }
            h.next = null;
            size--;
        }
        return h;
    }

    /** Removes {@code irp} wherever it stands; false if it is not in this queue. */
    public boolean remove(I irp) {
        I previous = null;
        for (I i = head; i != null; previous = i, i = i.next) {
            if (i == irp) {
                if (previous == null) {
                    head = i.next;
                } else {
                    previous.next = i.next;
                }
                if (tail == i) {
                    tail = previous;
                }
                i.next = null;
                size--;
                return true;
            }
        }
        return false;
    }

    public boolean isEmpty() {
        return head == null;
    }

    public int size() {
        return size;
    }
}
