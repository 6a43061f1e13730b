/** What WSK, TDI and NDK share: NtStatus, the IRP core, the dispatch loop, descriptor queues, port table. */
module io.fastpath.provider {
    requires transitive io.fastpath.stack;
    requires org.agrona;

    exports io.fastpath.provider;
}
