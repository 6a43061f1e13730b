package io.fastpath.tdi;

/** A FIFO of IRPs linked through {@link Irp#next}: no allocation (dispatch thread only). */
final class IrpQueue {
    private Irp head;
    private Irp tail;
    private int size;

    void add(Irp irp) {
        irp.next = null;
        if (tail == null) {
            head = irp;
        } else {
            tail.next = irp;
        }
        tail = irp;
        size++;
    }

    void addFirst(Irp irp) {
        irp.next = head;
        head = irp;
        if (tail == null) {
            tail = irp;
        }
        size++;
    }

    Irp peek() {
        return head;
    }

    Irp poll() {
        Irp h = head;
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

    boolean remove(Irp irp) {
        Irp previous = null;
        for (Irp i = head; i != null; previous = i, i = i.next) {
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

    boolean isEmpty() {
        return head == null;
    }

    int size() {
        return size;
    }
}
