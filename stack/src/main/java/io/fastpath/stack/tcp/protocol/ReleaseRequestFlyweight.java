package io.fastpath.stack.tcp.protocol;

import org.agrona.MutableDirectBuffer;

/**
 * {@link RequestType#RELEASE}, on a client's release ring: a received mbuf goes back. With the ring's 8-byte
 * record header (the record's sequence, which publishes it) a release takes {@link #RECORD_LENGTH} bytes of ring,
 * always: the ring is sized in whole records, so no record ever needs padding at the wrap. Native byte order,
 * 8-byte aligned.
 *
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                  Connection Handle (generation | slot)         |  0
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                        Mbuf Address                           |  8
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |           Length (only tells two descriptors of one mbuf apart)| 16
 *  +---------------------------------------------------------------+
 *  |                           Reserved                            | 20
 *  +---------------------------------------------------------------+
 * </pre>
 */
public final class ReleaseRequestFlyweight extends Flyweight {
    public static final int HANDLE_OFFSET = 0;
    public static final int MBUF_OFFSET = 8;
    public static final int LENGTH_OFFSET = 16;
    public static final int LENGTH = 24;
    /** Ring bytes per release: the ring's 8-byte header and the body, aligned to 8. */
    public static final int RECORD_LENGTH = 32;

    public ReleaseRequestFlyweight wrap(MutableDirectBuffer buffer, int offset) {
        wrapAt(buffer, offset);
        return this;
    }

    public long handle() {
        return buffer.getLong(offset + HANDLE_OFFSET);
    }

    public ReleaseRequestFlyweight handle(long value) {
        buffer.putLong(offset + HANDLE_OFFSET, value);
        return this;
    }

    public long mbuf() {
        return buffer.getLong(offset + MBUF_OFFSET);
    }

    public ReleaseRequestFlyweight mbuf(long value) {
        buffer.putLong(offset + MBUF_OFFSET, value);
        return this;
    }

    public int length() {
        return buffer.getInt(offset + LENGTH_OFFSET);
    }

    public ReleaseRequestFlyweight length(int value) {
        buffer.putInt(offset + LENGTH_OFFSET, value);
        return this;
    }
}
