package io.fastpath.stack.tcp;

/** Takes received data out of the stack as mbufs (zero copy) for another thread; see {@link TcpService}. */
interface HandoverReceiver {
    /** Returns false when it cannot take the data now (the data stays queued). */
    boolean onHandover(TcpConnection connection, long mbuf, long address, int length);
}
