/** The TDI shape over the stack (Windows names), on the provider runtime of io.fastpath.provider. */
module io.fastpath.tdi {
    requires transitive io.fastpath.provider;
    requires org.agrona;

    exports io.fastpath.tdi;
}
