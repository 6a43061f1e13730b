/** The API guides' samples: echo servers and clients over WSK, TDI and NDK. */
module io.fastpath.examples {
    requires transitive io.fastpath.wsk;
    requires transitive io.fastpath.tdi;
    requires transitive io.fastpath.ndk;

    exports io.fastpath.examples.ndk;
    exports io.fastpath.examples.tdi;
    exports io.fastpath.examples.wsk;
}
