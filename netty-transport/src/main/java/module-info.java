/** A Netty 4.2 transport on fastpath: event loops that are the stack's poll threads, and its channels. */
module io.fastpath.netty {
    requires transitive io.fastpath.stack;
    requires transitive io.netty.transport;
    requires transitive io.netty.buffer;
    requires transitive io.netty.common;

    exports io.fastpath.netty;
}
