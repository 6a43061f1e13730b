package io.fastpath.stack.tcp.protocol;

import org.agrona.MutableDirectBuffer;

/**
 * {@link RequestType#CONTROL_SLOT}, on a client's control ring: a connection slot whose control flags (abort,
 * shutdown, accept, reject) became pending. A slot is queued only when its flags go from none to some, so the
 * ring holds each slot at most once and, sized for every slot ({@link #RECORD_LENGTH} bytes each), cannot
 * fill. Native byte order.
 *
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                       Connection Slot                         |  0
 *  +---------------------------------------------------------------+
 * </pre>
 */
public final class SlotFlyweight extends Flyweight {
    public static final int SLOT_OFFSET = 0;
    public static final int LENGTH = 4;
    /** Ring bytes per slot: Agrona's 8-byte header and the body, aligned to 8. */
    public static final int RECORD_LENGTH = 16;

    public SlotFlyweight wrap(MutableDirectBuffer buffer, int offset) {
        wrapAt(buffer, offset);
        return this;
    }

    public int slot() {
        return buffer.getInt(offset + SLOT_OFFSET);
    }

    public SlotFlyweight slot(int value) {
        buffer.putInt(offset + SLOT_OFFSET, value);
        return this;
    }
}
