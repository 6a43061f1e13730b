/** The NDK shape over the stack (Windows names), on the provider runtime of io.fastpath.provider. */
module io.fastpath.ndk {
    requires transitive io.fastpath.provider;
    requires org.agrona;

    exports io.fastpath.ndk;
}
