/** The API guides' samples: echo servers and clients over WSK, TDI and NDK; an HTTP hello and a line echo on the Netty transport. */
module io.fastpath.examples {
    requires transitive io.fastpath.wsk;
    requires transitive io.fastpath.tdi;
    requires transitive io.fastpath.ndk;
    requires transitive io.fastpath.netty;
    requires transitive io.netty.codec;
    requires transitive io.netty.codec.http;

    exports io.fastpath.examples.ndk;
    exports io.fastpath.examples.netty;
    exports io.fastpath.examples.tdi;
    exports io.fastpath.examples.wsk;
}
