package io.fastpath.stack.tcp;

/** Takes received data out of the stack as mbufs (zero copy) for another thread; see {@link TcpService}. */
interface HandoverReceiver {
    /** Returns false when it cannot take the data now (the data stays queued). */
    boolean onHandover(TcpConnection connection, long mbuf, long address, int length);

    /**
     * Whether the receiver refused a handover and has made no room for a whole duty cycle since (its
     * application stopped reading events or returning descriptors): its connections then get at most half the
     * stack's receive memory, so the other receivers on the stack go on receiving.
     */
    default boolean stalled() {
        return false;
    }
}
