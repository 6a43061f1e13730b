package io.fastpath.wsk;

/**
 * WSK_DATA_INDICATION: one link of the chain a {@link WskClientConnectionDispatch#wskReceiveEvent} receives,
 * describing received bytes in place in the mbuf they arrived in (zero copy): {@link #buffer()} gives
 * address, offset and length; {@link #next()} the next link or null.
 *
 * <p>Ownership: the chain is lent for the duration of the callback. If the callback returns STATUS_PENDING the
 * application keeps the whole chain (and the mbufs under it) until it hands the first link to
 * {@link WskSocket#release} / {@link WskProvider#release}; until then the bytes count against the
 * connection's receive window. The objects are pooled by the provider: do not touch a chain after releasing it.
 */
public final class WskDataIndication {
    static final int FREE = 0;
    static final int INDICATED = 1;
    static final int RETAINED = 2;
    static final int RELEASING = 3;

    private static final java.lang.invoke.VarHandle STATE;

    static {
        try {
            STATE = java.lang.invoke.MethodHandles.lookup().findVarHandle(WskDataIndication.class, "state", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final WskBuf buffer = new WskBuf();
    WskDataIndication next;
    // the descriptor from TcpService this link stands for
    long handle;
    long mbuf;
    int descriptorLength;
    boolean chainHead;
    WskSocket socket;
    @SuppressWarnings("unused") // through STATE
    private volatile int state;

    WskDataIndication() {
    }

    /** The next link, or null at the end of the chain. */
    public WskDataIndication next() {
        return next;
    }

    /** The bytes of this link: {@code length} bytes at {@code address + offset}. Read-only memory. */
    public WskBuf buffer() {
        return buffer;
    }

    WskBuf mutableBuffer() {
        return buffer;
    }

    int state() {
        return (int) STATE.getVolatile(this);
    }

    /**
     * A release write: it publishes the link's fields to the thread whose {@link #claimForRelease} CAS (or
     * volatile read) sees it; no read of this thread is paired with it, so a volatile write's full fence (a locked
     * instruction per link, three per kept chain) bought nothing.
     */
    void state(int value) {
        STATE.setRelease(this, value);
    }

    boolean claimForRelease() {
        return chainHead && STATE.compareAndSet(this, RETAINED, RELEASING);
    }
}
